//! `build`, `push`.

use super::args::*;
use super::Ctx;
use crate::config::{Project, Selection, Server};
use crate::docker::{self, push, BuildOptions, BuiltImages, DockerError};
use crate::error::InputError;
use crate::event::Emitter;
use crate::remote::{self, ConnectOptions, Transport};
use anyhow::Result;
use std::sync::Arc;

/// Input problems (config, missing Dockerfile, no commit) exit 2.
fn to_anyhow(e: DockerError) -> anyhow::Error {
    if e.is_input() {
        InputError::new(e.to_string()).into()
    } else {
        e.into()
    }
}

fn check_env(project: &Project, env: Option<&str>) -> Result<()> {
    if let Some(env) = env {
        let names = project.config.env_names();
        if !names.iter().any(|n| n == env) {
            return Err(InputError::new(format!(
                "unknown env {env:?}; arcane.toml defines: {}",
                names.join(", ")
            ))
            .into());
        }
    }
    Ok(())
}

pub fn build(ctx: &Ctx, a: BuildArgs) -> Result<i32> {
    let project = ctx.project()?;
    check_env(&project, a.env.as_deref())?;
    let em = &ctx.emitter;
    let built = docker::build(
        &project,
        em,
        &BuildOptions {
            env: a.env.clone(),
            smoke: a.smoke,
        },
    )
    .map_err(|e| {
        em.finished(false, "build failed");
        to_anyhow(e)
    })?;
    // Structured results for scripts; humans get the summary line.
    if ctx.json() {
        em.data("build", serde_json::to_value(&built)?);
    }
    let tags: Vec<&str> = built.images.iter().map(|i| i.tag.as_str()).collect();
    em.finished(true, format!("built {}", tags.join(", ")));
    Ok(0)
}

/// A transport for `server` (ssh, or this machine for `host = "local"`).
fn connect(server: &Server, project: &Project, em: &Emitter) -> Result<Arc<dyn Transport>> {
    let opts = ConnectOptions::for_project(&project.root);
    em.step_started("connect");
    let t = remote::connect(server, em, &opts);
    em.step_finished(
        "connect",
        t.is_ok(),
        t.as_ref().err().map(|e| e.to_string()),
    );
    Ok(t?)
}

/// The images for the current version: built already, or built now with the
/// smoke test (an image that fails it never ships).
fn ensure_built(ctx: &Ctx, project: &Project, env: Option<&str>) -> Result<BuiltImages> {
    let em = &ctx.emitter;
    if let Some(b) = docker::find_built(project, em).map_err(to_anyhow)? {
        return Ok(b);
    }
    let version = docker::version_for(project).map_err(to_anyhow)?;
    em.info(format!(
        "no image for version {version} yet: building it and running the smoke test first"
    ));
    docker::build(
        project,
        em,
        &BuildOptions {
            env: env.map(str::to_string),
            smoke: true,
        },
    )
    .map_err(to_anyhow)
}

pub fn push(ctx: &Ctx, a: PushArgs) -> Result<i32> {
    let project = ctx.project()?;
    let em = &ctx.emitter;
    let sel: Selection = (&a.target).into();
    let servers = project.select(&sel)?;
    let via = a.via.unwrap_or(if project.config.registry.is_some() {
        Via::Registry
    } else {
        Via::Ssh
    });
    // Registry settings and credentials are input: refuse (exit 2) before
    // building or connecting anything.
    let registry = match via {
        Via::Ssh => None,
        Via::Registry => {
            let Some(reg) = project.config.registry.clone() else {
                return Err(InputError::new(
                    "--via registry needs a [registry] table in arcane.toml (server, username, password_key)",
                )
                .into());
            };
            let login = registry_login(&reg)?;
            Some((reg, login))
        }
    };
    let built = ensure_built(ctx, &project, a.target.env.as_deref()).inspect_err(|_| {
        em.finished(false, "nothing was pushed");
    })?;

    let results: Vec<(String, Result<push::PushReport>)> = match via {
        Via::Ssh => {
            let prepared = push::prepare(&built, em).map_err(to_anyhow)?;
            std::thread::scope(|s| {
                let hs: Vec<_> = servers
                    .iter()
                    .map(|server| {
                        let em = em.for_server(&server.name);
                        let (prepared, project) = (&prepared, &project);
                        s.spawn(move || {
                            let t = connect(server, project, &em)?;
                            push::push_prepared(t.as_ref(), prepared, &em).map_err(to_anyhow)
                        })
                    })
                    .collect();
                servers
                    .iter()
                    .zip(hs)
                    .map(|(srv, h)| {
                        let r = h
                            .join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("push thread panicked")));
                        (srv.name.clone(), r)
                    })
                    .collect()
            })
        }
        Via::Registry => {
            let (reg, login) = registry.expect("resolved above");
            push::registry_push(&reg.server, login.as_ref(), &built, em).map_err(to_anyhow)?;
            std::thread::scope(|s| {
                let hs: Vec<_> = servers
                    .iter()
                    .map(|server| {
                        let em = em.for_server(&server.name);
                        let (reg, login, built, project) = (&reg, &login, &built, &project);
                        s.spawn(move || {
                            let t = connect(server, project, &em)?;
                            push::registry_pull(t.as_ref(), &reg.server, login.as_ref(), built, &em)
                                .map_err(to_anyhow)
                        })
                    })
                    .collect();
                servers
                    .iter()
                    .zip(hs)
                    .map(|(srv, h)| {
                        let r = h
                            .join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("push thread panicked")));
                        (srv.name.clone(), r)
                    })
                    .collect()
            })
        }
    };

    let mut rows = vec![];
    let mut failed = vec![];
    for (server, r) in &results {
        match r {
            Ok(rep) => {
                if ctx.json() {
                    em.data("push", serde_json::to_value(rep)?);
                }
                rows.push(vec![
                    server.clone(),
                    "ok".into(),
                    push::human_bytes(rep.bytes_sent),
                    format!("{:.1}s", rep.elapsed_ms as f64 / 1000.0),
                ]);
            }
            Err(e) => {
                em.for_server(server)
                    .message(crate::event::Level::Error, format!("{e:#}"));
                rows.push(vec![
                    server.clone(),
                    "failed".into(),
                    "-".into(),
                    "-".into(),
                ]);
                failed.push(server.clone());
            }
        }
    }
    em.data(
        "table",
        super::render::table(&["server", "push", "sent", "time"], rows),
    );
    if failed.is_empty() {
        em.finished(
            true,
            format!(
                "version {} is on {} server(s)",
                built.version,
                results.len()
            ),
        );
        Ok(0)
    } else {
        em.finished(false, format!("push failed on {}", failed.join(", ")));
        Err(anyhow::anyhow!(
            "push failed on {}; run `arcane push` again to retry (completed layers are kept)",
            failed.join(", ")
        ))
    }
}

/// Registry credentials: the password comes from the environment variable
/// named by `[registry] password_key` and goes to `docker login` on stdin.
fn registry_login(reg: &crate::config::RegistryConfig) -> Result<Option<push::RegistryLogin>> {
    push::RegistryLogin::from_config(reg).map_err(|m| InputError::new(m).into())
}
