//! The hello example really works: built with the host's docker from
//! examples/hello, it answers `/` with its version and `/health` with 200 "ok",
//! and stops promptly on SIGTERM (so deploys and tests never wait for docker's
//! kill timeout). Needs docker and the offline `busybox:stable` base image
//! (scripts/setup-host.sh provides both); it fails loudly without them.

#[path = "common/host.rs"]
mod host;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI (run scripts/setup-host.sh)");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A plain HTTP/1.0 GET to 127.0.0.1: (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

#[test]
fn hello_example_serves_version_and_health_and_stops_fast() {
    let ctx = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello");
    let image = format!("arcane-test-hello:{}", std::process::id());
    let name = format!("arcane-test-hello-{}", std::process::id());
    let _host = host::HostCleanup::new().container(&name).image(&image);
    docker(&[
        "build",
        "-q",
        "--build-arg",
        "APP_VERSION=9.8.7",
        "-t",
        &image,
        ctx.to_str().unwrap(),
    ]);
    let id = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::8080",
        "-e",
        "GREETING=hi",
        &image,
    ]);
    let mapping = docker(&["port", &id, "8080/tcp"]);
    let port: u16 = mapping
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port mapping in {mapping:?}"));

    let deadline = Instant::now() + Duration::from_secs(15);
    let health = loop {
        if let Some(r) = get(port, "/health") {
            break r;
        }
        assert!(Instant::now() < deadline, "container never answered");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health, (200, "ok\n".to_string()));
    assert_eq!(
        get(port, "/").unwrap(),
        (200, "hi from arcane 9.8.7\n".to_string())
    );
    assert_eq!(get(port, "/version").unwrap(), (200, "9.8.7\n".to_string()));
    assert_eq!(get(port, "/nope").unwrap().0, 404);

    let t = Instant::now();
    docker(&["stop", "-t", "10", &id]);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "docker stop took {took:?}: SIGTERM is not handled"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.ExitCode}}", &id]),
        "0",
        "the entrypoint exits 0 on SIGTERM"
    );
}
