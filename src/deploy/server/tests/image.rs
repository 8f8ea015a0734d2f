//! Image mode without a proxy: first deploy, redeploy, cutover of a live
//! release, recreate, prune and rollback.

use super::*;
use crate::deploy::release::EnvDigest;
use crate::docker::argv::Verb;

fn art(v: &str) -> Artifact {
    Artifact::for_test_image(v, &format!("{APP}:{v}"), None)
}

#[test]
fn scripted_image_first_deploy_runs_every_step_and_command_in_order() {
    let fx = fixture("");
    let t = server(&OnServer::default());
    let r = Run::new(&fx, art("v1")).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.out.detail, "v1 is live");
    assert!(r.out.changed && r.undo);
    assert_eq!(r.steps(), all_steps());
    let s = spec("v1");
    let check = format!("{}-check", s.name);
    let l = layout();
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            format!("mkdir -p -m 700 {}", l.release_dir("v1")),
            upload(l.env_file("v1"), 0o600),
            upload(l.release_json("v1"), 0o600),
            // The unpublished candidate, on a network created if missing.
            format!(
                "{} && {}",
                app_net(),
                argv::container_line(Verb::Run, &s, &check, None)
            ),
            inspect(&check),
            "forward 172.18.0.2:8080".into(),
            // The real container, created; the candidate goes.
            format!(
                "{} && {}",
                argv::container_line(Verb::Create, &s, &s.name, Some("8080:8080")),
                argv::sh_quiet(&argv::rm_force(std::slice::from_ref(&check)))
            ),
            format!(
                "{} >/dev/null",
                sh(argv::start(std::slice::from_ref(&s.name)))
            ),
            inspect(&s.name),
            "forward 172.18.0.2:8080".into(),
            upload(l.release_json("v1"), 0o600),
            upload(l.current(), 0o644),
            "UNLOCK".into(),
        ]
    );
    // What was written: the env file holds the values, the record only
    // their digests.
    let env = String::from_utf8(t.uploaded(&l.env_file("v1")).unwrap()).unwrap();
    assert_eq!(env, "TOKEN=s3cr3t-value\n");
    let rec = String::from_utf8(t.uploaded(&l.release_json("v1")).unwrap()).unwrap();
    assert!(rec.contains("\"status\": \"live\"") && !rec.contains("s3cr3t"));
    assert_eq!(t.uploaded(&l.current()).unwrap(), b"v1\n");
    // The stdin of the lock (its holder record) is counted, never kept.
    assert!(t
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Run { cmd, stdin: Some(n) } if cmd.contains("echo ACQUIRED") && *n > 0)));
}

#[test]
fn scripted_image_redeploy_of_the_live_release_changes_nothing() {
    let fx = fixture("");
    let vars: BTreeMap<String, String> = [("TOKEN".to_string(), "s3cr3t-value".to_string())].into();
    let mut on = OnServer::with_live_v0();
    on.releases[0].env_digest =
        EnvDigest::of(&crate::deploy::release::DigestKey::public(APP, ENV), &vars).all;
    let t = server(&on);
    let a = Artifact::for_test_image("v0", &format!("{APP}:v0"), Some("sha256:v0"));
    let r = Run::new(&fx, a).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert!(!r.out.changed && !r.undo);
    assert_eq!(r.out.detail, "v0 already live, unchanged");
    assert_eq!(
        r.steps(),
        [
            "connect",
            "lock",
            "ship",
            "release-dir",
            "start",
            "health",
            "cutover",
            "record",
            "unlock"
        ]
    );
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            inspect(&spec("v0").name),
            "forward 172.18.0.2:8080".into(),
            "UNLOCK".into(),
        ]
    );
}

#[test]
fn scripted_image_cutover_stops_the_old_container_and_prune_removes_old_releases() {
    let fx = fixture("[deploy]\nkeep_releases = 1\n");
    let t = server(&OnServer::with_live_v0());
    let r = Run::new(&fx, art("v1")).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.steps(), all_steps());
    let (old, new) = (spec("v0").name, spec("v1").name);
    let calls = r.calls();
    // The old container's network is known to exist: no network command.
    assert!(
        calls[4].starts_with("docker run -d --name shop-staging-web-v1-check "),
        "{}",
        calls[4]
    );
    assert!(calls.contains(&format!(
        "{} >/dev/null && {} >/dev/null",
        sh(argv::stop(std::slice::from_ref(&old), 10)),
        sh(argv::start(&[new]))
    )));
    let l = layout();
    assert_eq!(
        calls[calls.len() - 2],
        format!(
            "{} >/dev/null 2>&1; {} >/dev/null 2>&1; rm -rf {}; true",
            sh(argv::rm_force(&[old])),
            sh(argv::rmi(&["shop:v0".into()])),
            l.release_dir("v0")
        )
    );
    assert_eq!(r.detail("prune"), "removed v0");
}

