//! The deploy lifecycle: plan, build, and on each server connect, lock, ship,
//! write the release, run hooks, start, health-check, cut over, record, prune
//! and unlock, rolling back automatically when anything fails after the new
//! version started.
//!
//! The engine never prints: every step is a `StepStarted`/`StepFinished`
//! event tagged with its server, and the end of a deploy is a
//! `Data{kind:"deploy_summary"}` plus `Finished`. The CLI, `--json` and the
//! TUI render the same stream. Servers are driven by plain sequential code,
//! one thread per server when `--parallel`.

pub mod accessory;
mod deps;
pub mod health;
pub mod layout;
pub mod lock;
pub mod notify;
pub mod release;
mod server;

pub use deps::set_identity_file;
pub use release::{EnvDiff, Release};

use crate::config::{ConfigError, OnFailure, Project, Selection, Server};
use crate::error::InputError;
use crate::event::Emitter;
use crate::interact::{Confirm, Interact};
use crate::remote::RemoteError;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the user asked to deploy.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub selection: Selection,
    /// The resolved env (default "staging").
    pub env: String,
    /// None = one server at a time; Some(0) = all at once; Some(n) = n at once.
    pub parallel: Option<usize>,
    pub dry_run: bool,
    pub skip_build: bool,
    pub lock_wait: Duration,
}

/// Cooperative cancellation (Ctrl-C in the CLI, Esc in the TUI). The engine
/// checks it between steps and rolls back what it started.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Bad input the user can fix (exit 2).
    #[error("{0}")]
    Input(InputError),
    #[error("{0}")]
    Config(ConfigError),
    #[error(transparent)]
    Remote(RemoteError),
    /// Another deploy holds the lock (exit 1).
    #[error("{server}: another deploy holds the lock: {holder}; wait for it, pass --lock-wait SECS, or if it is dead run `arcane lock release`")]
    Locked { server: String, holder: String },
    #[error("{0}")]
    Failed(String),
    #[error("interrupted")]
    Cancelled,
    /// One or more servers failed; the summary says which.
    #[error("{0}")]
    Rollout(String),
}

impl DeployError {
    pub(crate) fn failed(s: impl Into<String>) -> Self {
        DeployError::Failed(s.into())
    }
    pub(crate) fn input(s: impl Into<String>) -> Self {
        DeployError::Input(InputError::new(s))
    }
    pub(crate) fn remote(e: RemoteError) -> Self {
        DeployError::Remote(e)
    }
}

impl crate::error::ExitStatus for DeployError {
    fn exit_code(&self) -> i32 {
        match self {
            DeployError::Input(_) | DeployError::Config(_) => crate::error::EXIT_INPUT,
            DeployError::Cancelled => crate::error::EXIT_INTERRUPTED,
            _ => crate::error::EXIT_FAILED,
        }
    }
}

impl From<ConfigError> for DeployError {
    fn from(e: ConfigError) -> Self {
        DeployError::Config(e)
    }
}

/// What happened on one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerOutcome {
    pub server: String,
    pub ok: bool,
    /// The release now live on the server (after a rollback: the old one).
    pub version: Option<String>,
    pub detail: String,
    /// The new release was started and then rolled back.
    pub rolled_back: bool,
    /// False when the server already ran exactly this release.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    pub app: String,
    pub env: String,
    pub version: String,
    pub ok: bool,
    pub servers: Vec<ServerOutcome>,
}

/// The dry-run plan for one server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerPlan {
    pub server: String,
    pub host: String,
    /// The live release, if any.
    pub live: Option<String>,
    /// "deploy", "unchanged" or "unreachable".
    pub action: String,
    pub env: EnvDiff,
    pub detail: Option<String>,
}

