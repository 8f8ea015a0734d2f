//! `update(model, msg) -> Vec<Command>`: every state change of the dashboard,
//! with no I/O. Engine work is requested as [`Command`]s, which the effects
//! layer runs on blocking threads; their results come back as [`Msg`]s.
//!
//! By concern: [`keys`] (keys outside popups, tabs, selection), [`tabs`] (each
//! tab's own actions), [`popups`] (dialogs and inputs, and what a confirmed
//! dialog runs), [`results`] (answers of engine calls), [`events`] (engine
//! events: command log, deploy progress).

mod events;
mod keys;
mod popups;
mod results;
mod tabs;

pub use keys::SETTINGS_ROWS;

use super::model::*;
use super::view::help_scroll_limits;
use crate::event::Event;
use crate::interact::Confirm;
use crossterm::event::{KeyEvent, KeyEventKind};
use std::fmt;

/// A value that must not show up in Debug output (env values typed in the TUI).
#[derive(Clone, PartialEq)]
pub struct SecretString(pub String);

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Everything that can happen to the dashboard.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Mouse wheel: +1 down, -1 up.
    Scroll(i8),
    /// The terminal's size, at start and on every change.
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock moved; `spinner` is the next frame.
    Tick {
        now: u64,
    },
    /// An engine event (through `event::ChannelSink`).
    Engine(Event),
    StatusLoaded {
        server: String,
        status: ServerStatus,
    },
    EnvLoaded {
        env: String,
        result: Result<Vec<EnvKey>, String>,
    },
    Revealed {
        key: String,
        result: Result<SecretString, String>,
    },
    KeysLoaded(Result<KeysState, String>),
    /// A new machine keypair: (public, secret).
    GeneratedKey(Result<(String, SecretString), String>),
    ReleasesLoaded {
        env: String,
        result: Result<Vec<(String, Vec<ReleaseRow>)>, String>,
    },
    GitLoaded(Result<Vec<Commit>, String>),
    /// The shadow chain and the watcher's state.
    ShadowLoaded(Result<ShadowInfo, String>),
    /// A squash plan (dry run) for the Git tab.
    SquashPlanned(Result<Box<crate::event::report::SquashPlan>, String>),
    LogChoices(Result<Vec<(String, String)>, String>),
    /// A line of log follower `id`'s container.
    LogLine {
        id: u64,
        line: String,
    },
    /// Log follower `id` ended (stopped, or failed with the error).
    LogsEnded {
        id: u64,
        error: Option<String>,
    },
    PlanReady(Result<String, String>),
    DeployDone(Result<String, String>),
    /// An engine asks a question through `Interact`.
    ConfirmRequested {
        id: u64,
        confirm: Confirm,
    },
    /// A write operation (env set, team add...) finished.
    OpDone {
        what: String,
        result: Result<String, String>,
    },
    /// One server's network state.
    NetworkLoaded {
        server: String,
        net: NetRow,
    },
    /// Spark's queue, from its journal on this machine.
    SparkLoaded(Result<crate::event::report::SparkStatus, String>),
    /// A step event of the Overview's bootstrap.
    BootstrapEvent(Event),
    /// The Overview's bootstrap finished: its summary, or why it failed.
    BootstrapDone(Result<String, String>),
}

/// Work for the effects layer. Each maps to one engine call.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    RefreshStatus {
        servers: Vec<String>,
    },
    LoadEnv {
        env: String,
    },
    RevealKey {
        env: String,
        key: String,
    },
    SetKey {
        layer: String,
        key: String,
        value: SecretString,
    },
    UnsetKey {
        layer: String,
        key: String,
    },
    LoadKeys,
    TeamAdd {
        name: String,
        pubkey: String,
        scopes: Vec<String>,
    },
    MachineAllow {
        name: String,
        pubkey: String,
        scopes: Vec<String>,
    },
    Revoke {
        name: String,
        kind: String,
    },
    GenKey,
    LoadReleases {
        env: String,
    },
    Rollback {
        env: String,
        server: Option<String>,
        to: String,
    },
    LoadGit,
    LoadLogChoices,
    /// Start log follower `id`; its lines and its end carry the id, so a
    /// stopped follower's last lines cannot land in a newer one's view.
    FollowLogs {
        id: u64,
        server: String,
        service: String,
    },
    /// Stop every log follower (its process dies, locally and on the server).
    StopLogs,
    Plan {
        target: Target,
    },
    /// A protected env's confirmation is asked by the operation itself,
    /// through the dialog (`TuiInteract`), exactly once.
    Deploy {
        target: Target,
    },
    CancelDeploy,
    AnswerConfirm {
        id: u64,
        yes: bool,
    },
    Notify {
        title: String,
        body: String,
    },
    /// Probe each server's network state (`[network]` projects only).
    RefreshNetwork {
        servers: Vec<String>,
    },
    /// Read Spark's journal (`arcane spark status`).
    LoadSpark,
    /// Plan a squash of the current branch (nothing is written).
    SquashPlan,
    /// Apply exactly this plan (refused if the branch moved since).
    Squash {
        plan: Box<crate::event::report::SquashPlan>,
    },
    /// `server bootstrap` of one server; a protected env's confirmation is
    /// asked by the operation, through the dialog.
    Bootstrap {
        server: String,
    },
}

