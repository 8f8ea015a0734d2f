//! Compose mode against the `local` target (this machine has compose v1,
//! `docker-compose`): only changed services are recreated, and rollback
//! converges back to the previous release's files. A fake v2 plugin (named
//! so) checks that a server with `docker compose` is driven through it.

mod deploy_support;

use deploy_support::*;
use std::process::Command;

fn container_id(name: &str) -> String {
    let o = Command::new("docker")
        .args(["inspect", "-f", "{{.Id}}", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A local compose project: `web` built from ./web, `worker` from busybox.
fn compose_app(prefix: &str) -> App {
    let app = App::local(prefix, "");
    let p = app.path();
    std::fs::create_dir_all(p.join("web")).unwrap();
    std::fs::rename(p.join("www"), p.join("web/www")).unwrap();
    std::fs::rename(p.join("Dockerfile"), p.join("web/Dockerfile")).unwrap();
    let port = app.port;
    app.write(
        "compose.yml",
        &format!(
            "services:\n  web:\n    build: ./web\n    ports: [\"127.0.0.1:{port}:8080\"]\n  worker:\n    image: busybox:stable\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 100000 & wait\"]\n"
        ),
    );
    app.commit("compose");
    app
}

fn compose_down(app: &App) {
    let _ = Command::new("docker-compose")
        .args([
            "-p",
            &format!("{}-staging", app.name),
            "-f",
            app.path().join("compose.yml").to_str().unwrap(),
            "down",
        ])
        .output();
}

#[test]
fn compose_deploy_recreates_only_changed_services_and_rolls_back() {
    let app = compose_app("dc");
    let p = app.path();
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    let proj = format!("{}-staging", app.name);
    let worker = container_id(&format!("{proj}_worker_1"));
    assert!(!worker.is_empty());

    std::fs::write(p.join("web/www/index.html"), "v2\n").unwrap();
    app.commit("v2");
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v2"));
    assert_eq!(
        container_id(&format!("{proj}_worker_1")),
        worker,
        "the unchanged worker was not recreated"
    );

    let o = app.arcane(&["rollback"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    compose_down(&app);
}

/// FAKE compose v2: Debian ships only compose v1, and no v2 binary can be
/// installed here. This docker CLI plugin (in the test's own `$HOME`, so
/// nothing else sees it) answers `docker compose version` like v2, logs
/// every argv it gets and hands it to v1, which takes the same words for
/// what arcane runs. It proves a server with the plugin is driven through
/// `docker compose ...`, with words v1 also accepts; not v2's own behaviour.
#[test]
fn fake_compose_v2_plugin_is_preferred_on_the_server_and_gets_v2_argv() {
    let app = compose_app("dv");
    let plugins = app.home.path().join(".docker/cli-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let log = app.home.path().join("compose-v2.log");
    let shim = plugins.join("docker-compose");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh
\
             if [ \"$1\" = docker-cli-plugin-metadata ]; then
\
             echo '{{\"SchemaVersion\":\"0.1.0\",\"Vendor\":\"arcane tests\",\"Version\":\"v2.99.0-fake\",\"ShortDescription\":\"fake v2\"}}'; exit 0; fi
\
             shift
\
             echo \"$*\" >> {log}
\
             if [ \"$1\" = version ]; then echo 'Docker Compose version v2.99.0-fake'; exit 0; fi
\
             exec docker-compose \"$@\"
",
            log = log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();

    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let proj = format!("{}-staging", app.name);
    assert!(calls.lines().any(|l| l == "version"), "{calls}");
    assert!(
        calls
            .lines()
            .any(|l| l.starts_with(&format!("-p {proj} -f "))
                && l.ends_with("arcane.override.yml up -d --remove-orphans --no-build")),
        "arcane ran `docker compose -p .. up` through the plugin: {calls}"
    );
    compose_down(&app);
}

/// `[health.services.NAME] grace`: a service must still be up once its own
/// grace period has passed. A worker that dies after a second passes a
/// check made at once, but not one made after its 3 s grace: the deploy
/// fails and rolls back. A table naming no service is bad input.
#[test]
fn a_service_that_dies_within_its_grace_fails_the_deploy_and_rolls_back() {
    let app = compose_app("dg");
    let o = app.arcane(&["deploy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(app.get().as_deref(), Some("v1"));

    let p = app.path();
    let compose = std::fs::read_to_string(p.join("compose.yml")).unwrap();
    app.write(
        "compose.yml",
        &compose.replace("trap 'exit 0' TERM; sleep 100000 & wait", "sleep 1; exit 3"),
    );
    std::fs::write(p.join("web/www/index.html"), "v2\n").unwrap();
    let toml = std::fs::read_to_string(p.join("arcane.toml")).unwrap();
    let grace_for = |svc: &str| {
        app.write(
            "arcane.toml",
            &format!("{toml}\n[health.services.{svc}]\ngrace = 3\n"),
        )
    };
    grace_for("wrker");
    app.commit("v2 with a worker that dies");
    let o = app.arcane(&["deploy"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("arcane.toml:") && t.contains("[health.services.wrker]"),
        "{t}"
    );
    assert!(t.contains("web, worker"), "{t}");
    assert_eq!(app.get().as_deref(), Some("v1"), "nothing changed");

    grace_for("worker");
    app.commit("the right name");
    let o = app.arcane(&["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("worker") && t.contains("exited"), "{t}");
    assert!(t.contains("rolled back"), "{t}");
    assert_eq!(app.get().as_deref(), Some("v1"), "v1 serves again");

    // The same worker with a restart policy is "running" half the time; its
    // restarts within the grace period give it away.
    let crashing = std::fs::read_to_string(p.join("compose.yml"))
        .unwrap()
        .replace("  worker:\n", "  worker:\n    restart: unless-stopped\n");
    app.write("compose.yml", &crashing);
    app.commit("a worker that crash-loops");
    let o = app.arcane(&["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("restarted") || t.contains("restarting") || t.contains("exited"),
        "{t}"
    );
    assert_eq!(app.get().as_deref(), Some("v1"), "v1 serves again");
    compose_down(&app);
}
