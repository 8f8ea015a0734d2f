//! Spark's HTTP side over real HTTP: signed GitHub and GitLab deliveries
//! built from the documented payloads, refusals, ignored events, replays,
//! the status endpoint, and GitHub commit statuses from a job.
//!
//! Spark runs in-process with the real queue, journal, git checkout and
//! project loading; only the deploy itself is a stand-in
//! (`stub_deploy`, which emits what a deploy emits), because what these
//! tests check is everything around it. tests/spark_local.rs deploys for
//! real.

mod common {
    pub mod fake_http;
    pub mod spark;
}

use arcane::event::report::*;
use arcane::event::Event;
use arcane::spark::config::SparkFile;
use arcane::spark::job::DeployFn;
use arcane::spark::serve::{start, Running};
use common::fake_http::FakeService;
use common::spark::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// Spark needs a machine key and finds the webhook secrets by name in its
/// env; every test of this binary uses the same ones.
fn env_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let (key, _) = machine_key();
        std::env::set_var("ARCANE_MACHINE_KEY", key);
        std::env::set_var("SPARK_TEST_GH", GH_SECRET);
        std::env::set_var("SPARK_TEST_GL", GL_TOKEN);
        std::env::set_var("SPARK_TEST_STATUS", "status-t0ken-77");
        std::env::set_var("SPARK_TEST_GITHUB_TOKEN", "ghp-fake-t0ken-99");
    });
}

/// A git project that loads (no Docker needed: the deploy is stubbed).
fn project(dir: &Path, name: &str, extra: &str) -> String {
    std::fs::create_dir_all(dir.join("config/envs")).unwrap();
    std::fs::write(
        dir.join("arcane.toml"),
        format!("[app]\nname = \"{name}\"\n\n[notifications]\ndesktop = false\n{extra}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("config/servers.toml"),
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("config/envs/staging.env"), "A=1\n").unwrap();
    std::fs::write(dir.join("config/envs/production.env"), "A=2\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:stable\n").unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "v1"]);
    head(dir)
}

type Deployed = Arc<Mutex<Vec<(String, String, String)>>>;

/// Stand-in deploy: emits DeployStarted, a summary and the final event
/// like `ops::deploy::deploy`, and records (app, env, commit).
fn stub_deploy(seen: Deployed) -> DeployFn {
    Arc::new(move |ctx, req| {
        let env = req.selection.env.clone().unwrap();
        let sha = arcane::git::state(&ctx.project.root).unwrap().sha;
        let app = ctx.app().to_string();
        ctx.em.emit(Event::DeployStarted(DeployStarted {
            op: DeployOp::Deploy,
            app: app.clone(),
            env: env.clone(),
            version: Some(sha.clone()),
            git_sha: Some(sha.clone()),
            servers: vec!["local".into()],
        }));
        std::thread::sleep(Duration::from_millis(50));
        let s = DeploySummary {
            op: DeployOp::Deploy,
            app: app.clone(),
            env: env.clone(),
            version: Some(sha.clone()),
            git_sha: Some(sha.clone()),
            ok: true,
            result: DeployResult::Succeeded,
            servers: vec![],
            elapsed_ms: 50,
        };
        ctx.em.emit(Event::DeploySummary(s.clone()));
        ctx.em
            .finished(true, format!("deployed {app} {sha} on {env}"));
        seen.lock().unwrap().push((app, env, sha));
        Ok(s)
    })
}

struct Spark {
    running: Option<Running>,
    deployed: Deployed,
    dir: tempfile::TempDir,
}

