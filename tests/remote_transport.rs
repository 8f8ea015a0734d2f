//! The SSH transport against a real OpenSSH server started for the test on
//! 127.0.0.1 (own host key, own authorized_keys). No mocks: commands, uploads,
//! both forwards and host key checking go through a real sshd.

use arcane::config::{Server, ServerConfig};
use arcane::event::{Emitter, Event, Recorder};
use arcane::remote::{self, Cmd, ConnectOptions, RemoteError, Transport};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    pid: u32,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("hostkey"));
        keygen(&d.join("id_ed25519"));
        std::fs::copy(d.join("id_ed25519.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 PermitRootLogin yes\nStrictModes no\nAllowTcpForwarding yes\nUsePAM no\n",
                d = d.display()
            ),
        )
        .unwrap();
        let st = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .status()
            .unwrap();
        assert!(st.success(), "sshd failed to start");
        let start = Instant::now();
        let pid = loop {
            if let Ok(p) = std::fs::read_to_string(d.join("sshd.pid")) {
                if let Ok(p) = p.trim().parse() {
                    break p;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(5), "no sshd pid");
            std::thread::sleep(Duration::from_millis(20));
        };
        let hostpub = std::fs::read_to_string(d.join("hostkey.pub")).unwrap();
        let mut parts = hostpub.split_whitespace();
        std::fs::write(
            d.join("known_hosts"),
            format!(
                "[127.0.0.1]:{port} {} {}\n",
                parts.next().unwrap(),
                parts.next().unwrap()
            ),
        )
        .unwrap();
        Sshd { dir, port, pid }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    fn server(&self, known_hosts: &str) -> Server {
        Server {
            name: "tb1".into(),
            config: ServerConfig {
                host: "127.0.0.1".into(),
                user: Some("root".into()),
                port: Some(self.port),
                identity_file: Some(self.path("id_ed25519")),
                known_hosts: Some(self.path(known_hosts)),
                env: "staging".into(),
                roles: vec![],
                ..Default::default()
            },
        }
    }

    /// Options isolated from the real ~/.ssh: an empty home, no agent.
    fn opts(&self) -> ConnectOptions {
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        ConnectOptions {
            home: Some(home),
            use_agent: false,
            ..Default::default()
        }
    }

    fn connect(&self) -> Arc<dyn Transport> {
        remote::connect(&self.server("known_hosts"), &Emitter::null(), &self.opts()).unwrap()
    }
}

#[test]
fn run_captures_output_status_stdin_and_redacts_the_command_log() {
    let sshd = Sshd::start();
    let t = sshd.connect();
    let rec = Arc::new(Recorder::default());
    let em = Emitter::new(rec.clone()).for_server("tb1");
    em.redactor().add("hunter2-secret");
    let out = t
        .run(
            &Cmd::shell("echo out; echo err >&2; test -n 'hunter2-secret'; exit 7"),
            &em,
        )
        .unwrap();
    assert_eq!(out.status, 7);
    assert_eq!(out.stdout_str(), "out\n");
    assert_eq!(out.stderr_str(), "err\n");
    let out = t
        .run(
            &Cmd::argv(["wc", "-c"]).with_stdin(vec![b'x'; 300_000]),
            &em,
        )
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "300000");
    let cmds: Vec<String> = rec
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Command { command, .. } => Some(command.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(cmds.len(), 2);
    assert!(
        cmds[0].contains("***") && !cmds[0].contains("hunter2"),
        "{cmds:?}"
    );
    assert_eq!(cmds[1], "wc -c");
}

#[test]
fn timeouts_and_stop_kill_the_remote_command() {
    let sshd = Sshd::start();
    let t = sshd.connect();
    let marker = format!("arcane-sleep-{}", std::process::id());
    let start = Instant::now();
    let e = t
        .run(
            &Cmd::shell(format!("sleep 31 # {marker}")).with_timeout(Duration::from_millis(500)),
            &Emitter::null(),
        )
        .unwrap_err();
    assert!(matches!(e, RemoteError::Timeout { .. }), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));

    let rec = Arc::new(Recorder::default());
    let em = Emitter::new(rec.clone());
    let seen = AtomicBool::new(false);
    let r2 = rec.clone();
    let stop = move || {
        let hit = r2
            .events()
            .iter()
            .any(|e| matches!(e, Event::Log { line, .. } if line == "first"));
        seen.store(hit, Ordering::SeqCst);
        hit
    };
    let code = t
        .stream(
            &Cmd::shell(format!("echo first; sleep 32 # {marker}")),
            &em,
            &stop,
        )
        .unwrap();
    assert_eq!(code, 130);
    // The abandoned commands are gone on the server.
    std::thread::sleep(Duration::from_millis(300));
    let ps = Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "left running: {:?}", ps);
}

