//! Caddy's JSON, generated and read back by pure functions (unit-tested):
//! the base configs of the edge and the router, one app's route in each, its
//! TLS policy, validation of what Caddy would choke on, and merging arcane's
//! servers into a config that may hold the user's own.

use super::{EDGE_ADMIN, HTTPS_SERVER, HTTP_SERVER, ROUTER_ADDR, ROUTER_ADMIN, ROUTER_SERVER};
use crate::config::Tls;
use crate::proxy::{ProxyError, Route};
use serde_json::{json, Value};
use std::time::Duration;

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
pub(super) fn locate(servers: &Value, id: &str) -> Option<(String, usize)> {
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

/// How many routes a config holds, over all its servers.
pub(super) fn count_routes(cfg: &Value) -> usize {
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
