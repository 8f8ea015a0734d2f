//! The committed env file format: one value encrypted at a time.
//!
//! Key names, comments, blank lines and order stay visible, so `git diff`
//! shows *which* key changed without showing the value. Encryption is
//! deterministic (AES-256-GCM-SIV with a nonce derived from the plaintext by
//! HMAC), so re-encrypting an unchanged file gives identical bytes and
//! `git status` stays clean. Each value is bound by AAD to the format version,
//! the scope, the file (layer) and the key name: a value pasted under another
//! key or into another env file does not decrypt, and the error names the key.
//! A file-level MAC line over the ordered key names and ciphertexts catches
//! deleted, added or re-ordered lines. See `docs/secrets.md`.

use super::SecretsError;
use aes_gcm_siv::aead::{Aead, KeyInit, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Prefix of every encrypted value.
pub const VALUE_PREFIX: &str = "arcane:v1:";
/// Prefix of the file MAC line (a comment, so other dotenv readers skip it).
pub const MAC_PREFIX: &str = "# arcane:mac:v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A scope's 32-byte data key. Zeroed on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey(pub [u8; 32]);

impl DataKey {
    pub fn generate() -> DataKey {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        DataKey(k)
    }

    /// A public identifier of this key for `scope`: a MAC under a key derived
    /// from it, so the signed manifest can name the key without revealing it
    /// and a reader who unwraps a key file can check it is the signed one.
    pub fn key_id(&self, scope: &str) -> String {
        let mut k = self.derive(b"arcane v1 key id");
        let mut m = <HmacSha256 as Mac>::new_from_slice(&k).expect("any key length");
        k.zeroize();
        m.update(b"arcane key-id v1\0");
        m.update(scope.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    }

    /// The key that makes release digests (see `deploy::release`): derived
    /// from the scope key, so a digest cannot be checked without it.
    pub fn release_digest_key(&self) -> [u8; 32] {
        self.derive(b"arcane v1 release digest")
    }

    fn derive(&self, info: &[u8]) -> [u8; 32] {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"arcane"), &self.0);
        let mut out = [0u8; 32];
        hk.expand(info, &mut out)
            .expect("32 bytes is a valid HKDF length");
        out
    }
}

/// Which file a value belongs to: the scope whose key encrypts it and the
/// layer (file stem) it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    /// `base`, or the env name.
    pub scope: String,
    /// The file name without `.env`: `base`, `staging`, `staging.web1`.
    pub layer: String,
}

impl FileId {
    /// `base.env`→base, `<env>.env`→env, `<env>.<server>.env`→env.
    pub fn from_path(path: &Path) -> Result<FileId, SecretsError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stem = name.strip_suffix(".env").ok_or_else(|| {
            SecretsError::input(format!(
                "{}: env files must be named <env>.env or <env>.<server>.env",
                path.display()
            ))
        })?;
        let scope = stem.split('.').next().unwrap_or("");
        if !crate::config::is_valid_name(scope) {
            return Err(SecretsError::input(format!(
                "{}: {scope:?} is not a valid env name",
                path.display()
            )));
        }
        Ok(FileId {
            scope: scope.to_string(),
            layer: stem.to_string(),
        })
    }
}

/// The per-scope keys derived from a data key.
pub struct ScopeCipher {
    aead: Aes256GcmSiv,
    nonce_key: [u8; 32],
    mac_key: [u8; 32],
}

impl Drop for ScopeCipher {
    fn drop(&mut self) {
        self.nonce_key.zeroize();
        self.mac_key.zeroize();
    }
}

impl ScopeCipher {
    pub fn new(key: &DataKey) -> ScopeCipher {
        let mut enc = key.derive(b"arcane v1 value encryption");
        let aead = Aes256GcmSiv::new_from_slice(&enc).expect("32-byte key");
        enc.zeroize();
        ScopeCipher {
            aead,
            nonce_key: key.derive(b"arcane v1 synthetic nonce"),
            mac_key: key.derive(b"arcane v1 file mac"),
        }
    }

