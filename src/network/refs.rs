//! `${server:NAME}` in env values: the tailnet name of server `NAME`
//! (`{hostname}.{tailnet_domain}`), so one server's config can point at
//! another (`DATABASE_URL=postgres://app@${server:db1}:5432/app`).
//!
//! A separate step on the merged values at deploy time: env files keep the
//! reference (parsers leave `${server:...}` alone), a dry run shows what
//! each one resolves to, and the generated compose override hands the
//! resolved values to every service through its `env_file`. `$${server:`
//! stands for a literal `${server:`. Resolving is pure (the name comes
//! from the config, like `server list` shows it), so it needs no server
//! to have joined yet.

use super::node_fqdn;
use crate::config::layers::MergedEnv;
use crate::config::servers::did_you_mean;
use crate::config::{ConfigError, Project};

const OPEN: &str = "${server:";

/// One reference, resolved.
pub use crate::event::report::ServerRef as Resolved;

/// Why a reference cannot be resolved (the caller adds file and line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub message: String,
    pub help: Option<String>,
}

/// `value` with every `${server:NAME}` replaced, and the `(NAME, FQDN)`
/// pairs it used.
pub fn resolve_value(
    p: &Project,
    value: &str,
) -> Result<(String, Vec<(String, String)>), RefError> {
    if !value.contains(OPEN) {
        return Ok((value.to_string(), vec![]));
    }
    let mut out = String::with_capacity(value.len());
    let mut used = vec![];
    let mut rest = value;
    while let Some(i) = rest.find(OPEN) {
        if rest[..i].ends_with('$') {
            // `$${server:` is the escape for a literal `${server:`.
            out.push_str(&rest[..i - 1]);
            out.push_str(OPEN);
            rest = &rest[i + OPEN.len()..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(RefError {
                message: format!("unterminated `{OPEN}` (no closing `}}`)"),
                help: Some("write ${server:NAME}, or $${server: for a literal ${server:".into()),
            });
        };
        let name = after[..end].trim();
        let fqdn = fqdn_of(p, name)?;
        out.push_str(&fqdn);
        used.push((name.to_string(), fqdn));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, used))
}

fn fqdn_of(p: &Project, name: &str) -> Result<String, RefError> {
    let Some(s) = p.servers.servers.get(name) else {
        let help = match did_you_mean(name, p.servers.servers.keys()) {
            Some(m) => format!("did you mean {m:?}?"),
            None => "name a server of config/servers.toml".into(),
        };
        return Err(RefError {
            message: format!("`${{server:{name}}}` names no server"),
            help: Some(help),
        });
    };
    let Some(cfg) = &p.config.network else {
        return Err(RefError {
            message: format!("`${{server:{name}}}` needs a [network] in arcane.toml (it is the server's tailnet name)"),
            help: Some("add [network] (see docs/network.md), or write the address itself".into()),
        });
    };
    if s.host == "local" {
        return Err(RefError {
            message: format!("`${{server:{name}}}`: {name} is `local` (this machine), which is not on the tailnet"),
            help: None,
        });
    }
    Ok(node_fqdn(cfg, name))
}

/// Resolve every reference of a merged env in place. Errors name the
/// layer file and line of the value; on an error nothing is changed.
pub fn resolve_env(p: &Project, env: &mut MergedEnv) -> Result<Vec<Resolved>, ConfigError> {
    let mut all = vec![];
    let mut values = Vec::with_capacity(env.entries.len());
    for e in &env.entries {
        let (value, used) = resolve_value(p, &e.value).map_err(|r| {
            let err = ConfigError::new(
                p.envs_dir().join(&e.layer),
                format!("{}: {}", e.key, r.message),
            )
            .at(e.line, 1);
            match r.help {
                Some(h) => err.with_help(h),
                None => err,
            }
        })?;
        values.push(value);
        all.extend(used.into_iter().map(|(server, fqdn)| Resolved {
            key: e.key.clone(),
            server,
            fqdn,
        }));
    }
    for (e, v) in env.entries.iter_mut().zip(values) {
        e.value = v;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::layers::MergedEntry;
    use crate::config::{ProjectConfig, ServersFile};

    fn project(network: bool) -> Project {
        let mut cfg = "[app]\nname = \"x\"\n".to_string();
        if network {
            cfg.push_str("[network]\nprovider = \"tailscale\"\nauth_key_env = \"K\"\ntailnet_domain = \"corp.ts.net\"\n");
        }
        Project {
            root: "/p".into(),
            config: toml::from_str::<ProjectConfig>(&cfg).unwrap(),
            servers: toml::from_str::<ServersFile>(
                "[servers.db1]\nhost = \"h\"\nenv = \"staging\"\n[servers.db_2]\nhost = \"h\"\nenv = \"production\"\n[servers.here]\nhost = \"local\"\nenv = \"staging\"\n",
            )
            .unwrap(),
        }
    }

    #[test]
    fn references_become_tailnet_names() {
        let p = project(true);
        let (v, used) =
            resolve_value(&p, "postgres://u@${server:db1}:5432/app?r=${server:db_2}").unwrap();
        assert_eq!(
            v,
            "postgres://u@db1.corp.ts.net:5432/app?r=db-2.corp.ts.net"
        );
        assert_eq!(used.len(), 2);
        // No reference: unchanged, including other `$` forms.
        assert_eq!(
            resolve_value(&p, "a$b ${HOME} $$x").unwrap().0,
            "a$b ${HOME} $$x"
        );
        // The escape.
        assert_eq!(
            resolve_value(&p, "$${server:db1}").unwrap().0,
            "${server:db1}"
        );
    }

    #[test]
    fn bad_references_point_at_their_file_and_line() {
        let p = project(true);
        let e = resolve_value(&p, "${server:db}").unwrap_err();
        assert!(e.message.contains("names no server"), "{e:?}");
        assert_eq!(e.help.as_deref(), Some("did you mean \"db1\"?"));
        assert!(resolve_value(&p, "${server:db1")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(resolve_value(&p, "${server:here}")
            .unwrap_err()
            .message
            .contains("local"));
        let e = resolve_value(&project(false), "${server:db1}").unwrap_err();
        assert!(e.message.contains("needs a [network]"), "{e:?}");

        let mut env = MergedEnv {
            env: "staging".into(),
            server: None,
            undefined: vec![],
            entries: vec![
                MergedEntry {
                    key: "DB".into(),
                    value: "${server:db1}".into(),
                    layer: "base.env".into(),
                    line: 1,
                },
                MergedEntry {
                    key: "BAD".into(),
                    value: "${server:nope}".into(),
                    layer: "staging.env".into(),
                    line: 7,
                },
            ],
        };
        let e = resolve_env(&p, &mut env).unwrap_err();
        assert_eq!(
            env.entries[0].value, "${server:db1}",
            "nothing half-resolved"
        );
        assert_eq!(e.file, std::path::Path::new("/p/config/envs/staging.env"));
        assert_eq!(e.line, Some(7));
        assert!(e.message.starts_with("BAD: "), "{e}");
        env.entries.pop();
        let used = resolve_env(&p, &mut env).unwrap();
        assert_eq!(env.entries[0].value, "db1.corp.ts.net");
        assert_eq!(
            used,
            [Resolved {
                key: "DB".into(),
                server: "db1".into(),
                fqdn: "db1.corp.ts.net".into()
            }]
        );
    }
}
