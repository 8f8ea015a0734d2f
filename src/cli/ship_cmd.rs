//! `build`, `push`.

use super::args::*;
use super::{not_yet, Ctx};
use anyhow::Result;

pub fn build(_ctx: &Ctx, _a: BuildArgs) -> Result<i32> {
    not_yet("build")
}
pub fn push(_ctx: &Ctx, _a: PushArgs) -> Result<i32> {
    not_yet("push")
}
