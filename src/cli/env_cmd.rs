//! `env show`: the merged, layered env of a target.

use super::{not_yet, Ctx};
use anyhow::Result;

pub fn show(_ctx: &Ctx, _env: &str, _server: Option<&str>, _reveal: bool) -> Result<i32> {
    not_yet("env show")
}
