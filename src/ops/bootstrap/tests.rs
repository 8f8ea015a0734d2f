//! The bootstrap operation against a scripted transport (a recording fake:
//! the real sshd, apt and nft run in tests/bootstrap_testbed.rs). What only
//! the order of steps shows: nothing touches sshd before the deploy user's
//! login worked, a failed login after a change takes the change back, one
//! failing server never stops the others.

use super::*;
use crate::config::Project;
use crate::event::Emitter;
use crate::event::{Recorder, Sink};
use crate::interact::AssumeYes;
use crate::remote::{Cmd, RemoteError, Transport};
use crate::remote::{ConnectOptions, Connector, Forward, Output};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPVCgLIr5nGqDwmyMpn7dOHw2Sf4jyH72FdzhAS8VxQW me@laptop";

/// How one fake server behaves.
#[derive(Clone, Default)]
struct Behaviour {
    os: &'static str,
    /// Root's key is refused (an earlier bootstrap hardened sshd).
    root_refused: bool,
    /// Logins as the deploy user that succeed, in order; later ones fail.
    deploy_logins_ok: Option<usize>,
    /// Steps whose script reports "unchanged".
    unchanged: Vec<&'static str>,
    /// A step whose script fails.
    fails: Option<&'static str>,
}

#[derive(Default)]
struct World {
    servers: BTreeMap<String, Behaviour>,
    /// (server, user, what ran): every command, in order.
    log: Mutex<Vec<(String, String, String)>>,
    deploy_logins: Mutex<BTreeMap<String, usize>>,
    opts: ConnectOptions,
}

/// A recording fake of the SSH connector (no server runs here).
struct FakeConnector(Arc<World>);

struct FakeTransport {
    world: Arc<World>,
    server: String,
    user: String,
}

impl Connector for FakeConnector {
    fn connect(&self, server: &Server, _em: &Emitter) -> Result<Arc<dyn Transport>, RemoteError> {
        let w = &self.0;
        let b = w.servers[&server.name].clone();
        let user = server.config.user.clone().unwrap_or_else(|| "root".into());
        let refused = RemoteError::Auth {
            server: server.name.clone(),
            user: user.clone(),
            tried: vec!["id (rejected by the server)".into()],
        };
        if user == "root" && b.root_refused {
            return Err(refused);
        }
        if user == "arcane" {
            let mut n = w.deploy_logins.lock().unwrap();
            let count = n.entry(server.name.clone()).or_default();
            *count += 1;
            if b.deploy_logins_ok.is_some_and(|ok| *count > ok) {
                return Err(refused);
            }
        }
        Ok(Arc::new(FakeTransport {
            world: w.clone(),
            server: server.name.clone(),
            user,
        }))
    }

    fn options(&self) -> &ConnectOptions {
        &self.0.opts
    }
}

/// Which step a script is, by what only it contains.
fn which(script: &str) -> &'static str {
    let marks = [
        ("-- os-release", "probe"),
        ("printf 'groups", "login"),
        ("MODE=", step::PACKAGES),
        ("wait_up()", step::ENGINE),
        ("SUDOERS_FILE=", step::USER),
        ("ENV=", step::LAYOUT),
        ("rules=$(cat)", step::FIREWALL),
        ("ROOT_LOGIN=", step::SSHD),
        ("nft delete table inet arcane 2>/dev/null", "firewall-undo"),
        ("reload_sshd\n", "sshd-undo"),
    ];
    marks
        .iter()
        .find(|(m, _)| script.contains(m))
        .map(|(_, s)| *s)
        .unwrap_or("?")
}

impl Transport for FakeTransport {
    fn name(&self) -> &str {
        &self.server
    }

