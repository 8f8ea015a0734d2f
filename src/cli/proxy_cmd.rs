//! `arcane proxy boot|status|reboot|logs [--env|--group|--server]`.
//!
//! Each selected server is handled in its own thread with its own transport;
//! events carry the server name, and the command fails if any server failed.

use super::args::{ProxyCmd, TargetArgs};
use super::render::table;
use super::Ctx;
use crate::config::{Project, Selection, Server};
use crate::error::InputError;
use crate::event::Emitter;
use crate::proxy::{self, Proxy, ProxyError, Route};
use crate::remote::Transport;
use anyhow::Result;
use std::sync::Arc;

/// Table rows for `proxy status`, one per route.
type Rows = Vec<Vec<String>>;

/// Lines of proxy log `arcane proxy logs` shows per server.
const LOG_TAIL: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Boot,
    Status,
    Reboot,
    Logs,
}

pub fn run(ctx: &Ctx, c: ProxyCmd) -> Result<i32> {
    let (target, action) = match c {
        ProxyCmd::Boot(t) => (t, Action::Boot),
        ProxyCmd::Status(t) => (t, Action::Status),
        ProxyCmd::Reboot(t) => (t, Action::Reboot),
        ProxyCmd::Logs(t) => (t, Action::Logs),
    };
    let project = ctx.project()?;
    let proxy = proxy::for_project(&project.config).ok_or_else(|| {
        InputError::new(format!(
            "{}: no [proxy] section; add one with `hosts = [\"app.example.com\"]` and `app_port = 8080` to put the app behind the edge proxy",
            project.root.join(crate::config::PROJECT_FILE).display()
        ))
    })?;
    let servers = select(&project, &target)?;
    let json = ctx.json();
    let root = project.root.as_path();
    let results: Vec<(String, Result<Rows, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = servers
            .iter()
            .map(|srv| {
                let em = ctx.emitter.for_server(&srv.name);
                let proxy = &*proxy;
                s.spawn(move || {
                    (
                        srv.name.clone(),
                        one_server(srv, proxy, action, json, root, &em),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("proxy worker panicked"))
            .collect()
    });
    let mut rows = vec![];
    let mut failed = vec![];
    for (name, r) in results {
        match r {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                ctx.emitter
                    .for_server(&name)
                    .message(crate::event::Level::Error, &e);
                failed.push(name);
            }
        }
    }
    if action == Action::Status {
        ctx.emitter.data(
            "table",
            table(
                &[
                    "server",
                    "state",
                    "image",
                    "route",
                    "hosts",
                    "upstreams",
                    "tls",
                ],
                rows,
            ),
        );
    }
    let verb = match action {
        Action::Boot => "proxy running",
        Action::Status => "proxy status",
        Action::Reboot => "proxy rebooted",
        Action::Logs => "proxy logs",
    };
    if failed.is_empty() {
        ctx.emitter
            .finished(true, format!("{verb} on {} server(s)", servers.len()));
        Ok(0)
    } else {
        ctx.emitter
            .finished(false, format!("failed on {}", failed.join(", ")));
        anyhow::bail!("`arcane proxy` failed on {}", failed.join(", "))
    }
}

fn select(project: &Project, target: &TargetArgs) -> Result<Vec<Server>> {
    let mut sel = Selection::from(target);
    if sel.env.is_none() && sel.group.is_none() && sel.servers.is_empty() {
        sel.env = Some("staging".into());
    }
    let servers = project.select(&sel)?;
    if servers.is_empty() {
        return Err(InputError::new("no servers selected; pass --env, --group or --server").into());
    }
    Ok(servers)
}

/// The transport for one server (SSH, or this machine for `host = "local"`).
fn connect(
    server: &Server,
    root: &std::path::Path,
    em: &Emitter,
) -> Result<Arc<dyn Transport>, String> {
    let opts = crate::remote::ConnectOptions::for_project(root);
    crate::remote::connect(server, em, &opts).map_err(|e| e.to_string())
}

fn one_server(
    server: &Server,
    proxy: &dyn Proxy,
    action: Action,
    json: bool,
    root: &std::path::Path,
    em: &Emitter,
) -> Result<Rows, String> {
    let step = match action {
        Action::Boot => "proxy-boot",
        Action::Status => "proxy-status",
        Action::Reboot => "proxy-reboot",
        Action::Logs => "proxy-logs",
    };
    em.step_started("connect");
    let t = connect(server, root, em)
        .inspect_err(|e| em.step_finished("connect", false, Some(e.clone())))?;
    em.step_finished("connect", true, None);
    em.step_started(step);
    let res: Result<(Rows, Option<String>), ProxyError> = (|| match action {
        Action::Boot => {
            proxy.ensure(&*t, em)?;
            let n = proxy.routes(&*t, em)?.len();
            Ok((vec![], Some(format!("{n} route(s)"))))
        }
        Action::Reboot => {
            let before = proxy.routes(&*t, em).unwrap_or_default();
            proxy.reboot(&*t, em)?;
            let after = proxy.routes(&*t, em)?;
            let lost: Vec<String> = before
                .iter()
                .filter(|r| !after.contains(r))
                .map(Route::id)
                .collect();
            if !lost.is_empty() {
                return Err(ProxyError::NotSwitched {
                    server: server.name.clone(),
                    id: lost.join(", "),
                    expected: "the routes it had before the reboot".into(),
                });
            }
            Ok((vec![], Some(format!("{} route(s) kept", after.len()))))
        }
        Action::Status => {
            let st = proxy.status(&*t, em)?;
            if json {
                em.data(
                    "proxy_status",
                    serde_json::to_value(&st).unwrap_or_default(),
                );
            }
            let image = st.image.clone().unwrap_or_else(|| "-".into());
            let mut rows: Vec<Vec<String>> = st
                .routes
                .iter()
                .map(|r| {
                    vec![
                        server.name.clone(),
                        st.state.clone(),
                        image.clone(),
                        r.id(),
                        r.hosts.join(","),
                        r.upstreams.join(","),
                        format!("{:?}", r.tls).to_lowercase(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                rows.push(vec![
                    server.name.clone(),
                    st.state.clone(),
                    image,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
            }
            Ok((rows, Some(st.state)))
        }
        Action::Logs => {
            proxy.logs(&*t, em, LOG_TAIL)?;
            Ok((vec![], None))
        }
    })();
    match res {
        Ok((rows, detail)) => {
            em.step_finished(step, true, detail);
            Ok(rows)
        }
        Err(e) => {
            let msg = e.to_string();
            em.step_finished(step, false, Some(msg.clone()));
            Err(msg)
        }
    }
}
