//! The queue's tests: coalescing, limits, replays and crash recovery,
//! with a stand-in runner (what they check is the queue, not a deploy).
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Stand-in deploy: records what it built and takes `ms` doing it.
struct StubRunner {
    ms: u64,
    built: Mutex<Vec<(String, String, String)>>,
    at_once: AtomicUsize,
    max_at_once: AtomicUsize,
}

impl StubRunner {
    fn new(ms: u64) -> Arc<StubRunner> {
        Arc::new(StubRunner {
            ms,
            built: Mutex::new(vec![]),
            at_once: AtomicUsize::new(0),
            max_at_once: AtomicUsize::new(0),
        })
    }
}

impl Runner for StubRunner {
    fn run(&self, job: &Job, cancel: &Cancel) -> Outcome {
        let n = self.at_once.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_at_once.fetch_max(n, Ordering::SeqCst);
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(self.ms) && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.at_once.fetch_sub(1, Ordering::SeqCst);
        if cancel.is_cancelled() {
            return Outcome {
                result: JobResult::Cancelled,
                summary: "cancelled".into(),
                version: None,
            };
        }
        self.built
            .lock()
            .unwrap()
            .push((job.app.clone(), job.env.clone(), job.sha.clone()));
        Outcome {
            result: JobResult::Succeeded,
            summary: "ok".into(),
            version: Some(job.sha.clone()),
        }
    }
}

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

fn push(app: &str, n: u32, delivery: Option<&str>) -> NewPush {
    NewPush {
        app: app.into(),
        env: "staging".into(),
        branch: "main".into(),
        sha: sha(n),
        source: Source::Github,
        delivery: delivery.map(String::from),
    }
}

fn serve(q: &Arc<Queue>, r: Arc<StubRunner>) -> std::thread::JoinHandle<()> {
    let q = q.clone();
    std::thread::spawn(move || q.run(r))
}

#[test]
fn a_burst_builds_at_most_twice_and_the_newest_commit_last() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), Limits::new(2, Duration::from_millis(300), 50)).unwrap();
    let r = StubRunner::new(200);
    let t = serve(&q, r.clone());
    for i in 1..=20 {
        assert_eq!(
            q.push(push("a", i, Some(&format!("d{i}")))).unwrap(),
            Accepted::Queued
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(q.wait_idle(Duration::from_secs(10)));
    q.stop(Duration::from_secs(1));
    t.join().unwrap();
    let built = r.built.lock().unwrap().clone();
    assert!(!built.is_empty() && built.len() <= 2, "{built:?}");
    assert_eq!(built.last().unwrap().2, sha(20));
}

#[test]
fn one_job_per_app_and_env_apps_in_parallel_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), Limits::new(2, Duration::ZERO, 50)).unwrap();
    let r = StubRunner::new(300);
    let t = serve(&q, r.clone());
    for app in ["a", "b", "c", "d"] {
        q.push(push(app, 1, None)).unwrap();
    }
    assert!(q.wait_idle(Duration::from_secs(10)));
    q.stop(Duration::from_secs(1));
    t.join().unwrap();
    assert_eq!(r.built.lock().unwrap().len(), 4);
    assert_eq!(r.max_at_once.load(Ordering::SeqCst), 2);
}

#[test]
fn replays_and_live_commits_are_not_built_again() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), Limits::new(1, Duration::ZERO, 50)).unwrap();
    let r = StubRunner::new(10);
    let t = serve(&q, r.clone());
    assert_eq!(q.push(push("a", 1, Some("x"))).unwrap(), Accepted::Queued);
    assert!(q.wait_idle(Duration::from_secs(5)));
    assert_eq!(
        q.push(push("a", 1, Some("x"))).unwrap(),
        Accepted::Duplicate
    );
    assert_eq!(
        q.push(push("a", 1, Some("y"))).unwrap(),
        Accepted::AlreadyThere
    );
    assert_eq!(q.push(push("a", 1, None)).unwrap(), Accepted::AlreadyThere);
    assert!(q.wait_idle(Duration::from_secs(5)));
    q.stop(Duration::from_secs(1));
    t.join().unwrap();
    assert_eq!(r.built.lock().unwrap().len(), 1);
}

#[test]
fn after_a_crash_pending_pushes_survive_running_jobs_rerun_and_finished_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A journal as a killed Spark leaves it: job 1 finished, job 2
        // started and never finished, a push for c pending, and a torn
        // last line.
        let (mut j, _) = Journal::open(&dir.path().join("journal")).unwrap();
        let mut st = State::new(50);
        for (app, n) in [("a", 1), ("b", 2), ("c", 3)] {
            let r = Record::Push {
                app: app.into(),
                env: "staging".into(),
                branch: "main".into(),
                sha: sha(n),
                source: Source::Github,
                delivery: Some(format!("d{n}")),
                at: 1,
                coalesced: None,
            };
            j.append(&r).unwrap();
            st.apply(&r);
        }
        for (id, app, n) in [(1, "a", 1), (2, "b", 2)] {
            j.append(&Record::Start {
                job: id,
                app: app.into(),
                env: "staging".into(),
                branch: "main".into(),
                sha: sha(n),
                source: Source::Github,
                pushes: 1,
                at: 2,
            })
            .unwrap();
        }
        j.append(&Record::Finish {
            job: 1,
            result: JobResult::Succeeded,
            summary: "ok".into(),
            version: None,
            at: 3,
        })
        .unwrap();
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("journal"))
        .unwrap()
        .write_all(b"{\"t\":\"push\",\"app\":\"tor")
        .unwrap();
    let (q, interrupted) = Queue::open(dir.path(), Limits::new(1, Duration::ZERO, 50)).unwrap();
    assert_eq!(
        interrupted.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![2]
    );
    let r = StubRunner::new(10);
    let t = serve(&q, r.clone());
    assert!(q.wait_idle(Duration::from_secs(5)));
    q.stop(Duration::from_secs(1));
    t.join().unwrap();
    let mut built: Vec<String> = r
        .built
        .lock()
        .unwrap()
        .iter()
        .map(|b| b.0.clone())
        .collect();
    built.sort();
    assert_eq!(built, vec!["b", "c"]);
    // Replays of their deliveries are still refused, and the job ids go on.
    assert_eq!(
        q.push(push("a", 1, Some("d1"))).unwrap(),
        Accepted::Duplicate
    );
    assert!(q.with_state(|s| s.next_job) >= 5);
}

#[test]
fn compaction_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = Queue::open(dir.path(), Limits::new(1, Duration::from_secs(3600), 3)).unwrap();
    for i in 0..5 {
        q.push(push("a", i + 1, Some(&format!("d{i}")))).unwrap();
    }
    q.record_seen("a", "main", &sha(9)).unwrap();
    let before = q.with_state(|s| s.snapshot());
    let mut g = q.inner.lock().unwrap();
    g.journal.rewrite(&before).unwrap();
    drop(g);
    drop(q);
    let (q, _) = Queue::open(dir.path(), Limits::new(1, Duration::from_secs(3600), 3)).unwrap();
    let p = q.with_state(|s| {
        s.slots[&("a".into(), "staging".into())]
            .pending
            .clone()
            .unwrap()
    });
    assert_eq!((p.sha, p.pushes), (sha(5), 5));
    assert_eq!(q.seen("a", "main"), Some(sha(9)));
    assert_eq!(
        q.push(push("a", 1, Some("d3"))).unwrap(),
        Accepted::Duplicate
    );
}
