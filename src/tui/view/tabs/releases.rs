//! Releases: history by env or by server, the live one marked.

use super::*;

pub(super) fn releases(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let r = &m.releases;
    let (h, rest) = split_header(area);
    let mut head = vec![Span::styled("Releases ", t.title())];
    head.extend(env_switcher(m, r.env_index, t));
    head.push(Span::styled(
        if r.by_server_view {
            "  by server"
        } else {
            "  by env"
        },
        t.dim(),
    ));
    if r.loading {
        head.push(Span::styled(format!(" {}", spin(m)), t.warn()));
    }
    f.render_widget(Paragraph::new(Line::from(head)), h);
    if let Some(e) = &r.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let rows_data = m.release_rows();
    if rows_data.is_empty() && !r.loading {
        f.render_widget(
            Paragraph::new(format!("No releases on {} yet.", m.releases_env())).style(t.dim()),
            rest,
        );
        return;
    }
    let narrow = rest.width < 60;
    let rows: Vec<Line> = rows_data
        .iter()
        .map(|(server, row)| {
            let mut spans = vec![];
            if let Some(s) = server {
                spans.push(Span::styled(fit(s, if narrow { 8 } else { 14 }), t.dim()));
            }
            spans.push(Span::raw(fit(&row.version, if narrow { 10 } else { 16 })));
            spans.push(if row.live {
                Span::styled(" live ", t.ok())
            } else {
                Span::raw("      ")
            });
            if !narrow {
                spans.push(Span::styled(
                    fit(&row.created.map(|c| age(m.now, c)).unwrap_or_default(), 9),
                    t.dim(),
                ));
                spans.push(Span::raw(fit(row.git_sha.as_deref().unwrap_or(""), 9)));
            }
            spans.push(Span::styled(row.status.clone(), t.dim()));
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(r.selected), rest.height as usize, t)),
        rest,
    );
}
