//! The deploy engine: what happens on one server when a release goes live.
//!
//! Connect, lock, ship, write the release, run hooks, start, health-check,
//! cut over, record, prune and unlock, rolling back automatically when
//! anything fails after the new version started ([`server`]); plus the
//! pieces those steps use: locks, release records, health probes,
//! accessories. The engine never prints and never asks: every step is a
//! `StepStarted`/`StepFinished` event tagged with its server. Which servers,
//! in what order, after which confirmation, is the ops layer's business
//! (`crate::ops::deploy`).

pub mod accessory;
pub mod deps;
pub mod health;
pub mod layout;
pub mod lock;
pub mod release;
pub(crate) mod server;

pub use deps::Access;
pub use release::Release;

use crate::config::ConfigError;
use crate::error::InputError;
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Bad input the user can fix (exit 2).
    #[error("{0}")]
    Input(InputError),
    #[error("{0}")]
    Config(ConfigError),
    #[error(transparent)]
    Remote(RemoteError),
    /// Another deploy holds the lock (exit 1).
    #[error("{server}: another deploy holds the lock: {holder}; wait for it, pass --lock-wait SECS, or if it is dead run `arcane lock release`")]
    Locked { server: String, holder: String },
    #[error("{0}")]
    Failed(String),
    #[error("interrupted")]
    Cancelled,
    /// One or more servers failed; the summary says which.
    #[error("{0}")]
    Rollout(String),
}

impl DeployError {
    pub(crate) fn failed(s: impl Into<String>) -> Self {
        DeployError::Failed(s.into())
    }
    pub(crate) fn input(s: impl Into<String>) -> Self {
        DeployError::Input(InputError::new(s))
    }
    pub(crate) fn remote(e: RemoteError) -> Self {
        DeployError::Remote(e)
    }
}

impl crate::error::HasKind for DeployError {
    fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            DeployError::Input(_) | DeployError::Config(_) => ErrorKind::Input,
            DeployError::Cancelled => ErrorKind::Interrupted,
            _ => ErrorKind::Failed,
        }
    }
}

impl From<ConfigError> for DeployError {
    fn from(e: ConfigError) -> Self {
        DeployError::Config(e)
    }
}

/// `user@host` of whoever runs arcane.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid never fails; getpwuid may return null.
            unsafe {
                let pw = libc::getpwuid(libc::getuid());
                if pw.is_null() {
                    "unknown".into()
                } else {
                    std::ffi::CStr::from_ptr((*pw).pw_name)
                        .to_string_lossy()
                        .into_owned()
                }
            }
        });
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates or truncates.
    let host = unsafe {
        if libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            "unknown".into()
        }
    };
    format!("{user}@{host}")
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}
