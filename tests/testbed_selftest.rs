//! Tests of the testbed itself: are its servers really separate machines as
//! far as arcane can tell, and do cut and shape do what they say?

mod common {
    pub mod testbed;
}

use common::testbed::{testbed, testbed_exclusive, Testbed};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const SERVERS: usize = 3;

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    text(&o)
}

fn ssh_ok(tb: &Testbed, name: &str, cmd: &str) -> String {
    ok(tb.ssh(name, cmd), &format!("ssh {name} {cmd:?}"))
}

#[test]
fn ssh_with_the_generated_config_reaches_every_server() {
    let Some(tb) = testbed(SERVERS) else { return };
    assert_eq!(tb.servers.len(), SERVERS);
    for s in &tb.servers {
        assert_eq!(ssh_ok(&tb, &s.name, "hostname"), s.name);
        // Strict host key checking against the generated known_hosts, by IP,
        // with the generated key only (BatchMode: no prompt could succeed).
        let out = std::process::Command::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", tb.known_hosts.display()))
            .args(["-o", "IdentitiesOnly=yes", "-i"])
            .arg(&tb.key)
            .arg(format!("root@{}", s.ip))
            .arg("echo reached")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(ok(out, "plain ssh root@ip"), "reached");
    }
}

#[test]
fn servers_toml_lists_every_server() {
    let Some(tb) = testbed(SERVERS) else { return };
    let doc: toml::Value = std::fs::read_to_string(&tb.servers_toml)
        .unwrap()
        .parse()
        .unwrap();
    for s in &tb.servers {
        let e = &doc["servers"][&s.name];
        assert_eq!(e["host"].as_str(), Some(s.ip.as_str()));
        assert_eq!(e["user"].as_str(), Some("root"));
        assert_eq!(e["port"].as_integer(), Some(22));
        assert_eq!(e["identity_file"].as_str(), Some(tb.key.to_str().unwrap()));
        assert_eq!(
            e["known_hosts"].as_str(),
            Some(tb.known_hosts.to_str().unwrap())
        );
        assert_eq!(e["env"].as_str(), Some("staging"));
    }
    let all: Vec<&str> = doc["groups"]["all"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let names: Vec<&str> = tb.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(all, names);
}

#[test]
fn every_server_has_its_own_engine() {
    let Some(tb) = testbed(SERVERS) else { return };
    let mut ids = HashSet::new();
    for s in &tb.servers {
        let id = ssh_ok(&tb, &s.name, "docker info -f '{{.ID}}'");
        assert!(!id.is_empty());
        assert!(ids.insert(id.clone()), "{} shares engine ID {id}", s.name);
        // The base images are there, offline.
        let images = ssh_ok(
            &tb,
            &s.name,
            "docker image inspect -f '{{.Id}}' busybox:stable caddy:2",
        );
        assert_eq!(images.lines().count(), 2, "{}: {images}", s.name);
    }
    // ...and it is the same engine the host-side socket and `exec` reach.
    let via_exec = ok(tb.exec("srv2", "docker info -f '{{.ID}}'"), "exec srv2");
    assert_eq!(via_exec, ssh_ok(&tb, "srv2", "docker info -f '{{.ID}}'"));
}

#[test]
fn an_image_built_on_srv1_is_absent_on_srv2() {
    let Some(tb) = testbed(SERVERS) else { return };
    let tag = format!("selftest/only-on-srv1:{}", std::process::id());
    ssh_ok(
        &tb,
        "srv1",
        &format!(
            "printf 'FROM busybox:stable\\nRUN echo srv1 > /who\\n' | docker build -q -t {tag} - >/dev/null"
        ),
    );
    assert_eq!(
        ssh_ok(&tb, "srv1", &format!("docker run --rm {tag} cat /who")),
        "srv1"
    );
    let on_srv2 = tb.ssh("srv2", &format!("docker image inspect {tag}"));
    assert!(!on_srv2.status.success(), "{tag} is visible on srv2");
    ssh_ok(&tb, "srv1", &format!("docker rmi {tag} >/dev/null"));
}

#[test]
fn files_written_on_one_server_stay_there() {
    let Some(tb) = testbed(SERVERS) else { return };
    let path = format!("/opt/selftest-{}", std::process::id());
    ssh_ok(
        &tb,
        "srv1",
        &format!("mkdir -p {path} && echo one > {path}/marker"),
    );
    assert_eq!(ssh_ok(&tb, "srv1", &format!("cat {path}/marker")), "one");
    assert!(!tb.ssh("srv2", &format!("test -e {path}")).status.success());
    assert!(!std::path::Path::new(&path).exists(), "leaked to the host");
    ssh_ok(&tb, "srv1", &format!("rm -rf {path}"));
}

fn http_get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET / HTTP/1.0\r\nHost: {}\r\n\r\n", addr.ip())?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

#[test]
fn a_published_port_answers_on_the_servers_address() {
    let Some(tb) = testbed(SERVERS) else { return };
    let name = format!("selftest-httpd-{}", std::process::id());
    let token = format!("hello from srv1 {}", std::process::id());
    ssh_ok(
        &tb,
        "srv1",
        &format!(
            "docker run -d --name {name} -p 18080:8080 busybox:stable \
             sh -c 'mkdir -p /www && echo \"{token}\" > /www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null"
        ),
    );
    let addr: SocketAddr = format!("{}:18080", tb.ip("srv1")).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        match http_get(addr) {
            Ok(b) if b.contains(&token) => break b,
            r if Instant::now() > deadline => {
                let _ = tb.ssh("srv1", &format!("docker rm -f {name}"));
                panic!("no answer from {addr}: {r:?}");
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    assert!(body.starts_with("HTTP/1."), "{body}");
    // Nothing of the kind on srv2.
    let other: SocketAddr = format!("{}:18080", tb.ip("srv2")).parse().unwrap();
    assert!(http_get(other).is_err(), "srv2 answers on 18080");
    ssh_ok(&tb, "srv1", &format!("docker rm -f {name} >/dev/null"));
}

#[test]
fn cut_makes_a_server_unreachable_and_restore_brings_it_back() {
    let Some(tb) = testbed_exclusive(SERVERS) else {
        return;
    };
    ssh_ok(&tb, "srv2", "true");

    // Link down: connects fail at once, well within ConnectTimeout (5 s).
    tb.cut("srv2");
    let t = Instant::now();
    let out = tb.ssh("srv2", "true");
    assert!(!out.status.success(), "srv2 still reachable after cut");
    assert!(
        t.elapsed() < Duration::from_secs(7),
        "took {:?}",
        t.elapsed()
    );
    assert!(tb.status().contains("cut(down)"), "{}", tb.status());
    ssh_ok(&tb, "srv1", "true"); // the others are untouched
    tb.restore("srv2");
    assert_eq!(ssh_ok(&tb, "srv2", "hostname"), "srv2");

    // Silent loss: the connect times out after ConnectTimeout.
    tb.cut_drop("srv2");
    let t = Instant::now();
    let out = tb
        .ssh_command("srv2")
        .args(["-o", "ConnectTimeout=2", "true"])
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        !out.status.success(),
        "srv2 still reachable after cut --drop"
    );
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "connect should time out after ~2s, took {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tb.restore("srv2");
    assert_eq!(ssh_ok(&tb, "srv2", "hostname"), "srv2");
}

/// Mbit/s of pushing `bytes` to `name` over ssh, timed by the server from
/// the first line it receives to EOF (so the ssh handshake does not count).
fn push_mbit(tb: &Testbed, name: &str, bytes: usize) -> f64 {
    let mut child = tb
        .ssh_command(name)
        .arg("read -r _; s=$(date +%s%N); cat >/dev/null; e=$(date +%s%N); echo $((e - s))")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        stdin.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let ns: f64 = text(&out).parse().unwrap();
    (bytes * 8) as f64 / (ns / 1e9) / 1e6
}

/// Mbit/s of pulling `bytes` from `name` over ssh, timed from the first
/// byte received to EOF.
fn pull_mbit(tb: &Testbed, name: &str, bytes: usize) -> f64 {
    let mut child = tb
        .ssh_command(name)
        .arg(format!("head -c {bytes} /dev/zero"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let first = stdout.read(&mut buf).unwrap();
    let t = Instant::now();
    let mut rest = 0;
    loop {
        match stdout.read(&mut buf).unwrap() {
            0 => break,
            n => rest += n,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert!(child.wait().unwrap().success());
    assert_eq!(first + rest, bytes);
    (rest * 8) as f64 / secs / 1e6
}

#[test]
fn shape_caps_throughput_both_ways() {
    let Some(tb) = testbed_exclusive(SERVERS) else {
        return;
    };
    const MB: usize = 1_000_000;
    tb.shape("srv1", "50mbit", None);
    assert!(tb.status().contains("50Mbit"), "{}", tb.status());

    let up = push_mbit(&tb, "srv1", 30 * MB);
    let down = pull_mbit(&tb, "srv1", 15 * MB);
    eprintln!("shaped to 50mbit: host->srv1 {up:.1} Mbit/s, srv1->host {down:.1} Mbit/s");
    assert!((40.0..=60.0).contains(&up), "host->srv1 at {up:.1} Mbit/s");
    assert!(
        (40.0..=60.0).contains(&down),
        "srv1->host at {down:.1} Mbit/s"
    );

    tb.unshape("srv1");
    let free = push_mbit(&tb, "srv1", 10 * MB);
    eprintln!("unshaped: host->srv1 {free:.1} Mbit/s");
    assert!(free > 80.0, "unshape left the link slow: {free:.1} Mbit/s");
}

#[test]
fn exec_runs_in_the_servers_namespaces() {
    let Some(tb) = testbed(SERVERS) else { return };
    assert_eq!(ok(tb.exec("srv3", "hostname"), "exec hostname"), "srv3");
    let addrs = ok(tb.exec("srv3", "ip -o -4 addr show dev eth0"), "exec ip");
    assert!(addrs.contains(&format!("{}/24", tb.ip("srv3"))), "{addrs}");
}
