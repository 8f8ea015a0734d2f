//! One server's bootstrap, step after step, over one transport (and the
//! deploy user's own logins, each a new connection).

use super::super::Ctx;
use crate::bootstrap::{
    self, as_root, os::OsRelease, parse_outcome, script, step, LoginCheck, Privilege, Probe, Spec,
};
use crate::config::Server;
use crate::error::ErrorKind;
use crate::event::report::{BootstrapStep, ServerBootstrap};
use crate::event::Emitter;
use crate::remote::{Cmd, RemoteError, Transport};
use std::sync::Arc;
use std::time::Duration;

/// `server` reached as `user`.
pub(super) fn server_as(server: &Server, user: &str) -> Server {
    let mut s = server.clone();
    s.config.user = Some(user.to_string());
    s
}

type StepResult<T> = Result<T, (ErrorKind, String)>;

/// One server's bootstrap, step after step.
pub(super) struct Runner<'a> {
    ctx: &'a Ctx<'a>,
    server: &'a Server,
    spec: &'a Spec,
    dry: bool,
    em: Emitter,
    rep: ServerBootstrap,
    /// The step running now (for the report when it fails).
    current: &'static str,
}

impl<'a> Runner<'a> {
    pub(super) fn new(ctx: &'a Ctx<'a>, server: &'a Server, spec: &'a Spec, dry: bool) -> Self {
        Runner {
            ctx,
            server,
            spec,
            dry,
            em: ctx.em.for_server(&server.name),
            rep: ServerBootstrap {
                server: server.name.clone(),
                host: server.config.host.clone(),
                deploy_user: spec.user.clone(),
                ..Default::default()
            },
            current: step::CONNECT,
        }
    }

    pub(super) fn run(mut self) -> ServerBootstrap {
        match self.steps() {
            Ok(()) => self.rep.ok = true,
            Err((kind, msg)) => {
                self.em
                    .step_finished(self.current, false, Some(msg.clone()));
                self.rep.failed_step = Some(self.current.to_string());
                self.rep.error = Some(msg);
                self.rep.error_kind = Some(kind);
            }
        }
        self.rep
    }

    fn start(&mut self, name: &'static str) -> StepResult<()> {
        if self.ctx.cancel.is_cancelled() {
            return Err((ErrorKind::Interrupted, "interrupted".into()));
        }
        self.current = name;
        self.em.step_started(name);
        Ok(())
    }

    /// A step ended: `changed` (or would change, in a dry run).
    fn done(&mut self, changed: bool, detail: String) {
        if self.dry && changed {
            self.em
                .step_finished(self.current, true, Some(detail.clone()));
        } else {
            self.em
                .step_converged(self.current, changed, detail.clone());
        }
        self.rep.steps.push(BootstrapStep {
            step: self.current.to_string(),
            changed,
            detail,
        });
    }

