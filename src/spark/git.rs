//! The git commands Spark runs on the build machine: a bare mirror per app
//! (fetched, never pushed), `ls-remote` for polling, and one clean worktree
//! per job at the exact commit.
//!
//! git runs with `GIT_TERMINAL_PROMPT=0`, so a repository that needs a
//! password fails at once instead of waiting for a terminal; repository
//! URLs carry no credentials (the config refuses them), so no secret is
//! ever in git's argv. Each command is in the job's log.

use crate::cancel::Cancel;
use crate::event::{Emitter, Stream};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A command that takes longer is killed (a hung server, a huge clone).
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// Run `git args` in `cwd`; stdout on success, a message naming the
/// command and git's last lines otherwise.
pub fn git(
    args: &[&str],
    cwd: Option<&Path>,
    em: &Emitter,
    cancel: &Cancel,
) -> Result<String, String> {
    let shown = format!("git {}", args.join(" "));
    em.command(&shown);
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{shown}: cannot run git: {e}"))?;
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if cancel.is_cancelled() => break Err("cancelled"),
            Ok(None) if started.elapsed() > TIMEOUT => break Err("timed out"),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break Err("lost"),
        }
    };
    if status.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    for l in err.lines().filter(|l| !l.trim().is_empty()) {
        em.log_verbose(Stream::Stderr, l);
    }
    match status {
        Ok(s) if s.success() => Ok(out),
        Ok(s) => {
            let tail: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(3)..].join("; ");
            Err(em.redactor().redact(&format!(
                "{shown} failed ({}){}",
                s.code()
                    .map(|c| format!("exit {c}"))
                    .unwrap_or("killed".into()),
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                }
            )))
        }
        Err(why) => Err(format!("{shown} {why}")),
    }
}

/// Make `mirror` a bare clone of `repo` with its branches up to date.
pub fn fetch(mirror: &Path, repo: &str, em: &Emitter, cancel: &Cancel) -> Result<(), String> {
    let m = mirror.to_string_lossy().to_string();
    if !mirror.join("HEAD").exists() {
        std::fs::create_dir_all(mirror).map_err(|e| format!("creating {m}: {e}"))?;
        git(&["init", "--bare", "--quiet", &m], None, em, cancel)?;
    }
    // The URL is set every time: the config may have changed it.
    git(
        &["-C", &m, "config", "remote.origin.url", repo],
        None,
        em,
        cancel,
    )?;
    git(
        &[
            "-C",
            &m,
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
        ],
        None,
        em,
        cancel,
    )?;
    Ok(())
}

/// Whether the mirror has commit `sha`; fetch it by id if the branches
/// no longer lead to it (a force push since the webhook).
pub fn ensure_commit(
    mirror: &Path,
    sha: &str,
    em: &Emitter,
    cancel: &Cancel,
) -> Result<(), String> {
    let m = mirror.to_string_lossy().to_string();
    let have = |em: &Emitter| {
        git(
            &["-C", &m, "cat-file", "-e", &format!("{sha}^{{commit}}")],
            None,
            em,
            cancel,
        )
        .is_ok()
    };
    if have(em) {
        return Ok(());
    }
    let _ = git(
        &["-C", &m, "fetch", "--quiet", "origin", sha],
        None,
        em,
        cancel,
    );
    if have(em) {
        Ok(())
    } else {
        Err(format!(
            "commit {sha} is not in the repository (was it force-pushed away?)"
        ))
    }
}

/// Check out `sha` into a new worktree `dir` (detached, clean).
pub fn worktree_add(
    mirror: &Path,
    dir: &Path,
    sha: &str,
    em: &Emitter,
    cancel: &Cancel,
) -> Result<(), String> {
    let (m, d) = (
        mirror.to_string_lossy().to_string(),
        dir.to_string_lossy().to_string(),
    );
    let _ = git(&["-C", &m, "worktree", "prune"], None, em, cancel);
    git(
        &[
            "-C", &m, "worktree", "add", "--detach", "--force", "--quiet", &d, sha,
        ],
        None,
        em,
        cancel,
    )?;
    Ok(())
}

/// Remove a job's worktree, whatever state it is in.
pub fn worktree_remove(mirror: &Path, dir: &Path) {
    let (m, d) = (
        mirror.to_string_lossy().to_string(),
        dir.to_string_lossy().to_string(),
    );
    let em = Emitter::null();
    let c = Cancel::default();
    if git(
        &["-C", &m, "worktree", "remove", "--force", &d],
        None,
        &em,
        &c,
    )
    .is_err()
    {
        let _ = std::fs::remove_dir_all(dir);
        let _ = git(&["-C", &m, "worktree", "prune"], None, &em, &c);
    }
}

/// The heads of `branches` on `repo` (`git ls-remote`), by branch.
pub fn ls_remote(
    repo: &str,
    branches: &[&str],
    em: &Emitter,
    cancel: &Cancel,
) -> Result<Vec<(String, String)>, String> {
    let refs: Vec<String> = branches.iter().map(|b| format!("refs/heads/{b}")).collect();
    let mut args = vec!["ls-remote", "--heads", "--", repo];
    args.extend(refs.iter().map(String::as_str));
    let out = git(&args, None, em, cancel)?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (sha, r) = l.split_once('\t')?;
            let b = r.strip_prefix("refs/heads/")?;
            branches
                .contains(&b)
                .then(|| (b.to_string(), sha.trim().to_string()))
        })
        .collect())
}
