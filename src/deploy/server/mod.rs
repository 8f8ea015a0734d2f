//! One server's deploy, as plain sequential steps: connect, lock, ship,
//! release-dir, pre-deploy, start, health, cutover, post-deploy, record,
//! prune, unlock. Any failure after the new version started undoes exactly
//! what was done (see [`Stage`]) and leaves the previous release serving.

use super::argv::{self, Labels, RunSpec};
use super::compose;
use super::deps;
use super::health::{self, Probe};
use super::lock::Lock;
use super::release::{self, EnvDigest, Release, Runtime, Status};
use super::{Cancel, DeployError, ServerOutcome};
use crate::config::{Project, Server, Strategy};
use crate::event::{Emitter, Stream};
use crate::remote::{shell_quote, Cmd};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod artifact;
mod hooks;
mod prune;
mod rollback;
mod session;

use artifact::ArtKind;
pub(crate) use artifact::{docker_err, Artifact};
use hooks::run_hooks;
use prune::prune;
pub(crate) use rollback::undo_success;
use rollback::{rollback_to, undo};
pub(crate) use session::Session;

/// What every server's deploy shares.
pub(crate) struct Shared<'a> {
    pub project: &'a Project,
    pub app: String,
    pub env: String,
    pub art: Artifact,
    pub deadline: Instant,
    pub cancel: Cancel,
    pub lock_wait: Duration,
}

impl Shared<'_> {
    pub fn art_is_rollback(&self) -> bool {
        matches!(self.art.kind, ArtKind::None)
    }
}

/// Deploy the freshly built artifact, or activate a release already on the
/// server (rollback; `None` = the one before the live one).
pub(crate) enum Target {
    New,
    Existing(Option<String>),
}

/// What the group needs to undo a server that succeeded (rollback-all).
pub(crate) struct Undo {
    server: Server,
    previous: Option<String>,
    new_release: String,
}

fn short(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}...", s.chars().take(117).collect::<String>())
    } else {
        s.to_string()
    }
}

fn remaining(sh: &Shared) -> Result<Duration, DeployError> {
    if sh.cancel.is_cancelled() {
        return Err(DeployError::Cancelled);
    }
    let now = Instant::now();
    if now >= sh.deadline {
        return Err(DeployError::failed(format!(
            "deploy timed out ([deploy] timeout = {}s)",
            sh.project.config.deploy.timeout
        )));
    }
    Ok(sh.deadline - now)
}

/// Run `f` as a named step with start/finish events.
fn step<T>(
    em: &Emitter,
    name: &str,
    f: impl FnOnce() -> Result<(T, String), DeployError>,
) -> Result<T, DeployError> {
    em.step_started(name);
    match f() {
        Ok((v, detail)) => {
            em.step_finished(name, true, (!detail.is_empty()).then_some(detail));
            Ok(v)
        }
        Err(e) => {
            em.step_finished(name, false, Some(e.to_string()));
            Err(e)
        }
    }
}

/// How far an activation got, i.e. what an undo must reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Nothing started yet.
    None,
    /// New containers run beside the old ones, which still serve.
    Started,
    /// The old containers were stopped (cutover or recreate), or compose converged.
    Replaced,
}

