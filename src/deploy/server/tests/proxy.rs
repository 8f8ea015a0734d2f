//! `[proxy]` mode: the app runs unpublished on the proxy's network, the
//! route switches to it once healthy, then the old container stops; with
//! accessories it also joins `<app>-<env>` before it starts.

use super::fake_caddy::FakeCaddy;
use super::*;
use crate::docker::argv::Verb;
use crate::proxy::caddy::{EDGE_ADMIN, HTTP_SERVER, ROUTER_ADMIN, ROUTER_SERVER};
use crate::remote::scripted::fail;

const PROXY: &str = "[proxy]\nhosts = [\"shop.test\"]\napp_port = 8080\ntls = \"off\"\n";

/// The run spec behind the proxy.
fn proxied(release: &str, also: &[&str]) -> RunSpec {
    let mut s = spec(release);
    s.network = crate::proxy::NETWORK.into();
    s.publish = None;
    s.also = also.iter().map(|a| a.to_string()).collect();
    s
}

/// A server with the proxy running (its admin API faked).
fn proxy_server(on: &OnServer) -> (Arc<Scripted>, Arc<FakeCaddy>) {
    let t = server(on);
    t.on(
        &["{{.Config.Image}}", "arcane-proxy"],
        ok("running caddy:2\n"),
    );
    // Old upstreams' addresses, and no connection left to drain.
    t.on_fn(&["{{.Name}} {{range"], |c| {
        let names = c.argv_words().unwrap_or_default().iter().skip(6);
        Ok(ok(&names
            .map(|n| format!("/{n} 172.18.0.9 \n"))
            .collect::<String>()))
    });
    t.on(
        &["cat /proc/net/tcp"],
        ok("  sl  local_address rem_address   st\n"),
    );
    let c = FakeCaddy::serve(&t);
    (t, c)
}

/// The docker commands, without the admin API requests.
fn docker_calls(r: &Ran) -> Vec<String> {
    r.calls()
        .into_iter()
        .filter(|c| !c.contains(" nc 127.0.0.1 "))
        .collect()
}

fn upstreams(c: &FakeCaddy, id: &str) -> Vec<String> {
    let cfg = c.config(ROUTER_ADMIN);
    let routes = cfg["apps"]["http"]["servers"][ROUTER_SERVER]["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let r = routes
        .iter()
        .find(|r| r["@id"] == id)
        .unwrap_or_else(|| panic!("no route {id} in {cfg:#}"));
    r.to_string()
        .split('"')
        .filter(|w| w.contains(":8080"))
        .map(String::from)
        .collect()
}

#[test]
fn scripted_proxy_deploy_switches_the_route_then_stops_the_old_container() {
    let fx = fixture(PROXY);
    let mut on = OnServer::with_live_v0();
    on.releases[0].runtime = Runtime::Image {
        spec: proxied("v0", &[]),
        port: 8080,
    };
    let (t, caddy) = proxy_server(&on);
    let r = Run::new(&fx, Artifact::for_test_image("v1", "shop:v1", None)).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    assert_eq!(r.steps(), all_steps());
    let (old, new) = (proxied("v0", &[]), proxied("v1", &[]));
    let l = layout();
    assert_eq!(
        docker_calls(&r),
        [
            "LOCK+FACTS".to_string(),
            format!("mkdir -p -m 700 {}", l.release_dir("v1")),
            upload(l.env_file("v1"), 0o600),
            upload(l.release_json("v1"), 0o600),
            // The proxy is there and running.
            sh(crate::proxy::docker::network_inspect()),
            sh(crate::proxy::docker::inspect()),
            // No candidate: the real container, unpublished, is probed.
            argv::container_line(Verb::Run, &new, &new.name, None),
            inspect(&new.name),
            "forward 172.18.0.2:8080".into(),
            sh(argv::stop(std::slice::from_ref(&old.name), 10)),
            upload(l.release_json("v1"), 0o600),
            upload(l.current(), 0o644),
            "UNLOCK".into(),
        ]
    );
    assert_eq!(
        upstreams(&caddy, "arcane-shop-staging"),
        [format!("{}:8080", new.name)]
    );
    // The edge forwards the host to the router (TLS off: the HTTP server).
    let edge = caddy.config(EDGE_ADMIN);
    assert!(
        edge["apps"]["http"]["servers"][HTTP_SERVER]["routes"]
            .to_string()
            .contains("shop.test"),
        "{edge:#}"
    );
    assert_eq!(
        r.detail("cutover"),
        format!("proxy now routes to {}", new.name)
    );
}

#[test]
fn scripted_proxy_failure_after_the_switch_routes_back_to_the_old_container() {
    let fx = fixture(&format!(
        "{PROXY}[[hooks.post_deploy]]\ncommand = \"smoke\"\n"
    ));
    let mut on = OnServer::with_live_v0();
    on.releases[0].runtime = Runtime::Image {
        spec: proxied("v0", &[]),
        port: 8080,
    };
    let (t, caddy) = proxy_server(&on);
    t.once(&["docker run --rm"], fail(1, ""));
    let r = Run::new(&fx, Artifact::for_test_image("v1", "shop:v1", None)).go(&t);
    assert!(r.out.rolled_back && !r.out.ok, "{}", r.out.detail);
    let old = proxied("v0", &[]);
    let calls = docker_calls(&r);
    let start_old = sh(argv::start(std::slice::from_ref(&old.name)));
    assert!(calls.contains(&start_old), "{calls:#?}");
    assert_eq!(
        upstreams(&caddy, "arcane-shop-staging"),
        [format!("{}:8080", old.name)],
        "the route is back on the old container"
    );
}

#[test]
fn scripted_proxy_deploy_with_accessories_joins_their_network_before_starting() {
    let fx = fixture(&format!(
        "{PROXY}[accessories.db]\nimage = \"postgres:16\"\n"
    ));
    let (t, _caddy) = proxy_server(&OnServer::default());
    let r = Run::new(&fx, Artifact::for_test_image("v1", "shop:v1", None)).go(&t);
    assert!(r.out.ok, "{}", r.out.detail);
    let net = format!("{APP}-{ENV}");
    let new = proxied("v1", &[&net]);
    let run = argv::container_line(Verb::Run, &new, &new.name, None);
    assert!(
        run.contains(&format!("docker network connect {net} {}", new.name)),
        "{run}"
    );
    let calls = docker_calls(&r);
    assert!(
        calls.contains(&format!("{} && {run}", app_net())),
        "{calls:#?}"
    );
    let rec: Release =
        serde_json::from_slice(&t.uploaded(&layout().release_json("v1")).unwrap()).unwrap();
    assert_eq!(rec.runtime.extra_networks(), [net]);
}
