//! Project-level secrets operations: reading env files whatever their form,
//! setting values, scaffolding key material, and rotating scopes.
//!
//! An env file on disk is either plaintext (git filters configured: git keeps
//! the ciphertext) or ciphertext (a CI checkout, or a clone without filters).
//! Everything here reads both and writes back the form that was there.

use super::format::{decrypt_text, encrypt_text, DataKey, EnvDoc, FileId, Segment};
use super::gitcfg;
use super::identity::{self, Identities};
use super::keys::{self, Keyring};
use super::recipients::{normalize_key, Kind, Recipient, Recipients, RECIPIENTS_FILE};
use super::trust::{self, ScopeState, Verified};
use super::{write_atomic, SecretsError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The env files directory, relative to the project root.
pub const ENVS_DIR: &str = "config/envs";

/// `config/envs/<layer>.env`.
pub fn env_file_path(root: &Path, layer: &str) -> PathBuf {
    root.join(ENVS_DIR).join(format!("{layer}.env"))
}

/// Read an env file and return its plaintext, decrypting if the file on disk
/// is ciphertext. Plaintext files are returned as they are, without touching
/// any key (so no passphrase prompt).
pub fn read_env_file(root: &Path, path: &Path, keys: &Keyring) -> Result<String, SecretsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SecretsError::io(format!("reading {}", path.display()), e))?;
    // Plaintext too: values are only used while the scope's key file is the
    // one the signed manifest vouches for (no identity needed to check).
    if Recipients::exists(root) {
        keys.check_key_file(&FileId::from_path(path)?.scope)?;
    }
    decrypt_if_needed(&text, path, keys)
}

/// Decrypt env file text if it carries ciphertext.
pub fn decrypt_if_needed(text: &str, path: &Path, keys: &Keyring) -> Result<String, SecretsError> {
    if !looks_encrypted(text) {
        return Ok(text.to_string());
    }
    let id = FileId::from_path(path)?;
    let c = match keys.cipher(&id.scope) {
        Ok(c) => c,
        Err(SecretsError::NoKey(reason)) => {
            // Point at the first encrypted value, never at its ciphertext.
            let (key, line) = EnvDoc::parse(text, path)
                .ok()
                .and_then(|d| {
                    d.entries()
                        .find(|(_, v, _)| v.starts_with(super::format::VALUE_PREFIX))
                        .map(|(k, _, l)| (k.to_string(), l))
                })
                .unwrap_or_else(|| ("the file".to_string(), 1));
            return Err(SecretsError::Locked {
                file: path.to_path_buf(),
                line,
                key,
                reason,
            });
        }
        Err(e) => return Err(e),
    };
    decrypt_text(&c, &id, text, path)
}

/// Cheap check without parsing (plaintext files may use syntax only the
/// config parser knows).
pub fn looks_encrypted(text: &str) -> bool {
    text.contains(super::format::MAC_PREFIX) || text.contains(super::format::VALUE_PREFIX)
}

/// A reader for the layered config (`config::layers::merged`): plaintext or
/// an error located in the file.
pub fn reader(keys: &Keyring) -> impl Fn(&Path) -> Result<String, crate::config::ConfigError> + '_ {
    move |p: &Path| read_env_file(keys.root(), p, keys).map_err(|e| e.into_config_error(p))
}

/// A boxed env file reader, as `config::merged` takes it.
pub type EnvReader = Box<dyn Fn(&Path) -> Result<String, crate::config::ConfigError>>;

/// The same reader, owning its keyring: for `config::merged` callers that
/// want a `Box<dyn Fn>` (env show, run, the deploy engine).
pub fn boxed_reader(root: &Path, identity_flag: Option<&Path>) -> EnvReader {
    let keys = Keyring::new(root, identity_flag);
    Box::new(move |p: &Path| {
        read_env_file(keys.root(), p, &keys).map_err(|e| e.into_config_error(p))
    })
}

/// All env files of the project (sorted).
pub fn env_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(ENVS_DIR))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "env") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The env files in one scope.
pub fn scope_files(root: &Path, scope: &str) -> Vec<PathBuf> {
    env_files(root)
        .into_iter()
        .filter(|p| FileId::from_path(p).is_ok_and(|f| f.scope == scope))
        .collect()
}

/// Env var names: what a shell and docker accept.
pub fn valid_key(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f == '_' || f.is_ascii_alphabetic())
        && c.all(|x| x == '_' || x.is_ascii_alphanumeric())
}

/// Quoting is the config parser's, so what we write is what it reads.
pub use crate::config::envfile::quote_value;

