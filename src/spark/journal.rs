//! The queue's journal: one JSON record per line in `<state>/journal`,
//! appended and fsynced before anything depends on it (a webhook is only
//! answered 202 once its push is on disk; a job starts only once its start
//! is), and replayed on start.
//!
//! Replaying the records through [`State::apply`] rebuilds the queue
//! exactly: pushes not yet started are pending again, a job that has a
//! `finish` is never run again, and a job that has a `start` but no
//! `finish` was cut off by a crash and is run again from the start. A torn
//! last line (a crash in the middle of a write) is cut off.

use super::webhook::Source;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

/// How many delivery IDs are remembered to refuse replays.
pub const DELIVERIES_KEPT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    Succeeded,
    Failed,
    RolledBack,
    Cancelled,
    /// Spark stopped while it ran; it was queued again.
    Interrupted,
}

impl JobResult {
    pub fn word(self) -> &'static str {
        match self {
            JobResult::Succeeded => "succeeded",
            JobResult::Failed => "failed",
            JobResult::RolledBack => "rolled_back",
            JobResult::Cancelled => "cancelled",
            JobResult::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// A push accepted for `app`/`env` (coalesced with any still pending).
    Push {
        app: String,
        env: String,
        branch: String,
        sha: String,
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
        at: i64,
        /// Compaction: how many pushes this one stands for, since when.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        coalesced: Option<(u32, i64)>,
    },
    /// A job took the newest pending push of its app and env.
    Start {
        job: u64,
        app: String,
        env: String,
        branch: String,
        sha: String,
        source: Source,
        /// How many pushes it stands for.
        pushes: u32,
        at: i64,
    },
    Finish {
        job: u64,
        result: JobResult,
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        at: i64,
    },
    /// A pending push that needs no job: its commit is live already.
    Skip {
        app: String,
        env: String,
        sha: String,
        at: i64,
    },
    /// Polling saw `sha` at the head of `branch`.
    Seen {
        app: String,
        branch: String,
        sha: String,
    },
    /// Compaction: what is live, and the delivery IDs seen.
    Live {
        app: String,
        env: String,
        sha: String,
    },
    Deliveries {
        ids: Vec<String>,
    },
    /// Compaction: job ids keep growing even when no history is kept.
    NextJob {
        job: u64,
    },
}

/// A push waiting for its job.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub branch: String,
    pub sha: String,
    pub source: Source,
    pub pushes: u32,
    pub first_at: i64,
    pub last_at: i64,
}

/// One job, running or finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub app: String,
    pub env: String,
    pub branch: String,
    pub sha: String,
    pub source: Source,
    pub pushes: u32,
    pub started_at: i64,
    pub finished: Option<(JobResult, String, i64)>,
    pub version: Option<String>,
}

/// One app and env: at most one job runs, at most one push waits.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub pending: Option<Pending>,
    pub running: Option<Job>,
    /// The commit of the last successful deploy.
    pub live: Option<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub slots: BTreeMap<(String, String), Slot>,
    pub next_job: u64,
    pub seen: BTreeMap<(String, String), String>,
    /// Finished jobs, oldest first (bounded by the caller's `keep`).
    pub history: VecDeque<Job>,
    deliveries: VecDeque<String>,
    delivery_set: HashSet<String>,
    keep: usize,
}

impl State {
    pub fn new(keep: usize) -> State {
        State {
            next_job: 1,
            keep: keep.max(1),
            ..Default::default()
        }
    }

    pub fn has_delivery(&self, id: &str) -> bool {
        self.delivery_set.contains(id)
    }

    fn remember(&mut self, id: &str) {
        if self.delivery_set.insert(id.to_string()) {
            self.deliveries.push_back(id.to_string());
            while self.deliveries.len() > DELIVERIES_KEPT {
                if let Some(old) = self.deliveries.pop_front() {
                    self.delivery_set.remove(&old);
                }
            }
        }
    }

    pub fn slot(&mut self, app: &str, env: &str) -> &mut Slot {
        self.slots
            .entry((app.to_string(), env.to_string()))
            .or_default()
    }

    /// Whether a push of `sha` would change anything for `app`/`env`.
    pub fn wanted(&self, app: &str, env: &str, sha: &str) -> bool {
        match self.slots.get(&(app.to_string(), env.to_string())) {
            None => true,
            Some(s) => match (&s.pending, &s.running) {
                (Some(p), _) => p.sha != sha,
                (None, Some(r)) => r.sha != sha,
                (None, None) => s.live.as_deref() != Some(sha),
            },
        }
    }

