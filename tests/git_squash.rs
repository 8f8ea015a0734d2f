//! `arcane git squash` on real repositories with a real remote (a bare
//! repository): the result's tree is the squashed tip's, a backup ref
//! undoes it, pushed commits are refused, and `--dry-run` writes nothing.

#[path = "common/gitfix.rs"]
mod gitfix;

use gitfix::Fixture;

/// A project pushed to `origin`, then unpushed work on `main`.
fn with_wip() -> (Fixture, tempfile::TempDir) {
    let f = Fixture::project();
    let remote = tempfile::tempdir().unwrap();
    f.git_in(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
    f.git_ok(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    f.git_ok(&["push", "-q", "-u", "origin", "main"]);
    let commit = |msg: &str| {
        f.git_ok(&["add", "-A"]);
        f.git_ok(&["commit", "-q", "-m", msg]);
    };
    f.write("src/login.rs", "pub fn login() {}\n");
    commit("feat(api): add login");
    f.write("notes.txt", "wip\n");
    commit("WIP");
    f.write("src/login.rs", "pub fn login() -> bool { true }\n");
    commit("fix(api): login returns a result");
    f.write("docs/login.md", "# Login\n");
    commit("docs: describe login");
    f.write("src/app.rs", "fn main() { /* tidy */ }\n");
    commit("fix: tidy main");
    (f, remote)
}

fn all_refs(f: &Fixture) -> String {
    f.git_ok(&["for-each-ref"])
}

#[test]
fn squash_keeps_the_tree_groups_commits_and_leaves_a_backup() {
    let (f, _remote) = with_wip();
    let old_head = f.rev("HEAD").unwrap();
    let old_tree = f.rev("HEAD^{tree}").unwrap();
    let base = f.rev("origin/main").unwrap();
    let before = f.user_state();

    let out = f.ok(&["--json", "git", "squash", "--yes", "--tag"]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let applied = events
        .iter()
        .find(|e| e["event"] == "squash" && !e["applied"].is_null())
        .unwrap_or_else(|| panic!("{out}"));
    let groups = applied["plan"]["groups"].as_array().unwrap();

    // Tree identity: the result's tree is the last squashed commit's.
    assert_eq!(f.rev("HEAD^{tree}").unwrap(), old_tree);
    // A short linear series on the same base, features first.
    let series = f.git_ok(&["rev-list", "--reverse", &format!("{base}..HEAD")]);
    assert_eq!(series.lines().count(), groups.len());
    assert!(groups.len() < 5, "{groups:?}");
    let subjects = f.git_ok(&["log", "--reverse", "--format=%s", &format!("{base}..HEAD")]);
    let first = subjects.lines().next().unwrap();
    assert!(first.starts_with("feat(api):"), "{subjects}");
    // The fix of the unpushed feature went with the feature.
    assert_eq!(groups[0]["files"], serde_json::json!(["src/login.rs"]));
    assert_eq!(groups[0]["bump"], "minor");
    assert!(
        subjects.lines().any(|s| s.starts_with("docs")),
        "{subjects}"
    );
    // Authorship is kept.
    assert_eq!(
        f.git_ok(&["log", "-1", "--format=%an <%ae>"]),
        "Ada <ada@example.org>"
    );

    // The backup ref holds the old tip; the undo is printed.
    let backup = applied["applied"]["backup_ref"].as_str().unwrap();
    assert!(backup.starts_with("refs/arcane/backup/main/"), "{backup}");
    assert_eq!(f.rev(backup).unwrap(), old_head);
    let undo = applied["applied"]["undo"].as_str().unwrap();
    assert_eq!(undo, format!("git reset --soft {backup}"));
    // A minor bump from no tag: v0.1.0, on the new tip.
    assert_eq!(applied["applied"]["tag"], "v0.1.0");
    assert_eq!(f.rev("v0.1.0^{commit}").unwrap(), f.rev("HEAD").unwrap());

    // Index and working tree untouched: status is the same.
    let after = f.user_state();
    assert_eq!(before.4, after.4, "git status");
    assert_eq!(before.3, after.3, "stash");

    // Undo as printed.
    let args: Vec<&str> = undo.split(' ').skip(1).collect();
    f.git_ok(&args);
    assert_eq!(f.rev("HEAD").unwrap(), old_head);
    assert_eq!(f.user_state().4, before.4);
}

#[test]
fn pushed_commits_are_never_rewritten() {
    let (f, _remote) = with_wip();
    let base = f.rev("origin/main").unwrap();
    f.git_ok(&["push", "-q", "origin", "main"]);
    let refs = all_refs(&f);
    // The upstream now has everything: nothing of its own to squash.
    let o = f.arcane(&["git", "squash", "--yes", "--no-shadow"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to squash"));
    // Asking for it by hand is refused, naming the remote branch.
    let o = f.arcane(&["git", "squash", "--yes", "--onto", &base]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already on a remote branch (origin/main)"),
        "{err}"
    );
    assert_eq!(all_refs(&f), refs, "nothing moved");
}

#[test]
fn dry_run_changes_nothing() {
    let (f, _remote) = with_wip();
    f.ok(&["git", "watch", "--once"]); // a shadow ref exists too
    let refs = all_refs(&f);
    let state = f.user_state();
    let objects = f.git_ok(&["count-objects"]);
    let out = f.ok(&["git", "squash", "--dry-run"]);
    assert!(
        out.contains("Squash plan for main onto origin/main"),
        "{out}"
    );
    assert!(out.contains("[minor] feat(api): add login"), "{out}");
    assert!(out.contains("version: v0.1.0"), "{out}");
    assert_eq!(all_refs(&f), refs);
    assert_eq!(f.user_state(), state);
    assert_eq!(f.git_ok(&["count-objects"]), objects, "no object written");
}

#[test]
fn without_a_terminal_or_yes_squash_refuses() {
    let (f, _remote) = with_wip();
    let refs = all_refs(&f);
    let o = f.arcane(&["git", "squash"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));
    assert_eq!(all_refs(&f), refs);
}

#[test]
fn shadow_snapshots_become_commits_and_status_is_clean_after() {
    let (f, _remote) = with_wip();
    f.write("src/feature.rs", "pub fn feature() {}\n");
    f.write("src/app.rs", "fn main() { feature(); }\n");
    f.ok(&["git", "watch", "--once"]);
    let snap_tree = f.rev("refs/arcane/shadow/main^{tree}").unwrap();
    let old_head = f.rev("HEAD").unwrap();
    let out = f.ok(&["--json", "git", "squash", "--yes"]);
    assert!(out.contains(r#""shadow":true"#), "{out}");
    assert_eq!(
        f.rev("HEAD^{tree}").unwrap(),
        snap_tree,
        "HEAD has the snapshot's tree"
    );
    assert!(
        f.user_state().4.is_empty(),
        "status is clean: {}",
        f.user_state().4
    );
    assert!(
        out.contains("git reset --mixed refs/arcane/backup/main/"),
        "{out}"
    );
    // The snapshots stay in the shadow ref; the next one starts a new chain.
    f.write("src/later.rs", "pub fn later() {}\n");
    f.ok(&["git", "watch", "--once"]);
    let parent = f.rev("refs/arcane/shadow/main^").unwrap();
    assert_eq!(parent, f.rev("HEAD").unwrap());
    assert_ne!(parent, old_head);
}

#[test]
fn merges_and_detached_heads_are_refused() {
    let (f, _remote) = with_wip();
    f.git_ok(&["checkout", "-q", "-b", "side", "HEAD~2"]);
    f.write("side.txt", "x\n");
    f.git_ok(&["add", "-A"]);
    f.git_ok(&["commit", "-q", "-m", "feat: side"]);
    f.git_ok(&["checkout", "-q", "main"]);
    f.git_ok(&["merge", "-q", "--no-edit", "side"]);
    let o = f.arcane(&["git", "squash", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("merge commits"));
    f.git_ok(&["checkout", "-q", "--detach"]);
    let o = f.arcane(&["git", "squash", "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("detached"));
}
