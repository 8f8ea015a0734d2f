//! Popups drawn over the dashboard: the help overlay (laid out here for
//! `update` too, which must know where scrolling ends), confirmations and
//! text inputs.

use super::keymap;
use super::Theme;
use crate::tui::model::*;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn popup_block<'a>(title: &'a str, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_style(t.border())
        .title(Span::styled(format!(" {title} "), t.title()))
}

/// One row of the help overlay.
enum HelpRow {
    Section(String),
    Key(&'static str, &'static str),
}

/// Columns of the key label (indent included) and the gap between columns.
const KEY_W: usize = 9;
const GAP: u16 = 2;

/// The help overlay's sections as columns: two when they fit side by side
/// in `width` (split at the section boundary that balances them), else one.
fn help_columns(width: u16) -> Vec<Vec<HelpRow>> {
    let sections: Vec<Vec<HelpRow>> = keymap::help_sections()
        .into_iter()
        .map(|(title, rows)| {
            let mut v = vec![HelpRow::Section(title)];
            v.extend(rows.into_iter().map(|(k, d)| HelpRow::Key(k, d)));
            v
        })
        .collect();
    let len = |s: &[Vec<HelpRow>]| s.iter().map(Vec::len).sum::<usize>();
    let split = (1..sections.len())
        .min_by_key(|&i| len(&sections[..i]).max(len(&sections[i..])))
        .unwrap_or(sections.len());
    let (a, b) = sections.split_at(split);
    let two = col_width(a.iter().flatten()) + GAP + col_width(b.iter().flatten()) + 2;
    let fits = !b.is_empty() && two <= width;
    let mut sections = sections.into_iter();
    if fits {
        let left = sections.by_ref().take(split).flatten().collect();
        vec![left, sections.flatten().collect()]
    } else {
        vec![sections.flatten().collect()]
    }
}

fn col_width<'a>(rows: impl IntoIterator<Item = &'a HelpRow>) -> u16 {
    rows.into_iter()
        .map(|r| match r {
            HelpRow::Section(s) => s.chars().count(),
            HelpRow::Key(_, d) => KEY_W + d.chars().count(),
        })
        .max()
        .unwrap_or(0) as u16
}

/// Where the help overlay goes on a `width` x `height` terminal, its
/// columns, and how many rows of them show at once.
fn help_layout(width: u16, height: u16) -> (Rect, Vec<Vec<HelpRow>>, usize) {
    let area = Rect::new(0, 0, width, height);
    let cols = help_columns(width);
    let w: u16 = cols.iter().map(col_width).sum::<u16>() + GAP * (cols.len() as u16 - 1) + 2;
    let rows = cols.iter().map(Vec::len).max().unwrap_or(0);
    // The footer (its keys) stays visible; the tab bar may be covered.
    let h = (rows as u16 + 2).min(height.saturating_sub(1).max(3));
    let r = centered(area, w, h);
    (r, cols, r.height.saturating_sub(2) as usize)
}

/// How far the help overlay scrolls on a `width` x `height` terminal (its
/// last row then sits on the bottom row), and by how much a page moves.
pub fn help_scroll_limits(width: u16, height: u16) -> (u16, u16) {
    let (_, cols, visible) = help_layout(width, height);
    let rows = cols.iter().map(Vec::len).max().unwrap_or(0);
    (rows.saturating_sub(visible) as u16, visible.max(1) as u16)
}

fn help(scroll: u16, f: &mut Frame, area: Rect, t: &Theme) {
    let (mut r, cols, _) = help_layout(area.width, area.height);
    r.x += area.x;
    r.y += area.y;
    let (max, _) = help_scroll_limits(area.width, area.height);
    let scroll = scroll.min(max);
    f.render_widget(Clear, r);
    let mut block = popup_block("Keys (Esc closes)", t);
    if scroll < max {
        block = block.title_bottom(Span::styled(" j/↓ more ", t.dim()));
    }
    let inner = block.inner(r);
    f.render_widget(block, r);
    let mut x = inner.x;
    for col in cols {
        let w = col_width(&col).min(inner.right() - x);
        let lines: Vec<Line> = col
            .into_iter()
            .map(|row| match row {
                HelpRow::Section(s) => Line::styled(s, t.title()),
                HelpRow::Key(k, d) => Line::from(vec![
                    Span::styled(format!("  {k:<7}"), t.key()),
                    Span::raw(d),
                ]),
            })
            .collect();
        let cr = Rect::new(x, inner.y, w, inner.height);
        f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), cr);
        x = (x + w + GAP).min(inner.right());
    }
}

pub(super) fn popup(p: &Popup, f: &mut Frame, area: Rect, t: &Theme) {
    match p {
        Popup::Help { scroll } => help(*scroll, f, area, t),
        Popup::Confirm {
            title,
            body,
            typed_word,
            input,
            yes_focused,
            ..
        } => {
            let typed = typed_word.as_ref().map(|w| (w.as_str(), input.as_str()));
            confirm_box(f, area, t, title, body, typed, *yes_focused);
        }
        Popup::EngineConfirm { confirm, input, .. } => {
            // The dashboard always has the word typed; the hint is for
            // terminals without one (`--yes`), so it is not shown here.
            let typed = confirm.word.as_ref().map(|w| (w.as_str(), input.as_str()));
            let body = match &confirm.word {
                Some(w) => format!("Type {w} to confirm."),
                None => String::new(),
            };
            confirm_box(f, area, t, &confirm.prompt, &body, typed, false);
        }
        Popup::Input {
            title,
            hint,
            input,
            secret,
            ..
        } => {
            let r = centered(area, 70, 6);
            f.render_widget(Clear, r);
            let shown = if *secret {
                "*".repeat(input.chars().count())
            } else {
                input.clone()
            };
            let lines = vec![
                Line::styled(hint.clone(), t.dim()),
                Line::from(vec![
                    Span::styled("> ", t.key()),
                    Span::raw(shown),
                    Span::styled("_", Style::default().add_modifier(Modifier::SLOW_BLINK)),
                ]),
            ];
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(popup_block(title, t)),
                r,
            );
        }
    }
}

fn confirm_box(
    f: &mut Frame,
    area: Rect,
    t: &Theme,
    title: &str,
    body: &str,
    typed: Option<(&str, &str)>,
    yes_focused: bool,
) {
    let r = centered(area, 60, 8);
    f.render_widget(Clear, r);
    let mut lines = vec![Line::raw(body.to_string()), Line::raw("")];
    match typed {
        Some((word, input)) => {
            lines.push(Line::from(vec![
                Span::raw("Type "),
                Span::styled(word.to_string(), t.err()),
                Span::raw(": "),
                Span::styled(input.to_string(), t.key()),
                Span::raw("_"),
            ]));
        }
        None => {
            let (yes, no) = if yes_focused {
                (t.selected(), t.base())
            } else {
                (t.base(), t.selected())
            };
            let mark = |on: bool| if on { "> " } else { "  " };
            lines.push(Line::from(vec![
                Span::styled(format!("{}[ Yes ]", mark(yes_focused)), yes),
                Span::raw("   "),
                Span::styled(format!("{}[ Cancel ]", mark(!yes_focused)), no),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(popup_block(title, t)),
        r,
    );
}
