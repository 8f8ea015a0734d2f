//! The engines behind `server check`, `server trust`, `status`, `ps`,
//! `logs`, `exec` and `halt`. Each works on many servers at once (one thread
//! per server), reports through events and returns plain data that the CLI
//! renders as a table and the TUI as panels. A failing server never stops
//! the others.

use super::ssh::{fetch_host_key, ConnectOptions, HostKeyInfo};
use super::transport::{Cmd, RemoteError, Transport};
use super::{connect, hostkey};
use crate::config::Server;
use crate::deploy::layout::{self, LiveRelease as Release};
use crate::docker::argv::{self, CheckReport, Container};
use crate::docker::{api, push::human_bytes};
use crate::event::Emitter;
use crate::interact::{Confirm, Interact};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{server}: no running container for service {service:?} of {app} ({env}){}", hint(.running))]
    NoContainer {
        server: String,
        app: String,
        env: String,
        service: String,
        running: Vec<String>,
    },
    #[error("{server}: {what} failed: {detail}")]
    Docker {
        server: String,
        what: String,
        detail: String,
    },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Input(#[from] crate::error::InputError),
}

fn hint(running: &[String]) -> String {
    if running.is_empty() {
        "; nothing of this app runs there (deploy first?)".into()
    } else {
        format!("; running services: {}", running.join(", "))
    }
}

/// Run `f` for every server on its own thread; results keep the order.
pub fn per_server<T: Send>(servers: &[Server], f: impl Fn(&Server) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = servers.iter().map(|srv| s.spawn(|| f(srv))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("server thread panicked"))
            .collect()
    })
}

/// `server check` result for one server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerCheck {
    pub server: String,
    pub host: String,
    pub reachable: bool,
    pub auth: bool,
    #[serde(flatten)]
    pub report: CheckReport,
    pub error: Option<String>,
}

impl ServerCheck {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Reachability, auth, docker, compose, disk and architecture, in parallel.
pub fn check(servers: &[Server], opts: &ConnectOptions, em: &Emitter) -> Vec<ServerCheck> {
    per_server(servers, |s| {
        let em = em.for_server(&s.name);
        em.step_started("check");
        let mut r = ServerCheck {
            server: s.name.clone(),
            host: s.config.host.clone(),
            reachable: false,
            auth: false,
            report: CheckReport::default(),
            error: None,
        };
        match connect(s, &em, opts) {
            Err(e) => {
                // Auth happens after the TCP connect and the host key check.
                r.reachable = !matches!(e, RemoteError::Unreachable { .. })
                    && !matches!(&e, RemoteError::Io { what, .. } if what == "ssh handshake");
                r.error = Some(e.to_string());
            }
            Ok(t) => {
                r.reachable = true;
                r.auth = true;
                match t.run(
                    &argv::check_script().with_timeout(Duration::from_secs(30)),
                    &em,
                ) {
                    Ok(out) => {
                        r.report = argv::parse_check(&out.stdout_str());
                        let p = r.report.problems();
                        if !p.is_empty() {
                            r.error = Some(p.join("; "));
                        }
                    }
                    Err(e) => r.error = Some(e.to_string()),
                }
            }
        }
        let detail = match &r.error {
            Some(e) => e.clone(),
            None => format!(
                "docker {}, compose {}, {} free, {}",
                r.report.docker.as_deref().unwrap_or("?"),
                r.report.compose_text(),
                r.report
                    .disk_free_bytes
                    .map(human_bytes)
                    .unwrap_or_else(|| "?".into()),
                r.report.arch.as_deref().unwrap_or("?")
            ),
        };
        em.step_finished("check", r.ok(), Some(detail));
        r
    })
}

/// `status` for one server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    pub server: String,
    pub env: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub release: Option<Release>,
    pub containers: Vec<Container>,
}

impl ServerStatus {
    pub fn running(&self) -> usize {
        self.containers.iter().filter(|c| c.running()).count()
    }

    /// One word for the app's health on this server.
    pub fn health(&self) -> &'static str {
        if !self.reachable {
            return "unknown";
        }
        let running: Vec<&Container> = self.containers.iter().filter(|c| c.running()).collect();
        if running.is_empty() {
            return if self.containers.is_empty() {
                "not deployed"
            } else {
                "down"
            };
        }
        if running.iter().any(|c| c.health == "unhealthy") {
            "unhealthy"
        } else if running.iter().any(|c| c.health == "starting") {
            "starting"
        } else if running.len() < self.containers.len()
            && self.containers.iter().any(|c| c.state == "restarting")
        {
            "restarting"
        } else {
            "healthy"
        }
    }
}

fn containers(
    t: &dyn Transport,
    app: &str,
    env: &str,
    service: Option<&str>,
    running_only: bool,
    em: &Emitter,
) -> Result<Vec<Container>, OpsError> {
    let out = t.run(
        &Cmd::argv(argv::ps_app(app, env, service, !running_only))
            .with_timeout(Duration::from_secs(30)),
        em,
    )?;
    if !out.success() {
        return Err(OpsError::Docker {
            server: t.name().into(),
            what: "docker ps".into(),
            detail: out.stderr_str().trim().to_string(),
        });
    }
    Ok(argv::parse_ps(&out.stdout_str()))
}

