//! The Caddy backend: JSON config generation (pure, unit-tested) and the
//! `Proxy` implementation that drives the admin APIs.
//!
//! ## Two Caddy processes in the one `arcane-proxy` container
//!
//! Every change made through Caddy's admin API, even a `PATCH` of one route's
//! upstreams, reloads Caddy's whole config, and a reload closes the *idle
//! keep-alive connections* of every client. A client that sends its next
//! request on such a connection at that moment gets an empty reply (wrk and
//! our load generator count it; browsers retry GETs silently, but not
//! POSTs). Measured on this box with one Caddy: 105 errors in 11,276 requests
//! over 20 switches (0.93 %) for a wrk-like client, 10 in 6,380 (0.16 %) for
//! a client that checks idle connections before reuse. Tuning `grace_period`
//! cannot help (it only bounds how long in-flight requests may run).
//!
//! So the process that holds client connections never reloads on a deploy:
//!
//! * the **edge** (admin `localhost:2019`) listens on 80/443, terminates TLS
//!   and has one route per app+env that matches its hosts and forwards to the
//!   router with upstream keep-alive *off*. It changes only when an app's
//!   hosts or TLS mode change, or an app is added or removed;
//! * the **router** (admin `localhost:2020`) listens on `127.0.0.1:8081`
//!   inside the container only and has one route per app+env with the
//!   current upstreams. A deploy `PATCH`es exactly that route there. Its
//!   only client is the edge, whose connections carry one request each, so a
//!   reload never finds an idle connection to close; in-flight requests
//!   finish on the old config (bounded by `grace_period` = drain timeout).
//!
//! Config layout (keys a user adds are left alone):
//!
//! * edge `apps.http.servers.arcane-https` (`:443`, apps with `tls = "auto"`
//!   or `"internal"`; automatic HTTPS gets their certificates and redirects
//!   port 80) and `arcane-http` (`:80`, apps with `tls = "off"`);
//! * router `apps.http.servers.arcane-router`;
//! * in both, one route per app+env, `@id` = `arcane-<app>-<env>`, whose first
//!   handler is a `vars` handler carrying `arcane.app`/`arcane.env`/
//!   `arcane.tls`, so routes read back without guessing from the id;
//! * `tls = "internal"` adds an edge automation policy `@id` =
//!   `arcane-<app>-<env>-tls` using Caddy's internal CA for those hosts.
//!
//! Here: the [`super::Proxy`] operations. `config.rs` generates and reads
//! the JSON (pure), `live.rs` changes the running configs through the admin
//! APIs, `drain.rs` waits for the old upstreams' connections to finish.

mod config;
mod drain;
mod live;

pub use config::*;
pub use drain::{established_to, parse_container_ips};

use config::{count_routes, locate};

use super::admin::Admin;
use super::http::Request;
use super::{docker, ProxyError, ProxyStatus, Route};
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use serde_json::Value;
use std::time::{Duration, Instant};

pub const HTTPS_SERVER: &str = "arcane-https";
pub const HTTP_SERVER: &str = "arcane-http";
pub const ROUTER_SERVER: &str = "arcane-router";
/// Admin ports inside the container (loopback only, never published).
pub const EDGE_ADMIN: u16 = 2019;
pub const ROUTER_ADMIN: u16 = 2020;
/// Where the router listens, inside the container only.
pub const ROUTER_ADDR: &str = "127.0.0.1:8081";

/// The Caddy proxy for one project (image and drain timeout from `[proxy]`).
pub struct Caddy {
    pub image: String,
    /// Caddy's `grace_period`, set when the proxy is first booted: how long a
    /// config change waits for the old config's in-flight requests.
    pub grace: Duration,
}

impl Caddy {
    pub fn new(image: impl Into<String>, grace: Duration) -> Self {
        Caddy {
            image: image.into(),
            grace,
        }
    }

    /// A config change returns once the old config drained (up to `grace`).
    fn edge<'a>(&self, t: &'a dyn Transport, em: &'a Emitter) -> Admin<'a> {
        Admin::new(t, em, EDGE_ADMIN, self.grace + Duration::from_secs(60))
    }

