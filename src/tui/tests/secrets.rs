//! The Env and Keys tabs.

use super::*;

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
