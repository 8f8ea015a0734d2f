//! The typed results of operations, as plain data.
//!
//! Every operation in `ops` returns one of these and also emits it as an
//! [`Event`](super::Event), so the human renderer (tables), the `--json`
//! renderer (one line each, schema in docs/json.md) and the TUI all read
//! the same types. Nothing here knows how it is shown; nothing here does
//! I/O. The types sit below every engine that produces them, so engines
//! depend on this module and never the other way round.

use crate::error::ErrorKind;
use serde::Serialize;
use std::collections::BTreeMap;

/// The first 12 characters of a git SHA or version, for tables. The full
/// value stays in `--json`.
pub fn short_sha(s: &str) -> String {
    // `<sha>-dirty-<hash>` and `<sha>-r2` keep their suffix readable.
    match s.split_once('-') {
        Some((sha, rest)) if sha.len() > 12 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{}-{rest}", &sha[..12])
        }
        _ if s.len() > 12 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s[..12].to_string(),
        _ => s.to_string(),
    }
}

// ---------------------------------------------------------------- status

/// One container of the app, as docker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// running, exited, created, restarting, paused, dead.
    pub state: String,
    /// Docker's human status ("Up 3 minutes (healthy)").
    pub status: String,
    pub service: String,
    pub version: String,
    /// The release the container belongs to (`arcane.release`), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
    /// The accessory name for accessories (`arcane.accessory`), else empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accessory: String,
    /// healthy, unhealthy, starting, or none (no healthcheck).
    pub health: String,
}

impl Container {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }
    /// Hook runs and health-check candidates come and go during a deploy;
    /// they are not part of what serves.
    pub fn is_transient(&self) -> bool {
        self.name.ends_with("-check") || self.name.contains("-hook-")
    }
}

/// The app's health on one server, in one word. Both front ends show these
/// words and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Healthy,
    Starting,
    Unhealthy,
    Restarting,
    /// Deployed, but nothing of the live release runs.
    Down,
    /// No container of the app at all.
    NotDeployed,
    /// The server could not be asked.
    #[default]
    Unknown,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Starting => "starting",
            Health::Unhealthy => "unhealthy",
            Health::Restarting => "restarting",
            Health::Down => "down",
            Health::NotDeployed => "not deployed",
            Health::Unknown => "unknown",
        }
    }

    pub fn is_ok(self) -> bool {
        matches!(self, Health::Healthy | Health::NotDeployed)
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// The containers that make up what should be serving: the live release's
/// app containers and the accessories. Stopped containers of older
/// releases (kept for rollback) and transient ones are not counted.
pub fn serving_set<'a>(containers: &'a [Container], live: Option<&str>) -> Vec<&'a Container> {
    containers
        .iter()
        .filter(|c| !c.is_transient())
        .filter(|c| {
            !c.accessory.is_empty()
                || c.running()
                || c.state == "restarting"
                || match live {
                    Some(l) => c.release == l || (c.release.is_empty() && c.version == l),
                    None => false,
                }
        })
        .collect()
}

/// `(up, expected, health)` for a server's containers.
pub fn health_of(containers: &[Container], live: Option<&str>) -> (usize, usize, Health) {
    let set = serving_set(containers, live);
    let up = set.iter().filter(|c| c.running()).count();
    let health = if set.is_empty() {
        if containers.is_empty() || live.is_none() {
            Health::NotDeployed
        } else {
            Health::Down
        }
    } else if up == 0 {
        Health::Down
    } else if set.iter().any(|c| c.running() && c.health == "unhealthy") {
        Health::Unhealthy
    } else if set.iter().any(|c| c.state == "restarting") {
        Health::Restarting
    } else if set.iter().any(|c| c.running() && c.health == "starting") {
        Health::Starting
    } else if up < set.len() {
        Health::Down
    } else {
        Health::Healthy
    };
    (up, set.len(), health)
}

/// The live release as its record describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LiveRelease {
    pub release: String,
    pub version: String,
    pub git_sha: String,
    pub deployed_by: String,
    pub created_at: String,
}

/// What `status` (and the dashboard's Overview) knows about one server.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerStatus {
    pub server: String,
    pub env: String,
    pub host: String,
    pub reachable: bool,
    /// The server's docker engine version.
    pub docker: Option<String>,
    pub live: Option<LiveRelease>,
    pub containers: Vec<Container>,
    /// Serving containers that run, and how many should (see [`health_of`]).
    pub up: usize,
    pub expected: usize,
    pub health: Health,
    /// Who holds the deploy lock, if anyone.
    pub lock: Option<String>,
    /// Why the probe failed or is partial.
    pub error: Option<String>,
    /// A refused host key: shown loudly by every front end.
    pub security_alert: Option<String>,
}

/// `status` / `ps` of the selected servers.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct StatusReport {
    pub app: String,
    pub servers: Vec<ServerStatus>,
}

// ---------------------------------------------------------------- deploy

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

// -------------------------------------------------------------- releases

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

