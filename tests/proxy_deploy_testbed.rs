//! The real `arcane deploy` in proxy mode on a testbed server (over SSH,
//! images shipped over SSH), under load from this machine to the server's
//! address: 20 consecutive deploys alternating between two versions, then a
//! version that fails its health check. Every request must succeed.

mod common {
    pub mod testbed;
}
#[path = "../bench/proxy/deploy_scenario.rs"]
mod deploy_scenario;
#[path = "../bench/proxy/harness.rs"]
mod harness;
#[path = "../bench/proxy/loadgen.rs"]
mod loadgen;

use arcane::config::{Server, ServersFile};
use arcane::event::Emitter;
use arcane::remote::{self, ConnectOptions};

#[test]
fn twenty_real_deploys_and_a_failing_one_under_load_drop_nothing_on_the_testbed() {
    let Some(guard) = common::testbed::testbed(1) else {
        return;
    };
    let tb = guard.testbed();
    let text = std::fs::read_to_string(&tb.servers_toml).unwrap();
    let file = ServersFile::load(&tb.servers_toml).unwrap();
    let server = Server {
        name: "srv1".into(),
        config: file.servers["srv1"].clone(),
    };
    // Only srv1 is a staging server in this project.
    let only_srv1: String = text
        .split("[servers.")
        .enumerate()
        .filter(|(i, part)| *i == 0 || part.starts_with("srv1]"))
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                format!("[servers.{part}")
            }
        })
        .collect::<String>()
        .split("[groups.")
        .next()
        .unwrap()
        .to_string();
    let t = remote::connect(&server, &Emitter::null(), &ConnectOptions::default()).unwrap();
    let addr = format!("{}:80", tb.ip("srv1")).parse().unwrap();
    deploy_scenario::run(&only_srv1, addr, &*t, "testbed deploy");
}
