//! `identity`, `team`, `deploy gen-key|allow|revoke`, `env`, `run`, `scan`, `hooks`, `setup`.

use super::args::*;
use super::{not_yet, Ctx};
use anyhow::Result;

pub fn identity(_ctx: &Ctx, _c: IdentityCmd) -> Result<i32> {
    not_yet("identity")
}
pub fn team(_ctx: &Ctx, _c: TeamCmd) -> Result<i32> {
    not_yet("team")
}
pub fn deploy_keys(_ctx: &Ctx, _c: DeployKeyCmd) -> Result<i32> {
    not_yet("deploy gen-key|allow|revoke")
}
pub fn env(_ctx: &Ctx, _c: EnvCmd) -> Result<i32> {
    not_yet("env")
}
pub fn run(_ctx: &Ctx, _a: RunArgs) -> Result<i32> {
    not_yet("run")
}
pub fn scan(_ctx: &Ctx, _a: ScanArgs) -> Result<i32> {
    not_yet("scan")
}
pub fn hooks(_ctx: &Ctx, _c: HooksCmd) -> Result<i32> {
    not_yet("hooks")
}
pub fn setup(_ctx: &Ctx) -> Result<i32> {
    not_yet("setup")
}