// ------------------------------------------------------------------ locks

/// Who holds a deploy lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    /// `user@host`
    pub who: String,
    pub pid: u32,
    pub since: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerLock {
    pub server: String,
    pub held: bool,
    pub holder: Option<LockHolder>,
    /// Seconds since the last heartbeat.
    pub age_secs: Option<u64>,
    pub stale: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockReport {
    pub servers: Vec<ServerLock>,
}

// --------------------------------------------------------------- servers

/// A server as the registry lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerEntry {
    pub name: String,
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub env: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub identity_file: Option<String>,
    pub known_hosts: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerList {
    pub servers: Vec<ServerEntry>,
}

/// What `server check` found on one server.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerCheck {
    pub server: String,
    pub host: String,
    pub reachable: bool,
    pub auth: bool,
    pub arch: Option<String>,
    pub docker: Option<String>,
    pub docker_error: Option<String>,
    pub compose_v2: Option<String>,
    pub compose_v1: Option<String>,
    pub disk_path: Option<String>,
    pub disk_free_bytes: Option<u64>,
    /// Everything that stops a deploy here; empty when ready.
    pub problems: Vec<String>,
}

impl ServerCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    pub fn compose(&self) -> String {
        match (&self.compose_v2, &self.compose_v1) {
            (Some(v), _) => format!("v2 {v}"),
            (None, Some(v)) => format!("v1 {v}"),
            _ => "missing".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub servers: Vec<ServerCheck>,
}

/// What `server trust` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustReport {
    pub server: String,
    pub key_type: String,
    pub fingerprint: String,
    /// `already_trusted` or `added`.
    pub outcome: String,
    /// The known_hosts file written, when one was.
    pub file: Option<String>,
}

/// `halt` on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerHalt {
    pub server: String,
    pub stopped: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaltReport {
    pub servers: Vec<ServerHalt>,
}

// ----------------------------------------------------------------- proxy

/// One route of the edge proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyRoute {
    pub id: String,
    pub hosts: Vec<String>,
    pub upstreams: Vec<String>,
    pub tls: String,
}

/// The edge proxy on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerProxy {
    pub server: String,
    /// `running`, `exited`, `missing`...
    pub state: Option<String>,
    pub image: Option<String>,
    pub routes: Vec<ProxyRoute>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyReport {
    pub servers: Vec<ServerProxy>,
}

// ------------------------------------------------------------------ ship

/// One image a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltImage {
    /// Compose service, or `web` in Dockerfile mode.
    pub service: String,
    /// `<app>:<version>` or `<app>-<service>:<version>`.
    pub tag: String,
    /// `sha256:...`
    pub id: String,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    pub version: String,
    /// The commit (without the dirty suffix).
    pub revision: String,
    pub images: Vec<BuiltImage>,
}

/// `push` to one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerPush {
    pub server: String,
    pub ok: bool,
    pub bytes_sent: u64,
    /// Images that were not on the server yet.
    pub images_sent: usize,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    pub version: String,
    pub servers: Vec<ServerPush>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, state: &str, release: &str) -> Container {
        Container {
            name: name.into(),
            state: state.into(),
            release: release.into(),
            health: "none".into(),
            ..Default::default()
        }
    }

    #[test]
    fn status_counts_stopped_containers_regression() {
        // The live release runs; four stopped containers of older releases
        // are kept for rollback. That is a healthy app, "1/1 up".
        let cs = vec![
            c("a-web-r5", "running", "r5"),
            c("a-web-r4", "exited", "r4"),
            c("a-web-r3", "exited", "r3"),
            c("a-web-r2", "exited", "r2"),
            c("a-web-r1", "exited", "r1"),
        ];
        assert_eq!(health_of(&cs, Some("r5")), (1, 1, Health::Healthy));
        // The live release's container stopped: down, whatever else exists.
        let mut cs2 = cs.clone();
        cs2[0].state = "exited".into();
        assert_eq!(health_of(&cs2, Some("r5")), (0, 1, Health::Down));
        // Accessories count; a stopped accessory makes the app down-ish.
        let mut cs3 = cs.clone();
        let mut db = c("a-db", "exited", "");
        db.accessory = "db".into();
        cs3.push(db);
        assert_eq!(health_of(&cs3, Some("r5")).0, 1);
        assert_eq!(health_of(&cs3, Some("r5")).1, 2);
        assert_eq!(health_of(&[], None), (0, 0, Health::NotDeployed));
    }

    #[test]
    fn short_shas_keep_their_suffix() {
        let sha = "da851e72529cafe0000000000000000000000000";
        assert_eq!(short_sha(sha), "da851e72529c");
        assert_eq!(short_sha(&format!("{sha}-r2")), "da851e72529c-r2");
        assert_eq!(
            short_sha(&format!("{sha}-dirty-0123abcd")),
            "da851e72529c-dirty-0123abcd"
        );
        assert_eq!(short_sha("v1.2"), "v1.2");
    }
}
