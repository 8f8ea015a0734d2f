//! The configured channels of one operation: `[notify]` of the project (and,
//! in a Spark job, of the build machine), with their secrets looked up only
//! when there is something to send, so `arcane status` never complains
//! about a Slack URL it does not need.

use super::deliver::{self, Request, Retry, Warn};
use super::message::{self, Notice};
use crate::config::notify::{
    ChannelConfig, ChannelKind, NotifyConfig, DEFAULT_GITHUB_API, DEFAULT_GITHUB_TOKEN_ENV,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Where a secret's value is found, by name (env vars; Spark adds the
/// machine's encrypted env).
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn env_lookup() -> Lookup {
    Arc::new(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

pub struct Channels {
    list: Vec<(String, ChannelConfig)>,
    /// The project, for the GitHub repo of its `origin` remote.
    root: Option<PathBuf>,
    lookup: Lookup,
    warn: Warn,
    retry: Retry,
    origin_repo: OnceLock<Option<String>>,
    warned: Mutex<BTreeSet<String>>,
}

impl Channels {
    pub fn new(cfg: &NotifyConfig, root: Option<PathBuf>, lookup: Lookup, warn: Warn) -> Channels {
        Channels {
            list: cfg
                .channels
                .iter()
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect(),
            root,
            lookup,
            warn,
            retry: Retry::default(),
            origin_repo: OnceLock::new(),
            warned: Mutex::new(BTreeSet::new()),
        }
    }

    /// Add another table's channels (a Spark machine's own).
    pub fn add(&mut self, cfg: &NotifyConfig) {
        for (n, c) in &cfg.channels {
            self.list.push((n.clone(), c.clone()));
        }
    }

    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Queue `n` on every channel that takes it; returns at once.
    pub fn send(&self, n: &Notice) {
        for (name, ch) in &self.list {
            if !ch.takes(n.event, n.env.as_deref()) {
                continue;
            }
            if let Some(r) = self.request(name, ch, n) {
                deliver::send(r, self.retry);
            }
        }
    }

    fn warn_once(&self, key: String, text: String) {
        if self.warned.lock().unwrap().insert(key) {
            (self.warn)(text);
        }
    }

    fn secret(&self, label: &str, name: &str) -> Option<String> {
        let v = (self.lookup)(name);
        if v.is_none() {
            self.warn_once(
                format!("{label}/{name}"),
                format!("{label}: ${name} is not set; nothing sent to this channel"),
            );
        }
        v
    }

    fn github_repo(&self, ch: &ChannelConfig) -> Option<String> {
        if let Some(r) = &ch.repo {
            return Some(r.clone());
        }
        self.origin_repo
            .get_or_init(|| {
                let root = self.root.as_ref()?;
                let repo = git2::Repository::discover(root).ok()?;
                let remote = repo.find_remote("origin").ok()?;
                message::github_repo_of(remote.url()?)
            })
            .clone()
    }

    fn request(&self, name: &str, ch: &ChannelConfig, n: &Notice) -> Option<Request> {
        let label = format!("notify {} \"{name}\"", ch.kind.word());
        let mut secrets = vec![];
        let mut headers = vec![("X-Arcane-Event".to_string(), n.event.word().to_string())];
        let (url, body) = match ch.kind {
            ChannelKind::Slack | ChannelKind::Discord | ChannelKind::Webhook => {
                let url = self.secret(&label, ch.url_env.as_deref()?)?;
                let body = match ch.kind {
                    ChannelKind::Slack => message::slack(n, ch),
                    ChannelKind::Discord => message::discord(n, ch),
                    _ => message::webhook(n, ch),
                };
                let body = serde_json::to_vec(&body).ok()?;
                if let Some(key_name) = &ch.secret_env {
                    let key = self.secret(&label, key_name)?;
                    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).ok()?;
                    mac.update(&body);
                    headers.push((
                        "X-Arcane-Signature-256".into(),
                        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
                    ));
                    secrets.push(key);
                }
                (url, body)
            }
            ChannelKind::Github => {
                let (sha, body) = message::github_status(n, ch)?;
                let Some(repo) = self.github_repo(ch) else {
                    self.warn_once(
                        format!("{label}/repo"),
                        format!("{label}: no GitHub repo (set repo = \"owner/name\", or use a github.com origin remote); nothing sent"),
                    );
                    return None;
                };
                let token_name = ch.token_env.as_deref().unwrap_or(DEFAULT_GITHUB_TOKEN_ENV);
                let token = self.secret(&label, token_name)?;
                headers.extend([
                    ("Authorization".to_string(), format!("Bearer {token}")),
                    (
                        "Accept".to_string(),
                        "application/vnd.github+json".to_string(),
                    ),
                    ("X-GitHub-Api-Version".to_string(), "2022-11-28".to_string()),
                ]);
                secrets.push(token);
                let api = ch
                    .api_url
                    .as_deref()
                    .unwrap_or(DEFAULT_GITHUB_API)
                    .trim_end_matches('/');
                (
                    format!("{api}/repos/{repo}/statuses/{sha}"),
                    serde_json::to_vec(&body).ok()?,
                )
            }
        };
        secrets.push(url.clone());
        Some(Request {
            key: format!("{label}|{url}"),
            label,
            url,
            headers,
            body,
            secrets,
            warn: self.warn.clone(),
        })
    }
}

/// A warning sink that keeps what it is told, for a CLI to print at exit.
pub fn collecting() -> (Warn, Arc<Mutex<Vec<String>>>) {
    let store = Arc::new(Mutex::new(vec![]));
    let s2 = store.clone();
    (Arc::new(move |w| s2.lock().unwrap().push(w)), store)
}
