//! Operation reports turned into what the dashboard's model holds.

use super::super::model::*;
use crate::config::Selection;
use crate::event::report::{self, DeploySummary};
use crate::ops::{self, deploy::DeployRequest};

pub(super) fn request(target: &Target, dry_run: bool) -> DeployRequest {
    DeployRequest {
        selection: target.selection(),
        dry_run,
        ..Default::default()
    }
}

pub(super) fn report_summary(r: &DeploySummary) -> String {
    let ok = r.servers.iter().filter(|s| s.ok).count();
    let changed = r.servers.iter().filter(|s| s.changed).count();
    format!(
        "{} {} live on {ok}/{} server(s) of {} ({changed} changed)",
        r.app,
        r.version
            .as_deref()
            .map(report::short_sha)
            .unwrap_or_default(),
        r.servers.len(),
        r.env
    )
}

/// The Overview's message when a bootstrap ended.
pub(super) fn bootstrap_summary(r: &report::BootstrapReport) -> String {
    let changed: Vec<&str> = r.servers.iter().flat_map(|s| s.changed_steps()).collect();
    if changed.is_empty() {
        "already bootstrapped: nothing changed".into()
    } else {
        format!("bootstrapped (changed: {})", changed.join(", "))
    }
}

/// The Overview's row for one server's status.
pub(super) fn overview_row(st: &report::ServerStatus) -> ServerStatus {
    let health = st.reachable.then(|| match st.health {
        report::Health::NotDeployed | report::Health::Unknown => st.health.word().to_string(),
        h => format!("{}/{} {}", st.up, st.expected, h.word()),
    });
    ServerStatus {
        reachable: st.reachable,
        docker: st.docker.clone(),
        release: st.live.as_ref().map(|l| l.release.clone()),
        health,
        lock: st.lock.clone(),
        error: st.error_brief.clone().or_else(|| st.error.clone()),
        security_alert: st.security_alert.clone(),
        needs_bootstrap: st.needs_bootstrap,
    }
}

/// Release history per server, with the live one marked.
pub(super) fn load_releases(
    ctx: &ops::Ctx,
    env: &str,
) -> Result<Vec<(String, Vec<ReleaseRow>)>, String> {
    let sel = Selection {
        env: Some(env.to_string()),
        ..Default::default()
    };
    if ctx.project.select(&sel).is_err() {
        return Ok(vec![]);
    }
    let list = ops::releases::releases(ctx, &sel).map_err(|e| e.to_string())?;
    Ok(list
        .servers
        .into_iter()
        .map(|s| {
            let rows = s
                .releases
                .into_iter()
                .map(|r| ReleaseRow {
                    live: r.live,
                    created: u64::try_from(r.created_unix).ok(),
                    git_sha: Some(report::short_sha(&r.git_sha)),
                    status: format!("{} by {}", r.state.word(), r.deployed_by),
                    version: r.release,
                })
                .collect();
            (s.server, rows)
        })
        .collect())
}