/// What a deploy would do. Emitted as `Data{kind:"plan"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub app: String,
    pub env: String,
    pub version: String,
    pub git_sha: String,
    pub mode: String,
    pub images: Vec<String>,
    pub services: Vec<String>,
    pub strategy: String,
    pub parallel: Option<usize>,
    pub servers: Vec<ServerPlan>,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Plan: deploy {} {} ({} mode, {}) to {}",
            self.app, self.version, self.mode, self.strategy, self.env
        )?;
        writeln!(f, "  images:   {}", self.images.join(", "))?;
        writeln!(f, "  services: {}", self.services.join(", "))?;
        let order = match self.parallel {
            None => "one at a time".to_string(),
            Some(0) => "all at once".to_string(),
            Some(n) => format!("{n} at a time"),
        };
        writeln!(f, "  servers ({order}):")?;
        for s in &self.servers {
            writeln!(
                f,
                "    {} ({}): {}, live {}",
                s.server,
                s.host,
                s.action,
                s.live.as_deref().unwrap_or("none")
            )?;
            if let Some(d) = &s.detail {
                writeln!(f, "      {d}")?;
            }
            let list = |v: &[String]| {
                if v.is_empty() {
                    "-".to_string()
                } else {
                    v.join(", ")
                }
            };
            writeln!(
                f,
                "      env keys: added {}; changed {}; removed {}",
                list(&s.env.added),
                list(&s.env.changed),
                list(&s.env.removed)
            )?;
        }
        write!(f, "Dry run: nothing was changed.")
    }
}

/// `user@host` of whoever runs arcane.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid never fails; getpwuid may return null.
            unsafe {
                let pw = libc::getpwuid(libc::getuid());
                if pw.is_null() {
                    "unknown".into()
                } else {
                    std::ffi::CStr::from_ptr((*pw).pw_name)
                        .to_string_lossy()
                        .into_owned()
                }
            }
        });
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates or truncates.
    let host = unsafe {
        if libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            "unknown".into()
        }
    };
    format!("{user}@{host}")
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}

/// Check the env exists and resolve the servers.
fn servers_for(project: &Project, sel: &Selection, env: &str) -> Result<Vec<Server>, DeployError> {
    let envs = project.config.env_names();
    if !envs.iter().any(|e| e == env) {
        return Err(DeployError::input(format!(
            "unknown env {env:?}; arcane.toml defines: {}",
            envs.join(", ")
        )));
    }
    let mut sel = sel.clone();
    sel.env = Some(env.to_string());
    Ok(project.select(&sel)?)
}

