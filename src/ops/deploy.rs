//! `deploy` and `deploy --dry-run`: the group orchestration a user sees.
//!
//! Selection, the dirty-tree and protected-env policies, the one build, the
//! registry push, the fan-out over servers (sequential and stopping at the
//! first failure, or `--parallel`), `rollback-all`, the summary and the
//! final event. Each server's steps are the deploy engine's
//! (`crate::deploy`); this file never talks to a server itself.

use super::{fan_out, limit_of, Ctx, Error};
use crate::config::{OnFailure, Selection, Server};
use crate::deploy::deps;
use crate::deploy::release::EnvDigest;
use crate::deploy::server::{self, Artifact, Shared, Target};
use crate::error::{ErrorKind, HasKind};
use crate::event::report::*;
use crate::event::Event;
use crate::interact::Confirm;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the user asked to deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// The env (default staging) and which of its servers.
    pub selection: Selection,
    /// None = one server at a time; Some(0) = all at once; Some(n) = n at once.
    pub parallel: Option<usize>,
    pub dry_run: bool,
    pub skip_build: bool,
    pub lock_wait: Duration,
    /// Deploy uncommitted changes to a protected env.
    pub allow_dirty: bool,
}

/// The merged env of each server, keyed by server name.
pub(super) type Envs = BTreeMap<String, BTreeMap<String, String>>;

/// Load each server's merged env and register every value with the
/// redactor, before any command runs.
pub(super) fn load_envs(ctx: &Ctx, env: &str, servers: &[Server]) -> Result<Envs, Error> {
    Ok(load_envs_refs(ctx, env, servers)?.0)
}

/// [`load_envs`], and per server the `${server:NAME}` references resolved
/// (for the dry run's plan).
fn load_envs_refs(
    ctx: &Ctx,
    env: &str,
    servers: &[Server],
) -> Result<(Envs, BTreeMap<String, Vec<ServerRef>>), Error> {
    // Values that are public identifiers anyway (APP_ENV=staging, APP=hello)
    // are not masked: masking them would turn every path and summary into ***.
    let p = ctx.project;
    let mut public: Vec<&str> = vec![p.app_name(), env, "true", "false"];
    for (name, s) in &p.servers.servers {
        public.push(name);
        public.push(&s.host);
    }
    // Tailnet names are as public as hosts (`server list` shows them).
    let fqdns: Vec<String> = match &p.config.network {
        Some(n) => p
            .servers
            .servers
            .keys()
            .map(|s| crate::network::node_fqdn(n, s))
            .collect(),
        None => vec![],
    };
    public.extend(fqdns.iter().map(String::as_str));
    let access = access(ctx);
    let mut out = BTreeMap::new();
    let mut refs = BTreeMap::new();
    for s in servers {
        let (vars, used) = deps::merged_env_refs(p, &access, env, &s.name)?;
        ctx.em.redactor().add_all(
            vars.values()
                .map(|v| v.as_str())
                .filter(|v| !public.contains(v)),
        );
        out.insert(s.name.clone(), vars);
        refs.insert(s.name.clone(), used);
    }
    Ok((out, refs))
}

pub(super) fn access(ctx: &Ctx) -> deps::Access {
    deps::Access {
        connector: ctx.reaching(),
        identity: ctx.identity.clone(),
    }
}

/// `[health.services.NAME]` must name a service of the app (a typo would
/// silently give that service no grace).
fn check_health_services(ctx: &Ctx, art: &Artifact) -> Result<(), Error> {
    use crate::config::locate::{Seg::Key, TomlSource};
    let services = art.services();
    for name in ctx.project.config.health.services.keys() {
        if !services.contains(name) {
            let src = TomlSource::read(&ctx.project.root.join(crate::config::PROJECT_FILE));
            return Err(src
                .error(
                    &[Key("health"), Key("services"), Key(name)],
                    format!("[health.services.{name}] names no service of this app"),
                )
                .with_help(format!(
                    "the services are: {}; fix the name or remove the table",
                    services.join(", ")
                ))
                .into());
        }
    }
    Ok(())
}

