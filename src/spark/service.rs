//! `arcane spark install-service`: a systemd unit that runs Spark as its
//! own unprivileged user, with the machine key passed as a systemd
//! credential (readable by the service only, never in the unit or its
//! environment) and the usual sandboxing. Docker access comes from the
//! `docker` group; the state dir is the only writable place besides /tmp.

use std::path::{Path, PathBuf};

pub const UNIT_PATH: &str = "/etc/systemd/system/arcane-spark.service";
/// Where the unit expects the machine key (root-owned, 0600).
pub const KEY_PATH: &str = "/etc/arcane/machine-key";

#[derive(Debug, Clone)]
pub struct UnitOptions {
    pub binary: PathBuf,
    pub config: PathBuf,
    pub user: String,
    pub state_dir: PathBuf,
    pub key_file: PathBuf,
}

/// The unit file's text.
pub fn unit(o: &UnitOptions) -> String {
    let state = o.state_dir.display().to_string();
    let (state_name, extra_rw) = match o.state_dir.strip_prefix("/var/lib") {
        // StateDirectory= creates and owns it under /var/lib.
        Ok(rel) if !rel.as_os_str().is_empty() => (rel.display().to_string(), String::new()),
        _ => (String::new(), format!("ReadWritePaths={state}\n")),
    };
    let state_line = if state_name.is_empty() {
        String::new()
    } else {
        format!("StateDirectory={state_name}\nStateDirectoryMode=0700\n")
    };
    format!(
        r#"# arcane spark: push-to-deploy build server (docs/spark.md).
# Written by `arcane spark install-service`.
[Unit]
Description=arcane spark push-to-deploy build server
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
SupplementaryGroups=docker
ExecStart={bin} spark serve --config {config}
# The machine key, as a credential only this service can read.
LoadCredential=machine-key:{key}
Environment=ARCANE_MACHINE_KEY_FILE=%d/machine-key
Environment=HOME={state}
{state_line}{extra_rw}WorkingDirectory={state}
Restart=on-failure
RestartSec=5
# SIGTERM cancels running jobs; they run again on the next start.
TimeoutStopSec=60
UMask=0077

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"#,
        user = o.user,
        bin = o.binary.display(),
        config = o.config.display(),
        key = o.key_file.display(),
    )
}

/// What to run after the unit is written.
pub fn next_steps(o: &UnitOptions, unit_path: &Path) -> Vec<String> {
    vec![
        format!("useradd --system --home-dir {} --shell /usr/sbin/nologin --groups docker {}   # once", o.state_dir.display(), o.user),
        format!("install -m 0600 -o root -g root /dev/stdin {} <<< \"$KEY\"   # the AGE-SECRET-KEY-1... line from `arcane deploy gen-key`", o.key_file.display()),
        format!("systemctl daemon-reload && systemctl enable --now {}", unit_path.file_name().and_then(|n| n.to_str()).unwrap_or("arcane-spark.service")),
        "journalctl -u arcane-spark -f   # its log".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(state: &str) -> UnitOptions {
        UnitOptions {
            binary: "/usr/local/bin/arcane".into(),
            config: "/etc/arcane/spark.toml".into(),
            user: "arcane-spark".into(),
            state_dir: state.into(),
            key_file: KEY_PATH.into(),
        }
    }

    #[test]
    fn the_unit_is_hardened_and_holds_no_secret() {
        let u = unit(&opts("/var/lib/arcane-spark"));
        for line in [
            "ExecStart=/usr/local/bin/arcane spark serve --config /etc/arcane/spark.toml",
            "LoadCredential=machine-key:/etc/arcane/machine-key",
            "Environment=ARCANE_MACHINE_KEY_FILE=%d/machine-key",
            "StateDirectory=arcane-spark",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "User=arcane-spark",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line:?}:\n{u}");
        }
        assert!(!u.contains("AGE-SECRET-KEY"));
        assert!(!u.contains("ReadWritePaths"));
        let u = unit(&opts("/srv/spark"));
        assert!(u.contains("ReadWritePaths=/srv/spark\n"), "{u}");
        assert!(!u.contains("StateDirectory="), "{u}");
    }
}
