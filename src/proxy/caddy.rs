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

use super::admin::Admin;
use super::http::Request;
use super::{docker, ProxyError, ProxyStatus, Route};
use crate::config::Tls;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use serde_json::{json, Value};
use std::net::{Ipv4Addr, SocketAddrV4};
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

// ---------------------------------------------------------------------------
// Pure config generation
// ---------------------------------------------------------------------------

fn grace_str(grace: Duration) -> String {
    format!("{}s", grace.as_secs().max(1))
}

/// The router's first config: one server on the container's loopback, no
/// automatic HTTPS (the edge terminates TLS), no routes.
pub fn router_base_config(grace: Duration) -> Value {
    json!({
        "admin": { "listen": format!("localhost:{ROUTER_ADMIN}") },
        "apps": {
            "http": {
                "grace_period": grace_str(grace),
                "servers": {
                    ROUTER_SERVER: {
                        "listen": [ROUTER_ADDR],
                        "automatic_https": { "disable": true },
                        "routes": []
                    }
                }
            }
        }
    })
}

/// The edge's first config: two empty servers, no routes.
pub fn base_config(grace: Duration) -> Value {
    json!({
        "admin": { "listen": format!("localhost:{EDGE_ADMIN}") },
        "apps": {
            "http": {
                "grace_period": grace_str(grace),
                "servers": {
                    HTTPS_SERVER: { "listen": [":443"], "routes": [] },
                    HTTP_SERVER: { "listen": [":80"], "routes": [] },
                }
            },
            "tls": { "automation": { "policies": [] } },
            // Never try to install the internal CA into the container's trust store.
            "pki": { "certificate_authorities": { "local": { "install_trust": false } } }
        }
    })
}

/// Which server holds a route with this TLS mode.
pub fn server_for(tls: Tls) -> &'static str {
    match tls {
        Tls::Off => HTTP_SERVER,
        Tls::Auto | Tls::Internal => HTTPS_SERVER,
    }
}

fn tls_name(tls: Tls) -> &'static str {
    match tls {
        Tls::Auto => "auto",
        Tls::Internal => "internal",
        Tls::Off => "off",
    }
}

fn vars(r: &Route) -> Value {
    json!({
        "handler": "vars",
        "arcane.app": r.app,
        "arcane.env": r.env,
        "arcane.tls": tls_name(r.tls),
    })
}

/// The edge route for one app+env: its hosts, forwarded to the router.
///
/// Keep-alive to the router is off on purpose: every edge-to-router
/// connection carries one request, so when the router reloads it has no idle
/// connection to close under a request (see the module docs). The cost is a
/// loopback TCP connect per request. `try_duration` rides out a router restart.
pub fn edge_route_json(r: &Route) -> Value {
    json!({
        "@id": r.id(),
        "match": [{ "host": r.hosts }],
        "handle": [
            vars(r),
            {
                "handler": "reverse_proxy",
                "upstreams": [{ "dial": ROUTER_ADDR }],
                "transport": { "protocol": "http", "keep_alive": { "enabled": false } },
                "load_balancing": { "try_duration": "5s", "try_interval": "100ms" }
            }
        ],
        "terminal": true
    })
}

/// The router route for one app+env: its hosts, to its current upstreams.
///
/// * `try_duration`: if an upstream refuses a connection (a container that
///   is being replaced), Caddy retries for up to 5 s instead of answering 502,
///   so a request never fails because of the cutover itself.
/// * An active health check on `health_path` takes a failing upstream out of
///   rotation between deploys; upstreams are healthy until a check fails, so
///   a freshly switched route serves at once (the deploy engine has already
///   health-checked the new containers).
pub fn router_route_json(r: &Route) -> Value {
    let upstreams: Vec<Value> = r.upstreams.iter().map(|u| json!({ "dial": u })).collect();
    json!({
        "@id": r.id(),
        "match": [{ "host": r.hosts }],
        "handle": [
            vars(r),
            {
                "handler": "reverse_proxy",
                "upstreams": upstreams,
                // Keep the client address the edge put in X-Forwarded-For.
                "trusted_proxies": ["127.0.0.1/32"],
                "load_balancing": {
                    "selection_policy": { "policy": "round_robin" },
                    "try_duration": "5s",
                    "try_interval": "100ms"
                },
                "health_checks": {
                    "active": {
                        "uri": r.health_path,
                        "interval": "5s",
                        "timeout": "3s"
                    }
                }
            }
        ],
        "terminal": true
    })
}

