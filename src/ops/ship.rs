//! `build` and `push`: the images of the current version, built here and
//! sent to servers (only the layers they lack, over SSH; or through
//! `[registry]`).

use super::{fan_out_all, Ctx, Error};
use crate::config::Selection;
use crate::docker::{self, push, BuildOptions, BuiltImages};
use crate::error::ErrorKind;
use crate::event::report::{short_sha, PushSummary, ServerPush};
use crate::event::Event;

/// How `push` gets images to the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Layer-diffing push over the SSH connection (no registry).
    Ssh,
    /// `[registry]`: push once, each server pulls.
    Registry,
}

/// Build every image of the current version; with `smoke`, smoke-test the
/// app image before it can ship. `env` names the env the smoke test uses.
pub fn build(ctx: &Ctx, env: Option<&str>, smoke: bool) -> Result<BuiltImages, Error> {
    if let Some(env) = env {
        ctx.check_env(env)?;
    }
    let built = docker::build(
        ctx.project,
        &ctx.em,
        &BuildOptions {
            env: env.map(str::to_string),
            smoke,
            cancel: ctx.cancel.clone(),
        },
    )
    .inspect_err(|e| {
        ctx.em
            .failed(crate::error::HasKind::kind(e), format!("build failed: {e}"))
    })?;
    ctx.em.emit(Event::Built(built.clone()));
    let tags: Vec<&str> = built.images.iter().map(|i| i.tag.as_str()).collect();
    ctx.em.finished(true, format!("built {}", tags.join(", ")));
    Ok(built)
}

/// The images for the current version: built already, or built now with
/// the smoke test (an image that fails it never ships).
fn ensure_built(ctx: &Ctx, env: Option<&str>) -> Result<BuiltImages, Error> {
    if let Some(b) = docker::find_built(ctx.project, &ctx.em)? {
        return Ok(b);
    }
    let version = docker::version_for(ctx.project)?;
    ctx.em.info(format!(
        "no image for version {} yet: building it and running the smoke test first",
        short_sha(&version)
    ));
    Ok(docker::build(
        ctx.project,
        &ctx.em,
        &BuildOptions {
            env: env.map(str::to_string),
            smoke: true,
            cancel: ctx.cancel.clone(),
        },
    )?)
}

/// Make the current version's images present on the selected servers.
/// `via` None: the registry when `[registry]` is configured, else SSH.
pub fn push(ctx: &Ctx, sel: &Selection, via: Option<Via>) -> Result<PushSummary, Error> {
    let servers = ctx.servers(sel)?;
    let cfg = &ctx.project.config;
    let via = via.unwrap_or(if cfg.registry.is_some() {
        Via::Registry
    } else {
        Via::Ssh
    });
    // Registry settings and credentials are input: refuse (exit 2) before
    // building or connecting anything.
    let registry = match via {
        Via::Ssh => None,
        Via::Registry => {
            let Some(reg) = cfg.registry.clone() else {
                return Err(Error::input(
                    "--via registry needs a [registry] table in arcane.toml (server, username, password_key)",
                ));
            };
            let login = push::RegistryLogin::from_config(&reg).map_err(Error::input)?;
            Some((reg, login))
        }
    };
    let built = ensure_built(ctx, sel.env.as_deref()).inspect_err(|e| {
        ctx.em.failed(
            crate::error::HasKind::kind(e),
            format!("nothing was pushed: {e}"),
        );
    })?;
    let prepared = match via {
        Via::Ssh => Some(push::prepare(&built, &ctx.em)?),
        Via::Registry => {
            let (reg, login) = registry.as_ref().expect("resolved above");
            push::registry_push(&reg.server, login.as_ref(), &built, &ctx.em)?;
            None
        }
    };
    let rows = fan_out_all(&servers, servers.len(), |s| {
        let em = ctx.em.for_server(&s.name);
        let r = (|| -> Result<push::PushReport, Error> {
            em.step_started("connect");
            let t = ctx.connect(s, &em);
            em.step_finished(
                "connect",
                t.is_ok(),
                t.as_ref().err().map(|e| e.to_string()),
            );
            let t = t?;
            Ok(match (&prepared, &registry) {
                (Some(p), _) => push::push_prepared(t.as_ref(), p, &em)?,
                (None, Some((reg, login))) => {
                    push::registry_pull(t.as_ref(), &reg.server, login.as_ref(), &built, &em)?
                }
                (None, None) => unreachable!("a push goes over SSH or a registry"),
            })
        })();
        match r {
            Ok(rep) => ServerPush {
                server: s.name.clone(),
                ok: true,
                bytes_sent: rep.bytes_sent,
                images_sent: rep.images.len() - rep.already_present.len().min(rep.images.len()),
                elapsed_ms: rep.elapsed_ms,
                error: None,
            },
            Err(e) => {
                em.message(crate::event::Level::Error, e.to_string());
                ServerPush {
                    server: s.name.clone(),
                    ok: false,
                    bytes_sent: 0,
                    images_sent: 0,
                    elapsed_ms: 0,
                    error: Some(e.to_string()),
                }
            }
        }
    });
    let rep = PushSummary {
        version: built.version.clone(),
        servers: rows,
    };
    ctx.em.emit(Event::Pushed(rep.clone()));
    let failed: Vec<&str> = rep
        .servers
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.server.as_str())
        .collect();
    if failed.is_empty() {
        ctx.em.finished(
            true,
            format!(
                "version {} is on {} server(s)",
                short_sha(&built.version),
                rep.servers.len()
            ),
        );
        Ok(rep)
    } else {
        let message = format!(
            "push failed on {}; run `arcane push` again to retry (completed layers are kept)",
            failed.join(", ")
        );
        ctx.em.failed(ErrorKind::Failed, &message);
        Err(Error::Reported {
            kind: ErrorKind::Failed,
            message,
        })
    }
}