    fn run(&self, cmd: &Cmd, _em: &Emitter) -> Result<Output, RemoteError> {
        let text = cmd.to_shell();
        let what = which(&text);
        self.world
            .log
            .lock()
            .unwrap()
            .push((self.server.clone(), self.user.clone(), text.clone()));
        let b = &self.world.servers[&self.server];
        let out = |status: i32, stdout: String, stderr: &str| Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: stderr.as_bytes().to_vec(),
        };
        Ok(match what {
            "probe" => {
                let who = if self.user == "root" {
                    "uid\t0\nuser\troot\n".to_string()
                } else {
                    format!("uid\t1000\nuser\t{}\nsudo\tyes\n", self.user)
                };
                out(
                    0,
                    format!("{who}deploy_user\tyes\n-- os-release\n{}\n", b.os),
                    "",
                )
            }
            "login" => out(
                0,
                "user\tarcane\ngroups\tarcane docker\ndocker\t26.1.5\nsudo\tyes\n".into(),
                "",
            ),
            s if b.fails == Some(s) => {
                out(1, String::new(), "E: Unable to locate package docker.io")
            }
            s if b.unchanged.contains(&s) => {
                out(0, format!("arcane:unchanged\t{s} as wanted\n"), "")
            }
            s => out(0, format!("noise\narcane:changed\t{s} done\n"), ""),
        })
    }

    fn stream(
        &self,
        _: &Cmd,
        _: &Emitter,
        _: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError> {
        unreachable!("bootstrap streams nothing")
    }

    fn upload(&self, _: &str, _: &[u8], _: u32, _: &Emitter) -> Result<(), RemoteError> {
        unreachable!("bootstrap uploads nothing")
    }

    fn forward_local(&self, _: &str, _: u16) -> Result<Box<dyn Forward>, RemoteError> {
        unreachable!()
    }

    fn forward_remote(&self, _: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
        unreachable!()
    }
}

const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"";

struct Fixture {
    _dir: tempfile::TempDir,
    project: Project,
    world: Arc<World>,
    events: Arc<Recorder>,
}

fn fixture(extra: &str, servers: &[(&str, Behaviour)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(
        root.join("arcane.toml"),
        format!("[app]\nname = \"hello\"\n[envs.staging]\n[envs.production]\n[bootstrap]\nauthorized_keys = [\"{KEY}\"]\n{extra}"),
    )
    .unwrap();
    let mut reg = String::from("# the servers\n");
    for (name, _) in servers {
        let env = if name.starts_with("prod") {
            "production"
        } else {
            "staging"
        };
        reg.push_str(&format!(
            "[servers.{name}]\nhost = \"{name}.example\"\nuser = \"root\"\nenv = \"{env}\"\n\n"
        ));
    }
    std::fs::write(root.join(SERVERS_FILE), reg).unwrap();
    let project = Project::load(root).unwrap();
    let world = Arc::new(World {
        servers: servers
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect(),
        ..Default::default()
    });
    Fixture {
        _dir: dir,
        project,
        world,
        events: Arc::new(Recorder::default()),
    }
}

impl Fixture {
    fn run(&self, servers: &[&str], dry_run: bool) -> Result<BootstrapReport, Error> {
        let sink: Arc<dyn Sink> = self.events.clone();
        let ctx = Ctx::new(&self.project, &AssumeYes, Emitter::new(sink))
            .with_connector(Arc::new(FakeConnector(self.world.clone())));
        bootstrap(
            &ctx,
            &BootstrapRequest {
                selection: Selection {
                    servers: servers.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
                dry_run,
            },
        )
    }

    /// What ran on `server`: (user, step) in order.
    fn ran(&self, server: &str) -> Vec<(String, &'static str)> {
        self.world
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _, _)| s == server)
            .map(|(_, u, t)| (u.clone(), which(t)))
            .collect()
    }

    fn registry(&self) -> String {
        std::fs::read_to_string(self.project.root.join(SERVERS_FILE)).unwrap()
    }
}

fn ok() -> Behaviour {
    Behaviour {
        os: DEBIAN,
        ..Default::default()
    }
}

#[test]
fn a_bare_server_goes_through_every_step_and_the_registry_names_the_deploy_user() {
    let f = fixture("firewall = true\n", &[("srv1", ok())]);
    let rep = f.run(&["srv1"], false).unwrap();
    let s = &rep.servers[0];
    assert!(s.ok, "{s:?}");
    let steps: Vec<&str> = s.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "connect", "os", "packages", "engine", "user", "layout", "login", "firewall", "sshd",
            "registry"
        ]
    );
    let ran: Vec<&str> = f.ran("srv1").iter().map(|(_, w)| *w).collect();
    // Logins as the deploy user: the proof, then once after each change.
    assert_eq!(
        ran,
        [
            "probe", "packages", "engine", "user", "layout", "login", "firewall", "login", "sshd",
            "login"
        ]
    );
    // Step scripts run as root through sh, keys go on stdin (never argv).
    let log = f.world.log.lock().unwrap();
    assert!(log
        .iter()
        .filter(|(_, _, t)| which(t) == "packages")
        .all(|(_, _, t)| t.starts_with("sh -c ")));
    assert!(!log
        .iter()
        .any(|(_, _, t)| t.contains("AAAAC3NzaC1lZDI1NTE5")));
    drop(log);
    assert!(f
        .registry()
        .contains("[servers.srv1]\nhost = \"srv1.example\"\nuser = \"arcane\"\n"));
    assert!(f.registry().starts_with("# the servers\n"));
    let changed = f.events.events().iter().any(|e| {
        matches!(e, Event::StepFinished { step, changed: Some(true), .. } if step == "packages")
    });
    assert!(changed, "steps say changed/unchanged");
}