impl Spark {
    fn addr(&self) -> std::net::SocketAddr {
        self.running.as_ref().unwrap().addr
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn wait_deployed(&self, n: usize) -> Vec<(String, String, String)> {
        let t = Instant::now();
        loop {
            let d = self.deployed.lock().unwrap().clone();
            if d.len() >= n {
                // Let the job record its end.
                self.running
                    .as_ref()
                    .unwrap()
                    .queue
                    .wait_idle(Duration::from_secs(10));
                return d;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "deployed only {d:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn idle_and_nothing_queued(&self) -> bool {
        self.running.as_ref().unwrap().queue.with_state(|s| {
            s.slots
                .values()
                .all(|s| s.pending.is_none() && s.running.is_none())
                && s.history.is_empty()
        })
    }
}

impl Drop for Spark {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop(Duration::from_secs(5));
        }
    }
}

/// Spark with `apps` (TOML of `[spark.apps.*]`) and `spark_extra` in [spark].
fn spark(dir: tempfile::TempDir, spark_extra: &str, apps: &str) -> Spark {
    env_once();
    let state = dir.path().join("state");
    let cfg = dir.path().join("spark.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ndebounce = \"0s\"\ngithub_secret_env = \"SPARK_TEST_GH\"\ngitlab_token_env = \"SPARK_TEST_GL\"\n{spark_extra}\n{apps}",
            state.display()
        ),
    )
    .unwrap();
    let file = SparkFile::load(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let deployed: Deployed = Arc::default();
    let running = start(file, stub_deploy(deployed.clone())).unwrap();
    Spark {
        running: Some(running),
        deployed,
        dir,
    }
}

#[test]
fn fixture_github_and_gitlab_pushes_signed_right_get_2xx_and_deploy_that_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (gh, gl) = (dir.path().join("gh"), dir.path().join("gl"));
    let gh_sha = project(&gh, "ghapp", "");
    let gl_sha = project(&gl, "glapp", "");
    let apps = format!(
        "[spark.apps.gh]\nrepo = \"{}\"\nbranches = {{ main = \"staging\" }}\n[spark.apps.gl]\nrepo = \"{}\"\nbranches = {{ main = \"staging\" }}\n",
        gh.display(),
        gl.display()
    );
    let s = spark(dir, "", &apps);
    let body = github_push(&gh.display().to_string(), "main", &gh_sha);
    let (code, answer) = github(s.addr(), &body, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("\"queued\""), "{answer}");
    let body = gitlab_push(&gl.display().to_string(), "main", &gl_sha);
    let (code, answer) = post(
        s.addr(),
        "/hooks/gitlab",
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", GL_TOKEN),
            (
                "X-Gitlab-Event-UUID",
                "13792a34-cac6-4fda-95a8-c58e00a3954e",
            ),
        ],
        &body,
    );
    assert_eq!(code, 202, "{answer}");
    let mut d = s.wait_deployed(2);
    d.sort();
    assert_eq!(
        d,
        vec![
            ("ghapp".into(), "staging".into(), gh_sha),
            ("glapp".into(), "staging".into(), gl_sha)
        ]
    );
    // Each job has a log and a result.
    let st = arcane::spark::status::read(&s.state(), 50, 50).unwrap();
    assert_eq!(st.recent.len(), 2);
    for j in &st.recent {
        assert_eq!(j.state, "succeeded", "{j:?}");
        let log = std::fs::read_to_string(&j.log).unwrap();
        assert!(log.contains("✓ checkout"), "{log}");
        assert!(log.contains("✓ deployed"), "{log}");
    }
}