/// Reachability, live release, containers and health, in parallel. With
/// `with_release` false this is `ps`.
pub fn status(
    app: &str,
    servers: &[Server],
    with_release: bool,
    opts: &ConnectOptions,
    em: &Emitter,
) -> Vec<ServerStatus> {
    per_server(servers, |s| {
        let em = em.for_server(&s.name);
        let env = s.config.env.clone();
        let mut st = ServerStatus {
            server: s.name.clone(),
            env: env.clone(),
            reachable: false,
            error: None,
            release: None,
            containers: vec![],
        };
        let t = match connect(s, &em, opts) {
            Ok(t) => t,
            Err(e) => {
                st.error = Some(e.to_string());
                return st;
            }
        };
        st.reachable = true;
        if !with_release {
            match containers(t.as_ref(), app, &env, None, false, &em) {
                Ok(c) => st.containers = c,
                Err(e) => st.error = Some(e.to_string()),
            }
            return st;
        }
        // The release file needs a command; the containers come straight
        // from docker's API socket when the transport can reach it (no
        // shell, no docker CLI), else from `docker ps`. Both run at once.
        let rel = {
            let t = t.clone();
            let (em, app, env) = (em.clone(), app.to_string(), env.clone());
            std::thread::spawn(move || {
                t.run(
                    &layout::live_release_script(&app, &env).with_timeout(Duration::from_secs(30)),
                    &em,
                )
            })
        };
        let api = t
            .unix_request(api::DOCKER_SOCKET, &api::ps_app_request(app, &env), &em)
            .and_then(|r| r.ok())
            .and_then(|resp| api::parse_ps(&resp).ok());
        match api {
            Some(c) => st.containers = c,
            None => match containers(t.as_ref(), app, &env, None, false, &em) {
                Ok(c) => st.containers = c,
                Err(e) => st.error = Some(e.to_string()),
            },
        }
        match rel.join() {
            Ok(Ok(out)) => st.release = layout::parse_live_release(&out.stdout_str()),
            Ok(Err(e)) => st.error = Some(e.to_string()),
            Err(_) => {}
        }
        st
    })
}

/// The server's running containers of `app`, for one service or all.
fn running_for(
    t: &dyn Transport,
    app: &str,
    env: &str,
    service: Option<&str>,
    em: &Emitter,
) -> Result<Vec<Container>, OpsError> {
    let all = containers(t, app, env, None, true, em)?;
    match service {
        None => Ok(all),
        Some(svc) => {
            let mine: Vec<Container> = all.iter().filter(|c| c.service == svc).cloned().collect();
            if mine.is_empty() {
                let mut running: Vec<String> = all.iter().map(|c| c.service.clone()).collect();
                running.sort();
                running.dedup();
                return Err(OpsError::NoContainer {
                    server: t.name().into(),
                    app: app.into(),
                    env: env.into(),
                    service: svc.into(),
                    running,
                });
            }
            Ok(mine)
        }
    }
}

/// What `logs` shows.
pub struct LogsRequest<'a> {
    pub app: &'a str,
    pub service: Option<&'a str>,
    /// Lines of history per container.
    pub lines: usize,
    pub follow: bool,
}

/// Container logs from every server; lines are `Log` events tagged with the
/// server (and prefixed with the service when several are shown). With
/// `follow`, runs until `stop()`; returns per-server errors.
pub fn logs(
    req: &LogsRequest,
    servers: &[Server],
    stop: &(dyn Fn() -> bool + Sync),
    opts: &ConnectOptions,
    em: &Emitter,
) -> Vec<(String, Result<(), OpsError>)> {
    let LogsRequest {
        app,
        service,
        lines,
        follow,
    } = *req;
    per_server(servers, |s| {
        let em = em.for_server(&s.name);
        let r = (|| -> Result<(), OpsError> {
            let t = connect(s, &em, opts)?;
            let cs = running_for(t.as_ref(), app, &s.config.env, service, &em)?;
            if cs.is_empty() {
                em.info(format!("no running container of {app} ({})", s.config.env));
            }
            let several = cs
                .iter()
                .map(|c| &c.service)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1;
            std::thread::scope(|sc| {
                for c in &cs {
                    let t = t.clone();
                    let em = em.clone();
                    sc.spawn(move || {
                        let sink = if several {
                            Emitter::new(Arc::new(Prefix {
                                inner: em.clone(),
                                prefix: format!("{} | ", c.service),
                            }))
                        } else {
                            em.clone()
                        };
                        // The command is logged on the real emitter.
                        let _ = t.stream(&Cmd::argv(argv::logs(&c.id, lines, follow)), &sink, stop);
                    });
                }
            });
            Ok(())
        })();
        (s.name.clone(), r)
    })
}

/// Prefixes log lines (the service name) before handing them on.
struct Prefix {
    inner: Emitter,
    prefix: String,
}

