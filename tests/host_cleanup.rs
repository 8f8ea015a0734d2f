//! Regression tests for issue 16, "the test suite leaves an `arcane-proxy`
//! container running, bound to ports 80 and 443, and tagged test images":
//! the guards of `tests/common/host.rs` remove what a test made on this
//! machine's Docker engine even when the test fails, and
//! `scripts/host-leaks.sh` (run by `scripts/test.sh`) reports what is left
//! without counting what was there before.
//!
//! Real Docker (the host engine, `busybox:stable` from scripts/setup-host.sh);
//! the "proxy" here is a busybox container under the proxy's name, as the
//! guard goes by names and does not care what runs inside.

#[path = "common/host.rs"]
mod host;

use host::{HostCleanup, HostProxy};
use std::process::Command;

fn docker(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker").args(args).output().expect("docker");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success(), text)
}

fn docker_ok(args: &[&str]) -> String {
    let (ok, out) = docker(args);
    assert!(ok, "docker {args:?} failed");
    out
}

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).0
}

/// Runs `f`, a "test" that fails, and swallows its panic (its message is
/// still printed: the panic hook is process-wide and other tests run
/// meanwhile).
fn failing(f: impl FnOnce() + std::panic::UnwindSafe) {
    assert!(
        std::panic::catch_unwind(f).is_err(),
        "the closure was meant to fail"
    );
}

#[test]
fn a_failing_test_still_removes_its_containers_images_networks_and_volumes() {
    let app = format!("hostguard{}", std::process::id());
    let label = format!("arcane.app={app}");
    let image = format!("{app}:v1");
    let compose_image = format!("{app}-web:v1");
    let own = format!("arcane-test-own-{}", std::process::id());
    let network = format!("{app}-staging");
    let compose_net = format!("{app}-staging_default");
    let volume = format!("{app}-data");
    // Another app whose name starts the same: must survive.
    let other = format!("{app}0");
    let _other = HostCleanup::new().app(&other);
    docker_ok(&[
        "network",
        "create",
        "--label",
        &format!("arcane.app={other}"),
        &format!("{other}-staging"),
    ]);

    failing(|| {
        let _host = HostCleanup::new().app(&app).container(&own);
        docker_ok(&["network", "create", "--label", &label, &network]);
        docker_ok(&["network", "create", &compose_net]);
        docker_ok(&["volume", "create", "--label", &label, &volume]);
        docker_ok(&["tag", "busybox:stable", &image]);
        docker_ok(&["tag", "busybox:stable", &compose_image]);
        docker_ok(&[
            "run",
            "-d",
            "--name",
            &format!("{app}-staging-web"),
            "--label",
            &label,
            "--network",
            &network,
            "-v",
            &format!("{volume}:/data"),
            &image,
            "sleep",
            "600",
        ]);
        docker_ok(&[
            "run",
            "-d",
            "--name",
            &own,
            "busybox:stable",
            "sleep",
            "600",
        ]);
        panic!("an assertion fails mid-test");
    });

    let (_, left) = docker_ok_lines(&["ps", "-aq", "--filter", &format!("label={label}")]);
    assert!(left.is_empty(), "containers left: {left:?}");
    assert!(!exists("container", &own), "{own} left");
    assert!(!exists("network", &network) && !exists("network", &compose_net));
    assert!(!exists("volume", &volume));
    assert!(!exists("image", &image) && !exists("image", &compose_image));
    // busybox:stable itself was only tagged, never removed.
    assert!(exists("image", "busybox:stable"));
    assert!(
        exists("network", &format!("{other}-staging")),
        "another app's network went too"
    );
}

fn docker_ok_lines(args: &[&str]) -> (bool, Vec<String>) {
    let (ok, out) = docker(args);
    (ok, out.lines().map(String::from).collect())
}

/// The bug itself: a test that boots the host's proxy and then fails left
/// `arcane-proxy` running on ports 80/443, with its network and volumes. A
/// proxy that was there before the test stays.
#[test]
fn a_failing_proxy_test_leaves_no_arcane_proxy_behind() {
    let parts = [
        ("container", arcane::proxy::CONTAINER),
        ("network", arcane::proxy::NETWORK),
        ("volume", arcane::proxy::docker::DATA_VOLUME),
        ("volume", arcane::proxy::docker::CONFIG_VOLUME),
    ];
    let before = std::sync::Mutex::new(vec![]);
    failing(std::panic::AssertUnwindSafe(|| {
        let _proxy = HostProxy::acquire();
        let had: Vec<bool> = parts.iter().map(|(k, n)| exists(k, n)).collect();
        *before.lock().unwrap() = had.clone();
        if !had[1] {
            docker_ok(&["network", "create", "--label", "arcane.network=1", "arcane"]);
        }
        for (i, (_, name)) in parts.iter().enumerate().skip(2) {
            if !had[i] {
                docker_ok(&["volume", "create", name]);
            }
        }
        if !had[0] {
            docker_ok(&[
                "run",
                "-d",
                "--name",
                "arcane-proxy",
                "--label",
                "arcane.proxy=caddy",
                "--network",
                "arcane",
                "-v",
                "arcane-proxy-data:/data",
                "busybox:stable",
                "sleep",
                "600",
            ]);
        }
        panic!("an assertion fails while the proxy is up");
    }));
    let had = before.into_inner().unwrap();
    // Look under the lock, so no other proxy test is booting one meanwhile.
    let _look = HostProxy::acquire();
    let now: Vec<bool> = parts.iter().map(|(k, n)| exists(k, n)).collect();
    if had[0] {
        assert!(now[0], "a proxy that ran before the test was removed");
        return;
    }
    // Another checkout's older tests may have booted a real proxy between the
    // guard and this look; the test's own stand-in must be gone regardless.
    if now[0] {
        let cmd = docker_ok(&[
            "container",
            "inspect",
            "--format",
            "{{.Config.Cmd}}",
            "arcane-proxy",
        ]);
        assert!(
            !cmd.contains("sleep 600"),
            "the test's proxy was left running"
        );
        return;
    }
    for (i, (kind, name)) in parts.iter().enumerate() {
        assert!(had[i] || !now[i], "{kind} {name} made by the test was left");
    }
}

/// `host-leaks.sh check` lists what appeared since the snapshot and not what
/// was there before.
#[test]
fn host_leaks_check_lists_what_the_run_left_but_not_what_was_there_before() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/host-leaks.sh");
    let id = std::process::id();
    let (before, after) = (format!("leakpre{id}"), format!("leakpost{id}"));
    let _host = HostCleanup::new().app(&before).app(&after);
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap");
    let run = |name: &str| {
        docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--label",
            &format!("arcane.app={name}"),
            "busybox:stable",
            "sleep",
            "600",
        ]);
    };
    run(&before);
    let st = Command::new("bash")
        .arg(script)
        .arg("snapshot")
        .arg(&snap)
        .status()
        .unwrap();
    assert!(st.success());
    run(&after);
    docker_ok(&["tag", "busybox:stable", &format!("arcane-test-leak{id}:1")]);
    let _img = HostCleanup::new().image(&format!("arcane-test-leak{id}:1"));
    let out = Command::new("bash")
        .arg(script)
        .arg("check")
        .arg(&snap)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("container {after} ")), "{err}");
    assert!(
        err.contains(&format!("image arcane-test-leak{id}:1 ")),
        "{err}"
    );
    assert!(
        !err.contains(&before),
        "a container from before the run is listed: {err}"
    );
}