/// Which form to write an env file in: plaintext only when the git filters
/// are configured and the file is plaintext (or new); ciphertext otherwise,
/// so nothing unencrypted can reach git by accident.
fn write_plaintext(root: &Path, existing: Option<&str>) -> bool {
    let plain_now = existing.is_none_or(|t| !looks_encrypted(t));
    plain_now && gitcfg::filters_configured(root)
}

/// Write an env file from its plaintext, in the form chosen by [`write_plaintext`].
pub fn write_env_file(
    root: &Path,
    path: &Path,
    plaintext: &str,
    existing: Option<&str>,
    keys: &Keyring,
) -> Result<(), SecretsError> {
    let id = FileId::from_path(path)?;
    // Re-checked before every write, plaintext or not: a value set now must
    // never end up encrypted to a key the signed manifest does not vouch for.
    keys.check_writable(&id.scope)?;
    EnvDoc::parse(plaintext, path)?;
    // What we write must also be what the config layer reads.
    crate::config::envfile::parse(plaintext, path).map_err(|e| SecretsError::Parse {
        file: e.file.clone(),
        line: e.line.unwrap_or(0),
        message: e.message.clone(),
    })?;
    let data = if write_plaintext(root, existing) {
        plaintext.to_string()
    } else {
        let c = keys.cipher(&id.scope)?;
        encrypt_text(&c, &id, plaintext, path)?
    };
    write_atomic(path, data.as_bytes(), 0o600)
}

/// `env set`: replace the first `KEY=` line (other duplicates are removed) or append.
pub fn set_value(
    root: &Path,
    layer: &str,
    key: &str,
    value: &str,
    keys: &Keyring,
) -> Result<PathBuf, SecretsError> {
    if !valid_key(key) {
        return Err(SecretsError::input(format!(
            "{key:?} is not a valid env key (letters, digits and _, not starting with a digit)"
        )));
    }
    let path = env_file_path(root, layer);
    let id = FileId::from_path(&path)?;
    ensure_scope(root, &id.scope, keys)?;
    let existing = std::fs::read_to_string(&path).ok();
    let plain = match &existing {
        Some(t) => decrypt_if_needed(t, &path, keys)?,
        None => String::new(),
    };
    let mut doc = EnvDoc::parse(&plain, &path)?;
    let quoted = quote_value(value);
    let mut found = false;
    doc.segments.retain_mut(|s| match s {
        Segment::Entry {
            key: k, value: v, ..
        } if k == key => {
            if found {
                false
            } else {
                found = true;
                *v = quoted.clone();
                true
            }
        }
        _ => true,
    });
    let mut text = render_plain(&doc);
    if !found {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{key}={quoted}\n"));
    }
    write_env_file(root, &path, &text, existing.as_deref(), keys)?;
    Ok(path)
}

/// `env unset`: remove every `KEY=` line. Returns whether it was there.
pub fn unset_value(
    root: &Path,
    layer: &str,
    key: &str,
    keys: &Keyring,
) -> Result<bool, SecretsError> {
    let path = env_file_path(root, layer);
    let Ok(existing) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let plain = decrypt_if_needed(&existing, &path, keys)?;
    let mut doc = EnvDoc::parse(&plain, &path)?;
    let before = doc.segments.len();
    doc.segments
        .retain(|s| !matches!(s, Segment::Entry { key: k, .. } if k == key));
    if doc.segments.len() == before {
        return Ok(false);
    }
    write_env_file(root, &path, &render_plain(&doc), Some(&existing), keys)?;
    Ok(true)
}

fn render_plain(doc: &EnvDoc) -> String {
    let mut out = String::new();
    for s in &doc.segments {
        match s {
            Segment::Verbatim(t) => out.push_str(t),
            Segment::Entry {
                prefix, value, eol, ..
            } => {
                out.push_str(prefix);
                out.push_str(value);
                out.push_str(eol);
            }
            Segment::Mac { .. } => {}
        }
    }
    out
}

