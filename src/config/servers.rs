//! `config/servers.toml`: the server registry and groups.

use super::locate::{Seg, TomlSource};
use super::project::is_valid_name;
use super::ConfigError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServersFile {
    #[serde(default)]
    pub servers: BTreeMap<String, ServerConfig>,
    #[serde(default)]
    pub groups: BTreeMap<String, GroupConfig>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Hostname, IP, a `~/.ssh/config` alias, or `local` (this machine, no SSH).
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<PathBuf>,
    /// Extra known_hosts file checked besides `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    pub env: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// `"tailnet"`: reach the server by its tailnet name (needs `[network]`).
    pub connect: Option<super::network::Connect>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub servers: Vec<String>,
    pub env: Option<String>,
    /// `connect` for every member that does not set its own.
    pub connect: Option<super::network::Connect>,
}

/// A server chosen for an operation, with its registry name.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub name: String,
    pub config: ServerConfig,
}

impl Server {
    pub fn is_local(&self) -> bool {
        self.config.host == "local"
    }
}

impl ServerConfig {
    /// `identity_file` as a usable path (see [`resolve_user_path`]).
    pub fn identity_path(&self, root: &Path) -> Option<PathBuf> {
        self.identity_file
            .as_deref()
            .map(|p| resolve_user_path(root, p))
    }

    /// `known_hosts` as a usable path (see [`resolve_user_path`]).
    pub fn known_hosts_path(&self, root: &Path) -> Option<PathBuf> {
        self.known_hosts
            .as_deref()
            .map(|p| resolve_user_path(root, p))
    }
}

/// Paths in servers.toml: a leading `~/` is the user's home, a relative path
/// is relative to the project root (so a committed `config/known_hosts`
/// works from any subdirectory), an absolute path is used as is.
pub fn resolve_user_path(root: &Path, p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(home).join(rest);
        }
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    }
}

/// What the user asked for with `--env`, `--group`, `--server`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub env: Option<String>,
    pub group: Option<String>,
    pub servers: Vec<String>,
}

