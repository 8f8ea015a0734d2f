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
use super::trust::{self, ScopeState, Verified};
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
    /// The verified manifest, once per keyring (one git command, one check).
    trust: RefCell<Option<TrustResult>>,
}

/// A cached verification: the manifest, or the untrusted file and why.
type TrustResult = Result<Rc<Verified>, (PathBuf, String)>;

/// `.arcane/keys/<scope>.age`, as messages name it.
fn shown_key_file(scope: &str) -> PathBuf {
    Path::new(KEYS_DIR).join(format!("{scope}.age"))
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
            trust: RefCell::new(None),
        }
    }

    /// The project's verified key manifest (see [`trust`]), checked once and
    /// cached. The first use of a clone and a checkout that is behind what
    /// was verified before are said once on stderr.
    pub fn trusted(&self) -> Result<Rc<Verified>, SecretsError> {
        if let Some(r) = self.trust.borrow().as_ref() {
            return r
                .clone()
                .map_err(|(file, message)| SecretsError::Untrusted { file, message });
        }
        let res = trust::verify(&self.root).map(Rc::new);
        if let Ok(v) = &res {
            if v.first_use {
                eprintln!(
                    "arcane: first use of this clone's key manifest: trusting it as started by {} (fingerprint {}); compare that with their `arcane identity show`, or pin it with `arcane secrets trust FINGERPRINT`",
                    v.genesis_signer, v.genesis_fingerprint
                );
            }
            if v.behind {
                eprintln!(
                    "arcane: this checkout's key manifest is older than one you verified before (an old commit, or .arcane/ was rolled back); values are read, nothing is encrypted to it"
                );
            }
        }
        let cached = match res {
            Ok(v) => Ok(v),
            Err(SecretsError::Untrusted { file, message }) => Err((file, message)),
            Err(e) => return Err(e),
        };
        *self.trust.borrow_mut() = Some(cached);
        self.trusted()
    }

    /// Forget the cached verification (after this process appended an entry).
    pub fn refresh_trust(&self) {
        *self.trust.borrow_mut() = None;
    }

    /// The manifest's record of `scope`, after checking that the key file on
    /// disk is byte for byte the one it vouches for. Needs no identity.
    pub fn check_key_file(&self, scope: &str) -> Result<ScopeState, SecretsError> {
        let v = self.trusted()?;
        let shown = shown_key_file(scope);
        let Some(st) = v.tip.scopes.get(scope) else {
            return Err(SecretsError::Untrusted {
                file: shown,
                message: format!(
                    "scope {scope} is not in the signed key manifest: its key file was added outside arcane (a forged key?). See who changed it: `git log -p -- .arcane/`"
                ),
            });
        };
        let path = key_file(&self.root, scope);
        if !path.exists() {
            return Ok(st.clone());
        }
        if trust::file_hash(&path)? != st.file {
            return Err(SecretsError::Untrusted {
                file: shown.clone(),
                message: format!(
                    "this key file is not the one the signed key manifest vouches for: it was replaced or re-wrapped outside arcane (a forged key?). See who changed it: `git log -p -- {}`",
                    shown.display()
                ),
            });
        }
        Ok(st.clone())
    }

    /// [`Keyring::check_key_file`], and refuse a checkout that is behind:
    /// new values must never be encrypted to keys a removed member may hold.
    pub fn check_writable(&self, scope: &str) -> Result<(), SecretsError> {
        self.check_key_file(scope)?;
        if self.trusted()?.behind {
            return Err(SecretsError::Untrusted {
                file: PathBuf::from(trust::MANIFEST),
                message: "this checkout's key manifest is older than one you verified before; writing would encrypt to keys a removed member may hold. Check out the latest commit (`git pull`) first"
                    .into(),
            });
        }
        Ok(())
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
        let expected = self.check_key_file(scope)?;
        if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)) != expected.file {
            return Err(SecretsError::Untrusted {
                file: shown_key_file(scope),
                message: "this key file changed while it was being read".into(),
            });
        }
        let ids = self.identities()?;
        if ids.is_empty() {
            return Err(SecretsError::NoKey(format!(
                "no identity to decrypt scope {scope}: create one with `arcane identity new`, pass --identity, or set ARCANE_MACHINE_KEY"
            )));
        }
        match unwrap(&data, scope, ids)? {
            Some(k) if k.key_id(scope) != expected.key_id => Err(SecretsError::Untrusted {
                file: shown_key_file(scope),
                message: "the data key inside is not the one the signed key manifest names".into(),
            }),
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
