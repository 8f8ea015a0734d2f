//! Per-user pins of each clone's key manifest (see [`super::trust`]): the
//! first entry and every entry verified so far, in the user's XDG state.
//! They are what turns "validly signed" into "signed by someone this clone
//! already trusted": a replaced history, or a fork signed by a removed
//! member, is refused; an older prefix is *behind*.

use super::recipients::{normalize_key, Kind};
use super::trust::{genesis_fp, untrusted, Entry, Verified};
use super::{write_atomic, SecretsError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize, Default)]
pub(super) struct Pins {
    pub root: String,
    pub genesis: String,
    /// hash -> what was seen.
    pub seen: BTreeMap<String, Seen>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(super) struct Seen {
    seq: u64,
    prev: String,
    /// Normalized keys of the person members in that entry.
    persons: Vec<String>,
}

/// `$XDG_STATE_HOME/arcane/pins/<hash of the clone's path>.json`.
fn pin_path(root: &Path) -> Option<PathBuf> {
    let canon = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let h = hex::encode(&Sha256::digest(canon.to_string_lossy().as_bytes())[..16]);
    let base = directories::BaseDirs::new()?;
    let dir = base
        .state_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| base.home_dir().join(".local/state"));
    Some(dir.join("arcane/pins").join(format!("{h}.json")))
}

pub(super) fn read_pins(root: &Path) -> Option<Pins> {
    serde_json::from_slice(&std::fs::read(pin_path(root)?).ok()?).ok()
}

/// Save pins. A state directory that cannot be written (a read-only HOME on
/// CI) must not stop anyone from reading: it is said, and this use verifies
/// like a first use.
pub(super) fn write_pins(root: &Path, pins: &Pins) -> Result<(), SecretsError> {
    let Some(p) = pin_path(root) else {
        return Ok(());
    };
    let data = serde_json::to_vec_pretty(pins).map_err(|e| SecretsError::Failed(e.to_string()))?;
    if let Err(e) = write_atomic(&p, &data, 0o600) {
        eprintln!("arcane: could not save key manifest pins ({e}); this clone is not pinned");
    }
    Ok(())
}

pub(super) fn seen_of(e: &Entry) -> Seen {
    Seen {
        seq: e.body.seq,
        prev: e.body.prev.clone(),
        persons: e
            .body
            .members
            .iter()
            .filter(|m| m.kind == Kind::Person)
            .map(|m| normalize_key(&m.key))
            .collect(),
    }
}

pub(super) fn check_pins(
    root: &Path,
    entries: &[Entry],
    replace: Option<&str>,
) -> Result<Verified, SecretsError> {
    let genesis = &entries[0];
    let tip = entries.last().expect("non-empty");
    let mut v = Verified {
        tip: tip.body.clone(),
        tip_signer: tip.signer.clone(),
        genesis_signer: genesis.signer.clone(),
        genesis_fingerprint: genesis_fp(entries),
        first_use: false,
        behind: false,
        entries: entries.len(),
    };
    let mut pins = match (read_pins(root), replace) {
        (Some(p), None) => p,
        (_, Some(_)) | (None, None) => {
            v.first_use = replace.is_none();
            Pins {
                root: root.display().to_string(),
                genesis: genesis.hash.clone(),
                seen: BTreeMap::new(),
            }
        }
    };
    if pins.genesis != genesis.hash {
        return Err(untrusted(
            root,
            format!(
                "the key history was replaced: it no longer starts with the entry you verified before \
                 (now signed by {}, fingerprint {}). Someone rewrote .arcane/ (a force-push?); \
                 see who changed it: `git log -p -- .arcane/`. If the team really started over, \
                 check the new fingerprint with them and run `arcane secrets trust FINGERPRINT`",
                genesis.signer, v.genesis_fingerprint
            ),
        ));
    }
    let prevs: BTreeSet<String> = pins.seen.values().map(|s| s.prev.clone()).collect();
    let tips: Vec<Seen> = pins
        .seen
        .iter()
        .filter(|(h, _)| !prevs.contains(*h))
        .map(|(_, s)| s.clone())
        .collect();
    let mut changed = false;
    for e in entries {
        if pins.seen.contains_key(&e.hash) {
            continue;
        }
        // Extending what was seen needs only the chain rules. Branching off
        // an entry that already has a seen successor (a fork of verified
        // history) must be signed by someone still a member in every newest
        // entry seen: a removed member cannot fork from before the removal.
        if !prevs.contains(&e.body.prev) {
            pins.seen.insert(e.hash.clone(), seen_of(e));
            changed = true;
            continue;
        }
        let authority = match e.body.seq {
            0 => &e.body,
            n => &entries[n as usize - 1].body,
        };
        let signer_key = authority
            .person(&e.signer)
            .map(|m| normalize_key(&m.key))
            .unwrap_or_default();
        if let Some(t) = tips.iter().find(|t| !t.persons.contains(&signer_key)) {
            return Err(untrusted(
                root,
                format!(
                    "entry {} ({:?}) is signed by {}, who is no longer a member in the key history you \
                     verified before (entry {}): a removed member may be replaying an old state. \
                     See who changed it: `git log -p -- .arcane/`",
                    e.body.seq, e.body.op, e.signer, t.seq
                ),
            ));
        }
        pins.seen.insert(e.hash.clone(), seen_of(e));
        changed = true;
    }
    v.behind = pins.seen.values().any(|s| s.prev == tip.hash);
    if changed || v.first_use {
        write_pins(root, &pins)?;
    }
    Ok(v)
}