    fn steps(&mut self) -> StepResult<()> {
        self.start(step::CONNECT)?;
        if self.server.is_local() {
            return Err((
                ErrorKind::Input,
                format!(
                    "{} is this machine (host = \"local\"); bootstrap prepares servers over SSH",
                    self.server.name
                ),
            ));
        }
        let (t, probe) = self.connect()?;
        let how = probe.privilege().map_err(|e| (ErrorKind::Failed, e))?;
        self.rep.connected_as = Some(probe.user.clone());
        let via = match how {
            Privilege::Root => "as root".to_string(),
            Privilege::Sudo => format!("as {} with sudo", probe.user),
        };
        self.done(false, format!("{} {via}", self.server.config.host));

        self.start(step::OS)?;
        self.check_os(&probe.os)?;

        let sd = Some(probe.systemd);
        self.step(
            &t,
            how,
            step::PACKAGES,
            &script::packages(self.spec, self.dry),
            None,
            20 * 60,
        )?;
        self.step(
            &t,
            how,
            step::ENGINE,
            &script::engine(sd, self.dry),
            None,
            5 * 60,
        )?;
        let keys = script::authorized_keys(&self.spec.keys);
        self.step(
            &t,
            how,
            step::USER,
            &script::user(self.spec, self.dry),
            Some(keys.as_bytes()),
            120,
        )?;
        self.step(
            &t,
            how,
            step::LAYOUT,
            &script::layout(self.spec, self.dry),
            None,
            60,
        )?;
        if super::super::network::configured(self.ctx) {
            self.network(t.as_ref())?;
        }

        self.start(step::LOGIN)?;
        if self.dry && !probe.deploy_user_exists {
            self.done(
                false,
                format!("would log in as {} to check its key", self.spec.user),
            );
        } else {
            let proof = self.prove_login(1).map_err(|e| {
                (
                    ErrorKind::Failed,
                    format!("{e}; sshd and the firewall were left alone"),
                )
            })?;
            self.done(false, proof);
        }

        if let Some(ports) = &self.spec.firewall {
            let rules = bootstrap::firewall::ruleset(ports);
            let desc = bootstrap::firewall::describe(ports);
            let changed = self.step(
                &t,
                how,
                step::FIREWALL,
                &script::firewall(probe.systemd, &desc, self.dry),
                Some(rules.as_bytes()),
                120,
            )?;
            if changed && !self.dry {
                self.verify_or_undo(&t, how, &script::firewall_undo(probe.systemd), "firewall")?;
            }
        }
        if self.spec.harden_ssh {
            let dropin = script::sshd_dropin(self.spec);
            let changed = self.step(
                &t,
                how,
                step::SSHD,
                &script::sshd(self.spec, probe.systemd, self.dry),
                Some(dropin.as_bytes()),
                120,
            )?;
            if changed && !self.dry {
                self.verify_or_undo(&t, how, &script::sshd_undo(probe.systemd), "sshd drop-in")?;
            }
        }
        Ok(())
    }

    /// `[network]`: install the client and join the tailnet (before the
    /// login check, so a `connect = "tailnet"` server's deploy user logs in
    /// the way deploys will reach it). Its own `network install` and
    /// `network join` steps show inside this one.
    fn network(&mut self, t: &dyn Transport) -> StepResult<()> {
        use super::super::network as net;
        self.start(step::NETWORK)?;
        let fail = |e: super::super::Error| {
            let kind = crate::error::HasKind::kind(&e);
            (kind, e.to_string())
        };
        if self.dry {
            let r = net::observe_server(self.ctx, self.server, t, &self.em).map_err(fail)?;
            if let Some(e) = &r.error {
                return Err((ErrorKind::Failed, e.clone()));
            }
            let (changed, detail) = if r.todo.is_empty() {
                (false, format!("on the tailnet as {}", r.fqdn))
            } else {
                (true, format!("would {}", r.todo.join(", then ")))
            };
            self.done(changed, detail);
            return Ok(());
        }
        let r = net::ensure_server(self.ctx, self.server, t, &self.em).map_err(fail)?;
        let name = r.dns_name.clone().unwrap_or_else(|| r.fqdn.clone());
        let ip = r.ip.clone().unwrap_or_default();
        let detail = if r.changed.is_empty() {
            format!("on the tailnet as {name} ({ip})")
        } else {
            r.changed.join("; ")
        };
        self.done(!r.changed.is_empty(), detail);
        Ok(())
    }

    /// Connect as the registry says; when that user's key is refused and
    /// it is not the deploy user, try the deploy user (a server an earlier
    /// bootstrap hardened no longer takes root). Then the probe.
    fn connect(&mut self) -> StepResult<(Arc<dyn Transport>, Probe)> {
        // A `connect = "tailnet"` server not joined yet is reached at its host.
        let t = match super::super::network::connect(self.ctx, self.server, &self.em) {
            Ok(t) => t,
            Err(e @ RemoteError::Auth { .. })
                if self.server.config.user.as_deref() != Some(self.spec.user.as_str()) =>
            {
                let alt = server_as(self.server, &self.spec.user);
                match super::super::network::connect(self.ctx, &alt, &self.em) {
                    Ok(t) => {
                        self.em.info(format!(
                            "{e}; connected as {} instead (set up by an earlier bootstrap)",
                            self.spec.user
                        ));
                        t
                    }
                    Err(_) => return Err((ErrorKind::Failed, e.to_string())),
                }
            }
            Err(e) => return Err((ErrorKind::Failed, e.to_string())),
        };
        let out = t
            .run(
                &Cmd::shell(script::probe(&self.spec.user)).with_timeout(Duration::from_secs(30)),
                &self.em,
            )
            .map_err(|e| (ErrorKind::Failed, e.to_string()))?;
        Ok((t, Probe::parse(&out.stdout_str())))
    }