impl ServersFile {
    pub fn load(path: &Path) -> Result<ServersFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, format!("cannot read: {e}"))
                .with_help("run `arcane init` to create it")
        })?;
        parse_toml(&text, path)
    }

    /// Semantic checks, each pointing at its key in `src`. `envs` are the
    /// envs declared in arcane.toml.
    pub fn validate(&self, src: &TomlSource, envs: &[String]) -> Vec<ConfigError> {
        use Seg::{Index, Key};
        let mut errs = vec![];
        let env_help = |env: &str| match did_you_mean(env, envs) {
            Some(m) => format!("did you mean {m:?}? (declared envs: {})", envs.join(", ")),
            None => format!(
                "declare [envs.{env}] in arcane.toml, or use one of: {}",
                envs.join(", ")
            ),
        };
        for (name, s) in &self.servers {
            if !is_valid_name(name) || name.contains('.') {
                errs.push(
                    src.error(
                        &[Key("servers"), Key(name)],
                        format!("server name {name:?} is not valid"),
                    )
                    .with_help("use lowercase letters, digits, '-' and '_' (it names per-server env files like staging.<server>.env)"),
                );
            }
            if !envs.contains(&s.env) {
                errs.push(
                    src.error(
                        &[Key("servers"), Key(name), Key("env")],
                        format!("server {name:?} has env {:?}, which is not declared", s.env),
                    )
                    .with_help(env_help(&s.env)),
                );
            }
            if s.port == Some(0) {
                errs.push(
                    src.error(
                        &[Key("servers"), Key(name), Key("port")],
                        format!("server {name:?}: port cannot be 0"),
                    )
                    .with_help("a port is a whole number from 1 to 65535 (ssh listens on 22)"),
                );
            }
            if s.host.trim().is_empty() || s.host.contains(char::is_whitespace) {
                errs.push(
                    src.error(
                        &[Key("servers"), Key(name), Key("host")],
                        format!("server {name:?}: host {:?} is not a host name", s.host),
                    )
                    .with_help("a hostname, an IP, an alias from ~/.ssh/config, or \"local\" for this machine"),
                );
            }
            if s.user.as_deref().is_some_and(|u| u.trim().is_empty()) {
                errs.push(src.error(
                    &[Key("servers"), Key(name), Key("user")],
                    format!(
                        "server {name:?}: user is empty (remove the key to use your ssh default)"
                    ),
                ));
            }
        }
        for (g, group) in &self.groups {
            if self.servers.contains_key(g) {
                errs.push(
                    src.error(
                        &[Key("groups"), Key(g)],
                        format!("group {g:?} has the same name as a server"),
                    )
                    .with_help("rename the group; --server and --group names must not collide"),
                );
            } else if !is_valid_name(g) {
                errs.push(
                    src.error(
                        &[Key("groups"), Key(g)],
                        format!("group name {g:?} is not valid"),
                    )
                    .with_help("use lowercase letters, digits, '-' and '_'"),
                );
            }
            if group.servers.is_empty() {
                errs.push(
                    src.error(
                        &[Key("groups"), Key(g), Key("servers")],
                        format!("group {g:?} selects no servers (its server list is empty)"),
                    )
                    .with_help("list at least one server, or remove the group"),
                );
            }
            let mut seen: Vec<&String> = vec![];
            let mut known_members = 0;
            for (i, member) in group.servers.iter().enumerate() {
                if seen.contains(&member) {
                    errs.push(src.error(
                        &[Key("groups"), Key(g), Key("servers"), Index(i)],
                        format!("group {g:?} lists server {member:?} twice"),
                    ));
                    continue;
                }
                seen.push(member);
                match self.servers.get(member) {
                    Some(s) if group.env.as_ref().is_none_or(|e| *e == s.env) => known_members += 1,
                    Some(_) => {}
                    None => {
                        let mut e = src.error(
                            &[Key("groups"), Key(g), Key("servers"), Index(i)],
                            format!("group {g:?} names unknown server {member:?}"),
                        );
                        e = e.with_help(match did_you_mean(member, self.servers.keys()) {
                            Some(m) => format!("did you mean {m:?}?"),
                            None => "define it under [servers] in this file".to_string(),
                        });
                        errs.push(e);
                    }
                }
            }
            if let Some(env) = &group.env {
                if !envs.contains(env) {
                    errs.push(
                        src.error(
                            &[Key("groups"), Key(g), Key("env")],
                            format!("group {g:?} has env {env:?}, which is not declared"),
                        )
                        .with_help(env_help(env)),
                    );
                } else if known_members == 0
                    && group.servers.iter().any(|m| self.servers.contains_key(m))
                {
                    errs.push(
                        src.error(
                            &[Key("groups"), Key(g), Key("env")],
                            format!("group {g:?} selects no servers: none of its servers is in env {env:?}"),
                        )
                        .with_help("fix the group's env or its server list"),
                    );
                }
            }
        }
        errs
    }

    /// Resolve a selection. `--server` wins, then `--group`, then `--env`
    /// (staging when nothing is given). An empty result is an error.
    pub fn select(&self, sel: &Selection, file: &Path) -> Result<Vec<Server>, ConfigError> {
        let names: Vec<String> = if !sel.servers.is_empty() {
            for s in &sel.servers {
                if !self.servers.contains_key(s) {
                    let mut e = ConfigError::new(file, format!("unknown server {s:?}"));
                    if let Some(m) = did_you_mean(s, self.servers.keys()) {
                        e = e.with_help(format!("did you mean {m:?}?"));
                    }
                    return Err(e);
                }
            }
            sel.servers.clone()
        } else if let Some(g) = &sel.group {
            let group = self.groups.get(g).ok_or_else(|| {
                let mut e = ConfigError::new(file, format!("unknown group {g:?}"));
                if let Some(m) = did_you_mean(g, self.groups.keys()) {
                    e = e.with_help(format!("did you mean {m:?}?"));
                }
                e
            })?;
            group.servers.clone()
        } else {
            let env = sel.env.as_deref().unwrap_or("staging");
            self.servers
                .iter()
                .filter(|(_, s)| s.env == env)
                .map(|(n, _)| n.clone())
                .collect()
        };
        let mut out: Vec<Server> = names
            .iter()
            .filter_map(|n| {
                self.servers.get(n).map(|c| Server {
                    name: n.clone(),
                    config: c.clone(),
                })
            })
            .collect();
        if let Some(env) = &sel.env {
            if !sel.servers.is_empty() || sel.group.is_some() {
                out.retain(|s| &s.config.env == env);
            }
        }
        if out.is_empty() {
            let what = describe(sel);
            return Err(ConfigError::new(file, format!("no servers match {what}"))
                .with_help("add a server with that env to config/servers.toml, or pick another with --env/--group/--server"));
        }
        Ok(out)
    }
}

fn describe(sel: &Selection) -> String {
    let mut parts = vec![];
    if let Some(e) = &sel.env {
        parts.push(format!("--env {e}"));
    }
    if let Some(g) = &sel.group {
        parts.push(format!("--group {g}"));
    }
    for s in &sel.servers {
        parts.push(format!("--server {s}"));
    }
    if parts.is_empty() {
        "the default env (staging)".into()
    } else {
        parts.join(" ")
    }
}

/// The closest candidate by Jaro-Winkler similarity, if it is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap())
        .map(|(_, c)| c.as_str())
}

/// Parse TOML into `T`, turning toml's error (with its span) into a
/// [`ConfigError`] with line, column and a did-you-mean for unknown keys. Only
/// the first problem; [`super::locate::parse_all`] reports them all.
pub fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    super::locate::parse_all(text, path).map_err(|mut e| e.remove(0))
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}
