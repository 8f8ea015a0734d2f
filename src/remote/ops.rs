//! Docker argv and shell scripts for the remote commands (`server check`,
//! `status`, `ps`, `logs`, `exec`, `halt`), and parsers for what they print.
//! Pure functions, so the exact command lines are unit-tested.
//!
//! Containers are found by the labels the deploy engine sets
//! (`arcane.app`, `arcane.env`, `arcane.service`, `arcane.version`), never by
//! name, so renamed or replica containers are still found.

use super::transport::{shell_quote, Cmd};
pub use crate::event::report::Container;
use crate::event::report::LiveRelease;
use serde::Serialize;

pub const LABEL_APP: &str = "arcane.app";
pub const LABEL_ENV: &str = "arcane.env";
pub const LABEL_SERVICE: &str = "arcane.service";
pub const LABEL_VERSION: &str = "arcane.version";

/// Fields of `docker ps` we read, tab-separated (labels never hold tabs).
const PS_FORMAT: &str = "{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Status}}\t\
{{.Label \"arcane.service\"}}\t{{.Label \"arcane.version\"}}\t\
{{.Label \"arcane.release\"}}\t{{.Label \"arcane.accessory\"}}";

/// `docker ps` of the app's containers in `env` (stopped ones too, unless
/// `running_only`), optionally one service.
pub fn ps_argv(app: &str, env: &str, service: Option<&str>, running_only: bool) -> Vec<String> {
    let mut a: Vec<String> = vec!["docker".into(), "ps".into()];
    if !running_only {
        a.push("-a".into());
    }
    a.push("--no-trunc".into());
    for (k, v) in [
        (LABEL_APP, Some(app)),
        (LABEL_ENV, Some(env)),
        (LABEL_SERVICE, service),
    ] {
        if let Some(v) = v {
            a.push("--filter".into());
            a.push(format!("label={k}={v}"));
        }
    }
    a.push("--format".into());
    a.push(PS_FORMAT.into());
    a
}

pub fn parse_ps(out: &str) -> Vec<Container> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 7 {
                return None;
            }
            Some(Container {
                id: f[0].into(),
                name: f[1].into(),
                image: f[2].into(),
                state: f[3].into(),
                status: f[4].into(),
                service: f[5].into(),
                version: f[6].into(),
                release: f.get(7).copied().unwrap_or_default().into(),
                accessory: f.get(8).copied().unwrap_or_default().into(),
                health: health_of(f[4]).into(),
            })
        })
        .collect()
}

/// Docker's API socket on the server (the CLI's default).
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The API request equivalent to `ps_argv(app, env, None, false)`.
pub fn ps_api_request(app: &str, env: &str) -> Vec<u8> {
    let filters = serde_json::json!({
        "label": [format!("{LABEL_APP}={app}"), format!("{LABEL_ENV}={env}")]
    })
    .to_string();
    format!(
        "GET /containers/json?all=1&filters={} HTTP/1.0\r\nHost: docker\r\n\r\n",
        url_encode(&filters)
    )
    .into_bytes()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Parse docker's HTTP answer to [`ps_api_request`]. `Err` on anything but
/// a 200 with a JSON array (callers then fall back to the CLI).
pub fn parse_ps_api(resp: &[u8]) -> Result<Vec<Container>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(http_body(resp)?).map_err(|e| e.to_string())?;
    Ok(list
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let label = |k: &str| c["Labels"][k].as_str().unwrap_or_default().to_string();
            let status = s("Status");
            Container {
                id: s("Id"),
                name: c["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: s("Image"),
                state: s("State"),
                health: health_of(&status).into(),
                status,
                service: label(LABEL_SERVICE),
                version: label(LABEL_VERSION),
                release: label("arcane.release"),
                accessory: label("arcane.accessory"),
            }
        })
        .collect())
}

/// The body of a plain (not chunked) HTTP/1.0 200 answer.
fn http_body(resp: &[u8]) -> Result<&[u8], String> {
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header")?;
    let head = String::from_utf8_lossy(&resp[..split]);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("docker API answered {status:?}"));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked answer".into());
    }
    Ok(&resp[split + 4..])
}