/// Deploy to (or roll back) one server. Never panics on a server problem:
/// the outcome says what happened.
pub(crate) fn run(
    sh: &Shared,
    server: &Server,
    vars: &BTreeMap<String, String>,
    target: &Target,
    em: &Emitter,
) -> (ServerOutcome, Option<Undo>) {
    let mut out = ServerOutcome {
        server: server.name.clone(),
        ok: false,
        version: None,
        detail: String::new(),
        rolled_back: false,
        changed: false,
    };
    let want_compose = match target {
        Target::New => sh.art.is_compose(),
        Target::Existing(_) => true,
    };
    let sess = step(em, "connect", || {
        let s = Session::open(sh.project, server, &sh.env, want_compose, em)?;
        let d = match &s.facts.current {
            Some(c) => format!("{}; live release {c}", server.config.host),
            None => format!("{}; nothing deployed yet", server.config.host),
        };
        Ok((s, d))
    });
    let mut sess = match sess {
        Ok(s) => s,
        Err(e) => {
            out.detail = e.to_string();
            return (out, None);
        }
    };
    out.version = sess.facts.current.clone();
    let lock = step(em, "lock", || {
        let l = Lock::acquire(
            sess.t.clone(),
            &sess.layout.lock_dir(),
            &sh.art.version,
            sh.lock_wait,
            em,
        )?;
        Ok((l, String::new()))
    });
    let lock = match lock {
        Ok(l) => l,
        Err(e) => {
            out.detail = e.to_string();
            return (out, None);
        }
    };
    // Re-read under the lock: a deploy that held it may have changed things.
    let res = sess
        .refresh(em)
        .map_err(Failure::from)
        .and_then(|_| match target {
            Target::New => deploy_new(sh, &sess, vars, em),
            Target::Existing(to) => rollback_to(sh, &sess, to.as_deref(), em),
        });
    let unlock = step(em, "unlock", || {
        lock.release(em).map(|_| ((), String::new()))
    });
    match res {
        Ok(done) => {
            out.ok = unlock.is_ok();
            out.changed = done.changed;
            out.version = Some(done.release.clone());
            out.detail = match (&unlock, done.changed) {
                (Err(e), _) => format!("{} is live, but unlocking failed: {e}", done.release),
                (Ok(_), true) => format!("{} is live", done.release),
                (Ok(_), false) => format!("{} already live, unchanged", done.release),
            };
            let undo = done.changed.then(|| Undo {
                server: server.clone(),
                previous: done.previous,
                new_release: done.release,
            });
            (out, undo)
        }
        Err(f) => {
            out.rolled_back = f.rolled_back;
            out.version = f.live.clone();
            out.detail = if f.rolled_back {
                format!(
                    "{}; rolled back, {} is live",
                    f.error,
                    f.live.as_deref().unwrap_or("nothing")
                )
            } else {
                f.error.to_string()
            };
            (out, None)
        }
    }
}

struct Done {
    release: String,
    previous: Option<String>,
    changed: bool,
}

struct Failure {
    /// Boxed: the error is large and Failure travels through every step.
    error: Box<DeployError>,
    rolled_back: bool,
    /// The release serving after the failure.
    live: Option<String>,
}

impl From<DeployError> for Failure {
    fn from(error: DeployError) -> Self {
        Failure {
            error: Box::new(error),
            rolled_back: false,
            live: None,
        }
    }
}

