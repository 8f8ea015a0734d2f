//! `arcane network ...` over real SSH against three testbed servers (netns +
//! sshd, docs/testing.md). The servers cannot reach a control server, so
//! the tailscale CLI on them is `tests/fixtures/fake_tailscale`, a test
//! fixture that keeps the node's state in a file and answers in the real
//! client's formats: every test here says `fake_tailscale` in its name.
//!
//! What only real servers show: the probe, the upload of the key file and
//! its removal, the join on three servers in parallel, a second run that
//! changes nothing, a bad key failing clearly, `connect = "tailnet"` going
//! to the tailnet name, and the key in no argv on any machine.

mod common {
    pub mod argv_watch;
    pub mod testbed;
}

use common::argv_watch::ArgvWatch;
use common::testbed::{testbed, Testbed};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

const N: usize = 3;
const DOMAIN: &str = "tailnet.fake.test";
const KEY_ENV: &str = "ARCANE_TEST_FAKE_TS_KEY";

/// Put the fake CLI on every server (its own overlay: nothing leaves it).
fn install_fake(tb: &Testbed) {
    let script =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_tailscale"))
            .unwrap();
    let b64 = base64_encode(&script);
    for s in &tb.servers {
        let o = tb.exec(
            &s.name,
            &format!(
                "echo {b64} | base64 -d > /usr/local/bin/tailscale && chmod 0755 /usr/local/bin/tailscale \
                 && mkdir -p /etc/fake-tailscale && echo {DOMAIN} > /etc/fake-tailscale/tailnet \
                 && rm -rf /var/lib/fake-tailscale /root/.arcane/network"
            ),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

struct Proj {
    dir: TempDir,
}

impl Proj {
    fn new(tb: &Testbed, servers_extra: &str) -> Proj {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("config")).unwrap();
        std::fs::create_dir_all(d.join("home/.ssh")).unwrap();
        std::fs::write(
            d.join("arcane.toml"),
            format!(
                "[app]\nname = \"nettest\"\n\n[network]\nprovider = \"tailscale\"\nauth_key_env = \"{KEY_ENV}\"\n\
                 tailnet_domain = \"{DOMAIN}\"\ndefault_tags = [\"tag:arcane\"]\nlogin_server = \"https://headscale.fake.test\"\n\
                 [network.role_tags]\nweb = [\"tag:web\"]\n"
            ),
        )
        .unwrap();
        let servers = std::fs::read_to_string(&tb.servers_toml).unwrap();
        std::fs::write(
            d.join("config/servers.toml"),
            format!("{servers}{servers_extra}"),
        )
        .unwrap();
        Proj { dir }
    }

    fn run(&self, key: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arcane"));
        c.current_dir(self.dir.path())
            .args(args)
            .env("HOME", self.dir.path().join("home"))
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove(KEY_ENV)
            .stdin(Stdio::null());
        if let Some(k) = key {
            c.env(KEY_ENV, k);
        }
        c.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `network` report of a `--json` run.
fn report(o: &Output) -> serde_json::Value {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "network")
        .unwrap_or_else(|| panic!("no network event:\n{}", text(o)))
}

fn server<'a>(rep: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    rep["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["server"] == name)
        .unwrap()
}

fn on(tb: &Testbed, srv: &str, cmd: &str) -> String {
    String::from_utf8_lossy(&tb.exec(srv, cmd).stdout)
        .trim()
        .to_string()
}

#[test]
fn fake_tailscale_ensure_joins_three_servers_then_changes_nothing_and_refuses_a_bad_key() {
    let Some(tb) = testbed(N) else { return };
    let tb: &'static Testbed = tb.testbed();
    install_fake(tb);
    let p = Proj::new(tb, "");
    let key = format!("tskey-auth-fake-{}-k3yS3cr3t", std::process::id());
    let bad = format!("tskey-auth-wrong-{}-b4dS3cr3t", std::process::id());
    let watch = ArgvWatch::start(&key);
    let watch_bad = ArgvWatch::start(&bad);

    // A dry run looks and changes nothing.
    let o = p.run(Some(&key), &["network", "ensure", "--dry-run", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let rep = report(&o);
    assert_eq!(
        server(&rep, "srv1")["todo"][0],
        format!("join {DOMAIN} as srv1.{DOMAIN} with tag:arcane,tag:web via https://headscale.fake.test")
    );
    assert_eq!(
        on(tb, "srv1", "cat /var/lib/fake-tailscale/ups 2>/dev/null"),
        ""
    );

    // First run: all three join, in parallel, each with its name and tags.
    let o = p.run(Some(&key), &["network", "ensure", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let rep = report(&o);
    for k in 1..=N {
        let name = format!("srv{k}");
        let s = server(&rep, &name);
        assert_eq!(s["joined"], true, "{s}");
        assert_eq!(s["fqdn"], format!("srv{k}.{DOMAIN}"));
        assert_eq!(s["dns_name"], format!("srv{k}.{DOMAIN}"));
        assert_eq!(s["tags"], serde_json::json!(["tag:arcane", "tag:web"]));
        assert_eq!(s["version"], "1.66.4");
        assert!(s["ip"].as_str().unwrap().starts_with("100.64.0."), "{s}");
        assert_eq!(
            s["changed"][0],
            format!(
                "joined {DOMAIN} as srv{k}.{DOMAIN} ({})",
                s["ip"].as_str().unwrap()
            )
        );
        let state = on(tb, &name, "cat /var/lib/fake-tailscale/state");
        assert!(
            state.contains("login_server=https://headscale.fake.test"),
            "{state}"
        );
        assert!(state.contains(&format!("hostname=srv{k}")), "{state}");
        // The key file is gone.
        assert_eq!(
            on(tb, &name, "ls -A /root/.arcane/network"),
            "",
            "key file left on {name}"
        );
    }
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&key));

    // Second run: nothing changes, `up` is not run again.
    let o = p.run(Some(&key), &["network", "ensure"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "3 server(s) on tailnet {DOMAIN} (0 changed, 3 unchanged)"
        )),
        "{}",
        text(&o)
    );
    assert!(err.contains("= network join (unchanged)"), "{}", text(&o));
    for s in &tb.servers {
        assert_eq!(on(tb, &s.name, "cat /var/lib/fake-tailscale/ups"), "1");
    }

    // Status: installed, version, joined, tailnet, tags, IP, name.
    let o = p.run(None, &["network", "status", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = server(&report(&o), "srv2").clone();
    assert_eq!(
        (s["installed"].clone(), s["joined"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(s["tailnet"], DOMAIN);
    let o = p.run(None, &["network", "status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("TAILNET NAME") && out.contains(&format!("srv2.{DOMAIN}")),
        "{out}"
    );
    let o = p.run(None, &["server", "list"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("srv3.{DOMAIN}")), "{out}");

    // A bad key: srv3 is logged out, the join fails clearly, exit 2, and
    // nothing is left behind; the others are not touched.
    on(tb, "srv3", "tailscale logout");
    let o = p.run(Some(&bad), &["network", "ensure", "--server", "srv3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "the auth key in ${KEY_ENV} was refused (backend error: invalid key"
        )),
        "{}",
        text(&o)
    );
    assert!(!err.contains(&bad), "the bad key is in the output: {err}");
    assert_eq!(on(tb, "srv3", "ls -A /root/.arcane/network"), "");
    assert_eq!(
        on(tb, "srv3", "tailscale ip -4 2>&1"),
        "no current Tailscale IPs; state: NeedsLogin"
    );
    // No key at all: refused before anything runs.
    let o = p.run(None, &["network", "ensure", "--server", "srv3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("export {KEY_ENV}=")),
        "{}",
        text(&o)
    );

    let (hits, scans) = watch.finish();
    assert!(hits.is_empty(), "the auth key was in an argv: {hits:?}");
    assert!(scans > 10, "the argv watch barely ran ({scans} scans)");
    let (hits, _) = watch_bad.finish();
    assert!(hits.is_empty(), "the bad key was in an argv: {hits:?}");
}

/// `connect = "tailnet"` (here on the testbed's group `all`): arcane goes
/// to `srv1.tailnet.fake.test`, not to the host. This machine is on no
/// tailnet, so the name resolves through an ssh config alias, as MagicDNS
/// would resolve it for real; without one the error says what to check.
#[test]
fn connect_tailnet_reaches_a_server_by_its_tailnet_name() {
    let Some(tb) = testbed(N) else { return };
    let tb: &'static Testbed = tb.testbed();
    let p = Proj::new(tb, "connect = \"tailnet\"\n");
    let o = p.run(None, &["server", "check", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("srv1.{DOMAIN}")) && err.contains("network ensure --server srv1"),
        "{}",
        text(&o)
    );
    std::fs::write(
        p.dir.path().join("home/.ssh/config"),
        format!("Host srv1.{DOMAIN}\n  HostName {}\n", tb.ip("srv1")),
    )
    .unwrap();
    let o = p.run(None, &["server", "check", "--server", "srv1", "-v"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = p.run(None, &["server", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("srv1.{DOMAIN} (connect)")));
}
