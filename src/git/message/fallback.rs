//! The deterministic message generator: a conventional-commit summary from
//! the paths and the diffstat alone. Used when no model is configured, and
//! whenever one fails or times out, so a message always exists.
//!
//! Rules, first match wins:
//!
//! | files changed | type |
//! |---|---|
//! | only docs (`*.md`, `*.txt`, `docs/`, `README`...) | `docs` |
//! | only tests (`tests/`, `*_test.*`, `*.spec.*`...) | `test` |
//! | only CI (`.github/`, `.gitlab-ci.yml`, `.ci/`...) | `ci` |
//! | only build files (manifests, lock files, Dockerfile, compose) | `build` |
//! | source: a file added, or ≥ 20 lines added and twice as many as removed | `feat` |
//! | source: more lines removed than added | `refactor` |
//! | other source changes | `fix` |
//! | anything else | `chore` |
//!
//! The scope is the module all source files share (`src/git/x.rs` → `git`).

use super::Message;
use crate::git::diff::FileChange;

fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_doc(p: &str) -> bool {
    let n = name(p).to_ascii_lowercase();
    p.starts_with("docs/")
        || p.contains("/docs/")
        || ([".md", ".rst", ".adoc", ".txt"]
            .iter()
            .any(|e| n.ends_with(e))
            && !n.starts_with("requirements"))
        || n.starts_with("readme")
        || n.starts_with("license")
        || n.starts_with("changelog")
}

fn is_test(p: &str) -> bool {
    let n = name(p);
    p.starts_with("tests/")
        || p.starts_with("test/")
        || p.contains("/tests/")
        || p.contains("/test/")
        || p.contains("__tests__/")
        || p.starts_with("spec/")
        || n.contains("_test.")
        || n.contains(".test.")
        || n.contains("_spec.")
        || n.contains(".spec.")
        || n.starts_with("test_")
}

fn is_ci(p: &str) -> bool {
    p.starts_with(".github/")
        || p.starts_with(".ci/")
        || p.starts_with(".circleci/")
        || p.starts_with(".gitlab/")
        || name(p) == ".gitlab-ci.yml"
}

fn is_build(p: &str) -> bool {
    let n = name(p);
    matches!(
        n,
        "Cargo.toml"
            | "Cargo.lock"
            | "package.json"
            | "package-lock.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "go.mod"
            | "go.sum"
            | "pyproject.toml"
            | "poetry.lock"
            | "Gemfile"
            | "Gemfile.lock"
            | "Makefile"
            | "Dockerfile"
            | "build.rs"
            | "build.gradle"
            | "pom.xml"
    ) || n.starts_with("requirements")
        || n.starts_with("Dockerfile")
        || n.starts_with("compose.")
        || n.starts_with("docker-compose")
        || n.ends_with(".dockerfile")
}

fn is_config(p: &str) -> bool {
    let n = name(p);
    n.starts_with('.')
        || p.starts_with("config/")
        || [".toml", ".yml", ".yaml", ".json", ".ini", ".env", ".lock"]
            .iter()
            .any(|e| n.ends_with(e))
}

fn is_source(p: &str) -> bool {
    !(is_doc(p) || is_test(p) || is_ci(p) || is_build(p) || is_config(p))
}

/// The module a path belongs to, for the scope.
fn module(p: &str) -> String {
    let mut parts: Vec<&str> = p.split('/').collect();
    let file = parts.pop().unwrap_or(p);
    while parts.first().is_some_and(|d| {
        matches!(
            *d,
            "src" | "lib" | "app" | "pkg" | "internal" | "crates" | "packages" | "cmd"
        )
    }) && !parts.is_empty()
    {
        parts.remove(0);
    }
    match parts.first() {
        Some(d) => d.to_string(),
        None => file.split('.').next().unwrap_or(file).to_string(),
    }
}

/// The conventional type and scope for a set of changes.
pub fn classify(files: &[FileChange]) -> (&'static str, Option<String>) {
    let all = |f: fn(&str) -> bool| !files.is_empty() && files.iter().all(|c| f(&c.path));
    let src: Vec<&FileChange> = files.iter().filter(|c| is_source(&c.path)).collect();
    let kind = if all(is_doc) {
        "docs"
    } else if all(is_test) {
        "test"
    } else if all(is_ci) {
        "ci"
    } else if all(is_build) {
        "build"
    } else if !src.is_empty() {
        let added: u64 = src.iter().map(|c| c.added).sum();
        let removed: u64 = src.iter().map(|c| c.removed).sum();
        if src.iter().any(|c| c.status == 'A') || (added >= 20 && added >= 2 * removed) {
            "feat"
        } else if removed > added {
            "refactor"
        } else {
            "fix"
        }
    } else {
        "chore"
    };
    let scoped: Vec<&FileChange> = if src.is_empty() {
        files.iter().collect()
    } else {
        src
    };
    let mods: Vec<String> = scoped.iter().map(|c| module(&c.path)).collect();
    let scope = mods
        .first()
        .filter(|m| mods.iter().all(|x| x == *m) && !m.is_empty() && m.len() <= 24)
        .filter(|m| !m.starts_with('.'))
        .cloned();
    (kind, scope)
}

