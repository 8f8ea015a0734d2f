//! The deploy engine's calls into modules built alongside it: the merged env
//! (config + secrets), the local image build and version (ship), shipping
//! images to a server (ship), and the server transport (remote).
//!
//! Kept in one file so each seam is a single function; where the owning
//! module provides the real thing, these delegate to it.

use super::DeployError;
use crate::config::{Project, Server};
use crate::event::Emitter;
use crate::remote::{Connector, Transport};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the engine needs from whoever runs it (the ops layer's context):
/// how to open connections and which identity opens env files. Passed in,
/// never global, so two operations in one process (the dashboard) cannot
/// see each other's settings.
#[derive(Clone)]
pub struct Access {
    pub connector: Arc<dyn Connector>,
    /// `--identity`; None: the default identity or `ARCANE_MACHINE_KEY`.
    pub identity: Option<PathBuf>,
}

/// Open the transport for `server`.
pub fn connect(
    server: &Server,
    access: &Access,
    em: &Emitter,
) -> Result<Arc<dyn Transport>, DeployError> {
    access
        .connector
        .connect(server, em)
        .map_err(DeployError::remote)
}

/// The merged env for `env` on `server` (layers: `base.env`, `<env>.env`,
/// `<env>.<server>.env`; see `config::layers`), decrypted by the secrets
/// engine's reader.
pub fn merged_env(
    project: &Project,
    access: &Access,
    env: &str,
    server: &str,
) -> Result<BTreeMap<String, String>, DeployError> {
    Ok(merged_env_refs(project, access, env, server)?.0)
}

/// [`merged_env`] and the `${server:NAME}` references it resolved to
/// tailnet names (`network::refs`, a step of its own on the merged values).
pub fn merged_env_refs(
    project: &Project,
    access: &Access,
    env: &str,
    server: &str,
) -> Result<
    (
        BTreeMap<String, String>,
        Vec<crate::network::refs::Resolved>,
    ),
    DeployError,
> {
    let read = crate::secrets::boxed_reader(&project.root, access.identity.as_deref());
    let mut m = crate::config::layers::merged(project, env, Some(server), &*read)?;
    let refs = crate::network::refs::resolve_env(project, &mut m)?;
    Ok((m.pairs().into_iter().collect(), refs))
}

/// The key of the release digests of `env` (see `release::DigestKey`),
/// derived from the env's scope key: the same check of the signed key
/// manifest as every other use of that key.
pub fn digest_key(
    project: &Project,
    access: &Access,
    env: &str,
) -> Result<super::release::DigestKey, DeployError> {
    let identity = access.identity.as_deref();
    match crate::secrets::project::release_digest_key(&project.root, env, identity) {
        Ok(Some(k)) => Ok(super::release::DigestKey::new(k)),
        Ok(None) => Ok(super::release::DigestKey::public(project.app_name(), env)),
        Err(e) => {
            let file = crate::secrets::keys::key_file(&project.root, env);
            Err(e.into_config_error(&file).into())
        }
    }
}

/// Make `images` (`(tag, image ID)`) present on the server through the
/// ship engine, which sends only the layers the server lacks. Returns how
/// many images had to be sent.
pub fn ship(
    t: &dyn Transport,
    version: &str,
    revision: &str,
    images: &[(String, String)],
    em: &Emitter,
) -> Result<usize, DeployError> {
    ship_artifact(t, &Exported::default(), version, revision, images, em)
}

/// [`Exported::get`]'s result: the export, or why it failed (kept as text
/// so every server waiting on it can report it).
type ExportResult = Result<crate::docker::push::Prepared, (bool, String)>;

/// A deploy's artifact exported once (see `server::Shared::exported`).
#[derive(Default)]
pub struct Exported(std::sync::OnceLock<ExportResult>);

/// Like [`ship`] for the deploy's own artifact, shared by every server of
/// the deploy: the `docker save` into the blob cache runs once, in the
/// first server's thread that needs it, while the others wait for it.
pub fn ship_artifact(
    t: &dyn Transport,
    exported: &Exported,
    version: &str,
    revision: &str,
    images: &[(String, String)],
    em: &Emitter,
) -> Result<usize, DeployError> {
    if images.is_empty() {
        return Ok(0);
    }
    let p = exported.0.get_or_init(|| {
        crate::docker::push::prepare(&built_images(version, revision, images), em)
            .map_err(|e| (e.is_input(), e.to_string()))
    });
    let p = p.as_ref().map_err(|(input, msg)| {
        if *input {
            DeployError::input(msg.clone())
        } else {
            DeployError::failed(msg.clone())
        }
    })?;
    let rep = crate::docker::push::push_prepared(t, p, em).map_err(super::server::docker_err)?;
    Ok(images.len() - rep.already_present.len().min(images.len()))
}

fn built_images(
    version: &str,
    revision: &str,
    images: &[(String, String)],
) -> crate::docker::BuiltImages {
    crate::docker::BuiltImages {
        version: version.to_string(),
        revision: revision.to_string(),
        images: images
            .iter()
            .map(|(tag, id)| crate::docker::BuiltImage {
                service: tag.split(':').next().unwrap_or(tag).to_string(),
                tag: tag.clone(),
                id: id.clone(),
            })
            .collect(),
    }
}

/// `[registry]`, once per deploy: push the artifact's images there.
pub(crate) fn registry_push(
    registry: &str,
    login: Option<&crate::docker::push::RegistryLogin>,
    art: &super::server::Artifact,
    em: &Emitter,
) -> Result<(), DeployError> {
    let images = art.ship_list();
    if images.is_empty() {
        return Ok(());
    }
    let built = built_images(&art.version, &art.git_sha, &images);
    crate::docker::push::registry_push(registry, login, &built, em)
        .map_err(super::server::docker_err)
}

/// `[registry]`, on each server: pull, retag and check the image IDs.
pub(crate) fn registry_pull(
    t: &dyn Transport,
    reg: &super::server::Registry,
    art: &super::server::Artifact,
    em: &Emitter,
) -> Result<usize, DeployError> {
    let images = art.ship_list();
    if images.is_empty() {
        return Ok(0);
    }
    let built = built_images(&art.version, &art.git_sha, &images);
    crate::docker::push::registry_pull(t, &reg.server, reg.login.as_ref(), &built, em)
        .map_err(super::server::docker_err)?;
    Ok(images.len())
}

/// The image ID of a local image, if it exists.
pub fn local_image_id(image: &str, em: &Emitter) -> Result<Option<String>, DeployError> {
    crate::docker::build::image_id(image, em).map_err(super::server::docker_err)
}
/// The docker network the proxy and the apps behind it share.
pub const PROXY_NETWORK: &str = crate::proxy::NETWORK;

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
