//! `arcane build`: build the app's image(s), tagged by git version and
//! labelled with the app, the version and the commit.
//!
//! Compose mode reads the compose file through `<compose> config` (which
//! interpolates variables and makes build contexts absolute, see
//! [`super::compose::local_services`]) and then runs `docker build` itself
//! for every service with a `build:` section, so tags and labels are arcane's
//! and the argv stays a pure, tested function. Services with only an
//! `image:` are not built (the deploy pulls or reuses them).

use super::argv::{self, BuildSpec};
use super::DockerError;
use crate::config::Project;
use crate::deploy::layout::{LABEL_APP, LABEL_REVISION, LABEL_SERVICE, LABEL_VERSION};
use crate::event::Emitter;
use crate::git;
use crate::remote::{Cmd, LocalTransport, Transport};
use std::collections::BTreeMap;

/// The service name of the single image in Dockerfile mode.
pub const DEFAULT_SERVICE: &str = "web";

pub use crate::config::BuildMode;

/// Resolve `[build]` (see [`crate::config::ProjectConfig::build_mode`]) and
/// check that the files it names exist.
pub fn build_mode(project: &Project) -> Result<BuildMode, DockerError> {
    let mode = project.config.build_mode(&project.root);
    if let Some((path, what)) = mode.missing() {
        return Err(DockerError::Input(format!(
            "{}: {what}; add it, or set [build] dockerfile, context or compose in arcane.toml",
            path.display()
        )));
    }
    Ok(mode)
}

/// Options for [`build`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The env being built for (passed to the smoke container as `ARCANE_ENV`).
    pub env: Option<String>,
    /// Run the smoke test after building (see [`super::smoke`]).
    pub smoke: bool,
    /// Stops (and kills) a running `docker build` when cancelled.
    pub cancel: crate::cancel::Cancel,
}

/// What a build produced: the version and one image per service (the
/// same data `arcane build --json` reports).
pub use crate::event::report::{BuildReport as BuiltImages, BuiltImage};

/// The version the current tree builds as: `<sha>` or `<sha>-dirty-<hash>`.
pub fn version_for(project: &Project) -> Result<String, DockerError> {
    Ok(git::state(&project.root)?.version())
}

/// The image repository for `service`.
pub fn repository(app: &str, service: &str, compose: bool) -> String {
    if compose {
        format!("{app}-{service}")
    } else {
        app.to_string()
    }
}

/// One `docker build` to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBuild {
    pub service: String,
    pub spec: BuildSpec,
}

/// Labels every arcane image carries.
pub fn labels(
    app: &str,
    version: &str,
    revision: &str,
    service: Option<&str>,
) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(LABEL_APP.to_string(), app.to_string());
    l.insert(LABEL_VERSION.to_string(), version.to_string());
    l.insert(LABEL_REVISION.to_string(), revision.to_string());
    if let Some(s) = service {
        l.insert(LABEL_SERVICE.to_string(), s.to_string());
    }
    l
}

/// Plan the builds for the project (no docker build runs here; compose mode
/// asks compose for the normalized file).
pub fn plan(
    project: &Project,
    version: &str,
    revision: &str,
    em: &Emitter,
) -> Result<Vec<PlannedBuild>, DockerError> {
    let app = project.app_name();
    let args = project.config.build.args.clone();
    match build_mode(project)? {
        BuildMode::Dockerfile {
            dockerfile,
            context,
        } => {
            let tag = format!("{}:{version}", repository(app, DEFAULT_SERVICE, false));
            Ok(vec![PlannedBuild {
                service: DEFAULT_SERVICE.into(),
                spec: BuildSpec {
                    dockerfile: dockerfile.display().to_string(),
                    context: context.display().to_string(),
                    tags: vec![tag],
                    labels: labels(app, version, revision, None),
                    build_args: args,
                    target: None,
                },
            }])
        }
        BuildMode::Compose { file } => {
            let mut built: Vec<(String, super::compose::Build)> =
                super::compose::local_services(&file, em)?
                    .into_iter()
                    .filter_map(|s| Some((s.name, s.build?)))
                    .collect();
            if built.is_empty() {
                return Err(DockerError::Input(format!(
                    "{}: no service has a `build:` section, so there is nothing to build",
                    file.display()
                )));
            }
            built.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(built
                .into_iter()
                .map(|(service, b)| {
                    let mut build_args = args.clone();
                    build_args.extend(b.args);
                    PlannedBuild {
                        spec: BuildSpec {
                            dockerfile: b.dockerfile,
                            context: b.context,
                            tags: vec![format!("{}:{version}", repository(app, &service, true))],
                            labels: labels(app, version, revision, Some(&service)),
                            build_args,
                            target: b.target,
                        },
                        service,
                    }
                })
                .collect())
        }
    }
}