    /// Encrypt one value. Same inputs, same output.
    pub fn encrypt_value(&self, id: &FileId, key: &str, plain: &str) -> String {
        let aad = aad(id, key);
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.nonce_key).expect("any key length");
        m.update(&(aad.len() as u64).to_be_bytes());
        m.update(&aad);
        m.update(plain.as_bytes());
        let tag = m.finalize().into_bytes();
        let nonce = Nonce::from_slice(&tag[..NONCE_LEN]);
        let ct = self
            .aead
            .encrypt(
                nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM-SIV encryption of an in-memory value cannot fail");
        let mut raw = Vec::with_capacity(NONCE_LEN + ct.len());
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&ct);
        format!("{VALUE_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Decrypt one value; `None` when it is malformed, tampered or bound to
    /// another key, file or scope (callers name the key in the message).
    pub fn decrypt_value(&self, id: &FileId, key: &str, enc: &str) -> Option<String> {
        let raw = decode_value(enc)?;
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let aad = aad(id, key);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// The file MAC over the ordered key names and ciphertexts.
    pub fn file_mac<'a>(
        &self,
        id: &FileId,
        entries: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> String {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        m.update(b"arcane:mac:v1\0");
        m.update(id.scope.as_bytes());
        m.update(b"\0");
        m.update(id.layer.as_bytes());
        m.update(b"\0");
        for (k, v) in entries {
            m.update(k.as_bytes());
            m.update(b"\0");
            m.update(v.as_bytes());
            m.update(b"\n");
        }
        URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }

    /// A short keyed fingerprint of a plaintext value, for masked diffs: it
    /// changes when the value changes but reveals nothing without the key.
    pub fn fingerprint(&self, id: &FileId, key: &str, plain: &str) -> String {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        m.update(b"arcane:fingerprint\0");
        m.update(&aad(id, key));
        m.update(plain.as_bytes());
        hex::encode(&m.finalize().into_bytes()[..4])
    }
}

fn aad(id: &FileId, key: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + id.scope.len() + id.layer.len() + key.len());
    a.extend_from_slice(b"arcane:v1\0");
    a.extend_from_slice(id.scope.as_bytes());
    a.push(0);
    a.extend_from_slice(id.layer.as_bytes());
    a.push(0);
    a.extend_from_slice(key.as_bytes());
    a
}

/// Decode the `arcane:v1:<base64url>` wrapper into nonce||ciphertext, checking
/// only the shape. Total: never panics on any input (fuzzed).
pub fn decode_value(enc: &str) -> Option<Vec<u8>> {
    let b64 = enc.strip_prefix(VALUE_PREFIX)?;
    let raw = URL_SAFE_NO_PAD.decode(b64.trim_end()).ok()?;
    if raw.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    Some(raw)
}

/// One piece of an env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Blank lines and comments, kept byte for byte (with their line ending).
    Verbatim(String),
    /// `[export ]KEY=VALUE`. `value` is the raw right-hand side exactly as
    /// written (quotes, inline comment, trailing spaces), possibly spanning
    /// lines for a quoted multi-line value. It is what gets encrypted, so
    /// decrypting gives back the file byte for byte.
    Entry {
        /// Everything up to and including `=`.
        prefix: String,
        key: String,
        value: String,
        /// The line ending after the value ("\n", "\r\n" or "" at EOF).
        eol: String,
        /// 1-based line number of the key.
        line: usize,
    },
    /// The `# arcane:mac:v1:...` line (its payload).
    Mac { mac: String, line: usize },
}

/// A parsed env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDoc {
    pub segments: Vec<Segment>,
}

