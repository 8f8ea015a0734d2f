//! The artifact a deploy ships: the app's version and images, built (or
//! reused for a clean commit) on this machine, or described without
//! building for a dry run.

use super::DeployError;
use crate::cancel::Cancel;
use crate::config::{BuildMode, Project};
use crate::docker::{self, argv, compose};
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::collections::BTreeMap;

/// The built app: version and images.
pub(crate) struct Artifact {
    pub version: String,
    pub git_sha: String,
    pub(super) kind: ArtKind,
}

pub(super) enum ArtKind {
    /// Rollback: nothing new.
    None,
    Image {
        service: String,
        image: String,
        image_id: Option<String>,
    },
    Compose {
        bytes: Vec<u8>,
        services: Vec<compose::Service>,
        /// Service -> (image ref, image ID) for every image arcane ships.
        images: BTreeMap<String, (String, String)>,
        health_service: Option<String>,
    },
}

/// The service name of a single-image app.
pub const IMAGE_SERVICE: &str = "web";

impl Artifact {
    pub fn none() -> Artifact {
        Artifact {
            version: "rollback".into(),
            git_sha: String::new(),
            kind: ArtKind::None,
        }
    }

    /// An image-mode artifact built elsewhere: what a unit test deploys
    /// without a local docker build. `image_id` None: nothing to ship.
    #[cfg(test)]
    pub fn for_test_image(version: &str, image: &str, image_id: Option<&str>) -> Artifact {
        Artifact {
            version: version.into(),
            git_sha: version.into(),
            kind: ArtKind::Image {
                service: IMAGE_SERVICE.into(),
                image: image.into(),
                image_id: image_id.map(String::from),
            },
        }
    }

    /// A compose-mode artifact: the file's `bytes`, its `services`, and
    /// service -> (image ref, image ID) for what arcane ships.
    #[cfg(test)]
    pub fn for_test_compose(
        version: &str,
        bytes: &[u8],
        services: Vec<compose::Service>,
        images: BTreeMap<String, (String, String)>,
        health_service: &str,
    ) -> Artifact {
        Artifact {
            version: version.into(),
            git_sha: version.into(),
            kind: ArtKind::Compose {
                bytes: bytes.to_vec(),
                services,
                images,
                health_service: Some(health_service.into()),
            },
        }
    }

    /// Version, mode and image names without building (dry run).
    pub fn describe(project: &Project, em: &Emitter) -> Result<Artifact, DeployError> {
        Self::make(project, false, true, &Cancel::default(), em)
    }

    /// Build (or reuse the image built for this clean commit).
    pub fn build(
        project: &Project,
        skip_build: bool,
        cancel: &Cancel,
        em: &Emitter,
    ) -> Result<Artifact, DeployError> {
        Self::make(project, skip_build, false, cancel, em)
    }

