//! The `pre_deploy` / `post_deploy` hooks: one-off containers of the new
//! release's image, with its env file, on the app's network.

use super::activate::ensure_network;
use super::{remaining, Session, Shared};
use crate::config::Hook;
use crate::deploy::layout::Labels;
use crate::deploy::release::{Release, Runtime};
use crate::deploy::DeployError;
use crate::docker::argv;
use crate::event::Emitter;
use crate::remote::Cmd;
use std::time::Duration;

pub(super) fn run_hooks(
    sh: &Shared,
    sess: &Session,
    rel: &Release,
    hooks: &[Hook],
    env_file: &str,
    em: &Emitter,
) -> Result<String, DeployError> {
    if hooks.is_empty() {
        return Ok("none".into());
    }
    let (network, default_svc) = match &rel.runtime {
        Runtime::Image { spec, .. } => (spec.network.clone(), spec.labels.service.clone()),
        Runtime::Compose {
            project,
            health_service,
            ..
        } => {
            let net = format!("{project}_default");
            let exists = sess
                .t
                .run(&Cmd::argv(argv::network_inspect(&net)), em)
                .map(|o| o.success())
                .unwrap_or(false);
            (
                if exists { net } else { "bridge".into() },
                health_service.clone().unwrap_or_default(),
            )
        }
    };
    // The networks the release's containers also join (`<app>-<env>` with
    // accessories), so a migration reaches `db` as the app does.
    let also: Vec<String> = rel
        .runtime
        .extra_networks()
        .iter()
        .filter(|n| **n != network)
        .cloned()
        .collect();
    for n in std::iter::once(&network).chain(&also) {
        if n != "bridge" {
            ensure_network(sh, sess, n, em)?;
        }
    }
    let mut ran = 0;
    for (i, h) in hooks.iter().enumerate() {
        let svc = h.service.clone().unwrap_or_else(|| default_svc.clone());
        let image = rel.images.get(&svc).cloned().ok_or_else(|| {
            DeployError::input(format!(
                "hook `{}`: service {svc:?} has no image arcane built; set `service` to a built service",
                h.command
            ))
        })?;
        let labels = Labels {
            app: sh.app.clone(),
            env: sh.env.clone(),
            service: String::new(),
            version: rel.version.clone(),
            release: rel.release.clone(),
        };
        let name = format!("{}-{}-hook-{}-{i}", sh.app, sh.env, std::process::id());
        let left = remaining(sh)?;
        let run = argv::hook_run(&image, env_file, &network, &name, &labels, &h.command);
        let cmd = if also.is_empty() {
            Cmd::argv(run)
        } else {
            Cmd::shell(argv::hook_line(run, &also, &name))
        }
        .with_timeout(left.min(Duration::from_secs(h.timeout)));
        let cancel = sh.cancel.clone();
        let status = sess
            .t
            .stream(&cmd, em, &move || cancel.is_cancelled())
            .map_err(DeployError::remote)?;
        if status != 0 {
            // A timed-out hook leaves its container; remove it.
            let _ = sess.t.run(
                &Cmd::shell(argv::sh_quiet(&argv::rm_force(std::slice::from_ref(&name)))),
                em,
            );
            let msg = format!("hook `{}` exited with {status}", h.command);
            if h.continue_on_error {
                em.warn(format!("{msg} (continue_on_error)"));
            } else {
                return Err(DeployError::failed(msg));
            }
        }
        ran += 1;
    }
    Ok(format!("{ran} hook(s) ran"))
}