    fn router<'a>(&self, t: &'a dyn Transport, em: &'a Emitter) -> Admin<'a> {
        Admin::new(t, em, ROUTER_ADMIN, self.grace + Duration::from_secs(60))
    }
}

fn docker_err(t: &dyn Transport, what: &str, out: &crate::remote::Output) -> ProxyError {
    ProxyError::Docker {
        server: t.name().to_string(),
        what: what.to_string(),
        status: out.status,
        stderr: out.stderr_str().trim().to_string(),
    }
}

fn run_ok(
    t: &dyn Transport,
    em: &Emitter,
    argv: Vec<String>,
    what: &str,
) -> Result<String, ProxyError> {
    let out = t.run(&Cmd::argv(argv).with_timeout(Duration::from_secs(120)), em)?;
    if !out.success() {
        return Err(docker_err(t, what, &out));
    }
    Ok(out.stdout_str())
}

/// (state, image) of the proxy container, or None if it does not exist.
fn inspect(t: &dyn Transport, em: &Emitter) -> Result<Option<(String, String)>, ProxyError> {
    let out = t.run(
        &Cmd::argv(docker::inspect()).with_timeout(Duration::from_secs(30)),
        em,
    )?;
    if !out.success() {
        if out.stderr_str().contains("No such") {
            return Ok(None);
        }
        return Err(docker_err(t, "docker container inspect", &out));
    }
    let s = out.stdout_str();
    let (state, image) = s.trim().split_once(' ').unwrap_or((s.trim(), ""));
    Ok(Some((state.to_string(), image.to_string())))
}

