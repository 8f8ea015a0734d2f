//! `network ensure` and `network status`: where each server stands on the
//! private network, and what was (or would be) changed.

use crate::error::ErrorKind;
use serde::Serialize;

/// One server on the network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServerNetwork {
    pub server: String,
    /// The name arcane gives it: `{hostname}.{tailnet_domain}` (pure).
    pub fqdn: String,
    /// How arcane reaches it: `host` or `tailnet`.
    pub connect: String,
    /// e.g. `debian 12`, once probed.
    pub os: Option<String>,
    pub installed: bool,
    pub version: Option<String>,
    /// On a tailnet (`BackendState` is `Running`).
    pub joined: bool,
    /// `Running`, `NeedsLogin`, `Stopped`...; absent when the daemon does
    /// not answer.
    pub backend_state: Option<String>,
    /// The tailnet's DNS suffix it is on.
    pub tailnet: Option<String>,
    /// Its name on the tailnet, as the client reports it.
    pub dns_name: Option<String>,
    pub tags: Vec<String>,
    /// The tags it should have.
    pub wanted_tags: Vec<String>,
    /// Its first tailnet IPv4 address (all of them in `ips`).
    pub ip: Option<String>,
    pub ips: Vec<String>,
    /// What this run changed, in order (`ensure`).
    pub changed: Vec<String>,
    /// What `ensure` would do (`status`, `ensure --dry-run`).
    pub todo: Vec<String>,
    /// Where it differs from the config in a way `ensure` leaves to you.
    pub problems: Vec<String>,
    pub error: Option<String>,
    /// A stable name for the error: `unsupported_os`, `too_old`,
    /// `install_failed`, `invalid_auth_key`, `wrong_tailnet`,
    /// `tag_mismatch`, `tags_refused`, `name_taken`, `join_failed`,
    /// `unreachable`...
    pub error_code: Option<String>,
    pub error_kind: Option<ErrorKind>,
    /// Why it was left out (`local` is this machine).
    pub skipped: Option<String>,
}

impl ServerNetwork {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.problems.is_empty()
    }

    /// One word for tables and the dashboard.
    pub fn state_word(&self) -> &'static str {
        let code = self.error_code.as_deref();
        if self.skipped.is_some() {
            "skipped"
        } else if code == Some("unreachable") {
            "unreachable"
        } else if matches!(code, Some("wrong_tailnet" | "tag_mismatch" | "name_taken")) {
            "mismatch"
        } else if code.is_some() {
            "failed"
        } else if !self.installed {
            "not installed"
        } else if self.backend_state.is_none() {
            "daemon down"
        } else if !self.joined {
            "not joined"
        } else if !self.problems.is_empty() {
            "mismatch"
        } else {
            "joined"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkReport {
    /// `ensure` or `status`.
    pub op: String,
    pub dry_run: bool,
    pub provider: String,
    pub tailnet_domain: String,
    pub servers: Vec<ServerNetwork>,
}

/// A `${server:NAME}` in an env value, resolved (shown by `deploy
/// --dry-run`; the value itself is never shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerRef {
    /// The env key whose value holds it.
    pub key: String,
    pub server: String,
    pub fqdn: String,
}
