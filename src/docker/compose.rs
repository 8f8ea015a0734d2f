//! Compose: which CLI runs it (detected the same way on this machine, in a
//! deploy's facts round trip and by `server check`), its command lines,
//! reading a project's services from `<compose> config`, and the override
//! that carries arcane's image tags, env file and labels to the server.
//!
//! The project's own compose file is uploaded unchanged; everything arcane
//! needs is in a generated `arcane.override.yml` next to it, so `up -d
//! --remove-orphans` converges with the user's file as the source of truth.
//! Built services get tags derived from their image ID, so a service whose
//! image did not change keeps the same reference and is not recreated.

use super::argv::words as s;
use super::DockerError;
use crate::deploy::layout::{LABEL_APP, LABEL_ENV, LABEL_SERVICE};
use crate::event::Emitter;
use crate::remote::{Cmd, LocalTransport, RemoteError, Transport};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Which compose CLI runs compose files: the `docker compose` plugin (v2)
/// or the standalone `docker-compose` (v1, or a standalone v2, which takes
/// the same words). Recorded in `release.json` as `v2`/`v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComposeCli {
    V2,
    V1,
}

impl ComposeCli {
    pub fn prefix(self) -> Vec<String> {
        match self {
            ComposeCli::V2 => s(&["docker", "compose"]),
            ComposeCli::V1 => s(&["docker-compose"]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ComposeCli::V2 => "v2",
            ComposeCli::V1 => "v1",
        }
    }
}

/// One line: `v2 [VERSION]`, `v1 [VERSION]` or `none`. The plugin wins when
/// both are installed. Without `versions` only `docker compose version`
/// runs (its output is dropped) and v1 is found on the PATH: starting v1's
/// Python costs a deploy's round trip several hundred milliseconds, which
/// only `server check` pays to report the version.
pub fn detect_script(versions: bool) -> String {
    let (v2, v1) = if versions {
        (
            "if v=$(docker compose version --short 2>/dev/null); then echo \"v2 $v\"",
            "echo \"v1 $(docker-compose version --short 2>/dev/null)\"",
        )
    } else {
        (
            "if docker compose version >/dev/null 2>&1; then echo v2",
            "echo v1",
        )
    };
    format!("{v2}; elif command -v docker-compose >/dev/null 2>&1; then {v1}; else echo none; fi")
}

/// What [`detect_script`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub cli: ComposeCli,
    pub version: Option<String>,
}

pub fn parse_detect(line: &str) -> Option<Detected> {
    let mut w = line.split_whitespace();
    let cli = match w.next()? {
        "v2" => ComposeCli::V2,
        "v1" => ComposeCli::V1,
        _ => return None,
    };
    Some(Detected {
        cli,
        version: w.next().map(|v| v.trim_start_matches('v').to_string()),
    })
}

/// The compose CLI of the machine behind `t`.
pub fn detect(t: &dyn Transport, em: &Emitter) -> Result<Option<ComposeCli>, RemoteError> {
    let out = t.run(&Cmd::shell(detect_script(false)), em)?;
    Ok(parse_detect(out.stdout_str().trim()).map(|d| d.cli))
}

/// `<compose> [-p PROJECT] -f A -f B` + `rest`.
pub fn compose(
    cli: ComposeCli,
    project: Option<&str>,
    files: &[String],
    rest: &[&str],
) -> Vec<String> {
    let mut a = cli.prefix();
    if let Some(p) = project {
        a.extend(["-p".into(), p.into()]);
    }
    for f in files {
        a.extend(["-f".into(), f.clone()]);
    }
    a.extend(rest.iter().map(|x| x.to_string()));
    a
}

/// The normalized, interpolated compose file (contexts made absolute).
pub fn config(cli: ComposeCli, file: &str) -> Vec<String> {
    compose(cli, None, &[file.to_string()], &["config"])
}

/// Converge: only services whose config or image changed are recreated;
/// services removed from the file are removed. Never builds on the server.
pub fn up(cli: ComposeCli, project: &str, files: &[String]) -> Vec<String> {
    compose(
        cli,
        Some(project),
        files,
        &["up", "-d", "--remove-orphans", "--no-build"],
    )
}

/// Stop every service of a project (its containers stay).
pub fn stop(cli: ComposeCli, project: &str) -> Vec<String> {
    compose(cli, Some(project), &[], &["stop"])
}

/// A service's `build:` section, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Build {
    /// Absolute (or relative to the compose file's directory when the file
    /// was read unnormalized) build context.
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// One service of a compose file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: String,
    pub image: Option<String>,
    /// Set when arcane builds the service's image.
    pub build: Option<Build>,
    /// The service sets `network_mode` (host, `service:x`, ...), which
    /// compose refuses to combine with `networks`.
    pub network_mode: bool,
}

