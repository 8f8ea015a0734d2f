//! `arcane server bootstrap`: from a bare server (SSH as root, or a sudo
//! user) to one arcane deploys to, step by step, each step converging and
//! saying whether it changed anything; and `arcane server cloud-init`, the
//! same end state as first-boot user-data.
//!
//! Safety order on each server: nothing touches sshd or the firewall until
//! a second SSH connection, as the deploy user with its new keys, has
//! logged in and reached Docker. After the firewall or the sshd drop-in
//! changes, a third connection must log in again, or the change is taken
//! back over the session that is still open.

mod runner;

use super::{deploy::confirm_protected, fan_out_all, Ctx, Error};
use crate::bootstrap::{cloud_init, registry, step, Spec};
use crate::config::bootstrap::{firewall_ports, resolve_keys};
use crate::config::{Selection, Server, SERVERS_FILE};
use crate::error::ErrorKind;
use crate::event::report::{BootstrapReport, BootstrapStep, CloudInitReport, ServerBootstrap};
use crate::event::Event;
use crate::remote::ssh;
use runner::Runner;

/// Servers bootstrapped at once. The work is on the servers (apt, dpkg);
/// this side only waits.
const PARALLEL: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct BootstrapRequest {
    pub selection: Selection,
    /// Look and say what would change; change nothing.
    pub dry_run: bool,
}

/// Bootstrap every selected server in parallel; one failing server never
/// stops the others. Fails (already reported) when any server failed:
/// exit 2 when every failure was the server's OS or the input, else 1.
pub fn bootstrap(ctx: &Ctx, req: &BootstrapRequest) -> Result<BootstrapReport, Error> {
    let servers = ctx.servers(&req.selection)?;
    // Every spec first: a missing key file is bad input, found before
    // anything connects.
    let specs = servers
        .iter()
        .map(|s| spec_for(ctx, s, &s.config.env))
        .collect::<Result<Vec<_>, _>>()?;
    if super::network::configured(ctx) {
        super::network::preflight(ctx, req.dry_run)?;
    }
    if !req.dry_run {
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        let mut envs: Vec<&str> = servers.iter().map(|s| s.config.env.as_str()).collect();
        envs.sort();
        envs.dedup();
        for env in envs {
            confirm_protected(ctx, env, &format!("Bootstrap {}", names.join(", ")))?;
        }
    }
    let jobs: Vec<(Server, Spec)> = servers.into_iter().zip(specs).collect();
    let only: Vec<Server> = jobs.iter().map(|(s, _)| s.clone()).collect();
    let mut results = fan_out_all(&only, PARALLEL, |s| {
        let spec = &jobs
            .iter()
            .find(|(j, _)| j.name == s.name)
            .expect("a job")
            .1;
        Runner::new(ctx, s, spec, req.dry_run).run()
    });
    update_registry(ctx, &jobs, &mut results, req.dry_run);
    let rep = BootstrapReport {
        dry_run: req.dry_run,
        servers: results,
    };
    ctx.em.emit(Event::Bootstrapped(rep.clone()));
    conclude(ctx, &rep)
}

fn conclude(ctx: &Ctx, rep: &BootstrapReport) -> Result<BootstrapReport, Error> {
    let n = rep.servers.len();
    let failed: Vec<&ServerBootstrap> = rep.servers.iter().filter(|s| !s.ok).collect();
    let changed = rep.servers.iter().filter(|s| s.ok && s.changed()).count();
    let ok = n - failed.len();
    if failed.is_empty() {
        let summary = match (rep.dry_run, changed) {
            (true, 0) => {
                format!("dry run: {n} server(s) already bootstrapped; nothing would change")
            }
            (true, c) => format!("dry run: {c} of {n} server(s) would change; nothing was changed"),
            (false, 0) => format!("{n} server(s) already bootstrapped: nothing changed"),
            (false, c) => format!(
                "{n} server(s) bootstrapped ({c} changed, {} already as wanted)",
                n - c
            ),
        };
        ctx.em.finished(true, summary);
        return Ok(rep.clone());
    }
    let kind = ErrorKind::combine(
        failed
            .iter()
            .map(|s| s.error_kind.unwrap_or(ErrorKind::Failed)),
    )
    .unwrap_or(ErrorKind::Failed);
    let names: Vec<String> = failed
        .iter()
        .map(|s| format!("{} ({})", s.server, s.failed_step.as_deref().unwrap_or("?")))
        .collect();
    let message = format!(
        "{ok} of {n} server(s) {}; failed: {}",
        if rep.dry_run {
            "checked"
        } else {
            "bootstrapped"
        },
        names.join(", ")
    );
    ctx.em.failed(kind, &message);
    Err(Error::Reported { kind, message })
}

/// What bootstrap wants on `server`, from `[bootstrap]` and the registry.
fn spec_for(ctx: &Ctx, server: &Server, env: &str) -> Result<Spec, Error> {
    let p = ctx.project;
    let cfg = &p.config.bootstrap;
    let identity = server.config.identity_path(&p.root);
    let keys = resolve_keys(&p.root, cfg, identity.as_deref())?;
    let ssh_port = if server.is_local() {
        22
    } else {
        ssh::resolve(server, ctx.connector.options()).port
    };
    Ok(Spec {
        user: cfg.user.clone(),
        keys: keys.lines,
        docker: cfg.docker,
        sudo: cfg.sudo,
        firewall: cfg.firewall.then(|| firewall_ports(&p.config, &[ssh_port])),
        harden_ssh: cfg.harden_ssh,
        app: p.app_name().to_string(),
        env: env.to_string(),
    })
}

