//! Conventional-commit subjects (`type(scope)!: summary`), the semver bump a
//! set of them calls for, and semver tags.
//!
//! Squash groups commits by what these say, and the fallback message
//! generator writes them, so the two agree on one small vocabulary.

pub use crate::event::report::Bump;

/// The types arcane writes and understands, in the order squash lists them.
pub const TYPES: [&str; 11] = [
    "feat", "fix", "perf", "refactor", "docs", "test", "build", "ci", "style", "chore", "revert",
];

/// A parsed subject line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    pub scope: Option<String>,
    pub breaking: bool,
    pub summary: String,
}

/// Parse `type(scope)!: summary`; `None` for anything else (a WIP commit).
pub fn parse(subject: &str) -> Option<Subject> {
    let (head, summary) = subject.split_once(':')?;
    let summary = summary.trim();
    let (head, breaking) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => {
            let scope = rest.strip_suffix(')')?;
            if scope.is_empty() || scope.contains([' ', '(', ')']) {
                return None;
            }
            (k, Some(scope.to_string()))
        }
        None => (head, None),
    };
    let kind = kind.to_ascii_lowercase();
    if !TYPES.contains(&kind.as_str()) || summary.is_empty() {
        return None;
    }
    Some(Subject {
        kind,
        scope,
        breaking,
        summary: summary.to_string(),
    })
}

impl Bump {
    /// feat is a minor change, a `!` or `BREAKING CHANGE:` a major one,
    /// everything else (fix, chore, docs, refactor, test...) a patch.
    pub fn of(kind: &str, breaking: bool) -> Bump {
        if breaking {
            Bump::Major
        } else if kind == "feat" {
            Bump::Minor
        } else {
            Bump::Patch
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// Whether a full message announces a breaking change.
pub fn is_breaking(message: &str) -> bool {
    let subject = message.lines().next().unwrap_or("");
    parse(subject).is_some_and(|s| s.breaking)
        || message
            .lines()
            .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"))
}

/// A `vMAJOR.MINOR.PATCH` version (the `v` is optional when parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(tag: &str) -> Option<Version> {
        let t = tag.strip_prefix('v').unwrap_or(tag);
        let mut parts = t.split('.');
        let v = Version(
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        );
        parts.next().is_none().then_some(v)
    }

    pub fn bump(self, b: Bump) -> Version {
        let Version(ma, mi, pa) = self;
        match b {
            Bump::Major => Version(ma + 1, 0, 0),
            Bump::Minor => Version(ma, mi + 1, 0),
            Bump::Patch => Version(ma, mi, pa + 1),
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The newest semver tag among `tags` (names as `git tag` prints them).
pub fn latest<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Version> {
    tags.into_iter().filter_map(Version::parse).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_or_are_wip() {
        let s = parse("feat(api)!: add login").unwrap();
        assert_eq!(
            (
                s.kind.as_str(),
                s.scope.as_deref(),
                s.breaking,
                s.summary.as_str()
            ),
            ("feat", Some("api"), true, "add login")
        );
        assert_eq!(parse("fix: typo").unwrap().scope, None);
        assert_eq!(parse("Docs: readme").unwrap().kind, "docs");
        for wip in [
            "WIP",
            "wip: stuff",
            "feat:",
            "feat(): x",
            "update x: y",
            "feat(a b): x",
        ] {
            assert!(parse(wip).is_none(), "{wip}");
        }
    }

    #[test]
    fn bumps_and_versions() {
        assert_eq!(Bump::of("feat", false), Bump::Minor);
        assert_eq!(Bump::of("fix", false), Bump::Patch);
        assert_eq!(Bump::of("chore", true), Bump::Major);
        assert!(is_breaking("fix: x\n\nBREAKING CHANGE: the API"));
        assert!(!is_breaking("fix: x\n\nnot BREAKING CHANGE: here"));
        let v = latest(["v1.2.3", "v1.10.0", "junk", "v1.9.9", "2.0.0-rc1"]).unwrap();
        assert_eq!(v, Version(1, 10, 0));
        assert_eq!(v.bump(Bump::Patch).to_string(), "v1.10.1");
        assert_eq!(v.bump(Bump::Minor).to_string(), "v1.11.0");
        assert_eq!(v.bump(Bump::Major).to_string(), "v2.0.0");
    }
}
