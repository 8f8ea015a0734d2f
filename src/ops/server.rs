//! The server registry and what acts on whole servers: `server list`,
//! `server check`, `server trust`, `arcane ssh` and `halt`.

use super::logs::running_for;
use super::{fan_out_all, status::PROBE_PARALLEL, Ctx, Error};
use crate::config::{Selection, Server};
use crate::docker::argv;
use crate::docker::push::human_bytes;
use crate::error::ErrorKind;
use crate::event::report::{
    CheckReport, HaltReport, ServerCheck, ServerEntry, ServerHalt, ServerList, TrustReport,
};
use crate::event::Event;
use crate::interact::Confirm;
use crate::remote::{fetch_host_key, hostkey, ssh, Cmd, RemoteError};
use std::time::Duration;

/// Every server in `config/servers.toml`, with the groups it is in.
pub fn list(ctx: &Ctx) -> ServerList {
    let reg = &ctx.project.servers;
    let servers = reg
        .servers
        .iter()
        .map(|(name, s)| ServerEntry {
            name: name.clone(),
            host: s.host.clone(),
            user: s.user.clone(),
            port: s.port,
            env: s.env.clone(),
            roles: s.roles.clone(),
            groups: reg
                .groups
                .iter()
                .filter(|(_, g)| g.servers.contains(name))
                .map(|(g, _)| g.clone())
                .collect(),
            identity_file: s.identity_file.as_ref().map(|p| p.display().to_string()),
            known_hosts: s.known_hosts.as_ref().map(|p| p.display().to_string()),
            fqdn: ctx
                .project
                .config
                .network
                .as_ref()
                .filter(|_| s.host != "local")
                .map(|n| crate::network::node_fqdn(n, name)),
            connect: match crate::network::reach::tailnet_address(ctx.project, name) {
                Some(_) => "tailnet",
                None => "host",
            }
            .into(),
        })
        .collect();
    let rep = ServerList { servers };
    ctx.em.emit(Event::Servers(rep.clone()));
    rep
}

/// The servers `server check` looks at: the selection, or with no
/// selection at all, the whole registry.
pub fn check_targets(ctx: &Ctx, sel: &Selection) -> Result<Vec<Server>, Error> {
    if sel.env.is_none() && sel.group.is_none() && sel.servers.is_empty() {
        return Ok(ctx.project.all_servers());
    }
    ctx.servers(sel)
}

/// Reachability, auth, docker, compose, disk and architecture of each
/// server, in parallel. Fails (already reported) when any server is not
/// ready for a deploy.
pub fn check(ctx: &Ctx, sel: &Selection) -> Result<CheckReport, Error> {
    let servers = check_targets(ctx, sel)?;
    let checks = fan_out_all(&servers, PROBE_PARALLEL, |s| check_one(ctx, s));
    let rep = CheckReport { servers: checks };
    ctx.em.emit(Event::Checks(rep.clone()));
    let failed = rep.servers.iter().filter(|c| !c.ok()).count();
    let n = rep.servers.len();
    if failed == 0 {
        ctx.em.finished(true, format!("{n} server(s) ready"));
        Ok(rep)
    } else {
        let message = format!("{failed} of {n} server(s) failed the check");
        ctx.em.failed(ErrorKind::Failed, &message);
        Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        })
    }
}

