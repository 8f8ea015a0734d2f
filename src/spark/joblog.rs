//! A job's record: its events as readable lines in `jobs/<id>/log` and as
//! JSON lines in `jobs/<id>/events.jsonl` (the `--json` schema), both
//! already redacted by the emitter. It also keeps what the job's result is
//! made of: the deploy summary and the final line.

use crate::event::report::{DeploySummary, ServerOutcome};
use crate::event::{Event, Level, Sink};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub struct JobLog {
    files: Mutex<Option<(File, File)>>,
    pub summary: Mutex<Option<DeploySummary>>,
    /// The last `Finished`: ok and its summary.
    pub finished: Mutex<Option<(bool, String)>>,
}

impl JobLog {
    pub fn create(dir: &Path) -> std::io::Result<JobLog> {
        std::fs::create_dir_all(dir)?;
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
        };
        Ok(JobLog {
            files: Mutex::new(Some((open("log")?, open("events.jsonl")?))),
            summary: Mutex::new(None),
            finished: Mutex::new(None),
        })
    }

    /// A line in the text log only (Spark's own notes).
    pub fn note(&self, text: &str) {
        if let Some((log, _)) = self.files.lock().unwrap().as_mut() {
            let _ = writeln!(log, "{} {text}", clock());
        }
    }
}

fn clock() -> String {
    let f = time::macros::format_description!("[hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_default()
}

fn outcome_line(o: &ServerOutcome) -> String {
    let state = if o.ok {
        "ok"
    } else if o.rolled_back {
        "rolled back"
    } else {
        "FAILED"
    };
    format!("  {}: {state}: {}", o.server, o.detail)
}

/// The readable line of an event, None for what the log skips.
fn line(ev: &Event) -> Option<String> {
    let pre = ev.server().map(|s| format!("[{s}] ")).unwrap_or_default();
    Some(match ev {
        Event::StepStarted { step, .. } => format!("{pre}› {step}"),
        Event::StepFinished {
            step, ok, detail, ..
        } => format!(
            "{pre}{} {step}{}",
            if *ok { "✓" } else { "✗" },
            detail
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        Event::Log { line, .. } => format!("{pre}{line}"),
        Event::Command { command, .. } => format!("{pre}$ {command}"),
        Event::Message { level, text, .. } => match level {
            Level::Info => format!("{pre}{text}"),
            Level::Warn => format!("{pre}warning: {text}"),
            Level::Error => format!("{pre}error: {text}"),
        },
        Event::DeployStarted(s) => format!(
            "deploying {} to {} ({})",
            s.app,
            s.env,
            s.servers.join(", ")
        ),
        Event::DeploySummary(s) => {
            let mut t = format!(
                "result: {}",
                serde_json::to_value(s.result)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            );
            for o in &s.servers {
                t.push('\n');
                t.push_str(&outcome_line(o));
            }
            t
        }
        Event::Finished { ok, summary, .. } => {
            format!("{} {summary}", if *ok { "✓" } else { "✗" })
        }
        _ => return None,
    })
}

impl Sink for JobLog {
    fn emit(&self, ev: Event) {
        match &ev {
            Event::DeploySummary(s) => *self.summary.lock().unwrap() = Some(s.clone()),
            Event::Finished { ok, summary, .. } => {
                *self.finished.lock().unwrap() = Some((*ok, summary.clone()))
            }
            _ => {}
        }
        let mut files = self.files.lock().unwrap();
        let Some((log, json)) = files.as_mut() else {
            return;
        };
        if let Some(l) = line(&ev) {
            for l in l.lines() {
                let _ = writeln!(log, "{} {l}", clock());
            }
        }
        if !matches!(ev, Event::Progress { .. }) {
            if let Ok(mut j) = serde_json::to_vec(&ev) {
                j.push(b'\n');
                let _ = json.write_all(&j);
            }
        }
    }
}
