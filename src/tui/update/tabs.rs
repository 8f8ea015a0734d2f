//! Each tab's own actions on its selected row.

use super::keys::{confirm, input};
use super::*;
use crate::tui::keymap::Action;

pub(super) fn on_tab_action(m: &mut Model, action: Action) -> Vec<Command> {
    match (m.tab, action) {
        (Tab::Deploy, Action::Plan) => {
            if m.deploy_running() {
                return vec![];
            }
            let Some(t) = m.deploy.targets.get(m.deploy.selected).cloned() else {
                return vec![];
            };
            m.deploy.active = Some(t.clone());
            m.deploy.phase = DeployPhase::Planning;
            vec![Command::Plan { target: t }]
        }
        (Tab::Deploy, Action::StartDeploy) => {
            if m.deploy_running() {
                return vec![];
            }
            let Some(t) = m.deploy.targets.get(m.deploy.selected).cloned() else {
                return vec![];
            };
            let env = t.env().to_string();
            if m.is_protected(&env) {
                // The deploy asks for the typed env name itself (one dialog).
                return super::popups::run_pending(m, Pending::Deploy(t));
            } else {
                confirm(
                    m,
                    &format!("Deploy {}?", t.label()),
                    "Builds, ships and starts the current commit. A failed health check rolls back.",
                    Pending::Deploy(t),
                    None,
                );
            }
            vec![]
        }
        (Tab::Deploy, Action::CancelDeploy) => {
            if m.deploy.phase == DeployPhase::Running {
                confirm(
                    m,
                    "Cancel the deploy?",
                    "The engine stops after the current step and rolls back.",
                    Pending::CancelDeploy,
                    None,
                );
            } else if !m.deploy_running() {
                m.deploy.phase = DeployPhase::Idle;
            }
            vec![]
        }
        (Tab::Env, Action::Reveal) => {
            let Some(k) = m.env.keys.get(m.env.selected) else {
                return vec![];
            };
            if m.env
                .revealed
                .as_ref()
                .is_some_and(|(key, _)| key == &k.key)
            {
                m.env.revealed = None;
                return vec![];
            }
            vec![Command::RevealKey {
                env: m.env_name().to_string(),
                key: k.key.clone(),
            }]
        }
        (Tab::Env, Action::AddKey) => {
            let layer = m.env_name().to_string();
            input(
                m,
                &format!("Add a key to {layer}"),
                "KEY=value (use base: prefix for the shared layer, e.g. base:KEY=value)",
                InputPurpose::AddKey { layer },
                false,
            );
            vec![]
        }
        (Tab::Env, Action::EditKey) => {
            let Some(k) = m.env.keys.get(m.env.selected).cloned() else {
                return vec![];
            };
            input(
                m,
                &format!("New value of {} ({})", k.key, k.layer),
                "the value is re-encrypted on save and never shown here",
                InputPurpose::EditValue {
                    layer: k.layer,
                    key: k.key,
                },
                true,
            );
            vec![]
        }
        (Tab::Env, Action::DeleteKey) => {
            let Some(k) = m.env.keys.get(m.env.selected).cloned() else {
                return vec![];
            };
            confirm(
                m,
                &format!("Delete {}?", k.key),
                &format!(
                    "Removes {} from the {} layer and re-encrypts the file.",
                    k.key, k.layer
                ),
                Pending::DeleteKey {
                    layer: k.layer,
                    key: k.key,
                },
                None,
            );
            vec![]
        }
        (Tab::Keys, Action::AddTeammate) => {
            input(
                m,
                "Add a teammate",
                "NAME AGE-PUBKEY [scopes,comma,separated] (default base,staging)",
                InputPurpose::AddTeammate,
                false,
            );
            vec![]
        }
        (Tab::Keys, Action::AddMachine) => {
            input(
                m,
                "Allow a machine",
                "NAME AGE-PUBKEY [scopes] (default: the machine's env)",
                InputPurpose::AddMachine,
                false,
            );
            vec![]
        }
        (Tab::Keys, Action::Revoke) => {
            let Some(r) = m.keys.recipients.get(m.keys.selected).cloned() else {
                return vec![];
            };
            confirm(
                m,
                &format!("Revoke {}?", r.name),
                &format!(
                    "Removes {} and rotates every scope it could read ({}).",
                    r.name,
                    r.scopes.join(", ")
                ),
                Pending::Revoke {
                    name: r.name,
                    kind: r.kind,
                },
                None,
            );
            vec![]
        }
        (Tab::Keys, Action::GenKey) => vec![Command::GenKey],
        (Tab::Releases, Action::ToggleReleaseView) => {
            m.releases.by_server_view = !m.releases.by_server_view;
            m.releases.selected = 0;
            vec![]
        }
        (Tab::Releases, Action::Rollback) => {
            let rows = m.release_rows();
            let Some((server, row)) = rows.get(m.releases.selected).cloned() else {
                return vec![];
            };
            if row.live {
                m.status = Some((true, format!("{} is already live", row.version)));
                return vec![];
            }
            let env = m.releases_env().to_string();
            let scope = server
                .clone()
                .unwrap_or_else(|| format!("every {env} server"));
            let pending = Pending::Rollback {
                server,
                env: env.clone(),
                to: row.version.clone(),
            };
            if m.is_protected(&env) {
                // The rollback asks for the typed env name itself.
                return super::popups::run_pending(m, pending);
            }
            confirm(
                m,
                &format!("Roll back to {}?", row.version),
                &format!("Switches {scope} back to release {}.", row.version),
                pending,
                None,
            );
            vec![]
        }
        (Tab::Overview, Action::Bootstrap) => {
            if m.bootstrap.as_ref().is_some_and(|b| b.running()) {
                m.status = Some((true, "a bootstrap is running; wait for it".into()));
                return vec![];
            }
            let Some(s) = m.servers.get(m.overview.selected).cloned() else {
                return vec![];
            };
            if m.is_protected(&s.env) {
                // The operation asks for the typed env name itself.
                return super::popups::run_pending(m, Pending::Bootstrap(s.name));
            }
            confirm(
                m,
                &format!("Bootstrap {}?", s.name),
                "Over SSH: installs Docker, creates the deploy user with its keys and the layout, then the firewall and sshd hardening as [bootstrap] says. Steps already done are left alone.",
                Pending::Bootstrap(s.name),
                None,
            );
            vec![]
        }
        (Tab::Logs, Action::Select) => {
            let Some((server, service)) = m.logs.choices.get(m.logs.selected).cloned() else {
                return vec![];
            };
            // One follower at a time: a new one replaces the old.
            let mut cmds = stop_following(m);
            m.logs.lines.clear();
            m.logs.error = None;
            m.logs.follow_id += 1;
            m.logs.following = Some((server.clone(), service.clone()));
            cmds.push(Command::FollowLogs {
                id: m.logs.follow_id,
                server,
                service,
            });
            cmds
        }
        (Tab::Logs, Action::StopLogs) => stop_following(m),
        // s plans; s (or ⏎) again, with the plan on screen, applies it
        // after a confirmation. `r` drops the plan.
        (Tab::Git, Action::SquashPlan) => {
            if m.git.planning {
                return vec![];
            }
            let Some(plan) = m.git.plan.clone() else {
                m.git.planning = true;
                return vec![Command::SquashPlan];
            };
            let body = format!(
                "Rewrites {} ({} commit(s) and snapshot(s)) into the {} commit(s) shown. The tree stays the same; the old tip is kept in refs/arcane/backup/{}/.",
                plan.branch,
                plan.sources.len(),
                plan.groups.len(),
                plan.branch
            );
            confirm(
                m,
                &format!("Squash {}?", plan.branch),
                &body,
                Pending::Squash(plan),
                None,
            );
            vec![]
        }
        (Tab::Settings, Action::Toggle) => {
            match m.settings.selected {
                0 => {
                    m.settings.theme = match m.settings.theme {
                        ThemeKind::Color => ThemeKind::Monochrome,
                        ThemeKind::Monochrome => ThemeKind::Color,
                    }
                }
                _ => m.settings.notifications = !m.settings.notifications,
            }
            vec![]
        }
        _ => vec![],
    }
}
