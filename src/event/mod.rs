//! The typed event stream every engine emits.
//!
//! Engines (deploy, push, server check, secrets...) never print. They emit
//! [`Event`]s into an [`Emitter`]; the human CLI renderer, the `--json` lines
//! renderer and the TUI are consumers of the same stream, the way ripgrep's
//! searcher reports to a `Sink` and knows nothing of output formats.
//!
//! Secrets are redacted *before* an event is created (see [`Redactor`]), so no
//! renderer can leak them by accident.

pub mod report;

use crate::error::ErrorKind;
use report::*;
use serde::Serialize;
use std::sync::{Arc, Mutex, RwLock};

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Severity for free-form messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One thing that happened. Serialized as one JSON object per line by `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A named step began (e.g. "connect", "lock", "ship", "health").
    StepStarted {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        step: String,
    },
    /// A step ended. `detail` is a short human summary.
    StepFinished {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        step: String,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// For converging steps (bootstrap, network): whether the step
        /// changed anything, so a second run can say "unchanged".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changed: Option<bool>,
    },
    /// Byte or item progress of a long step (image push, build...).
    Progress {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        label: String,
        done: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    /// A line of output from a remote or local process. `verbose` lines
    /// (a build's raw output) are the detail behind a step's progress: the
    /// human CLI shows them with `-v` only.
    Log {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        stream: Stream,
        line: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        verbose: bool,
    },
    /// A command about to run through the transport, secrets already redacted.
    Command {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        command: String,
    },
    /// A free-form message for the user.
    Message {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
        level: Level,
        text: String,
    },
    /// What a deploy would do (`deploy --dry-run`).
    Plan(Plan),
    /// A deploy or rollback starts touching servers.
    DeployStarted(DeployStarted),
    /// The outcome table of a deploy or rollback.
    DeploySummary(DeploySummary),
    /// Release history.
    Releases(ReleaseList),
    /// One server's status, as soon as it answered (the dashboard fills its
    /// Overview from these while slow servers are still timing out).
    ServerStatus(ServerStatus),
    /// `status`: release, health and lock per server.
    Status(StatusReport),
    /// `ps`: the containers per server.
    Containers(StatusReport),
    /// Deploy locks.
    Locks(LockReport),
    /// The server registry.
    Servers(ServerList),
    /// `server check`.
    Checks(CheckReport),
    /// `server trust`.
    HostKey(TrustReport),
    /// `halt`.
    Halted(HaltReport),
    /// `proxy status`.
    Proxy(ProxyReport),
    /// `build`.
    Built(BuildReport),
    /// `push`.
    Pushed(PushSummary),
    /// `env show`.
    Env(EnvReport),
    /// `team list`.
    Team(TeamReport),
    /// `identity new|show|import`.
    Identity(IdentityReport),
    /// `deploy gen-key`: the one time a secret is printed, on purpose.
    KeyPair(KeyPair),
    /// `scan`.
    Scan(ScanReport),
    /// `secrets verify`.
    SecretsCheck(SecretsReport),
    /// `config check`.
    ConfigCheck(ConfigReport),
    /// `init`.
    Init(InitReport),
    /// The whole operation finished. `error_kind` says why it failed.
    Finished {
        ok: bool,
        summary: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_kind: Option<ErrorKind>,
    },
    /// `network ensure`, `network status`: every server's network state.
    Network(NetworkReport),
    /// One server's network state, as soon as it is known (the dashboard
    /// fills its Overview from these).
    NetworkNode(Box<ServerNetwork>),
    /// `spark status`: Spark's queue, running job and recent results.
    Spark(SparkStatus),
    /// `git watch`: one shadow snapshot (taken, unchanged or blocked).
    ShadowSnapshot(ShadowSnapshot),
    /// `git commit`: the generated message and the new commit.
    GitCommit(CommitReport),
    /// `git squash`: the plan, then (unless a dry run) what was applied.
    Squash(Box<SquashReport>),
    /// `server bootstrap`: what each server's bootstrap did.
    Bootstrapped(BootstrapReport),
    /// `server cloud-init`: the user-data.
    CloudInit(CloudInitReport),
}

impl Event {
    pub fn server(&self) -> Option<&str> {
        match self {
            Event::StepStarted { server, .. }
            | Event::StepFinished { server, .. }
            | Event::Progress { server, .. }
            | Event::Log { server, .. }
            | Event::Command { server, .. }
            | Event::Message { server, .. } => server.as_deref(),
            _ => None,
        }
    }
}

/// A consumer of events: a renderer, a channel into the TUI, a test recorder.
pub trait Sink: Send + Sync {
    fn emit(&self, event: Event);
}

/// A cheap, cloneable handle that engines emit through. It carries the server
/// name (if any) so engine code does not repeat it on every call.
#[derive(Clone)]
pub struct Emitter {
    sink: Arc<dyn Sink>,
    server: Option<String>,
    redactor: Redactor,
}

impl Emitter {
    pub fn new(sink: Arc<dyn Sink>) -> Self {
        Emitter {
            sink,
            server: None,
            redactor: Redactor::default(),
        }
    }

    /// An emitter that drops everything (for library calls whose events nobody wants).
    pub fn null() -> Self {
        Emitter::new(Arc::new(NullSink))
    }

    /// The same sink, tagging every event with `server`.
    pub fn for_server(&self, server: &str) -> Self {
        Emitter {
            sink: self.sink.clone(),
            server: Some(server.to_string()),
            redactor: self.redactor.clone(),
        }
    }

    pub fn server_name(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The redactor shared by every clone of this emitter.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn emit(&self, event: Event) {
        self.sink.emit(event);
    }

    pub fn step_started(&self, step: &str) {
        self.emit(Event::StepStarted {
            server: self.server.clone(),
            step: step.to_string(),
        });
    }

    pub fn step_finished(&self, step: &str, ok: bool, detail: Option<String>) {
        self.emit(Event::StepFinished {
            server: self.server.clone(),
            step: step.to_string(),
            ok,
            detail: detail.map(|d| self.redactor.redact(&d)),
            changed: None,
        });
    }

    /// A converging step finished successfully, having `changed` the
    /// server or found it already as wanted.
    pub fn step_converged(&self, step: &str, changed: bool, detail: impl Into<String>) {
        let detail = detail.into();
        self.emit(Event::StepFinished {
            server: self.server.clone(),
            step: step.to_string(),
            ok: true,
            detail: (!detail.is_empty()).then(|| self.redactor.redact(&detail)),
            changed: Some(changed),
        });
    }

    pub fn progress(&self, label: &str, done: u64, total: Option<u64>) {
        self.emit(Event::Progress {
            server: self.server.clone(),
            label: label.to_string(),
            done,
            total,
        });
    }

    /// A line of a process's output. Terminal control sequences (docker's
    /// colours, cursor moves of progress output) are removed here, so no
    /// renderer prints them and the TUI never draws them as text.
    pub fn log(&self, stream: Stream, line: &str) {
        self.emit(Event::Log {
            server: self.server.clone(),
            stream,
            line: self.redactor.redact(&strip_control(line)),
            verbose: false,
        });
    }

    /// A [`Emitter::log`] line that is detail, not result (shown with `-v`).
    pub fn log_verbose(&self, stream: Stream, line: &str) {
        self.emit(Event::Log {
            server: self.server.clone(),
            stream,
            line: self.redactor.redact(&strip_control(line)),
            verbose: true,
        });
    }

    /// Record a command in the command log. Redaction happens here, so callers
    /// pass the real command line.
    pub fn command(&self, command: &str) {
        self.emit(Event::Command {
            server: self.server.clone(),
            command: self.redactor.redact(command),
        });
    }

    pub fn message(&self, level: Level, text: impl AsRef<str>) {
        self.emit(Event::Message {
            server: self.server.clone(),
            level,
            text: self.redactor.redact(text.as_ref()),
        });
    }

    pub fn info(&self, text: impl AsRef<str>) {
        self.message(Level::Info, text)
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        self.message(Level::Warn, text)
    }

    pub fn finished(&self, ok: bool, summary: impl Into<String>) {
        self.emit(Event::Finished {
            ok,
            summary: self.redactor.redact(&summary.into()),
            error_kind: (!ok).then_some(ErrorKind::Failed),
        });
    }

    /// The operation failed with an error of `kind`.
    pub fn failed(&self, kind: ErrorKind, summary: impl Into<String>) {
        self.emit(Event::Finished {
            ok: false,
            summary: self.redactor.redact(&summary.into()),
            error_kind: Some(kind),
        });
    }
}

/// `text` without ANSI/VT escape sequences (CSI, OSC and two-byte ESC
/// sequences) and other control characters but tab. A carriage return
/// keeps only what the terminal would show: the text after the last one.
pub fn strip_control(text: &str) -> String {
    let text = match text.trim_end_matches('\r').rsplit_once('\r') {
        Some((_, last)) => last,
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: until BEL or ST (ESC \).
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Drops every event.
pub struct NullSink;

impl Sink for NullSink {
    fn emit(&self, _event: Event) {}
}

/// Keeps every event; used by tests and by callers that want the data back.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl Sink for Recorder {
    fn emit(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }
}

/// Forwards events into a channel (the TUI's runtime loop reads the other end).
pub struct ChannelSink(pub tokio::sync::mpsc::UnboundedSender<Event>);

impl Sink for ChannelSink {
    fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// Replaces known secret values with `***` in any text that leaves the engine.
///
/// Engines register every decrypted env value before running a command, so the
/// command log, log lines and error summaries never carry them. Values shorter
/// than 4 characters are not registered: masking every "1" or "on" in a log
/// would make it unreadable and such values are not secrets worth the name.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

pub const REDACTED: &str = "***";

impl Redactor {
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let mut s = self.secrets.write().unwrap();
        if !s.iter().any(|x| x == secret) {
            s.push(secret.to_string());
            // Longest first, so a secret that contains another is masked whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    pub fn add_all<'a>(&self, secrets: impl IntoIterator<Item = &'a str>) {
        for s in secrets {
            self.add(s);
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let s = self.secrets.read().unwrap();
        let mut out = text.to_string();
        for secret in s.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ansi_codes_leak_regression() {
        assert_eq!(
            strip_control("\x1b[1m\x1b[32mStep 1/3\x1b[0m : FROM x"),
            "Step 1/3 : FROM x"
        );
        assert_eq!(strip_control("\x1b]0;title\x07done"), "done");
        assert_eq!(strip_control("50%\r100%\r"), "100%");
        assert_eq!(strip_control("a\tb\x08c"), "a\tbc");
        let rec = Arc::new(Recorder::default());
        Emitter::new(rec.clone()).log(Stream::Stdout, "\x1b[31mred\x1b[0m");
        assert!(matches!(&rec.events()[0], Event::Log { line, .. } if line == "red"));
    }

    #[test]
    fn redactor_masks_longest_first_and_ignores_tiny_values() {
        let r = Redactor::default();
        r.add("hunter2hunter2");
        r.add("hunter2");
        r.add("on");
        assert_eq!(
            r.redact("pw=hunter2hunter2 x=hunter2 on"),
            "pw=*** x=*** on"
        );
    }

    #[test]
    fn emitter_redacts_commands_and_logs() {
        let rec = Arc::new(Recorder::default());
        let em = Emitter::new(rec.clone()).for_server("srv1");
        em.redactor().add("s3cr3t-value");
        em.command("docker run -e X=s3cr3t-value img");
        em.log(Stream::Stdout, "got s3cr3t-value");
        let evs = rec.events();
        assert_eq!(
            evs[0],
            Event::Command {
                server: Some("srv1".into()),
                command: "docker run -e X=*** img".into()
            }
        );
        let json = serde_json::to_string(&evs[1]).unwrap();
        assert!(json.contains(r#""event":"log""#) && !json.contains("s3cr3t"));
    }
}