impl EnvDoc {
    /// Parse env file text with the one env parser (`config::envfile`), so
    /// what the filter encrypts is exactly what `env show` and the deploy
    /// read. A line that is neither blank, a comment nor an assignment is an
    /// error naming the line: committing it would leak whatever it holds.
    pub fn parse(text: &str, path: &Path) -> Result<EnvDoc, SecretsError> {
        let entries =
            crate::config::envfile::parse(text, path).map_err(|e| SecretsError::Parse {
                file: path.to_path_buf(),
                line: e.line.unwrap_or(1),
                message: match &e.help {
                    Some(h) => format!("{} ({h})", e.message),
                    None => e.message.clone(),
                },
            })?;
        let mut segments = vec![];
        let mut pos = 0;
        let mut lineno = 1;
        let gap = |segments: &mut Vec<Segment>, chunk: &str, lineno: &mut usize| {
            for l in chunk.split_inclusive('\n') {
                match l.strip_prefix(MAC_PREFIX) {
                    Some(mac) => segments.push(Segment::Mac {
                        mac: mac.trim().to_string(),
                        line: *lineno,
                    }),
                    None => segments.push(Segment::Verbatim(l.to_string())),
                }
                *lineno += 1;
            }
        };
        for e in entries {
            gap(&mut segments, &text[pos..e.line_start], &mut lineno);
            segments.push(Segment::Entry {
                prefix: text[e.line_start..e.raw.start].to_string(),
                key: e.key,
                value: text[e.raw.clone()].to_string(),
                eol: text[e.raw.end..e.end].to_string(),
                line: lineno,
            });
            lineno += text[e.line_start..e.end].matches('\n').count();
            pos = e.end;
        }
        gap(&mut segments, &text[pos..], &mut lineno);
        Ok(EnvDoc { segments })
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Entry {
                key, value, line, ..
            } => Some((key.as_str(), value.as_str(), *line)),
            _ => None,
        })
    }

    pub fn mac(&self) -> Option<&str> {
        self.segments.iter().find_map(|s| match s {
            Segment::Mac { mac, .. } => Some(mac.as_str()),
            _ => None,
        })
    }

    /// Does the file carry arcane ciphertext (a MAC line or an encrypted value)?
    pub fn is_encrypted(&self) -> bool {
        self.mac().is_some() || self.entries().any(|(_, v, _)| v.starts_with(VALUE_PREFIX))
    }

    /// Every value encrypted and a MAC line present: what git must store.
    pub fn is_fully_encrypted(&self) -> bool {
        self.mac().is_some() && self.entries().all(|(_, v, _)| v.starts_with(VALUE_PREFIX))
    }

    /// Keys whose value is still plaintext.
    pub fn plaintext_keys(&self) -> Vec<(&str, usize)> {
        self.entries()
            .filter(|(_, v, _)| !v.starts_with(VALUE_PREFIX))
            .map(|(k, _, l)| (k, l))
            .collect()
    }

    fn render(&self, mac: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(m) = mac {
            out.push_str(MAC_PREFIX);
            out.push_str(m);
            out.push('\n');
        }
        for s in &self.segments {
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
}

/// Encrypt env file text. Values already encrypted are kept (they are checked
/// to decrypt under this key, file and name); the MAC line is recomputed.
pub fn encrypt_text(
    cipher: &ScopeCipher,
    id: &FileId,
    text: &str,
    path: &Path,
) -> Result<String, SecretsError> {
    let mut doc = EnvDoc::parse(text, path)?;
    for s in doc.segments.iter_mut() {
        if let Segment::Entry {
            key, value, line, ..
        } = s
        {
            if value.starts_with(VALUE_PREFIX) {
                if cipher.decrypt_value(id, key, value).is_none() {
                    return Err(SecretsError::bad_value(path, *line, key));
                }
            } else {
                let enc = cipher.encrypt_value(id, key, value);
                value.zeroize();
                *value = enc;
            }
        }
    }
    let mac = cipher.file_mac(id, doc.entries().map(|(k, v, _)| (k, v)));
    Ok(doc.render(Some(&mac)))
}

/// Decrypt env file text (plaintext text passes through unchanged). Checks
/// every value first, so a tampered or moved value is reported by key name,
/// then the file MAC.
pub fn decrypt_text(
    cipher: &ScopeCipher,
    id: &FileId,
    text: &str,
    path: &Path,
) -> Result<String, SecretsError> {
    let mut doc = EnvDoc::parse(text, path)?;
    if !doc.is_encrypted() {
        return Ok(text.to_string());
    }
    let expected = cipher.file_mac(id, doc.entries().map(|(k, v, _)| (k, v)));
    for s in doc.segments.iter_mut() {
        if let Segment::Entry {
            key, value, line, ..
        } = s
        {
            if !value.starts_with(VALUE_PREFIX) {
                return Err(SecretsError::Parse {
                    file: path.to_path_buf(),
                    line: *line,
                    message: format!(
                        "{key} is plaintext inside an encrypted file; set it with `arcane env set {key} - --env {}`",
                        id.layer
                    ),
                });
            }
            match cipher.decrypt_value(id, key, value) {
                Some(p) => *value = p,
                None => return Err(SecretsError::bad_value(path, *line, key)),
            }
        }
    }
    match doc.mac() {
        Some(m) if constant_time_eq(m.as_bytes(), expected.as_bytes()) => {}
        Some(_) => {
            return Err(SecretsError::Mac {
                file: path.to_path_buf(),
                message: "the file MAC does not match: lines were deleted, added or re-ordered outside arcane".into(),
            })
        }
        None => {
            return Err(SecretsError::Mac {
                file: path.to_path_buf(),
                message: "the `# arcane:mac:v1:` line is missing (deleted or truncated file)".into(),
            })
        }
    }
    Ok(doc.render(None))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(scope: &str, layer: &str) -> FileId {
        FileId {
            scope: scope.into(),
            layer: layer.into(),
        }
    }

    const SAMPLE: &str = "# database\nDATABASE_URL=postgres://u:p@db/app\n\nexport API_KEY = \"abc def\" # inline\nEMPTY=\nMULTI=\"line1\nline2\"\r\nLAST=x";

    #[test]
    fn roundtrip_is_exact_and_deterministic() {
        let c = ScopeCipher::new(&DataKey([7; 32]));
        let p = Path::new("config/envs/staging.env");
        let e1 = encrypt_text(&c, &id("staging", "staging"), SAMPLE, p).unwrap();
        let e2 = encrypt_text(&c, &id("staging", "staging"), SAMPLE, p).unwrap();
        assert_eq!(e1, e2);
        assert!(!e1.contains("postgres") && !e1.contains("abc def") && !e1.contains("line2"));
        assert!(e1.starts_with(MAC_PREFIX));
        assert!(e1.contains("# database\nDATABASE_URL=arcane:v1:"));
        assert!(e1.contains("export API_KEY = arcane:v1:"));
        // Re-cleaning ciphertext is a no-op.
        assert_eq!(
            encrypt_text(&c, &id("staging", "staging"), &e1, p).unwrap(),
            e1
        );
        let d = decrypt_text(&c, &id("staging", "staging"), &e1, p).unwrap();
        assert_eq!(d, SAMPLE);
    }

    #[test]
    fn moved_values_fail_naming_the_key() {
        let c = ScopeCipher::new(&DataKey([1; 32]));
        let p = Path::new("staging.env");
        let e = encrypt_text(&c, &id("staging", "staging"), "A=one\nB=two\n", p).unwrap();
        // Swap the ciphertexts of A and B.
        let lines: Vec<&str> = e.lines().collect();
        let a = lines[1].strip_prefix("A=").unwrap();
        let b = lines[2].strip_prefix("B=").unwrap();
        let swapped = format!("{}\nA={b}\nB={a}\n", lines[0]);
        let err = decrypt_text(&c, &id("staging", "staging"), &swapped, p).unwrap_err();
        assert!(err.to_string().contains("A"), "{err}");
        // Same ciphertext in another file of the same scope.
        let err = decrypt_text(&c, &id("staging", "staging.web1"), &e, p).unwrap_err();
        assert!(err.to_string().contains("value of A"), "{err}");
        // Deleted line.
        let deleted = format!("{}\nA={a}\n", lines[0]);
        let err = decrypt_text(&c, &id("staging", "staging"), &deleted, p).unwrap_err();
        assert!(err.to_string().contains("MAC"), "{err}");
    }

    #[test]
    fn garbage_line_is_an_error_naming_the_line() {
        let err =
            EnvDoc::parse("A=1\nthis is not an assignment\n", Path::new("x.env")).unwrap_err();
        assert!(err.to_string().contains("x.env:2"), "{err}");
    }

    #[test]
    fn file_id_scopes() {
        let f = FileId::from_path(Path::new("config/envs/staging.web1.env")).unwrap();
        assert_eq!(
            (f.scope.as_str(), f.layer.as_str()),
            ("staging", "staging.web1")
        );
        assert_eq!(
            FileId::from_path(Path::new("base.env")).unwrap().scope,
            "base"
        );
        assert!(FileId::from_path(Path::new("x.txt")).is_err());
    }

    /// A randomized hammer for the decoder and parser (the cargo-fuzz targets in
    /// `fuzz/` do the same with coverage guidance): nothing may panic.
    #[test]
    fn decoder_and_parser_survive_random_input() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xa4c4e);
        let c = ScopeCipher::new(&DataKey([3; 32]));
        let fid = id("base", "base");
        let good = c.encrypt_value(&fid, "K", "value");
        let alphabet: Vec<char> = "AZaz09_-=\"'\\#\n\r :arcnev1.".chars().collect();
        for i in 0..20_000 {
            let s: String = if i % 2 == 0 {
                let mut g = good.clone().into_bytes();
                for _ in 0..rng.gen_range(1..4) {
                    let j = rng.gen_range(0..g.len());
                    g[j] = rng.gen_range(b'-'..=b'z');
                }
                String::from_utf8_lossy(&g).into_owned()
            } else {
                (0..rng.gen_range(0..80))
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect()
            };
            let _ = decode_value(&s);
            let _ = c.decrypt_value(&fid, "K", &s);
            if let Ok(doc) = EnvDoc::parse(&s, Path::new("base.env")) {
                // Whatever parses must render back to the same text.
                assert_eq!(doc.render(doc.mac()), {
                    // MAC lines are re-rendered at the top; only compare when absent.
                    if doc.mac().is_some() {
                        doc.render(doc.mac())
                    } else {
                        s.clone()
                    }
                });
            }
            let _ = decrypt_text(&c, &fid, &s, Path::new("base.env"));
        }
    }
}
