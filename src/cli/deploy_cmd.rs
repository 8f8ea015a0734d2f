//! `deploy`, `releases`, `rollback`, `lock`, `accessory`, `proxy`: parse,
//! call the operation, return its exit code.

use super::args::*;
use super::render::write_stdout;
use super::{done, Ctx};
use crate::config::{BuildMode, Selection};
use crate::error::InputError;
use crate::interact;
use crate::ops::{self, accessory::Action, deploy::DeployRequest};
use anyhow::Result;
use std::time::Duration;

pub fn deploy(ctx: &Ctx, a: DeployArgs) -> Result<i32> {
    let project = ctx.project()?;
    if let Some(app) = &a.app {
        if app != project.app_name() {
            return Err(InputError::new(format!(
                "this project deploys app {:?}, not {app:?}; run arcane in that app's directory or pass --project",
                project.app_name()
            ))
            .into());
        }
    }
    let req = DeployRequest {
        selection: Selection::from(&a.target),
        parallel: a.parallel,
        dry_run: a.dry_run,
        skip_build: a.skip_build,
        lock_wait: Duration::from_secs(a.lock_wait),
        allow_dirty: a.allow_dirty,
    };
    let interact = interact::for_cli(a.yes);
    let target = ops::notify::Target {
        app: project.app_name().to_string(),
        env: req
            .selection
            .env
            .clone()
            .unwrap_or_else(|| "staging".into()),
        // A build failure has no DeployStarted to say which commit failed.
        git_sha: crate::git::state(&project.root)
            .ok()
            .filter(|s| !s.is_dirty())
            .map(|s| s.sha),
        source: "cli".into(),
        ..Default::default()
    };
    let op = ctx.op_for(&project, &*interact, (!a.dry_run).then_some(target));
    if a.dry_run {
        return done(ops::deploy::plan(&op, &req));
    }
    done(ops::deploy::deploy(&op, &req))?;
    if let Some(url) = local_url(&project, req.selection.env.as_deref().unwrap_or("staging")) {
        if !ctx.json() && !ctx.global.quiet {
            write_stdout(format!("{url}\n").as_bytes());
        }
    }
    Ok(0)
}

/// The URL a `local` deploy answers on, for the README's first run.
fn local_url(project: &crate::config::Project, env: &str) -> Option<String> {
    // Compose apps publish whatever their compose file says; only the
    // single-image mode knows its port.
    if project.config.proxy.is_some()
        || !matches!(project.build_mode(), BuildMode::Dockerfile { .. })
        || !project.servers.servers.values().any(|s| s.host == "local")
    {
        return None;
    }
    let port = project.config.app_port();
    let publish = project
        .config
        .publish_for(env)
        .unwrap_or_else(|| port.to_string());
    let (ip, hport) = match publish.rsplit_once(':') {
        Some((ip, p)) => (
            if ip.is_empty() || ip == "0.0.0.0" {
                "127.0.0.1"
            } else {
                ip
            }
            .to_string(),
            p.to_string(),
        ),
        None => ("127.0.0.1".to_string(), publish),
    };
    Some(format!("http://{ip}:{hport}/"))
}

pub fn releases(ctx: &Ctx, a: ReleasesArgs) -> Result<i32> {
    let project = ctx.project()?;
    let op = ctx.op(&project, &interact::Refuse);
    done(ops::releases::releases(&op, &Selection::from(&a.target)))
}

pub fn rollback(ctx: &Ctx, a: RollbackArgs) -> Result<i32> {
    let project = ctx.project()?;
    let interact = interact::for_cli(a.yes);
    let op = ctx.op(&project, &*interact);
    done(ops::releases::rollback(
        &op,
        &Selection::from(&a.target),
        a.to.as_deref(),
    ))
}

pub fn lock(ctx: &Ctx, c: LockCmd) -> Result<i32> {
    let project = ctx.project()?;
    match c {
        LockCmd::Status(t) => {
            let op = ctx.op(&project, &interact::Refuse);
            done(ops::lock::status(&op, &Selection::from(&t)))
        }
        LockCmd::Release { target, yes } => {
            let interact = interact::for_cli(yes);
            let op = ctx.op(&project, &*interact);
            done(ops::lock::release(&op, &Selection::from(&target)))
        }
    }
}

pub fn accessory(ctx: &Ctx, c: AccessoryCmd) -> Result<i32> {
    let project = ctx.project()?;
    let (args, action, yes) = match c {
        AccessoryCmd::Boot(a) => (a, Action::Boot, false),
        AccessoryCmd::Reboot(a) => (a, Action::Reboot, false),
        AccessoryCmd::Stop(a) => (a, Action::Stop, false),
        AccessoryCmd::Logs(a) => (a, Action::Logs, false),
        AccessoryCmd::Remove { args, yes } => (args, Action::Remove, yes),
    };
    let interact = interact::for_cli(yes);
    let op = ctx.op(&project, &*interact);
    done(ops::accessory::run(
        &op,
        &Selection::from(&args.target),
        &args.name,
        action,
    ))
}

pub fn proxy(ctx: &Ctx, c: ProxyCmd) -> Result<i32> {
    use ops::proxy::Action;
    let (target, action) = match c {
        ProxyCmd::Boot(t) => (t, Action::Boot),
        ProxyCmd::Status(t) => (t, Action::Status),
        ProxyCmd::Reboot(t) => (t, Action::Reboot),
        ProxyCmd::Logs(t) => (t, Action::Logs),
    };
    let project = ctx.project()?;
    let op = ctx.op(&project, &interact::Refuse);
    done(ops::proxy::run(&op, &Selection::from(&target), action))
}
