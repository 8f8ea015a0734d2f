//! `update(model, msg) -> Vec<Command>`: every state change of the dashboard,
//! with no I/O. Engine work is requested as [`Command`]s, which the effects
//! layer runs on blocking threads; their results come back as [`Msg`]s.

use super::keymap::{self, Action};
use super::model::*;
use crate::event::{Event, Level};
use crate::interact::Confirm;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
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
    Resize,
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
    LogChoices(Result<Vec<(String, String)>, String>),
    /// A line of the followed container's logs.
    LogLine(String),
    LogsEnded(Option<String>),
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
    FollowLogs {
        server: String,
        service: String,
    },
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
    /// `server bootstrap` of one server; a protected env's confirmation is
    /// asked by the operation, through the dialog.
    Bootstrap {
        server: String,
    },
}

const SPINNER_LEN: usize = 10;

/// Apply one message. Returns the engine work it asks for.
pub fn update(m: &mut Model, msg: Msg) -> Vec<Command> {
    let mut cmds = vec![];
    match msg {
        Msg::Tick { now } => {
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
            if due && m.overview.pending.is_empty() {
                cmds.extend(refresh_status(m));
            }
            return cmds;
        }
        Msg::Resize => {}
        Msg::Scroll(d) => {
            if m.popup.is_none() {
                move_sel(m, d as i64);
            }
        }
        Msg::Key(k) => {
            if k.kind == KeyEventKind::Release {
                return cmds;
            }
            cmds.extend(on_key(m, k));
        }
        Msg::Engine(ev) => cmds.extend(on_event(m, ev)),
        Msg::StatusLoaded { server, status } => {
            m.overview.pending.remove(&server);
            if let Some(alert) = &status.security_alert {
                // Once per new alert, not on every background refresh.
                let known = m
                    .overview
                    .statuses
                    .get(&server)
                    .and_then(|s| s.security_alert.as_ref())
                    == Some(alert);
                if !known {
                    m.status = Some((true, alert.clone()));
                    cmds.extend(notify(m, "arcane: host key refused", alert));
                }
            }
            m.overview.statuses.insert(server, status);
        }
        Msg::EnvLoaded { env, result } => {
            if env == m.env_name() {
                m.env.loading = false;
                match result {
                    Ok(keys) => {
                        m.env.keys = keys;
                        m.env.error = None;
                    }
                    Err(e) => {
                        m.env.keys.clear();
                        m.env.error = Some(e);
                    }
                }
                m.env.selected = m.env.selected.min(m.env.keys.len().saturating_sub(1));
            }
        }
        Msg::Revealed { key, result } => match result {
            Ok(v) => m.env.revealed = Some((key, v.0)),
            Err(e) => m.status = Some((true, e)),
        },
        Msg::KeysLoaded(r) => match r {
            Ok(k) => {
                let sel = m.keys.selected;
                let generated = m.keys.generated.take();
                m.keys = k;
                m.keys.generated = generated;
                m.keys.selected = sel.min(m.keys.recipients.len().saturating_sub(1));
            }
            Err(e) => {
                m.keys.loading = false;
                m.keys.error = Some(e);
            }
        },
        Msg::GeneratedKey(r) => match r {
            Ok((public, secret)) => m.keys.generated = Some((public, secret.0)),
            Err(e) => m.status = Some((true, e)),
        },
        Msg::ReleasesLoaded { env, result } => {
            if env == m.releases_env() {
                m.releases.loading = false;
                match result {
                    Ok(rows) => {
                        m.releases.by_server = rows;
                        m.releases.error = None;
                    }
                    Err(e) => {
                        m.releases.by_server.clear();
                        m.releases.error = Some(e);
                    }
                }
                let n = m.release_rows().len();
                clamp(&mut m.releases.selected, n);
            }
        }
        Msg::GitLoaded(r) => {
            m.git.loading = false;
            match r {
                Ok(c) => {
                    m.git.commits = c;
                    m.git.error = None;
                }
                Err(e) => m.git.error = Some(e),
            }
            clamp(&mut m.git.selected, m.git.commits.len());
        }
        Msg::LogChoices(r) => {
            m.logs.loading = false;
            match r {
                Ok(c) => {
                    m.logs.choices = c;
                    m.logs.error = None;
                }
                Err(e) => m.logs.error = Some(e),
            }
            clamp(&mut m.logs.selected, m.logs.choices.len());
        }
        Msg::LogLine(line) => {
            if m.logs.following.is_some() {
                push_capped(&mut m.logs.lines, line);
            }
        }
        Msg::LogsEnded(err) => {
            m.logs.following = None;
            if let Some(e) = err {
                m.logs.error = Some(e);
            }
        }
        Msg::PlanReady(r) => {
            if m.deploy.phase == DeployPhase::Planning {
                m.deploy.phase = match r {
                    Ok(plan) => DeployPhase::Planned { plan },
                    Err(e) => DeployPhase::Done {
                        ok: false,
                        summary: format!("plan failed: {e}"),
                    },
                };
            }
        }
        Msg::DeployDone(r) => {
            let (ok, summary) = match r {
                Ok(s) => (true, s),
                Err(e) => (false, e),
            };
            // The engine's result replaces whatever `Finished` said: it is
            // built from the report (names and versions, never values).
            let target = m
                .deploy
                .active
                .as_ref()
                .map(|t| t.label())
                .unwrap_or_default();
            m.deploy.phase = DeployPhase::Done {
                ok,
                summary: summary.clone(),
            };
            let title = if ok {
                format!("arcane: deployed {target}")
            } else {
                format!("arcane: deploy to {target} FAILED")
            };
            cmds.extend(notify(m, &title, &summary));
            m.status = Some((!ok, summary));
            // The live release changed: refresh what shows it.
            cmds.extend(refresh_status(m));
            if m.tab == Tab::Releases {
                cmds.extend(load_tab(m));
            }
            if m.quit_after_deploy {
                m.quit = true;
            }
        }
        Msg::BootstrapEvent(ev) => {
            if let Some(b) = &mut m.bootstrap {
                b.on_event(&ev);
            }
        }
        Msg::BootstrapDone(r) => {
            let (ok, summary) = match r {
                Ok(s) => (true, s),
                Err(e) => (false, e),
            };
            let server = m.bootstrap.as_ref().map(|b| b.server.clone());
            if let Some(b) = &mut m.bootstrap {
                b.done = Some((ok, summary.clone()));
            }
            let title = match (&server, ok) {
                (Some(s), true) => format!("arcane: bootstrapped {s}"),
                (Some(s), false) => format!("arcane: bootstrap of {s} FAILED"),
                _ => "arcane: bootstrap".into(),
            };
            cmds.extend(notify(m, &title, &summary));
            m.status = Some((!ok, summary));
            // Docker may be there now: the mark goes with the next probe.
            cmds.extend(refresh_status(m));
        }
        Msg::ConfirmRequested { id, confirm } => {
            m.popup = Some(Popup::EngineConfirm {
                id,
                confirm,
                input: String::new(),
            });
        }
        Msg::OpDone { what, result } => {
            let rollback = what.starts_with("roll back");
            if rollback {
                m.rollback_running = false;
                if m.quit_after_deploy && !m.deploy_running() {
                    m.quit = true;
                }
                let (title, body) = match &result {
                    Ok(s) => (format!("arcane: {what} done"), s.clone()),
                    Err(e) => (format!("arcane: {what} FAILED"), e.clone()),
                };
                cmds.extend(notify(m, &title, &body));
            }
            match result {
                Ok(s) => m.status = Some((false, if s.is_empty() { what } else { s })),
                Err(e) => m.status = Some((true, format!("{what}: {e}"))),
            }
            if rollback && m.tab != Tab::Overview {
                cmds.extend(refresh_status(m));
            }
            cmds.extend(load_tab(m));
        }
    }
    m.dirty = true;
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
    vec![Command::RefreshStatus { servers }]
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
            vec![Command::LoadGit]
        }
    }
}

