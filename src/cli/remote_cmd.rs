//! `server` (list, check, trust, bootstrap, cloud-init), `status`, `ps`,
//! `logs`, `exec`, `ssh`, `halt`: parse, call the operation, return its exit
//! code.

use super::args::*;
use super::{done, Ctx};
use crate::config::Selection;
use crate::interact;
use crate::ops;
use anyhow::{Context, Result};

pub fn server(ctx: &Ctx, c: ServerCmd) -> Result<i32> {
    let project = ctx.project()?;
    match c {
        ServerCmd::List => {
            ops::server::list(&ctx.op(&project, &interact::Refuse));
            Ok(0)
        }
        ServerCmd::Check { name, target } => {
            let mut sel = Selection::from(&target);
            sel.servers.extend(name);
            done(ops::server::check(
                &ctx.op(&project, &interact::Refuse),
                &sel,
            ))
        }
        ServerCmd::Trust { name, yes } => {
            let interact = interact::for_cli(yes);
            done(ops::server::trust(&ctx.op(&project, &*interact), &name))
        }
        ServerCmd::Bootstrap {
            target,
            yes,
            dry_run,
        } => {
            let interact = interact::for_cli(yes);
            let req = ops::bootstrap::BootstrapRequest {
                selection: Selection::from(&target),
                dry_run,
            };
            done(ops::bootstrap::bootstrap(
                &ctx.op(&project, &*interact),
                &req,
            ))
        }
        ServerCmd::CloudInit { target } => done(ops::bootstrap::cloud_init(
            &ctx.op(&project, &interact::Refuse),
            &Selection::from(&target),
        )),
    }
}

pub fn status(ctx: &Ctx, t: TargetArgs) -> Result<i32> {
    let project = ctx.project()?;
    done(ops::status::status(
        &ctx.op(&project, &interact::Refuse),
        &Selection::from(&t),
    ))
}

pub fn ps(ctx: &Ctx, t: TargetArgs) -> Result<i32> {
    let project = ctx.project()?;
    done(ops::status::ps(
        &ctx.op(&project, &interact::Refuse),
        &Selection::from(&t),
    ))
}

pub fn logs(ctx: &Ctx, a: LogsArgs) -> Result<i32> {
    let project = ctx.project()?;
    let req = ops::logs::LogsRequest {
        service: a.service,
        lines: a.lines,
        follow: a.follow,
    };
    done(ops::logs::logs(
        &ctx.op(&project, &interact::Refuse),
        &Selection::from(&a.target),
        &req,
    ))
}

pub fn exec(ctx: &Ctx, a: ExecArgs) -> Result<i32> {
    let project = ctx.project()?;
    ops::logs::exec(
        &ctx.op(&project, &interact::Refuse),
        &Selection::from(&a.target),
        &a.service,
        &a.cmd,
    )
    .map_err(anyhow::Error::new)
}

pub fn ssh(ctx: &Ctx, a: SshArgs) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let project = ctx.project()?;
    let argv = ops::server::ssh_command(&ctx.op(&project, &interact::Refuse), &a.name)?;
    let mut cmd = match argv {
        None => {
            let shell = std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into());
            std::process::Command::new(shell)
        }
        Some(argv) => {
            let mut c = std::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    ctx.finish();
    // Replaces this process: the terminal belongs to ssh from here on.
    let e = cmd.exec();
    Err(e).context("could not start the ssh client (is OpenSSH installed?)")
}

pub fn halt(ctx: &Ctx, a: HaltArgs) -> Result<i32> {
    let project = ctx.project()?;
    let interact = interact::for_cli(a.yes);
    done(ops::server::halt(
        &ctx.op(&project, &*interact),
        &Selection::from(&a.target),
    ))
}