/// The TLS automation policy a route needs (only `internal` needs one).
pub fn tls_policy_json(r: &Route) -> Option<Value> {
    match r.tls {
        Tls::Internal => Some(json!({
            "@id": tls_policy_id(&r.id()),
            "subjects": r.hosts,
            "issuers": [{ "module": "internal" }]
        })),
        Tls::Auto | Tls::Off => None,
    }
}

pub fn tls_policy_id(route_id: &str) -> String {
    format!("{route_id}-tls")
}

/// Read a route arcane wrote back into a `Route`; `None` for routes it does
/// not manage.
pub fn parse_route(v: &Value) -> Option<Route> {
    let handle = v.get("handle")?.as_array()?;
    let vars = handle
        .iter()
        .find(|h| h["handler"] == "vars" && h.get("arcane.app").is_some())?;
    let rp = handle.iter().find(|h| h["handler"] == "reverse_proxy")?;
    let s = |v: &Value| v.as_str().map(str::to_string);
    let tls = match vars["arcane.tls"].as_str()? {
        "auto" => Tls::Auto,
        "internal" => Tls::Internal,
        "off" => Tls::Off,
        _ => return None,
    };
    Some(Route {
        app: s(&vars["arcane.app"])?,
        env: s(&vars["arcane.env"])?,
        hosts: v["match"][0]["host"]
            .as_array()
            .map(|a| a.iter().filter_map(s).collect())
            .unwrap_or_default(),
        upstreams: rp["upstreams"]
            .as_array()
            .map(|a| a.iter().filter_map(|u| s(&u["dial"])).collect())
            .unwrap_or_default(),
        health_path: s(&rp["health_checks"]["active"]["uri"]).unwrap_or_default(),
        tls,
    })
}

/// Refuse routes Caddy would reject or that would capture other apps' traffic.
pub fn validate(r: &Route) -> Result<(), ProxyError> {
    let bad = |reason: String| Err(ProxyError::InvalidRoute { id: r.id(), reason });
    if !crate::config::is_valid_name(&r.app) || !crate::config::is_valid_name(&r.env) {
        return bad("app and env names must be lowercase letters, digits, '-' or '_'".into());
    }
    if r.hosts.is_empty() {
        return bad("no host names ([proxy] hosts is empty)".into());
    }
    for h in &r.hosts {
        let name = h.strip_prefix("*.").unwrap_or(h);
        let ok = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return bad(format!(
                "{h:?} is not a host name (expected e.g. app.example.com)"
            ));
        }
    }
    if r.upstreams.is_empty() {
        return bad("no upstreams".into());
    }
    for u in &r.upstreams {
        let ok = u.rsplit_once(':').is_some_and(|(h, p)| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && p.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            return bad(format!("upstream {u:?} is not container-name:port"));
        }
    }
    if !r.health_path.starts_with('/') {
        return bad(format!(
            "health path {:?} must start with '/'",
            r.health_path
        ));
    }
    Ok(())
}

/// Where a route with `id` sits in the config: (server name, index).
fn locate(servers: &Value, id: &str) -> Option<(String, usize)> {
    servers.as_object()?.iter().find_map(|(name, srv)| {
        srv["routes"]
            .as_array()?
            .iter()
            .position(|r| r["@id"] == id)
            .map(|i| (name.clone(), i))
    })
}

/// Merge what arcane needs into an existing config without touching anything
/// else (other routes, user additions). Returns true if something changed.
pub fn merge_base(cfg: &mut Value, grace: Duration) -> bool {
    merge_into(
        cfg,
        base_config(grace),
        &[
            &["apps", "http", "servers", HTTPS_SERVER],
            &["apps", "http", "servers", HTTP_SERVER],
            &["apps", "tls", "automation", "policies"],
            &["apps", "pki"],
        ],
    )
}

