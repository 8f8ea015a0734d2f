//! Answers of engine calls: loaded data, finished operations, questions.

use super::*;

pub(super) fn on_result(m: &mut Model, msg: Msg) -> Vec<Command> {
    let mut cmds = vec![];
    match msg {
        // Input, ticks and engine events are handled by `update` itself.
        Msg::Tick { .. } | Msg::Resize { .. } | Msg::Scroll(_) | Msg::Key(_) | Msg::Engine(_) => {}
        Msg::StatusLoaded { server, status } => {
            m.overview.pending.remove(&server);
            if let Some(alert) = &status.security_alert {
                // Once per new alert, not on every background refresh.
                let known = m
                    .overview
                    .statuses
                    .get(&server)
                    .and_then(|s| s.security_alert.as_ref())
                    == Some(alert);
                if !known {
                    m.status = Some((true, alert.clone()));
                    cmds.extend(notify(m, "arcane: host key refused", alert));
                }
            }
            m.overview.statuses.insert(server, status);
        }
        Msg::EnvLoaded { env, result } => {
            if env == m.env_name() {
                m.env.loading = false;
                match result {
                    Ok(keys) => {
                        m.env.keys = keys;
                        m.env.error = None;
                    }
                    Err(e) => {
                        m.env.keys.clear();
                        m.env.error = Some(e);
                    }
                }
                m.env.selected = m.env.selected.min(m.env.keys.len().saturating_sub(1));
            }
        }
        Msg::Revealed { key, result } => match result {
            Ok(v) => m.env.revealed = Some((key, v.0)),
            Err(e) => m.status = Some((true, e)),
        },
        Msg::KeysLoaded(r) => match r {
            Ok(k) => {
                let sel = m.keys.selected;
                let generated = m.keys.generated.take();
                m.keys = k;
                m.keys.generated = generated;
                m.keys.selected = sel.min(m.keys.recipients.len().saturating_sub(1));
            }
            Err(e) => {
                m.keys.loading = false;
                m.keys.error = Some(e);
            }
        },
        Msg::GeneratedKey(r) => match r {
            Ok((public, secret)) => m.keys.generated = Some((public, secret.0)),
            Err(e) => m.status = Some((true, e)),
        },
        Msg::ReleasesLoaded { env, result } => {
            if env == m.releases_env() {
                m.releases.loading = false;
                match result {
                    Ok(rows) => {
                        m.releases.by_server = rows;
                        m.releases.error = None;
                    }
                    Err(e) => {
                        m.releases.by_server.clear();
                        m.releases.error = Some(e);
                    }
                }
                let n = m.release_rows().len();
                clamp(&mut m.releases.selected, n);
            }
        }
        Msg::GitLoaded(r) => {
            m.git.loading = false;
            match r {
                Ok(c) => {
                    m.git.commits = c;
                    m.git.error = None;
                }
                Err(e) => m.git.error = Some(e),
            }
            clamp(&mut m.git.selected, m.git.commits.len());
        }
        Msg::ShadowLoaded(r) => match r {
            Ok((chain, watch)) => {
                if let Some(w) = watch.as_ref().filter(|w| !w.blocked.is_empty()) {
                    let f = &w.blocked[0];
                    m.status = Some((
                        true,
                        format!("snapshots blocked: {}:{} {}", f.file, f.line, f.rule),
                    ));
                }
                m.git.shadow = Some(chain);
                m.git.watch = watch;
            }
            Err(_) => {
                m.git.shadow = None;
                m.git.watch = None;
            }
        },
        Msg::SquashPlanned(r) => {
            m.git.planning = false;
            match r {
                Ok(p) => {
                    m.status = Some((
                        false,
                        format!(
                            "squash plan: {} commit(s) -> {}; s or ⏎ applies it, r drops it",
                            p.sources.len(),
                            p.groups.len()
                        ),
                    ));
                    m.git.plan = Some(p);
                }
                Err(e) => {
                    m.git.plan = None;
                    m.status = Some((true, format!("squash: {e}")));
                }
            }
        }
        Msg::LogChoices(r) => {
            m.logs.loading = false;
            match r {
                Ok(c) => {
                    m.logs.choices = c;
                    m.logs.error = None;
                }
                Err(e) => m.logs.error = Some(e),
            }
            clamp(&mut m.logs.selected, m.logs.choices.len());
        }
        // Only the current follower's lines and end count: a stopped or
        // replaced one may still be delivering its last ones.
        Msg::LogLine { id, line } => {
            if m.logs.following.is_some() && id == m.logs.follow_id {
                push_capped(&mut m.logs.lines, line);
            }
        }
        Msg::LogsEnded { id, error } => {
            if id == m.logs.follow_id {
                m.logs.following = None;
                if let Some(e) = error {
                    m.logs.error = Some(e);
                }
            }
        }
        Msg::PlanReady(r) => {
            if m.deploy.phase == DeployPhase::Planning {
                m.deploy.phase = match r {
                    Ok(plan) => DeployPhase::Planned { plan },
                    Err(e) => DeployPhase::Done {
                        ok: false,
                        summary: format!("plan failed: {e}"),
                    },
                };
            }
        }
        Msg::DeployDone(r) => {
            let (ok, summary) = match r {
                Ok(s) => (true, s),
                Err(e) => (false, e),
            };
            // The engine's result replaces whatever `Finished` said: it is
            // built from the report (names and versions, never values).
            let target = m
                .deploy
                .active
                .as_ref()
                .map(|t| t.label())
                .unwrap_or_default();
            m.deploy.phase = DeployPhase::Done {
                ok,
                summary: summary.clone(),
            };
            close_stale_dialogs(m);
            let title = if ok {
                format!("arcane: deployed {target}")
            } else {
                format!("arcane: deploy to {target} FAILED")
            };
            cmds.extend(notify(m, &title, &summary));
            m.status = Some((!ok, summary));
            // The live release changed: refresh what shows it.
            cmds.extend(refresh_status(m));
            if m.tab == Tab::Releases {
                cmds.extend(load_tab(m));
            }
            if m.quit_after_deploy {
                m.quit = true;
            }
        }
        Msg::BootstrapEvent(ev) => {
            if let Some(b) = &mut m.bootstrap {
                b.on_event(&ev);
            }
        }
        Msg::BootstrapDone(r) => {
            let (ok, summary) = match r {
                Ok(s) => (true, s),
                Err(e) => (false, e),
            };
            let server = m.bootstrap.as_ref().map(|b| b.server.clone());
            if let Some(b) = &mut m.bootstrap {
                b.done = Some((ok, summary.clone()));
            }
            let title = match (&server, ok) {
                (Some(s), true) => format!("arcane: bootstrapped {s}"),
                (Some(s), false) => format!("arcane: bootstrap of {s} FAILED"),
                _ => "arcane: bootstrap".into(),
            };
            cmds.extend(notify(m, &title, &summary));
            m.status = Some((!ok, summary));
            // Docker may be there now: the mark goes with the next probe.
            cmds.extend(refresh_status(m));
        }
        Msg::ConfirmRequested { id, confirm } => {
            m.popup = Some(Popup::EngineConfirm {
                id,
                confirm,
                input: String::new(),
            });
        }
        Msg::NetworkLoaded { server, net } => {
            m.overview.network.insert(server, net);
        }
        Msg::SparkLoaded(r) => m.spark.loaded(m.now, r),
        Msg::OpDone { what, result } => {
            if what.starts_with("squash") {
                m.git.plan = None;
            }
            let rollback = what.starts_with("roll back");
            if rollback {
                m.rollback_running = false;
                close_stale_dialogs(m);
                if m.quit_after_deploy && !m.deploy_running() {
                    m.quit = true;
                }
                let (title, body) = match &result {
                    Ok(s) => (format!("arcane: {what} done"), s.clone()),
                    Err(e) => (format!("arcane: {what} FAILED"), e.clone()),
                };
                cmds.extend(notify(m, &title, &body));
            }
            match result {
                Ok(s) => m.status = Some((false, if s.is_empty() { what } else { s })),
                Err(e) => m.status = Some((true, format!("{what}: {e}"))),
            }
            if rollback && m.tab != Tab::Overview {
                cmds.extend(refresh_status(m));
            }
            cmds.extend(load_tab(m));
        }
    }
    cmds
}
