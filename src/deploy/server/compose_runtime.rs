//! Activation of a compose release: `up -d --remove-orphans` converges the
//! project in place (only services whose config or image changed are
//! recreated), every service must then stay up through its grace period,
//! and behind `[proxy]` the route switches to the health service's
//! containers.

use super::activate::{ensure_network, wait, Activation, Stage};
use super::prepare::accessory_network;
use super::step;
use crate::deploy::health;
use crate::deploy::layout::COMPOSE_PROJECT;
use crate::deploy::release::Runtime;
use crate::deploy::{deps, DeployError};
use crate::docker::{argv, compose};
use crate::event::Stream;
use crate::remote::Cmd;
use std::time::{Duration, Instant};

/// The compose runtime's fields, as recorded in the release.
struct Spec<'a> {
    cli: compose::ComposeCli,
    project: &'a str,
    files: &'a [String],
    health_service: Option<&'a str>,
    port: u16,
    networks: &'a [String],
}

/// Start, health and cutover of the release's compose project.
pub(super) fn activate(a: &Activation, stage: &mut Stage) -> Result<(), DeployError> {
    let Runtime::Compose {
        cli,
        project,
        files,
        health_service,
        port,
        networks,
    } = &a.rel.runtime
    else {
        return Err(DeployError::failed("internal: not a compose release"));
    };
    let c = Spec {
        cli: *cli,
        project,
        files,
        health_service: health_service.as_deref(),
        port: *port,
        networks,
    };
    step(a.em, "start", || {
        if a.noop {
            return Ok(((), "services already running".into()));
        }
        start(a, &c, stage).map(|d| ((), d))
    })?;
    step(a.em, "health", || health(a, &c).map(|d| ((), d)))?;
    step(a.em, "cutover", || {
        if a.proxy() && !a.noop {
            return cutover_proxy(a, &c).map(|d| ((), d));
        }
        Ok(((), "compose converged in place".into()))
    })
}

fn start(a: &Activation, c: &Spec, stage: &mut Stage) -> Result<String, DeployError> {
    // The release's own networks; a release recorded before they were
    // recorded may still name `<app>-<env>` in its override.
    let mut nets = c.networks.to_vec();
    nets.extend(accessory_network(a.sh).filter(|n| !nets.contains(n)));
    for n in &nets {
        ensure_network(a.sh, a.sess, n, a.em)?;
    }
    *stage = Stage::Replaced;
    let out = a.run(Cmd::argv(compose::up(c.cli, c.project, c.files)))?;
    for l in out.lines() {
        a.em.log(Stream::Stdout, l);
    }
    Ok(format!("{} converged", c.project))
}

/// Every service must still be up once its grace period (`[health.services.NAME]
/// grace`) has passed, without having been restarted by its restart policy
/// in between; the health service must pass the HTTP probe.
fn health(a: &Activation, c: &Spec) -> Result<String, DeployError> {
    let (sh, sess, em) = (a.sh, a.sess, a.em);
    let cfg = &sh.project.config;
    let t0 = Instant::now();
    let rows = containers(a, c.project)?;
    let ids: Vec<String> = rows.iter().map(|(_, id)| id.clone()).collect();
    let longest = rows
        .iter()
        .map(|(svc, _)| cfg.health.grace_for(svc))
        .fold(0.0, f64::max);
    let before = if longest > 0.0 {
        health::inspect(&*sess.t, &ids, em)?
    } else {
        vec![]
    };
    let mut details = vec![];
    for (svc, id) in &rows {
        if Some(svc.as_str()) == c.health_service {
            details.push(format!("{svc}: {}", wait(sh, sess, id, svc, c.port, em)?));
        }
    }
    if longest > 0.0 {
        let until = t0 + Duration::from_secs_f64(longest);
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
        let reason = format!("container {} is {} {}", bad.name, bad.status, bad.health);
        return Err(health::with_logs(&*sess.t, &bad.name, reason, em));
    }
    for s in &st {
        let was = before.iter().find(|b| b.name == s.name).map(|b| b.restarts);
        if was.is_some_and(|r| s.restarts > r) {
            let reason = format!(
                "container {} restarted {} time(s) within its grace period (crashing?)",
                s.name,
                s.restarts - was.unwrap_or(0)
            );
            return Err(health::with_logs(&*sess.t, &s.name, reason, em));
        }
    }
    Ok(details.join("; "))
}

/// Route the proxy to the health service's containers.
fn cutover_proxy(a: &Activation, c: &Spec) -> Result<String, DeployError> {
    let sh = a.sh;
    let svc = c.health_service.unwrap_or_default();
    let names: Vec<String> = containers(a, c.project)?
        .into_iter()
        .filter(|(s, _)| s == svc)
        .map(|(_, name)| name)
        .collect();
    let st = health::inspect(&*a.sess.t, &names, a.em)?;
    let ups: Vec<String> = st
        .iter()
        .map(|s| format!("{}:{}", s.name, c.port))
        .collect();
    deps::proxy_switch(sh.project, &*a.sess.t, a.em, &sh.app, &sh.env, &ups)?;
    Ok(format!("proxy now routes to {}", ups.join(", ")))
}

/// (compose service, container name) of a compose project's containers.
fn containers(a: &Activation, project: &str) -> Result<Vec<(String, String)>, DeployError> {
    let out = a.run(Cmd::argv(argv::ps(&[(COMPOSE_PROJECT, project)], true)))?;
    Ok(argv::parse_ps(&out)
        .into_iter()
        .map(|c| (c.compose_service, c.name))
        .collect())
}
