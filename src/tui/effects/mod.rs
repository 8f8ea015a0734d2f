//! The thin adapter between `update`'s [`Command`]s and the engines.
//!
//! Every command runs on its own blocking thread (engines are blocking: ssh2,
//! docker), emits its events through a `ChannelSink` into the UI loop and
//! answers with a [`Msg`]. This is the only module of the TUI that calls engine
//! code; it holds no deploy logic, only "call this, report that".

use super::dialog::TuiInteract;
use super::model::*;
use super::update::{Command, Msg, SecretString};
use crate::config::{Project, Selection};
use crate::event::Emitter;
use crate::ops::{self, Cancel};
use crate::remote::{ConnectOptions, Connector, SshConnector};
use crate::secrets::recipients::Kind;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

mod convert;
mod keys;
mod logs;
mod sinks;

use convert::*;
pub use keys::default_identity_path;
use keys::*;
use logs::Follower;
use sinks::*;

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
    logs: Arc<Mutex<Vec<Follower>>>,
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
            logs: Arc::default(),
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
        match cmd {
            Command::RefreshStatus { servers } => self.refresh_status(servers),
            Command::LoadEnv { env } => self.op("env", self.quiet(), Cancel::default(), move |ctx| {
                Msg::EnvLoaded {
                    result: ops::env::keys(ctx, &env)
                        .map(|rows| {
                            rows.into_iter()
                                .map(|r| EnvKey {
                                    key: r.key,
                                    layer: r.layer,
                                    overrides: r.overrides,
                                })
                                .collect()
                        })
                        .map_err(|e| e.to_string()),
                    env,
                }
            }),
            Command::RevealKey { env, key } => {
                self.op("reveal", self.quiet(), Cancel::default(), move |ctx| {
                    let result = usable_identity(ctx.identity.as_deref()).and_then(|_| {
                        ops::env::reveal(ctx, &env, &key)
                            .map(SecretString)
                            .map_err(|e| e.to_string())
                    });
                    Msg::Revealed { result, key }
                })
            }
            Command::SetKey { layer, key, value } => {
                self.op("env-set", self.quiet(), Cancel::default(), move |ctx| {
                    let what = format!("set {key} in {layer}.env");
                    let result = usable_identity(ctx.identity.as_deref()).and_then(|_| {
                        ops::env::set(&ctx.local(), &layer, &key, &value.0)
                            .map(|path| format!("{what}; re-encrypted {}", rel(&ctx.project.root, &path)))
                            .map_err(|e| e.to_string())
                    });
                    Msg::OpDone { what, result }
                })
            }
            Command::UnsetKey { layer, key } => {
                self.op("env-unset", self.quiet(), Cancel::default(), move |ctx| {
                    let what = format!("delete {key} from {layer}.env");
                    let result = usable_identity(ctx.identity.as_deref()).and_then(|_| {
                        match ops::env::unset(&ctx.local(), &layer, &key) {
                            Ok(true) => Ok(format!("deleted {key} from {layer}.env (re-encrypted)")),
                            Ok(false) => Err(format!("{key} is not set in {layer}.env")),
                            Err(e) => Err(e.to_string()),
                        }
                    });
                    Msg::OpDone { what, result }
                })
            }
            Command::LoadKeys => self.op("keys", self.quiet(), Cancel::default(), |ctx| {
                Msg::KeysLoaded(Ok(load_keys(ctx)))
            }),
            Command::TeamAdd {
                name,
                pubkey,
                scopes,
            } => self.op("team-add", self.quiet(), Cancel::default(), move |ctx| Msg::OpDone {
                what: format!("add teammate {name}"),
                result: add_member(ctx, &name, &pubkey, scopes, Kind::Person),
            }),
            Command::MachineAllow {
                name,
                pubkey,
                scopes,
            } => self.op("allow", self.quiet(), Cancel::default(), move |ctx| Msg::OpDone {
                what: format!("allow machine {name}"),
                result: add_member(ctx, &name, &pubkey, scopes, Kind::Machine),
            }),
            Command::Revoke { name, kind } => {
                self.op("revoke", self.quiet(), Cancel::default(), move |ctx| {
                    let kind = if kind == "machine" {
                        Kind::Machine
                    } else {
                        Kind::Person
                    };
                    let result = usable_identity(ctx.identity.as_deref()).and_then(|_| {
                        ops::team::remove(&ctx.local(), &name, kind)
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
                })
            }
            Command::GenKey => self.spawn("gen-key", || {
                let k = ops::team::gen_key();
                Msg::GeneratedKey(Ok((k.public_key, SecretString(k.secret_key))))
            }),
            Command::LoadReleases { env } => {
                self.op("releases", self.quiet(), Cancel::default(), move |ctx| {
                    Msg::ReleasesLoaded {
                        result: load_releases(ctx, &env),
                        env,
                    }
                })
            }
            Command::Rollback { env, server, to } => {
                let cancel = self.new_cancel();
                let em = ops::notify::with_channels(em, &p);
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
            Command::LoadGit => {
                let tx = self.tx.clone();
                self.op_then("git", em, Cancel::default(), move |ctx| {
                    let commits = crate::git::log(&ctx.project.root, 300)
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
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::GitLoaded(commits));
                    Some(Msg::ShadowLoaded(
                        ops::git::shadow_chain(ctx, 50)
                            .map(|c| (c, ops::git_watch::running(&ctx.project.root)))
                            .map_err(|e| e.to_string()),
                    ))
                })
            }
            Command::SquashPlan => self.op("squash-plan", em, Cancel::default(), |ctx| {
                Msg::SquashPlanned(
                    ops::git::squash_plan(ctx, &Default::default())
                        .map(Box::new)
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::Squash { plan } => self.op("squash", em, Cancel::default(), move |ctx| {
                Msg::OpDone {
                    what: format!("squash {}", plan.branch),
                    result: ops::git::squash_apply(ctx, &plan, false)
                        .map(|a| ops::git::applied_summary(&plan, &a))
                        .map_err(|e| e.to_string()),
                }
            }),
            Command::LoadLogChoices => {
                self.op("log-choices", self.quiet(), Cancel::default(), |ctx| {
                    let all = Selection {
                        servers: ctx.project.servers.servers.keys().cloned().collect(),
                        ..Default::default()
                    };
                    Msg::LogChoices(
                        ops::status::log_choices(ctx, &all).map_err(|e| e.to_string()),
                    )
                })
            }
            Command::FollowLogs {
                id,
                server,
                service,
            } => self.follow_logs(id, server, service),
            Command::StopLogs => self.stop_logs(),
            Command::Plan { target } => self.op("plan", em, Cancel::default(), move |ctx| {
                Msg::PlanReady(
                    ops::deploy::plan(ctx, &request(&target, true))
                        .map(|plan| plan.to_string())
                        .map_err(|e| e.to_string()),
                )
            }),
            Command::Deploy { target } => {
                let cancel = self.new_cancel();
                let em = ops::notify::with_channels(em, &p);
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
            Command::RefreshNetwork { servers } => {
                let em = Emitter::new(Arc::new(NetSink(self.tx.clone())));
                self.probe("network", em, servers, ops::network::probe_all);
            }
            Command::LoadSpark => self.spawn("spark", || {
                Msg::SparkLoaded(
                    ops::spark::status(&crate::event::Emitter::null(), None, 20)
                        .map_err(|e| e.to_string()),
                )
            }),
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

    /// The emitter for work whose events are not the Deploy tab's.
    fn quiet(&self) -> Emitter {
        Emitter::new(Arc::new(CommandLogSink(self.tx.clone())))
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
        self.probe("status", em, servers, |ctx, known| {
            ops::status::probe_all(ctx, known);
        });
    }

    /// Run a probe over the named servers of the registry; its results
    /// arrive through `em`'s sink as each server answers.
    fn probe(
        &self,
        name: &str,
        em: Emitter,
        servers: Vec<String>,
        probe_all: fn(&ops::Ctx, &[crate::config::Server]),
    ) {
        self.op_then(name, em, Cancel::default(), move |ctx| {
            let known: Vec<_> = ctx
                .project
                .all_servers()
                .into_iter()
                .filter(|s| servers.contains(&s.name))
                .collect();
            probe_all(ctx, &known);
            None
        });
    }
}