fn switch_tab(m: &mut Model, tab: Tab) -> Vec<Command> {
    if m.tab == tab {
        return vec![];
    }
    // Secrets on screen (a revealed value, a new machine key) go away when
    // their tab is left.
    if m.tab == Tab::Keys {
        m.keys.generated = None;
    }
    m.tab = tab;
    m.env.revealed = None;
    // Overview refreshes on its own timer; other tabs load when opened.
    if tab == Tab::Overview {
        return vec![];
    }
    load_tab(m)
}

fn list_len(m: &Model) -> usize {
    match m.tab {
        Tab::Overview => m.servers.len(),
        Tab::Deploy => m.deploy.targets.len(),
        Tab::Env => m.env.keys.len(),
        Tab::Keys => m.keys.recipients.len(),
        Tab::Releases => m.release_rows().len(),
        Tab::Logs => m.logs.choices.len(),
        Tab::Git => m.git.commits.len(),
        Tab::Settings => SETTINGS_ROWS,
    }
}

pub const SETTINGS_ROWS: usize = 2;

fn sel_mut(m: &mut Model) -> &mut usize {
    match m.tab {
        Tab::Overview => &mut m.overview.selected,
        Tab::Deploy => &mut m.deploy.selected,
        Tab::Env => &mut m.env.selected,
        Tab::Keys => &mut m.keys.selected,
        Tab::Releases => &mut m.releases.selected,
        Tab::Logs => &mut m.logs.selected,
        Tab::Git => &mut m.git.selected,
        Tab::Settings => &mut m.settings.selected,
    }
}

