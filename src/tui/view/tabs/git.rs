//! Git: the commit graph with the envs' live markers, and beside it the
//! branch's shadow snapshots (with the watcher's state) or a squash plan.

use super::*;
use crate::tui::graph;

pub(super) fn git(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let g = &m.git;
    // Side by side where there is room, else the side pane below.
    let (left, side) = if area.width >= 70 {
        let [l, _, r] = Layout::horizontal([
            Constraint::Min(30),
            Constraint::Length(1),
            Constraint::Percentage(42),
        ])
        .areas(area);
        (l, r)
    } else {
        let h = (area.height / 2).clamp(3, 8);
        let [l, r] = Layout::vertical([Constraint::Min(2), Constraint::Length(h)]).areas(area);
        (l, r)
    };
    commits(m, f, left, t);
    if g.planning || g.plan.is_some() {
        plan(m, f, side, t);
    } else {
        shadow(m, f, side, t);
    }
}

fn commits(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let g = &m.git;
    let (h, rest) = split_header(area);
    let mut head = "Commits".to_string();
    if g.loading {
        head.push_str(&format!(" {}", spin(m)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if let Some(e) = &g.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let live = m.live_versions();
    let lanes = graph::lanes(&g.commits);
    let narrow = rest.width < 60;
    // The commit the shadow snapshots sit on.
    let shadow_base = g
        .shadow
        .as_ref()
        .filter(|c| c.on_head && !c.snapshots.is_empty())
        .and_then(|c| c.base.clone().map(|b| (b, c.snapshots.len())));
    let rows: Vec<Line> = g
        .commits
        .iter()
        .zip(lanes)
        .map(|(c, lane)| {
            let short = &c.id[..c.id.len().min(7)];
            let mut spans = vec![
                Span::styled(format!("{lane} "), t.key()),
                Span::styled(format!("{short} "), t.warn()),
            ];
            for (env, versions) in &live {
                if versions.iter().any(|v| version_is_commit(v, &c.id)) {
                    spans.push(Span::styled(format!("[{env}] "), t.marker(env)));
                }
            }
            if let Some((_, n)) = shadow_base.as_ref().filter(|(b, _)| *b == c.id) {
                spans.push(Span::styled(format!("[+{n} shadow] "), t.ok()));
            }
            spans.push(Span::raw(c.summary.clone()));
            if !narrow {
                spans.push(Span::styled(
                    format!("  {} {}", c.author, age(m.now, c.time.max(0) as u64)),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(g.selected), rest.height as usize, t)),
        rest,
    );
}

/// The shadow chain of the branch, and what the watcher says.
fn shadow(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let g = &m.git;
    let (h, rest) = split_header(area);
    let title = match &g.shadow {
        Some(c) => format!("Shadow {}", c.branch.as_deref().unwrap_or("(detached)")),
        None => "Shadow".into(),
    };
    f.render_widget(Paragraph::new(header(title, t)), h);
    let w = rest.width as usize;
    let mut lines: Vec<Line> = vec![];
    match &g.watch {
        Some(ws) if !ws.blocked.is_empty() => {
            lines.push(Line::styled(
                fit(
                    &format!("watcher BLOCKED ({} finding(s))", ws.blocked.len()),
                    w,
                ),
                t.err(),
            ));
            for b in &ws.blocked {
                lines.push(Line::styled(
                    fit(&format!(" {}:{} {}", b.file, b.line, b.rule), w),
                    t.err(),
                ));
            }
        }
        Some(ws) => lines.push(Line::styled(
            fit(
                &format!("watcher on (pid {}), {} taken", ws.pid, ws.snapshots),
                w,
            ),
            t.ok(),
        )),
        None => lines.push(Line::styled(
            fit("watcher off: arcane git watch", w),
            t.dim(),
        )),
    }
    match &g.shadow {
        Some(c) if !c.snapshots.is_empty() => {
            if !c.on_head {
                lines.push(Line::styled(fit("from an older HEAD (kept)", w), t.dim()));
            }
            for s in &c.snapshots {
                let when = age(m.now, s.time.max(0) as u64);
                let short = &s.sha[..s.sha.len().min(7)];
                lines.push(Line::from(vec![
                    Span::styled(format!("{short} "), t.warn()),
                    Span::raw(fit(&s.subject, w.saturating_sub(8 + when.len() + 1))),
                    Span::styled(format!(" {when}"), t.dim()),
                ]));
            }
        }
        _ => lines.push(Line::styled(fit("no snapshots since HEAD", w), t.dim())),
    }
    lines.truncate(rest.height as usize);
    f.render_widget(Paragraph::new(lines), rest);
}

/// The squash plan waiting for ⏎.
fn plan(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    let Some(p) = &m.git.plan else {
        f.render_widget(
            Paragraph::new(header(format!("Squash plan {}", spin(m)), t)),
            h,
        );
        return;
    };
    f.render_widget(
        Paragraph::new(header(
            format!("Squash {} → {}", p.sources.len(), p.groups.len()),
            t,
        )),
        h,
    );
    let w = rest.width as usize;
    let mut lines: Vec<Line> = vec![Line::styled(
        fit(&format!("onto {} · s/⏎ apply · r drop", p.base_name), w),
        t.dim(),
    )];
    for (i, g) in p.groups.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::styled(format!("{}.{} ", i + 1, g.bump.word()), t.key()),
            Span::raw(fit(&g.message.subject, w.saturating_sub(9))),
        ]));
        for file in &g.files {
            lines.push(Line::styled(fit(&format!("   {file}"), w), t.dim()));
        }
    }
    if let Some(v) = &p.version_to {
        let from = p.version_from.as_deref().unwrap_or("none");
        lines.push(Line::styled(
            fit(&format!("version {from} → {v}"), w),
            t.dim(),
        ));
    }
    f.render_widget(Paragraph::new(lines), rest);
}

/// Release versions are tagged by git SHA (maybe with a suffix): a version
/// names a commit when it starts with at least 7 hex digits of its id.
pub fn version_is_commit(version: &str, id: &str) -> bool {
    let hex: String = version
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    hex.len() >= 7 && id.starts_with(&hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_commits_by_sha_prefix() {
        let id = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        assert!(version_is_commit("a1b2c3d", id));
        assert!(version_is_commit("a1b2c3d4-20260101", id));
        assert!(!version_is_commit("a1b2c3", id));
        assert!(!version_is_commit("ffffffff", id));
    }
}