impl super::Proxy for Caddy {
    fn ensure(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError> {
        let net = t.run(
            &Cmd::argv(docker::network_inspect()).with_timeout(Duration::from_secs(30)),
            em,
        )?;
        if !net.success() {
            let out = t.run(&Cmd::argv(docker::network_create()), em)?;
            // A concurrent deploy may have created it in between.
            if !out.success() && !out.stderr_str().contains("already exists") {
                return Err(docker_err(t, "docker network create", &out));
            }
        }
        match inspect(t, em)? {
            Some((state, image)) if state == "running" => {
                if image != self.image {
                    em.warn(format!(
                        "the proxy runs {image}, arcane.toml asks for {}; run `arcane proxy reboot` to switch (keeps every route)",
                        self.image
                    ));
                }
            }
            Some(_) => {
                run_ok(t, em, docker::start(), "docker start arcane-proxy")?;
            }
            None => {
                let base = router_base_config(self.grace).to_string();
                let out = t.run(
                    &Cmd::argv(docker::run(&self.image, &base))
                        .with_timeout(Duration::from_secs(120)),
                    em,
                )?;
                if !out.success() {
                    let err = out.stderr_str();
                    // Another deploy to this server started it meanwhile: use it.
                    if !(err.contains("Conflict") || err.contains("already in use")) {
                        // Leave no half-created container of ours behind.
                        let _ = t.run(&Cmd::argv(docker::rm()), em);
                        return Err(docker_err(t, "docker run arcane-proxy", &out));
                    }
                }
            }
        }
        self.ensure_base(t, em)
    }

    fn switch(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        route: &Route,
        drain: Duration,
    ) -> Result<(), ProxyError> {
        validate(route)?;
        let id = route.id();
        let (edge, router) = (self.edge(t, em), self.router(t, em));
        // Where the old upstreams are, to watch them drain after the switch.
        let servers = self.servers(&router)?;
        let old: Vec<String> = locate(&servers, &id)
            .and_then(|(s, i)| parse_route(&servers[&s]["routes"][i]))
            .map(|r| r.upstreams)
            .unwrap_or_default()
            .into_iter()
            .filter(|u| !route.upstreams.contains(u))
            .collect();
        let old_addrs = self.resolve(t, em, &old)?;
        let started = Instant::now();
        // Router first: when the edge starts forwarding a new host, the router
        // already knows where it goes.
        let want = router_route_json(route);
        self.put_route(&router, ROUTER_SERVER, &want)?;
        // The edge only changes when hosts or TLS change (never on a plain deploy).
        self.sync_tls_policy(&edge, route)?;
        self.put_route(&edge, server_for(route.tls), &edge_route_json(route))?;
        // Caddy answers a config change once the new config is serving.
        let now = router.get_json(&format!("/id/{id}"))?;
        if now.as_ref() != Some(&want) {
            return Err(ProxyError::NotSwitched {
                server: t.name().to_string(),
                id,
                expected: route.upstreams.join(", "),
            });
        }
        let switched = started.elapsed();
        let left = self.drain(t, em, &old_addrs, drain.saturating_sub(switched))?;
        if left > 0 {
            em.warn(format!(
                "{id}: {left} connection(s) to the old upstreams still open after the {}s drain timeout",
                drain.as_secs()
            ));
        }
        em.info(format!(
            "{id} now serves {} (switched in {} ms)",
            route.upstreams.join(", "),
            switched.as_millis()
        ));
        Ok(())
    }

    fn remove(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        app: &str,
        env: &str,
    ) -> Result<(), ProxyError> {
        let id = super::route_id(app, env);
        let edge = self.edge(t, em);
        // Edge first, so no host is forwarded to a router that forgot it.
        self.remove_id(&edge, &id)?;
        self.remove_id(&edge, &tls_policy_id(&id))?;
        self.remove_id(&self.router(t, em), &id)
    }

    fn routes(&self, t: &dyn Transport, em: &Emitter) -> Result<Vec<Route>, ProxyError> {
        let edge = self.servers(&self.edge(t, em))?;
        let router = self.servers(&self.router(t, em))?;
        let mut out: Vec<Route> = router[ROUTER_SERVER]["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(parse_route)
            // Only routes the edge also forwards are live.
            .filter(|r| locate(&edge, &r.id()).is_some())
            .collect();
        out.sort_by(|a, b| (&a.app, &a.env).cmp(&(&b.app, &b.env)));
        Ok(out)
    }

    fn status(&self, t: &dyn Transport, em: &Emitter) -> Result<ProxyStatus, ProxyError> {
        Ok(match inspect(t, em)? {
            None => ProxyStatus {
                state: "missing".into(),
                image: None,
                routes: vec![],
            },
            Some((state, image)) => {
                let routes = if state == "running" {
                    self.routes(t, em)?
                } else {
                    vec![]
                };
                ProxyStatus {
                    state,
                    image: Some(image),
                    routes,
                }
            }
        })
    }

    fn reboot(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError> {
        // Keep the live configs in memory as well as in the autosave volume:
        // if the volume was lost, the routes still come back.
        let saved = match inspect(t, em)? {
            Some((state, _)) if state == "running" => Some((
                self.edge(t, em)
                    .get_json("/config/")?
                    .unwrap_or(Value::Null),
                self.router(t, em)
                    .get_json("/config/")?
                    .unwrap_or(Value::Null),
            )),
            _ => None,
        };
        if inspect(t, em)?.is_some() {
            run_ok(
                t,
                em,
                docker::stop(self.grace.as_secs().max(1)),
                "docker stop arcane-proxy",
            )?;
            run_ok(t, em, docker::rm(), "docker rm arcane-proxy")?;
        }
        self.ensure(t, em)?;
        if let Some((edge_cfg, router_cfg)) = saved {
            for (admin, cfg) in [
                (self.router(t, em), router_cfg),
                (self.edge(t, em), edge_cfg),
            ] {
                let now = admin.get_json("/config/")?.unwrap_or(Value::Null);
                if count_routes(&now) < count_routes(&cfg) {
                    em.warn("the proxy came back without its autosaved config; restoring the routes it had");
                    admin.expect_ok(&Request::with_json("POST", "/load", &cfg))?;
                }
            }
        }
        Ok(())
    }

    fn logs(&self, t: &dyn Transport, em: &Emitter, tail: usize) -> Result<(), ProxyError> {
        let status = t.stream(&Cmd::argv(docker::logs(tail)), em, &|| false)?;
        if status != 0 {
            if inspect(t, em)?.is_none() {
                return Err(ProxyError::NotRunning {
                    server: t.name().to_string(),
                });
            }
            return Err(ProxyError::Docker {
                server: t.name().to_string(),
                what: "docker logs arcane-proxy".into(),
                status,
                stderr: String::new(),
            });
        }
        Ok(())
    }
}
