//! Real test servers for integration tests: a thin Rust face on
//! `tests/testbed/testbed` (see docs/testing.md).
//!
//! ```ignore
//! mod common;
//! use common::testbed::{testbed, testbed_exclusive};
//!
//! #[test]
//! fn deploys_to_two_servers() {
//!     let Some(tb) = testbed(3) else { return }; // skipped: not root / no netns
//!     let out = tb.ssh("srv1", "docker ps");
//!     assert!(out.status.success());
//! }
//!
//! #[test]
//! fn survives_a_lost_server() {
//!     let Some(tb) = testbed_exclusive(3) else { return };
//!     tb.cut("srv2"); // links are restored and unshaped when `tb` drops
//! }
//! ```
//!
//! * One testbed per test binary, brought up by the first call and shared by
//!   every test in that binary. It is torn down when the binary exits, even on
//!   a panic, abort or kill: a watchdog process (its own process group) waits
//!   for EOF on a pipe only this process holds, then runs `testbed down`.
//! * Test binaries run in parallel under `cargo test`; each gets its own
//!   directory and `testbed up` claims a free slot under a machine-wide lock,
//!   so their namespace names and addresses (10.(77+slot).K.2) never clash.
//! * If `ARCANE_TESTBED_DIR` names a running testbed with enough servers, it
//!   is used as is and left running.
//! * Tests sharing a testbed run on parallel threads. [`testbed`] holds a
//!   shared lock, [`testbed_exclusive`] an exclusive one (flock on the
//!   testbed's `lock` file, so this also holds across processes sharing an
//!   `ARCANE_TESTBED_DIR` testbed): take the exclusive one to cut or shape.
//! * Skips (returns `None` with a message on stderr) only when not root or
//!   network namespaces are unavailable, and never when `CI` is set: then it
//!   panics, as it does whenever a capable machine fails to bring it up.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// One test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `srv1`, `srv2`, ...: the name in `servers.toml` and `ssh_config`.
    pub name: String,
    /// Its address (what `servers.toml` and `known_hosts` use).
    pub ip: String,
    /// The host's address on the server's link (how the server reaches us).
    pub host_ip: String,
    /// The server's Docker engine as seen from the host (`unix://...`), for
    /// checks that bypass SSH.
    pub docker_host: String,
}

/// A running testbed.
#[derive(Debug)]
pub struct Testbed {
    /// The testbed directory (state, keys, client files, per-server logs).
    pub dir: PathBuf,
    pub servers: Vec<Server>,
    /// `ssh -F <ssh_config> srv1 ...` reaches srv1 as root.
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    /// Client private key (ed25519, no passphrase) authorized on every server.
    pub key: PathBuf,
    /// An arcane `servers.toml` listing every server and a group `all`.
    pub servers_toml: PathBuf,
    /// The slot `testbed up` claimed (addresses are 10.(77+slot).K.2).
    pub slot: u32,
    /// Whether this process started it (and so tears it down at exit).
    pub owned: bool,
}

/// Path of the `testbed` script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed")
}

/// Shared use of the testbed for one test; derefs to [`Testbed`].
pub struct TestbedGuard {
    tb: &'static Testbed,
    exclusive: bool,
    _lock: File,
}

impl std::ops::Deref for TestbedGuard {
    type Target = Testbed;
    fn deref(&self) -> &Testbed {
        self.tb
    }
}

impl TestbedGuard {
    /// The testbed itself, e.g. to move into threads.
    pub fn testbed(&self) -> &'static Testbed {
        self.tb
    }
}

impl Drop for TestbedGuard {
    fn drop(&mut self) {
        if self.exclusive {
            // Leave the network as the next test expects it, even after a
            // failed assertion.
            for s in &self.tb.servers {
                let _ = self.tb.run_script(&["restore", &s.name]);
                let _ = self.tb.run_script(&["unshape", &s.name]);
            }
        }
        // The flock is released when `_lock` closes.
    }
}

/// A testbed with at least `n` servers, for a test that does not disturb
/// the network (see [`testbed_exclusive`]). `None` means "skip this test"
/// (a message has been printed).
pub fn testbed(n: usize) -> Option<TestbedGuard> {
    acquire(n, &[], false)
}

/// Like [`testbed`], but no other test uses the testbed meanwhile; on drop
/// every server's link is restored and unshaped.
pub fn testbed_exclusive(n: usize) -> Option<TestbedGuard> {
    acquire(n, &[], true)
}

/// [`testbed`] brought up with more `testbed up` options, e.g.
/// `["--bare", "--os", "srv5=alpine:3.20"]`. Every test of a binary must
/// pass the same ones (the first call brings it up). Such a testbed is
/// always private: a running `ARCANE_TESTBED_DIR` one is not reused, as
/// tests change bare servers for good.
pub fn testbed_with(n: usize, opts: &[&str]) -> Option<TestbedGuard> {
    acquire(n, opts, false)
}

/// [`testbed_exclusive`] with `testbed up` options (see [`testbed_with`]).
pub fn testbed_exclusive_with(n: usize, opts: &[&str]) -> Option<TestbedGuard> {
    acquire(n, opts, true)
}

