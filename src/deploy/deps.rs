//! The deploy engine's calls into modules built alongside it: the merged env
//! (config + secrets), the local image build and version (ship), shipping
//! images to a server (ship), and the server transport (remote).
//!
//! Kept in one file so each seam is a single function; where the owning
//! module provides the real thing, these delegate to it.

use super::DeployError;
use crate::config::{Project, Server};
use crate::event::Emitter;
use crate::remote::{Cmd, LocalTransport, Transport};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Open the transport for `server` (relative key and known_hosts paths in
/// servers.toml are relative to the project root).
pub fn connect(
    server: &Server,
    root: &Path,
    em: &Emitter,
) -> Result<Arc<dyn Transport>, DeployError> {
    let opts = crate::remote::ConnectOptions {
        base_dir: Some(root.to_path_buf()),
        ..Default::default()
    };
    crate::remote::connect(server, em, &opts).map_err(DeployError::remote)
}

/// The merged env for `env` on `server` (layers: `base.env`, `<env>.env`,
/// `<env>.<server>.env`; see `config::layers`).
pub fn merged_env(
    project: &Project,
    env: &str,
    server: &str,
) -> Result<BTreeMap<String, String>, DeployError> {
    let m = crate::config::layers::merged(
        project,
        env,
        Some(server),
        &crate::config::layers::read_plain,
    )?;
    Ok(m.pairs().into_iter().collect())
}

/// The version and git SHA of the project's checkout: the short commit SHA,
/// with `-dirty` when tracked files under the project differ from HEAD.
pub fn version(root: &Path) -> Result<(String, String), DeployError> {
    let repo = git2::Repository::discover(root).map_err(|e| {
        DeployError::input(format!(
            "{}: not in a git repository ({}); arcane tags images by git SHA: run `git init && git commit`",
            root.display(),
            e.message()
        ))
    })?;
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        DeployError::input(format!(
            "{}: no commit yet ({}); commit your app first",
            root.display(),
            e.message()
        ))
    })?;
    let sha = head.id().to_string();
    let mut version = sha[..7].to_string();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    if let (Some(wd), Ok(root)) = (repo.workdir(), root.canonicalize()) {
        if let Ok(rel) = root.strip_prefix(wd.canonicalize().unwrap_or(wd.to_path_buf())) {
            if !rel.as_os_str().is_empty() {
                opts.pathspec(rel);
            }
        }
    }
    // arcane's own config (env files, servers, arcane.toml) is not part of
    // the image: editing an env file must not make the build "dirty".
    let prefix = repo
        .workdir()
        .and_then(|wd| {
            let wd = wd.canonicalize().ok()?;
            let root = root.canonicalize().ok()?;
            root.strip_prefix(&wd).ok().map(|p| p.to_path_buf())
        })
        .unwrap_or_default();
    let is_config = |p: &str| {
        let rel = Path::new(p).strip_prefix(&prefix).unwrap_or(Path::new(p));
        rel.starts_with("config") || rel == Path::new("arcane.toml")
    };
    let dirty = repo
        .statuses(Some(&mut opts))
        .map(|s| {
            s.iter().any(|e| {
                e.status() != git2::Status::CURRENT && !e.path().is_some_and(is_config)
            })
        })
        .unwrap_or(false);
    if dirty {
        version.push_str("-dirty");
    }
    Ok((version, sha))
}

/// Build `image` locally from a Dockerfile. Skipped when the image for this
/// clean commit already exists (same SHA, same inputs).
pub fn build_image(
    dockerfile: &Path,
    context: &Path,
    image: &str,
    labels: &[(String, String)],
    build_args: &BTreeMap<String, String>,
    clean: bool,
    em: &Emitter,
) -> Result<bool, DeployError> {
    let t = LocalTransport::new("local");
    if clean && local_image_id(image, em)?.is_some() {
        return Ok(false);
    }
    let mut argv: Vec<String> = vec![
        "docker".into(),
        "build".into(),
        "-t".into(),
        image.into(),
        "-f".into(),
        dockerfile.display().to_string(),
    ];
    for (k, v) in labels {
        argv.push("--label".into());
        argv.push(format!("{k}={v}"));
    }
    for (k, v) in build_args {
        argv.push("--build-arg".into());
        argv.push(format!("{k}={v}"));
    }
    argv.push(context.display().to_string());
    let out = t.run(&Cmd::argv(argv), em).map_err(DeployError::remote)?;
    if !out.success() {
        for line in out
            .stderr_str()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            em.log(crate::event::Stream::Stderr, line);
        }
        return Err(DeployError::failed(format!(
            "docker build of {image} failed (exit {})",
            out.status
        )));
    }
    Ok(true)
}

