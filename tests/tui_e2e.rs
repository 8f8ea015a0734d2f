//! The dashboard end to end: the real binary in a real terminal (tmux, which
//! answers the cursor-position query a bare PTY would leave hanging), driven
//! with `send-keys` and read with `capture-pane`, polling until text appears.
//!
//! It deploys the hello example to the `local` target (this machine's Docker
//! engine, no SSH) from the Deploy tab, and checks the success state, the
//! new release in the Releases tab and the Overview, plus the help overlay,
//! the typed confirmation for production, the command log and quitting.

mod common {
    pub mod host;
    pub mod testbed;
}

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(tag: &str, dir: &Path, shell_cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("arcane-tui-e2e-{}-{tag}", std::process::id()),
        };
        let st = Command::new("tmux")
            .args(["-L", &t.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "100", "-y", "30", "-s", "main", "-c"])
            .arg(dir)
            .arg(shell_cmd)
            .status()
            .expect("tmux must be installed");
        assert!(st.success(), "tmux new-session failed");
        t
    }

    fn send(&self, keys: &[&str]) {
        let st = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "main"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "main"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Poll until `text` is on screen; panic with the screen after `secs`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > end {
                panic!("{text:?} did not appear within {secs}s; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The hello example as its own git repo, under a unique app name so the
/// test's containers never meet another test's.
fn hello_project(root: &Path, app: &str) -> PathBuf {
    let dir = root.join("hello");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello"),
        &dir,
    );
    let toml = std::fs::read_to_string(dir.join("arcane.toml")).unwrap();
    // Published on a free loopback port, so no other app on this machine
    // (or another run of this test) is in the way.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("arcane.toml"),
        toml.replace("name = \"hello\"", &format!("name = \"{app}\""))
            .replace(
                "[deploy]\n",
                &format!("[deploy]\npublish = \"127.0.0.1:{port}\"\n"),
            )
            // Production runs on this machine too: its own port, or the two
            // envs would clash (and arcane refuses that).
            .replace(
                "protected = true",
                &format!("protected = true\npublish = \"127.0.0.1:{}\"", port + 1),
            ),
    )
    .unwrap();
    // A production server too (this machine again), so a production deploy
    // gets as far as its confirmation.
    let servers = std::fs::read_to_string(dir.join("config/servers.toml")).unwrap();
    std::fs::write(
        dir.join("config/servers.toml"),
        format!("{servers}\n[servers.prodbox]\nhost = \"local\"\nenv = \"production\"\n"),
    )
    .unwrap();
    sh(
        &dir,
        "git init -q . && git add -A && git -c user.name=e2e -c user.email=e2e@example.invalid commit -qm 'hello for the dashboard test'",
    );
    dir
}

/// The binary under test. `ARCANE_E2E_BIN` overrides it for machines where
/// several worktrees share one cargo target dir (and so one
/// `target/debug/arcane`, which another build may have replaced).
fn binary() -> String {
    std::env::var("ARCANE_E2E_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_arcane").to_string())
}

fn launch(tag: &str, root: &Path, dir: &Path) -> Tmux {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let cmd = format!(
        "env HOME={home} XDG_CONFIG_HOME={home}/.config {bin}; echo EXITED:$?; sleep 600",
        home = home.display(),
        bin = binary(),
    );
    Tmux::start(tag, dir, &cmd)
}

