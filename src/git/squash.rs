//! Smart squash: a branch's unpushed WIP commits, and the shadow snapshots
//! taken on top of them, become a short series of meaningful commits, one
//! per kind of change.
//!
//! **Grouping.** Each source commit gets a conventional type and scope: from
//! its subject when it has one (`feat(api): …`), else from the fallback
//! generator's rules on what it changed. Each file the range changes (net:
//! a file changed and changed back drops out) belongs to the group of the
//! most significant commit that touched it (breaking > feat > the rest, then
//! the latest), so a fix to a feature not yet pushed stays with the feature.
//! Features are grouped by scope, other kinds by kind alone; groups are
//! ordered features first, then the rest, each in order of first
//! appearance.
//!
//! **Trees.** Group *k*'s commit has the base tree plus the final version of
//! every file of groups 1..=k, so the last commit's tree is the final tree
//! exactly: nothing is replayed, nothing can conflict, and the tree is
//! checked to be identical before anything moves.
//!
//! **Safety.** Commits reachable from any `refs/remotes/*` are never
//! rewritten; merges are refused; the old tip is kept in
//! `refs/arcane/backup/<branch>/<time>`; the branch moves with a compare-
//! and-swap `update-ref`.

use super::cli::{Git, Repo};
use super::conventional::{self, Bump, Version};
use super::diff::{self, FileChange};
use super::message::{self, fallback, Generator, Message, Prompt};
use super::shadow;
use super::GitError;

/// Builds the redacted prompt for the files of a diff `from..to`.
pub type PromptFn<'a> = dyn Fn(Option<&str>, &str, &[FileChange]) -> Prompt + 'a;

pub const BACKUP_PREFIX: &str = "refs/arcane/backup/";

/// What to squash.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Squash what is on top of this branch (default: the upstream).
    pub onto: Option<String>,
    /// Leave the shadow snapshots out.
    pub no_shadow: bool,
}

pub use crate::event::report::{
    SquashApplied as Applied, SquashGroup as Group, SquashPlan as Plan, SquashSource as Source,
};

fn input(msg: impl Into<String>) -> GitError {
    GitError::Input(msg.into())
}

/// Where the branch's own work starts, and what that is called.
fn base_of(git: &Git, onto: Option<&str>) -> Result<(String, String), GitError> {
    if let Some(o) = onto {
        let sha = git
            .resolve(o)
            .ok_or_else(|| input(format!("--onto {o}: no such branch or commit")))?;
        let mb = git
            .line(&["merge-base", "HEAD", &sha])
            .map_err(|_| input(format!("HEAD and {o} have no common history")))?;
        return Ok((mb, o.to_string()));
    }
    if let Ok(up) = git.line(&[
        "rev-parse",
        "--abbrev-ref",
        "--symbolic-full-name",
        "@{upstream}",
    ]) {
        if let Ok(mb) = git.line(&["merge-base", "HEAD", "@{upstream}"]) {
            return Ok((mb, up));
        }
    }
    let has_remotes = !git
        .run(&["for-each-ref", "--count=1", "refs/remotes"])?
        .trim()
        .is_empty();
    if has_remotes {
        let own = git.run(&[
            "rev-list",
            "--topo-order",
            "--reverse",
            "HEAD",
            "--not",
            "--remotes",
        ])?;
        match own.lines().next() {
            None => {
                return Ok((
                    git.line(&["rev-parse", "HEAD"])?,
                    "the remote branches".into(),
                ))
            }
            Some(first) => {
                if let Some(p) = git.resolve(&format!("{first}^")) {
                    return Ok((p, "the remote branches".into()));
                }
            }
        }
    }
    Err(input(
        "nothing marks where this branch's own work starts (no upstream, no remote branch): pass --onto BRANCH, e.g. --onto main",
    ))
}

