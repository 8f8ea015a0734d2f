//! Shadow snapshots: the whole working tree committed to
//! `refs/arcane/shadow/<branch>`, without touching the user's HEAD, index,
//! stash or working tree.
//!
//! A snapshot is built on a private index (`.git/arcane/shadow-index`):
//! `read-tree -m <parent>`, `add -A`, `write-tree`, `commit-tree`,
//! `update-ref`. `git add` is what applies `.gitignore`, `.gitattributes`,
//! `core.autocrlf` and arcane's clean filter, so a snapshot stores exactly
//! what `git add -A && git commit` would. The private index keeps stat data
//! between snapshots (and `read-tree -m` keeps it for unchanged entries),
//! so a snapshot re-reads only the files that changed.
//!
//! The snapshots since the current HEAD form one chain: each has the
//! previous as parent and says the HEAD it started from in a trailer
//! (`Arcane-Shadow-Base`). When HEAD moves (a commit, a branch switch), the
//! next snapshot starts a new chain on it; the old chain stays in the
//! shadow ref's reflog.
//!
//! Encrypted env files: with arcane's filter configured the clean filter
//! encrypts them; without it, a plaintext one is left out of the snapshot
//! (and said), never added. Every env blob in the snapshot is then checked
//! to be sealed, and the leak scanner runs on the lines the snapshot adds;
//! any finding blocks the snapshot.

use super::cli::{Git, Repo};
use super::diff::{self, FileChange};
use super::message::Message;
use super::GitError;
use crate::secrets::scan::{scan_diff, Allowlist, Finding};
use crate::secrets::sealed;
use std::path::PathBuf;

pub const SHADOW_PREFIX: &str = "refs/arcane/shadow/";
/// The trailer naming the HEAD a snapshot chain started from.
pub const BASE_TRAILER: &str = "Arcane-Shadow-Base";
/// Env files by name (any `config/envs/*.env`), besides `filter=arcane`.
const ENV_SPECS: [&str; 3] = [
    ":(attr:filter=arcane)",
    ":(glob)config/envs/*.env",
    ":(glob)**/config/envs/*.env",
];

/// The shadow ref of a branch (`detached` for a detached HEAD).
pub fn shadow_ref(branch: Option<&str>) -> String {
    format!("{SHADOW_PREFIX}{}", branch.unwrap_or("detached"))
}

/// A snapshot built on the private index, not yet committed.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub branch: Option<String>,
    pub shadow_ref: String,
    /// The shadow ref's current value (the update is made against it).
    pub old: Option<String>,
    /// HEAD; the chain's base.
    pub head: Option<String>,
    /// The previous snapshot of this chain, else HEAD.
    pub parent: Option<String>,
    pub parent_tree: Option<String>,
    pub tree: String,
    /// What changed since the parent.
    pub changes: Vec<FileChange>,
    /// Leak scanner findings and plaintext env blobs: they block it.
    pub findings: Vec<Finding>,
    /// Plaintext env files left out because no filter would encrypt them.
    pub left_out: Vec<String>,
    /// Why the filter could not encrypt them, when it failed.
    pub filter_error: Option<String>,
    /// Paths with `filter=arcane` (never shown to a model).
    pub encrypted: Vec<String>,
}

impl Snapshot {
    /// Nothing changed since the parent.
    pub fn unchanged(&self) -> bool {
        self.parent_tree.as_deref() == Some(self.tree.as_str())
    }

