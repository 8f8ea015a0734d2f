//! The Caddy backend: JSON config generation (pure, unit-tested) and the
//! `Proxy` implementation that drives the admin API.
//!
//! Layout of the config arcane owns (other keys a user adds are left alone):
//!
//! * `apps.http.servers.arcane-https` listens on `:443` and holds the routes
//!   of apps with `tls = "auto"` or `"internal"`; Caddy's automatic HTTPS gets
//!   certificates for their hosts and redirects port 80 to 443.
//! * `apps.http.servers.arcane-http` listens on `:80` and holds the routes of
//!   apps with `tls = "off"`.
//! * One route per app+env, `@id` = `arcane-<app>-<env>`; its first handler is
//!   a `vars` handler carrying `arcane.app`/`arcane.env`/`arcane.tls`, so
//!   `routes()` can read the route back without guessing from the id.
//! * `tls = "internal"` adds an automation policy `@id` =
//!   `arcane-<app>-<env>-tls` using Caddy's internal CA for those hosts.
//!
//! A deploy changes exactly one route with `PATCH /id/arcane-<app>-<env>`.

use super::admin::Admin;
use super::http::Request;
use super::{docker, ProxyError, ProxyStatus, Route};
use crate::config::Tls;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub const HTTPS_SERVER: &str = "arcane-https";
pub const HTTP_SERVER: &str = "arcane-http";

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

    fn admin<'a>(&self, t: &'a dyn Transport, em: &'a Emitter) -> Admin<'a> {
        // A config change returns once the old config drained (up to `grace`).
        Admin::new(t, em, self.grace + Duration::from_secs(60))
    }
}

// ---------------------------------------------------------------------------
// Pure config generation
// ---------------------------------------------------------------------------

