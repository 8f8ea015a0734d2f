//! Where an app is published without `[proxy]`: `[deploy] publish`, or
//! `[envs.NAME] publish` for one env, and the clash of two envs that would
//! publish the same host port on one machine.
//!
//! Without a proxy each env's container binds its host port itself. When
//! staging and production share a server and bind the same port, whichever
//! deploys second fails at cutover with "port is already allocated", after
//! building, shipping and health-checking. [`clashes`] finds that from the
//! config alone, so `config check` and `deploy --dry-run` say it first.

use super::locate::{Seg, TomlSource};
use super::{ConfigError, Project, ProjectConfig, PROJECT_FILE, SERVERS_FILE};
use std::net::IpAddr;

/// A host port, on one address or on all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// `None`: every interface (docker's `-p PORT:..`).
    pub ip: Option<IpAddr>,
    pub port: u16,
}

impl Binding {
    /// Two bindings cannot both be bound: same port, and the same address
    /// or one of them on every interface.
    pub fn overlaps(&self, other: &Binding) -> bool {
        self.port == other.port && (self.ip.is_none() || other.ip.is_none() || self.ip == other.ip)
    }
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            None => write!(f, "port {}", self.port),
            Some(ip) => write!(f, "{ip}:{}", self.port),
        }
    }
}

/// Parse a `publish` value: `PORT` or `IP:PORT` (`[V6]:PORT`).
pub fn parse(value: &str) -> Result<Binding, String> {
    let (ip, port) = match value.rsplit_once(':') {
        Some((ip, port)) => (Some(ip.trim_start_matches('[').trim_end_matches(']')), port),
        None => (None, value),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{port:?} is not a port (1 to 65535)"))?;
    let ip = match ip {
        None => None,
        Some(ip) => {
            let a: IpAddr = ip
                .parse()
                .map_err(|_| format!("{ip:?} is not an IP address"))?;
            (!a.is_unspecified()).then_some(a)
        }
    };
    Ok(Binding { ip, port })
}

impl ProjectConfig {
    /// The `publish` value of `env`: its own, else `[deploy] publish`.
    pub fn publish_for(&self, env: &str) -> Option<String> {
        self.envs
            .as_ref()
            .and_then(|m| m.get(env))
            .and_then(|e| e.publish.clone())
            .or_else(|| self.deploy.publish.clone())
    }

    /// What `env`'s app container binds on its server: `None` behind
    /// `[proxy]` (the proxy publishes 80 and 443) or with an invalid value
    /// (reported by validation); the app port on every interface by default.
    pub fn binding_for(&self, env: &str) -> Option<Binding> {
        if self.proxy.is_some() {
            return None;
        }
        match self.publish_for(env) {
            Some(v) => parse(&v).ok(),
            None => Some(Binding {
                ip: None,
                port: self.app_port(),
            }),
        }
    }
}

/// `[deploy] publish` and every `[envs.NAME] publish` must parse.
pub fn validate(cfg: &ProjectConfig, src: &TomlSource) -> Vec<ConfigError> {
    use Seg::Key;
    let mut out = vec![];
    let mut check = |path: Vec<Seg>, table: String, v: &str| {
        if let Err(e) = parse(v) {
            out.push(
                src.error(&path, format!("{table} publish = {v:?}: {e}"))
                    .with_help(
                        "write a host port, \"8080\", or an address and port, \"127.0.0.1:8080\"",
                    ),
            );
        }
    };
    if let Some(v) = &cfg.deploy.publish {
        check(vec![Key("deploy"), Key("publish")], "[deploy]".into(), v);
    }
    for (name, e) in cfg.envs.iter().flatten() {
        if let Some(v) = &e.publish {
            check(
                vec![Key("envs"), Key(name), Key("publish")],
                format!("[envs.{name}]"),
                v,
            );
        }
    }
    out
}

/// Two envs binding overlapping host ports on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// The two envs, and a server of each on the same host.
    pub envs: [String; 2],
    pub servers: [String; 2],
    pub host: String,
    pub binding: Binding,
}

/// Every pair of envs whose servers share a host (as written in
/// `config/servers.toml`) and whose app containers would bind overlapping
/// host ports, one clash per pair of envs (image mode: arcane publishes the
/// app container itself).
pub fn clashes(project: &Project) -> Vec<Clash> {
    // In compose mode the compose file publishes what it says; arcane
    // binds nothing itself.
    if matches!(project.build_mode(), super::BuildMode::Compose { .. }) {
        return vec![];
    }
    let cfg = &project.config;
    let envs = cfg.env_names();
    let mut out = vec![];
    for (i, a) in envs.iter().enumerate() {
        for b in &envs[i + 1..] {
            let (Some(ba), Some(bb)) = (cfg.binding_for(a), cfg.binding_for(b)) else {
                continue;
            };
            if !ba.overlaps(&bb) {
                continue;
            }
            let servers = &project.servers.servers;
            let pair = servers
                .iter()
                .filter(|(_, s)| s.env == *a)
                .find_map(|(na, sa)| {
                    servers
                        .iter()
                        .find(|(_, sb)| sb.env == *b && same_host(&sa.host, &sb.host))
                        .map(|(nb, _)| (na.clone(), nb.clone(), sa.host.clone()))
                });
            if let Some((sa, sb, host)) = pair {
                out.push(Clash {
                    envs: [a.clone(), b.clone()],
                    servers: [sa, sb],
                    host,
                    binding: ba,
                });
            }
        }
    }
    out
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// [`clashes`] as errors for `config check` and a dry run, each pointing at
/// the `publish` key to change (the second env's, else the shared one).
/// With `env`, only the clashes that involve it.
pub fn clash_errors(project: &Project, env: Option<&str>) -> Vec<ConfigError> {
    use Seg::Key;
    let found: Vec<Clash> = clashes(project)
        .into_iter()
        .filter(|c| env.is_none_or(|e| c.envs.iter().any(|x| x == e)))
        .collect();
    if found.is_empty() {
        return vec![];
    }
    let src = TomlSource::read(&project.root.join(PROJECT_FILE));
    let cfg = &project.config;
    let own = |e: &str| {
        cfg.envs
            .as_ref()
            .and_then(|m| m.get(e))
            .is_some_and(|x| x.publish.is_some())
    };
    found
        .into_iter()
        .map(|c| {
            let [a, b] = &c.envs;
            let path: Vec<Seg> = if own(b) {
                vec![Key("envs"), Key(b), Key("publish")]
            } else if own(a) {
                vec![Key("envs"), Key(a), Key("publish")]
            } else if cfg.deploy.publish.is_some() {
                vec![Key("deploy"), Key("publish")]
            } else {
                // Nothing set: where the env's own value would go.
                vec![Key("envs"), Key(b)]
            };
            let other = c.binding.port.saturating_add(1).max(1);
            src.error(
                &path,
                format!(
                    "envs {a} and {b} both publish {} on host {:?} (servers {} and {} in {SERVERS_FILE}): \
                     the second to deploy would fail with \"port is already allocated\"",
                    c.binding, c.host, c.servers[0], c.servers[1]
                ),
            )
            .with_help(format!(
                "give one env its own port, e.g. [envs.{b}] publish = \"{other}\", or put the app behind [proxy]"
            ))
        })
        .collect()
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
