//! Deploys, rollbacks and release history.

use super::short_sha;
use crate::error::ErrorKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// Env keys added, changed and removed, by name only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EnvDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl EnvDiff {
    pub fn between(live: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> EnvDiff {
        let mut d = EnvDiff::default();
        for (k, v) in new {
            match live.get(k) {
                None => d.added.push(k.clone()),
                Some(old) if old != v => d.changed.push(k.clone()),
                _ => {}
            }
        }
        for k in live.keys() {
            if !new.contains_key(k) {
                d.removed.push(k.clone());
            }
        }
        d
    }
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// What a deploy would do on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanAction {
    Deploy,
    Unchanged,
    Unreachable,
}

/// The dry-run plan for one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerPlan {
    pub server: String,
    pub host: String,
    /// The live release, if any.
    pub live: Option<String>,
    pub action: PlanAction,
    pub env: EnvDiff,
    pub detail: Option<String>,
    /// `${server:NAME}` references in its env and the tailnet names they
    /// resolve to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<super::ServerRef>,
}

/// What a deploy would do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub app: String,
    pub env: String,
    pub version: String,
    pub git_sha: String,
    pub mode: String,
    pub images: Vec<String>,
    pub services: Vec<String>,
    pub strategy: String,
    pub parallel: Option<usize>,
    pub servers: Vec<ServerPlan>,
    /// Problems found without changing anything (a port two envs publish
    /// on one server, a dirty worktree...). A plan with warnings may still
    /// deploy; the deploy itself refuses what is fatal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Plan: deploy {} {} ({} mode, {}) to {}",
            self.app,
            short_sha(&self.version),
            self.mode,
            self.strategy,
            self.env
        )?;
        writeln!(f, "  images:   {}", self.images.join(", "))?;
        writeln!(f, "  services: {}", self.services.join(", "))?;
        let order = match self.parallel {
            None => "one at a time".to_string(),
            Some(0) => "all at once".to_string(),
            Some(n) => format!("{n} at a time"),
        };
        writeln!(f, "  servers ({order}):")?;
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        for s in &self.servers {
            let action = match s.action {
                PlanAction::Deploy => "deploy",
                PlanAction::Unchanged => "unchanged",
                PlanAction::Unreachable => "unreachable",
            };
            writeln!(
                f,
                "    {} ({}): {action}, live {}",
                s.server,
                s.host,
                s.live
                    .as_deref()
                    .map(short_sha)
                    .as_deref()
                    .unwrap_or("none")
            )?;
            if let Some(d) = &s.detail {
                writeln!(f, "      {d}")?;
            }
            writeln!(
                f,
                "      env keys: added {}; changed {}; removed {}",
                list(&s.env.added),
                list(&s.env.changed),
                list(&s.env.removed)
            )?;
            for r in &s.refs {
                writeln!(f, "      {}: ${{server:{}}} = {}", r.key, r.server, r.fqdn)?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        write!(f, "Dry run: nothing was changed.")
    }
}

/// Deploy a new version, or activate an existing release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployOp {
    Deploy,
    Rollback,
}

/// A deploy or rollback is about to touch servers (after build and
/// confirmation). Notification channels send "started" from this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployStarted {
    pub op: DeployOp,
    pub app: String,
    pub env: String,
    /// The version being deployed; for a rollback the target when one was named.
    pub version: Option<String>,
    pub git_sha: Option<String>,
    pub servers: Vec<String>,
}

/// What happened on one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerOutcome {
    pub server: String,
    pub ok: bool,
    /// The release now live on the server (after a rollback: the old one).
    pub version: Option<String>,
    pub detail: String,
    /// The new release was started and then rolled back.
    pub rolled_back: bool,
    /// False when the server already ran exactly this release.
    pub changed: bool,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
}

/// The overall result of a deploy or rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployResult {
    Succeeded,
    Failed,
    /// At least one server started the new release and went back.
    RolledBack,
    Cancelled,
}

/// The outcome table of a deploy or rollback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploySummary {
    pub op: DeployOp,
    pub app: String,
    pub env: String,
    /// The version deployed (for a rollback: the release rolled back to,
    /// when all servers agree).
    pub version: Option<String>,
    pub git_sha: Option<String>,
    pub ok: bool,
    pub result: DeployResult,
    pub servers: Vec<ServerOutcome>,
    pub elapsed_ms: u64,
}

/// A release's state as seen now (the record on disk only knows whether it
/// was ever live or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    /// What `current` points at.
    Live,
    /// Was live before a later release replaced it: a rollback target.
    Previous,
    /// Failed its deploy and was rolled back (or never started).
    Failed,
    /// Written but never activated (a deploy died before cutover).
    Pending,
}

impl ReleaseState {
    pub fn word(self) -> &'static str {
        match self {
            ReleaseState::Live => "live",
            ReleaseState::Previous => "previous",
            ReleaseState::Failed => "failed",
            ReleaseState::Pending => "pending",
        }
    }
}

/// One release in the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseRow {
    pub release: String,
    pub version: String,
    pub git_sha: String,
    pub state: ReleaseState,
    pub live: bool,
    pub created_at: String,
    pub created_unix: i64,
    pub deployed_by: String,
    pub images: BTreeMap<String, String>,
}

/// One server's release history, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerReleases {
    pub server: String,
    pub live: Option<String>,
    pub releases: Vec<ReleaseRow>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseList {
    pub app: String,
    pub env: String,
    pub servers: Vec<ServerReleases>,
}
