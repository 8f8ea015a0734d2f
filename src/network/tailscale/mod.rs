//! The Tailscale provider (`provider = "tailscale"`), which also drives a
//! Headscale control server through `login_server`.
//!
//! Install: detect the client and its version; on Debian and Ubuntu add
//! Tailscale's signed apt repository and install (or upgrade) from it;
//! piping the install script to `sh` only with `method = "script"`.
//! Join: read `tailscale status --json`; a node already on the configured
//! tailnet with its tags is left alone; a logged-out node runs `tailscale
//! up` with the key in a 0600 file the same command removes; a node on
//! another tailnet, or missing tags, is reported and never moved or
//! re-tagged (both re-authenticate it and can cut it off).

pub mod cli;
#[cfg(test)]
mod tests;

use super::{
    node_fqdn, node_spec, AuthKey, ClientInfo, Installed, Joined, NetworkError, NetworkProvider,
    NodeSpec, NodeStatus, Observed,
};
use crate::config::network::{parse_version, version_at_least, InstallMethod, NetworkConfig};
use crate::config::Server;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use cli::Facts;
use std::time::Duration;

/// The oldest client that reads an auth key from a file (`file:`); older
/// ones would need it in argv, which arcane never does.
pub const FILE_KEY_SINCE: &str = "1.16";

const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
const UP_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Tailscale {
    cfg: NetworkConfig,
}

/// What the client needs before a join.
enum Action {
    Install,
    Upgrade { from: String },
}

impl Tailscale {
    pub fn new(cfg: NetworkConfig) -> Tailscale {
        Tailscale { cfg }
    }

    /// The oldest version accepted: `min_version`, and never below
    /// [`FILE_KEY_SINCE`]. Also says why, when that floor is the reason.
    fn min_version(&self) -> (Vec<u64>, String, Option<String>) {
        let floor = parse_version(FILE_KEY_SINCE).expect("valid constant");
        match self
            .cfg
            .install
            .min_version
            .as_deref()
            .and_then(|m| parse_version(m).map(|v| (v, m.to_string())))
        {
            Some((v, m)) if version_at_least(&v, &floor) => (v, m, None),
            _ => (
                floor,
                FILE_KEY_SINCE.to_string(),
                Some(
                    "arcane passes the auth key in a file, which older clients cannot read".into(),
                ),
            ),
        }
    }

    fn probe(&self, t: &dyn Transport, em: &Emitter) -> Result<Facts, NetworkError> {
        let out = t.run(
            &Cmd::shell(cli::probe_script()).with_timeout(PROBE_TIMEOUT),
            em,
        )?;
        Ok(cli::parse_facts(&out.stdout_str()))
    }

    fn client(&self, f: &Facts) -> Option<ClientInfo> {
        f.client.as_ref().map(|(path, version)| ClientInfo {
            path: path.clone(),
            version: version.clone(),
        })
    }

    /// What the client needs, or why arcane cannot give it.
    fn install_plan(&self, t: &dyn Transport, f: &Facts) -> Result<Option<Action>, NetworkError> {
        let server = t.name().to_string();
        let (min, min_s, why) = self.min_version();
        let action = match &f.client {
            Some((_, v)) => {
                let have = parse_version(v).ok_or_else(|| NetworkError::Protocol {
                    server: server.clone(),
                    what: "tailscale version".into(),
                    reason: format!("{v:?} is not a version"),
                })?;
                if version_at_least(&have, &min) {
                    return Ok(None);
                }
                if self.cfg.install.method == InstallMethod::Manual {
                    return Err(NetworkError::TooOld {
                        server,
                        version: v.clone(),
                        min: min_s,
                        why: Some(why.unwrap_or_else(|| {
                            "install method is \"manual\": upgrade it yourself".into()
                        })),
                    });
                }
                Action::Upgrade { from: v.clone() }
            }
            None if self.cfg.install.method == InstallMethod::Manual => {
                return Err(NetworkError::NotInstalled { server })
            }
            None => Action::Install,
        };
        if !f.install_supported() {
            return Err(NetworkError::UnsupportedOs { server, os: f.os() });
        }
        if self.cfg.install.method == InstallMethod::Apt && f.os_codename.is_empty() {
            return Err(NetworkError::UnsupportedOs {
                server,
                os: format!("{} (no VERSION_CODENAME in /etc/os-release)", f.os()),
            });
        }
        if !f.is_root() && !f.sudo {
            return Err(self.needs_root(&server, f, "not root, and sudo is not installed"));
        }
        Ok(Some(action))
    }