#[test]
fn scripted_image_recreate_stops_the_old_container_before_the_new_one_starts() {
    let fx = fixture("[deploy]\nstrategy = \"recreate\"\n");
    let t = server(&OnServer::with_live_v0());
    let r = Run::new(&fx, art("v1")).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    let (old, new) = (spec("v0"), spec("v1"));
    let calls = r.calls();
    let stop = sh(argv::stop(std::slice::from_ref(&old.name), 10));
    let run = argv::container_line(Verb::Run, &new, &new.name, Some("8080:8080"));
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} in {calls:#?}"))
    };
    assert!(at(&stop) < at(&run), "{calls:#?}");
    // No candidate: the real container is probed.
    assert!(!calls.iter().any(|c| c.contains("-check")));
    assert_eq!(
        r.detail("cutover"),
        "recreate: the old container was stopped before the start"
    );
}

#[test]
fn scripted_rollback_activates_the_previous_release_without_hooks() {
    let fx = fixture("[[hooks.pre_deploy]]\ncommand = \"migrate\"\n");
    let (v0, v1) = (spec("v0"), spec("v1"));
    let image = |s: &RunSpec| Runtime::Image {
        spec: s.clone(),
        port: 8080,
    };
    let mut old = release("v0", 1, image(&v0));
    old.status = Status::Live;
    let on = OnServer {
        current: Some("v1".into()),
        releases: vec![old, release("v1", 2, image(&v1))],
        ps: vec![
            ps_line(&v0.name, "exited", "web", "v0", "", ""),
            ps_line(&v1.name, "running", "web", "v1", "", ""),
        ],
        compose: None,
    };
    let t = server(&on);
    let mut run = Run::new(&fx, Artifact::none());
    run.target = Target::Existing(None);
    run.vars = BTreeMap::new();
    let r = run.go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.out.version.as_deref(), Some("v0"));
    assert_eq!(
        r.steps(),
        [
            "connect",
            "lock",
            "ship",
            "release-dir",
            "start",
            "health",
            "cutover",
            "record",
            "prune",
            "unlock"
        ]
    );
    let check = format!("{}-check", v0.name);
    let l = layout();
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            sh(argv::image_id(&["shop:v0".into()])),
            format!(
                "{} && {}",
                argv::sh_quiet(&argv::rm_force(std::slice::from_ref(&v0.name))),
                argv::container_line(Verb::Run, &v0, &check, None)
            ),
            inspect(&check),
            "forward 172.18.0.2:8080".into(),
            format!(
                "{} && {}",
                argv::container_line(Verb::Create, &v0, &v0.name, Some("8080:8080")),
                argv::sh_quiet(&argv::rm_force(&[check]))
            ),
            format!(
                "{} >/dev/null && {} >/dev/null",
                sh(argv::stop(std::slice::from_ref(&v1.name), 10)),
                sh(argv::start(std::slice::from_ref(&v0.name)))
            ),
            inspect(&v0.name),
            "forward 172.18.0.2:8080".into(),
            upload(l.release_json("v0"), 0o600),
            upload(l.current(), 0o644),
            "UNLOCK".into(),
        ]
    );
}

#[test]
fn scripted_rollback_refuses_when_the_release_images_are_gone() {
    let fx = fixture("");
    let mut on = OnServer::with_live_v0();
    on.releases.push(release(
        "v1",
        2,
        Runtime::Image {
            spec: spec("v1"),
            port: 8080,
        },
    ));
    on.current = Some("v1".into());
    let t = server(&on);
    t.on(
        &["docker image inspect"],
        crate::remote::scripted::fail(1, "Error: No such image: shop:v0"),
    );
    let mut run = Run::new(&fx, Artifact::none());
    run.target = Target::Existing(Some("v0".into()));
    let r = run.go(&t);
    assert!(!r.out.ok && !r.out.rolled_back);
    assert!(
        r.out.detail.contains("no longer on the server"),
        "{}",
        r.out.detail
    );
    assert_eq!(r.steps(), ["connect", "lock", "ship FAILED", "unlock"]);
    assert_eq!(r.calls().last().map(String::as_str), Some("UNLOCK"));
}

#[test]
fn scripted_image_publishes_the_envs_own_port() {
    let fx = fixture(
        "[deploy]\npublish = \"9000\"\n\n[envs.staging]\npublish = \"127.0.0.1:9001\"\n\n[envs.production]\n",
    );
    let t = server(&OnServer::default());
    let r = Run::new(&fx, art("v1")).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    let mut s = spec("v1");
    s.publish = Some("127.0.0.1:9001:8080".into());
    let create = argv::container_line(Verb::Create, &s, &s.name, s.publish.as_deref());
    assert!(
        r.calls().iter().any(|c| c.starts_with(&create)),
        "{:#?}",
        r.calls()
    );
}
