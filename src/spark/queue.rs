//! The build queue: pushes coalesce per app and env (only the newest commit
//! of a burst builds, once no push came for `debounce`), one job at a time
//! per app and env, different ones in parallel up to `workers`. Every
//! change goes through the journal first (see `journal.rs`).

use super::journal::{now_ms, Job, JobResult, Journal, Record, State};
use super::webhook::Source;
use crate::ops::Cancel;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Journals bigger than this are compacted when Spark starts.
const COMPACT_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub workers: usize,
    pub debounce: Duration,
    /// A steady stream of pushes still builds after this long.
    pub debounce_max: Duration,
    pub keep_jobs: usize,
}

impl Limits {
    pub fn new(workers: usize, debounce: Duration, keep_jobs: usize) -> Limits {
        Limits {
            workers: workers.max(1),
            debounce,
            debounce_max: (debounce * 10).max(Duration::from_secs(30)),
            keep_jobs,
        }
    }
}

/// A push as it arrives.
#[derive(Debug, Clone)]
pub struct NewPush {
    pub app: String,
    pub env: String,
    pub branch: String,
    pub sha: String,
    pub source: Source,
    pub delivery: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Queued,
    /// The delivery ID was seen before: a replay, ignored.
    Duplicate,
    /// That commit is already pending, running or live.
    AlreadyThere,
}

/// What a job's runner reports.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: JobResult,
    pub summary: String,
    pub version: Option<String>,
}

/// Runs one job (the real one checks out and deploys; tests stub it).
pub trait Runner: Send + Sync {
    fn run(&self, job: &Job, cancel: &Cancel) -> Outcome;
}

struct Inner {
    state: State,
    journal: Journal,
    stopping: bool,
    cancels: BTreeMap<u64, Cancel>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

pub struct Queue {
    inner: Mutex<Inner>,
    wake: Condvar,
    limits: Limits,
    dir: PathBuf,
}

impl Queue {
    /// Replay the journal in `dir`; jobs cut off by a crash are finished as
    /// interrupted, which queues their commit again. Returns those jobs.
    pub fn open(dir: &Path, limits: Limits) -> std::io::Result<(Arc<Queue>, Vec<Job>)> {
        std::fs::create_dir_all(dir)?;
        let (mut journal, records) = Journal::open(&dir.join("journal"))?;
        let mut state = State::new(limits.keep_jobs);
        for r in &records {
            state.apply(r);
        }
        let interrupted = state.running();
        for j in &interrupted {
            let r = Record::Finish {
                job: j.id,
                result: JobResult::Interrupted,
                summary: "Spark stopped while this job ran; its commit was queued again".into(),
                version: None,
                at: now_ms(),
            };
            journal.append(&r)?;
            state.apply(&r);
        }
        if journal.bytes() > COMPACT_BYTES {
            journal.rewrite(&state.snapshot())?;
        }
        Ok((
            Arc::new(Queue {
                inner: Mutex::new(Inner {
                    state,
                    journal,
                    stopping: false,
                    cancels: BTreeMap::new(),
                    threads: vec![],
                }),
                wake: Condvar::new(),
                limits,
                dir: dir.to_path_buf(),
            }),
            interrupted,
        ))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Record a push (on disk before this returns).
    pub fn push(&self, p: NewPush) -> std::io::Result<Accepted> {
        let mut g = self.inner.lock().unwrap();
        if let Some(d) = &p.delivery {
            if g.state.has_delivery(d) {
                return Ok(Accepted::Duplicate);
            }
        }
        let wanted = g.state.wanted(&p.app, &p.env, &p.sha);
        if !wanted && p.delivery.is_none() {
            return Ok(Accepted::AlreadyThere);
        }
        let r = Record::Push {
            app: p.app,
            env: p.env,
            branch: p.branch,
            sha: p.sha,
            source: p.source,
            delivery: p.delivery,
            at: now_ms(),
            coalesced: None,
        };
        g.journal.append(&r)?;
        g.state.apply(&r);
        drop(g);
        self.wake.notify_all();
        Ok(if wanted {
            Accepted::Queued
        } else {
            Accepted::AlreadyThere
        })
    }

    /// The last head polling saw on `app`'s `branch`.
    pub fn seen(&self, app: &str, branch: &str) -> Option<String> {
        let g = self.inner.lock().unwrap();
        g.state
            .seen
            .get(&(app.to_string(), branch.to_string()))
            .cloned()
    }

    pub fn record_seen(&self, app: &str, branch: &str, sha: &str) -> std::io::Result<()> {
        let mut g = self.inner.lock().unwrap();
        let r = Record::Seen {
            app: app.into(),
            branch: branch.into(),
            sha: sha.into(),
        };
        g.journal.append(&r)?;
        g.state.apply(&r);
        Ok(())
    }

    /// Read the state (status reports).
    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.lock().unwrap().state)
    }