fn move_sel(m: &mut Model, delta: i64) {
    // The deploy target can't change under a running deploy.
    if m.tab == Tab::Deploy && m.deploy_running() {
        return;
    }
    let len = list_len(m) as i64;
    let sel = sel_mut(m);
    let new = if delta == i64::MIN {
        0
    } else if delta == i64::MAX {
        len - 1
    } else {
        *sel as i64 + delta
    };
    *sel = new.clamp(0, (len - 1).max(0)) as usize;
    if m.tab == Tab::Env {
        m.env.revealed = None;
    }
}

fn on_key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
    if m.popup.is_some() {
        return on_popup_key(m, k);
    }
    let Some(action) = keymap::lookup(&k, m.tab) else {
        return vec![];
    };
    m.status = None;
    match action {
        Action::Quit => {
            if m.rollback_running && !m.deploy_running() {
                confirm(
                    m,
                    "Quit while rolling back?",
                    "A rollback is running. Quitting cancels it safely; arcane exits when the engine is done.",
                    Pending::Quit,
                    None,
                );
            } else if m.deploy_running() {
                confirm(
                    m,
                    "Quit while deploying?",
                    "A deploy is running. Quitting cancels it; the engine rolls back before arcane exits.",
                    Pending::Quit,
                    None,
                );
            } else {
                m.quit = true;
            }
            vec![]
        }
        Action::Help => {
            m.popup = Some(Popup::Help { scroll: 0 });
            vec![]
        }
        Action::NextTab => switch_tab(m, Tab::ALL[(m.tab.index() + 1) % Tab::ALL.len()]),
        Action::PrevTab => switch_tab(
            m,
            Tab::ALL[(m.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()],
        ),
        Action::GotoTab(i) => switch_tab(m, Tab::ALL[i.min(Tab::ALL.len() - 1)]),
        Action::Up => {
            move_sel(m, -1);
            vec![]
        }
        Action::Down => {
            move_sel(m, 1);
            vec![]
        }
        Action::Top => {
            move_sel(m, i64::MIN);
            vec![]
        }
        Action::Bottom => {
            move_sel(m, i64::MAX);
            vec![]
        }
        Action::Left | Action::Right => {
            let d = if action == Action::Left { -1 } else { 1 };
            cycle_env(m, d)
        }
        Action::ToggleCommandLog => {
            m.show_command_log = !m.show_command_log;
            vec![]
        }
        Action::Refresh => load_tab(m),
        _ => on_tab_action(m, action),
    }
}

fn cycle_env(m: &mut Model, d: i64) -> Vec<Command> {
    let n = m.envs.len().max(1) as i64;
    let idx = match m.tab {
        Tab::Env => &mut m.env.env_index,
        Tab::Releases => &mut m.releases.env_index,
        _ => return vec![],
    };
    *idx = ((*idx as i64 + d).rem_euclid(n)) as usize;
    match m.tab {
        Tab::Env => m.env.selected = 0,
        _ => m.releases.selected = 0,
    }
    load_tab(m)
}

fn confirm(m: &mut Model, title: &str, body: &str, action: Pending, typed: Option<String>) {
    m.popup = Some(Popup::Confirm {
        title: title.into(),
        body: body.into(),
        action,
        typed_word: typed,
        input: String::new(),
        yes_focused: false,
    });
}

