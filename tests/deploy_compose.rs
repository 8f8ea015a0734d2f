//! Compose mode against the `local` target (this machine has compose v1,
//! `docker-compose`): only changed services are recreated, and rollback
//! converges back to the previous release's files.

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

#[test]
fn compose_deploy_recreates_only_changed_services_and_rolls_back() {
    let app = App::local("dc", "");
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
    let _ = Command::new("docker-compose")
        .args([
            "-p",
            &proj,
            "-f",
            p.join("compose.yml").to_str().unwrap(),
            "down",
        ])
        .output();
}
