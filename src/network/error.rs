//! Every way joining a server to the network can fail, typed so a caller
//! (and a script reading `--json`) can tell a bad key from a wrong tailnet.
//! Messages name the server, what was found, what was wanted, and what is
//! left as it was.

use crate::error::{ErrorKind, HasKind};
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The client is missing and arcane installs only on Debian and Ubuntu.
    #[error("{server}: unsupported OS {os:?}: arcane installs the tailscale client on Debian and Ubuntu only; install it yourself (then `network ensure` joins it), or use a Debian/Ubuntu server")]
    UnsupportedOs { server: String, os: String },
    /// Installing needs root and the SSH user is not root and has no
    /// password-less sudo.
    #[error("{server}: installing and joining need root: connect as root, or give {user} password-less sudo ({reason})")]
    NeedsRoot {
        server: String,
        user: String,
        reason: String,
    },
    /// `install.method = "manual"` and no client is installed.
    #[error("{server}: the tailscale client is not installed and [network.install] method is \"manual\": install it, or set method = \"apt\"")]
    NotInstalled { server: String },
    /// The installed client is older than `min_version` (or than what
    /// arcane needs to pass the key in a file) and could not be upgraded.
    #[error("{server}: tailscale {version} is older than {min}{}", why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default())]
    TooOld {
        server: String,
        version: String,
        min: String,
        why: Option<String>,
    },
    /// The install (or upgrade) command failed.
    #[error("{server}: installing tailscale ({method}) failed: {reason}")]
    InstallFailed {
        server: String,
        method: String,
        reason: String,
    },
    /// The environment variable named by `auth_key_env` is not set.
    #[error("the tailnet auth key is not set: export {var}=<key> (a reusable or pre-approved key from the admin console, or `headscale preauthkeys create`); nothing was changed")]
    MissingAuthKey { var: String },
    /// The control server refused the auth key.
    #[error("{server}: the auth key in ${var} was refused ({reason}); create a new key and export it; {server} was not joined")]
    InvalidAuthKey {
        server: String,
        var: String,
        reason: String,
    },
    /// The node is on another tailnet than `tailnet_domain`.
    #[error("{server}: {state} tailnet {found:?}, but arcane.toml says tailnet_domain = {wanted:?}; {hint}")]
    WrongTailnet {
        server: String,
        /// "is on" or "joined".
        state: String,
        found: String,
        wanted: String,
        hint: String,
    },
    /// The node lacks tags it should have.
    #[error("{server}: {state} without tags {}: it has [{}]; {hint}", missing.join(", "), have.join(", "))]
    TagMismatch {
        server: String,
        state: String,
        missing: Vec<String>,
        have: Vec<String>,
        hint: String,
    },
    /// The control server refused the tags `tailscale up` asked for.
    #[error("{server}: the control server refused tags {} ({reason}); allow them in the ACL's tagOwners (or use a key that carries them), or change [network] tags; {server} was not joined", tags.join(","))]
    TagsRefused {
        server: String,
        tags: Vec<String>,
        reason: String,
    },
    /// Something failed after earlier steps changed the server: says what
    /// was done, so no partial state goes unmentioned.
    #[error("{}; then: {err}", done.join("; "))]
    After {
        done: Vec<String>,
        err: Box<NetworkError>,
    },
    /// The node's tailnet name is not the one arcane computes (another
    /// device holds it), so `{server}.{domain}` would reach something else.
    #[error("{server}: is on the tailnet as {got:?}, not {wanted:?} (another device probably holds that name); remove the old device in the admin console, then run `tailscale up --hostname={hostname}` on {server}")]
    NameTaken {
        server: String,
        wanted: String,
        got: String,
        hostname: String,
    },
    /// `tailscale up` failed for another reason, or the daemon is down.
    #[error("{server}: joining the tailnet failed: {reason}")]
    JoinFailed { server: String, reason: String },
    /// The client's output could not be read.
    #[error("{server}: cannot read `{what}`: {reason}")]
    Protocol {
        server: String,
        what: String,
        reason: String,
    },
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

impl NetworkError {
    /// A short stable name for `--json` (`error_code`).
    pub fn code(&self) -> &'static str {
        match self {
            NetworkError::UnsupportedOs { .. } => "unsupported_os",
            NetworkError::NeedsRoot { .. } => "needs_root",
            NetworkError::NotInstalled { .. } => "not_installed",
            NetworkError::TooOld { .. } => "too_old",
            NetworkError::InstallFailed { .. } => "install_failed",
            NetworkError::MissingAuthKey { .. } => "missing_auth_key",
            NetworkError::InvalidAuthKey { .. } => "invalid_auth_key",
            NetworkError::WrongTailnet { .. } => "wrong_tailnet",
            NetworkError::TagMismatch { .. } => "tag_mismatch",
            NetworkError::TagsRefused { .. } => "tags_refused",
            NetworkError::After { err, .. } => err.code(),
            NetworkError::NameTaken { .. } => "name_taken",
            NetworkError::JoinFailed { .. } => "join_failed",
            NetworkError::Protocol { .. } => "protocol",
            NetworkError::Remote(_) => "unreachable",
        }
    }
}

impl HasKind for NetworkError {
    /// What the user fixes in their own input (the OS they chose, the key,
    /// the tailnet or tags they configured) is input (exit 2); what broke
    /// on the way is a failure (exit 1).
    fn kind(&self) -> ErrorKind {
        match self {
            NetworkError::UnsupportedOs { .. }
            | NetworkError::NotInstalled { .. }
            | NetworkError::MissingAuthKey { .. }
            | NetworkError::InvalidAuthKey { .. }
            | NetworkError::WrongTailnet { .. }
            | NetworkError::TagMismatch { .. }
            | NetworkError::TagsRefused { .. } => ErrorKind::Input,
            NetworkError::After { err, .. } => err.kind(),
            NetworkError::NeedsRoot { .. }
            | NetworkError::TooOld { .. }
            | NetworkError::InstallFailed { .. }
            | NetworkError::NameTaken { .. }
            | NetworkError::JoinFailed { .. }
            | NetworkError::Protocol { .. }
            | NetworkError::Remote(_) => ErrorKind::Failed,
        }
    }
}
