//! `env show`: parse, call the operation, return its exit code.

use super::{done, Ctx};
use crate::interact;
use crate::ops;
use anyhow::Result;

pub fn show(ctx: &Ctx, env: &str, server: Option<&str>, reveal: bool) -> Result<i32> {
    let p = ctx.project()?;
    done(ops::env::show(
        &ctx.op(&p, &interact::Refuse),
        env,
        server,
        reveal,
    ))
}
