//! `arcane push --via registry`, and `arcane deploy` with `[registry]`,
//! against a real registry (Debian's
//! `docker-registry`, distribution 2.8, htpasswd auth) and two testbed
//! servers, each with its own Docker 20.10 engine.
//!
//! Docker talks plain HTTP only to registries on 127.0.0.0/8 (without daemon
//! configuration, and the host's daemon.json is not ours to edit), so the
//! registry must be `127.0.0.1:PORT` everywhere. The host engine reaches it
//! directly. Inside each server's network namespace (and only there) a NAT
//! rule sends 127.0.0.1:PORT to the host side of that server's link, with
//! `route_localnet` so the kernel routes a loopback-sourced packet, and SNAT
//! to the server's own address so the reply comes back.
//!
//! Needs root, docker, the testbed and the `docker-registry` and
//! `apache2-utils` packages (scripts/setup-host.sh); CI runs as root. Nothing
//! is mocked.

mod common {
    pub mod argv_watch;
    pub mod host;
    pub mod testbed;
}

use assert_cmd::Command;
use common::argv_watch::ArgvWatch;
use common::testbed::{testbed, Testbed};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "arcane-ci";

fn arcane_bin() -> PathBuf {
    std::env::var_os("ARCANE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("arcane"))
}

fn sh(cmd: &str) -> String {
    let out = Std::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A password nobody would type: easy to spot in any output.
fn fresh_password() -> String {
    let mut b = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("Pw{hex}")
}

/// A `docker-registry serve` process on 0.0.0.0:port, killed on drop.
struct RegistryProc {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RegistryProc {
    fn start(password: &str) -> RegistryProc {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = Std::new("htpasswd")
            .args(["-Bbn", USER, password])
            .output()
            .expect("htpasswd (apache2-utils) is installed by scripts/setup-host.sh");
        assert!(out.status.success());
        std::fs::write(d.join("htpasswd"), &out.stdout).unwrap();
        // A free port: bind, read, release (the registry binds it next).
        let port = TcpListener::bind("0.0.0.0:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            d.join("config.yml"),
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 0.0.0.0:{port}\n  secret: arcane-test-only\nauth:\n  htpasswd:\n    realm: arcane-test\n    path: {}\n",
                d.join("data").display(),
                d.join("htpasswd").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Std::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry is installed by scripts/setup-host.sh");
        let mut r = RegistryProc { child, port, dir };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = r.child.try_wait().unwrap() {
                panic!("docker-registry exited ({st}): {}", r.log());
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "registry not listening: {}",
                r.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes 127.0.0.1:port inside each server's namespace lead to the host's
/// 0.0.0.0:port. Rules live in the server namespaces only; they go away with
/// the servers, and are removed on drop for the next test sharing them.
struct LoopbackNat {
    rules: Vec<(String, Vec<String>)>,
}

impl LoopbackNat {
    fn install(tb: &Testbed, port: u16) -> LoopbackNat {
        let state = std::fs::read_to_string(tb.dir.join("state")).unwrap();
        let prefix = state
            .lines()
            .find_map(|l| l.strip_prefix("TB_PREFIX="))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let mut nat = LoopbackNat { rules: vec![] };
        for s in &tb.servers {
            let k = s.name.trim_start_matches("srv");
            let ns = format!("{prefix}-srv{k}");
            sh(&format!(
                "ip netns exec {ns} sysctl -qw net.ipv4.conf.all.route_localnet=1"
            ));
            let p = port.to_string();
            let dnat: Vec<String> = [
                "-t",
                "nat",
                "OUTPUT",
                "-d",
                "127.0.0.1/32",
                "-p",
                "tcp",
                "--dport",
                &p,
                "-j",
                "DNAT",
                "--to-destination",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("{}:{port}", s.host_ip)])
            .collect();
            let snat: Vec<String> = vec![
                "-t",
                "nat",
                "POSTROUTING",
                "-s",
                "127.0.0.1/32",
                "-d",
                &format!("{}/32", s.host_ip),
                "-p",
                "tcp",
                "--dport",
                &p,
                "-j",
                "SNAT",
                "--to-source",
                &s.ip,
            ]
            .into_iter()
            .map(|s| s.to_string())
            .collect();
            for rule in [dnat, snat] {
                assert!(nat.iptables(&ns, "-I", &rule), "{ns}: iptables {rule:?}");
                nat.rules.push((ns.clone(), rule));
            }
        }
        nat
    }

    fn iptables(&self, ns: &str, op: &str, rule: &[String]) -> bool {
        // `-t nat -I CHAIN ...`: the table goes before the operation.
        let (table, rest) = rule.split_at(2);
        Std::new("ip")
            .args(["netns", "exec", ns, "iptables", "-w", "5"])
            .args(table)
            .arg(op)
            .args(rest)
            .status()
            .unwrap()
            .success()
    }
}

impl Drop for LoopbackNat {
    fn drop(&mut self) {
        for (ns, rule) in &self.rules {
            let _ = self.iptables(ns, "-D", rule);
        }
    }
}

/// Removes the deployed app from both servers when the test ends, passed or
/// not (it publishes port 8080 there).
struct Deployed<'a>(&'a Testbed, String);

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        for s in ["srv1", "srv2"] {
            let _ = self.0.exec(
                s,
                &format!(
                    "docker ps -aq --filter label=arcane.app={a} | xargs -r docker rm -f; \
                     docker network rm {a}-staging; rm -rf /root/.arcane/{a}",
                    a = self.1
                ),
            );
        }
    }
}

/// A git-committed busybox project with `[registry]`.
struct Proj {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    /// DOCKER_CONFIG for arcane's local `docker login`: the host's own
    /// ~/.docker/config.json is left alone.
    docker_config: tempfile::TempDir,
}

impl Proj {
    fn new(servers_toml: &Path, app: &str, registry: &str) -> Proj {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("config")).unwrap();
        std::fs::copy(servers_toml, p.join("config/servers.toml")).unwrap();
        std::fs::write(
            p.join("arcane.toml"),
            format!(
                "[app]\nname = \"{app}\"\n[health]\npath = \"/health\"\nport = 8080\ntimeout = 5\n\
                 [registry]\nserver = \"{registry}\"\nusername = \"{USER}\"\npassword_key = \"REGISTRY_PASSWORD\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            p.join("Dockerfile"),
            "FROM busybox:stable\nRUN head -c 1000000 /dev/urandom > /data.bin && mkdir -p /www && echo ok > /www/health\nCOPY app.txt /www/app.txt\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
        )
        .unwrap();
        std::fs::write(p.join("app.txt"), format!("{app}\n")).unwrap();
        let proj = Proj {
            dir,
            cache: tempfile::tempdir().unwrap(),
            docker_config: tempfile::tempdir().unwrap(),
        };
        proj.git(&["init", "-q"]);
        proj.git(&["add", "-A"]);
        proj.git(&["commit", "-qm", "v1"]);
        proj
    }

    fn git(&self, args: &[&str]) {
        let st = Std::new("git")
            .args(["-c", "user.email=t@t", "-c", "user.name=t"])
            .args(args)
            .current_dir(self.dir.path())
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn arcane(&self) -> Command {
        let mut c = Command::new(arcane_bin());
        c.current_dir(self.dir.path())
            .env("ARCANE_CACHE_DIR", self.cache.path())
            .env("DOCKER_CONFIG", self.docker_config.path())
            .env_remove("REGISTRY_PASSWORD")
            .timeout(Duration::from_secs(300));
        c
    }

    fn head(&self) -> String {
        sh(&format!(
            "git -C {} rev-parse HEAD",
            self.dir.path().display()
        ))
    }
}

fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn push_via_a_real_registry_with_htpasswd_reaches_two_servers_and_keeps_the_password_secret() {
    let Some(tb) = testbed(2) else { return };
    let started = Instant::now();
    let password = fresh_password();
    let reg = RegistryProc::start(&password);
    let _nat = LoopbackNat::install(&tb, reg.port);
    let registry = format!("127.0.0.1:{}/team", reg.port);
    let app = format!("viareg{}", std::process::id());
    // Built and tagged for the registry on this machine: removed at the end.
    let _cleanup = common::host::HostCleanup::new().app(&app);
    let p = Proj::new(&tb.servers_toml, &app, &registry);

    // Both servers reach the registry as 127.0.0.1:PORT (401: auth needed).
    for s in ["srv1", "srv2"] {
        let out = tb.exec(
            s,
            &format!(
                "curl -s -o /dev/null -m 10 -w '%{{http_code}}' http://127.0.0.1:{}/v2/",
                reg.port
            ),
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "401",
            "{s} cannot reach the registry through 127.0.0.1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    p.arcane().arg("build").assert().success();
    let tag = format!("{app}:{}", p.head());
    let local_id = sh(&format!(
        "docker image inspect --format '{{{{.Id}}}}' {tag}"
    ));

    // A missing password variable is bad input, found before any work.
    let out = p
        .arcane()
        .args(["push", "--via", "registry", "--group", "all"])
        .assert()
        .code(2);
    let text = output_text(out.get_output());
    assert!(
        text.contains("REGISTRY_PASSWORD") && text.contains("[registry]"),
        "{text}"
    );

    // A wrong password: a clear failure naming [registry] and the
    // credentials, exit 1, and neither password shown.
    let wrong = fresh_password();
    let out = p
        .arcane()
        .env("REGISTRY_PASSWORD", &wrong)
        .args(["-v", "push", "--via", "registry", "--group", "all"])
        .assert()
        .code(1);
    let text = output_text(out.get_output());
    assert!(text.contains("[registry]"), "{text}");
    assert!(
        text.contains("credentials") || text.contains("password"),
        "{text}"
    );
    assert!(
        !text.contains(&wrong) && !text.contains(&password),
        "{text}"
    );
    for s in ["srv1", "srv2"] {
        let out = tb.exec(s, &format!("docker image inspect {tag}"));
        assert!(!out.status.success(), "{s} has {tag} after a failed login");
    }

    // The argv watch sees a short-lived process's arguments.
    let canary = fresh_password();
    let watch = ArgvWatch::start(&canary);
    std::thread::sleep(Duration::from_millis(50));
    let st = Std::new("sh")
        .args(["-c", "sleep 0.3", &canary])
        .status()
        .unwrap();
    assert!(st.success());
    let (hits, _) = watch.finish();
    assert!(!hits.is_empty(), "the argv watch missed a process");

    // The real push, watched: verbose human output, then --json.
    let watch = ArgvWatch::start(&password);
    let t = Instant::now();
    let human = p
        .arcane()
        .env("REGISTRY_PASSWORD", &password)
        .args(["-v", "push", "--via", "registry", "--group", "all"])
        .assert()
        .success();
    let push_secs = t.elapsed().as_secs_f64();
    let json = p
        .arcane()
        .env("REGISTRY_PASSWORD", &password)
        .args(["--json", "push", "--via", "registry", "--group", "all"])
        .assert()
        .success();
    let (hits, scans) = watch.finish();
    assert!(
        hits.is_empty(),
        "the password was in a process's argv: {hits:?}"
    );
    assert!(scans > 10, "argv watch only scanned {scans} times");
    for out in [human.get_output(), json.get_output()] {
        let text = output_text(out);
        assert!(!text.contains(&password), "password in output: {text}");
    }
    let text = output_text(human.get_output());
    assert!(
        text.contains("login --username")
            && text.contains("--password-stdin")
            && text.contains(" pull 127.0.0.1:"),
        "-v shows the commands: {text}"
    );
    let jtext = String::from_utf8_lossy(&json.get_output().stdout).to_string();
    assert!(jtext.contains(r#""event":"pushed""#), "{jtext}");

    for s in ["srv1", "srv2"] {
        let out = tb.exec(
            s,
            &format!("docker image inspect --format '{{{{.Id}}}}' {tag}"),
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && id == local_id,
            "{s}: {tag} is {id:?}, local {local_id}"
        );
        let out = tb.exec(s, &format!("docker run --rm {tag} cat /www/app.txt"));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), app, "{s}");
    }
    // No login is left behind: arcane logged in through throwaway client
    // configs (`docker --config DIR`) and removed them.
    let reg_host = format!("127.0.0.1:{}", reg.port);
    for s in ["srv1", "srv2"] {
        let out = tb.exec(
            s,
            "ls -d /tmp/arcane-docker-* 2>/dev/null; cat /root/.docker/config.json 2>/dev/null; docker image ls --format '{{.Repository}}'",
        );
        let left = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            !left.contains("arcane-docker-") && !left.contains(&reg_host),
            "{s}: login or registry name left behind: {left}"
        );
    }
    let local_cfg =
        std::fs::read_to_string(p.docker_config.path().join("config.json")).unwrap_or_default();
    assert!(
        !local_cfg.contains(&reg_host),
        "local login kept: {local_cfg}"
    );
    // The registry really holds it.
    let out = sh(&format!(
        "curl -s -u {USER}:\"$PW\" http://127.0.0.1:{}/v2/team/{app}/tags/list",
        reg.port
    )
    .replace("\"$PW\"", &format!("'{password}'")));
    assert!(out.contains(&p.head()), "{out}");

    // `arcane deploy` with [registry]: a new version is pushed once and each
    // server pulls it (nothing goes over SSH), password still unseen.
    std::fs::write(p.dir.path().join("app.txt"), format!("{app}-v2\n")).unwrap();
    std::fs::create_dir_all(p.dir.path().join("config/envs")).unwrap();
    std::fs::write(
        p.dir.path().join("config/envs/staging.env"),
        "GREETING=hi\n",
    )
    .unwrap();
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "v2"]);
    let _deployed = Deployed(&tb, app.clone());
    let watch = ArgvWatch::start(&password);
    let t = Instant::now();
    let out = p
        .arcane()
        .env("REGISTRY_PASSWORD", &password)
        .args(["-v", "deploy", "--group", "all"])
        .assert()
        .success();
    let deploy_secs = t.elapsed().as_secs_f64();
    let (hits, _) = watch.finish();
    assert!(hits.is_empty(), "the password was in an argv: {hits:?}");
    let text = output_text(out.get_output());
    assert!(!text.contains(&password), "password in output: {text}");
    let v2 = format!("{registry}/{app}:{}", p.head());
    assert_eq!(
        text.matches(&format!(" push {v2}")).count(),
        1,
        "pushed once: {text}"
    );
    assert_eq!(
        text.matches(&format!(" pull {v2}")).count(),
        2,
        "each server pulled: {text}"
    );
    for s in ["srv1", "srv2"] {
        let out = tb.exec(s, "curl -s -m 5 http://127.0.0.1:8080/app.txt");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{app}-v2"),
            "{s} serves the new version"
        );
        let out = tb.exec(
            s,
            "cat /root/.docker/config.json 2>/dev/null; ls -d /tmp/arcane-docker-* 2>/dev/null",
        );
        let left = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!left.contains(&reg_host), "{s}: login kept: {left}");
    }
    eprintln!(
        "push --via registry to 2 servers: {push_secs:.1}s; deploy through it: {deploy_secs:.1}s; whole test {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
