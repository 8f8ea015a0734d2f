//! From a bare server to one arcane deploys to: Docker from the
//! distribution's packages, the engine started, a deploy user in the docker
//! group with the configured keys, the layout the deploy engine uses, an
//! optional firewall and a hardened sshd. `ops::bootstrap` runs these steps
//! over the transport; `cloud_init` writes the same end state as
//! first-boot user-data.
//!
//! Everything here is pure: the step scripts, the firewall ruleset, the
//! parsing of what the server said, the user-data and the registry edit.
//! Nothing runs a command.

pub mod cloud_init;
pub mod firewall;
pub mod os;
pub mod registry;
pub mod script;

use crate::config::bootstrap::{DockerSource, PortRule};
use crate::remote::{shell_quote, Cmd};
use std::collections::BTreeMap;

/// The step names, in the order a bootstrap runs them (the event stream,
/// `--json` and the dashboard show these).
pub mod step {
    pub const CONNECT: &str = "connect";
    pub const OS: &str = "os";
    pub const PACKAGES: &str = "packages";
    pub const ENGINE: &str = "engine";
    pub const USER: &str = "user";
    pub const LAYOUT: &str = "layout";
    /// `[network]` only: the tailnet client installed and joined.
    pub const NETWORK: &str = "network";
    pub const LOGIN: &str = "login";
    pub const FIREWALL: &str = "firewall";
    pub const SSHD: &str = "sshd";
    pub const REGISTRY: &str = "registry";
}

/// What bootstrap makes of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub user: String,
    /// `authorized_keys` lines, checked.
    pub keys: Vec<String>,
    pub docker: DockerSource,
    pub sudo: bool,
    /// The ports to let in, when the firewall is on.
    pub firewall: Option<Vec<PortRule>>,
    pub harden_ssh: bool,
    pub app: String,
    pub env: String,
}

/// A step script's result line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub changed: bool,
    pub detail: String,
}

/// The `arcane:changed|unchanged<TAB>detail` line a step script printed
/// last. `None` when there is none (the script died before saying).
pub fn parse_outcome(stdout: &str) -> Option<Outcome> {
    stdout.lines().rev().find_map(|l| {
        let (tag, detail) = l.split_once('\t')?;
        let changed = match tag {
            "arcane:changed" => true,
            "arcane:unchanged" => false,
            _ => return None,
        };
        Some(Outcome {
            changed,
            detail: detail.trim().to_string(),
        })
    })
}

/// How a script gets root: it already is, or `sudo -n` (never a password
/// prompt; a sudo that wants one fails at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    Root,
    Sudo,
}

/// A step script as the command that runs it with root's rights. Each
/// runs under `sh`, whatever the login shell.
pub fn as_root(script: &str, how: Privilege) -> Cmd {
    match how {
        Privilege::Root => Cmd::shell(format!("sh -c {}", shell_quote(script))),
        Privilege::Sudo => Cmd::shell(format!("sudo -n sh -c {}", shell_quote(script))),
    }
}

/// What the first round trip found (see [`script::probe`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    pub uid: Option<u32>,
    pub user: String,
    /// `Some(true)` when a non-root user can `sudo -n`.
    pub sudo: Option<bool>,
    pub systemd: bool,
    pub deploy_user_exists: bool,
    pub os: os::OsRelease,
}

impl Probe {
    pub fn parse(out: &str) -> Probe {
        let (head, os) = out.split_once("-- os-release\n").unwrap_or((out, ""));
        let kv = tab_pairs(head);
        Probe {
            uid: kv.get("uid").and_then(|u| u.parse().ok()),
            user: kv.get("user").cloned().unwrap_or_default(),
            sudo: kv.get("sudo").map(|s| s == "yes"),
            systemd: kv.get("systemd").is_some_and(|s| s == "yes"),
            deploy_user_exists: kv.get("deploy_user").is_some_and(|s| s == "yes"),
            os: os::OsRelease::parse(os),
        }
    }

    /// How to get root here, or why it cannot be had.
    pub fn privilege(&self) -> Result<Privilege, String> {
        match (self.uid, self.sudo) {
            (Some(0), _) => Ok(Privilege::Root),
            (_, Some(true)) => Ok(Privilege::Sudo),
            (None, _) => Err("the server did not say who we are (`id -u` failed)".into()),
            _ => Err(format!(
                "{} is not root and cannot use sudo without a password; bootstrap as root, or give {} passwordless sudo",
                self.user, self.user
            )),
        }
    }
}

