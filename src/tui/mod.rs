//! The dashboard (TEA): `update(model, msg) -> commands` does no I/O, and
//! `view(model, frame)` is pure.

use crate::cli::Ctx;
use anyhow::Result;

/// Open the dashboard.
pub fn run(_ctx: &Ctx) -> Result<i32> {
    crate::cli::not_yet_tui()
}
