//! The real `arcane deploy` in proxy mode on the local target, under load:
//! 20 consecutive deploys alternating between two committed versions, then a
//! version that fails its health check. Every request must succeed.
//!
//! The same scenario runs on the testbed in `proxy_deploy_testbed.rs`.

#[path = "../bench/proxy/deploy_scenario.rs"]
mod deploy_scenario;
#[path = "../bench/proxy/harness.rs"]
mod harness;
#[path = "../bench/proxy/loadgen.rs"]
mod loadgen;

#[path = "common/host.rs"]
mod host;

use harness::*;

#[test]
fn twenty_real_deploys_and_a_failing_one_under_load_drop_nothing() {
    ensure_host_dockerd();
    // The scenario removes its app's containers, images and route itself;
    // this removes the proxy, if the scenario's first deploy booted it.
    let _proxy = host::HostProxy::acquire();
    let t = arcane::remote::LocalTransport::new("local");
    deploy_scenario::run(
        "[servers.local1]\nhost = \"local\"\nenv = \"staging\"\n",
        "127.0.0.1:80".parse().unwrap(),
        &t,
        "local deploy",
    );
}
