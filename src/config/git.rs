//! `[git]` in arcane.toml: the git assistant's watcher and its commit
//! message generator.

use super::locate::{Seg, TomlSource};
use super::ConfigError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    pub watch: WatchConfig,
    pub messages: MessagesConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Quiet time after the last change before a snapshot, milliseconds.
    pub debounce_ms: u64,
    /// A snapshot is taken at the latest this long after the first of a
    /// stream of changes that never goes quiet (a build writing), ms.
    pub max_wait_ms: u64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            debounce_ms: 2000,
            max_wait_ms: 30_000,
        }
    }
}

/// Where commit messages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The deterministic generator only; nothing leaves the machine.
    #[default]
    None,
    /// An Ollama-compatible `/api/chat`.
    Ollama,
    /// An OpenAI-compatible `/chat/completions`.
    Openai,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    pub provider: Provider,
    /// Base URL (default: `http://localhost:11434` for ollama,
    /// `https://api.openai.com/v1` for openai).
    pub url: Option<String>,
    pub model: Option<String>,
    /// Seconds a model may take before the fallback is used.
    pub timeout: f64,
    /// Name of the environment variable holding the API key (never the key).
    pub api_key_env: Option<String>,
    /// Most characters of (redacted) diff text sent to a model.
    pub max_diff_chars: usize,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        MessagesConfig {
            provider: Provider::None,
            url: None,
            model: None,
            timeout: 10.0,
            api_key_env: None,
            max_diff_chars: 8000,
        }
    }
}

impl MessagesConfig {
    /// The base URL in effect for the provider.
    pub fn base_url(&self) -> Option<String> {
        match (self.provider, &self.url) {
            (Provider::None, _) => None,
            (_, Some(u)) => Some(u.trim_end_matches('/').to_string()),
            (Provider::Ollama, None) => Some("http://localhost:11434".into()),
            (Provider::Openai, None) => Some("https://api.openai.com/v1".into()),
        }
    }
}

/// The longest model timeout accepted, seconds.
pub const MAX_MODEL_TIMEOUT: f64 = 300.0;

fn is_env_var_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl GitConfig {
    /// Checks serde cannot express, each pointing at its key.
    pub fn validate(&self, src: &TomlSource) -> Vec<ConfigError> {
        use Seg::Key;
        let mut errs = vec![];
        let w = &self.watch;
        if !(50..=600_000).contains(&w.debounce_ms) {
            errs.push(src.error(
                &[Key("git"), Key("watch"), Key("debounce_ms")],
                "[git.watch] debounce_ms must be between 50 and 600000 milliseconds",
            ));
        }
        if w.max_wait_ms < w.debounce_ms {
            errs.push(src.error(
                &[Key("git"), Key("watch"), Key("max_wait_ms")],
                "[git.watch] max_wait_ms cannot be shorter than debounce_ms",
            ));
        }
        let m = &self.messages;
        let at = |k: &'static str| [Key("git"), Key("messages"), Key(k)];
        if m.provider != Provider::None && m.model.as_deref().is_none_or(|s| s.trim().is_empty()) {
            errs.push(
                src.error(
                    &at("provider"),
                    "[git.messages] names a provider but no model",
                )
                .with_help("add e.g. model = \"qwen2.5-coder:7b\", or set provider = \"none\""),
            );
        }
        if let Some(u) = &m.url {
            if !(u.starts_with("http://") || u.starts_with("https://"))
                || u.contains(char::is_whitespace)
            {
                errs.push(
                    src.error(
                        &at("url"),
                        format!("[git.messages] url {u:?} is not an http(s) URL"),
                    )
                    .with_help("e.g. url = \"http://localhost:11434\""),
                );
            }
        }
        if !(m.timeout > 0.0 && m.timeout <= MAX_MODEL_TIMEOUT) {
            errs.push(src.error(
                &at("timeout"),
                format!("[git.messages] timeout must be greater than 0 and at most {MAX_MODEL_TIMEOUT} seconds"),
            ));
        }
        if let Some(k) = &m.api_key_env {
            if !is_env_var_name(k) {
                errs.push(
                    src.error(
                        &at("api_key_env"),
                        format!("[git.messages] api_key_env {k:?} is not an environment variable name"),
                    )
                    .with_help("name the variable that holds the key, e.g. OPENAI_API_KEY; never the key itself"),
                );
            }
        }
        if m.max_diff_chars > 200_000 {
            errs.push(src.error(
                &at("max_diff_chars"),
                "[git.messages] max_diff_chars is at most 200000",
            ));
        }
        errs
    }
}
