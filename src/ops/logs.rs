//! `logs [-f]` and `exec`: streams from the app's containers.
//!
//! Both run until the command ends or the context's cancel token fires
//! (Ctrl-C in the CLI, leaving the Logs view in the dashboard); the
//! transport then kills what it started, on the server too.

use super::{fan_out_all, Ctx, Error};
use crate::config::{Selection, Server};
use crate::docker::argv::{self, Container};
use crate::error::ErrorKind;
use crate::event::{Emitter, Event, Sink};
use crate::remote::{Cmd, Transport};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// What `logs` shows.
#[derive(Debug, Clone)]
pub struct LogsRequest {
    /// One service (or accessory), or all of them.
    pub service: Option<String>,
    /// Lines of history per container.
    pub lines: usize,
    pub follow: bool,
}

/// Container logs from every selected server, as `Log` events tagged with
/// the server (and prefixed with the service when several are shown). A
/// server that fails is reported and the others go on; the error says how
/// many failed.
pub fn logs(ctx: &Ctx, sel: &Selection, req: &LogsRequest) -> Result<(), Error> {
    let servers = ctx.servers(sel)?;
    let results = fan_out_all(&servers, servers.len(), |s| {
        let em = ctx.em.for_server(&s.name);
        let r = server_logs(ctx, s, req, &em);
        if let Err(e) = &r {
            em.message(crate::event::Level::Error, e.to_string());
        }
        r
    });
    if ctx.cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    let failed: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let kind = ErrorKind::combine(failed.iter().map(|e| crate::error::HasKind::kind(*e)))
        .unwrap_or(ErrorKind::Failed);
    Err(Error::Reported {
        kind,
        message: format!(
            "logs failed on {} of {} server(s)",
            failed.len(),
            results.len()
        ),
    })
}

fn server_logs(ctx: &Ctx, s: &Server, req: &LogsRequest, em: &Emitter) -> Result<(), Error> {
    let t = ctx.connect(s, em)?;
    let cs = running_for(
        t.as_ref(),
        ctx.app(),
        &s.config.env,
        req.service.as_deref(),
        em,
    )?;
    if cs.is_empty() {
        em.info(format!(
            "no running container of {} ({})",
            ctx.app(),
            s.config.env
        ));
    }
    let several = cs.iter().map(name_of).collect::<BTreeSet<_>>().len() > 1;
    let stop = || ctx.cancel.is_cancelled();
    std::thread::scope(|sc| {
        for c in &cs {
            let t = t.clone();
            let stop = &stop;
            sc.spawn(move || {
                let sink = if several {
                    Emitter::new(Arc::new(Prefix {
                        inner: em.clone(),
                        prefix: format!("{} | ", name_of(c)),
                    }))
                } else {
                    em.clone()
                };
                let _ = t.stream(
                    &Cmd::argv(argv::logs(&c.id, req.lines, req.follow)),
                    &sink,
                    stop,
                );
            });
        }
    });
    Ok(())
}

fn name_of(c: &Container) -> &str {
    if c.accessory.is_empty() {
        &c.service
    } else {
        &c.accessory
    }
}

/// `docker exec` in the service's container on one server. Output lines are
/// `Log` events without a server tag (the CLI prints them bare); returns the
/// remote exit status.
pub fn exec(ctx: &Ctx, sel: &Selection, service: &str, cmd: &[String]) -> Result<i32, Error> {
    let servers = ctx.servers(sel)?;
    if servers.len() != 1 {
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::input(format!(
            "`arcane exec` runs on one server, but the selection has {}: {}; pick one with --server NAME",
            servers.len(),
            names.join(", ")
        )));
    }
    let s = &servers[0];
    let sem = ctx.em.for_server(&s.name);
    let t = ctx.connect(s, &sem)?;
    let cs = running_for(t.as_ref(), ctx.app(), &s.config.env, Some(service), &sem)?;
    let code = t.stream(
        &Cmd::argv(argv::exec(&cs[0].id, false, cmd)),
        &ctx.em,
        &|| ctx.cancel.is_cancelled(),
    )?;
    if ctx.cancel.is_cancelled() {
        return Err(Error::Interrupted);
    }
    Ok(code)
}

/// The running containers of the app on a server, for one service (or
/// accessory) or all. Naming a service that does not run is input.
pub(crate) fn running_for(
    t: &dyn Transport,
    app: &str,
    env: &str,
    service: Option<&str>,
    em: &Emitter,
) -> Result<Vec<Container>, Error> {
    let out = t.run(
        &Cmd::argv(argv::ps_app(app, env, None, false)).with_timeout(Duration::from_secs(30)),
        em,
    )?;
    if !out.success() {
        return Err(Error::Failed(format!(
            "{}: docker ps failed: {}",
            t.name(),
            out.stderr_str().trim()
        )));
    }
    let all: Vec<Container> = argv::parse_ps(&out.stdout_str())
        .into_iter()
        .filter(|c| !c.is_transient())
        .collect();
    let Some(svc) = service else {
        return Ok(all);
    };
    let mine: Vec<Container> = all.iter().filter(|c| name_of(c) == svc).cloned().collect();
    if !mine.is_empty() {
        return Ok(mine);
    }
    // Not input: the service may exist and have crashed.
    let running: BTreeSet<&str> = all.iter().map(name_of).collect();
    let hint = if running.is_empty() {
        "; nothing of this app runs there (deploy first?)".to_string()
    } else {
        format!(
            "; running services: {}",
            running.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Err(Error::Failed(format!(
        "{}: no running container for service {svc:?} of {app} ({env}){hint}",
        t.name()
    )))
}

/// Prefixes log lines (the service name) before handing them on.
struct Prefix {
    inner: Emitter,
    prefix: String,
}

impl Sink for Prefix {
    fn emit(&self, ev: Event) {
        match ev {
            Event::Log { stream, line, .. } => {
                self.inner.log(stream, &format!("{}{line}", self.prefix))
            }
            Event::Command { command, .. } => self.inner.command(&command),
            other => self.inner.emit(other),
        }
    }
}
