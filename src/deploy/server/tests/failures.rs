//! A failure injected at every step of an image-mode deploy over a live
//! release `v0`: what is undone, what is recorded, what the outcome says.

use super::*;
use crate::remote::scripted::fail;

/// Deploy `v1` over a live `v0` with `inject` added to the script.
fn deploy_failing(extra: &str, inject: impl FnOnce(&Scripted)) -> Ran {
    let fx = fixture(extra);
    let t = server(&OnServer::with_live_v0());
    inject(&t);
    Run::new(&fx, Artifact::for_test_image("v1", "shop:v1", None)).go(&t)
}

fn rm_new() -> String {
    let n = spec("v1").name;
    argv::sh_quiet(&argv::rm_force(&[format!("{n}-check"), n]))
}

/// The end of a failure after the new release was written: marked failed,
/// unlocked.
fn marked_failed_and_unlocked() -> [String; 2] {
    [upload(layout().release_json("v1"), 0o600), "UNLOCK".into()]
}

fn assert_ends_with(calls: &[String], tail: &[String]) {
    assert!(
        calls.ends_with(tail),
        "calls end with {tail:#?}\ncalls: {calls:#?}"
    );
}

#[test]
fn scripted_failure_at_connect_runs_nothing() {
    let fx = fixture("");
    let t = server(&OnServer::with_live_v0());
    let mut run = Run::new(&fx, Artifact::for_test_image("v1", "shop:v1", None));
    run.connect_fails = true;
    let r = run.go(&t);
    assert!(!r.out.ok && !r.out.rolled_back);
    assert_eq!(r.steps(), ["connect FAILED"]);
    assert!(r.calls().is_empty());
    assert!(
        r.out.detail.contains("connection reset"),
        "{}",
        r.out.detail
    );
}

#[test]
fn scripted_failure_at_lock_says_what_is_live() {
    let r = deploy_failing("", |t| {
        t.once(&["echo ACQUIRED"], fail(1, "mkdir: Permission denied"))
    });
    assert_eq!(r.steps(), failed_at(&["connect", "lock"]));
    assert_eq!(r.calls(), ["LOCK+FACTS", "FACTS"]);
    assert_eq!(r.out.version.as_deref(), Some("v0"));
    assert!(
        r.out.detail.contains("cannot create the lock"),
        "{}",
        r.out.detail
    );
}

#[test]
fn scripted_link_dropped_while_locking_removes_our_lock() {
    let r = deploy_failing("", |t| t.drop_once(&["echo ACQUIRED"]));
    assert_eq!(r.steps(), failed_at(&["connect", "lock"]));
    assert_eq!(r.calls(), ["LOCK+FACTS", "BREAK-LOCK", "FACTS"]);
}

#[test]
fn scripted_failure_at_ship_unlocks_and_changes_nothing() {
    let fx = fixture("");
    let t = server(&OnServer::with_live_v0());
    let remote = crate::docker::push::registry_reference("reg.example.com", "shop:v1");
    t.once(&["docker pull"], fail(1, "manifest unknown"));
    let mut run = Run::new(
        &fx,
        Artifact::for_test_image("v1", "shop:v1", Some("sha256:v1")),
    );
    run.registry = Some(Registry {
        server: "reg.example.com".into(),
        login: None,
    });
    let r = run.go(&t);
    assert_eq!(
        r.steps(),
        ["connect", "lock", "pull FAILED", "ship FAILED", "unlock"]
    );
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            sh(argv::pull(&remote)),
            "UNLOCK".into()
        ]
    );
    assert!(!r.out.ok && !r.out.rolled_back);
    assert_eq!(r.out.version.as_deref(), Some("v0"));
}

#[test]
fn scripted_registry_ship_pulls_retags_and_checks_the_image_id() {
    let fx = fixture("");
    let t = server(&OnServer::default());
    let remote = crate::docker::push::registry_reference("reg.example.com", "shop:v1");
    t.on(&["docker pull"], ok(""));
    t.on(&["docker tag"], ok(""));
    t.on(&["docker rmi"], ok(""));
    t.on(&["docker image inspect"], ok("sha256:v1\n"));
    let mut run = Run::new(
        &fx,
        Artifact::for_test_image("v1", "shop:v1", Some("sha256:v1")),
    );
    run.registry = Some(Registry {
        server: "reg.example.com".into(),
        login: None,
    });
    let r = run.go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.detail("ship"), "sent 1 image(s)");
    assert_eq!(
        r.calls()[1..5],
        [
            sh(argv::pull(&remote)),
            sh(argv::tag(&remote, "shop:v1")),
            sh(argv::rmi(std::slice::from_ref(&remote))),
            sh(argv::image_id(&["shop:v1".into()])),
        ]
    );
}