fn input(m: &mut Model, title: &str, hint: &str, purpose: InputPurpose, secret: bool) {
    m.popup = Some(Popup::Input {
        title: title.into(),
        hint: hint.into(),
        purpose,
        input: String::new(),
        secret,
    });
}

fn on_tab_action(m: &mut Model, action: Action) -> Vec<Command> {
    match (m.tab, action) {
        (Tab::Deploy, Action::Plan) => {
            if m.deploy_running() {
                return vec![];
            }
            let Some(t) = m.deploy.targets.get(m.deploy.selected).cloned() else {
                return vec![];
            };
            m.deploy.active = Some(t.clone());
            m.deploy.phase = DeployPhase::Planning;
            vec![Command::Plan { target: t }]
        }
        (Tab::Deploy, Action::StartDeploy) => {
            if m.deploy_running() {
                return vec![];
            }
            let Some(t) = m.deploy.targets.get(m.deploy.selected).cloned() else {
                return vec![];
            };
            let env = t.env().to_string();
            if m.is_protected(&env) {
                // The deploy asks for the typed env name itself (one dialog).
                return run_pending(m, Pending::Deploy(t));
            } else {
                confirm(
                    m,
                    &format!("Deploy {}?", t.label()),
                    "Builds, ships and starts the current commit. A failed health check rolls back.",
                    Pending::Deploy(t),
                    None,
                );
            }
            vec![]
        }
        (Tab::Deploy, Action::CancelDeploy) => {
            if m.deploy.phase == DeployPhase::Running {
                confirm(
                    m,
                    "Cancel the deploy?",
                    "The engine stops after the current step and rolls back.",
                    Pending::CancelDeploy,
                    None,
                );
            } else if !m.deploy_running() {
                m.deploy.phase = DeployPhase::Idle;
            }
            vec![]
        }
        (Tab::Env, Action::Reveal) => {
            let Some(k) = m.env.keys.get(m.env.selected) else {
                return vec![];
            };
            if m.env
                .revealed
                .as_ref()
                .is_some_and(|(key, _)| key == &k.key)
            {
                m.env.revealed = None;
                return vec![];
            }
            vec![Command::RevealKey {
                env: m.env_name().to_string(),
                key: k.key.clone(),
            }]
        }
        (Tab::Env, Action::AddKey) => {
            let layer = m.env_name().to_string();
            input(
                m,
                &format!("Add a key to {layer}"),
                "KEY=value (use base: prefix for the shared layer, e.g. base:KEY=value)",
                InputPurpose::AddKey { layer },
                false,
            );
            vec![]
        }
        (Tab::Env, Action::EditKey) => {
            let Some(k) = m.env.keys.get(m.env.selected).cloned() else {
                return vec![];
            };
            input(
                m,
                &format!("New value of {} ({})", k.key, k.layer),
                "the value is re-encrypted on save and never shown here",
                InputPurpose::EditValue {
                    layer: k.layer,
                    key: k.key,
                },
                true,
            );
            vec![]
        }
        (Tab::Env, Action::DeleteKey) => {
            let Some(k) = m.env.keys.get(m.env.selected).cloned() else {
                return vec![];
            };
            confirm(
                m,
                &format!("Delete {}?", k.key),
                &format!(
                    "Removes {} from the {} layer and re-encrypts the file.",
                    k.key, k.layer
                ),
                Pending::DeleteKey {
                    layer: k.layer,
                    key: k.key,
                },
                None,
            );
            vec![]
        }
        (Tab::Keys, Action::AddTeammate) => {
            input(
                m,
                "Add a teammate",
                "NAME AGE-PUBKEY [scopes,comma,separated] (default base,staging)",
                InputPurpose::AddTeammate,
                false,
            );
            vec![]
        }
        (Tab::Keys, Action::AddMachine) => {
            input(
                m,
                "Allow a machine",
                "NAME AGE-PUBKEY [scopes] (default: the machine's env)",
                InputPurpose::AddMachine,
                false,
            );
            vec![]
        }
        (Tab::Keys, Action::Revoke) => {
            let Some(r) = m.keys.recipients.get(m.keys.selected).cloned() else {
                return vec![];
            };
            confirm(
                m,
                &format!("Revoke {}?", r.name),
                &format!(
                    "Removes {} and rotates every scope it could read ({}).",
                    r.name,
                    r.scopes.join(", ")
                ),
                Pending::Revoke {
                    name: r.name,
                    kind: r.kind,
                },
                None,
            );
            vec![]
        }
        (Tab::Keys, Action::GenKey) => vec![Command::GenKey],
        (Tab::Releases, Action::ToggleReleaseView) => {
            m.releases.by_server_view = !m.releases.by_server_view;
            m.releases.selected = 0;
            vec![]
        }
        (Tab::Releases, Action::Rollback) => {
            let rows = m.release_rows();
            let Some((server, row)) = rows.get(m.releases.selected).cloned() else {
                return vec![];
            };
            if row.live {
                m.status = Some((true, format!("{} is already live", row.version)));
                return vec![];
            }
            let env = m.releases_env().to_string();
            let scope = server
                .clone()
                .unwrap_or_else(|| format!("every {env} server"));
            let pending = Pending::Rollback {
                server,
                env: env.clone(),
                to: row.version.clone(),
            };
            if m.is_protected(&env) {
                // The rollback asks for the typed env name itself.
                return run_pending(m, pending);
            }
            confirm(
                m,
                &format!("Roll back to {}?", row.version),
                &format!("Switches {scope} back to release {}.", row.version),
                pending,
                None,
            );
            vec![]
        }
        (Tab::Overview, Action::Bootstrap) => {
            if m.bootstrap.as_ref().is_some_and(|b| b.running()) {
                m.status = Some((true, "a bootstrap is running; wait for it".into()));
                return vec![];
            }
            let Some(s) = m.servers.get(m.overview.selected).cloned() else {
                return vec![];
            };
            if m.is_protected(&s.env) {
                // The operation asks for the typed env name itself.
                return run_pending(m, Pending::Bootstrap(s.name));
            }
            confirm(
                m,
                &format!("Bootstrap {}?", s.name),
                "Over SSH: installs Docker, creates the deploy user with its keys and the layout, then the firewall and sshd hardening as [bootstrap] says. Steps already done are left alone.",
                Pending::Bootstrap(s.name),
                None,
            );
            vec![]
        }
        (Tab::Logs, Action::Select) => {
            let Some((server, service)) = m.logs.choices.get(m.logs.selected).cloned() else {
                return vec![];
            };
            m.logs.lines.clear();
            m.logs.error = None;
            m.logs.following = Some((server.clone(), service.clone()));
            vec![Command::FollowLogs { server, service }]
        }
        (Tab::Logs, Action::StopLogs) => {
            if m.logs.following.is_some() {
                vec![Command::StopLogs]
            } else {
                vec![]
            }
        }
        (Tab::Settings, Action::Toggle) => {
            match m.settings.selected {
                0 => {
                    m.settings.theme = match m.settings.theme {
                        ThemeKind::Color => ThemeKind::Monochrome,
                        ThemeKind::Monochrome => ThemeKind::Color,
                    }
                }
                _ => m.settings.notifications = !m.settings.notifications,
            }
            vec![]
        }
        _ => vec![],
    }
}

