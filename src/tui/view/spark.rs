//! The Spark panel: queue, running job, recent results with their logs.

use super::super::model::Model;
use super::super::theme::Theme;
use crate::event::report::{short_sha, SparkJob};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

fn job_line<'a>(j: &SparkJob, t: &Theme) -> Line<'a> {
    let style = match j.state.as_str() {
        "succeeded" => t.ok(),
        "running" => t.key(),
        "failed" | "rolled_back" | "stopped" => t.err(),
        _ => t.dim(),
    };
    let took = j
        .elapsed_ms
        .map(|ms| format!(" {:.0}s", ms as f64 / 1000.0))
        .unwrap_or_default();
    // The state first: it is what a narrow terminal must still show.
    Line::from(vec![
        Span::styled(format!("#{:<4}", j.id), t.dim()),
        Span::styled(format!("{:<12}", j.state), style),
        Span::raw(format!("{} → {} {}", j.app, j.env, short_sha(&j.sha))),
        Span::styled(took, t.dim()),
        Span::styled(format!("  {}", j.log), t.dim()),
    ])
}

pub fn panel(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.border())
        .title(Span::styled(" Spark build server (S) ", t.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines: Vec<Line> = vec![];
    match &m.spark.status {
        None => lines.push(Line::styled("reading Spark's journal…", t.dim())),
        Some(Err(e)) => {
            lines.push(Line::styled(e.clone(), t.err()));
            lines.push(Line::styled(
                "Spark runs on a build machine: `arcane spark serve` (docs/spark.md)",
                t.dim(),
            ));
        }
        Some(Ok(s)) => {
            lines.push(Line::from(vec![
                Span::styled(
                    if s.serving { "serving" } else { "not running" },
                    if s.serving { t.ok() } else { t.err() },
                ),
                Span::styled(format!("  {}", s.state_dir), t.dim()),
            ]));
            lines.push(Line::styled(
                format!("Queue ({})", s.queued.len()),
                t.title(),
            ));
            if s.queued.is_empty() {
                lines.push(Line::styled("  empty", t.dim()));
            }
            for q in &s.queued {
                lines.push(Line::raw(format!(
                    "  {} → {} {} ({}, {} push{})",
                    q.app,
                    q.env,
                    short_sha(&q.sha),
                    q.source,
                    q.pushes,
                    if q.pushes == 1 { "" } else { "es" }
                )));
            }
            lines.push(Line::styled(
                format!("Running ({})", s.running.len()),
                t.title(),
            ));
            for j in &s.running {
                lines.push(job_line(j, t));
            }
            lines.push(Line::styled("Recent", t.title()));
            if s.recent.is_empty() {
                lines.push(Line::styled("  no job yet", t.dim()));
            }
            for j in &s.recent {
                lines.push(job_line(j, t));
            }
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::super::super::fixture;
    use crate::event::report::{SparkJob, SparkQueued, SparkStatus};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn status() -> SparkStatus {
        let job = |id: u64, state: &str, ms: Option<u64>| SparkJob {
            id,
            app: "hello".into(),
            env: if id == 3 { "production" } else { "staging" }.into(),
            branch: "main".into(),
            sha: format!("{id}{}", "c0ffee".repeat(7))[..40].to_string(),
            source: "github".into(),
            pushes: 1,
            state: state.into(),
            summary: None,
            started_at: "2026-12-04T10:00:00Z".into(),
            finished_at: None,
            elapsed_ms: ms,
            log: format!("/var/lib/arcane-spark/jobs/{id}/log"),
        };
        SparkStatus {
            state_dir: "/var/lib/arcane-spark".into(),
            serving: true,
            queued: vec![SparkQueued {
                app: "hello".into(),
                env: "staging".into(),
                branch: "develop".into(),
                sha: "a".repeat(40),
                source: "gitlab".into(),
                pushes: 3,
                since: "2026-12-04T10:01:00Z".into(),
            }],
            running: vec![job(3, "running", None)],
            recent: vec![
                job(2, "succeeded", Some(41_000)),
                job(1, "rolled_back", Some(63_000)),
            ],
        }
    }

    fn render(w: u16, h: u16) -> String {
        let mut m = fixture::model();
        m.spark.shown = true;
        m.spark.status = Some(Ok(status()));
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| super::super::view(&m, f)).unwrap();
        format!("{}", term.backend())
    }

    #[test]
    fn spark_panel_80x24() {
        insta::assert_snapshot!(render(80, 24));
    }

    #[test]
    fn spark_panel_40x12() {
        insta::assert_snapshot!(render(40, 12));
    }
}
