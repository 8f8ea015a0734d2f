//! Tables of the work that prepares machines: the network, bootstrap, Spark.

use super::*;

/// `network ensure` / `network status`: one row per server; the last
/// column says what changed, what would, or what is wrong.
pub fn network(r: &NetworkReport) -> Table {
    let mut t = Table::new(&[
        "server",
        "state",
        "version",
        "tailnet name",
        "ip",
        "tags",
        "note",
    ]);
    for s in &r.servers {
        // A failure's words are on its step line just above the table.
        let note = if s.error.is_some() {
            format!("failed ({})", s.error_code.as_deref().unwrap_or("error"))
        } else if let Some(why) = &s.skipped {
            why.clone()
        } else if !s.problems.is_empty() {
            s.problems.join("; ")
        } else if !s.changed.is_empty() {
            s.changed.join("; ")
        } else if !s.todo.is_empty() {
            format!("would {}", s.todo.join(", then "))
        } else if r.op == "ensure" {
            "unchanged".into()
        } else {
            String::new()
        };
        let tags = if s.joined { &s.tags } else { &s.wanted_tags };
        t.row(vec![
            s.server.clone(),
            s.state_word().into(),
            dash(s.version.as_deref()),
            s.dns_name.clone().unwrap_or_else(|| s.fqdn.clone()),
            dash(s.ip.as_deref()),
            dash(Some(tags.join(",").as_str())),
            note,
        ]);
    }
    t
}

pub fn bootstrapped(r: &BootstrapReport) -> Table {
    let mut t = Table::new(&["server", "result", "as", "changed", "detail"]);
    for s in &r.servers {
        let result = match (s.ok, s.error_kind, r.dry_run) {
            (true, _, true) if s.changed() => "would change",
            (true, _, true) => "up to date",
            (true, _, false) if s.changed() => "changed",
            (true, _, false) => "unchanged",
            (false, Some(crate::error::ErrorKind::Input), _) => "refused",
            (false, _, _) => "FAILED",
        };
        let changed = s.changed_steps();
        let detail = match (&s.error, &s.failed_step) {
            (Some(e), Some(step)) => format!("{step}: {e}"),
            (Some(e), None) => e.clone(),
            _ => s.os.clone().unwrap_or_default(),
        };
        t.row(vec![
            s.server.clone(),
            result.into(),
            dash(s.connected_as.as_deref()),
            if changed.is_empty() {
                "-".into()
            } else {
                changed.join(", ")
            },
            detail,
        ]);
    }
    t
}

/// `spark status`: the queue, then the jobs (running first, then the
/// recent results with their logs).
pub fn spark(r: &SparkStatus) -> String {
    let mut out = format!(
        "Spark ({}): {}\n",
        r.state_dir,
        if r.serving { "serving" } else { "not running" }
    );
    if r.queued.is_empty() {
        out.push_str("queue: empty\n");
    } else {
        let mut q = Table::new(&["app", "env", "branch", "commit", "from", "pushes", "since"]);
        for p in &r.queued {
            q.row(vec![
                p.app.clone(),
                p.env.clone(),
                p.branch.clone(),
                short_sha(&p.sha),
                p.source.clone(),
                p.pushes.to_string(),
                p.since.clone(),
            ]);
        }
        out.push_str(&q.render());
        out.push('\n');
    }
    let mut t = Table::new(&["job", "app", "env", "commit", "state", "took", "log"]);
    for j in r.running.iter().chain(r.recent.iter()) {
        t.row(vec![
            j.id.to_string(),
            j.app.clone(),
            j.env.clone(),
            short_sha(&j.sha),
            j.state.clone(),
            j.elapsed_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            j.log.clone(),
        ]);
    }
    if t.rows.is_empty() {
        out.push_str("no job yet");
    } else {
        out.push_str(&t.render());
    }
    out
}
