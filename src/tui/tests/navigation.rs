//! Tabs, selection, quitting, settings and the Git markers.

use super::*;

#[test]
fn tabs_switch_with_tab_and_numbers_and_load_their_data() {
    let mut m = fixture::empty_model();
    assert_eq!(update(&mut m, code(KeyCode::Tab)), vec![]);
    assert_eq!(m.tab, Tab::Deploy);
    assert_eq!(
        update(&mut m, key('3')),
        vec![Command::LoadEnv {
            env: "staging".into()
        }]
    );
    assert!(m.env.loading);
    assert_eq!(update(&mut m, key('7')), vec![Command::LoadGit]);
    assert_eq!(
        update(
            &mut m,
            Msg::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT))
        ),
        vec![Command::LoadLogChoices]
    );
    assert_eq!(m.tab, Tab::Logs);
    // l/h cycle the env on the Env tab and reload it.
    update(&mut m, key('3'));
    assert_eq!(
        update(&mut m, key('l')),
        vec![Command::LoadEnv {
            env: "production".into()
        }]
    );
}

#[test]
fn selection_moves_with_vim_keys_and_arrows_and_stays_in_bounds() {
    let mut m = fixture::model();
    update(&mut m, key('j'));
    update(&mut m, code(KeyCode::Down));
    assert_eq!(m.overview.selected, 2);
    update(&mut m, key('G'));
    assert_eq!(m.overview.selected, 3);
    update(&mut m, key('j'));
    assert_eq!(m.overview.selected, 3);
    update(&mut m, key('k'));
    update(&mut m, code(KeyCode::Up));
    update(&mut m, key('g'));
    assert_eq!(m.overview.selected, 0);
}

#[test]
fn q_quits_at_once_when_idle() {
    let mut m = fixture::model();
    update(&mut m, key('q'));
    assert!(m.quit);
    let mut m = fixture::model();
    update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(m.quit);
}

#[test]
fn settings_toggle_theme_and_notifications() {
    let mut m = fixture::model();
    m.tab = Tab::Settings;
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(m.settings.theme, ThemeKind::Monochrome);
    update(&mut m, key('j'));
    update(&mut m, key(' '));
    assert!(!m.settings.notifications);
}

#[test]
fn git_markers_show_which_commit_is_live_where() {
    let mut m = fixture::model();
    m.tab = Tab::Git;
    let s = screen(&m, 80, 24);
    let merge = s.lines().find(|l| l.contains("a1b2c3d")).unwrap();
    assert!(merge.contains("[staging]"), "{merge}");
    let first = s.lines().find(|l| l.contains("c3d4e5f")).unwrap();
    assert!(first.contains("[production]"), "{first}");
}

#[test]
fn ticks_animate_only_when_something_moves_and_refresh_on_schedule() {
    let mut m = fixture::model();
    m.dirty = false;
    let cmds = update(&mut m, Msg::Tick { now: NOW + 1 });
    assert_eq!(cmds, vec![]);
    assert_eq!(m.spinner, 0);
    assert!(!m.dirty, "an idle tick must not redraw");
    let cmds = update(
        &mut m,
        Msg::Tick {
            now: NOW + REFRESH_SECS,
        },
    );
    assert!(matches!(&cmds[..], [Command::RefreshStatus { servers }] if servers.len() == 4));
    assert!(m.animating());
    update(
        &mut m,
        Msg::Tick {
            now: NOW + REFRESH_SECS,
        },
    );
    assert_eq!(m.spinner, 1);
    assert!(m.dirty);
    // A refresh in flight is not started twice.
    assert_eq!(
        update(
            &mut m,
            Msg::Tick {
                now: NOW + 3 * REFRESH_SECS
            }
        ),
        vec![]
    );
}

#[test]
fn status_results_arrive_one_server_at_a_time() {
    let mut m = fixture::empty_model();
    update(&mut m, Msg::Tick { now: NOW });
    assert_eq!(m.overview.pending.len(), 4);
    update(
        &mut m,
        Msg::StatusLoaded {
            server: "web-1".into(),
            status: ServerStatus {
                reachable: true,
                ..Default::default()
            },
        },
    );
    assert_eq!(m.overview.pending.len(), 3);
    assert!(m.overview.statuses["web-1"].reachable);
}

#[test]
fn a_refused_host_key_is_a_security_notification() {
    let mut m = fixture::model();
    let cmds = update(
        &mut m,
        Msg::StatusLoaded {
            server: "web-1".into(),
            status: ServerStatus {
                security_alert: Some("web-1: HOST KEY CHANGED for 10.77.1.2!".into()),
                error: Some("refused".into()),
                ..Default::default()
            },
        },
    );
    assert!(
        matches!(&cmds[..], [Command::Notify { body, .. }] if body.contains("HOST KEY CHANGED"))
    );
    assert!(screen(&m, 80, 24).contains("HOST KEY CHANGED"));
    // The next background refresh finds the same problem: no second notification.
    let again = update(
        &mut m,
        Msg::StatusLoaded {
            server: "web-1".into(),
            status: ServerStatus {
                security_alert: Some("web-1: HOST KEY CHANGED for 10.77.1.2!".into()),
                error: Some("refused".into()),
                ..Default::default()
            },
        },
    );
    assert_eq!(again, vec![]);
}
