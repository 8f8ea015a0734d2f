//! A new deploy up to activation: ship the images, then write the release
//! directory (env file 0600, compose files, release.json).

use super::{activate, release_running, step, ArtKind, Done, Failure, Session, Shared};
use crate::deploy::deps;
use crate::deploy::layout::Labels;
use crate::deploy::release::{self, EnvDigest, Release, Runtime, Status};
use crate::deploy::DeployError;
use crate::docker::argv::RunSpec;
use crate::docker::compose;
use crate::event::Emitter;
use crate::remote::{shell_quote, Cmd};
use std::collections::BTreeMap;

pub(super) fn deploy_new(
    sh: &Shared,
    sess: &Session,
    vars: &BTreeMap<String, String>,
    em: &Emitter,
) -> Result<Done, Failure> {
    let art = &sh.art;
    let digest = EnvDigest::of(&deps::digest_key(sh.project, &sh.access, &sh.env)?, vars);
    let image_ids = art.image_ids();
    let live = sess.live_release().cloned();
    let noop = live
        .as_ref()
        .filter(|r| {
            r.version == art.version
                && r.same_content(&image_ids, &digest.all)
                && same_networks(sh, r)
                && release_running(sess, r)
        })
        .cloned();

    step(em, "ship", || {
        if noop.is_some() {
            return Ok(((), "images already on the server".into()));
        }
        if sess.server.is_local() {
            return Ok((
                (),
                "local: built on this Docker engine, nothing to send".into(),
            ));
        }
        let n = match &sh.registry {
            Some(reg) => deps::registry_pull(&*sess.t, reg, art, em)?,
            None => deps::ship_artifact(
                &*sess.t,
                &sh.exported,
                &art.version,
                &art.git_sha,
                &art.ship_list(),
                em,
            )?,
        };
        Ok((
            (),
            match n {
                0 => "images already on the server".to_string(),
                n => format!("sent {n} image(s)"),
            },
        ))
    })?;

    let is_noop = noop.is_some();
    let rel = match noop {
        Some(r) => {
            step(em, "release-dir", || {
                Ok((
                    (),
                    format!("unchanged: {} is live with this image and env", r.release),
                ))
            })?;
            r
        }
        None => {
            let names: Vec<String> = sess
                .facts
                .releases
                .iter()
                .map(|r| r.release.clone())
                .collect();
            let name = release::next_release_name(&art.version, &names);
            let rel = new_release(sh, sess, &name, &digest, &image_ids)?;
            step(em, "release-dir", || {
                write_release_dir(sh, sess, &rel, vars, em)?;
                Ok(((), sess.layout.release_dir(&name)))
            })?;
            rel
        }
    };
    activate(sh, sess, rel, live, is_noop, true, em)
}

