//! Engine events: the command log, deploy progress, streamed deploy logs.

use super::*;
use crate::event::Level;

/// Engine events: command log, deploy progress, streamed logs.
pub(super) fn on_event(m: &mut Model, ev: Event) -> Vec<Command> {
    match ev {
        Event::Command { server, command } => {
            m.commands.push_back(CommandLine { server, command });
            while m.commands.len() > MAX_COMMANDS {
                m.commands.pop_front();
            }
        }
        // Step events outside a deploy (a status probe's connect) are not
        // deploy progress.
        Event::StepStarted { .. } | Event::StepFinished { .. } | Event::Progress { .. }
            if !m.deploy_running() => {}
        Event::StepStarted { server, step } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            p.steps.push((step, StepState::Running, None));
        }
        Event::StepFinished {
            server,
            step,
            ok,
            detail,
            ..
        } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            let state = if ok { StepState::Ok } else { StepState::Failed };
            match p
                .steps
                .iter_mut()
                .rev()
                .find(|(s, st, _)| *s == step && *st == StepState::Running)
            {
                Some(entry) => {
                    entry.1 = state;
                    entry.2 = detail;
                }
                None => p.steps.push((step, state, detail)),
            }
        }
        Event::Progress {
            server,
            label,
            done,
            total,
        } => {
            let p = m
                .deploy
                .servers
                .entry(server.unwrap_or_default())
                .or_default();
            p.progress = Some((label, done, total));
        }
        Event::Log { server, line, .. } => {
            let text = match &server {
                Some(s) => format!("[{s}] {line}"),
                None => line,
            };
            push_capped(&mut m.deploy.logs, text);
        }
        Event::Message {
            server,
            level,
            text,
        } => {
            let text = match server {
                Some(s) => format!("[{s}] {text}"),
                None => text,
            };
            if m.deploy_running() {
                m.deploy.logs.push_back(text.clone());
            }
            m.status = Some((level == Level::Error, text));
        }
        Event::DeploySummary(s) => {
            m.deploy.summary = s
                .servers
                .iter()
                .map(|o| SummaryRow {
                    server: o.server.clone(),
                    ok: o.ok,
                    version: o
                        .version
                        .as_deref()
                        .map(crate::event::report::short_sha)
                        .unwrap_or_default(),
                    detail: o.detail.clone(),
                })
                .collect();
        }
        Event::Finished { ok, summary, .. } if m.deploy_running() => {
            m.deploy.phase = DeployPhase::Done { ok, summary };
            close_stale_dialogs(m);
        }
        // Reports arrive with the operation's result message.
        _ => {}
    }
    vec![]
}
