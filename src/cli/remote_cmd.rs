//! `server`, `status`, `ps`, `logs`, `exec`, `ssh`, `halt`.
//!
//! Thin: load the project, pick servers, call `remote::engine`, render the
//! result as a table (human) or one `Data` event per server (`--json`).

use super::args::*;
use super::render::table;
use super::Ctx;
use crate::config::{Project, Selection, Server};
use crate::docker::push::human_bytes;
use crate::error::{InputError, Interrupted};
use crate::remote::engine::{self, OpsError, TrustOutcome};
use crate::remote::{ssh, ConnectOptions};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Connect options for a project: relative paths in servers.toml are
/// relative to the project root; `ARCANE_CONNECT_TIMEOUT` (seconds)
/// overrides the 10 s connect timeout.
pub fn connect_options(project: &Project) -> ConnectOptions {
    ConnectOptions::for_project(&project.root)
}

/// Map engine errors: refusals and bad input exit 2, the rest 1.
fn ops_err(e: OpsError) -> anyhow::Error {
    match e {
        OpsError::Input(i) => i.into(),
        OpsError::Refused(m) => InputError::new(m).into(),
        other => other.into(),
    }
}

fn one_server(project: &Project, name: &str) -> Result<Server> {
    let sel = Selection {
        servers: vec![name.to_string()],
        ..Default::default()
    };
    Ok(project.select(&sel)?.remove(0))
}

pub fn server(ctx: &Ctx, c: ServerCmd) -> Result<i32> {
    match c {
        ServerCmd::List => list(ctx),
        ServerCmd::Check { name, target } => check(ctx, name, target),
        ServerCmd::Trust { name, yes } => trust(ctx, &name, yes),
    }
}

fn list(ctx: &Ctx) -> Result<i32> {
    let p = ctx.project()?;
    let em = &ctx.emitter;
    let mut rows = vec![];
    for (name, s) in &p.servers.servers {
        let groups: Vec<&str> = p
            .servers
            .groups
            .iter()
            .filter(|(_, g)| g.servers.contains(name))
            .map(|(g, _)| g.as_str())
            .collect();
        if ctx.json() {
            em.data(
                "server",
                serde_json::json!({
                    "name": name, "host": s.host, "user": s.user, "port": s.port,
                    "env": s.env, "roles": s.roles, "groups": groups,
                    "identity_file": s.identity_file, "known_hosts": s.known_hosts,
                }),
            );
        }
        rows.push(vec![
            name.clone(),
            s.host.clone(),
            s.user.clone().unwrap_or_else(|| "-".into()),
            s.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            s.env.clone(),
            s.roles.join(","),
            groups.join(","),
        ]);
    }
    if !ctx.json() {
        em.data(
            "table",
            table(
                &["name", "host", "user", "port", "env", "roles", "groups"],
                rows,
            ),
        );
    }
    Ok(0)
}

fn check(ctx: &Ctx, name: Option<String>, target: TargetArgs) -> Result<i32> {
    let p = ctx.project()?;
    let servers = match name {
        Some(n) => vec![one_server(&p, &n)?],
        None => {
            let sel = Selection::from(&target);
            // With no selection at all, check every server in the registry.
            if sel.env.is_none() && sel.group.is_none() && sel.servers.is_empty() {
                p.servers
                    .servers
                    .iter()
                    .map(|(n, c)| Server {
                        name: n.clone(),
                        config: c.clone(),
                    })
                    .collect()
            } else {
                p.select(&sel)?
            }
        }
    };
    let em = &ctx.emitter;
    let results = engine::check(&servers, &connect_options(&p), em);
    let failed = results.iter().filter(|r| !r.ok()).count();
    if ctx.json() {
        for r in &results {
            em.for_server(&r.server)
                .data("server_check", serde_json::to_value(r)?);
        }
    } else {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        let rows = results
            .iter()
            .map(|r| {
                vec![
                    r.server.clone(),
                    yn(r.reachable),
                    yn(r.auth),
                    r.report.docker.clone().unwrap_or_else(|| "-".into()),
                    if r.auth {
                        r.report.compose_text()
                    } else {
                        "-".into()
                    },
                    r.report
                        .disk_free_bytes
                        .map(human_bytes)
                        .unwrap_or_else(|| "-".into()),
                    r.report.arch.clone().unwrap_or_else(|| "-".into()),
                    if r.ok() { "ok" } else { "FAILED" }.into(),
                ]
            })
            .collect();
        em.data(
            "table",
            table(
                &[
                    "server",
                    "reachable",
                    "auth",
                    "docker",
                    "compose",
                    "disk free",
                    "arch",
                    "result",
                ],
                rows,
            ),
        );
    }
    let n = results.len();
    em.finished(
        failed == 0,
        if failed == 0 {
            format!("{n} server(s) ready")
        } else {
            format!("{failed} of {n} server(s) failed the check")
        },
    );
    Ok(if failed == 0 { 0 } else { 1 })
}