impl crate::event::Sink for Prefix {
    fn emit(&self, ev: crate::event::Event) {
        match ev {
            crate::event::Event::Log { stream, line, .. } => {
                self.inner.log(stream, &format!("{}{line}", self.prefix))
            }
            crate::event::Event::Command { command, .. } => self.inner.command(&command),
            other => self.inner.emit(other),
        }
    }
}

/// `docker exec` into the service's container on one server; output lines
/// are `Log` events (untagged, so the CLI prints them bare), the remote exit
/// status is returned (130 if `stop()` ended it first).
pub fn exec(
    app: &str,
    server: &Server,
    service: &str,
    cmd: &[String],
    stop: &(dyn Fn() -> bool + Sync),
    opts: &ConnectOptions,
    em: &Emitter,
) -> Result<i32, OpsError> {
    let sem = em.for_server(&server.name);
    let t = connect(server, &sem, opts)?;
    let cs = running_for(t.as_ref(), app, &server.config.env, Some(service), &sem)?;
    Ok(t.stream(&Cmd::argv(argv::exec(&cs[0].id, false, cmd)), em, stop)?)
}

/// `halt` result for one server.
#[derive(Debug, Clone, Serialize)]
pub struct HaltResult {
    pub server: String,
    pub stopped: Vec<String>,
    pub error: Option<String>,
}

/// Stop the app's running containers after one confirmation for all servers.
pub fn halt(
    app: &str,
    servers: &[Server],
    interact: &dyn Interact,
    opts: &ConnectOptions,
    em: &Emitter,
) -> Result<Vec<HaltResult>, OpsError> {
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let mut envs: Vec<&str> = servers.iter().map(|s| s.config.env.as_str()).collect();
    envs.sort();
    envs.dedup();
    let ok = interact.confirm(&Confirm {
        prompt: format!(
            "Stop every container of {app} ({}) on {}?",
            envs.join(", "),
            names.join(", ")
        ),
        typed_word: None,
        hint: "pass --yes to halt without a prompt".into(),
    })?;
    if !ok {
        return Err(OpsError::Refused(
            "halt cancelled; nothing was stopped".into(),
        ));
    }
    Ok(per_server(servers, |s| {
        let em = em.for_server(&s.name);
        em.step_started("halt");
        let mut r = HaltResult {
            server: s.name.clone(),
            stopped: vec![],
            error: None,
        };
        let res = (|| -> Result<Vec<String>, OpsError> {
            let t = connect(s, &em, opts)?;
            let cs = running_for(t.as_ref(), app, &s.config.env, None, &em)?;
            if cs.is_empty() {
                return Ok(vec![]);
            }
            let ids: Vec<String> = cs.iter().map(|c| c.id.clone()).collect();
            let out = t.run(
                &Cmd::argv(argv::stop(&ids, 10)).with_timeout(Duration::from_secs(120)),
                &em,
            )?;
            if !out.success() {
                return Err(OpsError::Docker {
                    server: s.name.clone(),
                    what: "docker stop".into(),
                    detail: out.stderr_str().trim().into(),
                });
            }
            Ok(cs.iter().map(|c| c.name.clone()).collect())
        })();
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
    }))
}

/// What `server trust` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TrustOutcome {
    AlreadyTrusted,
    Added { file: String },
}

/// Show a server's host key and, once confirmed, append it to the server's
/// known_hosts file (or `~/.ssh/known_hosts`). A key that conflicts with a
/// recorded one is never overwritten here.
pub fn trust(
    server: &Server,
    interact: &dyn Interact,
    opts: &ConnectOptions,
    em: &Emitter,
) -> Result<(HostKeyInfo, TrustOutcome), OpsError> {
    let em = em.for_server(&server.name);
    if server.is_local() {
        return Err(OpsError::Refused(format!(
            "{} is `local` (this machine, no SSH): there is no host key to trust",
            server.name
        )));
    }
    let info = fetch_host_key(server, opts)?;
    let ep = &info.endpoint;
    let host = hostkey::host_pattern(&ep.hostname, ep.port);
    em.info(format!(
        "{host} offers host key {} {}",
        info.key_type, info.fingerprint
    ));
    match &info.verdict {
        hostkey::Verdict::Trusted => return Ok((info.clone(), TrustOutcome::AlreadyTrusted)),
        hostkey::Verdict::Changed(p) | hostkey::Verdict::Revoked(p) => {
            return Err(RemoteError::HostKeyChanged {
                server: server.name.clone(),
                host: host.clone(),
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
    let ok = interact.confirm(&Confirm {
        prompt: format!(
            "Trust {} ({host}) with host key {}?",
            server.name, info.fingerprint
        ),
        typed_word: None,
        hint: "check the fingerprint, then pass --yes".into(),
    })?;
    if !ok {
        return Err(OpsError::Refused("not trusted; nothing was written".into()));
    }
    hostkey::append(&ep.trust_file, &info.known_hosts_line).map_err(|e| RemoteError::Io {
        server: server.name.clone(),
        what: format!("write {}", ep.trust_file.display()),
        reason: e.to_string(),
    })?;
    em.step_finished(
        "trust",
        true,
        Some(format!("added to {}", ep.trust_file.display())),
    );
    let file = ep.trust_file.display().to_string();
    Ok((info, TrustOutcome::Added { file }))
}