/// Build every image of the project for the current git version. Docker's
/// output arrives as `Log` events, each image is a `build <service>` step, and
/// with `opts.smoke` the app image is smoke-tested afterwards.
pub fn build(
    project: &Project,
    em: &Emitter,
    opts: &BuildOptions,
) -> Result<BuiltImages, DockerError> {
    let state = git::state(&project.root)?;
    let version = state.version();
    if state.is_dirty() {
        em.warn(format!(
            "the working tree has uncommitted changes; building version {version}"
        ));
    }
    let planned = plan(project, &version, &state.sha, em)?;
    let local = LocalTransport::new("local");
    let mut images = vec![];
    for p in &planned {
        let step = format!("build {}", p.service);
        em.step_started(&step);
        let cmd = Cmd::argv(argv::build(&p.spec));
        let log = std::sync::Arc::new(super::build_log::BuildLog::new(
            em,
            &step,
            &super::build_log::log_path(project.app_name(), &p.service),
        ));
        let status = local.stream(&cmd, &Emitter::new(log.clone()), &|| {
            opts.cancel.is_cancelled()
        })?;
        if opts.cancel.is_cancelled() {
            em.step_finished(&step, false, Some("cancelled".into()));
            return Err(DockerError::Interrupted(crate::error::Interrupted));
        }
        if status != 0 {
            em.step_finished(
                &step,
                false,
                Some(format!("docker build exited with {status}")),
            );
            return Err(DockerError::Failed(format!(
                "docker build for service {} failed (exit {status}); the full log is in {}, it ends with:\n{}",
                p.service,
                log.path().display(),
                log.tail()
            )));
        }
        let tag = p.spec.tags[0].clone();
        let id = image_id(&tag, em)?.ok_or_else(|| {
            DockerError::Failed(format!("docker build succeeded but {tag} does not exist"))
        })?;
        em.step_finished(&step, true, Some(format!("{tag} ({})", short_id(&id))));
        images.push(BuiltImage {
            service: p.service.clone(),
            tag,
            id,
        });
    }
    let built = BuiltImages {
        version,
        revision: state.sha,
        images,
    };
    if opts.smoke {
        super::smoke::smoke_test(project, &built, opts.env.as_deref(), em)?;
    }
    Ok(built)
}

/// The images already built for the current version, if all of them exist.
pub fn find_built(project: &Project, em: &Emitter) -> Result<Option<BuiltImages>, DockerError> {
    let state = git::state(&project.root)?;
    let version = state.version();
    let planned = plan(project, &version, &state.sha, em)?;
    let mut images = vec![];
    for p in planned {
        let tag = p.spec.tags[0].clone();
        match image_id(&tag, em)? {
            Some(id) => images.push(BuiltImage {
                service: p.service,
                tag,
                id,
            }),
            None => return Ok(None),
        }
    }
    Ok(Some(BuiltImages {
        version,
        revision: state.sha,
        images,
    }))
}

/// The local image ID of `image`, or `None` if it does not exist.
pub fn image_id(image: &str, em: &Emitter) -> Result<Option<String>, DockerError> {
    let out =
        LocalTransport::new("local").run(&Cmd::argv(argv::image_id(&[image.to_string()])), em)?;
    if out.success() {
        Ok(Some(out.stdout_str().trim().to_string()))
    } else if out.stderr_str().contains("No such image")
        || out.stderr_str().contains("No such object")
    {
        Ok(None)
    } else {
        Err(DockerError::Failed(format!(
            "docker image inspect {image}: {}",
            out.stderr_str().trim()
        )))
    }
}

/// `sha256:0123456789ab...` → `0123456789ab`.
pub fn short_id(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..h.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_repositories() {
        let l = labels("web", "abc-dirty-1", "abc", Some("api"));
        assert_eq!(l["arcane.app"], "web");
        assert_eq!(l["arcane.version"], "abc-dirty-1");
        assert_eq!(l["org.opencontainers.image.revision"], "abc");
        assert_eq!(l["arcane.service"], "api");
        assert_eq!(repository("shop", "api", true), "shop-api");
        assert_eq!(repository("shop", "web", false), "shop");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
