//! Notifications consume the event stream; nothing sends them from inside
//! an operation. A [`Notifier`] sits between an operation and its renderer:
//! it passes every event on, and turns a deploy's `DeployStarted`, its
//! summary and the `Finished` that follows into notices: a desktop
//! notification, and the team channels of `[notify]` (Slack, Discord, a
//! JSON webhook, GitHub commit statuses; see `notify/`).
//!
//! Notifications are best effort by design: without a D-Bus session
//! (servers, CI, SSH sessions) no desktop notification is shown, a channel
//! delivers on its own worker thread with retries, and a slow or broken
//! notification service can never hold a deploy up or fail it. A failed
//! delivery is one warning, URLs and tokens masked.

pub mod channels;
pub mod deliver;
pub mod message;

pub use channels::{collecting, env_lookup, Channels, Lookup};
pub use deliver::flush;
pub use message::{Known, Notice};

use crate::event::report::{short_sha, DeployOp, DeployResult, DeploySummary};
use crate::event::{Event, Redactor, Sink};
use std::sync::{Arc, Mutex, OnceLock};
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

/// `em` behind a [`Notifier`] with the project's `[notify]` channels and no
/// desktop notification: for a front end that already has its emitter and
/// notifies the desktop itself (the dashboard). Delivery failures are
/// warnings on `em`.
pub fn with_channels(
    em: crate::event::Emitter,
    project: &crate::config::Project,
) -> crate::event::Emitter {
    struct Forward(crate::event::Emitter);
    impl Sink for Forward {
        fn emit(&self, ev: Event) {
            self.0.emit(ev)
        }
    }
    let warn_to = em.clone();
    let warn: deliver::Warn = Arc::new(move |w| warn_to.warn(w));
    let channels = Channels::new(
        &project.config.notify,
        Some(project.root.clone()),
        env_lookup(),
        warn,
    );
    let n = Arc::new(Notifier::new(Arc::new(Forward(em)), false).with_channels(channels));
    let out = crate::event::Emitter::new(n.clone());
    n.redact_with(out.redactor().clone());
    out
}

/// What a deploy is known to target before the stream says so, for a
/// failure that comes before `DeployStarted` (a build, a config error in a
/// pushed commit).
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub app: String,
    pub env: String,
    pub git_sha: Option<String>,
    /// A Spark job's id.
    pub job: Option<String>,
    /// `cli` or `spark`.
    pub source: String,
    /// Notify any failure (a Spark job); otherwise only those after the
    /// build started (a refused confirmation is no failed deploy).
    pub all_failures: bool,
}

#[derive(Default)]
struct State {
    summary: Option<DeploySummary>,
    started: bool,
    building: bool,
    known: Known,
}

/// Passes events on to `inner` and notifies when a deploy or rollback
/// starts and finishes: desktop (at the end only) and team channels.
pub struct Notifier {
    inner: Arc<dyn Sink>,
    desktop: bool,
    channels: Option<Channels>,
    target: Option<Target>,
    state: Mutex<State>,
    redactor: OnceLock<Redactor>,
}

impl Notifier {
    pub fn new(inner: Arc<dyn Sink>, desktop: bool) -> Notifier {
        Notifier {
            inner,
            desktop,
            channels: None,
            target: None,
            state: Mutex::new(State {
                known: Known {
                    source: "cli".into(),
                    ..Default::default()
                },
                ..Default::default()
            }),
            redactor: OnceLock::new(),
        }
    }

    /// Also tell these team channels.
    pub fn with_channels(mut self, channels: Channels) -> Self {
        self.channels = (!channels.is_empty()).then_some(channels);
        self
    }

    /// What the operation is known to deploy (see [`Target`]).
    pub fn with_target(mut self, t: Target) -> Self {
        {
            let st = self.state.get_mut().unwrap();
            st.known = Known {
                app: t.app.clone(),
                env: Some(t.env.clone()),
                version: None,
                git_sha: t.git_sha.clone(),
                job: t.job.clone(),
                source: t.source.clone(),
            };
        }
        self.target = Some(t);
        self
    }

    /// Mask what the operation's emitter masks (env values) in notices too.
    pub fn redact_with(&self, r: Redactor) {
        let _ = self.redactor.set(r);
    }

