//! Model-backed generators: an Ollama-compatible `/api/chat` and an
//! OpenAI-compatible `/chat/completions`, both blocking, both bounded by one
//! timeout for the whole request.
//!
//! The API key is read from the environment variable the config names, at
//! call time, and goes only into the `Authorization` header: never into
//! argv, a log line or an error message.

use crate::config::git::{MessagesConfig, Provider};
use serde_json::{json, Value};
use std::time::Duration;

/// The instruction every model gets.
pub const SYSTEM: &str = "You write git commit messages in the Conventional Commits format. \
Reply with the message only, no quotes or code fences: a subject line of at most 72 characters \
(`type(scope): summary` with type one of feat, fix, perf, refactor, docs, test, build, ci, style, \
chore), then optionally a blank line and a short body. Some diffs are withheld for privacy; \
describe those files from their names and line counts only.";

/// Why a model call produced no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    Timeout,
    /// Not reachable, an HTTP error status, or a reply without text.
    Failed(String),
    /// Misconfigured here (the key variable unset).
    Config(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Timeout => f.write_str("timed out"),
            ModelError::Failed(s) | ModelError::Config(s) => f.write_str(s),
        }
    }
}

/// A configured model endpoint.
#[derive(Debug, Clone)]
pub struct Model {
    pub provider: Provider,
    pub url: String,
    pub model: String,
    pub timeout: Duration,
    pub api_key_env: Option<String>,
}

impl Model {
    /// The model a config describes, `None` for `provider = "none"`.
    pub fn from_config(c: &MessagesConfig) -> Option<Model> {
        Some(Model {
            provider: c.provider,
            url: c.base_url()?,
            model: c.model.clone()?,
            timeout: Duration::from_secs_f64(c.timeout),
            api_key_env: c.api_key_env.clone(),
        })
    }

    /// `ollama:MODEL` or `openai:MODEL`.
    pub fn label(&self) -> String {
        let p = match self.provider {
            Provider::Ollama => "ollama",
            Provider::Openai => "openai",
            Provider::None => "none",
        };
        format!("{p}:{}", self.model)
    }

    fn endpoint(&self) -> String {
        match self.provider {
            Provider::Openai => format!("{}/chat/completions", self.url),
            _ => format!("{}/api/chat", self.url),
        }
    }

    fn body(&self, prompt: &str) -> Value {
        let messages = json!([
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": prompt},
        ]);
        match self.provider {
            Provider::Openai => json!({
                "model": self.model,
                "messages": messages,
                "temperature": 0,
            }),
            _ => json!({
                "model": self.model,
                "messages": messages,
                "stream": false,
                "options": {"temperature": 0},
            }),
        }
    }

    /// The model's reply text.
    pub fn complete(&self, prompt: &str) -> Result<String, ModelError> {
        let key = match &self.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Some(k),
                _ => return Err(ModelError::Config(format!("{var} is not set"))),
            },
            None if self.provider == Provider::Openai => {
                return Err(ModelError::Config(
                    "no api_key_env in [git.messages] for the openai provider".into(),
                ))
            }
            None => None,
        };
        let tls = native_tls::TlsConnector::new()
            .map_err(|e| ModelError::Failed(format!("TLS setup: {e}")))?;
        let agent = ureq::AgentBuilder::new()
            .timeout(self.timeout)
            .tls_connector(std::sync::Arc::new(tls))
            .build();
        let mut req = agent
            .post(&self.endpoint())
            .set("Content-Type", "application/json");
        if let Some(k) = &key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let body = self.body(prompt).to_string();
        let started = std::time::Instant::now();
        // ureq reports an expired deadline as one I/O error among others:
        // the clock says which it was.
        let late = |started: std::time::Instant| {
            started.elapsed() + Duration::from_millis(50) >= self.timeout
        };
        let resp = match req.send_string(&body) {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => {
                return Err(ModelError::Failed(format!(
                    "HTTP {code} from {}",
                    self.endpoint()
                )))
            }
            Err(ureq::Error::Transport(_)) if late(started) => return Err(ModelError::Timeout),
            Err(ureq::Error::Transport(t)) => {
                return Err(ModelError::Failed(format!(
                    "{}: {}",
                    self.endpoint(),
                    t.kind()
                )))
            }
        };
        let text = resp.into_string().map_err(|e| {
            if late(started) {
                ModelError::Timeout
            } else {
                ModelError::Failed(format!("reading the reply: {e}"))
            }
        })?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|_| ModelError::Failed("the reply is not JSON".into()))?;
        let content = match self.provider {
            Provider::Openai => v["choices"][0]["message"]["content"].as_str(),
            _ => v["message"]["content"]
                .as_str()
                .or_else(|| v["response"].as_str()),
        };
        content
            .map(str::to_string)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ModelError::Failed("the reply has no message text".into()))
    }
}
