//! `[notify]`: team channels told about deploys (Slack, Discord, a JSON
//! webhook, GitHub commit statuses). The same table is read from a
//! project's `arcane.toml` (every `arcane deploy`, Spark's jobs included)
//! and from a Spark config (the build machine's own channels).
//!
//! Channel URLs and tokens are secrets, so the table only names where they
//! are (`url_env`, `token_env`, `secret_env`): an env var, or on a Spark
//! build machine its encrypted env. A value that looks like the secret
//! itself is refused, so it never gets committed.

use super::locate::{Seg, TomlSource};
use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// `[notify.channels.NAME]`.
    pub channels: BTreeMap<String, ChannelConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook.
    Discord,
    /// Any URL that takes a JSON POST.
    Webhook,
    /// GitHub commit statuses on the deployed commit.
    Github,
}

impl ChannelKind {
    pub fn word(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Discord => "discord",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Github => "github",
        }
    }
}

/// What a channel can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A deploy starts touching servers (GitHub: pending).
    Started,
    Succeeded,
    /// A deploy failed (the build, a server...), or was cancelled.
    Failed,
    /// A deploy failed a health check and went back to the previous
    /// release, or a rollback was run.
    RolledBack,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 4] = [
        NotifyEvent::Started,
        NotifyEvent::Succeeded,
        NotifyEvent::Failed,
        NotifyEvent::RolledBack,
    ];

    pub fn word(self) -> &'static str {
        match self {
            NotifyEvent::Started => "started",
            NotifyEvent::Succeeded => "succeeded",
            NotifyEvent::Failed => "failed",
            NotifyEvent::RolledBack => "rolled_back",
        }
    }
}

/// `[notify.channels.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// Where the webhook URL is (slack, discord, webhook).
    pub url_env: Option<String>,
    /// Where the API token is (github; default `GITHUB_TOKEN`).
    pub token_env: Option<String>,
    /// webhook: where the key that signs the body is (optional); the
    /// signature goes in `X-Arcane-Signature-256: sha256=<hex>`.
    pub secret_env: Option<String>,
    /// Which events it takes (default: all four).
    pub events: Option<Vec<NotifyEvent>>,
    /// Only deploys to these envs (default: every env).
    pub envs: Option<Vec<String>>,
    /// github: `owner/name` (default: from the `origin` remote).
    pub repo: Option<String>,
    /// github: the API root (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// github: the status context (default `arcane/{env}`).
    pub context: Option<String>,
    /// The link a status or message carries: `{app}`, `{env}`, `{sha}`,
    /// `{version}` and `{job}` (a Spark job's id) are filled in.
    pub target_url: Option<String>,
}

pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
pub const DEFAULT_GITHUB_TOKEN_ENV: &str = "GITHUB_TOKEN";

impl ChannelConfig {
    pub fn takes(&self, ev: NotifyEvent, env: Option<&str>) -> bool {
        let ev_ok = self.events.as_ref().is_none_or(|e| e.contains(&ev));
        let env_ok = match (&self.envs, env) {
            (None, _) => true,
            (Some(list), Some(env)) => list.iter().any(|e| e == env),
            (Some(_), None) => false,
        };
        ev_ok && env_ok
    }

    /// The names of the secrets this channel reads, for a check that they exist.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut v = vec![];
        if let Some(u) = &self.url_env {
            v.push(u.as_str());
        }
        match (&self.token_env, self.kind) {
            (Some(t), _) => v.push(t.as_str()),
            (None, ChannelKind::Github) => v.push(DEFAULT_GITHUB_TOKEN_ENV),
            _ => {}
        }
        if let Some(s) = &self.secret_env {
            v.push(s.as_str());
        }
        v
    }
}

/// An env var name: what `*_env` keys must hold.
pub fn is_secret_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_uppercase() || f == '_')
        && c.all(|x| x.is_ascii_uppercase() || x.is_ascii_digit() || x == '_')
}

/// The error for a `*_env` key that does not hold a name; it never echoes
/// the value, which may be the secret itself.
pub fn secret_name_error(src: &TomlSource, path: &[Seg], what: &str) -> ConfigError {
    src.error(
        path,
        format!("{what} must name an env var (like SLACK_WEBHOOK_URL), not hold a value"),
    )
    .with_help(
        "secrets never go into config files: put the value in an env var (or, on a Spark build machine, `arcane spark secret set NAME`) and write its NAME here",
    )
}