fn trust(ctx: &Ctx, name: &str, yes: bool) -> Result<i32> {
    let p = ctx.project()?;
    let s = one_server(&p, name)?;
    let interact = crate::interact::for_cli(yes);
    let (info, outcome) = engine::trust(&s, interact.as_ref(), &connect_options(&p), &ctx.emitter)
        .map_err(ops_err)?;
    let em = ctx.emitter.for_server(name);
    if ctx.json() {
        em.data(
        "host_key",
        serde_json::json!({
            "server": name,
            "key_type": info.key_type,
            "fingerprint": info.fingerprint,
            "outcome": match &outcome { TrustOutcome::AlreadyTrusted => "already_trusted", TrustOutcome::Added { .. } => "added" },
            "file": match &outcome { TrustOutcome::Added { file } => Some(file.clone()), _ => None },
        }),
    );
    }
    ctx.emitter.finished(
        true,
        match outcome {
            TrustOutcome::AlreadyTrusted => format!("{name}'s host key is already trusted"),
            TrustOutcome::Added { file } => format!("{name} trusted (key added to {file})"),
        },
    );
    Ok(0)
}

/// Servers for `status`/`ps`/`logs`/`halt`: the selection, staging by default.
fn selected(ctx: &Ctx, t: &TargetArgs) -> Result<(Project, Vec<Server>)> {
    let p = ctx.project()?;
    let servers = p.select(&Selection::from(t))?;
    Ok((p, servers))
}

pub fn status(ctx: &Ctx, t: TargetArgs) -> Result<i32> {
    show_status(ctx, t, true)
}

pub fn ps(ctx: &Ctx, t: TargetArgs) -> Result<i32> {
    show_status(ctx, t, false)
}

fn show_status(ctx: &Ctx, t: TargetArgs, with_release: bool) -> Result<i32> {
    let (p, servers) = selected(ctx, &t)?;
    let em = &ctx.emitter;
    let app = p.app_name().to_string();
    let results = engine::status(&app, &servers, with_release, &connect_options(&p), em);
    for r in results.iter().filter(|r| r.error.is_some()) {
        em.for_server(&r.server).message(
            crate::event::Level::Error,
            r.error.clone().unwrap_or_default(),
        );
    }
    if ctx.json() {
        for r in &results {
            let mut v = serde_json::to_value(r)?;
            v["health"] = r.health().into();
            em.for_server(&r.server).data(
                if with_release {
                    "server_status"
                } else {
                    "containers"
                },
                v,
            );
        }
    } else if with_release {
        let rows = results
            .iter()
            .map(|r| {
                vec![
                    r.server.clone(),
                    r.env.clone(),
                    if r.reachable { "yes" } else { "NO" }.into(),
                    r.release
                        .as_ref()
                        .map(|x| x.version.clone())
                        .unwrap_or_else(|| "-".into()),
                    format!("{}/{}", r.running(), r.containers.len()),
                    r.health().into(),
                ]
            })
            .collect();
        em.data(
            "table",
            table(
                &["server", "env", "reachable", "release", "running", "health"],
                rows,
            ),
        );
    } else {
        let mut rows = vec![];
        for r in &results {
            for c in &r.containers {
                rows.push(vec![
                    r.server.clone(),
                    c.service.clone(),
                    c.name.clone(),
                    c.version.clone(),
                    c.state.clone(),
                    c.health.clone(),
                    c.status.clone(),
                ]);
            }
        }
        em.data(
            "table",
            table(
                &[
                    "server",
                    "service",
                    "container",
                    "version",
                    "state",
                    "health",
                    "status",
                ],
                rows,
            ),
        );
    }
    let down = results.iter().filter(|r| r.error.is_some()).count();
    Ok(if down == 0 { 0 } else { 1 })
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C sets a flag the streaming loops poll, so remote commands are
/// stopped (and killed on the server) instead of the process dying mid-way.
fn catch_ctrl_c() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<i32> {
    let (p, servers) = selected(ctx, &a.target)?;
    if a.follow {
        catch_ctrl_c();
    }
    let stop = || INTERRUPTED.load(Ordering::SeqCst);
    let req = engine::LogsRequest {
        app: p.app_name(),
        service: a.service.as_deref(),
        lines: a.lines,
        follow: a.follow,
    };
    let res = engine::logs(&req, &servers, &stop, &connect_options(&p), &ctx.emitter);
    let mut failed = 0;
    for (server, r) in res {
        if let Err(e) = r {
            failed += 1;
            ctx.emitter
                .for_server(&server)
                .message(crate::event::Level::Error, e.to_string());
        }
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Interrupted.into());
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

pub fn exec(ctx: &Ctx, a: ExecArgs) -> Result<i32> {
    let (p, servers) = selected(ctx, &a.target)?;
    if servers.len() > 1 {
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        return Err(InputError::new(format!(
            "`arcane exec` runs on one server, but the selection has {}: {}; pick one with --server NAME",
            servers.len(),
            names.join(", ")
        ))
        .into());
    }
    catch_ctrl_c();
    let stop = || INTERRUPTED.load(Ordering::SeqCst);
    let code = engine::exec(
        p.app_name(),
        &servers[0],
        &a.service,
        &a.cmd,
        &stop,
        &connect_options(&p),
        &ctx.emitter,
    )
    .map_err(ops_err)?;
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Interrupted.into());
    }
    Ok(code)
}

