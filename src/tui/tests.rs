//! Snapshot tests of every tab (80x24 and 40x12), the no-panic resize sweep,
//! the monochrome selection style, and `update`'s behaviour.

use super::fixture::{self, NOW};
use super::model::*;
use super::update::{update, Command, Msg, SecretString};
use super::view::view;
use crate::event::{Event, Stream};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

fn render(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    t
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn type_text(m: &mut Model, s: &str) -> Vec<Command> {
    s.chars().flat_map(|c| update(m, key(c))).collect()
}

fn screen(m: &Model, w: u16, h: u16) -> String {
    render(m, w, h).backend().to_string()
}

// ---------------------------------------------------------------- snapshots

macro_rules! snap_tab {
    ($name:ident, $tab:expr) => {
        #[test]
        fn $name() {
            let mut m = fixture::model();
            m.tab = $tab;
            insta::assert_snapshot!(
                concat!(stringify!($name), "_80x24"),
                render(&m, 80, 24).backend()
            );
            insta::assert_snapshot!(
                concat!(stringify!($name), "_40x12"),
                render(&m, 40, 12).backend()
            );
        }
    };
}

snap_tab!(overview, Tab::Overview);
snap_tab!(deploy_idle, Tab::Deploy);
snap_tab!(env, Tab::Env);
snap_tab!(keys, Tab::Keys);
snap_tab!(releases, Tab::Releases);
snap_tab!(logs, Tab::Logs);
snap_tab!(git, Tab::Git);
snap_tab!(settings, Tab::Settings);

#[test]
fn deploy_running() {
    let m = fixture::deploying();
    insta::assert_snapshot!("deploy_running_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("deploy_running_40x12", render(&m, 40, 12).backend());
}

#[test]
fn deploy_done_with_summary() {
    let mut m = fixture::deploying();
    update(
        &mut m,
        Msg::Engine(Event::DeploySummary(crate::event::report::DeploySummary {
            op: crate::event::report::DeployOp::Deploy,
            app: "hello".into(),
            env: "staging".into(),
            version: Some("a1b2c3d".into()),
            git_sha: None,
            ok: true,
            result: crate::event::report::DeployResult::Succeeded,
            servers: ["web-1", "web-2"]
                .iter()
                .map(|s| crate::event::report::ServerOutcome {
                    server: s.to_string(),
                    ok: true,
                    version: Some("a1b2c3d".into()),
                    detail: "healthy".into(),
                    rolled_back: false,
                    changed: true,
                    error_kind: None,
                })
                .collect(),
            elapsed_ms: 1,
        })),
    );
    update(&mut m, Msg::DeployDone(Ok("2 servers on a1b2c3d".into())));
    insta::assert_snapshot!("deploy_done_80x24", render(&m, 80, 24).backend());
}

#[test]
fn deploy_plan_preview() {
    let mut m = fixture::model();
    m.tab = Tab::Deploy;
    update(&mut m, key('p'));
    update(
        &mut m,
        Msg::PlanReady(Ok(
            "staging: 2 servers\n  web-1: a1b2c3d -> e5f6071\n  web-2: a1b2c3d -> e5f6071".into(),
        )),
    );
    insta::assert_snapshot!("deploy_plan_80x24", render(&m, 80, 24).backend());
}

#[test]
fn production_confirm_asks_to_type_the_env_name() {
    let mut m = fixture::model();
    m.tab = Tab::Deploy;
    m.deploy.selected = m
        .deploy
        .targets
        .iter()
        .position(|t| *t == Target::Env("production".into()))
        .unwrap();
    update(&mut m, key('d'));
    // The deploy's own question, as the operation asks it.
    let ask = crate::interact::Confirm {
        prompt: "Deploy hello to PRODUCTION?".into(),
        word: Some("production".into()),
        tty_typed: false,
        hint: "production is a protected env; pass --yes to confirm non-interactively".into(),
    };
    update(
        &mut m,
        Msg::ConfirmRequested {
            id: 1,
            confirm: ask,
        },
    );
    type_text(&mut m, "produ");
    insta::assert_snapshot!(
        "deploy_confirm_production_80x24",
        render(&m, 80, 24).backend()
    );
    insta::assert_snapshot!(
        "deploy_confirm_production_40x12",
        render(&m, 40, 12).backend()
    );
}

#[test]
fn help_overlay_and_command_log() {
    let mut m = fixture::model();
    update(&mut m, key('?'));
    insta::assert_snapshot!("help_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("help_40x12", render(&m, 40, 12).backend());
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('c'));
    insta::assert_snapshot!("command_log_80x24", render(&m, 80, 24).backend());
}

#[test]
fn a_small_terminal_gets_a_message() {
    let m = fixture::model();
    insta::assert_snapshot!("too_small_20x6", render(&m, 20, 6).backend());
}

#[test]
fn overview_before_anything_is_known() {
    let mut m = fixture::empty_model();
    update(&mut m, Msg::Tick { now: NOW });
    insta::assert_snapshot!("overview_loading_80x24", render(&m, 80, 24).backend());
}

#[test]
fn overview_shows_each_servers_network() {
    let m = fixture::network_model();
    insta::assert_snapshot!("overview_network_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("overview_network_40x12", render(&m, 40, 12).backend());
}

#[test]
fn network_projects_probe_the_network_with_the_status() {
    let mut p = fixture::project();
    p.config.network = Some(
        toml::from_str(
            "provider = \"tailscale\"\nauth_key_env = \"K\"\ntailnet_domain = \"t.ts.net\"\n",
        )
        .unwrap(),
    );
    let mut m = Model::new(&p, false, NOW);
    assert!(m.network);
    let cmds = super::update::refresh_status(&mut m);
    assert!(
        matches!(&cmds[..], [Command::RefreshStatus { .. }, Command::RefreshNetwork { servers }] if servers.len() == 4),
        "{cmds:?}"
    );
    update(
        &mut m,
        Msg::NetworkLoaded {
            server: "web-1".into(),
            net: NetRow {
                word: "joined".into(),
                ip: Some("100.64.0.1".into()),
                ok: true,
            },
        },
    );
    assert!(m.overview.network["web-1"].ok);
    // No [network]: no network probe.
    let mut m = fixture::empty_model();
    let cmds = super::update::refresh_status(&mut m);
    assert!(!cmds
        .iter()
        .any(|c| matches!(c, Command::RefreshNetwork { .. })));
}

#[test]
fn no_panic_at_any_size() {
    let sizes = [
        (1, 1),
        (10, 3),
        (29, 7),
        (30, 8),
        (31, 9),
        (40, 12),
        (45, 10),
        (59, 20),
        (60, 20),
        (80, 24),
        (120, 40),
        (250, 70),
        (1, 80),
        (300, 1),
    ];
    let mut models = vec![
        fixture::model(),
        fixture::network_model(),
        fixture::empty_model(),
        fixture::deploying(),
    ];
    let mut with_popup = fixture::model();
    update(&mut with_popup, key('?'));
    models.push(with_popup);
    let mut with_input = fixture::model();
    with_input.tab = Tab::Env;
    update(&mut with_input, key('e'));
    type_text(&mut with_input, "secret-value");
    models.push(with_input);
    let mut with_log = fixture::deploying();
    with_log.show_command_log = true;
    models.push(with_log);
    for base in &models {
        for tab in Tab::ALL {
            let mut m = base.clone();
            m.tab = tab;
            for (w, h) in sizes {
                render(&m, w, h);
            }
        }
    }
}

#[test]
fn monochrome_selection_is_reversed_with_a_marker_and_no_colour() {
    let mut m = fixture::model();
    m.settings.theme = ThemeKind::Monochrome;
    m.tab = Tab::Env;
    let t = render(&m, 80, 24);
    let buf = t.backend().buffer();
    // Row 2 is the first key (the selected one): "> DATABASE_URL".
    assert_eq!(buf[(0, 2)].symbol(), ">");
    for x in 0..buf.area.width {
        for y in 0..buf.area.height {
            let c = &buf[(x, y)];
            assert!(
                matches!(c.fg, Color::Reset) && matches!(c.bg, Color::Reset),
                "colour at {x},{y}: {c:?}"
            );
        }
    }
    assert!(buf[(2, 2)].modifier.contains(Modifier::REVERSED));
    assert!(!buf[(2, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn secrets_typed_into_an_input_are_not_on_screen_or_in_debug() {
    let mut m = fixture::model();
    m.tab = Tab::Env;
    update(&mut m, key('e'));
    type_text(&mut m, "hunter2hunter2");
    assert!(!screen(&m, 80, 24).contains("hunter2"));
    let cmds = update(&mut m, code(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::SetKey {
            layer: "staging".into(),
            key: "DATABASE_URL".into(),
            value: SecretString("hunter2hunter2".into())
        }]
    );
    assert!(!format!("{cmds:?}").contains("hunter2"));
}

// ---------------------------------------------------------------- update

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
fn quitting_during_a_deploy_asks_then_cancels_and_waits_for_the_rollback() {
    let mut m = fixture::deploying();
    update(&mut m, key('q'));
    assert!(!m.quit);
    assert!(matches!(
        m.popup,
        Some(Popup::Confirm {
            action: Pending::Quit,
            ..
        })
    ));
    // Focus starts on Cancel: Enter alone does nothing dangerous.
    update(&mut m, code(KeyCode::Enter));
    assert!(m.popup.is_none() && !m.quit);
    update(&mut m, key('q'));
    assert_eq!(update(&mut m, key('y')), vec![Command::CancelDeploy]);
    assert_eq!(m.deploy.phase, DeployPhase::Cancelling);
    assert!(!m.quit);
    update(
        &mut m,
        Msg::DeployDone(Err("cancelled; rolled back".into())),
    );
    assert!(m.quit);
}

#[test]
fn staging_deploy_confirms_with_focus_on_cancel() {
    let mut m = fixture::model();
    m.tab = Tab::Deploy;
    update(&mut m, key('d'));
    assert!(matches!(
        m.popup,
        Some(Popup::Confirm {
            typed_word: None,
            yes_focused: false,
            ..
        })
    ));
    assert_eq!(update(&mut m, code(KeyCode::Enter)), vec![]);
    update(&mut m, key('d'));
    update(&mut m, code(KeyCode::Tab));
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::Deploy {
            target: Target::Env("staging".into()),
        }]
    );
    assert!(m.deploy_running());
}

#[test]
fn tui_production_deploy_asks_twice_regression() {
    // The deploy itself asks (through the dialog), once, for the typed env
    // name; the dashboard does not ask first and then again in CLI words.
    let mut m = fixture::model();
    m.tab = Tab::Deploy;
    m.deploy.selected = m
        .deploy
        .targets
        .iter()
        .position(|t| *t == Target::Env("production".into()))
        .unwrap();
    assert_eq!(
        update(&mut m, key('d')),
        vec![Command::Deploy {
            target: Target::Env("production".into()),
        }]
    );
    assert!(m.popup.is_none());
    let ask = crate::interact::Confirm {
        prompt: "Deploy hello to PRODUCTION?".into(),
        word: Some("production".into()),
        tty_typed: false,
        hint: "production is a protected env; pass --yes to confirm non-interactively".into(),
    };
    update(
        &mut m,
        Msg::ConfirmRequested {
            id: 3,
            confirm: ask,
        },
    );
    // 'y' is just a letter here, not a yes: the name must be typed.
    assert_eq!(type_text(&mut m, "y"), vec![]);
    update(&mut m, code(KeyCode::Backspace));
    type_text(&mut m, "production");
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::AnswerConfirm { id: 3, yes: true }]
    );
    assert!(m.popup.is_none(), "one dialog, not two");
}

#[test]
fn deploy_events_build_the_progress_view() {
    let mut m = fixture::model();
    m.deploy.phase = DeployPhase::Running;
    let ev = |e: Event| Msg::Engine(e);
    update(
        &mut m,
        ev(Event::StepStarted {
            server: Some("web-1".into()),
            step: "connect".into(),
        }),
    );
    update(
        &mut m,
        ev(Event::StepFinished {
            changed: None,
            server: Some("web-1".into()),
            step: "connect".into(),
            ok: true,
            detail: None,
        }),
    );
    update(
        &mut m,
        ev(Event::StepStarted {
            server: Some("web-1".into()),
            step: "health".into(),
        }),
    );
    update(
        &mut m,
        ev(Event::StepFinished {
            changed: None,
            server: Some("web-1".into()),
            step: "health".into(),
            ok: false,
            detail: Some("503 after 30s".into()),
        }),
    );
    update(
        &mut m,
        ev(Event::Log {
            server: Some("web-1".into()),
            stream: Stream::Stderr,
            verbose: false,
            line: "boom".into(),
        }),
    );
    update(
        &mut m,
        ev(Event::Command {
            server: Some("web-1".into()),
            command: "docker rm -f x".into(),
        }),
    );
    let p = &m.deploy.servers["web-1"];
    assert_eq!(
        p.steps,
        vec![
            ("connect".into(), StepState::Ok, None),
            (
                "health".into(),
                StepState::Failed,
                Some("503 after 30s".into())
            )
        ]
    );
    assert_eq!(m.deploy.logs.back().unwrap(), "[web-1] boom");
    assert_eq!(m.commands.back().unwrap().command, "docker rm -f x");
    update(
        &mut m,
        ev(Event::Finished {
            ok: false,
            error_kind: None,
            summary: "health failed; rolled back".into(),
        }),
    );
    assert!(matches!(
        m.deploy.phase,
        DeployPhase::Done { ok: false, .. }
    ));
}

#[test]
fn a_finished_deploy_notifies_and_refreshes_unless_notifications_are_off() {
    let mut m = fixture::deploying();
    let cmds = update(&mut m, Msg::DeployDone(Ok("2 servers on a1b2c3d".into())));
    assert!(cmds.iter().any(
        |c| matches!(c, Command::Notify { title, .. } if title.contains("deployed env staging"))
    ));
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::RefreshStatus { .. })));
    let mut m = fixture::deploying();
    m.settings.notifications = false;
    let cmds = update(&mut m, Msg::DeployDone(Err("health failed".into())));
    assert!(!cmds.iter().any(|c| matches!(c, Command::Notify { .. })));
    assert!(matches!(
        m.deploy.phase,
        DeployPhase::Done { ok: false, .. }
    ));
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
fn env_reveal_shows_one_value_and_hides_it_when_the_selection_moves() {
    let mut m = fixture::model();
    m.tab = Tab::Env;
    m.env.revealed = None;
    assert_eq!(
        update(&mut m, key('v')),
        vec![Command::RevealKey {
            env: "staging".into(),
            key: "DATABASE_URL".into()
        }]
    );
    update(
        &mut m,
        Msg::Revealed {
            key: "DATABASE_URL".into(),
            result: Ok(SecretString("postgres://x".into())),
        },
    );
    assert!(screen(&m, 80, 24).contains("postgres://x"));
    update(&mut m, key('j'));
    assert!(m.env.revealed.is_none());
    assert!(!screen(&m, 80, 24).contains("postgres://x"));
}

#[test]
fn env_add_edit_delete_become_engine_commands() {
    let mut m = fixture::model();
    m.tab = Tab::Env;
    update(&mut m, key('a'));
    type_text(&mut m, "base:NEW_KEY=v=1");
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::SetKey {
            layer: "base".into(),
            key: "NEW_KEY".into(),
            value: SecretString("v=1".into())
        }]
    );
    update(&mut m, key('a'));
    type_text(&mut m, "1BAD=x");
    assert_eq!(update(&mut m, code(KeyCode::Enter)), vec![]);
    assert!(m.status.as_ref().is_some_and(|(err, _)| *err));
    update(&mut m, key('D'));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::UnsetKey {
            layer: "staging".into(),
            key: "DATABASE_URL".into()
        }]
    );
}