impl NotifyConfig {
    /// Semantic checks; `at` is the path of the `[notify]` table in `src`.
    pub fn validate(&self, src: &TomlSource, at: &[Seg]) -> Vec<ConfigError> {
        use Seg::Key;
        let mut errs = vec![];
        for (name, ch) in &self.channels {
            let here = |k: &'static str| -> Vec<Seg> {
                let mut p = at.to_vec();
                p.extend([Key("channels"), Key(name), Key(k)]);
                p
            };
            let table = format!("[notify.channels.{name}]");
            for (key, val) in [
                ("url_env", &ch.url_env),
                ("token_env", &ch.token_env),
                ("secret_env", &ch.secret_env),
            ] {
                if let Some(v) = val {
                    if !is_secret_name(v) {
                        errs.push(secret_name_error(
                            src,
                            &here(key),
                            &format!("{table} {key}"),
                        ));
                    }
                }
            }
            let needs_url = ch.kind != ChannelKind::Github;
            if needs_url && ch.url_env.is_none() {
                errs.push(
                    src.error(
                        &here("kind"),
                        format!("{table} ({}) needs url_env", ch.kind.word()),
                    )
                    .with_help("url_env = \"NAME\" names the env var holding the webhook URL"),
                );
            }
            if !needs_url && ch.url_env.is_some() {
                errs.push(
                    src.error(
                        &here("url_env"),
                        format!("{table}: a github channel has no url_env"),
                    )
                    .with_help("it posts to api_url with the token named by token_env"),
                );
            }
            if ch.kind != ChannelKind::Github {
                for (key, set) in [
                    ("repo", ch.repo.is_some()),
                    ("api_url", ch.api_url.is_some()),
                    ("context", ch.context.is_some()),
                    ("token_env", ch.token_env.is_some()),
                ] {
                    if set {
                        errs.push(src.error(
                            &here(key),
                            format!("{table}: {key} is only for github channels"),
                        ));
                    }
                }
            }
            if ch.secret_env.is_some() && ch.kind != ChannelKind::Webhook {
                errs.push(src.error(
                    &here("secret_env"),
                    format!("{table}: secret_env (body signature) is only for webhook channels"),
                ));
            }
            if let Some(r) = &ch.repo {
                let parts: Vec<&str> = r.split('/').collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    errs.push(
                        src.error(
                            &here("repo"),
                            format!("{table} repo {r:?} is not owner/name"),
                        )
                        .with_help("e.g. repo = \"acme/hello\""),
                    );
                }
            }
            for (key, val) in [("api_url", &ch.api_url), ("target_url", &ch.target_url)] {
                if let Some(u) = val {
                    if !(u.starts_with("https://") || u.starts_with("http://")) {
                        errs.push(
                            src.error(&here(key), format!("{table} {key} must be an http(s) URL")),
                        );
                    } else if has_credentials(u) {
                        errs.push(
                            src.error(&here(key), format!("{table} {key} holds credentials"))
                                .with_help("credentials never go into config files"),
                        );
                    }
                }
            }
            if ch.events.as_ref().is_some_and(|e| e.is_empty()) {
                errs.push(
                    src.error(&here("events"), format!("{table} events is empty"))
                        .with_help("list some of started, succeeded, failed, rolled_back, or remove the key for all"),
                );
            }
        }
        errs
    }
}

/// Whether a URL carries `user:password@` (or `token@`).
pub fn has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> Vec<String> {
        #[derive(Deserialize)]
        struct F {
            notify: NotifyConfig,
        }
        let src = TomlSource::new(Path::new("arcane.toml"), text);
        let f: F = src.parse_all().map_err(|e| format!("{e:?}")).unwrap();
        f.notify
            .validate(&src, &[Seg::Key("notify")])
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn a_url_in_url_env_is_refused_without_echoing_it() {
        let e = check(
            "[notify.channels.team]\nkind = \"slack\"\nurl_env = \"https://hooks.example/T0/B0/abcdef\"\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("arcane.toml:3:1:"), "{}", e[0]);
        assert!(!e[0].contains("abcdef"), "{}", e[0]);
    }

    #[test]
    fn channel_rules() {
        assert!(check("[notify.channels.a]\nkind = \"discord\"\nurl_env = \"D\"\nevents = [\"failed\", \"rolled_back\"]\n").is_empty());
        assert!(
            check("[notify.channels.gh]\nkind = \"github\"\nrepo = \"acme/hello\"\n").is_empty()
        );
        let e = check("[notify.channels.a]\nkind = \"slack\"\n");
        assert!(e[0].contains("needs url_env"), "{e:?}");
        let e = check("[notify.channels.gh]\nkind = \"github\"\nrepo = \"hello\"\n");
        assert!(e[0].contains("not owner/name"), "{e:?}");
        let e = check("[notify.channels.a]\nkind = \"webhook\"\nurl_env = \"U\"\ntarget_url = \"https://u:p@x/\"\n");
        assert!(e[0].contains("credentials"), "{e:?}");
    }

    #[test]
    fn filters_by_event_and_env() {
        let ch = ChannelConfig {
            kind: ChannelKind::Slack,
            url_env: Some("U".into()),
            token_env: None,
            secret_env: None,
            events: Some(vec![NotifyEvent::Failed]),
            envs: Some(vec!["production".into()]),
            repo: None,
            api_url: None,
            context: None,
            target_url: None,
        };
        assert!(ch.takes(NotifyEvent::Failed, Some("production")));
        assert!(!ch.takes(NotifyEvent::Succeeded, Some("production")));
        assert!(!ch.takes(NotifyEvent::Failed, Some("staging")));
    }
}