fn check_one(ctx: &Ctx, s: &Server) -> ServerCheck {
    let em = ctx.em.for_server(&s.name);
    em.step_started("check");
    let mut r = ServerCheck {
        server: s.name.clone(),
        host: s.config.host.clone(),
        ..Default::default()
    };
    match ctx.connect(s, &em) {
        Err(e) => {
            // Auth happens after the TCP connect and the host key check.
            r.reachable = !matches!(e, RemoteError::Unreachable { .. })
                && !matches!(&e, RemoteError::Io { what, .. } if what == "ssh handshake");
            r.problems.push(e.to_string());
        }
        Ok(t) => {
            r.reachable = true;
            r.auth = true;
            match t.run(
                &argv::check_script().with_timeout(Duration::from_secs(30)),
                &em,
            ) {
                Ok(out) => {
                    let c = argv::parse_check(&out.stdout_str());
                    r.problems = c.problems();
                    (r.arch, r.docker, r.docker_error) = (c.arch, c.docker, c.docker_error);
                    r.compose = c.compose.map(|c| c.name().to_string());
                    r.compose_version = c.compose_version;
                    (r.disk_path, r.disk_free_bytes) = (c.disk_path, c.disk_free_bytes);
                    if c.docker_missing {
                        // A bare server: one problem, and what fixes it.
                        r.needs_bootstrap = true;
                        r.problems = vec![not_bootstrapped(&s.name)];
                    }
                }
                Err(e) => r.problems.push(e.to_string()),
            }
        }
    }
    let detail = if r.ok() {
        format!(
            "docker {}, compose {}, {} free, {}",
            r.docker.as_deref().unwrap_or("?"),
            r.compose(),
            r.disk_free_bytes
                .map(human_bytes)
                .unwrap_or_else(|| "?".into()),
            r.arch.as_deref().unwrap_or("?")
        )
    } else {
        r.problems.join("; ")
    };
    em.step_finished("check", r.ok(), Some(detail));
    r
}

/// What `server check` says of a server without Docker.
pub fn not_bootstrapped(server: &str) -> String {
    format!("not bootstrapped (Docker is not installed); run `arcane server bootstrap --server {server}`")
}

/// Show a server's host key and, once confirmed, append it to the
/// server's known_hosts file (or `~/.ssh/known_hosts`). A key that
/// conflicts with a recorded one is never overwritten here.
pub fn trust(ctx: &Ctx, name: &str) -> Result<TrustReport, Error> {
    let server = ctx.server(name)?;
    let em = ctx.em.for_server(name);
    if server.is_local() {
        return Err(Error::input(format!(
            "{name} is `local` (this machine, no SSH): there is no host key to trust"
        )));
    }
    let server = crate::network::reach::reach(ctx.project, &server);
    let info = fetch_host_key(&server, ctx.connector.options())?;
    let ep = &info.endpoint;
    let host = hostkey::host_pattern(&ep.hostname, ep.port);
    em.info(format!(
        "{host} offers host key {} {}",
        info.key_type, info.fingerprint
    ));
    let mut rep = TrustReport {
        server: name.to_string(),
        key_type: info.key_type.clone(),
        fingerprint: info.fingerprint.clone(),
        outcome: "already_trusted".into(),
        file: None,
    };
    match &info.verdict {
        hostkey::Verdict::Trusted => {
            ctx.em.emit(Event::HostKey(rep.clone()));
            ctx.em
                .finished(true, format!("{name}'s host key is already trusted"));
            return Ok(rep);
        }
        hostkey::Verdict::Changed(p) | hostkey::Verdict::Revoked(p) => {
            return Err(RemoteError::HostKeyChanged {
                server: name.to_string(),
                host,
                fingerprint: info.fingerprint.clone(),
                known_hosts: p.display().to_string(),
            }
            .into())
        }
        hostkey::Verdict::Unknown => {}
    }
    em.info(format!(
        "compare it with the server's own fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub` on the server)",
        info.key_type.trim_start_matches("ssh-").split('-').next().unwrap_or("ed25519")
    ));
    ctx.confirm(
        Confirm::yes_no(
            format!("Trust {name} ({host}) with host key {}?", info.fingerprint),
            "check the fingerprint, then pass --yes",
        ),
        "not trusted; nothing was written",
    )?;
    hostkey::append(&ep.trust_file, &info.known_hosts_line).map_err(|e| RemoteError::Io {
        server: name.to_string(),
        what: format!("write {}", ep.trust_file.display()),
        reason: e.to_string(),
    })?;
    let file = ep.trust_file.display().to_string();
    em.step_finished("trust", true, Some(format!("added to {file}")));
    rep.outcome = "added".into();
    rep.file = Some(file.clone());
    ctx.em.emit(Event::HostKey(rep.clone()));
    ctx.em
        .finished(true, format!("{name} trusted (key added to {file})"));
    Ok(rep)
}

