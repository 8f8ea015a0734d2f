//! `.arcane/recipients.toml`: who can decrypt which scopes.
//!
//! It is committed, public information (public keys only). It is the source
//! of truth the key files are wrapped from: after any change the affected
//! scopes' key files are re-wrapped for exactly the recipients listed here.

use super::{write_atomic, SecretsError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RECIPIENTS_FILE: &str = ".arcane/recipients.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Person,
    Machine,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Person => "person",
            Kind::Machine => "machine",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub name: String,
    pub kind: Kind,
    /// `age1...`, `ssh-ed25519 AAAA...` or `ssh-rsa AAAA...`.
    pub key: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    pub version: u32,
    /// Every scope that has a data key (`base` and one per env).
    pub scopes: Vec<String>,
    #[serde(default, rename = "recipient")]
    pub recipients: Vec<Recipient>,
}

const HEADER: &str = "# Who can decrypt which env files. Public keys only; commit this file.\n\
# Change it with `arcane team add|remove` and `arcane deploy allow|revoke`, not by hand:\n\
# the key files in .arcane/keys/ must be re-wrapped to match.\n\n";

impl Recipients {
    pub fn path(root: &Path) -> PathBuf {
        root.join(RECIPIENTS_FILE)
    }

    pub fn exists(root: &Path) -> bool {
        Self::path(root).is_file()
    }

    pub fn load(root: &Path) -> Result<Recipients, SecretsError> {
        let p = Self::path(root);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SecretsError::input(format!(
                    "{} does not exist; run `arcane init` (or `arcane setup` in a clone of a project that has it)",
                    p.display()
                ))
            } else {
                SecretsError::io(format!("reading {}", p.display()), e)
            }
        })?;
        let r: Recipients = toml::from_str(&text)
            .map_err(|e| SecretsError::input(format!("{}: {}", p.display(), e.message())))?;
        for rec in &r.recipients {
            parse_recipient(&rec.key).map_err(|e| {
                SecretsError::input(format!("{}: recipient {}: {e}", p.display(), rec.name))
            })?;
        }
        Ok(r)
    }

    pub fn save(&self, root: &Path) -> Result<(), SecretsError> {
        let body = toml::to_string_pretty(self).map_err(|e| SecretsError::Failed(e.to_string()))?;
        write_atomic(
            &Self::path(root),
            format!("{HEADER}{body}").as_bytes(),
            0o644,
        )
    }

    /// The recipients of one scope.
    pub fn of_scope<'a>(&'a self, scope: &'a str) -> impl Iterator<Item = &'a Recipient> + 'a {
        self.recipients
            .iter()
            .filter(move |r| r.scopes.iter().any(|s| s == scope))
    }

    pub fn find(&self, name: &str) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.name == name)
    }

    /// People who hold every scope: they own new scopes.
    pub fn owners(&self) -> Vec<&Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.kind == Kind::Person && self.scopes.iter().all(|s| r.scopes.contains(s)))
            .collect()
    }
}

/// Parse a public key into an age recipient.
pub fn parse_recipient(key: &str) -> Result<Box<dyn age::Recipient + Send>, String> {
    let key = key.trim();
    if key.starts_with("age1") {
        key.parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as _)
            .map_err(|e| format!("invalid age public key: {e}"))
    } else if key.starts_with("ssh-ed25519 ") || key.starts_with("ssh-rsa ") {
        key.parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as _)
            .map_err(|e| format!("invalid ssh public key: {e:?}"))
    } else if key.starts_with("AGE-SECRET-KEY-") || key.contains("PRIVATE KEY") {
        Err("that is a SECRET key; pass the public key (`arcane identity show` prints it)".into())
    } else {
        Err("expected an age public key (age1...) or an ssh-ed25519/ssh-rsa public key".into())
    }
}

/// Normalise a public key for storage and comparison: age keys as-is, ssh
/// keys without their trailing comment.
pub fn normalize_key(key: &str) -> String {
    let key = key.trim();
    if key.starts_with("ssh-") {
        key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    } else {
        key.to_string()
    }
}

/// Names end up in TOML and messages; keep them simple.
pub fn valid_recipient_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_scope_queries() {
        let id = age::x25519::Identity::generate();
        let r = Recipients {
            version: 1,
            scopes: vec!["base".into(), "staging".into()],
            recipients: vec![
                Recipient {
                    name: "alice".into(),
                    kind: Kind::Person,
                    key: id.to_public().to_string(),
                    scopes: vec!["base".into(), "staging".into()],
                },
                Recipient {
                    name: "ci".into(),
                    kind: Kind::Machine,
                    key: id.to_public().to_string(),
                    scopes: vec!["staging".into()],
                },
            ],
        };
        let dir = tempfile::tempdir().unwrap();
        r.save(dir.path()).unwrap();
        let back = Recipients::load(dir.path()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.of_scope("base").count(), 1);
        assert_eq!(back.owners().len(), 1);
        assert!(parse_recipient("AGE-SECRET-KEY-1XYZ")
            .err()
            .unwrap()
            .contains("SECRET"));
        assert_eq!(
            normalize_key("ssh-ed25519 AAAA me@host"),
            "ssh-ed25519 AAAA"
        );
    }
}