fn acquire(n: usize, opts: &[&str], exclusive: bool) -> Option<TestbedGuard> {
    let tb = shared(n, opts)?;
    let lock = OpenOptions::new()
        .create(true)
        .append(true)
        .open(tb.dir.join("lock"))
        .unwrap_or_else(|e| panic!("testbed: cannot open {}/lock: {e}", tb.dir.display()));
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock on a file descriptor we own.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), op) };
    assert_eq!(rc, 0, "testbed: flock: {}", std::io::Error::last_os_error());
    Some(TestbedGuard {
        tb,
        exclusive,
        _lock: lock,
    })
}

/// The binary's testbed: `Ok(None)` means skip, `Err` why bringing it up
/// failed (so every test reports it, without retrying).
static TESTBED: OnceLock<Result<Option<Testbed>, String>> = OnceLock::new();
/// The watchdog, holding the write end of its stdin pipe: never dropped,
/// closed by the kernel at exit, which is the watchdog's signal to tear down.
static WATCHDOG: Mutex<Option<Child>> = Mutex::new(None);

fn shared(n: usize, opts: &[&str]) -> Option<&'static Testbed> {
    let tb = TESTBED
        .get_or_init(|| {
            std::panic::catch_unwind(|| bring_up(n, opts)).map_err(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "testbed: bringing it up panicked".into())
            })
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_ref()?;
    assert!(
        tb.servers.len() >= n,
        "testbed: this test binary's testbed has {} server(s) but a test asked for {n}; \
         call testbed() with the largest count first (or the same count everywhere)",
        tb.servers.len()
    );
    Some(tb)
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn say(msg: &str) {
    // Straight to stderr: the test harness captures eprintln!, and a skip
    // must be visible.
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Why this machine cannot run a testbed, if it cannot.
fn unsupported() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (network namespaces need root)".into());
    }
    let ok = Command::new("unshare")
        .args(["--net", "--mount", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some("cannot create network namespaces here (`unshare --net` failed)".into());
    }
    if !Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("`ip netns` is not available (install iproute2)".into());
    }
    None
}