#[test]
fn wrong_or_missing_signatures_and_an_oversized_body_are_refused_and_queue_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("app");
    let sha = project(&repo, "refused", "");
    let apps = format!(
        "[spark.apps.a]\nrepo = \"{}\"\nbranches = {{ main = \"staging\" }}\n",
        repo.display()
    );
    let s = spark(dir, "max_body = 4096", &apps);
    let body = github_push(&repo.display().to_string(), "main", &sha);
    let wrong = sign("not-the-secret", &body);
    let (code, _) = post(
        s.addr(),
        "/hooks/github",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &wrong)],
        &body,
    );
    assert_eq!(code, 401, "wrong signature");
    let (code, _) = post(
        s.addr(),
        "/hooks/github",
        &[("X-GitHub-Event", "push")],
        &body,
    );
    assert_eq!(code, 401, "missing signature");
    // A correct signature over another body.
    let sig = sign(GH_SECRET, b"{}");
    let (code, _) = post(
        s.addr(),
        "/hooks/github",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &sig)],
        &body,
    );
    assert_eq!(code, 401, "signature of another body");
    let gl = gitlab_push(&repo.display().to_string(), "main", &sha);
    for token in [Some("wrong"), None] {
        let mut h = vec![("X-Gitlab-Event", "Push Hook")];
        if let Some(t) = token {
            h.push(("X-Gitlab-Token", t));
        }
        let (code, _) = post(s.addr(), "/hooks/gitlab", &h, &gl);
        assert_eq!(code, 401, "gitlab token {token:?}");
    }
    // Oversized: correctly signed, but past max_body.
    let mut big: serde_json::Value = serde_json::from_slice(&body).unwrap();
    big["padding"] = "x".repeat(10_000).into();
    let big = serde_json::to_vec(&big).unwrap();
    let (code, _) = github(s.addr(), &big, "big-1");
    assert_eq!(code, 413, "oversized body");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.idle_and_nothing_queued(), "something was queued");
    assert!(s.deployed.lock().unwrap().is_empty());
    assert!(std::fs::read_to_string(s.state().join("journal"))
        .unwrap_or_default()
        .is_empty());
}

#[test]
fn other_events_tags_and_unmapped_branches_get_202_and_are_ignored_and_replays_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("app");
    let sha = project(&repo, "ignored", "");
    let r = repo.display().to_string();
    let apps = format!("[spark.apps.a]\nrepo = \"{r}\"\nbranches = {{ main = \"staging\" }}\n");
    let s = spark(dir, "", &apps);
    let issue = br#"{"action":"opened"}"#;
    let sig = sign(GH_SECRET, issue);
    let (code, answer) = post(
        s.addr(),
        "/hooks/github",
        &[("X-GitHub-Event", "issues"), ("X-Hub-Signature-256", &sig)],
        issue,
    );
    assert_eq!((code, answer.contains("ignored")), (202, true), "{answer}");
    let (code, answer) = github(s.addr(), &github_push(&r, "feature/x", &sha), "f1");
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("maps to no env"), "{answer}");
    let mut tag: serde_json::Value =
        serde_json::from_slice(&github_push(&r, "main", &sha)).unwrap();
    tag["ref"] = "refs/tags/v1.0".into();
    let (code, answer) = github(s.addr(), &serde_json::to_vec(&tag).unwrap(), "t1");
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("tag"), "{answer}");
    let (code, answer) = github(
        s.addr(),
        &github_push("https://github.com/someone/else.git", "main", &sha),
        "o1",
    );
    assert_eq!(code, 202, "{answer}");
    assert!(answer.contains("no app"), "{answer}");
    let ping = br#"{"zen":"Keep it logically awesome."}"#;
    let sig = sign(GH_SECRET, ping);
    let (code, _) = post(
        s.addr(),
        "/hooks/github",
        &[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &sig)],
        ping,
    );
    assert_eq!(code, 200);
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.idle_and_nothing_queued());

    // The same delivery twice: the second is a replay and does nothing,
    // even after the first finished.
    let body = github_push(&r, "main", &sha);
    assert_eq!(github(s.addr(), &body, "dup-1").0, 202);
    s.wait_deployed(1);
    let (code, answer) = github(s.addr(), &body, "dup-1");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("duplicate"), "{answer}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.deployed.lock().unwrap().len(), 1);
    let log = std::fs::read_to_string(s.state().join("journal")).unwrap();
    assert!(!log.contains(GH_SECRET) && !log.contains("X-Hub"), "{log}");
}

