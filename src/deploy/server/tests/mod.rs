//! Unit tests of one server's deploy, rollback and undo, driven through the
//! scripted transport (`remote::scripted`): no Docker, no SSH. Each test
//! scripts what the server answers, runs `server::run_with`, and asserts
//! the step events and the exact sequence of commands, uploads and health
//! forwards. The argv builders have their own tests; here the expected
//! lines are built with them, so these tests pin the orchestration.
//!
//! Every test name starts with `scripted_`: the server is a fake.

mod compose;
mod failures;
mod fake_caddy;
mod image;
mod proxy;

use super::{run_with, Artifact, Registry, Shared, Target};
use crate::cancel::Cancel;
use crate::config::{Project, ProjectConfig, Server, ServerConfig, ServersFile};
use crate::deploy::layout::{self, Labels, Layout};
use crate::deploy::release::{Release, Runtime, Status};
use crate::docker::argv::{self, RunSpec};
use crate::event::report::ServerOutcome;
use crate::event::{Emitter, Event, Recorder};
use crate::remote::scripted::{ok, Call, Scripted};
use crate::remote::{Cmd, Output, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every connection of a test's deploy reaches the one scripted server
/// (what `Shared::access` opens: rollback-all's sessions).
struct ScriptedConnector(Arc<Scripted>);

impl crate::remote::Connector for ScriptedConnector {
    fn connect(
        &self,
        _server: &Server,
        _em: &Emitter,
    ) -> Result<Arc<dyn Transport>, crate::remote::RemoteError> {
        Ok(self.0.clone())
    }

    fn options(&self) -> &crate::remote::ConnectOptions {
        static OPTS: std::sync::OnceLock<crate::remote::ConnectOptions> =
            std::sync::OnceLock::new();
        OPTS.get_or_init(Default::default)
    }
}

pub(super) const APP: &str = "shop";
pub(super) const ENV: &str = "staging";
pub(super) const HOME: &str = "/root";

/// A project in a temporary directory (only `arcane.toml` is read).
pub(super) struct Fx {
    _dir: tempfile::TempDir,
    pub project: Project,
}

/// `shop` with a fast health check; `extra` is appended to arcane.toml.
pub(super) fn fixture(extra: &str) -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[app]\nname = \"{APP}\"\n\n[health]\npath = \"/health\"\nport = 8080\ntimeout = 5\n\
         interval = 0.05\n\n[notifications]\ndesktop = false\n{extra}\n"
    );
    let config = ProjectConfig::parse(&text, &dir.path().join("arcane.toml")).unwrap();
    let project = Project {
        root: dir.path().to_path_buf(),
        config,
        servers: ServersFile::default(),
    };
    Fx { _dir: dir, project }
}

pub(super) fn layout() -> Layout {
    Layout::new(HOME, APP, ENV)
}

/// The image-mode run spec arcane writes for `release` (no proxy).
pub(super) fn spec(release: &str) -> RunSpec {
    RunSpec {
        name: format!("{APP}-{ENV}-web-{release}"),
        image: format!("{APP}:{release}"),
        env_file: layout().env_file(release),
        network: format!("{APP}-{ENV}"),
        publish: Some("8080:8080".into()),
        labels: Labels {
            app: APP.into(),
            env: ENV.into(),
            service: "web".into(),
            version: release.into(),
            release: release.into(),
        },
        also: vec![],
    }
}

/// A release record as an earlier deploy wrote it.
pub(super) fn release(name: &str, created: i64, runtime: Runtime) -> Release {
    Release {
        app: APP.into(),
        env: ENV.into(),
        release: name.into(),
        version: name.into(),
        git_sha: name.into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        created_unix: created,
        deployed_by: "ci@box".into(),
        images: [("web".to_string(), format!("{APP}:{name}"))].into(),
        image_ids: [("web".to_string(), format!("sha256:{name}"))].into(),
        env_digest: "old".into(),
        env_keys: BTreeMap::new(),
        runtime,
        status: Status::Live,
    }
}

/// What the server has for the app before the deploy (the facts).
#[derive(Default, Clone)]
pub(super) struct OnServer {
    pub current: Option<String>,
    pub releases: Vec<Release>,
    /// `docker ps` lines (see [`ps_line`]).
    pub ps: Vec<String>,
    /// The compose CLI the facts report (`v1`, `v2`), when asked.
    pub compose: Option<&'static str>,
}