    fn make(
        project: &Project,
        skip_build: bool,
        describe_only: bool,
        cancel: &Cancel,
        em: &Emitter,
    ) -> Result<Artifact, DeployError> {
        let app = project.app_name();
        let state = crate::git::state(&project.root).map_err(|e| {
            DeployError::input(format!(
                "{e}; arcane tags images by git commit: commit your app first"
            ))
        })?;
        let version = state.version();
        let git_sha = state.sha.clone();
        let mode = project.build_mode();
        if let Some((path, what)) = mode.missing() {
            return Err(DeployError::input(format!(
                "{}: {what}; set [build] in arcane.toml",
                path.display()
            )));
        }
        // A clean commit builds the same image every time: reuse it. A
        // dirty tree always rebuilds (its version carries a content hash).
        let built = if describe_only {
            docker::find_built(project, em).map_err(docker_err)?
        } else if skip_build {
            Some(docker::find_built(project, em).map_err(docker_err)?.ok_or_else(|| {
                DeployError::input(format!(
                    "--skip-build: no image built for version {version}; run `arcane build` first or drop --skip-build"
                ))
            })?)
        } else {
            let reuse = if state.is_dirty() {
                None
            } else {
                docker::find_built(project, em).map_err(docker_err)?
            };
            match reuse {
                Some(b) => Some(b),
                None => Some(
                    docker::build(
                        project,
                        em,
                        &docker::BuildOptions {
                            cancel: cancel.clone(),
                            ..Default::default()
                        },
                    )
                    .map_err(docker_err)?,
                ),
            }
        };
        let kind = match mode {
            BuildMode::Dockerfile { .. } => {
                let b = built
                    .as_ref()
                    .and_then(|b| b.images.iter().find(|i| i.service == IMAGE_SERVICE));
                ArtKind::Image {
                    service: IMAGE_SERVICE.into(),
                    image: b.map(|i| i.tag.clone()).unwrap_or_else(|| {
                        format!(
                            "{}:{version}",
                            docker::build::repository(app, IMAGE_SERVICE, false)
                        )
                    }),
                    image_id: b.map(|i| i.id.clone()),
                }
            }
            BuildMode::Compose { file } => {
                let bytes = std::fs::read(&file).map_err(|e| {
                    DeployError::input(format!("{}: cannot read: {e}", file.display()))
                })?;
                let services = compose::local_services(&file, em).map_err(docker_err)?;
                let mut images = BTreeMap::new();
                for i in built.iter().flat_map(|b| b.images.iter()) {
                    // Content-addressed tag: a service whose image did not
                    // change keeps its reference, so compose leaves it running.
                    let ref_ = format!(
                        "{}:img-{}",
                        docker::build::repository(app, &i.service, true),
                        docker::build::short_id(&i.id)
                    );
                    if !describe_only {
                        let out = crate::remote::LocalTransport::new("local")
                            .run(&Cmd::argv(argv::tag(&i.tag, &ref_)), em)
                            .map_err(DeployError::remote)?;
                        if !out.success() {
                            return Err(DeployError::failed(format!(
                                "docker tag {}: {}",
                                i.tag,
                                out.stderr_str().trim()
                            )));
                        }
                    }
                    images.insert(i.service.clone(), (ref_, i.id.clone()));
                }
                for s in &services {
                    if let (None, Some(img)) = (&s.build, &s.image) {
                        if let Some(id) = docker::build::image_id(img, em).map_err(docker_err)? {
                            images.insert(s.name.clone(), (img.clone(), id));
                        }
                    }
                }
                let health_service = services
                    .iter()
                    .find(|s| s.name == IMAGE_SERVICE)
                    .or_else(|| services.iter().find(|s| s.build.is_some()))
                    .or(services.first())
                    .map(|s| s.name.clone());
                ArtKind::Compose {
                    bytes,
                    services,
                    images,
                    health_service,
                }
            }
        };
        Ok(Artifact {
            version,
            git_sha,
            kind,
        })
    }

    pub fn is_compose(&self) -> bool {
        matches!(self.kind, ArtKind::Compose { .. })
    }

    pub fn image_refs(&self) -> Vec<String> {
        match &self.kind {
            ArtKind::None => vec![],
            ArtKind::Image { image, .. } => vec![image.clone()],
            ArtKind::Compose { images, .. } => images.values().map(|(r, _)| r.clone()).collect(),
        }
    }

    pub fn services(&self) -> Vec<String> {
        match &self.kind {
            ArtKind::None => vec![],
            ArtKind::Image { service, .. } => vec![service.clone()],
            ArtKind::Compose { services, .. } => services.iter().map(|s| s.name.clone()).collect(),
        }
    }

    pub fn image_ids_known(&self) -> bool {
        match &self.kind {
            ArtKind::Image { image_id, .. } => image_id.is_some(),
            _ => true,
        }
    }

    /// Service -> image ID.
    pub fn image_ids(&self) -> BTreeMap<String, String> {
        match &self.kind {
            ArtKind::None => BTreeMap::new(),
            ArtKind::Image {
                service, image_id, ..
            } => image_id
                .iter()
                .map(|id| (service.clone(), id.clone()))
                .collect(),
            ArtKind::Compose { images, .. } => images
                .iter()
                .map(|(s, (_, id))| (s.clone(), id.clone()))
                .collect(),
        }
    }

    pub(crate) fn ship_list(&self) -> Vec<(String, String)> {
        match &self.kind {
            ArtKind::None => vec![],
            ArtKind::Image {
                image, image_id, ..
            } => image_id
                .iter()
                .map(|id| (image.clone(), id.clone()))
                .collect(),
            ArtKind::Compose { images, .. } => images.values().cloned().collect(),
        }
    }
}

pub(crate) fn docker_err(e: docker::DockerError) -> DeployError {
    if matches!(e, docker::DockerError::Interrupted(_)) {
        DeployError::Cancelled
    } else if e.is_input() {
        DeployError::input(e.to_string())
    } else {
        DeployError::failed(e.to_string())
    }
}
