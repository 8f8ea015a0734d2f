//! `arcane secrets verify`: every check of the encrypted secrets in one pass,
//! also run by `config check`. What needs no key always runs (the signed
//! manifest and the pins, key files against it, `recipients.toml` against
//! it, plaintext inside encrypted files in the working tree, the index and
//! HEAD); with a key, each scope's data key is checked against its key id
//! and every env file of the scope is decrypted (every value and the MAC).

use super::keys::{key_file, Keyring, KEYS_DIR};
use super::project::{env_files, looks_encrypted};
use super::recipients::{Recipients, RECIPIENTS_FILE};
use super::{gitcfg, sealed, trust, FileId, SecretsError};
use serde::Serialize;
use std::path::Path;

/// One problem, located.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// `manifest`, `behind`, `key-file`, `recipients`, `key`, `env-file`,
    /// `plaintext`.
    pub check: &'static str,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// What verification found and what it could not check.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub problems: Vec<Problem>,
    /// Not failures: values of decrypted files whose meaning changed with
    /// the compose-compatible parser (where `config check` sees ciphertext).
    pub warnings: Vec<Problem>,
    /// Checks skipped for lack of a key (scope names), said, not hidden.
    pub skipped: Vec<String>,
    /// Members per scope from the verified manifest (when it verified).
    pub scopes: Vec<(String, Vec<String>)>,
    pub first_use: bool,
}

fn problem(check: &'static str, file: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        check,
        file: file.into(),
        line: None,
        message: message.into(),
    }
}

/// Verify the project at `root`. `keys`: `None` checks only what needs no
/// key (what `config check` runs); with a keyring, scopes it can open are
/// also decrypted. `Ok` with problems is a finding; `Err` is a usage error.
pub fn verify(root: &Path, keys: Option<&Keyring>) -> Result<Report, SecretsError> {
    let mut rep = Report::default();
    if !Recipients::exists(root) {
        return Ok(rep);
    }
    let plain_keys = Keyring::new(root, None);
    let ring = keys.unwrap_or(&plain_keys);
    let verified = match ring.trusted() {
        Ok(v) => Some(v),
        Err(SecretsError::Untrusted { file, message }) => {
            rep.problems
                .push(problem("manifest", file.display().to_string(), message));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(v) = &verified {
        rep.first_use = v.first_use;
        if v.behind {
            rep.problems.push(problem(
                "behind",
                trust::MANIFEST,
                "older than a key manifest you verified before: an old commit, or .arcane/ was rolled back",
            ));
        }
        for s in v.tip.scopes.keys() {
            rep.scopes.push((
                s.clone(),
                v.tip
                    .recipients_of(s)
                    .into_iter()
                    .map(|(n, _, _)| n)
                    .collect(),
            ));
            if !key_file(root, s).exists() {
                rep.problems.push(problem(
                    "key-file",
                    format!("{KEYS_DIR}/{s}.age"),
                    "missing: the signed manifest names this scope's key file",
                ));
            } else if let Err(e) = ring.check_key_file(s) {
                rep.problems.push(untrusted("key-file", e));
            }
        }
        for f in std::fs::read_dir(root.join(KEYS_DIR))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(s) = name.strip_suffix(".age") {
                if !v.tip.scopes.contains_key(s) {
                    rep.problems.push(problem(
                        "key-file",
                        format!("{KEYS_DIR}/{name}"),
                        "not in the signed key manifest: added outside arcane (a forged key?); see `git log -p -- .arcane/`",
                    ));
                }
            }
        }
        match Recipients::load(root) {
            Ok(r) => {
                for m in trust::recipients_mismatch(&r, &v.tip) {
                    rep.problems.push(problem("recipients", RECIPIENTS_FILE, m));
                }
            }
            Err(e) => rep
                .problems
                .push(problem("recipients", RECIPIENTS_FILE, e.to_string())),
        }
    }
    for f in sealed::scan_worktree(root) {
        rep.problems.push(sealed_problem(f));
    }
    if let Ok(top) = gitcfg::toplevel(root) {
        let head = gitcfg::git(&top, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok();
        let mut found = sealed::scan_index(&top)?;
        if head {
            // HEAD's tree: what a clone gets. `scan --rev` covers history.
            found.extend(sealed::scan_revs(
                &top,
                &["--no-walk".into(), "HEAD".into()],
            )?);
        }
        found.dedup();
        rep.problems.extend(found.into_iter().map(sealed_problem));
    }
    if let (Some(v), Some(keys)) = (&verified, keys) {
        for s in v.tip.scopes.keys() {
            match keys.data_key(s) {
                Ok(_) => {}
                Err(SecretsError::NoKey(_)) => {
                    rep.skipped.push(s.clone());
                    continue;
                }
                Err(e) => {
                    rep.problems.push(untrusted("key", e));
                    continue;
                }
            }
            for f in env_files(root) {
                if !FileId::from_path(&f).is_ok_and(|id| id.scope == *s) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&f) else {
                    continue;
                };
                if !looks_encrypted(&text) {
                    continue;
                }
                let decrypted = super::project::decrypt_if_needed(&text, &f, keys);
                if let Ok(plain) = &decrypted {
                    if let Ok(entries) = crate::config::envfile::parse(plain, &f) {
                        let mut w = vec![];
                        crate::config::check::meaning_changes(plain, &f, &entries, &mut w);
                        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                        rep.warnings.extend(w.into_iter().map(|c| Problem {
                            check: "meaning",
                            file: rel.clone(),
                            line: c.line,
                            message: c.message,
                        }));
                    }
                }
                if let Err(e) = decrypted {
                    let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                    let line = match &e {
                        SecretsError::BadValue { line, .. } | SecretsError::Parse { line, .. } => {
                            Some(*line)
                        }
                        _ => None,
                    };
                    rep.problems.push(Problem {
                        check: "env-file",
                        file: rel,
                        line,
                        message: e.to_string(),
                    });
                }
            }
        }
    } else if verified.is_some() {
        rep.skipped = rep.scopes.iter().map(|(s, _)| s.clone()).collect();
    }
    Ok(rep)
}

fn untrusted(check: &'static str, e: SecretsError) -> Problem {
    match e {
        SecretsError::Untrusted { file, message } => {
            problem(check, file.display().to_string(), message)
        }
        other => problem(check, "", other.to_string()),
    }
}

fn sealed_problem(f: super::scan::Finding) -> Problem {
    Problem {
        check: "plaintext",
        file: f.file,
        line: Some(f.line),
        message: format!(
            "{}: {} ({}); it is not encrypted and git stores it as is",
            f.rule, f.redacted, f.fingerprint
        ),
    }
}
