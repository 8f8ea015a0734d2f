//! Wrapping done by the view itself, for panes that follow their newest
//! line. A `Paragraph` that wraps cannot say how many rows its lines took,
//! so a pane that picked "the last N lines" for N rows lost its newest
//! lines below the bottom as soon as an earlier one wrapped. Here lines are
//! broken into rows first, and the pane takes the last rows that fit.
//!
//! Rows are made of the graphemes ratatui itself draws (control characters
//! are dropped, as the buffer does) with the same widths, so a row never
//! wraps again when drawn.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// How lines break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// At the last space that fits (the space is dropped), else inside the
    /// word: for prose.
    Words,
    /// At the width, wherever it falls: for logs, which are dense with long
    /// words (URLs, ids) and read best as they were printed.
    Anywhere,
}

/// `line` broken into rows of at most `width` columns. Styles are kept. An
/// empty line is one empty row.
pub fn wrap(line: &Line<'_>, width: usize, how: Break) -> Vec<Line<'static>> {
    if width == 0 {
        return vec![];
    }
    let mut rows: Vec<Vec<(String, Style)>> = vec![vec![]];
    let mut used = 0;
    for span in &line.spans {
        for g in span.styled_graphemes(line.style) {
            let w = Span::raw(g.symbol).width();
            let row = rows.last_mut().expect("one row");
            if used + w > width && !row.is_empty() {
                if how == Break::Words && g.symbol == " " {
                    // The break falls on this space: drop it.
                    rows.push(vec![]);
                    used = 0;
                    continue;
                }
                // Carry the word begun after the row's last space over.
                let space = match how {
                    Break::Words => row.iter().rposition(|(s, _)| s == " "),
                    Break::Anywhere => None,
                };
                let carry = match space {
                    Some(i) if i > 0 => {
                        let mut rest = row.split_off(i);
                        rest.remove(0);
                        rest
                    }
                    _ => vec![],
                };
                used = carry
                    .iter()
                    .map(|(s, _)| Span::raw(s.as_str()).width())
                    .sum();
                rows.push(carry);
            }
            rows.last_mut()
                .expect("one row")
                .push((g.symbol.to_string(), g.style));
            used += w;
        }
    }
    rows.into_iter().map(spans_of).collect()
}

/// Runs of one style become one span.
fn spans_of(cells: Vec<(String, Style)>) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = vec![];
    let mut run = String::new();
    let mut style = None;
    for (s, st) in cells {
        if style.is_some_and(|x| x != st) {
            spans.push(Span::styled(std::mem::take(&mut run), style.unwrap()));
        }
        style = Some(st);
        run.push_str(&s);
    }
    if let Some(st) = style {
        spans.push(Span::styled(run, st));
    }
    Line::from(spans)
}

/// Every line of `lines`, wrapped to `width`.
pub fn wrap_all<'a>(
    lines: impl IntoIterator<Item = Line<'a>>,
    width: usize,
    how: Break,
) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .flat_map(|l| wrap(&l, width, how))
        .collect()
}

/// The last `height` rows of log `lines` wrapped to `width` (anywhere):
/// the newest line is always on the bottom row. Only the lines that show
/// are wrapped.
pub fn tail<'a>(
    lines: impl DoubleEndedIterator<Item = Line<'a>>,
    width: usize,
    height: usize,
) -> Vec<Line<'static>> {
    let mut rows: Vec<Line<'static>> = vec![];
    for line in lines.rev() {
        if rows.len() >= height {
            break;
        }
        let mut r = wrap(&line, width, Break::Anywhere);
        r.reverse();
        rows.extend(r);
    }
    rows.truncate(height);
    rows.reverse();
    rows
}

/// A log line as text the panes can measure: tabs become spaces to the
/// next multiple of 8 (the buffer would drop them, gluing words together).
pub fn expand_tabs(s: &str) -> String {
    if !s.contains('\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0;
    for c in s.chars() {
        if c == '\t' {
            let n = 8 - col % 8;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push(c);
            col += Span::raw(&*c.encode_utf8(&mut [0; 4])).width();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    const W: Break = Break::Words;

    fn text(rows: &[Line]) -> Vec<String> {
        rows.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn words_move_to_the_next_row_and_long_words_are_cut() {
        let l = Line::raw("the quick brown fox");
        assert_eq!(text(&wrap(&l, 10, W)), ["the quick", "brown fox"]);
        assert_eq!(text(&wrap(&l, 19, W)), ["the quick brown fox"]);
        assert_eq!(
            text(&wrap(&Line::raw("abcdefghij"), 4, W)),
            ["abcd", "efgh", "ij"]
        );
        assert_eq!(text(&wrap(&Line::raw(""), 4, W)), [""]);
        assert!(wrap(&Line::raw("x"), 0, W).is_empty());
        assert_eq!(
            text(&wrap(&l, 10, Break::Anywhere)),
            ["the quick ", "brown fox"]
        );
        // Wide characters count two columns.
        assert_eq!(text(&wrap(&Line::raw("日本語"), 4, W)), ["日本", "語"]);
    }

    #[test]
    fn styles_survive_wrapping() {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let l = Line::from(vec![Span::raw("ab "), Span::styled("cd", bold)]);
        let rows = wrap(&l, 3, W);
        assert_eq!(text(&rows), ["ab", "cd"]);
        assert_eq!(rows[1].spans[0].style, bold);
    }

    #[test]
    fn the_tail_ends_with_the_newest_line_whatever_wraps_before_it() {
        let lines = ["a long first line that wraps", "two", "three"];
        let rows = tail(lines.iter().map(|s| Line::raw(*s)), 10, 4);
        assert_eq!(text(&rows), ["st line th", "at wraps", "two", "three"]);
        let rows = tail(lines.iter().map(|s| Line::raw(*s)), 10, 1);
        assert_eq!(text(&rows), ["three"]);
        // The newest line itself wraps: its end is what shows.
        let rows = tail(["x", "0123456789abc"].iter().map(|s| Line::raw(*s)), 10, 1);
        assert_eq!(text(&rows), ["abc"]);
    }

    #[test]
    fn tabs_expand_to_tab_stops() {
        assert_eq!(expand_tabs("a\tb"), "a       b");
        assert_eq!(expand_tabs("abcdefgh\tc"), "abcdefgh        c");
        assert_eq!(expand_tabs("no tabs"), "no tabs");
    }
}
