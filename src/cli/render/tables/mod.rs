//! Reports as aligned text tables for humans. Each report type gets one
//! function; `--json` serializes the same values instead.

use crate::docker::push::human_bytes;
use crate::event::report::*;

mod git;
mod machines;

pub use git::*;
pub use machines::*;

/// A table: column titles and rows of cells.
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: vec![],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Aligned columns, titles in capitals, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let fmt_row = |r: &[String]| {
            r.iter()
                .enumerate()
                .map(|(i, c)| format!("{:w$}", c, w = widths.get(i).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let titles: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        let mut out = vec![fmt_row(&titles)];
        out.extend(self.rows.iter().map(|r| fmt_row(r)));
        out.join("\n")
    }
}

fn dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

pub fn status(r: &StatusReport) -> Table {
    let mut t = Table::new(&[
        "server",
        "env",
        "reachable",
        "release",
        "running",
        "health",
        "lock",
    ]);
    for s in &r.servers {
        t.row(vec![
            s.server.clone(),
            s.env.clone(),
            if s.reachable { "yes" } else { "NO" }.into(),
            dash(s.live.as_ref().map(|l| short_sha(&l.release)).as_deref()),
            format!("{}/{}", s.up, s.expected),
            s.health.word().into(),
            dash(s.lock.as_deref()),
        ]);
    }
    t
}

pub fn containers(r: &StatusReport) -> Table {
    let mut t = Table::new(&[
        "server",
        "service",
        "container",
        "version",
        "state",
        "health",
        "status",
    ]);
    for s in &r.servers {
        for c in &s.containers {
            let service = if c.accessory.is_empty() {
                c.service.clone()
            } else {
                format!("{} (accessory)", c.accessory)
            };
            t.row(vec![
                s.server.clone(),
                service,
                c.name.clone(),
                dash(Some(&short_sha(&c.version))),
                c.state.clone(),
                c.health.clone(),
                c.status.clone(),
            ]);
        }
    }
    t
}

pub fn deploy_summary(r: &DeploySummary) -> Table {
    let mut t = Table::new(&["server", "result", "live", "detail"]);
    for o in &r.servers {
        t.row(vec![
            o.server.clone(),
            if o.ok {
                "ok"
            } else if o.rolled_back {
                "rolled back"
            } else if o.detail.starts_with("skipped") {
                "skipped"
            } else {
                "FAILED"
            }
            .into(),
            dash(o.version.as_deref().map(short_sha).as_deref()),
            o.detail.clone(),
        ]);
    }
    t
}

pub fn releases(r: &ReleaseList) -> Table {
    let mut t = Table::new(&["server", "release", "state", "created", "by", "images"]);
    for s in &r.servers {
        if let Some(e) = &s.error {
            t.row(vec![
                s.server.clone(),
                "-".into(),
                "unreadable".into(),
                String::new(),
                String::new(),
                e.clone(),
            ]);
            continue;
        }
        if s.releases.is_empty() {
            t.row(vec![
                s.server.clone(),
                "-".into(),
                "no releases".into(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for rel in &s.releases {
            let state = if rel.live {
                "* live".to_string()
            } else {
                rel.state.word().to_string()
            };
            t.row(vec![
                s.server.clone(),
                short_sha(&rel.release),
                state,
                rel.created_at.clone(),
                rel.deployed_by.clone(),
                rel.images
                    .values()
                    .map(|i| short_image(i))
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
    }
    t
}

/// `repo:<40-hex sha>` with the tag shortened like [`short_sha`].
fn short_image(image: &str) -> String {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => format!("{repo}:{}", short_sha(tag)),
        _ => image.to_string(),
    }
}

pub fn locks(r: &LockReport) -> Table {
    let mut t = Table::new(&["server", "lock", "holder", "heartbeat"]);
    for s in &r.servers {
        let state = match (&s.error, s.held, s.stale) {
            (Some(_), _, _) => "unreadable".to_string(),
            (None, false, _) => "free".into(),
            (None, true, false) => "held".into(),
            (None, true, true) => "held (stale)".into(),
        };
        let holder = match (&s.error, &s.holder) {
            (Some(e), _) => e.clone(),
            (None, Some(h)) => format!(
                "{} (pid {}, since {}, deploying {})",
                h.who,
                h.pid,
                h.since,
                short_sha(&h.version)
            ),
            (None, None) => String::new(),
        };
        t.row(vec![
            s.server.clone(),
            state,
            holder,
            s.age_secs.map(|a| format!("{a}s ago")).unwrap_or_default(),
        ]);
    }
    t
}

/// The registry; with a `[network]`, each server's tailnet name too (the
/// one arcane connects to is marked `(connect)`).
pub fn servers(r: &ServerList) -> Table {
    let network = r.servers.iter().any(|s| s.fqdn.is_some());
    let mut cols = vec!["name", "host", "user", "port", "env", "roles", "groups"];
    if network {
        cols.push("tailnet name");
    }
    let mut t = Table::new(&cols);
    for s in &r.servers {
        let mut row = vec![
            s.name.clone(),
            s.host.clone(),
            dash(s.user.as_deref()),
            dash(s.port.map(|p| p.to_string()).as_deref()),
            s.env.clone(),
            s.roles.join(","),
            s.groups.join(","),
        ];
        if network {
            let mut name = dash(s.fqdn.as_deref());
            if s.connect == "tailnet" {
                name.push_str(" (connect)");
            }
            row.push(name);
        }
        t.row(row);
    }
    t
}

pub fn checks(r: &CheckReport) -> Table {
    let mut t = Table::new(&[
        "server",
        "reachable",
        "auth",
        "docker",
        "compose",
        "disk free",
        "arch",
        "result",
    ]);
    for c in &r.servers {
        t.row(vec![
            c.server.clone(),
            yes_no(c.reachable),
            yes_no(c.auth),
            dash(c.docker.as_deref()),
            if c.auth { c.compose() } else { "-".into() },
            dash(c.disk_free_bytes.map(human_bytes).as_deref()),
            dash(c.arch.as_deref()),
            if c.ok() { "ok" } else { "FAILED" }.into(),
        ]);
    }
    t
}

pub fn proxy(r: &ProxyReport) -> Table {
    let mut t = Table::new(&[
        "server",
        "state",
        "image",
        "route",
        "hosts",
        "upstreams",
        "tls",
    ]);
    for s in &r.servers {
        let state = match &s.error {
            Some(_) => "error".to_string(),
            None => dash(s.state.as_deref()),
        };
        if s.routes.is_empty() {
            t.row(vec![
                s.server.clone(),
                state.clone(),
                dash(s.image.as_deref()),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for r in &s.routes {
            t.row(vec![
                s.server.clone(),
                state.clone(),
                dash(s.image.as_deref()),
                r.id.clone(),
                r.hosts.join(","),
                r.upstreams.join(","),
                r.tls.clone(),
            ]);
        }
    }
    t
}

pub fn pushed(r: &PushSummary) -> Table {
    let mut t = Table::new(&["server", "push", "sent", "time"]);
    for s in &r.servers {
        t.row(vec![
            s.server.clone(),
            if s.ok { "ok" } else { "failed" }.into(),
            if s.ok {
                human_bytes(s.bytes_sent)
            } else {
                "-".into()
            },
            if s.ok {
                format!("{:.1}s", s.elapsed_ms as f64 / 1000.0)
            } else {
                "-".into()
            },
        ]);
    }
    t
}

/// Shown instead of a value without `--reveal`. Fixed width, so the mask
/// does not leak a value's length.
const MASK: &str = "********";

pub fn env(r: &EnvReport) -> Table {
    let mut t = Table::new(&["key", "value", "layer"]);
    for k in &r.keys {
        let value = match &k.value {
            Some(v) if v.is_empty() => "(empty)".to_string(),
            Some(v) => v.clone(),
            None => MASK.to_string(),
        };
        t.row(vec![k.key.clone(), value, k.layer.clone()]);
    }
    t
}

pub fn team(r: &TeamReport) -> Table {
    let mut t = Table::new(&["name", "kind", "scopes", "key"]);
    for m in &r.members {
        let short = if m.key.len() > 24 {
            format!("{}…{}", &m.key[..14], &m.key[m.key.len() - 6..])
        } else {
            m.key.clone()
        };
        t.row(vec![
            m.name.clone(),
            m.kind.clone(),
            m.scopes.join(","),
            short,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["name", "host"]);
        t.row(vec!["a".into(), "10.0.0.1".into()]);
        assert_eq!(t.render(), "NAME  HOST\na     10.0.0.1");
    }

    #[test]
    fn tables_show_full_shas_regression() {
        let sha = "da851e72529cafe0011223344556677889900aab";
        let r = ReleaseList {
            app: "a".into(),
            env: "staging".into(),
            servers: vec![ServerReleases {
                server: "local".into(),
                live: Some(sha.into()),
                error: None,
                releases: vec![ReleaseRow {
                    release: sha.into(),
                    version: sha.into(),
                    git_sha: sha.into(),
                    state: ReleaseState::Live,
                    live: true,
                    created_at: "t".into(),
                    created_unix: 0,
                    deployed_by: "me".into(),
                    images: [("web".to_string(), format!("hello-web:{sha}"))].into(),
                }],
            }],
        };
        let text = releases(&r).render();
        assert!(!text.contains(sha), "{text}");
        let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "local",
                "da851e72529c",
                "*",
                "live",
                "t",
                "me",
                "hello-web:da851e72529c"
            ]
        );
        // The full SHA stays in --json.
        assert!(serde_json::to_string(&r).unwrap().contains(sha));
    }
}
