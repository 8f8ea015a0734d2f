//! `network ensure` and `network status`: parse, call the operation,
//! return its exit code.

use super::args::NetworkCmd;
use super::{done, Ctx};
use crate::config::Selection;
use crate::interact;
use crate::ops;
use anyhow::Result;

pub fn network(ctx: &Ctx, c: NetworkCmd) -> Result<i32> {
    let project = ctx.project()?;
    let op = ctx.op(&project, &interact::Refuse);
    match c {
        NetworkCmd::Ensure { target, dry_run } => done(ops::network::ensure(
            &op,
            &Selection::from(&target),
            dry_run,
        )),
        NetworkCmd::Status(t) => done(ops::network::status(&op, &Selection::from(&t))),
    }
}
