//! The git assistant's operations: one shadow snapshot, a generated commit,
//! smart squash, and the shadow chain for the dashboard. The watcher loop
//! is in [`super::git_watch`].

use super::{Ctx, Error};
use crate::config::git::{MessagesConfig, Provider};
use crate::error::{ErrorKind, HasKind};
use crate::event::report::*;
use crate::event::{Event, Redactor};
use crate::git::cli::Repo;
use crate::git::message::{self, prompt, Prompt};
use crate::git::{diff, shadow, squash, GitError};
use crate::interact::Confirm;
use crate::secrets::scan::{Allowlist, Finding};
use std::path::Path;
use std::time::Instant;

/// A git engine error as an operation error, keeping its kind.
pub(crate) fn gerr(e: GitError) -> Error {
    match e.kind() {
        ErrorKind::Input => Error::input(e.to_string()),
        _ => Error::Failed(e.to_string()),
    }
}

pub(crate) fn repo(ctx: &Ctx) -> Result<Repo, Error> {
    Repo::discover(&ctx.project.root).map_err(gerr)
}

pub(crate) fn row(f: &Finding) -> FindingRow {
    FindingRow {
        file: f.file.clone(),
        line: f.line,
        rule: f.rule.clone(),
        redacted: f.redacted.clone(),
        fingerprint: f.fingerprint.clone(),
    }
}

/// Values of the working tree's plaintext env files: masked wherever they
/// appear in what a model is sent.
fn env_values(root: &Path) -> Redactor {
    let r = Redactor::default();
    for p in crate::secrets::project::env_files(root) {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let Ok(entries) = crate::config::envfile::parse(&text, &p) else {
            continue;
        };
        for e in entries {
            if e.value.len() >= 6 && !e.value.starts_with(crate::config::ENCRYPTED_PREFIX) {
                r.add(&e.value);
            }
        }
    }
    r
}

/// The redacted prompt for the diff `from..to` of `files`. Without a model
/// nothing but names and counts is computed.
pub(crate) fn prompt_for(
    repo: &Repo,
    root: &Path,
    cfg: &MessagesConfig,
    encrypted: &[String],
    from: Option<&str>,
    to: &str,
    files: &[FileChange],
) -> Prompt {
    let mask = env_values(root);
    let allowed: Vec<String> = files
        .iter()
        .filter(|f| prompt::withhold_reason(f, encrypted).is_none())
        .map(|f| f.path.clone())
        .collect();
    let patches = if cfg.provider == Provider::None {
        vec![]
    } else {
        diff::patches(&repo.git, from, to, &allowed).unwrap_or_default()
    };
    prompt::build(files, &patches, encrypted, &mask, cfg.max_diff_chars)
}

/// Paths with `filter=arcane` among `files`.
fn encrypted_of(repo: &Repo, files: &[FileChange]) -> Vec<String> {
    let names: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    crate::secrets::gitcfg::arcane_filtered(&repo.top, &names).unwrap_or_default()
}

/// Take one shadow snapshot of the working tree (`git watch --once`, and
/// each step of the watcher). A blocked snapshot is a report, not an error.
pub fn snapshot(ctx: &Ctx) -> Result<ShadowSnapshot, Error> {
    let started = Instant::now();
    let repo = repo(ctx)?;
    let rep = snapshot_in(ctx, &repo, started)?;
    ctx.em.emit(Event::ShadowSnapshot(rep.clone()));
    Ok(rep)
}

