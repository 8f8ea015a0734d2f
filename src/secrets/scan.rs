//! `arcane scan`: find leaked secrets in files or in the staged changes.
//!
//! Findings are reported as `file:line:rule` with the secret redacted (first
//! four characters, then stars) and a fingerprint (a SHA-256 prefix) that an
//! allowlist can name without storing the secret. Lines containing
//! `arcane:allow` are skipped; `.arcane/scan-allow.toml` lists allowed paths
//! (globs), fingerprints and disabled rules.

use super::rules::{scan_line, Hit};
use super::{gitcfg, SecretsError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const ALLOW_FILE: &str = ".arcane/scan-allow.toml";
pub const INLINE_ALLOW: &str = "arcane:allow";
/// The rule id of a plaintext value inside an encrypted env file (see
/// [`super::sealed`]); it cannot be allowlisted.
pub const PLAINTEXT_RULE: &str = "plaintext-in-encrypted-file";
/// Files larger than this are skipped (generated data, not config).
const MAX_FILE: u64 = 2 * 1024 * 1024;

/// One finding (the same data `arcane scan --json` reports).
pub use crate::event::report::ScanFinding as Finding;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Allowlist {
    pub paths: Vec<String>,
    pub fingerprints: Vec<String>,
    pub rules: Vec<String>,
}

impl Allowlist {
    pub fn load(root: &Path) -> Result<Allowlist, SecretsError> {
        let p = root.join(ALLOW_FILE);
        match std::fs::read_to_string(&p) {
            Ok(t) => toml::from_str(&t)
                .map_err(|e| SecretsError::input(format!("{}: {}", p.display(), e.message()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Allowlist::default()),
            Err(e) => Err(SecretsError::io(format!("reading {}", p.display()), e)),
        }
    }

    fn path_allowed(&self, rel: &str) -> bool {
        self.paths.iter().any(|g| glob_match(g, rel))
    }
}

pub fn redact(secret: &str) -> String {
    let shown: String = secret.chars().take(4).collect();
    let rest = secret.chars().count().saturating_sub(4).min(16);
    format!("{shown}{}", "*".repeat(rest.max(4)))
}

pub fn fingerprint(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..8])
}

/// Scan text; `first_line` numbers the first line (for diff hunks).
pub fn scan_text(file: &str, text: &str, allow: &Allowlist) -> Vec<Finding> {
    scan_lines(
        file,
        text.lines().enumerate().map(|(i, l)| (i + 1, l)),
        allow,
    )
}

fn scan_lines<'a>(
    file: &str,
    lines: impl Iterator<Item = (usize, &'a str)>,
    allow: &Allowlist,
) -> Vec<Finding> {
    let mut out = vec![];
    if allow.path_allowed(file) {
        return out;
    }
    for (n, line) in lines {
        if line.contains(INLINE_ALLOW) {
            continue;
        }
        for Hit { rule, start, end } in scan_line(line) {
            let secret = &line[start..end];
            let fp = fingerprint(secret);
            if allow.rules.iter().any(|r| r == rule) || allow.fingerprints.iter().any(|f| f == &fp)
            {
                continue;
            }
            out.push(Finding {
                file: file.to_string(),
                line: n,
                rule: rule.to_string(),
                redacted: redact(secret),
                fingerprint: fp,
            });
        }
    }
    out
}

fn skip_dir(name: &str) -> bool {
    matches!(
        name,
        ".git" | "target" | "node_modules" | ".venv" | "__pycache__" | "vendor" | "dist"
    )
}

fn collect(root: &Path, p: &Path, out: &mut Vec<PathBuf>) {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return;
    };
    if md.is_dir() {
        if p != root && p.file_name().and_then(|n| n.to_str()).is_some_and(skip_dir) {
            return;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            collect(root, &e, out);
        }
    } else if md.is_file() && md.len() <= MAX_FILE {
        out.push(p.to_path_buf());
    }
}

/// Files to scan for a path list: for a git project with no paths, what git
/// tracks or would track (honouring .gitignore); otherwise a directory walk.
pub fn files_for(root: &Path, paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![];
    if paths.is_empty() {
        if gitcfg::in_repo(root) {
            if let Ok(s) = gitcfg::git(
                root,
                &[
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ],
            ) {
                let listed: Vec<String> = s
                    .split('\0')
                    .filter(|f| !f.is_empty())
                    .map(String::from)
                    .collect();
                // Files with filter=arcane hold plaintext secrets by design in
                // the working tree and are encrypted by git; `--staged` (the
                // hook) checks what is really committed.
                let encrypted: std::collections::HashSet<String> =
                    gitcfg::arcane_filtered(root, &listed)
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                for f in listed.iter().filter(|f| !encrypted.contains(*f)) {
                    let p = root.join(f);
                    if std::fs::metadata(&p).is_ok_and(|m| m.is_file() && m.len() <= MAX_FILE) {
                        out.push(p);
                    }
                }
                return out;
            }
        }
        collect(root, root, &mut out);
    } else {
        for p in paths {
            collect(p, p, &mut out);
        }
    }
    out
}

