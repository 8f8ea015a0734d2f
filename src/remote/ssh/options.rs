//! How to connect ([`ConnectOptions`]) and where: an [`Endpoint`] resolved
//! from servers.toml over `~/.ssh/config` over defaults.

use crate::config::Server;
use crate::remote::ssh_config;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to connect. `Default` is what the CLI uses.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// TCP connect + SSH handshake + auth must finish within this.
    pub timeout: Duration,
    /// Interval of SSH keepalives on an idle session.
    pub keepalive: Duration,
    /// Home directory for `~/.ssh/*` (default: `$HOME`).
    pub home: Option<PathBuf>,
    /// Relative `identity_file`/`known_hosts` paths in servers.toml are
    /// relative to this (the project root); default: the current directory.
    pub base_dir: Option<PathBuf>,
    /// Try ssh-agent first (when `SSH_AUTH_SOCK` is set).
    pub use_agent: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            home: None,
            base_dir: None,
            use_agent: true,
        }
    }
}

impl ConnectOptions {
    /// The options for a project: relative paths in its servers.toml resolve
    /// against `root`, and the environment may override two timings:
    /// `ARCANE_CONNECT_TIMEOUT` (seconds, fractions allowed) and
    /// `ARCANE_SSH_KEEPALIVE` (seconds; a link is declared dead after three
    /// keepalive intervals without an acknowledgement).
    pub fn for_project(root: &std::path::Path) -> ConnectOptions {
        let mut o = ConnectOptions {
            base_dir: Some(root.to_path_buf()),
            ..Default::default()
        };
        let secs = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
        };
        if let Some(d) = secs("ARCANE_CONNECT_TIMEOUT") {
            o.timeout = d;
        }
        if let Some(d) = secs("ARCANE_SSH_KEEPALIVE") {
            o.keepalive = d.max(Duration::from_secs(1));
        }
        o
    }

    pub fn home(&self) -> PathBuf {
        self.home
            .clone()
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    fn path(&self, p: &Path) -> PathBuf {
        let s = p.to_string_lossy();
        let p = ssh_config::expand_tilde(&s, &self.home());
        if p.is_absolute() {
            p
        } else {
            match &self.base_dir {
                Some(b) => b.join(p),
                None => p,
            }
        }
    }
}

/// Where and how to reach a server, after `~/.ssh/config` is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    /// Identity files in the order they are tried (after the agent).
    pub identities: Vec<PathBuf>,
    /// known_hosts files checked (the server's own first).
    pub known_hosts: Vec<PathBuf>,
    /// Where new trust lines go: the server's `known_hosts` if set, else the
    /// user's.
    pub trust_file: PathBuf,
    /// `user@host:port` or an alias of a jump host.
    pub proxy_jump: Option<String>,
}

/// Apply servers.toml values over `~/.ssh/config` over defaults.
pub fn resolve(server: &Server, opts: &ConnectOptions) -> Endpoint {
    let home = opts.home();
    let local_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let cfg_text = std::fs::read_to_string(home.join(".ssh/config")).unwrap_or_default();
    let hc = ssh_config::resolve(
        &cfg_text,
        &server.config.host,
        &home,
        &local_user,
        &|p: &Path| std::fs::read_to_string(p).ok(),
    );
    let c = &server.config;
    let mut identities = vec![];
    if let Some(f) = &c.identity_file {
        identities.push(opts.path(f));
    }
    identities.extend(hc.identity_files.iter().cloned());
    identities.push(home.join(".ssh/id_ed25519"));
    identities.push(home.join(".ssh/id_rsa"));
    let mut seen = std::collections::HashSet::new();
    identities.retain(|p| seen.insert(p.clone()));

    let user_kh = if hc.user_known_hosts.is_empty() {
        vec![home.join(".ssh/known_hosts")]
    } else {
        hc.user_known_hosts.clone()
    };
    let mut known_hosts = vec![];
    if let Some(k) = &c.known_hosts {
        known_hosts.push(opts.path(k));
    }
    known_hosts.extend(user_kh.iter().cloned());
    let trust_file = known_hosts[0].clone();
    Endpoint {
        name: server.name.clone(),
        hostname: hc.hostname.unwrap_or_else(|| c.host.clone()),
        port: c.port.or(hc.port).unwrap_or(22),
        user: c.user.clone().or(hc.user).unwrap_or(local_user),
        identities,
        known_hosts,
        trust_file,
        proxy_jump: hc.proxy_jump,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_toml_wins_over_ssh_config() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::write(
            home.path().join(".ssh/config"),
            "Host web\n HostName 10.77.0.5\n User cfg\n Port 2200\n IdentityFile ~/.ssh/web_key\n",
        )
        .unwrap();
        let opts = ConnectOptions {
            home: Some(home.path().into()),
            base_dir: Some("/proj".into()),
            ..Default::default()
        };
        let server = Server {
            name: "w".into(),
            config: crate::config::ServerConfig {
                host: "web".into(),
                user: Some("root".into()),
                port: None,
                identity_file: Some("keys/id".into()),
                known_hosts: Some("tb/known_hosts".into()),
                env: "staging".into(),
                roles: vec![],
                ..Default::default()
            },
        };
        let ep = resolve(&server, &opts);
        let h = home.path();
        assert_eq!(
            (ep.hostname.as_str(), ep.port, ep.user.as_str()),
            ("10.77.0.5", 2200, "root")
        );
        assert_eq!(
            ep.identities,
            vec![
                PathBuf::from("/proj/keys/id"),
                h.join(".ssh/web_key"),
                h.join(".ssh/id_ed25519"),
                h.join(".ssh/id_rsa")
            ]
        );
        assert_eq!(
            ep.known_hosts,
            vec![
                PathBuf::from("/proj/tb/known_hosts"),
                h.join(".ssh/known_hosts")
            ]
        );
        assert_eq!(ep.trust_file, PathBuf::from("/proj/tb/known_hosts"));
    }
}