/// Keys while a popup is open: popups take every key.
fn on_popup_key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
    let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
    let popup = m.popup.take().expect("popup");
    match popup {
        Popup::Help { scroll } => {
            let scroll = match k.code {
                KeyCode::Char('j') | KeyCode::Down => scroll.saturating_add(1),
                KeyCode::Char('k') | KeyCode::Up => scroll.saturating_sub(1),
                _ => return vec![],
            };
            m.popup = Some(Popup::Help { scroll });
            vec![]
        }
        Popup::Confirm {
            title,
            body,
            action,
            typed_word,
            mut input,
            mut yes_focused,
        } => {
            let mut decided = None;
            match (k.code, &typed_word) {
                (KeyCode::Esc, _) => decided = Some(false),
                _ if ctrl_c => decided = Some(false),
                (KeyCode::Enter, Some(w)) => decided = Some(input == *w),
                (KeyCode::Backspace, Some(_)) => {
                    input.pop();
                }
                (KeyCode::Char(c), Some(_)) => input.push(c),
                (KeyCode::Enter, None) => decided = Some(yes_focused),
                (KeyCode::Char('y') | KeyCode::Char('Y'), None) => decided = Some(true),
                (KeyCode::Char('n') | KeyCode::Char('N'), None) => decided = Some(false),
                (
                    KeyCode::Tab
                    | KeyCode::Left
                    | KeyCode::Right
                    | KeyCode::Char('h')
                    | KeyCode::Char('l'),
                    None,
                ) => yes_focused = !yes_focused,
                _ => {}
            }
            match decided {
                None => {
                    m.popup = Some(Popup::Confirm {
                        title,
                        body,
                        action,
                        typed_word,
                        input,
                        yes_focused,
                    });
                    vec![]
                }
                Some(false) => {
                    if typed_word.is_some() && k.code == KeyCode::Enter {
                        m.status =
                            Some((true, "the typed name did not match; nothing done".into()));
                    }
                    vec![]
                }
                Some(true) => run_pending(m, action),
            }
        }
        Popup::EngineConfirm {
            id,
            confirm,
            mut input,
        } => {
            let mut decided = None;
            match (k.code, &confirm.word) {
                (KeyCode::Esc, _) => decided = Some(false),
                _ if ctrl_c => decided = Some(false),
                (KeyCode::Enter, Some(w)) => decided = Some(input == *w),
                (KeyCode::Backspace, Some(_)) => {
                    input.pop();
                }
                (KeyCode::Char(c), Some(_)) => input.push(c),
                (KeyCode::Char('y') | KeyCode::Char('Y'), None) => decided = Some(true),
                (KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Enter, None) => {
                    decided = Some(false)
                }
                _ => {}
            }
            match decided {
                None => {
                    m.popup = Some(Popup::EngineConfirm { id, confirm, input });
                    vec![]
                }
                Some(yes) => vec![Command::AnswerConfirm { id, yes }],
            }
        }
        Popup::Input {
            title,
            hint,
            purpose,
            mut input,
            secret,
        } => match k.code {
            KeyCode::Esc => vec![],
            _ if ctrl_c => vec![],
            KeyCode::Enter => submit_input(m, purpose, input),
            KeyCode::Backspace => {
                input.pop();
                m.popup = Some(Popup::Input {
                    title,
                    hint,
                    purpose,
                    input,
                    secret,
                });
                vec![]
            }
            KeyCode::Char(c) => {
                input.push(c);
                m.popup = Some(Popup::Input {
                    title,
                    hint,
                    purpose,
                    input,
                    secret,
                });
                vec![]
            }
            _ => {
                m.popup = Some(Popup::Input {
                    title,
                    hint,
                    purpose,
                    input,
                    secret,
                });
                vec![]
            }
        },
    }
}

