//! `git watch`: shadow snapshots whenever the working tree changes, until
//! Ctrl-C or SIGTERM; and its user service.
//!
//! A blocked snapshot (the leak scanner, plaintext in an env file) is a
//! warning and a desktop notification, sent once per new set of findings,
//! and it is written to `.git/arcane/watch.json`, where the dashboard's Git
//! tab reads the watcher's state (pid, last snapshot, what blocks it).

use super::git::{gerr, repo, snapshot_in};
use super::{Ctx, Error};
use crate::event::report::*;
use crate::event::Event;
use crate::git::cli::Repo;
use crate::git::watch::{Batch, Watcher};
use crate::git::{service, shadow};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    /// Take one snapshot and return.
    pub once: bool,
    /// How often an idle watcher looks at a cancel that comes without a
    /// signal; `None` when the cancel is [`crate::git::watch::stop_on_signals`]'s,
    /// which wakes it at once (the CLI: an idle watcher then never wakes).
    pub idle_check: Option<Duration>,
}

/// The watcher's state, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    pub pid: u32,
    pub started: i64,
    pub branch: Option<String>,
    pub snapshots: u64,
    pub last_commit: Option<String>,
    pub last_subject: Option<String>,
    pub last_time: Option<i64>,
    /// Findings of the newest blocked attempt (cleared by a good snapshot).
    pub blocked: Vec<FindingRow>,
    pub left_out: Vec<String>,
}

fn state_path(repo: &Repo) -> std::path::PathBuf {
    repo.state_dir().join("watch.json")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid != 0 && unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
}

/// The running watcher's state of the work tree at `dir`, if one runs.
pub fn running(dir: &std::path::Path) -> Option<WatchState> {
    let repo = Repo::discover(dir).ok()?;
    let text = std::fs::read_to_string(state_path(&repo)).ok()?;
    let s: WatchState = serde_json::from_str(&text).ok()?;
    alive(s.pid).then_some(s)
}

fn save(repo: &Repo, s: &WatchState) {
    if let Ok(text) = serde_json::to_vec_pretty(s) {
        let _ = crate::secrets::write_atomic(&state_path(repo), &text, 0o600);
    }
}

/// A lock on the private index that no live watcher holds (a killed one
/// left it) would fail every snapshot.
fn clear_stale_lock(repo: &Repo) {
    let lock = repo.state_dir().join("shadow-index.lock");
    let old = std::fs::metadata(&lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > Duration::from_secs(60));
    if old {
        let _ = std::fs::remove_file(lock);
    }
}

/// Refuse to run beside another watcher of the same work tree.
fn check_single(repo: &Repo) -> Result<(), Error> {
    if let Some(s) = running(&repo.top).filter(|s| s.pid != std::process::id()) {
        return Err(Error::input(format!(
            "a watcher (pid {}) already snapshots {}; stop it first (Ctrl-C there, or `arcane git watch --uninstall-service`)",
            s.pid,
            repo.top.display()
        )));
    }
    Ok(())
}

fn notify(ctx: &Ctx, title: &str, body: &str) {
    if ctx.project.config.notifications.desktop {
        super::notify::desktop(title, body, Duration::from_millis(500));
    }
}

fn warn_left_out(ctx: &Ctx, rep: &ShadowSnapshot) {
    // A failing filter was already explained by the snapshot itself.
    if !rep.left_out.is_empty() && rep.filter_error.is_none() {
        ctx.em.warn(format!(
            "left out of snapshots (plaintext, and no arcane filter would encrypt them): {}; run `arcane setup`",
            rep.left_out.join(", ")
        ));
    }
}

/// One step: snapshot, report, remember, and tell about blocks once.
fn step(ctx: &Ctx, repo: &Repo, st: &mut WatchState) {
    let started = Instant::now();
    // A git command holds the index (a checkout, a commit): wait for it, so
    // a half-done checkout is never snapshotted.
    let until = Instant::now() + Duration::from_secs(30);
    while repo.busy() && Instant::now() < until && !ctx.cancel.is_cancelled() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let rep = match snapshot_in(ctx, repo, started) {
        Ok(r) => r,
        Err(e) => {
            ctx.em.warn(format!("snapshot failed: {e}"));
            return;
        }
    };
    ctx.em.emit(Event::ShadowSnapshot(rep.clone()));
    if rep.left_out != st.left_out {
        warn_left_out(ctx, &rep);
    }
    st.left_out = rep.left_out.clone();
    st.branch = rep.branch.clone();
    match rep.state {
        SnapshotState::Blocked => {
            if rep.findings != st.blocked {
                let list: Vec<String> = rep
                    .findings
                    .iter()
                    .map(|f| format!("{}:{} {}", f.file, f.line, f.rule))
                    .collect();
                notify(ctx, "arcane: snapshot blocked", &list.join("\n"));
            }
            st.blocked = rep.findings.clone();
        }
        SnapshotState::Taken => {
            st.blocked.clear();
            st.snapshots += 1;
            st.last_commit = rep.commit.clone();
            st.last_subject = rep.subject.clone();
            st.last_time = Some(now());
        }
        SnapshotState::Unchanged => st.blocked.clear(),
        SnapshotState::Busy => {}
    }
    save(repo, st);
}

