//! Overview: every server by env, reachability, Docker, release, health, lock.

use super::*;

pub(super) fn overview(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    let refreshing = !m.overview.pending.is_empty();
    let mut head = format!("Servers ({})", m.servers.len());
    if refreshing {
        head.push_str(&format!(
            "  {} checking {}",
            spin(m),
            m.overview.pending.len()
        ));
    } else if let Some(at) = m.overview.last_refresh {
        head.push_str(&format!("  checked {}", age(m.now, at)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if m.servers.is_empty() {
        f.render_widget(
            Paragraph::new("No servers yet: add them to config/servers.toml.")
                .style(t.dim())
                .wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let wide = rest.width >= 70;
    let name_w = if wide { 16 } else { 12 };
    // The TAILNET column takes DOCKER's place below 100 columns.
    let docker_col = !m.network || rest.width >= 100;
    // Rows grouped by env: a header line per env, then its servers.
    let mut lines: Vec<Line> = vec![];
    if wide {
        let tailnet = if m.network {
            format!("{} ", fit("TAILNET", crate::tui::view::network::WIDTH))
        } else {
            String::new()
        };
        let docker = if docker_col {
            format!("{} ", fit("DOCKER", 10))
        } else {
            String::new()
        };
        lines.push(Line::styled(
            format!(
                "{} {} {docker}{} {} {tailnet}LOCK",
                fit("NAME", name_w),
                "UP",
                fit("RELEASE", 12),
                fit("HEALTH", 12)
            ),
            t.dim(),
        ));
    }
    let net = |name: &str| crate::tui::view::network::cell(m, name, t);
    let mut sel_line = None;
    let mut last_env: Option<&str> = None;
    for (i, s) in m.servers.iter().enumerate() {
        if last_env != Some(s.env.as_str()) {
            lines.push(Line::styled(format!("{}:", s.env), t.marker(&s.env)));
            last_env = Some(&s.env);
        }
        if i == m.overview.selected {
            sel_line = Some(lines.len());
        }
        let st = m.overview.statuses.get(&s.name);
        let pending = m.overview.pending.contains(&s.name);
        let mut spans = vec![Span::raw(fit(&s.name, name_w)), Span::raw(" ")];
        match (st, pending) {
            (_, true) if st.is_none() => spans.push(Span::styled(spin(m), t.warn())),
            (None, _) => spans.push(Span::styled("?", t.dim())),
            (Some(st), _) if st.security_alert.is_some() => spans.push(Span::styled("!", t.err())),
            (Some(st), _) if st.reachable => spans.push(Span::styled("✓", t.ok())),
            (Some(_), _) => spans.push(Span::styled("✗", t.err())),
        }
        spans.push(Span::raw(" "));
        if m.network && !wide {
            let (_, mark, style) = net(&s.name);
            spans.push(Span::styled(mark, style));
            spans.push(Span::raw(" "));
        }
        if let Some(st) = st {
            if st.reachable && st.needs_bootstrap {
                spans.push(Span::styled("no Docker: b bootstraps it", t.warn()));
            } else if st.reachable {
                if wide && docker_col {
                    // "20.10.24+dfsg1" -> "20.10.24": the distro suffix says little.
                    let docker = st.docker.as_deref().unwrap_or("-");
                    let docker = docker.split('+').next().unwrap_or(docker);
                    spans.push(Span::raw(fit(docker, 10)));
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::raw(fit(
                    st.release.as_deref().unwrap_or("no release"),
                    12,
                )));
                spans.push(Span::raw(" "));
                let health = st.health.as_deref().unwrap_or("-");
                let hs = if health.contains("unhealthy") || health.contains("exited") {
                    t.err()
                } else if health.contains("healthy") || health.contains("up") {
                    t.ok()
                } else {
                    t.dim()
                };
                spans.push(Span::styled(fit(health, if wide { 12 } else { 8 }), hs));
                if m.network && wide {
                    let (text, _, style) = net(&s.name);
                    spans.push(Span::raw(" "));
                    spans.push(Span::styled(
                        fit(&text, crate::tui::view::network::WIDTH),
                        style,
                    ));
                }
                if let Some(lock) = &st.lock {
                    spans.push(Span::styled(format!(" locked: {lock}"), t.warn()));
                }
                if let Some(e) = &st.error {
                    spans.push(Span::styled(format!(" {e}"), t.dim()));
                }
            } else {
                let why = st
                    .security_alert
                    .as_deref()
                    .or(st.error.as_deref())
                    .unwrap_or("unreachable");
                spans.push(Span::styled(why.to_string(), t.err()));
            }
        } else if wide {
            spans.push(Span::styled(s.host.clone(), t.dim()));
        }
        lines.push(Line::from(spans));
    }
    // A bootstrap started here shows its steps under the list.
    let (rest, panel) = match &m.bootstrap {
        Some(b) => {
            let want = (b.steps.len() + 1).max(2) as u16;
            let h = want.min(rest.height / 2).max(1);
            let [top, bottom] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(h)]).areas(rest);
            (top, Some((b, bottom)))
        }
        None => (rest, None),
    };
    let height = rest.height as usize;
    let rows = select_rows(lines, sel_line, height, t);
    f.render_widget(Paragraph::new(rows), rest);
    if let Some((b, area)) = panel {
        let lines = b.lines(spin(m), area.width as usize, area.height as usize, t);
        f.render_widget(Paragraph::new(lines), area);
    }
}

/// Like `list`, but some lines (headers) are not selectable.
fn select_rows<'a>(
    lines: Vec<Line<'a>>,
    sel: Option<usize>,
    height: usize,
    t: &Theme,
) -> Vec<Line<'a>> {
    list(lines, sel, height, t)
}
