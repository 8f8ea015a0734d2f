//! The thin adapter between `update`'s [`Command`]s and the engines.
//!
//! Every command runs on its own blocking thread (engines are blocking: ssh2,
//! docker), emits its events through a `ChannelSink` into the UI loop and
//! answers with a [`Msg`]. This is the only file of the TUI that calls engine
//! code; it holds no deploy logic, only "call this, report that".

use super::dialog::{PreConfirmed, TuiInteract};
use super::model::*;
use super::update::{Command, Msg, SecretString};
use crate::config::{Project, Server};
use crate::event::{Emitter, Event, Sink};
use crate::remote::{Cmd, LocalTransport, RemoteError, Transport};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
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
    cancel: Arc<Mutex<Option<Arc<AtomicBool>>>>,
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
        match cmd {
            Command::RefreshStatus { servers } => self.refresh_status(servers),
            Command::LoadEnv { env } => self.spawn("env", move || Msg::EnvLoaded {
                result: load_env(&p, &env),
                env,
            }),
            Command::RevealKey { env, key } => {
                let identity = self.identity_path();
                self.spawn("reveal", move || Msg::Revealed {
                    result: reveal(&p, identity, &env, &key),
                    key,
                })
            }
            Command::SetKey { layer, key, .. } => self.spawn("env-set", move || Msg::OpDone {
                what: format!("set {key} in {layer}"),
                result: Err(needs("secrets", "editing env files (re-encryption)")),
            }),
            Command::UnsetKey { layer, key } => self.spawn("env-unset", move || Msg::OpDone {
                what: format!("delete {key} from {layer}"),
                result: Err(needs("secrets", "editing env files (re-encryption)")),
            }),
            Command::LoadKeys => {
                let identity = self.identity_path();
                self.spawn("keys", move || Msg::KeysLoaded(Ok(load_keys(identity))))
            }
            Command::TeamAdd { name, .. } => self.spawn("team-add", move || Msg::OpDone {
                what: format!("add teammate {name}"),
                result: Err(needs("secrets", "team add")),
            }),
            Command::MachineAllow { name, .. } => self.spawn("allow", move || Msg::OpDone {
                what: format!("allow machine {name}"),
                result: Err(needs("secrets", "deploy allow")),
            }),
            Command::Revoke { name, .. } => self.spawn("revoke", move || Msg::OpDone {
                what: format!("revoke {name}"),
                result: Err(needs("secrets", "revoke and rotate")),
            }),
            Command::GenKey => self.spawn("gen-key", || {
                use age::secrecy::ExposeSecret;
                let id = age::x25519::Identity::generate();
                Msg::GeneratedKey(Ok((
                    id.to_public().to_string(),
                    id.to_string().expose_secret().to_string(),
                )))
            }),
            Command::LoadReleases { env } => self.spawn("releases", move || Msg::ReleasesLoaded {
                env,
                result: Err(needs("deploy", "release history")),
            }),
            Command::Rollback { env, .. } => self.spawn("rollback", move || Msg::ReleasesLoaded {
                env,
                result: Err(needs("deploy", "rollback")),
            }),
            Command::LoadGit => self.spawn("git", move || Msg::GitLoaded(load_git(&p))),
            Command::LoadLogChoices => {
                self.spawn("log-choices", move || Msg::LogChoices(log_choices(&p, &em)))
            }
            Command::FollowLogs { server, service } => self.follow_logs(server, service),
            Command::StopLogs => {
                if let Some(stop) = self.logs_stop.lock().unwrap().take() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Command::Plan { target } => {
                let _ = (&p, &target);
                self.spawn("plan", || {
                    Msg::PlanReady(Err(needs("deploy", "deploy plans")))
                })
            }
            Command::Deploy { target, typed } => {
                let cancel = Arc::new(AtomicBool::new(false));
                *self.cancel.lock().unwrap() = Some(cancel.clone());
                let interact = self.interact.clone();
                self.spawn("deploy", move || {
                    let _pre = PreConfirmed {
                        typed_word: typed.then(|| target.env().to_string()),
                        inner: &interact,
                    };
                    let _ = (&p, &em, &cancel);
                    Msg::DeployDone(Err(needs("deploy", "deploying")))
                })
            }
            Command::CancelDeploy => {
                if let Some(c) = self.cancel.lock().unwrap().as_ref() {
                    c.store(true, Ordering::Relaxed);
                }
            }
            Command::AnswerConfirm { id, yes } => self.interact.answer(id, yes),
            Command::Notify { title, body } => {
                super::notify::send(&title, &body);
            }
        }
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
                let t = connect(&s, &em)?;
                let names = t
                    .run(
                        &Cmd::argv(crate_docker_ps(
                            p.app_name(),
                            &s.config.env,
                            Some(&service),
                            "{{.Names}}",
                        )),
                        &em,
                    )
                    .map_err(|e| e.to_string())?;
                let name = names
                    .stdout_str()
                    .lines()
                    .next()
                    .map(str::to_string)
                    .ok_or_else(|| format!("no running container for {service} on {server}"))?;
                let cmd = Cmd::argv(["docker", "logs", "-f", "--tail", "200", name.as_str()]);
                let stop2 = stop.clone();
                t.stream(&cmd, &em, &move || stop2.load(Ordering::Relaxed))
                    .map_err(|e| e.to_string())?;
                Ok(())
            })();
            Msg::LogsEnded(res.err())
        });
    }
}

