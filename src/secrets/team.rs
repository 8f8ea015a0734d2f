//! Who holds which scope: creating scopes, adding and removing members with
//! rotation, adopting old projects into the signed manifest. Every change
//! starts from the verified manifest (never from `recipients.toml` alone) and
//! ends by signing the new state into it (see [`super::trust`]).

use super::format::{decrypt_text, encrypt_text, DataKey, FileId};
use super::gitcfg;
use super::keys::{self, Keyring};
use super::project::{looks_encrypted, scope_files};
use super::recipients::{normalize_key, Kind, Recipient, Recipients, RECIPIENTS_FILE};
use super::trust::{self, ScopeState, Verified};
use super::{write_atomic, SecretsError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Make sure a scope has a data key; a new env gets one owned by the owners
/// (people holding every existing scope), who must include the caller.
pub fn ensure_scope(root: &Path, scope: &str, keys: &Keyring) -> Result<(), SecretsError> {
    let file = Recipients::load(root)?;
    if file.scopes.iter().any(|s| s == scope) && keys::key_file(root, scope).exists() {
        return Ok(());
    }
    let (v, mut r) = verified_recipients(root, keys)?;
    if v.tip.scopes.contains_key(scope) {
        // The signed manifest has this scope: its key file is missing, not
        // new. A fresh key would orphan every value encrypted under the old.
        return Err(SecretsError::input(format!(
            "the key file of scope {scope} ({}) is missing; restore it with `git checkout -- {}`",
            keys::key_file(root, scope).display(),
            super::keys::KEYS_DIR
        )));
    }
    let mine: Vec<String> = keys
        .identities()?
        .publics()
        .iter()
        .map(|k| normalize_key(k))
        .collect();
    let owners: Vec<String> = r.owners().iter().map(|o| o.name.clone()).collect();
    if !r
        .recipients
        .iter()
        .any(|x| owners.contains(&x.name) && mine.contains(&normalize_key(&x.key)))
    {
        return Err(SecretsError::input(format!(
            "scope {scope} does not exist yet and only an owner (someone with access to every scope) can create it"
        )));
    }
    if !r.scopes.iter().any(|s| s == scope) {
        r.scopes.push(scope.to_string());
    }
    for x in r.recipients.iter_mut() {
        if owners.contains(&x.name) && !x.scopes.iter().any(|s| s == scope) {
            x.scopes.push(scope.to_string());
        }
    }
    let k = DataKey::generate();
    keys::write_scope_key(root, &r, scope, &k)?;
    r.save(root)?;
    sign_state(
        root,
        &format!("new scope {scope}"),
        &r,
        &v,
        &[(scope.to_string(), k.clone())],
        keys,
    )?;
    keys.insert(scope, k);
    Ok(())
}

/// The verified key state as recipients. Refuses a checkout that is behind,
/// and a `recipients.toml` that was changed outside arcane: every re-wrap is
/// for the members the signed manifest names, never for a name someone
/// slipped into the file.
fn verified_recipients(
    root: &Path,
    keys: &Keyring,
) -> Result<(Rc<Verified>, Recipients), SecretsError> {
    let v = keys.trusted()?;
    if v.behind {
        keys.check_writable("base")?;
    }
    let file = Recipients::load(root)?;
    let diffs = trust::recipients_mismatch(&file, &v.tip);
    if !diffs.is_empty() {
        return Err(SecretsError::Untrusted {
            file: PathBuf::from(RECIPIENTS_FILE),
            message: format!(
                "it does not match the signed key manifest: {}. Restore it (`git checkout -- {RECIPIENTS_FILE}`) \
                 and see `arcane secrets verify`; `arcane team list` shows the verified members",
                diffs.join("; ")
            ),
        });
    }
    let r = v.tip.to_recipients(&file.scopes);
    Ok((v, r))
}

/// Append a manifest entry for the state now on disk: `r` as members, each
/// scope's key file hash, key ids from `new_keys` or the previous entry.
fn sign_state(
    root: &Path,
    op: &str,
    r: &Recipients,
    prev: &Verified,
    new_keys: &[(String, DataKey)],
    keys: &Keyring,
) -> Result<(), SecretsError> {
    let mut scopes = BTreeMap::new();
    for s in &r.scopes {
        let key_id = match new_keys.iter().find(|(n, _)| n == s) {
            Some((_, k)) => k.key_id(s),
            None => prev
                .tip
                .scopes
                .get(s)
                .map(|st| st.key_id.clone())
                .ok_or_else(|| SecretsError::Failed(format!("scope {s} has no key id")))?,
        };
        let file = trust::file_hash(&keys::key_file(root, s))?;
        scopes.insert(s.clone(), ScopeState { file, key_id });
    }
    trust::append(root, op, r.recipients.clone(), scopes, keys.identities()?)?;
    keys.refresh_trust();
    Ok(())
}

/// The release digest key of `env` (see `deploy::release::DigestKey`): from
/// the env's scope data key, after the same manifest check as any unwrap.
/// `Ok(None)` for a project without encrypted env files.
pub fn release_digest_key(
    root: &Path,
    env: &str,
    identity_flag: Option<&Path>,
) -> Result<Option<[u8; 32]>, SecretsError> {
    if !Recipients::exists(root) {
        return Ok(None);
    }
    let keys = Keyring::new(root, identity_flag);
    Ok(Some(keys.data_key(env)?.release_digest_key()))
}

/// `arcane secrets adopt`: start the signed manifest of a project made
/// before manifests existed, vouching for the key files as they are now. The
/// caller must open every scope (unwrapping proves each file holds a key for
/// its scope, not who made it: review `git log -p -- .arcane/` first).
pub fn adopt(root: &Path, keys: &Keyring) -> Result<Vec<String>, SecretsError> {
    if trust::manifest_path(root).exists() {
        return Err(SecretsError::input(format!(
            "{} already exists; `arcane secrets verify` checks it",
            trust::MANIFEST
        )));
    }
    let r = Recipients::load(root)?;
    let ids = keys.identities()?;
    let mut scopes = BTreeMap::new();
    for s in &r.scopes {
        let path = keys::key_file(root, s);
        let data = std::fs::read(&path)
            .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
        let k = keys::unwrap(&data, s, ids)?.ok_or_else(|| {
            SecretsError::input(format!(
                "you cannot open scope {s}; only someone who holds every scope can adopt the keys"
            ))
        })?;
        scopes.insert(
            s.clone(),
            ScopeState {
                file: trust::file_hash(&path)?,
                key_id: k.key_id(s),
            },
        );
    }
    trust::append(root, "adopt", r.recipients.clone(), scopes, ids)?;
    keys.refresh_trust();
    Ok(r.scopes)
}

/// Add or update a recipient and re-wrap the key of every scope they get.
/// The caller must be able to unwrap those scopes.
pub fn add_recipient(root: &Path, rec: Recipient, keys: &Keyring) -> Result<(), SecretsError> {
    let (v, mut r) = verified_recipients(root, keys)?;
    if r.find(&rec.name).is_some() {
        return Err(SecretsError::input(format!(
            "{} is already a recipient; remove it first or pick another name (`arcane team list`)",
            rec.name
        )));
    }
    if let Some(other) = r.recipients.iter().find(|x| x.key == rec.key) {
        return Err(SecretsError::input(format!(
            "that key already belongs to {}",
            other.name
        )));
    }
    for s in &rec.scopes {
        if !r.scopes.contains(s) {
            return Err(SecretsError::input(format!(
                "unknown scope {s}; scopes: {}",
                r.scopes.join(", ")
            )));
        }
    }
    // Unwrap first: fail before writing anything if we cannot.
    let dks = rec
        .scopes
        .iter()
        .map(|s| keys.data_key(s).map(|k| (s.clone(), k)))
        .collect::<Result<Vec<_>, _>>()?;
    let op = format!(
        "add {} ({}) to {}",
        rec.name,
        rec.kind,
        rec.scopes.join(",")
    );
    r.recipients.push(rec);
    for (s, k) in &dks {
        keys::write_scope_key(root, &r, s, k)?;
    }
    r.save(root)?;
    sign_state(root, &op, &r, &v, &[], keys)
}

/// What a removal did.
#[derive(Debug, Default)]
pub struct RotationReport {
    pub removed: String,
    pub scopes: Vec<String>,
    pub files: Vec<PathBuf>,
    /// Files and key material were staged with `git add`.
    pub staged: bool,
}

/// Remove a recipient, rotate the data key of every scope they had and
/// re-encrypt every env file in those scopes. Everything is computed before
/// anything is written.
pub fn remove_recipient(
    root: &Path,
    name: &str,
    kind: Kind,
    keys: &Keyring,
) -> Result<RotationReport, SecretsError> {
    let (v, mut r) = verified_recipients(root, keys)?;
    let Some(idx) = r.recipients.iter().position(|x| x.name == name) else {
        return Err(SecretsError::input(format!(
            "no recipient named {name} (`arcane team list` shows them)"
        )));
    };
    if r.recipients[idx].kind != kind {
        return Err(SecretsError::input(format!(
            "{name} is a {}; use `arcane {}`",
            r.recipients[idx].kind,
            if kind == Kind::Person {
                "deploy revoke"
            } else {
                "team remove"
            }
        )));
    }
    let gone = r.recipients.remove(idx);
    let scopes = gone.scopes.clone();
    // Plan: decrypt everything with the old keys, encrypt with new ones.
    let mut writes: Vec<(PathBuf, Vec<u8>, u32)> = vec![];
    let mut new_keys = vec![];
    let mut files = vec![];
    for s in &scopes {
        let old = keys.cipher(s)?;
        let newk = DataKey::generate();
        let newc = super::format::ScopeCipher::new(&newk);
        for f in scope_files(root, s) {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| SecretsError::io(format!("reading {}", f.display()), e))?;
            if looks_encrypted(&text) {
                let id = FileId::from_path(&f)?;
                let plain = decrypt_text(&old, &id, &text, &f)?;
                let enc = encrypt_text(&newc, &id, &plain, &f)?;
                writes.push((f.clone(), enc.into_bytes(), 0o644));
            }
            files.push(f);
        }
        let keys_of: Vec<String> = r.of_scope(s).map(|x| x.key.clone()).collect();
        writes.push((
            keys::key_file(root, s),
            keys::wrap(s, &newk, &keys_of)?,
            0o644,
        ));
        new_keys.push((s.clone(), newk));
    }
    for (p, d, m) in &writes {
        write_atomic(p, d, *m)?;
    }
    r.save(root)?;
    sign_state(
        root,
        &format!("remove {}, rotate {}", gone.name, scopes.join(",")),
        &r,
        &v,
        &new_keys,
        keys,
    )?;
    for (s, k) in new_keys {
        keys.forget(&s);
        keys.insert(&s, k);
    }
    let mut staged = false;
    if gitcfg::in_repo(root) {
        // Plaintext working files did not change on disk; renormalize makes
        // git run the clean filter again with the new key.
        let mut args: Vec<String> = vec!["add".into(), "--renormalize".into(), "--".into()];
        args.push(root.join(".arcane").display().to_string());
        args.extend(files.iter().map(|f| f.display().to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        gitcfg::git(root, &argv)?;
        staged = true;
    }
    Ok(RotationReport {
        removed: gone.name,
        scopes,
        files,
        staged,
    })
}
