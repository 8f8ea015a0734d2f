//! `arcane build`: build the app's image(s), tagged by git version and
//! labelled with the app, the version and the commit.
//!
//! Compose mode reads the compose file through `docker-compose config` (which
//! interpolates variables and makes build contexts absolute) and then runs
//! `docker build` itself for every service with a `build:` section, so tags
//! and labels are arcane's and the argv stays a pure, tested function. Services
//! with only an `image:` are not built (the deploy pulls or reuses them).

use super::argv::{self, BuildSpec, ComposeCli};
use super::DockerError;
use crate::config::Project;
use crate::event::Emitter;
use crate::git;
use crate::remote::{Cmd, LocalTransport, Transport};
use std::collections::BTreeMap;
use std::path::Path;

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
    l.insert(argv::LABEL_APP.to_string(), app.to_string());
    l.insert(argv::LABEL_VERSION.to_string(), version.to_string());
    l.insert(argv::LABEL_REVISION.to_string(), revision.to_string());
    if let Some(s) = service {
        l.insert(argv::LABEL_SERVICE.to_string(), s.to_string());
    }
    l
}

/// Plan the builds for the project (no docker build runs here; compose mode
/// asks compose for the normalized file).
pub fn plan(
    project: &Project,
    version: &str,
    revision: &str,
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
            let yaml = compose_config_text(&file)?;
            let services = parse_compose_builds(&yaml, file.parent().unwrap_or(Path::new(".")))
                .map_err(|e| {
                    DockerError::Input(format!(
                        "{}: cannot read the compose file: {e}",
                        file.display()
                    ))
                })?;
            if services.is_empty() {
                return Err(DockerError::Input(format!(
                    "{}: no service has a `build:` section, so there is nothing to build",
                    file.display()
                )));
            }
            Ok(services
                .into_iter()
                .map(|s| {
                    let mut build_args = args.clone();
                    build_args.extend(s.args);
                    PlannedBuild {
                        spec: BuildSpec {
                            dockerfile: s.dockerfile,
                            context: s.context,
                            tags: vec![format!("{}:{version}", repository(app, &s.service, true))],
                            labels: labels(app, version, revision, Some(&s.service)),
                            build_args,
                            target: s.target,
                        },
                        service: s.service,
                    }
                })
                .collect())
        }
    }
}

/// The compose CLI on this machine: `docker-compose` if present, else the plugin.
pub fn compose_cli() -> ComposeCli {
    let standalone = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("docker-compose").is_file()));
    if standalone {
        ComposeCli::Standalone
    } else {
        ComposeCli::Plugin
    }
}

fn compose_config_text(file: &Path) -> Result<String, DockerError> {
    let argv = argv::compose_config(compose_cli(), &file.display().to_string());
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(file.parent().unwrap_or(Path::new(".")))
        .output()
        .map_err(|e| DockerError::Io(format!("cannot run {}: {e}", argv[0])))?;
    if !out.status.success() {
        return Err(DockerError::Input(format!(
            "{}: compose rejected the file: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A compose service's build section, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeBuild {
    pub service: String,
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// Services with a `build:` section, in name order. Relative contexts are
/// resolved against `base` (the compose file's directory).
pub fn parse_compose_builds(yaml: &str, base: &Path) -> Result<Vec<ComposeBuild>, String> {
    use serde_norway::Value;
    let doc: Value = serde_norway::from_str(yaml).map_err(|e| e.to_string())?;
    let Some(services) = doc.get("services").and_then(Value::as_mapping) else {
        return Err("no `services:` mapping".into());
    };
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut out = vec![];
    for (name, svc) in services {
        let Some(name) = name.as_str() else { continue };
        let Some(build) = svc.get("build") else {
            continue;
        };
        let (context, dockerfile, args, target) = match build {
            Value::String(ctx) => (ctx.clone(), None, BTreeMap::new(), None),
            Value::Mapping(_) => {
                let ctx = build
                    .get("context")
                    .and_then(scalar)
                    .unwrap_or_else(|| ".".into());
                let df = build.get("dockerfile").and_then(scalar);
                let mut args = BTreeMap::new();
                match build.get("args") {
                    Some(Value::Mapping(m)) => {
                        for (k, v) in m {
                            if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                                args.insert(k, v);
                            }
                        }
                    }
                    Some(Value::Sequence(list)) => {
                        for item in list.iter().filter_map(scalar) {
                            if let Some((k, v)) = item.split_once('=') {
                                args.insert(k.to_string(), v.to_string());
                            }
                        }
                    }
                    _ => {}
                }
                let target = build.get("target").and_then(scalar);
                (ctx, df, args, target)
            }
            _ => {
                return Err(format!(
                    "service {name}: `build` must be a path or a mapping"
                ))
            }
        };
        let ctx_path = base.join(&context);
        let df_path = ctx_path.join(dockerfile.as_deref().unwrap_or("Dockerfile"));
        out.push(ComposeBuild {
            service: name.to_string(),
            context: ctx_path.display().to_string(),
            dockerfile: df_path.display().to_string(),
            args,
            target,
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
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
    let planned = plan(project, &version, &state.sha)?;
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
            return Err(DockerError::Interrupted);
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
    let planned = plan(project, &version, &state.sha)?;
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
    let out = LocalTransport::new("local").run(&Cmd::argv(argv::image_id(image)), em)?;
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
    fn compose_builds_are_read_from_normalized_and_short_forms() {
        let yaml = r#"
services:
  worker:
    build:
      context: /abs/app
      dockerfile: Dockerfile.worker
      args:
        MODE: worker
        N: 3
      target: prod
  db:
    image: postgres:16
  web:
    build: ./web
  api:
    build:
      context: api
      args: ["A=1", "B=x=y"]
"#;
        let b = parse_compose_builds(yaml, Path::new("/p")).unwrap();
        let names: Vec<_> = b.iter().map(|s| s.service.as_str()).collect();
        assert_eq!(names, ["api", "web", "worker"]);
        assert_eq!(b[0].context, "/p/api");
        assert_eq!(b[0].dockerfile, "/p/api/Dockerfile");
        assert_eq!(b[0].args["B"], "x=y");
        assert_eq!(b[1].context, "/p/./web");
        assert_eq!(b[2].context, "/abs/app");
        assert_eq!(b[2].dockerfile, "/abs/app/Dockerfile.worker");
        assert_eq!(b[2].args["N"], "3");
        assert_eq!(b[2].target.as_deref(), Some("prod"));
        assert!(parse_compose_builds("x: 1", Path::new("/")).is_err());
    }

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
