//! Accessories: databases, caches and other long-lived containers declared in
//! `[accessories.NAME]`. They are namespaced like the app
//! (`<app>-<env>-<name>`, labelled `arcane.accessory`), join the app's network,
//! and app deploys never restart them: only these commands do.

use super::layout::{self, Layout, LABEL_APP, LABEL_ENV};
use super::release::env_file_bytes;
use super::{deps, DeployError};
use crate::config::{Project, Selection, Server};
use crate::docker::argv::{self, AccessorySpec};
use crate::event::Emitter;
use crate::interact::{Confirm, Interact};
use crate::remote::{Cmd, Transport};
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
    access: &deps::Access,
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
    if matches!(action, Action::Boot | Action::Reboot) && !acc.env.is_empty() {
        // Every key must resolve on every server before anything changes, so
        // a missing key never leaves an accessory removed and not recreated.
        for s in &servers {
            let all = deps::merged_env(project, access, &env, &s.name)?;
            em.redactor().add_all(all.values().map(|v| v.as_str()));
            let missing: Vec<&str> = acc
                .env
                .iter()
                .filter(|k| !all.contains_key(*k))
                .map(|k| k.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(DeployError::input(format!(
                    "accessory {name} needs env key(s) {} that config/envs/ does not define for {env} on {}; nothing changed",
                    missing.join(", "),
                    s.name
                )));
            }
        }
    }
    if action == Action::Remove {
        let on = servers
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let prompt = format!(
            "Remove accessory {name} on {on}? Its container and env file are deleted ({})",
            kept_volumes_note(&expand_volumes(&acc.volumes, project.app_name(), &env))
        );
        let ok = interact
            .confirm(&Confirm::typed(
                prompt,
                name,
                "pass --yes to remove it non-interactively",
            ))
            .map_err(DeployError::Input)?;
        if !ok {
            return Err(DeployError::input("not confirmed; nothing removed"));
        }
    }
    let app = project.app_name();
    let cname = container_name(app, &env, name);
    let mut failed = vec![];
    let mut only_input = true;
    for s in &servers {
        let sem = em.for_server(&s.name);
        let step = format!("accessory {} {name}", action.verb());
        sem.step_started(&step);
        let r = (|| -> Result<String, DeployError> {
            let t = deps::connect(s, access, &sem)?;
            match action {
                Action::Boot => boot(project, access, &*t, &env, s, name, &cname, false, &sem),
                Action::Reboot => boot(project, access, &*t, &env, s, name, &cname, true, &sem),
                Action::Stop => match status(&*t, &cname, &sem)?.as_deref() {
                    None => Err(DeployError::input(format!(
                        "no container {cname} on {}; nothing to stop",
                        s.name
                    ))),
                    Some("exited" | "created" | "dead") => Ok(format!("{cname} already stopped")),
                    Some(_) => {
                        run_ok(&*t, argv::stop(std::slice::from_ref(&cname), 10), &sem)?;
                        Ok(format!("{cname} stopped"))
                    }
                },
                Action::Remove => {
                    let existed = status(&*t, &cname, &sem)?.is_some();
                    if existed {
                        run_ok(&*t, argv::rm_force(std::slice::from_ref(&cname)), &sem)?;
                    }
                    // The env file holds secrets: it goes with the container.
                    let home = remote_home(&*t, &sem)?;
                    let path = Layout::new(&home, app, &env).accessory_env(name);
                    run_ok(&*t, vec!["rm".into(), "-f".into(), path], &sem)?;
                    Ok(format!(
                        "{} ({})",
                        if existed {
                            format!("{cname} removed")
                        } else {
                            format!("no container {cname}; nothing to remove")
                        },
                        kept_volumes_note(&expand_volumes(&acc.volumes, app, &env))
                    ))
                }
                Action::Logs => {
                    let st = t
                        .stream(&Cmd::argv(argv::logs(&cname, 200, false)), &sem, &|| false)
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
                only_input &= matches!(e, DeployError::Input(_) | DeployError::Config(_));
                failed.push(format!("{}: {e}", s.name));
            }
        }
    }
    let msg = format!(
        "accessory {} {name} failed on {}",
        action.verb(),
        failed.join("; ")
    );
    match (failed.is_empty(), only_input) {
        (true, _) => Ok(()),
        // Every server refused for something the user must fix (exit 2).
        (false, true) => Err(DeployError::input(msg)),
        (false, false) => Err(DeployError::Rollout(msg)),
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

/// Create and start the accessory. Without `recreate` an existing container
/// is kept (started again if stopped); with it (reboot) the container is
/// replaced, but only once the env file, image and network are ready, so a
/// failed preparation leaves the old one running.
#[allow(clippy::too_many_arguments)]
fn boot(
    project: &Project,
    access: &deps::Access,
    t: &dyn Transport,
    env: &str,
    server: &Server,
    name: &str,
    cname: &str,
    recreate: bool,
    em: &Emitter,
) -> Result<String, DeployError> {
    let acc = &project.config.accessories[name];
    let app = project.app_name();
    let existing = status(t, cname, em)?;
    match existing.as_deref() {
        None => {}
        Some(_) if recreate => {}
        Some("running" | "restarting") => {
            return Ok(format!(
                "{cname} already running; `arcane accessory reboot {name}` recreates it"
            ))
        }
        Some("paused") => {
            return Err(DeployError::input(format!(
                "{cname} is paused on {}; `arcane accessory reboot {name}` recreates it",
                server.name
            )))
        }
        Some(_) => {
            // Stopped (by `accessory stop` or a crash): start the same
            // container, its data and configuration as they were.
            run_ok(t, argv::start(&[cname.to_string()]), em)?;
            return Ok(format!(
                "{cname} started again (existing container; `arcane accessory reboot {name}` recreates it with the current config)"
            ));
        }
    }
    // Before anything changes: this accessory's volumes are its own.
    let volumes = expand_volumes(&acc.volumes, app, env);
    check_volume_owners(t, &named_volumes(&volumes), app, env, em)?;
    let home = remote_home(t, em)?;
    let layout = Layout::new(&home, app, env);
    let env_file = if acc.env.is_empty() {
        None
    } else {
        let all = deps::merged_env(project, access, env, &server.name)?;
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
                layout.accessories_dir(),
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
            &Cmd::shell(argv::ensure_network_line(
                &network,
                &layout::app_env(app, env),
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
        volumes,
        ports: acc.ports.clone(),
        cmd: acc
            .cmd
            .as_deref()
            .map(argv::split_words)
            .unwrap_or_default(),
    };
    if existing.is_some() {
        run_ok(t, argv::rm_force(&[cname.to_string()]), em)?;
    }
    run_ok(t, argv::accessory_run(&spec), em)?;
    Ok(format!(
        "{cname} {} on network {network}",
        if existing.is_some() {
            "recreated, running"
        } else {
            "running"
        }
    ))
}

fn remote_home(t: &dyn Transport, em: &Emitter) -> Result<String, DeployError> {
    let out = t
        .run(&Cmd::shell("printf %s \"$HOME\""), em)
        .map_err(DeployError::remote)?;
    let home = out.stdout_str();
    if !out.success() || home.is_empty() {
        return Err(DeployError::failed("cannot read $HOME on the server"));
    }
    Ok(home)
}

/// The container's state (`running`, `exited`, ...), `None` when there is
/// no such container.
fn status(t: &dyn Transport, cname: &str, em: &Emitter) -> Result<Option<String>, DeployError> {
    let out = t
        .run(&Cmd::argv(argv::inspect(&[cname.to_string()])), em)
        .map_err(DeployError::remote)?;
    if out.success() {
        return Ok(argv::parse_inspect(&out.stdout_str())
            .into_iter()
            .next()
            .map(|c| c.status));
    }
    let err = out.stderr_str();
    if argv::no_such_container(&err) {
        Ok(None)
    } else {
        Err(DeployError::failed(format!(
            "docker inspect {cname}: {}",
            err.trim()
        )))
    }
}

/// `volumes` as used on a server: `{app}` and `{env}` are replaced, so
/// `pgdata-{env}` gives staging and production their own data.
pub fn expand_volumes(volumes: &[String], app: &str, env: &str) -> Vec<String> {
    volumes
        .iter()
        .map(|v| v.replace("{app}", app).replace("{env}", env))
        .collect()
}

/// What a volume's labels say: `None` for a missing volume, else
/// `(arcane.app, arcane.env)`, empty for a volume arcane did not create.
type Owner = Option<(String, String)>;

fn parse_owners(out: &str) -> Vec<(String, Owner)> {
    out.lines()
        .filter_map(|l| {
            let (n, labels) = l.split_once('\t')?;
            if labels.trim() == "-" {
                return Some((n.to_string(), None));
            }
            let m: BTreeMap<String, String> =
                serde_json::from_str::<Option<BTreeMap<String, String>>>(labels.trim())
                    .ok()
                    .flatten()
                    .unwrap_or_default();
            let get = |k: &str| m.get(k).cloned().unwrap_or_default();
            Some((n.to_string(), Some((get(LABEL_APP), get(LABEL_ENV)))))
        })
        .collect()
}

/// Refuse a named volume that belongs to another app or env (two
/// accessories sharing a volume share their data), then create the missing
/// ones with arcane's labels. Nothing is created when one is refused.
fn check_volume_owners(
    t: &dyn Transport,
    names: &[String],
    app: &str,
    env: &str,
    em: &Emitter,
) -> Result<(), DeployError> {
    if names.is_empty() {
        return Ok(());
    }
    let look = |create: bool, which: &[String]| -> Result<Vec<(String, Owner)>, DeployError> {
        let out = t
            .run(
                &Cmd::shell(argv::volume_labels_script(
                    which,
                    create.then_some(&layout::app_env(app, env)[..]),
                )),
                em,
            )
            .map_err(DeployError::remote)?;
        let owners = parse_owners(&out.stdout_str());
        for n in which {
            let Some((_, o)) = owners.iter().find(|(v, _)| v == n) else {
                return Err(DeployError::failed(format!(
                    "cannot {} volume {n} on {}: {}",
                    if create { "create" } else { "inspect" },
                    t.name(),
                    out.stderr_str().trim()
                )));
            };
            if let Some((a, e)) = o {
                if !a.is_empty() && (a != app || e != env) {
                    return Err(DeployError::input(format!(
                        "volume {n} on {} belongs to app {a}, env {e}: sharing it would share its data. \
                         Give this accessory its own volume in arcane.toml, e.g. \"{n}-{{env}}\" \
                         ({{app}} and {{env}} are replaced)",
                        t.name()
                    )));
                }
            }
        }
        Ok(owners)
    };
    let missing: Vec<String> = look(false, names)?
        .into_iter()
        .filter(|(_, o)| o.is_none())
        .map(|(n, _)| n)
        .collect();
    if !missing.is_empty() {
        look(true, &missing)?;
    }
    Ok(())
}

/// Named volumes of an accessory's `volumes` (bind mounts of host paths are
/// not volumes).
pub fn named_volumes(volumes: &[String]) -> Vec<String> {
    volumes
        .iter()
        .filter_map(|v| crate::config::project::named_volume(v))
        .map(String::from)
        .collect()
}

fn kept_volumes_note(volumes: &[String]) -> String {
    let named = named_volumes(volumes);
    if named.is_empty() {
        "it has no named volumes".into()
    } else {
        format!(
            "volumes kept: {}; delete the data with `docker volume rm` on the server",
            named.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_volumes_skip_bind_mounts_and_anonymous_volumes() {
        let v: Vec<String> = [
            "pgdata:/var/lib/postgresql/data",
            "/srv/conf:/etc/conf:ro",
            "./local:/x",
            "/anon",
            "cache:/c:ro",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(named_volumes(&v), ["pgdata", "cache"]);
        assert!(kept_volumes_note(&v).contains("pgdata, cache"));
        assert_eq!(kept_volumes_note(&[]), "it has no named volumes");
    }

    #[test]
    fn volumes_expand_app_and_env_and_owners_parse() {
        let v = vec!["pg-{app}-{env}:/d".to_string(), "/srv/{env}:/c".into()];
        assert_eq!(
            expand_volumes(&v, "shop", "staging"),
            ["pg-shop-staging:/d", "/srv/staging:/c"]
        );
        let o = parse_owners(
            "pg\t{\"arcane.app\":\"shop\",\"arcane.env\":\"staging\"}\nold\tnull\nx\t{}\nnew\t-\n",
        );
        assert_eq!(
            o,
            [
                ("pg".into(), Some(("shop".into(), "staging".into()))),
                ("old".into(), Some(("".into(), "".into()))),
                ("x".into(), Some(("".into(), "".into()))),
                ("new".into(), None),
            ]
        );
    }
}
