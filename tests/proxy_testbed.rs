//! The edge proxy on a real testbed server (own netns, dockerd and sshd),
//! driven over SSH, under load from this machine to the server's address:
//!
//! * 20 consecutive switches between two versions at >= 200 req/s: 0 errors;
//! * a new version that fails its health check is never switched to: 0 errors;
//! * two apps with their own host names: deploying one never disturbs the
//!   other's traffic;
//! * `arcane proxy reboot` keeps every app's routes.
//!
//! The tests share one proxy on srv1 and take turns (a mutex), so one test's
//! load never skews another's figures.

mod common {
    pub mod testbed;
}
#[path = "../bench/proxy/harness.rs"]
mod harness;
#[path = "../bench/proxy/loadgen.rs"]
mod loadgen;

use arcane::config::{Server, ServersFile};
use arcane::event::Emitter;
use arcane::proxy::{Caddy, Proxy, Route};
use arcane::remote::{self, ConnectOptions, Transport};
use harness::*;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static TURN: Mutex<()> = Mutex::new(());
const DRAIN: Duration = Duration::from_secs(10);

struct Bed {
    _guard: common::testbed::TestbedGuard,
    t: Arc<dyn Transport>,
    addr: SocketAddr,
    caddy: Caddy,
    servers_toml: std::path::PathBuf,
}

fn bed() -> Option<Bed> {
    let guard = common::testbed::testbed(1)?;
    let tb = guard.testbed();
    let file = ServersFile::load(&tb.servers_toml).expect("testbed servers.toml");
    let server = Server {
        name: "srv1".into(),
        config: file.servers["srv1"].clone(),
    };
    let t = remote::connect(&server, &Emitter::null(), &ConnectOptions::default())
        .expect("ssh to srv1");
    let addr: SocketAddr = format!("{}:80", tb.ip("srv1")).parse().unwrap();
    let caddy = Caddy::new("caddy:2", DRAIN);
    caddy
        .ensure(&*t, &Emitter::null())
        .expect("proxy boots on srv1");
    Some(Bed {
        t,
        addr,
        caddy,
        servers_toml: tb.servers_toml.clone(),
        _guard: guard,
    })
}

fn load(addr: SocketAddr, host: &str) -> loadgen::Running {
    loadgen::start(loadgen::Load {
        addr,
        host: host.into(),
        path: "/".into(),
        rate: 240,
        connections: 8,
        duration: Duration::from_secs(180),
        // Strict: a request written into a connection the proxy closed counts.
        polite: false,
    })
}

/// What the deploy engine does before a switch: probe the new container's
/// health endpoint from inside the server's docker network.
fn healthy(t: &dyn Transport, container: &str) -> bool {
    let out = sh(
        t,
        &format!(
            "docker run --rm --network arcane busybox:stable wget -q -T 2 -O- http://{container}:8080/health"
        ),
    );
    out.success()
}

#[test]
fn twenty_switches_under_load_drop_nothing() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let em = Emitter::null();
    let (v1, v2) = ("pxa-v1", "pxa-v2");
    start_app(&*b.t, v1, "v1", true);
    start_app(&*b.t, v2, "v2", true);
    let r1 = route("alpha", "staging", "alpha.test", &format!("{v1}:8080"));
    let r2 = route("alpha", "staging", "alpha.test", &format!("{v2}:8080"));
    b.caddy.switch(&*b.t, &em, &r1, DRAIN).unwrap();
    wait_body(b.addr, "alpha.test", "v1", Duration::from_secs(10));

    let l = load(b.addr, "alpha.test");
    std::thread::sleep(Duration::from_secs(1));
    let mut ms = vec![];
    for i in 0..20 {
        let t0 = Instant::now();
        let r = if i % 2 == 0 { &r2 } else { &r1 };
        b.caddy.switch(&*b.t, &em, r, DRAIN).unwrap();
        ms.push(t0.elapsed().as_millis() as u64);
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(1));
    let s = l.stop();
    eprintln!("testbed: 20 switches: {}", s.summary());
    eprintln!(
        "testbed: switch time ms: min={} median={} max={}",
        ms.iter().min().unwrap(),
        {
            let mut m = ms.clone();
            m.sort();
            m[m.len() / 2]
        },
        ms.iter().max().unwrap()
    );
    assert!(s.rate() >= 200.0, "{}", s.summary());
    assert!(s.bodies.contains_key("v1") && s.bodies.contains_key("v2"));
    assert_eq!(s.failures(), 0, "{}", s.summary());
}

