//! The git assistant's reports as text: snapshots, commits, squash plans.

use super::*;

/// One snapshot as a line; `false` when it was blocked.
pub fn shadow_snapshot(r: &ShadowSnapshot) -> (bool, String) {
    let stat = crate::git::diff::stat_line(&r.files);
    match r.state {
        SnapshotState::Taken => {
            let via = match (&r.generator, &r.fallback_reason) {
                (_, Some(why)) => format!(" [fallback: {why}]"),
                (Some(g), None) if g != "fallback" => format!(" [{g}]"),
                _ => String::new(),
            };
            (
                true,
                format!(
                    "snapshot {} {} ({stat}){via}",
                    short_sha(r.commit.as_deref().unwrap_or(""))
                        .chars()
                        .take(7)
                        .collect::<String>(),
                    r.subject.as_deref().unwrap_or("")
                ),
            )
        }
        SnapshotState::Unchanged => (true, "unchanged since the last snapshot".into()),
        SnapshotState::Busy => (
            true,
            "a git command holds the index; snapshot postponed".into(),
        ),
        SnapshotState::Blocked => {
            let mut s = format!(
                "snapshot BLOCKED ({} finding(s), nothing was committed):",
                r.findings.len()
            );
            for f in &r.findings {
                s.push_str(&format!(
                    "\n  {}:{}:{}: {} (fp {})",
                    f.file, f.line, f.rule, f.redacted, f.fingerprint
                ));
            }
            (false, s)
        }
    }
}

/// The generated commit message, and the commit when made.
pub fn git_commit(r: &CommitReport) -> String {
    let mut s = String::new();
    if let Some(c) = &r.commit {
        s.push_str(&format!("[{}] ", &c[..c.len().min(7)]));
    }
    s.push_str(&r.message.subject);
    if !r.message.body.is_empty() {
        s.push_str("\n\n");
        s.push_str(&r.message.body);
    }
    s.push_str(&format!("\n\n(message: {}", r.generator));
    if let Some(why) = &r.fallback_reason {
        s.push_str(&format!("; model not used: {why}"));
    }
    s.push(')');
    s
}

/// The squash plan (groups, messages, files), or what was applied.
pub fn squash(r: &SquashReport) -> String {
    let p = &r.plan;
    if let Some(a) = &r.applied {
        let mut s = format!(
            "{} rewritten: {} -> {}",
            p.branch,
            short_sha(&p.head),
            short_sha(&a.new_head)
        );
        if let Some(t) = &a.tag {
            s.push_str(&format!("\ntagged {t}"));
        }
        s.push_str(&format!("\nbackup: {}\nundo:   {}", a.backup_ref, a.undo));
        return s;
    }
    let shadow = p.sources.iter().filter(|c| c.shadow).count();
    let mut s = format!(
        "Squash plan for {} onto {} ({}): {} commit(s){} -> {} commit(s)\n",
        p.branch,
        p.base_name,
        short_sha(&p.base).chars().take(7).collect::<String>(),
        p.sources.len() - shadow,
        if shadow > 0 {
            format!(" + {shadow} shadow snapshot(s)")
        } else {
            String::new()
        },
        p.groups.len()
    );
    for (i, g) in p.groups.iter().enumerate() {
        s.push_str(&format!(
            "\n{}. [{}] {}\n",
            i + 1,
            g.bump.word(),
            g.message.subject
        ));
        for f in &g.files {
            s.push_str(&format!("     {f}\n"));
        }
        s.push_str(&format!(
            "   replaces {} ({})\n",
            g.commits.join(" "),
            g.generator
        ));
    }
    match (&p.version_from, &p.version_to) {
        (Some(f), Some(t)) => s.push_str(&format!("\nversion: {f} -> {t} (--tag creates it)")),
        (None, Some(t)) => s.push_str(&format!(
            "\nversion: {t} (no semver tag yet; --tag creates it)"
        )),
        _ => {}
    }
    s.push_str(&format!(
        "\nresult tree: {} (the same as now)",
        &p.tree[..p.tree.len().min(12)]
    ));
    s
}