/// Load each server's merged env and register every value with the
/// redactor, before any command runs.
fn load_envs(
    project: &Project,
    env: &str,
    servers: &[Server],
    em: &Emitter,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DeployError> {
    // Values that are public identifiers anyway (APP_ENV=staging, APP=hello)
    // are not masked: masking them would turn every path and summary into ***.
    let mut public: Vec<&str> = vec![project.app_name(), env, "true", "false"];
    for s in &project.servers.servers {
        public.push(s.0);
        public.push(&s.1.host);
    }
    let mut out = BTreeMap::new();
    for s in servers {
        let vars = deps::merged_env(project, env, &s.name)?;
        em.redactor().add_all(
            vars.values()
                .map(|v| v.as_str())
                .filter(|v| !public.contains(v)),
        );
        out.insert(s.name.clone(), vars);
    }
    Ok(out)
}

/// `[health.services.NAME]` must name a service of the app (a typo would
/// silently give that service no grace).
fn check_health_services(project: &Project, art: &server::Artifact) -> Result<(), DeployError> {
    use crate::config::locate::{Seg::Key, TomlSource};
    let services = art.services();
    for name in project.config.health.services.keys() {
        if !services.contains(name) {
            let src = TomlSource::read(&project.root.join(crate::config::PROJECT_FILE));
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

/// What a deploy would do, reading each server's live release; changes nothing.
pub fn plan(project: &Project, req: &DeployRequest, em: &Emitter) -> Result<Plan, DeployError> {
    let servers = servers_for(project, &req.selection, &req.env)?;
    if let Some(e) = crate::config::publish::clash_errors(project, Some(&req.env)).pop() {
        return Err(e.into());
    }
    let envs = load_envs(project, &req.env, &servers, em)?;
    let art = server::Artifact::describe(project, em)?;
    check_health_services(project, &art)?;
    let app = project.app_name().to_string();
    let mut out = vec![];
    for s in &servers {
        let sem = em.for_server(&s.name);
        let vars = &envs[&s.name];
        let digest = release::EnvDigest::of(&app, &req.env, vars);
        let host = s.config.host.clone();
        match server::Session::open(project, s, &req.env, art.is_compose(), &sem) {
            Err(e) => out.push(ServerPlan {
                server: s.name.clone(),
                host,
                live: None,
                action: "unreachable".into(),
                env: EnvDiff::default(),
                detail: Some(e.to_string()),
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
                    action: if unchanged { "unchanged" } else { "deploy" }.into(),
                    env: env_diff,
                    detail: None,
                })
            }
        }
    }
    let cfg = &project.config;
    let plan = Plan {
        app,
        env: req.env.clone(),
        version: art.version.clone(),
        git_sha: art.git_sha.clone(),
        mode: if art.is_compose() { "compose" } else { "image" }.into(),
        images: art.image_refs(),
        services: art.services(),
        strategy: format!("{:?}", cfg.deploy.strategy).to_lowercase(),
        parallel: req.parallel,
        servers: out,
    };
    em.data(
        "plan",
        serde_json::to_value(&plan).expect("plan serializes"),
    );
    Ok(plan)
}

/// Ask before touching a protected env.
fn confirm_protected(
    project: &Project,
    env: &str,
    what: &str,
    interact: &dyn Interact,
) -> Result<(), DeployError> {
    if !project.config.is_protected(env) {
        return Ok(());
    }
    let ok = interact
        .confirm(&Confirm {
            prompt: format!("{what} to {}?", env.to_uppercase()),
            typed_word: None,
            hint: format!("{env} is a protected env; pass --yes to confirm non-interactively"),
        })
        .map_err(DeployError::Input)?;
    if !ok {
        return Err(DeployError::input(format!(
            "not confirmed; nothing was deployed to {env}"
        )));
    }
    Ok(())
}

/// Deploy the app to the selected servers.
pub fn deploy(
    project: &Project,
    req: &DeployRequest,
    interact: &dyn Interact,
    em: &Emitter,
    cancel: &Cancel,
) -> Result<DeployReport, DeployError> {
    if req.dry_run {
        let p = plan(project, req, em)?;
        return Ok(DeployReport {
            app: p.app,
            env: p.env,
            version: p.version,
            ok: true,
            servers: vec![],
        });
    }
    let servers = servers_for(project, &req.selection, &req.env)?;
    // Registry credentials are input: refuse before building or connecting.
    let login = match &project.config.registry {
        Some(reg) => {
            crate::docker::push::RegistryLogin::from_config(reg).map_err(DeployError::input)?
        }
        None => None,
    };
    confirm_protected(project, &req.env, "Deploy", interact)?;
    let envs = load_envs(project, &req.env, &servers, em)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(project.config.deploy.timeout);

    em.step_started("build");
    let art = match server::Artifact::build(project, req.skip_build, em) {
        Ok(a) => {
            em.step_finished("build", true, Some(a.image_refs().join(", ")));
            if let Err(e) = check_health_services(project, &a) {
                finish(project, &req.env, "?", em, &[], Some(&e));
                return Err(e);
            }
            a
        }
        Err(e) => {
            em.step_finished("build", false, Some(e.to_string()));
            finish(project, &req.env, "?", em, &[], Some(&e));
            return Err(e);
        }
    };
    let registry = match &project.config.registry {
        Some(reg) if servers.iter().any(|s| !s.is_local()) => {
            let pushed = deps::registry_push(&reg.server, login.as_ref(), &art, em);
            if let Err(e) = pushed {
                finish(project, &req.env, &art.version, em, &[], Some(&e));
                return Err(e);
            }
            Some(server::Registry {
                server: reg.server.clone(),
                login,
            })
        }
        _ => None,
    };
    let shared = server::Shared {
        project,
        app: project.app_name().to_string(),
        env: req.env.clone(),
        art,
        deadline,
        cancel: cancel.clone(),
        lock_wait: req.lock_wait,
        registry,
        exported: Default::default(),
    };
    let target = server::Target::New;
    let outcomes = run_group(&shared, &servers, &envs, req.parallel, &target, em);
    report(project, &shared, outcomes, em, started)
}

/// Run `target` on every server, sequentially or with bounded parallelism,
/// stopping (and with `rollback-all`, undoing) at the first failure.
fn run_group(
    shared: &server::Shared,
    servers: &[Server],
    envs: &BTreeMap<String, BTreeMap<String, String>>,
    parallel: Option<usize>,
    target: &server::Target,
    em: &Emitter,
) -> Vec<ServerOutcome> {
    let n = match parallel {
        None => 1,
        Some(0) => servers.len().max(1),
        Some(n) => n.min(servers.len()).max(1),
    };
    let next = Mutex::new(0usize);
    let stop = AtomicBool::new(false);
    type Slot = Option<(ServerOutcome, Option<server::Undo>)>;
    let results: Mutex<Vec<Slot>> = Mutex::new((0..servers.len()).map(|_| None).collect());
    let empty = BTreeMap::new();
    std::thread::scope(|scope| {
        for _ in 0..n {
            scope.spawn(|| loop {
                let i = {
                    let mut g = next.lock().unwrap();
                    if *g >= servers.len() || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    *g += 1;
                    *g - 1
                };
                let s = &servers[i];
                let sem = em.for_server(&s.name);
                let vars = envs.get(&s.name).unwrap_or(&empty);
                let (out, undo) = server::run(shared, s, vars, target, &sem);
                if !out.ok {
                    stop.store(true, Ordering::SeqCst);
                }
                results.lock().unwrap()[i] = Some((out, undo));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    let failed = results
        .iter()
        .any(|r| r.as_ref().is_some_and(|(o, _)| !o.ok));
    if failed && shared.project.config.deploy.on_failure == OnFailure::RollbackAll {
        em.warn("on_failure = \"rollback-all\": rolling back the servers that got the new release");
        for r in results.iter_mut().flatten() {
            if let (o, Some(undo)) = r {
                if o.ok && o.changed {
                    let sem = em.for_server(&o.server);
                    match server::undo_success(shared, undo, &sem) {
                        Ok(live) => {
                            o.ok = false;
                            o.rolled_back = true;
                            o.detail = format!(
                                "rolled back (rollback-all) to {}",
                                live.as_deref().unwrap_or("nothing")
                            );
                            o.version = live;
                        }
                        Err(e) => {
                            o.ok = false;
                            o.detail = format!("rollback-all FAILED: {e}");
                        }
                    }
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
            },
        })
        .collect()
}

fn report(
    project: &Project,
    shared: &server::Shared,
    outcomes: Vec<ServerOutcome>,
    em: &Emitter,
    started: Instant,
) -> Result<DeployReport, DeployError> {
    let ok = outcomes.iter().all(|o| o.ok);
    let rep = DeployReport {
        app: shared.app.clone(),
        env: shared.env.clone(),
        version: shared.art.version.clone(),
        ok,
        servers: outcomes,
    };
    let secs = started.elapsed().as_secs_f64();
    let err = (!ok).then(|| {
        let bad: Vec<String> = rep
            .servers
            .iter()
            .filter(|o| !o.ok)
            .map(|o| format!("{}: {}", o.server, o.detail))
            .collect();
        DeployError::Rollout(format!(
            "deploy of {} {} to {} failed on {} of {} servers:\n  {}",
            rep.app,
            rep.version,
            rep.env,
            bad.len(),
            rep.servers.len(),
            bad.join("\n  ")
        ))
    });
    finish(
        project,
        &shared.env,
        &rep.version,
        em,
        &rep.servers,
        err.as_ref(),
    );
    if ok {
        let what = if shared.art_is_rollback() {
            format!("rolled {} back", rep.app)
        } else {
            format!("deployed {} {}", rep.app, rep.version)
        };
        em.finished(
            true,
            format!(
                "{what} on {} ({} server{}) in {secs:.1}s",
                rep.env,
                rep.servers.len(),
                if rep.servers.len() == 1 { "" } else { "s" }
            ),
        );
        Ok(rep)
    } else {
        Err(err.expect("set when not ok"))
    }
}

/// The summary table, the final event and the desktop notification.
fn finish(
    project: &Project,
    env: &str,
    version: &str,
    em: &Emitter,
    outcomes: &[ServerOutcome],
    err: Option<&DeployError>,
) {
    if !outcomes.is_empty() {
        em.data("deploy_summary", serde_json::json!({ "servers": outcomes }));
    }
    if let Some(e) = err {
        em.finished(false, e.to_string());
    }
    if project.config.notifications.desktop {
        let app = project.app_name();
        match err {
            None => notify::send(
                &format!("{app} deployed"),
                &format!("{version} is live on {env}"),
            ),
            Some(e) => notify::send(&format!("{app} deploy to {env} FAILED"), &e.to_string()),
        }
    }
}

/// One server's release history and its live release.
#[derive(Debug, Clone)]
pub struct ServerHistory {
    pub server: String,
    /// Newest first.
    pub releases: Vec<Release>,
    /// The release `current` points at, if any.
    pub live: Option<String>,
}

/// The release history and live release of the selected servers, read in one
/// session per server (the history and the live marker come from the same
/// facts, so asking for them separately would connect twice).
pub fn history(
    project: &Project,
    selection: &Selection,
    em: &Emitter,
) -> Result<Vec<ServerHistory>, DeployError> {
    let env = selection.env.clone().unwrap_or_else(|| "staging".into());
    let servers = servers_for(project, selection, &env)?;
    let mut out = vec![];
    for s in &servers {
        let sem = em.for_server(&s.name);
        let sess = server::Session::open(project, s, &env, false, &sem)?;
        let mut releases = sess.facts.releases.clone();
        release::sort_newest_first(&mut releases);
        out.push(ServerHistory {
            server: s.name.clone(),
            releases,
            live: sess.facts.current.clone(),
        });
    }
    Ok(out)
}

/// Roll back to the previous release (or `to`), with the same confirmation,
/// lock, health checks and cutover as a deploy.
pub fn rollback(
    project: &Project,
    selection: &Selection,
    to: Option<&str>,
    interact: &dyn Interact,
    em: &Emitter,
    cancel: &Cancel,
) -> Result<DeployReport, DeployError> {
    let env = selection.env.clone().unwrap_or_else(|| "staging".into());
    let servers = servers_for(project, selection, &env)?;
    confirm_protected(project, &env, "Roll back", interact)?;
    let started = Instant::now();
    let shared = server::Shared {
        project,
        app: project.app_name().to_string(),
        env: env.clone(),
        art: server::Artifact::none(),
        deadline: started + Duration::from_secs(project.config.deploy.timeout),
        cancel: cancel.clone(),
        lock_wait: Duration::ZERO,
        registry: None,
        exported: Default::default(),
    };
    let target = server::Target::Existing(to.map(String::from));
    let outcomes = run_group(&shared, &servers, &BTreeMap::new(), None, &target, em);
    report(project, &shared, outcomes, em, started)
}

/// Who holds the deploy lock on each selected server.
pub fn lock_status(
    project: &Project,
    selection: &Selection,
    em: &Emitter,
) -> Result<Vec<(String, lock::LockState)>, DeployError> {
    let env = selection.env.clone().unwrap_or_else(|| "staging".into());
    let servers = servers_for(project, selection, &env)?;
    let mut out = vec![];
    for s in &servers {
        let sem = em.for_server(&s.name);
        let sess = server::Session::open(project, s, &env, false, &sem)?;
        out.push((
            s.name.clone(),
            lock::status(&*sess.t, &sess.layout.lock_dir(), &sem)?,
        ));
    }
    Ok(out)
}

/// Remove the deploy lock by force (after confirmation), e.g. when its holder
/// is known to be dead and waiting for it to go stale is not an option.
pub fn lock_release(
    project: &Project,
    selection: &Selection,
    interact: &dyn Interact,
    em: &Emitter,
) -> Result<Vec<String>, DeployError> {
    let env = selection.env.clone().unwrap_or_else(|| "staging".into());
    let servers = servers_for(project, selection, &env)?;
    let mut released = vec![];
    for s in &servers {
        let sem = em.for_server(&s.name);
        let sess = server::Session::open(project, s, &env, false, &sem)?;
        let dir = sess.layout.lock_dir();
        let st = lock::status(&*sess.t, &dir, &sem)?;
        if !st.held {
            sem.info("no deploy lock held");
            continue;
        }
        let who = st
            .holder
            .as_ref()
            .map(|h| h.describe())
            .unwrap_or_else(|| "an unknown holder".into());
        let ok = interact
            .confirm(&Confirm {
                prompt: format!(
                    "Release the deploy lock on {} held by {who}? A deploy still running there would continue unprotected",
                    s.name
                ),
                typed_word: None,
                hint: "pass --yes to release it non-interactively".into(),
            })
            .map_err(DeployError::Input)?;
        if !ok {
            return Err(DeployError::input("not confirmed; the lock is still held"));
        }
        lock::break_lock(&*sess.t, &dir, None, &sem)?;
        sem.info(format!("released the deploy lock held by {who}"));
        released.push(s.name.clone());
    }
    Ok(released)
}
