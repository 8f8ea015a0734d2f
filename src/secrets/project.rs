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
use super::recipients::{normalize_key, Kind, Recipient, Recipients};
use super::trust::{self, ScopeState};
use super::{write_atomic, SecretsError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use super::team::{
    add_recipient, adopt, ensure_scope, release_digest_key, remove_recipient, RotationReport,
};

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
        refuse_plaintext_in_git(root, path)?;
    }
    decrypt_if_needed(&text, path, keys)
}

/// A tracked env file whose version in git is not encrypted carries values
/// nobody authenticated: committed from a clone without the filter, or
/// written by someone with push access and no key (no key file needed for
/// that). The working file may look the same either way, so the index
/// decides. Untracked files and directories outside git are left alone.
fn refuse_plaintext_in_git(root: &Path, path: &Path) -> Result<(), SecretsError> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let Some(blob) = gitcfg::index_blob(root, rel) else {
        return Ok(());
    };
    let shown = rel.display().to_string();
    match super::sealed::check_text(&shown, &String::from_utf8_lossy(&blob), "in git") {
        None => Ok(()),
        Some(f) => Err(SecretsError::Untrusted {
            file: rel.to_path_buf(),
            message: format!(
                "line {}: it is stored in git unencrypted ({}), so its values are not authenticated: \
                 committed from a clone without the arcane filter, or written by someone without a key. \
                 See who changed it: `git log -p -- {shown}`; after checking every value, \
                 `arcane setup && git add --renormalize {shown}` re-encrypts it",
                f.line, f.redacted
            ),
        }),
    }
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