impl OnServer {
    /// Release `v0` live, its container running.
    pub fn with_live_v0() -> OnServer {
        let s = spec("v0");
        OnServer {
            current: Some("v0".into()),
            releases: vec![release(
                "v0",
                1,
                Runtime::Image {
                    spec: s.clone(),
                    port: 8080,
                },
            )],
            ps: vec![ps_line(&s.name, "running", "web", "v0", "", "")],
            compose: None,
        }
    }

    fn facts(&self) -> String {
        let mut f = format!(
            "HOME={HOME}\nCURRENT={}\n",
            self.current.as_deref().unwrap_or("")
        );
        for r in &self.releases {
            f.push_str(&format!(
                "--RELEASE--\n{}\n\n",
                serde_json::to_string_pretty(r).unwrap()
            ));
        }
        f.push_str("--PS--\n");
        for l in &self.ps {
            f.push_str(l);
            f.push('\n');
        }
        if let Some(c) = self.compose {
            f.push_str(&format!("--COMPOSE--\n{c}\n"));
        }
        f
    }
}

/// One `docker ps` line in [`argv::ps_fields`] order.
pub(super) fn ps_line(
    name: &str,
    state: &str,
    service: &str,
    release: &str,
    accessory: &str,
    compose_service: &str,
) -> String {
    format!("id-{name}\t{name}\timg\t{state}\tUp 1 second\t{service}\t{release}\t{release}\t{accessory}\t{compose_service}")
}

/// `docker inspect` answering "running, with an IP" for every container asked.
pub(super) fn inspect_running(cmd: &Cmd) -> Output {
    let words = cmd.argv_words().unwrap_or_default();
    let names = words.iter().skip(6);
    let lines: Vec<String> = names
        .enumerate()
        .map(|(i, n)| format!("/{n}|running||172.18.0.{} |0|sha256:img|0", i + 2))
        .collect();
    ok(&(lines.join("\n") + "\n"))
}

/// The answers of a healthy server holding `on`: lock and facts, the
/// heartbeat, the release dir, every docker command, HTTP 200 on probes.
pub(super) fn server(on: &OnServer) -> Arc<Scripted> {
    let t = Scripted::new("srv1");
    t.on(&["&& touch"], ok(""));
    t.on(&["if grep -q", "rm -rf"], ok(""));
    t.on(&["if grep -q", ".stale.$$"], ok(""));
    // The facts alone (re-read after a failed lock), then with the lock.
    t.on(&["echo \"HOME=$HOME\""], ok(&on.facts()));
    t.on(&["echo ACQUIRED"], ok(&format!("ACQUIRED\n{}", on.facts())));
    t.on(&["mkdir -p -m 700"], ok(""));
    for c in [
        "docker network",
        "docker run -d",
        "docker create",
        "docker start",
        "docker stop",
        "docker rm -f",
    ] {
        t.on(&[c], ok(""));
    }
    t.on_fn(&["docker inspect --type container -f"], |c| {
        Ok(inspect_running(c))
    });
    t.on(&["docker logs --tail"], ok("booting\nlistening on :8080\n"));
    t.on(&["docker image inspect --format"], ok("sha256:img\n"));
    t.http(|_, _| 200);
    t
}

/// What one `run_with` did.
pub(super) struct Ran {
    pub out: ServerOutcome,
    pub events: Vec<Event>,
    pub t: Arc<Scripted>,
    pub undo: bool,
}

impl Ran {
    /// Finished steps in order: the name, with ` FAILED` when it failed.
    pub fn steps(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StepFinished { step, ok, .. } => {
                    Some(format!("{step}{}", if *ok { "" } else { " FAILED" }))
                }
                _ => None,
            })
            .collect()
    }

    /// The detail of the step `name`.
    pub fn detail(&self, name: &str) -> String {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::StepFinished { step, detail, .. } if step == name => detail.clone(),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Log lines emitted.
    pub fn logs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Log { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every call, readable: commands as the shell gets them (the lock's
    /// scripts by name), uploads with their mode, health forwards.
    pub fn calls(&self) -> Vec<String> {
        self.t
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run { cmd, .. } => name_script(&cmd),
                Call::Upload { path, mode } => Some(format!("upload {path} {mode:o}")),
                Call::Forward { host, port } => Some(format!("forward {host}:{port}")),
            })
            .collect()
    }
}

