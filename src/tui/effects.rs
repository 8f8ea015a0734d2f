//! The thin adapter between `update`'s [`Command`]s and the engines.
//!
//! Every command runs on its own blocking thread (engines are blocking: ssh2,
//! docker), emits its events through a `ChannelSink` into the UI loop and
//! answers with a [`Msg`]. This is the only file of the TUI that calls engine
//! code; it holds no deploy logic, only "call this, report that".

use super::dialog::TuiInteract;
use super::model::*;
use super::update::{Command, Msg, SecretString};
use crate::config::{Project, Selection};
use crate::event::report::{self, DeploySummary};
use crate::event::{Emitter, Event, Sink};
use crate::ops::{self, deploy::DeployRequest, Cancel};
use crate::remote::{ConnectOptions, Connector, SshConnector};
use crate::secrets::{self, recipients::Kind, Keyring};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How long a reachability probe may take before a server counts as
/// unreachable: the dashboard must not sit on a dead server for the CLI's 10 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Effects {
    project: Arc<Project>,
    identity: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
    emitter: Emitter,
    interact: TuiInteract,
    connector: Arc<dyn Connector>,
    cancel: Arc<Mutex<Option<Cancel>>>,
    logs_stop: Arc<Mutex<Option<Cancel>>>,
}

/// A status probe's events: each server's status becomes its own message
/// (fast servers show while slow ones time out), commands go to the
/// command log, the rest is not the Overview's business.
struct StatusSink(UnboundedSender<Msg>);

impl Sink for StatusSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::ServerStatus(st) => Msg::StatusLoaded {
                server: st.server.clone(),
                status: overview_row(&st),
            },
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

/// The Overview's bootstrap: its steps become progress, its commands go to
/// the command log.
struct BootstrapSink(UnboundedSender<Msg>);

impl Sink for BootstrapSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            e @ (Event::StepStarted { .. } | Event::StepFinished { .. }) => Msg::BootstrapEvent(e),
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

/// Turns a log follower's events into messages: its lines go to the Logs tab,
/// its commands to the command log.
struct LogSink(UnboundedSender<Msg>);

impl Sink for LogSink {
    fn emit(&self, event: Event) {
        let msg = match event {
            Event::Log { line, .. } => Msg::LogLine(line),
            other @ Event::Command { .. } => Msg::Engine(other),
            _ => return,
        };
        let _ = self.0.send(msg);
    }
}

impl Effects {
    pub fn new(
        project: Arc<Project>,
        identity: Option<PathBuf>,
        tx: UnboundedSender<Msg>,
        emitter: Emitter,
    ) -> Effects {
        let connector: Arc<dyn Connector> = Arc::new(SshConnector(ConnectOptions {
            timeout: CONNECT_TIMEOUT,
            ..ConnectOptions::for_project(&project.root)
        }));
        Effects {
            project,
            identity,
            interact: TuiInteract::new(tx.clone()),
            tx,
            emitter,
            connector,
            cancel: Arc::default(),
            logs_stop: Arc::default(),
        }
    }

    /// Run `f` with an operation context on its own thread and send the
    /// message it makes. Every engine call of the dashboard goes through
    /// here, with the same connector, identity and dialog.
    fn op<F>(&self, name: &str, em: Emitter, cancel: Cancel, f: F)
    where
        F: FnOnce(&ops::Ctx) -> Msg + Send + 'static,
    {
        self.op_then(name, em, cancel, move |ctx| Some(f(ctx)));
    }

    /// [`Effects::op`] for work whose results arrive as events.
    fn op_then<F>(&self, name: &str, em: Emitter, cancel: Cancel, f: F)
    where
        F: FnOnce(&ops::Ctx) -> Option<Msg> + Send + 'static,
    {
        let (p, interact) = (self.project.clone(), self.interact.clone());
        let (identity, connector) = (self.identity_path(), self.connector.clone());
        self.spawn_then(name, move || {
            let ctx = ops::Ctx::new(&p, &interact, em)
                .with_identity(identity)
                .with_cancel(cancel)
                .with_connector(connector);
            f(&ctx)
        });
    }

