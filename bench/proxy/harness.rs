//! Shared setup for the proxy tests and benchmark: real busybox httpd "app"
//! containers on the `arcane` network, a `Route` for them and a few docker
//! helpers. Everything runs through an arcane `Transport`, so the same code
//! drives this machine's dockerd or a testbed server over SSH.
#![allow(dead_code)]

use arcane::config::Tls;
use arcane::event::Emitter;
use arcane::proxy::{Route, NETWORK};
use arcane::remote::{Cmd, Transport};
use std::time::{Duration, Instant};

/// A throwaway app version: `busybox httpd` answering `<body>` on `/`, `ok`
/// on `/health` (if `healthy`) and `slow-<body>` after 3 s on
/// `/cgi-bin/slow` (an in-flight request to drain), on the `arcane` network,
/// no host port published.
pub fn start_app(t: &dyn Transport, name: &str, body: &str, healthy: bool) {
    let health = if healthy {
        "echo ok > /www/health && "
    } else {
        ""
    };
    let script = format!(
        "mkdir -p /www/cgi-bin && echo {body} > /www/index.html && {health}\
         printf '#!/bin/sh\\nsleep 3\\necho Content-Type: text/plain\\necho\\necho slow-{body}\\n' > /www/cgi-bin/slow && \
         chmod +x /www/cgi-bin/slow && exec httpd -f -p 8080 -h /www"
    );
    sh(t, &format!("docker rm -f {name} >/dev/null 2>&1; true"));
    let out = run(
        t,
        Cmd::argv([
            "docker",
            "run",
            "--detach",
            "--name",
            name,
            "--label",
            "arcane.test=proxy",
            "--network",
            NETWORK,
            "busybox:stable",
            "sh",
            "-c",
            &script,
        ]),
    );
    assert!(out.success(), "start {name}: {}", out.stderr_str());
}

pub fn remove_containers(t: &dyn Transport, names: &[&str]) {
    for n in names {
        sh(t, &format!("docker rm -f {n} >/dev/null 2>&1; true"));
    }
}

pub fn route(app: &str, env: &str, host: &str, upstream: &str) -> Route {
    Route {
        app: app.into(),
        env: env.into(),
        hosts: vec![host.into()],
        upstreams: vec![upstream.into()],
        health_path: "/health".into(),
        tls: Tls::Off,
    }
}

pub fn run(t: &dyn Transport, cmd: Cmd) -> arcane::remote::Output {
    t.run(
        &cmd.with_timeout(Duration::from_secs(120)),
        &Emitter::null(),
    )
    .expect("transport")
}

pub fn sh(t: &dyn Transport, script: &str) -> arcane::remote::Output {
    run(t, Cmd::shell(script))
}

/// GET `path` with `Host: host` from `addr` (one request, no keep-alive).
pub fn get(addr: std::net::SocketAddr, host: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut s = String::new();
    c.read_to_string(&mut s).ok()?;
    let status = s.split(' ').nth(1)?.parse().ok()?;
    let body = s.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string();
    Some((status, body))
}

/// Wait until `host` answers `want` through the proxy.
pub fn wait_body(addr: std::net::SocketAddr, host: &str, want: &str, within: Duration) {
    let end = Instant::now() + within;
    loop {
        let got = get(addr, host, "/");
        if got.as_ref().is_some_and(|(s, b)| *s == 200 && b == want) {
            return;
        }
        assert!(
            Instant::now() < end,
            "{host} never answered {want:?}; last: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Start the host's dockerd if it is not running (CI and this box run as root).
pub fn ensure_host_dockerd() {
    let ok = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let _ = std::process::Command::new("sh")
            .args([
                "-c",
                "pgrep -x dockerd || (nohup dockerd >/var/log/dockerd-host.log 2>&1 &)",
            ])
            .status();
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if std::process::Command::new("docker")
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("docker is not available: these tests need a real dockerd");
    }
}