/// The image ID of a local image, if it exists.
pub fn local_image_id(image: &str, em: &Emitter) -> Result<Option<String>, DeployError> {
    let t = LocalTransport::new("local");
    let out = t
        .run(&Cmd::argv(super::argv::image_id(image)), em)
        .map_err(DeployError::remote)?;
    Ok(out
        .success()
        .then(|| out.stdout_str().trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// Make `images` present on the server, sending only what is missing.
/// Returns how many images were sent.
pub fn ship(
    t: &dyn Transport,
    images: &[(String, String)],
    em: &Emitter,
) -> Result<usize, DeployError> {
    let mut sent = 0;
    for (image, id) in images {
        let out = t
            .run(&Cmd::argv(super::argv::image_id(image)), em)
            .map_err(DeployError::remote)?;
        if out.success() && out.stdout_str().trim() == id {
            continue;
        }
        let saved = std::process::Command::new("docker")
            .args(["save", image])
            .output()
            .map_err(|e| DeployError::failed(format!("docker save {image}: {e}")))?;
        if !saved.status.success() {
            return Err(DeployError::failed(format!(
                "docker save {image}: {}",
                String::from_utf8_lossy(&saved.stderr).trim()
            )));
        }
        em.progress(&format!("ship {image}"), 0, Some(saved.stdout.len() as u64));
        let out = t
            .run(
                &Cmd::argv(["docker", "load", "-q"]).with_stdin(saved.stdout.clone()),
                em,
            )
            .map_err(DeployError::remote)?;
        em.progress(
            &format!("ship {image}"),
            saved.stdout.len() as u64,
            Some(saved.stdout.len() as u64),
        );
        if !out.success() {
            return Err(DeployError::failed(format!(
                "{}: docker load of {image} failed: {}",
                t.name(),
                out.stderr_str().trim()
            )));
        }
        sent += 1;
    }
    Ok(sent)
}

/// The docker network the proxy and the apps behind it share.
pub const PROXY_NETWORK: &str = crate::proxy::NETWORK;

/// `[deploy] publish`: the host port (or `ip:port`) the app is published on
/// when there is no `[proxy]`.
pub fn publish_setting(project: &Project) -> Option<String> {
    project.config.deploy.publish.clone()
}

fn proxy_of(project: &Project) -> Result<Box<dyn crate::proxy::Proxy>, DeployError> {
    crate::proxy::for_project(&project.config)
        .ok_or_else(|| DeployError::failed("internal: proxy used without [proxy]"))
}

/// Start the proxy (and its network) if it is not running.
pub fn proxy_ensure(project: &Project, t: &dyn Transport, em: &Emitter) -> Result<(), DeployError> {
    proxy_of(project)?
        .ensure(t, em)
        .map_err(|e| DeployError::failed(e.to_string()))
}

/// Point the app+env's route at `upstreams` and drain the old ones.
pub fn proxy_switch(
    project: &Project,
    t: &dyn Transport,
    em: &Emitter,
    _app: &str,
    env: &str,
    upstreams: &[String],
) -> Result<(), DeployError> {
    let p = proxy_of(project)?;
    let route = crate::proxy::Route::for_project(&project.config, env, upstreams.to_vec())
        .ok_or_else(|| DeployError::failed("internal: proxy used without [proxy]"))?;
    let drain = std::time::Duration::from_secs(
        project
            .config
            .proxy
            .as_ref()
            .map(|p| p.drain_timeout)
            .unwrap_or(30),
    );
    p.switch(t, em, &route, drain)
        .map_err(|e| DeployError::failed(e.to_string()))
}
