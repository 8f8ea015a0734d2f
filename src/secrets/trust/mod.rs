//! The signed key manifest: who may change a scope key, proven.
//!
//! Anyone who can push can write a key file: age encryption to a teammate's
//! public key needs no secret. So a key file is only used when the manifest
//! `.arcane/keys/manifest` vouches for it. The manifest is an append-only log
//! of JSON lines; each entry states the whole key state (members with their
//! scopes, and per scope the SHA-256 of the wrapped key file and a key id
//! derived from the data key) and is signed (see [`super::sign`]) by a
//! person who was a member in the entry before it and could open every scope
//! whose key or recipients the entry changes (a new scope: every scope). The
//! first entry (`arcane init`) is signed by the owner it names.
//!
//! A forged log needs a member's signature, except for a wholesale rewrite
//! from a new first entry: that is what pinning stops. Each user's XDG state
//! remembers, per clone, the first entry and every entry verified so far; a
//! log with another first entry is refused, and a new entry that forks off
//! verified history must be signed by someone who is still a member in the
//! newest entries seen (so a removed member cannot fork the history from
//! before their removal); see [`super::pins`]. A
//! checkout whose log is an older prefix of what was seen is *behind*: it may
//! be read (an old branch), but nothing is encrypted to its keys.
//!
//! A clone's first use trusts the log it finds (TOFU) and says so, naming the
//! first signer's fingerprint; `arcane secrets trust FINGERPRINT` pins from a
//! fingerprint checked out of band instead. See docs/secrets.md.

use super::identity::Identities;
use super::pins::{check_pins, read_pins, seen_of, write_pins, Pins};
use super::recipients::{normalize_key, Kind, Recipient, Recipients};
use super::{sign, write_atomic, SecretsError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = ".arcane/keys/manifest";
const DOMAIN: &[u8] = b"arcane-manifest v1\0";

/// One scope's key as the manifest vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeState {
    /// SHA-256 (hex) of `.arcane/keys/<scope>.age`, byte for byte.
    pub file: String,
    /// [`super::DataKey::key_id`] of the data key inside.
    pub key_id: String,
}

/// The signed part of an entry: the complete key state after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub v: u32,
    pub seq: u64,
    /// Hash of the previous entry ("" for the first).
    pub prev: String,
    /// What changed, for people reading the log (`init`, `add bob`, ...).
    pub op: String,
    pub members: Vec<Recipient>,
    pub scopes: BTreeMap<String, ScopeState>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    body: Body,
    signer: String,
    sig: String,
}

/// A parsed manifest entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub body: Body,
    pub signer: String,
    sig: [u8; 64],
    pub hash: String,
}

impl Body {
    fn message(&self) -> Vec<u8> {
        let mut m = DOMAIN.to_vec();
        m.extend(serde_json::to_vec(self).expect("a manifest body serializes"));
        m
    }

    /// Who the scope's key file is wrapped for: (name, kind, key).
    pub fn recipients_of(&self, scope: &str) -> BTreeSet<(String, Kind, String)> {
        self.members
            .iter()
            .filter(|m| m.scopes.iter().any(|s| s == scope))
            .map(|m| (m.name.clone(), m.kind, normalize_key(&m.key)))
            .collect()
    }

    pub(super) fn person(&self, name: &str) -> Option<&Recipient> {
        self.members
            .iter()
            .find(|m| m.name == name && m.kind == Kind::Person)
    }

    fn holds(&self, who: &Recipient, scope: &str) -> bool {
        self.recipients_of(scope)
            .iter()
            .any(|(_, _, k)| *k == normalize_key(&who.key))
    }

    /// The recipients file this state corresponds to.
    pub fn to_recipients(&self, order: &[String]) -> Recipients {
        let mut scopes: Vec<String> = order
            .iter()
            .filter(|s| self.scopes.contains_key(*s))
            .cloned()
            .collect();
        scopes.extend(self.scopes.keys().filter(|s| !order.contains(s)).cloned());
        Recipients {
            version: 1,
            scopes,
            recipients: self.members.clone(),
        }
    }
}