#[test]
fn the_status_endpoint_and_job_logs_need_the_status_token() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("app");
    let sha = project(&repo, "statusapp", "");
    let r = repo.display().to_string();
    let apps = format!("[spark.apps.a]\nrepo = \"{r}\"\nbranches = {{ main = \"staging\" }}\n");
    let s = spark(dir, "status_token_env = \"SPARK_TEST_STATUS\"", &apps);
    assert_eq!(
        github(s.addr(), &github_push(&r, "main", &sha), "s1").0,
        202
    );
    s.wait_deployed(1);
    assert_eq!(request(s.addr(), "GET", "/status", &[], b"").0, 401);
    assert_eq!(
        request(
            s.addr(),
            "GET",
            "/status",
            &[("Authorization", "Bearer nope")],
            b""
        )
        .0,
        401
    );
    let auth = [("Authorization", "Bearer status-t0ken-77")];
    let (code, body) = request(s.addr(), "GET", "/status", &auth, b"");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["recent"][0]["state"], "succeeded", "{v:#}");
    assert_eq!(v["recent"][0]["sha"], sha.as_str());
    let (code, log) = request(s.addr(), "GET", "/jobs/1/log", &auth, b"");
    assert_eq!(code, 200);
    assert!(log.contains("checkout"), "{log}");
    assert_eq!(request(s.addr(), "GET", "/jobs/1/log", &[], b"").0, 401);
    assert_eq!(request(s.addr(), "GET", "/healthz", &[], b"").0, 200);
}

#[test]
fn fake_github_statuses_get_pending_then_success_with_the_job_link() {
    let api = FakeService::start(201);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("app");
    let extra = format!(
        "\n[notify.channels.gh]\nkind = \"github\"\nrepo = \"acme/hello\"\ntoken_env = \"SPARK_TEST_GITHUB_TOKEN\"\napi_url = \"{}\"\ntarget_url = \"https://spark.example/jobs/{{job}}\"\n",
        api.url
    );
    let sha = project(&repo, "ghstatus", &extra);
    let r = repo.display().to_string();
    let apps = format!("[spark.apps.a]\nrepo = \"{r}\"\nbranches = {{ main = \"staging\" }}\n");
    let s = spark(dir, "", &apps);
    assert_eq!(
        github(s.addr(), &github_push(&r, "main", &sha), "g1").0,
        202
    );
    s.wait_deployed(1);
    let seen = api.wait_for("pending and success", Duration::from_secs(10), |r| {
        r.len() >= 2
    });
    let path = format!("/repos/acme/hello/statuses/{sha}");
    let states: Vec<String> = seen
        .iter()
        .map(|r| {
            assert_eq!(r.path, path);
            assert_eq!(r.method, "POST");
            assert_eq!(r.header("authorization"), Some("Bearer ghp-fake-t0ken-99"));
            assert_eq!(r.json()["context"], "arcane/staging");
            assert_eq!(r.json()["target_url"], "https://spark.example/jobs/1");
            r.json()["state"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(states, vec!["pending", "success"]);
}

#[test]
fn install_service_prints_or_writes_a_hardened_unit_and_bad_config_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("spark.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nstate_dir = \"/var/lib/arcane-spark\"\ngithub_secret_env = \"GH\"\n[spark.apps.a]\nrepo = \"{}\"\nbranches = {{ main = \"staging\" }}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_arcane");
    let o = std::process::Command::new(bin)
        .args(["spark", "install-service", "--print", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let unit = String::from_utf8_lossy(&o.stdout);
    assert!(
        unit.contains(&format!(
            "ExecStart={bin} spark serve --config {}",
            cfg.display()
        )),
        "{unit}"
    );
    assert!(
        unit.contains("NoNewPrivileges=yes") && unit.contains("LoadCredential=machine-key:"),
        "{unit}"
    );
    let path = dir.path().join("arcane-spark.service");
    let o = std::process::Command::new(bin)
        .args(["spark", "install-service", "--user", "builder", "--config"])
        .arg(&cfg)
        .arg("--path")
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("User=builder"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("systemctl daemon-reload"));

    std::fs::write(&cfg, "[spark]\nlisten = \"nowhere\"\n").unwrap();
    let o = std::process::Command::new(bin)
        .args(["spark", "status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("spark.toml:2:1: [spark] listen"), "{err}");
}
