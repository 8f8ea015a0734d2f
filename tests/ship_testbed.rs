//! `arcane build` and `arcane push` against real testbed servers (network
//! namespaces, each with its own Docker 20.10 engine and sshd).
//!
//! Needs root and docker (CI runs as root with docker available); nothing is
//! mocked. Bytes on the wire are read from the host side of each server's veth.

#[path = "common/host.rs"]
mod host;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::time::{Duration, Instant};

/// The arcane binary: `ARCANE_BIN` if set (a shared cargo target dir can hold
/// another checkout's build under the usual path), else cargo's.
fn arcane_bin() -> PathBuf {
    std::env::var_os("ARCANE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("arcane"))
}

fn testbed_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed")
}

struct Testbed {
    dir: tempfile::TempDir,
    prefix: String,
}

impl Testbed {
    fn up(n: usize) -> Testbed {
        let dir = tempfile::tempdir().unwrap();
        let st = Std::new(testbed_bin())
            .args(["up", &n.to_string(), "--dir"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "testbed up failed");
        let state = std::fs::read_to_string(dir.path().join("state")).unwrap();
        let prefix = state
            .lines()
            .find_map(|l| l.strip_prefix("TB_PREFIX="))
            .unwrap()
            .to_string();
        Testbed { dir, prefix }
    }

    fn tb(&self, args: &[&str]) -> std::process::Output {
        // `testbed COMMAND --dir DIR ARGS...` (after `--` everything is the command).
        Std::new(testbed_bin())
            .arg(args[0])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&args[1..])
            .output()
            .unwrap()
    }

