//! Everything the dashboard shows, as plain data. The model is built from the
//! project config, changed only by `update`, and read only by `view`. The clock
//! (`now`) and the spinner frame are fields, so a view is a pure function of
//! the model and snapshot tests are deterministic.

use crate::config::Project;
use crate::interact::Confirm;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Overview,
    Deploy,
    Env,
    Keys,
    Releases,
    Logs,
    Git,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::Overview,
        Tab::Deploy,
        Tab::Env,
        Tab::Keys,
        Tab::Releases,
        Tab::Logs,
        Tab::Git,
        Tab::Settings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Deploy => "Deploy",
            Tab::Env => "Env",
            Tab::Keys => "Keys",
            Tab::Releases => "Releases",
            Tab::Logs => "Logs",
            Tab::Git => "Git",
            Tab::Settings => "Settings",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// A server as configured (the registry), before anything is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub name: String,
    pub env: String,
    pub host: String,
}

/// What a status probe found on one server. `None` fields are unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerStatus {
    pub reachable: bool,
    pub docker: Option<String>,
    /// Live release version of the app for the server's env.
    pub release: Option<String>,
    /// e.g. "2/2 healthy", "unhealthy", "no containers".
    pub health: Option<String>,
    /// Who holds the deploy lock, if anyone.
    pub lock: Option<String>,
    /// Why the probe failed or is partial.
    pub error: Option<String>,
    /// A host key problem: shown loudly and sent as a desktop notification.
    pub security_alert: Option<String>,
    /// Docker is not installed: the Overview marks it for `b` (bootstrap).
    pub needs_bootstrap: bool,
}

/// A server's place on the private network (`[network]`), for the Overview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetRow {
    /// `joined`, `not joined`, `not installed`, `mismatch`, `unreachable`...
    pub word: String,
    /// Its tailnet IPv4 address, once joined.
    pub ip: Option<String>,
    /// Joined on the configured tailnet with its tags.
    pub ok: bool,
}

#[derive(Debug, Clone, Default)]
pub struct OverviewState {
    pub statuses: BTreeMap<String, ServerStatus>,
    /// Each server's network state, when the project has a `[network]`.
    pub network: BTreeMap<String, NetRow>,
    /// Servers whose probe has not answered yet.
    pub pending: std::collections::BTreeSet<String>,
    pub selected: usize,
    pub last_refresh: Option<u64>,
}

/// Something a deploy can target: a whole env, a group, or one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Env(String),
    Group { name: String, env: String },
    Server { name: String, env: String },
}

impl Target {
    pub fn env(&self) -> &str {
        match self {
            Target::Env(e) => e,
            Target::Group { env, .. } | Target::Server { env, .. } => env,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Target::Env(e) => format!("env {e}"),
            Target::Group { name, env } => format!("group {name} ({env})"),
            Target::Server { name, env } => format!("server {name} ({env})"),
        }
    }

