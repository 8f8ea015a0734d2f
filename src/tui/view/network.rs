//! The Overview's network column (projects with a `[network]`).

use crate::tui::model::Model;
use crate::tui::theme::Theme;
use ratatui::style::Style;

/// Width of the TAILNET column: an IPv4 address fits.
pub const WIDTH: usize = 15;

/// A server's network cell: the text of the wide column (its tailnet IP
/// once joined as configured, else what is wrong), the one-character mark
/// of the narrow layout, and their style.
pub fn cell(m: &Model, server: &str, t: &Theme) -> (String, &'static str, Style) {
    match m.overview.network.get(server) {
        None => ("…".into(), "?", t.dim()),
        Some(n) if n.ok => (n.ip.clone().unwrap_or_else(|| "joined".into()), "⇄", t.ok()),
        Some(n) if n.word == "not joined" || n.word == "not installed" => {
            (n.word.clone(), "-", t.warn())
        }
        Some(n) => (n.word.clone(), "!", t.err()),
    }
}