fn submit_input(m: &mut Model, purpose: InputPurpose, input: String) -> Vec<Command> {
    let bad = |m: &mut Model, msg: &str| {
        m.status = Some((true, msg.to_string()));
        vec![]
    };
    match purpose {
        InputPurpose::AddKey { layer } => {
            let (layer, rest) = match input.split_once(':') {
                Some((l, r)) if !l.contains('=') && !l.is_empty() => (l.to_string(), r.to_string()),
                _ => (layer, input),
            };
            let Some((key, value)) = rest.split_once('=') else {
                return bad(m, "expected KEY=value");
            };
            let key = key.trim();
            if key.is_empty()
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || key.starts_with(|c: char| c.is_ascii_digit())
            {
                return bad(
                    m,
                    "a key is letters, digits and '_' and does not start with a digit",
                );
            }
            vec![Command::SetKey {
                layer,
                key: key.to_string(),
                value: SecretString(value.to_string()),
            }]
        }
        InputPurpose::EditValue { layer, key } => vec![Command::SetKey {
            layer,
            key,
            value: SecretString(input),
        }],
        InputPurpose::AddTeammate | InputPurpose::AddMachine => {
            let parts: Vec<&str> = input.split_whitespace().collect();
            if parts.len() < 2 || parts.len() > 3 {
                return bad(m, "expected: NAME PUBKEY [scopes]");
            }
            let scopes: Vec<String> = parts
                .get(2)
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let (name, pubkey) = (parts[0].to_string(), parts[1].to_string());
            if purpose == InputPurpose::AddTeammate {
                vec![Command::TeamAdd {
                    name,
                    pubkey,
                    scopes,
                }]
            } else {
                vec![Command::MachineAllow {
                    name,
                    pubkey,
                    scopes,
                }]
            }
        }
    }
}