#[test]
fn sshd_hardening_never_runs_when_the_deploy_users_key_login_fails() {
    let f = fixture(
        "firewall = true\n",
        &[(
            "srv1",
            Behaviour {
                deploy_logins_ok: Some(0),
                ..ok()
            },
        )],
    );
    let err = f.run(&["srv1"], false).unwrap_err();
    assert!(err.is_reported());
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Failed);
    let ran: Vec<&str> = f.ran("srv1").iter().map(|(_, w)| *w).collect();
    assert!(
        !ran.contains(&"sshd") && !ran.contains(&"firewall"),
        "{ran:?}"
    );
    let rep = f.events.events().into_iter().find_map(|e| match e {
        Event::Bootstrapped(r) => Some(r),
        _ => None,
    });
    let s = &rep.unwrap().servers[0];
    assert_eq!(s.failed_step.as_deref(), Some("login"));
    assert!(s
        .error
        .as_deref()
        .unwrap()
        .contains("sshd and the firewall were left alone"));
    // The registry still says root: arcane cannot log in as the deploy user.
    assert!(f.registry().contains("user = \"root\""));
}

#[test]
fn a_login_that_fails_after_the_sshd_change_takes_it_back() {
    // The proof works; the login after the drop-in does not (3 tries).
    let f = fixture(
        "",
        &[(
            "srv1",
            Behaviour {
                deploy_logins_ok: Some(1),
                ..ok()
            },
        )],
    );
    f.run(&["srv1"], false).unwrap_err();
    let ran: Vec<&str> = f.ran("srv1").iter().map(|(_, w)| *w).collect();
    assert_eq!(ran.last(), Some(&"sshd-undo"), "{ran:?}");
    assert_eq!(ran.iter().filter(|w| **w == "sshd").count(), 1);
}

#[test]
fn unsupported_os_is_input_and_nothing_is_installed() {
    let f = fixture(
        "",
        &[(
            "srv1",
            Behaviour {
                os: "PRETTY_NAME=\"CentOS Stream 9\"\nID=centos\nVERSION_ID=\"9\"",
                ..ok()
            },
        )],
    );
    let err = f.run(&["srv1"], false).unwrap_err();
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Input);
    assert!(err.to_string().contains("srv1 (os)"), "{err}");
    assert_eq!(f.ran("srv1").len(), 1, "only the probe ran");
    let failed = f.events.events().into_iter().any(|e| {
        matches!(e, Event::StepFinished { step, ok: false, detail: Some(d), .. }
            if step == "os" && d.contains("unsupported OS: CentOS Stream 9; bootstrap supports Debian 11, 12, 13; Ubuntu 22.04, 24.04"))
    });
    assert!(failed);
}

