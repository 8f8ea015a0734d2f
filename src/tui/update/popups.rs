//! Keys while a popup is open, and what a confirmed dialog or a submitted
//! input asks the engines for.

use super::*;
use crossterm::event::{KeyCode, KeyModifiers};

/// Keys while a popup is open: popups take every key.
pub(super) fn on_popup_key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
    let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
    let popup = m.popup.take().expect("popup");
    match popup {
        Popup::Help { scroll } => {
            // Scrolling stops where the last row reaches the bottom; any
            // other key closes the overlay.
            let (max, page) = help_scroll_limits(m.size.0, m.size.1);
            let scroll = match k.code {
                KeyCode::Char('j') | KeyCode::Down => scroll.saturating_add(1),
                KeyCode::Char('k') | KeyCode::Up => scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(page),
                KeyCode::PageUp => scroll.saturating_sub(page),
                KeyCode::Char('g') | KeyCode::Home => 0,
                KeyCode::Char('G') | KeyCode::End => max,
                _ => return vec![],
            };
            m.popup = Some(Popup::Help {
                scroll: scroll.min(max),
            });
            vec![]
        }
        Popup::Confirm {
            title,
            body,
            action,
            typed_word,
            mut input,
            mut yes_focused,
        } => {
            let mut decided = None;
            match (k.code, &typed_word) {
                (KeyCode::Esc, _) => decided = Some(false),
                _ if ctrl_c => decided = Some(false),
                (KeyCode::Enter, Some(w)) => decided = Some(input == *w),
                (KeyCode::Backspace, Some(_)) => {
                    input.pop();
                }
                (KeyCode::Char(c), Some(_)) => input.push(c),
                (KeyCode::Enter, None) => decided = Some(yes_focused),
                (KeyCode::Char('y') | KeyCode::Char('Y'), None) => decided = Some(true),
                (KeyCode::Char('n') | KeyCode::Char('N'), None) => decided = Some(false),
                (
                    KeyCode::Tab
                    | KeyCode::Left
                    | KeyCode::Right
                    | KeyCode::Char('h')
                    | KeyCode::Char('l'),
                    None,
                ) => yes_focused = !yes_focused,
                _ => {}
            }
            match decided {
                None => {
                    m.popup = Some(Popup::Confirm {
                        title,
                        body,
                        action,
                        typed_word,
                        input,
                        yes_focused,
                    });
                    vec![]
                }
                Some(false) => {
                    if typed_word.is_some() && k.code == KeyCode::Enter {
                        m.status =
                            Some((true, "the typed name did not match; nothing done".into()));
                    }
                    vec![]
                }
                Some(true) => run_pending(m, action),
            }
        }
        Popup::EngineConfirm {
            id,
            confirm,
            mut input,
        } => {
            let mut decided = None;
            match (k.code, &confirm.word) {
                (KeyCode::Esc, _) => decided = Some(false),
                _ if ctrl_c => decided = Some(false),
                (KeyCode::Enter, Some(w)) => decided = Some(input == *w),
                (KeyCode::Backspace, Some(_)) => {
                    input.pop();
                }
                (KeyCode::Char(c), Some(_)) => input.push(c),
                (KeyCode::Char('y') | KeyCode::Char('Y'), None) => decided = Some(true),
                (KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Enter, None) => {
                    decided = Some(false)
                }
                _ => {}
            }
            match decided {
                None => {
                    m.popup = Some(Popup::EngineConfirm { id, confirm, input });
                    vec![]
                }
                Some(yes) => vec![Command::AnswerConfirm { id, yes }],
            }
        }
        Popup::Input {
            title,
            hint,
            purpose,
            mut input,
            secret,
        } => match k.code {
            KeyCode::Esc => vec![],
            _ if ctrl_c => vec![],
            KeyCode::Enter => submit_input(m, purpose, input),
            code => {
                match code {
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char(c) => input.push(c),
                    _ => {}
                }
                m.popup = Some(Popup::Input {
                    title,
                    hint,
                    purpose,
                    input,
                    secret,
                });
                vec![]
            }
        },
    }
}

