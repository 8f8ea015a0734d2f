//! Deploy: target picker, plan preview, live progress and streamed logs.

use super::*;

pub(super) fn deploy(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let d = &m.deploy;
    let narrow = area.width < 60;
    let (targets_area, main) = if narrow {
        let [a, b] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
        (a, b)
    } else {
        let [a, b] = Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(area);
        (a, b)
    };
    if narrow {
        let cur = d
            .targets
            .get(d.selected)
            .map(|t| t.label())
            .unwrap_or_else(|| "no targets".into());
        let lines = vec![
            Line::from(vec![
                Span::styled("Target ", t.title()),
                Span::styled(format!("< {cur} >"), t.selected()),
            ]),
            Line::styled("j/k picks env, group or server", t.dim()),
        ];
        f.render_widget(Paragraph::new(lines), targets_area);
    } else {
        let (h, rest) = split_header(targets_area);
        f.render_widget(Paragraph::new(header("Target".into(), t)), h);
        let rows: Vec<Line> = d
            .targets
            .iter()
            .map(|tg| {
                let protected = m.is_protected(tg.env());
                let mut spans = vec![Span::raw(tg.label())];
                if protected {
                    spans.push(Span::styled(" !", t.err()));
                }
                Line::from(spans)
            })
            .collect();
        f.render_widget(
            Paragraph::new(list(rows, Some(d.selected), rest.height as usize, t)),
            rest,
        );
    }
    let main = if narrow {
        main
    } else {
        let block = Block::default()
            .borders(Borders::LEFT)
            .border_style(t.border());
        let inner = block.inner(main);
        f.render_widget(block, main);
        inner
    };
    let mut lines: Vec<Line> = vec![];
    let label = d.active.as_ref().map(|t| t.label()).unwrap_or_default();
    match &d.phase {
        DeployPhase::Idle => {
            lines.push(header("Deploy".into(), t));
            lines.push(Line::raw("p  preview the plan (same as --dry-run)"));
            lines.push(Line::raw("d  deploy the selected target"));
            lines.push(Line::styled(
                "Protected envs (!) ask you to type their name.",
                t.dim(),
            ));
        }
        DeployPhase::Planning => {
            lines.push(header(format!("{} planning {label}…", spin(m)), t));
        }
        DeployPhase::Planned { plan } => {
            lines.push(header(format!("Plan for {label} (d deploys)"), t));
            lines.extend(plan.lines().map(|l| Line::raw(l.to_string())));
        }
        DeployPhase::Running | DeployPhase::Cancelling | DeployPhase::Done { .. } => {
            let head = match &d.phase {
                DeployPhase::Running => {
                    let secs = d.started_at.map(|s| m.now.saturating_sub(s)).unwrap_or(0);
                    Line::styled(
                        format!("{} deploying {label} ({secs}s)  x cancels", spin(m)),
                        t.warn(),
                    )
                }
                DeployPhase::Cancelling => Line::styled(
                    format!("{} cancelling {label}: rolling back…", spin(m)),
                    t.warn(),
                ),
                DeployPhase::Done { ok: true, summary } => {
                    Line::styled(format!("✓ deployed {label}: {summary}"), t.ok())
                }
                DeployPhase::Done { ok: false, summary } => {
                    Line::styled(format!("✗ {label} failed: {summary}"), t.err())
                }
                _ => Line::raw(""),
            };
            lines.push(head);
            for (server, p) in &d.servers {
                // Steps with no server (the build) run on this machine.
                let mut spans = vec![Span::styled(
                    format!("{} ", if server.is_empty() { "(here)" } else { server }),
                    t.title(),
                )];
                for (step, st, _) in &p.steps {
                    let (mark, style) = match st {
                        StepState::Running if m.deploy_running() => (spin(m), t.warn()),
                        // The deploy ended without finishing this step.
                        StepState::Running => ("·", t.dim()),
                        StepState::Ok => ("✓", t.ok()),
                        StepState::Failed => ("✗", t.err()),
                    };
                    spans.push(Span::styled(format!("{mark}{step} "), style));
                }
                if let Some((label, done, total)) = &p.progress {
                    let pct = total
                        .filter(|t| *t > 0)
                        .map(|t| format!(" {}%", done * 100 / t))
                        .unwrap_or_default();
                    spans.push(Span::styled(format!("[{label}{pct}]"), t.dim()));
                }
                lines.push(Line::from(spans));
                if let Some((step, _, Some(detail))) = p
                    .steps
                    .iter()
                    .rev()
                    .find(|(_, st, d)| *st == StepState::Failed && d.is_some())
                {
                    lines.push(Line::styled(format!("  {step}: {detail}"), t.err()));
                }
            }
            for r in &d.summary {
                let style = if r.ok { t.ok() } else { t.err() };
                lines.push(Line::styled(
                    format!(
                        "{} {} {} {}",
                        if r.ok { "✓" } else { "✗" },
                        r.server,
                        r.version,
                        r.detail
                    ),
                    style,
                ));
            }
            // Streamed logs fill the rows left, newest on the bottom row;
            // rows, not lines, are counted, since lines wrap.
            let width = main.width as usize;
            let mut rows = wrap::wrap_all(lines, width, wrap::Break::Words);
            let room = (main.height as usize).saturating_sub(rows.len() + 1);
            if room > 0 && !d.logs.is_empty() {
                rows.push(Line::styled("─ logs", t.dim()));
                let logs = d.logs.iter().map(|l| Line::raw(wrap::expand_tabs(l)));
                rows.extend(wrap::tail(logs, width, room));
            }
            f.render_widget(Paragraph::new(rows), main);
            return;
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), main);
}
