//! `deploy`, `releases`, `rollback`, `lock`, `accessory`, `proxy`.

use super::args::*;
use super::render::table;
use super::Ctx;
use crate::config::Selection;
use crate::deploy::{self, accessory, Cancel, DeployError, DeployRequest};
use crate::error::Interrupted;
use crate::event::{Emitter, Event, Sink};
use crate::interact;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Map engine errors to the marker types the binary turns into exit codes.
fn err(e: DeployError) -> anyhow::Error {
    match e {
        DeployError::Input(i) => anyhow::Error::new(i),
        DeployError::Config(c) => anyhow::Error::new(c),
        DeployError::Cancelled => anyhow::Error::new(Interrupted),
        other => anyhow::Error::new(other),
    }
}

/// Human output: the deploy summary becomes a table and the plan is printed
/// by the handler; JSON output passes every event through unchanged.
struct HumanSummary {
    inner: Emitter,
    json: bool,
}

impl Sink for HumanSummary {
    fn emit(&self, ev: Event) {
        if self.json {
            return self.inner.emit(ev);
        }
        match ev {
            Event::Data { kind, value, .. } if kind == "deploy_summary" => {
                let rows = value["servers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|o| {
                                vec![
                                    o["server"].as_str().unwrap_or("").to_string(),
                                    if o["ok"].as_bool() == Some(true) {
                                        "ok".into()
                                    } else if o["rolled_back"].as_bool() == Some(true) {
                                        "rolled back".into()
                                    } else {
                                        "FAILED".into()
                                    },
                                    o["version"].as_str().unwrap_or("-").to_string(),
                                    o["detail"].as_str().unwrap_or("").to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.inner.emit(Event::Data {
                    kind: "table".into(),
                    server: None,
                    value: table(&["server", "result", "live", "detail"], rows),
                });
            }
            Event::Data { kind, .. } if kind == "plan" => {}
            other => self.inner.emit(other),
        }
    }
}

fn engine_emitter(ctx: &Ctx) -> Emitter {
    deploy::set_identity_file(ctx.global.identity.clone());
    Emitter::new(Arc::new(HumanSummary {
        inner: ctx.emitter.clone(),
        json: ctx.json(),
    }))
}

static SIGINT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINT.store(true, Ordering::SeqCst);
}

/// Ctrl-C cancels cooperatively: the engine stops between steps and rolls
/// back what it started, instead of dying with a half-switched server.
fn cancel_on_ctrl_c() -> Cancel {
    let c = Cancel::default();
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    let c2 = c.clone();
    std::thread::spawn(move || loop {
        if SIGINT.load(Ordering::SeqCst) {
            c2.cancel();
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    });
    c
}

pub fn deploy(ctx: &Ctx, a: DeployArgs) -> Result<i32> {
    let project = ctx.project()?;
    if let Some(app) = &a.app {
        if app != project.app_name() {
            return Err(crate::error::InputError::new(format!(
                "this project deploys app {:?}, not {app:?}; run arcane in that app's directory or pass --project",
                project.app_name()
            ))
            .into());
        }
    }
    let env = a.target.env.clone().unwrap_or_else(|| "staging".into());
    let req = DeployRequest {
        selection: Selection::from(&a.target),
        env,
        parallel: a.parallel,
        dry_run: a.dry_run,
        skip_build: a.skip_build,
        lock_wait: Duration::from_secs(a.lock_wait),
    };
    let em = engine_emitter(ctx);
    if a.dry_run {
        let plan = deploy::plan(&project, &req, &em).map_err(err)?;
        if !ctx.json() {
            println!("{plan}");
        }
        return Ok(0);
    }
    let interact = interact::for_cli(a.yes);
    let cancel = cancel_on_ctrl_c();
    deploy::deploy(&project, &req, &*interact, &em, &cancel).map_err(err)?;
    if let Some(url) = local_url(&project, &req.env) {
        if !ctx.json() && !ctx.global.quiet {
            println!("{url}");
        }
    }
    Ok(0)
}

/// The URL a `local` deploy answers on, for the README's first run.
fn local_url(project: &crate::config::Project, env: &str) -> Option<String> {
    // Compose apps publish whatever their compose file says; only the
    // single-image mode knows its port.
    if project.config.proxy.is_some()
        || !matches!(
            project.build_mode(),
            crate::config::BuildMode::Dockerfile { .. }
        )
        || !project.servers.servers.values().any(|s| s.host == "local")
    {
        return None;
    }
    let port = project.config.app_port();
    let publish = project
        .config
        .publish_for(env)
        .unwrap_or_else(|| port.to_string());
    let (ip, hport) = match publish.rsplit_once(':') {
        Some((ip, p)) => (
            if ip.is_empty() || ip == "0.0.0.0" {
                "127.0.0.1"
            } else {
                ip
            }
            .to_string(),
            p.to_string(),
        ),
        None => ("127.0.0.1".to_string(), publish),
    };
    Some(format!("http://{ip}:{hport}/"))
}

pub fn releases(ctx: &Ctx, a: ReleasesArgs) -> Result<i32> {
    let project = ctx.project()?;
    let sel = Selection::from(&a.target);
    let em = engine_emitter(ctx);
    let all = deploy::history(&project, &sel, &em).map_err(err)?;
    let mut rows = vec![];
    for h in &all {
        let (server, rels, cur) = (&h.server, &h.releases, &h.live);
        if ctx.json() {
            for r in rels {
                let mut v = serde_json::to_value(r).expect("serializes");
                v["live"] = serde_json::json!(Some(&r.release) == cur.as_ref());
                ctx.emitter.emit(Event::Data {
                    kind: "release".into(),
                    server: Some(server.clone()),
                    value: v,
                });
            }
            continue;
        }
        if rels.is_empty() {
            rows.push(vec![
                server.clone(),
                "-".into(),
                "".into(),
                "no releases".into(),
                "".into(),
                "".into(),
                "".into(),
            ]);
        }
        for r in rels {
            rows.push(vec![
                server.clone(),
                if Some(&r.release) == cur.as_ref() {
                    "*".into()
                } else {
                    "".into()
                },
                r.release.clone(),
                format!("{:?}", r.status).to_lowercase(),
                r.created_at.clone(),
                r.deployed_by.clone(),
                r.images.values().cloned().collect::<Vec<_>>().join(","),
            ]);
        }
    }
    if !ctx.json() {
        ctx.emitter.emit(Event::Data {
            kind: "table".into(),
            server: None,
            value: table(
                &[
                    "server", "live", "release", "status", "created", "by", "images",
                ],
                rows,
            ),
        });
    }
    Ok(0)
}

pub fn rollback(ctx: &Ctx, a: RollbackArgs) -> Result<i32> {
    let project = ctx.project()?;
    let sel = Selection::from(&a.target);
    let em = engine_emitter(ctx);
    let interact = interact::for_cli(a.yes);
    let cancel = cancel_on_ctrl_c();
    deploy::rollback(&project, &sel, a.to.as_deref(), &*interact, &em, &cancel).map_err(err)?;
    Ok(0)
}

pub fn lock(ctx: &Ctx, c: LockCmd) -> Result<i32> {
    let project = ctx.project()?;
    let em = engine_emitter(ctx);
    match c {
        LockCmd::Status(t) => {
            let sel = Selection::from(&t);
            let states = deploy::lock_status(&project, &sel, &em).map_err(err)?;
            let mut rows = vec![];
            for (server, st) in states {
                if ctx.json() {
                    ctx.emitter.emit(Event::Data {
                        kind: "lock".into(),
                        server: Some(server),
                        value: serde_json::to_value(&st).expect("serializes"),
                    });
                    continue;
                }
                rows.push(vec![
                    server,
                    match (st.held, st.stale) {
                        (false, _) => "free".into(),
                        (true, false) => "held".into(),
                        (true, true) => "held (stale)".into(),
                    },
                    st.holder.map(|h| h.describe()).unwrap_or_default(),
                    st.age_secs.map(|a| format!("{a}s ago")).unwrap_or_default(),
                ]);
            }
            if !ctx.json() {
                ctx.emitter.emit(Event::Data {
                    kind: "table".into(),
                    server: None,
                    value: table(&["server", "lock", "holder", "heartbeat"], rows),
                });
            }
            Ok(0)
        }
        LockCmd::Release { target, yes } => {
            let sel = Selection::from(&target);
            let interact = interact::for_cli(yes);
            deploy::lock_release(&project, &sel, &*interact, &em).map_err(err)?;
            Ok(0)
        }
    }
}

pub fn accessory(ctx: &Ctx, c: AccessoryCmd) -> Result<i32> {
    let project = ctx.project()?;
    let em = engine_emitter(ctx);
    let (args, action, yes) = match c {
        AccessoryCmd::Boot(a) => (a, accessory::Action::Boot, false),
        AccessoryCmd::Reboot(a) => (a, accessory::Action::Reboot, false),
        AccessoryCmd::Stop(a) => (a, accessory::Action::Stop, false),
        AccessoryCmd::Logs(a) => (a, accessory::Action::Logs, false),
        AccessoryCmd::Remove { args, yes } => (args, accessory::Action::Remove, yes),
    };
    let sel = Selection::from(&args.target);
    let interact = interact::for_cli(yes);
    accessory::run(&project, &sel, &args.name, action, &*interact, &em).map_err(err)?;
    Ok(0)
}

pub fn proxy(ctx: &Ctx, c: ProxyCmd) -> Result<i32> {
    super::proxy_cmd::run(ctx, c)
}
