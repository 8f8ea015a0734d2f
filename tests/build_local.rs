//! `arcane build` and its smoke test against this machine's Docker: what a
//! failed or interrupted build leaves behind (nothing).

mod deploy_support;

use deploy_support::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Containers whose name starts with `prefix`, any state.
fn containers_named(prefix: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &format!("name={prefix}")])
        .args(["--format", "{{.Names}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// Removes the smoke containers of an app however the test ends.
struct SmokeGuard(String);

impl Drop for SmokeGuard {
    fn drop(&mut self) {
        let names = containers_named(&self.0);
        if !names.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&names)
                .output();
        }
    }
}

/// An app whose container never answers its health check.
fn silent_app(prefix: &str) -> (App, SmokeGuard) {
    let app = App::local(prefix, "");
    app.write(
        "Dockerfile",
        "FROM busybox:stable\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 300 & wait\"]\n",
    );
    app.commit("silent");
    let guard = SmokeGuard(format!("arcane-smoke-{}-", app.name));
    (app, guard)
}

/// Regression (a failed build leaves a stopped container): the classic
/// builder kept the container of the step that failed.
#[test]
fn failed_build_leaves_no_stopped_container() {
    let app = App::local("bf", "");
    let marker = format!("arcane-failed-build-{}", std::process::id());
    app.write(
        "Dockerfile",
        &format!("FROM busybox:stable\nRUN echo {marker} && false\n"),
    );
    app.commit("broken");
    let o = app.arcane(&["build"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"])
        .output()
        .unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&marker))
        .map(String::from)
        .collect();
    for l in &left {
        let id = l.split_whitespace().next().unwrap();
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    assert!(
        left.is_empty(),
        "the failed step's container is left: {left:?}"
    );
}

/// Ctrl-C while the smoke test waits for the container: it is removed, and
/// arcane exits 130.
#[test]
fn ctrl_c_during_the_smoke_test_removes_its_container() {
    let (app, guard) = silent_app("bc");
    let mut child = app
        .cmd()
        .args(["build", "--smoke"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the smoke container", Duration::from_secs(60), || {
        !containers_named(&guard.0).is_empty()
    });
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let waited = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "arcane did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let o = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(130), "{}", text(&o));
    assert!(
        containers_named(&guard.0).is_empty(),
        "the smoke container is left: {:?}",
        containers_named(&guard.0)
    );
}

/// A run killed outright (no chance to clean up) leaves its container; the
/// next smoke test on this machine removes it.
#[test]
fn a_killed_smoke_tests_container_is_removed_by_the_next_one() {
    let (app, guard) = silent_app("bk");
    let mut child = app
        .cmd()
        .args(["build", "--smoke"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the smoke container", Duration::from_secs(60), || {
        !containers_named(&guard.0).is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let left = containers_named(&guard.0);
    assert_eq!(left.len(), 1, "kill -9 leaves it: {left:?}");
    // The next run fails fast (the app never answers) and sweeps first.
    let toml = std::fs::read_to_string(app.path().join("arcane.toml")).unwrap();
    app.write("arcane.toml", &toml.replace("timeout = 8", "timeout = 1"));
    app.commit("fast");
    let o = app.arcane(&["build", "--smoke"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("smoke test of"), "{}", text(&o));
    assert!(
        containers_named(&guard.0).is_empty(),
        "left: {:?}",
        containers_named(&guard.0)
    );
}
