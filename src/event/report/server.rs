//! Locks, the registry, `server check`/`trust`, `halt` and the proxy.

use serde::Serialize;

/// Who holds a deploy lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockHolder {
    /// `user@host`
    pub who: String,
    pub pid: u32,
    pub since: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerLock {
    pub server: String,
    pub held: bool,
    pub holder: Option<LockHolder>,
    /// Seconds since the last heartbeat.
    pub age_secs: Option<u64>,
    pub stale: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockReport {
    pub servers: Vec<ServerLock>,
}

/// A server as the registry lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerEntry {
    pub name: String,
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub env: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub identity_file: Option<String>,
    pub known_hosts: Option<String>,
    /// Its tailnet name, when arcane.toml has a `[network]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// How arcane reaches it: `host` or `tailnet`.
    pub connect: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerList {
    pub servers: Vec<ServerEntry>,
}

/// What `server check` found on one server.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ServerCheck {
    pub server: String,
    pub host: String,
    pub reachable: bool,
    pub auth: bool,
    pub arch: Option<String>,
    pub docker: Option<String>,
    pub docker_error: Option<String>,
    /// The compose CLI deploys use: `v2` (the docker plugin) or `v1`.
    pub compose: Option<String>,
    pub compose_version: Option<String>,
    pub disk_path: Option<String>,
    pub disk_free_bytes: Option<u64>,
    /// Docker is not installed at all: `server bootstrap` prepares it.
    #[serde(default)]
    pub needs_bootstrap: bool,
    /// Everything that stops a deploy here; empty when ready.
    pub problems: Vec<String>,
}

impl ServerCheck {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    /// `v2 2.24.0`, `v1 1.29.2`, or `missing`.
    pub fn compose(&self) -> String {
        match (&self.compose, &self.compose_version) {
            (Some(c), Some(v)) => format!("{c} {v}"),
            (Some(c), None) => c.clone(),
            (None, _) => "missing".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub servers: Vec<ServerCheck>,
}

/// What `server trust` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustReport {
    pub server: String,
    pub key_type: String,
    pub fingerprint: String,
    /// `already_trusted` or `added`.
    pub outcome: String,
    /// The known_hosts file written, when one was.
    pub file: Option<String>,
}

/// `halt` on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerHalt {
    pub server: String,
    pub stopped: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HaltReport {
    pub servers: Vec<ServerHalt>,
}

/// One route of the edge proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyRoute {
    pub id: String,
    pub hosts: Vec<String>,
    pub upstreams: Vec<String>,
    pub tls: String,
}

/// The edge proxy on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerProxy {
    pub server: String,
    /// `running`, `exited`, `missing`...
    pub state: Option<String>,
    pub image: Option<String>,
    pub routes: Vec<ProxyRoute>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyReport {
    pub servers: Vec<ServerProxy>,
}