/// Point each bootstrapped server's registry entry at the deploy user.
fn update_registry(ctx: &Ctx, jobs: &[(Server, Spec)], results: &mut [ServerBootstrap], dry: bool) {
    let targets: Vec<String> = results
        .iter()
        .filter(|r| r.ok)
        .filter_map(|r| jobs.iter().find(|(s, _)| s.name == r.server))
        .filter(|(s, spec)| s.config.user.as_deref() != Some(spec.user.as_str()))
        .map(|(s, _)| s.name.clone())
        .collect();
    if targets.is_empty() {
        return;
    }
    let user = &jobs[0].1.user;
    let path = ctx.project.root.join(SERVERS_FILE);
    let outcome = if dry {
        Ok(targets.clone())
    } else {
        std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|text| registry::set_user(&text, &targets, user))
            .and_then(|(text, changed)| {
                registry::write_atomic(&path, &text)
                    .map(|_| changed)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            })
    };
    for r in results.iter_mut().filter(|r| targets.contains(&r.server)) {
        let em = ctx.em.for_server(&r.server);
        em.step_started(step::REGISTRY);
        let (changed, detail) = match &outcome {
            Ok(_) if dry => (
                true,
                format!(
                    "would set user = \"{user}\" for {} in {SERVERS_FILE}",
                    r.server
                ),
            ),
            Ok(_) => (
                true,
                format!("{SERVERS_FILE}: [servers.{}] user = \"{user}\"", r.server),
            ),
            Err(e) => {
                // The server is bootstrapped; only the registry lags.
                em.warn(format!(
                    "{e}; set user = \"{user}\" for {} by hand",
                    r.server
                ));
                (false, format!("not updated: {e}"))
            }
        };
        if dry {
            em.step_finished(step::REGISTRY, true, Some(detail.clone()));
        } else {
            em.step_converged(step::REGISTRY, changed, detail.clone());
        }
        r.steps.push(BootstrapStep {
            step: step::REGISTRY.into(),
            changed,
            detail,
        });
    }
}

/// `#cloud-config` user-data giving a new server what bootstrap gives an
/// existing one. With `--server`/`--group`, for those servers (their env,
/// their ssh port); with `--env` alone (or nothing: staging), for a
/// server that does not exist yet.
pub fn cloud_init(ctx: &Ctx, sel: &Selection) -> Result<CloudInitReport, Error> {
    let (env, servers) = if sel.servers.is_empty() && sel.group.is_none() {
        let env = sel.env.clone().unwrap_or_else(|| "staging".into());
        ctx.check_env(&env)?;
        (env, vec![])
    } else {
        let servers = ctx.servers(sel)?;
        let mut envs: Vec<&str> = servers.iter().map(|s| s.config.env.as_str()).collect();
        envs.sort();
        envs.dedup();
        if envs.len() > 1 {
            return Err(Error::input(format!(
                "the selected servers are in several envs ({}); user-data is for one: add --env",
                envs.join(", ")
            )));
        }
        (envs[0].to_string(), servers)
    };
    let p = ctx.project;
    let cfg = &p.config.bootstrap;
    let identity = servers
        .first()
        .and_then(|s| s.config.identity_path(&p.root));
    let keys = resolve_keys(&p.root, cfg, identity.as_deref())?;
    let mut ssh_ports: Vec<u16> = servers
        .iter()
        .filter(|s| !s.is_local())
        .map(|s| ssh::resolve(s, ctx.connector.options()).port)
        .collect();
    ssh_ports.push(22);
    let spec = Spec {
        user: cfg.user.clone(),
        keys: keys.lines,
        docker: cfg.docker,
        sudo: cfg.sudo,
        firewall: cfg.firewall.then(|| firewall_ports(&p.config, &ssh_ports)),
        harden_ssh: cfg.harden_ssh,
        app: p.app_name().to_string(),
        env: env.clone(),
    };
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let about = format!(
        "arcane server cloud-init: {} ({env}){}.\nDocker, the deploy user {} and its keys{}{}; the same end state as\n`arcane server bootstrap`. Give it to the server as its user-data.",
        p.app_name(),
        if names.is_empty() {
            String::new()
        } else {
            format!(", for {}", names.join(", "))
        },
        spec.user,
        if spec.harden_ssh { ", sshd hardening" } else { "" },
        if spec.firewall.is_some() { ", the firewall" } else { "" },
    );
    let rep = CloudInitReport {
        app: p.app_name().to_string(),
        env: env.clone(),
        servers: names,
        deploy_user: spec.user.clone(),
        user_data: cloud_init::user_data(&spec, &about),
    };
    ctx.em.emit(Event::CloudInit(rep.clone()));
    ctx.em.finished(
        true,
        format!(
            "user-data for {} ({env}); give it to the new server at creation",
            p.app_name()
        ),
    );
    Ok(rep)
}

#[cfg(test)]
mod tests;
