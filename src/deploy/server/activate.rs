//! Activation: bring a release up (start), health-check it, cut traffic over
//! to it, run post-deploy hooks and record it as live; on failure undo what
//! the recorded [`Stage`] says was done.

use super::{
    compose_runtime, image_runtime, prune, release_running, run_hooks, save_release, step, undo,
    Done, Failure, Session, Shared,
};
use crate::deploy::deps;
use crate::deploy::health::{self, Probe};
use crate::deploy::layout;
use crate::deploy::release::{Release, Runtime, Status};
use crate::deploy::DeployError;
use crate::docker::argv;
use crate::event::Emitter;
use crate::remote::Cmd;

/// How far an activation got, i.e. what an undo must reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stage {
    /// Nothing started yet.
    None,
    /// New containers run beside the old ones, which still serve.
    Started,
    /// The old containers were stopped (cutover or recreate), or compose converged.
    Replaced,
}

/// Bring `rel` up, health-check it, cut over, record it; undo on failure.
pub(super) fn activate(
    sh: &Shared,
    sess: &Session,
    rel: Release,
    live: Option<Release>,
    noop: bool,
    hooks: bool,
    em: &Emitter,
) -> Result<Done, Failure> {
    let mut stage = Stage::None;
    let old = sess.serving_except(&rel.release);
    let a = Activation {
        sh,
        sess,
        rel: &rel,
        old: &old,
        noop,
        em,
    };
    let res = activate_steps(&a, hooks, &mut stage);
    match res {
        Ok(()) => {
            if !noop {
                let _ = step(em, "prune", || prune(sh, sess, &rel, em).map(|d| ((), d)));
            }
            Ok(Done {
                release: rel.release.clone(),
                previous: live.map(|l| l.release),
                changed: !noop,
            })
        }
        Err(error) => {
            let prev = live.as_ref().map(|l| l.release.clone());
            if stage == Stage::None {
                if !noop {
                    mark_failed(sess, &rel, em);
                }
                return Err(Failure {
                    error: Box::new(error),
                    rolled_back: false,
                    live: prev,
                });
            }
            let r = step(em, "rollback", || {
                undo(sh, sess, &rel, live.as_ref(), &old, stage, em)?;
                Ok((
                    (),
                    format!(
                        "back on {}",
                        prev.as_deref().unwrap_or("nothing (first deploy)")
                    ),
                ))
            });
            if !noop {
                mark_failed(sess, &rel, em);
            }
            Err(Failure {
                error: Box::new(match r {
                    Ok(()) => error,
                    Err(e) => {
                        // Before the failure's log lines, which a one-line
                        // summary leaves out.
                        let msg = error.to_string();
                        let head = health::without_logs(&msg);
                        let logs = &msg[head.len()..];
                        DeployError::failed(format!("{head}; ROLLBACK ALSO FAILED: {e}{logs}"))
                    }
                }),
                rolled_back: true,
                live: prev,
            })
        }
    }
}

fn mark_failed(sess: &Session, rel: &Release, em: &Emitter) {
    let mut r = rel.clone();
    r.status = Status::Failed;
    let _ = save_release(sess, &r, em);
}

/// One activation's inputs, shared by the steps of every runtime.
pub(super) struct Activation<'a> {
    pub sh: &'a Shared<'a>,
    pub sess: &'a Session,
    pub rel: &'a Release,
    /// App containers of other releases that serve now.
    pub old: &'a [String],
    /// The release is already live and running: nothing changes.
    pub noop: bool,
    pub em: &'a Emitter,
}

impl Activation<'_> {
    /// Behind `[proxy]`: the cutover switches the proxy's route.
    pub fn proxy(&self) -> bool {
        self.sh.project.config.proxy.is_some()
    }

    /// `[deploy] strategy = "recreate"`: the old containers stop first.
    pub fn recreate(&self) -> bool {
        self.sh.project.config.deploy.strategy == crate::config::Strategy::Recreate
    }

    /// Run a command with the deploy's time left; non-zero exit is an error.
    pub fn run(&self, cmd: Cmd) -> Result<String, DeployError> {
        self.sess.run_cmd(cmd, self.sh, self.em)
    }
}

/// The steps of an activation: pre-deploy hooks, the runtime's start,
/// health and cutover, post-deploy hooks, record. `stage` says how far the
/// runtime got, for the undo.
fn activate_steps(a: &Activation, hooks: bool, stage: &mut Stage) -> Result<(), DeployError> {
    let (sh, sess, rel, em) = (a.sh, a.sess, a.rel, a.em);
    let cfg = &sh.project.config;
    let env_file = sess.layout.env_file(&rel.release);
    if hooks && !a.noop {
        step(em, "pre-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.pre_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }
    match &rel.runtime {
        Runtime::Image { spec, port } => image_runtime::activate(a, spec, *port, stage)?,
        Runtime::Compose { .. } => compose_runtime::activate(a, stage)?,
    }
    if hooks && !a.noop {
        step(em, "post-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.post_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }
    step(em, "record", || {
        if a.noop {
            return Ok(((), format!("{} stays live", rel.release)));
        }
        let mut r = rel.clone();
        r.status = Status::Live;
        save_release(sess, &r, em)?;
        sess.t
            .upload(
                &sess.layout.current(),
                format!("{}\n", r.release).as_bytes(),
                0o644,
                em,
            )
            .map_err(DeployError::remote)?;
        Ok(((), format!("{} is live", r.release)))
    })
}

/// Wait for `container` to pass the health check (see [`health::wait_healthy`]).
pub(super) fn wait(
    sh: &Shared,
    sess: &Session,
    container: &str,
    service: &str,
    port: u16,
    em: &Emitter,
) -> Result<String, DeployError> {
    let cancel = sh.cancel.clone();
    let cfg = &sh.project.config.health;
    health::wait_healthy(
        &*sess.t,
        &Probe {
            container,
            port,
            cfg,
            grace: cfg.grace_for(service),
            deadline: sh.deadline,
        },
        em,
        &move || cancel.is_cancelled(),
    )
}

pub(super) fn ensure_network(
    sh: &Shared,
    sess: &Session,
    name: &str,
    em: &Emitter,
) -> Result<(), DeployError> {
    if name == deps::PROXY_NETWORK {
        return deps::proxy_ensure(sh.project, &*sess.t, em);
    }
    sess.run_cmd(Cmd::shell(network_line(sh, name)), sh, em)?;
    Ok(())
}

/// Create the app's network `name` unless it exists.
pub(super) fn network_line(sh: &Shared, name: &str) -> String {
    argv::ensure_network_line(name, &layout::app_env(&sh.app, &sh.env))
}

/// The network certainly exists: the live release's container is running
/// on it (docker refuses to remove a network in use).
pub(super) fn network_known(sess: &Session, name: &str) -> bool {
    sess.live_release().is_some_and(|r| match &r.runtime {
        Runtime::Image { spec, .. } => {
            (spec.network == name || spec.also.iter().any(|n| n == name))
                && release_running(sess, r)
        }
        Runtime::Compose { .. } => false,
    })
}
