//! Helpers for the deploy integration tests: a real git project with a
//! busybox httpd app, deployed with the real binary to real Docker.
#![allow(dead_code)]

#[path = "../common/host.rs"]
pub mod host;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub struct App {
    pub dir: tempfile::TempDir,
    /// Isolated `$HOME` so `~/.arcane` of the test never meets the user's.
    pub home: tempfile::TempDir,
    pub name: String,
    pub port: u16,
    /// Removes the app's containers, images, networks and volumes from this
    /// engine when the test ends, however it ends.
    pub host: host::HostCleanup,
}

/// A free TCP port on 127.0.0.1 (bind to 0, read, close).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn docker_ok() {
    let ok = Command::new("docker")
        .args(["image", "inspect", "busybox:stable"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "these tests need a running dockerd and the busybox:stable image (tests/testbed/images.sh builds it offline)"
    );
}

fn git(dir: &Path, args: &[&str]) {
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
}

impl App {
    /// A project `name` with `extra` appended to arcane.toml, servers
    /// `servers_toml`, one commit serving `body` at / and 200 at /health.
    pub fn new(prefix: &str, extra: &str, servers_toml: &str) -> App {
        App::with_publish(prefix, extra, servers_toml, true)
    }

    /// `loopback`: publish on 127.0.0.1 (local target) or on all interfaces
    /// (testbed servers, reached at their own address).
    pub fn with_publish(prefix: &str, extra: &str, servers_toml: &str, loopback: bool) -> App {
        docker_ok();
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let name = format!("{prefix}{}", std::process::id() % 100000);
        let host = host::HostCleanup::new().app(&name);
        let port = free_port();
        let p = dir.path();
        let bind = if loopback { "127.0.0.1:" } else { "" };
        std::fs::create_dir_all(p.join("config/envs")).unwrap();
        std::fs::create_dir_all(p.join("www")).unwrap();
        std::fs::write(
            p.join("arcane.toml"),
            format!(
                "[app]\nname = \"{name}\"\n\n[deploy]\npublish = \"{bind}{port}\"\ntimeout = 120\n\n[health]\npath = \"/health\"\nport = 8080\ntimeout = 8\ninterval = 0.2\n\n[notifications]\ndesktop = false\n{extra}\n"
            ),
        )
        .unwrap();
        std::fs::write(p.join("config/servers.toml"), servers_toml).unwrap();
        std::fs::write(
            p.join("config/envs/staging.env"),
            "SECRET_TOKEN=s3cr3t-token-value-0042\nGREETING=hello\n",
        )
        .unwrap();
        std::fs::write(
            p.join("config/envs/production.env"),
            "SECRET_TOKEN=prod-s3cr3t-value-77\n",
        )
        .unwrap();
        std::fs::write(
            p.join("Dockerfile"),
            "FROM busybox:stable\nCOPY www /www\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n",
        )
        .unwrap();
        std::fs::write(p.join("www/index.html"), "v1\n").unwrap();
        std::fs::write(p.join("www/health"), "ok\n").unwrap();
        git(p, &["init", "-q"]);
        git(p, &["add", "-A"]);
        git(p, &["commit", "-qm", "v1"]);
        App {
            dir,
            home,
            name,
            port,
            host,
        }
    }

    /// Staging and production on this machine's Docker: production has its
    /// own port (two envs publishing one port on one server is refused).
    pub fn local(prefix: &str, extra: &str) -> App {
        let extra = format!(
            "{extra}\n[envs.staging]\n\n[envs.production]\npublish = \"127.0.0.1:{}\"\n",
            free_port()
        );
        App::new(
            prefix,
            &extra,
            "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n\n[servers.prodbox]\nhost = \"local\"\nenv = \"production\"\n",
        )
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Change the served page (and optionally break /health) and commit.
    pub fn commit_version(&self, body: &str, healthy: bool) {
        let p = self.path();
        std::fs::write(p.join("www/index.html"), format!("{body}\n")).unwrap();
        if healthy {
            std::fs::write(p.join("www/health"), "ok\n").unwrap();
        } else {
            let _ = std::fs::remove_file(p.join("www/health"));
        }
        git(p, &["add", "-A"]);
        git(p, &["commit", "-qm", body]);
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path().join(rel), text).unwrap();
    }

    pub fn commit(&self, msg: &str) {
        git(self.path(), &["add", "-A"]);
        git(self.path(), &["commit", "-qm", msg]);
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arcane"));
        c.current_dir(self.path())
            .env("HOME", self.home.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DOCKER_CONFIG")
            .env("NO_COLOR", "1");
        c
    }

    pub fn arcane(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn app_dir(&self, env: &str) -> PathBuf {
        self.home.path().join(".arcane").join(&self.name).join(env)
    }

    pub fn current(&self, env: &str) -> Option<String> {
        std::fs::read_to_string(self.app_dir(env).join("current"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// GET / on the published port.
    pub fn get(&self) -> Option<String> {
        http_get(self.port, "/")
    }

    pub fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "ps",
                "--filter",
                &format!("label=arcane.app={}", self.name),
                "--format",
                "{{.Names}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_at("127.0.0.1", port, path)
}

pub fn http_get_at(ip: &str, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    if !head.contains(" 200 ") {
        return None;
    }
    Some(body.trim().to_string())
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
