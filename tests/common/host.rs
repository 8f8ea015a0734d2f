//! What a test makes on this machine's Docker engine, removed when the test
//! ends, also when it fails: a guard is declared before the first thing it
//! covers is made, and its `Drop` runs during a panic's unwinding.
//!
//! Everything is removed by exact name or by its app's label, never by a
//! broad pattern, so tests running in parallel (and other users of the
//! engine) never lose each other's resources. `scripts/host-leaks.sh` checks
//! at the end of `scripts/test.sh` that nothing was left.
//!
//! ```ignore
//! let _host = HostCleanup::new().app(&app);        // arcane deployed `app` here
//! let _host = HostCleanup::new().image("t:1");     // the test built t:1
//! let _proxy = HostProxy::acquire();               // declared first, dropped last
//! ```
#![allow(dead_code)]

use std::fs::File;
use std::process::Command;

/// Removes, on drop, what arcane made for some apps and the containers and
/// images a test made itself.
#[derive(Debug, Default)]
pub struct HostCleanup {
    apps: Vec<String>,
    containers: Vec<String>,
    images: Vec<String>,
    dirs: Vec<std::path::PathBuf>,
}

impl HostCleanup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything arcane makes for app `name` on this engine: containers
    /// (app, hook, accessory and smoke containers all carry
    /// `arcane.app=<name>`, smoke ones through their image), images labelled
    /// or named `<name>` / `<name>-<service>`, its networks (`<name>-<env>`,
    /// labelled, and compose's `<name>-<env>_default`) and volumes.
    pub fn app(mut self, name: &str) -> Self {
        self.apps.push(name.to_string());
        self
    }

    /// A container the test ran itself, by name or ID.
    pub fn container(mut self, name: &str) -> Self {
        self.containers.push(name.to_string());
        self
    }

    /// An image reference (`repo:tag`) the test built or tagged itself.
    pub fn image(mut self, reference: &str) -> Self {
        self.images.push(reference.to_string());
        self
    }

    /// A directory the test's deploys write outside its temporary dirs (the
    /// local target's `~/.arcane/<app>` when `$HOME` is not isolated).
    pub fn dir(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.dirs.push(path.into());
        self
    }

    /// Remove everything now (also what `Drop` does; running it twice is
    /// harmless).
    pub fn run(&self) {
        let mut containers = self.containers.clone();
        let mut images = self.images.clone();
        let mut networks = vec![];
        let mut volumes = vec![];
        for app in &self.apps {
            let label = format!("label=arcane.app={app}");
            containers.extend(lines(&["ps", "-aq", "--no-trunc", "--filter", &label]));
            images.extend(lines(&[
                "image",
                "ls",
                "-q",
                "--no-trunc",
                "--filter",
                &label,
            ]));
            images.extend(
                lines(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
                    .into_iter()
                    .filter(|r| owned_by(app, r.split(':').next().unwrap_or(""))),
            );
            networks.extend(lines(&["network", "ls", "-q", "--filter", &label]));
            networks.extend(
                lines(&["network", "ls", "--format", "{{.Name}}"])
                    .into_iter()
                    .filter(|n| owned_by(app, n) && n.ends_with("_default")),
            );
            volumes.extend(lines(&["volume", "ls", "-q", "--filter", &label]));
        }
        // Containers first: a network, an image or a volume in use stays.
        remove(&["rm", "-f", "-v"], &containers);
        remove(&["network", "rm"], &networks);
        remove(&["volume", "rm", "-f"], &volumes);
        remove(&["image", "rm", "-f"], &images);
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for HostCleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// `name` is `app` itself or `app-<something>` (images of compose services,
/// networks of envs). App names in tests end with the process ID, so
/// `app-` never starts another test's app name.
fn owned_by(app: &str, name: &str) -> bool {
    name == app || name.strip_prefix(app).is_some_and(|r| r.starts_with('-'))
}

/// The lines of a docker command's output (none if it fails).
fn lines(args: &[&str]) -> Vec<String> {
    match Command::new("docker").args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        _ => vec![],
    }
}

fn remove(cmd: &[&str], what: &[String]) {
    let mut what = what.to_vec();
    what.sort();
    what.dedup();
    if what.is_empty() {
        return;
    }
    let out = Command::new("docker").args(cmd).args(&what).output();
    if let Ok(o) = out {
        let err = String::from_utf8_lossy(&o.stderr);
        // Already gone is fine; anything else is worth seeing in the log.
        if !o.status.success() && !err.contains("No such") && !err.contains("not found") {
            eprintln!("host cleanup: docker {} {what:?}: {err}", cmd.join(" "));
        }
    }
}

/// The machine-wide lock of the tests that use this engine's one
/// `arcane-proxy` (its name and ports 80/443 are per engine).
pub const PROXY_LOCK: &str = "/tmp/arcane-proxy-host-test.lock";

/// Exclusive use of the host's proxy for one test. On drop it removes the
/// proxy container, network and volumes that did not exist when it was
/// acquired, then releases the lock: a proxy the user already ran is left as
/// it was, and one a test booted does not outlive the test.
///
/// Declare it before the test's [`HostCleanup`]s, so their app containers
/// (attached to the `arcane` network) go first.
pub struct HostProxy {
    _lock: File,
    made: Vec<(&'static str, &'static str)>,
}

/// What the proxy is made of: (docker object kind, name).
const PROXY_PARTS: [(&str, &str); 4] = [
    ("container", arcane::proxy::CONTAINER),
    ("network", arcane::proxy::NETWORK),
    ("volume", arcane::proxy::docker::DATA_VOLUME),
    ("volume", arcane::proxy::docker::CONFIG_VOLUME),
];

impl HostProxy {
    pub fn acquire() -> HostProxy {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PROXY_LOCK)
            .unwrap();
        // SAFETY: flock on a valid fd, which the returned File keeps open.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
        let made = PROXY_PARTS
            .into_iter()
            .filter(|(kind, name)| !exists(kind, name))
            .collect();
        HostProxy { _lock: lock, made }
    }
}

impl Drop for HostProxy {
    fn drop(&mut self) {
        for (kind, name) in &self.made {
            let rm: &[&str] = match *kind {
                "container" => &["rm", "-f", "-v"],
                "network" => &["network", "rm"],
                _ => &["volume", "rm", "-f"],
            };
            if exists(kind, name) {
                remove(rm, &[name.to_string()]);
            }
        }
    }
}

fn exists(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a closure when dropped: cleanup that needs the test's own values
/// (a transport, a proxy handle) and must happen also after a panic.
pub struct Defer<F: FnMut()>(F);

impl<F: FnMut()> Defer<F> {
    pub fn new(f: F) -> Self {
        Defer(f)
    }
}

impl<F: FnMut()> Drop for Defer<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