    fn needs_root(&self, server: &str, f: &Facts, reason: &str) -> NetworkError {
        NetworkError::NeedsRoot {
            server: server.to_string(),
            user: if f.user.is_empty() {
                "the SSH user".into()
            } else {
                f.user.clone()
            },
            reason: reason.to_string(),
        }
    }

    /// `tailscale status --json`: the node, or why the daemon did not answer.
    fn read_status(
        &self,
        t: &dyn Transport,
        em: &Emitter,
    ) -> Result<Result<NodeStatus, String>, NetworkError> {
        let out = t.run(
            &Cmd::argv(["tailscale", "status", "--json"]).with_timeout(PROBE_TIMEOUT),
            em,
        )?;
        if !out.success() {
            let why = cli::last_lines(&out.stderr_str(), 2);
            return Ok(Err(if why.is_empty() {
                format!("`tailscale status` exited with {}", out.status)
            } else {
                why
            }));
        }
        cli::parse_status(&out.stdout_str())
            .map(Ok)
            .map_err(|reason| NetworkError::Protocol {
                server: t.name().to_string(),
                what: "tailscale status --json".into(),
                reason,
            })
    }

    /// Where a running node differs from what the config wants. `state` is
    /// "is on" for a node found joined, "joined" for one arcane just joined.
    fn check_node(&self, node: &NodeSpec, st: &NodeStatus, just_joined: bool) -> Vec<NetworkError> {
        let server = node.server.clone();
        let wanted = self.cfg.domain();
        let state = if just_joined { "joined" } else { "is on" };
        let mut out = vec![];
        let found = st.suffix.clone().unwrap_or_default();
        if found != wanted {
            let shown = match &st.tailnet {
                Some(n) if *n != found => format!("{n} ({found})"),
                _ => found.clone(),
            };
            let hint = if just_joined {
                format!("the auth key belongs to that tailnet: use a key of {wanted}, or fix tailnet_domain; {server} stays joined to {shown} (`tailscale logout` on it undoes that)")
            } else {
                format!("arcane never moves a node between tailnets: run `tailscale logout` on {server} if it should join {wanted}, or fix tailnet_domain; nothing was changed")
            };
            out.push(NetworkError::WrongTailnet {
                server,
                state: state.into(),
                found: shown,
                wanted,
                hint,
            });
            // Tags and names of another tailnet say nothing useful.
            return out;
        }
        let missing: Vec<String> = node
            .tags
            .iter()
            .filter(|t| !st.tags.contains(t))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let hint = if just_joined {
                format!("the control server did not grant them: allow them in the ACL's tagOwners (or use a key that carries them); {server} stays joined")
            } else {
                format!(
                    "arcane does not re-tag a joined node (that re-authenticates it and can cut its connections): run `tailscale up --advertise-tags={} --force-reauth` on {server} (with its other flags), or change [network] role_tags; nothing was changed",
                    node.tags.join(",")
                )
            };
            out.push(NetworkError::TagMismatch {
                server: server.clone(),
                state: state.into(),
                missing,
                have: st.tags.clone(),
                hint,
            });
        }
        if let Some(got) = &st.dns_name {
            if *got != node.fqdn {
                out.push(NetworkError::NameTaken {
                    server,
                    wanted: node.fqdn.clone(),
                    got: got.clone(),
                    hostname: node.hostname.clone(),
                });
            }
        }
        out
    }

    fn describe_join(&self, node: &NodeSpec) -> String {
        let mut s = format!("join {} as {}", self.cfg.domain(), node.fqdn);
        if !node.tags.is_empty() {
            s.push_str(&format!(" with {}", node.tags.join(",")));
        }
        if let Some(url) = &self.cfg.login_server {
            s.push_str(&format!(" via {url}"));
        }
        s
    }

    /// The file the key travels in: under the SSH user's home, so no other
    /// user can swap it, with a name no two runs share.
    fn key_path(f: &Facts) -> String {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let home = if f.home.is_empty() { "/root" } else { &f.home };
        format!(
            "{}/.arcane/network/authkey.{}.{nonce}",
            home.trim_end_matches('/'),
            std::process::id()
        )
    }
}