/// Make sure a scope has a data key; a new env gets one owned by the owners
/// (people holding every existing scope), who must include the caller.
pub fn ensure_scope(root: &Path, scope: &str, keys: &Keyring) -> Result<(), SecretsError> {
    let file = Recipients::load(root)?;
    if file.scopes.iter().any(|s| s == scope) && keys::key_file(root, scope).exists() {
        return Ok(());
    }
    let (v, mut r) = verified_recipients(root, keys)?;
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

/// What `init_secrets` did, for the CLI to report.
#[derive(Debug, Default)]
pub struct InitReport {
    /// A new identity was created at this path.
    pub created_identity: Option<PathBuf>,
    pub public_key: String,
    /// Key material was created (false: it already existed).
    pub created_keys: bool,
    pub scopes: Vec<String>,
    /// Filters configured (false: not a git repository).
    pub git_configured: bool,
    pub hook: Option<PathBuf>,
}

/// Scaffold `.arcane/` for a project: create an identity if the user has none
/// (a user running `init` expects to end up able to encrypt), the recipients
/// file with that identity owning every scope, one data key per scope, and the
/// git filters. Idempotent: existing key material is kept.
pub fn init_secrets(
    root: &Path,
    envs: &[String],
    identity_flag: Option<&Path>,
    owner_name: &str,
) -> Result<InitReport, SecretsError> {
    let mut rep = InitReport::default();
    let mut ids = Identities::load(identity_flag)?;
    if ids.is_empty() {
        let path = identity::identity_path(identity_flag)?;
        let (text, _) = identity::generate();
        identity::save(
            &path,
            age::secrecy::ExposeSecret::expose_secret(&text).as_bytes(),
            false,
        )?;
        rep.created_identity = Some(path);
        ids = Identities::load(identity_flag)?;
    }
    let me = ids.list.first().expect("just loaded").public.clone();
    rep.public_key = me.clone();
    let keys = Keyring::with_identities(root, ids);
    let mut scopes = vec!["base".to_string()];
    scopes.extend(envs.iter().filter(|e| *e != "base").cloned());
    if !Recipients::exists(root) {
        let r = Recipients {
            version: 1,
            scopes: scopes.clone(),
            recipients: vec![Recipient {
                name: owner_name.to_string(),
                kind: Kind::Person,
                key: normalize_key(&me),
                scopes: scopes.clone(),
            }],
        };
        let mut states = BTreeMap::new();
        for s in &scopes {
            let k = DataKey::generate();
            keys::write_scope_key(root, &r, s, &k)?;
            states.insert(
                s.clone(),
                ScopeState {
                    file: trust::file_hash(&keys::key_file(root, s))?,
                    key_id: k.key_id(s),
                },
            );
            keys.insert(s, k);
        }
        r.save(root)?;
        // The first entry of the signed manifest: this owner vouches for
        // every key file just made.
        trust::append(
            root,
            "init",
            r.recipients.clone(),
            states,
            keys.identities()?,
        )?;
        rep.created_keys = true;
    } else {
        for s in &scopes {
            ensure_scope(root, s, &keys)?;
        }
    }
    rep.scopes = Recipients::load(root)?.scopes;
    write_scan_allow_template(root)?;
    let (configured, hook) = setup_git(root, &keys)?;
    rep.git_configured = configured;
    rep.hook = hook;
    Ok(rep)
}

const SCAN_ALLOW: &str = ".arcane/scan-allow.toml";

fn write_scan_allow_template(root: &Path) -> Result<(), SecretsError> {
    let p = root.join(SCAN_ALLOW);
    if p.exists() {
        return Ok(());
    }
    let text = "# Findings `arcane scan` and the pre-commit hook should ignore.\n\
# paths: globs relative to the project root (`*` within a name, `**` across dirs).\n\
# fingerprints: the `fp` shown next to a finding (a hash; the secret is never stored here).\n\
# rules: rule ids to switch off entirely.\n\
# A line containing `arcane:allow` is always ignored.\n\
paths = []\nfingerprints = []\nrules = []\n";
    write_atomic(&p, text.as_bytes(), 0o644)
}

/// `arcane setup`: attributes, filter config, hook; then turn ciphertext
/// working files we can decrypt into plaintext (git sees no change: clean of
/// the plaintext gives the same bytes). Returns (configured, hook path).
pub fn setup_git(root: &Path, keys: &Keyring) -> Result<(bool, Option<PathBuf>), SecretsError> {
    gitcfg::write_gitattributes(root)?;
    if !gitcfg::in_repo(root) {
        return Ok((false, None));
    }
    let exe = gitcfg::current_exe()?;
    gitcfg::configure_filters(root, &exe)?;
    let hook = match gitcfg::install_hook(root, &exe) {
        Ok(p) => Some(p),
        Err(SecretsError::Input(_)) => None,
        Err(e) => return Err(e),
    };
    for f in env_files(root) {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        if looks_encrypted(&text) {
            if let Ok(plain) = decrypt_if_needed(&text, &f, keys) {
                write_atomic(&f, plain.as_bytes(), 0o600)?;
            }
        }
    }
    Ok((true, hook))
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
