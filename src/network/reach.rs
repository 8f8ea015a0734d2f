//! `connect = "tailnet"`: arcane reaches such a server by its tailnet name
//! instead of its `host`. Applied where connections are opened for
//! operations (the ops context and the deploy engine's access).
//!
//! There is no fallback to `host`: a server put behind the tailnet is
//! reached through it or not at all, so a missing join shows as an error
//! naming the tailnet name instead of a silent trip over the internet.
//! Only the network operations fall back (`ops::network`), since they must
//! reach servers that have not joined yet.

use super::node_fqdn;
use crate::config::network::Connect;
use crate::config::{Project, Server};
use crate::event::Emitter;
use crate::remote::{ConnectOptions, Connector, RemoteError, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How arcane connects to the registry's server `name`: its own `connect`,
/// else the one its groups agree on, else by host.
pub fn connect_of(p: &Project, name: &str) -> Connect {
    let Some(s) = p.servers.servers.get(name) else {
        return Connect::Host;
    };
    if let Some(c) = s.connect {
        return c;
    }
    p.servers
        .groups
        .values()
        .filter(|g| g.servers.iter().any(|m| m == name))
        .find_map(|g| g.connect)
        .unwrap_or_default()
}

/// The address arcane uses for `name` when it is reached over the
/// tailnet; `None` when it is reached at its `host`.
pub fn tailnet_address(p: &Project, name: &str) -> Option<String> {
    let cfg = p.config.network.as_ref()?;
    let local = p
        .servers
        .servers
        .get(name)
        .is_some_and(|s| s.host == "local");
    (connect_of(p, name) == Connect::Tailnet && !local).then(|| node_fqdn(cfg, name))
}

/// `server` as arcane reaches it: with `connect = "tailnet"`, its host is
/// its tailnet name (SSH config, user, port and keys still apply).
pub fn reach(p: &Project, server: &Server) -> Server {
    match tailnet_address(p, &server.name) {
        Some(fqdn) => {
            let mut s = server.clone();
            s.config.host = fqdn;
            s
        }
        None => server.clone(),
    }
}

/// A connector that applies [`reach`]; the same as `inner` for a project
/// with no `connect = "tailnet"` server.
pub fn connector(p: &Project, inner: Arc<dyn Connector>) -> Arc<dyn Connector> {
    let routes: BTreeMap<String, String> = p
        .servers
        .servers
        .keys()
        .filter_map(|n| tailnet_address(p, n).map(|a| (n.clone(), a)))
        .collect();
    if routes.is_empty() {
        return inner;
    }
    Arc::new(Reaching { inner, routes })
}

struct Reaching {
    inner: Arc<dyn Connector>,
    routes: BTreeMap<String, String>,
}

impl Connector for Reaching {
    fn connect(&self, server: &Server, em: &Emitter) -> Result<Arc<dyn Transport>, RemoteError> {
        match self.routes.get(&server.name) {
            Some(addr) => {
                let mut s = server.clone();
                s.config.host = addr.clone();
                self.inner
                    .connect(&s, em)
                    .map_err(|e| tailnet_hint(e, addr))
            }
            None => self.inner.connect(server, em),
        }
    }

    fn options(&self) -> &ConnectOptions {
        self.inner.options()
    }
}

/// An unreachable tailnet name most often means the server has not joined
/// yet or this machine is not on the tailnet: say so.
pub fn tailnet_hint(e: RemoteError, addr: &str) -> RemoteError {
    match e {
        RemoteError::Unreachable {
            server,
            addr: a,
            reason,
        } => RemoteError::Unreachable {
            reason: format!(
                "{reason} (connect = \"tailnet\": is {server} joined — `arcane network ensure --server {server}` — and is this machine on the tailnet so {addr} resolves?)"
            ),
            server,
            addr: a,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProjectConfig, ServersFile};

    fn project(network: bool, servers: &str) -> Project {
        let mut cfg = "[app]\nname = \"x\"\n".to_string();
        if network {
            cfg.push_str("[network]\nprovider = \"tailscale\"\nauth_key_env = \"K\"\ntailnet_domain = \"corp.ts.net\"\n");
        }
        Project {
            root: "/p".into(),
            config: toml::from_str::<ProjectConfig>(&cfg).unwrap(),
            servers: toml::from_str::<ServersFile>(servers).unwrap(),
        }
    }

    const SERVERS: &str = "[servers.web_1]\nhost = \"1.2.3.4\"\nenv = \"staging\"\n\
        [servers.db]\nhost = \"1.2.3.5\"\nenv = \"staging\"\nconnect = \"host\"\n\
        [servers.cache]\nhost = \"1.2.3.6\"\nenv = \"staging\"\n\
        [groups.private]\nservers = [\"web_1\", \"db\"]\nconnect = \"tailnet\"\n";

    #[test]
    fn tailnet_servers_are_reached_by_their_fqdn() {
        let p = project(true, SERVERS);
        let all = p.all_servers();
        let host = |n: &str| {
            reach(&p, all.iter().find(|s| s.name == n).unwrap())
                .config
                .host
        };
        // From the group; the server's own `connect` wins; others by host.
        assert_eq!(host("web_1"), "web-1.corp.ts.net");
        assert_eq!(host("db"), "1.2.3.5");
        assert_eq!(host("cache"), "1.2.3.6");
        assert_eq!(connect_of(&p, "web_1"), Connect::Tailnet);
        // Without [network] nothing changes (validation reports it).
        let p = project(false, SERVERS);
        assert_eq!(reach(&p, &p.all_servers()[0]), p.all_servers()[0]);
    }
}