    fn spawn<F: FnOnce() -> Msg + Send + 'static>(&self, name: &str, f: F) {
        self.spawn_then(name, move || Some(f()));
    }

    /// Run `f` on its own thread; send its message, if it has one.
    fn spawn_then<F: FnOnce() -> Option<Msg> + Send + 'static>(&self, name: &str, f: F) {
        let tx = self.tx.clone();
        let _ = std::thread::Builder::new()
            .name(format!("arcane-{name}"))
            .spawn(move || {
                if let Some(m) = f() {
                    let _ = tx.send(m);
                }
            });
    }

    pub fn run(&self, cmd: Command) {
        let p = self.project.clone();
        let em = self.emitter.clone();
        let identity = self.identity_path();
        match cmd {
            Command::RefreshStatus { servers } => self.refresh_status(servers),
            Command::LoadEnv { env } => self.spawn("env", move || Msg::EnvLoaded {
                result: load_env(&p, &env),
                env,
            }),
            Command::RevealKey { env, key } => self.spawn("reveal", move || Msg::Revealed {
                result: reveal(&p, identity, &env, &key),
                key,
            }),
            Command::SetKey { layer, key, value } => self.spawn("env-set", move || {
                let what = format!("set {key} in {layer}.env");
                let result = usable_identity(identity.as_deref())
                    .and_then(|_| {
                        let keys = Keyring::new(&p.root, identity.as_deref());
                        secrets::project::set_value(&p.root, &layer, &key, &value.0, &keys)
                            .map_err(|e| e.to_string())
                    })
                    .map(|path| format!("{what}; re-encrypted {}", rel(&p.root, &path)));
                Msg::OpDone { what, result }
            }),
            Command::UnsetKey { layer, key } => self.spawn("env-unset", move || {
                let what = format!("delete {key} from {layer}.env");
                let result = usable_identity(identity.as_deref()).and_then(|_| {
                    let keys = Keyring::new(&p.root, identity.as_deref());
                    match secrets::project::unset_value(&p.root, &layer, &key, &keys) {
                        Ok(true) => Ok(format!("deleted {key} from {layer}.env (re-encrypted)")),
                        Ok(false) => Err(format!("{key} is not set in {layer}.env")),
                        Err(e) => Err(e.to_string()),
                    }
                });
                Msg::OpDone { what, result }
            }),
            Command::LoadKeys => {
                self.spawn("keys", move || Msg::KeysLoaded(Ok(load_keys(&p, identity))))
            }
            Command::TeamAdd {
                name,
                pubkey,
                scopes,
            } => self.spawn("team-add", move || Msg::OpDone {
                what: format!("add teammate {name}"),
                result: add_recipient(&p, identity, name.clone(), pubkey, scopes, Kind::Person),
            }),
            Command::MachineAllow {
                name,
                pubkey,
                scopes,
            } => self.spawn("allow", move || Msg::OpDone {
                what: format!("allow machine {name}"),
                result: add_recipient(&p, identity, name.clone(), pubkey, scopes, Kind::Machine),
            }),
            Command::Revoke { name, kind } => self.spawn("revoke", move || {
                let kind = if kind == "machine" {
                    Kind::Machine
                } else {
                    Kind::Person
                };
                let result = usable_identity(identity.as_deref()).and_then(|_| {
                    let keys = Keyring::new(&p.root, identity.as_deref());
                    secrets::project::remove_recipient(&p.root, &name, kind, &keys)
                        .map(|rep| {
                            format!(
                                "removed {}; rotated {}. Treat what they could read as leaked: rotate those credentials at their source{}",
                                rep.removed,
                                rep.scopes.join(", "),
                                if rep.staged { "; changes are staged, commit them" } else { "" }
                            )
                        })
                        .map_err(|e| e.to_string())
                });
                Msg::OpDone {
                    what: format!("revoke {name}"),
                    result,
                }
            }),
            Command::GenKey => self.spawn("gen-key", || {
                use age::secrecy::ExposeSecret;
                let id = age::x25519::Identity::generate();
                Msg::GeneratedKey(Ok((
                    id.to_public().to_string(),
                    SecretString(id.to_string().expose_secret().to_string()),
                )))
            }),
            Command::LoadReleases { env } => {
                self.op("releases", em, Cancel::default(), move |ctx| {
                    Msg::ReleasesLoaded {
                        result: load_releases(ctx, &env),
                        env,
                    }
                })
            }
            Command::Rollback { env, server, to } => {
                let cancel = self.new_cancel();
                self.op("rollback", em, cancel, move |ctx| {
                    let sel = Selection {
                        env: Some(env.clone()),
                        servers: server.into_iter().collect(),
                        ..Default::default()
                    };
                    let result = ops::releases::rollback(ctx, &sel, Some(&to))
                        .map(|r| report_summary(&r))
                        .map_err(|e| e.to_string());
                    Msg::OpDone {
                        what: format!("roll back {env} to {to}"),
                        result,
                    }
                })
            }
            Command::LoadGit => self.spawn("git", move || {
                Msg::GitLoaded(
                    crate::git::log(&p.root, 300)
                        .map(|cs| {
                            cs.into_iter()
                                .map(|c| Commit {
                                    id: c.sha,
                                    parents: c.parents,
                                    summary: c.summary,
                                    author: c.author,
                                    time: c.time,
                                })
                                .collect()
                        })
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::LoadLogChoices => {
                self.op("log-choices", em, Cancel::default(), |ctx| {
                    let all = Selection {
                        servers: ctx.project.servers.servers.keys().cloned().collect(),
                        ..Default::default()
                    };
                    Msg::LogChoices(
                        ops::status::log_choices(ctx, &all).map_err(|e| e.to_string()),
                    )
                })
            }
            Command::FollowLogs { server, service } => self.follow_logs(server, service),
            Command::StopLogs => {
                if let Some(stop) = self.logs_stop.lock().unwrap().take() {
                    stop.cancel();
                }
            }
            Command::Plan { target } => self.op("plan", em, Cancel::default(), move |ctx| {
                Msg::PlanReady(
                    ops::deploy::plan(ctx, &request(&target, true))
                        .map(|plan| plan.to_string())
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::Deploy { target } => {
                let cancel = self.new_cancel();
                self.op("deploy", em, cancel, move |ctx| {
                    Msg::DeployDone(
                        ops::deploy::deploy(ctx, &request(&target, false))
                            .map(|r| report_summary(&r))
                            .map_err(|e| e.to_string()),
                    )
                })
            }
            Command::CancelDeploy => {
                if let Some(c) = self.cancel.lock().unwrap().as_ref() {
                    c.cancel();
                }
            }
            Command::AnswerConfirm { id, yes } => self.interact.answer(id, yes),
            Command::Notify { title, body } => {
                ops::notify::desktop(&title, &body, Duration::ZERO);
            }
            Command::Bootstrap { server } => {
                let em = Emitter::new(Arc::new(BootstrapSink(self.tx.clone())));
                self.op("bootstrap", em, Cancel::default(), move |ctx| {
                    let req = ops::bootstrap::BootstrapRequest {
                        selection: Selection {
                            servers: vec![server],
                            ..Default::default()
                        },
                        dry_run: false,
                    };
                    Msg::BootstrapDone(
                        ops::bootstrap::bootstrap(ctx, &req)
                            .map(|r| bootstrap_summary(&r))
                            .map_err(|e| e.to_string()),
                    )
                });
            }
        }
    }

    fn new_cancel(&self) -> Cancel {
        let c = Cancel::default();
        *self.cancel.lock().unwrap() = Some(c.clone());
        c
    }

    fn identity_path(&self) -> Option<PathBuf> {
        self.identity.clone().or_else(default_identity_path)
    }

    /// Probe every server (the status operation bounds how many at once);
    /// each result is its own message.
    fn refresh_status(&self, servers: Vec<String>) {
        let em = Emitter::new(Arc::new(StatusSink(self.tx.clone())));
        self.op_then("status", em, Cancel::default(), move |ctx| {
            let known: Vec<_> = ctx
                .project
                .all_servers()
                .into_iter()
                .filter(|s| servers.contains(&s.name))
                .collect();
            ops::status::probe_all(ctx, &known);
            None
        });
    }

    fn follow_logs(&self, server: String, service: String) {
        if let Some(old) = self.logs_stop.lock().unwrap().take() {
            old.cancel();
        }
        let stop = Cancel::default();
        *self.logs_stop.lock().unwrap() = Some(stop.clone());
        let em = Emitter::new(Arc::new(LogSink(self.tx.clone())));
        self.op("logs", em, stop, move |ctx| {
            let sel = Selection {
                servers: vec![server],
                ..Default::default()
            };
            let req = ops::logs::LogsRequest {
                service: Some(service),
                lines: 200,
                follow: true,
            };
            match ops::logs::logs(ctx, &sel, &req) {
                Ok(()) | Err(ops::Error::Interrupted) => Msg::LogsEnded(None),
                Err(e) => Msg::LogsEnded(Some(e.to_string())),
            }
        });
    }
}

fn request(target: &Target, dry_run: bool) -> DeployRequest {
    DeployRequest {
        selection: target.selection(),
        dry_run,
        ..Default::default()
    }
}

fn report_summary(r: &DeploySummary) -> String {
    let ok = r.servers.iter().filter(|s| s.ok).count();
    let changed = r.servers.iter().filter(|s| s.changed).count();
    format!(
        "{} {} live on {ok}/{} server(s) of {} ({changed} changed)",
        r.app,
        r.version
            .as_deref()
            .map(report::short_sha)
            .unwrap_or_default(),
        r.servers.len(),
        r.env
    )
}

/// The Overview's row for one server's status.
fn bootstrap_summary(r: &report::BootstrapReport) -> String {
    let changed: Vec<&str> = r.servers.iter().flat_map(|s| s.changed_steps()).collect();
    if changed.is_empty() {
        "already bootstrapped: nothing changed".into()
    } else {
        format!("bootstrapped (changed: {})", changed.join(", "))
    }
}

fn overview_row(st: &report::ServerStatus) -> ServerStatus {
    let health = st.reachable.then(|| match st.health {
        report::Health::NotDeployed | report::Health::Unknown => st.health.word().to_string(),
        h => format!("{}/{} {}", st.up, st.expected, h.word()),
    });
    ServerStatus {
        reachable: st.reachable,
        docker: st.docker.clone(),
        release: st.live.as_ref().map(|l| l.release.clone()),
        health,
        lock: st.lock.clone(),
        error: st.error.clone(),
        security_alert: st.security_alert.clone(),
        needs_bootstrap: st.needs_bootstrap,
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The identity file: `--identity`/ARCANE_IDENTITY, else the XDG default.
pub fn default_identity_path() -> Option<PathBuf> {
    secrets::identity::default_path()
}

/// An identity the dashboard can use without a terminal prompt. A
/// passphrase-protected identity would ask on the TTY, which the dashboard
/// owns, so such work is left to the CLI.
fn usable_identity(path: Option<&Path>) -> Result<(), String> {
    if std::env::var_os("ARCANE_MACHINE_KEY").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let Some(path) = path.filter(|p| p.is_file()) else {
        return Err(
            "no identity: run `arcane identity new` (or `arcane identity import`) first".into(),
        );
    };
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if String::from_utf8_lossy(&text).contains("BEGIN AGE ENCRYPTED FILE") {
        return Err(format!(
            "{} is passphrase-protected; use the CLI (`arcane env show --reveal`, `arcane env set`) for this",
            path.display()
        ));
    }
    Ok(())
}

/// Keys of the env's layers (base, then the env), read without decrypting:
/// key names are not secret. A key set in both layers comes from the env
/// layer and overrides base.
fn load_env(p: &Project, env: &str) -> Result<Vec<EnvKey>, String> {
    let mut out: Vec<EnvKey> = vec![];
    for layer in crate::config::layers::layer_files(&p.envs_dir(), env, None) {
        let name = layer.name.trim_end_matches(".env").to_string();
        let text = match std::fs::read_to_string(&layer.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", layer.path.display())),
        };
        let entries =
            crate::config::envfile::parse(&text, &layer.path).map_err(|e| e.to_string())?;
        for e in entries {
            match out.iter_mut().find(|k| k.key == e.key) {
                Some(k) => {
                    let old = std::mem::replace(&mut k.layer, name.clone());
                    if !k.overrides.contains(&old) {
                        k.overrides.push(old);
                    }
                }
                None => out.push(EnvKey {
                    key: e.key,
                    layer: name.clone(),
                    overrides: vec![],
                }),
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// One decrypted value, through the secrets engine's reader.
fn reveal(
    p: &Project,
    identity: Option<PathBuf>,
    env: &str,
    key: &str,
) -> Result<SecretString, String> {
    usable_identity(identity.as_deref())?;
    let keys = Keyring::new(&p.root, identity.as_deref());
    let read = secrets::reader(&keys);
    let merged = crate::config::merged(p, env, None, &read).map_err(|e| e.to_string())?;
    merged
        .get(key)
        .map(|v| SecretString(v.to_string()))
        .ok_or_else(|| format!("{key} is not set for {env}"))
}

fn load_keys(p: &Project, identity: Option<PathBuf>) -> KeysState {
    let mut k = KeysState {
        identity_path: identity.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    if let Some(path) = &identity {
        if let Ok(text) = std::fs::read_to_string(path) {
            k.public_key = if text.contains("BEGIN AGE ENCRYPTED FILE") {
                Some("(passphrase-protected; `arcane identity show` prints the key)".into())
            } else {
                secrets::identity::parse_identity_text(&text, &path.display().to_string())
                    .ok()
                    .and_then(|ids| ids.first().map(|l| l.public.clone()))
            };
        }
    }
    match secrets::recipients::Recipients::load(&p.root) {
        Ok(r) => {
            k.recipients = r
                .recipients
                .iter()
                .map(|r| Recipient {
                    name: r.name.clone(),
                    kind: r.kind.to_string(),
                    public_key: r.key.clone(),
                    scopes: r.scopes.clone(),
                })
                .collect()
        }
        Err(e) => k.error = Some(e.to_string()),
    }
    k
}

/// `team add` / `deploy allow`, with the CLI's defaults for scopes.
fn add_recipient(
    p: &Project,
    identity: Option<PathBuf>,
    name: String,
    pubkey: String,
    scopes: Vec<String>,
    kind: Kind,
) -> Result<String, String> {
    use secrets::recipients::{normalize_key, parse_recipient, valid_recipient_name, Recipients};
    if !valid_recipient_name(&name) {
        return Err(format!(
            "{name:?} is not a valid name (letters, digits, - _ . @)"
        ));
    }
    parse_recipient(&pubkey).map_err(|e| format!("{pubkey:?}: {e}"))?;
    usable_identity(identity.as_deref())?;
    let scopes = if !scopes.is_empty() {
        scopes
    } else if kind == Kind::Person {
        let r = Recipients::load(&p.root).map_err(|e| e.to_string())?;
        ["base", "staging"]
            .iter()
            .filter(|s| r.scopes.iter().any(|x| x == *s))
            .map(|s| s.to_string())
            .collect()
    } else {
        match p.servers.servers.get(&name) {
            Some(s) => vec!["base".into(), s.env.clone()],
            None => {
                return Err(format!(
                "{name} is not a server in config/servers.toml; give scopes (e.g. base,production)"
            ))
            }
        }
    };
    let keys = Keyring::new(&p.root, identity.as_deref());
    let rec = secrets::recipients::Recipient {
        name: name.clone(),
        kind,
        key: normalize_key(&pubkey),
        scopes: scopes.clone(),
    };
    secrets::project::add_recipient(&p.root, rec, &keys).map_err(|e| e.to_string())?;
    Ok(format!(
        "{name} ({kind}) can now decrypt {}; commit .arcane/ so their clone can read them",
        scopes.join(", ")
    ))
}

/// Release history per server, with the live one marked.
fn load_releases(ctx: &ops::Ctx, env: &str) -> Result<Vec<(String, Vec<ReleaseRow>)>, String> {
    let sel = Selection {
        env: Some(env.to_string()),
        ..Default::default()
    };
    if ctx.project.select(&sel).is_err() {
        return Ok(vec![]);
    }
    let list = ops::releases::releases(ctx, &sel).map_err(|e| e.to_string())?;
    Ok(list
        .servers
        .into_iter()
        .map(|s| {
            let rows = s
                .releases
                .into_iter()
                .map(|r| ReleaseRow {
                    live: r.live,
                    created: u64::try_from(r.created_unix).ok(),
                    git_sha: Some(report::short_sha(&r.git_sha)),
                    status: format!("{} by {}", r.state.word(), r.deployed_by),
                    version: r.release,
                })
                .collect();
            (s.server, rows)
        })
        .collect())
}