    /// Apply one record (on replay and right after appending it).
    pub fn apply(&mut self, r: &Record) {
        match r {
            Record::Push {
                app,
                env,
                branch,
                sha,
                source,
                delivery,
                at,
                coalesced,
            } => {
                if let Some(d) = delivery {
                    self.remember(d);
                }
                if !self.wanted(app, env, sha) {
                    return;
                }
                let (count, since) = coalesced.unwrap_or((1, *at));
                let slot = self.slot(app, env);
                slot.pending = Some(match slot.pending.take() {
                    Some(p) => Pending {
                        branch: branch.clone(),
                        sha: sha.clone(),
                        source: *source,
                        pushes: p.pushes + count,
                        first_at: p.first_at.min(since),
                        last_at: *at,
                    },
                    None => Pending {
                        branch: branch.clone(),
                        sha: sha.clone(),
                        source: *source,
                        pushes: count,
                        first_at: since,
                        last_at: *at,
                    },
                });
            }
            Record::Start {
                job,
                app,
                env,
                branch,
                sha,
                source,
                pushes,
                at,
            } => {
                self.next_job = self.next_job.max(job + 1);
                let slot = self.slot(app, env);
                if slot.pending.as_ref().is_some_and(|p| &p.sha == sha) {
                    slot.pending = None;
                }
                slot.running = Some(Job {
                    id: *job,
                    app: app.clone(),
                    env: env.clone(),
                    branch: branch.clone(),
                    sha: sha.clone(),
                    source: *source,
                    pushes: *pushes,
                    started_at: *at,
                    finished: None,
                    version: None,
                });
            }
            Record::Finish {
                job,
                result,
                summary,
                version,
                at,
            } => {
                let Some(slot) = self
                    .slots
                    .values_mut()
                    .find(|s| s.running.as_ref().is_some_and(|r| r.id == *job))
                else {
                    return;
                };
                let mut j = slot.running.take().expect("found above");
                if *result == JobResult::Succeeded {
                    slot.live = Some(j.sha.clone());
                }
                // Cut off by a crash: its push is waiting again, unless a
                // newer one already is.
                if *result == JobResult::Interrupted && slot.pending.is_none() {
                    slot.pending = Some(Pending {
                        branch: j.branch.clone(),
                        sha: j.sha.clone(),
                        source: j.source,
                        pushes: j.pushes,
                        first_at: *at,
                        last_at: *at,
                    });
                }
                j.finished = Some((*result, summary.clone(), *at));
                j.version = version.clone();
                self.history.push_back(j);
                while self.history.len() > self.keep {
                    self.history.pop_front();
                }
            }
            Record::Skip { app, env, sha, .. } => {
                let slot = self.slot(app, env);
                if slot.pending.as_ref().is_some_and(|p| &p.sha == sha) {
                    slot.pending = None;
                }
            }
            Record::Seen { app, branch, sha } => {
                self.seen.insert((app.clone(), branch.clone()), sha.clone());
            }
            Record::Live { app, env, sha } => self.slot(app, env).live = Some(sha.clone()),
            Record::Deliveries { ids } => {
                for id in ids {
                    self.remember(id);
                }
            }
            Record::NextJob { job } => self.next_job = self.next_job.max(*job),
        }
    }

    /// Jobs that were running when the journal ends.
    pub fn running(&self) -> Vec<Job> {
        self.slots
            .values()
            .filter_map(|s| s.running.clone())
            .collect()
    }

    /// The records that rebuild this state (compaction). Running jobs must
    /// have been finished as interrupted first.
    pub fn snapshot(&self) -> Vec<Record> {
        let mut out = vec![Record::Deliveries {
            ids: self.deliveries.iter().cloned().collect(),
        }];
        for ((app, branch), sha) in &self.seen {
            out.push(Record::Seen {
                app: app.clone(),
                branch: branch.clone(),
                sha: sha.clone(),
            });
        }
        for j in &self.history {
            let Some((result, summary, at)) = &j.finished else {
                continue;
            };
            out.push(Record::Start {
                job: j.id,
                app: j.app.clone(),
                env: j.env.clone(),
                branch: j.branch.clone(),
                sha: j.sha.clone(),
                source: j.source,
                pushes: j.pushes,
                at: j.started_at,
            });
            out.push(Record::Finish {
                job: j.id,
                result: *result,
                summary: summary.clone(),
                version: j.version.clone(),
                at: *at,
            });
        }
        for ((app, env), s) in &self.slots {
            if let Some(live) = &s.live {
                out.push(Record::Live {
                    app: app.clone(),
                    env: env.clone(),
                    sha: live.clone(),
                });
            }
            if let Some(p) = &s.pending {
                out.push(Record::Push {
                    app: app.clone(),
                    env: env.clone(),
                    branch: p.branch.clone(),
                    sha: p.sha.clone(),
                    source: p.source,
                    delivery: None,
                    at: p.last_at,
                    coalesced: Some((p.pushes, p.first_at)),
                });
            }
        }
        out.push(Record::NextJob { job: self.next_job });
        out
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The append-only file.
pub struct Journal {
    file: File,
    path: PathBuf,
    bytes: u64,
}

/// Read every record of `path`; a torn last line is reported by offset so
/// the writer can cut it off.
pub fn read(path: &Path) -> std::io::Result<(Vec<Record>, u64)> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
        Err(e) => return Err(e),
    };
    let mut out = vec![];
    let mut good = 0u64;
    let mut r = BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<Record>(line.trim_end()) {
            Ok(rec) => out.push(rec),
            // A record this version does not know is skipped, not fatal.
            Err(_) if serde_json::from_str::<serde_json::Value>(line.trim_end()).is_ok() => {}
            Err(_) => break,
        }
        good += n as u64;
    }
    Ok((out, good))
}

impl Journal {
    /// Open for appending, cutting off a torn tail; returns the records.
    pub fn open(path: &Path) -> std::io::Result<(Journal, Vec<Record>)> {
        let (records, good) = read(path)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(good)?;
        file.seek(std::io::SeekFrom::End(0))?;
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                bytes: good,
            },
            records,
        ))
    }

    /// Append one record and wait for it to reach the disk.
    pub fn append(&mut self, r: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Replace the file by `records`, atomically (write, fsync, rename,
    /// fsync the directory).
    pub fn rewrite(&mut self, records: &[Record]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("compact");
        {
            let mut f = File::create(&tmp)?;
            for r in records {
                let mut line = serde_json::to_vec(r)?;
                line.push(b'\n');
                f.write_all(&line)?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let (j, _) = Journal::open(&self.path)?;
        *self = j;
        Ok(())
    }
}
