//! Polling mode, for build machines webhooks cannot reach: every `poll`
//! interval, `git ls-remote` asks for the heads of an app's mapped
//! branches, and a head that moved is queued like a push.
//!
//! The first head seen for a branch with no history is a baseline, not a
//! deploy: starting Spark (or wiping its state) never redeploys what is
//! already out. A push or `arcane deploy` makes the first deploy.

use super::config::SparkFile;
use super::git;
use super::queue::{NewPush, Queue};
use super::webhook::{is_sha, Source};
use crate::cancel::Cancel;
use crate::event::Emitter;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Check every polled app once.
pub fn poll_once(file: &SparkFile, queue: &Queue, app: &str, cancel: &Cancel) {
    let Some(a) = file.spark.apps.get(app) else {
        return;
    };
    let branches: Vec<&str> = a.branches.keys().map(String::as_str).collect();
    let heads = match git::ls_remote(&a.repo, &branches, &Emitter::null(), cancel) {
        Ok(h) => h,
        Err(e) => {
            super::say(&format!("poll {app}: {e}"));
            return;
        }
    };
    for (branch, sha) in heads {
        if !is_sha(&sha) {
            continue;
        }
        let Some(env) = a.env_of(&branch) else {
            continue;
        };
        let live = queue.with_state(|s| {
            s.slots
                .get(&(app.to_string(), env.to_string()))
                .and_then(|sl| sl.live.clone())
        });
        let known = queue.seen(app, &branch).or(live);
        match known {
            Some(k) if k == sha => {}
            None => {
                super::say(&format!(
                    "poll {app}: {branch} is at {sha}; that is the baseline, the next change deploys"
                ));
                let _ = queue.record_seen(app, &branch, &sha);
            }
            Some(_) => {
                let r = queue.push(NewPush {
                    app: app.to_string(),
                    env: env.to_string(),
                    branch: branch.clone(),
                    sha: sha.clone(),
                    source: Source::Poll,
                    delivery: None,
                });
                match r {
                    Ok(r) => {
                        super::say(&format!(
                            "poll {app}: {branch} moved to {sha} → {env} ({r:?})"
                        ));
                        let _ = queue.record_seen(app, &branch, &sha);
                    }
                    Err(e) => {
                        super::say(&format!("poll {app}: the journal cannot be written: {e}"))
                    }
                }
            }
        }
    }
}

/// Poll `app` until `stop` is cancelled.
pub fn run(file: Arc<SparkFile>, queue: Arc<Queue>, app: String, every: Duration, stop: Cancel) {
    while !stop.is_cancelled() {
        let t = Instant::now();
        poll_once(&file, &queue, &app, &stop);
        while t.elapsed() < every && !stop.is_cancelled() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark::queue::Limits;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let o = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    #[test]
    fn the_first_head_is_a_baseline_and_a_moved_head_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let cfg = dir.path().join("spark.toml");
        std::fs::write(
            &cfg,
            format!(
                "[spark.apps.a]\nrepo = \"{}\"\nbranches = {{ main = \"staging\", other = \"production\" }}\npoll = \"60s\"\n",
                repo.display()
            ),
        )
        .unwrap();
        let file = SparkFile::load(&cfg).unwrap();
        let (q, _) = Queue::open(
            &dir.path().join("state"),
            Limits::new(1, Duration::ZERO, 10),
        )
        .unwrap();
        let pending = |q: &Queue| {
            q.with_state(|s| {
                s.slots
                    .get(&("a".to_string(), "staging".to_string()))
                    .and_then(|s| s.pending.clone())
            })
        };
        poll_once(&file, &q, "a", &Cancel::default());
        assert_eq!(
            q.seen("a", "main"),
            Some(git(&repo, &["rev-parse", "HEAD"]))
        );
        assert!(pending(&q).is_none(), "the baseline is not deployed");
        poll_once(&file, &q, "a", &Cancel::default());
        assert!(pending(&q).is_none(), "nothing moved");
        git(&repo, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let two = git(&repo, &["rev-parse", "HEAD"]);
        poll_once(&file, &q, "a", &Cancel::default());
        let p = pending(&q).expect("the moved head is queued");
        assert_eq!((p.sha.as_str(), p.source), (two.as_str(), Source::Poll));
        assert_eq!(q.seen("a", "main"), Some(two));
    }
}