#[test]
fn dashboard_deploys_staging_to_the_local_target_end_to_end() {
    // The base image the example builds FROM; idempotent and offline.
    sh(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "tests/testbed/images.sh seed -q",
    );
    let tmp = tempfile::tempdir().unwrap();
    let app = format!("tuie2e{}", std::process::id());
    // Its containers, image and network on this engine, however it ends.
    let _cleanup = common::host::HostCleanup::new().app(&app);
    let dir = hello_project(tmp.path(), &app);
    let tmux = launch("deploy", tmp.path(), &dir);

    // Opens on the Overview with the tab bar and the local server.
    tmux.wait_for("1 Overview", 10);
    tmux.wait_for("local", 10);
    // The local probe answers with Docker's version.
    tmux.wait_for("20.", 30);

    // Help overlay from the keymap, closed with Esc.
    tmux.send(&["?"]);
    tmux.wait_for("Keys (Esc closes)", 5);
    tmux.send(&["Escape"]);
    wait_until(&tmux, "the help overlay to close", 5, |s| {
        !s.contains("Keys (Esc closes)") && s.contains("Servers (2)")
    });

    // Tabs switch with numbers and Tab.
    tmux.send(&["7"]);
    tmux.wait_for("hello for the dashboard test", 10);
    tmux.send(&["Tab"]);
    tmux.wait_for("Theme", 5);

    // Deploy tab: production asks for its name to be typed, once (the
    // deploy itself asks); Esc backs out and nothing is deployed.
    tmux.send(&["2"]);
    tmux.wait_for("Target", 5);
    tmux.send(&["k"]);
    tmux.wait_for("> env production", 5);
    tmux.send(&["d"]);
    let ask = tmux.wait_for("Type production", 5);
    assert!(
        !ask.contains("--yes"),
        "no CLI wording in the dialog:\n{ask}"
    );
    tmux.send(&["Escape"]);
    tmux.wait_for("not confirmed", 10);
    tmux.send(&["j"]);
    tmux.wait_for("> env staging", 5);

    // Plan preview (the dry run), then deploy with confirmation.
    tmux.send(&["p"]);
    tmux.wait_for("Dry run: nothing was changed.", 120);
    tmux.send(&["d"]);
    tmux.wait_for("Deploy env staging?", 5);
    tmux.send(&["y"]);
    let done = tmux.wait_for("✓ deployed env staging", 180);
    assert!(done.contains("✓health"), "step list shows health:\n{done}");
    let version = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "--short=7", "HEAD"])
            .current_dir(&dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    assert!(done.contains(&version), "summary names {version}:\n{done}");

    // The command log shows what ran.
    tmux.send(&["c"]);
    tmux.wait_for("Command log", 5);
    tmux.wait_for("$ docker", 5);
    tmux.send(&["c"]);

    // The new release is live in Releases and on the Overview.
    tmux.send(&["5"]);
    let rel = tmux.wait_for(" live ", 30);
    assert!(rel.contains(&version), "{rel}");
    tmux.send(&["1"]);
    tmux.wait_for(&version, 30);

    // q quits at once when no deploy runs.
    tmux.send(&["q"]);
    tmux.wait_for("EXITED:0", 10);
}

#[test]
fn a_terminal_too_small_gets_a_message_and_resizing_back_works() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    std::fs::create_dir_all(dir.join("config/envs")).unwrap();
    std::fs::write(dir.join("arcane.toml"), "[app]\nname = \"tiny\"\n").unwrap();
    std::fs::write(
        dir.join("config/servers.toml"),
        "[servers.gone]\nhost = \"127.0.0.1\"\nport = 1\nenv = \"staging\"\n",
    )
    .unwrap();
    let tmux = launch("small", tmp.path(), &dir);
    tmux.wait_for("1 Overview", 10);
    // A closed port is unreachable, and says so without blocking anything.
    tmux.wait_for("unreachable", 15);
    let resize = |w: &str, h: &str| {
        Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "resize-window",
                "-t",
                "main",
                "-x",
                w,
                "-y",
                h,
            ])
            .status()
            .unwrap()
    };
    resize("20", "5");
    tmux.wait_for("Terminal too small", 5);
    resize("100", "30");
    tmux.wait_for("1 Overview", 5);
    tmux.send(&["C-c"]);
    tmux.wait_for("EXITED:0", 10);
}

/// A project of the hello example whose servers are testbed servers srv1
/// and srv2 (real sshd and dockerd each, host keys checked).
fn testbed_project(tb: &common::testbed::Testbed, root: &Path, app: &str) -> PathBuf {
    let dir = hello_project(root, app);
    let servers = std::fs::read_to_string(&tb.servers_toml).unwrap();
    let mut mine = String::new();
    for block in servers.split("\n[").filter(|b| !b.trim().is_empty()) {
        let block = block.trim_start_matches('[');
        if block.starts_with("servers.srv1]") || block.starts_with("servers.srv2]") {
            mine.push('[');
            mine.push_str(block.trim_end());
            mine.push_str("\n\n");
        }
    }
    assert!(mine.contains("srv1") && mine.contains("srv2"), "{servers}");
    std::fs::write(dir.join("config/servers.toml"), &mine).unwrap();
    sh(
        &dir,
        "git add -A && git -c user.name=e2e -c user.email=e2e@example.invalid commit -qm 'testbed servers'",
    );
    dir
}

