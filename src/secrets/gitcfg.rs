//! Git plumbing for secrets: the filter/diff config, `.gitattributes` and the
//! pre-commit hook.
//!
//! The filter commands use the absolute path of the running arcane binary.
//! `.git/config` is per clone and never shared, so each teammate's
//! `arcane setup` records *their* binary; an absolute path keeps working when
//! git is run from an IDE or a shell whose PATH lacks arcane, and it is what
//! makes a test binary that is not on PATH work. If the binary moves, re-run
//! `arcane setup` (with `filter.arcane.required = true`, git fails loudly
//! instead of committing plaintext when the path goes stale).

use super::SecretsError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The attribute line every project gets.
pub const ATTR_LINE: &str = "config/envs/*.env filter=arcane diff=arcane";

/// Run git in `dir`; stdout on success.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, SecretsError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SecretsError::io("running git (is it installed?)", e))?;
    if !out.status.success() {
        return Err(SecretsError::Failed(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Is `dir` inside a git work tree?
pub fn in_repo(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|s| s.trim() == "true")
}

/// Are arcane's filters configured for this clone?
pub fn filters_configured(dir: &Path) -> bool {
    git(dir, &["config", "--get", "filter.arcane.process"]).is_ok_and(|s| !s.trim().is_empty())
}

/// Shell-quote a path for a git config command line.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The binary to record in the git config.
pub fn current_exe() -> Result<PathBuf, SecretsError> {
    std::env::current_exe().map_err(|e| SecretsError::io("finding the arcane binary", e))
}

/// Write the filter and diff driver config into this clone's `.git/config`.
pub fn configure_filters(dir: &Path, exe: &Path) -> Result<(), SecretsError> {
    let q = sh_quote(&exe.display().to_string());
    let settings = [
        ("filter.arcane.process", format!("{q} filter process")),
        ("filter.arcane.clean", format!("{q} filter clean %f")),
        ("filter.arcane.smudge", format!("{q} filter smudge %f")),
        ("filter.arcane.required", "true".to_string()),
        ("diff.arcane.textconv", format!("{q} filter textconv")),
    ];
    for (k, v) in settings {
        git(dir, &["config", "--local", k, &v])?;
    }
    Ok(())
}

/// Ensure `.gitattributes` in `root` routes env files through the filter.
/// Returns whether it changed.
pub fn write_gitattributes(root: &Path) -> Result<bool, SecretsError> {
    let p = root.join(".gitattributes");
    let cur = std::fs::read_to_string(&p).unwrap_or_default();
    if cur.lines().any(|l| l.trim() == ATTR_LINE) {
        return Ok(false);
    }
    let mut next = cur.clone();
    if !next.is_empty() && !next.ends_with('\n') {
        next.push('\n');
    }
    next.push_str("# arcane: env files are encrypted in git, plaintext in the working tree\n");
    next.push_str(ATTR_LINE);
    next.push('\n');
    super::write_atomic(&p, next.as_bytes(), 0o644)?;
    Ok(true)
}

/// The hooks directory of this clone (honours core.hooksPath).
fn hooks_dir(dir: &Path) -> Result<PathBuf, SecretsError> {
    let p = git(dir, &["rev-parse", "--git-path", "hooks"])?;
    let p = PathBuf::from(p.trim());
    Ok(if p.is_absolute() { p } else { dir.join(p) })
}

const HOOK_MARKER: &str = "# installed by arcane";

/// Install the pre-commit hook. An existing foreign hook is not overwritten.
pub fn install_hook(dir: &Path, exe: &Path) -> Result<PathBuf, SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let hooks = hooks_dir(dir)?;
    let path = hooks.join("pre-commit");
    if let Ok(cur) = std::fs::read_to_string(&path) {
        if !cur.contains(HOOK_MARKER) {
            return Err(SecretsError::input(format!(
                "{} already exists and was not written by arcane; add `arcane hooks pre-commit` to it yourself",
                path.display()
            )));
        }
    }
    let exe = sh_quote(&exe.display().to_string());
    let script = format!(
        "#!/bin/sh\n{HOOK_MARKER}: leak scanner + encryption check on staged changes.\n\
         # Bypass once with `git commit --no-verify` (then you own the consequences).\n\
         if [ -x {exe} ]; then exec {exe} hooks pre-commit; fi\n\
         exec arcane hooks pre-commit\n"
    );
    std::fs::create_dir_all(&hooks)
        .map_err(|e| SecretsError::io(format!("creating {}", hooks.display()), e))?;
    super::write_atomic(&path, script.as_bytes(), 0o755)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| SecretsError::io(format!("chmod {}", path.display()), e))?;
    Ok(path)
}

/// Staged files (added, copied, modified, renamed), relative to the repo top.
pub fn staged_files(dir: &Path) -> Result<Vec<String>, SecretsError> {
    let out = git(
        dir,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--diff-filter=ACMR",
        ],
    )?;
    Ok(out
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect())
}

/// Which of `files` have `filter=arcane`.
pub fn arcane_filtered(dir: &Path, files: &[String]) -> Result<Vec<String>, SecretsError> {
    if files.is_empty() {
        return Ok(vec![]);
    }
    let mut args = vec!["check-attr", "-z", "filter", "--"];
    args.extend(files.iter().map(String::as_str));
    let out = git(dir, &args)?;
    let parts: Vec<&str> = out.split('\0').collect();
    Ok(parts
        .chunks(3)
        .filter(|c| c.len() == 3 && c[2] == "arcane")
        .map(|c| c[0].to_string())
        .collect())
}

/// The staged content of a path (the blob in the index).
pub fn staged_blob(dir: &Path, path: &str) -> Result<Vec<u8>, SecretsError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "blob", &format!(":{path}")])
        .output()
        .map_err(|e| SecretsError::io("running git", e))?;
    if !out.status.success() {
        return Err(SecretsError::Failed(format!("git cat-file :{path} failed")));
    }
    Ok(out.stdout)
}

/// The index's version of `rel` (relative to `dir`), or `None` when `dir`
/// is not in a repository or the file is not tracked.
pub fn index_blob(dir: &Path, rel: &Path) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "blob"])
        .arg(format!(":./{}", rel.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// The repo's top-level directory.
pub fn toplevel(dir: &Path) -> Result<PathBuf, SecretsError> {
    Ok(PathBuf::from(
        git(dir, &["rev-parse", "--show-toplevel"])?.trim(),
    ))
}
