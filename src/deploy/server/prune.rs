//! After a successful activation: delete releases beyond `keep_releases`.

use super::{Session, Shared};
use crate::deploy::release::{self, Release};
use crate::deploy::DeployError;
use crate::docker::argv;
use crate::event::Emitter;
use crate::remote::{shell_quote, Cmd};

/// Delete releases beyond `keep_releases` (never the live one), their
/// stopped containers, and their images unless a kept release uses them.
pub(super) fn prune(
    sh: &Shared,
    sess: &Session,
    live: &Release,
    em: &Emitter,
) -> Result<String, DeployError> {
    let mut all = sess.facts.releases.clone();
    if !all.iter().any(|r| r.release == live.release) {
        all.push(live.clone());
    }
    let keep = sh.project.config.deploy.keep_releases.max(1);
    let gone = release::to_prune(all.clone(), keep, Some(&live.release));
    if gone.is_empty() {
        return Ok(format!("{} release(s) kept", all.len()));
    }
    let gone_names: Vec<&str> = gone.iter().map(|r| r.release.as_str()).collect();
    let kept_images: Vec<&String> = all
        .iter()
        .filter(|r| !gone_names.contains(&r.release.as_str()))
        .flat_map(|r| r.images.values())
        .collect();
    let containers: Vec<String> = sess
        .facts
        .containers
        .iter()
        .filter(|c| gone_names.contains(&c.release.as_str()) && c.accessory.is_empty())
        .map(|c| c.name.clone())
        .collect();
    let mut images: Vec<String> = gone
        .iter()
        .flat_map(|r| r.images.values())
        .filter(|i| !kept_images.contains(i))
        .cloned()
        .collect();
    images.sort();
    images.dedup();
    let mut script = String::new();
    if !containers.is_empty() {
        script.push_str(&format!(
            "{} >/dev/null 2>&1; ",
            argv::sh(&argv::rm_force(&containers))
        ));
    }
    if !images.is_empty() {
        script.push_str(&format!(
            "{} >/dev/null 2>&1; ",
            argv::sh(&argv::rmi(&images))
        ));
    }
    for r in &gone {
        script.push_str(&format!(
            "rm -rf {}; ",
            shell_quote(&sess.layout.release_dir(&r.release))
        ));
    }
    script.push_str("true");
    sess.run_cmd(Cmd::shell(script), sh, em)?;
    Ok(format!("removed {}", gone_names.join(", ")))
}
