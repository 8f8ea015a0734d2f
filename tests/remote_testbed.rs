//! Remote operations against the testbed's real servers (sshd + dockerd in
//! network namespaces): the transport's forwards, and `server check`,
//! `server trust`, `status`, `ps`, `logs -f`, `exec`, `halt` and `ssh`
//! through the real binary.

mod common {
    pub mod host;
    pub mod testbed;
}

use arcane::config::{Server, ServersFile};
use arcane::event::Emitter;
use arcane::remote::{self, Cmd, ConnectOptions};
use common::testbed::{testbed, testbed_exclusive, Testbed};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const N: usize = 3;

/// A project for `app` whose registry is the testbed's (plus `extra` TOML),
/// with an empty HOME so nothing of the real ~/.ssh is used.
struct Proj {
    dir: TempDir,
}

impl Proj {
    fn new(tb: &Testbed, app: &str, servers_toml: Option<String>, extra: &str) -> Proj {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("config")).unwrap();
        std::fs::create_dir_all(d.join("home")).unwrap();
        std::fs::write(d.join("arcane.toml"), format!("[app]\nname = \"{app}\"\n")).unwrap();
        let base =
            servers_toml.unwrap_or_else(|| std::fs::read_to_string(&tb.servers_toml).unwrap());
        std::fs::write(d.join("config/servers.toml"), format!("{base}\n{extra}")).unwrap();
        Proj { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arcane"));
        c.current_dir(self.path())
            .args(args)
            .env("HOME", self.path().join("home"))
            .env("NO_COLOR", "1")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("ARCANE_CONNECT_TIMEOUT")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn sh_ok(tb: &Testbed, server: &str, cmd: &str) -> String {
    let o = tb.exec(server, cmd);
    assert!(o.status.success(), "{cmd}: {}", show(&o));
    text(&o.stdout).trim().to_string()
}

/// A labelled container as the deploy engine would start it.
fn start_container(
    tb: &Testbed,
    server: &str,
    app: &str,
    service: &str,
    extra: &str,
    cmd: &str,
) -> String {
    sh_ok(
        tb,
        server,
        &format!(
            "docker run -d --label arcane.app={app} --label arcane.env=staging \
             --label arcane.service={service} --label arcane.version=v1 {extra} \
             busybox:stable sh -c '{cmd}'"
        ),
    )
}

fn remove_app(tb: &Testbed, server: &str, app: &str) {
    let _ = tb.exec(
        server,
        &format!("docker rm -f $(docker ps -aq --filter label=arcane.app={app}) 2>/dev/null; true"),
    );
}

fn fingerprint(pubkey: &Path) -> String {
    let o = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pubkey)
        .output()
        .unwrap();
    text(&o.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn servers(tb: &Testbed) -> Vec<Server> {
    let f = ServersFile::load(&tb.servers_toml).unwrap();
    f.servers
        .into_iter()
        .map(|(name, config)| Server { name, config })
        .collect()
}

fn opts() -> ConnectOptions {
    let home = tempfile::tempdir().unwrap().keep();
    ConnectOptions {
        home: Some(home),
        use_agent: false,
        ..Default::default()
    }
}

#[test]
fn forwards_work_between_this_machine_and_a_server() {
    let Some(tb) = testbed(N) else { return };
    let srv = &servers(&tb)[0];
    let t = remote::connect(srv, &Emitter::null(), &opts()).unwrap();
    let em = Emitter::null();

    // forward_local: a busybox httpd in a container on srv1, reached from here.
    let id = sh_ok(
        &tb,
        &srv.name,
        "docker run -d --label arcane.test=fwd busybox:stable sh -c \
         'mkdir -p /www && echo hello-from-the-container > /www/index.html && httpd -f -p 8080 -h /www'",
    );
    let ip = sh_ok(
        &tb,
        &srv.name,
        &format!("docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {id}"),
    );
    let fwd = t.forward_local(&ip, 8080).unwrap();
    let start = Instant::now();
    let body = loop {
        let mut c = TcpStream::connect(fwd.addr()).unwrap();
        c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").unwrap();
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        if s.contains("hello-from-the-container") || start.elapsed() > Duration::from_secs(10) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.contains("hello-from-the-container"), "{body}");

    // forward_remote: a server on this machine, fetched from srv1 with wget,
    // while other commands use the same session.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let p2 = payload.clone();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut req = [0u8; 1024];
        let _ = c.read(&mut req);
        write!(c, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", p2.len()).unwrap();
        c.write_all(&p2).unwrap();
    });
    let rf = t
        .forward_remote(format!("127.0.0.1:{port}").parse().unwrap())
        .unwrap();
    let rport = rf.addr().port();
    let t2 = t.clone();
    let fetch = std::thread::spawn(move || {
        t2.run(
            &Cmd::shell(format!(
                "busybox wget -q -O - http://127.0.0.1:{rport}/ | wc -c"
            )),
            &Emitter::null(),
        )
        .unwrap()
    });
    for _ in 0..10 {
        assert_eq!(
            t.run(&Cmd::argv(["hostname"]), &em).unwrap().stdout_str(),
            format!("{}\n", srv.name)
        );
    }
    let out = fetch.join().unwrap();
    server.join().unwrap();
    assert_eq!(
        out.stdout_str().trim(),
        payload.len().to_string(),
        "{out:?}"
    );
    drop(rf);
    drop(fwd);
    let _ = tb.exec(&srv.name, &format!("docker rm -f {id}"));
}

#[test]
fn check_passes_on_every_server_and_reports_json() {
    let Some(tb) = testbed(N) else { return };
    let p = Proj::new(&tb, "rt-check", None, "");
    let o = p.run(&["server", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = text(&o.stdout);
    for s in &tb.servers {
        let row = out
            .lines()
            .find(|l| l.starts_with(&s.name))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(row.contains("yes") && row.ends_with("ok"), "{row}");
        assert!(row.contains("v1 1.29") || row.contains("v2 "), "{row}");
    }
    let o = p.run(&["server", "check", "--json", "srv2"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let data: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "checks")
        .collect();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["servers"].as_array().unwrap().len(), 1);
    let v = &data[0]["servers"][0];
    assert_eq!(
        (v["reachable"].as_bool(), v["auth"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(v["docker"].as_str().unwrap().starts_with("20."), "{v}");
    assert!(v["disk_free_bytes"].as_u64().unwrap() > 0);
    assert!(!v["arch"].as_str().unwrap().is_empty());
}

#[test]
fn unknown_host_keys_are_refused_until_trusted() {
    let Some(tb) = testbed(N) else { return };
    let scratch = tempfile::tempdir().unwrap();
    let kh = scratch.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let toml = std::fs::read_to_string(&tb.servers_toml)
        .unwrap()
        .replace(tb.known_hosts.to_str().unwrap(), kh.to_str().unwrap());
    let p = Proj::new(&tb, "rt-trust", Some(toml), "");
    let fp = fingerprint(&tb.dir.join("srv1/ssh_host_ed25519_key.pub"));

    let o = p.run(&["status", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = text(&o.stderr);
    assert!(
        err.contains("unknown host key") && err.contains(&fp),
        "{err}"
    );
    assert!(err.contains("arcane server trust srv1"), "{err}");

    // Without a TTY and without --yes, trust refuses and writes nothing.
    let o = p.run(&["server", "trust", "srv1"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(text(&o.stderr).contains(&fp), "{}", show(&o));
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), "");

    let o = p.run(&["server", "trust", "srv1", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let written = std::fs::read_to_string(&kh).unwrap();
    assert!(
        written.starts_with(&format!("{} ssh-ed25519 ", tb.ip("srv1"))),
        "{written}"
    );

    let o = p.run(&["status", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // Trusting again is a no-op.
    let o = p.run(&["server", "trust", "srv1", "--yes"]);
    assert!(text(&o.stderr).contains("already trusted"), "{}", show(&o));
    assert_eq!(std::fs::read_to_string(&kh).unwrap(), written);
}

#[test]
fn a_changed_host_key_is_refused_loudly() {
    let Some(tb) = testbed(N) else { return };
    let scratch = tempfile::tempdir().unwrap();
    let kh = scratch.path().join("known_hosts");
    // srv2's key recorded under srv1's address: what a MITM looks like.
    let key2 = std::fs::read_to_string(tb.dir.join("srv2/ssh_host_ed25519_key.pub")).unwrap();
    let mut w = key2.split_whitespace();
    std::fs::write(
        &kh,
        format!(
            "{} {} {}\n",
            tb.ip("srv1"),
            w.next().unwrap(),
            w.next().unwrap()
        ),
    )
    .unwrap();
    let toml = std::fs::read_to_string(&tb.servers_toml)
        .unwrap()
        .replace(tb.known_hosts.to_str().unwrap(), kh.to_str().unwrap());
    let p = Proj::new(&tb, "rt-changed", Some(toml), "");
    let o = p.run(&["server", "check", "srv1"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(text(&o.stderr).contains("HOST KEY CHANGED"), "{}", show(&o));
    // And trust does not paper over it.
    let o = p.run(&["server", "trust", "srv1", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(text(&o.stderr).contains("HOST KEY CHANGED"), "{}", show(&o));
}

#[test]
fn a_cut_server_fails_within_the_connect_timeout_while_others_report() {
    let Some(tb) = testbed_exclusive(N) else {
        return;
    };
    let p = Proj::new(&tb, "rt-cut", None, "");
    tb.cut_drop("srv2");
    let start = Instant::now();
    let o = p
        .cmd(&["server", "check"])
        .env("ARCANE_CONNECT_TIMEOUT", "3")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let out = text(&o.stdout);
    let row = |n: &str| out.lines().find(|l| l.starts_with(n)).unwrap().to_string();
    assert!(
        row("srv1").ends_with("ok") && row("srv3").ends_with("ok"),
        "{out}"
    );
    assert!(row("srv2").ends_with("FAILED"), "{out}");
    assert!(text(&o.stderr).contains("connect timeout"), "{}", show(&o));

    // A link that is down fails at once.
    tb.restore("srv2");
    tb.cut("srv2");
    let start = Instant::now();
    let o = p.run(&["status", "--server", "srv2", "--server", "srv3"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(start.elapsed() < Duration::from_secs(8));
    assert!(text(&o.stderr).contains("cannot reach"), "{}", show(&o));
    assert!(text(&o.stdout)
        .lines()
        .any(|l| l.starts_with("srv3") && l.contains("yes")));
}

#[test]
fn status_and_ps_show_release_containers_and_health() {
    let Some(tb) = testbed(N) else { return };
    let app = "rt-status";
    remove_app(&tb, "srv1", app);
    start_container(
        &tb,
        "srv1",
        app,
        "web",
        "--health-cmd true --health-interval 1s",
        "while sleep 1; do :; done",
    );
    sh_ok(
        &tb,
        "srv1",
        &format!(
            "mkdir -p /root/.arcane/{app}/staging/releases/v1 && echo v1 > /root/.arcane/{app}/staging/current && \
             echo '{{\"version\":\"v1\"}}' > /root/.arcane/{app}/staging/releases/v1/release.json"
        ),
    );
    let p = Proj::new(&tb, app, None, "");
    // Wait for docker's first health probe.
    let start = Instant::now();
    let out = loop {
        let o = p.run(&["status", "--server", "srv1", "--server", "srv2"]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let out = text(&o.stdout);
        if out.contains("healthy") && !out.contains("starting")
            || start.elapsed() > Duration::from_secs(15)
        {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let srv1 = out.lines().find(|l| l.starts_with("srv1")).unwrap();
    let cols: Vec<&str> = srv1.split_whitespace().collect();
    assert_eq!(
        cols,
        ["srv1", "staging", "yes", "v1", "1/1", "healthy", "-"],
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("srv2") && l.contains("not deployed")),
        "{out}"
    );

    let o = p.run(&["ps", "--server", "srv1"]);
    let out = text(&o.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("srv1") && l.contains(" web ") && l.contains("running")),
        "{out}"
    );

    let o = p.run(&["status", "--json", "--server", "srv1"]);
    let v: serde_json::Value = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "status")
        .unwrap();
    let v = &v["servers"][0];
    assert_eq!(v["live"]["release"], "v1");
    assert_eq!(v["live"]["version"], "v1");
    assert_eq!(v["health"], "healthy");
    remove_app(&tb, "srv1", app);
}

#[test]
fn exec_returns_remote_output_and_exit_code() {
    let Some(tb) = testbed(N) else { return };
    let app = "rt-exec";
    remove_app(&tb, "srv2", app);
    start_container(&tb, "srv2", app, "api", "", "while sleep 1; do :; done");
    let p = Proj::new(&tb, app, None, "");
    let o = p.run(&[
        "exec",
        "--server",
        "srv2",
        "api",
        "--",
        "sh",
        "-c",
        "echo inside $(hostname); echo oops >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(text(&o.stdout).starts_with("inside "), "{}", show(&o));
    assert!(text(&o.stderr).contains("oops"), "{}", show(&o));
    // A service that is not running: exit 1 and the running ones named.
    let o = p.run(&["exec", "--server", "srv2", "nope", "--", "true"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("running services: api"),
        "{}",
        show(&o)
    );
    // Several servers selected: the user must pick one.
    let o = p.run(&["exec", "api", "--", "true"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    remove_app(&tb, "srv2", app);
}

#[test]
fn logs_follow_streams_new_lines_until_ctrl_c() {
    let Some(tb) = testbed(N) else { return };
    let app = "rt-logs";
    remove_app(&tb, "srv3", app);
    let id = start_container(
        &tb,
        "srv3",
        app,
        "web",
        "",
        "echo booted; while sleep 1; do :; done",
    );
    let p = Proj::new(&tb, app, None, "");
    let mut child = p
        .cmd(&["logs", "-f", "--server", "srv3", "web"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                if l.contains(want) {
                    return l;
                }
            }
        }
        panic!("no line with {want:?}");
    };
    let l = wait_for("booted");
    assert_eq!(l, "[srv3] booted");
    // A line written after `logs -f` started.
    sh_ok(
        &tb,
        "srv3",
        &format!("docker exec {id} sh -c 'echo written-later > /proc/1/fd/1'"),
    );
    assert_eq!(wait_for("written-later"), "[srv3] written-later");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // The remote `docker logs -f` is gone too.
    std::thread::sleep(Duration::from_millis(500));
    let left = tb.exec(
        "srv3",
        &format!("pgrep -f '[d]ocker logs --tail 100 --follow {id}' || true"),
    );
    assert!(
        text(&left.stdout).trim().is_empty(),
        "still running: {}",
        text(&left.stdout)
    );
    remove_app(&tb, "srv3", app);
}

#[test]
fn halt_asks_then_stops_the_apps_containers() {
    let Some(tb) = testbed(N) else { return };
    let app = "rt-halt";
    for s in ["srv1", "srv2"] {
        remove_app(&tb, s, app);
        start_container(&tb, s, app, "web", "", "while sleep 1; do :; done");
    }
    let p = Proj::new(&tb, app, None, "");
    let running = |s: &str| {
        sh_ok(
            &tb,
            s,
            &format!("docker ps -q --filter label=arcane.app={app} | wc -l"),
        )
    };
    let o = p.run(&["halt", "--server", "srv1", "--server", "srv2"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(text(&o.stderr).contains("--yes"), "{}", show(&o));
    assert_eq!(running("srv1"), "1");
    let o = p.run(&["halt", "--yes", "--server", "srv1", "--server", "srv2"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(
        (running("srv1").as_str(), running("srv2").as_str()),
        ("0", "0")
    );
    for s in ["srv1", "srv2"] {
        remove_app(&tb, s, app);
    }
}

#[test]
fn ssh_opens_a_shell_with_the_same_trust() {
    let Some(tb) = testbed(N) else { return };
    let p = Proj::new(&tb, "rt-ssh", None, "");
    let mut c = p.cmd(&["ssh", "srv2"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hostname\nexit 0\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(text(&o.stdout).trim(), "srv2");
}

#[test]
fn the_local_target_gives_the_same_results_without_ssh() {
    let Some(tb) = testbed(N) else { return };
    // The host's own docker, under an app name no one else uses.
    let app = format!("rt-local-{}", std::process::id());
    // Its container on this engine goes also when an assertion fails.
    let _host = common::host::HostCleanup::new().app(&app);
    let run = |cmd: &str| {
        let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
        assert!(o.status.success(), "{cmd}: {}", show(&o));
        text(&o.stdout).trim().to_string()
    };
    let id = run(&format!(
        "docker run -d --label arcane.app={app} --label arcane.env=staging --label arcane.service=web \
         --label arcane.version=v1 busybox:stable sh -c 'while sleep 1; do :; done'"
    ));
    let toml = "[servers.here]\nhost = \"local\"\nenv = \"staging\"\n".to_string();
    let p = Proj::new(&tb, &app, Some(toml), "");
    let o = p.run(&["server", "check", "here"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = p.run(&["status"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let row: Vec<String> = text(&o.stdout)
        .lines()
        .find(|l| l.starts_with("here"))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(row, ["here", "staging", "yes", "-", "1/1", "healthy", "-"]);
    let o = p.run(&["exec", "web", "--", "sh", "-c", "echo local-exec; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", show(&o));
    assert_eq!(text(&o.stdout), "local-exec\n");
    let o = p.run(&["logs", "web", "-n", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = p.run(&["halt", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(run(&format!("docker ps -q --filter id={id} | wc -l")), "0");
}

#[test]
fn secrets_never_reach_the_command_log_and_env_files_are_0600() {
    let Some(tb) = testbed(N) else { return };
    let srv = &servers(&tb)[1];
    let t = remote::connect(srv, &Emitter::null(), &opts()).unwrap();
    let rec = std::sync::Arc::new(arcane::event::Recorder::default());
    let em = Emitter::new(rec.clone()).for_server(&srv.name);
    let secret = "s3cr3t-db-pass-42";
    em.redactor().add(secret);
    t.upload(
        "~/.arcane/rt-secret/staging/app.env",
        format!("DB_PASS={secret}\n").as_bytes(),
        0o600,
        &em,
    )
    .unwrap();
    let out = t
        .run(
            &Cmd::argv([
                "stat",
                "-c",
                "%a",
                "/root/.arcane/rt-secret/staging/app.env",
            ]),
            &em,
        )
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "600");
    // A command line carrying the value, and output echoing it.
    let code = t
        .stream(
            &Cmd::shell(format!(
                "test {secret} = {secret} && cat ~/.arcane/rt-secret/staging/app.env"
            )),
            &em,
            &|| false,
        )
        .unwrap();
    assert_eq!(code, 0);
    let events = rec.events();
    let log = serde_json::to_string(&events).unwrap();
    assert!(!log.contains(secret), "{log}");
    assert!(log.contains("DB_PASS=***"), "{log}");
    assert!(
        log.contains("upload 26 bytes to ~/.arcane/rt-secret/staging/app.env (mode 600)"),
        "{log}"
    );
    let _ = tb.exec(&srv.name, "rm -rf /root/.arcane/rt-secret");
}
