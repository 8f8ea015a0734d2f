//! `[network]` in arcane.toml: the private network servers join (a
//! Tailscale or Headscale tailnet), and `connect = "tailnet"` in
//! servers.toml. The schema and its checks live here; what acts on a server
//! is `crate::network`.

use super::locate::{Seg, TomlSource};
use super::servers::did_you_mean;
use super::{ConfigError, Project};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The network providers arcane knows (`crate::network::provider` builds them).
pub const PROVIDERS: &[&str] = &["tailscale"];

/// `[network]`: one private network per project.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// `"tailscale"` (also for Headscale, through `login_server`).
    pub provider: String,
    /// Name of the environment variable that holds the auth key. The key
    /// itself is never written in a file.
    pub auth_key_env: String,
    /// The tailnet's DNS suffix (MagicDNS), e.g. `example-corp.ts.net`:
    /// server `web1` is `web1.<tailnet_domain>`.
    pub tailnet_domain: String,
    /// Tags every server asks for (`tag:name`).
    #[serde(default)]
    pub default_tags: Vec<String>,
    /// Tags added for servers with a role: `role_tags.db = ["tag:db"]`.
    #[serde(default)]
    pub role_tags: BTreeMap<String, Vec<String>>,
    /// The control server's URL, for Headscale (default: Tailscale's).
    pub login_server: Option<String>,
    #[serde(default)]
    pub install: InstallConfig,
}

/// `[network.install]`: how the client gets onto a server.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstallConfig {
    #[serde(default)]
    pub method: InstallMethod,
    /// The oldest client version accepted, e.g. `"1.60"`; older ones are
    /// upgraded (or refused with `method = "manual"`).
    pub min_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallMethod {
    /// Tailscale's signed apt repository (Debian, Ubuntu).
    #[default]
    Apt,
    /// Tailscale's install script piped to `sh`: only when asked for.
    Script,
    /// Never install: a missing or old client is an error.
    Manual,
}

impl InstallMethod {
    pub fn word(self) -> &'static str {
        match self {
            InstallMethod::Apt => "apt",
            InstallMethod::Script => "script",
            InstallMethod::Manual => "manual",
        }
    }
}

/// How arcane reaches a server: its `host`, or its tailnet name once it has
/// joined (`connect = "tailnet"` on the server or one of its groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Connect {
    #[default]
    Host,
    Tailnet,
}

impl NetworkConfig {
    /// The tags a server with `roles` asks for: the default tags, then each
    /// role's, without repeats, in that order.
    pub fn tags_for(&self, roles: &[String]) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        let role_tags = roles.iter().filter_map(|r| self.role_tags.get(r)).flatten();
        for t in self.default_tags.iter().chain(role_tags) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// `tailnet_domain` without surrounding dots, lowercase.
    pub fn domain(&self) -> String {
        self.tailnet_domain.trim_matches('.').to_ascii_lowercase()
    }
}

/// `1.62.0`, `1.62`, `1.62.0-t1234`: the leading numbers, for comparing.
pub fn parse_version(v: &str) -> Option<Vec<u64>> {
    let v = v.trim().trim_start_matches('v');
    let head = v.split(['-', '+', ' ', '~']).next()?;
    let parts: Vec<u64> = head
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    (!parts.is_empty()).then_some(parts)
}

