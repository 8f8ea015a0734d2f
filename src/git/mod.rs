//! Git integration: the current commit, dirty state and the commit graph
//! the TUI draws (git2), and the git assistant: shadow snapshots
//! ([`shadow`], [`watch`]), generated messages ([`message`]) and smart
//! squash ([`squash`]), which run the git CLI ([`cli`]) so filters and
//! attributes apply exactly as in `git add`.
//!
//! Images are tagged by commit so a release always names the code it runs. A
//! dirty tree gets a content hash on top, so two builds of the same uncommitted
//! content share a tag (and docker's cache), while any edit gives a new one.

pub mod cli;
pub mod conventional;
pub mod diff;
pub mod message;
pub mod service;
pub mod shadow;
pub mod squash;
pub mod watch;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository; arcane tags images by commit: run `git init` and commit your code")]
    NotARepo(PathBuf),
    #[error("the git repository at {0} has no commits yet; commit your code first (images are tagged by commit)")]
    NoCommits(PathBuf),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("git {args} failed: {stderr}")]
    Cli { args: String, stderr: String },
    /// Something the user can fix (exit 2).
    #[error("{0}")]
    Input(String),
    /// Something that failed for another reason (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl crate::error::HasKind for GitError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            GitError::NotARepo(_) | GitError::NoCommits(_) | GitError::Input(_) => {
                crate::error::ErrorKind::Input
            }
            _ => crate::error::ErrorKind::Failed,
        }
    }
}

/// Where the working tree stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    /// Full hex sha of HEAD.
    pub sha: String,
    /// First 12 hex digits of HEAD.
    pub short: String,
    /// Hash of the uncommitted content (modified, staged, deleted and
    /// untracked-but-not-ignored files), `None` when the tree is clean.
    pub dirty_hash: Option<String>,
}

impl GitState {
    pub fn is_dirty(&self) -> bool {
        self.dirty_hash.is_some()
    }

    /// The version string images and releases are tagged with:
    /// `<sha>` or `<sha>-dirty-<hash>`.
    pub fn version(&self) -> String {
        match &self.dirty_hash {
            None => self.sha.clone(),
            Some(h) => format!("{}-dirty-{}", self.sha, h),
        }
    }
}

/// One commit for the TUI's graph.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    pub sha: String,
    pub short: String,
    pub summary: String,
    pub author: String,
    /// Seconds since the Unix epoch (commit time).
    pub time: i64,
    pub parents: Vec<String>,
}

fn open(path: &Path) -> Result<git2::Repository, GitError> {
    git2::Repository::discover(path).map_err(|e| {
        if e.code() == git2::ErrorCode::NotFound {
            GitError::NotARepo(path.to_path_buf())
        } else {
            GitError::Git(e)
        }
    })
}

fn head_commit<'r>(repo: &'r git2::Repository, path: &Path) -> Result<git2::Commit<'r>, GitError> {
    match repo.head() {
        Ok(h) => Ok(h.peel_to_commit()?),
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            Err(GitError::NoCommits(path.to_path_buf()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The commit and dirty state of the repository containing `path`.
pub fn state(path: &Path) -> Result<GitState, GitError> {
    let repo = open(path)?;
    let commit = head_commit(&repo, path)?;
    let sha = commit.id().to_string();
    let short = sha[..12].to_string();
    let dirty_hash = dirty_hash(&repo)?;
    Ok(GitState {
        sha,
        short,
        dirty_hash,
    })
}

/// A stable hash of everything that differs from HEAD in the working tree.
///
/// Fed with `path NUL state NUL content-hash` per changed file, in path order,
/// so it depends only on the content, not on timestamps or the index.
fn dirty_hash(repo: &git2::Repository) -> Result<Option<String>, GitError> {
    let Some(workdir) = repo.workdir() else {
        return Ok(None); // bare repository: nothing can be dirty
    };
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo.statuses(Some(&mut opts))?;
    let mut paths: Vec<String> = statuses
        .iter()
        .filter(|e| {
            let s = e.status();
            !s.is_empty() && !s.contains(git2::Status::IGNORED)
        })
        .filter_map(|e| e.path().map(str::to_string))
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    paths.sort();
    paths.dedup();
    let mut h = Sha256::new();
    for p in &paths {
        let full = workdir.join(p);
        h.update(p.as_bytes());
        h.update([0]);
        match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => h.update(b"deleted"),
            Err(e) => {
                return Err(GitError::Io {
                    path: full,
                    source: e,
                })
            }
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&full).map_err(|e| GitError::Io {
                    path: full.clone(),
                    source: e,
                })?;
                h.update(b"link\0");
                h.update(target.to_string_lossy().as_bytes());
            }
            Ok(m) if m.is_file() => {
                use std::os::unix::fs::PermissionsExt;
                let exec = m.permissions().mode() & 0o111 != 0;
                h.update(if exec { b"x\0" as &[u8] } else { b"f\0" });
                let mut f = std::fs::File::open(&full).map_err(|e| GitError::Io {
                    path: full.clone(),
                    source: e,
                })?;
                let mut fh = Sha256::new();
                std::io::copy(&mut f, &mut fh).map_err(|e| GitError::Io {
                    path: full.clone(),
                    source: e,
                })?;
                h.update(fh.finalize());
            }
            Ok(_) => h.update(b"other"),
        }
        h.update([b'\n']);
    }
    Ok(Some(hex::encode(h.finalize())[..16].to_string()))
}

