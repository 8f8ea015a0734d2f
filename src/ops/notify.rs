//! Notifications consume the event stream; nothing sends them from inside
//! an operation. A [`Notifier`] sits between an operation and its renderer:
//! it passes every event on, remembers the deploy's summary, and on the
//! `Finished` that follows it notifies.
//!
//! Desktop notifications are best effort by design: without a D-Bus session
//! (servers, CI, SSH sessions) nothing happens, and a slow or broken
//! notification daemon can never hold a deploy up or fail it.

use crate::event::report::{short_sha, DeployOp, DeployResult, DeploySummary};
use crate::event::{Event, Sink};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether a desktop notification would be attempted in this environment.
pub fn desktop_available() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// Send a desktop notification from a thread and wait at most `wait` for
/// it (a CLI that exits right after must give it a moment; the dashboard
/// waits for nothing). Returns whether one was attempted.
pub fn desktop(title: &str, body: &str, wait: Duration) -> bool {
    if !desktop_available() {
        return false;
    }
    let (title, body) = (title.to_string(), body.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("arcane-notify".into())
        .spawn(move || {
            let _ = notify_rust::Notification::new()
                .appname("arcane")
                .summary(&title)
                .body(&body)
                .timeout(notify_rust::Timeout::Milliseconds(8000))
                .show();
            let _ = tx.send(());
        })
        .is_ok();
    if spawned && !wait.is_zero() {
        let _ = rx.recv_timeout(wait);
    }
    spawned
}

/// The title and body announcing a finished deploy or rollback.
pub fn deploy_message(s: &DeploySummary) -> (String, String) {
    let what = match s.op {
        DeployOp::Deploy => "deploy",
        DeployOp::Rollback => "rollback",
    };
    let version = s.version.as_deref().map(short_sha).unwrap_or_default();
    match s.result {
        DeployResult::Succeeded => match s.op {
            DeployOp::Deploy => (
                format!("{} deployed", s.app),
                format!("{version} is live on {}", s.env),
            ),
            DeployOp::Rollback => (
                format!("{} rolled back", s.app),
                format!("{version} is live on {}", s.env),
            ),
        },
        DeployResult::Cancelled => (
            format!("{} {what} to {} cancelled", s.app, s.env),
            String::new(),
        ),
        DeployResult::Failed | DeployResult::RolledBack => {
            let bad: Vec<String> = s
                .servers
                .iter()
                .filter(|o| !o.ok)
                .map(|o| format!("{}: {}", o.server, o.detail))
                .collect();
            (
                format!("{} {what} to {} FAILED", s.app, s.env),
                bad.join("\n"),
            )
        }
    }
}

/// Passes events on to `inner` and sends a desktop notification when a
/// deploy or rollback finishes.
pub struct Notifier {
    inner: Arc<dyn Sink>,
    desktop: bool,
    summary: Mutex<Option<DeploySummary>>,
}

impl Notifier {
    pub fn new(inner: Arc<dyn Sink>, desktop: bool) -> Notifier {
        Notifier {
            inner,
            desktop,
            summary: Mutex::new(None),
        }
    }
}

impl Sink for Notifier {
    fn emit(&self, ev: Event) {
        match &ev {
            Event::DeploySummary(s) => *self.summary.lock().unwrap() = Some(s.clone()),
            Event::Finished { .. } => {
                if let Some(s) = self.summary.lock().unwrap().take() {
                    if self.desktop {
                        let (title, body) = deploy_message(&s);
                        desktop(&title, &body, Duration::from_secs(1));
                    }
                }
            }
            _ => {}
        }
        self.inner.emit(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::report::ServerOutcome;

    #[test]
    fn without_dbus_it_returns_at_once_fake_bus() {
        // No bus address at all in the test environment is the common case;
        // either way this must neither block nor panic.
        let t = std::time::Instant::now();
        desktop("x", "y", Duration::from_secs(1));
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn messages_say_what_happened() {
        let mut s = DeploySummary {
            op: DeployOp::Deploy,
            app: "hello".into(),
            env: "production".into(),
            version: Some("0123456789abcdef0123".into()),
            git_sha: None,
            ok: true,
            result: DeployResult::Succeeded,
            servers: vec![],
            elapsed_ms: 1,
        };
        assert_eq!(
            deploy_message(&s),
            (
                "hello deployed".to_string(),
                "0123456789ab is live on production".to_string()
            )
        );
        s.result = DeployResult::RolledBack;
        s.servers.push(ServerOutcome {
            server: "web1".into(),
            ok: false,
            version: None,
            detail: "health check failed".into(),
            rolled_back: true,
            changed: false,
            error_kind: None,
        });
        let (t, b) = deploy_message(&s);
        assert_eq!(t, "hello deploy to production FAILED");
        assert_eq!(b, "web1: health check failed");
    }
}