/// The config a fresh proxy starts with: two empty servers, no routes.
pub fn base_config(grace: Duration) -> Value {
    json!({
        "admin": { "listen": "localhost:2019" },
        "apps": {
            "http": {
                "grace_period": format!("{}s", grace.as_secs().max(1)),
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

/// The route object for one app+env.
///
/// * `try_duration`: if an upstream refuses a connection (a container that
///   is being replaced), Caddy retries for up to 5 s instead of answering 502,
///   so a request never fails because of the cutover itself.
/// * An active health check on `health_path` takes a failing upstream out of
///   rotation between deploys; upstreams are healthy until a check fails, so
///   a freshly switched route serves at once (the deploy engine has already
///   health-checked the new containers).
pub fn route_json(r: &Route) -> Value {
    let upstreams: Vec<Value> = r.upstreams.iter().map(|u| json!({ "dial": u })).collect();
    json!({
        "@id": r.id(),
        "match": [{ "host": r.hosts }],
        "handle": [
            {
                "handler": "vars",
                "arcane.app": r.app,
                "arcane.env": r.env,
                "arcane.tls": tls_name(r.tls),
            },
            {
                "handler": "reverse_proxy",
                "upstreams": upstreams,
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
    let base = base_config(grace);
    if !cfg.is_object() {
        *cfg = base;
        return true;
    }
    let mut changed = false;
    let paths: [&[&str]; 4] = [
        &["apps", "http", "servers", HTTPS_SERVER],
        &["apps", "http", "servers", HTTP_SERVER],
        &["apps", "tls", "automation", "policies"],
        &["apps", "pki"],
    ];
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
    /// Wait for the admin API after a (re)start.
    fn wait_admin(&self, t: &dyn Transport, em: &Emitter) -> Result<Value, ProxyError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.admin(t, em).get_json("/config/") {
                Ok(v) => return Ok(v.unwrap_or(Value::Null)),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// Make sure arcane's servers exist in the running config.
    fn ensure_base(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        mut cfg: Value,
    ) -> Result<(), ProxyError> {
        if merge_base(&mut cfg, self.grace) {
            self.admin(t, em)
                .expect_ok(&Request::with_json("POST", "/load", &cfg))?;
        }
        Ok(())
    }

    fn servers(&self, t: &dyn Transport, em: &Emitter) -> Result<Value, ProxyError> {
        Ok(self
            .admin(t, em)
            .get_json("/config/apps/http/servers/")?
            .unwrap_or(Value::Null))
    }

    /// Put the TLS automation policy of `r` in the state it needs.
    fn sync_tls_policy(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        r: &Route,
    ) -> Result<(), ProxyError> {
        let admin = self.admin(t, em);
        let id = tls_policy_id(&r.id());
        let current = admin.get_json(&format!("/id/{id}"))?;
        match (tls_policy_json(r), current) {
            (None, None) => {}
            (None, Some(_)) => {
                admin.expect_ok(&Request::delete(format!("/id/{id}")))?;
            }
            (Some(want), Some(have)) if want == have => {}
            (Some(want), Some(_)) => {
                admin.expect_ok(&Request::with_json("PATCH", format!("/id/{id}"), &want))?;
            }
            (Some(want), None) => {
                admin.expect_ok(&Request::with_json(
                    "POST",
                    "/config/apps/tls/automation/policies",
                    &want,
                ))?;
            }
        }
        Ok(())
    }

    /// Wait until no request is in flight to any of `old` (or `drain` passes).
    /// Returns how many requests were still in flight when it gave up.
    fn drain(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        old: &[String],
        drain: Duration,
    ) -> Result<u64, ProxyError> {
        if old.is_empty() {
            return Ok(0);
        }
        let deadline = Instant::now() + drain;
        loop {
            let pool = self
                .admin(t, em)
                .get_json("/reverse_proxy/upstreams")?
                .unwrap_or(Value::Null);
            let busy: u64 = pool
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|u| {
                            u["address"]
                                .as_str()
                                .is_some_and(|s| old.iter().any(|o| o == s))
                        })
                        .map(|u| u["num_requests"].as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
            if busy == 0 || Instant::now() >= deadline {
                return Ok(busy);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
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
                run_ok(t, em, docker::run(&self.image), "docker run arcane-proxy")?;
            }
        }
        let cfg = self.wait_admin(t, em)?;
        self.ensure_base(t, em, cfg)
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
        let want = route_json(route);
        let target = server_for(route.tls);
        let servers = self.servers(t, em)?;
        if servers.get(target).is_none() {
            return Err(ProxyError::NotRunning {
                server: t.name().to_string(),
            });
        }
        let located = locate(&servers, &id);
        let old: Vec<String> = located
            .as_ref()
            .and_then(|(s, i)| parse_route(&servers[s]["routes"][*i]))
            .map(|r| r.upstreams)
            .unwrap_or_default();
        self.sync_tls_policy(t, em, route)?;
        let admin = self.admin(t, em);
        let started = Instant::now();
        match &located {
            Some((s, i)) if s == target => {
                if servers[s]["routes"][*i] != want {
                    // The hot path of every deploy: one PATCH of this route only.
                    admin.expect_ok(&Request::with_json("PATCH", format!("/id/{id}"), &want))?;
                }
            }
            Some(_) => {
                // The TLS mode changed, so the route moves between servers. Two
                // calls (DELETE then POST) would leave a moment with no route;
                // one /load of the edited config moves it atomically.
                let mut cfg = admin.get_json("/config/")?.unwrap_or(Value::Null);
                for srv in [HTTPS_SERVER, HTTP_SERVER] {
                    if let Some(routes) =
                        cfg["apps"]["http"]["servers"][srv]["routes"].as_array_mut()
                    {
                        routes.retain(|r| r["@id"] != id.as_str());
                    }
                }
                match cfg["apps"]["http"]["servers"][target]["routes"].as_array_mut() {
                    Some(routes) => routes.push(want.clone()),
                    None => {
                        cfg["apps"]["http"]["servers"][target]["routes"] = json!([want.clone()])
                    }
                }
                admin.expect_ok(&Request::with_json("POST", "/load", &cfg))?;
            }
            None => {
                admin.expect_ok(&Request::with_json(
                    "POST",
                    format!("/config/apps/http/servers/{target}/routes"),
                    &want,
                ))?;
            }
        }
        // Caddy answers a config change once the new config is serving.
        let now = admin.get_json(&format!("/id/{id}"))?;
        if now.as_ref() != Some(&want) {
            return Err(ProxyError::NotSwitched {
                server: t.name().to_string(),
                id,
                expected: route.upstreams.join(", "),
            });
        }
        let switched = started.elapsed();
        let old: Vec<String> = old
            .into_iter()
            .filter(|u| !route.upstreams.contains(u))
            .collect();
        let left = self.drain(t, em, &old, drain.saturating_sub(switched))?;
        if left > 0 {
            em.warn(format!(
                "{id}: {left} request(s) to the old upstreams still running after the {}s drain timeout",
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
        let admin = self.admin(t, em);
        let id = super::route_id(app, env);
        for path in [format!("/id/{id}"), format!("/id/{}", tls_policy_id(&id))] {
            if admin.get_json(&path)?.is_some() {
                admin.expect_ok(&Request::delete(path))?;
            }
        }
        Ok(())
    }

    fn routes(&self, t: &dyn Transport, em: &Emitter) -> Result<Vec<Route>, ProxyError> {
        let servers = self.servers(t, em)?;
        let mut out: Vec<Route> = servers
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|srv| srv["routes"].as_array())
            .flatten()
            .filter_map(parse_route)
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
        // Keep the live config in memory as well as in the autosave volume: if
        // the volume was lost, the routes still come back.
        let saved = match inspect(t, em)? {
            Some((state, _)) if state == "running" => self.admin(t, em).get_json("/config/")?,
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
        if let Some(saved) = saved {
            let before = count_routes(&saved);
            let now = self
                .admin(t, em)
                .get_json("/config/")?
                .unwrap_or(Value::Null);
            if count_routes(&now) < before {
                em.warn(
                    "the proxy came back without its autosaved config; restoring the routes it had",
                );
                self.admin(t, em)
                    .expect_ok(&Request::with_json("POST", "/load", &saved))?;
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
        let j = route_json(&r);
        assert_eq!(
            j,
            json!({
                "@id": "arcane-web-staging",
                "match": [{"host": ["web.example.com"]}],
                "handle": [
                    {"handler": "vars", "arcane.app": "web", "arcane.env": "staging", "arcane.tls": "off"},
                    {"handler": "reverse_proxy",
                     "upstreams": [{"dial": "web-staging-web-abc1234:8080"}],
                     "load_balancing": {"selection_policy": {"policy": "round_robin"},
                                        "try_duration": "5s", "try_interval": "100ms"},
                     "health_checks": {"active": {"uri": "/health", "interval": "5s", "timeout": "3s"}}}
                ],
                "terminal": true
            })
        );
        assert_eq!(parse_route(&j), Some(r));
        let i = route(Tls::Internal);
        assert_eq!(parse_route(&route_json(&i)), Some(i.clone()));
        assert_eq!(server_for(Tls::Off), HTTP_SERVER);
        assert_eq!(server_for(Tls::Auto), HTTPS_SERVER);
        // Routes arcane did not write are ignored.
        assert_eq!(
            parse_route(&json!({"handle": [{"handler": "file_server"}]})),
            None
        );
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
            "arcane-http": {"listen": [":80"], "routes": [route_json(&route(Tls::Off))]},
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
    fn locate_finds_a_route_by_id() {
        let servers = json!({
            "arcane-https": {"routes": []},
            "arcane-http": {"routes": [{"@id": "x"}, route_json(&route(Tls::Off))]}
        });
        assert_eq!(
            locate(&servers, "arcane-web-staging"),
            Some(("arcane-http".into(), 1))
        );
        assert_eq!(locate(&servers, "nope"), None);
    }
}
