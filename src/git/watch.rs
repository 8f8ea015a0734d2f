//! The file watcher behind `arcane git watch`: inotify (through `notify`),
//! one non-recursive watch per directory git would look at, and a small
//! debounce.
//!
//! Directories `.gitignore` excludes (`target/`, `node_modules/`) get no
//! watch at all, so a build writing thousands of files wakes nothing; a
//! directory created later is added when it appears. Inside `.git/` only
//! the top directory is watched, for `HEAD` (a branch switch). An idle
//! watcher blocks in `recv` and uses no CPU: nothing polls the file system.
//!
//! Stopping: SIGINT and SIGTERM (Ctrl-C, `systemctl stop`) write to a pipe
//! whose reader cancels the operation and wakes the watcher at once.

use super::GitError;
use crate::cancel::Cancel;
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// What wakes the watcher.
#[derive(Debug)]
pub enum Wake {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// What a wait ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Relevant files changed and then stayed quiet for the debounce time
    /// (or changes went on for `max_wait`). `head` says `.git/HEAD` moved.
    Changed {
        paths: usize,
        head: bool,
    },
    Stopped,
}

/// Senders to wake on a stop signal.
type Wakers = Mutex<Vec<(u64, Sender<Wake>)>>;

fn wakers() -> &'static Wakers {
    static W: OnceLock<Wakers> = OnceLock::new();
    W.get_or_init(|| Mutex::new(vec![]))
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

static SIGNAL_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_stop_signal(_: libc::c_int) {
    let fd = SIGNAL_FD.load(std::sync::atomic::Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is static.
        unsafe {
            libc::write(fd, b"x".as_ptr().cast(), 1);
        }
    }
}

/// A cancel token fired by SIGINT or SIGTERM, which also wakes every
/// watcher at once. No thread polls: one blocks reading a pipe.
pub fn stop_on_signals() -> Cancel {
    let cancel = Cancel::default();
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe(2) fills two descriptors we own from here on.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Cancel::on_ctrl_c();
    }
    SIGNAL_FD.store(fds[1], std::sync::atomic::Ordering::SeqCst);
    // SAFETY: the handler only calls write(2) on a pipe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_stop_signal as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_stop_signal as *const () as libc::sighandler_t,
        );
    }
    let c = cancel.clone();
    let rfd = fds[0];
    let _ = std::thread::Builder::new()
        .name("arcane-signals".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a local buffer from our pipe.
            while unsafe { libc::read(rfd, b.as_mut_ptr().cast(), 1) } < 0 {}
            c.cancel();
            for (_, w) in wakers().lock().unwrap().iter() {
                let _ = w.send(Wake::Stop);
            }
        });
    cancel
}

/// The watcher of one work tree.
pub struct Watcher {
    inner: notify::RecommendedWatcher,
    rx: Receiver<Wake>,
    tx: Sender<Wake>,
    top: PathBuf,
    git_dir: PathBuf,
    repo: git2::Repository,
    id: u64,
    /// Directories watched.
    pub dirs: usize,
    /// Directories that could not be watched (the inotify limit).
    pub failed: Vec<PathBuf>,
}

impl Watcher {
    pub fn new(top: &Path, git_dir: &Path) -> Result<Watcher, GitError> {
        let (tx, rx) = channel();
        let t2 = tx.clone();
        let inner = notify::recommended_watcher(move |ev| {
            let _ = t2.send(Wake::Fs(ev));
        })
        .map_err(|e| GitError::Failed(format!("starting the file watcher: {e}")))?;
        let repo = git2::Repository::open(top)?;
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        wakers().lock().unwrap().push((id, tx.clone()));
        let mut w = Watcher {
            inner,
            rx,
            tx,
            top: top.to_path_buf(),
            git_dir: git_dir.to_path_buf(),
            repo,
            id,
            dirs: 0,
            failed: vec![],
        };
        w.add_tree(top);
        if w.inner.watch(git_dir, RecursiveMode::NonRecursive).is_err() {
            w.failed.push(git_dir.to_path_buf());
        }
        Ok(w)
    }

    /// A sender that wakes this watcher (tests, the dashboard).
    pub fn waker(&self) -> Sender<Wake> {
        self.tx.clone()
    }

    fn ignored(&self, rel: &Path) -> bool {
        rel.components().any(|c| c.as_os_str() == ".git")
            || self.repo.is_path_ignored(rel).unwrap_or(false)
    }

