//! Activation of a single-image release: start a container, health-check
//! it, cut over. Three cutovers, by config:
//!
//! - `[proxy]`: the new container runs beside the old one on the proxy's
//!   network; the proxy's route switches to it, then the old one stops.
//!   Zero downtime.
//! - no proxy (rolling): the published host port cannot be shared, so an
//!   unpublished candidate (`<name>-check`) proves the release healthy, then
//!   the real container is created and the old one stopped and the new one
//!   started in one command (the gap is `docker stop` + `docker start`).
//! - `strategy = "recreate"`: the old container stops before the new one
//!   starts (for apps that cannot run twice); it has downtime.

use super::activate::{ensure_network, network_known, wait, Activation, Stage};
use super::session::CHECK_SUFFIX;
use super::step;
use crate::deploy::deps;
use crate::deploy::DeployError;
use crate::docker::argv::{self, RunSpec, Verb};
use crate::remote::Cmd;
use std::time::Instant;

/// Start, health and cutover of `spec`, probed on container port `port`.
pub(super) fn activate(
    a: &Activation,
    spec: &RunSpec,
    port: u16,
    stage: &mut Stage,
) -> Result<(), DeployError> {
    let check = format!("{}{CHECK_SUFFIX}", spec.name);
    // Without a proxy, a rolling deploy probes an unpublished candidate.
    let probe = if !a.noop && !a.proxy() && !a.recreate() {
        check.clone()
    } else {
        spec.name.clone()
    };
    step(a.em, "start", || {
        if a.noop {
            return Ok(((), format!("{} already running", spec.name)));
        }
        start(a, spec, &check, probe == check, stage).map(|d| ((), d))
    })?;
    step(a.em, "health", || {
        let d = wait(a.sh, a.sess, &probe, &spec.labels.service, port, a.em)?;
        Ok(((), d))
    })?;
    step(a.em, "cutover", || {
        if a.noop {
            return Ok(((), "nothing to switch".into()));
        }
        let d = if a.proxy() {
            cutover_proxy(a, spec, port, stage)?
        } else if a.recreate() {
            "recreate: the old container was stopped before the start".into()
        } else {
            cutover_port(a, spec, &check, port, stage)?
        };
        Ok(((), d))
    })
}

/// One round trip: networks that may be missing, leftovers that exist,
/// then the container (unless `recreate` must stop the old one in between).
fn start(
    a: &Activation,
    spec: &RunSpec,
    check: &str,
    candidate: bool,
    stage: &mut Stage,
) -> Result<String, DeployError> {
    let mut prep = vec![];
    for n in std::iter::once(&spec.network).chain(&spec.also) {
        if n == deps::PROXY_NETWORK {
            ensure_network(a.sh, a.sess, n, a.em)?;
        } else if !network_known(a.sess, n) {
            prep.push(super::activate::network_line(a.sh, n));
        }
    }
    // Leftovers: this release's names, and candidates of deploys that died
    // (we hold the lock, so nobody else uses them).
    let gone: Vec<String> = a
        .sess
        .facts
        .containers
        .iter()
        .filter(|c| c.name == check || c.name == spec.name || c.name.ends_with(CHECK_SUFFIX))
        .map(|c| c.name.clone())
        .collect();
    if !gone.is_empty() {
        prep.push(argv::sh_quiet(&argv::rm_force(&gone)));
    }
    if a.recreate() && !a.old.is_empty() {
        if !prep.is_empty() {
            a.run(Cmd::shell(prep.join(" && ")))?;
            prep.clear();
        }
        *stage = Stage::Replaced;
        a.run(Cmd::argv(argv::stop(a.old, 10)))?;
    }
    let (name, publish) = if candidate {
        (check, None)
    } else {
        (spec.name.as_str(), spec.publish.as_deref())
    };
    if *stage == Stage::None {
        *stage = Stage::Started;
    }
    prep.push(argv::container_line(Verb::Run, spec, name, publish));
    a.run(Cmd::shell(prep.join(" && ")))?;
    Ok(format!("started {name}"))
}

/// Switch the proxy's route to the new container, then stop the old ones.
fn cutover_proxy(
    a: &Activation,
    spec: &RunSpec,
    port: u16,
    stage: &mut Stage,
) -> Result<String, DeployError> {
    let sh = a.sh;
    deps::proxy_switch(
        sh.project,
        &*a.sess.t,
        a.em,
        &sh.app,
        &sh.env,
        &[format!("{}:{port}", spec.name)],
    )?;
    *stage = Stage::Replaced;
    if !a.old.is_empty() && !a.recreate() {
        a.run(Cmd::argv(argv::stop(a.old, 10)))?;
    }
    Ok(format!("proxy now routes to {}", spec.name))
}

/// No proxy: one published host port, which two containers cannot share.
/// The checked candidate proved the release works; now create the real
/// container (port published, not yet bound), then stop the old and start
/// the new in one command: the gap is docker stop + docker start. The
/// candidate has done its job: it goes in the round trip that creates the
/// real container, before the gap.
fn cutover_port(
    a: &Activation,
    spec: &RunSpec,
    check: &str,
    port: u16,
    stage: &mut Stage,
) -> Result<String, DeployError> {
    a.run(Cmd::shell(format!(
        "{} && {}",
        argv::container_line(Verb::Create, spec, &spec.name, spec.publish.as_deref()),
        argv::sh_quiet(&argv::rm_force(&[check.to_string()]))
    )))?;
    *stage = Stage::Replaced;
    let mut script = String::new();
    if !a.old.is_empty() {
        script.push_str(&argv::sh(&argv::stop(a.old, 10)));
        script.push_str(" >/dev/null && ");
    }
    script.push_str(&argv::sh(&argv::start(std::slice::from_ref(&spec.name))));
    script.push_str(" >/dev/null");
    let t0 = Instant::now();
    a.run(Cmd::shell(script))?;
    let gap = t0.elapsed();
    let d = wait(a.sh, a.sess, &spec.name, &spec.labels.service, port, a.em)?;
    Ok(format!(
        "{} took over port {} (stop+start {:.1}s); {d}",
        spec.name,
        spec.publish.as_deref().unwrap_or("-"),
        gap.as_secs_f64()
    ))
}