    fn send(&self, mut n: Notice) {
        let Some(ch) = &self.channels else { return };
        if let Some(r) = self.redactor.get() {
            n.title = r.redact(&n.title);
            n.text = r.redact(&n.text);
            for s in n.servers.iter_mut() {
                s.detail = r.redact(&s.detail);
            }
        }
        ch.send(&n);
    }

    fn observe(&self, ev: &Event) {
        let mut st = self.state.lock().unwrap();
        match ev {
            Event::StepStarted { server: None, step } if step == "build" => st.building = true,
            Event::DeployStarted(s) => {
                st.started = true;
                st.known.app = s.app.clone();
                st.known.env = Some(s.env.clone());
                st.known.version = s.version.clone();
                if s.git_sha.is_some() {
                    st.known.git_sha = s.git_sha.clone();
                }
                let n = Notice::started(s, &st.known);
                drop(st);
                self.send(n);
            }
            Event::DeploySummary(s) => st.summary = Some(s.clone()),
            Event::Finished { ok, summary, .. } => {
                let state = std::mem::take(&mut *st);
                st.known = state.known.clone();
                drop(st);
                if let Some(s) = state.summary {
                    if self.desktop {
                        let (title, body) = deploy_message(&s);
                        desktop(&title, &body, Duration::from_secs(1));
                    }
                    self.send(Notice::finished(&s, &state.known));
                } else if !ok {
                    let early = state.started
                        || self
                            .target
                            .as_ref()
                            .is_some_and(|t| t.all_failures || state.building);
                    if early && !state.known.app.is_empty() {
                        self.send(Notice::failed_early(&state.known, summary));
                    }
                }
            }
            _ => {}
        }
    }
}

impl Sink for Notifier {
    fn emit(&self, ev: Event) {
        self.observe(&ev);
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

    fn notifier(url: &str, target: Option<Target>) -> (Arc<Notifier>, crate::event::Emitter) {
        let mut cfg = crate::config::notify::NotifyConfig::default();
        cfg.channels.insert(
            "hook".into(),
            crate::config::notify::ChannelConfig {
                kind: crate::config::notify::ChannelKind::Webhook,
                url_env: Some("HOOK_URL".into()),
                token_env: None,
                secret_env: Some("HOOK_KEY".into()),
                events: None,
                envs: None,
                repo: None,
                api_url: None,
                context: None,
                target_url: None,
            },
        );
        let url = url.to_string();
        let lookup: Lookup = Arc::new(move |n| match n {
            "HOOK_URL" => Some(url.clone()),
            "HOOK_KEY" => Some("sign-key".into()),
            _ => None,
        });
        let (warn, _) = collecting();
        let ch = Channels::new(&cfg, None, lookup, warn);
        let mut n = Notifier::new(Arc::new(crate::event::NullSink), false).with_channels(ch);
        if let Some(t) = target {
            n = n.with_target(t);
        }
        let n = Arc::new(n);
        let em = crate::event::Emitter::new(n.clone());
        n.redact_with(em.redactor().clone());
        (n, em)
    }

    #[test]
    fn fake_webhook_hears_of_a_build_that_failed_but_not_of_other_failures() {
        let (url, seen) = deliver::tests::fake_service(vec![]);
        // A deploy whose build fails: no DeployStarted, no summary.
        let target = Target {
            app: "hello".into(),
            env: "staging".into(),
            git_sha: Some("c".repeat(40)),
            source: "cli".into(),
            ..Default::default()
        };
        let (_n, em) = notifier(&url, Some(target.clone()));
        em.redactor().add("s3cr3t-value");
        em.step_started("build");
        em.failed(
            crate::error::ErrorKind::Failed,
            "build failed: s3cr3t-value",
        );
        // Refused before the build (a "no" at the prompt): not a failed deploy.
        let (_n, em) = notifier(&url, Some(target));
        em.failed(crate::error::ErrorKind::Input, "not confirmed");
        // Any other operation that fails: nothing.
        let (_n, em) = notifier(&url, None);
        em.failed(crate::error::ErrorKind::Failed, "status failed");
        assert_eq!(deliver::flush(Duration::from_secs(10)), 0);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let v: serde_json::Value = serde_json::from_str(&seen[0]).unwrap();
        assert_eq!(v["event"], "failed");
        assert_eq!(v["title"], "hello deploy to staging FAILED");
        assert_eq!(v["text"], "build failed: ***");
        assert_eq!(v["git_sha"], "c".repeat(40));
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