    pub fn selection(&self) -> crate::config::Selection {
        let mut sel = crate::config::Selection {
            env: Some(self.env().to_string()),
            ..Default::default()
        };
        match self {
            Target::Env(_) => {}
            Target::Group { name, .. } => sel.group = Some(name.clone()),
            Target::Server { name, .. } => sel.servers = vec![name.clone()],
        }
        sel
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Running,
    Ok,
    Failed,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerProgress {
    /// Steps in the order they started, with their state and detail.
    pub steps: Vec<(String, StepState, Option<String>)>,
    pub progress: Option<(String, u64, Option<u64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeployPhase {
    Idle,
    Planning,
    Planned { plan: String },
    Running,
    Cancelling,
    Done { ok: bool, summary: String },
}

#[derive(Debug, Clone)]
pub struct DeployState {
    pub targets: Vec<Target>,
    pub selected: usize,
    /// The target of the plan shown / the deploy running.
    pub active: Option<Target>,
    pub phase: DeployPhase,
    pub servers: BTreeMap<String, ServerProgress>,
    /// Streamed log lines ("[server] line"), newest last.
    pub logs: VecDeque<String>,
    /// Rows of the engine's `deploy_summary`.
    pub summary: Vec<SummaryRow>,
    pub started_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub server: String,
    pub ok: bool,
    pub version: String,
    pub detail: String,
}

/// One key of an env as the layers merge it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvKey {
    pub key: String,
    /// The layer the merged value comes from ("base", "staging", ...).
    pub layer: String,
    /// Layers this key is also set in and overridden.
    pub overrides: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EnvState {
    pub env_index: usize,
    pub keys: Vec<EnvKey>,
    pub selected: usize,
    pub loading: bool,
    pub error: Option<String>,
    /// The one value currently revealed: (key, value). Dropped when the
    /// selection moves so at most one secret is on screen.
    pub revealed: Option<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recipient {
    pub name: String,
    pub kind: String,
    pub public_key: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct KeysState {
    pub identity_path: Option<String>,
    pub public_key: Option<String>,
    pub recipients: Vec<Recipient>,
    pub selected: usize,
    pub loading: bool,
    pub error: Option<String>,
    /// A freshly generated machine key, shown once until dismissed.
    pub generated: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRow {
    pub version: String,
    /// Unix seconds.
    pub created: Option<u64>,
    pub git_sha: Option<String>,
    pub live: bool,
    pub status: String,
}

#[derive(Debug, Clone, Default)]
pub struct ReleasesState {
    pub env_index: usize,
    /// Per server, newest first.
    pub by_server: Vec<(String, Vec<ReleaseRow>)>,
    pub by_server_view: bool,
    pub selected: usize,
    pub loading: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LogsState {
    /// (server, service) choices.
    pub choices: Vec<(String, String)>,
    pub selected: usize,
    /// The (server, service) being followed.
    pub following: Option<(String, String)>,
    /// Id of the newest follower (see `Command::FollowLogs`).
    pub follow_id: u64,
    pub lines: VecDeque<String>,
    pub loading: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub id: String,
    pub parents: Vec<String>,
    pub summary: String,
    pub author: String,
    /// Unix seconds.
    pub time: i64,
}

#[derive(Debug, Clone, Default)]
pub struct GitState {
    pub commits: Vec<Commit>,
    pub selected: usize,
    pub loading: bool,
    pub error: Option<String>,
    /// The current branch's shadow snapshots.
    pub shadow: Option<crate::event::report::ShadowChain>,
    /// The running watcher's state (`git watch`), if one runs.
    pub watch: Option<crate::ops::git_watch::WatchState>,
    /// A squash plan (a dry run) waiting for ⏎ and a confirmation.
    pub plan: Option<Box<crate::event::report::SquashPlan>>,
    pub planning: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeKind {
    Color,
    Monochrome,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub theme: ThemeKind,
    pub notifications: bool,
    pub selected: usize,
}

/// A destructive action waiting for confirmation (gitui's `Action` + confirm popup).
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Deploy(Target),
    CancelDeploy,
    Rollback {
        server: Option<String>,
        env: String,
        to: String,
    },
    DeleteKey {
        layer: String,
        key: String,
    },
    Revoke {
        name: String,
        kind: String,
    },
    Quit,
    /// Rewrite the branch exactly as this plan shows.
    Squash(Box<crate::event::report::SquashPlan>),
    /// Bootstrap this server (the Overview's `b`).
    Bootstrap(String),
}

/// What a text input popup collects.
#[derive(Debug, Clone, PartialEq)]
pub enum InputPurpose {
    /// "KEY=VALUE" into a layer.
    AddKey {
        layer: String,
    },
    EditValue {
        layer: String,
        key: String,
    },
    /// "name pubkey [scopes]".
    AddTeammate,
    AddMachine,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help {
        scroll: u16,
    },
    Confirm {
        title: String,
        body: String,
        action: Pending,
        /// The word to type (production env name), if any.
        typed_word: Option<String>,
        input: String,
        /// Focus starts on Cancel, as in k9s.
        yes_focused: bool,
    },
    /// A question from an engine through the `Interact` trait.
    EngineConfirm {
        id: u64,
        confirm: Confirm,
        input: String,
    },
    Input {
        title: String,
        hint: String,
        purpose: InputPurpose,
        input: String,
        /// Values are shown as `*` while typed.
        secret: bool,
    },
}

/// One line of the command log.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandLine {
    pub server: Option<String>,
    pub command: String,
}

pub const MAX_LOG_LINES: usize = 2000;
pub const MAX_COMMANDS: usize = 500;
/// Overview refresh period, seconds.
pub const REFRESH_SECS: u64 = 30;

#[derive(Debug, Clone)]
pub struct Model {
    pub app: String,
    pub project_root: String,
    pub envs: Vec<String>,
    pub protected: Vec<String>,
    pub servers: Vec<ServerInfo>,
    pub tab: Tab,
    /// Injected clock: unix seconds.
    pub now: u64,
    /// Injected spinner frame.
    pub spinner: usize,
    pub overview: OverviewState,
    pub deploy: DeployState,
    pub env: EnvState,
    pub keys: KeysState,
    pub releases: ReleasesState,
    pub logs: LogsState,
    pub git: GitState,
    pub settings: Settings,
    pub commands: VecDeque<CommandLine>,
    pub show_command_log: bool,
    pub popup: Option<Popup>,
    /// The terminal's (width, height), for what `update` must know of the
    /// layout (where the help overlay's scrolling ends).
    pub size: (u16, u16),
    /// The last message for the status line: (is_error, text).
    pub status: Option<(bool, String)>,
    pub quit: bool,
    /// Quit once the running deploy (or rollback) has finished.
    pub quit_after_deploy: bool,
    /// A rollback from the Releases tab is running (quitting must wait for it).
    pub rollback_running: bool,
    /// The bootstrap started from the Overview, running or just done.
    pub bootstrap: Option<super::bootstrap::BootstrapView>,
    /// Set by `update` when the screen must be redrawn.
    pub dirty: bool,
    /// The project has a `[network]`: the Overview shows each server's.
    pub network: bool,
    /// The Spark panel (`S`).
    pub spark: super::spark::SparkPanel,
}

impl Model {
    /// The model for a loaded project. `mono` comes from NO_COLOR.
    pub fn new(project: &Project, mono: bool, now: u64) -> Model {
        let envs = project.config.env_names();
        let mut servers: Vec<ServerInfo> = project
            .servers
            .servers
            .iter()
            .map(|(name, c)| ServerInfo {
                name: name.clone(),
                env: c.env.clone(),
                host: c.host.clone(),
            })
            .collect();
        // Grouped by env in declaration order, so the Overview's rows and the
        // selection index agree.
        let env_pos = |e: &str| envs.iter().position(|x| x == e).unwrap_or(usize::MAX);
        servers.sort_by(|a, b| (env_pos(&a.env), &a.name).cmp(&(env_pos(&b.env), &b.name)));
        let mut targets: Vec<Target> = envs.iter().cloned().map(Target::Env).collect();
        for (g, group) in &project.servers.groups {
            let env = group
                .env
                .clone()
                .or_else(|| {
                    group
                        .servers
                        .first()
                        .and_then(|s| project.servers.servers.get(s))
                        .map(|s| s.env.clone())
                })
                .unwrap_or_else(|| "staging".into());
            targets.push(Target::Group {
                name: g.clone(),
                env,
            });
        }
        for s in &servers {
            targets.push(Target::Server {
                name: s.name.clone(),
                env: s.env.clone(),
            });
        }
        let protected = envs
            .iter()
            .filter(|e| project.config.is_protected(e))
            .cloned()
            .collect();
        let staging = envs.iter().position(|e| e == "staging").unwrap_or(0);
        Model {
            app: project.app_name().to_string(),
            project_root: project.root.display().to_string(),
            protected,
            servers,
            tab: Tab::Overview,
            now,
            spinner: 0,
            overview: OverviewState::default(),
            deploy: DeployState {
                selected: targets
                    .iter()
                    .position(|t| *t == Target::Env("staging".into()))
                    .unwrap_or(0),
                targets,
                active: None,
                phase: DeployPhase::Idle,
                servers: BTreeMap::new(),
                logs: VecDeque::new(),
                summary: vec![],
                started_at: None,
            },
            env: EnvState {
                env_index: staging,
                ..Default::default()
            },
            keys: KeysState::default(),
            releases: ReleasesState {
                env_index: staging,
                ..Default::default()
            },
            logs: LogsState::default(),
            git: GitState::default(),
            settings: Settings {
                theme: if mono {
                    ThemeKind::Monochrome
                } else {
                    ThemeKind::Color
                },
                notifications: project.config.notifications.desktop,
                selected: 0,
            },
            envs,
            commands: VecDeque::new(),
            show_command_log: false,
            popup: None,
            size: (80, 24),
            status: None,
            quit: false,
            quit_after_deploy: false,
            rollback_running: false,
            bootstrap: None,
            dirty: true,
            network: project.config.network.is_some(),
            spark: Default::default(),
        }
    }

    pub fn deploy_running(&self) -> bool {
        matches!(
            self.deploy.phase,
            DeployPhase::Running | DeployPhase::Cancelling
        )
    }

    /// Whether something on screen moves (a spinner), so ticks must redraw.
    pub fn animating(&self) -> bool {
        self.deploy_running()
            || matches!(self.deploy.phase, DeployPhase::Planning)
            || !self.overview.pending.is_empty()
            || self.env.loading
            || self.keys.loading
            || self.releases.loading
            || self.git.loading
            || self.git.planning
            || self.logs.loading
            || self.bootstrap.as_ref().is_some_and(|b| b.running())
    }

    pub fn is_protected(&self, env: &str) -> bool {
        self.protected.iter().any(|e| e == env)
    }

    /// The env layers for an env: base first, then the env itself.
    pub fn env_name(&self) -> &str {
        self.envs
            .get(self.env.env_index)
            .map(String::as_str)
            .unwrap_or("staging")
    }

    pub fn releases_env(&self) -> &str {
        self.envs
            .get(self.releases.env_index)
            .map(String::as_str)
            .unwrap_or("staging")
    }

    /// Live version per env, from the overview statuses (for Git markers).
    pub fn live_versions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &self.servers {
            if let Some(v) = self
                .overview
                .statuses
                .get(&s.name)
                .and_then(|st| st.release.clone())
            {
                let e = out.entry(s.env.clone()).or_default();
                if !e.contains(&v) {
                    e.push(v);
                }
            }
        }
        out
    }

    /// Flattened release rows shown in the Releases tab, with their server
    /// (None in the per-env view, where rows are deduplicated by version).
    pub fn release_rows(&self) -> Vec<(Option<String>, ReleaseRow)> {
        if self.releases.by_server_view {
            self.releases
                .by_server
                .iter()
                .flat_map(|(s, rows)| rows.iter().map(move |r| (Some(s.clone()), r.clone())))
                .collect()
        } else {
            let mut out: Vec<(Option<String>, ReleaseRow)> = vec![];
            for (_, rows) in &self.releases.by_server {
                for r in rows {
                    if let Some((_, existing)) =
                        out.iter_mut().find(|(_, e)| e.version == r.version)
                    {
                        existing.live |= r.live;
                    } else {
                        out.push((None, r.clone()));
                    }
                }
            }
            out.sort_by_key(|r| std::cmp::Reverse(r.1.created));
            out
        }
    }
}
