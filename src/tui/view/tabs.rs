//! One body per tab. Each is a pure function of the model.

use super::{age, fit, list, SPINNER};
use crate::tui::graph;
use crate::tui::model::*;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub fn body(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    match m.tab {
        Tab::Overview => overview(m, f, area, t),
        Tab::Deploy => deploy(m, f, area, t),
        Tab::Env => env(m, f, area, t),
        Tab::Keys => keys(m, f, area, t),
        Tab::Releases => releases(m, f, area, t),
        Tab::Logs => logs(m, f, area, t),
        Tab::Git => git(m, f, area, t),
        Tab::Settings => settings(m, f, area, t),
    }
}

fn spin(m: &Model) -> &'static str {
    SPINNER[m.spinner % SPINNER.len()]
}

fn header<'a>(text: String, t: &Theme) -> Line<'a> {
    Line::styled(text, t.title())
}

/// A titled section: a one-line header then the content area.
fn split_header(area: Rect) -> (Rect, Rect) {
    let [h, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    (h, rest)
}

fn overview(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    let refreshing = !m.overview.pending.is_empty();
    let mut head = format!("Servers ({})", m.servers.len());
    if refreshing {
        head.push_str(&format!(
            "  {} checking {}",
            spin(m),
            m.overview.pending.len()
        ));
    } else if let Some(at) = m.overview.last_refresh {
        head.push_str(&format!("  checked {}", age(m.now, at)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if m.servers.is_empty() {
        f.render_widget(
            Paragraph::new("No servers yet: add them to config/servers.toml.")
                .style(t.dim())
                .wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let wide = rest.width >= 70;
    let name_w = if wide { 16 } else { 12 };
    // Rows grouped by env: a header line per env, then its servers.
    let mut lines: Vec<Line> = vec![];
    if wide {
        lines.push(Line::styled(
            format!(
                "{} {} {} {} {} LOCK",
                fit("NAME", name_w),
                "UP",
                fit("DOCKER", 10),
                fit("RELEASE", 12),
                fit("HEALTH", 12)
            ),
            t.dim(),
        ));
    }
    let mut sel_line = None;
    let mut last_env: Option<&str> = None;
    for (i, s) in m.servers.iter().enumerate() {
        if last_env != Some(s.env.as_str()) {
            lines.push(Line::styled(format!("{}:", s.env), t.marker(&s.env)));
            last_env = Some(&s.env);
        }
        if i == m.overview.selected {
            sel_line = Some(lines.len());
        }
        let st = m.overview.statuses.get(&s.name);
        let pending = m.overview.pending.contains(&s.name);
        let mut spans = vec![Span::raw(fit(&s.name, name_w)), Span::raw(" ")];
        match (st, pending) {
            (_, true) if st.is_none() => spans.push(Span::styled(spin(m), t.warn())),
            (None, _) => spans.push(Span::styled("?", t.dim())),
            (Some(st), _) if st.security_alert.is_some() => spans.push(Span::styled("!", t.err())),
            (Some(st), _) if st.reachable => spans.push(Span::styled("✓", t.ok())),
            (Some(_), _) => spans.push(Span::styled("✗", t.err())),
        }
        spans.push(Span::raw(" "));
        if let Some(st) = st {
            if st.reachable && st.needs_bootstrap {
                spans.push(Span::styled("no Docker: b bootstraps it", t.warn()));
            } else if st.reachable {
                if wide {
                    // "20.10.24+dfsg1" -> "20.10.24": the distro suffix says little.
                    let docker = st.docker.as_deref().unwrap_or("-");
                    let docker = docker.split('+').next().unwrap_or(docker);
                    spans.push(Span::raw(fit(docker, 10)));
                    spans.push(Span::raw(" "));
                }
                spans.push(Span::raw(fit(
                    st.release.as_deref().unwrap_or("no release"),
                    12,
                )));
                spans.push(Span::raw(" "));
                let health = st.health.as_deref().unwrap_or("-");
                let hs = if health.contains("unhealthy") || health.contains("exited") {
                    t.err()
                } else if health.contains("healthy") || health.contains("up") {
                    t.ok()
                } else {
                    t.dim()
                };
                spans.push(Span::styled(fit(health, if wide { 12 } else { 8 }), hs));
                if let Some(lock) = &st.lock {
                    spans.push(Span::styled(format!(" locked: {lock}"), t.warn()));
                }
                if let Some(e) = &st.error {
                    spans.push(Span::styled(format!(" {e}"), t.dim()));
                }
            } else {
                let why = st
                    .security_alert
                    .as_deref()
                    .or(st.error.as_deref())
                    .unwrap_or("unreachable");
                spans.push(Span::styled(why.to_string(), t.err()));
            }
        } else if wide {
            spans.push(Span::styled(s.host.clone(), t.dim()));
        }
        lines.push(Line::from(spans));
    }
    // A bootstrap started here shows its steps under the list.
    let (rest, panel) = match &m.bootstrap {
        Some(b) => {
            let want = (b.steps.len() + 1).max(2) as u16;
            let h = want.min(rest.height / 2).max(1);
            let [top, bottom] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(h)]).areas(rest);
            (top, Some((b, bottom)))
        }
        None => (rest, None),
    };
    let height = rest.height as usize;
    let rows = select_rows(lines, sel_line, height, t);
    f.render_widget(Paragraph::new(rows), rest);
    if let Some((b, area)) = panel {
        let lines = b.lines(spin(m), area.width as usize, area.height as usize, t);
        f.render_widget(Paragraph::new(lines), area);
    }
}

/// Like `list`, but some lines (headers) are not selectable.
fn select_rows<'a>(
    lines: Vec<Line<'a>>,
    sel: Option<usize>,
    height: usize,
    t: &Theme,
) -> Vec<Line<'a>> {
    list(lines, sel, height, t)
}

fn deploy(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let d = &m.deploy;
    let narrow = area.width < 60;
    let (targets_area, main) = if narrow {
        let [a, b] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
        (a, b)
    } else {
        let [a, b] = Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(area);
        (a, b)
    };
    if narrow {
        let cur = d
            .targets
            .get(d.selected)
            .map(|t| t.label())
            .unwrap_or_else(|| "no targets".into());
        let lines = vec![
            Line::from(vec![
                Span::styled("Target ", t.title()),
                Span::styled(format!("< {cur} >"), t.selected()),
            ]),
            Line::styled("j/k picks env, group or server", t.dim()),
        ];
        f.render_widget(Paragraph::new(lines), targets_area);
    } else {
        let (h, rest) = split_header(targets_area);
        f.render_widget(Paragraph::new(header("Target".into(), t)), h);
        let rows: Vec<Line> = d
            .targets
            .iter()
            .map(|tg| {
                let protected = m.is_protected(tg.env());
                let mut spans = vec![Span::raw(tg.label())];
                if protected {
                    spans.push(Span::styled(" !", t.err()));
                }
                Line::from(spans)
            })
            .collect();
        f.render_widget(
            Paragraph::new(list(rows, Some(d.selected), rest.height as usize, t)),
            rest,
        );
    }
    let main = if narrow {
        main
    } else {
        let block = Block::default()
            .borders(Borders::LEFT)
            .border_style(t.border());
        let inner = block.inner(main);
        f.render_widget(block, main);
        inner
    };
    let mut lines: Vec<Line> = vec![];
    let label = d.active.as_ref().map(|t| t.label()).unwrap_or_default();
    match &d.phase {
        DeployPhase::Idle => {
            lines.push(header("Deploy".into(), t));
            lines.push(Line::raw("p  preview the plan (same as --dry-run)"));
            lines.push(Line::raw("d  deploy the selected target"));
            lines.push(Line::styled(
                "Protected envs (!) ask you to type their name.",
                t.dim(),
            ));
        }
        DeployPhase::Planning => {
            lines.push(header(format!("{} planning {label}…", spin(m)), t));
        }
        DeployPhase::Planned { plan } => {
            lines.push(header(format!("Plan for {label} (d deploys)"), t));
            lines.extend(plan.lines().map(|l| Line::raw(l.to_string())));
        }
        DeployPhase::Running | DeployPhase::Cancelling | DeployPhase::Done { .. } => {
            let head = match &d.phase {
                DeployPhase::Running => {
                    let secs = d.started_at.map(|s| m.now.saturating_sub(s)).unwrap_or(0);
                    Line::styled(
                        format!("{} deploying {label} ({secs}s)  x cancels", spin(m)),
                        t.warn(),
                    )
                }
                DeployPhase::Cancelling => Line::styled(
                    format!("{} cancelling {label}: rolling back…", spin(m)),
                    t.warn(),
                ),
                DeployPhase::Done { ok: true, summary } => {
                    Line::styled(format!("✓ deployed {label}: {summary}"), t.ok())
                }
                DeployPhase::Done { ok: false, summary } => {
                    Line::styled(format!("✗ {label} failed: {summary}"), t.err())
                }
                _ => Line::raw(""),
            };
            lines.push(head);
            for (server, p) in &d.servers {
                // Steps with no server (the build) run on this machine.
                let mut spans = vec![Span::styled(
                    format!("{} ", if server.is_empty() { "(here)" } else { server }),
                    t.title(),
                )];
                for (step, st, _) in &p.steps {
                    let (mark, style) = match st {
                        StepState::Running if m.deploy_running() => (spin(m), t.warn()),
                        // The deploy ended without finishing this step.
                        StepState::Running => ("·", t.dim()),
                        StepState::Ok => ("✓", t.ok()),
                        StepState::Failed => ("✗", t.err()),
                    };
                    spans.push(Span::styled(format!("{mark}{step} "), style));
                }
                if let Some((label, done, total)) = &p.progress {
                    let pct = total
                        .filter(|t| *t > 0)
                        .map(|t| format!(" {}%", done * 100 / t))
                        .unwrap_or_default();
                    spans.push(Span::styled(format!("[{label}{pct}]"), t.dim()));
                }
                lines.push(Line::from(spans));
                if let Some((step, _, Some(detail))) = p
                    .steps
                    .iter()
                    .rev()
                    .find(|(_, st, d)| *st == StepState::Failed && d.is_some())
                {
                    lines.push(Line::styled(format!("  {step}: {detail}"), t.err()));
                }
            }
            for r in &d.summary {
                let style = if r.ok { t.ok() } else { t.err() };
                lines.push(Line::styled(
                    format!(
                        "{} {} {} {}",
                        if r.ok { "✓" } else { "✗" },
                        r.server,
                        r.version,
                        r.detail
                    ),
                    style,
                ));
            }
            // Streamed logs fill what is left, newest last.
            let room = (main.height as usize).saturating_sub(lines.len() + 1);
            if room > 0 && !d.logs.is_empty() {
                lines.push(Line::styled("─ logs", t.dim()));
                let skip = d.logs.len().saturating_sub(room);
                lines.extend(d.logs.iter().skip(skip).map(|l| Line::raw(l.clone())));
            }
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), main);
}

fn env_switcher(m: &Model, idx: usize, t: &Theme) -> Vec<Span<'static>> {
    let mut spans = vec![];
    for (i, e) in m.envs.iter().enumerate() {
        if i == idx {
            spans.push(Span::styled(format!("[{e}]"), t.active_tab()));
        } else {
            spans.push(Span::styled(format!(" {e} "), t.dim()));
        }
    }
    spans
}

fn env(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    let mut head = vec![Span::styled("Env ", t.title())];
    head.extend(env_switcher(m, m.env.env_index, t));
    head.push(Span::styled(format!("  base → {}", m.env_name()), t.dim()));
    if m.env.loading {
        head.push(Span::styled(format!(" {}", spin(m)), t.warn()));
    }
    f.render_widget(Paragraph::new(Line::from(head)), h);
    if let Some(e) = &m.env.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    if m.env.keys.is_empty() && !m.env.loading {
        f.render_widget(
            Paragraph::new(format!(
                "No keys in base or {}. Press a to add one.",
                m.env_name()
            ))
            .style(t.dim())
            .wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let key_w = m
        .env
        .keys
        .iter()
        .map(|k| k.key.len())
        .max()
        .unwrap_or(8)
        .clamp(8, if rest.width < 60 { 14 } else { 28 });
    let val_w = if rest.width < 60 { 8 } else { 20 };
    let rows: Vec<Line> = m
        .env
        .keys
        .iter()
        .map(|k| {
            let value = match &m.env.revealed {
                Some((key, v)) if *key == k.key => Span::styled(fit(v, val_w), t.warn()),
                _ => Span::styled(fit("••••••", val_w), t.dim()),
            };
            let mut spans = vec![Span::raw(fit(&k.key, key_w)), Span::raw(" "), value];
            spans.push(Span::styled(format!(" {}", k.layer), t.key()));
            if !k.overrides.is_empty() {
                spans.push(Span::styled(
                    format!(" (overrides {})", k.overrides.join(", ")),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(m.env.selected), rest.height as usize, t)),
        rest,
    );
}

fn keys(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let k = &m.keys;
    let mut top: Vec<Line> = vec![];
    match (&k.public_key, &k.identity_path) {
        (Some(pk), path) => {
            top.push(Line::from(vec![
                Span::styled("Identity ", t.title()),
                Span::styled(path.clone().unwrap_or_default(), t.dim()),
            ]));
            top.push(Line::from(vec![
                Span::raw("  "),
                Span::styled(pk.clone(), t.key()),
            ]));
        }
        (None, Some(path)) => {
            top.push(Line::styled("Identity", t.title()));
            top.push(Line::styled(
                format!("  none at {path}; run `arcane identity new`"),
                t.warn(),
            ));
        }
        (None, None) if k.loading => {
            top.push(Line::styled(format!("Identity {}", spin(m)), t.title()));
        }
        (None, None) => top.push(Line::styled("Identity: unknown", t.title())),
    }
    if let Some((public, secret)) = &k.generated {
        top.push(Line::styled(
            "New machine key (shown until you leave this tab; put the secret in the machine's secret store, then `m` allows the public key):",
            t.warn(),
        ));
        top.push(Line::raw(format!("  public: {public}")));
        top.push(Line::raw(format!("  secret: {secret}")));
    }
    if let Some(e) = &k.error {
        top.push(Line::styled(e.clone(), t.err()));
    }
    let top_h = (top.len() as u16 + 1).min(area.height);
    let [a, b] = Layout::vertical([Constraint::Length(top_h), Constraint::Min(0)]).areas(area);
    f.render_widget(Paragraph::new(top).wrap(Wrap { trim: false }), a);
    let (h, rest) = split_header(b);
    f.render_widget(
        Paragraph::new(header(format!("Recipients ({})", k.recipients.len()), t)),
        h,
    );
    let narrow = rest.width < 60;
    let rows: Vec<Line> = k
        .recipients
        .iter()
        .map(|r| {
            let mut spans = vec![
                Span::raw(fit(&r.name, if narrow { 10 } else { 16 })),
                Span::styled(fit(&r.kind, 8), t.dim()),
                Span::styled(r.scopes.join(","), t.key()),
            ];
            if !narrow {
                spans.push(Span::styled(
                    format!("  {}", fit(&r.public_key, 24)),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(k.selected), rest.height as usize, t)),
        rest,
    );
}

fn releases(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let r = &m.releases;
    let (h, rest) = split_header(area);
    let mut head = vec![Span::styled("Releases ", t.title())];
    head.extend(env_switcher(m, r.env_index, t));
    head.push(Span::styled(
        if r.by_server_view {
            "  by server"
        } else {
            "  by env"
        },
        t.dim(),
    ));
    if r.loading {
        head.push(Span::styled(format!(" {}", spin(m)), t.warn()));
    }
    f.render_widget(Paragraph::new(Line::from(head)), h);
    if let Some(e) = &r.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let rows_data = m.release_rows();
    if rows_data.is_empty() && !r.loading {
        f.render_widget(
            Paragraph::new(format!("No releases on {} yet.", m.releases_env())).style(t.dim()),
            rest,
        );
        return;
    }
    let narrow = rest.width < 60;
    let rows: Vec<Line> = rows_data
        .iter()
        .map(|(server, row)| {
            let mut spans = vec![];
            if let Some(s) = server {
                spans.push(Span::styled(fit(s, if narrow { 8 } else { 14 }), t.dim()));
            }
            spans.push(Span::raw(fit(&row.version, if narrow { 10 } else { 16 })));
            spans.push(if row.live {
                Span::styled(" live ", t.ok())
            } else {
                Span::raw("      ")
            });
            if !narrow {
                spans.push(Span::styled(
                    fit(&row.created.map(|c| age(m.now, c)).unwrap_or_default(), 9),
                    t.dim(),
                ));
                spans.push(Span::raw(fit(row.git_sha.as_deref().unwrap_or(""), 9)));
            }
            spans.push(Span::styled(row.status.clone(), t.dim()));
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(r.selected), rest.height as usize, t)),
        rest,
    );
}

fn logs(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let l = &m.logs;
    let narrow = area.width < 60;
    let (pick, out) = if narrow {
        let h = (l.choices.len() as u16 + 1).max(2).min(area.height / 2);
        let [a, b] = Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(area);
        (a, b)
    } else {
        let [a, b] = Layout::horizontal([Constraint::Length(28), Constraint::Min(0)]).areas(area);
        (a, b)
    };
    let (h, rest) = split_header(pick);
    let mut head = "Containers".to_string();
    if l.loading {
        head.push_str(&format!(" {}", spin(m)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if l.choices.is_empty() && !l.loading {
        let msg = l
            .error
            .clone()
            .unwrap_or_else(|| "no app containers found".into());
        f.render_widget(
            Paragraph::new(Line::styled(msg, t.dim())).wrap(Wrap { trim: true }),
            rest,
        );
    } else {
        let rows: Vec<Line> = l
            .choices
            .iter()
            .map(|(s, svc)| Line::raw(format!("{s}/{svc}")))
            .collect();
        f.render_widget(
            Paragraph::new(list(rows, Some(l.selected), rest.height as usize, t)),
            rest,
        );
    }
    let (h, rest) = split_header(out);
    let head = match &l.following {
        Some((s, svc)) => Line::styled(format!("Following {s}/{svc}  (s stops)"), t.title()),
        None => Line::styled("⏎ follows the selected container", t.dim()),
    };
    f.render_widget(Paragraph::new(head), h);
    let room = rest.height as usize;
    let skip = l.lines.len().saturating_sub(room);
    let mut lines: Vec<Line> = l
        .lines
        .iter()
        .skip(skip)
        .map(|s| Line::raw(s.clone()))
        .collect();
    if let (Some(e), false) = (&l.error, l.choices.is_empty()) {
        lines.push(Line::styled(e.clone(), t.err()));
    }
    f.render_widget(Paragraph::new(lines), rest);
}

fn git(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let g = &m.git;
    let (h, rest) = split_header(area);
    let mut head = "Commits".to_string();
    if g.loading {
        head.push_str(&format!(" {}", spin(m)));
    }
    f.render_widget(Paragraph::new(header(head, t)), h);
    if let Some(e) = &g.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), t.err())).wrap(Wrap { trim: true }),
            rest,
        );
        return;
    }
    let live = m.live_versions();
    let lanes = graph::lanes(&g.commits);
    let narrow = rest.width < 60;
    let rows: Vec<Line> = g
        .commits
        .iter()
        .zip(lanes)
        .map(|(c, lane)| {
            let short = &c.id[..c.id.len().min(7)];
            let mut spans = vec![
                Span::styled(format!("{lane} "), t.key()),
                Span::styled(format!("{short} "), t.warn()),
            ];
            for (env, versions) in &live {
                if versions.iter().any(|v| version_is_commit(v, &c.id)) {
                    spans.push(Span::styled(format!("[{env}] "), t.marker(env)));
                }
            }
            spans.push(Span::raw(c.summary.clone()));
            if !narrow {
                spans.push(Span::styled(
                    format!("  {} {}", c.author, age(m.now, c.time.max(0) as u64)),
                    t.dim(),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(
        Paragraph::new(list(rows, Some(g.selected), rest.height as usize, t)),
        rest,
    );
}

/// Release versions are tagged by git SHA (maybe with a suffix): a version
/// names a commit when it starts with at least 7 hex digits of its id.
pub fn version_is_commit(version: &str, id: &str) -> bool {
    let hex: String = version
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    hex.len() >= 7 && id.starts_with(&hex.to_ascii_lowercase())
}

fn settings(m: &Model, f: &mut Frame, area: Rect, t: &Theme) {
    let (h, rest) = split_header(area);
    f.render_widget(Paragraph::new(header("Settings".into(), t)), h);
    let s = &m.settings;
    let rows = vec![
        Line::raw(format!(
            "Theme          {}",
            match s.theme {
                ThemeKind::Color => "color",
                ThemeKind::Monochrome => "monochrome",
            }
        )),
        Line::raw(format!(
            "Notifications  {}",
            if s.notifications { "on" } else { "off" }
        )),
    ];
    let mut lines = list(rows, Some(s.selected), rest.height as usize, t);
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "NO_COLOR starts in monochrome. Notifications need a desktop session (D-Bus).",
        t.dim(),
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_commits_by_sha_prefix() {
        let id = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
        assert!(version_is_commit("a1b2c3d", id));
        assert!(version_is_commit("a1b2c3d4-20260101", id));
        assert!(!version_is_commit("a1b2c3", id));
        assert!(!version_is_commit("ffffffff", id));
    }
}
