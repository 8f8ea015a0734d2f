//! Activation: bring a release up (start), health-check it, cut traffic over
//! to it, run post-deploy hooks and record it as live; on failure undo what
//! the recorded [`Stage`] says was done.

use super::prepare::accessory_network;
use super::{
    prune, release_running, run_hooks, save_release, step, undo, Done, Failure, Session, Shared,
};
use crate::config::Strategy;
use crate::deploy::argv;
use crate::deploy::deps;
use crate::deploy::health::{self, Probe};
use crate::deploy::release::{Release, Runtime, Status};
use crate::deploy::DeployError;
use crate::event::{Emitter, Stream};
use crate::remote::Cmd;
use std::time::Instant;

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
    let res = activate_steps(sh, sess, &rel, &old, noop, hooks, &mut stage, em);
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
                    Err(e) => DeployError::failed(format!("{error}; ROLLBACK ALSO FAILED: {e}")),
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

#[allow(clippy::too_many_arguments)]
fn activate_steps(
    sh: &Shared,
    sess: &Session,
    rel: &Release,
    old: &[String],
    noop: bool,
    hooks: bool,
    stage: &mut Stage,
    em: &Emitter,
) -> Result<(), DeployError> {
    let cfg = &sh.project.config;
    let proxy = cfg.proxy.is_some();
    let recreate = cfg.deploy.strategy == Strategy::Recreate;
    let env_file = sess.layout.env_file(&rel.release);

    if hooks && !noop {
        step(em, "pre-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.pre_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }

    match &rel.runtime {
        Runtime::Image { spec, port } => {
            let check = format!("{}-check", spec.name);
            let probe_name = if !noop && !proxy && !recreate {
                check.clone()
            } else {
                spec.name.clone()
            };
            step(em, "start", || {
                if noop {
                    return Ok(((), format!("{} already running", spec.name)));
                }
                // One round trip: networks that may be missing, leftovers
                // that exist, then the container (unless `recreate` must
                // stop the old one in between).
                let mut prep = vec![];
                for n in std::iter::once(&spec.network).chain(&spec.also) {
                    if n == deps::PROXY_NETWORK {
                        ensure_network(sh, sess, n, em)?;
                    } else if !network_known(sess, n) {
                        prep.push(network_line(sh, n));
                    }
                }
                // Leftovers: this release's names, and candidates of deploys
                // that died (we hold the lock, so nobody else uses them).
                let gone: Vec<String> = sess
                    .facts
                    .containers
                    .iter()
                    .filter(|c| {
                        c.name == check || c.name == spec.name || c.name.ends_with("-check")
                    })
                    .map(|c| c.name.clone())
                    .collect();
                if !gone.is_empty() {
                    prep.push(format!(
                        "{{ {} >/dev/null 2>&1; true; }}",
                        argv::sh(&argv::rm_force(&gone))
                    ));
                }
                if recreate && !old.is_empty() {
                    if !prep.is_empty() {
                        sess.run_cmd(Cmd::shell(prep.join(" && ")), sh, em)?;
                        prep.clear();
                    }
                    *stage = Stage::Replaced;
                    sess.run_ok(argv::stop(old, 10), sh, em)?;
                }
                let (name, publish) = if probe_name == check {
                    (check.as_str(), None)
                } else {
                    (spec.name.as_str(), spec.publish.as_deref())
                };
                if *stage == Stage::None {
                    *stage = Stage::Started;
                }
                prep.push(argv::container_line("run", spec, name, publish));
                sess.run_cmd(Cmd::shell(prep.join(" && ")), sh, em)?;
                Ok(((), format!("started {name}")))
            })?;
            step(em, "health", || {
                let d = wait(sh, sess, &probe_name, &spec.labels.service, *port, em)?;
                Ok(((), d))
            })?;
            step(em, "cutover", || {
                if noop {
                    return Ok(((), "nothing to switch".into()));
                }
                if proxy {
                    deps::proxy_switch(
                        sh.project,
                        &*sess.t,
                        em,
                        &sh.app,
                        &sh.env,
                        &[format!("{}:{port}", spec.name)],
                    )?;
                    *stage = Stage::Replaced;
                    if !old.is_empty() && !recreate {
                        sess.run_ok(argv::stop(old, 10), sh, em)?;
                    }
                    return Ok(((), format!("proxy now routes to {}", spec.name)));
                }
                if recreate {
                    return Ok((
                        (),
                        "recreate: the old container was stopped before the start".into(),
                    ));
                }
                // No proxy: one published host port, which two containers
                // cannot share. The checked candidate proved the release
                // works; now create the real container (port published, not
                // yet bound), then stop the old and start the new in one
                // command: the gap is docker stop + docker start.
                // The candidate has done its job: it goes in the same round
                // trip that creates the real container, before the gap.
                sess.run_cmd(
                    Cmd::shell(format!(
                        "{} && {{ {} >/dev/null 2>&1; true; }}",
                        argv::container_line("create", spec, &spec.name, spec.publish.as_deref(),),
                        argv::sh(&argv::rm_force(std::slice::from_ref(&check)))
                    )),
                    sh,
                    em,
                )?;
                *stage = Stage::Replaced;
                let mut script = String::new();
                if !old.is_empty() {
                    script.push_str(&argv::sh(&argv::stop(old, 10)));
                    script.push_str(" >/dev/null && ");
                }
                script.push_str(&argv::sh(&argv::start(std::slice::from_ref(&spec.name))));
                script.push_str(" >/dev/null");
                let t0 = Instant::now();
                sess.run_cmd(Cmd::shell(script), sh, em)?;
                let gap = t0.elapsed();
                let d = wait(sh, sess, &spec.name, &spec.labels.service, *port, em)?;
                Ok((
                    (),
                    format!(
                        "{} took over port {} (stop+start {:.1}s); {d}",
                        spec.name,
                        spec.publish.as_deref().unwrap_or("-"),
                        gap.as_secs_f64()
                    ),
                ))
            })?;
        }
        Runtime::Compose {
            cli,
            project,
            files,
            health_service,
            port,
            networks,
        } => {
            step(em, "start", || {
                if noop {
                    return Ok(((), "services already running".into()));
                }
                // The release's own networks; a release recorded before they
                // were recorded may still name `<app>-<env>` in its override.
                let mut nets = networks.clone();
                nets.extend(accessory_network(sh).filter(|n| !nets.contains(n)));
                for n in &nets {
                    ensure_network(sh, sess, n, em)?;
                }
                *stage = Stage::Replaced;
                let out = sess.run_ok(argv::compose_up(*cli, project, files), sh, em)?;
                for l in out.lines() {
                    em.log(Stream::Stdout, l);
                }
                Ok(((), format!("{} converged", project)))
            })?;
            step(em, "health", || {
                let t0 = Instant::now();
                let rows = compose_containers(sh, sess, project, em)?;
                let ids: Vec<String> = rows.iter().map(|(_, id)| id.clone()).collect();
                // Every service must still be up once its grace period
                // (`[health.services.NAME] grace`) has passed, without having
                // been restarted by its restart policy in between.
                let hc = &cfg.health;
                let longest = rows
                    .iter()
                    .map(|(svc, _)| hc.grace_for(svc))
                    .fold(0.0, f64::max);
                let before = if longest > 0.0 {
                    health::inspect(&*sess.t, &ids, em)?
                } else {
                    vec![]
                };
                let mut details = vec![];
                for (svc, id) in &rows {
                    if Some(svc) == health_service.as_ref() {
                        details.push(format!("{svc}: {}", wait(sh, sess, id, svc, *port, em)?));
                    }
                }
                if longest > 0.0 {
                    let until = t0 + std::time::Duration::from_secs_f64(longest);
                    let cancel = sh.cancel.clone();
                    health::sleep_until(until.min(sh.deadline), &move || cancel.is_cancelled());
                    if sh.cancel.is_cancelled() {
                        return Err(DeployError::Cancelled);
                    }
                    if until > sh.deadline {
                        return Err(DeployError::failed(format!(
                            "deploy timed out ([deploy] timeout = {}s) during a {longest:.1}s grace period",
                            cfg.deploy.timeout
                        )));
                    }
                    details.push(format!("all services up after {longest:.1}s of grace"));
                }
                let st = health::inspect(&*sess.t, &ids, em)?;
                if let Some(bad) = st
                    .iter()
                    .find(|c| c.status != "running" || c.health == "unhealthy")
                {
                    return Err(DeployError::failed(format!(
                        "container {} is {} {}",
                        bad.name, bad.status, bad.health
                    )));
                }
                for c in &st {
                    let was = before.iter().find(|b| b.name == c.name).map(|b| b.restarts);
                    if was.is_some_and(|r| c.restarts > r) {
                        return Err(DeployError::failed(format!(
                            "container {} restarted {} time(s) within its grace period (crashing?)",
                            c.name,
                            c.restarts - was.unwrap_or(0)
                        )));
                    }
                }
                Ok(((), details.join("; ")))
            })?;
            step(em, "cutover", || {
                if proxy && !noop {
                    let svc = health_service.clone().unwrap_or_default();
                    let rows = compose_containers(sh, sess, project, em)?;
                    let names: Vec<String> = rows
                        .iter()
                        .filter(|(s, _)| *s == svc)
                        .map(|(_, id)| id.clone())
                        .collect();
                    let st = health::inspect(&*sess.t, &names, em)?;
                    let ups: Vec<String> =
                        st.iter().map(|c| format!("{}:{port}", c.name)).collect();
                    deps::proxy_switch(sh.project, &*sess.t, em, &sh.app, &sh.env, &ups)?;
                    return Ok(((), format!("proxy now routes to {}", ups.join(", "))));
                }
                Ok(((), "compose converged in place".into()))
            })?;
        }
    }

    if hooks && !noop {
        step(em, "post-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.post_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }
    step(em, "record", || {
        if noop {
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
    })?;
    Ok(())
}

fn wait(
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

/// (service, container id) of a compose project's containers.
fn compose_containers(
    sh: &Shared,
    sess: &Session,
    project: &str,
    em: &Emitter,
) -> Result<Vec<(String, String)>, DeployError> {
    let out = sess.run_ok(
        vec![
            "docker".into(),
            "ps".into(),
            "-a".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
            "--format".into(),
            "{{.Label \"com.docker.compose.service\"}}|{{.Names}}".into(),
        ],
        sh,
        em,
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect())
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
fn network_line(sh: &Shared, name: &str) -> String {
    format!(
        "{{ {} >/dev/null 2>&1 || {} >/dev/null; }}",
        argv::sh(&argv::network_inspect(name)),
        argv::sh(&argv::network_create(name, &sh.app, &sh.env))
    )
}

/// The network certainly exists: the live release's container is running
/// on it (docker refuses to remove a network in use).
fn network_known(sess: &Session, name: &str) -> bool {
    sess.live_release().is_some_and(|r| match &r.runtime {
        Runtime::Image { spec, .. } => {
            (spec.network == name || spec.also.iter().any(|n| n == name))
                && release_running(sess, r)
        }
        Runtime::Compose { .. } => false,
    })
}