/// Poll until `pred` holds for the screen.
fn wait_until(tmux: &Tmux, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = tmux.capture();
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < end, "{what} within {secs}s; screen:\n{s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn row<'a>(screen: &'a str, server: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(&format!(" {server} ")))
        .unwrap_or("")
}

/// Real servers over SSH: both show up reachable with their Docker version;
/// after one link is cut, a refresh shows it unreachable while input keeps
/// working.
#[test]
fn dashboard_shows_testbed_servers_and_a_cut_one_unreachable() {
    let Some(tb) = common::testbed::testbed_exclusive(2) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let app = format!("tuitb{}", std::process::id());
    let dir = testbed_project(&tb, tmp.path(), &app);
    let tmux = launch("testbed", tmp.path(), &dir);
    tmux.wait_for("1 Overview", 10);
    wait_until(&tmux, "both servers reachable", 60, |s| {
        ["srv1", "srv2"]
            .iter()
            .all(|n| row(s, n).contains("✓") && row(s, n).contains("20."))
    });
    // The command log shows the SSH connection and the status queries.
    tmux.send(&["c"]);
    tmux.wait_for("$ ssh root@", 5);
    tmux.send(&["c"]);

    tb.cut("srv2");
    tmux.send(&["r"]);
    // Input keeps working while the dead server's probe is outstanding.
    tmux.send(&["?"]);
    tmux.wait_for("Keys (Esc closes)", 5);
    tmux.send(&["Escape"]);
    wait_until(&tmux, "srv2 unreachable, srv1 still up", 30, |s| {
        row(s, "srv2").contains("✗") && row(s, "srv1").contains("✓")
    });
    tmux.send(&["q"]);
    tmux.wait_for("EXITED:0", 10);
}

/// The full flow on real servers: deploy staging to srv1 and srv2 from the
/// Deploy tab and see the release live on both.
#[test]
fn dashboard_deploys_to_testbed_servers() {
    let Some(tb) = common::testbed::testbed_exclusive(2) else {
        return;
    };
    sh(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "tests/testbed/images.sh seed -q",
    );
    let tmp = tempfile::tempdir().unwrap();
    let app = format!("tuitbd{}", std::process::id());
    // The image is built on this machine: remove it here too.
    let _host = common::host::HostCleanup::new().app(&app);
    let dir = testbed_project(&tb, tmp.path(), &app);
    let tmux = launch("testbed-deploy", tmp.path(), &dir);
    tmux.wait_for("1 Overview", 10);
    tmux.send(&["2"]);
    tmux.wait_for("> env staging", 5);
    tmux.send(&["d"]);
    tmux.wait_for("Deploy env staging?", 5);
    tmux.send(&["y"]);
    let done = wait_until(&tmux, "the deploy to finish", 300, |s| {
        s.contains("✓ deployed env staging") || s.contains("✗ env staging failed")
    });
    for name in ["srv1", "srv2"] {
        let _ = tb.ssh(
            name,
            &format!("docker ps -aq --filter label=arcane.app={app} | xargs -r docker rm -f"),
        );
    }
    assert!(done.contains("✓ deployed env staging"), "{done}");
    let version = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "--short=7", "HEAD"])
            .current_dir(&dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    tmux.send(&["1"]);
    wait_until(&tmux, "the release live on both servers", 60, |s| {
        row(s, "srv1").contains(&version) && row(s, "srv2").contains(&version)
    });
    tmux.send(&["5"]);
    tmux.wait_for(" live ", 30);
    tmux.send(&["q"]);
    tmux.wait_for("EXITED:0", 10);
}