/// What the deploy user's own login found (see [`script::login_check`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginCheck {
    pub user: String,
    pub groups: Vec<String>,
    pub docker: Option<String>,
    pub docker_error: Option<String>,
    pub sudo: bool,
}

impl LoginCheck {
    pub fn parse(out: &str) -> LoginCheck {
        let kv = tab_pairs(out);
        LoginCheck {
            user: kv.get("user").cloned().unwrap_or_default(),
            groups: kv
                .get("groups")
                .map(|g| g.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            docker: kv.get("docker").cloned(),
            docker_error: kv.get("docker_error").cloned(),
            sudo: kv.get("sudo").is_some_and(|s| s == "yes"),
        }
    }

    /// What a deploy needs of this login: the engine, and sudo when the
    /// spec gives it (later bootstraps run as this user).
    pub fn verdict(&self, spec: &Spec) -> Result<String, String> {
        let Some(v) = &self.docker else {
            return Err(format!(
                "{} logged in but cannot use Docker: {}",
                spec.user,
                self.docker_error.as_deref().unwrap_or("no answer")
            ));
        };
        if spec.sudo && !self.sudo {
            return Err(format!("{} logged in but `sudo -n true` fails", spec.user));
        }
        Ok(format!(
            "key login as {} works; docker {v}{}",
            spec.user,
            if self.sudo { "; sudo works" } else { "" }
        ))
    }
}

fn tab_pairs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_is_the_last_result_line() {
        let out = "Reading package lists...\narcane:changed\tinstalled docker.io\n";
        assert_eq!(
            parse_outcome(out),
            Some(Outcome {
                changed: true,
                detail: "installed docker.io".into()
            })
        );
        assert_eq!(
            parse_outcome("arcane:unchanged\tdocker.io 20.10 already installed").map(|o| o.changed),
            Some(false)
        );
        assert_eq!(parse_outcome("E: broken\n"), None);
    }

    #[test]
    fn probe_says_how_to_get_root() {
        let p = Probe::parse(
            "uid\t1000\nuser\tadmin\nsudo\tno\nsystemd\tyes\ndeploy_user\tno\n-- os-release\nID=debian\nVERSION_ID=\"12\"\n",
        );
        assert!(p.systemd && !p.deploy_user_exists);
        assert_eq!(p.os.version_id, "12");
        assert!(p.privilege().unwrap_err().contains("admin is not root"));
        let p = Probe::parse("uid\t1000\nuser\tadmin\nsudo\tyes\n-- os-release\n");
        assert_eq!(p.privilege(), Ok(Privilege::Sudo));
        assert_eq!(
            Probe::parse("uid\t0\nuser\troot\n").privilege(),
            Ok(Privilege::Root)
        );
        assert_eq!(
            as_root("echo 'hi'", Privilege::Sudo).to_shell(),
            r#"sudo -n sh -c 'echo '\''hi'\'''"#
        );
    }

    #[test]
    fn login_check_needs_docker_and_the_promised_sudo() {
        let spec = Spec {
            user: "arcane".into(),
            keys: vec![],
            docker: DockerSource::Distro,
            sudo: true,
            firewall: None,
            harden_ssh: true,
            app: "a".into(),
            env: "staging".into(),
        };
        let ok =
            LoginCheck::parse("user\tarcane\ngroups\tarcane docker\ndocker\t20.10.24\nsudo\tyes\n");
        assert_eq!(
            ok.verdict(&spec).unwrap(),
            "key login as arcane works; docker 20.10.24; sudo works"
        );
        let no_docker = LoginCheck::parse(
            "user\tarcane\ngroups\tarcane\ndocker_error\tpermission denied while trying to connect\n",
        );
        assert!(no_docker
            .verdict(&spec)
            .unwrap_err()
            .contains("permission denied"));
        let no_sudo = LoginCheck::parse("docker\t20.10.24\n");
        assert!(no_sudo.verdict(&spec).unwrap_err().contains("sudo -n true"));
    }
}
