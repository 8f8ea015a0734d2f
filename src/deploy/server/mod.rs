//! One server's deploy, as plain sequential steps: connect, lock, ship,
//! release-dir, pre-deploy, start, health, cutover, post-deploy, record,
//! prune, unlock. Any failure after the new version started undoes exactly
//! what was done (see [`Stage`]) and leaves the previous release serving.
//!
//! This file drives one server (connect, lock, dispatch, unlock); the steps
//! live beside it: [`session`] (connect, what is on the server),
//! [`artifact`] (what a new deploy ships), [`prepare`] (ship, release dir),
//! [`activate`] (start, health, cutover, record; the runtime's own steps in
//! [`image_runtime`] and [`compose_runtime`]), [`hooks`], [`prune`] and
//! [`rollback`] (an existing release, undo, rollback-all).

use super::lock::Lock;
use super::DeployError;
use crate::cancel::Cancel;
use crate::config::{Project, Server};
use crate::deploy::{deps, health};
use crate::error::HasKind;
use crate::event::report::ServerOutcome;
use crate::event::Emitter;
use crate::remote::Transport;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod activate;
mod artifact;
mod compose_runtime;
mod hooks;
mod image_runtime;
mod prepare;
mod prune;
mod rollback;
mod session;
#[cfg(test)]
mod tests;

use activate::{activate, Stage};
use artifact::ArtKind;
pub(crate) use artifact::{docker_err, Artifact};

use hooks::run_hooks;
use prepare::{deploy_new, save_release};
use prune::prune;
pub(crate) use rollback::undo_success;
use rollback::{rollback_to, undo};
use session::release_running;
pub(crate) use session::Session;

/// What every server's deploy shares.
pub(crate) struct Shared<'a> {
    pub project: &'a Project,
    pub access: deps::Access,
    pub app: String,
    pub env: String,
    pub art: Artifact,
    pub deadline: Instant,
    pub cancel: Cancel,
    pub lock_wait: Duration,
    /// `[registry]`: images were pushed there once, and each server pulls
    /// them instead of receiving them over SSH.
    pub registry: Option<Registry>,
    /// The artifact exported into the blob cache, once per deploy: by the
    /// first server that has to be sent it; the others wait and reuse it.
    pub exported: deps::Exported,
}

/// Where a deploy's images wait for the servers (see `Shared::registry`).
pub(crate) struct Registry {
    pub server: String,
    pub login: Option<crate::docker::push::RegistryLogin>,
}

/// Deploy the freshly built artifact, or activate a release already on the
/// server (rollback; `None` = the one before the live one).
pub(crate) enum Target {
    New,
    Existing(Option<String>),
}

/// What the group needs to undo a server that succeeded (rollback-all).
pub(crate) struct Undo {
    server: Server,
    previous: Option<String>,
    new_release: String,
}

fn short(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(117).collect::<String>())
    } else {
        s.to_string()
    }
}

fn remaining(sh: &Shared) -> Result<Duration, DeployError> {
    if sh.cancel.is_cancelled() {
        return Err(DeployError::Cancelled);
    }
    let now = Instant::now();
    if now >= sh.deadline {
        return Err(DeployError::failed(format!(
            "deploy timed out ([deploy] timeout = {}s)",
            sh.project.config.deploy.timeout
        )));
    }
    Ok(sh.deadline - now)
}

/// Run `f` as a named step with start/finish events.
fn step<T>(
    em: &Emitter,
    name: &str,
    f: impl FnOnce() -> Result<(T, String), DeployError>,
) -> Result<T, DeployError> {
    em.step_started(name);
    match f() {
        Ok((v, detail)) => {
            em.step_finished(name, true, (!detail.is_empty()).then_some(detail));
            Ok(v)
        }
        Err(e) => {
            em.step_finished(name, false, Some(e.to_string()));
            Err(e)
        }
    }
}

/// Deploy to (or roll back) one server. Never panics on a server problem:
/// the outcome says what happened.
pub(crate) fn run(
    sh: &Shared,
    server: &Server,
    vars: &BTreeMap<String, String>,
    target: &Target,
    em: &Emitter,
) -> (ServerOutcome, Option<Undo>) {
    let connect = |s: &Server, em: &Emitter| deps::connect(s, &sh.access, em);
    run_with(sh, server, vars, target, em, &connect)
}