    /// Run a shell command on a server; (success, stdout).
    fn exec(&self, server: &str, cmd: &str) -> (bool, String) {
        let out = self.tb(&["exec", server, "--", "sh", "-c", cmd]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    }

    /// rx+tx bytes on the host side of server `k`'s link.
    fn wire(&self, k: usize) -> u64 {
        let read = |f: &str| -> u64 {
            std::fs::read_to_string(format!("/sys/class/net/{}v{k}/statistics/{f}", self.prefix))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        read("rx_bytes") + read("tx_bytes")
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = self.tb(&["down"]);
    }
}

/// A git-committed project whose image is busybox + `data_mb` of random data
/// + a small app file, serving /health on 8080.
struct Proj {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Proj {
    fn new(tb: &Testbed, app: &str, data_mb: usize, health: &str) -> Proj {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("config")).unwrap();
        std::fs::copy(
            tb.dir.path().join("servers.toml"),
            p.join("config/servers.toml"),
        )
        .unwrap();
        std::fs::write(
            p.join("arcane.toml"),
            format!("[app]\nname = \"{app}\"\n[health]\npath = \"{health}\"\nport = 8080\ntimeout = 5\n"),
        )
        .unwrap();
        std::fs::write(
            p.join("Dockerfile"),
            "FROM busybox:stable\nCOPY data.bin /data.bin\nRUN mkdir -p /www && echo ok > /www/health\nCOPY app.txt /www/app.txt\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        )
        .unwrap();
        let mut data = vec![0u8; data_mb * 1024 * 1024];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut data);
        std::fs::write(p.join("data.bin"), data).unwrap();
        // Big random data stays out of git (it is still in the build context).
        std::fs::write(p.join(".gitignore"), "data.bin\n").unwrap();
        std::fs::write(p.join("app.txt"), "version 1\n").unwrap();
        let proj = Proj {
            dir,
            cache: tempfile::tempdir().unwrap(),
        };
        proj.git(&["init", "-q"]);
        proj.commit("v1");
        proj
    }

    fn git(&self, args: &[&str]) {
        let st = Std::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(args)
            .current_dir(self.dir.path())
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", msg]);
    }

    fn arcane(&self) -> Command {
        let mut c = Command::new(arcane_bin());
        c.current_dir(self.dir.path())
            .env("ARCANE_CACHE_DIR", self.cache.path())
            .timeout(Duration::from_secs(300));
        c
    }

    fn head(&self) -> String {
        let out = Std::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn local_id(tag: &str) -> String {
    let out = Std::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn push_reaches_three_servers_runs_there_and_resends_only_the_change() {
    let tb = Testbed::up(3);
    let app = format!("shiptest{}", std::process::id());
    // Built on this machine: its image (and a smoke container) go at the end.
    let _host = host::HostCleanup::new().app(&app);
    let p = Proj::new(&tb, &app, 8, "/health");
    let w0: Vec<u64> = (1..=3).map(|k| tb.wire(k)).collect();
    p.arcane()
        .args(["push", "--group", "all"])
        .assert()
        .success();
    let first: Vec<u64> = (1..=3).map(|k| tb.wire(k) - w0[k - 1]).collect();
    let tag = format!("{app}:{}", p.head());
    let id = local_id(&tag);
    for (k, srv) in ["srv1", "srv2", "srv3"].iter().enumerate() {
        assert!(
            first[k] > 8 * 1024 * 1024,
            "{srv}: only {} bytes moved",
            first[k]
        );
        let (ok, out) = tb.exec(
            srv,
            &format!("docker image inspect --format '{{{{.Id}}}}' {tag}"),
        );
        assert!(ok && out == id, "{srv}: image {out} != local {id}");
        let (ok, out) = tb.exec(srv, &format!("docker run --rm {tag} cat /www/app.txt"));
        assert!(ok && out == "version 1", "{srv}: container output {out:?}");
        let (_, left) = tb.exec(
            srv,
            "docker image ls --format '{{.Repository}}' | grep '^127.0.0.1' || true",
        );
        assert_eq!(left, "", "{srv}: temporary names left behind");
    }

    // Pushing the same version again moves (almost) nothing.
    let w1 = tb.wire(1);
    p.arcane()
        .args(["push", "--server", "srv1"])
        .assert()
        .success();
    assert!(tb.wire(1) - w1 < 200 * 1024);

    // One small file changes: the second push sends < 10% of the first.
    std::fs::write(p.dir.path().join("app.txt"), "version 2\n").unwrap();
    p.commit("v2");
    let w2: Vec<u64> = (1..=3).map(|k| tb.wire(k)).collect();
    let out = p
        .arcane()
        .args(["--json", "push", "--group", "all"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains(r#""event":"pushed""#), "{stdout}");
    let tag2 = format!("{app}:{}", p.head());
    for (k, srv) in ["srv1", "srv2", "srv3"].iter().enumerate() {
        let second = tb.wire(k + 1) - w2[k];
        assert!(
            second * 10 < first[k],
            "{srv}: second push moved {second} bytes, first {}",
            first[k]
        );
        let (ok, out) = tb.exec(srv, &format!("docker run --rm {tag2} cat /www/app.txt"));
        assert!(ok && out == "version 2", "{srv}: {out:?}");
    }
}

#[test]
fn a_cut_link_fails_clearly_leaves_no_tag_and_a_retry_succeeds() {
    let tb = Testbed::up(1);
    let app = format!("shipcut{}", std::process::id());
    let _host = host::HostCleanup::new().app(&app);
    let p = Proj::new(&tb, &app, 40, "/health");
    p.arcane().args(["build"]).assert().success();
    let tag = format!("{app}:{}", p.head());
    assert!(tb.tb(&["shape", "srv1", "20mbit", "5ms"]).status.success());
    let w0 = tb.wire(1);
    let child = Std::new(arcane_bin())
        .args(["push", "--server", "srv1"])
        .current_dir(p.dir.path())
        .env("ARCANE_CACHE_DIR", p.cache.path())
        .env("ARCANE_PUSH_STALL_SECS", "15")
        // The link watchdog declares the connection dead after three
        // keepalive intervals without an ACK: 15 s here.
        .env("ARCANE_SSH_KEEPALIVE", "5")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cut once a few MB of the 40 MB layer have crossed.
    let t = Instant::now();
    while tb.wire(1) - w0 < 6 * 1024 * 1024 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "transfer never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(tb.tb(&["cut", "srv1"]).status.success());
    // The failure must come by itself, from the link watchdog (15 s without
    // an ACK) rather than TCP, which does not count failed retransmissions
    // while the interface is down. The bound leaves room for a loaded CI.
    let mut child = child;
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("the push did not fail within 90 s of the cut");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "the push failed {:.1}s after the cut",
        t.elapsed().as_secs_f64()
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("srv1"), "{stderr}");
    assert!(tb.tb(&["restore", "srv1"]).status.success());
    assert!(tb.tb(&["unshape", "srv1"]).status.success());
    let (ok, _) = tb.exec("srv1", &format!("docker image inspect {tag}"));
    assert!(!ok, "a half-shipped image is tagged {tag}");
    p.arcane()
        .args(["push", "--server", "srv1"])
        .assert()
        .success();
    let (ok, id) = tb.exec(
        "srv1",
        &format!("docker image inspect --format '{{{{.Id}}}}' {tag}"),
    );
    assert!(ok && id == local_id(&tag));
    let (_, left) = tb.exec(
        "srv1",
        "docker image ls --format '{{.Repository}}' | grep '^127.0.0.1' || true",
    );
    assert_eq!(left, "");
}

#[test]
fn a_failing_smoke_test_aborts_the_push() {
    let tb = Testbed::up(1);
    let app = format!("shipsmoke{}", std::process::id());
    let _host = host::HostCleanup::new().app(&app);
    let p = Proj::new(&tb, &app, 1, "/does-not-exist");
    let out = p
        .arcane()
        .args(["push", "--server", "srv1"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("smoke test of"), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    let (_, imgs) = tb.exec("srv1", &format!("docker image ls -q {app}"));
    assert_eq!(imgs, "", "an image reached the server");
    // No smoke container is left running locally.
    let out = Std::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name=arcane-smoke-{app}")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}