#[test]
fn scripted_failure_at_release_dir_unlocks_without_a_record() {
    let r = deploy_failing("", |t| {
        t.once(&["mkdir -p -m 700"], fail(1, "No space left on device"))
    });
    assert_eq!(
        r.steps(),
        ["connect", "lock", "ship", "release-dir FAILED", "unlock"]
    );
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            format!("mkdir -p -m 700 {}", layout().release_dir("v1")),
            "UNLOCK".into()
        ]
    );
    assert!(r.out.detail.contains("No space left"), "{}", r.out.detail);
    assert_eq!(r.out.version.as_deref(), Some("v0"));
}

#[test]
fn scripted_failure_uploading_the_env_file_unlocks() {
    let r = deploy_failing("", |t| t.fail_upload("/.env"));
    assert_eq!(
        r.steps(),
        ["connect", "lock", "ship", "release-dir FAILED", "unlock"]
    );
    assert_eq!(r.calls().last().map(String::as_str), Some("UNLOCK"));
}

#[test]
fn scripted_failure_in_the_pre_deploy_hook_removes_its_container_and_starts_nothing() {
    let r = deploy_failing("[[hooks.pre_deploy]]\ncommand = \"migrate\"\n", |t| {
        t.once(&["docker run --rm"], fail(3, "relation missing"))
    });
    assert_eq!(
        r.steps(),
        failed_at(&["connect", "lock", "ship", "release-dir", "pre-deploy"])
            .into_iter()
            .chain(["unlock".to_string()])
            .collect::<Vec<_>>()
    );
    let hook = format!("{APP}-{ENV}-hook-{}-0", std::process::id());
    let calls = r.calls();
    assert!(calls[4] == app_net(), "{calls:#?}");
    assert!(calls[5].starts_with(&format!("docker run --rm --name {hook} ")));
    assert_ends_with(
        &calls,
        &[
            argv::sh_quiet(&argv::rm_force(&[hook])),
            upload(layout().release_json("v1"), 0o600),
            "UNLOCK".into(),
        ],
    );
    assert!(
        !calls.iter().any(|c| c.contains("-check")),
        "nothing started"
    );
    assert!(!r.out.rolled_back);
    assert!(r.out.detail.contains("hook `migrate` exited with 3"));
}

#[test]
fn scripted_failure_at_start_removes_the_new_containers() {
    let r = deploy_failing("", |t| {
        t.once(&["docker run -d"], fail(125, "no such image"))
    });
    let mut want = failed_at(&[
        "connect",
        "lock",
        "ship",
        "release-dir",
        "pre-deploy",
        "start",
    ]);
    want.extend(["rollback".into(), "unlock".into()]);
    assert_eq!(r.steps(), want);
    let mut tail = vec![rm_new()];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&r.calls(), &tail);
    assert!(r.out.rolled_back && !r.out.ok);
    assert_eq!(r.out.version.as_deref(), Some("v0"));
    assert!(
        r.out.detail.contains("failed (exit 125): no such image")
            && r.out.detail.ends_with("; rolled back, v0 is live"),
        "{}",
        r.out.detail
    );
}

/// Regression (a failed health check shows none of the container's logs):
/// the last lines come as `Log` events and in the health step's detail,
/// redacted; the one-line summary leaves them out.
#[test]
fn scripted_failed_health_check_shows_the_containers_last_log_lines() {
    let check = format!("{}-check", spec("v1").name);
    let c2 = check.clone();
    let r = deploy_failing("", move |t| {
        t.on_fn(&["docker inspect --type container -f", &c2], |_| {
            Ok(ok("/x|exited|||1|sha256:img|0\n"))
        });
        t.on(
            &["docker logs --tail 20"],
            ok("TOKEN is s3cr3t-value\npanic: database unreachable\n"),
        );
    });
    let mut want = failed_at(&[
        "connect",
        "lock",
        "ship",
        "release-dir",
        "pre-deploy",
        "start",
        "health",
    ]);
    want.extend(["rollback".into(), "unlock".into()]);
    assert_eq!(r.steps(), want);
    let logs = r.logs();
    assert!(
        logs.contains(&"panic: database unreachable".to_string()),
        "{logs:?}"
    );
    assert!(
        logs.contains(&"TOKEN is ***".to_string()),
        "redacted: {logs:?}"
    );
    let d = r.detail("health");
    assert!(
        d.starts_with(&format!("container {check} exited with code 1")),
        "{d}"
    );
    assert!(
        d.contains(&format!("--- last log lines of {check} ---\n")),
        "{d}"
    );
    assert!(
        d.contains("panic: database unreachable") && !d.contains("s3cr3t"),
        "{d}"
    );
    assert_eq!(
        r.out.detail,
        format!(
            "container {check} exited with code 1 before becoming healthy; rolled back, v0 is live"
        )
    );
    let calls = r.calls();
    let logs_cmd = format!("{} 2>&1", sh(argv::logs(&check, 20, false)));
    let mut tail = vec![inspect(&check), logs_cmd, rm_new()];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&calls, &tail);
}

