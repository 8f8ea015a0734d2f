//! Prompts go through one trait, so the engine never touches a terminal.
//!
//! The CLI answers with `--yes` or a TTY prompt; a run without a TTY and
//! without `--yes` refuses instead of hanging (lazygit's null GUI IO does the
//! same). The TUI answers with a dialog.

use crate::error::InputError;
use std::io::{BufRead, IsTerminal, Write};

/// A question the engine needs answered before a dangerous action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The question, e.g. "Deploy to PRODUCTION?".
    pub prompt: String,
    /// If set, the user must type this word (the TUI asks for the env name).
    pub typed_word: Option<String>,
    /// What to tell a non-interactive user, e.g. "pass --yes to deploy to production".
    pub hint: String,
}

pub trait Interact: Send + Sync {
    /// `Ok(true)` to go ahead, `Ok(false)` if the user said no, and an
    /// [`InputError`] when nobody can answer (no TTY and no `--yes`).
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError>;
}

/// Says yes to everything: `--yes`.
pub struct AssumeYes;

impl Interact for AssumeYes {
    fn confirm(&self, _req: &Confirm) -> Result<bool, InputError> {
        Ok(true)
    }
}

/// Refuses every prompt: non-interactive runs without `--yes`.
pub struct Refuse;

impl Interact for Refuse {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        Err(InputError::new(format!(
            "{} needs confirmation, but stdin is not a terminal: {}",
            req.prompt.trim_end_matches('?'),
            req.hint
        )))
    }
}

/// Asks on the terminal: "Deploy to PRODUCTION? [y/N]".
pub struct TtyPrompt;

impl Interact for TtyPrompt {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        let mut err = std::io::stderr();
        let _ = match &req.typed_word {
            Some(w) if !w.is_empty() => write!(err, "{} Type {w} to confirm: ", req.prompt),
            _ => write!(err, "{} [y/N] ", req.prompt),
        };
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| InputError::new(format!("could not read the answer: {e}")))?;
        let answer = line.trim();
        Ok(match &req.typed_word {
            Some(w) => answer == w || answer.eq_ignore_ascii_case("y") && w.is_empty(),
            None => matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes"),
        })
    }
}

/// The CLI's choice: `--yes` wins, then a TTY prompt, else refuse.
pub fn for_cli(yes: bool) -> Box<dyn Interact> {
    if yes {
        Box::new(AssumeYes)
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Box::new(TtyPrompt)
    } else {
        Box::new(Refuse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuse_names_the_hint() {
        let e = Refuse
            .confirm(&Confirm {
                prompt: "Deploy to PRODUCTION?".into(),
                typed_word: None,
                hint: "pass --yes".into(),
            })
            .unwrap_err();
        assert!(e.0.contains("pass --yes"), "{e}");
    }
}