pub fn ssh(ctx: &Ctx, a: SshArgs) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let p = ctx.project()?;
    let s = one_server(&p, &a.name)?;
    let mut cmd = if s.is_local() {
        let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
        std::process::Command::new(shell)
    } else {
        let ep = ssh::resolve(&s, &connect_options(&p));
        let argv = ssh_argv(&ep);
        ctx.emitter.for_server(&s.name).command(&argv.join(" "));
        let mut c = std::process::Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    ctx.finish();
    // Replaces this process: the terminal belongs to ssh from here on.
    let e = cmd.exec();
    Err(e).context("could not start the ssh client (is OpenSSH installed?)")
}

/// The system `ssh` invocation equivalent to how arcane connects: same
/// user, port, identity and strict host key checking against the same
/// known_hosts files.
pub fn ssh_argv(ep: &ssh::Endpoint) -> Vec<String> {
    let mut a = vec!["ssh".to_string(), "-p".into(), ep.port.to_string()];
    for id in ep.identities.iter().filter(|p| p.exists()) {
        a.push("-i".into());
        a.push(id.display().to_string());
    }
    let files: Vec<String> = ep
        .known_hosts
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    a.push("-o".into());
    a.push(format!("UserKnownHostsFile={}", files.join(" ")));
    a.push("-o".into());
    a.push("StrictHostKeyChecking=yes".into());
    if let Some(j) = &ep.proxy_jump {
        a.push("-J".into());
        a.push(j.clone());
    }
    a.push(format!("{}@{}", ep.user, ep.hostname));
    a
}

pub fn halt(ctx: &Ctx, a: HaltArgs) -> Result<i32> {
    let (p, servers) = selected(ctx, &a.target)?;
    let interact = crate::interact::for_cli(a.yes);
    let res = engine::halt(
        p.app_name(),
        &servers,
        interact.as_ref(),
        &connect_options(&p),
        &ctx.emitter,
    )
    .map_err(ops_err)?;
    let failed = res.iter().filter(|r| r.error.is_some()).count();
    if ctx.json() {
        for r in &res {
            ctx.emitter
                .for_server(&r.server)
                .data("halt", serde_json::to_value(r)?);
        }
    }
    let stopped: usize = res.iter().map(|r| r.stopped.len()).sum();
    ctx.emitter.finished(
        failed == 0,
        format!(
            "{stopped} container(s) stopped on {} server(s){}",
            res.len() - failed,
            if failed > 0 {
                format!("; {failed} failed")
            } else {
                String::new()
            }
        ),
    );
    Ok(if failed == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ssh_argv_mirrors_the_transport() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        std::fs::write(&key, "k").unwrap();
        let ep = ssh::Endpoint {
            name: "srv1".into(),
            hostname: "10.77.1.2".into(),
            port: 2222,
            user: "root".into(),
            identities: vec![key.clone(), PathBuf::from("/nonexistent/id_rsa")],
            known_hosts: vec![
                PathBuf::from("/tb/known_hosts"),
                PathBuf::from("/h/.ssh/known_hosts"),
            ],
            trust_file: PathBuf::from("/tb/known_hosts"),
            proxy_jump: Some("bastion".into()),
        };
        assert_eq!(
            ssh_argv(&ep),
            vec![
                "ssh".to_string(),
                "-p".into(),
                "2222".into(),
                "-i".into(),
                key.display().to_string(),
                "-o".into(),
                "UserKnownHostsFile=/tb/known_hosts /h/.ssh/known_hosts".into(),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
                "-J".into(),
                "bastion".into(),
                "root@10.77.1.2".into(),
            ]
        );
    }
}
