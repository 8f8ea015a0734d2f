//! The real thing: `network ensure` against a real Tailscale (or Headscale)
//! control server, on a real Debian/Ubuntu server you can reach over SSH.
//! Skipped unless `ARCANE_TEST_TAILSCALE_AUTHKEY` is set (CI has no
//! tailnet); the testbed's servers cannot reach the internet, so it needs
//! a server of its own:
//!
//! | variable | what |
//! |---|---|
//! | `ARCANE_TEST_TAILSCALE_AUTHKEY` | a reusable (or ephemeral) auth key, pre-approved |
//! | `ARCANE_TEST_TAILSCALE_TAILNET` | the tailnet's DNS suffix, e.g. `example-corp.ts.net` |
//! | `ARCANE_TEST_TAILSCALE_HOST` | the server: `user@host[:port]`, reachable with your ssh agent or keys and already in ~/.ssh/known_hosts |
//! | `ARCANE_TEST_TAILSCALE_LOGIN_SERVER` | optional: a Headscale URL |
//! | `ARCANE_TEST_TAILSCALE_TAGS` | optional: comma-separated tags the key may use |
//!
//! It installs the client if missing (apt), joins, checks that a second run
//! changes nothing and that status agrees, and logs the node out at the end
//! (also when it fails) so the tailnet keeps no test device.

use std::process::{Command, Output, Stdio};

struct Env {
    key: String,
    tailnet: String,
    user: String,
    host: String,
    port: u16,
    login_server: Option<String>,
    tags: Vec<String>,
}

fn env() -> Option<Env> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let Some(key) = var("ARCANE_TEST_TAILSCALE_AUTHKEY") else {
        eprintln!("SKIPPED (real tailscale): ARCANE_TEST_TAILSCALE_AUTHKEY is not set");
        return None;
    };
    let (Some(tailnet), Some(target)) = (
        var("ARCANE_TEST_TAILSCALE_TAILNET"),
        var("ARCANE_TEST_TAILSCALE_HOST"),
    ) else {
        panic!("ARCANE_TEST_TAILSCALE_AUTHKEY is set: also set ARCANE_TEST_TAILSCALE_TAILNET and ARCANE_TEST_TAILSCALE_HOST (user@host[:port])");
    };
    let (user, rest) = target.split_once('@').unwrap_or(("root", &target));
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().expect("port")),
        None => (rest.to_string(), 22),
    };
    Some(Env {
        key,
        tailnet,
        user: user.into(),
        host,
        port,
        login_server: var("ARCANE_TEST_TAILSCALE_LOGIN_SERVER"),
        tags: var("ARCANE_TEST_TAILSCALE_TAGS")
            .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
    })
}

/// Logs the node out when the test ends, however it ends.
struct Logout<'a>(&'a Env);

impl Drop for Logout<'_> {
    fn drop(&mut self) {
        let e = self.0;
        let _ = Command::new("ssh")
            .args(["-p", &e.port.to_string(), &format!("{}@{}", e.user, e.host)])
            .arg("sudo -n tailscale logout || tailscale logout")
            .stdin(Stdio::null())
            .output();
    }
}

fn run(dir: &std::path::Path, key: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arcane"))
        .current_dir(dir)
        .args(args)
        .env("ARCANE_TEST_TS_REAL_KEY", key)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn real_tailscale_ensure_joins_once_and_status_agrees() {
    let Some(e) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("config")).unwrap();
    let tags = e
        .tags
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let login = e
        .login_server
        .as_ref()
        .map(|u| format!("login_server = {u:?}\n"))
        .unwrap_or_default();
    std::fs::write(
        d.join("arcane.toml"),
        format!(
            "[app]\nname = \"nettest\"\n[network]\nprovider = \"tailscale\"\nauth_key_env = \"ARCANE_TEST_TS_REAL_KEY\"\n\
             tailnet_domain = {:?}\ndefault_tags = [{tags}]\n{login}",
            e.tailnet
        ),
    )
    .unwrap();
    let name = format!("arcane-test-{}", std::process::id());
    std::fs::write(
        d.join("config/servers.toml"),
        format!(
            "[servers.{name}]\nhost = {:?}\nuser = {:?}\nport = {}\nenv = \"staging\"\n",
            e.host, e.user, e.port
        ),
    )
    .unwrap();
    let _logout = Logout(&e);
    let text = |o: &Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let o = run(d, &e.key, &["network", "ensure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(&e.key), "the key is in the output");
    let o = run(d, &e.key, &["network", "ensure"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("(0 changed, 1 unchanged)"),
        "{}",
        text(&o)
    );
    let o = run(d, &e.key, &["network", "status", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let fqdn = format!("{name}.{}", e.tailnet);
    assert!(out.contains(&format!("\"dns_name\":\"{fqdn}\"")), "{out}");
    assert!(out.contains("\"joined\":true"), "{out}");
}
