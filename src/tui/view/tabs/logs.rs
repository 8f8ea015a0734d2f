//! Logs: the app's containers, and the followed one's lines.

use super::*;

pub(super) fn logs(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let l = &m.logs;
    let narrow = area.width < 60;
    let (pick, out) = if narrow {
        let h = (l.choices.len() as u16 + 1).max(2).min(area.height / 2);
        let [a, b] = Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(area);
        (a, b)
    } else {
        let [a, b] = Layout::horizontal([Constraint::Length(28), Constraint::Min(0)]).areas(area);
        (a, b)
    };
    let (h, rest) = split_header(pick);
    let mut head = "Containers".to_string();
    if l.loading {
        head.push_str(&format!(" {}", spin(m)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if l.choices.is_empty() && !l.loading {
        let msg = l
            .error
            .clone()
            .unwrap_or_else(|| "no app containers found".into());
        f.render_widget(
            Paragraph::new(Line::styled(msg, t.dim())).wrap(Wrap { trim: true }),
            rest,
        );
    } else {
        let rows: Vec<Line> = l
            .choices
            .iter()
            .map(|(s, svc)| Line::raw(format!("{s}/{svc}")))
            .collect();
        f.render_widget(
            Paragraph::new(list(rows, Some(l.selected), rest.height as usize, t)),
            rest,
        );
    }
    let (h, rest) = split_header(out);
    let head = match &l.following {
        Some((s, svc)) => Line::styled(format!("Following {s}/{svc}  (s stops)"), t.title()),
        None => Line::styled("⏎ follows the selected container", t.dim()),
    };
    f.render_widget(Paragraph::new(head), h);
    // Long lines wrap; the newest line stays on the bottom row, above the
    // follower's error if it ended with one.
    let width = rest.width as usize;
    let error = match (&l.error, l.choices.is_empty()) {
        (Some(e), false) => {
            wrap::wrap(&Line::styled(e.clone(), t.err()), width, wrap::Break::Words)
        }
        _ => vec![],
    };
    let room = (rest.height as usize).saturating_sub(error.len());
    let lines = l.lines.iter().map(|s| Line::raw(wrap::expand_tabs(s)));
    let mut rows = wrap::tail(lines, width, room);
    rows.extend(error);
    f.render_widget(Paragraph::new(rows), rest);
}
