//! Changing the running configs through the two admin APIs: arcane's base
//! servers, one route, one TLS policy, each changed alone.

use super::config::{locate, merge_base, merge_router_base, tls_policy_id, tls_policy_json};
use super::Caddy;
use crate::event::Emitter;
use crate::proxy::admin::Admin;
use crate::proxy::http::Request;
use crate::proxy::{ProxyError, Route};
use crate::remote::Transport;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

impl Caddy {
    /// Wait for an admin API after a (re)start.
    pub(super) fn wait_admin(&self, admin: &Admin) -> Result<Value, ProxyError> {
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
    pub(super) fn ensure_base(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError> {
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

    pub(super) fn servers(&self, admin: &Admin) -> Result<Value, ProxyError> {
        Ok(admin
            .get_json("/config/apps/http/servers/")?
            .unwrap_or(Value::Null))
    }

    /// Put the TLS automation policy of `r` in the state it needs.
    pub(super) fn sync_tls_policy(&self, edge: &Admin, r: &Route) -> Result<(), ProxyError> {
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
    pub(super) fn put_route(
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

    pub(super) fn remove_id(&self, admin: &Admin, id: &str) -> Result<(), ProxyError> {
        let path = format!("/id/{id}");
        if admin.get_json(&path)?.is_some() {
            admin.expect_ok(&Request::delete(path))?;
        }
        Ok(())
    }
}