/// The same for the router.
pub fn merge_router_base(cfg: &mut Value, grace: Duration) -> bool {
    merge_into(
        cfg,
        router_base_config(grace),
        &[&["apps", "http", "servers", ROUTER_SERVER]],
    )
}

fn merge_into(cfg: &mut Value, base: Value, paths: &[&[&str]]) -> bool {
    if !cfg.is_object() {
        *cfg = base;
        return true;
    }
    let mut changed = false;
    for path in paths {
        let mut cur = &mut *cfg;
        let mut src = &base;
        for (i, key) in path.iter().enumerate() {
            src = &src[*key];
            if cur.get(*key).is_none() {
                let fill = if i + 1 == path.len() {
                    src.clone()
                } else {
                    json!({})
                };
                cur[*key] = fill;
                changed = true;
            }
            cur = &mut cur[*key];
        }
    }
    if cfg["apps"]["http"].get("grace_period").is_none() {
        cfg["apps"]["http"]["grace_period"] = base["apps"]["http"]["grace_period"].clone();
        changed = true;
    }
    changed
}

/// Parse `docker container inspect` output (`/name ip ip...` per line) into
/// the addresses of `upstreams` (`(container, port)`).
pub fn parse_container_ips(out: &str, upstreams: &[(String, u16)]) -> Vec<SocketAddrV4> {
    let mut addrs = vec![];
    for line in out.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let name = name.trim_start_matches('/');
        let ips: Vec<Ipv4Addr> = words.filter_map(|w| w.parse().ok()).collect();
        for (h, port) in upstreams.iter().filter(|(h, _)| h == name) {
            let _ = h;
            addrs.extend(ips.iter().map(|ip| SocketAddrV4::new(*ip, *port)));
        }
    }
    addrs
}

/// Count ESTABLISHED sockets in `/proc/net/tcp` text whose remote end is one
/// of `to`. Addresses there are the raw network-order bytes printed as a
/// native (little-endian on x86 and arm64 servers) hex word; ports are hex.
pub fn established_to(proc_net_tcp: &str, to: &[SocketAddrV4]) -> usize {
    proc_net_tcp
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 4 || f[3] != "01" {
                return false;
            }
            let Some((ip, port)) = f[2].split_once(':') else {
                return false;
            };
            let (Ok(ip), Ok(port)) = (u32::from_str_radix(ip, 16), u16::from_str_radix(port, 16))
            else {
                return false;
            };
            let remote = SocketAddrV4::new(Ipv4Addr::from(ip.to_le_bytes()), port);
            to.contains(&remote)
        })
        .count()
}

// ---------------------------------------------------------------------------
// The Proxy implementation
// ---------------------------------------------------------------------------

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