/// The commits of `range` (first-parent, oldest first) with their files.
fn sources(git: &Git, range: &str) -> Result<Vec<Source>, GitError> {
    let out = git.run(&[
        "log",
        "--first-parent",
        "--reverse",
        "--no-renames",
        "--name-only",
        "-z",
        "--format=%x01%H%x00%an%x00%ae%x00%aI%x00%B",
        range,
    ])?;
    let mut v = vec![];
    for rec in out.split('\x01').filter(|r| !r.is_empty()) {
        let f: Vec<&str> = rec.split('\0').collect();
        if f.len() < 5 {
            continue;
        }
        let sha = f[0].to_string();
        let body = f[4];
        let subject = body.lines().next().unwrap_or("").trim().to_string();
        let files: Vec<String> = f[5..]
            .iter()
            .map(|s| s.trim_start_matches('\n').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let (kind, scope, breaking) = match conventional::parse(&subject) {
            Some(s) => (s.kind, s.scope, conventional::is_breaking(body)),
            None => {
                let changes = diff::changes(git, git.resolve(&format!("{sha}^")).as_deref(), &sha)?;
                let (k, s) = fallback::classify(&changes);
                (k.to_string(), s, false)
            }
        };
        v.push(Source {
            sha,
            subject,
            kind,
            scope,
            breaking,
            shadow: false,
            author: (f[1].to_string(), f[2].to_string(), f[3].to_string()),
            files,
        });
    }
    Ok(v)
}

fn rank(s: &Source) -> (Bump, usize) {
    let order = conventional::TYPES.len()
        - conventional::TYPES
            .iter()
            .position(|t| *t == s.kind)
            .unwrap_or(conventional::TYPES.len() - 1);
    (Bump::of(&s.kind, s.breaking), order)
}

/// Plan the squash of the current branch. `mask_prompt` redacts what a
/// model sees (see [`message::prompt`]).
pub fn plan(
    repo: &Repo,
    req: &Request,
    gen: &dyn Generator,
    make_prompt: &PromptFn<'_>,
) -> Result<Plan, GitError> {
    let git = &repo.git;
    let branch = repo
        .branch()
        .ok_or_else(|| input("HEAD is detached: check out the branch to squash"))?;
    let head = repo
        .head()
        .ok_or_else(|| input("the branch has no commits yet: nothing to squash"))?;
    let (base, base_name) = base_of(git, req.onto.as_deref())?;
    let own = format!("{base}..{head}");
    if !git.run(&["rev-list", "--merges", &own])?.trim().is_empty() {
        return Err(input(format!(
            "{base_name}..{branch} contains merge commits; squash makes history linear: rebase onto {base_name} first"
        )));
    }
    let all = git.run(&["rev-list", &own])?;
    let unpushed = git.run(&["rev-list", &own, "--not", "--remotes"])?;
    if all.lines().count() != unpushed.lines().count() {
        let first = all
            .lines()
            .find(|c| !unpushed.lines().any(|u| u == *c))
            .unwrap_or_default();
        let on = git
            .line(&[
                "branch",
                "-r",
                "--contains",
                first,
                "--format=%(refname:short)",
            ])
            .unwrap_or_default();
        return Err(input(format!(
            "{} of the commits in {base_name}..{branch} are already on a remote branch ({}); they are never rewritten: squash only what is not pushed, e.g. --onto {}",
            all.lines().count() - unpushed.lines().count(),
            on.lines().next().unwrap_or("a remote"),
            on.lines().next().unwrap_or("origin/BRANCH"),
        )));
    }
    // Shadow snapshots on top of HEAD.
    let chain = shadow::chain(repo, 1)?;
    let shadow_tip = (!req.no_shadow && chain.on_head && !chain.snapshots.is_empty())
        .then(|| chain.snapshots[0].sha.clone());
    let tip = shadow_tip.clone().unwrap_or_else(|| head.clone());
    if shadow_tip.is_some() {
        let staged_clean = git.ok(&["diff-index", "--cached", "--quiet", &head, "--"]);
        let staged_in_snapshot = git.ok(&["diff-index", "--cached", "--quiet", &tip, "--"]);
        if !staged_clean && !staged_in_snapshot {
            return Err(input(
                "you have staged changes that the last shadow snapshot does not hold: commit or unstage them, take a snapshot (`arcane git watch --once`), or pass --no-shadow",
            ));
        }
    }
    let mut sources = sources(git, &format!("{base}..{tip}"))?;
    for s in sources.iter_mut() {
        s.shadow = !all.lines().any(|c| c == s.sha);
    }
    if sources.is_empty() {
        return Err(input(format!(
            "nothing to squash: {branch} has no commits on top of {base_name} and no shadow snapshots since HEAD"
        )));
    }
    let base_tree = git.tree_of(&base)?;
    let tree = git.tree_of(&tip)?;
    let net = diff::changes(git, Some(&base_tree), &tree)?;

    // Each net-changed file goes to the most significant commit touching it.
    let mut groups: Vec<Group> = vec![];
    let mut first_seen: Vec<usize> = vec![];
    for f in &net {
        let owner = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.files.contains(&f.path))
            .max_by_key(|(i, s)| (rank(s), *i))
            .map(|(i, _)| i);
        let (kind, scope, idx) = match owner {
            Some(i) => (sources[i].kind.clone(), sources[i].scope.clone(), i),
            None => {
                let (k, s) = fallback::classify(std::slice::from_ref(f));
                (k.to_string(), s, sources.len())
            }
        };
        // Features stay apart by scope; the other kinds make one commit each.
        let pos = groups
            .iter()
            .position(|g| g.kind == kind && (kind != "feat" || g.scope == scope));
        let g = match pos {
            Some(p) => {
                first_seen[p] = first_seen[p].min(idx);
                if groups[p].scope != scope {
                    groups[p].scope = None;
                }
                &mut groups[p]
            }
            None => {
                groups.push(Group {
                    kind,
                    scope,
                    bump: Bump::Patch,
                    message: Message {
                        subject: String::new(),
                        body: String::new(),
                    },
                    generator: String::new(),
                    files: vec![],
                    commits: vec![],
                    author: Default::default(),
                });
                first_seen.push(idx);
                groups.last_mut().expect("pushed")
            }
        };
        g.files.push(f.path.clone());
    }
    // Commits belong to the groups they touched; authorship is the latest's.
    for s in &sources {
        for g in groups.iter_mut() {
            if s.files.iter().any(|p| g.files.contains(p)) {
                g.commits.push(s.sha[..12.min(s.sha.len())].to_string());
                g.author = s.author.clone();
                let b = Bump::of(&s.kind, s.breaking);
                if s.kind == g.kind && b > g.bump {
                    g.bump = b;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(groups[i].bump.max(Bump::of(&groups[i].kind, false))),
            first_seen[i],
        )
    });
    let mut groups: Vec<Group> = order.into_iter().map(|i| groups[i].clone()).collect();
    for g in groups.iter_mut() {
        g.bump = g.bump.max(Bump::of(&g.kind, false));
    }

    // Messages.
    let mut reasons = vec![];
    for g in groups.iter_mut() {
        let srcs: Vec<&Source> = sources
            .iter()
            .filter(|s| g.commits.iter().any(|c| s.sha.starts_with(c.as_str())))
            .collect();
        let files: Vec<FileChange> = net
            .iter()
            .filter(|f| g.files.contains(&f.path))
            .cloned()
            .collect();
        let single =
            (srcs.len() == 1 && conventional::parse(&srcs[0].subject).is_some()).then(|| srcs[0]);
        let (msg, generator) = match single {
            Some(s) => {
                let full = git.run(&["show", "-s", "--format=%B", &s.sha])?;
                let body = strip_trailer(full.split_once('\n').map(|x| x.1).unwrap_or("").trim());
                (
                    Message {
                        subject: s.subject.clone(),
                        body,
                    },
                    "original".to_string(),
                )
            }
            None => {
                let mut prompt = make_prompt(Some(&base_tree), &tree, &files);
                prompt.hints = srcs.iter().map(|s| s.subject.clone()).collect();
                let got = message::generate(gen, &prompt, &files);
                if let Some(r) = got.fallback_reason {
                    reasons.push(r);
                }
                // Without a model, the subject a person wrote for this kind
                // of change says more than one made from file names.
                let own = srcs.iter().find(|s| {
                    conventional::parse(&s.subject)
                        .is_some_and(|p| p.kind == g.kind && p.scope == g.scope)
                });
                match own {
                    Some(s) if got.generator == "fallback" => (
                        Message {
                            subject: s.subject.clone(),
                            body: String::new(),
                        },
                        "original".to_string(),
                    ),
                    _ => (got.message, got.generator),
                }
            }
        };
        g.message = retype(msg, &g.kind, g.scope.as_deref(), g.bump == Bump::Major);
        if srcs.len() > 1 {
            let list: Vec<String> = srcs
                .iter()
                .map(|s| format!("- {} {}", &s.sha[..7.min(s.sha.len())], s.subject))
                .collect();
            let sep = if g.message.body.is_empty() {
                ""
            } else {
                "\n\n"
            };
            g.message.body = format!("{}{sep}Squashed from:\n{}", g.message.body, list.join("\n"));
        }
        g.generator = generator;
    }

    let bump = groups.iter().map(|g| g.bump).max();
    let tags = git.run(&["tag", "--merged", &base, "--list"])?;
    let from = conventional::latest(tags.lines());
    let to = bump.map(|b| from.unwrap_or(Version(0, 0, 0)).bump(b));
    Ok(Plan {
        branch,
        base,
        base_name,
        head,
        shadow_tip,
        tree,
        sources,
        groups,
        bump,
        version_from: from.map(|v| v.to_string()),
        version_to: to.map(|v| v.to_string()),
        fallback_reasons: reasons,
    })
}

/// A body without the shadow trailer.
fn strip_trailer(body: &str) -> String {
    body.lines()
        .filter(|l| !l.starts_with(shadow::BASE_TRAILER))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The message with the group's type and scope in front.
fn retype(m: Message, kind: &str, scope: Option<&str>, breaking: bool) -> Message {
    let summary = match conventional::parse(&m.subject) {
        Some(s) => s.summary,
        None => m.subject.clone(),
    };
    let bang = if breaking { "!" } else { "" };
    let subject = match scope {
        Some(s) => format!("{kind}({s}){bang}: {summary}"),
        None => format!("{kind}{bang}: {summary}"),
    };
    Message {
        subject: message::clip_subject(&subject),
        body: strip_trailer(&m.body),
    }
}

/// Write the plan's commits and move the branch. `tag` also creates the
/// plan's version tag on the new tip.
pub fn apply(repo: &Repo, plan: &Plan, tag: bool, stamp: &str) -> Result<Applied, GitError> {
    let git = &repo.git;
    if repo.head().as_deref() != Some(plan.head.as_str()) {
        return Err(input(
            "the branch moved since the plan was made: run the squash again",
        ));
    }
    if let Some(t) = &plan.shadow_tip {
        let sref = shadow::shadow_ref(Some(&plan.branch));
        if git.resolve(&sref).as_deref() != Some(t.as_str()) {
            return Err(input(
                "a new shadow snapshot was taken since the plan was made: run the squash again",
            ));
        }
    }
    let tag_name = match (tag, &plan.version_to) {
        (true, Some(v)) => {
            if git.resolve(&format!("refs/tags/{v}")).is_some() {
                return Err(input(format!("tag {v} already exists")));
            }
            Some(v.clone())
        }
        (true, None) => return Err(input("nothing to tag: the plan has no groups")),
        _ => None,
    };
    let index = repo.state_dir().join("squash-index");
    std::fs::create_dir_all(repo.state_dir()).map_err(|e| GitError::Io {
        path: repo.state_dir(),
        source: e,
    })?;
    let _ = std::fs::remove_file(&index);
    let tmp = git.with_index(&index);
    tmp.bytes(&["read-tree", &plan.base])?;
    let ident = shadow::fallback_identity(git);
    let mut parent = plan.base.clone();
    let mut commits = vec![];
    for g in &plan.groups {
        let mut args = vec![
            "ls-tree",
            "-r",
            "-z",
            "--full-tree",
            plan.tree.as_str(),
            "--",
        ];
        let lit: Vec<String> = g.files.iter().map(|f| format!(":(literal){f}")).collect();
        args.extend(lit.iter().map(String::as_str));
        let listed = git.run(&args)?;
        let mut info = String::new();
        let mut present = vec![];
        for e in listed.split('\0').filter(|e| !e.is_empty()) {
            let Some((meta, path)) = e.split_once('\t') else {
                continue;
            };
            let m: Vec<&str> = meta.split_whitespace().collect();
            if m.len() == 3 {
                info.push_str(&format!("{} {}\t{}\0", m[0], m[2], path));
                present.push(path.to_string());
            }
        }
        for f in g.files.iter().filter(|f| !present.contains(f)) {
            info.push_str(&format!("0 {}\t{}\0", "0".repeat(plan.base.len()), f));
        }
        tmp.line_stdin(
            &["update-index", "-z", "--index-info"],
            info.as_bytes(),
            &[],
        )?;
        let tree = tmp.line(&["write-tree"])?;
        let (name, email, date) = &g.author;
        let mut env: Vec<(&str, &str)> = ident.clone();
        if !name.is_empty() {
            env.retain(|(k, _)| !k.starts_with("GIT_AUTHOR"));
            env.extend([
                ("GIT_AUTHOR_NAME", name.as_str()),
                ("GIT_AUTHOR_EMAIL", email.as_str()),
                ("GIT_AUTHOR_DATE", date.as_str()),
            ]);
        }
        let sha = git.line_stdin(
            &["commit-tree", &tree, "-p", &parent, "-F", "-"],
            g.message.full().as_bytes(),
            &env,
        )?;
        commits.push(sha.clone());
        parent = sha;
    }
    let _ = std::fs::remove_file(&index);
    let new_tree = git.tree_of(&parent)?;
    if new_tree != plan.tree {
        return Err(GitError::Failed(format!(
            "internal error: the squashed tree {new_tree} differs from {}; nothing was changed",
            plan.tree
        )));
    }
    let mut backup = format!("{BACKUP_PREFIX}{}/{stamp}", plan.branch);
    let mut n = 1;
    while git.resolve(&backup).is_some() {
        n += 1;
        backup = format!("{BACKUP_PREFIX}{}/{stamp}-{n}", plan.branch);
    }
    git.bytes(&[
        "update-ref",
        "--create-reflog",
        "-m",
        "arcane git squash: backup",
        &backup,
        &plan.head,
        "",
    ])?;
    let branch_ref = format!("refs/heads/{}", plan.branch);
    git.bytes(&[
        "update-ref",
        "-m",
        "arcane git squash",
        &branch_ref,
        &parent,
        &plan.head,
    ])?;
    let undo = if plan.shadow_tip.is_some() {
        // HEAD now has the snapshot's tree: the index follows it, the
        // working tree is not touched.
        git.bytes(&["reset", "-q", "--mixed", "HEAD"])?;
        format!("git reset --mixed {backup}")
    } else {
        format!("git reset --soft {backup}")
    };
    if let Some(t) = &tag_name {
        git.bytes(&["update-ref", &format!("refs/tags/{t}"), &parent, ""])?;
    }
    Ok(Applied {
        new_head: parent,
        commits,
        backup_ref: backup,
        undo,
        tag: tag_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retyping_keeps_the_summary() {
        let m = Message {
            subject: "fix: handle x".into(),
            body: "b\nArcane-Shadow-Base: abc".into(),
        };
        let r = retype(m, "feat", Some("api"), false);
        assert_eq!(r.subject, "feat(api): handle x");
        assert_eq!(r.body, "b");
        let m = Message {
            subject: "WIP".into(),
            body: String::new(),
        };
        assert_eq!(retype(m, "chore", None, true).subject, "chore!: WIP");
    }
}