#[test]
fn one_failing_server_never_stops_the_others_and_the_exit_is_1() {
    let bad_os = Behaviour {
        os: "ID=alpine\nVERSION_ID=3.20",
        ..ok()
    };
    let broken = Behaviour {
        fails: Some(step::PACKAGES),
        ..ok()
    };
    let f = fixture("", &[("srv1", ok()), ("srv2", broken), ("srv3", bad_os)]);
    let err = f.run(&["srv1", "srv2", "srv3"], false).unwrap_err();
    // A failure and an unsupported OS: the failure decides the exit code.
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Failed);
    assert_eq!(
        err.to_string(),
        "1 of 3 server(s) bootstrapped; failed: srv2 (packages), srv3 (os)"
    );
    let rep = f
        .events
        .events()
        .into_iter()
        .find_map(|e| match e {
            Event::Bootstrapped(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let names: Vec<&str> = rep.servers.iter().map(|s| s.server.as_str()).collect();
    assert_eq!(names, ["srv1", "srv2", "srv3"]);
    assert!(rep.servers[0].ok);
    assert!(rep.servers[1]
        .error
        .as_deref()
        .unwrap()
        .contains("Unable to locate package"));
    // Only the bootstrapped server's registry entry changed.
    let reg = f.registry();
    assert!(reg.contains("[servers.srv1]\nhost = \"srv1.example\"\nuser = \"arcane\""));
    assert!(reg.contains("[servers.srv2]\nhost = \"srv2.example\"\nuser = \"root\""));
}

#[test]
fn a_second_run_as_the_deploy_user_changes_nothing_and_says_so() {
    // Root is refused now; arcane falls back to the deploy user and sudo.
    let b = Behaviour {
        root_refused: true,
        unchanged: vec![
            step::PACKAGES,
            step::ENGINE,
            step::USER,
            step::LAYOUT,
            step::SSHD,
        ],
        ..ok()
    };
    let f = fixture("", &[("srv1", b)]);
    let rep = f.run(&["srv1"], false).unwrap();
    let s = &rep.servers[0];
    assert_eq!(s.connected_as.as_deref(), Some("arcane"));
    assert!(
        !s.changed_steps().iter().any(|st| *st != "registry"),
        "{s:?}"
    );
    let log = f.world.log.lock().unwrap();
    assert!(log
        .iter()
        .filter(|(_, _, t)| which(t) == step::USER)
        .all(|(_, u, t)| u == "arcane" && t.starts_with("sudo -n sh -c ")));
}

#[test]
fn dry_run_only_looks_and_writes_nothing() {
    let f = fixture("", &[("srv1", ok())]);
    let rep = f.run(&["srv1"], true).unwrap();
    assert!(rep.dry_run && rep.servers[0].changed());
    let log = f.world.log.lock().unwrap();
    assert!(log
        .iter()
        .filter(|(_, _, t)| !matches!(which(t), "probe" | "login"))
        .all(|(_, _, t)| t.contains("DRY=1")));
    assert!(
        f.registry().contains("user = \"root\""),
        "no write in a dry run"
    );
}

#[test]
fn production_servers_need_the_protected_confirmation() {
    let f = fixture("", &[("prod1", ok())]);
    let sink: Arc<dyn Sink> = f.events.clone();
    let ctx = Ctx::new(&f.project, &crate::interact::Refuse, Emitter::new(sink))
        .with_connector(Arc::new(FakeConnector(f.world.clone())));
    let req = BootstrapRequest {
        selection: Selection {
            servers: vec!["prod1".into()],
            ..Default::default()
        },
        dry_run: false,
    };
    let err = bootstrap(&ctx, &req).unwrap_err();
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Input);
    assert!(
        err.to_string().contains("production is a protected env"),
        "{err}"
    );
    assert!(f.ran("prod1").is_empty(), "nothing ran before the answer");
}

#[test]
fn cloud_init_is_for_one_env_and_needs_no_server_or_connection() {
    let f = fixture("firewall = true\n", &[("srv1", ok()), ("prod1", ok())]);
    let sink: Arc<dyn Sink> = f.events.clone();
    let ctx = Ctx::new(&f.project, &AssumeYes, Emitter::new(sink))
        .with_connector(Arc::new(FakeConnector(f.world.clone())));
    let sel = |env: Option<&str>, servers: &[&str]| Selection {
        env: env.map(String::from),
        servers: servers.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let rep = cloud_init(&ctx, &sel(Some("production"), &[])).unwrap();
    assert_eq!((rep.env.as_str(), rep.servers.len()), ("production", 0));
    assert!(rep
        .user_data
        .starts_with("#cloud-config\n# arcane server cloud-init: hello (production)."));
    assert!(rep.user_data.contains("APP=hello\n") && rep.user_data.contains("ENV=production\n"));
    let rep = cloud_init(&ctx, &sel(None, &["srv1"])).unwrap();
    assert_eq!(rep.servers, ["srv1"]);
    assert_eq!(rep.env, "staging");
    let err = cloud_init(&ctx, &sel(None, &["srv1", "prod1"])).unwrap_err();
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Input);
    assert!(
        err.to_string()
            .contains("several envs (production, staging)"),
        "{err}"
    );
    let err = cloud_init(&ctx, &sel(Some("qa"), &[])).unwrap_err();
    assert_eq!(crate::error::HasKind::kind(&err), ErrorKind::Input);
    assert!(f.world.log.lock().unwrap().is_empty(), "nothing connects");
}