#[test]
fn a_failing_new_version_is_never_switched_to() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let em = Emitter::null();
    start_app(&*b.t, "pxf-v1", "v1", true);
    let good = route("failing", "staging", "failing.test", "pxf-v1:8080");
    b.caddy.switch(&*b.t, &em, &good, DRAIN).unwrap();
    wait_body(b.addr, "failing.test", "v1", Duration::from_secs(10));

    let l = load(b.addr, "failing.test");
    std::thread::sleep(Duration::from_secs(1));
    // The new version starts beside the old one but has no /health.
    start_app(&*b.t, "pxf-v2", "v2", false);
    let mut switched = 0;
    for _ in 0..5 {
        if healthy(&*b.t, "pxf-v2") {
            let bad = route("failing", "staging", "failing.test", "pxf-v2:8080");
            b.caddy.switch(&*b.t, &em, &bad, DRAIN).unwrap();
            switched += 1;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    remove_containers(&*b.t, &["pxf-v2"]);
    std::thread::sleep(Duration::from_secs(2));
    let s = l.stop();
    eprintln!("testbed: failing deploy: {}", s.summary());
    assert_eq!(switched, 0, "the health check should have failed");
    assert_eq!(s.bodies.keys().collect::<Vec<_>>(), vec!["v1"]);
    assert_eq!(s.failures(), 0, "{}", s.summary());
    let routes = b.caddy.routes(&*b.t, &em).unwrap();
    assert!(routes.contains(&good), "old route kept: {routes:?}");
}

#[test]
fn two_apps_each_keep_their_traffic_and_survive_a_reboot() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let em = Emitter::null();
    for (n, body) in [("pxt-a1", "a1"), ("pxt-b1", "b1"), ("pxt-b2", "b2")] {
        start_app(&*b.t, n, body, true);
    }
    let a = route("appa", "staging", "a.test", "pxt-a1:8080");
    let b1 = route("appb", "staging", "b.test", "pxt-b1:8080");
    let b2 = route("appb", "staging", "b.test", "pxt-b2:8080");
    b.caddy.switch(&*b.t, &em, &a, DRAIN).unwrap();
    b.caddy.switch(&*b.t, &em, &b1, DRAIN).unwrap();
    wait_body(b.addr, "a.test", "a1", Duration::from_secs(10));
    wait_body(b.addr, "b.test", "b1", Duration::from_secs(10));

    // Load on app A while app B is deployed ten times.
    let la = load(b.addr, "a.test");
    let lb = loadgen::start(loadgen::Load {
        addr: b.addr,
        host: "b.test".into(),
        path: "/".into(),
        rate: 60,
        connections: 2,
        duration: Duration::from_secs(120),
        polite: false,
    });
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..10 {
        let r = if i % 2 == 0 { &b2 } else { &b1 };
        b.caddy.switch(&*b.t, &em, r, DRAIN).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (sa, sb) = (la.stop(), lb.stop());
    eprintln!("testbed: app A while B deploys: {}", sa.summary());
    eprintln!("testbed: app B during its deploys: {}", sb.summary());
    assert_eq!(sa.failures(), 0, "{}", sa.summary());
    assert_eq!(sa.bodies.keys().collect::<Vec<_>>(), vec!["a1"]);
    assert_eq!(sb.failures(), 0, "{}", sb.summary());
    assert!(sb.bodies.contains_key("b1") && sb.bodies.contains_key("b2"));

    // `arcane proxy reboot` (the real binary, over SSH) keeps both routes.
    let before: Vec<Route> = b.caddy.routes(&*b.t, &em).unwrap();
    let proj = project_dir(&b.servers_toml);
    let out = arcane_cmd()
        .args(["proxy", "reboot", "--server", "srv1"])
        .current_dir(proj.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reboot: {err}");
    // The routes came back from Caddy's autosave in the volume, not from
    // arcane's in-memory fallback.
    assert!(!err.contains("without its autosaved config"), "{err}");
    assert!(err.contains("route(s) kept"), "{err}");
    let after: Vec<Route> = b.caddy.routes(&*b.t, &em).unwrap();
    for r in &before {
        assert!(
            after.contains(r),
            "{} lost by the reboot: {after:?}",
            r.id()
        );
    }
    wait_body(b.addr, "a.test", "a1", Duration::from_secs(15));
    wait_body(b.addr, "b.test", "b1", Duration::from_secs(15));

    let status = arcane_cmd()
        .args(["proxy", "status", "--server", "srv1"])
        .current_dir(proj.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{table}");
    assert!(
        table.contains("arcane-appa-staging") && table.contains("arcane-appb-staging"),
        "{table}"
    );
}

/// The binary under test. `ARCANE_TEST_BIN` overrides the cargo-built one
/// (a build dir shared by several checkouts can swap it mid-run).
fn arcane_cmd() -> assert_cmd::Command {
    match std::env::var_os("ARCANE_TEST_BIN") {
        Some(p) => assert_cmd::Command::new(p),
        None => assert_cmd::Command::cargo_bin("arcane").unwrap(),
    }
}

/// A project whose servers are the testbed's.
fn project_dir(servers_toml: &std::path::Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("config")).unwrap();
    std::fs::copy(servers_toml, d.path().join("config/servers.toml")).unwrap();
    std::fs::write(
        d.path().join("arcane.toml"),
        "[app]\nname = \"appa\"\n\n[proxy]\nhosts = [\"a.test\"]\napp_port = 8080\ntls = \"off\"\ndrain_timeout = 10\n",
    )
    .unwrap();
    d
}

#[test]
fn in_flight_requests_finish_on_the_old_version_across_a_switch() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let em = Emitter::null();
    start_app(&*b.t, "pxd-v1", "v1", true);
    start_app(&*b.t, "pxd-v2", "v2", true);
    let r1 = route("drain", "staging", "drain.test", "pxd-v1:8080");
    let r2 = route("drain", "staging", "drain.test", "pxd-v2:8080");
    b.caddy.switch(&*b.t, &em, &r1, DRAIN).unwrap();
    wait_body(b.addr, "drain.test", "v1", Duration::from_secs(10));

    // A 3-second request to v1 is in flight when the route switches to v2.
    let addr = b.addr;
    let slow = std::thread::spawn(move || get(addr, "drain.test", "/cgi-bin/slow"));
    std::thread::sleep(Duration::from_millis(700));
    let t0 = Instant::now();
    b.caddy.switch(&*b.t, &em, &r2, DRAIN).unwrap();
    let took = t0.elapsed();
    // New requests go to v2 at once...
    assert_eq!(get(b.addr, "drain.test", "/"), Some((200, "v2".into())));
    // ...and the old one finished on v1.
    let got = slow.join().unwrap();
    eprintln!("testbed: drain: slow request -> {got:?}; switch returned after {took:?}");
    let (status, body) = got.expect("the in-flight request got an answer");
    assert_eq!(status, 200);
    assert!(body.contains("slow-v1"), "{body:?}");
    assert!(
        took >= Duration::from_secs(1),
        "switch returned before the drain: {took:?}"
    );
    remove_containers(&*b.t, &["pxd-v1", "pxd-v2"]);
    b.caddy.remove(&*b.t, &em, "drain", "staging").unwrap();
    assert!(!b
        .caddy
        .routes(&*b.t, &em)
        .unwrap()
        .iter()
        .any(|r| r.app == "drain"));
}

#[test]
fn internal_tls_serves_https_and_redirects_http() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let em = Emitter::null();
    start_app(&*b.t, "pxs-v1", "s1", true);
    let mut r = route("secure", "staging", "secure.test", "pxs-v1:8080");
    r.tls = arcane::config::Tls::Internal;
    b.caddy.switch(&*b.t, &em, &r, DRAIN).unwrap();
    let ip = b.addr.ip().to_string();
    let curl = |args: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", "--resolve"])
            .arg(format!("secure.test:443:{ip}"))
            .arg("--resolve")
            .arg(format!("secure.test:80:{ip}"))
            .args(args)
            .output()
            .unwrap()
    };
    // The internal CA issues the certificate in the background.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let out = curl(&["-k", "https://secure.test/"]);
        if String::from_utf8_lossy(&out.stdout).trim() == "s1" {
            break;
        }
        assert!(Instant::now() < end, "https never served: {out:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let redirect = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "http://secure.test/",
    ]);
    let redirect = String::from_utf8_lossy(&redirect.stdout).to_string();
    assert!(
        redirect.starts_with("308 https://secure.test/"),
        "{redirect}"
    );
    let routes = b.caddy.routes(&*b.t, &em).unwrap();
    assert!(routes.contains(&r), "{routes:?}");
    // Back to plain HTTP: the route moves servers and the policy goes.
    r.tls = arcane::config::Tls::Off;
    b.caddy.switch(&*b.t, &em, &r, DRAIN).unwrap();
    wait_body(b.addr, "secure.test", "s1", Duration::from_secs(10));
    b.caddy.remove(&*b.t, &em, "secure", "staging").unwrap();
    remove_containers(&*b.t, &["pxs-v1"]);
}

