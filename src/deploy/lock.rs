//! The deploy lock: one per app+env per server.
//!
//! `mkdir` is atomic on every filesystem we care about, so the lock is a
//! directory; `holder.json` inside names who holds it. While a deploy runs, a
//! heartbeat thread touches `holder.json` every few seconds. A lock whose
//! heartbeat is older than the stale threshold (60 s, or
//! `ARCANE_LOCK_STALE_SECS`) belongs to a deploy that died (kill -9, lost
//! laptop) and is taken over with a warning. Ages are measured with the
//! server's clock on both ends, so clock skew between machines does not matter.

use super::layout::LOCK_HOLDER;
use super::DeployError;
use crate::event::Emitter;
use crate::remote::ssh::remote_path;
use crate::remote::{shell_quote, Cmd, Transport};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`
    pub who: String,
    pub pid: u32,
    /// RFC 3339 UTC.
    pub since: String,
    pub version: String,
    /// Random token: only the holder releases or refreshes its own lock.
    pub token: String,
}

impl Holder {
    pub fn new(version: &str) -> Holder {
        use rand::Rng;
        let token: u64 = rand::thread_rng().gen();
        Holder {
            who: super::whoami(),
            pid: std::process::id(),
            since: super::now_rfc3339(),
            version: version.to_string(),
            token: format!("{token:016x}"),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}, since {}, deploying {})",
            self.who, self.pid, self.since, self.version
        )
    }
}

/// What `lock status` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockState {
    pub held: bool,
    pub holder: Option<Holder>,
    /// Seconds since the last heartbeat.
    pub age_secs: Option<u64>,
    pub stale: bool,
}

pub fn stale_after() -> Duration {
    let secs = std::env::var("ARCANE_LOCK_STALE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Try once: prints `ACQUIRED` (then whatever `then` prints), or
/// `HELD <age>` and the holder JSON.
fn try_script(lock_dir: &str, then: &str) -> String {
    let d = remote_path(lock_dir);
    // `then`'s exit status is ignored: the lock is taken once holder.json is
    // written. Its time is not held against the heartbeat: holder.json is
    // touched again after it, before the heartbeat thread starts.
    let then = if then.is_empty() {
        String::new()
    } else {
        format!(" {then}; touch {d}/{LOCK_HOLDER} 2>/dev/null;")
    };
    format!(
        "mkdir -p \"$(dirname {d})\" && if mkdir {d} 2>/dev/null; then cat > {d}/{LOCK_HOLDER} && {{ echo ACQUIRED;{then} true; }}; \
         else cat >/dev/null; now=$(date +%s); m=$(stat -c %Y {d}/{LOCK_HOLDER} 2>/dev/null || stat -c %Y {d} 2>/dev/null || echo $now); \
         echo \"HELD $((now - m))\"; cat {d}/{LOCK_HOLDER} 2>/dev/null; fi"
    )
}

fn parse_state(out: &str) -> LockState {
    let mut lines = out.lines();
    let first = lines.next().unwrap_or("");
    if first.starts_with("ACQUIRED") {
        return LockState {
            held: false,
            holder: None,
            age_secs: None,
            stale: false,
        };
    }
    let age = first
        .strip_prefix("HELD ")
        .and_then(|a| a.trim().parse::<i64>().ok())
        .map(|a| a.max(0) as u64);
    let rest: String = lines.collect::<Vec<_>>().join("\n");
    let holder: Option<Holder> = serde_json::from_str(rest.trim()).ok();
    LockState {
        held: true,
        stale: age.is_some_and(|a| a >= stale_after().as_secs()),
        holder,
        age_secs: age,
    }
}

/// A held lock. Dropping it stops the heartbeat; call [`Lock::release`] to
/// remove it (a lock left behind by a crash goes stale and is taken over).
pub struct Lock {
    t: Arc<dyn Transport>,
    dir: String,
    holder: Holder,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
}

impl Lock {
    /// Take the lock, waiting up to `wait` for another holder, taking over a
    /// stale one with a warning.
    pub fn acquire(
        t: Arc<dyn Transport>,
        dir: &str,
        version: &str,
        wait: Duration,
        em: &Emitter,
    ) -> Result<Lock, DeployError> {
        Lock::acquire_then(t, dir, version, wait, "", em).map(|(l, _)| l)
    }

    /// [`Lock::acquire`], then run the shell snippet `then` in the same
    /// round trip, under the lock, and return what it printed: a deploy
    /// reads the server's state this way without a second round trip.
    pub fn acquire_then(
        t: Arc<dyn Transport>,
        dir: &str,
        version: &str,
        wait: Duration,
        then: &str,
        em: &Emitter,
    ) -> Result<(Lock, String), DeployError> {
        let holder = Holder::new(version);
        let body = serde_json::to_vec_pretty(&holder).expect("serializable");
        let start = Instant::now();
        let mut told = false;
        loop {
            let out = t
                .run(
                    &Cmd::shell(try_script(dir, then))
                        .with_stdin(body.clone())
                        .with_timeout(Duration::from_secs(60)),
                    em,
                )
                .map_err(|e| {
                    // The lock may have been taken before the round trip
                    // failed (a slow state read, a dropped link): remove it
                    // if it is ours, so it does not wait to go stale.
                    let _ = break_lock(&*t, dir, Some(&holder.token), em);
                    DeployError::remote(e)
                })?;
            if !out.success() {
                return Err(DeployError::failed(format!(
                    "{}: cannot create the lock {dir}: {}",
                    t.name(),
                    out.stderr_str().trim()
                )));
            }
            let text = out.stdout_str();
            let st = parse_state(&text);
            if !st.held {
                let mut lock = Lock {
                    t,
                    dir: dir.to_string(),
                    holder,
                    stop: Arc::new(AtomicBool::new(false)),
                    beat: None,
                };
                lock.start_heartbeat(em.clone());
                let rest = text.split_once('\n').map(|(_, r)| r).unwrap_or("");
                return Ok((lock, rest.to_string()));
            }
            if st.stale {
                let who = st
                    .holder
                    .as_ref()
                    .map(|h| h.describe())
                    .unwrap_or_else(|| "an unknown holder".into());
                em.warn(format!(
                    "taking over a stale deploy lock held by {who}: no heartbeat for {}s",
                    st.age_secs.unwrap_or(0)
                ));
                break_lock(&*t, dir, st.holder.as_ref().map(|h| h.token.as_str()), em)?;
                continue;
            }
            let who = st
                .holder
                .as_ref()
                .map(|h| h.describe())
                .unwrap_or_else(|| "another deploy that is starting".into());
            if start.elapsed() >= wait {
                return Err(DeployError::Locked {
                    server: t.name().to_string(),
                    holder: who,
                });
            }
            if !told {
                em.info(format!(
                    "waiting up to {}s for the deploy lock held by {who}",
                    wait.as_secs()
                ));
                told = true;
            }
            std::thread::sleep(
                Duration::from_millis(500).min(wait.saturating_sub(start.elapsed())),
            );
        }
    }

    fn start_heartbeat(&mut self, em: Emitter) {
        let t = self.t.clone();
        let stop = self.stop.clone();
        let file = format!("{}/{LOCK_HOLDER}", self.dir);
        let token = self.holder.token.clone();
        let period = heartbeat_period();
        self.beat = Some(std::thread::spawn(move || {
            let quiet = Emitter::null();
            let _ = &em;
            let script = format!(
                "grep -q {} {f} && touch {f}",
                shell_quote(&token),
                f = remote_path(&file)
            );
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if last.elapsed() >= period {
                    last = Instant::now();
                    let _ = t.run(
                        &Cmd::shell(script.clone()).with_timeout(Duration::from_secs(10)),
                        &quiet,
                    );
                }
            }
        }));
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Remove the lock if it is still ours.
    pub fn release(mut self, em: &Emitter) -> Result<(), DeployError> {
        self.stop_heartbeat();
        let d = remote_path(&self.dir);
        let script = format!(
            "if grep -q {tok} {d}/{LOCK_HOLDER} 2>/dev/null; then rm -rf {d}; fi",
            tok = shell_quote(&self.holder.token)
        );
        let out = self
            .t
            .run(&Cmd::shell(script), em)
            .map_err(DeployError::remote)?;
        if !out.success() {
            return Err(DeployError::failed(format!(
                "{}: could not remove the lock {}: {}",
                self.t.name(),
                self.dir,
                out.stderr_str().trim()
            )));
        }
        Ok(())
    }

    fn stop_heartbeat(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.beat.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

fn heartbeat_period() -> Duration {
    // A fifth of the stale threshold, between 1 and 5 seconds.
    let s = stale_after().as_secs_f64() / 5.0;
    Duration::from_secs_f64(s.clamp(1.0, 5.0))
}

/// Remove a lock. With a token, only if the holder is still that one, so two
/// deploys taking over the same stale lock cannot remove each other's fresh lock.
pub fn break_lock(
    t: &dyn Transport,
    dir: &str,
    token: Option<&str>,
    em: &Emitter,
) -> Result<(), DeployError> {
    let d = remote_path(dir);
    let script = match token {
        Some(tok) => format!(
            "if grep -q {} {d}/{LOCK_HOLDER} 2>/dev/null; then mv {d} {d}.stale.$$ 2>/dev/null && rm -rf {d}.stale.$$; fi; true",
            shell_quote(tok)
        ),
        None => format!("mv {d} {d}.stale.$$ 2>/dev/null && rm -rf {d}.stale.$$; true"),
    };
    let out = t
        .run(
            &Cmd::shell(script).with_timeout(Duration::from_secs(10)),
            em,
        )
        .map_err(DeployError::remote)?;
    if !out.success() {
        return Err(DeployError::failed(format!(
            "{}: cannot remove the lock {dir}: {}",
            t.name(),
            out.stderr_str().trim()
        )));
    }
    Ok(())
}

/// Read a lock without taking it.
pub fn status(t: &dyn Transport, dir: &str, em: &Emitter) -> Result<LockState, DeployError> {
    let d = remote_path(dir);
    let script = format!(
        "if [ -d {d} ]; then now=$(date +%s); m=$(stat -c %Y {d}/{LOCK_HOLDER} 2>/dev/null || stat -c %Y {d}); \
         echo \"HELD $((now - m))\"; cat {d}/{LOCK_HOLDER} 2>/dev/null; else echo FREE; fi"
    );
    let out = t
        .run(&Cmd::shell(script), em)
        .map_err(DeployError::remote)?;
    let text = out.stdout_str();
    if text.starts_with("FREE") {
        return Ok(LockState {
            held: false,
            holder: None,
            age_secs: None,
            stale: false,
        });
    }
    Ok(parse_state(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::LocalTransport;

    #[test]
    fn parses_held_and_acquired() {
        assert!(!parse_state("ACQUIRED\n").held);
        let h = Holder::new("v1");
        let st = parse_state(&format!("HELD 3\n{}", serde_json::to_string(&h).unwrap()));
        assert!(st.held && !st.stale);
        assert_eq!(st.age_secs, Some(3));
        assert_eq!(st.holder.unwrap().version, "v1");
        assert!(parse_state("HELD 100000\n").stale);
    }

    #[test]
    fn mkdir_lock_excludes_a_second_holder_and_releases() {
        let dir = tempfile::tempdir().unwrap();
        let lock_dir = dir.path().join("app/staging/lock");
        let lock_dir = lock_dir.to_str().unwrap();
        let t: Arc<dyn Transport> = Arc::new(LocalTransport::new("local"));
        let em = Emitter::null();
        let a = Lock::acquire(t.clone(), lock_dir, "v1", Duration::ZERO, &em).unwrap();
        let e = Lock::acquire(t.clone(), lock_dir, "v2", Duration::from_millis(600), &em)
            .err()
            .unwrap();
        assert!(
            matches!(&e, DeployError::Locked { holder, .. } if holder.contains("deploying v1")),
            "{e}"
        );
        let st = status(&*t, lock_dir, &em).unwrap();
        assert!(st.held);
        a.release(&em).unwrap();
        assert!(!status(&*t, lock_dir, &em).unwrap().held);
        let b = Lock::acquire(t.clone(), lock_dir, "v2", Duration::ZERO, &em).unwrap();
        b.release(&em).unwrap();
    }
}
