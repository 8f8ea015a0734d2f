//! `#cloud-config` user-data with the end state of `server bootstrap`,
//! for a server that does not exist yet: Docker and its compose package,
//! the deploy user with its keys (and sudo), the sshd drop-in, the
//! firewall, the layout, and the engine started.
//!
//! Declarative modules where cloud-init has them (`packages`, `users`,
//! `write_files`); the rest runs in `runcmd`, after the packages, with the
//! very scripts bootstrap runs (the engine start, the layout), so both
//! paths end in the same place. One thing differs: cloud-init cannot prove
//! a key login before it hardens sshd, as bootstrap does, so the keys must
//! be right the first time.

use super::script;
use super::{firewall, Spec};
use crate::config::bootstrap::DockerSource;
use serde_json::{json, Value};

/// The user-data for `spec`. `about` goes into the header comment (which
/// app, env and servers it was made for).
pub fn user_data(spec: &Spec, about: &str) -> String {
    let mut packages = vec![];
    let mut runcmd: Vec<Value> = vec![];
    match spec.docker {
        DockerSource::Distro => {
            packages.push("docker.io");
            // The compose package's name differs between releases (and
            // some have none): the first one apt knows.
            runcmd.push(json!(["sh", "-c", COMPOSE]));
        }
        DockerSource::Upstream => {
            // Docker's repository needs its key checked first: the same
            // script bootstrap runs.
            runcmd.push(json!(["sh", "-c", script::packages(spec, false)]));
        }
    }
    if spec.sudo {
        packages.push("sudo");
    }
    if spec.firewall.is_some() {
        packages.push("nftables");
    }
    // The group exists once docker.io is installed, after `users` ran;
    // '*' is no password but not locked (sshd without PAM refuses locked
    // accounts even for keys), as bootstrap leaves it.
    runcmd.push(json!(["usermod", "-aG", "docker", "-p", "*", spec.user]));
    runcmd.push(json!(["sh", "-c", script::engine(None, false)]));
    runcmd.push(json!(["sh", "-c", script::layout(spec, false)]));

    let user = json!({
        "name": spec.user,
        "gecos": "arcane deploy user",
        "shell": "/bin/bash",
        "lock_passwd": true,
        "ssh_authorized_keys": spec.keys,
    });
    let mut files = vec![];
    if spec.sudo {
        // The file bootstrap writes (not cloud-init's own), so a later
        // bootstrap finds nothing to change.
        files.push(json!({
            "path": script::sudoers_path(&spec.user),
            "permissions": "0440",
            "content": script::sudoers(&spec.user),
        }));
    }
    if spec.harden_ssh {
        files.push(json!({
            "path": script::SSHD_DROPIN,
            "permissions": "0644",
            "content": script::sshd_dropin(spec),
        }));
        runcmd.push(json!(["sh", "-c", SSHD_RELOAD]));
    }
    if let Some(ports) = &spec.firewall {
        files.push(json!({
            "path": firewall::RULES_PATH,
            "permissions": "0644",
            "content": firewall::ruleset(ports),
        }));
        files.push(json!({
            "path": firewall::UNIT_PATH,
            "permissions": "0644",
            "content": firewall::unit(),
        }));
        runcmd.push(json!(["sh", "-c", FIREWALL_LOAD]));
    }

    let mut doc = json!({
        "package_update": true,
        "packages": packages,
        "users": ["default", user],
        "ssh_pwauth": false,
        "disable_root": spec.sudo,
    });
    if !files.is_empty() {
        doc["write_files"] = json!(files);
    }
    doc["runcmd"] = json!(runcmd);
    let body = serde_norway::to_string(&doc).expect("user-data serializes");
    let mut out = String::from("#cloud-config\n");
    for line in about.lines() {
        out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
    }
    out.push_str(body.trim_start_matches("---\n"));
    out
}

const COMPOSE: &str = r#"for p in docker-compose-v2 docker-compose; do
  if apt-cache show "$p" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" && break
  fi
done"#;

const SSHD_RELOAD: &str = r#"sshd -t || exit 1
if [ -d /run/systemd/system ]; then systemctl reload ssh.service || systemctl reload sshd.service
elif [ -f /run/sshd.pid ]; then kill -HUP "$(cat /run/sshd.pid)"
fi"#;

const FIREWALL_LOAD: &str = r#"nft -f /etc/arcane/firewall.nft || exit 1
if [ -d /run/systemd/system ]; then systemctl daemon-reload && systemctl enable arcane-firewall.service; fi"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::bootstrap::PortRule;

    fn spec() -> Spec {
        Spec {
            user: "arcane".into(),
            keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPVCgLIr5nGqDwmyMpn7dOHw2Sf4jyH72FdzhAS8VxQW me@laptop".into()],
            docker: DockerSource::Distro,
            sudo: true,
            firewall: Some(vec![PortRule::tcp(22), PortRule::tcp(8080)]),
            harden_ssh: true,
            app: "hello".into(),
            env: "staging".into(),
        }
    }

    #[test]
    fn user_data_is_cloud_config_yaml_with_the_bootstrap_end_state() {
        let ud = user_data(&spec(), "hello (staging): srv1\n\nsecond line");
        assert!(
            ud.starts_with("#cloud-config\n# hello (staging): srv1\n#\n# second line\n"),
            "{ud}"
        );
        let v: serde_json::Value = serde_norway::from_str(&ud).unwrap();
        assert_eq!(v["packages"], json!(["docker.io", "sudo", "nftables"]));
        assert_eq!(v["users"][0], "default");
        assert_eq!(v["users"][1]["name"], "arcane");
        assert!(v["users"][1]["ssh_authorized_keys"][0]
            .as_str()
            .unwrap()
            .ends_with("me@laptop"));
        assert_eq!(v["ssh_pwauth"], false);
        let files: Vec<&str> = v["write_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            files,
            [
                "/etc/sudoers.d/arcane-arcane",
                script::SSHD_DROPIN,
                firewall::RULES_PATH,
                firewall::UNIT_PATH
            ]
        );
        assert_eq!(v["write_files"][0]["permissions"], "0440");
        assert!(v["write_files"][1]["content"]
            .as_str()
            .unwrap()
            .contains("PermitRootLogin no\nPasswordAuthentication no\n"));
        let cmds = v["runcmd"].as_array().unwrap();
        assert_eq!(
            cmds[1],
            json!(["usermod", "-aG", "docker", "-p", "*", "arcane"])
        );
        assert!(cmds[2][2].as_str().unwrap().contains("SYSTEMD=auto\n"));
        assert!(cmds[3][2].as_str().unwrap().contains("APP=hello"));
        // Without the firewall and hardening: no files, no nftables.
        let mut s = spec();
        s.firewall = None;
        s.harden_ssh = false;
        s.sudo = false;
        let v: serde_json::Value = serde_norway::from_str(&user_data(&s, "x")).unwrap();
        assert_eq!(v["packages"], json!(["docker.io"]));
        assert!(v.get("write_files").is_none());
        assert_eq!(v["disable_root"], false);
    }
}
