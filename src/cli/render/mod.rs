//! The CLI's two renderers of the event stream: human output (indicatif
//! bars for progress, tables for reports) and `--json` lines (schema in
//! docs/json.md). Operations decide what to emit; this decides how it looks.
//!
//! A closed stdout (`arcane completions bash | head -1`) is not an error:
//! the first EPIPE marks the output closed, later writes are dropped, and
//! an optional cancel token stops a stream that would otherwise run on with
//! nobody reading (`arcane logs -f | head`).

pub mod tables;

use super::args::GlobalArgs;
use crate::cancel::Cancel;
use crate::event::{Event, Level, Sink, Stream};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct Renderer {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    bars: Mutex<Bars>,
    out: Mutex<()>,
    stdout_closed: AtomicBool,
    /// Whether a failed `Finished` was shown: the binary then need not
    /// print the error again.
    failure_shown: AtomicBool,
    on_closed: Mutex<Option<Cancel>>,
}

struct Bars {
    multi: MultiProgress,
    by_key: HashMap<(Option<String>, String), ProgressBar>,
}

/// Write `bytes` to stdout. `false` when stdout is gone (EPIPE); other
/// errors are ignored the same way, as nothing could be shown anyway.
pub fn write_stdout(bytes: &[u8]) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush()).is_ok()
}

impl Renderer {
    pub fn new(g: &GlobalArgs) -> Renderer {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        let target = if g.json || g.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Renderer {
            json: g.json,
            quiet: g.quiet,
            verbose: g.verbose,
            color,
            bars: Mutex::new(Bars {
                multi: MultiProgress::with_draw_target(target),
                by_key: HashMap::new(),
            }),
            out: Mutex::new(()),
            stdout_closed: AtomicBool::new(false),
            failure_shown: AtomicBool::new(false),
            on_closed: Mutex::new(None),
        }
    }

    pub fn finish(&self) {
        let mut b = self.bars.lock().unwrap();
        for (_, bar) in b.by_key.drain() {
            bar.finish_and_clear();
        }
    }

    /// Cancel `c` when stdout is closed by its reader.
    pub fn cancel_on_close(&self, c: Cancel) {
        if self.stdout_closed.load(Ordering::SeqCst) {
            c.cancel();
        }
        *self.on_closed.lock().unwrap() = Some(c);
    }

