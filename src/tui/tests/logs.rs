//! The Logs tab.

use super::*;

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
