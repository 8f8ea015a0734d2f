//! `status`, `ps` and the dashboard's Overview: what runs where.
//!
//! One probe per server, run through the fan-out helper: the engine version
//! and the containers come from docker's API socket when the transport can
//! reach it (no shell, no docker CLI process), the live release and the lock
//! holder from the server's files in one shell round trip; both run at once.
//! Health is judged once, by [`report::health_of`], for every front end.

use super::{fan_out_all, Ctx, Error};
use crate::config::{Selection, Server};
use crate::deploy::layout;
use crate::docker::{api, argv};
use crate::event::report::{self, Container, ServerStatus, StatusReport};
use crate::event::{Emitter, Event};
use crate::remote::{Cmd, RemoteError, Transport};
use std::time::Duration;

/// At most this many probes at once: 50 servers must not mean 50
/// simultaneous SSH handshakes.
pub const PROBE_PARALLEL: usize = 16;

const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// `engine_state`'s word for "the shell has no `docker` command" (127).
const NO_DOCKER: &str = "docker is not installed";

/// `status`: reachability, engine, live release, containers, health and
/// lock of every selected server. Each server's result is also emitted as
/// it arrives ([`Event::ServerStatus`]); a server that fails never stops
/// the others.
pub fn status(ctx: &Ctx, sel: &Selection) -> Result<StatusReport, Error> {
    let servers = ctx.servers(sel)?;
    let rep = probe_all(ctx, &servers);
    ctx.em.emit(Event::Status(rep.clone()));
    fail_on_errors(ctx, rep)
}

/// A report where some server could not be read is a failure (exit 1),
/// after saying which and why.
fn fail_on_errors(ctx: &Ctx, rep: StatusReport) -> Result<StatusReport, Error> {
    let bad: Vec<&ServerStatus> = rep.servers.iter().filter(|s| s.error.is_some()).collect();
    if bad.is_empty() {
        return Ok(rep);
    }
    for s in &bad {
        ctx.em.for_server(&s.server).message(
            crate::event::Level::Error,
            s.error.as_deref().unwrap_or_default(),
        );
    }
    let message = format!(
        "{} of {} server(s) could not be read",
        bad.len(),
        rep.servers.len()
    );
    ctx.em.failed(crate::error::ErrorKind::Failed, &message);
    Err(Error::Reported {
        kind: crate::error::ErrorKind::Failed,
        message,
    })
}

/// `ps`: the app's containers on every selected server (stopped ones too).
pub fn ps(ctx: &Ctx, sel: &Selection) -> Result<StatusReport, Error> {
    let servers = ctx.servers(sel)?;
    let app = ctx.app();
    let servers = fan_out_all(&servers, PROBE_PARALLEL, |s| {
        let em = ctx.em.for_server(&s.name);
        let mut st = blank(s);
        match ctx.connect(s, &em) {
            Err(e) => failed_connect(&mut st, &e),
            Ok(t) => {
                st.reachable = true;
                match containers(t.as_ref(), app, &s.config.env, &em) {
                    Ok(cs) => st.containers = cs,
                    Err(e) => st.error = Some(e),
                }
            }
        }
        st
    });
    let rep = StatusReport {
        app: app.to_string(),
        servers,
    };
    ctx.em.emit(Event::Containers(rep.clone()));
    fail_on_errors(ctx, rep)
}

/// Probe `servers` (the dashboard probes the whole registry).
pub fn probe_all(ctx: &Ctx, servers: &[Server]) -> StatusReport {
    let app = ctx.app();
    let servers = fan_out_all(servers, PROBE_PARALLEL, |s| {
        let em = ctx.em.for_server(&s.name);
        let st = probe(ctx, s, &em);
        ctx.em.emit(Event::ServerStatus(st.clone()));
        st
    });
    StatusReport {
        app: app.to_string(),
        servers,
    }
}

fn blank(s: &Server) -> ServerStatus {
    ServerStatus {
        server: s.name.clone(),
        env: s.config.env.clone(),
        host: s.config.host.clone(),
        ..Default::default()
    }
}

fn failed_connect(st: &mut ServerStatus, e: &RemoteError) {
    // Auth failures and host key refusals mean the host answered.
    st.reachable = !matches!(
        e,
        RemoteError::Unreachable { .. } | RemoteError::Timeout { .. }
    );
    st.error = Some(e.to_string());
    st.error_brief = Some(short_remote_error(e));
    st.security_alert = security_alert(e);
}

/// One server's status. Never fails: what could not be read is in `error`.
fn probe(ctx: &Ctx, s: &Server, em: &Emitter) -> ServerStatus {
    let mut st = blank(s);
    let t = match ctx.connect(s, em) {
        Ok(t) => t,
        Err(e) => {
            failed_connect(&mut st, &e);
            return st;
        }
    };
    st.reachable = true;
    let (app, env) = (ctx.app(), s.config.env.as_str());
    // The files need a shell; the API answers while it runs.
    let state = std::thread::scope(|sc| {
        let files = sc.spawn(|| {
            t.run(
                &layout::state_script(app, env).with_timeout(QUERY_TIMEOUT),
                em,
            )
        });
        match engine_state(t.as_ref(), app, env, em) {
            Ok((docker, cs)) => {
                st.docker = docker;
                st.containers = cs;
            }
            Err(e) => {
                // No docker CLI at all: a bare server.
                if e == NO_DOCKER {
                    st.needs_bootstrap = true;
                    st.error = Some(super::server::not_bootstrapped(&s.name));
                } else {
                    st.error = Some(e);
                }
            }
        }
        files.join()
    });
    match state {
        Ok(Ok(out)) => {
            let (live, lock) = layout::parse_state(&out.stdout_str());
            st.live = live;
            st.lock = lock;
        }
        Ok(Err(e)) => st.error = Some(short_remote_error(&e)),
        Err(_) => st.error = Some("the status probe panicked".into()),
    }
    let live = st.live.as_ref().map(|l| l.release.as_str());
    let (up, expected, health) = report::health_of(&st.containers, live);
    (st.up, st.expected, st.health) = (up, expected, health);
    if st.docker.is_none() && st.error.is_none() {
        st.health = report::Health::Unknown;
    }
    st
}

