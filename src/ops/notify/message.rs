//! What a channel is told, and the exact body each kind of channel takes.
//! Pure functions: the tests pin the payloads Slack, Discord, a webhook and
//! the GitHub statuses API receive.

use crate::config::notify::{ChannelConfig, NotifyEvent};
use crate::event::report::{short_sha, DeployOp, DeployResult, DeployStarted, DeploySummary};
use serde::Serialize;
use serde_json::json;

/// One thing that happened to a deploy, for every channel that takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub event: NotifyEvent,
    pub op: DeployOp,
    pub app: String,
    pub env: Option<String>,
    pub version: Option<String>,
    pub git_sha: Option<String>,
    /// One line for people: "hello deployed", "hello deploy to production FAILED".
    pub title: String,
    /// Details: the live version, or which servers failed and why.
    pub text: String,
    /// Per-server results, when the deploy got that far.
    pub servers: Vec<ServerLine>,
    /// `cli` or `spark`.
    pub source: String,
    /// A Spark job's id.
    pub job: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerLine {
    pub server: String,
    pub ok: bool,
    pub detail: String,
}

/// What the stream told about the deploy before its summary (the failure
/// of a build, for instance, has no summary).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    pub app: String,
    pub env: Option<String>,
    pub version: Option<String>,
    pub git_sha: Option<String>,
    pub job: Option<String>,
    pub source: String,
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn what(op: DeployOp) -> &'static str {
    match op {
        DeployOp::Deploy => "deploy",
        DeployOp::Rollback => "rollback",
    }
}

impl Notice {
    pub fn started(s: &DeployStarted, k: &Known) -> Notice {
        let version = s.version.as_deref().map(short_sha).unwrap_or_default();
        Notice {
            event: NotifyEvent::Started,
            op: s.op,
            app: s.app.clone(),
            env: Some(s.env.clone()),
            version: s.version.clone(),
            git_sha: s.git_sha.clone().or(k.git_sha.clone()),
            title: format!("{} {} to {} started", s.app, what(s.op), s.env),
            text: format!(
                "{version} on {} server{}",
                s.servers.len(),
                if s.servers.len() == 1 { "" } else { "s" }
            )
            .trim()
            .to_string(),
            servers: vec![],
            source: k.source.clone(),
            job: k.job.clone(),
            at: now_rfc3339(),
        }
    }

    pub fn finished(s: &DeploySummary, k: &Known) -> Notice {
        let (title, text) = super::deploy_message(s);
        let event = match (s.op, s.result) {
            (DeployOp::Deploy, DeployResult::Succeeded) => NotifyEvent::Succeeded,
            (DeployOp::Deploy, DeployResult::RolledBack) => NotifyEvent::RolledBack,
            (DeployOp::Rollback, DeployResult::Succeeded) => NotifyEvent::RolledBack,
            _ => NotifyEvent::Failed,
        };
        Notice {
            event,
            op: s.op,
            app: s.app.clone(),
            env: Some(s.env.clone()),
            version: s.version.clone(),
            git_sha: s.git_sha.clone().or(k.git_sha.clone()),
            title,
            text,
            servers: s
                .servers
                .iter()
                .map(|o| ServerLine {
                    server: o.server.clone(),
                    ok: o.ok,
                    detail: o.detail.clone(),
                })
                .collect(),
            source: k.source.clone(),
            job: k.job.clone(),
            at: now_rfc3339(),
        }
    }

    /// A deploy that failed before it had a summary (its build, a config
    /// error in the pushed commit...): `summary` is its final line.
    pub fn failed_early(k: &Known, summary: &str) -> Notice {
        let title = match &k.env {
            Some(env) => format!("{} deploy to {env} FAILED", k.app),
            None => format!("{} deploy FAILED", k.app),
        };
        Notice {
            event: NotifyEvent::Failed,
            op: DeployOp::Deploy,
            app: k.app.clone(),
            env: k.env.clone(),
            version: k.version.clone(),
            git_sha: k.git_sha.clone(),
            title,
            text: summary.to_string(),
            servers: vec![],
            source: k.source.clone(),
            job: k.job.clone(),
            at: now_rfc3339(),
        }
    }