/// Whether version `have` is at least `min` (missing parts count as 0).
pub fn version_at_least(have: &[u64], min: &[u64]) -> bool {
    let n = have.len().max(min.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    for i in 0..n {
        match at(have, i).cmp(&at(min, i)) {
            std::cmp::Ordering::Greater => return true,
            std::cmp::Ordering::Less => return false,
            std::cmp::Ordering::Equal => {}
        }
    }
    true
}

/// A tag as the control server accepts it: `tag:` then a letter, then
/// letters, digits and dashes.
pub fn is_valid_tag(t: &str) -> bool {
    let Some(name) = t.strip_prefix("tag:") else {
        return false;
    };
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A DNS name of at least two labels, each 1-63 letters, digits and dashes.
fn is_domain(d: &str) -> bool {
    let d = d.trim_end_matches('.');
    d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// An environment variable name (what a shell can export).
fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The checks of `[network]` and of `connect` in servers.toml, each pointing
/// at its key. Cross-file: role names come from servers.toml, and
/// `connect = "tailnet"` needs `[network]`.
pub fn validate(p: &Project, psrc: &TomlSource, ssrc: &TomlSource) -> Vec<ConfigError> {
    use Seg::{Index, Key};
    let mut errs = vec![];
    if let Some(n) = &p.config.network {
        let at = |path: &[Seg], msg: String| psrc.error(path, msg);
        if !PROVIDERS.contains(&n.provider.as_str()) {
            let known: Vec<String> = PROVIDERS.iter().map(|s| s.to_string()).collect();
            let help = match did_you_mean(&n.provider, &known) {
                Some(m) => {
                    format!("did you mean {m:?}? (Headscale is \"tailscale\" with login_server)")
                }
                None => format!("known providers: {}", known.join(", ")),
            };
            errs.push(
                at(
                    &[Key("network"), Key("provider")],
                    format!("[network] provider {:?} is not known", n.provider),
                )
                .with_help(help),
            );
        }
        if n.auth_key_env.starts_with("tskey-") || n.auth_key_env.starts_with("hskey-") {
            errs.push(
                at(&[Key("network"), Key("auth_key_env")], "[network] auth_key_env holds what looks like an auth key itself".into())
                    .with_help("never write the key in a file: put it in an environment variable (e.g. export TS_AUTHKEY=...) and name that variable here; then rotate this key, it is in your history"),
            );
        } else if !is_env_name(&n.auth_key_env) {
            errs.push(
                at(
                    &[Key("network"), Key("auth_key_env")],
                    format!("[network] auth_key_env {:?} is not an environment variable name", n.auth_key_env),
                )
                .with_help("name the variable that holds the key, e.g. \"TS_AUTHKEY\" (letters, digits and '_')"),
            );
        }
        if !is_domain(&n.tailnet_domain) || n.tailnet_domain.starts_with('.') {
            errs.push(
                at(
                    &[Key("network"), Key("tailnet_domain")],
                    format!("[network] tailnet_domain {:?} is not a DNS suffix", n.tailnet_domain),
                )
                .with_help("the tailnet's MagicDNS suffix, e.g. \"example-corp.ts.net\" (Headscale: its base_domain); no scheme or leading dot"),
            );
        }
        let tag_help =
            "a tag is `tag:` then a letter, then letters, digits and '-', e.g. \"tag:web\"";
        for (i, t) in n.default_tags.iter().enumerate() {
            if !is_valid_tag(t) {
                errs.push(
                    at(
                        &[Key("network"), Key("default_tags"), Index(i)],
                        format!("[network] default_tags: {t:?} is not a tag"),
                    )
                    .with_help(tag_help),
                );
            }
        }
        let roles: BTreeSet<String> = p
            .servers
            .servers
            .values()
            .flat_map(|s| s.roles.iter().cloned())
            .collect();
        for (role, tags) in &n.role_tags {
            if !roles.contains(role) {
                let help = match did_you_mean(role, &roles) {
                    Some(m) => format!("did you mean {m:?}?"),
                    None if roles.is_empty() => {
                        "no server in config/servers.toml has roles; add `roles = [\"...\"]` to one"
                            .into()
                    }
                    None => format!(
                        "roles in config/servers.toml: {}",
                        roles.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                errs.push(
                    at(
                        &[Key("network"), Key("role_tags"), Key(role)],
                        format!("[network.role_tags] role {role:?} is not the role of any server"),
                    )
                    .with_help(help),
                );
            }
            for (i, t) in tags.iter().enumerate() {
                if !is_valid_tag(t) {
                    errs.push(
                        at(
                            &[Key("network"), Key("role_tags"), Key(role), Index(i)],
                            format!("[network.role_tags] {role}: {t:?} is not a tag"),
                        )
                        .with_help(tag_help),
                    );
                }
            }
        }
        if let Some(url) = &n.login_server {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url
                    .split_once("://")
                    .is_some_and(|(_, rest)| !rest.is_empty())
                && !url.contains(char::is_whitespace);
            if !ok {
                errs.push(
                    at(
                        &[Key("network"), Key("login_server")],
                        format!("[network] login_server {url:?} is not a URL"),
                    )
                    .with_help(
                        "the control server's base URL, e.g. \"https://headscale.example.com\"",
                    ),
                );
            }
        }
        if let Some(v) = &n.install.min_version {
            if parse_version(v).is_none() {
                errs.push(
                    at(
                        &[Key("network"), Key("install"), Key("min_version")],
                        format!("[network.install] min_version {v:?} is not a version"),
                    )
                    .with_help("dotted numbers, e.g. \"1.60\" or \"1.62.1\""),
                );
            }
        }
        // Two servers whose names normalise to one hostname would claim
        // the same tailnet name.
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        for name in p.servers.servers.keys() {
            let host = crate::network::hostname(name);
            if let Some(other) = seen.insert(host.clone(), name) {
                errs.push(
                    ssrc.error(
                        &[Key("servers"), Key(name)],
                        format!(
                            "servers {other:?} and {name:?} would both be {host:?} on the tailnet"
                        ),
                    )
                    .with_help("tailnet hostnames turn '_' into '-': rename one of them"),
                );
            }
        }
    }
    for (name, s) in &p.servers.servers {
        if s.connect != Some(Connect::Tailnet) {
            continue;
        }
        let path = [Key("servers"), Key(name), Key("connect")];
        if p.config.network.is_none() {
            errs.push(
                ssrc.error(&path, format!("server {name:?} has connect = \"tailnet\", but arcane.toml has no [network]"))
                    .with_help("add a [network] section (see docs/network.md), or remove `connect`"),
            );
        } else if s.host == "local" {
            errs.push(ssrc.error(
                &path,
                format!("server {name:?} is `local` (this machine): it cannot be reached over the tailnet"),
            ));
        }
    }
    for (g, group) in &p.servers.groups {
        if group.connect == Some(Connect::Tailnet) && p.config.network.is_none() {
            errs.push(
                ssrc.error(
                    &[Key("groups"), Key(g), Key("connect")],
                    format!(
                        "group {g:?} has connect = \"tailnet\", but arcane.toml has no [network]"
                    ),
                )
                .with_help("add a [network] section (see docs/network.md), or remove `connect`"),
            );
        }
    }
    for name in p.servers.servers.keys() {
        let ways: BTreeSet<Connect> = p
            .servers
            .groups
            .values()
            .filter(|g| g.servers.contains(name))
            .filter_map(|g| g.connect)
            .collect();
        if ways.len() > 1 && p.servers.servers[name].connect.is_none() {
            errs.push(
                ssrc.error(
                    &[Key("servers"), Key(name)],
                    format!("server {name:?} is in groups that disagree on `connect`"),
                )
                .with_help("set `connect` on the server itself, which wins over its groups"),
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s: &str| parse_version(s).unwrap();
        assert!(version_at_least(&v("1.62.0"), &v("1.60")));
        assert!(version_at_least(&v("1.60"), &v("1.60.0")));
        assert!(!version_at_least(&v("1.9.9"), &v("1.16")));
        assert!(version_at_least(&v("1.66.4-t1a2b3c"), &v("1.66.4")));
        assert!(version_at_least(&v("v2.0"), &v("1.99.99")));
        assert_eq!(parse_version("banana"), None);
        assert_eq!(parse_version(""), None);
    }

    fn load(arcane: &str, servers: &str) -> Vec<String> {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("config")).unwrap();
        std::fs::write(t.path().join("arcane.toml"), arcane).unwrap();
        std::fs::write(t.path().join("config/servers.toml"), servers).unwrap();
        match Project::load(t.path()) {
            Ok(_) => vec![],
            Err(e) => {
                e.0.iter()
                    .map(|e| {
                        format!(
                            "{}:{}: {} | {}",
                            e.file.file_name().unwrap().to_string_lossy(),
                            e.line.unwrap_or(0),
                            e.message,
                            e.help.clone().unwrap_or_default()
                        )
                    })
                    .collect()
            }
        }
    }

    const SERVERS: &str = "[servers.db1]\nhost = \"h\"\nenv = \"staging\"\nroles = [\"db\"]\n";

    #[test]
    fn network_errors_name_file_line_and_a_fix() {
        let good = "[app]\nname = \"x\"\n[network]\nprovider = \"tailscale\"\nauth_key_env = \"TS_AUTHKEY\"\ntailnet_domain = \"corp.ts.net\"\n";
        assert!(load(good, SERVERS).is_empty(), "{:?}", load(good, SERVERS));
        let errs = load(
            "[app]\nname = \"x\"\n[network]\nprovider = \"tailscal\"\nauth_key_env = \"tskey-auth-abc\"\n\
             tailnet_domain = \"https://corp.ts.net\"\ndefault_tags = [\"arcane\"]\nlogin_server = \"hs.example.com\"\n\
             [network.role_tags]\ndbb = [\"tag:db\"]\n[network.install]\nmin_version = \"latest\"\n",
            SERVERS,
        );
        let want = [
            "arcane.toml:4: [network] provider \"tailscal\" is not known | did you mean \"tailscale\"?",
            "arcane.toml:5: [network] auth_key_env holds what looks like an auth key itself",
            "arcane.toml:6: [network] tailnet_domain \"https://corp.ts.net\" is not a DNS suffix",
            "arcane.toml:7: [network] default_tags: \"arcane\" is not a tag",
            "arcane.toml:10: [network.role_tags] role \"dbb\" is not the role of any server | did you mean \"db\"?",
            "arcane.toml:8: [network] login_server \"hs.example.com\" is not a URL",
            "arcane.toml:12: [network.install] min_version \"latest\" is not a version",
        ];
        for (got, want) in errs.iter().zip(want) {
            assert!(got.starts_with(want), "{got}\n  wanted {want}");
        }
        assert_eq!(errs.len(), want.len(), "{errs:#?}");
        // serde: an unknown key and an unknown install method, with did-you-mean.
        let errs = load(&format!("{good}tailnet_domian = \"x\"\n"), SERVERS);
        assert!(
            errs[0].starts_with("arcane.toml:7: unknown field `tailnet_domian`"),
            "{errs:?}"
        );
        assert!(
            errs[0].contains("did you mean `tailnet_domain`?"),
            "{errs:?}"
        );
        let errs = load(
            &format!("{good}[network.install]\nmethod = \"scrpt\"\n"),
            SERVERS,
        );
        assert!(errs[0].contains("did you mean `script`?"), "{errs:?}");
        // connect = "tailnet" needs [network], and not on `local`.
        let errs = load(
            "[app]\nname = \"x\"\n",
            &format!("{SERVERS}connect = \"tailnet\"\n[groups.g]\nservers = [\"db1\"]\nconnect = \"tailnet\"\n"),
        );
        assert!(errs[0].starts_with("servers.toml:5: server \"db1\" has connect = \"tailnet\", but arcane.toml has no [network]"), "{errs:?}");
        assert!(
            errs[1].starts_with("servers.toml:8: group \"g\" has connect"),
            "{errs:?}"
        );
        let errs = load(good, "[servers.me]\nhost = \"local\"\nenv = \"staging\"\nconnect = \"tailnet\"\n[servers.db_1]\nhost = \"h\"\nenv = \"staging\"\n[servers.db-1]\nhost = \"h\"\nenv = \"staging\"\n");
        assert!(
            errs.iter()
                .any(|e| e.contains("would both be \"db-1\" on the tailnet")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("is `local` (this machine)")),
            "{errs:?}"
        );
    }

    #[test]
    fn tags_are_the_defaults_then_each_roles_without_repeats() {
        let n: NetworkConfig = toml::from_str(
            "provider = \"tailscale\"\nauth_key_env = \"K\"\ntailnet_domain = \"t.ts.net\"\n\
             default_tags = [\"tag:arcane\"]\n[role_tags]\ndb = [\"tag:db\", \"tag:arcane\"]\nweb = [\"tag:web\"]\n",
        )
        .unwrap();
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(n.tags_for(&roles(&[])), ["tag:arcane"]);
        assert_eq!(
            n.tags_for(&roles(&["web", "db", "cache"])),
            ["tag:arcane", "tag:web", "tag:db"]
        );
        assert_eq!(n.install.method, InstallMethod::Apt);
        assert!(is_valid_tag("tag:web-1") && !is_valid_tag("web") && !is_valid_tag("tag:1x"));
    }
}
