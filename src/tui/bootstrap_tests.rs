//! The Overview's bootstrap: the mark, the action and its progress panel.

use super::bootstrap::BootstrapView;
use super::fixture::{self, NOW};
use super::model::*;
use super::update::{update, Command, Msg};
use super::view::view;
use crate::event::Event;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn render(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
    t
}

/// web-2 has no Docker; its bootstrap is half way.
fn bootstrapping() -> Model {
    let mut m = fixture::model();
    m.overview.statuses.insert(
        "web-2".into(),
        ServerStatus {
            reachable: true,
            needs_bootstrap: true,
            error: Some("not bootstrapped".into()),
            ..Default::default()
        },
    );
    m.overview.selected = 1;
    let mut b = BootstrapView::new("web-2");
    let ev = |step: &str, changed: bool, detail: &str| Event::StepFinished {
        server: Some("web-2".into()),
        step: step.into(),
        ok: true,
        detail: Some(detail.into()),
        changed: Some(changed),
    };
    b.on_event(&ev("connect", false, "10.77.1.3 as root"));
    b.on_event(&ev("os", false, "Debian GNU/Linux 12 (bookworm)"));
    b.on_event(&ev(
        "packages",
        true,
        "installed docker.io nftables docker-compose",
    ));
    b.on_event(&Event::StepStarted {
        server: Some("web-2".into()),
        step: "engine".into(),
    });
    m.bootstrap = Some(b);
    m
}

#[test]
fn overview_bootstrap() {
    let m = bootstrapping();
    insta::assert_snapshot!("overview_bootstrap_80x24", render(&m, 80, 24).backend());
    insta::assert_snapshot!("overview_bootstrap_40x12", render(&m, 40, 12).backend());
}

#[test]
fn b_bootstraps_the_selected_server_after_a_confirmation() {
    let mut m = bootstrapping();
    m.bootstrap = None;
    assert!(update(&mut m, key('b')).is_empty());
    assert!(matches!(&m.popup, Some(Popup::Confirm { title, .. }) if title == "Bootstrap web-2?"));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::Bootstrap {
            server: "web-2".into()
        }]
    );
    assert!(m.bootstrap.as_ref().is_some_and(|b| b.running()) && m.animating());
    // One at a time.
    assert!(update(&mut m, key('b')).is_empty());
    assert!(m.popup.is_none() && m.status.as_ref().unwrap().0);
    update(
        &mut m,
        Msg::BootstrapEvent(Event::StepStarted {
            server: Some("web-2".into()),
            step: "packages".into(),
        }),
    );
    assert_eq!(m.bootstrap.as_ref().unwrap().steps.len(), 1);
    let cmds = update(
        &mut m,
        Msg::BootstrapDone(Ok("bootstrapped (changed: packages)".into())),
    );
    assert!(cmds.contains(&Command::RefreshStatus {
        servers: vec![
            "web-1".into(),
            "web-2".into(),
            "prod-1".into(),
            "prod-2".into()
        ]
    }));
    assert_eq!(
        m.bootstrap.as_ref().unwrap().done,
        Some((true, "bootstrapped (changed: packages)".into()))
    );
    assert_eq!(
        m.status,
        Some((false, "bootstrapped (changed: packages)".into()))
    );
}

#[test]
fn a_protected_server_is_confirmed_by_the_operation_itself() {
    let mut m = fixture::model();
    m.overview.selected = 2; // prod-1
    assert_eq!(
        update(&mut m, key('b')),
        vec![Command::Bootstrap {
            server: "prod-1".into()
        }]
    );
    assert!(
        m.popup.is_none(),
        "no second dialog: the op asks for the name"
    );
    let _ = NOW;
}

#[test]
fn the_bootstrap_panel_never_panics_at_any_size() {
    let mut m = bootstrapping();
    for (w, h) in [
        (1, 1),
        (10, 3),
        (20, 6),
        (29, 7),
        (40, 12),
        (80, 24),
        (300, 1),
        (1, 80),
    ] {
        render(&m, w, h);
    }
    m.bootstrap.as_mut().unwrap().done = Some((false, "srv2 (login) failed".into()));
    render(&m, 80, 24);
}
