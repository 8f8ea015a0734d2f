//! Keys outside popups: global actions, tab switching, selection.

use super::popups::on_popup_key;
use super::tabs::on_tab_action;
use super::*;
use crate::tui::keymap::{self, Action};
use crossterm::event::KeyCode;

fn switch_tab(m: &mut Model, tab: Tab) -> Vec<Command> {
    if m.tab == tab {
        return vec![];
    }
    // Secrets on screen (a revealed value, a new machine key) go away when
    // their tab is left.
    if m.tab == Tab::Keys {
        m.keys.generated = None;
    }
    // A log follower lives as long as its view.
    let mut cmds = if m.tab == Tab::Logs {
        stop_following(m)
    } else {
        vec![]
    };
    m.tab = tab;
    m.env.revealed = None;
    // Overview refreshes on its own timer; other tabs load when opened.
    if tab != Tab::Overview {
        cmds.extend(load_tab(m));
    }
    cmds
}

fn list_len(m: &Model) -> usize {
    match m.tab {
        Tab::Overview => m.servers.len(),
        Tab::Deploy => m.deploy.targets.len(),
        Tab::Env => m.env.keys.len(),
        Tab::Keys => m.keys.recipients.len(),
        Tab::Releases => m.release_rows().len(),
        Tab::Logs => m.logs.choices.len(),
        Tab::Git => m.git.commits.len(),
        Tab::Settings => SETTINGS_ROWS,
    }
}

pub const SETTINGS_ROWS: usize = 2;

fn sel_mut(m: &mut Model) -> &mut usize {
    match m.tab {
        Tab::Overview => &mut m.overview.selected,
        Tab::Deploy => &mut m.deploy.selected,
        Tab::Env => &mut m.env.selected,
        Tab::Keys => &mut m.keys.selected,
        Tab::Releases => &mut m.releases.selected,
        Tab::Logs => &mut m.logs.selected,
        Tab::Git => &mut m.git.selected,
        Tab::Settings => &mut m.settings.selected,
    }
}

pub(super) fn move_sel(m: &mut Model, delta: i64) {
    // The deploy target can't change under a running deploy.
    if m.tab == Tab::Deploy && m.deploy_running() {
        return;
    }
    let len = list_len(m) as i64;
    let sel = sel_mut(m);
    let new = if delta == i64::MIN {
        0
    } else if delta == i64::MAX {
        len - 1
    } else {
        *sel as i64 + delta
    };
    *sel = new.clamp(0, (len - 1).max(0)) as usize;
    if m.tab == Tab::Env {
        m.env.revealed = None;
    }
}

pub(super) fn on_key(m: &mut Model, k: KeyEvent) -> Vec<Command> {
    if m.popup.is_some() {
        return on_popup_key(m, k);
    }
    // Esc closes the top layer: a popup (above), else the command log, and
    // only then means what the tab binds it to.
    if k.code == KeyCode::Esc && k.modifiers.is_empty() && m.show_command_log {
        m.show_command_log = false;
        return vec![];
    }
    let Some(action) = keymap::lookup(&k, m.tab) else {
        return vec![];
    };
    m.status = None;
    match action {
        Action::Quit => {
            if m.rollback_running && !m.deploy_running() {
                confirm(
                    m,
                    "Quit while rolling back?",
                    "A rollback is running. Quitting cancels it safely; arcane exits when the engine is done.",
                    Pending::Quit,
                    None,
                );
            } else if m.deploy_running() {
                confirm(
                    m,
                    "Quit while deploying?",
                    "A deploy is running. Quitting cancels it; the engine rolls back before arcane exits.",
                    Pending::Quit,
                    None,
                );
            } else {
                m.quit = true;
            }
            vec![]
        }
        Action::Help => {
            m.popup = Some(Popup::Help { scroll: 0 });
            vec![]
        }
        Action::NextTab => switch_tab(m, Tab::ALL[(m.tab.index() + 1) % Tab::ALL.len()]),
        Action::PrevTab => switch_tab(
            m,
            Tab::ALL[(m.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()],
        ),
        Action::GotoTab(i) => switch_tab(m, Tab::ALL[i.min(Tab::ALL.len() - 1)]),
        Action::Up => {
            move_sel(m, -1);
            vec![]
        }
        Action::Down => {
            move_sel(m, 1);
            vec![]
        }
        Action::Top => {
            move_sel(m, i64::MIN);
            vec![]
        }
        Action::Bottom => {
            move_sel(m, i64::MAX);
            vec![]
        }
        Action::Left | Action::Right => {
            let d = if action == Action::Left { -1 } else { 1 };
            cycle_env(m, d)
        }
        Action::ToggleCommandLog => {
            m.show_command_log = !m.show_command_log;
            vec![]
        }
        Action::ToggleSpark => m.spark.toggle(),
        Action::Refresh if m.spark.shown => m.spark.load(),
        Action::Refresh => load_tab(m),
        _ => on_tab_action(m, action),
    }
}

fn cycle_env(m: &mut Model, d: i64) -> Vec<Command> {
    let n = m.envs.len().max(1) as i64;
    let idx = match m.tab {
        Tab::Env => &mut m.env.env_index,
        Tab::Releases => &mut m.releases.env_index,
        _ => return vec![],
    };
    *idx = ((*idx as i64 + d).rem_euclid(n)) as usize;
    match m.tab {
        Tab::Env => m.env.selected = 0,
        _ => m.releases.selected = 0,
    }
    load_tab(m)
}

pub(super) fn confirm(
    m: &mut Model,
    title: &str,
    body: &str,
    action: Pending,
    typed: Option<String>,
) {
    m.popup = Some(Popup::Confirm {
        title: title.into(),
        body: body.into(),
        action,
        typed_word: typed,
        input: String::new(),
        yes_focused: false,
    });
}

pub(super) fn input(m: &mut Model, title: &str, hint: &str, purpose: InputPurpose, secret: bool) {
    m.popup = Some(Popup::Input {
        title: title.into(),
        hint: hint.into(),
        purpose,
        input: String::new(),
        secret,
    });
}
