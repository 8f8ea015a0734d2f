//! The thin adapter between `update`'s [`Command`]s and the engines.
//!
//! Every command runs on its own blocking thread (engines are blocking: ssh2,
//! docker), emits its events through a `ChannelSink` into the UI loop and
//! answers with a [`Msg`]. This is the only file of the TUI that calls engine
//! code; it holds no deploy logic, only "call this, report that".

use super::dialog::{PreConfirmed, TuiInteract};
use super::model::*;
use super::update::{Command, Msg, SecretString};
use crate::config::{Project, Selection, Server};
use crate::deploy::layout;
use crate::deploy::{self, Cancel, DeployReport, DeployRequest};
use crate::docker::argv;
use crate::event::{Emitter, Event, Sink};
use crate::remote::{self, Cmd, ConnectOptions, RemoteError, Transport};
use crate::secrets::{self, recipients::Kind, Keyring};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How long a reachability probe may take before a server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many status probes run at once (50 servers must not mean 50
/// simultaneous SSH handshakes).
const PROBE_PARALLEL: usize = 16;

pub struct Effects {
    project: Arc<Project>,
    identity: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
    emitter: Emitter,
    interact: TuiInteract,
    cancel: Arc<Mutex<Option<Cancel>>>,
    logs_stop: Arc<Mutex<Option<Arc<AtomicBool>>>>,
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
        Effects {
            project,
            identity,
            interact: TuiInteract::new(tx.clone()),
            tx,
            emitter,
            cancel: Arc::default(),
            logs_stop: Arc::default(),
        }
    }

    fn spawn<F: FnOnce() -> Msg + Send + 'static>(&self, name: &str, f: F) {
        let tx = self.tx.clone();
        let _ = std::thread::Builder::new()
            .name(format!("arcane-{name}"))
            .spawn(move || {
                let _ = tx.send(f());
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
            Command::LoadReleases { env } => self.spawn("releases", move || Msg::ReleasesLoaded {
                result: load_releases(&p, &env, &em),
                env,
            }),
            Command::Rollback { env, server, to } => {
                let cancel = self.new_cancel();
                let interact = self.interact.clone();
                self.spawn("rollback", move || {
                    let sel = Selection {
                        env: Some(env.clone()),
                        servers: server.into_iter().collect(),
                        ..Default::default()
                    };
                    // The TUI asked for the typed env name before sending this.
                    let pre = PreConfirmed {
                        typed_word: p.config.is_protected(&env).then(|| env.clone()),
                        inner: &interact,
                    };
                    let quiet = engine_project(&p);
                    let result = deploy::rollback(&quiet, &sel, Some(&to), &pre, &em, &cancel)
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
                self.spawn("log-choices", move || Msg::LogChoices(log_choices(&p, &em)))
            }
            Command::FollowLogs { server, service } => self.follow_logs(server, service),
            Command::StopLogs => {
                if let Some(stop) = self.logs_stop.lock().unwrap().take() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Command::Plan { target } => self.spawn("plan", move || {
                let req = request(&target, true);
                Msg::PlanReady(
                    deploy::plan(&p, &req, &em)
                        .map(|plan| plan.to_string())
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::Deploy { target, typed } => {
                let cancel = self.new_cancel();
                let interact = self.interact.clone();
                self.spawn("deploy", move || {
                    let pre = PreConfirmed {
                        typed_word: typed.then(|| target.env().to_string()),
                        inner: &interact,
                    };
                    let req = request(&target, false);
                    let quiet = engine_project(&p);
                    Msg::DeployDone(
                        deploy::deploy(&quiet, &req, &pre, &em, &cancel)
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
                super::notify::send(&title, &body);
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

    /// Probe every server, a bounded number at a time; each result is its own
    /// message so fast servers show up while slow ones are still timing out.
    fn refresh_status(&self, servers: Vec<String>) {
        let queue: Arc<Mutex<Vec<Server>>> = Arc::new(Mutex::new(
            servers
                .iter()
                .rev()
                .filter_map(|n| {
                    self.project.servers.servers.get(n).map(|c| Server {
                        name: n.clone(),
                        config: c.clone(),
                    })
                })
                .collect(),
        ));
        for _ in 0..PROBE_PARALLEL.min(servers.len()) {
            let queue = queue.clone();
            let tx = self.tx.clone();
            let em = self.emitter.clone();
            let p = self.project.clone();
            let _ = std::thread::Builder::new()
                .name("arcane-status".into())
                .spawn(move || loop {
                    let Some(s) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let status = probe(&p, &s, &em.for_server(&s.name));
                    if tx
                        .send(Msg::StatusLoaded {
                            server: s.name.clone(),
                            status,
                        })
                        .is_err()
                    {
                        break;
                    }
                });
        }
    }

    fn follow_logs(&self, server: String, service: String) {
        if let Some(old) = self.logs_stop.lock().unwrap().take() {
            old.store(true, Ordering::Relaxed);
        }
        let stop = Arc::new(AtomicBool::new(false));
        *self.logs_stop.lock().unwrap() = Some(stop.clone());
        let p = self.project.clone();
        let tx = self.tx.clone();
        let em = Emitter::new(Arc::new(LogSink(tx.clone()))).for_server(&server);
        self.spawn("logs", move || {
            let res = (|| -> Result<(), String> {
                let s = server_by_name(&p, &server)?;
                let req = remote::engine::LogsRequest {
                    app: p.app_name(),
                    service: Some(&service),
                    lines: 200,
                    follow: true,
                };
                let stop2 = stop.clone();
                let results = remote::engine::logs(
                    &req,
                    &[s],
                    &move || stop2.load(Ordering::Relaxed),
                    &connect_options(&p),
                    &em,
                );
                for (_, r) in results {
                    r.map_err(|e| e.to_string())?;
                }
                Ok(())
            })();
            Msg::LogsEnded(res.err())
        });
    }
}

fn server_by_name(p: &Project, name: &str) -> Result<Server, String> {
    p.servers
        .servers
        .get(name)
        .map(|c| Server {
            name: name.to_string(),
            config: c.clone(),
        })
        .ok_or_else(|| format!("unknown server {name:?}"))
}

/// SSH options for the dashboard: relative key paths in servers.toml are
/// relative to the project, and a dead server costs at most a few seconds.
fn connect_options(p: &Project) -> ConnectOptions {
    ConnectOptions {
        timeout: CONNECT_TIMEOUT,
        ..ConnectOptions::for_project(&p.root)
    }
}

fn connect(p: &Project, s: &Server, em: &Emitter) -> Result<Arc<dyn Transport>, RemoteError> {
    remote::connect(s, em, &connect_options(p))
}

/// The project as the engines see it from the TUI: desktop notifications are
/// the dashboard's job (its Settings tab can turn them off), so the engine
/// does not send its own as well.
fn engine_project(p: &Project) -> Project {
    let mut q = p.clone();
    q.config.notifications.desktop = false;
    q
}

fn request(target: &Target, dry_run: bool) -> DeployRequest {
    DeployRequest {
        selection: target.selection(),
        env: target.env().to_string(),
        parallel: None,
        dry_run,
        skip_build: false,
        lock_wait: Duration::ZERO,
    }
}

fn report_summary(r: &DeployReport) -> String {
    let ok = r.servers.iter().filter(|s| s.ok).count();
    let changed = r.servers.iter().filter(|s| s.changed).count();
    format!(
        "{} {} live on {ok}/{} server(s) of {} ({changed} changed)",
        r.app,
        r.version,
        r.servers.len(),
        r.env
    )
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Security alerts worth a desktop notification: a refused host key.
pub fn security_alert(e: &RemoteError) -> Option<String> {
    match e {
        RemoteError::UnknownHostKey { .. } | RemoteError::HostKeyChanged { .. } => {
            Some(e.to_string())
        }
        _ => None,
    }
}

/// One server's status: reachability, docker version, live release, health, lock.
fn probe(p: &Project, s: &Server, em: &Emitter) -> ServerStatus {
    match connect(p, s, em) {
        Ok(t) => probe_via(t.as_ref(), p.app_name(), &s.config.env, em),
        Err(e) => ServerStatus {
            // Auth failures and host key refusals mean the host answered.
            reachable: !matches!(
                e,
                RemoteError::Unreachable { .. } | RemoteError::Timeout { .. }
            ),
            security_alert: security_alert(&e),
            error: Some(short_remote_error(&e)),
            ..Default::default()
        },
    }
}

/// The one-line version of a connect error for the Overview row.
fn short_remote_error(e: &RemoteError) -> String {
    match e {
        RemoteError::Unreachable { reason, .. } => format!("unreachable: {reason}"),
        RemoteError::Auth { user, .. } => format!("auth failed as {user}"),
        RemoteError::UnknownHostKey { fingerprint, .. } => {
            format!("unknown host key {fingerprint}: run `arcane server trust`")
        }
        RemoteError::HostKeyChanged { fingerprint, .. } => {
            format!("HOST KEY CHANGED ({fingerprint}): refusing to connect")
        }
        other => other.to_string(),
    }
}

/// The status queries, over any transport (the command log shows each one).
fn probe_via(t: &dyn Transport, app: &str, env: &str, em: &Emitter) -> ServerStatus {
    let mut st = ServerStatus {
        reachable: true,
        ..Default::default()
    };
    let q = |argv: Vec<String>| t.run(&Cmd::argv(argv).with_timeout(Duration::from_secs(10)), em);
    match q(argv::version()) {
        Ok(o) if o.success() => st.docker = Some(o.stdout_str().trim().to_string()),
        Ok(o) => st.error = Some(format!("docker: {}", first_line(&o.stderr_str()))),
        Err(e) => {
            st.error = Some(short_remote_error(&e));
            return st;
        }
    }
    // The live release, through the remote engine's own script and parser.
    if let Ok(o) = t.run(
        &layout::live_release_script(app, env).with_timeout(Duration::from_secs(10)),
        em,
    ) {
        st.release = layout::parse_live_release(&o.stdout_str()).map(|r| r.version);
    }
    if let Ok(o) = t.run(
        &layout::lock_holder_script(app, env).with_timeout(Duration::from_secs(10)),
        em,
    ) {
        let text = o.stdout_str();
        if !text.trim().is_empty() {
            st.lock = Some(
                serde_json::from_str::<deploy::lock::Holder>(&text)
                    .map(|h| h.who)
                    .unwrap_or_else(|_| "held".into()),
            );
        }
    }
    if let Ok(o) = q(argv::ps_app(app, env, None, true)) {
        st.health = Some(health_summary(&argv::parse_ps(&o.stdout_str())));
    }
    st
}

/// "2/2 up", "1/2 unhealthy", "no containers".
fn health_summary(cs: &[argv::Container]) -> String {
    let up = cs.iter().filter(|c| c.running()).count();
    if cs.is_empty() {
        "no containers".into()
    } else if cs.iter().any(|c| c.health == "unhealthy") {
        format!("{up}/{} unhealthy", cs.len())
    } else {
        format!("{up}/{} up", cs.len())
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
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
fn load_releases(
    p: &Project,
    env: &str,
    em: &Emitter,
) -> Result<Vec<(String, Vec<ReleaseRow>)>, String> {
    let sel = Selection {
        env: Some(env.to_string()),
        ..Default::default()
    };
    if p.select(&sel).is_err() {
        return Ok(vec![]);
    }
    let history = deploy::history(p, &sel, em).map_err(|e| e.to_string())?;
    Ok(history
        .into_iter()
        .map(|h| {
            let (server, current) = (h.server, h.live);
            let rows = h
                .releases
                .into_iter()
                .map(|r| ReleaseRow {
                    live: current.as_deref() == Some(r.release.as_str()),
                    created: u64::try_from(r.created_unix).ok(),
                    git_sha: Some(r.git_sha.chars().take(7).collect()),
                    status: format!("{:?} by {}", r.status, r.deployed_by).to_lowercase(),
                    version: r.release,
                })
                .collect();
            (server, rows)
        })
        .collect())
}

fn log_choices(p: &Project, em: &Emitter) -> Result<Vec<(String, String)>, String> {
    let servers: Vec<Server> = p
        .servers
        .servers
        .iter()
        .map(|(name, c)| Server {
            name: name.clone(),
            config: c.clone(),
        })
        .collect();
    // One thread per server (the remote engine's helper): a dead server
    // costs its timeout once, not once per server before it.
    let results = remote::engine::per_server(&servers, |s| {
        let em = em.for_server(&s.name);
        let t =
            connect(p, s, &em).map_err(|e| format!("{}: {}", s.name, short_remote_error(&e)))?;
        let argv = argv::ps_app(p.app_name(), &s.config.env, None, false);
        let o = t
            .run(&Cmd::argv(argv).with_timeout(Duration::from_secs(10)), &em)
            .map_err(|e| short_remote_error(&e))?;
        if !o.success() {
            return Err(format!("{}: {}", s.name, first_line(&o.stderr_str())));
        }
        Ok(argv::parse_ps(&o.stdout_str())
            .into_iter()
            .map(|c| (s.name.clone(), c.service))
            .collect::<Vec<_>>())
    });
    let mut out: Vec<(String, String)> = vec![];
    let mut errors = vec![];
    for r in results {
        match r {
            Ok(pairs) => {
                for pair in pairs {
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_errors_are_security_alerts() {
        let e = RemoteError::HostKeyChanged {
            server: "a".into(),
            host: "h".into(),
            fingerprint: "SHA256:x".into(),
            known_hosts: "kh".into(),
        };
        assert!(security_alert(&e).unwrap().contains("HOST KEY CHANGED"));
        let e = RemoteError::Unreachable {
            server: "a".into(),
            addr: "h".into(),
            reason: "r".into(),
        };
        assert!(security_alert(&e).is_none());
    }
}