/// Up to three file names, then "and N more".
fn names(files: &[&FileChange]) -> String {
    let mut n: Vec<&str> = files.iter().map(|c| name(&c.path)).collect();
    n.dedup();
    match n.len() {
        0 => "files".into(),
        1 => n[0].into(),
        2 => format!("{} and {}", n[0], n[1]),
        3 => format!("{}, {} and {}", n[0], n[1], n[2]),
        k => format!("{}, {} and {} more", n[0], n[1], k - 2),
    }
}

/// The message for `files` (never empty: an empty list says so).
pub fn generate(files: &[FileChange]) -> Message {
    let (kind, scope) = classify(files);
    let by = |s: char| files.iter().filter(|c| c.status == s).collect::<Vec<_>>();
    let (added, deleted) = (by('A'), by('D'));
    let changed: Vec<&FileChange> = files.iter().collect();
    let verb_obj = if !added.is_empty() && added.len() == files.len() {
        format!("add {}", names(&added))
    } else if !deleted.is_empty() && deleted.len() == files.len() {
        format!("remove {}", names(&deleted))
    } else {
        format!("update {}", names(&changed))
    };
    let subject = match &scope {
        Some(s) => format!("{kind}({s}): {verb_obj}"),
        None => format!("{kind}: {verb_obj}"),
    };
    let mut body = crate::git::diff::stat_line(files);
    body.push_str("\n\n");
    for c in files.iter().take(20) {
        body.push_str(&format!(
            "{} {} (+{} -{})\n",
            c.status, c.path, c.added, c.removed
        ));
    }
    if files.len() > 20 {
        body.push_str(&format!("… and {} more\n", files.len() - 20));
    }
    Message {
        subject: super::clip_subject(&subject),
        body: body.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(path: &str, status: char, added: u64, removed: u64) -> FileChange {
        FileChange {
            path: path.into(),
            status,
            added,
            removed,
            binary: false,
        }
    }

    #[test]
    fn types_and_scopes_follow_paths_and_stats() {
        let t = |fs: &[FileChange]| classify(fs);
        assert_eq!(
            t(&[c("docs/git.md", 'M', 3, 1), c("README.md", 'M', 1, 0)]).0,
            "docs"
        );
        assert_eq!(t(&[c("tests/git_watch.rs", 'A', 90, 0)]).0, "test");
        assert_eq!(t(&[c(".github/workflows/ci.yml", 'M', 1, 1)]).0, "ci");
        assert_eq!(
            t(&[c("Cargo.toml", 'M', 1, 0), c("Cargo.lock", 'M', 40, 2)]).0,
            "build"
        );
        assert_eq!(
            t(&[
                c("src/git/shadow.rs", 'A', 300, 0),
                c("src/git/mod.rs", 'M', 2, 0)
            ]),
            ("feat", Some("git".to_string()))
        );
        assert_eq!(
            t(&[c("src/api/h.go", 'M', 3, 2)]),
            ("fix", Some("api".to_string()))
        );
        assert_eq!(t(&[c("src/api/h.go", 'M', 3, 20)]).0, "refactor");
        assert_eq!(
            t(&[c("main.rs", 'M', 40, 2)]),
            ("feat", Some("main".to_string()))
        );
        assert_eq!(
            t(&[c("src/a/x.rs", 'M', 1, 0), c("src/b/y.rs", 'M', 1, 0)]).1,
            None
        );
        assert_eq!(t(&[c(".gitignore", 'M', 1, 0)]), ("chore", None));
    }

    #[test]
    fn messages_are_conventional_and_deterministic() {
        let files = [
            c("src/git/shadow.rs", 'A', 300, 0),
            c("src/git/watch.rs", 'A', 200, 0),
        ];
        let m = generate(&files);
        assert_eq!(m.subject, "feat(git): add shadow.rs and watch.rs");
        assert!(m.body.starts_with("2 files changed, +500 -0"));
        assert_eq!(generate(&files), m);
        let gone = [c("src/legacy/old.rs", 'D', 0, 3)];
        assert_eq!(generate(&gone).subject, "refactor(legacy): remove old.rs");
        assert_eq!(
            generate(&[c("notes.txt", 'A', 2, 0)]).subject,
            "docs(notes): add notes.txt"
        );
        let many: Vec<FileChange> = (0..5)
            .map(|i| c(&format!("src/x/f{i}.rs"), 'M', 1, 1))
            .collect();
        assert_eq!(
            generate(&many).subject,
            "fix(x): update f0.rs, f1.rs and 3 more"
        );
    }
}
