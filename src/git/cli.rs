//! The git command line, run for the git assistant (shadow snapshots,
//! squash, commit).
//!
//! The CLI rather than libgit2 for everything that must behave exactly like
//! `git add`: clean filters (arcane's own, for encrypted env files),
//! `.gitattributes`, `.gitignore`, `core.autocrlf` and hooks. Every command
//! runs with `GIT_OPTIONAL_LOCKS=0`, so reading commands (`diff`, `status`)
//! never refresh the user's index behind their back, and with an explicit
//! `GIT_INDEX_FILE` (ours, or none) so an inherited one cannot redirect them.

use super::GitError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A git runner for one work tree, optionally on a private index file.
#[derive(Debug, Clone)]
pub struct Git {
    top: PathBuf,
    index: Option<PathBuf>,
}

impl Git {
    pub fn new(top: &Path) -> Git {
        Git {
            top: top.to_path_buf(),
            index: None,
        }
    }

    /// The same work tree with `GIT_INDEX_FILE=index`: the user's index is
    /// never read or written by commands of this runner.
    pub fn with_index(&self, index: &Path) -> Git {
        Git {
            top: self.top.clone(),
            index: Some(index.to_path_buf()),
        }
    }

    pub fn top(&self) -> &Path {
        &self.top
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.top).args(args);
        c.env("GIT_OPTIONAL_LOCKS", "0")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
        if let Some(i) = &self.index {
            c.env("GIT_INDEX_FILE", i);
        }
        c
    }

    /// Run; stdout as bytes on success.
    pub fn bytes(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        self.bytes_env(args, &[])
    }

    /// [`Git::bytes`] with extra environment variables (author dates).
    pub fn bytes_env(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Vec<u8>, GitError> {
        let mut c = self.command(args);
        c.envs(env.iter().copied()).stdin(Stdio::null());
        let out = c.output().map_err(|e| GitError::Io {
            path: PathBuf::from("git"),
            source: e,
        })?;
        if !out.status.success() {
            return Err(GitError::Cli {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    /// Run; stdout as text on success.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        Ok(String::from_utf8_lossy(&self.bytes(args)?).into_owned())
    }

    /// Run; stdout trimmed (a sha, a ref name).
    pub fn line(&self, args: &[&str]) -> Result<String, GitError> {
        Ok(self.run(args)?.trim().to_string())
    }

    /// Whether the command succeeds (`rev-parse --verify`, `merge-base
    /// --is-ancestor`).
    pub fn ok(&self, args: &[&str]) -> bool {
        let mut c = self.command(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.status().is_ok_and(|s| s.success())
    }

    /// Run with `input` on stdin and extra environment; stdout trimmed.
    pub fn line_stdin(
        &self,
        args: &[&str],
        input: &[u8],
        env: &[(&str, &str)],
    ) -> Result<String, GitError> {
        let mut c = self.command(args);
        c.envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| GitError::Io {
            path: PathBuf::from("git"),
            source: e,
        })?;
        let mut stdin = child.stdin.take().expect("piped");
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().map_err(|e| GitError::Io {
            path: PathBuf::from("git"),
            source: e,
        })?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(GitError::Cli {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The full sha `rev` names, or `None`.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        self.line(&["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The tree of a commit.
    pub fn tree_of(&self, commit: &str) -> Result<String, GitError> {
        self.line(&["rev-parse", &format!("{commit}^{{tree}}")])
    }
}

/// Where a work tree's repository lives.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The work tree's top directory.
    pub top: PathBuf,
    /// This work tree's git dir (`.git`, or `.git/worktrees/NAME`).
    pub git_dir: PathBuf,
    pub git: Git,
}

impl Repo {
    /// The repository containing `dir` (a work tree; bare repositories have
    /// nothing to watch or snapshot).
    pub fn discover(dir: &Path) -> Result<Repo, GitError> {
        let probe = Git::new(dir);
        let out = probe
            .run(&["rev-parse", "--show-toplevel", "--absolute-git-dir"])
            .map_err(|_| GitError::NotARepo(dir.to_path_buf()))?;
        let mut lines = out.lines();
        let (Some(top), Some(git_dir)) = (lines.next(), lines.next()) else {
            return Err(GitError::NotARepo(dir.to_path_buf()));
        };
        let top = PathBuf::from(top);
        Ok(Repo {
            git: Git::new(&top),
            top,
            git_dir: PathBuf::from(git_dir),
        })
    }

    /// The current branch's short name, `None` when HEAD is detached.
    pub fn branch(&self) -> Option<String> {
        self.git
            .line(&["symbolic-ref", "-q", "--short", "HEAD"])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// HEAD's sha, `None` on an unborn branch.
    pub fn head(&self) -> Option<String> {
        self.git.resolve("HEAD")
    }

    /// A directory of arcane's own state inside this work tree's git dir.
    pub fn state_dir(&self) -> PathBuf {
        self.git_dir.join("arcane")
    }

    /// Whether a git command holds the user's index (a commit, checkout,
    /// rebase step is under way): snapshots wait for it.
    pub fn busy(&self) -> bool {
        self.git_dir.join("index.lock").exists()
    }
}