fn run_pending(m: &mut Model, action: Pending) -> Vec<Command> {
    match action {
        Pending::Deploy(target) => {
            m.deploy.active = Some(target.clone());
            m.deploy.phase = DeployPhase::Running;
            m.deploy.servers.clear();
            m.deploy.logs.clear();
            m.deploy.summary.clear();
            m.deploy.started_at = Some(m.now);
            vec![Command::Deploy { target }]
        }
        Pending::CancelDeploy => {
            if m.deploy.phase == DeployPhase::Running {
                m.deploy.phase = DeployPhase::Cancelling;
                vec![Command::CancelDeploy]
            } else {
                vec![]
            }
        }
        Pending::Quit => {
            if m.rollback_running {
                m.quit_after_deploy = true;
                m.status = Some((
                    false,
                    "cancelling the rollback; arcane exits when it is done".into(),
                ));
                vec![Command::CancelDeploy]
            } else if m.deploy.phase == DeployPhase::Running {
                m.deploy.phase = DeployPhase::Cancelling;
                m.quit_after_deploy = true;
                m.status = Some((
                    false,
                    "cancelling the deploy; arcane exits after the rollback".into(),
                ));
                vec![Command::CancelDeploy]
            } else if m.deploy_running() {
                m.quit_after_deploy = true;
                vec![]
            } else {
                m.quit = true;
                vec![]
            }
        }
        Pending::Rollback { server, env, to } => {
            m.releases.loading = true;
            m.rollback_running = true;
            vec![Command::Rollback { env, server, to }]
        }
        Pending::Bootstrap(server) => {
            m.bootstrap = Some(super::bootstrap::BootstrapView::new(&server));
            vec![Command::Bootstrap { server }]
        }
        Pending::DeleteKey { layer, key } => vec![Command::UnsetKey { layer, key }],
        Pending::Revoke { name, kind } => vec![Command::Revoke { name, kind }],
    }
}

/// Engine events: command log, deploy progress, streamed logs.
fn on_event(m: &mut Model, ev: Event) -> Vec<Command> {
    match ev {
        Event::Command { server, command } => {
            m.commands.push_back(CommandLine { server, command });
            while m.commands.len() > MAX_COMMANDS {
                m.commands.pop_front();
            }
        }
        // Step events outside a deploy (a status probe's connect) are not
        // deploy progress.
        Event::StepStarted { .. } | Event::StepFinished { .. } | Event::Progress { .. }
            if !m.deploy_running() => {}
        Event::StepStarted { server, step } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            p.steps.push((step, StepState::Running, None));
        }
        Event::StepFinished {
            server,
            step,
            ok,
            detail,
            ..
        } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            let state = if ok { StepState::Ok } else { StepState::Failed };
            match p
                .steps
                .iter_mut()
                .rev()
                .find(|(s, st, _)| *s == step && *st == StepState::Running)
            {
                Some(entry) => {
                    entry.1 = state;
                    entry.2 = detail;
                }
                None => p.steps.push((step, state, detail)),
            }
        }
        Event::Progress {
            server,
            label,
            done,
            total,
        } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            p.progress = Some((label, done, total));
        }
        Event::Log { server, line, .. } => {
            let text = match &server {
                Some(s) => format!("[{s}] {line}"),
                None => line,
            };
            push_capped(&mut m.deploy.logs, text);
        }
        Event::Message {
            server,
            level,
            text,
        } => {
            let text = match server {
                Some(s) => format!("[{s}] {text}"),
                None => text,
            };
            if m.deploy_running() {
                m.deploy.logs.push_back(text.clone());
            }
            m.status = Some((level == Level::Error, text));
        }
        Event::DeploySummary(s) => {
            m.deploy.summary = s
                .servers
                .iter()
                .map(|o| SummaryRow {
                    server: o.server.clone(),
                    ok: o.ok,
                    version: o
                        .version
                        .as_deref()
                        .map(crate::event::report::short_sha)
                        .unwrap_or_default(),
                    detail: o.detail.clone(),
                })
                .collect();
        }
        Event::Finished { ok, summary, .. } if m.deploy_running() => {
            m.deploy.phase = DeployPhase::Done { ok, summary };
        }
        // Reports arrive with the operation's result message.
        _ => {}
    }
    vec![]
}

fn push_capped(buf: &mut std::collections::VecDeque<String>, line: String) {
    buf.push_back(line);
    while buf.len() > MAX_LOG_LINES {
        buf.pop_front();
    }
}