#[test]
fn keys_tab_actions() {
    let mut m = fixture::model();
    m.tab = Tab::Keys;
    update(&mut m, key('a'));
    type_text(&mut m, "bob age1bob production,staging");
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::TeamAdd {
            name: "bob".into(),
            pubkey: "age1bob".into(),
            scopes: vec!["production".into(), "staging".into()]
        }]
    );
    update(&mut m, key('j'));
    update(&mut m, key('D'));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::Revoke {
            name: "ci".into(),
            kind: "machine".into()
        }]
    );
    assert_eq!(update(&mut m, key('n')), vec![Command::GenKey]);
    update(
        &mut m,
        Msg::GeneratedKey(Ok((
            "age1pub".into(),
            SecretString("AGE-SECRET-KEY-1X".into()),
        ))),
    );
    assert!(screen(&m, 100, 24).contains("AGE-SECRET-KEY-1X"));
    update(&mut m, key('1'));
    update(&mut m, key('4'));
    update(&mut m, Msg::KeysLoaded(Ok(KeysState::default())));
    assert!(!screen(&m, 100, 24).contains("AGE-SECRET-KEY-1X"));
}

#[test]
fn rollback_asks_first_and_refuses_the_live_release() {
    let mut m = fixture::model();
    m.tab = Tab::Releases;
    update(&mut m, key('R'));
    assert!(
        m.popup.is_none(),
        "the live release is not a rollback target"
    );
    update(&mut m, key('j'));
    update(&mut m, key('R'));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::Rollback {
            env: "staging".into(),
            server: None,
            to: "b2c3d4e".into()
        }]
    );
    // Quitting while it runs asks, cancels, and waits for the result.
    assert!(m.rollback_running);
    update(&mut m, key('q'));
    assert!(!m.quit);
    assert_eq!(update(&mut m, key('y')), vec![Command::CancelDeploy]);
    assert!(!m.quit);
    update(
        &mut m,
        Msg::OpDone {
            what: "roll back staging to b2c3d4e".into(),
            result: Err("interrupted".into()),
        },
    );
    assert!(m.quit);
    m.quit = false;
    m.quit_after_deploy = false;
    // Per server view: the rollback names the server.
    update(&mut m, key('v'));
    update(&mut m, key('j'));
    update(&mut m, key('R'));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::Rollback {
            env: "staging".into(),
            server: Some("web-1".into()),
            to: "b2c3d4e".into()
        }]
    );
}