impl Caddy {
    /// Wait for an admin API after a (re)start.
    fn wait_admin(&self, admin: &Admin) -> Result<Value, ProxyError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match admin.get_json("/config/") {
                Ok(v) => return Ok(v.unwrap_or(Value::Null)),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Make sure arcane's servers exist in both running configs.
    fn ensure_base(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError> {
        let edge = self.edge(t, em);
        let mut cfg = self.wait_admin(&edge)?;
        if merge_base(&mut cfg, self.grace) {
            edge.expect_ok(&Request::with_json("POST", "/load", &cfg))?;
        }
        let router = self.router(t, em);
        let mut cfg = self.wait_admin(&router)?;
        if merge_router_base(&mut cfg, self.grace) {
            router.expect_ok(&Request::with_json("POST", "/load", &cfg))?;
        }
        Ok(())
    }

    fn servers(&self, admin: &Admin) -> Result<Value, ProxyError> {
        Ok(admin
            .get_json("/config/apps/http/servers/")?
            .unwrap_or(Value::Null))
    }

    /// Put the TLS automation policy of `r` in the state it needs.
    fn sync_tls_policy(&self, edge: &Admin, r: &Route) -> Result<(), ProxyError> {
        let id = tls_policy_id(&r.id());
        // Read the list rather than GET /id/..: a 404 per deploy would fill
        // the proxy log with errors.
        let policies = edge
            .get_json("/config/apps/tls/automation/policies")?
            .unwrap_or(Value::Null);
        let current = policies
            .as_array()
            .and_then(|a| a.iter().find(|p| p["@id"] == id.as_str()).cloned());
        match (tls_policy_json(r), current) {
            (None, None) => {}
            (None, Some(_)) => {
                edge.expect_ok(&Request::delete(format!("/id/{id}")))?;
            }
            (Some(want), Some(have)) if want == have => {}
            (Some(want), Some(_)) => {
                edge.expect_ok(&Request::with_json("PATCH", format!("/id/{id}"), &want))?;
            }
            (Some(want), None) => {
                edge.expect_ok(&Request::with_json(
                    "POST",
                    "/config/apps/tls/automation/policies",
                    &want,
                ))?;
            }
        }
        Ok(())
    }

    /// Make `want` (a route with `@id` = `id`) live in `target` of this admin
    /// API, changing nothing else. Returns the route it replaced, if any.
    fn put_route(
        &self,
        admin: &Admin,
        target: &str,
        want: &Value,
    ) -> Result<Option<Value>, ProxyError> {
        let id = want["@id"].as_str().unwrap_or_default().to_string();
        let servers = self.servers(admin)?;
        if servers.get(target).is_none() {
            return Err(ProxyError::NotRunning {
                server: admin.server().to_string(),
            });
        }
        let located = locate(&servers, &id);
        let previous = located
            .as_ref()
            .map(|(s, i)| servers[s]["routes"][*i].clone());
        match &located {
            Some((s, i)) if s == target => {
                if &servers[s]["routes"][*i] != want {
                    // The hot path of every deploy: one PATCH of this route only.
                    admin.expect_ok(&Request::with_json("PATCH", format!("/id/{id}"), want))?;
                }
            }
            Some(_) => {
                // The TLS mode changed, so the route moves between servers. Two
                // calls (DELETE then POST) would leave a moment with no route;
                // one /load of the edited config moves it atomically.
                let mut cfg = admin.get_json("/config/")?.unwrap_or(Value::Null);
                if let Some(all) = cfg["apps"]["http"]["servers"].as_object_mut() {
                    for srv in all.values_mut() {
                        if let Some(routes) = srv["routes"].as_array_mut() {
                            routes.retain(|r| r["@id"] != id.as_str());
                        }
                    }
                }
                match cfg["apps"]["http"]["servers"][target]["routes"].as_array_mut() {
                    Some(routes) => routes.push(want.clone()),
                    None => cfg["apps"]["http"]["servers"][target]["routes"] = json!([want]),
                }
                admin.expect_ok(&Request::with_json("POST", "/load", &cfg))?;
            }
            None => {
                admin.expect_ok(&Request::with_json(
                    "POST",
                    format!("/config/apps/http/servers/{target}/routes"),
                    want,
                ))?;
            }
        }
        Ok(previous)
    }

    /// The `ip:port` addresses of upstreams (`container:port`) as the proxy
    /// dials them, looked up before the switch (the old containers keep their
    /// addresses while they drain).
    fn resolve(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        upstreams: &[String],
    ) -> Result<Vec<SocketAddrV4>, ProxyError> {
        let split: Vec<(String, u16)> = upstreams
            .iter()
            .filter_map(|u| {
                let (h, p) = u.rsplit_once(':')?;
                Some((h.to_string(), p.parse().ok()?))
            })
            .collect();
        if split.is_empty() {
            return Ok(vec![]);
        }
        let names: Vec<String> = split.iter().map(|(h, _)| h.clone()).collect();
        let out = t.run(
            &Cmd::argv(docker::container_ips(&names)).with_timeout(Duration::from_secs(30)),
            em,
        )?;
        // A missing old container has nothing to drain; inspect still prints
        // the ones that exist.
        Ok(parse_container_ips(&out.stdout_str(), &split))
    }

    /// Wait until the proxy has no connection open to any of `old` (every
    /// request in flight to the old version finished), or `drain` passes.
    /// Returns how many connections were still open when it gave up.
    ///
    /// Counting sockets in the proxy container is exact and does not depend
    /// on Caddy's internals: the old config's idle keep-alive connections to
    /// an old upstream are closed as soon as it stops, and each request in
    /// flight holds its connection open until it completes.
    fn drain(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        old: &[SocketAddrV4],
        drain: Duration,
    ) -> Result<usize, ProxyError> {
        if old.is_empty() {
            return Ok(0);
        }
        let deadline = Instant::now() + drain;
        loop {
            let out = t.run(
                &Cmd::argv(docker::proc_net_tcp()).with_timeout(Duration::from_secs(30)),
                em,
            )?;
            if !out.success() {
                return Err(docker_err(t, "reading the proxy's connections", &out));
            }
            let open = established_to(&out.stdout_str(), old);
            if open == 0 || Instant::now() >= deadline {
                return Ok(open);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn remove_id(&self, admin: &Admin, id: &str) -> Result<(), ProxyError> {
        let path = format!("/id/{id}");
        if admin.get_json(&path)?.is_some() {
            admin.expect_ok(&Request::delete(path))?;
        }
        Ok(())
    }
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

fn count_routes(cfg: &Value) -> usize {
    cfg["apps"]["http"]["servers"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|s| s["routes"].as_array())
                .map(Vec::len)
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(tls: Tls) -> Route {
        Route {
            app: "web".into(),
            env: "staging".into(),
            hosts: vec!["web.example.com".into()],
            upstreams: vec!["web-staging-web-abc1234:8080".into()],
            health_path: "/health".into(),
            tls,
        }
    }

    #[test]
    fn route_json_is_exact_and_round_trips() {
        let r = route(Tls::Off);
        let j = router_route_json(&r);
        assert_eq!(
            j,
            json!({
                "@id": "arcane-web-staging",
                "match": [{"host": ["web.example.com"]}],
                "handle": [
                    {"handler": "vars", "arcane.app": "web", "arcane.env": "staging", "arcane.tls": "off"},
                    {"handler": "reverse_proxy",
                     "upstreams": [{"dial": "web-staging-web-abc1234:8080"}],
                     "trusted_proxies": ["127.0.0.1/32"],
                     "load_balancing": {"selection_policy": {"policy": "round_robin"},
                                        "try_duration": "5s", "try_interval": "100ms"},
                     "health_checks": {"active": {"uri": "/health", "interval": "5s", "timeout": "3s"}}}
                ],
                "terminal": true
            })
        );
        assert_eq!(parse_route(&j), Some(r));
        let i = route(Tls::Internal);
        assert_eq!(parse_route(&router_route_json(&i)), Some(i.clone()));
        assert_eq!(server_for(Tls::Off), HTTP_SERVER);
        assert_eq!(server_for(Tls::Auto), HTTPS_SERVER);
        // Routes arcane did not write are ignored.
        assert_eq!(
            parse_route(&json!({"handle": [{"handler": "file_server"}]})),
            None
        );
    }

    #[test]
    fn edge_routes_forward_to_the_router_without_keepalive() {
        let r = route(Tls::Auto);
        let e = edge_route_json(&r);
        assert_eq!(e["@id"], "arcane-web-staging");
        assert_eq!(e["match"][0]["host"][0], "web.example.com");
        assert_eq!(
            e["handle"][1],
            json!({"handler": "reverse_proxy",
                   "upstreams": [{"dial": "127.0.0.1:8081"}],
                   "transport": {"protocol": "http", "keep_alive": {"enabled": false}},
                   "load_balancing": {"try_duration": "5s", "try_interval": "100ms"}})
        );
        // The edge route does not depend on the upstreams: deploys never touch it.
        let mut r2 = r.clone();
        r2.upstreams = vec!["web-staging-web-def:8080".into()];
        assert_eq!(edge_route_json(&r2), e);
        let rb = router_base_config(Duration::from_secs(7));
        assert_eq!(rb["admin"]["listen"], "localhost:2020");
        assert_eq!(rb["apps"]["http"]["grace_period"], "7s");
        assert_eq!(
            rb["apps"]["http"]["servers"]["arcane-router"]["listen"][0],
            "127.0.0.1:8081"
        );
        let mut cfg = Value::Null;
        assert!(merge_router_base(&mut cfg, Duration::from_secs(7)));
        assert!(!merge_router_base(&mut cfg, Duration::from_secs(7)));
    }

    #[test]
    fn internal_tls_gets_its_own_policy() {
        assert_eq!(tls_policy_json(&route(Tls::Auto)), None);
        assert_eq!(tls_policy_json(&route(Tls::Off)), None);
        assert_eq!(
            tls_policy_json(&route(Tls::Internal)),
            Some(
                json!({"@id": "arcane-web-staging-tls", "subjects": ["web.example.com"],
                        "issuers": [{"module": "internal"}]})
            )
        );
    }

    #[test]
    fn validation_rejects_what_caddy_would_choke_on() {
        assert!(validate(&route(Tls::Off)).is_ok());
        let mut r = route(Tls::Off);
        r.hosts = vec!["*.example.com".into(), "a-b.c".into()];
        assert!(validate(&r).is_ok());
        for (f, bad) in [
            (0, "bad host/x"),
            (0, ""),
            (1, "noport"),
            (1, "x:0"),
            (1, "a b:80"),
            (2, "health"),
        ] {
            let mut r = route(Tls::Off);
            match f {
                0 => r.hosts = vec![bad.into()],
                1 => r.upstreams = vec![bad.into()],
                _ => r.health_path = bad.into(),
            }
            let e = validate(&r).unwrap_err().to_string();
            assert!(e.contains("arcane-web-staging"), "{e}");
        }
        let mut r = route(Tls::Off);
        r.upstreams.clear();
        assert!(validate(&r).is_err());
    }

    #[test]
    fn merge_base_keeps_foreign_config_and_routes() {
        let mut empty = Value::Null;
        assert!(merge_base(&mut empty, Duration::from_secs(30)));
        assert_eq!(empty, base_config(Duration::from_secs(30)));
        assert_eq!(empty["apps"]["http"]["grace_period"], "30s");
        assert!(
            !merge_base(&mut empty, Duration::from_secs(5)),
            "already complete"
        );

        let mut cfg = json!({"apps": {"http": {"servers": {
            "arcane-http": {"listen": [":80"], "routes": [router_route_json(&route(Tls::Off))]},
            "mine": {"listen": [":8081"]}
        }}}});
        assert!(merge_base(&mut cfg, Duration::from_secs(30)));
        assert_eq!(
            cfg["apps"]["http"]["servers"]["arcane-http"]["routes"][0]["@id"],
            "arcane-web-staging"
        );
        assert_eq!(cfg["apps"]["http"]["servers"]["mine"]["listen"][0], ":8081");
        assert_eq!(
            cfg["apps"]["http"]["servers"]["arcane-https"]["listen"][0],
            ":443"
        );
        assert!(cfg["apps"]["tls"]["automation"]["policies"].is_array());
        assert_eq!(count_routes(&cfg), 1);
    }

    #[test]
    fn drain_counts_established_connections_to_old_upstreams() {
        let ips = "/web-staging-web-abc 172.18.0.5 \n/other 172.18.0.9 10.0.0.2 \n";
        let old = parse_container_ips(ips, &[("web-staging-web-abc".into(), 8080)]);
        assert_eq!(old, vec!["172.18.0.5:8080".parse().unwrap()]);
        // Captured layout of /proc/net/tcp; 0500 12AC = 172.18.0.5, 1F90 = 8080.
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:07E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n\
           1: 020012AC:A1B2 050012AC:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n\
           2: 020012AC:A1B4 050012AC:1F90 06 00000000:00000000 03:00000F3A 00000000     0        0 0 3 0000000000000000\n\
           3: 020012AC:A1B6 090012AC:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            established_to(tcp, &old),
            1,
            "TIME_WAIT and other hosts do not count"
        );
        assert_eq!(established_to(tcp, &[]), 0);
        assert_eq!(parse_container_ips("", &[("x".into(), 1)]), vec![]);
    }

    #[test]
    fn locate_finds_a_route_by_id() {
        let servers = json!({
            "arcane-https": {"routes": []},
            "arcane-http": {"routes": [{"@id": "x"}, router_route_json(&route(Tls::Off))]}
        });
        assert_eq!(
            locate(&servers, "arcane-web-staging"),
            Some(("arcane-http".into(), 1))
        );
        assert_eq!(locate(&servers, "nope"), None);
    }
}