/// Parse the services of a compose file (normalized `<compose> config`
/// output, or the user's own file), in file order. Relative build contexts
/// are resolved against `base` (the compose file's directory).
pub fn parse_config(yaml: &str, base: &Path) -> Result<Vec<Service>, String> {
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
        let build = match svc.get("build") {
            None | Some(Value::Null) => None,
            Some(Value::String(ctx)) => Some((ctx.clone(), None, BTreeMap::new(), None)),
            Some(b @ Value::Mapping(_)) => {
                let ctx = b
                    .get("context")
                    .and_then(scalar)
                    .unwrap_or_else(|| ".".into());
                let mut args = BTreeMap::new();
                match b.get("args") {
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
                let df = b.get("dockerfile").and_then(scalar);
                Some((ctx, df, args, b.get("target").and_then(scalar)))
            }
            Some(_) => {
                return Err(format!(
                    "service {name}: `build` must be a path or a mapping"
                ))
            }
        };
        out.push(Service {
            name: name.to_string(),
            image: svc.get("image").and_then(scalar),
            network_mode: svc.get("network_mode").is_some(),
            build: build.map(|(context, dockerfile, args, target)| {
                let ctx = base.join(&context);
                let df = ctx.join(dockerfile.as_deref().unwrap_or("Dockerfile"));
                Build {
                    context: ctx.display().to_string(),
                    dockerfile: df.display().to_string(),
                    args,
                    target,
                }
            }),
        });
    }
    Ok(out)
}

/// The services of the compose file `file` on this machine, as the local
/// compose CLI normalizes it (variables interpolated, contexts absolute).
pub fn local_services(file: &Path, em: &Emitter) -> Result<Vec<Service>, DockerError> {
    let t = LocalTransport::new("local");
    let cli = detect(&t, em)?.ok_or_else(|| {
        DockerError::Input(
            "compose mode needs `docker compose` (v2) or `docker-compose` (v1) on this machine"
                .into(),
        )
    })?;
    let out = t.run(&Cmd::argv(config(cli, &file.display().to_string())), em)?;
    if !out.success() {
        return Err(DockerError::Input(format!(
            "{}: compose rejected the file: {}",
            file.display(),
            out.stderr_str().trim()
        )));
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let services = parse_config(&out.stdout_str(), base).map_err(|e| {
        DockerError::Input(format!(
            "{}: cannot read the compose file: {e}",
            file.display()
        ))
    })?;
    if services.is_empty() {
        return Err(DockerError::Input(format!(
            "{}: no services found",
            file.display()
        )));
    }
    Ok(services)
}

/// What the override sets for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideService {
    pub name: String,
    /// Image reference for built services (None keeps the file's `image`).
    pub image: Option<String>,
    /// Whether the service has a `build` section to neutralize on the server.
    pub built: bool,
    /// The service sets `network_mode`: it joins no networks.
    pub network_mode: bool,
}

/// The generated override. `networks` are external networks every service
/// joins besides the project's default one: the proxy's, and `<app>-<env>`
/// where the app's accessories are. YAML is a superset of JSON for scalars,
/// so every value is written as a JSON string and needs no YAML escaping.
pub fn override_yaml(
    app: &str,
    env: &str,
    env_file: &str,
    services: &[OverrideService],
    networks: &[&str],
) -> String {
    let q = |s: &str| json!(s).to_string();
    let mut y = String::from("# Generated by arcane for this release. Do not edit.\nservices:\n");
    for s in services {
        y.push_str(&format!("  {}:\n", q(&s.name)));
        if let Some(img) = &s.image {
            y.push_str(&format!("    image: {}\n", q(img)));
        }
        if s.built {
            // The build context is not on the server; point it at the release
            // dir so compose validates, and `--no-build` never builds.
            y.push_str("    build:\n      context: \".\"\n");
        }
        y.push_str(&format!("    env_file:\n      - {}\n", q(env_file)));
        // No per-release labels: a service whose image and env did not
        // change must not be recreated.
        let labels: BTreeMap<&str, &str> = [
            (LABEL_APP, app),
            (LABEL_ENV, env),
            (LABEL_SERVICE, s.name.as_str()),
        ]
        .into_iter()
        .collect();
        y.push_str("    labels:\n");
        for (k, v) in labels {
            y.push_str(&format!("      {}: {}\n", q(k), q(v)));
        }
        if !networks.is_empty() && !s.network_mode {
            y.push_str("    networks:\n      - default\n");
            for n in networks {
                y.push_str(&format!("      - {}\n", q(n)));
            }
        }
    }
    if !networks.is_empty() {
        y.push_str("networks:\n");
        for n in networks {
            y.push_str(&format!("  {}:\n    external: true\n", q(n)));
        }
    }
    y
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