#[test]
fn engine_questions_are_answered_through_the_dialog() {
    let mut m = fixture::model();
    update(
        &mut m,
        Msg::ConfirmRequested {
            id: 7,
            confirm: crate::interact::Confirm::yes_no("Lock held by ana. Wait?", ""),
        },
    );
    // Enter is "no" for an engine question: the safe default.
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::AnswerConfirm { id: 7, yes: false }]
    );
    update(
        &mut m,
        Msg::ConfirmRequested {
            id: 8,
            confirm: crate::interact::Confirm {
                word: Some("production".into()),
                ..crate::interact::Confirm::yes_no("Roll back PRODUCTION?", "")
            },
        },
    );
    type_text(&mut m, "production");
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::AnswerConfirm { id: 8, yes: true }]
    );
}

#[test]
fn logs_follow_and_stop() {
    let mut m = fixture::model();
    m.tab = Tab::Logs;
    m.logs.following = None;
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::FollowLogs {
            server: "web-1".into(),
            service: "web".into()
        }]
    );
    update(&mut m, Msg::LogLine("hello".into()));
    assert_eq!(m.logs.lines.back().unwrap(), "hello");
    assert_eq!(update(&mut m, key('s')), vec![Command::StopLogs]);
    update(&mut m, Msg::LogsEnded(None));
    assert!(m.logs.following.is_none());
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