#[test]
fn upload_is_atomic_with_mode() {
    use std::os::unix::fs::PermissionsExt;
    let sshd = Sshd::start();
    let t = sshd.connect();
    let dir = sshd.path("up/nested");
    let p = dir.join("app.env");
    let rec = Arc::new(Recorder::default());
    let em = Emitter::new(rec.clone());
    t.upload(p.to_str().unwrap(), b"SECRET=value-123\n", 0o600, &em)
        .unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"SECRET=value-123\n");
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Replace; no temp file is left beside it.
    t.upload(p.to_str().unwrap(), b"B", 0o640, &em).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"B");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1);
    let log = format!("{:?}", rec.events());
    assert!(!log.contains("value-123"), "{log}");
}

fn http_server(body: Vec<u8>) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for c in l.incoming().take(1) {
            let mut c = c.unwrap();
            let mut req = [0u8; 1024];
            let _ = c.read(&mut req);
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(&body);
        }
    });
    (port, h)
}

#[test]
fn forwards_carry_traffic_while_commands_run() {
    let sshd = Sshd::start();
    let t = sshd.connect();
    let em = Emitter::null();

    // Reverse forward: the server fetches 8 MB from a local HTTP server
    // through the session, the way `docker pull` reaches the push registry.
    let body: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (port, h) = http_server(body.clone());
    let fwd = t
        .forward_remote(format!("127.0.0.1:{port}").parse().unwrap())
        .unwrap();
    let rport = fwd.addr().port();

    // Meanwhile a local forward to an echo service and other commands.
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let eport = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in echo.incoming() {
            let mut c = c.unwrap();
            std::thread::spawn(move || {
                let mut b = [0u8; 4096];
                while let Ok(n) = c.read(&mut b) {
                    if n == 0 || c.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let lf = t.forward_local("127.0.0.1", eport).unwrap();

    let t2 = t.clone();
    let pull = std::thread::spawn(move || {
        t2.run(
            &Cmd::shell(format!(
                "busybox wget -q -O - http://127.0.0.1:{rport}/ | sha256sum"
            )),
            &Emitter::null(),
        )
        .unwrap()
    });
    for i in 0..20 {
        let mut c = TcpStream::connect(lf.addr()).unwrap();
        let msg = format!("ping {i}\n");
        c.write_all(msg.as_bytes()).unwrap();
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, msg.as_bytes());
        let out = t.run(&Cmd::argv(["echo", "side"]), &em).unwrap();
        assert_eq!(out.stdout_str(), "side\n");
    }
    let out = pull.join().unwrap();
    h.join().unwrap();
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(&body));
    assert!(out.stdout_str().starts_with(&want), "{}", out.stdout_str());
    drop(fwd);
    drop(lf);
    // The session is still healthy after the forwards are gone.
    assert_eq!(t.run(&Cmd::argv(["true"]), &em).unwrap().status, 0);
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let sshd = Sshd::start();
    let opts = sshd.opts();
    // Unknown: an empty known_hosts.
    std::fs::write(sshd.path("empty_kh"), "").unwrap();
    let e = remote::connect(&sshd.server("empty_kh"), &Emitter::null(), &opts)
        .err()
        .unwrap();
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(sshd.path("hostkey.pub"))
        .output()
        .unwrap();
    let fp = String::from_utf8(fp.stdout).unwrap();
    let fp = fp.split_whitespace().nth(1).unwrap().to_string();
    match &e {
        RemoteError::UnknownHostKey { fingerprint, .. } => assert_eq!(*fingerprint, fp),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("arcane server trust tb1"), "{e}");

    // Changed: known_hosts holds another key for the same host and port.
    keygen(&sshd.path("other"));
    let other = std::fs::read_to_string(sshd.path("other.pub")).unwrap();
    let mut w = other.split_whitespace();
    std::fs::write(
        sshd.path("changed_kh"),
        format!(
            "[127.0.0.1]:{} {} {}\n",
            sshd.port,
            w.next().unwrap(),
            w.next().unwrap()
        ),
    )
    .unwrap();
    let e = remote::connect(&sshd.server("changed_kh"), &Emitter::null(), &opts)
        .err()
        .unwrap();
    assert!(matches!(e, RemoteError::HostKeyChanged { .. }), "{e}");
    assert!(e.to_string().contains("HOST KEY CHANGED"));

    // Hashed entries (ssh-keygen -H) are understood.
    std::fs::copy(sshd.path("known_hosts"), sshd.path("hashed_kh")).unwrap();
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(sshd.path("hashed_kh"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let hashed = std::fs::read_to_string(sshd.path("hashed_kh")).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    let t = remote::connect(&sshd.server("hashed_kh"), &Emitter::null(), &opts).unwrap();
    assert_eq!(
        t.run(&Cmd::argv(["true"]), &Emitter::null())
            .unwrap()
            .status,
        0
    );
}

#[test]
fn auth_failure_lists_what_was_tried() {
    let sshd = Sshd::start();
    keygen(&sshd.path("stranger"));
    let mut s = sshd.server("known_hosts");
    s.config.identity_file = Some(sshd.path("stranger"));
    let e = remote::connect(&s, &Emitter::null(), &sshd.opts())
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(matches!(e, RemoteError::Auth { .. }), "{msg}");
    assert!(msg.contains("stranger (rejected by the server)"), "{msg}");
    assert!(msg.contains("id_ed25519 (missing)"), "{msg}");
    // The agent is off in these options, so it is not among the attempts.
    assert!(!msg.contains("ssh-agent"), "{msg}");
}

#[test]
fn a_silent_server_fails_within_the_connect_timeout() {
    // Accepts TCP (the kernel backlog does) but never speaks SSH.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let sshd = Sshd::start();
    let mut s = sshd.server("known_hosts");
    s.config.port = Some(port);
    let mut opts = sshd.opts();
    opts.timeout = Duration::from_secs(1);
    let start = Instant::now();
    let e = remote::connect(&s, &Emitter::null(), &opts).err().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(e.to_string().contains("connect timeout"), "{e}");
    drop(l);
}

#[test]
fn ssh_config_aliases_are_honoured() {
    let sshd = Sshd::start();
    let opts = sshd.opts();
    let home = opts.home.clone().unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(
        home.join(".ssh/config"),
        format!(
            "Host tb-alias\n  HostName 127.0.0.1\n  Port {}\n  User root\n  IdentityFile {}\n",
            sshd.port,
            sshd.path("id_ed25519").display()
        ),
    )
    .unwrap();
    std::fs::copy(sshd.path("known_hosts"), home.join(".ssh/known_hosts")).unwrap();
    let s = Server {
        name: "aliased".into(),
        config: ServerConfig {
            host: "tb-alias".into(),
            user: None,
            port: None,
            identity_file: None,
            known_hosts: None,
            env: "staging".into(),
            roles: vec![],
            ..Default::default()
        },
    };
    let t = remote::connect(&s, &Emitter::null(), &opts).unwrap();
    let out = t.run(&Cmd::argv(["whoami"]), &Emitter::null()).unwrap();
    assert_eq!(out.stdout_str(), "root\n");
}

#[test]
fn many_concurrent_channels_on_one_session_stay_correct() {
    let sshd = Sshd::start();
    let t = sshd.connect();
    std::thread::scope(|s| {
        for i in 0..12 {
            let t = t.clone();
            s.spawn(move || {
                for j in 0..10 {
                    // stdin in, transformed output out, on stdout and stderr.
                    let input = format!("{i}-{j}-").repeat(2000);
                    let out = t
                        .run(
                            &Cmd::shell("tee /dev/stderr | wc -c").with_stdin(input.clone()),
                            &Emitter::null(),
                        )
                        .unwrap();
                    assert_eq!(out.stdout_str().trim(), input.len().to_string());
                    // (login scripts on this host may print to stderr first)
                    assert!(out.stderr_str().ends_with(&input));
                }
            });
        }
    });
}

#[test]
fn proxy_jump_tunnels_the_session_through_another() {
    let sshd = Sshd::start();
    let opts = sshd.opts();
    let home = opts.home.clone().unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    // The jump host is the same sshd: arcane connects to it, opens a
    // direct-tcpip channel to itself and runs a second session inside.
    std::fs::write(
        home.join(".ssh/config"),
        format!(
            "Host target\n  HostName 127.0.0.1\n  Port {p}\n  User root\n  ProxyJump jumpbox\n\
             Host jumpbox\n  HostName 127.0.0.1\n  Port {p}\n  User root\n\
             Host *\n  IdentityFile {k}\n",
            p = sshd.port,
            k = sshd.path("id_ed25519").display()
        ),
    )
    .unwrap();
    std::fs::copy(sshd.path("known_hosts"), home.join(".ssh/known_hosts")).unwrap();
    let s = Server {
        name: "behind".into(),
        config: ServerConfig {
            host: "target".into(),
            user: None,
            port: None,
            identity_file: None,
            known_hosts: None,
            env: "staging".into(),
            roles: vec![],
            ..Default::default()
        },
    };
    let t = remote::connect(&s, &Emitter::null(), &opts).unwrap();
    let out = t
        .run(&Cmd::shell("echo $SSH_CONNECTION"), &Emitter::null())
        .unwrap();
    // The inner session arrives from the jump host's own loopback.
    assert!(out.stdout_str().starts_with("127.0.0.1 "), "{out:?}");
    let big = vec![b'z'; 1_000_000];
    let out = t
        .run(&Cmd::argv(["wc", "-c"]).with_stdin(big), &Emitter::null())
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "1000000");
}

#[test]
fn a_command_that_exits_without_reading_stdin_still_reports_its_status() {
    let sshd = Sshd::start();
    let t = sshd.connect();
    let out = t
        .run(
            &Cmd::shell("echo early; exit 5").with_stdin(vec![b'x'; 8_000_000]),
            &Emitter::null(),
        )
        .unwrap();
    assert_eq!((out.status, out.stdout_str().as_str()), (5, "early\n"));
}

/// Set in the helper process of the test below: `DIR:PORT` of its sshd.
const HELPER_ENV: &str = "ARCANE_TEST_STREAM_HELPER";

/// Regression (the TUI's Logs follow over SSH): without a PTY, sshd sends
/// no signal when a channel or the connection closes, so a streamed
/// `docker logs -f` outlived an arcane that quit or was killed without
/// stopping it. Here a helper process (this test binary again) streams a
/// long command and is killed with SIGKILL: the command must die with it.
#[test]
fn a_streamed_command_dies_with_the_process_that_streamed_it() {
    if let Ok(spec) = std::env::var(HELPER_ENV) {
        return stream_helper(&spec);
    }
    let sshd = Sshd::start();
    sshd.connect(); // known_hosts and keys work
    let marker = format!("43.{}", std::process::id());
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_streamed_command_dies_with_the_process_that_streamed_it",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            HELPER_ENV,
            format!("{}:{}:{marker}", sshd.dir.path().display(), sshd.port),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
    let _kill = Kill(helper.id());
    let out = helper.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("helper: started"))),
        "the helper never started its stream"
    );
    let running = || {
        let o = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        !o.stdout.is_empty()
    };
    assert!(running(), "the streamed command is not running");
    unsafe { libc::kill(helper.id() as i32, libc::SIGKILL) };
    let _ = helper.wait();
    let start = Instant::now();
    while running() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the streamed command outlived the process that streamed it"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The helper: stream `sleep MARKER` for ever (until killed).
fn stream_helper(spec: &str) {
    let mut parts = spec.rsplitn(3, ':');
    let marker = parts.next().unwrap().to_string();
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(parts.next().unwrap());
    let server = Server {
        name: "tb1".into(),
        config: ServerConfig {
            host: "127.0.0.1".into(),
            user: Some("root".into()),
            port: Some(port),
            identity_file: Some(dir.join("id_ed25519")),
            known_hosts: Some(dir.join("known_hosts")),
            env: "staging".into(),
            roles: vec![],
            ..Default::default()
        },
    };
    let opts = ConnectOptions {
        home: Some(dir.join("home")),
        use_agent: false,
        ..Default::default()
    };
    let t = remote::connect(&server, &Emitter::null(), &opts).unwrap();
    struct Say;
    impl arcane::event::Sink for Say {
        fn emit(&self, e: Event) {
            if let Event::Log { line, .. } = e {
                println!("helper: {line}");
            }
        }
    }
    let never = || false;
    let _ = t.stream(
        &Cmd::shell(format!("echo started; sleep {marker}")),
        &Emitter::new(Arc::new(Say)),
        &never,
    );
}
