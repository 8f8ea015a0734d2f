//! The Deploy tab: confirmations, progress, the end of a deploy, engine questions.

use super::*;

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

/// Regression (issue 16): a production deploy asked twice, first for the
/// typed name and then in a Yes/Cancel dialog in CLI words. The deploy
/// itself asks now (through the dialog), once, for the typed env name.
#[test]
fn tui_production_deploy_asks_twice_regression() {
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
    assert!(!screen(&m, 80, 24).contains("--yes"), "no CLI wording");
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
            server: Some("web-1".into()),
            step: "connect".into(),
            ok: true,
            detail: None,
            changed: None,
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
            server: Some("web-1".into()),
            step: "health".into(),
            ok: false,
            detail: Some("503 after 30s".into()),
            changed: None,
        }),
    );
    update(
        &mut m,
        ev(Event::Log {
            server: Some("web-1".into()),
            stream: Stream::Stderr,
            line: "boom".into(),
            verbose: false,
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
            summary: "health failed; rolled back".into(),
            error_kind: None,
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

/// Regression (issue 16): a "Cancel the deploy?" dialog stayed on screen
/// after its deploy had finished.
#[test]
fn a_cancel_dialog_closes_when_its_deploy_finishes() {
    let mut m = fixture::deploying();
    update(&mut m, key('x'));
    assert!(screen(&m, 80, 24).contains("Cancel the deploy?"));
    update(&mut m, Msg::DeployDone(Ok("2 servers on a1b2c3d".into())));
    assert!(m.popup.is_none());
    let s = screen(&m, 80, 24);
    assert!(
        !s.contains("Cancel the deploy?") && s.contains("✓ deployed"),
        "{s}"
    );
    // The engine's `Finished` event may come first: it closes it too.
    let mut m = fixture::deploying();
    update(&mut m, key('x'));
    update(
        &mut m,
        Msg::Engine(Event::Finished {
            ok: false,
            summary: "health failed; rolled back".into(),
            error_kind: None,
        }),
    );
    assert!(m.popup.is_none());
    // So does "Quit while deploying?"; a late `y` then does nothing.
    let mut m = fixture::deploying();
    update(&mut m, key('q'));
    update(&mut m, Msg::DeployDone(Err("health failed".into())));
    assert!(m.popup.is_none());
    assert_eq!(update(&mut m, key('y')), vec![]);
    assert!(!m.quit);
    // Other dialogs are not the deploy's: they stay.
    let mut m = fixture::deploying();
    m.tab = Tab::Env;
    update(&mut m, key('D'));
    update(&mut m, Msg::DeployDone(Ok("done".into())));
    assert!(matches!(
        m.popup,
        Some(Popup::Confirm {
            action: Pending::DeleteKey { .. },
            ..
        })
    ));
}
