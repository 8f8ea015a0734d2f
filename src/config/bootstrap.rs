//! `[bootstrap]` in arcane.toml: what `arcane server bootstrap` and
//! `arcane server cloud-init` make of a bare server. The deploy user, its
//! keys, where Docker comes from, the firewall and sshd hardening.
//!
//! Keys are checked here for their shape (a key line must decode; a path
//! must look like one). Files named by path are read only when a bootstrap
//! runs (see [`resolve_keys`]): a teammate's `~/.ssh/id_ed25519.pub` must
//! not break every other command on a machine that lacks it.

use super::locate::{Seg, TomlSource};
use super::project::ProjectConfig;
use super::resolve_user_path;
use super::ConfigError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[bootstrap]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// The deploy user bootstrap creates (in the docker group).
    pub user: String,
    /// Public keys for the deploy user: key lines, or paths to `.pub` files
    /// (`~` and project-relative paths work). Empty: the public half of
    /// each server's `identity_file`, else `~/.ssh/id_ed25519.pub` and
    /// `~/.ssh/id_rsa.pub`.
    pub authorized_keys: Vec<String>,
    /// Where Docker comes from.
    pub docker: DockerSource,
    /// Install arcane's nftables table (22, 80, 443 and what the config
    /// publishes; everything else inbound is dropped).
    pub firewall: bool,
    /// More inbound ports for the firewall: `8443`, `"8443/tcp"`,
    /// `"5353/udp"`, `"9000-9010"`.
    pub allow_ports: Vec<PortEntry>,
    /// Passwordless sudo for the deploy user, so later bootstraps can run
    /// as that user once root login is off. The docker group is
    /// root-equivalent already, so this adds no power the user lacks.
    pub sudo: bool,
    /// sshd drop-in: no password logins, no root login (key-only root
    /// login when `sudo = false`). Written only after a key login as the
    /// deploy user has worked.
    pub harden_ssh: bool,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            user: "arcane".into(),
            authorized_keys: vec![],
            docker: DockerSource::Distro,
            firewall: false,
            allow_ports: vec![],
            sudo: true,
            harden_ssh: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerSource {
    /// The distribution's `docker.io` (and its compose package).
    #[default]
    Distro,
    /// Docker's own signed apt repository (`docker-ce`, compose plugin).
    Upstream,
}

/// One `allow_ports` entry as written: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PortEntry {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

/// A port or port range the firewall lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PortRule {
    pub proto: Proto,
    pub from: u16,
    pub to: u16,
}

impl PortRule {
    pub fn tcp(p: u16) -> PortRule {
        PortRule {
            proto: Proto::Tcp,
            from: p,
            to: p,
        }
    }
    pub fn udp(p: u16) -> PortRule {
        PortRule {
            proto: Proto::Udp,
            from: p,
            to: p,
        }
    }
    /// `8080` or `9000-9010`, as nft writes it.
    pub fn range(&self) -> String {
        if self.from == self.to {
            self.from.to_string()
        } else {
            format!("{}-{}", self.from, self.to)
        }
    }
}

impl PortEntry {
    pub fn parse(&self) -> Result<PortRule, String> {
        match self {
            PortEntry::Number(n) => match u16::try_from(*n) {
                Ok(p) if p > 0 => Ok(PortRule::tcp(p)),
                _ => Err(format!("{n} is not a port (1-65535)")),
            },
            PortEntry::Text(s) => parse_port_text(s),
        }
    }
}

fn parse_port_text(s: &str) -> Result<PortRule, String> {
    let (ports, proto) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, other)) => return Err(format!("{s:?}: unknown protocol {other:?} (tcp or udp)")),
        None => (s, Proto::Tcp),
    };
    let port = |x: &str| -> Result<u16, String> {
        match x.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("{s:?} is not a port or a range of ports (1-65535)")),
        }
    };
    let (from, to) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if from > to {
        return Err(format!("{s:?}: the range ends before it starts"));
    }
    Ok(PortRule { proto, from, to })
}

/// Key types OpenSSH accepts in `authorized_keys` (DSA is disabled there).
pub const KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Whether an `authorized_keys` entry is written as a key (else a path).
pub fn looks_like_key(entry: &str) -> bool {
    let first = entry.split_whitespace().next().unwrap_or("");
    KEY_TYPES.contains(&first) || first.starts_with("ssh-") || first.starts_with("ecdsa-")
}

