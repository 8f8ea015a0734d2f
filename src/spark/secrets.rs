//! The build machine's key and its encrypted env.
//!
//! Spark deploys only with the machine key (`ARCANE_MACHINE_KEY` or
//! `ARCANE_MACHINE_KEY_FILE`, from `arcane deploy gen-key`), never with a
//! person's identity. Its own secrets (webhook secrets, the status token,
//! chat URLs, a GitHub token) live in one age file encrypted to that key,
//! `secrets.age` in the state dir, edited with `arcane spark secret set`;
//! the values are only ever in memory. An env var of the same name is the
//! fallback (a systemd credential, a CI variable).

use crate::ops::Error;
use crate::secrets::identity::{self, Loaded, ENV_MACHINE_KEY, ENV_MACHINE_KEY_FILE};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The machine key, from its env vars only (the identity file of whoever
/// runs Spark is never looked at).
pub fn machine_key() -> Result<Vec<Loaded>, Error> {
    let mut out = vec![];
    if let Ok(k) = std::env::var(ENV_MACHINE_KEY) {
        if !k.trim().is_empty() {
            out.extend(
                identity::parse_identity_text(&k, "$ARCANE_MACHINE_KEY")
                    .map_err(|e| Error::input(e.to_string()))?,
            );
        }
    }
    if let Some(p) = std::env::var_os(ENV_MACHINE_KEY_FILE).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            Error::input(format!(
                "cannot read ${ENV_MACHINE_KEY_FILE} {}: {e}",
                p.display()
            ))
        })?;
        out.extend(
            identity::parse_identity_text(&text, &p.display().to_string())
                .map_err(|e| Error::input(e.to_string()))?,
        );
    }
    if out.is_empty() {
        return Err(Error::input(format!(
            "Spark deploys with a machine key, and none is set: put the AGE-SECRET-KEY-1... line from `arcane deploy gen-key` in ${ENV_MACHINE_KEY}, or a 0600 file named by ${ENV_MACHINE_KEY_FILE}, and allow it with `arcane deploy allow` (TEAM_WORKFLOW.md)"
        )));
    }
    Ok(out)
}

/// The machine's encrypted env: names to values, in memory.
#[derive(Default, Clone)]
pub struct MachineEnv {
    values: Arc<BTreeMap<String, String>>,
}

impl MachineEnv {
    /// Read `path` (a missing file is an empty env) with the machine key.
    pub fn load(path: &Path, key: &[Loaded]) -> Result<MachineEnv, Error> {
        Ok(MachineEnv {
            values: Arc::new(read(path, key)?),
        })
    }

    /// A value by name: the encrypted env first, then the process env.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.is_empty())
    }

    pub fn names(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }

    /// Every value, for the redactor.
    pub fn values(&self) -> Vec<String> {
        self.values.values().cloned().collect()
    }
}

fn read(path: &Path, key: &[Loaded]) -> Result<BTreeMap<String, String>, Error> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::Failed(format!("reading {}: {e}", path.display()))),
    };
    let dec = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(&data[..]))
        .map_err(|e| Error::input(format!("{}: not an age file: {e}", path.display())))?;
    let mut r = dec
        .decrypt(key.iter().map(|l| l.inner.as_ref() as &dyn age::Identity))
        .map_err(|_| {
            Error::input(format!(
                "{}: the machine key cannot open it (was it written for another key?)",
                path.display()
            ))
        })?;
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|e| Error::Failed(format!("decrypting {}: {e}", path.display())))?;
    let v = serde_json::from_str(&text)
        .map_err(|_| Error::input(format!("{}: not a Spark secrets file", path.display())));
    zeroize::Zeroize::zeroize(&mut text);
    v
}

/// Set (`Some`) or remove (`None`) one value, re-encrypting the file to the
/// machine key. Returns whether the file changed.
pub fn update(path: &Path, key: &[Loaded], name: &str, value: Option<&str>) -> Result<bool, Error> {
    if !crate::config::notify::is_secret_name(name) {
        return Err(Error::input(format!(
            "{name:?} is not a secret name: use capitals, digits and '_' (e.g. GITHUB_WEBHOOK_SECRET)"
        )));
    }
    let mut values = read(path, key)?;
    let changed = match value {
        Some(v) => values.insert(name.to_string(), v.to_string()).as_deref() != Some(v),
        None => values.remove(name).is_some(),
    };
    if !changed {
        return Ok(false);
    }
    let recipients = key
        .iter()
        .map(|l| crate::secrets::recipients::parse_recipient(&l.public))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::input)?;
    let enc = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(|e| Error::Failed(format!("encrypting {}: {e}", path.display())))?;
    let mut plain = serde_json::to_vec(&values).unwrap_or_default();
    let mut out = vec![];
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| Error::Failed(e.to_string()))?;
    let res = enc
        .wrap_output(armored)
        .and_then(|mut w| {
            w.write_all(&plain)?;
            w.finish()
        })
        .and_then(|a| a.finish());
    zeroize::Zeroize::zeroize(&mut plain);
    res.map_err(|e| Error::Failed(format!("encrypting {}: {e}", path.display())))?;
    crate::secrets::write_atomic(path, &out, 0o600).map_err(|e| Error::Failed(e.to_string()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn set_get_unset_round_trip_and_the_file_holds_no_plaintext() {
        let (text, _) = identity::generate();
        let key = identity::parse_identity_text(text.expose_secret(), "k").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secrets.age");
        assert!(update(&p, &key, "GH_SECRET", Some("s3cr3t-hook-value")).unwrap());
        assert!(!update(&p, &key, "GH_SECRET", Some("s3cr3t-hook-value")).unwrap());
        let raw = std::fs::read_to_string(&p).unwrap();
        assert!(!raw.contains("s3cr3t") && !raw.contains("GH_SECRET"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let env = MachineEnv::load(&p, &key).unwrap();
        assert_eq!(env.get("GH_SECRET").as_deref(), Some("s3cr3t-hook-value"));
        assert_eq!(env.names(), vec!["GH_SECRET"]);
        assert!(update(&p, &key, "GH_SECRET", None).unwrap());
        assert!(MachineEnv::load(&p, &key).unwrap().names().is_empty());
        // Another key cannot open it.
        update(&p, &key, "X_Y", Some("value")).unwrap();
        let (other, _) = identity::generate();
        let other = identity::parse_identity_text(other.expose_secret(), "o").unwrap();
        let e = MachineEnv::load(&p, &other).err().unwrap();
        assert!(e.to_string().contains("cannot open"), "{e}");
        assert!(update(&p, &key, "lower", Some("v")).is_err());
    }
}