    pub fn blocked(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// The base a shadow commit names in its trailer (`None`: an unborn
/// branch, or not a shadow commit).
pub fn base_of(git: &Git, commit: &str) -> Option<String> {
    trailer_base(git, commit).filter(|s| s != "none")
}

/// The trailer's raw value: a sha, or `none` for a chain on an unborn branch.
fn trailer_base(git: &Git, commit: &str) -> Option<String> {
    let msg = git.run(&["show", "-s", "--format=%B", commit]).ok()?;
    let prefix = format!("{BASE_TRAILER}: ");
    msg.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|s| s.trim().to_string())
}

/// The private index of this work tree.
pub fn index_path(repo: &Repo) -> PathBuf {
    repo.state_dir().join("shadow-index")
}

/// Build the snapshot of the working tree as it is now.
pub fn prepare(repo: &Repo, allow: &Allowlist, filters: bool) -> Result<Snapshot, GitError> {
    let branch = repo.branch();
    let sref = shadow_ref(branch.as_deref());
    let head = repo.head();
    let old = repo.git.resolve(&sref);
    let want = head.clone().unwrap_or_else(|| "none".into());
    let continuing = old
        .as_deref()
        .is_some_and(|o| trailer_base(&repo.git, o).as_deref() == Some(want.as_str()));
    let parent = if continuing {
        old.clone()
    } else {
        head.clone()
    };
    let parent_tree = match &parent {
        Some(p) => Some(repo.git.tree_of(p)?),
        None => None,
    };

    let index = index_path(repo);
    std::fs::create_dir_all(repo.state_dir()).map_err(|e| GitError::Io {
        path: repo.state_dir(),
        source: e,
    })?;
    if !index.exists() {
        // The user's stat data makes the first snapshot fast; it is only read.
        let _ = std::fs::copy(repo.git_dir.join("index"), &index);
    }
    let git = repo.git.with_index(&index);
    match &parent {
        Some(p) => {
            if git.bytes(&["read-tree", "-m", p]).is_err() {
                // An index git cannot merge (a conflicted copy): start over.
                git.bytes(&["read-tree", p])?;
            }
        }
        None => {
            git.bytes(&["read-tree", "--empty"])?;
        }
    }

    // Env files: which exist, which git encrypts, which are plaintext.
    let mut args = vec!["ls-files", "-co", "--exclude-standard", "-z", "--"];
    args.extend(ENV_SPECS);
    let env_files: Vec<String> = split0(&git.run(&args)?);
    let encrypted = filtered(&git, &env_files)?;
    let mut left_out = vec![];
    for f in &env_files {
        let Ok(text) = std::fs::read_to_string(repo.top.join(f)) else {
            continue; // deleted, or not text: `add -A` records what git would
        };
        if sealed::check_text(f, &text, "working tree").is_none() {
            continue;
        }
        if !(filters && encrypted.contains(f)) {
            left_out.push(f.clone());
        }
    }
    let add_all = |leave: &[String]| -> Result<Vec<u8>, GitError> {
        let mut add = vec!["add".to_string(), "-A".to_string()];
        if !leave.is_empty() {
            add.push("--".into());
            add.push(".".into());
            add.extend(leave.iter().map(|f| format!(":(exclude,literal){f}")));
        }
        let add: Vec<&str> = add.iter().map(String::as_str).collect();
        git.bytes(&add)
    };
    let mut filter_error = None;
    if let Err(e) = add_all(&left_out) {
        // The clean filter could not encrypt (no key here, a passphrase
        // nobody can type to a service): the rest of the work is still
        // worth a snapshot, without the env files.
        let plain: Vec<String> = env_files
            .iter()
            .filter(|f| {
                std::fs::read_to_string(repo.top.join(f))
                    .is_ok_and(|t| sealed::check_text(f, &t, "").is_some())
            })
            .cloned()
            .collect();
        if plain.is_empty() || plain == left_out {
            return Err(e);
        }
        add_all(&plain)?;
        left_out = plain;
        filter_error = Some(e.to_string());
    }
    let tree = git.line(&["write-tree"])?;

    // Every env blob in the snapshot must be sealed, whatever happened above.
    let mut findings = vec![];
    let mut args = vec!["ls-files", "-s", "-z", "--"];
    args.extend(ENV_SPECS);
    for entry in split0(&git.run(&args)?) {
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let Some(oid) = meta.split_whitespace().nth(1) else {
            continue;
        };
        let blob = git.bytes(&["cat-file", "blob", oid])?;
        let text = String::from_utf8_lossy(&blob);
        let short = &oid[..oid.len().min(12)];
        if let Some(f) = sealed::check_text(path, &text, &format!("snapshot blob {short}")) {
            findings.push(f);
        }
    }
    // The leak scanner, on the lines this snapshot adds.
    let from = match &parent_tree {
        Some(t) => t.clone(),
        None => diff::empty_tree(&git)?,
    };
    let patch = git.run(&[
        "diff-tree",
        "-r",
        "-p",
        "-U0",
        "--no-color",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--diff-filter=ACMR",
        &from,
        &tree,
    ])?;
    findings.extend(scan_diff(&patch, allow));
    let changes = diff::changes(&git, parent_tree.as_deref(), &tree)?;
    Ok(Snapshot {
        branch,
        shadow_ref: sref,
        old,
        head,
        parent,
        parent_tree,
        tree,
        changes,
        findings,
        left_out,
        filter_error,
        encrypted,
    })
}

fn split0(s: &str) -> Vec<String> {
    s.split('\0')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// Which of `files` have `filter=arcane`.
fn filtered(git: &Git, files: &[String]) -> Result<Vec<String>, GitError> {
    if files.is_empty() {
        return Ok(vec![]);
    }
    let mut args = vec!["check-attr", "-z", "filter", "--"];
    args.extend(files.iter().map(String::as_str));
    let out = git.run(&args)?;
    let parts: Vec<&str> = out.split('\0').collect();
    Ok(parts
        .chunks(3)
        .filter(|c| c.len() == 3 && c[2] == "arcane")
        .map(|c| c[0].to_string())
        .collect())
}

/// An identity for commits when git has none configured (a service
/// account): git refuses to commit without one.
pub fn fallback_identity(git: &Git) -> Vec<(&'static str, &'static str)> {
    if git.ok(&["var", "GIT_COMMITTER_IDENT"]) && git.ok(&["var", "GIT_AUTHOR_IDENT"]) {
        return vec![];
    }
    vec![
        ("GIT_AUTHOR_NAME", "arcane"),
        ("GIT_AUTHOR_EMAIL", "arcane@localhost"),
        ("GIT_COMMITTER_NAME", "arcane"),
        ("GIT_COMMITTER_EMAIL", "arcane@localhost"),
    ]
}

/// Commit a prepared snapshot and move the shadow ref to it (only if the
/// ref still is where it was when the snapshot was prepared).
pub fn commit(repo: &Repo, snap: &Snapshot, message: &Message) -> Result<String, GitError> {
    if snap.blocked() {
        return Err(GitError::Failed(
            "a blocked snapshot is never committed".into(),
        ));
    }
    let text = format!(
        "{}\n{BASE_TRAILER}: {}\n",
        message.full(),
        snap.head.as_deref().unwrap_or("none")
    );
    let mut args = vec!["commit-tree", snap.tree.as_str()];
    if let Some(p) = &snap.parent {
        args.extend(["-p", p.as_str()]);
    }
    args.extend(["-F", "-"]);
    let env = fallback_identity(&repo.git);
    let sha = repo.git.line_stdin(&args, text.as_bytes(), &env)?;
    repo.git.bytes(&[
        "update-ref",
        "--create-reflog",
        "-m",
        "arcane: shadow snapshot",
        &snap.shadow_ref,
        &sha,
        snap.old.as_deref().unwrap_or(""),
    ])?;
    Ok(sha)
}

pub use crate::event::report::{ShadowChain as Chain, SnapshotRow};

/// The current branch's shadow chain (at most `limit` snapshots).
pub fn chain(repo: &Repo, limit: usize) -> Result<Chain, GitError> {
    let branch = repo.branch();
    let sref = shadow_ref(branch.as_deref());
    let mut c = Chain {
        shadow_ref: sref.clone(),
        branch,
        ..Default::default()
    };
    let Some(tip) = repo.git.resolve(&sref) else {
        return Ok(c);
    };
    c.base = base_of(&repo.git, &tip);
    c.on_head = c.base.is_some() && c.base == repo.head();
    let n = format!("-n{limit}");
    let mut args = vec![
        "log",
        "--first-parent",
        "--format=%H%x00%ct%x00%s",
        &n,
        &tip,
    ];
    let not_base = c.base.as_ref().map(|b| format!("^{b}"));
    if let Some(b) = &not_base {
        args.push(b);
    }
    for l in repo.git.run(&args)?.lines() {
        let mut f = l.split('\0');
        if let (Some(sha), Some(t), Some(s)) = (f.next(), f.next(), f.next()) {
            c.snapshots.push(SnapshotRow {
                sha: sha.to_string(),
                time: t.parse().unwrap_or(0),
                subject: s.to_string(),
            });
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A repository made with git2 (a commit, a staged file, an
    /// untracked one); the snapshot is checked with git2 too.
    #[test]
    fn a_snapshot_holds_the_working_tree_and_leaves_the_index_alone_git2() {
        let d = tempfile::tempdir().unwrap();
        let r = git2::Repository::init(d.path()).unwrap();
        let w = d.path();
        std::fs::write(w.join("a.txt"), "one\n").unwrap();
        std::fs::write(w.join(".gitignore"), "*.tmp\n").unwrap();
        let mut idx = r.index().unwrap();
        idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        idx.write().unwrap();
        let tree = r.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.org").unwrap();
        let head = r
            .commit(Some("HEAD"), &sig, &sig, "first", &tree, &[])
            .unwrap();
        std::fs::write(w.join("staged.txt"), "staged\n").unwrap();
        idx.add_path(Path::new("staged.txt")).unwrap();
        idx.write().unwrap();
        std::fs::write(w.join("a.txt"), "two\n").unwrap();
        std::fs::write(w.join("new.txt"), "new\n").unwrap();
        std::fs::write(w.join("junk.tmp"), "junk\n").unwrap();
        let index_before = std::fs::read(r.path().join("index")).unwrap();

        let repo = Repo::discover(w).unwrap();
        let snap = prepare(&repo, &Allowlist::default(), false).unwrap();
        assert!(!snap.unchanged() && !snap.blocked());
        let paths: Vec<&str> = snap.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "new.txt", "staged.txt"]);
        let m = Message {
            subject: "chore: snapshot".into(),
            body: String::new(),
        };
        let sha = commit(&repo, &snap, &m).unwrap();

        let c = r.find_commit(git2::Oid::from_str(&sha).unwrap()).unwrap();
        assert_eq!(c.parent_id(0).unwrap(), head);
        assert!(c
            .message()
            .unwrap()
            .contains(&format!("{BASE_TRAILER}: {head}")));
        let t = c.tree().unwrap();
        let blob = |p: &str| {
            let e = t.get_path(Path::new(p)).unwrap();
            String::from_utf8(r.find_blob(e.id()).unwrap().content().to_vec()).unwrap()
        };
        assert_eq!(blob("a.txt"), "two\n");
        assert_eq!(blob("new.txt"), "new\n");
        assert!(t.get_path(Path::new("junk.tmp")).is_err(), "ignored");
        assert_eq!(r.head().unwrap().target().unwrap(), head, "HEAD");
        assert_eq!(std::fs::read(r.path().join("index")).unwrap(), index_before);
        assert_eq!(
            r.find_reference("refs/arcane/shadow/master")
                .or_else(|_| r.find_reference("refs/arcane/shadow/main"))
                .unwrap()
                .target()
                .unwrap()
                .to_string(),
            sha
        );

        // Nothing changed: nothing to commit. A second change continues the chain.
        assert!(prepare(&repo, &Allowlist::default(), false)
            .unwrap()
            .unchanged());
        std::fs::write(w.join("a.txt"), "three\n").unwrap();
        let next = prepare(&repo, &Allowlist::default(), false).unwrap();
        assert_eq!(next.parent.as_deref(), Some(sha.as_str()));
        assert_eq!(chain(&repo, 10).unwrap().snapshots.len(), 1);
    }
}