    fn color(&self) -> (&'static str, u32) {
        match self.event {
            NotifyEvent::Started => ("#439FE0", 0x439FE0),
            NotifyEvent::Succeeded => ("good", 0x2EB67D),
            NotifyEvent::Failed => ("danger", 0xE01E5A),
            NotifyEvent::RolledBack => ("warning", 0xECB22E),
        }
    }

    /// `target_url` with `{app}`, `{env}`, `{sha}`, `{version}`, `{job}` filled in.
    pub fn link(&self, template: Option<&str>) -> Option<String> {
        let t = template?;
        Some(
            t.replace("{app}", &self.app)
                .replace("{env}", self.env.as_deref().unwrap_or(""))
                .replace("{sha}", self.git_sha.as_deref().unwrap_or(""))
                .replace("{version}", self.version.as_deref().unwrap_or(""))
                .replace("{job}", self.job.as_deref().unwrap_or("")),
        )
    }
}

/// A Slack incoming webhook's body: the text, and an attachment in the
/// event's colour with the details.
pub fn slack(n: &Notice, ch: &ChannelConfig) -> serde_json::Value {
    let mut text = n.text.clone();
    if let Some(l) = n.link(ch.target_url.as_deref()) {
        text.push_str(&format!("\n<{l}|details>"));
    }
    json!({
        "text": n.title,
        "attachments": [{ "color": n.color().0, "text": text, "footer": footer(n) }],
    })
}

/// A Discord webhook's body: content plus one embed in the event's colour.
pub fn discord(n: &Notice, ch: &ChannelConfig) -> serde_json::Value {
    let mut embed = json!({
        "title": n.title,
        "description": truncate(&n.text, 4000),
        "color": n.color().1,
        "footer": { "text": footer(n) },
    });
    if let Some(l) = n.link(ch.target_url.as_deref()) {
        embed["url"] = json!(l);
    }
    json!({ "username": "arcane", "content": n.title, "embeds": [embed] })
}

/// A generic webhook's body: the notice as data.
pub fn webhook(n: &Notice, ch: &ChannelConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(n).unwrap_or_default();
    if let Some(l) = n.link(ch.target_url.as_deref()) {
        v["target_url"] = json!(l);
    }
    v
}

/// The GitHub statuses API request for `n`: the state, and the commit it
/// goes on. None when there is no commit to mark (a rollback, a version no
/// commit describes).
pub fn github_status(n: &Notice, ch: &ChannelConfig) -> Option<(String, serde_json::Value)> {
    if n.op != DeployOp::Deploy {
        return None;
    }
    let sha = n.git_sha.as_deref()?;
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let state = match n.event {
        NotifyEvent::Started => "pending",
        NotifyEvent::Succeeded => "success",
        NotifyEvent::Failed | NotifyEvent::RolledBack => "failure",
    };
    let env = n.env.as_deref().unwrap_or("deploy");
    let context = ch
        .context
        .as_deref()
        .unwrap_or("arcane/{env}")
        .replace("{env}", env)
        .replace("{app}", &n.app);
    let description = match n.event {
        NotifyEvent::Started => format!("deploying to {env}"),
        NotifyEvent::Succeeded => format!("live on {env}"),
        NotifyEvent::Failed => format!("deploy to {env} failed"),
        NotifyEvent::RolledBack => format!("deploy to {env} rolled back"),
    };
    let mut body = json!({
        "state": state,
        "context": context,
        "description": truncate(&description, 140),
    });
    if let Some(l) = n.link(ch.target_url.as_deref()) {
        body["target_url"] = json!(l);
    }
    Some((sha.to_string(), body))
}

