//! The Releases tab.

use super::*;

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