/// The lock's scripts by name (their text has its own tests in lock.rs);
/// the heartbeat is timing-dependent and left out.
fn name_script(cmd: &str) -> Option<String> {
    Some(if cmd.contains("echo ACQUIRED") {
        "LOCK+FACTS".into()
    } else if cmd.contains("&& touch") {
        return None;
    } else if cmd.starts_with("if grep -q") && cmd.contains("; then rm -rf") {
        "UNLOCK".into()
    } else if cmd.contains(".stale.$$") {
        "BREAK-LOCK".into()
    } else if cmd.starts_with("echo \"HOME=$HOME\"") {
        "FACTS".into()
    } else {
        cmd.to_string()
    })
}

/// A deploy or rollback to one scripted server.
pub(super) struct Run<'a> {
    pub fx: &'a Fx,
    pub art: Artifact,
    pub target: Target,
    pub host: &'a str,
    pub registry: Option<Registry>,
    pub vars: BTreeMap<String, String>,
    pub connect_fails: bool,
}

impl<'a> Run<'a> {
    pub fn new(fx: &'a Fx, art: Artifact) -> Run<'a> {
        Run {
            fx,
            art,
            target: Target::New,
            host: "10.0.0.2",
            registry: None,
            vars: [("TOKEN".to_string(), "s3cr3t-value".to_string())].into(),
            connect_fails: false,
        }
    }

    pub fn go(self, t: &Arc<Scripted>) -> Ran {
        let sh = Shared {
            project: &self.fx.project,
            access: crate::deploy::Access {
                connector: Arc::new(ScriptedConnector(t.clone())),
                identity: None,
            },
            app: APP.into(),
            env: ENV.into(),
            art: self.art,
            deadline: Instant::now() + Duration::from_secs(60),
            cancel: Cancel::default(),
            lock_wait: Duration::ZERO,
            registry: self.registry,
            exported: Default::default(),
        };
        let server = Server {
            name: "srv1".into(),
            config: ServerConfig {
                host: self.host.into(),
                user: None,
                port: None,
                identity_file: None,
                known_hosts: None,
                env: ENV.into(),
                roles: vec![],
                ..Default::default()
            },
        };
        let rec = Arc::new(Recorder::default());
        let em = Emitter::new(rec.clone()).for_server("srv1");
        em.redactor()
            .add_all(self.vars.values().map(|v| v.as_str()));
        let fails = self.connect_fails;
        let tt: Arc<dyn Transport> = t.clone();
        let connect = move |_: &Server, _: &Emitter| {
            if fails {
                Err(crate::deploy::DeployError::remote(
                    crate::remote::scripted::dropped("srv1"),
                ))
            } else {
                Ok(tt.clone())
            }
        };
        let (out, undo) = run_with(&sh, &server, &self.vars, &self.target, &em, &connect);
        Ran {
            out,
            events: rec.events(),
            t: t.clone(),
            undo: undo.is_some(),
        }
    }
}

/// The steps of a deploy that went through.
pub(super) fn all_steps() -> Vec<String> {
    [
        "connect",
        "lock",
        "ship",
        "release-dir",
        "pre-deploy",
        "start",
        "health",
        "cutover",
        "post-deploy",
        "record",
        "prune",
        "unlock",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `steps` with the last one marked failed.
pub(super) fn failed_at(steps: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    if let Some(last) = v.last_mut() {
        last.push_str(" FAILED");
    }
    v
}

/// The shell line of an argv.
pub(super) fn sh(a: Vec<String>) -> String {
    argv::sh(&a)
}

/// `docker inspect` of one container, as the health check runs it.
pub(super) fn inspect(name: &str) -> String {
    sh(argv::inspect(&[name.to_string()]))
}

pub(super) fn upload(path: String, mode: u32) -> String {
    format!("upload {path} {mode:o}")
}

pub(super) fn app_net() -> String {
    argv::ensure_network_line(&format!("{APP}-{ENV}"), &layout::app_env(APP, ENV))
}
