//! `build`, `push`: parse, call the operation, return its exit code.

use super::args::*;
use super::{done, Ctx};
use crate::interact;
use crate::ops::{self, ship::Via as OpVia};
use anyhow::Result;

pub fn build(ctx: &Ctx, a: BuildArgs) -> Result<i32> {
    let project = ctx.project()?;
    let op = ctx.op(&project, &interact::Refuse);
    done(ops::ship::build(&op, a.env.as_deref(), a.smoke))
}

pub fn push(ctx: &Ctx, a: PushArgs) -> Result<i32> {
    let project = ctx.project()?;
    let op = ctx.op(&project, &interact::Refuse);
    let via = a.via.map(|v| match v {
        Via::Ssh => OpVia::Ssh,
        Via::Registry => OpVia::Registry,
    });
    done(ops::ship::push(&op, &(&a.target).into(), via))
}