/// Opens the transport to a server.
pub(crate) type Connect<'a> =
    dyn Fn(&Server, &Emitter) -> Result<Arc<dyn Transport>, DeployError> + 'a;

/// [`run`] over the transports `connect` opens (tests script them).
pub(crate) fn run_with(
    sh: &Shared,
    server: &Server,
    vars: &BTreeMap<String, String>,
    target: &Target,
    em: &Emitter,
    connect: &Connect,
) -> (ServerOutcome, Option<Undo>) {
    let mut out = ServerOutcome {
        server: server.name.clone(),
        ok: false,
        version: None,
        detail: String::new(),
        rolled_back: false,
        changed: false,
        error_kind: Some(crate::error::ErrorKind::Failed),
    };
    let want_compose = match target {
        Target::New => sh.art.is_compose(),
        Target::Existing(_) => true,
    };
    // The server's state is read in the lock's round trip, under the lock:
    // one round trip fewer per server than reading it before and again after.
    let sess = step(em, "connect", || {
        let t = connect(server, em)?;
        let s = Session::with_transport(sh.project, server, &sh.env, want_compose, t);
        Ok((s, server.config.host.clone()))
    });
    let mut sess = match sess {
        Ok(s) => s,
        Err(e) => {
            out.detail = e.to_string();
            out.error_kind = Some(e.kind());
            return (out, None);
        }
    };
    let lock = step(em, "lock", || {
        let (l, facts) = Lock::acquire_then(
            sess.t.clone(),
            &sess.lock_dir(),
            &sh.art.version,
            sh.lock_wait,
            &sess.facts_script(),
            em,
        )?;
        if let Err(e) = sess.apply_facts(&facts, "") {
            let _ = l.release(em);
            return Err(e);
        }
        let d = match &sess.facts.current {
            Some(c) => format!("live release {c}"),
            None => "nothing deployed yet".to_string(),
        };
        Ok((l, d))
    });
    let lock = match lock {
        Ok(l) => l,
        Err(e) => {
            // Say what is live even though this deploy could not lock.
            if sess.refresh(em).is_ok() {
                out.version = sess.facts.current.clone();
            }
            out.detail = e.to_string();
            out.error_kind = Some(e.kind());
            return (out, None);
        }
    };
    out.version = sess.facts.current.clone();
    let res = match target {
        Target::New => deploy_new(sh, &sess, vars, em),
        Target::Existing(to) => rollback_to(sh, &sess, to.as_deref(), em),
    };
    let unlock = step(em, "unlock", || {
        lock.release(em).map(|_| ((), String::new()))
    });
    match res {
        Ok(done) => {
            out.ok = unlock.is_ok();
            out.error_kind = (!out.ok).then_some(crate::error::ErrorKind::Failed);
            out.changed = done.changed;
            out.version = Some(done.release.clone());
            let rel = crate::event::report::short_sha(&done.release);
            out.detail = match (&unlock, done.changed) {
                (Err(e), _) => format!("{rel} is live, but unlocking failed: {e}"),
                (Ok(_), true) => format!("{rel} is live"),
                (Ok(_), false) => format!("{rel} already live, unchanged"),
            };
            let undo = done.changed.then(|| Undo {
                server: server.clone(),
                previous: done.previous,
                new_release: done.release,
            });
            (out, undo)
        }
        Err(f) => {
            out.error_kind = Some(f.error.kind());
            out.rolled_back = f.rolled_back;
            // A failure before activation leaves the live release as it was.
            out.version = f.live.clone().or(out.version.take());
            // One line per server: a health failure's log lines were shown
            // with its step.
            let error = f.error.to_string();
            let error = health::without_logs(&error);
            out.detail = if f.rolled_back {
                format!(
                    "{error}; rolled back, {} is live",
                    f.live
                        .as_deref()
                        .map(crate::event::report::short_sha)
                        .as_deref()
                        .unwrap_or("nothing")
                )
            } else {
                error.to_string()
            };
            (out, None)
        }
    }
}

struct Done {
    release: String,
    previous: Option<String>,
    changed: bool,
}

struct Failure {
    /// Boxed: the error is large and Failure travels through every step.
    error: Box<DeployError>,
    rolled_back: bool,
    /// The release serving after the failure.
    live: Option<String>,
}

impl From<DeployError> for Failure {
    fn from(error: DeployError) -> Self {
        Failure {
            error: Box::new(error),
            rolled_back: false,
            live: None,
        }
    }
}
