//! Going back: activating a release already on the server (`arcane
//! rollback`), reversing a failed activation, and rolling back a server that
//! succeeded when a later one failed (rollback-all).

use super::session::CHECK_SUFFIX;
use super::{
    activate, release_running, run, short, step, Artifact, Done, Failure, Session, Shared, Stage,
    Target, Undo,
};
use crate::cancel::Cancel;
use crate::deploy::deps;
use crate::deploy::release::{self, Release, Runtime, Status};
use crate::deploy::DeployError;
use crate::docker::{argv, compose};
use crate::event::Emitter;
use crate::remote::{shell_quote, Cmd};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(super) fn rollback_to(
    sh: &Shared,
    sess: &Session,
    to: Option<&str>,
    em: &Emitter,
) -> Result<Done, Failure> {
    let live = sess.live_release().cloned();
    let mut rels = sess.facts.releases.clone();
    release::sort_newest_first(&mut rels);
    let target = match to {
        Some(v) => rels
            .iter()
            .find(|r| r.release == v)
            .or_else(|| {
                rels.iter()
                    .find(|r| r.version == v && r.status != Status::Failed)
            })
            .cloned()
            .ok_or_else(|| {
                DeployError::input(format!(
                    "{}: no release {v:?}; `arcane releases` lists them",
                    sess.server.name
                ))
            })?,
        None => {
            let live_created = live.as_ref().map(|l| l.created_unix).unwrap_or(i64::MAX);
            rels.iter()
                .find(|r| {
                    Some(&r.release) != live.as_ref().map(|l| &l.release)
                        && r.status != Status::Failed
                        && r.created_unix <= live_created
                })
                .cloned()
                .ok_or_else(|| {
                    DeployError::input(format!(
                        "{}: no earlier release to roll back to",
                        sess.server.name
                    ))
                })?
        }
    };
    if target.status == Status::Failed {
        // Named explicitly (the default target skips failed releases): the
        // user may know why, but must not miss that it failed before.
        em.warn(format!(
            "release {} FAILED its deploy on {}; rolling back to it anyway",
            target.release, target.created_at
        ));
    }
    let noop = live.as_ref().is_some_and(|l| l.release == target.release)
        && release_running(sess, &target);
    step(em, "ship", || {
        // Rollback ships nothing: the release's images must still be there.
        for (svc, img) in &target.images {
            let out = sess
                .t
                .run(&Cmd::argv(argv::image_id(std::slice::from_ref(img))), em)
                .map_err(DeployError::remote)?;
            if !out.success() {
                return Err(DeployError::failed(format!(
                    "image {img} of service {svc} is no longer on the server; deploy that commit again instead"
                )));
            }
        }
        Ok(((), "release images present".to_string()))
    })?;
    step(em, "release-dir", || {
        Ok(((), sess.layout.release_dir(&target.release)))
    })?;
    activate(sh, sess, target, live, noop, false, em)
}

/// Reverse an activation that got to `stage`.
pub(super) fn undo(
    sh: &Shared,
    sess: &Session,
    rel: &Release,
    prev: Option<&Release>,
    old: &[String],
    stage: Stage,
    em: &Emitter,
) -> Result<(), DeployError> {
    // Undo must run even when the deploy was cancelled or timed out.
    let t = &*sess.t;
    let run = |cmd: Cmd| -> Result<String, DeployError> {
        let cmd = cmd.with_timeout(Duration::from_secs(120));
        let out = t.run(&cmd, em).map_err(DeployError::remote)?;
        if !out.success() {
            return Err(DeployError::failed(format!(
                "`{}`: {}",
                short(&cmd.to_shell()),
                out.stderr_str().trim()
            )));
        }
        Ok(out.stdout_str())
    };
    match &rel.runtime {
        Runtime::Image { spec, .. } => {
            let check = format!("{}{CHECK_SUFFIX}", spec.name);
            run(Cmd::shell(argv::sh_quiet(&argv::rm_force(&[
                check,
                spec.name.clone(),
            ]))))?;
            if stage == Stage::Replaced && !old.is_empty() {
                run(Cmd::argv(argv::start(old)))?;
                if sh.project.config.proxy.is_some() {
                    if let Some(Runtime::Image { spec: ps, port }) = prev.map(|p| &p.runtime) {
                        deps::proxy_switch(
                            sh.project,
                            t,
                            em,
                            &sh.app,
                            &sh.env,
                            &[format!("{}:{port}", ps.name)],
                        )?;
                    }
                }
            }
        }
        Runtime::Compose { cli, project, .. } => match prev.map(|p| &p.runtime) {
            Some(Runtime::Compose {
                cli: pcli, files, ..
            }) => {
                run(Cmd::argv(compose::up(*pcli, project, files)))?;
            }
            _ => {
                run(Cmd::argv(compose::stop(*cli, project)))?;
            }
        },
    }
    Ok(())
}

/// Roll a server that succeeded back to its previous release (rollback-all).
pub(crate) fn undo_success(
    sh: &Shared,
    u: &Undo,
    em: &Emitter,
) -> Result<Option<String>, DeployError> {
    let rb = Shared {
        project: sh.project,
        access: sh.access.clone(),
        app: sh.app.clone(),
        env: sh.env.clone(),
        art: Artifact::none(),
        deadline: Instant::now() + Duration::from_secs(sh.project.config.deploy.timeout),
        cancel: Cancel::default(),
        lock_wait: Duration::from_secs(30),
        registry: None,
        exported: Default::default(),
    };
    match &u.previous {
        Some(p) => {
            let (o, _) = run(
                &rb,
                &u.server,
                &BTreeMap::new(),
                &Target::Existing(Some(p.clone())),
                em,
            );
            if o.ok {
                Ok(Some(p.clone()))
            } else {
                Err(DeployError::failed(o.detail))
            }
        }
        None => {
            // First deploy: nothing to go back to; stop the new release.
            let sess = Session::open(sh.project, &sh.access, &u.server, &sh.env, true, em)?;
            let names: Vec<String> = sess
                .facts
                .containers
                .iter()
                .filter(|c| c.release == u.new_release && c.state == "running")
                .map(|c| c.name.clone())
                .collect();
            if !names.is_empty() {
                sess.run_ok(argv::stop(&names, 10), &rb, em)?;
            }
            sess.run_cmd(
                Cmd::shell(format!("rm -f {}", shell_quote(&sess.layout.current()))),
                &rb,
                em,
            )?;
            Ok(None)
        }
    }
}