    /// When a pending push may start.
    fn ready_at(&self, p: &super::journal::Pending) -> i64 {
        let debounce = self.limits.debounce.as_millis() as i64;
        let max = self.limits.debounce_max.as_millis() as i64;
        (p.last_at + debounce).min(p.first_at + max)
    }

    /// Run the scheduler until [`Queue::stop`]: start every job that may
    /// start, sleep until the next one may.
    pub fn run(self: &Arc<Self>, runner: Arc<dyn Runner>) {
        let mut g = self.inner.lock().unwrap();
        loop {
            if g.stopping {
                return;
            }
            let now = now_ms();
            let running = g
                .state
                .slots
                .values()
                .filter(|s| s.running.is_some())
                .count();
            let mut free = self.limits.workers.saturating_sub(running);
            let mut ready: Vec<(i64, (String, String))> = vec![];
            let mut next_wake: Option<i64> = None;
            for (key, s) in &g.state.slots {
                let (Some(p), None) = (&s.pending, &s.running) else {
                    continue;
                };
                let at = self.ready_at(p);
                if at <= now {
                    ready.push((p.first_at, key.clone()));
                } else {
                    next_wake = Some(next_wake.map_or(at, |w| w.min(at)));
                }
            }
            ready.sort();
            for (_, (app, env)) in ready {
                if free == 0 {
                    break;
                }
                match self.start(&mut g, &app, &env, &runner) {
                    Ok(true) => free -= 1,
                    Ok(false) => {}
                    Err(e) => {
                        super::say(&format!(
                            "the journal cannot be written: {e}; the queue stops"
                        ));
                        g.stopping = true;
                        return;
                    }
                }
            }
            let wait = next_wake
                .map(|w| Duration::from_millis((w - now).clamp(1, 1000) as u64))
                .unwrap_or(Duration::from_secs(1));
            g = self.wake.wait_timeout(g, wait).unwrap().0;
        }
    }

    /// Start the pending job of `app`/`env`. False when it needed none.
    fn start(
        self: &Arc<Self>,
        g: &mut std::sync::MutexGuard<'_, Inner>,
        app: &str,
        env: &str,
        runner: &Arc<dyn Runner>,
    ) -> std::io::Result<bool> {
        let slot = g.state.slot(app, env).clone();
        let Some(p) = slot.pending else {
            return Ok(false);
        };
        if slot.live.as_deref() == Some(p.sha.as_str()) {
            let r = Record::Skip {
                app: app.into(),
                env: env.into(),
                sha: p.sha.clone(),
                at: now_ms(),
            };
            g.journal.append(&r)?;
            g.state.apply(&r);
            return Ok(false);
        }
        let id = g.state.next_job;
        let r = Record::Start {
            job: id,
            app: app.into(),
            env: env.into(),
            branch: p.branch.clone(),
            sha: p.sha.clone(),
            source: p.source,
            pushes: p.pushes,
            at: now_ms(),
        };
        g.journal.append(&r)?;
        g.state.apply(&r);
        let job = g
            .state
            .slot(app, env)
            .running
            .clone()
            .expect("just started");
        let cancel = Cancel::default();
        g.cancels.insert(id, cancel.clone());
        let (q, runner) = (self.clone(), runner.clone());
        let t = std::thread::Builder::new()
            .name(format!("spark-job-{id}"))
            .spawn(move || {
                let out = runner.run(&job, &cancel);
                q.finish(job.id, out);
            })?;
        g.threads.retain(|t| !t.is_finished());
        g.threads.push(t);
        Ok(true)
    }

    fn finish(&self, job: u64, out: Outcome) {
        let mut g = self.inner.lock().unwrap();
        g.cancels.remove(&job);
        // Cancelled because Spark is stopping: no finish, so the next
        // start runs it again.
        if g.stopping && out.result == JobResult::Cancelled {
            return;
        }
        let r = Record::Finish {
            job,
            result: out.result,
            summary: out.summary,
            version: out.version,
            at: now_ms(),
        };
        if let Err(e) = g.journal.append(&r) {
            super::say(&format!("cannot record the end of job {job}: {e}"));
            return;
        }
        g.state.apply(&r);
        drop(g);
        self.wake.notify_all();
    }

    /// Stop the scheduler and cancel running jobs; wait up to `grace` for
    /// them to wind down. Jobs cut off here run again on the next start.
    pub fn stop(&self, grace: Duration) {
        let threads = {
            let mut g = self.inner.lock().unwrap();
            g.stopping = true;
            for c in g.cancels.values() {
                c.cancel();
            }
            std::mem::take(&mut g.threads)
        };
        self.wake.notify_all();
        let deadline = std::time::Instant::now() + grace;
        for t in threads {
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }

    /// Wait until no job runs and none is pending (tests, benches).
    pub fn wait_idle(&self, max: Duration) -> bool {
        let deadline = std::time::Instant::now() + max;
        loop {
            let idle = self.with_state(|s| {
                s.slots
                    .values()
                    .all(|s| s.pending.is_none() && s.running.is_none())
            });
            if idle {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
