//! The engine itself: its version, and what `server check` probes.

use super::{sh, words as s};
use crate::docker::compose::{self, ComposeCli};
use crate::remote::Cmd;
use serde::Serialize;

/// The server engine's version (exit non-zero when docker does not answer).
pub fn version() -> Vec<String> {
    s(&["docker", "version", "--format", "{{.Server.Version}}"])
}

/// One round trip that gathers everything `server check` reports, as
/// `key<TAB>value` lines. Each probe reports its own failure, so one missing
/// tool does not hide the others.
pub fn check_script() -> Cmd {
    Cmd::shell(format!(
        r#"printf 'arch\t%s\n' "$(uname -m)"
command -v docker >/dev/null 2>&1 || printf 'docker_missing\t1\n'
if v=$({version} 2>&1); then printf 'docker\t%s\n' "$v"; else printf 'docker_error\t%s\n' "$(printf '%s' "$v" | tail -n 1)"; fi
printf 'compose\t%s\n' "$({compose})"
root=$(docker info --format '{{{{.DockerRootDir}}}}' 2>/dev/null); [ -d "$root" ] || root=/
printf 'disk_path\t%s\n' "$root"
printf 'disk_free_kb\t%s\n' "$(df -Pk "$root" | awk 'NR==2 {{print $4}}')""#,
        version = sh(&version()),
        compose = compose::detect_script(true),
    ))
}

/// What `server check` found on one server.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CheckReport {
    pub arch: Option<String>,
    pub docker: Option<String>,
    pub docker_error: Option<String>,
    /// The compose CLI deploys use (v2 when both are installed).
    pub compose: Option<ComposeCli>,
    pub compose_version: Option<String>,
    pub disk_path: Option<String>,
    pub disk_free_bytes: Option<u64>,
    /// No docker CLI at all: a bare server, for `server bootstrap`.
    pub docker_missing: bool,
}

impl CheckReport {
    /// Docker answering and some compose available is what deploys need.
    pub fn problems(&self) -> Vec<String> {
        let mut p = vec![];
        if self.docker.is_none() {
            p.push(format!(
                "docker is not usable: {}",
                self.docker_error.as_deref().unwrap_or("no answer")
            ));
        }
        if self.compose.is_none() {
            p.push("neither `docker compose` (v2) nor `docker-compose` (v1) is installed".into());
        }
        p
    }

    /// `v2 2.24.0`, `v1 1.29.2`, or `missing`.
    pub fn compose_text(&self) -> String {
        match (self.compose, &self.compose_version) {
            (Some(c), Some(v)) => format!("{} {v}", c.name()),
            (Some(c), None) => c.name().to_string(),
            (None, _) => "missing".into(),
        }
    }
}

pub fn parse_check(out: &str) -> CheckReport {
    let mut r = CheckReport::default();
    for l in out.lines() {
        let Some((k, v)) = l.split_once('\t') else {
            continue;
        };
        let v = v.trim().to_string();
        if k == "compose" {
            if let Some(d) = compose::parse_detect(&v) {
                r.compose = Some(d.cli);
                r.compose_version = d.version;
            }
            continue;
        }
        let v = (!v.is_empty()).then_some(v);
        match k {
            "arch" => r.arch = v,
            "docker" => r.docker = v,
            "docker_error" => r.docker_error = v,
            "disk_path" => r.disk_path = v,
            "docker_missing" => r.docker_missing = true,
            "disk_free_kb" => {
                r.disk_free_bytes = v.and_then(|s| s.parse::<u64>().ok()).map(|k| k * 1024)
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_script_probes_with_the_shared_builders() {
        let s = check_script().to_shell();
        assert!(
            s.contains("if v=$(docker version --format '{{.Server.Version}}' 2>&1)"),
            "{s}"
        );
        assert!(s.contains(&compose::detect_script(true)), "{s}");
        assert!(
            s.contains("docker info --format '{{.DockerRootDir}}'"),
            "{s}"
        );
        assert!(s.contains("awk 'NR==2 {print $4}'"), "{s}");
    }

    #[test]
    fn check_output_parses() {
        let r = parse_check(
            "arch\tx86_64\ndocker\t20.10.24\ncompose\tv1 1.29.2\ndisk_path\t/var/lib/docker\ndisk_free_kb\t2048\n",
        );
        assert_eq!(r.arch.as_deref(), Some("x86_64"));
        assert_eq!(r.compose_text(), "v1 1.29.2");
        assert_eq!(r.disk_free_bytes, Some(2 * 1024 * 1024));
        assert!(r.problems().is_empty());
        let bad = parse_check(
            "arch\taarch64\ndocker_error\tCannot connect to the Docker daemon\ncompose\tnone\n",
        );
        assert_eq!(bad.problems().len(), 2);
        assert!(bad.problems()[0].contains("Cannot connect"));
        assert_eq!(bad.compose_text(), "missing");
    }
}
