//! Accessories: databases, caches and other long-lived containers declared in
//! `[accessories.NAME]`. They are namespaced like the app
//! (`<app>-<env>-<name>`, labelled `arcane.accessory`), join the app's network,
//! and app deploys never restart them: only these commands do.

use super::argv::{self, AccessorySpec};
use super::release::{env_file_bytes, Layout};
use super::{deps, DeployError};
use crate::config::{Project, Selection, Server};
use crate::event::Emitter;
use crate::interact::{Confirm, Interact};
use crate::remote::{shell_quote, Cmd, Transport};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Boot,
    Reboot,
    Stop,
    Logs,
    Remove,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Boot => "boot",
            Action::Reboot => "reboot",
            Action::Stop => "stop",
            Action::Logs => "logs",
            Action::Remove => "remove",
        }
    }
}

pub fn container_name(app: &str, env: &str, name: &str) -> String {
    format!("{app}-{env}-{name}")
}

/// Run `action` for accessory `name` on the selected servers (those with one
/// of the accessory's roles, when it names roles).
pub fn run(
    project: &Project,
    selection: &Selection,
    name: &str,
    action: Action,
    interact: &dyn Interact,
    em: &Emitter,
) -> Result<(), DeployError> {
    let acc = project.config.accessories.get(name).ok_or_else(|| {
        let names: Vec<&String> = project.config.accessories.keys().collect();
        DeployError::input(format!(
            "arcane.toml: no [accessories.{name}]; defined: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    })?;
    let env = selection.env.clone().unwrap_or_else(|| "staging".into());
    let mut sel = selection.clone();
    sel.env = Some(env.clone());
    let servers: Vec<Server> = project
        .select(&sel)?
        .into_iter()
        .filter(|s| acc.roles.is_empty() || s.config.roles.iter().any(|r| acc.roles.contains(r)))
        .collect();
    if servers.is_empty() {
        return Err(DeployError::input(format!(
            "no selected server has a role of accessory {name} ({})",
            acc.roles.join(", ")
        )));
    }
    if action == Action::Remove {
        let ok = interact
            .confirm(&Confirm {
                prompt: format!(
                    "Remove accessory {name} on {}? Its container is deleted (named volumes are kept)",
                    servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
                typed_word: Some(name.to_string()),
                hint: "pass --yes to remove it non-interactively".into(),
            })
            .map_err(DeployError::Input)?;
        if !ok {
            return Err(DeployError::input("not confirmed; nothing removed"));
        }
    }
    let app = project.app_name();
    let cname = container_name(app, &env, name);
    let mut failed = vec![];
    for s in &servers {
        let sem = em.for_server(&s.name);
        let step = format!("accessory {} {name}", action.verb());
        sem.step_started(&step);
        let r = (|| -> Result<String, DeployError> {
            let t = deps::connect(s, &project.root, &sem)?;
            match action {
                Action::Boot => boot(project, &*t, &env, s, name, &cname, &sem),
                Action::Reboot => {
                    run_ok(&*t, argv::rm_force(std::slice::from_ref(&cname)), &sem)?;
                    boot(project, &*t, &env, s, name, &cname, &sem)
                }
                Action::Stop => {
                    run_ok(&*t, argv::stop(std::slice::from_ref(&cname), 10), &sem)?;
                    Ok(format!("{cname} stopped"))
                }
                Action::Remove => {
                    run_ok(&*t, argv::rm_force(std::slice::from_ref(&cname)), &sem)?;
                    Ok(format!("{cname} removed (volumes kept)"))
                }
                Action::Logs => {
                    let st = t
                        .stream(&Cmd::argv(argv::logs_tail(&cname, 200)), &sem, &|| false)
                        .map_err(DeployError::remote)?;
                    if st != 0 {
                        return Err(DeployError::failed(format!(
                            "docker logs {cname} exited {st}"
                        )));
                    }
                    Ok(String::new())
                }
            }
        })();
        match r {
            Ok(d) => sem.step_finished(&step, true, (!d.is_empty()).then_some(d)),
            Err(e) => {
                sem.step_finished(&step, false, Some(e.to_string()));
                failed.push(format!("{}: {e}", s.name));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(DeployError::Rollout(format!(
            "accessory {} {name} failed on {}",
            action.verb(),
            failed.join("; ")
        )))
    }
}

fn run_ok(t: &dyn Transport, a: Vec<String>, em: &Emitter) -> Result<String, DeployError> {
    let out = t
        .run(
            &Cmd::argv(a.clone()).with_timeout(Duration::from_secs(120)),
            em,
        )
        .map_err(DeployError::remote)?;
    if !out.success() {
        return Err(DeployError::failed(format!(
            "`{}`: {}",
            argv::sh(&a),
            out.stderr_str().trim()
        )));
    }
    Ok(out.stdout_str())
}

fn boot(
    project: &Project,
    t: &dyn Transport,
    env: &str,
    server: &Server,
    name: &str,
    cname: &str,
    em: &Emitter,
) -> Result<String, DeployError> {
    let acc = &project.config.accessories[name];
    let app = project.app_name();
    let exists = t
        .run(&Cmd::argv(argv::inspect(&[cname.to_string()])), em)
        .map_err(DeployError::remote)?;
    if exists.success() {
        return Err(DeployError::input(format!(
            "{cname} already exists on {}; use `arcane accessory reboot {name}` to recreate it",
            server.name
        )));
    }
    let home = t
        .run(&Cmd::shell("printf %s \"$HOME\""), em)
        .map_err(DeployError::remote)?
        .stdout_str();
    let layout = Layout::new(&home, app, env);
    let env_file = if acc.env.is_empty() {
        None
    } else {
        let all = deps::merged_env(project, env, &server.name)?;
        em.redactor().add_all(all.values().map(|v| v.as_str()));
        let mut vars = BTreeMap::new();
        for k in &acc.env {
            let v = all.get(k).ok_or_else(|| {
                DeployError::input(format!(
                    "accessory {name} needs env key {k}, which config/envs/ does not define for {env} on {}",
                    server.name
                ))
            })?;
            vars.insert(k.clone(), v.clone());
        }
        let path = layout.accessory_env(name);
        run_ok(
            t,
            vec![
                "mkdir".into(),
                "-p".into(),
                "-m".into(),
                "700".into(),
                format!("{}/accessories", layout.root),
            ],
            em,
        )?;
        t.upload(
            &path,
            &env_file_bytes(&vars).map_err(DeployError::input)?,
            0o600,
            em,
        )
        .map_err(DeployError::remote)?;
        Some(path)
    };
    if let Some(id) = deps::local_image_id(&acc.image, em)? {
        deps::ship(t, "accessory", "", &[(acc.image.clone(), id)], em)?;
    }
    let network = format!("{app}-{env}");
    let net = t
        .run(
            &Cmd::shell(format!(
                "{} >/dev/null 2>&1 || {} >/dev/null",
                argv::sh(&argv::network_inspect(&network)),
                argv::sh(&argv::network_create(&network, app, env))
            )),
            em,
        )
        .map_err(DeployError::remote)?;
    if !net.success() {
        return Err(DeployError::failed(format!(
            "cannot create network {network}: {}",
            net.stderr_str().trim()
        )));
    }
    let spec = AccessorySpec {
        name: cname.to_string(),
        app: app.to_string(),
        env: env.to_string(),
        accessory: name.to_string(),
        image: acc.image.clone(),
        env_file,
        network: network.clone(),
        volumes: acc.volumes.clone(),
        ports: acc.ports.clone(),
        cmd: acc
            .cmd
            .as_deref()
            .map(argv::split_words)
            .unwrap_or_default(),
    };
    run_ok(t, argv::accessory_run(&spec), em)?;
    let _ = shell_quote;
    Ok(format!("{cname} running on network {network}"))
}