fn submit_input(m: &mut Model, purpose: InputPurpose, input: String) -> Vec<Command> {
    let bad = |m: &mut Model, msg: &str| {
        m.status = Some((true, msg.to_string()));
        vec![]
    };
    match purpose {
        InputPurpose::AddKey { layer } => {
            let (layer, rest) = match input.split_once(':') {
                Some((l, r)) if !l.contains('=') && !l.is_empty() => (l.to_string(), r.to_string()),
                _ => (layer, input),
            };
            let Some((key, value)) = rest.split_once('=') else {
                return bad(m, "expected KEY=value");
            };
            let key = key.trim();
            if key.is_empty()
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || key.starts_with(|c: char| c.is_ascii_digit())
            {
                return bad(
                    m,
                    "a key is letters, digits and '_' and does not start with a digit",
                );
            }
            vec![Command::SetKey {
                layer,
                key: key.to_string(),
                value: SecretString(value.to_string()),
            }]
        }
        InputPurpose::EditValue { layer, key } => vec![Command::SetKey {
            layer,
            key,
            value: SecretString(input),
        }],
        InputPurpose::AddTeammate | InputPurpose::AddMachine => {
            let parts: Vec<&str> = input.split_whitespace().collect();
            if parts.len() < 2 || parts.len() > 3 {
                return bad(m, "expected: NAME PUBKEY [scopes]");
            }
            let scopes: Vec<String> = parts
                .get(2)
                .map(|s| {
                    s.split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let (name, pubkey) = (parts[0].to_string(), parts[1].to_string());
            if purpose == InputPurpose::AddTeammate {
                vec![Command::TeamAdd {
                    name,
                    pubkey,
                    scopes,
                }]
            } else {
                vec![Command::MachineAllow {
                    name,
                    pubkey,
                    scopes,
                }]
            }
        }
    }
}

pub(super) fn run_pending(m: &mut Model, action: Pending) -> Vec<Command> {
    match action {
        Pending::Deploy(target) => {
            m.deploy.active = Some(target.clone());
            m.deploy.phase = DeployPhase::Running;
            m.deploy.servers.clear();
            m.deploy.logs.clear();
            m.deploy.summary.clear();
            m.deploy.started_at = Some(m.now);
            vec![Command::Deploy { target }]
        }
        Pending::CancelDeploy => {
            if m.deploy.phase == DeployPhase::Running {
                m.deploy.phase = DeployPhase::Cancelling;
                vec![Command::CancelDeploy]
            } else {
                vec![]
            }
        }
        Pending::Quit => {
            if m.rollback_running {
                m.quit_after_deploy = true;
                m.status = Some((
                    false,
                    "cancelling the rollback; arcane exits when it is done".into(),
                ));
                vec![Command::CancelDeploy]
            } else if m.deploy.phase == DeployPhase::Running {
                m.deploy.phase = DeployPhase::Cancelling;
                m.quit_after_deploy = true;
                m.status = Some((
                    false,
                    "cancelling the deploy; arcane exits after the rollback".into(),
                ));
                vec![Command::CancelDeploy]
            } else if m.deploy_running() {
                m.quit_after_deploy = true;
                vec![]
            } else {
                m.quit = true;
                vec![]
            }
        }
        Pending::Rollback { server, env, to } => {
            m.releases.loading = true;
            m.rollback_running = true;
            vec![Command::Rollback { env, server, to }]
        }
        Pending::Bootstrap(server) => {
            m.bootstrap = Some(crate::tui::bootstrap::BootstrapView::new(&server));
            vec![Command::Bootstrap { server }]
        }
        Pending::DeleteKey { layer, key } => vec![Command::UnsetKey { layer, key }],
        Pending::Revoke { name, kind } => vec![Command::Revoke { name, kind }],
        Pending::Squash(plan) => vec![Command::Squash { plan }],
    }
}
