//! The Git tab: the squash plan, its confirmation, and the watcher's state.

use super::*;

#[test]
fn squash_is_planned_shown_confirmed_and_applied_as_planned() {
    let mut m = fixture::model();
    m.tab = Tab::Git;
    // Nothing happens without a plan first: s plans.
    assert_eq!(update(&mut m, key('s')), vec![Command::SquashPlan]);
    assert!(m.git.planning);
    assert!(update(&mut m, key('s')).is_empty(), "one plan at a time");
    let plan = fixture::squash_planned().git.plan.unwrap();
    update(&mut m, Msg::SquashPlanned(Ok(plan.clone())));
    assert!(!m.git.planning);
    assert!(m.status.as_ref().unwrap().1.contains("3 commit(s) -> 2"));
    // With the plan on screen, ⏎ asks; Cancel has the focus.
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(m.popup, Some(Popup::Confirm { .. })));
    assert!(update(&mut m, code(KeyCode::Enter)).is_empty());
    assert!(m.popup.is_none() && m.git.plan.is_some());
    // s again, then y: exactly the plan shown is applied.
    update(&mut m, key('s'));
    assert_eq!(
        update(&mut m, key('y')),
        vec![Command::Squash { plan: plan.clone() }]
    );
    let cmds = update(
        &mut m,
        Msg::OpDone {
            what: "squash main".into(),
            result: Ok("main is now 2 commit(s)".into()),
        },
    );
    assert!(m.git.plan.is_none());
    assert!(cmds.contains(&Command::LoadGit), "{cmds:?}");
}

#[test]
fn a_failed_plan_says_why_and_refresh_drops_a_plan() {
    let mut m = fixture::model();
    m.tab = Tab::Git;
    update(&mut m, key('s'));
    update(&mut m, Msg::SquashPlanned(Err("nothing to squash".into())));
    assert_eq!(m.status, Some((true, "squash: nothing to squash".into())));
    assert!(m.git.plan.is_none());
    m.git.plan = fixture::squash_planned().git.plan;
    assert_eq!(update(&mut m, key('r')), vec![Command::LoadGit]);
    assert!(
        m.git.plan.is_none(),
        "a plan is only good for the branch as it was"
    );
}

#[test]
fn a_blocked_watcher_shows_in_the_status_line() {
    let mut m = fixture::model();
    m.tab = Tab::Git;
    let blocked = fixture::watch_blocked();
    update(
        &mut m,
        Msg::ShadowLoaded(Ok((
            blocked.git.shadow.clone().unwrap(),
            blocked.git.watch.clone(),
        ))),
    );
    let (err, text) = m.status.clone().unwrap();
    assert!(
        err && text.contains("src/keys.rs:1 aws-access-key-id"),
        "{text}"
    );
    assert!(!text.contains("AKIA"), "{text}");
    let s = screen(&m, 80, 24);
    assert!(s.contains("watcher BLOCKED"), "{s}");
}