fn bring_up(n: usize, opts: &[&str]) -> Option<Testbed> {
    if let Some(why) = unsupported() {
        if in_ci() {
            panic!("testbed: CI is set but the testbed cannot run: {why}");
        }
        say(&format!(
            "SKIPPED (testbed): {why}. Run as root on Linux, see docs/testing.md."
        ));
        return None;
    }

    if let Some(dir) =
        std::env::var_os("ARCANE_TESTBED_DIR").filter(|d| !d.is_empty() && opts.is_empty())
    {
        let dir = PathBuf::from(dir);
        match Testbed::attach(&dir) {
            Ok(tb) if tb.servers.len() >= n && tb.healthy() => {
                say(&format!(
                    "testbed: using the running testbed in {} ({} servers)",
                    dir.display(),
                    tb.servers.len()
                ));
                return Some(tb);
            }
            Ok(tb) if tb.servers.len() < n => say(&format!(
                "testbed: {} has {} server(s), {n} needed: starting a private one",
                dir.display(),
                tb.servers.len()
            )),
            _ => say(&format!(
                "testbed: no healthy testbed in ARCANE_TESTBED_DIR={}: starting a private one",
                dir.display()
            )),
        }
    }

    let dir = std::env::temp_dir().join(format!(
        "arcane-testbed-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("testbed: cannot create {}: {e}", dir.display()));

    // The watchdog first, so that even a failing `up` is cleaned up.
    start_watchdog(&dir);

    let t0 = Instant::now();
    let out = Command::new(script())
        .args(["up", &n.to_string(), "--dir"])
        .arg(&dir)
        .args(opts)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("testbed: cannot run {}: {e}", script().display()));
    if !out.status.success() {
        panic!(
            "testbed: `testbed up {n} {}` failed ({}) (run scripts/setup-host.sh first?)\n\
             --- stdout\n{}\n--- stderr\n{}",
            opts.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut tb = Testbed::attach(&dir).unwrap_or_else(|e| panic!("testbed: {e}"));
    tb.owned = true;
    say(&format!(
        "testbed: {n} server(s) up in {:.1}s in {} (slot {})",
        t0.elapsed().as_secs_f64(),
        dir.display(),
        tb.slot
    ));
    Some(tb)
}

/// A process in its own process group (so a Ctrl-C to the test run does not
/// reach it) that tears the testbed down once this process is gone: it blocks
/// reading a pipe whose write end only this process holds.
fn start_watchdog(dir: &Path) {
    let log = std::env::temp_dir().join("arcane-testbed-watchdog.log");
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"read _ignored; exec "$0" down --dir "$1" >>"$2" 2>&1"#)
        .arg(script())
        .arg(dir)
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("testbed: cannot start the teardown watchdog: {e}"));
    // Rust opens pipes close-on-exec, so no other child inherits this end.
    *WATCHDOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
}

impl Testbed {
    /// Reads the state of the testbed in `dir` (written by `testbed up`).
    pub fn attach(dir: &Path) -> Result<Testbed, String> {
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let state_path = dir.join("state");
        let text = std::fs::read_to_string(&state_path)
            .map_err(|e| format!("{}: {e}", state_path.display()))?;
        let get = |key: &str| -> Result<String, String> {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_string())
                .ok_or_else(|| format!("{}: no {key}", state_path.display()))
        };
        if get("TB_VERSION")? != "1" {
            return Err(format!("{}: unknown state format", state_path.display()));
        }
        if get("TB_STATUS")? != "up" {
            return Err(format!("{}: testbed is not up", state_path.display()));
        }
        let slot: u32 = get("TB_SLOT")?
            .parse()
            .map_err(|_| format!("{}: bad TB_SLOT", state_path.display()))?;
        let run = get("TB_RUN")?;
        let mut servers = vec![];
        for entry in get("TB_SERVERS")?.split_whitespace() {
            let (name, ip) = entry
                .split_once('=')
                .ok_or_else(|| format!("{}: bad TB_SERVERS", state_path.display()))?;
            let host_ip = match ip.rsplit_once('.') {
                Some((net, _)) => format!("{net}.1"),
                None => return Err(format!("{}: bad address {ip}", state_path.display())),
            };
            servers.push(Server {
                name: name.to_string(),
                ip: ip.to_string(),
                host_ip,
                docker_host: format!("unix://{run}/{name}/sock/docker.sock"),
            });
        }
        Ok(Testbed {
            ssh_config: dir.join("ssh_config"),
            known_hosts: dir.join("known_hosts"),
            key: dir.join("id_ed25519"),
            servers_toml: dir.join("servers.toml"),
            dir,
            servers,
            slot,
            owned: false,
        })
    }

    /// Whether `testbed status` finds every server alive.
    pub fn healthy(&self) -> bool {
        self.run_script(&["status", "--quiet"])
            .is_ok_and(|o| o.status.success())
    }

    /// The server called `name`; panics if there is none.
    pub fn server(&self, name: &str) -> &Server {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("testbed: no server {name:?}"))
    }

    /// `name`'s address.
    pub fn ip(&self, name: &str) -> &str {
        &self.server(name).ip
    }

    /// Runs `sh -c cmd` on server `name` directly (in its namespaces, with
    /// its Docker engine), without SSH.
    pub fn exec(&self, name: &str, cmd: &str) -> Output {
        self.server(name);
        self.run_script(&["exec", name, "--", "sh", "-c", cmd])
            .unwrap_or_else(|e| panic!("testbed exec: {e}"))
    }

    /// A `ssh` command for server `name` with the testbed's client config;
    /// add the remote command with `.arg(...)`.
    pub fn ssh_command(&self, name: &str) -> Command {
        self.server(name);
        let mut c = Command::new("ssh");
        c.arg("-F").arg(&self.ssh_config).arg(name);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `cmd` on server `name` over real SSH.
    pub fn ssh(&self, name: &str, cmd: &str) -> Output {
        self.ssh_command(name)
            .arg(cmd)
            .output()
            .unwrap_or_else(|e| panic!("testbed: cannot run ssh: {e}"))
    }

    /// Takes `name`'s link down (host side): connects fail with "no route".
    pub fn cut(&self, name: &str) {
        self.must(&["cut", name]);
    }

    /// Silently drops all of `name`'s IP traffic: connects time out.
    pub fn cut_drop(&self, name: &str) {
        self.must(&["cut", name, "--drop"]);
    }

    /// Undoes [`Testbed::cut`] / [`Testbed::cut_drop`].
    pub fn restore(&self, name: &str) {
        self.must(&["restore", name]);
    }

    /// Limits `name`'s link both ways to `rate` (tc units: "50mbit").
    /// `delay` ("20ms") needs sch_netem, which some kernels lack: then only
    /// the rate is applied (with a warning on stderr).
    pub fn shape(&self, name: &str, rate: &str, delay: Option<&str>) {
        let mut args = vec!["shape", name, rate];
        args.extend(delay);
        self.must(&args);
    }

    /// Removes [`Testbed::shape`]'s limits.
    pub fn unshape(&self, name: &str) {
        self.must(&["unshape", name]);
    }

    /// `testbed status` output (for failure messages).
    pub fn status(&self) -> String {
        match self.run_script(&["status"]) {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(e) => e,
        }
    }

    fn must(&self, args: &[&str]) {
        let out = self
            .run_script(args)
            .unwrap_or_else(|e| panic!("testbed {args:?}: {e}"));
        assert!(
            out.status.success(),
            "testbed {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn run_script(&self, args: &[&str]) -> Result<Output, String> {
        // `testbed COMMAND --dir DIR ARGS...`: --dir must come before any `--`.
        let (cmd, rest) = args.split_first().expect("a testbed command");
        Command::new(script())
            .arg(cmd)
            .arg("--dir")
            .arg(&self.dir)
            .args(rest)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))
    }
}
