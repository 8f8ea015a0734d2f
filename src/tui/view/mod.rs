//! `view(model, frame)`: a pure function of the model. The frame is the tab
//! bar, the tab's body, the optional command log, a status line and footer
//! hints generated from the keymap table; popups draw on top.

pub(crate) mod network;
mod popups;
pub use popups::help_scroll_limits;
mod spark;
mod tabs;
pub(crate) mod wrap;

use super::keymap;
use super::model::*;
use super::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

/// Below this the dashboard shows a message instead of panels.
pub const MIN_WIDTH: u16 = 30;
pub const MIN_HEIGHT: u16 = 8;

pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn view(m: &Model, f: &mut Frame) {
    let area = f.area();
    let theme = Theme::new(m.settings.theme);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [bar, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    tab_bar(m, f, bar, &theme);
    let body = if m.show_command_log {
        let h = (body.height / 2).clamp(3, 12);
        let [top, log] = Layout::vertical([Constraint::Min(1), Constraint::Length(h)]).areas(body);
        command_log(m, f, log, &theme);
        top
    } else {
        body
    };
    if m.spark.shown {
        spark::panel(m, f, body, &theme);
    } else {
        tabs::body(m, f, body, &theme);
    }
    status_line(m, f, status, &theme);
    footer_hints(m, f, footer, &theme);
    if let Some(p) = &m.popup {
        popups::popup(p, f, area, &theme);
    }
}

fn tab_bar(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let full: usize = Tab::ALL.iter().map(|x| x.title().len() + 3).sum::<usize>() + 1;
    let compact = full > area.width as usize;
    let mut spans = vec![Span::raw(" ")];
    for tab in Tab::ALL {
        let n = tab.index() + 1;
        let active = tab == m.tab;
        let text = if compact && !active {
            format!("{n}")
        } else {
            format!("{n} {}", tab.title())
        };
        spans.push(if active {
            Span::styled(format!("[{text}]"), t.active_tab())
        } else {
            Span::styled(format!(" {text} "), t.dim())
        });
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let name = format!(" {} ", m.app);
    if used + name.len() < area.width as usize {
        let pad = area.width as usize - used - name.len();
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(name, t.title()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn command_log(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .border_style(t.border())
        .title(Span::styled(" Command log (c) ", t.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = inner.height as usize;
    let skip = m.commands.len().saturating_sub(h);
    let lines: Vec<Line> = if m.commands.is_empty() {
        vec![Line::styled(
            "no remote commands yet (secrets are redacted as ***)",
            t.dim(),
        )]
    } else {
        m.commands
            .iter()
            .skip(skip)
            .map(|c| {
                let mut spans = vec![];
                if let Some(s) = &c.server {
                    spans.push(Span::styled(format!("[{s}] "), t.dim()));
                }
                spans.push(Span::styled("$ ", t.key()));
                spans.push(Span::raw(c.command.clone()));
                Line::from(spans)
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines), inner);
}

fn status_line(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let line = match &m.status {
        Some((true, s)) => Line::styled(format!(" ✗ {s}"), t.err()),
        Some((false, s)) => Line::styled(format!(" {s}"), t.ok()),
        None if m.deploy_running() => Line::styled(
            format!(
                " {} deploying {}…",
                SPINNER[m.spinner % SPINNER.len()],
                m.deploy
                    .active
                    .as_ref()
                    .map(|t| t.label())
                    .unwrap_or_default()
            ),
            t.warn(),
        ),
        None => Line::raw(""),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn footer_hints(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let hints: Vec<(&str, &str)> = match &m.popup {
        Some(Popup::Help { .. }) => {
            let size = f.area();
            if help_scroll_limits(size.width, size.height).0 > 0 {
                vec![("j/k", "scroll"), ("Esc", "close")]
            } else {
                vec![("Esc", "close")]
            }
        }
        Some(Popup::Confirm {
            typed_word: Some(_),
            ..
        })
        | Some(Popup::EngineConfirm {
            confirm: crate::interact::Confirm { word: Some(_), .. },
            ..
        }) => vec![
            ("type", "the env name"),
            ("⏎", "confirm"),
            ("Esc", "cancel"),
        ],
        Some(Popup::Confirm { .. }) | Some(Popup::EngineConfirm { .. }) => {
            vec![("y", "yes"), ("n/Esc", "no"), ("Tab", "switch")]
        }
        Some(Popup::Input { .. }) => vec![("⏎", "save"), ("Esc", "cancel")],
        None => keymap::footer(m.tab),
    };
    let mut spans = vec![Span::raw(" ")];
    for (k, d) in hints {
        spans.push(Span::styled(k.to_string(), t.key()));
        spans.push(Span::styled(format!(" {d}  "), t.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Rows with a `> ` marker and the selection style on the selected one,
/// scrolled so the selection stays visible.
pub(crate) fn list<'a>(
    rows: Vec<Line<'a>>,
    selected: Option<usize>,
    height: usize,
    t: &Theme,
) -> Vec<Line<'a>> {
    let offset = match selected {
        Some(s) if height > 0 && s >= height => s + 1 - height,
        _ => 0,
    };
    rows.into_iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, line)| {
            if Some(i) == selected {
                let mut spans = vec![Span::styled("> ", t.selected())];
                spans.extend(line.spans.into_iter().map(|s| {
                    let st = s.style.patch(t.selected());
                    Span::styled(s.content, st)
                }));
                Line::from(spans)
            } else {
                let mut spans = vec![Span::raw("  ")];
                spans.extend(line.spans);
                Line::from(spans)
            }
        })
        .collect()
}

/// `s` cut to `w` columns (with `…`) and padded to exactly `w`.
pub(crate) fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

/// "5s", "3m", "2h", "4d" before `now`.
pub(crate) fn age(now: u64, then: u64) -> String {
    let d = now.saturating_sub(then);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_and_pads() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn age_is_relative_to_the_injected_clock() {
        assert_eq!(age(1000, 990), "10s ago");
        assert_eq!(age(10_000, 10_000 - 7200), "2h ago");
    }
}