/// Check one public key line (`TYPE BASE64 [COMMENT]`) and return it
/// normalised to one line.
pub fn check_key_line(line: &str) -> Result<String, String> {
    let line = line.trim();
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err("a public key line is `TYPE BASE64 [COMMENT]`".into());
    };
    if kind == "ssh-dss" {
        return Err("DSA keys (ssh-dss) are refused by current OpenSSH; use an ed25519 key".into());
    }
    if !KEY_TYPES.contains(&kind) {
        return Err(format!(
            "unknown key type {kind:?} (expected one of: {})",
            KEY_TYPES.join(", ")
        ));
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| format!("the {kind} key is not valid base64 (copied only in part?)"))?;
    // The blob starts with its own type: a u32 length, then the name.
    let inner = blob
        .get(..4)
        .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
        .and_then(|n| blob.get(4..4 + n))
        .map(|t| String::from_utf8_lossy(t).into_owned());
    if inner.as_deref() != Some(kind) {
        return Err(format!(
            "the key data is not a {kind} key (it says {})",
            inner.as_deref().unwrap_or("nothing readable")
        ));
    }
    Ok(parts.fold(format!("{kind} {b64}"), |acc, c| acc + " " + c))
}

/// A valid Unix user name for the deploy user (what `useradd` takes on
/// Debian without forcing, minus the characters sudoers file names refuse).
pub fn is_valid_user(u: &str) -> bool {
    let mut c = u.chars();
    u.len() <= 32
        && c.next().is_some_and(|f| f.is_ascii_lowercase() || f == '_')
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_' || x == '-')
}

impl BootstrapConfig {
    /// Checks serde cannot express, each at its key in arcane.toml.
    pub fn validate(&self, src: &TomlSource) -> Vec<ConfigError> {
        use Seg::{Index, Key};
        let mut errs = vec![];
        if !is_valid_user(&self.user) || self.user == "root" {
            errs.push(
                src.error(
                    &[Key("bootstrap"), Key("user")],
                    format!("[bootstrap] user {:?} cannot be the deploy user", self.user),
                )
                .with_help("a user name other than root: lowercase letters, digits, '_' and '-', starting with a letter or '_', at most 32 characters"),
            );
        }
        for (i, k) in self.authorized_keys.iter().enumerate() {
            let at = [Key("bootstrap"), Key("authorized_keys"), Index(i)];
            if looks_like_key(k) {
                if let Err(why) = check_key_line(k) {
                    errs.push(src.error(&at, format!("[bootstrap] authorized_keys: {why}"))
                        .with_help("paste the whole line of the .pub file, or name the file, e.g. \"~/.ssh/id_ed25519.pub\""));
                }
            } else if k.trim().is_empty() || k.contains('\n') {
                errs.push(
                    src.error(&at, "[bootstrap] authorized_keys: an empty entry")
                        .with_help("each entry is a public key line or the path of a .pub file"),
                );
            }
        }
        for (i, p) in self.allow_ports.iter().enumerate() {
            if let Err(why) = p.parse() {
                errs.push(
                    src.error(
                        &[Key("bootstrap"), Key("allow_ports"), Index(i)],
                        format!("[bootstrap] allow_ports: {why}"),
                    )
                    .with_help("write 8443, \"8443/tcp\", \"5353/udp\" or \"9000-9010\""),
                );
            }
        }
        errs
    }
}

/// Where the deploy user's keys came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKeys {
    /// One line per key, checked.
    pub lines: Vec<String>,
    /// The files read (empty when the keys were written inline).
    pub files: Vec<PathBuf>,
}

/// The deploy user's keys: `[bootstrap] authorized_keys` (files read now),
/// or when it is empty, the public halves of `identity` (the server's
/// `identity_file`) and of `~/.ssh/id_ed25519` / `~/.ssh/id_rsa`, those
/// that exist. A problem points at its entry in arcane.toml.
pub fn resolve_keys(
    root: &Path,
    cfg: &BootstrapConfig,
    identity: Option<&Path>,
) -> Result<ResolvedKeys, ConfigError> {
    let src = TomlSource::read(&root.join(super::PROJECT_FILE));
    let mut out = ResolvedKeys {
        lines: vec![],
        files: vec![],
    };
    if cfg.authorized_keys.is_empty() {
        let mut candidates: Vec<PathBuf> = identity.map(pub_of).into_iter().collect();
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let ssh = PathBuf::from(home).join(".ssh");
            candidates.push(ssh.join("id_ed25519.pub"));
            candidates.push(ssh.join("id_rsa.pub"));
        }
        for f in candidates {
            // The first default found: the key arcane itself logs in with.
            if f.is_file() {
                let text = read_pub(&f).map_err(|why| {
                    src.error(&[Seg::Key("bootstrap")], why).with_help(
                        "set [bootstrap] authorized_keys to the deploy user's public keys",
                    )
                })?;
                out.lines.extend(text);
                out.files.push(f);
                break;
            }
        }
        if out.lines.is_empty() {
            return Err(ConfigError::new(
                root.join(super::PROJECT_FILE),
                "no public key for the deploy user: [bootstrap] authorized_keys is empty and no identity_file.pub, ~/.ssh/id_ed25519.pub or ~/.ssh/id_rsa.pub exists",
            )
            .with_help("add [bootstrap] authorized_keys = [\"ssh-ed25519 AAAA... you@laptop\"] (or the path of a .pub file) to arcane.toml"));
        }
        return Ok(out);
    }
    for (i, k) in cfg.authorized_keys.iter().enumerate() {
        let at = [
            Seg::Key("bootstrap"),
            Seg::Key("authorized_keys"),
            Seg::Index(i),
        ];
        if looks_like_key(k) {
            let line = check_key_line(k).map_err(|why| src.error(&at, why))?;
            out.lines.push(line);
            continue;
        }
        let path = resolve_user_path(root, Path::new(k.trim()));
        let lines = read_pub(&path).map_err(|why| {
            src.error(&at, why)
                .with_help("name an existing .pub file, or paste the key line itself")
        })?;
        out.lines.extend(lines);
        out.files.push(path);
    }
    let mut seen = std::collections::HashSet::new();
    out.lines.retain(|l| seen.insert(key_identity(l)));
    Ok(out)
}