/// Scan files on disk. Binary files are skipped.
pub fn scan_files(root: &Path, files: &[PathBuf], allow: &Allowlist) -> Vec<Finding> {
    let mut out = vec![];
    for f in files {
        let Ok(data) = std::fs::read(f) else { continue };
        if data[..data.len().min(8000)].contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&data);
        let shown = f.strip_prefix(root).unwrap_or(f).display().to_string();
        out.extend(scan_text(&shown, &text, allow));
    }
    out
}

/// Scan the lines added in the index (`git diff --cached`), without textconv
/// or external diff drivers so we see exactly what will be committed.
pub fn scan_staged(dir: &Path, allow: &Allowlist) -> Result<Vec<Finding>, SecretsError> {
    let diff = gitcfg::git(
        dir,
        &[
            "diff",
            "--cached",
            "-U0",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--diff-filter=ACMR",
        ],
    )?;
    Ok(scan_diff(&diff, allow))
}

/// Parse a unified diff (-U0) and scan the added lines.
pub fn scan_diff(diff: &str, allow: &Allowlist) -> Vec<Finding> {
    let mut out = vec![];
    let mut file = String::new();
    let mut line_no = 0usize;
    let mut added: Vec<(usize, &str)> = vec![];
    let flush = |file: &str, added: &mut Vec<(usize, &str)>, out: &mut Vec<Finding>| {
        if !file.is_empty() && !added.is_empty() {
            out.extend(scan_lines(file, added.drain(..), allow));
        }
        added.clear();
    };
    for l in diff.lines() {
        if let Some(p) = l.strip_prefix("+++ ") {
            flush(&file, &mut added, &mut out);
            file = p.strip_prefix("b/").unwrap_or(p).to_string();
        } else if l.starts_with("@@ ") {
            // @@ -a,b +c,d @@
            line_no = l
                .split(' ')
                .find_map(|t| t.strip_prefix('+'))
                .and_then(|t| t.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
        } else if let Some(a) = l.strip_prefix('+') {
            added.push((line_no, a));
            line_no += 1;
        }
    }
    flush(&file, &mut added, &mut out);
    out
}

/// `*` within a path component, `**` across components, `?` one character.
pub fn glob_match(pat: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = if p.get(2) == Some(&b'/') {
                    &p[3..]
                } else {
                    &p[2..]
                };
                (0..=s.len()).any(|i| go(rest, &s[i..]))
            }
            Some(b'*') => (0..=s.len())
                .take_while(|i| *i == 0 || s[i - 1] != b'/')
                .any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && s[0] != b'/' && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pat.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("tests/**", "tests/a/b.rs"));
        assert!(glob_match("**/*.md", "docs/x.md"));
        assert!(glob_match("*.md", "x.md"));
        assert!(!glob_match("*.md", "docs/x.md"));
        assert!(glob_match(
            "bench/secrets/corpus/**",
            "bench/secrets/corpus/p/1.env"
        ));
    }

    #[test]
    fn inline_allow_fingerprints_and_diff_line_numbers() {
        let allow = Allowlist::default();
        let t = "a\nAWS=AKIAQ3EGRFZWNLVJ7XKD\nB=AKIAQ3EGRFZWNLVJ7XKE # arcane:allow\n";
        let f = scan_text("x", t, &allow);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].line, f[0].rule.as_str()), (2, "aws-access-key-id"));
        assert!(!f[0].redacted.contains("Q3EGRFZW"));
        let allow = Allowlist {
            fingerprints: vec![f[0].fingerprint.clone()],
            ..Default::default()
        };
        assert!(scan_text("x", t, &allow).is_empty());
        let diff = "diff --git a/k b/k\n--- a/k\n+++ b/k\n@@ -3,0 +4,2 @@\n+x=1\n+AWS=AKIAQ3EGRFZWNLVJ7XKD\n";
        let f = scan_diff(diff, &Allowlist::default());
        assert_eq!((f[0].file.as_str(), f[0].line), ("k", 5));
    }
}
