//! `arcane git watch --install-service`: the watcher as a systemd user
//! service, one per work tree, started now and at every login.
//!
//! The unit runs the absolute path of this arcane binary with `--project`,
//! so it does not depend on PATH or on the directory systemd starts it in.
//! `systemctl --user stop` sends SIGTERM, which the watcher treats like
//! Ctrl-C: the snapshot in progress finishes or is dropped whole.

use super::GitError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The unit's name for a project: its directory name plus a hash of the
/// full path, so two checkouts of one app get two services.
pub fn unit_name(project_root: &Path) -> String {
    let name: String = project_root
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let h = hex::encode(&Sha256::digest(project_root.to_string_lossy().as_bytes())[..4]);
    format!("arcane-git-watch-{name}-{h}.service")
}

/// Where user units live: `$XDG_CONFIG_HOME/systemd/user`.
pub fn unit_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("systemd/user"))
}

/// The unit file's text. Values are quoted for systemd's command line.
pub fn unit_text(exe: &Path, project_root: &Path) -> String {
    let q = |p: &Path| {
        format!(
            "\"{}\"",
            p.display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        )
    };
    format!(
        "# Written by `arcane git watch --install-service`; remove with --uninstall-service.\n\
         [Unit]\n\
         Description=arcane shadow snapshots of {root}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         WorkingDirectory={wd}\n\
         ExecStart={exe} --project {wd} git watch\n\
         Restart=on-failure\n\
         RestartSec=10\n\
         Nice=10\n\
         IOSchedulingClass=idle\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        root = project_root.display(),
        wd = q(project_root),
        exe = q(exe),
    )
}

/// What installing or removing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceResult {
    pub unit: String,
    pub path: PathBuf,
    /// `systemctl --user` failed (no user session): the text says so.
    pub systemctl_error: Option<String>,
}

fn systemctl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemctl --user {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Write the unit and enable and start it.
pub fn install(exe: &Path, project_root: &Path) -> Result<ServiceResult, GitError> {
    let unit = unit_name(project_root);
    let dir = unit_dir()
        .ok_or_else(|| GitError::Input("neither XDG_CONFIG_HOME nor HOME is set".into()))?;
    let path = dir.join(&unit);
    crate::secrets::write_atomic(&path, unit_text(exe, project_root).as_bytes(), 0o644)
        .map_err(|e| GitError::Failed(e.to_string()))?;
    let systemctl_error = systemctl(&["daemon-reload"])
        .and_then(|_| systemctl(&["enable", "--now", &unit]))
        .err();
    Ok(ServiceResult {
        unit,
        path,
        systemctl_error,
    })
}

/// Stop and disable the unit, and remove its file.
pub fn uninstall(project_root: &Path) -> Result<ServiceResult, GitError> {
    let unit = unit_name(project_root);
    let dir = unit_dir()
        .ok_or_else(|| GitError::Input("neither XDG_CONFIG_HOME nor HOME is set".into()))?;
    let path = dir.join(&unit);
    let systemctl_error = systemctl(&["disable", "--now", &unit]).err();
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(GitError::Input(format!(
                "no service installed for this project ({} does not exist)",
                path.display()
            )))
        }
        Err(e) => return Err(GitError::Io { path, source: e }),
    }
    let _ = systemctl(&["daemon-reload"]);
    Ok(ServiceResult {
        unit,
        path,
        systemctl_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_named_per_checkout_and_quote_paths() {
        let a = unit_name(Path::new("/home/a/my app"));
        assert!(
            a.starts_with("arcane-git-watch-my-app-") && a.ends_with(".service"),
            "{a}"
        );
        assert_ne!(a, unit_name(Path::new("/home/b/my app")));
        let t = unit_text(
            Path::new("/usr/bin/arcane"),
            Path::new("/home/a/my \"app\""),
        );
        assert!(
            t.contains(
                "ExecStart=\"/usr/bin/arcane\" --project \"/home/a/my \\\"app\\\"\" git watch"
            ),
            "{t}"
        );
        assert!(t.contains("WantedBy=default.target"));
    }
}
