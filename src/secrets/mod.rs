//! Encrypted secrets: identities, recipients and per-scope data keys, the
//! deterministic per-value env file format, git filters and the leak scanner.
//!
//! The layering: an [`identity`] (yours, or a machine key) unwraps a scope's
//! data key from `.arcane/keys/<scope>.age` ([`keys`]); the data key encrypts
//! each value of the env files in that scope ([`format`]). Who may unwrap which
//! scope is recorded in `.arcane/recipients.toml` ([`recipients`]). The git
//! filter ([`filter`]) keeps plaintext in the working tree and ciphertext in
//! git; [`read_env_file`] gives plaintext whichever of the two is on disk.

pub mod filter;
pub mod format;
pub mod gitcfg;
pub mod identity;
pub mod keys;
mod pins;
pub mod project;
pub mod recipients;
pub mod rules;
pub mod scan;
pub mod sealed;
pub mod sign;
pub mod team;
pub mod trust;
pub mod verify;

pub use format::{DataKey, FileId, ScopeCipher};
pub use identity::{Identities, IdentitySource};
pub use keys::Keyring;
pub use project::{boxed_reader, env_file_path, read_env_file, reader, EnvReader};

use std::path::PathBuf;

/// Everything that can go wrong with secrets.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Bad input the user can fix (exit 2).
    #[error("{0}")]
    Input(String),
    /// A malformed env file line.
    #[error("{}:{line}: {message}", file.display())]
    Parse {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// A value that does not decrypt (tampered, moved, wrong scope).
    #[error("{}:{line}: the value of {key} does not decrypt: it was modified, moved from another key or env file, or encrypted with another scope's key", file.display())]
    BadValue {
        file: PathBuf,
        line: usize,
        key: String,
    },
    /// The file MAC does not match.
    #[error("{}: {message}", file.display())]
    Mac { file: PathBuf, message: String },
    /// A key file or manifest that the signed key manifest does not vouch
    /// for (forged, rewritten, or changed outside arcane).
    #[error("{}: {message}", file.display())]
    Untrusted { file: PathBuf, message: String },
    /// No identity can unwrap a scope's key.
    #[error("{0}")]
    NoKey(String),
    /// An encrypted env file this process cannot decrypt (located).
    #[error("{}:{line}: {key} is encrypted and cannot be decrypted here: {reason}", file.display())]
    Locked {
        file: PathBuf,
        line: usize,
        key: String,
        reason: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else that failed (age, git).
    #[error("{0}")]
    Failed(String),
}

impl SecretsError {
    pub fn input(msg: impl Into<String>) -> Self {
        SecretsError::Input(msg.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SecretsError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn bad_value(file: &std::path::Path, line: usize, key: &str) -> Self {
        SecretsError::BadValue {
            file: file.to_path_buf(),
            line,
            key: key.to_string(),
        }
    }

    /// Whether the user can fix it by changing input (exit code 2).
    pub fn is_input(&self) -> bool {
        !matches!(self, SecretsError::Io { .. } | SecretsError::Failed(_))
    }

    /// Convert into a [`crate::config::ConfigError`] (for the layered reader).
    pub fn into_config_error(self, file: &std::path::Path) -> crate::config::ConfigError {
        match self {
            SecretsError::Parse {
                file, line, message, ..
            } => crate::config::ConfigError::new(file, message).at(line, 1),
            SecretsError::BadValue { file, line, key } => crate::config::ConfigError::new(
                file,
                format!("the value of {key} does not decrypt: it was modified, moved from another key or env file, or encrypted with another scope's key"),
            )
            .at(line, 1),
            SecretsError::Locked {
                file,
                line,
                key,
                reason,
            } => crate::config::ConfigError::new(
                file,
                format!("{key} is encrypted and cannot be decrypted here: {reason}"),
            )
            .at(line, 1)
            .with_help(
                "in your own clone run `arcane setup` (git then decrypts env files on checkout); \
                 on CI set ARCANE_MACHINE_KEY to a key allowed with `arcane deploy allow`",
            ),
            SecretsError::Untrusted { file: f, message } => crate::config::ConfigError::new(
                f,
                format!("refusing to use it: {message}"),
            )
            .with_help(format!(
                "nothing was decrypted from {}; do not deploy until a member has checked `git log -p -- .arcane/` (`arcane secrets verify` shows every problem)",
                file.display()
            )),
            other => crate::config::ConfigError::new(file, other.to_string()),
        }
    }
}

impl crate::error::HasKind for SecretsError {
    fn kind(&self) -> crate::error::ErrorKind {
        if self.is_input() {
            crate::error::ErrorKind::Input
        } else {
            crate::error::ErrorKind::Failed
        }
    }
}

/// Write a file atomically (temp file in the same dir, fsync, rename), so an
/// error never leaves a half-written key or env file behind.
pub fn write_atomic(path: &std::path::Path, data: &[u8], mode: u32) -> Result<(), SecretsError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| SecretsError::io(format!("creating {}", dir.display()), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| SecretsError::io(format!("writing {}", path.display()), e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| SecretsError::io(format!("chmod {}", path.display()), e))?;
    tmp.write_all(data)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| SecretsError::io(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| SecretsError::io(format!("writing {}", path.display()), e.error))?;
    Ok(())
}
