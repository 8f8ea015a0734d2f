//! The real `arcane deploy` in proxy mode under load, against whatever
//! servers a `servers.toml` names: 20 consecutive deploys alternating between
//! two committed versions, then a version that fails its health check.
//! Shared by `tests/proxy_deploy_local.rs` and `tests/proxy_deploy_testbed.rs`.
#![allow(dead_code)]

use super::harness::*;
use super::loadgen;
use arcane::remote::Transport;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn arcane_cmd() -> assert_cmd::Command {
    match std::env::var_os("ARCANE_TEST_BIN") {
        Some(p) => assert_cmd::Command::new(p),
        None => assert_cmd::Command::cargo_bin("arcane").unwrap(),
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.invalid", "-c", "user.name=t"])
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

pub fn commit_version(dir: &Path, body: &str, healthy: bool) -> String {
    std::fs::write(dir.join("www/index.html"), format!("{body}\n")).unwrap();
    if healthy {
        std::fs::write(dir.join("www/health"), "ok\n").unwrap();
    } else {
        let _ = std::fs::remove_file(dir.join("www/health"));
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", body]);
    git(dir, &["rev-parse", "HEAD"])
}

pub fn deploy(dir: &Path) -> (bool, String) {
    let out = arcane_cmd()
        .args(["deploy", "--yes"])
        .current_dir(dir)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Removes what the scenario's deploys made, when `run` returns or panics:
/// the app's containers and networks, its images (on the server and on this
/// machine, which built them), its release directory and its proxy route.
struct Cleanup<'a> {
    t: &'a dyn Transport,
    app: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        // Errors are ignored: a panic here, while a failed assertion
        // unwinds, would abort the test binary.
        let quiet = |t: &dyn Transport, script: &str| {
            let cmd = arcane::remote::Cmd::shell(script).with_timeout(Duration::from_secs(120));
            let _ = t.run(&cmd, &arcane::event::Emitter::null());
        };
        let (t, app) = (self.t, &self.app);
        let label = format!("label=arcane.app={app}");
        quiet(
            t,
            &format!(
                "docker ps -aq --filter {label} | xargs -r docker rm -f >/dev/null 2>&1; \
                 docker network ls -q --filter {label} | xargs -r docker network rm >/dev/null 2>&1"
            ),
        );
        let rmi = format!(
            "docker images -q --filter {label} | sort -u | xargs -r docker rmi -f >/dev/null 2>&1"
        );
        quiet(t, &format!("{rmi}; rm -rf ~/.arcane/{app}"));
        // The images were built on this machine too (the same engine when the
        // server is `local`; then this finds nothing left).
        quiet(&arcane::remote::LocalTransport::new("local"), &rmi);
        let caddy = arcane::proxy::Caddy::new("caddy:2", Duration::from_secs(10));
        let _ = arcane::proxy::Proxy::remove(
            &caddy,
            t,
            &arcane::event::Emitter::null(),
            app,
            "staging",
        );
    }
}

/// `servers_toml`: the project's config/servers.toml; `addr`: the proxy's
/// port 80 on the (single) staging server; `t`: a transport to it for cleanup.
pub fn run(servers_toml: &str, addr: SocketAddr, t: &dyn Transport, label: &str) {
    let tag = std::process::id();
    let app = format!("pxd{tag}");
    let _cleanup = Cleanup {
        t,
        app: app.clone(),
    };
    let host = format!("{app}.test");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::create_dir_all(dir.join("config/envs")).unwrap();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("config/envs/base.env"), "").unwrap();
    std::fs::write(dir.join("config/envs/staging.env"), "").unwrap();
    std::fs::write(dir.join("config/servers.toml"), servers_toml).unwrap();
    std::fs::write(
        dir.join("arcane.toml"),
        format!(
            "[app]\nname = \"{app}\"\n\n[health]\npath = \"/health\"\ntimeout = 8\ninterval = 0.5\n\n\
             [deploy]\nkeep_releases = 3\n\n\
             [proxy]\nhosts = [\"{host}\"]\napp_port = 8080\ntls = \"off\"\ndrain_timeout = 10\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:stable\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    git(dir, &["init", "-q"]);
    let v1 = commit_version(dir, "v1", true);
    let v2 = commit_version(dir, "v2", true);
    let bad = commit_version(dir, "v3", false);

    git(dir, &["checkout", "-q", &v1]);
    let (ok, err) = deploy(dir);
    assert!(ok, "first deploy: {err}");
    wait_body(addr, &host, "v1", Duration::from_secs(10));

    let load = loadgen::start(loadgen::Load {
        addr,
        host: host.clone(),
        path: "/".into(),
        rate: 240,
        connections: 8,
        duration: Duration::from_secs(580),
        polite: false,
    });
    std::thread::sleep(Duration::from_secs(1));
    let mut secs = vec![];
    for i in 0..20 {
        let v = if i % 2 == 0 { &v2 } else { &v1 };
        git(dir, &["checkout", "-q", v]);
        let t0 = Instant::now();
        let (ok, err) = deploy(dir);
        secs.push(t0.elapsed().as_secs_f64());
        assert!(ok, "deploy {i}: {err}");
    }
    std::thread::sleep(Duration::from_secs(1));
    let s = load.stop();
    eprintln!("{label}: 20 deploys: {}", s.summary());
    eprintln!("{label}: seconds per deploy: {secs:.1?}");

    // A version that fails its health check: the deploy fails, v1 keeps serving.
    let load = loadgen::start(loadgen::Load {
        addr,
        host: host.clone(),
        path: "/".into(),
        rate: 240,
        connections: 8,
        duration: Duration::from_secs(120),
        polite: false,
    });
    std::thread::sleep(Duration::from_secs(1));
    git(dir, &["checkout", "-q", &bad]);
    let (ok, _) = deploy(dir);
    std::thread::sleep(Duration::from_secs(1));
    let f = load.stop();
    eprintln!("{label}: failing deploy: {}", f.summary());

    assert!(s.rate() >= 200.0, "{}", s.summary());
    assert!(s.bodies.contains_key("v1") && s.bodies.contains_key("v2"));
    assert_eq!(s.failures(), 0, "{}", s.summary());
    assert!(!ok, "the unhealthy version must not deploy");
    assert_eq!(f.failures(), 0, "{}", f.summary());
    assert!(!f.bodies.contains_key("v3"), "{}", f.summary());
}
