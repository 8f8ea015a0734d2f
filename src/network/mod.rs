//! Private networking: servers join a mesh (a Tailscale or Headscale
//! tailnet) and get stable names, `{hostname}.{tailnet_domain}`, that
//! config, env files and arcane's own connections can use.
//!
//! A [`NetworkProvider`] does three things on a server, each idempotent:
//! install the client ([`NetworkProvider::ensure_installed`]), join the
//! network ([`NetworkProvider::ensure_joined`]) and say where the node
//! stands ([`NetworkProvider::status`]). Naming a node
//! ([`NetworkProvider::node_fqdn`]) is pure: it never asks the network, so
//! a dry run, `server list` and `${server:NAME}` agree with what a join
//! produces. Providers are looked up by the `provider` id of `[network]`
//! ([`provider`]); the only one is Tailscale, which also drives Headscale
//! through `login_server`.
//!
//! Everything on a server goes through the one `Transport`, and the auth
//! key never appears in an argv, a log line or the command log: it travels
//! in the body of an upload into a 0600 file that the join removes.

mod error;
pub mod reach;
pub mod refs;
#[cfg(test)]
pub(crate) mod scripted;
pub mod tailscale;

pub use error::NetworkError;

use crate::config::network::NetworkConfig;
use crate::config::Server;
use crate::event::Emitter;
use crate::remote::Transport;
use serde::Serialize;
use std::fmt;

/// An auth key, kept out of `Debug` output and panic messages.
#[derive(Clone)]
pub struct AuthKey(String);

impl AuthKey {
    /// The key from the environment variable `var` (trimmed); `None` when
    /// it is unset or blank.
    pub fn from_env(var: &str) -> Option<AuthKey> {
        std::env::var(var)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(AuthKey)
    }

    pub fn new(key: impl Into<String>) -> AuthKey {
        AuthKey(key.into())
    }

    /// The key itself: only for the upload that carries it to the server
    /// and for registering it with the redactor.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(***)")
    }
}

/// What a server should look like on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The registry name.
    pub server: String,
    /// Its tailnet hostname ([`hostname`]).
    pub hostname: String,
    pub fqdn: String,
    /// Tags it must have: `default_tags` plus its roles' `role_tags`.
    pub tags: Vec<String>,
}

/// The client on a server, as found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ClientInfo {
    pub path: String,
    pub version: String,
}

/// The node as the client reports it (`tailscale status --json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NodeStatus {
    /// `Running`, `NeedsLogin`, `Stopped`, `NeedsMachineAuth`, `NoState`...
    pub backend_state: String,
    /// The tailnet's name, when joined.
    pub tailnet: Option<String>,
    /// The tailnet's DNS suffix, when joined.
    pub suffix: Option<String>,
    /// The node's full name on the tailnet, without the trailing dot.
    pub dns_name: Option<String>,
    pub tags: Vec<String>,
    pub ips: Vec<String>,
}

impl NodeStatus {
    pub fn running(&self) -> bool {
        self.backend_state == "Running"
    }
}

/// What [`NetworkProvider::ensure_installed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub changed: bool,
    pub client: ClientInfo,
    /// "tailscale 1.66.4 already installed", "installed 1.66.4 (apt)"...
    pub detail: String,
}

/// What [`NetworkProvider::ensure_joined`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub changed: bool,
    pub node: NodeStatus,
    pub detail: String,
}

/// Where a server stands, for `network status` and dry runs: read-only.
#[derive(Debug, Default)]
pub struct Observed {
    /// `ID VERSION_ID` from /etc/os-release, e.g. `debian 12`.
    pub os: String,
    pub client: Option<ClientInfo>,
    /// `None` when the client is missing or its daemon does not answer.
    pub node: Option<NodeStatus>,
    /// Why `node` is missing although the client is installed.
    pub daemon_error: Option<String>,
    /// What `ensure_installed` and `ensure_joined` would do, in order
    /// (empty: nothing).
    pub todo: Vec<String>,
    /// Where the node differs from the config in a way `ensure` refuses
    /// to fix by itself (wrong tailnet, missing tags, a taken name).
    pub problems: Vec<NetworkError>,
}

/// A private network provider. Implementations run everything through
/// `t`, so the command log shows each step, and never put the auth key in
/// an argv.
pub trait NetworkProvider: Send + Sync {
    /// The `provider` id it is registered as.
    fn id(&self) -> &'static str;

