//! Scopes and their data keys.
//!
//! Each scope (`base`, and one per env) has a random 32-byte data key, wrapped
//! with age for exactly that scope's recipients in `.arcane/keys/<scope>.age`
//! (ASCII-armored, so `age -d -i identity.txt .arcane/keys/staging.age` works
//! with the stock CLI). Per-scope keys mean a staging-only teammate never
//! holds the production key, and a revocation only rotates what the revoked
//! party could read.

use super::format::{DataKey, ScopeCipher};
use super::identity::Identities;
use super::recipients::{parse_recipient, Recipients};
use super::{write_atomic, SecretsError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub const KEYS_DIR: &str = ".arcane/keys";
const KEY_MAGIC: &str = "arcane-data-key v1";

pub fn key_file(root: &Path, scope: &str) -> PathBuf {
    root.join(KEYS_DIR).join(format!("{scope}.age"))
}

/// Wrap a scope's data key for `recipients` (age, armored).
pub fn wrap(scope: &str, key: &DataKey, recipients: &[String]) -> Result<Vec<u8>, SecretsError> {
    if recipients.is_empty() {
        return Err(SecretsError::input(format!(
            "scope {scope} would have no recipients left; nobody could decrypt it"
        )));
    }
    let parsed = recipients
        .iter()
        .map(|k| parse_recipient(k).map_err(SecretsError::input))
        .collect::<Result<Vec<_>, _>>()?;
    let enc =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| SecretsError::Failed(format!("wrapping the {scope} key: {e}")))?;
    let mut out = vec![];
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| SecretsError::Failed(e.to_string()))?;
    let mut w = enc
        .wrap_output(armored)
        .map_err(|e| SecretsError::Failed(e.to_string()))?;
    let mut body = format!("{KEY_MAGIC} {scope} {}\n", STANDARD.encode(key.0));
    let res = w
        .write_all(body.as_bytes())
        .and_then(|_| w.finish())
        .and_then(|a| a.finish());
    zeroize::Zeroize::zeroize(&mut body);
    res.map_err(|e| SecretsError::Failed(format!("wrapping the {scope} key: {e}")))?;
    Ok(out)
}

/// Unwrap a key file. `Ok(None)`: none of our identities is a recipient.
pub fn unwrap(data: &[u8], scope: &str, ids: &Identities) -> Result<Option<DataKey>, SecretsError> {
    let dec = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data)).map_err(|e| {
        SecretsError::Failed(format!(
            "{KEYS_DIR}/{scope}.age is not a valid age file: {e}"
        ))
    })?;
    let mut r = match dec.decrypt(ids.as_age()) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(SecretsError::Failed(format!("{KEYS_DIR}/{scope}.age: {e}"))),
    };
    let mut body = String::new();
    r.read_to_string(&mut body)
        .map_err(|e| SecretsError::io(format!("decrypting {KEYS_DIR}/{scope}.age"), e))?;
    let parsed = (|| {
        let rest = body.trim_end().strip_prefix(KEY_MAGIC)?.trim_start();
        let (s, b64) = rest.split_once(' ')?;
        let raw = STANDARD.decode(b64).ok()?;
        let arr: [u8; 32] = raw.as_slice().try_into().ok()?;
        Some((s.to_string(), DataKey(arr)))
    })();
    zeroize::Zeroize::zeroize(&mut body);
    match parsed {
        Some((s, k)) if s == scope => Ok(Some(k)),
        Some((s, _)) => Err(SecretsError::Failed(format!(
            "{KEYS_DIR}/{scope}.age holds the key of scope {s}: key files were swapped or renamed"
        ))),
        None => Err(SecretsError::Failed(format!(
            "{KEYS_DIR}/{scope}.age does not hold an arcane data key"
        ))),
    }
}

