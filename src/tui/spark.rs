//! The Spark panel (`S`): the build machine's queue, running job and last
//! results, read from Spark's journal on this machine (the same report as
//! `arcane spark status`). The dashboard runs where Spark runs when it is
//! used on the build machine; elsewhere the panel says there is no Spark.

use super::update::Command;
use crate::event::report::SparkStatus;

/// Seconds between reloads while the panel is open.
pub const RELOAD_SECS: u64 = 5;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparkPanel {
    pub shown: bool,
    pub status: Option<Result<SparkStatus, String>>,
    pub loaded_at: Option<u64>,
    pub loading: bool,
}

impl SparkPanel {
    /// `S`: open (and load) or close.
    pub fn toggle(&mut self) -> Vec<Command> {
        self.shown = !self.shown;
        if self.shown {
            self.load()
        } else {
            vec![]
        }
    }

    pub fn load(&mut self) -> Vec<Command> {
        if self.loading {
            return vec![];
        }
        self.loading = true;
        vec![Command::LoadSpark]
    }

    /// Reload on the clock while open.
    pub fn tick(&mut self, now: u64) -> Vec<Command> {
        let due = self
            .loaded_at
            .is_none_or(|t| now.saturating_sub(t) >= RELOAD_SECS);
        if self.shown && due {
            self.load()
        } else {
            vec![]
        }
    }

    pub fn loaded(&mut self, now: u64, r: Result<SparkStatus, String>) {
        self.loading = false;
        self.loaded_at = Some(now);
        self.status = Some(r);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::super::update::{update, Command, Msg};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn s_opens_the_panel_which_loads_and_reloads_on_the_clock_then_closes() {
        let mut m = fixture::model();
        let key = Msg::Key(KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
        assert_eq!(update(&mut m, key.clone()), vec![Command::LoadSpark]);
        assert!(m.spark.shown);
        // No second load while one runs.
        let now = m.now;
        assert!(!update(&mut m, Msg::Tick { now: now + 1 }).contains(&Command::LoadSpark));
        update(&mut m, Msg::SparkLoaded(Err("no Spark config".into())));
        assert_eq!(m.spark.status, Some(Err("no Spark config".into())));
        assert!(update(
            &mut m,
            Msg::Tick {
                now: now + 1 + super::RELOAD_SECS
            }
        )
        .contains(&Command::LoadSpark));
        update(&mut m, key);
        assert!(!m.spark.shown);
    }
}
