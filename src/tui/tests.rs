//! Snapshot tests of every tab (80x24 and 40x12), the no-panic resize sweep
//! and the monochrome selection style here; `update`'s behaviour by area in
//! the submodules.

mod deploy;
mod git;
mod logs;
mod navigation;
mod releases;
mod secrets;

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
fn git_watch_blocked() {
    let m = fixture::watch_blocked();
    insta::assert_snapshot!("git_watch_blocked_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("git_watch_blocked_40x12", render(&m, 40, 12).backend());
}

#[test]
fn git_squash_plan() {
    let m = fixture::squash_planned();
    insta::assert_snapshot!("git_squash_plan_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("git_squash_plan_40x12", render(&m, 40, 12).backend());
}

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

/// Regression (issue 16): the help overlay did not fit 120x35 (one column
/// of 36 rows) and scrolled past its end; Esc did not close the command
/// log. Help now fits in two columns where there is room and scrolling
/// stops at its last row; Esc closes the top layer.
#[test]
fn help_fits_at_120x35_and_80x24_and_scrolling_stops_at_its_end() {
    let mut m = fixture::model();
    update(&mut m, key('?'));
    let every: Vec<&str> = super::keymap::BINDINGS.iter().map(|b| b.desc).collect();
    for (w, h) in [(120, 35), (80, 24)] {
        update(
            &mut m,
            Msg::Resize {
                width: w,
                height: h,
            },
        );
        let s = screen(&m, w, h);
        for d in &every {
            assert!(s.contains(d), "{d:?} not shown at {w}x{h}:\n{s}");
        }
        // Nothing to scroll: j moves nothing.
        update(&mut m, key('j'));
        assert_eq!(m.popup, Some(Popup::Help { scroll: 0 }));
    }
    insta::assert_snapshot!("help_120x35", render(&m, 120, 35).backend());

    update(
        &mut m,
        Msg::Resize {
            width: 40,
            height: 12,
        },
    );
    let (max, _) = super::view::help_scroll_limits(40, 12);
    assert!(max > 0);
    for _ in 0..100 {
        update(&mut m, key('j'));
    }
    assert_eq!(m.popup, Some(Popup::Help { scroll: max }));
    // The last row is on the bottom row, and one k moves one row up.
    let s = screen(&m, 40, 12);
    assert!(s.lines().nth(9).unwrap().contains("toggle"), "{s}");
    update(&mut m, key('k'));
    assert_eq!(m.popup, Some(Popup::Help { scroll: max - 1 }));
    update(&mut m, key('G'));
    assert_eq!(m.popup, Some(Popup::Help { scroll: max }));
    // Growing the terminal brings the scroll back within the new end.
    update(
        &mut m,
        Msg::Resize {
            width: 80,
            height: 24,
        },
    );
    assert_eq!(m.popup, Some(Popup::Help { scroll: 0 }));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.popup.is_none());
}

#[test]
fn esc_closes_the_command_log_before_anything_else() {
    let mut m = fixture::deploying();
    update(&mut m, key('c'));
    assert!(m.show_command_log);
    // On the Deploy tab Esc also cancels; the log on top closes first.
    assert_eq!(update(&mut m, code(KeyCode::Esc)), vec![]);
    assert!(!m.show_command_log && m.popup.is_none());
    update(&mut m, code(KeyCode::Esc));
    assert!(matches!(
        m.popup,
        Some(Popup::Confirm {
            action: Pending::CancelDeploy,
            ..
        })
    ));
    // A popup over the log closes before the log.
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('c'));
    update(&mut m, key('?'));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.popup.is_none() && m.show_command_log);
    update(&mut m, code(KeyCode::Esc));
    assert!(!m.show_command_log);
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

/// Regression (issue 16): the log panes counted lines, not rows, so the
/// newest lines fell below the bottom as soon as an earlier line wrapped.
#[test]
fn log_panes_keep_the_newest_line_when_earlier_lines_wrap() {
    let mut m = fixture::model();
    m.tab = Tab::Logs;
    m.logs.lines = (0..40)
        .map(|i| format!("{i:02} GET /api/orders?page={i}&sort=created&filter=shipped&fields=id,total 200 in 12ms"))
        .chain(["NEWEST\twith a tab".to_string()])
        .collect();
    for (w, h) in [(80, 24), (40, 12)] {
        let s = screen(&m, w, h);
        let rows: Vec<&str> = s.lines().collect();
        // The newest line is on the pane's bottom row (above status and footer).
        assert!(
            rows[rows.len() - 3].contains("NEWEST  with a tab"),
            "{w}x{h}:\n{s}"
        );
    }
    insta::assert_snapshot!("logs_wrapped_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("logs_wrapped_40x12", render(&m, 40, 12).backend());

    let mut m = fixture::deploying();
    for i in 0..30 {
        m.deploy.logs.push_back(format!("[web-1] line {i}"));
    }
    m.deploy.logs.push_back(
        "[web-1] a long line from the health check that wraps on a narrow terminal".into(),
    );
    m.deploy.logs.push_back("[web-1] NEWEST".into());
    for (w, h) in [(80, 24), (40, 12)] {
        let s = screen(&m, w, h);
        let rows: Vec<&str> = s.lines().collect();
        assert!(
            rows[rows.len() - 3].contains("[web-1] NEWEST"),
            "{w}x{h}:\n{s}"
        );
    }
}