/// Write the key file of `scope` for the recipients listed in `recips`.
pub fn write_scope_key(
    root: &Path,
    recips: &Recipients,
    scope: &str,
    key: &DataKey,
) -> Result<(), SecretsError> {
    let keys: Vec<String> = recips.of_scope(scope).map(|r| r.key.clone()).collect();
    let data = wrap(scope, key, &keys)?;
    write_atomic(&key_file(root, scope), &data, 0o644)
}

/// The data keys this process can use, unwrapped lazily (once per scope per
/// process: one git command runs one filter process, so one passphrase prompt).
pub struct Keyring {
    root: PathBuf,
    identity_flag: Option<PathBuf>,
    ids: OnceCell<Result<Identities, String>>,
    keys: RefCell<HashMap<String, Rc<ScopeCipher>>>,
    raw: RefCell<HashMap<String, DataKey>>,
}

impl Keyring {
    /// `identity_flag`: `--identity`/`ARCANE_IDENTITY`; machine keys come from env.
    pub fn new(root: &Path, identity_flag: Option<&Path>) -> Keyring {
        Keyring {
            root: root.to_path_buf(),
            identity_flag: identity_flag.map(Path::to_path_buf),
            ids: OnceCell::new(),
            keys: RefCell::new(HashMap::new()),
            raw: RefCell::new(HashMap::new()),
        }
    }

    /// A keyring with identities already loaded.
    pub fn with_identities(root: &Path, ids: Identities) -> Keyring {
        let k = Keyring::new(root, None);
        let _ = k.ids.set(Ok(ids));
        k
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Load identities on first use (this may prompt for a passphrase).
    pub fn identities(&self) -> Result<&Identities, SecretsError> {
        self.ids
            .get_or_init(|| {
                Identities::load(self.identity_flag.as_deref()).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| SecretsError::NoKey(e.clone()))
    }

    /// The scope's data key.
    pub fn data_key(&self, scope: &str) -> Result<DataKey, SecretsError> {
        if let Some(k) = self.raw.borrow().get(scope) {
            return Ok(k.clone());
        }
        let path = key_file(&self.root, scope);
        let data = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SecretsError::NoKey(format!(
                    "scope {scope} has no key file ({}); run `arcane init` or create the env with `arcane env set KEY VALUE --env {scope}`",
                    path.display()
                ))
            } else {
                SecretsError::io(format!("reading {}", path.display()), e)
            }
        })?;
        let ids = self.identities()?;
        if ids.is_empty() {
            return Err(SecretsError::NoKey(format!(
                "no identity to decrypt scope {scope}: create one with `arcane identity new`, pass --identity, or set ARCANE_MACHINE_KEY"
            )));
        }
        match unwrap(&data, scope, ids)? {
            Some(k) => {
                self.raw.borrow_mut().insert(scope.to_string(), k.clone());
                Ok(k)
            }
            None => Err(SecretsError::NoKey(format!(
                "you cannot decrypt scope {scope}: {} is not a recipient of {}; ask a teammate who can to run `arcane team add NAME {} --scopes {scope}`",
                ids.publics().join(", "),
                path.display(),
                ids.publics().first().cloned().unwrap_or_default()
            ))),
        }
    }

    /// The cipher of a scope (derived keys), cached.
    pub fn cipher(&self, scope: &str) -> Result<Rc<ScopeCipher>, SecretsError> {
        if let Some(c) = self.keys.borrow().get(scope) {
            return Ok(c.clone());
        }
        let k = self.data_key(scope)?;
        let c = Rc::new(ScopeCipher::new(&k));
        self.keys.borrow_mut().insert(scope.to_string(), c.clone());
        Ok(c)
    }

    /// Forget a scope's cached key (after rotation).
    pub fn forget(&self, scope: &str) {
        self.keys.borrow_mut().remove(scope);
        self.raw.borrow_mut().remove(scope);
    }

    /// Install a key directly (new scope or rotation).
    pub fn insert(&self, scope: &str, key: DataKey) {
        self.keys
            .borrow_mut()
            .insert(scope.to_string(), Rc::new(ScopeCipher::new(&key)));
        self.raw.borrow_mut().insert(scope.to_string(), key);
    }
}