/// The `docker logs` processes following `container` on this machine (the
/// `sh` wrappers around them carry the id too, so only argv[0] counts).
fn log_followers(container: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let Ok(c) = std::fs::read(e.path().join("cmdline")) else {
                return false;
            };
            let argv: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            argv.first().is_some_and(|a| a.ends_with(b"docker"))
                && argv.contains(&&b"logs"[..])
                && argv.contains(&container.as_bytes())
        })
        .count()
}

fn wait_followers(container: &str, want: usize, secs: u64) {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let n = log_followers(container);
        if n == want {
            return;
        }
        assert!(
            Instant::now() < end,
            "{n} `docker logs` of {container} running, want {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The pid of the arcane running in `dir` (the dashboard under tmux).
fn arcane_in(dir: &Path) -> Option<i32> {
    let bin = std::fs::canonicalize(binary()).ok()?;
    let dir = std::fs::canonicalize(dir).ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(e.path().join("exe")).ok()?;
        let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
        (exe == bin && cwd == dir).then_some(pid)
    })
}

/// Regression (issue 16): in the Logs tab `s` did not stop following, each
/// Enter added another `docker logs -f` (lines showed two or three times),
/// and `q` left them all running. Counted here at the process level on
/// this machine's Docker: a follower dies with its view and with arcane,
/// even an arcane killed with SIGKILL.
#[test]
fn logs_followers_die_with_their_view_and_with_arcane() {
    sh(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "tests/testbed/images.sh seed -q",
    );
    let tmp = tempfile::tempdir().unwrap();
    let app = format!("tuilogs{}", std::process::id());
    let _cleanup = common::host::HostCleanup::new().app(&app);
    let dir = tmp.path().join("p");
    std::fs::create_dir_all(dir.join("config/envs")).unwrap();
    std::fs::write(
        dir.join("arcane.toml"),
        format!("[app]\nname = \"{app}\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("config/servers.toml"),
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n",
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["run", "-d", "--label", &format!("arcane.app={app}")])
        .args([
            "--label",
            "arcane.env=staging",
            "--label",
            "arcane.service=web",
        ])
        .args(["--label", "arcane.version=v1", "busybox:stable", "sh", "-c"])
        .arg("echo booted; while sleep 1; do echo tick; done")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let tmux = launch("logs", tmp.path(), &dir);
    tmux.wait_for("1 Overview", 10);
    tmux.send(&["6"]);
    tmux.wait_for("local/web", 30);
    tmux.send(&["Enter"]);
    tmux.wait_for("booted", 30);
    wait_followers(&id, 1, 10);

    // Enter again replaces the follower: one process, each line once.
    tmux.send(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let s = tmux.wait_for("booted", 30);
    wait_followers(&id, 1, 10);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(log_followers(&id), 1);
    let s2 = tmux.capture();
    assert_eq!(s2.matches("booted").count(), 1, "{s}\n---\n{s2}");

    // s stops.
    tmux.send(&["s"]);
    tmux.wait_for("⏎ follows the selected container", 5);
    wait_followers(&id, 0, 10);

    // Leaving the tab stops.
    tmux.send(&["Enter"]);
    wait_followers(&id, 1, 30);
    tmux.send(&["1"]);
    wait_followers(&id, 0, 10);

    // Quitting stops, before arcane is gone.
    tmux.send(&["6"]);
    tmux.wait_for("local/web", 30);
    tmux.send(&["Enter"]);
    wait_followers(&id, 1, 30);
    tmux.send(&["q"]);
    tmux.wait_for("EXITED:0", 10);
    assert_eq!(log_followers(&id), 0, "a follower outlived arcane");
    drop(tmux);

    // An arcane killed outright takes its follower with it too.
    let tmux = launch("logs-kill", tmp.path(), &dir);
    tmux.wait_for("1 Overview", 10);
    tmux.send(&["6"]);
    tmux.wait_for("local/web", 30);
    tmux.send(&["Enter"]);
    wait_followers(&id, 1, 30);
    let pid = arcane_in(&dir).expect("the dashboard's pid");
    // SAFETY: kill(2) on the arcane this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    tmux.wait_for("EXITED:137", 10);
    wait_followers(&id, 0, 10);
}
