//! The edge proxy (Caddy by default) behind a `Proxy` trait: health-gated
//! cutover of one app's route at a time.
//!
//! One proxy container per server (`arcane-proxy`) on the docker network
//! `arcane`, publishing 80 and 443, serves every app deployed to that server.
//! Each app+env owns exactly one route, identified as `arcane-<app>-<env>`; a
//! deploy only ever rewrites its own route, so deploying one app never touches
//! another's traffic. The trait keeps the deploy engine independent of Caddy so
//! a Traefik backend can be added later (see docs/proxy.md).

mod admin;
pub mod caddy;
pub mod docker;
mod http;

use crate::config::{ProjectConfig, Tls};
use crate::event::Emitter;
use crate::remote::{RemoteError, Transport};
use serde::Serialize;
use std::time::Duration;

pub use caddy::Caddy;

/// The docker network the proxy and every proxied app container join.
pub const NETWORK: &str = "arcane";
/// The proxy container's name on every server.
pub const CONTAINER: &str = "arcane-proxy";

/// One app+env's route: which host names go to which upstreams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub app: String,
    pub env: String,
    pub hosts: Vec<String>,
    /// `container-name:port` on the docker network `arcane`.
    pub upstreams: Vec<String>,
    pub health_path: String,
    pub tls: Tls,
}

impl Route {
    /// The route for `env` of the project, pointing at `upstreams`.
    pub fn for_project(cfg: &ProjectConfig, env: &str, upstreams: Vec<String>) -> Option<Route> {
        let p = cfg.proxy.as_ref()?;
        Some(Route {
            app: cfg.app.name.clone(),
            env: env.to_string(),
            hosts: p.hosts.clone(),
            upstreams,
            health_path: p
                .health_path
                .clone()
                .unwrap_or_else(|| cfg.health.path.clone()),
            tls: p.tls,
        })
    }

    /// The stable identifier of this route in the proxy (`@id` in Caddy).
    pub fn id(&self) -> String {
        route_id(&self.app, &self.env)
    }
}

/// `arcane-<app>-<env>`: app and env names are validated (`[a-z0-9_-]`), so
/// the id is safe in a URL path.
pub fn route_id(app: &str, env: &str) -> String {
    format!("arcane-{app}-{env}")
}

/// The running proxy as seen by `arcane proxy status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyStatus {
    /// `running`, `exited`, `missing`...
    pub state: String,
    pub image: Option<String>,
    pub routes: Vec<Route>,
}

/// What can go wrong talking to a proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A docker command on the server failed.
    #[error("{server}: {what} failed (exit {status}): {stderr}")]
    Docker {
        server: String,
        what: String,
        status: i32,
        stderr: String,
    },
    /// The admin API answered with an error.
    #[error("{server}: proxy admin API {method} {path} returned {status}: {body}")]
    Admin {
        server: String,
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    /// The admin API could not be reached or answered garbage.
    #[error("{server}: cannot talk to the proxy admin API: {reason}")]
    Unreachable { server: String, reason: String },
    /// The proxy container is not running where it has to be.
    #[error("{server}: the proxy is not running; start it with `arcane proxy boot`")]
    NotRunning { server: String },
    /// A route that cannot be served (bad host name, no upstream...).
    #[error("invalid route {id}: {reason}")]
    InvalidRoute { id: String, reason: String },
    /// The proxy did not serve the new upstreams after the switch.
    #[error("{server}: the proxy still does not serve {id} from {expected} after the switch")]
    NotSwitched {
        server: String,
        id: String,
        expected: String,
    },
}

impl crate::error::HasKind for ProxyError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            ProxyError::InvalidRoute { .. } => crate::error::ErrorKind::Input,
            _ => crate::error::ErrorKind::Failed,
        }
    }
}

/// An edge proxy that can route host names to app containers and switch a
/// route to new upstreams without dropping requests.
pub trait Proxy: Send + Sync {
    /// Start the proxy container (`arcane-proxy`, network `arcane`, ports
    /// 80/443, admin API reachable only from inside its own container) if not
    /// running; idempotent. Creates the network if missing.
    fn ensure(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError>;

    /// Point this app+env's route at `route.upstreams`, touching no other
    /// route; returns when the proxy serves the new upstreams. Then drains:
    /// waits until in-flight requests to the old upstreams finish or `drain`
    /// passes.
    fn switch(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        route: &Route,
        drain: Duration,
    ) -> Result<(), ProxyError>;

    /// Remove this app+env's route (and nothing else).
    fn remove(
        &self,
        t: &dyn Transport,
        em: &Emitter,
        app: &str,
        env: &str,
    ) -> Result<(), ProxyError>;

    /// Every route arcane manages on this proxy.
    fn routes(&self, t: &dyn Transport, em: &Emitter) -> Result<Vec<Route>, ProxyError>;

    /// Container state, image and routes (for `arcane proxy status`).
    fn status(&self, t: &dyn Transport, em: &Emitter) -> Result<ProxyStatus, ProxyError>;

    /// Recreate the proxy container (picking up a new image) keeping every
    /// app's routes and certificates.
    fn reboot(&self, t: &dyn Transport, em: &Emitter) -> Result<(), ProxyError>;

    /// The proxy container's last `tail` log lines, emitted as `Log` events.
    fn logs(&self, t: &dyn Transport, em: &Emitter, tail: usize) -> Result<(), ProxyError>;
}

/// The proxy a project asks for, or `None` when arcane.toml has no `[proxy]`.
pub fn for_project(cfg: &ProjectConfig) -> Option<Box<dyn Proxy>> {
    let p = cfg.proxy.as_ref()?;
    Some(Box::new(Caddy::new(
        p.image.clone(),
        Duration::from_secs(p.drain_timeout),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_come_from_the_project_config() {
        let cfg: ProjectConfig = toml::from_str(
            r#"
            [app]
            name = "web"
            [health]
            path = "/up"
            [proxy]
            hosts = ["web.example.com"]
            app_port = 3000
            tls = "internal"
            "#,
        )
        .unwrap();
        let r =
            Route::for_project(&cfg, "staging", vec!["web-staging-web-abc:3000".into()]).unwrap();
        assert_eq!(r.id(), "arcane-web-staging");
        assert_eq!(r.health_path, "/up");
        assert_eq!(r.tls, Tls::Internal);
        assert!(for_project(&cfg).is_some());
        let mut no_proxy = cfg.clone();
        no_proxy.proxy = None;
        assert!(for_project(&no_proxy).is_none());
        assert!(Route::for_project(&no_proxy, "staging", vec![]).is_none());
    }
}
