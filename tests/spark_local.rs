//! The real `arcane spark serve` deploying for real to the `local` target
//! (this machine's Docker): a burst of pushes coalesces, a SIGKILL in the
//! middle of the queue loses and repeats nothing, and a job decrypts with
//! the machine key only, never with a person's identity on the machine.

mod common {
    pub mod spark;
}
mod deploy_support;

use common::spark::*;
use deploy_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn write_config(dir: &Path, state: &Path, extra: &str, apps: &[(&str, &App)]) -> PathBuf {
    let mut text = format!(
        "[spark]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ngithub_secret_env = \"SPARK_GH\"\n{extra}\n",
        state.display()
    );
    for (name, app) in apps {
        text.push_str(&format!(
            "[spark.apps.{name}]\nrepo = \"{}\"\nbranches = {{ {} = \"staging\" }}\n",
            app.path().display(),
            branch(app.path())
        ));
    }
    let p = dir.join("spark.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn jobs_of<'a>(s: &'a serde_json::Value, app: &str) -> Vec<&'a serde_json::Value> {
    let mut v: Vec<&serde_json::Value> = s["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["app"] == app)
        .collect();
    v.sort_by_key(|j| j["id"].as_u64());
    v
}

fn idle(s: &serde_json::Value) -> bool {
    s["queued"].as_array().unwrap().is_empty() && s["running"].as_array().unwrap().is_empty()
}

/// A deploy that takes a few seconds: the new container is probed only
/// after a grace period.
fn slow(app: &App) {
    let toml = std::fs::read_to_string(app.path().join("arcane.toml")).unwrap();
    app.write(
        "arcane.toml",
        &toml.replace("interval = 0.2", "interval = 0.2\ngrace = 3"),
    );
    app.commit("slow health");
}

#[test]
fn twenty_pushes_within_two_seconds_build_at_most_twice_and_the_last_commit_is_live() {
    let app = App::local("sb", "");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &tmp.path().join("state"),
        "debounce = \"1s\"",
        &[("burst", &app)],
    );
    let (key, _) = machine_key();
    let serve = Serve::start(
        &cfg,
        app.home.path(),
        &[("ARCANE_MACHINE_KEY", &key), ("SPARK_GH", GH_SECRET)],
        &tmp.path().join("serve.log"),
    );
    let repo = app.path().display().to_string();
    let br = branch(app.path());
    let t = Instant::now();
    let mut last = String::new();
    for i in 1..=20 {
        app.commit_version(&format!("b{i}"), true);
        last = head(app.path());
        let (code, body) = github(
            serve.addr,
            &github_push(&repo, &br, &last),
            &format!("burst-{i}"),
        );
        assert_eq!(code, 202, "{body}");
    }
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "the 20 pushes took {took:?}");
    let s = wait_status(
        &cfg,
        app.home.path(),
        "the burst to be deployed",
        Duration::from_secs(120),
        |s| idle(s) && !jobs_of(s, "burst").is_empty(),
    );
    let jobs = jobs_of(&s, "burst");
    assert!(
        jobs.len() <= 2,
        "{} builds for one burst: {s:#}",
        jobs.len()
    );
    let newest = jobs.last().unwrap();
    assert_eq!(newest["sha"], last.as_str(), "{s:#}");
    assert_eq!(newest["state"], "succeeded", "{s:#}");
    let pushes: u64 = jobs.iter().map(|j| j["pushes"].as_u64().unwrap()).sum();
    assert_eq!(pushes, 20, "every push is counted once: {s:#}");
    assert_eq!(app.get().as_deref(), Some("b20"));
    let log = std::fs::read_to_string(newest["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("✓ deployed"), "{log}");
    assert!(!serve.log_text().contains(GH_SECRET));
}

#[test]
fn spark_killed_mid_queue_loses_no_push_and_repeats_no_finished_deploy() {
    let apps: Vec<App> = ["ka", "kb", "kc"]
        .iter()
        .map(|p| App::local(p, ""))
        .collect();
    for a in &apps {
        slow(a);
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = apps[0].home.path();
    let named: Vec<(&str, &App)> = vec![("a", &apps[0]), ("b", &apps[1]), ("c", &apps[2])];
    let cfg = write_config(
        tmp.path(),
        &tmp.path().join("state"),
        "workers = 1\ndebounce = \"0s\"",
        &named,
    );
    let (key, _) = machine_key();
    let env = [
        ("ARCANE_MACHINE_KEY", key.as_str()),
        ("SPARK_GH", GH_SECRET),
        // The killed deploy's lock is taken over quickly on the re-run.
        ("ARCANE_LOCK_STALE_SECS", "3"),
    ];
    let log = tmp.path().join("serve.log");
    let mut serve = Serve::start(&cfg, home, &env, &log);
    for (name, app) in &named {
        let body = github_push(
            &app.path().display().to_string(),
            &branch(app.path()),
            &head(app.path()),
        );
        assert_eq!(github(serve.addr, &body, &format!("kill-{name}")).0, 202);
        std::thread::sleep(Duration::from_millis(20));
    }
    // a done, b running, c waiting: then SIGKILL.
    wait_status(
        &cfg,
        home,
        "a to finish and b to start",
        Duration::from_secs(120),
        |s| {
            jobs_of(s, "a").len() == 1
                && s["running"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["app"] == "b")
        },
    );
    std::thread::sleep(Duration::from_millis(1500));
    serve.kill();
    let s = status(&cfg, home);
    assert!(!s["serving"].as_bool().unwrap());
    assert_eq!(s["running"][0]["app"], "b", "{s:#}");
    assert_eq!(s["running"][0]["state"], "stopped", "{s:#}");
    assert_eq!(s["queued"][0]["app"], "c", "{s:#}");

    let serve = Serve::start(&cfg, home, &env, &log);
    let s = wait_status(
        &cfg,
        home,
        "the queue to drain",
        Duration::from_secs(180),
        |s| {
            idle(s)
                && ["a", "b", "c"].iter().all(|a| {
                    jobs_of(s, a)
                        .last()
                        .is_some_and(|j| j["state"] == "succeeded")
                })
        },
    );
    let states = |app: &str| -> Vec<String> {
        jobs_of(&s, app)
            .iter()
            .map(|j| j["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        states("a"),
        vec!["succeeded"],
        "a is never deployed again: {s:#}"
    );
    assert_eq!(
        states("b"),
        vec!["interrupted", "succeeded"],
        "b runs again: {s:#}"
    );
    assert_eq!(states("c"), vec!["succeeded"], "c's push survived: {s:#}");
    assert_eq!(jobs_of(&s, "b")[0]["sha"], jobs_of(&s, "b")[1]["sha"]);
    for a in &apps {
        assert_eq!(a.get().as_deref(), Some("v1"), "{}", a.name);
    }
    assert!(serve
        .log_text()
        .contains("was cut off when Spark stopped; it runs again"));
}

/// A developer with an identity, and a project whose staging env is
/// encrypted (the file in git is ciphertext).
fn encrypted_project(app: &App, dev_home: &Path) {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_arcane"))
            .current_dir(app.path())
            .env("HOME", dev_home)
            .env("XDG_CONFIG_HOME", dev_home.join("xdg"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "arcane {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    run(&["init", "--name", &app.name]);
    run(&[
        "env",
        "set",
        "SECRET_TOKEN",
        "s3cr3t-token-value-0042",
        "--env",
        "staging",
    ]);
    dev_git(app, dev_home, &["add", "-A"]);
    dev_git(app, dev_home, &["commit", "-qm", "encrypted envs"]);
    let stored = dev_git(app, dev_home, &["show", "HEAD:config/envs/staging.env"]);
    assert!(
        !stored.contains("s3cr3t-token-value"),
        "git holds plaintext: {stored}"
    );
}

fn dev_git(app: &App, dev_home: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.org"])
        .args(args)
        .current_dir(app.path())
        .env("HOME", dev_home)
        .env("XDG_CONFIG_HOME", dev_home.join("xdg"))
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn personal_identity_on_the_build_machine_is_never_used_only_the_allowed_machine_key() {
    let app = App::local("sk", "");
    let dev = tempfile::tempdir().unwrap();
    encrypted_project(&app, dev.path());
    // The build machine's user has the developer's identity at the default
    // place, which could open staging.
    let spark_home = app.home.path();
    let id_dir = spark_home.join(".config/arcane");
    std::fs::create_dir_all(&id_dir).unwrap();
    std::fs::copy(
        dev.path().join("xdg/arcane/identity.txt"),
        id_dir.join("identity.txt"),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &tmp.path().join("state"),
        "debounce = \"0s\"",
        &[("keyed", &app)],
    );
    let (key, public) = machine_key();
    let serve = Serve::start(
        &cfg,
        spark_home,
        &[("ARCANE_MACHINE_KEY", &key), ("SPARK_GH", GH_SECRET)],
        &tmp.path().join("serve.log"),
    );
    let repo = app.path().display().to_string();
    let br = branch(app.path());
    let push = |sha: &str, id: &str| github(serve.addr, &github_push(&repo, &br, sha), id);

    // The machine key is not allowed yet: the job cannot decrypt staging.
    assert_eq!(push(&head(app.path()), "k1").0, 202);
    let s = wait_status(
        &cfg,
        spark_home,
        "the first job",
        Duration::from_secs(60),
        |s| idle(s) && !jobs_of(s, "keyed").is_empty(),
    );
    let j = jobs_of(&s, "keyed")[0];
    assert_eq!(j["state"], "failed", "{s:#}");
    let log = std::fs::read_to_string(j["log"].as_str().unwrap()).unwrap();
    // Only the machine key was tried: the error names it, not the person.
    assert!(log.contains("cannot decrypt scope"), "{log}");
    assert!(log.contains(&public), "{log}");
    let person = Command::new(env!("CARGO_BIN_EXE_arcane"))
        .env("HOME", dev.path())
        .env("XDG_CONFIG_HOME", dev.path().join("xdg"))
        .args(["identity", "show"])
        .output()
        .unwrap();
    let person = String::from_utf8_lossy(&person.stdout).trim().to_string();
    assert!(person.starts_with("age1"), "{person}");
    assert!(
        !log.contains(&person),
        "the personal identity was loaded: {log}"
    );
    assert!(!log.contains("s3cr3t-token-value"), "{log}");
    assert!(app.containers().is_empty(), "nothing was deployed");

    // Allowed: the next push deploys, decrypting with the machine key.
    let run = Command::new(env!("CARGO_BIN_EXE_arcane"))
        .current_dir(app.path())
        .env("HOME", dev.path())
        .env("XDG_CONFIG_HOME", dev.path().join("xdg"))
        .args([
            "deploy",
            "allow",
            &public,
            "--name",
            "spark",
            "--scopes",
            "base,staging",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    dev_git(&app, dev.path(), &["add", "-A"]);
    dev_git(&app, dev.path(), &["commit", "-qm", "allow spark"]);
    assert_eq!(push(&head(app.path()), "k2").0, 202);
    let s = wait_status(
        &cfg,
        spark_home,
        "the second job",
        Duration::from_secs(120),
        |s| idle(s) && jobs_of(s, "keyed").len() == 2,
    );
    assert_eq!(jobs_of(&s, "keyed")[1]["state"], "succeeded", "{s:#}");
    assert_eq!(app.get().as_deref(), Some("v1"));
    assert!(!serve.log_text().contains("s3cr3t-token-value"));
}
