//! Real git repositories for the git assistant's tests: a person with their
//! own HOME and XDG config (so identities and git config never touch the
//! machine's), an arcane project made by `arcane init` (filters and hook
//! configured), and helpers to run git and arcane in it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_arcane");

pub struct Fixture {
    pub home: tempfile::TempDir,
    pub dir: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl Fixture {
    /// An empty git repository on `main`, no arcane project yet.
    pub fn bare_repo() -> Fixture {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("proj");
        std::fs::create_dir(&dir).unwrap();
        let f = Fixture {
            home,
            dir,
            extra_env: vec![],
        };
        f.git_ok(&["init", "-q", "-b", "main"]);
        f
    }

    /// `arcane init` (identity, keys, filters, hook), `[git.watch]` with a
    /// short debounce, an encrypted staging secret, all committed.
    pub fn project() -> Fixture {
        let f = Fixture::bare_repo();
        f.ok(&["init", "--name", "demo"]);
        f.append_toml("\n[git.watch]\ndebounce_ms = 200\nmax_wait_ms = 2000\n");
        f.ok(&[
            "env",
            "set",
            "DB_PASSWORD",
            "Sup3rS3cretPw",
            "--env",
            "staging",
        ]);
        f.write("src/app.rs", "fn main() {}\n");
        f.git_ok(&["add", "-A"]);
        f.git_ok(&["commit", "-q", "-m", "chore: start"]);
        f
    }

    pub fn append_toml(&self, text: &str) {
        let p = self.dir.join("arcane.toml");
        let mut t = std::fs::read_to_string(&p).unwrap();
        t.push_str(text);
        std::fs::write(p, t).unwrap();
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    pub fn env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.org")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.org")
            .env("EDITOR", "true");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        self.env(&mut c);
        c.current_dir(&self.dir).args(args);
        c
    }

    pub fn arcane(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.arcane(args);
        assert!(
            o.status.success(),
            "arcane {args:?} failed ({:?}): {}{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("git");
        self.env(&mut c);
        c.current_dir(dir).args(args).output().unwrap()
    }

    pub fn git(&self, args: &[&str]) -> Output {
        self.git_in(&self.dir, args)
    }

    pub fn git_ok(&self, args: &[&str]) -> String {
        let o = self.git(args);
        assert!(
            o.status.success(),
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    pub fn rev(&self, r: &str) -> Option<String> {
        let o = self.git(&["rev-parse", "--verify", "-q", r]);
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// Everything a user sees of their repository: HEAD, every branch, the
    /// index file's bytes, the stash and `git status`.
    pub fn user_state(&self) -> (String, String, Vec<u8>, String, String) {
        let head =
            self.git_ok(&["symbolic-ref", "HEAD"]) + " " + &self.rev("HEAD").unwrap_or_default();
        let branches = self.git_ok(&["for-each-ref", "refs/heads", "refs/stash", "refs/tags"]);
        let index = std::fs::read(self.dir.join(".git/index")).unwrap_or_default();
        let stash = self.git_ok(&["stash", "list"]);
        // GIT_OPTIONAL_LOCKS=0: our own `git status` must not refresh the
        // index we compare byte for byte.
        let mut c = Command::new("git");
        self.env(&mut c);
        let o = c
            .env("GIT_OPTIONAL_LOCKS", "0")
            .current_dir(&self.dir)
            .args(["status", "--porcelain=v1", "-uall"])
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&o.stdout).into_owned();
        (head, branches, index, stash, status)
    }

    pub fn shadow(&self) -> Option<String> {
        self.rev("refs/arcane/shadow/main")
    }
}