/// Docker shows health only inside the status text.
pub fn health_of(status: &str) -> &'static str {
    if status.contains("(healthy)") {
        "healthy"
    } else if status.contains("(unhealthy)") {
        "unhealthy"
    } else if status.contains("(health: starting)") {
        "starting"
    } else {
        "none"
    }
}

/// `docker logs` of one container.
pub fn logs_argv(container: &str, lines: usize, follow: bool) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "docker".into(),
        "logs".into(),
        "--tail".into(),
        lines.to_string(),
    ];
    if follow {
        a.push("--follow".into());
    }
    a.push(container.into());
    a
}

/// `docker exec` into a container (no TTY: output and exit code come back).
pub fn exec_argv(container: &str, cmd: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec!["docker".into(), "exec".into(), container.into()];
    a.extend(cmd.iter().cloned());
    a
}

/// `docker stop` of the given containers.
pub fn stop_argv(containers: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec!["docker".into(), "stop".into()];
    a.extend(containers.iter().cloned());
    a
}

/// Separates the live release from the lock holder in [`state_script`]'s output.
const LOCK_MARK: &str = "@@arcane-lock@@";

/// What `status` reads from the server's files in one round trip: the live
/// release name and its `release.json`, then a marker line and the deploy
/// lock's `holder.json`. Missing files print nothing; the exit status is 0.
pub fn state_script(app: &str, env: &str) -> Cmd {
    let dir = format!(
        "\"$HOME\"/.arcane/{}/{}",
        shell_quote(app),
        shell_quote(env)
    );
    Cmd::shell(format!(
        "if v=$(cat {dir}/current 2>/dev/null); then printf '%s\\n' \"$v\"; \
         cat {dir}/releases/\"$v\"/release.json 2>/dev/null; fi; echo; echo {LOCK_MARK}; \
         cat {dir}/lock/holder.json 2>/dev/null; true"
    ))
}

/// [`state_script`]'s output: the live release (name first, then its
/// record, which may be missing or from an older arcane) and who holds the
/// lock (`"held"` when the holder file is unreadable).
pub fn parse_state(out: &str) -> (Option<LiveRelease>, Option<String>) {
    let (rel, lock) = out
        .split_once(&format!("\n{LOCK_MARK}\n"))
        .unwrap_or((out, ""));
    let mut parts = rel.trim_start().splitn(2, '\n');
    let live = parts
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|name| {
            let rec: serde_json::Value = parts
                .next()
                .and_then(|r| serde_json::from_str(r.trim()).ok())
                .unwrap_or_default();
            let f = |k: &str| rec[k].as_str().unwrap_or_default().to_string();
            LiveRelease {
                release: name.to_string(),
                version: Some(f("version"))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| name.to_string()),
                git_sha: f("git_sha"),
                deployed_by: f("deployed_by"),
                created_at: f("created_at"),
            }
        });
    let lock = lock.trim();
    let holder = (!lock.is_empty()).then(|| {
        serde_json::from_str::<serde_json::Value>(lock)
            .ok()
            .and_then(|h| h["who"].as_str().map(str::to_string))
            .unwrap_or_else(|| "held".into())
    });
    (live, holder)
}

/// `GET /version` on docker's API socket.
pub fn version_api_request() -> Vec<u8> {
    b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n".to_vec()
}