impl NetworkProvider for Tailscale {
    fn id(&self) -> &'static str {
        "tailscale"
    }

    fn node_fqdn(&self, server: &str) -> String {
        node_fqdn(&self.cfg, server)
    }

    fn node_spec(&self, server: &Server) -> NodeSpec {
        node_spec(&self.cfg, server)
    }

    fn ensure_installed(&self, t: &dyn Transport, em: &Emitter) -> Result<Installed, NetworkError> {
        let server = t.name().to_string();
        let f = self.probe(t, em)?;
        let Some(action) = self.install_plan(t, &f)? else {
            let client = self.client(&f).unwrap_or_default();
            return Ok(Installed {
                changed: false,
                detail: format!("tailscale {} already installed", client.version),
                client,
            });
        };
        let method = self.cfg.install.method;
        let script = match method {
            InstallMethod::Script => cli::script_install_script(),
            _ => cli::apt_install_script(&f.os_id, &f.os_codename),
        };
        let cmd = cli::as_root(&script, &f)
            .ok_or_else(|| self.needs_root(&server, &f, "not root, and sudo is not installed"))?;
        let out = t.run(&cmd.with_timeout(INSTALL_TIMEOUT), em)?;
        if !out.success() {
            let err = out.stderr_str();
            if err.contains("a password is required") || err.contains("a terminal is required") {
                return Err(self.needs_root(&server, &f, "sudo asks for a password"));
            }
            return Err(NetworkError::InstallFailed {
                server,
                method: method.word().into(),
                reason: format!("exit {}: {}", out.status, cli::last_lines(&err, 3)),
            });
        }
        let after = self.probe(t, em)?;
        let Some(client) = self.client(&after) else {
            return Err(NetworkError::InstallFailed {
                server,
                method: method.word().into(),
                reason: "the install succeeded but no `tailscale` is on the PATH".into(),
            });
        };
        let (min, min_s, _) = self.min_version();
        if !parse_version(&client.version).is_some_and(|v| version_at_least(&v, &min)) {
            return Err(NetworkError::TooOld {
                server,
                version: client.version.clone(),
                min: min_s,
                why: Some(format!("the newest the {} install offers", method.word())),
            });
        }
        let detail = match action {
            Action::Install => {
                format!("installed tailscale {} ({})", client.version, method.word())
            }
            Action::Upgrade { from } => format!(
                "upgraded tailscale {from} to {} ({})",
                client.version,
                method.word()
            ),
        };
        Ok(Installed {
            changed: true,
            client,
            detail,
        })
    }

    fn ensure_joined(
        &self,
        t: &dyn Transport,
        node: &NodeSpec,
        key: &AuthKey,
        em: &Emitter,
    ) -> Result<Joined, NetworkError> {
        let server = t.name().to_string();
        let f = self.probe(t, em)?;
        if f.client.is_none() {
            return Err(NetworkError::JoinFailed {
                server,
                reason: "the tailscale client is not installed (install it first)".into(),
            });
        }
        let st = self.read_status(t, em)?.map_err(|why| NetworkError::JoinFailed {
            server: server.clone(),
            reason: format!("tailscaled does not answer ({why}); start it: systemctl enable --now tailscaled"),
        })?;
        if st.running() {
            return match self.check_node(node, &st, false).into_iter().next() {
                Some(problem) => Err(problem),
                None => Ok(Joined {
                    changed: false,
                    detail: format!("on {} as {}", self.cfg.domain(), node.fqdn),
                    node: st,
                }),
            };
        }
        if st.backend_state == "NeedsMachineAuth" {
            return Err(NetworkError::JoinFailed {
                server,
                reason: "the node waits for approval: approve it in the admin console (or use a pre-approved key), then run this again".into(),
            });
        }
        let key_file = Self::key_path(&f);
        let argv = cli::up_argv(
            &key_file,
            &node.hostname,
            &node.tags,
            self.cfg.login_server.as_deref(),
        );
        let cmd = cli::as_root(&cli::up_script(&key_file, &argv), &f)
            .ok_or_else(|| self.needs_root(&server, &f, "not root, and sudo is not installed"))?;
        let mut bytes = key.expose().as_bytes().to_vec();
        bytes.push(b'\n');
        t.upload(&key_file, &bytes, 0o600, em)?;
        let out = match t.run(&cmd.with_timeout(UP_TIMEOUT), em) {
            Ok(out) => out,
            Err(e) => {
                // The script's trap may not have run: remove the key here.
                let _ = t.run(&Cmd::argv(["rm", "-f", &key_file]), em);
                return Err(e.into());
            }
        };
        if !out.success() {
            let err = out.stderr_str();
            if err.contains("a password is required") || err.contains("a terminal is required") {
                let _ = t.run(&Cmd::argv(["rm", "-f", &key_file]), em);
                return Err(self.needs_root(&server, &f, "sudo asks for a password"));
            }
            return Err(match cli::classify_up_failure(&err, &out.stdout_str()) {
                cli::UpFailure::InvalidKey(reason) => NetworkError::InvalidAuthKey {
                    server,
                    var: self.cfg.auth_key_env.clone(),
                    reason,
                },
                cli::UpFailure::TagsRefused(reason) => NetworkError::TagsRefused {
                    server,
                    tags: node.tags.clone(),
                    reason,
                },
                cli::UpFailure::Other(reason) => NetworkError::JoinFailed { server, reason },
            });
        }
        let st = self
            .read_status(t, em)?
            .map_err(|why| NetworkError::JoinFailed {
                server: server.clone(),
                reason: format!(
                    "`tailscale up` succeeded but the daemon no longer answers ({why})"
                ),
            })?;
        if !st.running() {
            return Err(NetworkError::JoinFailed {
                server,
                reason: format!(
                    "`tailscale up` succeeded but the node is {}",
                    st.backend_state
                ),
            });
        }
        if let Some(problem) = self.check_node(node, &st, true).into_iter().next() {
            return Err(problem);
        }
        let ip = st.ips.first().cloned().unwrap_or_default();
        Ok(Joined {
            changed: true,
            detail: format!("joined {} as {} ({ip})", self.cfg.domain(), node.fqdn),
            node: st,
        })
    }

    fn observe(
        &self,
        t: &dyn Transport,
        node: &NodeSpec,
        em: &Emitter,
    ) -> Result<Observed, NetworkError> {
        let f = self.probe(t, em)?;
        let mut o = Observed {
            os: f.os(),
            client: self.client(&f),
            ..Default::default()
        };
        match self.install_plan(t, &f) {
            Ok(None) => {}
            Ok(Some(Action::Install)) => o.todo.push(format!(
                "install tailscale ({})",
                self.cfg.install.method.word()
            )),
            Ok(Some(Action::Upgrade { from })) => o.todo.push(format!(
                "upgrade tailscale {from} ({})",
                self.cfg.install.method.word()
            )),
            Err(e) => o.problems.push(e),
        }
        if o.client.is_some() {
            match self.read_status(t, em)? {
                Ok(st) => {
                    if st.running() {
                        o.problems.extend(self.check_node(node, &st, false));
                    } else {
                        o.todo.push(self.describe_join(node));
                    }
                    o.node = Some(st);
                }
                Err(why) => {
                    o.daemon_error = Some(why);
                    o.todo.push(self.describe_join(node));
                }
            }
        } else if o.problems.is_empty() {
            o.todo.push(self.describe_join(node));
        }
        Ok(o)
    }
}