fn entry_hash(msg: &[u8], sig: &[u8; 64]) -> String {
    let mut h = Sha256::new();
    h.update(msg);
    h.update(sig);
    hex::encode(h.finalize())
}

pub fn manifest_path(root: &Path) -> PathBuf {
    root.join(MANIFEST)
}

pub(super) fn untrusted(root: &Path, message: impl Into<String>) -> SecretsError {
    SecretsError::Untrusted {
        file: manifest_path(root),
        message: message.into(),
    }
}

/// Read the log; `Ok(None)` when the project has none yet.
pub fn load(root: &Path) -> Result<Option<Vec<Entry>>, SecretsError> {
    let p = manifest_path(root);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SecretsError::io(format!("reading {}", p.display()), e)),
    };
    let mut out = vec![];
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = |why: String| untrusted(root, format!("line {}: {why}", i + 1));
        let line: Line =
            serde_json::from_str(l).map_err(|e| bad(format!("not a manifest entry: {e}")))?;
        let sig: [u8; 64] = STANDARD
            .decode(&line.sig)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("the signature is not 64 bytes of base64".into()))?;
        let hash = entry_hash(&line.body.message(), &sig);
        out.push(Entry {
            body: line.body,
            signer: line.signer,
            sig,
            hash,
        });
    }
    Ok(Some(out))
}

/// Check every entry against the one before it. The error says which entry.
pub fn verify_chain(entries: &[Entry]) -> Result<(), String> {
    if entries.is_empty() {
        return Err("the manifest is empty".into());
    }
    for (i, e) in entries.iter().enumerate() {
        let b = &e.body;
        let at = format!("entry {i} ({:?}, signed by {})", b.op, e.signer);
        let prev = i.checked_sub(1).map(|p| &entries[p]);
        if b.v != 1 || b.seq != i as u64 || b.prev != prev.map_or("", |p| p.hash.as_str()) {
            return Err(format!(
                "{at} does not follow the entry before it (entries removed, reordered or edited)"
            ));
        }
        let authority = prev.map_or(b, |p| &p.body);
        let Some(signer) = authority.person(&e.signer) else {
            return Err(format!(
                "{at}: {} is not a person member of the entry before it",
                e.signer
            ));
        };
        let vk = sign::verifying_key(&signer.key)
            .ok_or_else(|| format!("{at}: {}'s key cannot sign (ssh-rsa)", e.signer))?;
        if !sign::verify(&vk, &b.message(), &e.sig) {
            return Err(format!("{at}: the signature is not {}'s", e.signer));
        }
        match prev {
            None => {
                if let Some(s) = b.scopes.keys().find(|s| !b.holds(signer, s)) {
                    return Err(format!("{at}: the first entry must be signed by an owner of every scope; {} lacks {s}", e.signer));
                }
            }
            Some(p) => {
                let pb = &p.body;
                let all: BTreeSet<&String> = pb.scopes.keys().chain(b.scopes.keys()).collect();
                for s in all {
                    let before = (pb.scopes.get(s), pb.recipients_of(s));
                    let after = (b.scopes.get(s), b.recipients_of(s));
                    if before == after {
                        continue;
                    }
                    let allowed = if pb.scopes.contains_key(s) {
                        pb.holds(signer, s)
                    } else {
                        pb.scopes.keys().all(|x| pb.holds(signer, x))
                    };
                    if !allowed {
                        return Err(format!(
                            "{at} changes the key or recipients of scope {s}, which {} could not open",
                            e.signer
                        ));
                    }
                }
            }
        }
        for m in &b.members {
            if let Some(s) = m.scopes.iter().find(|s| !b.scopes.contains_key(*s)) {
                return Err(format!(
                    "{at}: member {} has scope {s}, which has no key",
                    m.name
                ));
            }
        }
    }
    Ok(())
}

