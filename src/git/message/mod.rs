//! Commit messages from a pluggable generator: a model behind an
//! Ollama- or OpenAI-compatible HTTP API, or the deterministic
//! [`fallback`], which is also used whenever a model is not configured,
//! fails, times out or answers with something unusable. A message is
//! therefore always produced, and always in conventional-commit form.
//!
//! A model only ever sees the redacted [`prompt::Prompt`].

pub mod fallback;
pub mod http;
pub mod prompt;

use crate::config::git::MessagesConfig;
pub use crate::event::report::Message;
use crate::git::conventional;
use crate::git::diff::FileChange;
use http::ModelError;
pub use prompt::Prompt;
use serde::Serialize;

/// Longest subject line kept, characters.
pub const MAX_SUBJECT: usize = 72;

impl Message {
    /// Subject, blank line, body (git's form).
    pub fn full(&self) -> String {
        if self.body.is_empty() {
            format!("{}\n", self.subject)
        } else {
            format!("{}\n\n{}\n", self.subject, self.body)
        }
    }
}

/// Something that writes commit messages.
pub trait Generator: Send + Sync {
    /// Shown with every message (`fallback`, `ollama:MODEL`).
    fn label(&self) -> String;
    fn generate(&self, prompt: &Prompt, files: &[FileChange]) -> Result<Message, ModelError>;
}

/// The deterministic generator.
pub struct Fallback;

impl Generator for Fallback {
    fn label(&self) -> String {
        "fallback".into()
    }
    fn generate(&self, _prompt: &Prompt, files: &[FileChange]) -> Result<Message, ModelError> {
        Ok(fallback::generate(files))
    }
}

impl Generator for http::Model {
    fn label(&self) -> String {
        http::Model::label(self)
    }
    fn generate(&self, prompt: &Prompt, files: &[FileChange]) -> Result<Message, ModelError> {
        let text = self.complete(&prompt.render())?;
        from_model(&text, files)
    }
}

/// The generator a config asks for.
pub fn for_config(c: &MessagesConfig) -> Box<dyn Generator> {
    match http::Model::from_config(c) {
        Some(m) => Box::new(m),
        None => Box::new(Fallback),
    }
}

/// A message and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub message: Message,
    /// `fallback`, or the model (`ollama:MODEL`).
    pub generator: String,
    /// Why a configured model was not used (its error, a timeout).
    pub fallback_reason: Option<String>,
}

/// A message from `gen`, or from the fallback when it fails.
pub fn generate(gen: &dyn Generator, prompt: &Prompt, files: &[FileChange]) -> Generated {
    match gen.generate(prompt, files) {
        Ok(message) => Generated {
            message,
            generator: gen.label(),
            fallback_reason: None,
        },
        Err(e) => Generated {
            message: fallback::generate(files),
            generator: "fallback".into(),
            fallback_reason: Some(format!("{}: {e}", gen.label())),
        },
    }
}

/// Cut a subject to [`MAX_SUBJECT`] characters, at a word where possible.
pub fn clip_subject(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_SUBJECT {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX_SUBJECT - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX_SUBJECT / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

/// A model's reply as a message: fences and quotes dropped, control
/// characters removed, the subject made conventional (the fallback's type
/// is put in front of a subject that is not), and nothing the secret
/// scanner would flag.
pub fn from_model(text: &str, files: &[FileChange]) -> Result<Message, ModelError> {
    let clean: String = text
        .replace('\r', "")
        .lines()
        .map(crate::event::strip_control)
        .filter(|l| !l.trim_start().starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut lines = clean.lines().skip_while(|l| l.trim().is_empty());
    let subject = lines
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '`')
        .trim();
    if subject.is_empty() {
        return Err(ModelError::Failed("the reply has no subject line".into()));
    }
    let subject = if conventional::parse(subject).is_some() {
        subject.to_string()
    } else {
        let (kind, _) = fallback::classify(files);
        let mut c = subject.chars();
        let first = c
            .next()
            .map(|f| f.to_lowercase().collect::<String>())
            .unwrap_or_default();
        format!("{kind}: {first}{}", c.as_str())
    };
    let body: Vec<&str> = lines.take(30).collect();
    let body = body.join("\n").trim().to_string();
    let message = Message {
        subject: clip_subject(&subject),
        body,
    };
    let none = crate::secrets::scan::Allowlist::default();
    if !crate::secrets::scan::scan_text("reply", &message.full(), &none).is_empty() {
        return Err(ModelError::Failed(
            "the reply looks like it holds a secret; not used".into(),
        ));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Generator for Broken {
        fn label(&self) -> String {
            "ollama:x".into()
        }
        fn generate(&self, _: &Prompt, _: &[FileChange]) -> Result<Message, ModelError> {
            Err(ModelError::Timeout)
        }
    }

    fn files() -> Vec<FileChange> {
        vec![FileChange {
            path: "src/api/login.rs".into(),
            status: 'A',
            added: 40,
            removed: 0,
            binary: false,
        }]
    }

    #[test]
    fn a_failing_generator_falls_back() {
        let g = generate(&Broken, &Prompt::default(), &files());
        assert_eq!(g.generator, "fallback");
        assert_eq!(g.fallback_reason.as_deref(), Some("ollama:x: timed out"));
        assert_eq!(g.message.subject, "feat(api): add login.rs");
    }

    #[test]
    fn model_replies_are_cleaned_and_made_conventional() {
        let m = from_model(
            "```\n\"Add a login endpoint\"\n\nIt checks passwords.\n```",
            &files(),
        )
        .unwrap();
        assert_eq!(m.subject, "feat: add a login endpoint");
        assert_eq!(m.body, "It checks passwords.");
        let m = from_model("fix(api): handle \x1b[31mempty\x1b[0m bodies", &files()).unwrap();
        assert_eq!(m.subject, "fix(api): handle empty bodies");
        assert!(from_model("  \n", &files()).is_err());
        let long = format!("feat: {}", "word ".repeat(30));
        assert!(from_model(&long, &files()).unwrap().subject.chars().count() <= MAX_SUBJECT);
        assert!(from_model("feat: add key AKIAQ3EGRFZWNLVJ7XKD", &files()).is_err());
    }
}
