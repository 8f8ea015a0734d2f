//! The one keymap table. The footer hints and the `?` help overlay are both
//! generated from [`BINDINGS`], the way gitui feeds its help popup and its
//! command bar from one list, so what the footer promises is what the keys do.

use super::model::Tab;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. `update` turns actions into model changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextTab,
    PrevTab,
    GotoTab(usize),
    Up,
    Down,
    Top,
    Bottom,
    Left,
    Right,
    ToggleCommandLog,
    Refresh,
    /// Enter: the tab's primary action on the selected row.
    Select,
    // Deploy tab
    Plan,
    StartDeploy,
    CancelDeploy,
    // Env tab
    Reveal,
    AddKey,
    EditKey,
    DeleteKey,
    // Keys tab
    AddTeammate,
    AddMachine,
    Revoke,
    GenKey,
    // Releases tab
    Rollback,
    ToggleReleaseView,
    // Logs tab
    StopLogs,
    // Git tab
    SquashPlan,
    // Settings tab
    Toggle,
    /// The Spark build server panel.
    ToggleSpark,
    // Overview: bootstrap the selected server
    Bootstrap,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Tab(Tab),
}

pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are shown ("j/↓").
    pub label: &'static str,
    pub desc: &'static str,
    pub action: Action,
    pub scope: Scope,
    /// Shown in the footer (space is short; the help overlay shows everything).
    pub footer: bool,
}

const N: KeyModifiers = KeyModifiers::NONE;
const C: KeyModifiers = KeyModifiers::CONTROL;
const S: KeyModifiers = KeyModifiers::SHIFT;

macro_rules! b {
    ($scope:expr, [$($k:expr),+], $label:expr, $desc:expr, $action:expr, $footer:expr) => {
        Binding { keys: &[$($k),+], label: $label, desc: $desc, action: $action, scope: $scope, footer: $footer }
    };
}

use Action as A;
use KeyCode as K;
use Scope::Global as G;

