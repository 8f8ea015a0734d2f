//! The Overview's bootstrap: servers without Docker are marked, `b`
//! bootstraps the selected one (after a confirmation; a protected env's
//! typed name is asked by the operation itself, as for deploys), and its
//! steps show under the server list while it runs, then its outcome.
//!
//! State and rendering only; `effects` runs `ops::bootstrap`.

use super::model::StepState;
use super::theme::Theme;
use super::view::fit;
use crate::event::Event;
use ratatui::text::{Line, Span};

/// One step as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub step: String,
    pub state: StepState,
    /// For converging steps: whether the server changed.
    pub changed: Option<bool>,
    pub detail: Option<String>,
}

/// A bootstrap the dashboard started.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapView {
    pub server: String,
    pub steps: Vec<StepRow>,
    /// `None` while it runs; then whether it worked and its summary.
    pub done: Option<(bool, String)>,
}

impl BootstrapView {
    pub fn new(server: &str) -> Self {
        BootstrapView {
            server: server.to_string(),
            steps: vec![],
            done: None,
        }
    }

    pub fn running(&self) -> bool {
        self.done.is_none()
    }

    /// A step event of this bootstrap (other servers' are not ours).
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::StepStarted { server, step } if server.as_deref() == Some(&self.server) => {
                self.steps.push(StepRow {
                    step: step.clone(),
                    state: StepState::Running,
                    changed: None,
                    detail: None,
                })
            }
            Event::StepFinished {
                server,
                step,
                ok,
                detail,
                changed,
            } if server.as_deref() == Some(&self.server) => {
                let state = if *ok {
                    StepState::Ok
                } else {
                    StepState::Failed
                };
                let row = StepRow {
                    step: step.clone(),
                    state,
                    changed: *changed,
                    detail: detail.clone(),
                };
                match self
                    .steps
                    .iter_mut()
                    .rev()
                    .find(|r| r.step == *step && r.state == StepState::Running)
                {
                    Some(r) => *r = row,
                    None => self.steps.push(row),
                }
            }
            _ => {}
        }
    }

    /// The panel: a title line, then one line per step (the latest that
    /// fit in `height`).
    pub fn lines(
        &self,
        spinner: &str,
        width: usize,
        height: usize,
        t: &Theme,
    ) -> Vec<Line<'static>> {
        let title = match &self.done {
            None => Line::styled(format!("Bootstrap {}  {spinner}", self.server), t.title()),
            Some((ok, summary)) => Line::from(vec![
                Span::styled(format!("Bootstrap {}: ", self.server), t.title()),
                Span::styled(summary.clone(), if *ok { t.ok() } else { t.err() }),
            ]),
        };
        let mut out = vec![title];
        let room = height.saturating_sub(1);
        let skip = self.steps.len().saturating_sub(room);
        for r in self.steps.iter().skip(skip) {
            let (mark, style) = match (r.state, r.changed) {
                (StepState::Running, _) => (spinner, t.warn()),
                (StepState::Failed, _) => ("✗", t.err()),
                (StepState::Ok, Some(false)) => ("=", t.dim()),
                (StepState::Ok, _) => ("✓", t.ok()),
            };
            let detail = r.detail.as_deref().unwrap_or("");
            let name = fit(&r.step, 9);
            let rest = width.saturating_sub(name.chars().count() + 4);
            out.push(Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::raw(name),
                Span::raw(" "),
                Span::styled(fit(detail, rest), t.dim()),
            ]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_of_the_server_fill_in_others_are_ignored() {
        let mut v = BootstrapView::new("web-1");
        let started = |s: &str, step: &str| Event::StepStarted {
            server: Some(s.into()),
            step: step.into(),
        };
        v.on_event(&started("web-1", "packages"));
        v.on_event(&started("web-2", "packages"));
        assert_eq!(v.steps.len(), 1);
        assert_eq!(v.steps[0].state, StepState::Running);
        v.on_event(&Event::StepFinished {
            server: Some("web-1".into()),
            step: "packages".into(),
            ok: true,
            detail: Some("installed docker.io".into()),
            changed: Some(true),
        });
        assert_eq!(v.steps[0].state, StepState::Ok);
        assert_eq!(v.steps[0].changed, Some(true));
        assert!(v.running());
    }
}
