//! `lock status` and `lock release`.

use super::deploy::access;
use super::{fan_out_all, status::PROBE_PARALLEL, Ctx, Error};
use crate::config::Selection;
use crate::deploy::lock::{self, Holder};
use crate::deploy::server::Session;
use crate::error::ErrorKind;
use crate::event::report::{LockHolder, LockReport, ServerLock};
use crate::event::Event;
use crate::interact::Confirm;

fn holder(h: &Holder) -> LockHolder {
    LockHolder {
        who: h.who.clone(),
        pid: h.pid,
        since: h.since.clone(),
        version: h.version.clone(),
    }
}

/// Who holds the deploy lock on each selected server.
pub fn status(ctx: &Ctx, sel: &Selection) -> Result<LockReport, Error> {
    let (env, servers) = ctx.env_servers(sel)?;
    let access = access(ctx);
    let rows = fan_out_all(&servers, PROBE_PARALLEL, |s| {
        let sem = ctx.em.for_server(&s.name);
        let st = Session::open(ctx.project, &access, s, &env, false, &sem)
            .and_then(|sess| lock::status(&*sess.t, &sess.layout.lock_dir(), &sem));
        match st {
            Ok(st) => ServerLock {
                server: s.name.clone(),
                held: st.held,
                holder: st.holder.as_ref().map(holder),
                age_secs: st.age_secs,
                stale: st.stale,
                error: None,
            },
            Err(e) => ServerLock {
                server: s.name.clone(),
                held: false,
                holder: None,
                age_secs: None,
                stale: false,
                error: Some(e.to_string()),
            },
        }
    });
    let rep = LockReport { servers: rows };
    ctx.em.emit(Event::Locks(rep.clone()));
    let bad = rep.servers.iter().filter(|s| s.error.is_some()).count();
    if bad > 0 {
        let message = format!("{bad} of {} server(s) could not be read", rep.servers.len());
        ctx.em.failed(ErrorKind::Failed, &message);
        return Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        });
    }
    Ok(rep)
}

/// Remove the deploy lock by force (after confirmation, one per server),
/// e.g. when its holder is known to be dead and waiting for it to go stale
/// is not an option. Returns the servers whose lock was released.
pub fn release(ctx: &Ctx, sel: &Selection) -> Result<Vec<String>, Error> {
    let (env, servers) = ctx.env_servers(sel)?;
    let access = access(ctx);
    let mut released = vec![];
    for s in &servers {
        let sem = ctx.em.for_server(&s.name);
        let sess = Session::open(ctx.project, &access, s, &env, false, &sem)?;
        let dir = sess.layout.lock_dir();
        let st = lock::status(&*sess.t, &dir, &sem)?;
        if !st.held {
            sem.info("no deploy lock held");
            continue;
        }
        let who = st
            .holder
            .as_ref()
            .map(|h| h.describe())
            .unwrap_or_else(|| "an unknown holder".into());
        ctx.confirm(
            Confirm::yes_no(
                format!(
                    "Release the deploy lock on {} held by {who}? A deploy still running there would continue unprotected",
                    s.name
                ),
                "pass --yes to release it non-interactively",
            ),
            "not confirmed; the lock is still held",
        )?;
        lock::break_lock(&*sess.t, &dir, None, &sem)?;
        sem.info(format!("released the deploy lock held by {who}"));
        released.push(s.name.clone());
    }
    Ok(released)
}