/// Every key the dashboard understands outside popups.
pub const BINDINGS: &[Binding] = &[
    b!(G, [(K::Char('?'), N)], "?", "help", A::Help, true),
    b!(
        G,
        [(K::Char('q'), N), (K::Char('c'), C)],
        "q",
        "quit",
        A::Quit,
        true
    ),
    b!(G, [(K::Tab, N)], "Tab", "next tab", A::NextTab, false),
    b!(
        G,
        [(K::BackTab, S), (K::BackTab, N)],
        "S-Tab",
        "previous tab",
        A::PrevTab,
        false
    ),
    b!(
        G,
        [(K::Char('1'), N)],
        "1-8",
        "go to tab",
        A::GotoTab(0),
        false
    ),
    b!(
        G,
        [(K::Char('k'), N), (K::Up, N)],
        "k/↑",
        "up",
        A::Up,
        false
    ),
    b!(
        G,
        [(K::Char('j'), N), (K::Down, N)],
        "j/↓",
        "down",
        A::Down,
        false
    ),
    b!(
        G,
        [(K::Char('h'), N), (K::Left, N)],
        "h/←",
        "previous env / column",
        A::Left,
        false
    ),
    b!(
        G,
        [(K::Char('l'), N), (K::Right, N)],
        "l/→",
        "next env / column",
        A::Right,
        false
    ),
    b!(
        G,
        [(K::Char('g'), N), (K::Home, N)],
        "g",
        "first row",
        A::Top,
        false
    ),
    b!(
        G,
        [(K::Char('G'), S), (K::Char('G'), N), (K::End, N)],
        "G",
        "last row",
        A::Bottom,
        false
    ),
    b!(
        G,
        [(K::Char('c'), N)],
        "c",
        "command log",
        A::ToggleCommandLog,
        true
    ),
    b!(G, [(K::Char('r'), N)], "r", "refresh", A::Refresh, false),
    b!(
        G,
        [(K::Char('S'), S), (K::Char('S'), N)],
        "S",
        "Spark build server",
        A::ToggleSpark,
        false
    ),
    // Overview
    b!(
        Scope::Tab(Tab::Overview),
        [(K::Char('b'), N)],
        "b",
        "bootstrap server",
        A::Bootstrap,
        true
    ),
    // Deploy
    b!(
        Scope::Tab(Tab::Deploy),
        [(K::Char('p'), N)],
        "p",
        "plan (dry run)",
        A::Plan,
        true
    ),
    b!(
        Scope::Tab(Tab::Deploy),
        [(K::Char('d'), N), (K::Enter, N)],
        "d/⏎",
        "deploy",
        A::StartDeploy,
        true
    ),
    b!(
        Scope::Tab(Tab::Deploy),
        [(K::Char('x'), N), (K::Esc, N)],
        "x",
        "cancel deploy",
        A::CancelDeploy,
        true
    ),
    // Env
    b!(
        Scope::Tab(Tab::Env),
        [(K::Char('v'), N), (K::Enter, N)],
        "v",
        "reveal value",
        A::Reveal,
        true
    ),
    b!(
        Scope::Tab(Tab::Env),
        [(K::Char('a'), N)],
        "a",
        "add key",
        A::AddKey,
        true
    ),
    b!(
        Scope::Tab(Tab::Env),
        [(K::Char('e'), N)],
        "e",
        "edit value",
        A::EditKey,
        true
    ),
    b!(
        Scope::Tab(Tab::Env),
        [(K::Char('D'), S), (K::Char('D'), N), (K::Delete, N)],
        "D",
        "delete key",
        A::DeleteKey,
        true
    ),
    // Keys
    b!(
        Scope::Tab(Tab::Keys),
        [(K::Char('a'), N)],
        "a",
        "add teammate",
        A::AddTeammate,
        true
    ),
    b!(
        Scope::Tab(Tab::Keys),
        [(K::Char('m'), N)],
        "m",
        "allow machine",
        A::AddMachine,
        true
    ),
    b!(
        Scope::Tab(Tab::Keys),
        [(K::Char('D'), S), (K::Char('D'), N), (K::Delete, N)],
        "D",
        "revoke (rotates)",
        A::Revoke,
        true
    ),
    b!(
        Scope::Tab(Tab::Keys),
        [(K::Char('n'), N)],
        "n",
        "new machine key",
        A::GenKey,
        true
    ),
    // Releases
    b!(
        Scope::Tab(Tab::Releases),
        [(K::Char('R'), S), (K::Char('R'), N)],
        "R",
        "roll back to selected",
        A::Rollback,
        true
    ),
    b!(
        Scope::Tab(Tab::Releases),
        [(K::Char('v'), N)],
        "v",
        "by env / by server",
        A::ToggleReleaseView,
        true
    ),
    // Logs
    b!(
        Scope::Tab(Tab::Logs),
        [(K::Enter, N), (K::Char('f'), N)],
        "⏎",
        "follow selected",
        A::Select,
        true
    ),
    b!(
        Scope::Tab(Tab::Logs),
        [(K::Char('s'), N), (K::Esc, N)],
        "s",
        "stop following",
        A::StopLogs,
        true
    ),
    // Git
    b!(
        Scope::Tab(Tab::Git),
        [(K::Char('s'), N), (K::Enter, N)],
        "s",
        "squash: plan, then apply",
        A::SquashPlan,
        true
    ),
    // Settings
    b!(
        Scope::Tab(Tab::Settings),
        [(K::Enter, N), (K::Char(' '), N)],
        "⏎",
        "toggle",
        A::Toggle,
        true
    ),
];

