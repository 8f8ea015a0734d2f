//! Helpers for the Spark tests: signed webhook deliveries built from the
//! fixtures in tests/fixtures/spark, a small HTTP client, and the real
//! `arcane spark serve` process.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const GH_SECRET: &str = "gh-hook-s3cr3t-0042";
pub const GL_TOKEN: &str = "gl-hook-t0ken-0042";

fn fixture(name: &str) -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spark")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// GitHub's push fixture, pointed at `repo`'s `branch` at `sha`.
pub fn github_push(repo: &str, branch: &str, sha: &str) -> Vec<u8> {
    let mut v = fixture("github-push.json");
    v["ref"] = format!("refs/heads/{branch}").into();
    v["after"] = sha.into();
    v["head_commit"]["id"] = sha.into();
    for k in [
        "clone_url",
        "ssh_url",
        "git_url",
        "html_url",
        "svn_url",
        "url",
    ] {
        v["repository"][k] = repo.into();
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

/// GitLab's push fixture, pointed at `repo`'s `branch` at `sha`.
pub fn gitlab_push(repo: &str, branch: &str, sha: &str) -> Vec<u8> {
    let mut v = fixture("gitlab-push.json");
    v["ref"] = format!("refs/heads/{branch}").into();
    v["after"] = sha.into();
    v["checkout_sha"] = sha.into();
    for k in [
        "git_ssh_url",
        "git_http_url",
        "web_url",
        "homepage",
        "url",
        "ssh_url",
        "http_url",
    ] {
        v["project"][k] = repo.into();
    }
    for k in ["url", "homepage", "git_http_url", "git_ssh_url"] {
        v["repository"][k] = repo.into();
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    arcane::spark::webhook::sign_github(secret, body)
}

/// POST `body` with `headers`; the status and the body of the answer.
pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    request(addr, "POST", path, headers, body)
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // The server may answer (413) and close before the body is all sent.
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

/// A signed GitHub push delivery.
pub fn github(addr: SocketAddr, body: &[u8], delivery: &str) -> (u16, String) {
    let sig = sign(GH_SECRET, body);
    post(
        addr,
        "/hooks/github",
        &[
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", delivery),
            ("X-Hub-Signature-256", &sig),
        ],
        body,
    )
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"])
}

pub fn branch(dir: &Path) -> String {
    git(dir, &["branch", "--show-current"])
}

/// A fresh machine key (the AGE-SECRET-KEY line) and its public key.
pub fn machine_key() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let (text, public) = arcane::secrets::identity::generate();
    let line = text
        .expose_secret()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    (line, public)
}

/// The real `arcane spark serve`, killed (SIGKILL) when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Serve {
    /// Start it with `config` and `env`; waits until it listens.
    // The child is waited for by `Serve`'s Drop (or below on failure).
    #[allow(clippy::zombie_processes)]
    pub fn start(config: &Path, home: &Path, env: &[(&str, &str)], log: &Path) -> Serve {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arcane"));
        c.args(["spark", "serve", "--config"])
            .arg(config)
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("ARCANE_IDENTITY")
            .env_remove("ARCANE_MACHINE_KEY")
            .env_remove("ARCANE_MACHINE_KEY_FILE")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DOCKER_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            );
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let t = Instant::now();
        let before = std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches("listening on")
            .count();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.matches("listening on").count() > before {
                let line = text.lines().rfind(|l| l.contains("listening on")).unwrap();
                let addr = line
                    .split("http://")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap()
                    .parse()
                    .unwrap();
                return Serve {
                    child,
                    addr,
                    log: log.to_path_buf(),
                };
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("spark serve did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `arcane spark status --json` as JSON.
pub fn status(config: &Path, home: &Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_arcane"))
        .args(["--json", "spark", "status", "--last", "100", "--config"])
        .arg(config)
        .env("HOME", home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "spark")
        .unwrap_or_else(|| {
            panic!(
                "no spark event: {text}\n{}",
                String::from_utf8_lossy(&o.stderr)
            )
        })
}

/// Wait for `f` over the status.
pub fn wait_status(
    config: &Path,
    home: &Path,
    what: &str,
    max: Duration,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let s = status(config, home);
        if f(&s) {
            return s;
        }
        assert!(t.elapsed() < max, "timed out waiting for {what}: {s:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
