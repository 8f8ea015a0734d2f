//! Zero-downtime switching on this machine's dockerd (the `local` target):
//! two real busybox httpd versions behind the real Caddy proxy, switched 20
//! times under a fixed load; every request must succeed.
//!
//! The container name `arcane-proxy` and ports 80/443 are per docker host, so
//! these tests share one proxy on the host and serialize on a lock file
//! ([`HostProxy`], which also removes the proxy afterwards if the test booted
//! it).

#[path = "../bench/proxy/harness.rs"]
mod harness;
#[path = "common/host.rs"]
mod host;
#[path = "../bench/proxy/loadgen.rs"]
mod loadgen;

use arcane::event::Emitter;
use arcane::proxy::{Caddy, Proxy};
use arcane::remote::LocalTransport;
use harness::*;
use host::{Defer, HostCleanup, HostProxy};
use std::net::SocketAddr;
use std::time::Duration;

#[test]
fn twenty_switches_under_load_drop_nothing_on_the_local_target() {
    ensure_host_dockerd();
    let _proxy = HostProxy::acquire();
    let t = LocalTransport::new("local");
    let em = Emitter::null();
    let caddy = Caddy::new("caddy:2", Duration::from_secs(10));
    let tag = std::process::id();
    let (v1, v2) = (format!("pxt{tag}-v1"), format!("pxt{tag}-v2"));
    let _apps = HostCleanup::new().container(&v1).container(&v2);
    // The route, should the test fail while a proxy it did not boot keeps
    // running.
    let _route = Defer::new(|| {
        let _ = caddy.remove(&t, &em, "load", &format!("t{tag}"));
    });
    caddy.ensure(&t, &em).expect("proxy boots");

    let host = format!("load{tag}.test");
    start_app(&t, &v1, "v1", true);
    start_app(&t, &v2, "v2", true);
    let r1 = route("load", &format!("t{tag}"), &host, &format!("{v1}:8080"));
    let r2 = route("load", &format!("t{tag}"), &host, &format!("{v2}:8080"));
    let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
    caddy.switch(&t, &em, &r1, Duration::from_secs(5)).unwrap();
    wait_body(addr, &host, "v1", Duration::from_secs(10));

    let load = loadgen::start(loadgen::Load {
        addr,
        host: host.clone(),
        path: "/".into(),
        rate: 240,
        connections: 8,
        duration: Duration::from_secs(120),
        polite: false,
    });
    std::thread::sleep(Duration::from_secs(1));
    let mut switch_ms = vec![];
    for i in 0..20 {
        let r = if i % 2 == 0 { &r2 } else { &r1 };
        let t0 = std::time::Instant::now();
        caddy.switch(&t, &em, r, Duration::from_secs(5)).unwrap();
        switch_ms.push(t0.elapsed().as_millis());
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(1));
    let stats = load.stop();
    eprintln!("local: 20 switches: {}", stats.summary());
    eprintln!("local: switch durations (ms): {switch_ms:?}");

    assert!(stats.rate() >= 200.0, "load too low: {}", stats.summary());
    assert!(stats.bodies.contains_key("v1") && stats.bodies.contains_key("v2"));
    assert_eq!(stats.failures(), 0, "{}", stats.summary());
}