    /// `{hostname}.{tailnet_domain}` for a registry name. Pure.
    fn node_fqdn(&self, server: &str) -> String;

    /// The node a server should be (hostname, FQDN, tags). Pure.
    fn node_spec(&self, server: &Server) -> NodeSpec;

    /// Make the client present and recent enough: detect it and its
    /// version, check the OS, install or upgrade by the configured method.
    fn ensure_installed(&self, t: &dyn Transport, em: &Emitter) -> Result<Installed, NetworkError>;

    /// Make the node a member of the configured tailnet with its tags.
    /// Does nothing when it already is; never moves a node off another
    /// tailnet or re-tags a joined node (both would cut its connections).
    fn ensure_joined(
        &self,
        t: &dyn Transport,
        node: &NodeSpec,
        key: &AuthKey,
        em: &Emitter,
    ) -> Result<Joined, NetworkError>;

    /// Where the server stands and what `ensure` would do; changes nothing.
    fn observe(
        &self,
        t: &dyn Transport,
        node: &NodeSpec,
        em: &Emitter,
    ) -> Result<Observed, NetworkError>;
}

/// The provider `[network] provider` names.
pub fn provider(cfg: &NetworkConfig) -> Option<Box<dyn NetworkProvider>> {
    match cfg.provider.as_str() {
        "tailscale" => Some(Box::new(tailscale::Tailscale::new(cfg.clone()))),
        _ => None,
    }
}

/// A server's tailnet hostname: its registry name made a DNS label the way
/// the Tailscale client does it (lowercase; space, '.', '@' and '_' inside
/// become '-'; other characters dropped; letters or digits at both ends; at
/// most 63 characters), so the name arcane computes is the one the node
/// gets.
pub fn hostname(name: &str) -> String {
    let b: Vec<u8> = name.bytes().take(63).collect();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let start = b.iter().position(|&c| alnum(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| alnum(c)).map_or(start, |i| i + 1);
    let mut out = String::new();
    for (i, &c) in b.iter().enumerate().take(end).skip(start) {
        let boundary = i == start || i + 1 == end;
        if !boundary && matches!(c, b' ' | b'.' | b'@' | b'_') {
            out.push('-');
        } else if alnum(c) || c == b'-' {
            out.push(c.to_ascii_lowercase() as char);
        }
    }
    out
}

/// `{hostname}.{tailnet_domain}` for a registry name. Pure.
pub fn node_fqdn(cfg: &NetworkConfig, server: &str) -> String {
    format!("{}.{}", hostname(server), cfg.domain())
}

/// The node a server should be, from the config alone.
pub fn node_spec(cfg: &NetworkConfig, server: &Server) -> NodeSpec {
    NodeSpec {
        server: server.name.clone(),
        hostname: hostname(&server.name),
        fqdn: node_fqdn(cfg, &server.name),
        tags: cfg.tags_for(&server.config.roles),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_the_clients_rules() {
        assert_eq!(hostname("web1"), "web1");
        assert_eq!(hostname("db_primary"), "db-primary");
        assert_eq!(hostname("Web.Prod"), "web-prod");
        assert_eq!(hostname("_edge_"), "edge");
        assert_eq!(hostname("a--b"), "a--b");
        assert_eq!(hostname("x!y"), "xy");
        assert_eq!(hostname(&"a".repeat(80)).len(), 63);
        // Deterministic: the same name always gives the same hostname.
        assert_eq!(hostname("db_primary"), hostname("db_primary"));
    }

    #[test]
    fn fqdn_is_pure_and_uses_the_normalised_hostname() {
        let cfg: NetworkConfig = toml::from_str(
            "provider = \"tailscale\"\nauth_key_env = \"K\"\ntailnet_domain = \".Example-Corp.ts.net.\"\n",
        )
        .unwrap();
        assert_eq!(node_fqdn(&cfg, "db_1"), "db-1.example-corp.ts.net");
        let p = provider(&cfg).unwrap();
        assert_eq!(p.id(), "tailscale");
        assert_eq!(p.node_fqdn("web1"), "web1.example-corp.ts.net");
        assert!(format!("{:?}", AuthKey::new("tskey-secret")).contains("***"));
        // Every provider id the config accepts is registered.
        for id in crate::config::network::PROVIDERS {
            let c = NetworkConfig {
                provider: id.to_string(),
                ..cfg.clone()
            };
            assert!(provider(&c).is_some(), "{id} is not registered");
        }
    }
}