fn needs(branch: &str, what: &str) -> String {
    format!("{what} is not in this build yet: it needs the {branch} engine")
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

/// A transport to `s`. Only `host = "local"` until the SSH transport lands.
fn connect(s: &Server, _em: &Emitter) -> Result<Box<dyn Transport>, String> {
    if s.is_local() {
        Ok(Box::new(LocalTransport::new(&s.name)))
    } else {
        Err(needs("remote", "SSH access"))
    }
}

/// `docker ps` argv listing this app's containers in `env` (optionally one service).
fn crate_docker_ps(app: &str, env: &str, service: Option<&str>, format: &str) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "docker".into(),
        "ps".into(),
        "--filter".into(),
        format!("label=arcane.app={app}"),
        "--filter".into(),
        format!("label=arcane.env={env}"),
    ];
    if let Some(svc) = service {
        v.push("--filter".into());
        v.push(format!("label=arcane.service={svc}"));
    }
    v.push("--format".into());
    v.push(format.into());
    v
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
    if !s.is_local() {
        // Until the SSH transport lands: a TCP connect to the SSH port tells
        // reachable from not, and nothing more.
        let port = s.config.port.unwrap_or(22);
        let reachable = (s.config.host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|addr| TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).is_ok());
        return ServerStatus {
            reachable,
            error: Some(if reachable {
                needs("remote", "docker/release status")
            } else {
                format!("cannot reach {}:{port}", s.config.host)
            }),
            ..Default::default()
        };
    }
    let t = match connect(s, em) {
        Ok(t) => t,
        Err(e) => {
            return ServerStatus {
                error: Some(e),
                ..Default::default()
            }
        }
    };
    probe_via(t.as_ref(), p.app_name(), &s.config.env, em)
}

/// The status queries, over any transport (the command log shows each one).
fn probe_via(t: &dyn Transport, app: &str, env: &str, em: &Emitter) -> ServerStatus {
    let mut st = ServerStatus {
        reachable: true,
        ..Default::default()
    };
    let q = |argv: Vec<String>| t.run(&Cmd::argv(argv).with_timeout(Duration::from_secs(10)), em);
    match q(vec![
        "docker".into(),
        "version".into(),
        "--format".into(),
        "{{.Server.Version}}".into(),
    ]) {
        Ok(o) if o.success() => st.docker = Some(o.stdout_str().trim().to_string()),
        Ok(o) => st.error = Some(format!("docker: {}", first_line(&o.stderr_str()))),
        Err(e) => {
            st.security_alert = security_alert(&e);
            st.reachable = matches!(e, RemoteError::Timeout { .. } | RemoteError::Io { .. });
            st.error = Some(e.to_string());
            return st;
        }
    }
    let dir = format!("$HOME/.arcane/{app}/{env}");
    let script = format!(
        "cat \"{dir}/current\" 2>/dev/null; echo; cat \"{dir}/lock/holder.json\" 2>/dev/null"
    );
    if let Ok(o) = t.run(
        &Cmd::shell(script).with_timeout(Duration::from_secs(10)),
        em,
    ) {
        let out = o.stdout_str();
        let mut lines = out.lines();
        st.release = lines
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        let holder: String = lines.collect::<Vec<_>>().join("");
        if !holder.trim().is_empty() {
            st.lock = Some(
                serde_json::from_str::<serde_json::Value>(&holder)
                    .ok()
                    .and_then(|v| {
                        v.get("holder")
                            .or_else(|| v.get("user"))
                            .and_then(|h| h.as_str().map(String::from))
                    })
                    .unwrap_or_else(|| "held".into()),
            );
        }
    }
    if let Ok(o) = q(crate_docker_ps(app, env, None, "{{.Status}}")) {
        let rows: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
        let up = rows.iter().filter(|r| r.starts_with("Up")).count();
        let unhealthy = rows.iter().any(|r| r.contains("unhealthy"));
        st.health = Some(if rows.is_empty() {
            "no containers".into()
        } else if unhealthy {
            format!("{up}/{} unhealthy", rows.len())
        } else {
            format!("{up}/{} up", rows.len())
        });
    }
    st
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

/// `$XDG_CONFIG_HOME/arcane/identity.txt`.
pub fn default_identity_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.config_dir().join("arcane").join("identity.txt"))
}