    fn check_os(&mut self, os: &OsRelease) -> StepResult<()> {
        self.rep.os = Some(os.describe());
        os.check().map_err(|e| (ErrorKind::Input, e))?;
        self.done(false, os.describe());
        Ok(())
    }

    /// Run one step script as root; `Ok(changed)`.
    fn step(
        &mut self,
        t: &Arc<dyn Transport>,
        how: Privilege,
        name: &'static str,
        script: &str,
        stdin: Option<&[u8]>,
        timeout_secs: u64,
    ) -> StepResult<bool> {
        self.start(name)?;
        let mut cmd = as_root(script, how).with_timeout(Duration::from_secs(timeout_secs));
        if let Some(input) = stdin {
            cmd = cmd.with_stdin(input.to_vec());
        }
        let out = t
            .run(&cmd, &self.em)
            .map_err(|e| (ErrorKind::Failed, e.to_string()))?;
        if !out.success() {
            return Err((
                ErrorKind::Failed,
                failure_text(&out.stderr_str(), out.status),
            ));
        }
        let Some(o) = parse_outcome(&out.stdout_str()) else {
            return Err((
                ErrorKind::Failed,
                format!(
                    "the step said nothing about what it did: {}",
                    failure_text(&out.stderr_str(), out.status)
                ),
            ));
        };
        self.done(o.changed, o.detail);
        Ok(o.changed)
    }

    /// A new SSH connection as the deploy user: logs in, reaches Docker
    /// (and sudo when configured). `tries` attempts a second apart (sshd
    /// re-executes itself on reload).
    fn prove_login(&self, tries: u32) -> Result<String, String> {
        let as_user = server_as(self.server, &self.spec.user);
        let mut last = String::new();
        for i in 0..tries.max(1) {
            if i > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            let res = self.ctx.connect(&as_user, &self.em).and_then(|t| {
                t.run(
                    &Cmd::shell(script::login_check()).with_timeout(Duration::from_secs(30)),
                    &self.em,
                )
            });
            match res {
                Ok(out) => return LoginCheck::parse(&out.stdout_str()).verdict(self.spec),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!(
            "key login as {} failed: {last} (is a key arcane logs in with among [bootstrap] authorized_keys?)",
            self.spec.user
        ))
    }

    /// After the firewall or sshd changed: log in anew, or take the change
    /// back over the session that is still open.
    fn verify_or_undo(
        &mut self,
        t: &Arc<dyn Transport>,
        how: Privilege,
        undo: &str,
        what: &str,
    ) -> StepResult<()> {
        if let Err(e) = self.prove_login(3) {
            let back = t
                .run(
                    &as_root(undo, how).with_timeout(Duration::from_secs(60)),
                    &self.em,
                )
                .map(|o| o.success())
                .unwrap_or(false);
            let state = if back {
                "it was taken back"
            } else {
                "taking it back failed too: check the server through its console"
            };
            return Err((
                ErrorKind::Failed,
                format!("after the {what} changed, a new login failed ({e}); {state}"),
            ));
        }
        Ok(())
    }
}

/// The last lines of a failed script's stderr, for the step's detail.
fn failure_text(stderr: &str, status: i32) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return format!("exit status {status}");
    }
    let tail = &lines[lines.len().saturating_sub(6)..];
    tail.join(" | ")
}
