//! Releases on a server: the `release.json` record, how a release runs,
//! and the per-key env digests. Where they live is [`super::layout`].
//!
//! A release is named after the version (git SHA). Redeploying the same
//! version with a different env or image makes `<version>-r2`, `-r3`..., so a
//! release directory is never rewritten and rollback always has its files.

use crate::docker::argv::RunSpec;
use crate::docker::compose::ComposeCli;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

/// How the release runs: one container per service from an image, or compose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Runtime {
    Image {
        spec: RunSpec,
        /// Container port the health check probes.
        port: u16,
    },
    Compose {
        cli: ComposeCli,
        project: String,
        /// Absolute compose files on the server, in `-f` order.
        files: Vec<String>,
        /// The service the `[health]` probe targets.
        health_service: Option<String>,
        port: u16,
        /// External networks the override joins (besides the proxy's):
        /// `<app>-<env>` when the app has accessories. Recorded so that a
        /// rollback creates what its own override needs, whatever the
        /// config says now.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        networks: Vec<String>,
    },
}

impl Runtime {
    /// The networks the release's containers join besides their own one
    /// (`<app>-<env>` when the app has accessories), as recorded.
    pub fn extra_networks(&self) -> &[String] {
        match self {
            Runtime::Image { spec, .. } => &spec.also,
            Runtime::Compose { networks, .. } => networks,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Written, not yet serving.
    #[default]
    Pending,
    /// Serving (or was, until a later release replaced it).
    Live,
    /// Failed its deploy and was rolled back.
    Failed,
}

/// `release.json`: everything about a release except env values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub app: String,
    pub env: String,
    /// Directory name; equals `version` unless the same version was redeployed.
    pub release: String,
    pub version: String,
    pub git_sha: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Unix seconds, for ordering.
    pub created_unix: i64,
    /// `user@host` of whoever ran the deploy.
    pub deployed_by: String,
    /// Service -> image reference.
    pub images: BTreeMap<String, String>,
    /// Service -> image ID (`sha256:...`).
    pub image_ids: BTreeMap<String, String>,
    /// Digest over all env keys and values (see [`EnvDigest`]).
    pub env_digest: String,
    /// Key name -> HMAC of its value. Names are not secret; values never stored.
    pub env_keys: BTreeMap<String, String>,
    pub runtime: Runtime,
    #[serde(default)]
    pub status: Status,
}

impl Release {
    /// Whether `other` would run exactly this (same images and env).
    pub fn same_content(&self, images: &BTreeMap<String, String>, env_digest: &str) -> bool {
        &self.image_ids == images && self.env_digest == env_digest
    }
}

/// The secret that keys release digests.
///
/// Digests in `release.json` and `arcane releases --json` are read by anyone
/// who can read the server or a CI log. Keyed with public data only (app,
/// env, key name), a short password could be guessed offline against them.
/// So the key is derived from the env's scope data key (HKDF, see
/// `secrets::DataKey::release_digest_key`): without that key a digest says
/// nothing, with it a digest still changes exactly when a value changes.
#[derive(Clone)]
pub struct DigestKey([u8; 32]);

impl DigestKey {
    pub fn new(key: [u8; 32]) -> DigestKey {
        DigestKey(key)
    }

    /// For projects without encrypted env files (no `.arcane/`): their values
    /// are in git in plaintext already, so a key made of public names hides
    /// nothing that is not public anyway.
    pub fn public(app: &str, env: &str) -> DigestKey {
        let d = <Hmac<Sha256> as Mac>::new_from_slice(b"arcane public digest key v1")
            .expect("hmac takes any key length")
            .chain_update(format!("{app}\0{env}"))
            .finalize()
            .into_bytes();
        DigestKey(d.into())
    }
}

impl Drop for DigestKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Per-key digests of an env, so a dry run can say which keys changed and a
/// release can prove what it ran, without storing a single value.
///
/// HMAC-SHA256 under a per-key subkey of the [`DigestKey`]: equal values
/// under different keys give different digests, so the file does not reveal
/// which keys share a value, and nothing can be checked without the key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvDigest {
    pub keys: BTreeMap<String, String>,
    pub all: String,
}