fn deploy_new(
    sh: &Shared,
    sess: &Session,
    vars: &BTreeMap<String, String>,
    em: &Emitter,
) -> Result<Done, Failure> {
    let art = &sh.art;
    let digest = EnvDigest::of(&sh.app, &sh.env, vars);
    let image_ids = art.image_ids();
    let live = sess.live_release().cloned();
    let noop = live
        .as_ref()
        .filter(|r| {
            r.version == art.version
                && r.same_content(&image_ids, &digest.all)
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
        let n = deps::ship(&*sess.t, &art.version, &art.git_sha, &art.ship_list(), em)?;
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

fn release_running(sess: &Session, r: &Release) -> bool {
    match &r.runtime {
        Runtime::Image { spec, .. } => sess
            .facts
            .containers
            .iter()
            .any(|c| c.name == spec.name && c.state == "running"),
        Runtime::Compose { .. } => sess
            .facts
            .containers
            .iter()
            .any(|c| c.state == "running" && c.accessory.is_empty()),
    }
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
            let dir = sess.layout.release_dir(name);
            (
                Runtime::Compose {
                    cli,
                    project: format!("{}-{}", sh.app, sh.env),
                    files: vec![
                        format!("{dir}/compose.yml"),
                        format!("{dir}/arcane.override.yml"),
                    ],
                    health_service: health_service.clone(),
                    port,
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
        created_at: super::now_rfc3339(),
        created_unix: now.unix_timestamp(),
        deployed_by: super::whoami(),
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

/// `-p` value without a proxy: `[deploy] publish` or the app port on all interfaces.
fn publish_value(sh: &Shared) -> String {
    let port = sh.project.config.app_port();
    match deps::publish_setting(sh.project) {
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
        t.upload(&format!("{dir}/compose.yml"), bytes, 0o644, em)
            .map_err(DeployError::remote)?;
        let ovs: Vec<compose::OverrideService> = services
            .iter()
            .map(|s| compose::OverrideService {
                name: s.name.clone(),
                image: s
                    .context
                    .as_ref()
                    .and_then(|_| rel.images.get(&s.name).cloned()),
                built: s.context.is_some(),
            })
            .collect();
        let y = compose::override_yaml(
            &sh.app,
            &sh.env,
            &sess.layout.env_file(&rel.release),
            &ovs,
            sh.project
                .config
                .proxy
                .as_ref()
                .map(|_| deps::PROXY_NETWORK),
        );
        t.upload(
            &format!("{dir}/arcane.override.yml"),
            y.as_bytes(),
            0o644,
            em,
        )
        .map_err(DeployError::remote)?;
    }
    save_release(sess, rel, em)
}

fn save_release(sess: &Session, rel: &Release, em: &Emitter) -> Result<(), DeployError> {
    let json = serde_json::to_vec_pretty(rel).expect("release serializes");
    sess.t
        .upload(&sess.layout.release_json(&rel.release), &json, 0o600, em)
        .map_err(DeployError::remote)
}

/// Bring `rel` up, health-check it, cut over, record it; undo on failure.
fn activate(
    sh: &Shared,
    sess: &Session,
    rel: Release,
    live: Option<Release>,
    noop: bool,
    hooks: bool,
    em: &Emitter,
) -> Result<Done, Failure> {
    let mut stage = Stage::None;
    let old = sess.serving_except(&rel.release);
    let res = activate_steps(sh, sess, &rel, &old, noop, hooks, &mut stage, em);
    match res {
        Ok(()) => {
            if !noop {
                let _ = step(em, "prune", || prune(sh, sess, &rel, em).map(|d| ((), d)));
            }
            Ok(Done {
                release: rel.release.clone(),
                previous: live.map(|l| l.release),
                changed: !noop,
            })
        }
        Err(error) => {
            let prev = live.as_ref().map(|l| l.release.clone());
            if stage == Stage::None {
                if !noop {
                    mark_failed(sess, &rel, em);
                }
                return Err(Failure {
                    error: Box::new(error),
                    rolled_back: false,
                    live: prev,
                });
            }
            let r = step(em, "rollback", || {
                undo(sh, sess, &rel, live.as_ref(), &old, stage, em)?;
                Ok((
                    (),
                    format!(
                        "back on {}",
                        prev.as_deref().unwrap_or("nothing (first deploy)")
                    ),
                ))
            });
            if !noop {
                mark_failed(sess, &rel, em);
            }
            Err(Failure {
                error: Box::new(match r {
                    Ok(()) => error,
                    Err(e) => DeployError::failed(format!("{error}; ROLLBACK ALSO FAILED: {e}")),
                }),
                rolled_back: true,
                live: prev,
            })
        }
    }
}

fn mark_failed(sess: &Session, rel: &Release, em: &Emitter) {
    let mut r = rel.clone();
    r.status = Status::Failed;
    let _ = save_release(sess, &r, em);
}

#[allow(clippy::too_many_arguments)]
fn activate_steps(
    sh: &Shared,
    sess: &Session,
    rel: &Release,
    old: &[String],
    noop: bool,
    hooks: bool,
    stage: &mut Stage,
    em: &Emitter,
) -> Result<(), DeployError> {
    let cfg = &sh.project.config;
    let proxy = cfg.proxy.is_some();
    let recreate = cfg.deploy.strategy == Strategy::Recreate;
    let env_file = sess.layout.env_file(&rel.release);

    if hooks && !noop {
        step(em, "pre-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.pre_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }

    match &rel.runtime {
        Runtime::Image { spec, port } => {
            let check = format!("{}-check", spec.name);
            let probe_name = if !noop && !proxy && !recreate {
                check.clone()
            } else {
                spec.name.clone()
            };
            step(em, "start", || {
                if noop {
                    return Ok(((), format!("{} already running", spec.name)));
                }
                ensure_network(sh, sess, &spec.network, em)?;
                // Leftovers: this release's names, and candidates of deploys
                // that died (we hold the lock, so nobody else uses them).
                let mut gone = vec![check.clone(), spec.name.clone()];
                gone.extend(
                    sess.facts
                        .containers
                        .iter()
                        .filter(|c| c.name.ends_with("-check"))
                        .map(|c| c.name.clone()),
                );
                gone.dedup();
                sess.run_cmd(
                    Cmd::shell(format!(
                        "{} >/dev/null 2>&1; true",
                        argv::sh(&argv::rm_force(&gone))
                    )),
                    sh,
                    em,
                )?;
                if recreate && !old.is_empty() {
                    *stage = Stage::Replaced;
                    sess.run_ok(argv::stop(old, 10), sh, em)?;
                }
                let (name, publish) = if probe_name == check {
                    (check.as_str(), None)
                } else {
                    (spec.name.as_str(), spec.publish.as_deref())
                };
                if *stage == Stage::None {
                    *stage = Stage::Started;
                }
                sess.run_ok(argv::container("run", spec, name, publish), sh, em)?;
                Ok(((), format!("started {name}")))
            })?;
            step(em, "health", || {
                let d = wait(sh, sess, &probe_name, *port, em)?;
                Ok(((), d))
            })?;
            step(em, "cutover", || {
                if noop {
                    return Ok(((), "nothing to switch".into()));
                }
                if proxy {
                    deps::proxy_switch(
                        sh.project,
                        &*sess.t,
                        em,
                        &sh.app,
                        &sh.env,
                        &[format!("{}:{port}", spec.name)],
                    )?;
                    *stage = Stage::Replaced;
                    if !old.is_empty() && !recreate {
                        sess.run_ok(argv::stop(old, 10), sh, em)?;
                    }
                    return Ok(((), format!("proxy now routes to {}", spec.name)));
                }
                if recreate {
                    return Ok((
                        (),
                        "recreate: the old container was stopped before the start".into(),
                    ));
                }
                // No proxy: one published host port, which two containers
                // cannot share. The checked candidate proved the release
                // works; now create the real container (port published, not
                // yet bound), then stop the old and start the new in one
                // command: the gap is docker stop + docker start.
                sess.run_ok(
                    argv::container("create", spec, &spec.name, spec.publish.as_deref()),
                    sh,
                    em,
                )?;
                *stage = Stage::Replaced;
                let mut script = String::new();
                if !old.is_empty() {
                    script.push_str(&argv::sh(&argv::stop(old, 10)));
                    script.push_str(" >/dev/null && ");
                }
                script.push_str(&argv::sh(&argv::start(std::slice::from_ref(&spec.name))));
                script.push_str(" >/dev/null");
                let t0 = Instant::now();
                sess.run_cmd(Cmd::shell(script), sh, em)?;
                let gap = t0.elapsed();
                let _ = sess.run_cmd(
                    Cmd::shell(format!(
                        "{} >/dev/null 2>&1; true",
                        argv::sh(&argv::rm_force(std::slice::from_ref(&check)))
                    )),
                    sh,
                    em,
                );
                let d = wait(sh, sess, &spec.name, *port, em)?;
                Ok((
                    (),
                    format!(
                        "{} took over port {} (stop+start {:.1}s); {d}",
                        spec.name,
                        spec.publish.as_deref().unwrap_or("-"),
                        gap.as_secs_f64()
                    ),
                ))
            })?;
        }
        Runtime::Compose {
            cli,
            project,
            files,
            health_service,
            port,
        } => {
            step(em, "start", || {
                if noop {
                    return Ok(((), "services already running".into()));
                }
                *stage = Stage::Replaced;
                let out = sess.run_ok(argv::compose_up(*cli, project, files), sh, em)?;
                for l in out.lines() {
                    em.log(Stream::Stdout, l);
                }
                Ok(((), format!("{} converged", project)))
            })?;
            step(em, "health", || {
                let rows = compose_containers(sh, sess, project, em)?;
                let mut details = vec![];
                for (svc, id) in &rows {
                    if Some(svc) == health_service.as_ref() {
                        details.push(format!("{svc}: {}", wait(sh, sess, id, *port, em)?));
                    }
                }
                let st = health::inspect(
                    &*sess.t,
                    &rows.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
                    em,
                )?;
                if let Some(bad) = st
                    .iter()
                    .find(|c| c.status != "running" || c.health == "unhealthy")
                {
                    return Err(DeployError::failed(format!(
                        "container {} is {} {}",
                        bad.name, bad.status, bad.health
                    )));
                }
                Ok(((), details.join("; ")))
            })?;
            step(em, "cutover", || {
                if proxy && !noop {
                    let svc = health_service.clone().unwrap_or_default();
                    let rows = compose_containers(sh, sess, project, em)?;
                    let names: Vec<String> = rows
                        .iter()
                        .filter(|(s, _)| *s == svc)
                        .map(|(_, id)| id.clone())
                        .collect();
                    let st = health::inspect(&*sess.t, &names, em)?;
                    let ups: Vec<String> =
                        st.iter().map(|c| format!("{}:{port}", c.name)).collect();
                    deps::proxy_switch(sh.project, &*sess.t, em, &sh.app, &sh.env, &ups)?;
                    return Ok(((), format!("proxy now routes to {}", ups.join(", "))));
                }
                Ok(((), "compose converged in place".into()))
            })?;
        }
    }

    if hooks && !noop {
        step(em, "post-deploy", || {
            run_hooks(sh, sess, rel, &cfg.hooks.post_deploy, &env_file, em).map(|d| ((), d))
        })?;
    }
    step(em, "record", || {
        if noop {
            return Ok(((), format!("{} stays live", rel.release)));
        }
        let mut r = rel.clone();
        r.status = Status::Live;
        save_release(sess, &r, em)?;
        sess.t
            .upload(
                &sess.layout.current(),
                format!("{}\n", r.release).as_bytes(),
                0o644,
                em,
            )
            .map_err(DeployError::remote)?;
        Ok(((), format!("{} is live", r.release)))
    })?;
    Ok(())
}

fn wait(
    sh: &Shared,
    sess: &Session,
    container: &str,
    port: u16,
    em: &Emitter,
) -> Result<String, DeployError> {
    let cancel = sh.cancel.clone();
    health::wait_healthy(
        &*sess.t,
        &Probe {
            container,
            port,
            cfg: &sh.project.config.health,
            deadline: sh.deadline,
        },
        em,
        &move || cancel.is_cancelled(),
    )
}

/// (service, container id) of a compose project's containers.
fn compose_containers(
    sh: &Shared,
    sess: &Session,
    project: &str,
    em: &Emitter,
) -> Result<Vec<(String, String)>, DeployError> {
    let out = sess.run_ok(
        vec![
            "docker".into(),
            "ps".into(),
            "-a".into(),
            "--filter".into(),
            format!("label=com.docker.compose.project={project}"),
            "--format".into(),
            "{{.Label \"com.docker.compose.service\"}}|{{.Names}}".into(),
        ],
        sh,
        em,
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect())
}

fn ensure_network(
    sh: &Shared,
    sess: &Session,
    name: &str,
    em: &Emitter,
) -> Result<(), DeployError> {
    if name == deps::PROXY_NETWORK {
        return deps::proxy_ensure(sh.project, &*sess.t, em);
    }
    sess.run_cmd(
        Cmd::shell(format!(
            "{} >/dev/null 2>&1 || {} >/dev/null",
            argv::sh(&argv::network_inspect(name)),
            argv::sh(&argv::network_create(name, &sh.app, &sh.env))
        )),
        sh,
        em,
    )?;
    Ok(())
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