    pub fn failure_shown(&self) -> bool {
        self.failure_shown.load(Ordering::SeqCst)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn prefix(&self, server: Option<&str>) -> String {
        match server {
            Some(s) => self.paint("2", &format!("[{s}] ")),
            None => String::new(),
        }
    }

    /// Print a line without tearing progress bars.
    fn line(&self, to_stderr: bool, text: &str) {
        let _g = self.out.lock().unwrap();
        let bars = self.bars.lock().unwrap();
        bars.multi.suspend(|| {
            if to_stderr {
                let _ = writeln!(std::io::stderr(), "{text}");
            } else {
                self.stdout(format!("{text}\n").as_bytes());
            }
        });
    }

    fn stdout(&self, bytes: &[u8]) {
        if self.stdout_closed.load(Ordering::SeqCst) {
            return;
        }
        if !write_stdout(bytes) {
            self.stdout_closed.store(true, Ordering::SeqCst);
            if let Some(c) = self.on_closed.lock().unwrap().as_ref() {
                c.cancel();
            }
        }
    }

    fn mark(&self, ok: bool) -> String {
        if ok {
            self.paint("32", "✓")
        } else {
            self.paint("31", "✗")
        }
    }

    fn human(&self, ev: Event) {
        let pre = self.prefix(ev.server());
        match ev {
            Event::StepStarted { step, .. } => {
                if self.verbose > 0 {
                    self.line(true, &format!("{pre}{} {step}", self.paint("36", "›")));
                }
            }
            Event::StepFinished {
                step,
                ok,
                detail,
                changed,
                ..
            } => {
                if self.quiet && ok {
                    return;
                }
                let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
                let mark = match changed {
                    Some(false) => self.paint("2", "="),
                    _ => self.mark(ok),
                };
                let state = match changed {
                    Some(true) => " (changed)",
                    Some(false) => " (unchanged)",
                    None => "",
                };
                self.line(true, &format!("{pre}{mark} {step}{state}{detail}"));
            }
            Event::Progress {
                server,
                label,
                done,
                total,
            } => self.progress(server, label, done, total),
            Event::Log {
                stream,
                line,
                verbose,
                ..
            } => {
                if !verbose || self.verbose > 0 {
                    self.line(stream == Stream::Stderr, &format!("{pre}{line}"));
                }
            }
            Event::Command { command, .. } => {
                if self.verbose > 0 {
                    self.line(true, &format!("{pre}{} {command}", self.paint("2", "$")));
                }
            }
            Event::Message { level, text, .. } => match level {
                Level::Info if !self.quiet => self.line(true, &format!("{pre}{text}")),
                Level::Info => {}
                Level::Warn => self.line(
                    true,
                    &format!("{pre}{} {text}", self.paint("33", "warning:")),
                ),
                Level::Error => {
                    self.line(true, &format!("{pre}{} {text}", self.paint("31", "error:")))
                }
            },
            Event::Plan(p) => self.line(false, &p.to_string()),
            Event::DeploySummary(s) => self.table(tables::deploy_summary(&s)),
            Event::Releases(r) => self.table(tables::releases(&r)),
            Event::Status(r) => self.table(tables::status(&r)),
            Event::Containers(r) => self.table(tables::containers(&r)),
            Event::Locks(r) => self.table(tables::locks(&r)),
            Event::Servers(r) => self.table(tables::servers(&r)),
            Event::Checks(r) => self.table(tables::checks(&r)),
            Event::Proxy(r) => self.table(tables::proxy(&r)),
            Event::Pushed(r) => self.table(tables::pushed(&r)),
            Event::Env(r) => self.table(tables::env(&r)),
            Event::Team(r) => self.table(tables::team(&r)),
            Event::Identity(r) => {
                for k in &r.public_keys {
                    self.line(false, k);
                }
            }
            Event::KeyPair(k) => self.line(
                false,
                &format!("# public key: {}\n{}", k.public_key, k.secret_key),
            ),
            Event::Scan(r) => {
                for f in &r.findings {
                    self.line(
                        false,
                        &format!(
                            "{}:{}:{}: {} (fp {})",
                            f.file, f.line, f.rule, f.redacted, f.fingerprint
                        ),
                    );
                }
            }
            Event::ConfigCheck(r) => {
                for p in &r.problems {
                    let mut at = p.file.clone();
                    if let Some(l) = p.line {
                        at.push_str(&format!(":{l}"));
                        if let Some(c) = p.column {
                            at.push_str(&format!(":{c}"));
                        }
                    }
                    let help = p
                        .help
                        .as_ref()
                        .map(|h| format!("\n  help: {h}"))
                        .unwrap_or_default();
                    let (code, word) = if p.severity == "error" {
                        ("31", "error:")
                    } else {
                        ("33", "warning:")
                    };
                    self.line(
                        true,
                        &format!("{} {at}: {}{help}", self.paint(code, word), p.message),
                    );
                }
            }
            Event::Init(r) => {
                if !self.quiet {
                    for f in &r.files {
                        let line = match f.action {
                            "skipped" => format!("skipped {} (exists, left unchanged)", f.path),
                            a => format!("{a} {}", f.path),
                        };
                        self.line(true, &line);
                    }
                }
            }
            Event::Network(r) => self.table(tables::network(&r)),
            Event::Spark(r) => self.line(false, &tables::spark(&r)),
            Event::Bootstrapped(r) => self.table(tables::bootstrapped(&r)),
            // The document itself, as is: `arcane server cloud-init > user-data`.
            Event::CloudInit(r) => {
                let _g = self.out.lock().unwrap();
                self.stdout(r.user_data.as_bytes());
            }
            Event::Finished { ok, summary, .. } => {
                if !ok {
                    self.failure_shown.store(true, Ordering::SeqCst);
                }
                if summary.is_empty() || (self.quiet && ok) {
                    return;
                }
                self.line(true, &format!("{} {summary}", self.mark(ok)));
            }
            Event::ShadowSnapshot(r) => {
                let (ok, text) = tables::shadow_snapshot(&r);
                if !(self.quiet && ok) {
                    self.line(!ok, &text);
                }
            }
            Event::GitCommit(r) => self.line(false, &tables::git_commit(&r)),
            Event::Squash(r) => self.line(false, &tables::squash(&r)),
            // Shown through their steps and the final line.
            Event::DeployStarted(_)
            | Event::ServerStatus(_)
            | Event::HostKey(_)
            | Event::Halted(_)
            | Event::Built(_)
            | Event::SecretsCheck(_)
            | Event::NetworkNode(_) => {}
        }
    }

    fn table(&self, t: tables::Table) {
        self.line(false, &t.render());
    }

    fn progress(&self, server: Option<String>, label: String, done: u64, total: Option<u64>) {
        let mut b = self.bars.lock().unwrap();
        let key = (server.clone(), label.clone());
        let bar = b.by_key.get(&key).cloned().unwrap_or_else(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t).with_style(
                    ProgressStyle::with_template(
                        "{prefix}{msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap()
                    .progress_chars("=> "),
                ),
                None => ProgressBar::new_spinner(),
            };
            let bar = b.multi.add(bar);
            bar.set_prefix(server.map(|s| format!("[{s}] ")).unwrap_or_default());
            bar.set_message(label.clone());
            b.by_key.insert(key.clone(), bar.clone());
            bar
        });
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
        if total.is_some_and(|t| done >= t) {
            bar.finish_and_clear();
            b.by_key.remove(&key);
        }
    }
}

impl Sink for Renderer {
    fn emit(&self, ev: Event) {
        if self.json {
            // Commands are only part of the JSON stream with -v, like the human log.
            if matches!(ev, Event::Command { .. }) && self.verbose == 0 {
                return;
            }
            if matches!(ev, Event::Finished { ok: false, .. }) {
                self.failure_shown.store(true, Ordering::SeqCst);
            }
            let _g = self.out.lock().unwrap();
            let mut line = serde_json::to_vec(&ev).unwrap_or_default();
            line.push(b'\n');
            self.stdout(&line);
        } else {
            self.human(ev);
        }
    }
}
