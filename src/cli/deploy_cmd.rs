//! `deploy`, `releases`, `rollback`, `lock`, `accessory`, `proxy`.

use super::args::*;
use super::{not_yet, Ctx};
use anyhow::Result;

pub fn deploy(_ctx: &Ctx, _a: DeployArgs) -> Result<i32> {
    not_yet("deploy")
}
pub fn releases(_ctx: &Ctx, _a: ReleasesArgs) -> Result<i32> {
    not_yet("releases")
}
pub fn rollback(_ctx: &Ctx, _a: RollbackArgs) -> Result<i32> {
    not_yet("rollback")
}
pub fn lock(_ctx: &Ctx, _c: LockCmd) -> Result<i32> {
    not_yet("lock")
}
pub fn accessory(_ctx: &Ctx, _c: AccessoryCmd) -> Result<i32> {
    not_yet("accessory")
}
pub fn proxy(ctx: &Ctx, c: ProxyCmd) -> Result<i32> {
    super::proxy_cmd::run(ctx, c)
}