pub(crate) fn snapshot_in(
    ctx: &Ctx,
    repo: &Repo,
    started: Instant,
) -> Result<ShadowSnapshot, Error> {
    let branch = repo.branch();
    let mut rep = ShadowSnapshot {
        shadow_ref: shadow::shadow_ref(branch.as_deref()),
        branch,
        state: SnapshotState::Busy,
        commit: None,
        parent: None,
        subject: None,
        generator: None,
        fallback_reason: None,
        files: vec![],
        findings: vec![],
        left_out: vec![],
        filter_error: None,
        elapsed_ms: 0,
    };
    if repo.busy() {
        rep.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(rep);
    }
    let allow = Allowlist::load(&ctx.project.root)?;
    let filters = crate::secrets::gitcfg::filters_configured(&repo.top);
    let snap = shadow::prepare(repo, &allow, filters).map_err(gerr)?;
    if let Some(e) = &snap.filter_error {
        ctx.em.warn(format!(
            "the arcane filter could not encrypt {}, so they are left out of this snapshot: {e}",
            snap.left_out.join(", ")
        ));
    }
    rep.parent = snap.parent.clone();
    rep.files = snap.changes.clone();
    rep.left_out = snap.left_out.clone();
    rep.filter_error = snap.filter_error.clone();
    rep.findings = snap.findings.iter().map(row).collect();
    rep.state = if snap.blocked() {
        SnapshotState::Blocked
    } else if snap.unchanged() {
        SnapshotState::Unchanged
    } else {
        let cfg = &ctx.project.config.git.messages;
        let p = prompt_for(
            repo,
            &ctx.project.root,
            cfg,
            &snap.encrypted,
            snap.parent_tree.as_deref(),
            &snap.tree,
            &snap.changes,
        );
        let gen = message::for_config(cfg);
        let got = message::generate(gen.as_ref(), &p, &snap.changes);
        let sha = shadow::commit(repo, &snap, &got.message).map_err(gerr)?;
        ctx.em
            .command(&format!("git update-ref {} {sha}", snap.shadow_ref));
        rep.commit = Some(sha);
        rep.subject = Some(got.message.subject);
        rep.generator = Some(got.generator);
        rep.fallback_reason = got.fallback_reason;
        SnapshotState::Taken
    };
    rep.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(rep)
}

/// The current branch's shadow chain (the dashboard's Git tab).
pub fn shadow_chain(ctx: &Ctx, limit: usize) -> Result<ShadowChain, Error> {
    shadow::chain(&repo(ctx)?, limit).map_err(gerr)
}

/// The generated commit of the staged changes, not yet made. Staged
/// secrets (the leak scanner on the added lines, plaintext env blobs)
/// refuse it.
pub fn commit_draft(ctx: &Ctx) -> Result<CommitReport, Error> {
    let repo = repo(ctx)?;
    let head = repo.head();
    let tree = repo.git.line(&["write-tree"]).map_err(gerr)?;
    let head_tree = match &head {
        Some(h) => Some(repo.git.tree_of(h).map_err(gerr)?),
        None => None,
    };
    if head_tree.as_deref() == Some(tree.as_str()) {
        return Err(Error::input(
            "nothing is staged: `git add` what you want to commit (or use `arcane git watch` to snapshot everything)",
        ));
    }
    let files = diff::changes(&repo.git, head_tree.as_deref(), &tree).map_err(gerr)?;
    let allow = Allowlist::load(&ctx.project.root)?;
    let mut findings = crate::secrets::scan::scan_staged(&repo.top, &allow)?;
    findings.extend(crate::secrets::sealed::scan_index(&repo.top)?);
    if !findings.is_empty() {
        for f in &findings {
            ctx.em.message(
                crate::event::Level::Error,
                format!(
                    "{}:{}:{}: {} (fp {})",
                    f.file, f.line, f.rule, f.redacted, f.fingerprint
                ),
            );
        }
        let message = format!(
            "commit blocked: {} possible secret(s) in the staged changes; unstage them, or allow a false positive with `# arcane:allow` or .arcane/scan-allow.toml",
            findings.len()
        );
        ctx.em.failed(ErrorKind::Failed, &message);
        return Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        });
    }
    let cfg = &ctx.project.config.git.messages;
    let encrypted = encrypted_of(&repo, &files);
    let p = prompt_for(
        &repo,
        &ctx.project.root,
        cfg,
        &encrypted,
        head_tree.as_deref(),
        &tree,
        &files,
    );
    let gen = message::for_config(cfg);
    let got = message::generate(gen.as_ref(), &p, &files);
    Ok(CommitReport {
        message: got.message,
        generator: got.generator,
        fallback_reason: got.fallback_reason,
        files,
        commit: None,
    })
}

