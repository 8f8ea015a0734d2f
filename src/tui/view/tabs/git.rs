//! Git: the commit graph with the envs' live markers.

use super::*;
use crate::tui::graph;

pub(super) fn git(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
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
