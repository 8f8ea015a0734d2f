//! Prompts go through one trait, so no operation ever touches a terminal.
//!
//! The CLI answers with `--yes` or a TTY prompt; a run without a TTY and
//! without `--yes` refuses instead of hanging (lazygit's null GUI IO does the
//! same). The TUI answers with a dialog. The question says what is at stake
//! (a [`Confirm::word`] to type for the dangerous ones) and each front end
//! picks its own way of asking, once.

use crate::error::InputError;
use std::io::{BufRead, IsTerminal, Write};

/// A question an operation needs answered before a dangerous action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The question, e.g. "Deploy hello 1a2b3c to PRODUCTION?".
    pub prompt: String,
    /// The word whose typing confirms: the env name of a protected env, an
    /// accessory's name before it is removed. The dashboard always asks for
    /// it in a typed-name dialog.
    pub word: Option<String>,
    /// Whether a terminal prompt must have the word typed too; when false it
    /// takes y/N (`[envs.NAME] confirm = "yes"`, the default).
    pub tty_typed: bool,
    /// What to tell a non-interactive user, e.g. "pass --yes to deploy to production".
    pub hint: String,
}

impl Confirm {
    /// A plain yes/no question.
    pub fn yes_no(prompt: impl Into<String>, hint: impl Into<String>) -> Confirm {
        Confirm {
            prompt: prompt.into(),
            word: None,
            tty_typed: false,
            hint: hint.into(),
        }
    }

    /// A question answered by typing `word` everywhere.
    pub fn typed(prompt: impl Into<String>, word: &str, hint: impl Into<String>) -> Confirm {
        Confirm {
            prompt: prompt.into(),
            word: Some(word.to_string()),
            tty_typed: true,
            hint: hint.into(),
        }
    }
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

/// Asks on the terminal: "Deploy to PRODUCTION? [y/N]", or "Type
/// production to confirm:" when the word must be typed.
pub struct TtyPrompt;

impl TtyPrompt {
    /// Whether `answer` confirms `req`.
    pub fn accepts(req: &Confirm, answer: &str) -> bool {
        let answer = answer.trim();
        match (&req.word, req.tty_typed) {
            (Some(w), true) => answer == w,
            _ => matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes"),
        }
    }
}

impl Interact for TtyPrompt {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        let mut err = std::io::stderr();
        let _ = match (&req.word, req.tty_typed) {
            (Some(w), true) => write!(err, "{} Type {w} to confirm: ", req.prompt),
            _ => write!(err, "{} [y/N] ", req.prompt),
        };
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| InputError::new(format!("could not read the answer: {e}")))?;
        Ok(TtyPrompt::accepts(req, &line))
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
            .confirm(&Confirm::yes_no("Deploy to PRODUCTION?", "pass --yes"))
            .unwrap_err();
        assert!(e.0.contains("pass --yes"), "{e}");
    }

    #[test]
    fn tty_answers_follow_the_policy() {
        let yn = Confirm {
            word: Some("production".into()),
            tty_typed: false,
            ..Confirm::yes_no("Deploy?", "")
        };
        assert!(TtyPrompt::accepts(&yn, "y\n"));
        assert!(!TtyPrompt::accepts(&yn, "production"));
        let typed = Confirm::typed("Deploy?", "production", "");
        assert!(TtyPrompt::accepts(&typed, "production\n"));
        assert!(!TtyPrompt::accepts(&typed, "y"));
    }
}