/// A dirty working tree deploys as `<sha>-dirty-<hash>`: say so, and for a
/// protected env refuse unless `--allow-dirty`. Returns the warning.
fn dirty_policy(ctx: &Ctx, env: &str, allow_dirty: bool) -> Result<Option<String>, Error> {
    let Ok(state) = crate::git::state(&ctx.project.root) else {
        // No repo or no commit: the build says what to do.
        return Ok(None);
    };
    if !state.is_dirty() {
        return Ok(None);
    }
    let version = short_sha(&state.version());
    if ctx.project.config.is_protected(env) && !allow_dirty {
        return Err(Error::input(format!(
            "the working tree has uncommitted changes; {env} is protected and would get version {version}, which no commit describes: commit (or stash) them first, or pass --allow-dirty"
        )));
    }
    Ok(Some(format!(
        "the working tree has uncommitted changes: deploying version {version}, which no commit describes"
    )))
}

/// Two envs publishing the same host port on a shared server (no
/// `[proxy]`): the second deploy would fail at cutover with "port is already
/// allocated". Refused before anything is built or touched.
fn refuse_port_clash(ctx: &Ctx, env: &str) -> Result<(), Error> {
    match crate::config::publish::clash_errors(ctx.project, Some(env)).pop() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Ask before touching a protected env: y/N or the typed env name on a
/// terminal (`[envs.NAME] confirm`), a typed-name dialog in the dashboard.
pub(super) fn confirm_protected(ctx: &Ctx, env: &str, what: &str) -> Result<(), Error> {
    let cfg = &ctx.project.config;
    if !cfg.is_protected(env) {
        return Ok(());
    }
    ctx.confirm(
        Confirm {
            prompt: format!("{what} to {}?", env.to_uppercase()),
            word: Some(env.to_string()),
            tty_typed: cfg.confirm_by_name(env),
            hint: format!("{env} is a protected env; pass --yes to confirm non-interactively"),
        },
        &format!("not confirmed; nothing was changed on {env}"),
    )
}

/// What a deploy would do, reading each server's live release; changes nothing.
pub fn plan(ctx: &Ctx, req: &DeployRequest) -> Result<Plan, Error> {
    let (env, servers) = ctx.env_servers(&req.selection)?;
    refuse_port_clash(ctx, &env)?;
    let (envs, mut refs) = load_envs_refs(ctx, &env, &servers)?;
    let art = Artifact::describe(ctx.project, &ctx.em)?;
    check_health_services(ctx, &art)?;
    let mut warnings: Vec<String> = dirty_policy(ctx, &env, true)?.into_iter().collect();
    if ctx.project.config.is_protected(&env) && !req.allow_dirty {
        if let Some(w) = warnings.first_mut() {
            w.push_str(&format!("; a deploy to {env} needs --allow-dirty"));
        }
    }
    let app = ctx.app().to_string();
    let access = access(ctx);
    let dkey = deps::digest_key(ctx.project, &access, &env)?;
    let mut out = vec![];
    for s in &servers {
        let sem = ctx.em.for_server(&s.name);
        let digest = EnvDigest::of(&dkey, &envs[&s.name]);
        let host = crate::network::reach::reach(ctx.project, s).config.host;
        match server::Session::open(ctx.project, &access, s, &env, art.is_compose(), &sem) {
            Err(e) => out.push(ServerPlan {
                server: s.name.clone(),
                host,
                live: None,
                action: PlanAction::Unreachable,
                env: EnvDiff::default(),
                detail: Some(e.to_string()),
                refs: refs.remove(&s.name).unwrap_or_default(),
            }),
            Ok(sess) => {
                let live = sess.live_release().cloned();
                let env_diff = EnvDiff::between(
                    live.as_ref()
                        .map(|r| &r.env_keys)
                        .unwrap_or(&BTreeMap::new()),
                    &digest.keys,
                );
                let unchanged = live.as_ref().is_some_and(|r| {
                    r.version == art.version
                        && r.env_digest == digest.all
                        && art.image_ids_known()
                        && r.image_ids == art.image_ids()
                });
                out.push(ServerPlan {
                    server: s.name.clone(),
                    host,
                    live: live.map(|r| r.release),
                    action: if unchanged {
                        PlanAction::Unchanged
                    } else {
                        PlanAction::Deploy
                    },
                    env: env_diff,
                    detail: None,
                    refs: refs.remove(&s.name).unwrap_or_default(),
                })
            }
        }
    }
    let cfg = &ctx.project.config;
    let plan = Plan {
        app,
        env: env.clone(),
        version: art.version.clone(),
        git_sha: art.git_sha.clone(),
        mode: if art.is_compose() { "compose" } else { "image" }.into(),
        images: art.image_refs(),
        services: art.services(),
        strategy: format!("{:?}", cfg.deploy.strategy).to_lowercase(),
        parallel: req.parallel,
        servers: out,
        warnings,
    };
    ctx.em.emit(Event::Plan(plan.clone()));
    Ok(plan)
}

/// Deploy the app to the selected servers.
pub fn deploy(ctx: &Ctx, req: &DeployRequest) -> Result<DeploySummary, Error> {
    let (env, servers) = ctx.env_servers(&req.selection)?;
    refuse_port_clash(ctx, &env)?;
    // Registry credentials are input: refuse before building or connecting.
    let login = match &ctx.project.config.registry {
        Some(reg) => crate::docker::push::RegistryLogin::from_config(reg).map_err(Error::input)?,
        None => None,
    };
    if let Some(w) = dirty_policy(ctx, &env, req.allow_dirty)? {
        ctx.em.warn(w);
    }
    confirm_protected(ctx, &env, &format!("Deploy {}", ctx.app()))?;
    let envs = load_envs(ctx, &env, &servers)?;
    let started = Instant::now();
    let app = ctx.app().to_string();
    // Before any server is touched, the error itself is the summary.
    let fail = |e: Error| -> Error {
        let kind = e.kind();
        let message = if kind == ErrorKind::Interrupted {
            format!("deploy of {app} to {env} cancelled; no server was touched")
        } else {
            format!("deploy of {app} to {env} failed: {e}")
        };
        ctx.em.failed(kind, &message);
        Error::Reported { kind, message }
    };
    ctx.check_cancel().map_err(fail)?;
    ctx.em.step_started("build");
    let art = match Artifact::build(ctx.project, req.skip_build, &ctx.cancel, &ctx.em) {
        Ok(a) => {
            ctx.em
                .step_finished("build", true, Some(a.image_refs().join(", ")));
            a
        }
        Err(e) => {
            let e = if ctx.cancel.is_cancelled() {
                Error::Interrupted
            } else {
                e.into()
            };
            ctx.em.step_finished("build", false, Some(e.to_string()));
            return Err(fail(e));
        }
    };
    check_health_services(ctx, &art).map_err(fail)?;
    ctx.check_cancel().map_err(fail)?;
    let registry = match &ctx.project.config.registry {
        Some(reg) if servers.iter().any(|s| !s.is_local()) => {
            deps::registry_push(&reg.server, login.as_ref(), &art, &ctx.em)
                .map_err(|e| fail(e.into()))?;
            Some(server::Registry {
                server: reg.server.clone(),
                login,
            })
        }
        _ => None,
    };
    ctx.em.emit(Event::DeployStarted(DeployStarted {
        op: DeployOp::Deploy,
        app: app.clone(),
        env: env.clone(),
        version: Some(art.version.clone()),
        git_sha: Some(art.git_sha.clone()),
        servers: servers.iter().map(|s| s.name.clone()).collect(),
    }));
    let shared = Shared {
        project: ctx.project,
        access: access(ctx),
        app,
        env,
        art,
        deadline: started + Duration::from_secs(ctx.project.config.deploy.timeout),
        cancel: ctx.cancel.clone(),
        lock_wait: req.lock_wait,
        registry,
        exported: Default::default(),
    };
    let outcomes = run_group(ctx, &shared, &servers, &envs, req.parallel, &Target::New);
    conclude(ctx, DeployOp::Deploy, &shared, outcomes, started)
}

/// Run `target` on every server, sequentially or with bounded parallelism,
/// stopping (and with `rollback-all`, undoing) at the first failure.
pub(super) fn run_group(
    ctx: &Ctx,
    shared: &Shared,
    servers: &[Server],
    envs: &Envs,
    parallel: Option<usize>,
    target: &Target,
) -> Vec<ServerOutcome> {
    let empty = BTreeMap::new();
    let limit = limit_of(parallel, servers.len());
    let mut results = fan_out(
        servers,
        limit,
        |(o, _): &(ServerOutcome, _)| !o.ok,
        |s| {
            let sem = ctx.em.for_server(&s.name);
            let vars = envs.get(&s.name).unwrap_or(&empty);
            server::run(shared, s, vars, target, &sem)
        },
    );
    let failed = results
        .iter()
        .any(|r| r.as_ref().is_some_and(|(o, _)| !o.ok));
    if failed && shared.project.config.deploy.on_failure == OnFailure::RollbackAll {
        ctx.em.warn(
            "on_failure = \"rollback-all\": rolling back the servers that got the new release",
        );
        for (o, undo) in results.iter_mut().flatten() {
            let Some(undo) = undo else { continue };
            if !(o.ok && o.changed) {
                continue;
            }
            let sem = ctx.em.for_server(&o.server);
            match server::undo_success(shared, undo, &sem) {
                Ok(live) => {
                    o.ok = false;
                    o.rolled_back = true;
                    o.detail = format!(
                        "rolled back (rollback-all) to {}",
                        live.as_deref()
                            .map(short_sha)
                            .as_deref()
                            .unwrap_or("nothing")
                    );
                    o.version = live;
                    o.error_kind = Some(ErrorKind::Failed);
                }
                Err(e) => {
                    o.ok = false;
                    o.detail = format!("rollback-all FAILED: {e}");
                    o.error_kind = Some(ErrorKind::Failed);
                }
            }
        }
    }
    servers
        .iter()
        .zip(results)
        .map(|(s, r)| match r {
            Some((o, _)) => o,
            None => ServerOutcome {
                server: s.name.clone(),
                ok: false,
                version: None,
                detail: "skipped: an earlier server failed".into(),
                rolled_back: false,
                changed: false,
                error_kind: None,
            },
        })
        .collect()
}

/// The summary event and the final one; an `Err` when any server failed,
/// already reported, of the worst kind among the servers.
pub(super) fn conclude(
    ctx: &Ctx,
    op: DeployOp,
    shared: &Shared,
    outcomes: Vec<ServerOutcome>,
    started: Instant,
) -> Result<DeploySummary, Error> {
    let ok = outcomes.iter().all(|o| o.ok);
    let kind = ErrorKind::combine(outcomes.iter().filter_map(|o| o.error_kind));
    let cancelled = ctx.cancel.is_cancelled() || kind == Some(ErrorKind::Interrupted);
    let version = match op {
        DeployOp::Deploy => Some(shared.art.version.clone()),
        DeployOp::Rollback => {
            let mut live: Vec<&String> =
                outcomes.iter().filter_map(|o| o.version.as_ref()).collect();
            live.dedup();
            (live.len() == 1).then(|| live[0].clone())
        }
    };
    let result = if ok {
        DeployResult::Succeeded
    } else if cancelled {
        DeployResult::Cancelled
    } else if outcomes.iter().any(|o| o.rolled_back) {
        DeployResult::RolledBack
    } else {
        DeployResult::Failed
    };
    let rep = DeploySummary {
        op,
        app: shared.app.clone(),
        env: shared.env.clone(),
        git_sha: (op == DeployOp::Deploy).then(|| shared.art.git_sha.clone()),
        version,
        ok,
        result,
        servers: outcomes,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    ctx.em.emit(Event::DeploySummary(rep.clone()));
    let n = rep.servers.len();
    let secs = started.elapsed().as_secs_f64();
    let plural = if n == 1 { "" } else { "s" };
    let what = match (op, &rep.version) {
        (DeployOp::Deploy, Some(v)) => format!("deploy of {} {}", rep.app, short_sha(v)),
        (DeployOp::Deploy, None) => format!("deploy of {}", rep.app),
        (DeployOp::Rollback, _) => format!("rollback of {}", rep.app),
    };
    if ok {
        let done = match (op, &rep.version) {
            (DeployOp::Deploy, Some(v)) => format!("deployed {} {}", rep.app, short_sha(v)),
            (DeployOp::Rollback, Some(v)) => format!("rolled {} back to {}", rep.app, short_sha(v)),
            _ => format!("rolled {} back", rep.app),
        };
        ctx.em.finished(
            true,
            format!("{done} on {} ({n} server{plural}) in {secs:.1}s", rep.env),
        );
        return Ok(rep);
    }
    let bad = rep.servers.iter().filter(|o| !o.ok).count();
    let kind = if cancelled {
        ErrorKind::Interrupted
    } else {
        kind.unwrap_or(ErrorKind::Failed)
    };
    let message = if cancelled {
        format!("{what} to {} cancelled", rep.env)
    } else {
        format!(
            "{what} to {} failed on {bad} of {n} server{plural}",
            rep.env
        )
    };
    ctx.em.failed(kind, &message);
    Err(Error::Reported { kind, message })
}
