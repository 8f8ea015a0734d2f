//! Error kinds shared by the whole crate.
//!
//! Module errors are typed with `thiserror` and keep their causes as
//! `#[source]`. Each says which [`ErrorKind`] it is through [`HasKind`]: a
//! user can fix an input error (exit 2), an operation can fail (exit 1), or
//! the run can be interrupted (exit 130). The binary maps a kind to an exit
//! code in one place ([`exit_code_for`]); nothing else turns errors into
//! numbers or strings to classify them.

use serde::Serialize;
use std::fmt;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the operation failed (a server, docker, a health check...).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage, configuration or input error that the user must fix.
pub const EXIT_INPUT: i32 = 2;
/// Exit code: interrupted by Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

/// What kind of failure an error is, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    /// Bad input the user can fix: config, an argument, a refused prompt (2).
    Input,
    /// The operation failed: a server, docker, a health check (1).
    Failed,
    /// Ctrl-C, or a cancel in the dashboard (130).
    Interrupted,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Input => EXIT_INPUT,
            ErrorKind::Failed => EXIT_FAILED,
            ErrorKind::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// The kind of several failures together: interrupted wins, then a
    /// failure; only when every one was bad input is the whole bad input.
    pub fn combine(kinds: impl IntoIterator<Item = ErrorKind>) -> Option<ErrorKind> {
        kinds.into_iter().fold(None, |acc, k| {
            Some(match (acc, k) {
                (Some(ErrorKind::Interrupted), _) | (_, ErrorKind::Interrupted) => {
                    ErrorKind::Interrupted
                }
                (Some(ErrorKind::Failed), _) | (_, ErrorKind::Failed) => ErrorKind::Failed,
                _ => ErrorKind::Input,
            })
        })
    }
}

/// Errors that know their kind.
pub trait HasKind {
    fn kind(&self) -> ErrorKind;
}

/// Bad input the user can fix: a config file, an argument, a refused prompt.
///
/// Messages should name the file, the line and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

impl InputError {
    pub fn new(msg: impl Into<String>) -> Self {
        InputError(msg.into())
    }
}

impl HasKind for InputError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// The run was interrupted (Ctrl-C or a cancelled dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

impl HasKind for Interrupted {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Interrupted
    }
}

/// The kind of the first cause in `err`'s chain that knows its kind;
/// anything unknown is a failure.
pub fn kind_of(err: &anyhow::Error) -> ErrorKind {
    for cause in err.chain() {
        if let Some(k) = known_kind(cause) {
            return k;
        }
    }
    ErrorKind::Failed
}

fn known_kind(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    macro_rules! try_kind {
        ($($t:ty),*) => {
            $(if let Some(x) = e.downcast_ref::<$t>() { return Some(x.kind()); })*
        };
    }
    try_kind!(
        crate::ops::Error,
        InputError,
        Interrupted,
        crate::config::ConfigError,
        crate::config::ConfigErrors,
        crate::deploy::DeployError,
        crate::docker::DockerError,
        crate::secrets::SecretsError,
        crate::remote::RemoteError
    );
    if e.downcast_ref::<clap::Error>().is_some() {
        return Some(ErrorKind::Input);
    }
    None
}

/// The binary's one mapper from an error to a process exit code.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    kind_of(err).exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_map_to_two_even_when_wrapped() {
        let e = anyhow::Error::new(InputError::new("bad")).context("while loading");
        assert_eq!(exit_code_for(&e), EXIT_INPUT);
        let e = anyhow::anyhow!("boom");
        assert_eq!(exit_code_for(&e), EXIT_FAILED);
        let e = anyhow::Error::new(Interrupted);
        assert_eq!(exit_code_for(&e), EXIT_INTERRUPTED);
    }

    #[test]
    fn kinds_combine_worst_first() {
        use ErrorKind::*;
        assert_eq!(ErrorKind::combine([]), None);
        assert_eq!(ErrorKind::combine([Input, Input]), Some(Input));
        assert_eq!(ErrorKind::combine([Input, Failed]), Some(Failed));
        assert_eq!(
            ErrorKind::combine([Failed, Interrupted, Input]),
            Some(Interrupted)
        );
    }
}