/// `id_ed25519` -> `id_ed25519.pub` (a `.pub` path stays as it is).
fn pub_of(identity: &Path) -> PathBuf {
    if identity.extension().is_some_and(|e| e == "pub") {
        identity.to_path_buf()
    } else {
        let mut s = identity.as_os_str().to_os_string();
        s.push(".pub");
        PathBuf::from(s)
    }
}

/// The key lines of a `.pub` (or authorized_keys-style) file. A private key
/// is refused without echoing a byte of it.
fn read_pub(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.contains("PRIVATE KEY") {
        return Err(format!(
            "{} is a private key; name its public half ({}.pub)",
            path.display(),
            path.display()
        ));
    }
    let mut lines = vec![];
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        lines.push(check_key_line(l).map_err(|why| format!("{}: {why}", path.display()))?);
    }
    if lines.is_empty() {
        return Err(format!("{} holds no public key", path.display()));
    }
    Ok(lines)
}

/// Type and data of a key line: the same key with another comment is the
/// same key.
fn key_identity(line: &str) -> String {
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inbound ports the config publishes on every interface: the proxy's
/// 80 and 443, or without a proxy the app's published port (`[deploy]
/// publish`, else the app port), and accessories' `ports` not bound to a
/// loopback address. Ports bound to 127.0.0.1 need no hole.
pub fn published_ports(cfg: &ProjectConfig) -> Vec<PortRule> {
    let mut out = vec![];
    if cfg.proxy.is_some() {
        out.extend([PortRule::tcp(80), PortRule::tcp(443), PortRule::udp(443)]);
    } else {
        let app = cfg.app_port();
        match cfg.deploy.publish.as_deref() {
            None => out.push(PortRule::tcp(app)),
            Some(p) => {
                let (ip, port) = match p.rsplit_once(':') {
                    Some((ip, port)) => (Some(ip), port),
                    None => (None, p),
                };
                if !ip.is_some_and(is_loopback) {
                    if let Ok(port) = port.trim().parse::<u16>() {
                        out.push(PortRule::tcp(port));
                    }
                }
            }
        }
    }
    for a in cfg.accessories.values() {
        out.extend(a.ports.iter().filter_map(|p| docker_port(p)));
    }
    out.sort();
    out.dedup();
    out
}

fn is_loopback(ip: &str) -> bool {
    let ip = ip.trim_matches(['[', ']']);
    ip == "localhost" || ip == "::1" || ip.starts_with("127.")
}

/// The host side of a docker `-p` value, if it is published on every
/// interface: `5432:5432` and `0.0.0.0:53:53/udp` are, `127.0.0.1:5432:5432`
/// and `5432` (a random host port) are not.
fn docker_port(spec: &str) -> Option<PortRule> {
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, "udp")) => (b, Proto::Udp),
        Some((b, _)) => (b, Proto::Tcp),
        None => (spec, Proto::Tcp),
    };
    let parts: Vec<&str> = body.rsplitn(3, ':').collect();
    let host = match parts.as_slice() {
        [_container, host] => host,
        [_container, host, ip] if !is_loopback(ip) => host,
        _ => return None,
    };
    let mut rule = parse_port_text(host).ok()?;
    rule.proto = proto;
    Some(rule)
}

/// Every port the firewall opens: ssh (22 and each selected server's
/// port), 80 and 443, what the config publishes and `allow_ports`. UDP 68
/// and 546 are DHCP replies (v4, v6), which connection tracking does not
/// match to a request.
pub fn firewall_ports(cfg: &ProjectConfig, ssh_ports: &[u16]) -> Vec<PortRule> {
    let mut out = vec![
        PortRule::tcp(22),
        PortRule::tcp(80),
        PortRule::tcp(443),
        PortRule::udp(443),
        PortRule::udp(68),
        PortRule::udp(546),
    ];
    out.extend(ssh_ports.iter().map(|p| PortRule::tcp(*p)));
    out.extend(published_ports(cfg));
    out.extend(
        cfg.bootstrap
            .allow_ports
            .iter()
            .filter_map(|p| p.parse().ok()),
    );
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