fn footer(n: &Notice) -> String {
    let mut f = format!("arcane {}", n.source);
    if let Some(j) = &n.job {
        f.push_str(&format!(" job {j}"));
    }
    if let Some(sha) = &n.git_sha {
        f.push_str(&format!(" · {}", short_sha(sha)));
    }
    f
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `owner/name` of a GitHub remote URL (`git@github.com:o/n.git`,
/// `https://github.com/o/n`, `ssh://git@github.com/o/n.git`).
pub fn github_repo_of(url: &str) -> Option<String> {
    let rest = if let Some(r) = url.strip_prefix("git@github.com:") {
        r
    } else {
        let (_, after) = url.split_once("://")?;
        let after = after.rsplit_once('@').map(|(_, h)| h).unwrap_or(after);
        after.strip_prefix("github.com/")?
    };
    let rest = rest.trim_end_matches('/').trim_end_matches(".git");
    let mut parts = rest.split('/');
    let (o, n) = (parts.next()?, parts.next()?);
    (parts.next().is_none() && !o.is_empty() && !n.is_empty()).then(|| format!("{o}/{n}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notify::ChannelKind;
    use crate::event::report::ServerOutcome;

    fn ch(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig {
            kind,
            url_env: None,
            token_env: None,
            secret_env: None,
            events: None,
            envs: None,
            repo: None,
            api_url: None,
            context: None,
            target_url: Some("https://ci.example/{app}/{job}".into()),
        }
    }

    fn summary(result: DeployResult) -> DeploySummary {
        DeploySummary {
            op: DeployOp::Deploy,
            app: "hello".into(),
            env: "production".into(),
            version: Some("a".repeat(40)),
            git_sha: Some("a".repeat(40)),
            ok: result == DeployResult::Succeeded,
            result,
            servers: vec![ServerOutcome {
                server: "web1".into(),
                ok: result == DeployResult::Succeeded,
                version: None,
                detail: "health check failed".into(),
                rolled_back: result == DeployResult::RolledBack,
                changed: true,
                error_kind: None,
            }],
            elapsed_ms: 10,
        }
    }

    fn known() -> Known {
        Known {
            app: "hello".into(),
            source: "spark".into(),
            job: Some("7".into()),
            ..Default::default()
        }
    }

    #[test]
    fn summaries_map_to_events() {
        let k = known();
        assert_eq!(
            Notice::finished(&summary(DeployResult::Succeeded), &k).event,
            NotifyEvent::Succeeded
        );
        assert_eq!(
            Notice::finished(&summary(DeployResult::RolledBack), &k).event,
            NotifyEvent::RolledBack
        );
        assert_eq!(
            Notice::finished(&summary(DeployResult::Cancelled), &k).event,
            NotifyEvent::Failed
        );
    }

    #[test]
    fn payloads_per_kind() {
        let n = Notice::finished(&summary(DeployResult::RolledBack), &known());
        let s = slack(&n, &ch(ChannelKind::Slack));
        assert_eq!(s["text"], "hello deploy to production FAILED");
        assert_eq!(s["attachments"][0]["color"], "warning");
        assert!(s["attachments"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<https://ci.example/hello/7|details>"));
        let d = discord(&n, &ch(ChannelKind::Discord));
        assert_eq!(d["embeds"][0]["color"], 0xECB22E);
        assert_eq!(d["embeds"][0]["url"], "https://ci.example/hello/7");
        let w = webhook(&n, &ch(ChannelKind::Webhook));
        assert_eq!(w["event"], "rolled_back");
        assert_eq!(w["servers"][0]["server"], "web1");
        let (sha, g) = github_status(&n, &ch(ChannelKind::Github)).unwrap();
        assert_eq!(sha, "a".repeat(40));
        assert_eq!(g["state"], "failure");
        assert_eq!(g["context"], "arcane/production");
        assert_eq!(g["target_url"], "https://ci.example/hello/7");
    }

    #[test]
    fn github_status_needs_a_commit_and_a_deploy() {
        let mut n = Notice::finished(&summary(DeployResult::Succeeded), &known());
        n.git_sha = Some("abc-dirty-1".into());
        assert!(github_status(&n, &ch(ChannelKind::Github)).is_none());
        n.git_sha = Some("b".repeat(40));
        n.op = DeployOp::Rollback;
        assert!(github_status(&n, &ch(ChannelKind::Github)).is_none());
    }

    #[test]
    fn github_repo_from_remotes() {
        for u in [
            "git@github.com:acme/hello.git",
            "https://github.com/acme/hello",
            "ssh://git@github.com/acme/hello.git",
            "https://github.com/acme/hello.git/",
        ] {
            assert_eq!(github_repo_of(u).as_deref(), Some("acme/hello"), "{u}");
        }
        assert_eq!(github_repo_of("https://gitlab.com/acme/hello"), None);
        assert_eq!(github_repo_of("/srv/git/hello.git"), None);
    }
}