/// The action bound to `key` on `tab`: tab bindings shadow global ones.
pub fn lookup(key: &KeyEvent, tab: Tab) -> Option<Action> {
    let mods = key.modifiers - KeyModifiers::SHIFT;
    // Number keys 1-8 jump to tabs.
    if let KeyCode::Char(c @ '1'..='8') = key.code {
        if mods.is_empty() {
            return Some(Action::GotoTab(c as usize - '1' as usize));
        }
    }
    let matches = |b: &&Binding| {
        b.keys
            .iter()
            .any(|(code, m)| *code == key.code && (*m - KeyModifiers::SHIFT) == mods)
    };
    BINDINGS
        .iter()
        .filter(|b| b.scope == Scope::Tab(tab))
        .find(matches)
        .or_else(|| {
            BINDINGS
                .iter()
                .filter(|b| b.scope == Scope::Global)
                .find(matches)
        })
        .map(|b| b.action)
}

/// Footer hints for a tab: its own footer bindings, then the global ones.
pub fn footer(tab: Tab) -> Vec<(&'static str, &'static str)> {
    let own = BINDINGS
        .iter()
        .filter(|b| b.footer && b.scope == Scope::Tab(tab));
    let global = BINDINGS
        .iter()
        .filter(|b| b.footer && b.scope == Scope::Global);
    own.chain(global).map(|b| (b.label, b.desc)).collect()
}

/// Help overlay sections: "Global" and one per tab that has bindings.
pub fn help_sections() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let mut out = vec![(
        "Global".to_string(),
        BINDINGS
            .iter()
            .filter(|b| b.scope == Scope::Global)
            .map(|b| (b.label, b.desc))
            .collect::<Vec<_>>(),
    )];
    for tab in Tab::ALL {
        let rows: Vec<_> = BINDINGS
            .iter()
            .filter(|b| b.scope == Scope::Tab(tab))
            .map(|b| (b.label, b.desc))
            .collect();
        if !rows.is_empty() {
            out.push((tab.title().to_string(), rows));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn vim_keys_and_arrows_move() {
        for k in [KeyCode::Char('j'), KeyCode::Down] {
            assert_eq!(lookup(&key(k, N), Tab::Overview), Some(Action::Down));
        }
        for k in [KeyCode::Char('k'), KeyCode::Up] {
            assert_eq!(lookup(&key(k, N), Tab::Git), Some(Action::Up));
        }
    }

    #[test]
    fn quit_and_ctrl_c_and_tabs() {
        assert_eq!(lookup(&key(K::Char('q'), N), Tab::Env), Some(Action::Quit));
        assert_eq!(lookup(&key(K::Char('c'), C), Tab::Env), Some(Action::Quit));
        assert_eq!(
            lookup(&key(K::Char('c'), N), Tab::Env),
            Some(Action::ToggleCommandLog)
        );
        assert_eq!(
            lookup(&key(K::Char('3'), N), Tab::Env),
            Some(Action::GotoTab(2))
        );
        assert_eq!(lookup(&key(K::Tab, N), Tab::Env), Some(Action::NextTab));
        assert_eq!(lookup(&key(K::BackTab, S), Tab::Env), Some(Action::PrevTab));
    }

    #[test]
    fn tab_bindings_shadow_global_ones_only_on_their_tab() {
        assert_eq!(
            lookup(&key(K::Char('D'), S), Tab::Env),
            Some(Action::DeleteKey)
        );
        assert_eq!(
            lookup(&key(K::Char('D'), S), Tab::Keys),
            Some(Action::Revoke)
        );
        assert_eq!(lookup(&key(K::Char('D'), S), Tab::Git), None);
        assert_eq!(
            lookup(&key(K::Enter, N), Tab::Deploy),
            Some(Action::StartDeploy)
        );
    }

    #[test]
    fn footer_and_help_come_from_the_same_table() {
        let help: Vec<_> = help_sections().into_iter().flat_map(|(_, r)| r).collect();
        for tab in Tab::ALL {
            for hint in footer(tab) {
                assert!(help.contains(&hint), "{hint:?} missing from help");
            }
        }
        assert_eq!(help.len(), BINDINGS.len());
    }
}
