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

pub(super) fn popup(p: &Popup, f: &mut Frame, area: Rect, t: &Theme) {
    match p {
        Popup::Help { scroll } => {
            let r = centered(area, 64, area.height.saturating_sub(2).max(3));
            f.render_widget(Clear, r);
            let block = popup_block("Keys (Esc closes)", t);
            let mut lines = vec![];
            for (section, rows) in keymap::help_sections() {
                lines.push(Line::styled(section, t.title()));
                for (k, d) in rows {
                    lines.push(Line::from(vec![
                        Span::styled(format!("  {k:<7}"), t.key()),
                        Span::raw(d.to_string()),
                    ]));
                }
            }
            f.render_widget(Paragraph::new(lines).block(block).scroll((*scroll, 0)), r);
        }
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
            let typed = confirm
                .typed_word
                .as_ref()
                .map(|w| (w.as_str(), input.as_str()));
            confirm_box(f, area, t, &confirm.prompt, &confirm.hint, typed, false);
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
