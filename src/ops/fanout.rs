//! The one way operations run something on many servers: bounded
//! parallelism, one outcome per server in registry order, and an optional
//! stop once a server fails (sequential deploys stop at the first failure).
//!
//! Threads, not tasks: the transport is blocking (ssh2), and each server's
//! steps stay plain sequential code.

use crate::config::Server;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many servers at once for a `--parallel` value: `None` one at a time,
/// `Some(0)` all at once, `Some(n)` n at once.
pub fn limit_of(parallel: Option<usize>, servers: usize) -> usize {
    match parallel {
        None => 1,
        Some(0) => servers.max(1),
        Some(n) => n.min(servers).max(1),
    }
}

/// Run `f` on every server, at most `limit` at a time. Once `stop` is true
/// for a finished result, servers not started yet are skipped (`None`).
/// Results come back in the order of `servers`.
pub fn fan_out<T, F, S>(servers: &[Server], limit: usize, stop: S, f: F) -> Vec<Option<T>>
where
    T: Send,
    F: Fn(&Server) -> T + Sync,
    S: Fn(&T) -> bool + Sync,
{
    let n = limit.clamp(1, servers.len().max(1));
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..servers.len()).map(|_| None).collect());
    let work = || loop {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        let Some(server) = servers.get(i) else {
            return;
        };
        let r = f(server);
        if stop(&r) {
            stopped.store(true, Ordering::SeqCst);
        }
        results.lock().unwrap()[i] = Some(r);
    };
    if n == 1 {
        // One at a time needs no thread: keeps stack traces and the
        // command log's order simple.
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(work);
            }
        });
    }
    results.into_inner().unwrap()
}

/// [`fan_out`] that never stops early: an outcome for every server.
pub fn fan_out_all<T, F>(servers: &[Server], limit: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(&Server) -> T + Sync,
{
    fan_out(servers, limit, |_| false, f)
        .into_iter()
        .map(|r| r.expect("fan_out_all runs every server"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use std::time::Duration;

    fn servers(n: usize) -> Vec<Server> {
        (1..=n)
            .map(|i| Server {
                name: format!("srv{i}"),
                config: ServerConfig {
                    host: format!("10.0.0.{i}"),
                    ..Default::default()
                },
            })
            .collect()
    }

    #[test]
    fn results_keep_server_order_and_respect_the_limit() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = fan_out_all(&servers(8), 3, |s| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
            s.name.clone()
        });
        assert_eq!(out, (1..=8).map(|i| format!("srv{i}")).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 2);
    }

    #[test]
    fn sequential_runs_stop_at_the_first_failure() {
        let out = fan_out(&servers(4), 1, |ok: &bool| !ok, |s| s.name != "srv2");
        assert_eq!(out, vec![Some(true), Some(false), None, None]);
        assert_eq!(limit_of(None, 5), 1);
        assert_eq!(limit_of(Some(0), 5), 5);
        assert_eq!(limit_of(Some(9), 5), 5);
        assert_eq!(limit_of(Some(0), 0), 1);
    }
}