/// The engine version from [`version_api_request`]'s answer.
pub fn parse_version_api(resp: &[u8]) -> Result<String, String> {
    let body = http_body(resp)?;
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    v["Version"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no Version in docker's answer".into())
}

/// `docker version` of the server engine, for when the socket is not reachable.
pub fn version_argv() -> Vec<String> {
    ["docker", "version", "--format", "{{.Server.Version}}"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// One round trip that gathers everything `server check` reports, as
/// `key<TAB>value` lines. Each probe reports its own failure, so one missing
/// tool does not hide the others.
pub fn check_script() -> Cmd {
    Cmd::shell(
        r#"printf 'arch\t%s\n' "$(uname -m)"
command -v docker >/dev/null 2>&1 || printf 'docker_missing\t1\n'
if v=$(docker version --format '{{.Server.Version}}' 2>&1); then printf 'docker\t%s\n' "$v"; else printf 'docker_error\t%s\n' "$(printf '%s' "$v" | tail -n 1)"; fi
if v=$(docker compose version --short 2>/dev/null); then printf 'compose_v2\t%s\n' "$v"; fi
if v=$(docker-compose version --short 2>/dev/null); then printf 'compose_v1\t%s\n' "$v"; fi
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null); [ -d "$root" ] || root=/
printf 'disk_path\t%s\n' "$root"
printf 'disk_free_kb\t%s\n' "$(df -Pk "$root" | awk 'NR==2 {print $4}')""#,
    )
}

/// What `server check` found on one server.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CheckReport {
    pub arch: Option<String>,
    pub docker: Option<String>,
    pub docker_error: Option<String>,
    pub compose_v2: Option<String>,
    pub compose_v1: Option<String>,
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
        if self.compose_v2.is_none() && self.compose_v1.is_none() {
            p.push("neither `docker compose` (v2) nor `docker-compose` (v1) is installed".into());
        }
        p
    }

    pub fn compose(&self) -> String {
        match (&self.compose_v2, &self.compose_v1) {
            (Some(v), _) => format!("v2 {v}"),
            (None, Some(v)) => format!("v1 {v}"),
            _ => "missing".into(),
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
        let v = (!v.is_empty()).then_some(v);
        match k {
            "arch" => r.arch = v,
            "docker" => r.docker = v,
            "docker_error" => r.docker_error = v,
            "compose_v2" => r.compose_v2 = v,
            "compose_v1" => r.compose_v1 = v,
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

/// 1.5 GiB, 300 MiB...
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_argv_filters_by_labels() {
        assert_eq!(
            ps_argv("web", "staging", Some("api"), false),
            vec![
                "docker",
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                "label=arcane.app=web",
                "--filter",
                "label=arcane.env=staging",
                "--filter",
                "label=arcane.service=api",
                "--format",
                PS_FORMAT,
            ]
        );
        assert_eq!(
            Cmd::argv(ps_argv("web", "production", None, true)).to_shell(),
            "docker ps --no-trunc --filter label=arcane.app=web --filter label=arcane.env=production \
             --format '{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Status}}\t\
             {{.Label \"arcane.service\"}}\t{{.Label \"arcane.version\"}}\t\
             {{.Label \"arcane.release\"}}\t{{.Label \"arcane.accessory\"}}'"
        );
    }

    #[test]
    fn ps_output_parses_with_health() {
        let out = "abc123\tweb-staging-api-1a2b\tweb:1a2b\trunning\tUp 3 minutes (healthy)\tapi\t1a2b\n\
                   def456\tweb-staging-worker-1a2b\tweb:1a2b\texited\tExited (1) 2 hours ago\tworker\t1a2b\n\
                   garbage line\n";
        let c = parse_ps(out);
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].service.as_str(), c[0].health.as_str(), c[0].running()),
            ("api", "healthy", true)
        );
        assert_eq!((c[1].health.as_str(), c[1].running()), ("none", false));
        assert_eq!(health_of("Up 1 second (health: starting)"), "starting");
        assert_eq!(health_of("Up 1 minute (unhealthy)"), "unhealthy");
    }

    #[test]
    fn state_script_reads_release_and_lock() {
        let sh = state_script("hello", "staging").to_shell();
        assert!(
            sh.contains("\"$HOME\"/.arcane/hello/staging/current"),
            "{sh}"
        );
        assert!(sh.contains("/lock/holder.json"), "{sh}");
        let out = "abc-r2\n{\"version\":\"abc\",\"git_sha\":\"abcdef\",\"deployed_by\":\"me@x\"}\n\n@@arcane-lock@@\n{\"who\":\"bob@laptop\"}\n";
        let (live, lock) = parse_state(out);
        let live = live.unwrap();
        assert_eq!(
            (live.release.as_str(), live.version.as_str()),
            ("abc-r2", "abc")
        );
        assert_eq!(live.deployed_by, "me@x");
        assert_eq!(lock.as_deref(), Some("bob@laptop"));
        assert_eq!(parse_state("\n@@arcane-lock@@\n"), (None, None));
        assert_eq!(
            parse_state("v1\n\n@@arcane-lock@@\ngarbage").1.as_deref(),
            Some("held")
        );
        assert_eq!(
            parse_state("v1\n\n@@arcane-lock@@\n").0.unwrap().version,
            "v1"
        );
        let v = b"HTTP/1.0 200 OK\r\n\r\n{\"Version\":\"20.10.24\"}";
        assert_eq!(parse_version_api(v).unwrap(), "20.10.24");
    }

    #[test]
    fn ps_over_the_api_socket() {
        let req = String::from_utf8(ps_api_request("web", "staging")).unwrap();
        assert_eq!(
            req,
            "GET /containers/json?all=1&filters=%7B%22label%22%3A%5B%22arcane.app%3Dweb%22%2C\
             %22arcane.env%3Dstaging%22%5D%7D HTTP/1.0\r\nHost: docker\r\n\r\n"
        );
        let body = r#"[{"Id":"abc","Names":["/web-1"],"Image":"web:v1","State":"running",
            "Status":"Up 2 minutes (healthy)","Labels":{"arcane.service":"api","arcane.version":"v1"}}]"#;
        let resp = format!("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{body}");
        let c = parse_ps_api(resp.as_bytes()).unwrap();
        assert_eq!(
            (
                c[0].name.as_str(),
                c[0].service.as_str(),
                c[0].health.as_str()
            ),
            ("web-1", "api", "healthy")
        );
        assert!(parse_ps_api(b"HTTP/1.0 500 Oops\r\n\r\n{}").is_err());
        assert!(parse_ps_api(b"garbage").is_err());
    }

    #[test]
    fn logs_exec_stop_argv() {
        assert_eq!(
            logs_argv("c1", 50, true),
            vec!["docker", "logs", "--tail", "50", "--follow", "c1"]
        );
        assert_eq!(
            logs_argv("c1", 10, false),
            vec!["docker", "logs", "--tail", "10", "c1"]
        );
        assert_eq!(
            Cmd::argv(exec_argv(
                "c1",
                &["sh".into(), "-c".into(), "echo $HOME".into()]
            ))
            .to_shell(),
            "docker exec c1 sh -c 'echo $HOME'"
        );
        assert_eq!(
            stop_argv(&["a".into(), "b".into()]),
            vec!["docker", "stop", "a", "b"]
        );
    }

    #[test]
    fn check_output_parses() {
        let r = parse_check(
            "arch\tx86_64\ndocker\t20.10.24\ncompose_v1\t1.29.2\ndisk_path\t/var/lib/docker\ndisk_free_kb\t2048\n",
        );
        assert_eq!(r.arch.as_deref(), Some("x86_64"));
        assert_eq!(r.compose(), "v1 1.29.2");
        assert_eq!(r.disk_free_bytes, Some(2 * 1024 * 1024));
        assert!(r.problems().is_empty());
        let bad = parse_check("arch\taarch64\ndocker_error\tCannot connect to the Docker daemon\n");
        assert_eq!(bad.problems().len(), 2);
        assert!(!bad.docker_missing);
        assert!(
            parse_check("docker_missing\t1\ndocker_error\tsh: 1: docker: not found\n")
                .docker_missing
        );
        assert!(bad.problems()[0].contains("Cannot connect"));
        assert_eq!(human_bytes(2 * 1024 * 1024), "2.0 MiB");
        assert_eq!(human_bytes(10), "10 B");
    }
}