impl EnvDigest {
    pub fn of(key: &DigestKey, vars: &BTreeMap<String, String>) -> EnvDigest {
        let mac = |parts: &[&[u8]]| {
            let mut m =
                <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("hmac takes any key length");
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes()
        };
        let mut keys = BTreeMap::new();
        let mut all = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("any key length");
        all.update(b"arcane env digest v2 all\0");
        for (k, v) in vars {
            let sub = mac(&[b"arcane env digest v2 key\0", k.as_bytes()]);
            let d = hex::encode(
                <Hmac<Sha256> as Mac>::new_from_slice(&sub)
                    .expect("any key length")
                    .chain_update(v.as_bytes())
                    .finalize()
                    .into_bytes(),
            );
            all.update(k.as_bytes());
            all.update(b"\0");
            all.update(d.as_bytes());
            all.update(b"\n");
            keys.insert(k.clone(), d);
        }
        EnvDigest {
            keys,
            all: hex::encode(all.finalize().into_bytes())[..32].to_string(),
        }
    }
}

pub use crate::event::report::EnvDiff;

/// The env file as written to the server: `KEY=value` lines for
/// `docker run --env-file`. Docker reads values literally (no quotes, no
/// escapes), so a value with a newline cannot be represented and is refused.
pub fn env_file_bytes(vars: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    for (k, v) in vars {
        if v.contains('\n') || v.contains('\r') {
            return Err(format!(
                "env key {k} has a multi-line value, which docker --env-file cannot carry; store it base64-encoded"
            ));
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// Pick a fresh release name for `version` given the names already on the server.
pub fn next_release_name(version: &str, existing: &[String]) -> String {
    if !existing.iter().any(|e| e == version) {
        return version.to_string();
    }
    (2..)
        .map(|n| format!("{version}-r{n}"))
        .find(|c| !existing.contains(c))
        .expect("unbounded")
}

/// Releases to delete: the oldest beyond `keep`, never the live one.
pub fn to_prune(mut all: Vec<Release>, keep: usize, live: Option<&str>) -> Vec<Release> {
    all.sort_by_key(|r| std::cmp::Reverse(r.created_unix));
    let mut kept = 0;
    let mut out = vec![];
    for r in all {
        if Some(r.release.as_str()) == live || kept < keep {
            kept += 1;
            continue;
        }
        out.push(r);
    }
    out
}

/// Releases newest first.
pub fn sort_newest_first(v: &mut [Release]) {
    v.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then(b.release.cmp(&a.release))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn digests_change_per_key_and_never_contain_values() {
        let k = DigestKey::new([7; 32]);
        let a = EnvDigest::of(&k, &vars(&[("A", "secret-1"), ("B", "x")]));
        let b = EnvDigest::of(&k, &vars(&[("A", "secret-2"), ("C", "y")]));
        let d = EnvDiff::between(&a.keys, &b.keys);
        assert_eq!(d.added, ["C"]);
        assert_eq!(d.changed, ["A"]);
        assert_eq!(d.removed, ["B"]);
        assert_ne!(a.all, b.all);
        let json = serde_json::to_string(&a.keys).unwrap();
        assert!(!json.contains("secret-1"));
        // Same value under two names: different digests.
        let c = EnvDigest::of(&k, &vars(&[("A", "same"), ("B", "same")]));
        assert_ne!(c.keys["A"], c.keys["B"]);
        // Without the scope's key a digest cannot be checked: the same value
        // under another key gives another digest, and the old public keying
        // (app, env, key name) matches nothing.
        let other = EnvDigest::of(&DigestKey::new([8; 32]), &vars(&[("A", "secret-1")]));
        assert_ne!(other.keys["A"], a.keys["A"]);
        let guess = hex::encode(
            <Hmac<Sha256> as Mac>::new_from_slice(b"arcane/app/staging/A")
                .unwrap()
                .chain_update(b"secret-1")
                .finalize()
                .into_bytes(),
        );
        assert_ne!(guess, a.keys["A"]);
        // Stable: same key and values, same digests (drives the no-op check).
        assert_eq!(
            a,
            EnvDigest::of(&k, &vars(&[("A", "secret-1"), ("B", "x")]))
        );
    }

    #[test]
    fn env_file_is_plain_lines_and_refuses_newlines() {
        assert_eq!(
            env_file_bytes(&vars(&[("B", "2 3"), ("A", "x=y")])).unwrap(),
            b"A=x=y\nB=2 3\n"
        );
        assert!(env_file_bytes(&vars(&[("K", "a\nb")])).is_err());
    }

    #[test]
    fn release_names() {
        assert_eq!(next_release_name("abc", &[]), "abc");
        assert_eq!(
            next_release_name("abc", &["abc".into(), "abc-r2".into()]),
            "abc-r3"
        );
    }
}
