//! What changed between two trees: per-file status and line counts, and the
//! raw patch text of chosen files (for a message generator, after
//! redaction).
//!
//! Patches are made with `--no-textconv --no-ext-diff`: an encrypted env
//! file's textconv driver would decrypt it, and what a generator sees must
//! never depend on the user's diff configuration.

use super::cli::Git;
use super::GitError;
pub use crate::event::report::FileChange;

/// The empty tree of this repository's hash function.
pub fn empty_tree(git: &Git) -> Result<String, GitError> {
    git.line_stdin(&["hash-object", "-t", "tree", "--stdin"], b"", &[])
}

/// Files that differ from `from` (a tree-ish; `None`: the empty tree) to
/// `to`, in path order. Renames are shown as a delete and an add, so every
/// path is counted once.
pub fn changes(git: &Git, from: Option<&str>, to: &str) -> Result<Vec<FileChange>, GitError> {
    let from = match from {
        Some(f) => f.to_string(),
        None => empty_tree(git)?,
    };
    let base = ["diff-tree", "-r", "-z", "--no-renames", "--no-textconv"];
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["--name-status", &from, to]);
    let status = git.run(&a)?;
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["--numstat", &from, to]);
    let numstat = git.run(&a)?;
    let mut out: Vec<FileChange> = vec![];
    let mut it = status.split('\0').filter(|s| !s.is_empty());
    while let (Some(st), Some(path)) = (it.next(), it.next()) {
        out.push(FileChange {
            path: path.to_string(),
            status: st.chars().next().unwrap_or('M'),
            added: 0,
            removed: 0,
            binary: false,
        });
    }
    // numstat -z: "ADDED\tREMOVED\tPATH\0" per file ("-\t-\t" for binary).
    for rec in numstat.split('\0').filter(|s| !s.is_empty()) {
        let mut f = rec.splitn(3, '\t');
        let (Some(ad), Some(rm), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Some(c) = out.iter_mut().find(|c| c.path == path) {
            c.binary = ad == "-";
            c.added = ad.parse().unwrap_or(0);
            c.removed = rm.parse().unwrap_or(0);
        }
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(out)
}

/// The unified patch (`-U1`) of `paths` between two tree-ishes, split per
/// file: `(path, hunk text)` with the `diff --git`/index/---/+++ headers
/// dropped.
pub fn patches(
    git: &Git,
    from: Option<&str>,
    to: &str,
    paths: &[String],
) -> Result<Vec<(String, String)>, GitError> {
    if paths.is_empty() {
        return Ok(vec![]);
    }
    let from = match from {
        Some(f) => f.to_string(),
        None => empty_tree(git)?,
    };
    let mut a = vec![
        "diff-tree",
        "-r",
        "-p",
        "-U1",
        "--no-color",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        &from,
        to,
        "--",
    ];
    let literal: Vec<String> = paths.iter().map(|p| format!(":(literal){p}")).collect();
    a.extend(literal.iter().map(String::as_str));
    let text = String::from_utf8_lossy(&git.bytes(&a)?).into_owned();
    Ok(split_patch(&text))
}

/// Split a multi-file patch into per-file hunks.
pub fn split_patch(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    let mut cur: Option<(String, String)> = None;
    let mut in_header = false;
    for l in text.lines() {
        if l.starts_with("diff --git ") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            cur = Some((String::new(), String::new()));
            in_header = true;
            continue;
        }
        let Some((path, body)) = cur.as_mut() else {
            continue;
        };
        if in_header {
            if let Some(p) = l.strip_prefix("+++ ") {
                if p != "/dev/null" {
                    *path = p.strip_prefix("b/").unwrap_or(p).to_string();
                }
                in_header = false;
            } else if let Some(p) = l.strip_prefix("--- ") {
                if p != "/dev/null" {
                    *path = p.strip_prefix("a/").unwrap_or(p).to_string();
                }
            } else if l.starts_with("Binary files") {
                in_header = false;
            }
            continue;
        }
        body.push_str(l);
        body.push('\n');
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out.retain(|(p, _)| !p.is_empty());
    out
}

/// `N files changed, +A -R`.
pub fn stat_line(files: &[FileChange]) -> String {
    let added: u64 = files.iter().map(|f| f.added).sum();
    let removed: u64 = files.iter().map(|f| f.removed).sum();
    format!(
        "{} file{} changed, +{added} -{removed}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_split_per_file_without_headers() {
        let p = "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n\
                 diff --git a/gone b/gone\ndeleted file mode 100644\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n";
        let s = split_patch(p);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], ("x".to_string(), "@@ -1 +1 @@\n-a\n+b\n".to_string()));
        assert_eq!(s[1].0, "gone");
        assert!(s[1].1.contains("-old"));
    }
}