/// Keys of the env's layers, read as stored: base, then the env. A key set in
/// both comes from the env layer and overrides base.
fn load_env(p: &Project, env: &str) -> Result<Vec<EnvKey>, String> {
    let mut out: Vec<EnvKey> = vec![];
    for layer in ["base", env] {
        let path = p.envs_dir().join(format!("{layer}.env"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        for key in parse_env_keys(&text) {
            match out.iter_mut().find(|k| k.key == key) {
                Some(k) => {
                    let old = std::mem::replace(&mut k.layer, layer.to_string());
                    k.overrides.push(old);
                }
                None => out.push(EnvKey {
                    key,
                    layer: layer.to_string(),
                    overrides: vec![],
                }),
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The key names of an env file (`KEY=...` lines; comments and blanks skipped).
pub fn parse_env_keys(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            l.split_once('=').map(|(k, _)| k.trim().to_string())
        })
        .filter(|k| !k.is_empty())
        .collect()
}

fn reveal(
    p: &Project,
    identity: Option<PathBuf>,
    env: &str,
    key: &str,
) -> Result<SecretString, String> {
    if !identity.as_ref().is_some_and(|i| i.is_file()) {
        return Err(
            "no identity: run `arcane identity new` (or import one) to reveal values".into(),
        );
    }
    let _ = (p, env, key);
    Err(needs("secrets", "decrypting values"))
}

fn load_keys(identity: Option<PathBuf>) -> KeysState {
    let mut k = KeysState {
        identity_path: identity.as_ref().map(|p| p.display().to_string()),
        ..Default::default()
    };
    if let Some(path) = identity {
        if let Ok(text) = std::fs::read_to_string(&path) {
            k.public_key = text
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("AGE-SECRET-KEY-"))
                .and_then(|l| l.parse::<age::x25519::Identity>().ok())
                .map(|id| id.to_public().to_string())
                .or_else(|| {
                    text.contains("BEGIN AGE ENCRYPTED FILE")
                        .then(|| "(passphrase-protected identity)".to_string())
                });
        }
    }
    k.error = Some(needs("secrets", "recipients and scopes"));
    k
}

fn load_git(p: &Project) -> Result<Vec<Commit>, String> {
    let repo = git2::Repository::discover(&p.root)
        .map_err(|e| format!("not a git repository: {}", e.message()))?;
    let mut walk = repo.revwalk().map_err(|e| e.message().to_string())?;
    walk.push_head()
        .map_err(|e| format!("no commits yet: {}", e.message()))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(|e| e.message().to_string())?;
    let mut out = vec![];
    for oid in walk.take(300) {
        let oid = oid.map_err(|e| e.message().to_string())?;
        let c = repo.find_commit(oid).map_err(|e| e.message().to_string())?;
        out.push(Commit {
            id: oid.to_string(),
            parents: c.parent_ids().map(|p| p.to_string()).collect(),
            summary: c.summary().unwrap_or("").to_string(),
            author: c.author().name().unwrap_or("").to_string(),
            time: c.time().seconds(),
        });
    }
    Ok(out)
}

fn log_choices(p: &Project, em: &Emitter) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![];
    let mut errors = vec![];
    for (name, c) in &p.servers.servers {
        let s = Server {
            name: name.clone(),
            config: c.clone(),
        };
        let em = em.for_server(name);
        let t = match connect(&s, &em) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let argv = crate_docker_ps(p.app_name(), &c.env, None, "{{.Label \"arcane.service\"}}");
        match t.run(&Cmd::argv(argv).with_timeout(Duration::from_secs(10)), &em) {
            Ok(o) if o.success() => {
                for svc in o
                    .stdout_str()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                {
                    let pair = (name.clone(), svc.to_string());
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                }
            }
            Ok(o) => errors.push(format!("{name}: {}", first_line(&o.stderr_str()))),
            Err(e) => errors.push(e.to_string()),
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
    fn env_keys_skip_comments_and_exports() {
        let text = "# c\nA=1\n\nexport B=two\n C = x\nnot a line\n";
        assert_eq!(parse_env_keys(text), vec!["A", "B", "C"]);
    }

    #[test]
    fn docker_ps_argv_filters_by_labels() {
        assert_eq!(
            crate_docker_ps("web", "staging", Some("api"), "{{.Names}}"),
            vec![
                "docker",
                "ps",
                "--filter",
                "label=arcane.app=web",
                "--filter",
                "label=arcane.env=staging",
                "--filter",
                "label=arcane.service=api",
                "--format",
                "{{.Names}}"
            ]
        );
    }

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