/// Snapshot now, then on every change until cancelled.
pub fn watch(ctx: &Ctx, req: &WatchRequest) -> Result<WatchState, Error> {
    let repo = repo(ctx)?;
    check_single(&repo)?;
    clear_stale_lock(&repo);
    let mut st = WatchState {
        pid: std::process::id(),
        started: now(),
        branch: repo.branch(),
        ..Default::default()
    };
    if req.once {
        let started = Instant::now();
        let rep = snapshot_in(ctx, &repo, started)?;
        ctx.em.emit(Event::ShadowSnapshot(rep.clone()));
        warn_left_out(ctx, &rep);
        return match rep.state {
            SnapshotState::Blocked => {
                let message = format!(
                    "snapshot blocked: {} finding(s); remove the secret, or allow a false positive with `# arcane:allow` or .arcane/scan-allow.toml",
                    rep.findings.len()
                );
                ctx.em.failed(crate::error::ErrorKind::Failed, &message);
                Err(Error::Reported {
                    kind: crate::error::ErrorKind::Failed,
                    message,
                })
            }
            SnapshotState::Busy => Err(Error::Failed(
                "a git command holds the index (.git/index.lock); try again".into(),
            )),
            SnapshotState::Taken => {
                ctx.em.finished(
                    true,
                    format!(
                        "snapshot {} in {}",
                        short_sha(rep.commit.as_deref().unwrap_or("")),
                        rep.shadow_ref
                    ),
                );
                Ok(st)
            }
            SnapshotState::Unchanged => {
                ctx.em.finished(
                    true,
                    format!("unchanged since the last snapshot ({})", rep.shadow_ref),
                );
                Ok(st)
            }
        };
    }
    let w = &ctx.project.config.git.watch;
    let (debounce, max_wait) = (
        Duration::from_millis(w.debounce_ms),
        Duration::from_millis(w.max_wait_ms),
    );
    let mut watcher = Watcher::new(&repo.top, &repo.git_dir).map_err(gerr)?;
    if !watcher.failed.is_empty() {
        ctx.em.warn(format!(
            "{} director(y/ies) could not be watched (the inotify limit, fs.inotify.max_user_watches?); changes there are seen with the next snapshot only. First: {}",
            watcher.failed.len(),
            watcher.failed[0].display()
        ));
    }
    ctx.em.info(format!(
        "watching {} directories of {} (debounce {} ms); snapshots go to {}; Ctrl-C stops",
        watcher.dirs,
        repo.top.display(),
        w.debounce_ms,
        shadow::shadow_ref(repo.branch().as_deref())
    ));
    save(&repo, &st);
    step(ctx, &repo, &mut st);
    loop {
        match watcher.next_batch(debounce, max_wait, &ctx.cancel, req.idle_check) {
            Batch::Stopped => break,
            Batch::Changed { head, .. } => {
                if head && repo.branch() != st.branch {
                    ctx.em.info(format!(
                        "now on {}: snapshots go to {}",
                        repo.branch().as_deref().unwrap_or("a detached HEAD"),
                        shadow::shadow_ref(repo.branch().as_deref())
                    ));
                }
                step(ctx, &repo, &mut st);
            }
        }
    }
    let _ = std::fs::remove_file(state_path(&repo));
    ctx.em.finished(
        true,
        format!("watcher stopped; {} snapshot(s) taken", st.snapshots),
    );
    Ok(st)
}

/// Install (or remove) the watcher as a systemd user service.
pub fn service(ctx: &Ctx, install: bool) -> Result<(), Error> {
    let root = &ctx.project.root;
    let res = if install {
        let exe = crate::secrets::gitcfg::current_exe()?;
        repo(ctx)?;
        service::install(&exe, root).map_err(gerr)?
    } else {
        service::uninstall(root).map_err(gerr)?
    };
    let what = if install { "installed" } else { "removed" };
    match &res.systemctl_error {
        None => {
            ctx.em.finished(
                true,
                if install {
                    format!(
                        "{what} and started {} ({}); `systemctl --user status {}` shows it",
                        res.unit,
                        res.path.display(),
                        res.unit
                    )
                } else {
                    format!("stopped and {what} {}", res.unit)
                },
            );
            Ok(())
        }
        Some(e) => {
            let message = if install {
                format!(
                    "wrote {} but could not start it: {e}. In a desktop session run `systemctl --user daemon-reload && systemctl --user enable --now {}`",
                    res.path.display(),
                    res.unit
                )
            } else {
                format!("removed {}, but systemctl failed: {e}", res.path.display())
            };
            ctx.em.failed(crate::error::ErrorKind::Failed, &message);
            Err(Error::Reported {
                kind: crate::error::ErrorKind::Failed,
                message,
            })
        }
    }
}
