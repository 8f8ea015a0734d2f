//! `proxy boot|status|reboot|logs`: the edge proxy on each selected server,
//! all servers at once; the operation fails if any server failed.

use super::{fan_out_all, Ctx, Error};
use crate::config::Selection;
use crate::error::ErrorKind;
use crate::event::report::{ProxyReport, ProxyRoute, ServerProxy};
use crate::event::Event;
use crate::proxy::{self, ProxyError, Route};

/// Lines of proxy log `proxy logs` shows per server.
const LOG_TAIL: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Boot,
    Status,
    Reboot,
    Logs,
}

impl Action {
    fn step(self) -> &'static str {
        match self {
            Action::Boot => "proxy-boot",
            Action::Status => "proxy-status",
            Action::Reboot => "proxy-reboot",
            Action::Logs => "proxy-logs",
        }
    }
}

fn route(r: &Route) -> ProxyRoute {
    ProxyRoute {
        id: r.id(),
        hosts: r.hosts.clone(),
        upstreams: r.upstreams.clone(),
        tls: format!("{:?}", r.tls).to_lowercase(),
    }
}

pub fn run(ctx: &Ctx, sel: &Selection, action: Action) -> Result<ProxyReport, Error> {
    let proxy = proxy::for_project(&ctx.project.config).ok_or_else(|| {
        Error::input(format!(
            "{}: no [proxy] section; add one with `hosts = [\"app.example.com\"]` and `app_port = 8080` to put the app behind the edge proxy",
            ctx.project.root.join(crate::config::PROJECT_FILE).display()
        ))
    })?;
    let servers = ctx.servers(sel)?;
    if servers.is_empty() {
        return Err(Error::input(
            "no servers selected; pass --env, --group or --server",
        ));
    }
    let rows = fan_out_all(&servers, servers.len(), |s| {
        let em = ctx.em.for_server(&s.name);
        let mut row = ServerProxy {
            server: s.name.clone(),
            state: None,
            image: None,
            routes: vec![],
            error: None,
        };
        em.step_started("connect");
        let t = match ctx.connect(s, &em) {
            Ok(t) => t,
            Err(e) => {
                em.step_finished("connect", false, Some(e.to_string()));
                row.error = Some(e.to_string());
                return row;
            }
        };
        em.step_finished("connect", true, None);
        em.step_started(action.step());
        let res: Result<Option<String>, ProxyError> = (|| match action {
            Action::Boot => {
                proxy.ensure(&*t, &em)?;
                let routes = proxy.routes(&*t, &em)?;
                row.routes = routes.iter().map(route).collect();
                Ok(Some(format!("{} route(s)", routes.len())))
            }
            Action::Reboot => {
                let before = proxy.routes(&*t, &em).unwrap_or_default();
                proxy.reboot(&*t, &em)?;
                let after = proxy.routes(&*t, &em)?;
                let lost: Vec<String> = before
                    .iter()
                    .filter(|r| !after.contains(r))
                    .map(Route::id)
                    .collect();
                if !lost.is_empty() {
                    return Err(ProxyError::NotSwitched {
                        server: s.name.clone(),
                        id: lost.join(", "),
                        expected: "the routes it had before the reboot".into(),
                    });
                }
                row.routes = after.iter().map(route).collect();
                Ok(Some(format!("{} route(s) kept", after.len())))
            }
            Action::Status => {
                let st = proxy.status(&*t, &em)?;
                row.state = Some(st.state.clone());
                row.image = st.image.clone();
                row.routes = st.routes.iter().map(route).collect();
                Ok(Some(st.state))
            }
            Action::Logs => {
                proxy.logs(&*t, &em, LOG_TAIL)?;
                Ok(None)
            }
        })();
        match res {
            Ok(detail) => em.step_finished(action.step(), true, detail),
            Err(e) => {
                em.step_finished(action.step(), false, Some(e.to_string()));
                row.error = Some(e.to_string());
            }
        }
        row
    });
    let rep = ProxyReport { servers: rows };
    if action == Action::Status {
        ctx.em.emit(Event::Proxy(rep.clone()));
    }
    let failed: Vec<&str> = rep
        .servers
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.server.as_str())
        .collect();
    if failed.is_empty() {
        let verb = match action {
            Action::Boot => "proxy running",
            Action::Status => "proxy status",
            Action::Reboot => "proxy rebooted",
            Action::Logs => "proxy logs",
        };
        ctx.em
            .finished(true, format!("{verb} on {} server(s)", rep.servers.len()));
        Ok(rep)
    } else {
        let message = format!("`arcane proxy` failed on {}", failed.join(", "));
        ctx.em.failed(ErrorKind::Failed, &message);
        Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        })
    }
}
