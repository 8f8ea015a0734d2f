//! Who can open which scope: `team add|remove|list`, `deploy
//! allow|revoke|gen-key`, your identity, and the dashboard's Keys tab.
//!
//! The scope defaults live here once: a teammate gets `base` and `staging`
//! (those the project has), a machine named like a server gets `base` and
//! that server's env. Changes start from the signed key manifest, never from
//! `recipients.toml` alone (see docs/secrets.md).

use super::{Error, Local};
use crate::config::Project;
use crate::event::report::{IdentityReport, KeyPair, Member, TeamReport};
use crate::event::Event;
use crate::secrets::identity::{self, Identities};
use crate::secrets::recipients::{
    normalize_key, parse_recipient, valid_recipient_name, Kind, Recipient, Recipients,
};
use crate::secrets::{project, Keyring};
use age::secrecy::ExposeSecret;

/// The scopes a new member gets when none are named.
pub fn default_scopes(
    l: &Local,
    project: Option<&Project>,
    name: &str,
    kind: Kind,
) -> Result<Vec<String>, Error> {
    match kind {
        Kind::Person => {
            let r = Recipients::load(l.root)?;
            Ok(["base", "staging"]
                .iter()
                .filter(|s| r.scopes.iter().any(|x| x == *s))
                .map(|s| s.to_string())
                .collect())
        }
        Kind::Machine => {
            let env = project.and_then(|p| p.servers.servers.get(name).map(|s| s.env.clone()));
            match env {
                Some(e) => Ok(vec!["base".to_string(), e]),
                None => Err(Error::input(format!(
                    "{name} is not a server in config/servers.toml; name its scopes (e.g. --scopes base,production)"
                ))),
            }
        }
    }
}

/// Give `name` (a person, or a machine: a server or CI) access to `scopes`
/// (defaults above when empty): their key is added to the signed manifest
/// and the scope keys are re-wrapped for them. Returns the scopes.
pub fn add(
    l: &Local,
    project: Option<&Project>,
    name: &str,
    pubkey: &str,
    scopes: Vec<String>,
    kind: Kind,
) -> Result<Vec<String>, Error> {
    if !valid_recipient_name(name) {
        return Err(Error::input(format!(
            "{name:?} is not a valid name (letters, digits, - _ . @)"
        )));
    }
    // Never echo the argument: it may be a secret key pasted by mistake.
    parse_recipient(pubkey).map_err(|e| Error::input(format!("PUBKEY: {e}")))?;
    if !Recipients::exists(l.root) {
        return Err(Error::input(format!(
            "{} has no encrypted secrets yet (no .arcane/recipients.toml): run `arcane setup` first",
            l.root.display()
        )));
    }
    let scopes = if scopes.is_empty() {
        default_scopes(l, project, name, kind)?
    } else {
        scopes
    };
    if kind == Kind::Machine && !scopes.iter().any(|s| s == "base") {
        l.em.warn(
            "this machine will not be able to read base.env (add `base` to its scopes if it deploys)",
        );
    }
    let rec = Recipient {
        name: name.to_string(),
        kind,
        key: normalize_key(pubkey),
        scopes: scopes.clone(),
    };
    project::add_recipient(l.root, rec, &Keyring::new(l.root, l.identity))?;
    let who = match kind {
        Kind::Person => "their clone",
        Kind::Machine => "the machine",
    };
    l.em.finished(
        true,
        format!(
            "{name} ({kind}) can now decrypt scopes {}; commit .arcane/ (git add .arcane && git commit) so {who} can read them, \
             and give them your signing fingerprint (`arcane identity show`) for `arcane secrets trust`",
            scopes.join(", ")
        ),
    );
    Ok(scopes)
}

/// Remove a member and rotate every scope they could open (their old key
/// files stay readable to them in git history: the values are leaked).
pub fn remove(l: &Local, name: &str, kind: Kind) -> Result<project::RotationReport, Error> {
    let rep = project::remove_recipient(l.root, name, kind, &Keyring::new(l.root, l.identity))?;
    for f in &rep.files {
        l.em.info(format!(
            "re-encrypted {}",
            f.strip_prefix(l.root).unwrap_or(f).display()
        ));
    }
    l.em.warn(format!(
        "{} can no longer decrypt what is committed from now on, but git history stays readable to them: \
         every value they could see in scopes {} must be treated as leaked. Rotate the real credentials \
         (database passwords, API tokens) at their source, then `arcane env set` the new values.",
        rep.removed,
        rep.scopes.join(", ")
    ));
    l.em.finished(
        true,
        format!(
            "removed {}; rotated the data keys of {}{}",
            rep.removed,
            rep.scopes.join(", "),
            if rep.staged {
                "; the new key files and re-encrypted env files are staged: commit them now"
            } else {
                ""
            }
        ),
    );
    Ok(rep)
}

/// The members each scope key is wrapped for according to the verified,
/// signed manifest (not `recipients.toml`, which anyone with push access can
/// edit), and where the two disagree. A manifest that does not verify is an
/// error.
pub fn list(l: &Local) -> Result<TeamReport, Error> {
    let keys = Keyring::new(l.root, l.identity);
    let v = keys.trusted()?;
    let file = Recipients::load(l.root)?;
    let r = v.tip.to_recipients(&file.scopes);
    let rep = TeamReport {
        members: r
            .recipients
            .iter()
            .map(|x| Member {
                name: x.name.clone(),
                kind: x.kind.to_string(),
                key: x.key.clone(),
                scopes: x.scopes.clone(),
                verified: true,
            })
            .collect(),
        mismatches: crate::secrets::trust::recipients_mismatch(&file, &v.tip)
            .iter()
            .map(|d| format!(".arcane/recipients.toml: {d}"))
            .collect(),
        manifest_entry: Some(v.entries - 1),
        signed_by: Some(v.tip_signer.to_string()),
        error: None,
    };
    l.em.emit(Event::Team(rep.clone()));
    for d in &rep.mismatches {
        l.em.warn(d);
    }
    Ok(rep)
}

/// Your identity: where it is, its public keys and its signing fingerprint.
/// A passphrase-protected identity is not opened (that would prompt): its
/// public key is not known without the passphrase.
pub fn identity(l: &Local, open_protected: bool) -> Result<IdentityReport, Error> {
    let path = identity::identity_path(l.identity)?;
    let protected = std::fs::read_to_string(&path)
        .map(|t| t.contains("BEGIN AGE ENCRYPTED FILE"))
        .unwrap_or(false);
    let mut rep = IdentityReport {
        path: Some(path.display().to_string()),
        public_keys: vec![],
        fingerprint: None,
    };
    if protected && !open_protected {
        return Ok(rep);
    }
    let ids = Identities::load(l.identity)?;
    for id in &ids.list {
        rep.public_keys.push(id.public.clone());
        if rep.fingerprint.is_none() && id.sign_seed.is_some() {
            rep.fingerprint = crate::secrets::sign::verifying_key(&id.public)
                .map(|k| crate::secrets::sign::fingerprint(&k));
        }
    }
    Ok(rep)
}

/// A new machine keypair. Nothing is stored: the secret goes into the
/// machine's secret store (`ARCANE_MACHINE_KEY`), the public key to
/// `deploy allow`.
pub fn gen_key() -> KeyPair {
    let id = age::x25519::Identity::generate();
    KeyPair {
        public_key: id.to_public().to_string(),
        secret_key: id.to_string().expose_secret().to_string(),
    }
}