#[test]
fn scripted_failure_creating_the_real_container_removes_it_and_leaves_the_old_serving() {
    let r = deploy_failing("", |t| t.once(&["docker create"], fail(1, "conflict")));
    let calls = r.calls();
    let mut tail = vec![rm_new()];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&calls, &tail);
    // The old container was never stopped, so nothing restarts it.
    assert!(
        !calls.iter().any(|c| c.contains("docker stop")),
        "{calls:#?}"
    );
    assert!(r.out.rolled_back);
    assert!(r.steps().contains(&"cutover FAILED".to_string()));
}

#[test]
fn scripted_failure_after_the_old_container_stopped_starts_it_again() {
    let r = deploy_failing("", |t| {
        t.once(&["docker stop -t 10"], fail(1, "port is already allocated"))
    });
    let old = spec("v0").name;
    let mut tail = vec![rm_new(), sh(argv::start(&[old]))];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&r.calls(), &tail);
    assert!(r.out.rolled_back && !r.out.ok);
    assert!(
        r.out.detail.ends_with("; rolled back, v0 is live"),
        "{}",
        r.out.detail
    );
}

#[test]
fn scripted_failure_in_the_post_deploy_hook_rolls_back_to_the_old_container() {
    let r = deploy_failing("[[hooks.post_deploy]]\ncommand = \"warm-cache\"\n", |t| {
        t.once(&["docker run --rm"], fail(2, ""))
    });
    let steps = r.steps();
    assert!(steps.contains(&"cutover".to_string()));
    assert!(steps.contains(&"post-deploy FAILED".to_string()));
    assert_eq!(steps[steps.len() - 2..], ["rollback", "unlock"]);
    let hook = format!("{APP}-{ENV}-hook-{}-0", std::process::id());
    let mut tail = vec![
        argv::sh_quiet(&argv::rm_force(&[hook])),
        rm_new(),
        sh(argv::start(&[spec("v0").name])),
    ];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&r.calls(), &tail);
    assert!(r.out.rolled_back);
}

#[test]
fn scripted_failure_recording_the_release_rolls_back() {
    let r = deploy_failing("", |t| t.fail_upload("/current"));
    let steps = r.steps();
    assert_eq!(
        steps[steps.len() - 3..],
        ["record FAILED", "rollback", "unlock"]
    );
    let mut tail = vec![
        upload(layout().current(), 0o644),
        rm_new(),
        sh(argv::start(&[spec("v0").name])),
    ];
    tail.extend(marked_failed_and_unlocked());
    assert_ends_with(&r.calls(), &tail);
    assert!(r.out.rolled_back);
}

#[test]
fn scripted_failed_rollback_says_so() {
    let r = deploy_failing("", |t| {
        t.once(&["docker stop -t 10"], fail(1, "port is already allocated"));
        t.once(
            &["docker start shop-staging-web-v0"],
            fail(1, "cannot start"),
        );
    });
    assert!(r.steps().contains(&"rollback FAILED".to_string()));
    assert!(
        r.out.detail.contains("ROLLBACK ALSO FAILED"),
        "{}",
        r.out.detail
    );
}

#[test]
fn scripted_failure_to_unlock_after_a_good_deploy_is_reported() {
    let r = deploy_failing("", |t| {
        t.once(&["if grep -q", "; then rm -rf"], fail(1, "EIO"))
    });
    assert!(!r.out.ok);
    assert!(
        r.out.detail.starts_with("v1 is live, but unlocking failed"),
        "{}",
        r.out.detail
    );
    assert_eq!(r.steps().last().map(String::as_str), Some("unlock FAILED"));
}
