//! `accessory boot|reboot|stop|logs|remove NAME`.

use super::deploy::access;
use super::{Ctx, Error};
use crate::config::Selection;
pub use crate::deploy::accessory::Action;
use crate::error::HasKind;

/// Run `action` for accessory `name` on the selected servers (those with
/// one of the accessory's roles). Removal asks first, by name.
pub fn run(ctx: &Ctx, sel: &Selection, name: &str, action: Action) -> Result<(), Error> {
    match crate::deploy::accessory::run(
        ctx.project,
        &access(ctx),
        sel,
        name,
        action,
        ctx.interact,
        &ctx.em,
    ) {
        Ok(()) => Ok(()),
        Err(e) => {
            let kind = e.kind();
            let message = e.to_string();
            ctx.em.failed(kind, &message);
            Err(Error::Reported { kind, message })
        }
    }
}