    /// Watch `dir` and every directory below it that git would look at.
    fn add_tree(&mut self, dir: &Path) {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            if d != self.top && d.join(".git").exists() {
                continue; // a nested repository or submodule: git stops here
            }
            match self.inner.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => self.dirs += 1,
                Err(_) => {
                    self.failed.push(d.clone());
                    continue;
                }
            }
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if !ft.is_dir() {
                    continue;
                }
                let p = e.path();
                let rel = p.strip_prefix(&self.top).unwrap_or(&p).to_path_buf();
                // git2 wants a trailing slash to match `dir/` patterns.
                let rel_dir = PathBuf::from(format!("{}/", rel.display()));
                if !self.ignored(&rel) && !self.ignored(&rel_dir) {
                    stack.push(p);
                }
            }
        }
    }

    /// Whether an event matters, and whether it is HEAD moving; adds
    /// watches for directories that appear.
    fn relevant(&mut self, ev: &notify::Event) -> (usize, bool) {
        if matches!(ev.kind, EventKind::Access(_)) {
            return (0, false);
        }
        let (mut n, mut head) = (0, false);
        for p in &ev.paths {
            if let Ok(r) = p.strip_prefix(&self.git_dir) {
                head |= r == Path::new("HEAD");
                continue;
            }
            let Ok(rel) = p.strip_prefix(&self.top) else {
                continue;
            };
            let rel = rel.to_path_buf();
            if rel.as_os_str().is_empty() || self.ignored(&rel) {
                continue;
            }
            if matches!(ev.kind, EventKind::Create(_)) && p.is_dir() {
                let rel_dir = PathBuf::from(format!("{}/", rel.display()));
                if self.ignored(&rel_dir) {
                    continue;
                }
                self.add_tree(p);
            }
            n += 1;
        }
        (n, head)
    }

    /// Block until relevant changes have been quiet for `debounce` (or have
    /// gone on for `max_wait`), or until stopped. With `idle_check`, an idle
    /// watcher also looks at `cancel` that often, for stops that do not come
    /// as a signal or a [`Wake::Stop`]; without, it sleeps until woken.
    pub fn next_batch(
        &mut self,
        debounce: Duration,
        max_wait: Duration,
        cancel: &Cancel,
        idle_check: Option<Duration>,
    ) -> Batch {
        let (mut paths, mut head) = (0usize, false);
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        loop {
            if cancel.is_cancelled() {
                return Batch::Stopped;
            }
            let got = match (first, idle_check) {
                (None, None) => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                (None, Some(i)) => self.rx.recv_timeout(i),
                (Some(f), _) => {
                    let quiet = debounce.saturating_sub(last.elapsed());
                    let cap = max_wait.saturating_sub(f.elapsed());
                    self.rx.recv_timeout(quiet.min(cap))
                }
            };
            match got {
                Ok(Wake::Stop) => return Batch::Stopped,
                Ok(Wake::Fs(Ok(ev))) => {
                    let (n, h) = self.relevant(&ev);
                    if n > 0 || h {
                        paths += n;
                        head |= h;
                        last = Instant::now();
                        first.get_or_insert(last);
                    }
                }
                Ok(Wake::Fs(Err(_))) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if first.is_some() {
                        return Batch::Changed { paths, head };
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Batch::Stopped,
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let mut w = wakers().lock().unwrap();
        w.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let r = git2::Repository::init(d.path()).unwrap();
        std::fs::write(d.path().join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::create_dir_all(d.path().join("target/debug")).unwrap();
        std::fs::create_dir_all(d.path().join("src")).unwrap();
        let top = d.path().canonicalize().unwrap();
        let git_dir = r.path().canonicalize().unwrap();
        (d, top, git_dir)
    }

    #[test]
    fn ignored_paths_never_wake_it_and_new_directories_are_watched() {
        let (_d, top, git_dir) = repo();
        let mut w = Watcher::new(&top, &git_dir).unwrap();
        // top and src; not target/ (ignored) nor .git/ (watched on its own).
        assert_eq!(w.dirs, 2, "{:?}", w.failed);
        let cancel = Cancel::default();
        let quick = Duration::from_millis(50);
        let idle = Duration::from_millis(300);

        // Ignored writes only: nothing, until a stop.
        std::fs::write(top.join("target/debug/x.o"), "x").unwrap();
        std::fs::write(top.join("build.log"), "x").unwrap();
        let waker = w.waker();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let _ = waker.send(Wake::Stop);
        });
        assert_eq!(
            w.next_batch(quick, idle, &cancel, Some(idle)),
            Batch::Stopped
        );

        // A real file: one batch after the debounce.
        std::fs::write(top.join("src/a.rs"), "a").unwrap();
        assert!(matches!(
            w.next_batch(quick, idle * 10, &cancel, Some(idle)),
            Batch::Changed { paths, head: false } if paths > 0
        ));

        // A new directory is watched as it appears, and what lands in it counts.
        std::fs::create_dir_all(top.join("new/deep")).unwrap();
        assert!(matches!(
            w.next_batch(quick, idle * 10, &cancel, Some(idle)),
            Batch::Changed { .. }
        ));
        std::fs::write(top.join("new/deep/b.rs"), "b").unwrap();
        assert!(matches!(
            w.next_batch(quick, idle * 10, &cancel, Some(idle)),
            Batch::Changed { .. }
        ));

        // A branch switch shows as HEAD.
        std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/other\n").unwrap();
        assert!(matches!(
            w.next_batch(quick, idle * 10, &cancel, Some(idle)),
            Batch::Changed { head: true, .. }
        ));

        // A cancel without a signal is seen within `idle_check`.
        cancel.cancel();
        assert_eq!(
            w.next_batch(quick, idle, &cancel, Some(idle)),
            Batch::Stopped
        );
    }
}
