//! The Keys tab's work: your identity, the team from the verified key
//! manifest, adding members.

use super::super::model::*;
use crate::ops;
use crate::secrets::{self, recipients::Kind};
use std::path::{Path, PathBuf};

pub(super) fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The identity file: `--identity`/ARCANE_IDENTITY, else the XDG default.
pub fn default_identity_path() -> Option<PathBuf> {
    secrets::identity::default_path()
}

/// An identity the dashboard can use without a terminal prompt. A
/// passphrase-protected identity would ask on the TTY, which the dashboard
/// owns, so such work is left to the CLI.
pub(super) fn usable_identity(path: Option<&Path>) -> Result<(), String> {
    if std::env::var_os("ARCANE_MACHINE_KEY").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let Some(path) = path.filter(|p| p.is_file()) else {
        return Err(
            "no identity: run `arcane identity new` (or `arcane identity import`) first".into(),
        );
    };
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if String::from_utf8_lossy(&text).contains("BEGIN AGE ENCRYPTED FILE") {
        return Err(format!(
            "{} is passphrase-protected; use the CLI (`arcane env show --reveal`, `arcane env set`) for this",
            path.display()
        ));
    }
    Ok(())
}

/// Your identity and the team, as the Keys tab shows them: the members
/// come from the verified key manifest, never from recipients.toml alone.
pub(super) fn load_keys(ctx: &ops::Ctx) -> KeysState {
    let l = ctx.local();
    let mut k = KeysState::default();
    match ops::team::identity(&l, false) {
        Ok(id) => {
            k.identity_path = id.path;
            k.public_key = id.public_keys.into_iter().next().or_else(|| {
                Some("(passphrase-protected; `arcane identity show` prints the key)".into())
                    .filter(|_| k.identity_path.is_some())
            });
        }
        Err(e) => k.error = Some(e.to_string()),
    }
    match ops::team::list(&l) {
        Ok(team) => {
            k.recipients = team
                .members
                .into_iter()
                .map(|m| Recipient {
                    name: m.name,
                    kind: m.kind,
                    public_key: m.key,
                    scopes: m.scopes,
                })
                .collect();
            if let Some(m) = team.mismatches.first() {
                k.error = Some(format!("{m}; run `arcane secrets verify`"));
            }
        }
        Err(e) => k.error = Some(e.to_string()),
    }
    k
}

/// `team add` / `deploy allow`, with the operation's scope defaults.
pub(super) fn add_member(
    ctx: &ops::Ctx,
    name: &str,
    pubkey: &str,
    scopes: Vec<String>,
    kind: Kind,
) -> Result<String, String> {
    usable_identity(ctx.identity.as_deref())?;
    let scopes = ops::team::add(&ctx.local(), Some(ctx.project), name, pubkey, scopes, kind)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{name} ({kind}) can now decrypt {}; commit .arcane/ so their clone can read them",
        scopes.join(", ")
    ))
}
