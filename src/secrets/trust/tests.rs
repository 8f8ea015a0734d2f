//! The manifest chain's rules, entry by entry.

use super::*;
use crate::secrets::identity::{generate, parse_identity_text};
use age::secrecy::ExposeSecret;

struct Who {
    name: &'static str,
    ids: Identities,
}

fn who(name: &'static str) -> Who {
    let (text, _) = generate();
    Who {
        name,
        ids: Identities {
            list: parse_identity_text(text.expose_secret(), name).unwrap(),
        },
    }
}

fn member(w: &Who, scopes: &[&str]) -> Recipient {
    Recipient {
        name: w.name.into(),
        kind: Kind::Person,
        key: w.ids.list[0].public.clone(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

fn scopes(names: &[(&str, &str)]) -> BTreeMap<String, ScopeState> {
    names
        .iter()
        .map(|(s, f)| {
            (
                s.to_string(),
                ScopeState {
                    file: f.to_string(),
                    key_id: format!("id-{f}"),
                },
            )
        })
        .collect()
}

/// Append an entry signed by `by` (whatever the rules say).
fn push(log: &mut Vec<Entry>, by: &Who, members: Vec<Recipient>, sc: BTreeMap<String, ScopeState>) {
    let body = Body {
        v: 1,
        seq: log.len() as u64,
        prev: log.last().map(|e| e.hash.clone()).unwrap_or_default(),
        op: "test".into(),
        members,
        scopes: sc,
    };
    let msg = body.message();
    let sig = by.ids.list[0].signer().unwrap().sign(&msg);
    log.push(Entry {
        hash: entry_hash(&msg, &sig),
        body,
        signer: by.name.into(),
        sig,
    });
}

#[test]
fn chain_rules() {
    let (alice, bob, eve) = (who("alice"), who("bob"), who("eve"));
    let all = [("base", "b1"), ("production", "p1")];
    let mut log = vec![];
    push(
        &mut log,
        &alice,
        vec![member(&alice, &["base", "production"])],
        scopes(&all),
    );
    assert_eq!(verify_chain(&log), Ok(()));

    // alice adds bob to base (re-wrap of base only).
    let mut ok = log.clone();
    push(
        &mut ok,
        &alice,
        vec![
            member(&alice, &["base", "production"]),
            member(&bob, &["base"]),
        ],
        scopes(&[("base", "b2"), ("production", "p1")]),
    );
    assert_eq!(verify_chain(&ok), Ok(()));

    // bob (base only) cannot change production, nor create a scope.
    let mut bad = ok.clone();
    push(
        &mut bad,
        &bob,
        vec![
            member(&alice, &["base", "production"]),
            member(&bob, &["base", "production"]),
        ],
        scopes(&[("base", "b2"), ("production", "p9")]),
    );
    assert!(verify_chain(&bad).unwrap_err().contains("could not open"));
    let mut bad = ok.clone();
    push(
        &mut bad,
        &bob,
        vec![
            member(&alice, &["base", "production"]),
            member(&bob, &["base", "new"]),
        ],
        scopes(&[("base", "b2"), ("production", "p1"), ("new", "n1")]),
    );
    assert!(verify_chain(&bad).unwrap_err().contains("scope new"));

    // eve, no member, signs a valid-looking entry: refused.
    let mut bad = log.clone();
    push(
        &mut bad,
        &eve,
        vec![
            member(&alice, &["base", "production"]),
            member(&eve, &["production"]),
        ],
        scopes(&[("base", "b1"), ("production", "p2")]),
    );
    assert!(verify_chain(&bad)
        .unwrap_err()
        .contains("not a person member"));

    // eve claims to be alice: the signature is not alice's.
    let mut bad = log.clone();
    push(
        &mut bad,
        &eve,
        vec![member(&alice, &["base", "production"])],
        scopes(&[("base", "b1"), ("production", "p2")]),
    );
    bad.last_mut().unwrap().signer = "alice".into();
    assert!(verify_chain(&bad)
        .unwrap_err()
        .contains("signature is not alice's"));

    // An edited body, a dropped entry: the signature or the link breaks.
    let mut bad = ok.clone();
    bad[1].body.scopes.get_mut("production").unwrap().file = "p3".into();
    assert!(verify_chain(&bad).is_err());
    let mut three = ok.clone();
    push(
        &mut three,
        &alice,
        vec![member(&alice, &["base", "production"])],
        scopes(&[("base", "b3"), ("production", "p1")]),
    );
    three.remove(1);
    assert!(verify_chain(&three)
        .unwrap_err()
        .contains("does not follow"));

    // A first entry signed by someone who does not own every scope.
    let mut bad = vec![];
    push(
        &mut bad,
        &bob,
        vec![
            member(&alice, &["base", "production"]),
            member(&bob, &["base"]),
        ],
        scopes(&all),
    );
    assert!(verify_chain(&bad)
        .unwrap_err()
        .contains("owner of every scope"));

    // Machines never sign: a machine member's signature is refused.
    let ci = who("ci");
    let mut m = member(&ci, &["base", "production"]);
    m.kind = Kind::Machine;
    let mut bad = vec![];
    push(
        &mut bad,
        &ci,
        vec![member(&alice, &["base", "production"]), m],
        scopes(&all),
    );
    assert!(verify_chain(&bad).is_err());
}
