//! Is every encrypted env file really encrypted? Checked without any key,
//! so it runs anywhere: a clone that never ran `arcane setup`, CI, or a
//! server-side pre-receive hook in a bare repository.
//!
//! A clone without the filter commits whatever is in the working tree, so a
//! plaintext `KEY=value` typed into `config/envs/staging.env` lands in git as
//! is. An encrypted file's committed form has a MAC line and every value is
//! `arcane:v1:` ciphertext of a valid shape; anything else is reported, by
//! key name and line, never by value.

use super::format::{decode_value, EnvDoc, VALUE_PREFIX};
use super::gitcfg;
use super::scan::{Finding, PLAINTEXT_RULE};
use super::SecretsError;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// Paths the git filter encrypts: `config/envs/<name>.env`, at the top or
/// under a project directory (a monorepo). Matched by name, so it works in a
/// bare repository where attributes cannot be read.
pub fn is_encrypted_path(path: &str) -> bool {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    name.ends_with(".env") && (dir == "config/envs" || dir.ends_with("/config/envs"))
}

/// The finding for committed env file text that is not fully encrypted.
pub fn check_text(file: &str, text: &str, what: &str) -> Option<Finding> {
    let finding = |line: usize, key: &str, why: String| Finding {
        file: file.to_string(),
        line,
        rule: PLAINTEXT_RULE.to_string(),
        redacted: format!("{key}=<{why}>"),
        fingerprint: what.to_string(),
    };
    let doc = match EnvDoc::parse(text, Path::new(file)) {
        Ok(d) => d,
        Err(SecretsError::Parse { line, .. }) => {
            return Some(finding(line, "?", "not an env file line".into()))
        }
        Err(_) => return Some(finding(1, "?", "unreadable".into())),
    };
    let entries: Vec<(&str, &str, usize)> = doc.entries().collect();
    if let Some((k, _, l)) = entries
        .iter()
        .find(|(_, v, _)| !v.starts_with(VALUE_PREFIX) || decode_value(v).is_none())
    {
        let n = entries
            .iter()
            .filter(|(_, v, _)| !v.starts_with(VALUE_PREFIX))
            .count();
        return Some(finding(
            *l,
            k,
            format!("plaintext; {n} value(s) not encrypted"),
        ));
    }
    if !entries.is_empty() && doc.mac().is_none() {
        return Some(finding(1, "?", "no MAC line".into()));
    }
    None
}

/// Working-tree env files, in a git clone that has no filter (then git
/// stores them as they are on disk). With the filter, plaintext there is by
/// design.
pub fn scan_worktree(root: &Path) -> Vec<Finding> {
    // Outside a repository nothing can be committed (yet); `arcane setup`
    // after `git init` configures the filter before the first `git add`.
    if !gitcfg::in_repo(root) || gitcfg::filters_configured(root) {
        return vec![];
    }
    super::project::env_files(root)
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            check_text(&rel, &text, "working tree, no arcane filter in this clone")
        })
        .collect()
}

/// Staged env files (the index is what the next commit stores).
pub fn scan_index(top: &Path) -> Result<Vec<Finding>, SecretsError> {
    let listed = gitcfg::git(top, &["ls-files", "-s", "-z"])?;
    let blobs = listed.split('\0').filter_map(|l| {
        let (meta, path) = l.split_once('\t')?;
        let oid = meta.split_whitespace().nth(1)?;
        is_encrypted_path(path).then(|| (oid.to_string(), path.to_string()))
    });
    check_blobs(top, blobs.collect(), "staged")
}

/// Env file blobs introduced by a revision range (`A..B`, or a single
/// revision: everything reachable from it), as `git rev-list --objects`
/// lists them: every version ever committed in that range, not only the
/// newest. Works in bare repositories (pre-receive hooks).
pub fn scan_revs(git_dir: &Path, range: &[String]) -> Result<Vec<Finding>, SecretsError> {
    let mut args = vec!["rev-list", "--objects"];
    args.extend(range.iter().map(String::as_str));
    args.push("--");
    let out = gitcfg::git(git_dir, &args).map_err(|e| {
        SecretsError::input(format!(
            "cannot list {}: {e}; pass a revision or range such as origin/main..HEAD",
            range.join(" ")
        ))
    })?;
    let blobs = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, p)| is_encrypted_path(p))
        .map(|(o, p)| (o.to_string(), p.to_string()))
        .collect();
    check_blobs(git_dir, blobs, "committed")
}

/// Read blobs with one `git cat-file --batch` and check each.
fn check_blobs(
    dir: &Path,
    blobs: Vec<(String, String)>,
    what: &str,
) -> Result<Vec<Finding>, SecretsError> {
    if blobs.is_empty() {
        return Ok(vec![]);
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SecretsError::io("running git cat-file", e))?;
    let mut stdin = child.stdin.take().expect("piped");
    let ids: String = blobs.iter().map(|(o, _)| format!("{o}\n")).collect();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(ids.as_bytes());
    });
    let mut r = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut out = vec![];
    for (oid, path) in &blobs {
        let mut header = String::new();
        r.read_line(&mut header)
            .map_err(|e| SecretsError::io("reading git cat-file", e))?;
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| SecretsError::Failed(format!("git cat-file: no blob {oid}")))?;
        let mut data = vec![0u8; size + 1];
        r.read_exact(&mut data)
            .map_err(|e| SecretsError::io("reading git cat-file", e))?;
        data.pop();
        let text = String::from_utf8_lossy(&data);
        let short = &oid[..oid.len().min(12)];
        if let Some(f) = check_text(path, &text, &format!("{what} blob {short}")) {
            out.push(f);
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_plaintext_shapes() {
        assert!(is_encrypted_path("config/envs/base.env"));
        assert!(is_encrypted_path("apps/x/config/envs/staging.web1.env"));
        assert!(!is_encrypted_path("config/envs/sub/x.env"));
        assert!(!is_encrypted_path("myconfig/envs/x.env"));
        assert!(!is_encrypted_path(".env"));
        let c = super::super::format::ScopeCipher::new(&super::super::DataKey([1; 32]));
        let id = super::super::FileId::from_path(Path::new("base.env")).unwrap();
        let good =
            super::super::format::encrypt_text(&c, &id, "A=1\n", Path::new("base.env")).unwrap();
        assert!(check_text("base.env", &good, "x").is_none());
        assert!(check_text("base.env", "# only comments\n", "x").is_none());
        let f = check_text("base.env", &format!("{good}B=plain-secret\n"), "x").unwrap();
        assert_eq!((f.line, f.redacted.starts_with("B=<plaintext")), (3, true));
        assert!(!f.redacted.contains("plain-secret"));
        let f = check_text("base.env", "A=arcane:v1:short\n", "x").unwrap();
        assert_eq!(f.line, 1);
        let no_mac: String = good.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert!(check_text("base.env", &no_mac, "x")
            .unwrap()
            .redacted
            .contains("MAC"));
    }
}
