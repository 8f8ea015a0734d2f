//! Error classification shared by the whole crate.
//!
//! Module errors are typed with `thiserror`. The binary edge uses `anyhow` and
//! decides the exit code by looking for these marker types in the error chain:
//! a user can fix an [`InputError`] (exit 2), an interrupted run exits 130, and
//! anything else is an operation that failed (exit 1).

use std::fmt;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the operation failed (a server, docker, a health check...).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: usage, configuration or input error that the user must fix.
pub const EXIT_INPUT: i32 = 2;
/// Exit code: interrupted by Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

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

/// The run was interrupted (Ctrl-C or a cancelled dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Errors that know which exit code they deserve implement this, so the binary
/// does not need to know every module's error type.
pub trait ExitStatus {
    fn exit_code(&self) -> i32;
}

/// Map an error chain to a process exit code.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if cause.downcast_ref::<Interrupted>().is_some() {
            return EXIT_INTERRUPTED;
        }
        if cause.downcast_ref::<InputError>().is_some() {
            return EXIT_INPUT;
        }
        if let Some(e) = cause.downcast_ref::<crate::config::ConfigError>() {
            return e.exit_code();
        }
        if cause
            .downcast_ref::<crate::config::ConfigErrors>()
            .is_some()
        {
            return EXIT_INPUT;
        }
        if cause.downcast_ref::<clap::Error>().is_some() {
            return EXIT_INPUT;
        }
    }
    EXIT_FAILED
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
}