/// The outcome of verifying a project's manifest.
#[derive(Debug, Clone)]
pub struct Verified {
    pub tip: Body,
    pub tip_signer: String,
    /// Who signed the first entry, and their key's fingerprint.
    pub genesis_signer: String,
    pub genesis_fingerprint: String,
    /// No pin existed: this clone trusted the log as found (TOFU).
    pub first_use: bool,
    /// The log is an older prefix of one this user verified before.
    pub behind: bool,
    pub entries: usize,
}

pub(super) fn genesis_fp(entries: &[Entry]) -> String {
    entries[0]
        .body
        .person(&entries[0].signer)
        .and_then(|m| sign::verifying_key(&m.key))
        .map(|k| sign::fingerprint(&k))
        .unwrap_or_default()
}

/// Verify the project's manifest against this user's pins, and pin what
/// passed. Errors are [`SecretsError::Untrusted`] naming the manifest.
pub fn verify(root: &Path) -> Result<Verified, SecretsError> {
    let Some(entries) = load(root)? else {
        return Err(untrusted(
            root,
            "this project has key files but no signed key manifest, so nothing proves who made them; \
             an owner who has checked .arcane/ runs `arcane secrets adopt` and commits .arcane/keys/manifest",
        ));
    };
    verify_chain(&entries).map_err(|m| {
        untrusted(
            root,
            format!("{m}. See who changed it: `git log -p -- .arcane/`"),
        )
    })?;
    check_pins(root, &entries, None)
}

/// Pin the project's manifest from a fingerprint checked out of band: some
/// person member of the newest entry must have that fingerprint. Replaces an
/// existing pin (the way to accept a history the team really rewrote).
pub fn trust_fingerprint(root: &Path, fingerprint: &str) -> Result<Verified, SecretsError> {
    let entries = load(root)?.ok_or_else(|| untrusted(root, "this project has no key manifest"))?;
    verify_chain(&entries).map_err(|m| untrusted(root, m))?;
    let want = fingerprint.trim().to_ascii_lowercase();
    let tip = &entries.last().expect("non-empty").body;
    let fp_of = |m: &Recipient| sign::verifying_key(&m.key).map(|k| sign::fingerprint(&k));
    // The member must still be a person member now and must have signed an
    // entry: a history forged around a teammate's public key names them as a
    // member but carries no signature of theirs.
    let found = tip
        .members
        .iter()
        .filter(|m| m.kind == Kind::Person)
        .find(|m| fp_of(m).as_deref() == Some(want.as_str()));
    let signed = entries.iter().any(|e| {
        let authority = match e.body.seq {
            0 => &e.body,
            n => &entries[n as usize - 1].body,
        };
        authority
            .person(&e.signer)
            .is_some_and(|m| fp_of(m).as_deref() == Some(want.as_str()))
    });
    let m = match found {
        Some(m) if signed => m,
        Some(m) => {
            return Err(untrusted(
                root,
                format!(
                    "{} (fingerprint {want}) is named as a member but signed no entry of this key manifest: \
                     it was not made by them. See who changed it: `git log -p -- .arcane/`",
                    m.name
                ),
            ))
        }
        None => {
            return Err(SecretsError::input(format!(
                "no member of the key manifest has fingerprint {want}; ask them for `arcane identity show` again"
            )))
        }
    };
    let mut v = check_pins(root, &entries, Some(&m.name))?;
    v.first_use = false;
    Ok(v)
}

/// SHA-256 of a key file as the manifest records it.
pub fn file_hash(path: &Path) -> Result<String, SecretsError> {
    let data = std::fs::read(path)
        .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
    Ok(hex::encode(Sha256::digest(&data)))
}