/// A release name short enough for container names (which the proxy uses as
/// DNS names, 63 characters at most): the 40-hex commit becomes 12 digits and
/// a dirty-tree hash 8; `-dirty` and `-r2` suffixes stay readable.
pub(crate) fn short_release(release: &str) -> String {
    release
        .split('-')
        .enumerate()
        .map(|(i, part)| {
            let hex = part.len() > 12 && part.chars().all(|c| c.is_ascii_hexdigit());
            let part: String = part
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            match (i, hex) {
                (0, true) => part[..12].to_string(),
                (_, true) => part[..8].to_string(),
                _ => part,
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn new_release(
    sh: &Shared,
    sess: &Session,
    name: &str,
    digest: &EnvDigest,
    image_ids: &BTreeMap<String, String>,
) -> Result<Release, DeployError> {
    let cfg = &sh.project.config;
    let port = cfg.app_port();
    let env_file = sess.layout.env_file(name);
    let (runtime, images) = match &sh.art.kind {
        ArtKind::None => return Err(DeployError::failed("internal: no artifact to deploy")),
        ArtKind::Image { service, image, .. } => {
            let spec = RunSpec {
                name: format!("{}-{}-{}-{}", sh.app, sh.env, service, short_release(name)),
                image: image.clone(),
                env_file,
                network: network_name(sh),
                publish: if cfg.proxy.is_some() {
                    None
                } else {
                    Some(publish_value(sh))
                },
                labels: Labels {
                    app: sh.app.clone(),
                    env: sh.env.clone(),
                    service: service.clone(),
                    version: sh.art.version.clone(),
                    release: name.to_string(),
                },
                also: extra_networks(sh),
            };
            let images = [(service.clone(), image.clone())].into_iter().collect();
            (Runtime::Image { spec, port }, images)
        }
        ArtKind::Compose {
            images,
            health_service,
            ..
        } => {
            let cli = sess.facts.compose.ok_or_else(|| {
                DeployError::failed(format!(
                    "{}: neither `docker compose` nor `docker-compose` is installed on the server",
                    sess.server.name
                ))
            })?;
            (
                Runtime::Compose {
                    cli,
                    project: format!("{}-{}", sh.app, sh.env),
                    files: vec![
                        sess.layout.compose_file(name),
                        sess.layout.override_file(name),
                    ],
                    health_service: health_service.clone(),
                    port,
                    networks: accessory_network(sh).into_iter().collect(),
                },
                images
                    .iter()
                    .map(|(s, (r, _))| (s.clone(), r.clone()))
                    .collect(),
            )
        }
    };
    let now = time::OffsetDateTime::now_utc();
    Ok(Release {
        app: sh.app.clone(),
        env: sh.env.clone(),
        release: name.to_string(),
        version: sh.art.version.clone(),
        git_sha: sh.art.git_sha.clone(),
        created_at: crate::deploy::now_rfc3339(),
        created_unix: now.unix_timestamp(),
        deployed_by: crate::deploy::whoami(),
        images,
        image_ids: image_ids.clone(),
        env_digest: digest.all.clone(),
        env_keys: digest.keys.clone(),
        runtime,
        status: Status::Pending,
    })
}

/// Docker network of the app: the proxy's shared network behind a proxy,
/// else one per app+env so apps on one server cannot reach each other.
fn network_name(sh: &Shared) -> String {
    if sh.project.config.proxy.is_some() {
        deps::PROXY_NETWORK.to_string()
    } else {
        format!("{}-{}", sh.app, sh.env)
    }
}

/// Whether the live release's container is on the networks a new one would
/// join (an accessory added since, or an arcane that did not join them yet,
/// makes a same-commit redeploy a real one).
fn same_networks(sh: &Shared, r: &Release) -> bool {
    match &r.runtime {
        Runtime::Image { spec, .. } => {
            spec.network == network_name(sh) && spec.also == extra_networks(sh)
        }
        Runtime::Compose { networks, .. } => {
            *networks == accessory_network(sh).into_iter().collect::<Vec<_>>()
        }
    }
}

/// Networks an app container joins besides [`network_name`].
fn extra_networks(sh: &Shared) -> Vec<String> {
    accessory_network(sh)
        .filter(|n| *n != network_name(sh))
        .into_iter()
        .collect()
}

/// The network an app's accessories are on, `<app>-<env>`, when it has any:
/// app containers (and hook runs) join it so they reach `db` by name.
pub(super) fn accessory_network(sh: &Shared) -> Option<String> {
    (!sh.project.config.accessories.is_empty()).then(|| format!("{}-{}", sh.app, sh.env))
}

/// `-p` value without a proxy: the env's `publish` or the app port on all
/// interfaces.
fn publish_value(sh: &Shared) -> String {
    let port = sh.project.config.app_port();
    match sh.project.config.publish_for(&sh.env) {
        // "8080" or "127.0.0.1:8080": docker's `-p` takes both before `:port`.
        Some(p) => format!("{p}:{port}"),
        None => format!("{port}:{port}"),
    }
}

fn write_release_dir(
    sh: &Shared,
    sess: &Session,
    rel: &Release,
    vars: &BTreeMap<String, String>,
    em: &Emitter,
) -> Result<(), DeployError> {
    let dir = sess.layout.release_dir(&rel.release);
    sess.run_cmd(
        Cmd::shell(format!("mkdir -p -m 700 {}", shell_quote(&dir))),
        sh,
        em,
    )?;
    let envb = release::env_file_bytes(vars).map_err(DeployError::input)?;
    let t = &*sess.t;
    t.upload(&sess.layout.env_file(&rel.release), &envb, 0o600, em)
        .map_err(DeployError::remote)?;
    if let ArtKind::Compose {
        bytes, services, ..
    } = &sh.art.kind
    {
        t.upload(&sess.layout.compose_file(&rel.release), bytes, 0o644, em)
            .map_err(DeployError::remote)?;
        let ovs: Vec<compose::OverrideService> = services
            .iter()
            .map(|s| compose::OverrideService {
                name: s.name.clone(),
                image: s
                    .build
                    .as_ref()
                    .and_then(|_| rel.images.get(&s.name).cloned()),
                built: s.build.is_some(),
                network_mode: s.network_mode,
            })
            .collect();
        let acc = accessory_network(sh);
        let nets: Vec<&str> = sh
            .project
            .config
            .proxy
            .as_ref()
            .map(|_| deps::PROXY_NETWORK)
            .into_iter()
            .chain(acc.as_deref())
            .collect();
        let y = compose::override_yaml(
            &sh.app,
            &sh.env,
            &sess.layout.env_file(&rel.release),
            &ovs,
            &nets,
        );
        t.upload(
            &sess.layout.override_file(&rel.release),
            y.as_bytes(),
            0o644,
            em,
        )
        .map_err(DeployError::remote)?;
    }
    save_release(sess, rel, em)
}

pub(super) fn save_release(sess: &Session, rel: &Release, em: &Emitter) -> Result<(), DeployError> {
    let json = serde_json::to_vec_pretty(rel).expect("release serializes");
    sess.t
        .upload(&sess.layout.release_json(&rel.release), &json, 0o600, em)
        .map_err(DeployError::remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_use_short_releases() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(short_release(sha), "0123456789ab");
        assert_eq!(short_release(&format!("{sha}-r2")), "0123456789ab-r2");
        assert_eq!(
            short_release(&format!("{sha}-dirty-fedcba9876543210")),
            "0123456789ab-dirty-fedcba98"
        );
        assert_eq!(short_release("v1.2"), "v1.2");
    }
}
