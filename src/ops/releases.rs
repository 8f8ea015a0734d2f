//! `releases` and `rollback`.
//!
//! A release record says whether the release ever went live or failed; only
//! `current` says which one serves now. The history therefore derives each
//! release's state when it is read ([`state_of`]), so "live" means live.

use super::deploy::{access, conclude, confirm_protected, run_group};
use super::{fan_out_all, status::PROBE_PARALLEL, Ctx, Error};
use crate::config::Selection;
use crate::deploy::release::{self, Release, Status};
use crate::deploy::server::{self, Artifact, Shared, Target};
use crate::event::report::*;
use crate::event::Event;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A release's state now, given what `current` points at.
pub fn state_of(r: &Release, current: Option<&str>) -> ReleaseState {
    if current == Some(r.release.as_str()) {
        return ReleaseState::Live;
    }
    match r.status {
        Status::Live => ReleaseState::Previous,
        Status::Failed => ReleaseState::Failed,
        Status::Pending => ReleaseState::Pending,
    }
}

fn row(r: &Release, current: Option<&str>) -> ReleaseRow {
    let state = state_of(r, current);
    ReleaseRow {
        release: r.release.clone(),
        version: r.version.clone(),
        git_sha: r.git_sha.clone(),
        state,
        live: state == ReleaseState::Live,
        created_at: r.created_at.clone(),
        created_unix: r.created_unix,
        deployed_by: r.deployed_by.clone(),
        images: r.images.clone(),
    }
}

/// The release history of the selected servers (newest first), read in
/// one session per server. A server that cannot be read is reported in its
/// row; the others are still listed.
pub fn releases(ctx: &Ctx, sel: &Selection) -> Result<ReleaseList, Error> {
    let (env, servers) = ctx.env_servers(sel)?;
    let access = access(ctx);
    let rows = fan_out_all(&servers, PROBE_PARALLEL, |s| {
        let sem = ctx.em.for_server(&s.name);
        match server::Session::open(ctx.project, &access, s, &env, false, &sem) {
            Ok(sess) => {
                let mut rels = sess.facts.releases.clone();
                release::sort_newest_first(&mut rels);
                let cur = sess.facts.current.as_deref();
                ServerReleases {
                    server: s.name.clone(),
                    live: sess.facts.current.clone(),
                    releases: rels.iter().map(|r| row(r, cur)).collect(),
                    error: None,
                }
            }
            Err(e) => ServerReleases {
                server: s.name.clone(),
                live: None,
                releases: vec![],
                error: Some(e.to_string()),
            },
        }
    });
    let rep = ReleaseList {
        app: ctx.app().to_string(),
        env,
        servers: rows,
    };
    ctx.em.emit(Event::Releases(rep.clone()));
    if let Some(bad) = rep.servers.iter().find(|s| s.error.is_some()) {
        let message = format!(
            "{} of {} server(s) could not be read (first: {})",
            rep.servers.iter().filter(|s| s.error.is_some()).count(),
            rep.servers.len(),
            bad.error.as_deref().unwrap_or_default()
        );
        ctx.em.failed(crate::error::ErrorKind::Failed, &message);
        return Err(Error::Reported {
            kind: crate::error::ErrorKind::Failed,
            message,
        });
    }
    Ok(rep)
}

/// Roll back to the previous release (or `to`), with the same
/// confirmation, lock, health checks and cutover as a deploy. Servers go
/// one at a time and stop at the first failure.
pub fn rollback(ctx: &Ctx, sel: &Selection, to: Option<&str>) -> Result<DeploySummary, Error> {
    let (env, servers) = ctx.env_servers(sel)?;
    let what = match to {
        Some(v) => format!("Roll {} back to {}", ctx.app(), short_sha(v)),
        None => format!("Roll {} back", ctx.app()),
    };
    confirm_protected(ctx, &env, &what)?;
    ctx.check_cancel()?;
    let started = Instant::now();
    ctx.em.emit(Event::DeployStarted(DeployStarted {
        op: DeployOp::Rollback,
        app: ctx.app().to_string(),
        env: env.clone(),
        version: to.map(str::to_string),
        git_sha: None,
        servers: servers.iter().map(|s| s.name.clone()).collect(),
    }));
    let shared = Shared {
        project: ctx.project,
        access: access(ctx),
        app: ctx.app().to_string(),
        env,
        art: Artifact::none(),
        deadline: started + Duration::from_secs(ctx.project.config.deploy.timeout),
        cancel: ctx.cancel.clone(),
        lock_wait: Duration::ZERO,
        registry: None,
        exported: Default::default(),
    };
    let target = Target::Existing(to.map(String::from));
    let outcomes = run_group(ctx, &shared, &servers, &BTreeMap::new(), None, &target);
    conclude(ctx, DeployOp::Rollback, &shared, outcomes, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_release_reads_live_regression() {
        let rec = |name: &str, status: Status| -> Release {
            serde_json::from_value(serde_json::json!({
                "app":"a","env":"staging","release":name,"version":name,"git_sha":name,
                "created_at":"t","created_unix":1,"deployed_by":"me","images":{},
                "image_ids":{},"env_digest":"","env_keys":{},
                "runtime":{"mode":"compose","cli":"v1","project":"p","files":[],"health_service":null,"port":80},
                "status": match status { Status::Live => "live", Status::Failed => "failed", Status::Pending => "pending" }
            }))
            .unwrap()
        };
        // Every record written by a successful deploy says "live".
        let (a, b, c) = (
            rec("a", Status::Live),
            rec("b", Status::Live),
            rec("c", Status::Failed),
        );
        assert_eq!(state_of(&b, Some("b")), ReleaseState::Live);
        assert_eq!(state_of(&a, Some("b")), ReleaseState::Previous);
        assert_eq!(state_of(&c, Some("b")), ReleaseState::Failed);
        let r = row(&a, Some("b"));
        assert!(!r.live);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            (json["live"].as_bool(), json["state"].as_str()),
            (Some(false), Some("previous"))
        );
    }
}
