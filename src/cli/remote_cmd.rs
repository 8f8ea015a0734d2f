//! `server`, `status`, `ps`, `logs`, `exec`, `ssh`, `halt`.

use super::args::*;
use super::{not_yet, Ctx};
use anyhow::Result;

pub fn server(_ctx: &Ctx, _c: ServerCmd) -> Result<i32> {
    not_yet("server")
}
pub fn status(_ctx: &Ctx, _t: TargetArgs) -> Result<i32> {
    not_yet("status")
}
pub fn ps(_ctx: &Ctx, _t: TargetArgs) -> Result<i32> {
    not_yet("ps")
}
pub fn logs(_ctx: &Ctx, _a: LogsArgs) -> Result<i32> {
    not_yet("logs")
}
pub fn exec(_ctx: &Ctx, _a: ExecArgs) -> Result<i32> {
    not_yet("exec")
}
pub fn ssh(_ctx: &Ctx, _a: SshArgs) -> Result<i32> {
    not_yet("ssh")
}
pub fn halt(_ctx: &Ctx, _a: HaltArgs) -> Result<i32> {
    not_yet("halt")
}
