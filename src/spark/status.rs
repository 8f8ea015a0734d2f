//! The queue's state as a report, from a live queue or from the journal on
//! disk (`arcane spark status` and the dashboard run in another process
//! than `spark serve`; they only read).

use super::job::JobRunner;
use super::journal::{self, Job, State};
use crate::event::report::{SparkJob, SparkQueued, SparkStatus};
use std::os::fd::AsRawFd;
use std::path::Path;

/// The lock `spark serve` holds on its state dir for as long as it runs.
pub const SERVE_LOCK: &str = "serve.lock";

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn job_row(state_dir: &Path, j: &Job, running_state: &str) -> SparkJob {
    let (state, summary, finished_at, elapsed) = match &j.finished {
        Some((r, s, at)) => (
            r.word().to_string(),
            Some(s.clone()),
            Some(rfc3339(*at)),
            Some((*at - j.started_at).max(0) as u64),
        ),
        None => (running_state.to_string(), None, None, None),
    };
    SparkJob {
        id: j.id,
        app: j.app.clone(),
        env: j.env.clone(),
        branch: j.branch.clone(),
        sha: j.sha.clone(),
        source: j.source.word().to_string(),
        pushes: j.pushes,
        state,
        summary,
        started_at: rfc3339(j.started_at),
        finished_at,
        elapsed_ms: elapsed,
        log: JobRunner::job_dir(state_dir, j.id)
            .join("log")
            .display()
            .to_string(),
    }
}

/// The report of `state`; `recent` at most `limit` finished jobs.
pub fn report(state: &State, state_dir: &Path, serving: bool, limit: usize) -> SparkStatus {
    let running_word = if serving { "running" } else { "stopped" };
    let mut queued = vec![];
    let mut running = vec![];
    for ((app, env), s) in &state.slots {
        if let Some(p) = &s.pending {
            queued.push(SparkQueued {
                app: app.clone(),
                env: env.clone(),
                branch: p.branch.clone(),
                sha: p.sha.clone(),
                source: p.source.word().to_string(),
                pushes: p.pushes,
                since: rfc3339(p.first_at),
            });
        }
        if let Some(j) = &s.running {
            running.push(job_row(state_dir, j, running_word));
        }
    }
    let recent = state
        .history
        .iter()
        .rev()
        .take(limit)
        .map(|j| job_row(state_dir, j, running_word))
        .collect();
    SparkStatus {
        state_dir: state_dir.display().to_string(),
        serving,
        queued,
        running,
        recent,
    }
}

/// Whether a `spark serve` holds `state_dir` (its lock cannot be taken).
pub fn serving(state_dir: &Path) -> bool {
    let Ok(f) = std::fs::File::open(state_dir.join(SERVE_LOCK)) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; released when `f` closes.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    r != 0
}

/// Read the journal in `state_dir` (without writing anything).
pub fn read(state_dir: &Path, keep: usize, limit: usize) -> std::io::Result<SparkStatus> {
    let (records, _) = journal::read(&state_dir.join("journal"))?;
    let mut st = State::new(keep);
    for r in &records {
        st.apply(r);
    }
    Ok(report(&st, state_dir, serving(state_dir), limit))
}
