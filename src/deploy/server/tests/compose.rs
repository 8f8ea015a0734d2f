//! Compose mode: the files and override uploaded, `up` converging in place,
//! the health of every service, the undo back to the previous files; with
//! accessories, the override joins their network.

use super::*;
use crate::docker::compose::{self, Build, ComposeCli, Service};
use crate::remote::scripted::fail;

const FILE: &[u8] = b"services:\n  web:\n    build: .\n  redis:\n    image: redis:7\n";

fn art(v: &str) -> Artifact {
    let services = vec![
        Service {
            name: "web".into(),
            build: Some(Build {
                context: "/src".into(),
                dockerfile: "/src/Dockerfile".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Service {
            name: "redis".into(),
            image: Some("redis:7".into()),
            ..Default::default()
        },
    ];
    let images = [
        (
            "web".to_string(),
            (format!("shop-web:img-{v}"), format!("sha256:{v}")),
        ),
        ("redis".to_string(), ("redis:7".into(), "sha256:r".into())),
    ]
    .into();
    Artifact::for_test_compose(v, FILE, services, images, "web")
}

fn files(release: &str) -> Vec<String> {
    let l = layout();
    vec![l.compose_file(release), l.override_file(release)]
}

fn project() -> String {
    format!("{APP}-{ENV}")
}

/// A v1 server whose compose project runs `web` and `redis`.
fn compose_server(on: OnServer) -> Arc<Scripted> {
    let t = server(&OnServer {
        compose: Some("v1"),
        ..on
    });
    t.on(
        &["docker-compose -p"],
        ok("Creating shop-staging_web_1 ... done\n"),
    );
    let ps = [
        ps_line("shop-staging_web_1", "running", "web", "", "", "web"),
        ps_line("shop-staging_redis_1", "running", "redis", "", "", "redis"),
    ]
    .join("\n");
    t.on(&["docker ps", "com.docker.compose.project="], ok(&ps));
    t
}

fn compose_ps() -> String {
    sh(argv::ps(&[(layout::COMPOSE_PROJECT, &project())], true))
}

#[test]
fn scripted_compose_deploy_uploads_the_files_and_converges_in_place() {
    let fx = fixture("");
    let t = compose_server(OnServer::default());
    let mut run = Run::new(&fx, art("v1"));
    run.host = "local";
    let r = run.go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.steps(), all_steps());
    assert_eq!(
        r.detail("ship"),
        "local: built on this Docker engine, nothing to send"
    );
    let l = layout();
    let (web, redis) = ("shop-staging_web_1", "shop-staging_redis_1");
    assert_eq!(
        r.calls(),
        [
            "LOCK+FACTS".to_string(),
            format!("mkdir -p -m 700 {}", l.release_dir("v1")),
            upload(l.env_file("v1"), 0o600),
            upload(l.compose_file("v1"), 0o644),
            upload(l.override_file("v1"), 0o644),
            upload(l.release_json("v1"), 0o600),
            sh(compose::up(ComposeCli::V1, &project(), &files("v1"))),
            compose_ps(),
            inspect(web),
            "forward 172.18.0.2:8080".into(),
            sh(argv::inspect(&[web.into(), redis.into()])),
            upload(l.release_json("v1"), 0o600),
            upload(l.current(), 0o644),
            "UNLOCK".into(),
        ]
    );
    assert_eq!(t.uploaded(&l.compose_file("v1")).unwrap(), FILE);
    let y = String::from_utf8(t.uploaded(&l.override_file("v1")).unwrap()).unwrap();
    assert!(y.contains("image: \"shop-web:img-v1\""), "{y}");
    assert!(
        !y.contains("redis:7"),
        "unbuilt services keep their image: {y}"
    );
    assert!(r
        .logs()
        .contains(&"Creating shop-staging_web_1 ... done".to_string()));
}

#[test]
fn scripted_compose_unhealthy_service_converges_back_to_the_previous_files() {
    let fx = fixture("");
    let prev = release(
        "v0",
        1,
        Runtime::Compose {
            cli: ComposeCli::V1,
            project: project(),
            files: files("v0"),
            health_service: Some("web".into()),
            port: 8080,
            networks: vec![],
        },
    );
    let on = OnServer {
        current: Some("v0".into()),
        releases: vec![prev],
        ps: vec![ps_line(
            "shop-staging_web_1",
            "running",
            "web",
            "",
            "",
            "web",
        )],
        compose: None,
    };
    let t = compose_server(on);
    // redis crashed after the probe of web.
    t.on(
        &["docker inspect --type container -f", "shop-staging_redis_1"],
        ok("/shop-staging_web_1|running||172.18.0.2 |0|sha256:img|0\n\
            /shop-staging_redis_1|exited|||137|sha256:r|0\n"),
    );
    let mut run = Run::new(&fx, art("v1"));
    run.host = "local";
    let r = run.go(&t);
    assert!(r.out.rolled_back && !r.out.ok);
    assert_eq!(
        r.out.detail,
        "container shop-staging_redis_1 is exited ; rolled back, v0 is live"
    );
    let d = r.detail("health");
    assert!(
        d.contains("--- last log lines of shop-staging_redis_1 ---"),
        "{d}"
    );
    let calls = r.calls();
    let n = calls.len();
    assert_eq!(
        calls[n - 3..],
        [
            sh(compose::up(ComposeCli::V1, &project(), &files("v0"))),
            upload(layout().release_json("v1"), 0o600),
            "UNLOCK".into(),
        ]
    );
}

#[test]
fn scripted_compose_first_deploy_that_fails_stops_the_project() {
    let fx = fixture("");
    let t = compose_server(OnServer::default());
    t.once(
        &["docker-compose -p", " up -d"],
        fail(1, "pull access denied"),
    );
    let mut run = Run::new(&fx, art("v1"));
    run.host = "local";
    let r = run.go(&t);
    assert!(r.out.rolled_back);
    assert!(
        r.out.detail.ends_with("rolled back, nothing is live"),
        "{}",
        r.out.detail
    );
    assert!(r
        .calls()
        .contains(&sh(compose::stop(ComposeCli::V1, &project()))));
}

#[test]
fn scripted_compose_without_compose_on_the_server_refuses_before_writing() {
    let fx = fixture("");
    let t = server(&OnServer {
        compose: Some("none"),
        ..Default::default()
    });
    let mut run = Run::new(&fx, art("v1"));
    run.host = "local";
    let r = run.go(&t);
    assert!(!r.out.ok);
    assert!(r
        .out
        .detail
        .contains("neither `docker compose` nor `docker-compose`"));
    assert_eq!(r.calls(), ["LOCK+FACTS", "UNLOCK"]);
}

#[test]
fn scripted_compose_deploy_with_accessories_joins_their_network() {
    let fx = fixture("[accessories.db]\nimage = \"postgres:16\"\n");
    let t = compose_server(OnServer::default());
    let mut run = Run::new(&fx, art("v1"));
    run.host = "local";
    let r = run.go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    let calls = r.calls();
    let up = sh(compose::up(ComposeCli::V1, &project(), &files("v1")));
    let at = |c: &str| calls.iter().position(|x| x == c);
    assert!(at(&app_net()).unwrap() < at(&up).unwrap(), "{calls:#?}");
    let y = String::from_utf8(t.uploaded(&layout().override_file("v1")).unwrap()).unwrap();
    assert!(
        y.ends_with("networks:\n  \"shop-staging\":\n    external: true\n"),
        "{y}"
    );
}