/// The last `n` commits reachable from HEAD, newest first (topological and
/// time order), for the TUI's commit graph. An empty repository gives an
/// empty list.
pub fn log(repo_path: &Path, n: usize) -> Result<Vec<CommitInfo>, GitError> {
    let repo = open(repo_path)?;
    if repo.head().is_err() {
        return Ok(vec![]);
    }
    let mut walk = repo.revwalk()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)?;
    walk.push_head()?;
    let mut out = Vec::new();
    for oid in walk.take(n) {
        let c = repo.find_commit(oid?)?;
        let sha = c.id().to_string();
        out.push(CommitInfo {
            short: sha[..7].to_string(),
            sha,
            summary: c.summary().unwrap_or("").to_string(),
            author: c.author().name().unwrap_or("").to_string(),
            time: c.time().seconds(),
            parents: c.parent_ids().map(|p| p.to_string()).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_all(repo: &git2::Repository, msg: &str) {
        let mut idx = repo.index().unwrap();
        idx.add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        idx.write().unwrap();
        let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .map(|h| vec![h.peel_to_commit().unwrap()])
            .unwrap_or_default();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
            .unwrap();
    }

    #[test]
    fn clean_dirty_and_stable_hashes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(state(dir.path()), Err(GitError::NotARepo(_))));
        let repo = git2::Repository::init(dir.path()).unwrap();
        assert!(matches!(state(dir.path()), Err(GitError::NoCommits(_))));
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        std::fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
        commit_all(&repo, "first");
        let clean = state(dir.path()).unwrap();
        assert!(!clean.is_dirty());
        assert_eq!(clean.version(), clean.sha);
        assert_eq!(clean.sha.len(), 40);

        // Ignored files do not make the tree dirty.
        std::fs::create_dir(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("target/x"), "junk").unwrap();
        assert!(!state(dir.path()).unwrap().is_dirty());

        std::fs::write(dir.path().join("a.txt"), "two").unwrap();
        let d1 = state(dir.path()).unwrap();
        assert!(d1.version().starts_with(&format!("{}-dirty-", clean.sha)));
        // Same content, same hash; different content, different hash.
        assert_eq!(state(dir.path()).unwrap(), d1);
        std::fs::write(dir.path().join("new.txt"), "untracked").unwrap();
        let d2 = state(dir.path()).unwrap();
        assert_ne!(d1.dirty_hash, d2.dirty_hash);
        std::fs::remove_file(dir.path().join("new.txt")).unwrap();
        assert_eq!(state(dir.path()).unwrap(), d1);

        // Back to the committed content: clean again.
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        assert!(!state(dir.path()).unwrap().is_dirty());

        // Works from a subdirectory too.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), "x").unwrap();
        commit_all(&repo, "second\n\nbody");
        let s = state(&dir.path().join("sub")).unwrap();
        assert!(!s.is_dirty());

        let l = log(dir.path(), 10).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].summary, "second");
        assert_eq!(l[0].sha, s.sha);
        assert_eq!(l[0].parents, vec![l[1].sha.clone()]);
        assert!(l[1].parents.is_empty());
        assert_eq!(l[0].author, "Ada");
        assert_eq!(log(dir.path(), 1).unwrap().len(), 1);
    }
}
