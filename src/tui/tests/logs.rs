//! The Logs tab. Regressions of issue 16: `s` did not stop following, each
//! Enter added another follower (lines appeared two or three times), and
//! `q` left them all running. A follower lives as long as its view.

use super::*;

fn following() -> Model {
    let mut m = fixture::model();
    m.tab = Tab::Logs;
    m.logs.following = None;
    m.logs.lines.clear();
    m
}

fn line(id: u64, s: &str) -> Msg {
    Msg::LogLine { id, line: s.into() }
}

#[test]
fn logs_follow_and_stop() {
    let mut m = following();
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![Command::FollowLogs {
            id: 1,
            server: "web-1".into(),
            service: "web".into()
        }]
    );
    update(&mut m, line(1, "hello"));
    assert_eq!(m.logs.lines.back().unwrap(), "hello");
    assert_eq!(update(&mut m, key('s')), vec![Command::StopLogs]);
    update(&mut m, Msg::LogsEnded { id: 1, error: None });
    assert!(m.logs.following.is_none());
}

#[test]
fn s_stops_following_at_once_and_the_stopped_followers_last_lines_are_dropped() {
    let mut m = following();
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, line(1, "one"));
    assert_eq!(update(&mut m, key('s')), vec![Command::StopLogs]);
    // The view says so before the follower has even ended.
    assert!(m.logs.following.is_none());
    assert!(screen(&m, 80, 24).contains("⏎ follows the selected container"));
    update(&mut m, line(1, "late"));
    assert_eq!(Vec::from(m.logs.lines.clone()), vec!["one".to_string()]);
    // A second `s` has nothing to stop.
    assert_eq!(update(&mut m, key('s')), vec![]);
}

#[test]
fn enter_replaces_the_follower_instead_of_adding_one() {
    let mut m = following();
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, line(1, "a"));
    update(&mut m, key('j'));
    assert_eq!(
        update(&mut m, code(KeyCode::Enter)),
        vec![
            Command::StopLogs,
            Command::FollowLogs {
                id: 2,
                server: "web-1".into(),
                service: "worker".into()
            }
        ]
    );
    // The old follower's lines, still in flight, do not double the new one's.
    update(&mut m, line(1, "b"));
    update(&mut m, line(2, "b"));
    assert_eq!(Vec::from(m.logs.lines.clone()), vec!["b".to_string()]);
    // Nor does its end end the new one.
    update(&mut m, Msg::LogsEnded { id: 1, error: None });
    assert!(m.logs.following.is_some());
    update(
        &mut m,
        Msg::LogsEnded {
            id: 2,
            error: Some("web-1: connection lost".into()),
        },
    );
    assert!(m.logs.following.is_none());
    assert_eq!(m.logs.error.as_deref(), Some("web-1: connection lost"));
}

#[test]
fn leaving_the_logs_tab_stops_the_follower() {
    let mut m = following();
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(update(&mut m, key('1')), vec![Command::StopLogs]);
    assert!(m.logs.following.is_none());
    let mut m = following();
    update(&mut m, code(KeyCode::Enter));
    let cmds = update(&mut m, code(KeyCode::Tab));
    assert_eq!(cmds, vec![Command::StopLogs, Command::LoadGit]);
}

#[test]
fn quitting_stops_the_follower() {
    let mut m = following();
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(update(&mut m, key('q')), vec![Command::StopLogs]);
    assert!(m.quit);
    // Also when arcane quits after a deploy it was waiting for.
    let mut m = fixture::deploying();
    m.logs.following = Some(("web-1".into(), "web".into()));
    m.quit_after_deploy = true;
    let cmds = update(&mut m, Msg::DeployDone(Ok("done".into())));
    assert!(m.quit);
    assert!(cmds.contains(&Command::StopLogs), "{cmds:?}");
}
