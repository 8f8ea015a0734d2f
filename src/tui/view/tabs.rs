//! One body per tab, each a pure function of the model, in its own file;
//! the helpers they share live here.

mod deploy;
mod git;
mod logs;
mod overview;
mod releases;
mod secrets;

use super::{age, fit, list, wrap, SPINNER};
use crate::tui::model::*;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub fn body(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    match m.tab {
        Tab::Overview => overview::overview(m, f, area, t),
        Tab::Deploy => deploy::deploy(m, f, area, t),
        Tab::Env => secrets::env(m, f, area, t),
        Tab::Keys => secrets::keys(m, f, area, t),
        Tab::Releases => releases::releases(m, f, area, t),
        Tab::Logs => logs::logs(m, f, area, t),
        Tab::Git => git::git(m, f, area, t),
        Tab::Settings => settings(m, f, area, t),
    }
}

fn spin(m: &Model) -> &'static str {
    SPINNER[m.spinner % SPINNER.len()]
}

fn header<'a>(text: String, t: &Theme) -> Line<'a> {
    Line::styled(text, t.title())
}

/// A titled section: a one-line header then the content area.
fn split_header(area: Rect) -> (Rect, Rect) {
    let [h, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    (h, rest)
}

fn env_switcher(m: &Model, idx: usize, t: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![];
    for (i, e) in m.envs.iter().enumerate() {
        if i == idx {
            spans.push(Span::styled(format!("[{e}]"), t.active_tab()));
        } else {
            spans.push(Span::styled(format!(" {e} "), t.dim()));
        }
    }
    spans
}

fn settings(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    f.render_widget(Paragraph::new(header("Settings".into(), t)), h);
    let s = &m.settings;
    let rows = vec![
        Line::raw(format!(
            "Theme          {}",
            match s.theme {
                ThemeKind::Color => "color",
                ThemeKind::Monochrome => "monochrome",
            }
        )),
        Line::raw(format!(
            "Notifications  {}",
            if s.notifications { "on" } else { "off" }
        )),
    ];
    let mut lines = list(rows, Some(s.selected), rest.height as usize, t);
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "NO_COLOR starts in monochrome. Notifications need a desktop session (D-Bus).",
        t.dim(),
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), rest);
}
