//! Desktop notifications on a real D-Bus session bus: a private
//! `dbus-daemon --session` and `dbus-monitor` watching it (Debian's
//! `dbus-daemon` and `dbus-bin`, installed by scripts/setup-host.sh). No
//! notification daemon runs, because nothing could show one here: the test
//! sees arcane's `Notify` call on the bus, and that the deploy neither waits
//! for nor fails on the missing daemon.

mod deploy_support;

use deploy_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private session bus and a monitor writing everything it sees to a file.
struct Bus {
    daemon: Child,
    monitor: Child,
    address: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Bus {
    fn start() -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--print-address=1",
                &format!("--address=unix:path={}", dir.path().join("bus").display()),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon, scripts/setup-host.sh)");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address: {address:?}");
        let log = dir.path().join("monitor.log");
        let monitor = Command::new("dbus-monitor")
            .args(["--address", &address, "--monitor"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (package dbus-bin, scripts/setup-host.sh)");
        let bus = Bus {
            daemon,
            monitor,
            address,
            log,
            _dir: dir,
        };
        // The monitor is ready once the bus has told it of its name
        // (`NameAcquired`, then `NameLost` as it becomes a monitor).
        bus.wait_for("Name");
        bus
    }

    fn seen(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the monitor log contains `needle`.
    fn wait_for(&self, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let s = self.seen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no {needle:?} on the bus:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.monitor.kill();
        let _ = self.monitor.wait();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn deploy_and_failed_deploy_send_notify_calls_on_a_real_session_bus() {
    let bus = Bus::start();
    let app = App::local("dn", "");
    let toml = std::fs::read_to_string(app.path().join("arcane.toml")).unwrap();
    app.write(
        "arcane.toml",
        &toml.replace("desktop = false", "desktop = true"),
    );
    app.commit("notifications on");
    let deploy = || {
        let t = Instant::now();
        let o = app
            .cmd()
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .args(["deploy"])
            .output()
            .unwrap();
        (o, t.elapsed())
    };

    let (o, took) = deploy();
    assert!(o.status.success(), "{}", text(&o));
    let seen = bus.wait_for("member=Notify");
    assert!(
        seen.contains("interface=org.freedesktop.Notifications"),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("string \"{} deployed\"", app.name)),
        "{seen}"
    );
    assert!(seen.contains("is live on staging"), "{seen}");
    assert!(
        took < Duration::from_secs(60),
        "the missing daemon held the deploy up: {took:?}"
    );

    // A version that fails its health check: rolled back, exit 1, and a
    // FAILED notification.
    app.commit_version("v2", false);
    let (o, _) = deploy();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let seen = bus.wait_for("FAILED");
    assert!(
        seen.contains(&format!("string \"{} deploy to staging FAILED\"", app.name)),
        "{seen}"
    );
    assert!(!seen.contains("s3cr3t"), "a secret went on the bus");
    assert_eq!(app.get().as_deref(), Some("v1"), "v1 still serves");
}
