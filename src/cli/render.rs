//! The CLI's two renderers of the engine's event stream: human output (with
//! indicatif bars for progress) and `--json` lines. Neither knows what an event
//! means beyond its shape; engines decide what to emit.

use super::args::GlobalArgs;
use crate::event::{Event, Level, Sink, Stream};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

pub struct Renderer {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    bars: Mutex<Bars>,
    out: Mutex<()>,
}

struct Bars {
    multi: MultiProgress,
    by_key: HashMap<(Option<String>, String), ProgressBar>,
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
        }
    }

    pub fn finish(&self) {
        let mut b = self.bars.lock().unwrap();
        for (_, bar) in b.by_key.drain() {
            bar.finish_and_clear();
        }
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
                let _ = writeln!(std::io::stdout(), "{text}");
            }
        });
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
                step, ok, detail, ..
            } => {
                if self.quiet && ok {
                    return;
                }
                let mark = if ok {
                    self.paint("32", "✓")
                } else {
                    self.paint("31", "✗")
                };
                let detail = detail.map(|d| format!(": {d}")).unwrap_or_default();
                self.line(true, &format!("{pre}{mark} {step}{detail}"));
            }
            Event::Progress {
                server,
                label,
                done,
                total,
            } => self.progress(server, label, done, total),
            Event::Log { stream, line, .. } => {
                self.line(stream == Stream::Stderr, &format!("{pre}{line}"));
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
            Event::Data { kind, value, .. } => {
                if kind == "table" {
                    self.line(false, &render_table(&value));
                } else {
                    self.line(false, &format!("{pre}{}", render_value(&value)));
                }
            }
            Event::Finished { ok, summary } => {
                if summary.is_empty() || (self.quiet && ok) {
                    return;
                }
                let mark = if ok {
                    self.paint("32", "✓")
                } else {
                    self.paint("31", "✗")
                };
                self.line(true, &format!("{mark} {summary}"));
            }
        }
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
            let _g = self.out.lock().unwrap();
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut out, &ev);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        } else {
            self.human(ev);
        }
    }
}

fn render_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v)))
            .collect::<Vec<_>>()
            .join("  "),
        other => scalar(other),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// `{"columns": [...], "rows": [[...], ...]}` as aligned columns.
pub fn render_table(v: &serde_json::Value) -> String {
    let cols: Vec<String> = v["columns"]
        .as_array()
        .map(|a| a.iter().map(scalar).collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = v["rows"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    r.as_array()
                        .map(|c| c.iter().map(scalar).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut widths: Vec<usize> = cols.iter().map(|c| c.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let fmt_row = |r: &[String]| {
        r.iter()
            .enumerate()
            .map(|(i, c)| format!("{:w$}", c, w = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![fmt_row(
        &cols.iter().map(|c| c.to_uppercase()).collect::<Vec<_>>(),
    )];
    out.extend(rows.iter().map(|r| fmt_row(r)));
    out.join("\n")
}

/// Build the value of a `table` data event.
pub fn table(columns: &[&str], rows: Vec<Vec<String>>) -> serde_json::Value {
    serde_json::json!({ "columns": columns, "rows": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["name", "host"], vec![vec!["a".into(), "10.0.0.1".into()]]);
        assert_eq!(render_table(&t), "NAME  HOST\na     10.0.0.1");
    }
}
