//! Checking the encrypted secrets: `secrets verify|trust|adopt` and `scan`.
//! Everything that needs no key works without one.

use super::{Error, Local};
use crate::error::ErrorKind;
use crate::event::report::{ScanReport, SecretsReport};
use crate::event::{Event, Level};
use crate::secrets::{gitcfg, scan, sealed, Keyring};
use std::path::{Path, PathBuf};

/// Every check of the encrypted secrets in one pass (also part of `config
/// check`). Findings are reported (exit 1); the report is returned either
/// way inside the error's message being already shown.
pub fn verify(l: &Local) -> Result<SecretsReport, Error> {
    let keys = Keyring::new(l.root, l.identity);
    let rep = crate::secrets::verify::verify(l.root, Some(&keys))?;
    l.em.emit(Event::SecretsCheck(rep.clone()));
    for p in &rep.problems {
        let at = match p.line {
            Some(n) => format!("{}:{n}", p.file),
            None => p.file.clone(),
        };
        l.em.message(Level::Error, format!("{at}: [{}] {}", p.check, p.message));
    }
    for w in &rep.warnings {
        l.em.warn(format!("{}:{}: {}", w.file, w.line.unwrap_or(1), w.message));
    }
    if !rep.skipped.is_empty() {
        l.em.info(format!(
            "not decrypted (no key here): {}; their MACs were not checked",
            rep.skipped.join(", ")
        ));
    }
    if rep.problems.is_empty() {
        l.em.finished(
            true,
            format!(
                "secrets verified: {} scope{} signed, recipients match, no plaintext in encrypted files",
                rep.scopes.len(),
                if rep.scopes.len() == 1 { "" } else { "s" }
            ),
        );
        return Ok(rep);
    }
    let message = format!(
        "{} problem{} with the encrypted secrets; do not use these keys until a member has looked at `git log -p -- .arcane/ config/envs/`",
        rep.problems.len(),
        if rep.problems.len() == 1 { "" } else { "s" }
    );
    l.em.failed(ErrorKind::Failed, &message);
    Err(Error::Reported {
        kind: ErrorKind::Failed,
        message,
    })
}

/// Pin this clone to the key manifest whose member signed with `fingerprint`.
pub fn trust(l: &Local, fingerprint: &str) -> Result<(), Error> {
    let v = crate::secrets::trust::trust_fingerprint(l.root, fingerprint)?;
    l.em.finished(
        true,
        format!(
            "pinned this clone to the key manifest ({} entries, newest signed by {})",
            v.entries, v.tip_signer
        ),
    );
    Ok(())
}

/// Sign the key files as they are now into the manifest (projects from
/// before the manifest existed).
pub fn adopt(l: &Local) -> Result<Vec<String>, Error> {
    let scopes = crate::secrets::project::adopt(l.root, &Keyring::new(l.root, l.identity))?;
    l.em.finished(
        true,
        format!(
            "signed the key files of {} as they are now into {}; commit it",
            scopes.join(", "),
            crate::secrets::trust::MANIFEST
        ),
    );
    Ok(scopes)
}

/// What `scan` looks at.
pub enum ScanTarget {
    /// Files or directories; none = the project, plus plaintext inside
    /// encrypted env files in the working tree, the index and HEAD.
    Paths(Vec<PathBuf>),
    /// The staged changes (the pre-commit hook).
    Staged,
    /// Committed blobs in revisions (`--rev`; works in a bare repository).
    Revs(Vec<String>),
}

/// Find leaked secrets; findings are a failure (exit 1), already reported.
/// `root` is the project (or the current directory outside one), `cwd`
/// where relative paths start.
pub fn scan(l: &Local, cwd: &Path, target: &ScanTarget) -> Result<ScanReport, Error> {
    let root = l.root;
    let allow = scan::Allowlist::load(root)?;
    let findings = match target {
        ScanTarget::Revs(revs) => sealed::scan_revs(cwd, revs)?,
        ScanTarget::Staged => {
            let top = gitcfg::toplevel(cwd)?;
            let mut f = scan::scan_staged(&top, &allow)?;
            f.extend(sealed::scan_index(&top)?);
            f
        }
        ScanTarget::Paths(paths) => {
            let paths: Vec<PathBuf> = paths.iter().map(|p| cwd.join(p)).collect();
            let base = if paths.is_empty() {
                root.to_path_buf()
            } else {
                cwd.to_path_buf()
            };
            let files = scan::files_for(root, &paths);
            let mut f = scan::scan_files(&base, &files, &allow);
            if paths.is_empty() {
                f.extend(sealed::scan_worktree(root));
                if let Ok(top) = gitcfg::toplevel(root) {
                    f.extend(sealed::scan_index(&top)?);
                    if gitcfg::git(&top, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok() {
                        let head = ["--no-walk".to_string(), "HEAD".to_string()];
                        f.extend(sealed::scan_revs(&top, &head)?);
                    }
                }
            }
            f
        }
    };
    let rep = ScanReport { findings };
    l.em.emit(Event::Scan(rep.clone()));
    if rep.findings.iter().any(|f| f.rule == scan::PLAINTEXT_RULE) {
        l.em.warn(
            "plaintext inside an encrypted env file: in this clone run `arcane setup`, then \
             `git add --renormalize config/envs`; a value already committed is in history: rotate it at its source",
        );
    }
    if rep.findings.is_empty() {
        l.em.finished(true, "no secrets found");
        return Ok(rep);
    }
    let message = format!(
        "{} possible secret{} found; remove them, or allow a false positive with `# arcane:allow` or .arcane/scan-allow.toml",
        rep.findings.len(),
        if rep.findings.len() == 1 { "" } else { "s" }
    );
    l.em.failed(ErrorKind::Failed, &message);
    Err(Error::Reported {
        kind: ErrorKind::Failed,
        message,
    })
}