/// The shadow chain and the watcher's state, as the Git tab shows them.
pub type ShadowInfo = (
    crate::event::report::ShadowChain,
    Option<crate::ops::git_watch::WatchState>,
);

const SPINNER_LEN: usize = 10;

/// Apply one message. Returns the engine work it asks for.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    let mut cmds = match msg {
        Msg::Tick { now } => return tick(m, now),
        Msg::Resize { width, height } => {
            m.size = (width, height);
            if let Some(Popup::Help { scroll }) = &mut m.popup {
                *scroll = (*scroll).min(help_scroll_limits(width, height).0);
            }
            vec![]
        }
        Msg::Scroll(d) => {
            if m.popup.is_none() {
                keys::move_sel(m, d as i64);
            }
            vec![]
        }
        Msg::Key(k) => {
            if k.kind == KeyEventKind::Release {
                return vec![];
            }
            keys::on_key(m, k)
        }
        Msg::Engine(ev) => events::on_event(m, ev),
        other => results::on_result(m, other),
    };
    m.dirty = true;
    // Whatever made arcane quit, a log follower must not outlive it.
    if m.quit {
        cmds.extend(stop_following(m));
    }
    cmds
}

/// Dialogs about a running deploy or rollback ("Cancel the deploy?", "Quit
/// while deploying?") close when it ends: answering them then would act on
/// something that is over.
fn close_stale_dialogs(m: &mut Model) {
    let stale = match &m.popup {
        Some(Popup::Confirm {
            action: Pending::CancelDeploy,
            ..
        }) => true,
        Some(Popup::Confirm {
            action: Pending::Quit,
            ..
        }) => !m.deploy_running() && !m.rollback_running,
        _ => false,
    };
    if stale {
        m.popup = None;
    }
}

/// Stop the Logs tab's follower, if one runs. Its lines stay on screen.
fn stop_following(m: &mut Model) -> Vec<Command> {
    match m.logs.following.take() {
        Some(_) => vec![Command::StopLogs],
        None => vec![],
    }
}

/// The clock moved: ages, the spinner, and the Overview's refresh schedule.
fn tick(m: &mut Model, now: u64) -> Vec<Command> {
    // Ages ("checked 20s ago") move every ten seconds.
    if now / 10 != m.now / 10 {
        m.dirty = true;
    }
    m.now = now;
    if m.animating() {
        m.spinner = (m.spinner + 1) % SPINNER_LEN;
        m.dirty = true;
    }
    let due = m
        .overview
        .last_refresh
        .is_none_or(|t| now.saturating_sub(t) >= REFRESH_SECS);
    let mut cmds = vec![];
    if due && m.overview.pending.is_empty() {
        cmds.extend(refresh_status(m));
    }
    cmds.extend(m.spark.tick(now));
    cmds
}

fn notify(m: &Model, title: &str, body: &str) -> Vec<Command> {
    if m.settings.notifications {
        vec![Command::Notify {
            title: title.to_string(),
            body: body.to_string(),
        }]
    } else {
        vec![]
    }
}

fn clamp(sel: &mut usize, len: usize) {
    *sel = (*sel).min(len.saturating_sub(1));
}

/// Start a background refresh of every server's status.
pub fn refresh_status(m: &mut Model) -> Vec<Command> {
    if m.servers.is_empty() {
        m.overview.last_refresh = Some(m.now);
        return vec![];
    }
    let servers: Vec<String> = m.servers.iter().map(|s| s.name.clone()).collect();
    m.overview.pending = servers.iter().cloned().collect();
    m.overview.last_refresh = Some(m.now);
    let mut cmds = vec![];
    if m.network {
        cmds.push(Command::RefreshNetwork {
            servers: servers.clone(),
        });
    }
    cmds.insert(0, Command::RefreshStatus { servers });
    cmds
}

/// Load what the current tab shows.
pub fn load_tab(m: &mut Model) -> Vec<Command> {
    match m.tab {
        Tab::Overview => refresh_status(m),
        Tab::Deploy | Tab::Settings => vec![],
        Tab::Env => {
            m.env.loading = true;
            m.env.revealed = None;
            vec![Command::LoadEnv {
                env: m.env_name().to_string(),
            }]
        }
        Tab::Keys => {
            m.keys.loading = true;
            vec![Command::LoadKeys]
        }
        Tab::Releases => {
            m.releases.loading = true;
            vec![Command::LoadReleases {
                env: m.releases_env().to_string(),
            }]
        }
        Tab::Logs => {
            m.logs.loading = true;
            vec![Command::LoadLogChoices]
        }
        Tab::Git => {
            m.git.loading = true;
            // A plan is only good for the branch as it was.
            m.git.plan = None;
            vec![Command::LoadGit]
        }
    }
}

fn push_capped(buf: &mut std::collections::VecDeque<String>, line: String) {
    buf.push_back(line);
    while buf.len() > MAX_LOG_LINES {
        buf.pop_front();
    }
}
