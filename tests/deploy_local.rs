//! The deploy lifecycle against the `local` target: this machine's Docker,
//! no SSH, the real binary. Each test is its own app (unique name, port and
//! `$HOME`), so they run in parallel and clean up their containers.

mod deploy_support;

use deploy_support::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn local_deploy_serves_records_and_redeploys_as_a_noop() {
    let app = App::local("dl", "");
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{}/", app.port)),
        "prints the URL: {}",
        text(&o)
    );
    let rel = app.current("staging").expect("current written");
    let dir = app.app_dir("staging").join("releases").join(&rel);
    let mode = std::fs::metadata(dir.join(".env"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "env file is 0600");
    let json = std::fs::read_to_string(dir.join("release.json")).unwrap();
    assert!(!json.contains("s3cr3t"), "release.json holds no values");
    assert!(json.contains("SECRET_TOKEN"), "but names the keys");
    let all = text(&o);
    assert!(
        !all.contains("s3cr3t-token-value"),
        "output never shows secrets"
    );

    // Same commit, same env: nothing restarts.
    let before = app.containers();
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("unchanged"), "{}", text(&o));
    assert_eq!(app.containers(), before);
    assert_eq!(app.current("staging").as_deref(), Some(rel.as_str()));

    // An env change is a new release of the same version.
    app.write(
        "config/envs/staging.env",
        "SECRET_TOKEN=s3cr3t-token-value-0042\nGREETING=bonjour\n",
    );
    let o = app.arcane(&["deploy", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(plan.contains("changed GREETING"), "{plan}");
    assert!(
        !plan.contains("bonjour"),
        "dry run names keys, never values"
    );
    let o = app.arcane(&["deploy"]);
    // The tree is dirty now (env file changed but not committed is fine: env
    // files are not part of the image); a new release must exist.
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(app.current("staging").as_deref(), Some(rel.as_str()));
    assert_eq!(app.get().as_deref(), Some("v1"));

    let o = app.arcane(&["releases"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    // Tables show short SHAs; --json has the full release name.
    assert!(out.contains(&rel[..12]) && !out.contains(&rel), "{out}");
    let o = app.arcane(&["--json", "releases"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&rel));
    status_counts_stopped_containers_regression(&app);
}

/// The old release's container is kept, stopped, for a rollback: a healthy
/// app still reads "1/1 healthy".
fn status_counts_stopped_containers_regression(app: &App) {
    let all = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=arcane.app={}", app.name))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&all.stdout).lines().count() >= 2,
        "the old container is kept, stopped"
    );
    let o = app.arcane(&["status"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("local"))
        .unwrap_or_else(|| panic!("{out}"))
        .split_whitespace()
        .collect();
    assert_eq!(&row[4..6], ["1/1", "healthy"], "{out}");
}

#[test]
fn failing_health_check_rolls_back_and_the_old_version_keeps_serving() {
    let app = App::local("dh", "");
    assert!(app.arcane(&["deploy"]).status.success());
    let v1 = app.current("staging").unwrap();
    app.commit_version("v2", false);
    // Keep probing the live port while the broken version is tried.
    let port = app.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let prober = std::thread::spawn(move || {
        let mut failures = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            if http_get(port, "/").as_deref() != Some("v1") {
                failures += 1;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        failures
    });
    let o = app.arcane(&["deploy"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let failures = prober.join().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("not healthy"), "{t}");
    assert_eq!(app.get().as_deref(), Some("v1"));
    assert_eq!(app.current("staging").as_deref(), Some(v1.as_str()));
    assert_eq!(
        failures, 0,
        "v1 served throughout (the broken v2 never took the port)"
    );
    errors_are_printed_three_or_four_times_regression(&t);
}

/// One failure is said at most twice: on its step line and in the outcome
/// table; the last line summarizes, and no extra `error:` line repeats it.
fn errors_are_printed_three_or_four_times_regression(out: &str) {
    assert!(out.contains("✗ health"), "a failed health step: {out}");
    assert_eq!(
        out.matches("not healthy after").count(),
        2,
        "said on the step and in the table, nowhere else: {out}"
    );
    assert!(!out.contains("error: "), "no extra error line: {out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.contains("failed on 1 of 1 server"), "{out}");
}

#[test]
fn failing_pre_deploy_hook_aborts_before_the_new_version_serves() {
    let app = App::local(
        "dk",
        "[[hooks.pre_deploy]]\ncommand = \"test \\\"$GREETING\\\" = hello && test -f /www/fail-hook && exit 3 || true\"\n",
    );
    assert!(app.arcane(&["deploy"]).status.success());
    let v1 = app.current("staging").unwrap();
    app.write("www/fail-hook", "x");
    app.commit_version("v2", true);
    let o = app.arcane(&["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("exited with 3"), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    assert_eq!(app.current("staging").as_deref(), Some(v1.as_str()));
    assert!(
        app.containers().iter().all(|c| c.contains(&v1[..12])),
        "no v2 container was started: {:?}",
        app.containers()
    );
}

#[test]
fn production_without_a_tty_or_yes_is_refused() {
    let app = App::local("dp", "");
    let o = app.arcane(&["deploy", "--env", "production"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    assert!(app.containers().is_empty());
    let o = app.arcane(&["rollback", "--env", "production"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn dry_run_changes_nothing() {
    let app = App::local("dd", "");
    let o = app.arcane(&["deploy", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("added GREETING, SECRET_TOKEN"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(app.containers().is_empty());
    assert!(app.current("staging").is_none());
    assert!(!app.app_dir("staging").join("releases").exists());
    let o = app.arcane(&["--json", "deploy", "--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\"event\":\"plan\""), "{out}");
}

#[test]
fn a_held_lock_refuses_naming_the_holder_and_a_stale_one_is_taken_over() {
    let app = App::local("dl2", "");
    let lock = app.app_dir("staging").join("lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(
        lock.join("holder.json"),
        r#"{"who":"alice@laptop","pid":4242,"since":"2026-01-01T00:00:00Z","version":"abc1234","token":"t0"}"#,
    )
    .unwrap();
    let o = app.arcane(&["deploy", "--lock-wait", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("alice@laptop"), "{}", text(&o));
    assert!(app.containers().is_empty());
    let o = app.arcane(&["lock", "status"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("alice@laptop"),
        "{}",
        text(&o)
    );

    // The holder died: no heartbeat for longer than the stale threshold.
    std::thread::sleep(Duration::from_millis(2100));
    let o = app
        .cmd()
        .args(["deploy"])
        .env("ARCANE_LOCK_STALE_SECS", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("stale"), "{}", text(&o));
    assert!(!lock.exists(), "unlocked at the end");
}

#[test]
fn a_dirty_worktree_deploys_silently_regression() {
    let app = App::local("dw", "");
    app.write("www/index.html", "uncommitted\n");
    // A protected env refuses before building anything.
    let o = app.arcane(&["deploy", "--env", "production", "--yes"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--allow-dirty"), "{}", text(&o));
    assert!(app.current("production").is_none());
    // The plan says so too, without refusing.
    let o = app.arcane(&["deploy", "--env", "production", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("uncommitted changes"), "{}", text(&o));
    // Staging deploys it, with a warning naming the version.
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("warning: the working tree has uncommitted changes"),
        "{}",
        text(&o)
    );
    assert!(app.current("staging").unwrap().contains("-dirty-"));
}

/// Ctrl-C during the build used to wait for the build to end and then run
/// connect, lock and ship anyway, reporting "failed". It must stop at once,
/// kill the build and say "cancelled" (exit 130).
#[test]
fn cancel_does_not_act_on_time_regression() {
    use std::io::{BufRead, BufReader};
    let app = App::local("dc", "");
    app.write(
        "Dockerfile",
        "FROM busybox:stable\nRUN sleep 60\nCOPY www /www\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    );
    app.commit("slow build");
    let mut child = app
        .cmd()
        .args(["deploy"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // -v is off: wait for the build's step to start (the progress bar is
    // hidden without a terminal, so watch for the sleep's container).
    let start = std::time::Instant::now();
    wait_for("the slow build step", Duration::from_secs(60), || {
        let o = std::process::Command::new("pgrep")
            .args(["-f", "sleep 60"])
            .output()
            .unwrap();
        o.status.success()
    });
    let sent = std::time::Instant::now();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut err = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        err.push_str(&line.unwrap());
        err.push('\n');
    }
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    assert!(err.contains("cancelled"), "{err}");
    assert!(!err.contains("failed"), "{err}");
    for step in ["connect", "lock", "ship"] {
        assert!(!err.contains(&format!("✓ {step}")), "{step} ran: {err}");
    }
    // The build's processes are gone with it.
    std::thread::sleep(Duration::from_secs(1));
    let o = std::process::Command::new("pgrep")
        .args(["-f", &format!("docker build .* -t {}:", app.name)])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        !o.status.success() || start.elapsed() > Duration::from_secs(70),
        "a docker build is still running: {left}"
    );
}

#[test]
fn rollback_to_nonexistent_exits_2_regression() {
    let app = App::local("dn", "");
    assert!(app.arcane(&["deploy"]).status.success());
    let o = app.arcane(&["rollback", "--to", "nonexistent"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("no release \"nonexistent\""), "{t}");
    assert!(!t.contains("local: local:"), "{t}");
}

#[test]
fn every_release_reads_live_and_rollback_to_failed_regression() {
    let app = App::local("dv", "");
    assert!(app.arcane(&["deploy"]).status.success());
    let v1 = app.current("staging").unwrap();
    app.commit_version("v2", true);
    assert!(app.arcane(&["deploy"]).status.success());
    let v2 = app.current("staging").unwrap();
    app.commit_version("v3", false);
    assert_eq!(app.arcane(&["deploy"]).status.code(), Some(1));
    let o = app.arcane(&["--json", "releases"]);
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let rows = v["servers"][0]["releases"].as_array().unwrap().clone();
    let state = |rel: &str| {
        rows.iter()
            .find(|r| r["release"] == rel)
            .map(|r| {
                (
                    r["state"].as_str().unwrap().to_string(),
                    r["live"].as_bool().unwrap(),
                )
            })
            .unwrap()
    };
    assert_eq!(state(&v2), ("live".to_string(), true), "{line}");
    assert_eq!(state(&v1), ("previous".to_string(), false), "{line}");
    let failed = rows
        .iter()
        .find(|r| r["state"] == "failed")
        .expect("the v3 release is recorded as failed");
    assert_eq!(failed["live"], false);
    // Rolling back to the failed release is allowed, but said loudly, and
    // the summary names the release, not "rollback".
    let to = failed["release"].as_str().unwrap().to_string();
    let o = app.arcane(&["rollback", "--to", &to]);
    let t = text(&o);
    assert!(
        t.contains(&format!("release {to} FAILED its deploy")),
        "{t}"
    );
    assert!(!t.contains("rollback on staging"), "{t}");
}

#[test]
fn rollback_returns_to_the_previous_release() {
    let app = App::local("dr", "");
    assert!(app.arcane(&["deploy"]).status.success());
    let v1 = app.current("staging").unwrap();
    app.commit_version("v2", true);
    assert!(app.arcane(&["deploy"]).status.success());
    assert_eq!(app.get().as_deref(), Some("v2"));
    let o = app.arcane(&["rollback"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    assert_eq!(app.current("staging").as_deref(), Some(v1.as_str()));
}

#[test]
fn two_apps_on_one_server_do_not_disturb_each_other() {
    let a = App::local("da", "");
    let b = App::local("db", "");
    assert!(a.arcane(&["deploy"]).status.success());
    b.commit_version("b1", true);
    assert!(b.arcane(&["deploy"]).status.success());
    let a_containers = a.containers();
    b.commit_version("b2", true);
    assert!(b.arcane(&["deploy"]).status.success());
    assert_eq!(a.get().as_deref(), Some("v1"));
    assert_eq!(b.get().as_deref(), Some("b2"));
    assert_eq!(
        a.containers(),
        a_containers,
        "app a untouched by b's deploys"
    );
}

#[test]
fn kill_9_mid_deploy_leaves_the_app_serving_and_the_next_deploy_takes_over() {
    let app = App::local("dk9", "");
    assert!(app.arcane(&["deploy"]).status.success());
    // v2 is slow to become healthy (grace), so the deploy is mid-flight.
    app.write(
        "arcane.toml",
        &std::fs::read_to_string(app.path().join("arcane.toml"))
            .unwrap()
            .replace("interval = 0.2", "interval = 0.2\ngrace = 20"),
    );
    app.commit_version("v2", true);
    let mut child = app
        .cmd()
        .args(["deploy"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = app.app_dir("staging").join("lock");
    wait_for(
        "the deploy to take the lock",
        Duration::from_secs(60),
        || {
            lock.join("holder.json").exists()
                && app.containers().iter().any(|c| c.ends_with("-check"))
        },
    );
    unsafe { libc_kill(child.id() as i32) };
    let _ = child.wait();
    assert_eq!(app.get().as_deref(), Some("v1"), "v1 keeps serving");
    std::thread::sleep(Duration::from_millis(2100));
    app.write(
        "arcane.toml",
        &std::fs::read_to_string(app.path().join("arcane.toml"))
            .unwrap()
            .replace("grace = 20", "grace = 0"),
    );
    app.commit("no grace");
    let o = app
        .cmd()
        .args(["deploy"])
        .env("ARCANE_LOCK_STALE_SECS", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("stale"), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v2"));
}

unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}

/// With encrypted env files, the release record's digests are keyed by the
/// staging scope key: the public keying (app, env, key name) that let a
/// reader of release.json guess a short value offline matches nothing, and
/// the no-op redeploy still works.
#[test]
fn release_digests_are_keyed_by_the_scope_key() {
    use hmac::{Hmac, Mac};
    let app = App::local("dg", "");
    let o = app.arcane(&["init"]);
    assert!(o.status.success(), "{}", text(&o));
    // git runs the filter, which must see this app's HOME (its identity).
    for args in [&["add", "-A"][..], &["commit", "-qm", "encrypt"]] {
        let o = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(app.path())
            .env("HOME", app.home.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    let rel = app.current("staging").expect("current written");
    let json = std::fs::read_to_string(
        app.app_dir("staging")
            .join("releases")
            .join(&rel)
            .join("release.json"),
    )
    .unwrap();
    let record: serde_json::Value = serde_json::from_str(&json).unwrap();
    let digest = record["env_keys"]["SECRET_TOKEN"]
        .as_str()
        .unwrap()
        .to_string();
    let guess = |value: &str| {
        let key = format!("arcane/{}/staging/SECRET_TOKEN", app.name);
        hex::encode(
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes())
                .unwrap()
                .chain_update(value.as_bytes())
                .finalize()
                .into_bytes(),
        )
    };
    assert_ne!(digest, guess("s3cr3t-token-value-0042"));
    assert!(!json.contains("s3cr3t"), "{json}");
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("unchanged"), "{}", text(&o));
    let o = app.arcane(&["--json", "releases"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&guess("s3cr3t-token-value-0042")));
}