/// Commit the staged changes with `text` (the draft's message, maybe
/// edited). Hooks run as for any `git commit`.
pub fn commit(ctx: &Ctx, draft: &CommitReport, text: &str) -> Result<CommitReport, Error> {
    let repo = repo(ctx)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::input(
            "the commit message is empty; nothing was committed",
        ));
    }
    let file = repo.state_dir().join("COMMIT_MSG");
    std::fs::create_dir_all(repo.state_dir())
        .and_then(|_| std::fs::write(&file, format!("{text}\n")))
        .map_err(|e| Error::Failed(format!("writing {}: {e}", file.display())))?;
    ctx.em.command("git commit -F .git/arcane/COMMIT_MSG");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo.top)
        .args(["commit", "-q", "--cleanup=strip", "-F"])
        .arg(&file)
        .env_remove("GIT_INDEX_FILE")
        .stdin(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| Error::Failed(format!("running git commit: {e}")))?;
    for l in String::from_utf8_lossy(&out.stderr).lines() {
        ctx.em.log(crate::event::Stream::Stderr, l);
    }
    if !out.status.success() {
        let message = "git commit failed (see above); nothing was committed".to_string();
        ctx.em.failed(ErrorKind::Failed, &message);
        return Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        });
    }
    let sha = repo.head().unwrap_or_default();
    let mut lines = text.lines();
    let subject = lines.next().unwrap_or("").to_string();
    let mut rep = draft.clone();
    rep.message = Message {
        subject,
        body: lines.collect::<Vec<_>>().join("\n").trim().to_string(),
    };
    rep.commit = Some(sha.clone());
    ctx.em.emit(Event::GitCommit(rep.clone()));
    ctx.em.finished(
        true,
        format!("committed {} {}", short_sha(&sha), rep.message.subject),
    );
    Ok(rep)
}

/// `git squash`.
#[derive(Debug, Clone, Default)]
pub struct SquashRequest {
    pub onto: Option<String>,
    pub dry_run: bool,
    pub tag: bool,
    pub no_shadow: bool,
}

/// The squash plan of the current branch; nothing is written.
pub fn squash_plan(ctx: &Ctx, req: &SquashRequest) -> Result<SquashPlan, Error> {
    let repo = repo(ctx)?;
    let cfg = &ctx.project.config.git.messages;
    let gen = message::for_config(cfg);
    let root = ctx.project.root.clone();
    let make = |from: Option<&str>, to: &str, files: &[FileChange]| {
        let enc = encrypted_of(&repo, files);
        prompt_for(&repo, &root, cfg, &enc, from, to, files)
    };
    let sreq = squash::Request {
        onto: req.onto.clone(),
        no_shadow: req.no_shadow,
    };
    let plan = squash::plan(&repo, &sreq, gen.as_ref(), &make).map_err(gerr)?;
    for r in &plan.fallback_reasons {
        ctx.em.warn(format!("message model not used: {r}"));
    }
    Ok(plan)
}

/// Apply exactly `plan` (made by [`squash_plan`]); refused when the branch
/// or its shadow ref moved since. The caller has confirmed.
pub fn squash_apply(ctx: &Ctx, plan: &SquashPlan, tag: bool) -> Result<SquashApplied, Error> {
    let repo = repo(ctx)?;
    ctx.check_cancel()?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "backup".into());
    let applied = squash::apply(&repo, plan, tag, &stamp).map_err(gerr)?;
    ctx.em.command(&format!(
        "git update-ref refs/heads/{} {}",
        plan.branch, applied.new_head
    ));
    Ok(applied)
}

/// Plan the squash, show it, and (unless a dry run) rewrite after a
/// confirmation.
pub fn squash(ctx: &Ctx, req: &SquashRequest) -> Result<SquashReport, Error> {
    let plan = squash_plan(ctx, req)?;
    let mut rep = SquashReport {
        plan: plan.clone(),
        dry_run: req.dry_run,
        applied: None,
    };
    if req.dry_run {
        ctx.em.emit(Event::Squash(Box::new(rep.clone())));
        ctx.em.finished(true, "dry run: nothing was changed");
        return Ok(rep);
    }
    // The plan is shown before the question.
    ctx.em.emit(Event::Squash(Box::new(rep.clone())));
    ctx.confirm(
        Confirm::yes_no(
            format!(
                "Rewrite {} ({} commit(s) and snapshot(s)) into {} commit(s)?",
                plan.branch,
                plan.sources.len(),
                plan.groups.len()
            ),
            "pass --yes to squash without a terminal, or --dry-run to see the plan",
        ),
        "squash cancelled; nothing was changed",
    )?;
    let applied = squash_apply(ctx, &plan, req.tag)?;
    rep.applied = Some(applied.clone());
    ctx.em.emit(Event::Squash(Box::new(rep.clone())));
    ctx.em.finished(true, applied_summary(&plan, &applied));
    Ok(rep)
}

/// One line saying what a squash did and how to undo it.
pub fn applied_summary(plan: &SquashPlan, applied: &SquashApplied) -> String {
    format!(
        "{} is now {} commit(s) on {}; the old tip is {} (undo: {})",
        plan.branch,
        plan.groups.len(),
        short_sha(&plan.base),
        applied.backup_ref,
        applied.undo
    )
}