/// Append a signed entry for the new state. The signer is the first of
/// `ids` that is a person member of the current newest entry (of `members`
/// for the first entry) and can sign; the new log is verified before it is
/// written, so an unauthorized change fails here naming the rule.
pub fn append(
    root: &Path,
    op: &str,
    members: Vec<Recipient>,
    scopes: BTreeMap<String, ScopeState>,
    ids: &Identities,
) -> Result<(), SecretsError> {
    let mut entries = load(root)?.unwrap_or_default();
    let mut members = members;
    members.sort_by(|a, b| a.name.cmp(&b.name));
    let body = Body {
        v: 1,
        seq: entries.len() as u64,
        prev: entries.last().map(|e| e.hash.clone()).unwrap_or_default(),
        op: op.to_string(),
        members,
        scopes,
    };
    let authority = entries.last().map_or(&body, |e| &e.body);
    let mine: Vec<String> = ids.list.iter().map(|l| normalize_key(&l.public)).collect();
    let (name, signer) = ids
        .list
        .iter()
        .find_map(|l| {
            let m = authority.members.iter().find(|m| {
                m.kind == Kind::Person && normalize_key(&m.key) == normalize_key(&l.public)
            })?;
            Some((m.name.clone(), l.signer()?))
        })
        .ok_or_else(|| {
            SecretsError::input(format!(
                "none of your identities ({}) is a person member who can sign the key manifest \
                 (machine keys, ssh-rsa and passphrase-protected ssh keys cannot sign)",
                mine.join(", ")
            ))
        })?;
    let msg = body.message();
    let sig = signer.sign(&msg);
    let hash = entry_hash(&msg, &sig);
    entries.push(Entry {
        body,
        signer: name,
        sig,
        hash,
    });
    verify_chain(&entries)
        .map_err(|m| SecretsError::input(format!("you cannot make this change: {m}")))?;
    let mut text = String::new();
    for e in &entries {
        let line = Line {
            body: e.body.clone(),
            signer: e.signer.clone(),
            sig: STANDARD.encode(e.sig),
        };
        text.push_str(
            &serde_json::to_string(&line).map_err(|e| SecretsError::Failed(e.to_string()))?,
        );
        text.push('\n');
    }
    write_atomic(&manifest_path(root), text.as_bytes(), 0o644)?;
    // Our own change is verified by construction: pin it (a first entry
    // starts the pins of this clone).
    let mut pins = read_pins(root)
        .filter(|p| p.genesis == entries[0].hash)
        .unwrap_or(Pins {
            root: root.display().to_string(),
            genesis: entries[0].hash.clone(),
            seen: BTreeMap::new(),
        });
    for e in &entries {
        pins.seen
            .entry(e.hash.clone())
            .or_insert_with(|| seen_of(e));
    }
    write_pins(root, &pins)
}

/// Differences between `recipients.toml` and the verified state, as
/// sentences (empty: they agree).
pub fn recipients_mismatch(file: &Recipients, tip: &Body) -> Vec<String> {
    let mut out = vec![];
    let norm = |r: &Recipient| {
        let mut s = r.scopes.clone();
        s.sort();
        (r.kind, normalize_key(&r.key), s)
    };
    for m in &tip.members {
        match file.find(&m.name) {
            None => out.push(format!("{} is a member in the signed manifest but missing from recipients.toml", m.name)),
            Some(r) if norm(r) != norm(m) => out.push(format!(
                "{} differs from the signed manifest (manifest: scopes {}; recipients.toml: scopes {})",
                m.name,
                m.scopes.join(","),
                r.scopes.join(",")
            )),
            _ => {}
        }
    }
    for r in &file.recipients {
        if !tip.members.iter().any(|m| m.name == r.name) {
            out.push(format!(
                "{} is in recipients.toml but not in the signed manifest: no key file is wrapped for them by a member",
                r.name
            ));
        }
    }
    let mut a: Vec<&String> = file.scopes.iter().collect();
    a.sort();
    let b: Vec<&String> = tip.scopes.keys().collect();
    if a != b {
        out.push("the scopes in recipients.toml differ from the signed manifest".into());
    }
    out
}

#[cfg(test)]
mod tests;