/// The system `ssh` invocation equivalent to how arcane connects to
/// `name` (same user, port, identities and strict host key checking
/// against the same known_hosts files), or `None` for `local`.
pub fn ssh_command(ctx: &Ctx, name: &str) -> Result<Option<Vec<String>>, Error> {
    let s = ctx.server(name)?;
    if s.is_local() {
        return Ok(None);
    }
    let ep = ssh::resolve(
        &crate::network::reach::reach(ctx.project, &s),
        ctx.connector.options(),
    );
    let argv = ssh_argv(&ep);
    ctx.em.for_server(name).command(&argv.join(" "));
    Ok(Some(argv))
}

/// The system `ssh` command line for an endpoint.
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

/// Stop the app's running containers on the selected servers, after one
/// confirmation for all of them.
pub fn halt(ctx: &Ctx, sel: &Selection) -> Result<HaltReport, Error> {
    let servers = ctx.servers(sel)?;
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let mut envs: Vec<&str> = servers.iter().map(|s| s.config.env.as_str()).collect();
    envs.sort();
    envs.dedup();
    ctx.confirm(
        Confirm::yes_no(
            format!(
                "Stop every container of {} ({}) on {}?",
                ctx.app(),
                envs.join(", "),
                names.join(", ")
            ),
            "pass --yes to halt without a prompt",
        ),
        "halt cancelled; nothing was stopped",
    )?;
    let results = fan_out_all(&servers, servers.len(), |s| {
        let em = ctx.em.for_server(&s.name);
        em.step_started("halt");
        let res = (|| -> Result<Vec<String>, Error> {
            let t = ctx.connect(s, &em)?;
            let cs = running_for(t.as_ref(), ctx.app(), &s.config.env, None, &em)?;
            if cs.is_empty() {
                return Ok(vec![]);
            }
            let ids: Vec<String> = cs.iter().map(|c| c.id.clone()).collect();
            let out = t.run(
                &Cmd::argv(argv::stop(&ids, 10)).with_timeout(Duration::from_secs(120)),
                &em,
            )?;
            if !out.success() {
                return Err(Error::Failed(format!(
                    "docker stop failed: {}",
                    out.stderr_str().trim()
                )));
            }
            Ok(cs.iter().map(|c| c.name.clone()).collect())
        })();
        let mut r = ServerHalt {
            server: s.name.clone(),
            stopped: vec![],
            error: None,
        };
        match res {
            Ok(stopped) => {
                let detail = if stopped.is_empty() {
                    "nothing was running".to_string()
                } else {
                    format!("stopped {}", stopped.join(", "))
                };
                em.step_finished("halt", true, Some(detail));
                r.stopped = stopped;
            }
            Err(e) => {
                em.step_finished("halt", false, Some(e.to_string()));
                r.error = Some(e.to_string());
            }
        }
        r
    });
    let rep = HaltReport { servers: results };
    ctx.em.emit(Event::Halted(rep.clone()));
    let failed = rep.servers.iter().filter(|r| r.error.is_some()).count();
    let stopped: usize = rep.servers.iter().map(|r| r.stopped.len()).sum();
    let summary = format!(
        "{stopped} container(s) stopped on {} server(s){}",
        rep.servers.len() - failed,
        if failed > 0 {
            format!("; {failed} failed")
        } else {
            String::new()
        }
    );
    if failed == 0 {
        ctx.em.finished(true, summary);
        Ok(rep)
    } else {
        ctx.em.failed(ErrorKind::Failed, &summary);
        Err(Error::Reported {
            kind: ErrorKind::Failed,
            message: summary,
        })
    }
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