#[test]
fn cli_boot_is_idempotent_and_status_and_logs_work() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    let proj = project_dir(&b.servers_toml);
    let arcane = |args: &[&str]| {
        arcane_cmd()
            .args(args)
            .current_dir(proj.path())
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        let out = arcane(&["proxy", "boot", "--server", "srv1"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = arcane(&["--json", "proxy", "status", "--server", "srv1"]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let st = lines
        .iter()
        .find(|v| v["event"] == "proxy")
        .expect("proxy event");
    assert_eq!(st["servers"][0]["state"], "running");
    assert_eq!(st["servers"][0]["image"], "caddy:2");
    let out = arcane(&["proxy", "logs", "--server", "srv1"]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("admin endpoint started"),
        "{text}"
    );
    // A project without [proxy] is told what to add (exit 2).
    std::fs::write(proj.path().join("arcane.toml"), "[app]\nname = \"appa\"\n").unwrap();
    let out = arcane(&["proxy", "status", "--server", "srv1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [proxy] section"));
}

/// An independent measurement with wrk (as fast as it can, 8 connections,
/// 30 s) during 20 switches. `cargo test --test proxy_testbed -- --ignored`.
#[test]
#[ignore = "benchmark: run explicitly"]
fn bench_wrk_during_twenty_switches() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(b) = bed() else { return };
    assert!(loadgen::allowed_target(b.addr.ip()));
    let em = Emitter::null();
    start_app(&*b.t, "pxw-v1", "v1", true);
    start_app(&*b.t, "pxw-v2", "v2", true);
    let r1 = route("wrk", "staging", "wrk.test", "pxw-v1:8080");
    let r2 = route("wrk", "staging", "wrk.test", "pxw-v2:8080");
    b.caddy.switch(&*b.t, &em, &r1, DRAIN).unwrap();
    wait_body(b.addr, "wrk.test", "v1", Duration::from_secs(10));
    let wrk = std::process::Command::new("wrk")
        .args([
            "-t",
            "1",
            "-c",
            "8",
            "-d",
            "30s",
            "--timeout",
            "5s",
            "-H",
            "Host: wrk.test",
        ])
        .arg(format!("http://{}/", b.addr))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("wrk is installed");
    std::thread::sleep(Duration::from_secs(2));
    for i in 0..20 {
        let r = if i % 2 == 0 { &r2 } else { &r1 };
        b.caddy.switch(&*b.t, &em, r, DRAIN).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = wrk.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("testbed: wrk during 20 switches:\n{text}");
    assert!(!text.contains("Socket errors"), "{text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    remove_containers(&*b.t, &["pxw-v1", "pxw-v2"]);
}