/// The engine version and the app's containers: over the API socket when
/// it can be reached, else with the docker CLI.
fn engine_state(
    t: &dyn Transport,
    app: &str,
    env: &str,
    em: &Emitter,
) -> Result<(Option<String>, Vec<Container>), String> {
    let api = |req: Vec<u8>| {
        t.unix_request(api::DOCKER_SOCKET, &req, em)
            .and_then(|r| r.ok())
    };
    let version = api(api::version_request()).and_then(|r| api::parse_version(&r).ok());
    if let Some(v) = version {
        if let Some(cs) = api(api::ps_app_request(app, env)).and_then(|r| api::parse_ps(&r).ok()) {
            return Ok((Some(v), cs));
        }
    }
    let out = t
        .run(&Cmd::argv(argv::version()).with_timeout(QUERY_TIMEOUT), em)
        .map_err(|e| short_remote_error(&e))?;
    if out.status == 127 {
        return Err(NO_DOCKER.into());
    }
    if !out.success() {
        return Err(format!("docker: {}", first_line(&out.stderr_str())));
    }
    let version = Some(out.stdout_str().trim().to_string());
    Ok((version, containers(t, app, env, em)?))
}

/// `docker ps -a` of the app+env.
fn containers(
    t: &dyn Transport,
    app: &str,
    env: &str,
    em: &Emitter,
) -> Result<Vec<Container>, String> {
    let out = t
        .run(
            &Cmd::argv(argv::ps_app(app, env, None, true)).with_timeout(QUERY_TIMEOUT),
            em,
        )
        .map_err(|e| short_remote_error(&e))?;
    if !out.success() {
        return Err(format!("docker ps: {}", first_line(&out.stderr_str())));
    }
    Ok(argv::parse_ps(&out.stdout_str()))
}

/// The running services on each selected server, as `(server, service)`
/// pairs: what the dashboard's Logs tab offers to follow.
pub fn log_choices(ctx: &Ctx, sel: &Selection) -> Result<Vec<(String, String)>, Error> {
    let servers = ctx.servers(sel)?;
    let app = ctx.app();
    let results = fan_out_all(&servers, PROBE_PARALLEL, |s| {
        let em = ctx.em.for_server(&s.name);
        let t = ctx
            .connect(s, &em)
            .map_err(|e| format!("{}: {}", s.name, short_remote_error(&e)))?;
        let cs = containers(t.as_ref(), app, &s.config.env, &em)
            .map_err(|e| format!("{}: {e}", s.name))?;
        Ok::<_, String>(
            cs.into_iter()
                .filter(|c| c.running() && !c.is_transient())
                .map(|c| {
                    let name = if c.accessory.is_empty() {
                        c.service
                    } else {
                        c.accessory
                    };
                    (s.name.clone(), name)
                })
                .collect::<Vec<_>>(),
        )
    });
    let mut out: Vec<(String, String)> = vec![];
    let mut errors = vec![];
    for r in results {
        match r {
            Ok(pairs) => {
                for p in pairs {
                    if !p.1.is_empty() && !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if out.is_empty() && !errors.is_empty() {
        return Err(Error::Failed(errors.join("; ")));
    }
    Ok(out)
}

/// The one-line version of a connect error for a status row.
pub fn short_remote_error(e: &RemoteError) -> String {
    match e {
        RemoteError::Unreachable { reason, .. } => format!("unreachable: {reason}"),
        RemoteError::Auth { user, .. } => format!("auth failed as {user}"),
        RemoteError::UnknownHostKey { fingerprint, .. } => {
            format!("unknown host key {fingerprint}: run `arcane server trust`")
        }
        RemoteError::HostKeyChanged { fingerprint, .. } => {
            format!("HOST KEY CHANGED ({fingerprint}): refusing to connect")
        }
        other => other.to_string(),
    }
}

/// Security alerts worth shouting about: a refused host key.
pub fn security_alert(e: &RemoteError) -> Option<String> {
    match e {
        RemoteError::UnknownHostKey { .. }
        | RemoteError::HostKeyChanged { .. }
        | RemoteError::HostKeyRevoked { .. } => Some(e.to_string()),
        _ => None,
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_errors_are_security_alerts() {
        let e = RemoteError::HostKeyChanged {
            server: "a".into(),
            host: "h".into(),
            fingerprint: "SHA256:x".into(),
            known_hosts: "kh".into(),
        };
        assert!(security_alert(&e).unwrap().contains("HOST KEY CHANGED"));
        let e = RemoteError::Unreachable {
            server: "a".into(),
            addr: "h".into(),
            reason: "r".into(),
        };
        assert!(security_alert(&e).is_none());
        assert_eq!(short_remote_error(&e), "unreachable: r");
    }
}
