//! Colours, or none. ratatui does not look at NO_COLOR, so the dashboard does:
//! the monochrome theme sets no colour at all and shows emphasis with
//! modifiers only. A cell that had colours plus REVERSED would be written with
//! an SGR reset that wipes the highlight, so a selected row in monochrome is
//! REVERSED with no colour, and every theme adds a `> ` marker that survives
//! any terminal.

use super::model::ThemeKind;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub mono: bool,
}

impl Theme {
    pub fn new(kind: ThemeKind) -> Theme {
        Theme {
            mono: kind == ThemeKind::Monochrome,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn active_tab(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn selected(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn err(&self) -> Style {
        if self.mono {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn dim(&self) -> Style {
        if self.mono {
            Style::default()
        } else {
            Style::default().fg(Color::DarkGray)
        }
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(&self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn marker(&self, env: &str) -> Style {
        if self.mono {
            return Style::default().add_modifier(Modifier::BOLD);
        }
        let c = match env {
            "production" => Color::Red,
            "staging" => Color::Yellow,
            _ => Color::Magenta,
        };
        Style::default().fg(c).add_modifier(Modifier::BOLD)
    }
}

/// Whether NO_COLOR asks for no colour (any non-empty value, per no-color.org).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}
