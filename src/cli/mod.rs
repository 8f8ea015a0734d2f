//! The binary's edge: the command tree, the renderers and one handler module
//! per area. A handler parses its arguments, calls one operation in
//! `crate::ops` and returns an exit code; the renderer chosen by
//! `--json`/`-q`/`-v` shows the operation's events and report.

pub mod args;
pub mod render;

mod config_cmd;
mod deploy_cmd;
mod env_cmd;
mod git_cmd;
mod network_cmd;
mod remote_cmd;
mod secrets_cmd;
mod ship_cmd;
mod spark_cmd;

use crate::config::{ConfigErrors, Project, Selection};
use crate::event::Emitter;
use crate::interact::Interact;
use crate::ops;
use anyhow::Result;
use args::{Cli, Command, TargetArgs};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a command waits at exit for team notifications to go out.
const NOTIFY_EXIT_WAIT: Duration = Duration::from_secs(5);

/// Everything a handler needs from the command line.
pub struct Ctx {
    pub global: args::GlobalArgs,
    pub cwd: PathBuf,
    pub emitter: Emitter,
    renderer: Arc<render::Renderer>,
    /// Team-channel delivery failures, printed at exit.
    notify_warn: (ops::notify::deliver::Warn, Arc<Mutex<Vec<String>>>),
}

impl Ctx {
    pub fn new(global: args::GlobalArgs) -> Result<Ctx> {
        let cwd = std::env::current_dir()?;
        let renderer = Arc::new(render::Renderer::new(&global));
        let emitter = Emitter::new(renderer.clone());
        Ok(Ctx {
            global,
            cwd,
            emitter,
            renderer,
            notify_warn: ops::notify::collecting(),
        })
    }

    /// The project root (from `--project` or by walking up).
    pub fn project_root(&self) -> Result<PathBuf> {
        Ok(Project::discover(
            self.global.project.as_deref(),
            &self.cwd,
        )?)
    }

    /// Load and validate the project; config errors carry exit code 2.
    pub fn project(&self) -> Result<Project> {
        let root = self.project_root()?;
        Project::load(&root).map_err(|e: ConfigErrors| anyhow::Error::new(e))
    }

    /// The context an operation runs in: this command line's identity, the
    /// renderer (behind desktop notifications when the project wants them)
    /// and Ctrl-C as the cancel token.
    pub fn op<'a>(&self, project: &'a Project, interact: &'a dyn Interact) -> ops::Ctx<'a> {
        self.op_for(project, interact, None)
    }

    /// [`Ctx::op`] for an operation known to deploy `target`, so a failure
    /// before the deploy starts (its build) is notified too.
    pub fn op_for<'a>(
        &self,
        project: &'a Project,
        interact: &'a dyn Interact,
        target: Option<ops::notify::Target>,
    ) -> ops::Ctx<'a> {
        let channels = ops::notify::Channels::new(
            &project.config.notify,
            Some(project.root.clone()),
            ops::notify::env_lookup(),
            self.notify_warn.0.clone(),
        );
        let mut notifier =
            ops::notify::Notifier::new(self.renderer.clone(), project.config.notifications.desktop)
                .with_channels(channels);
        if let Some(t) = target {
            notifier = notifier.with_target(t);
        }
        let notifier = Arc::new(notifier);
        let em = Emitter::new(notifier.clone());
        notifier.redact_with(em.redactor().clone());
        let cancel = ops::Cancel::on_ctrl_c();
        self.renderer.cancel_on_close(cancel.clone());
        ops::Ctx::new(project, interact, em)
            .with_identity(self.global.identity.clone())
            .with_cancel(cancel)
    }

    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Let progress bars finish before the process prints its last line,
    /// and give team notifications a few seconds to be delivered.
    pub fn finish(&self) {
        self.renderer.finish();
        let left = ops::notify::flush(NOTIFY_EXIT_WAIT);
        let mut warnings = std::mem::take(&mut *self.notify_warn.1.lock().unwrap());
        if left > 0 {
            warnings.push(format!(
                "{left} notification(s) still being delivered after {}s were abandoned",
                NOTIFY_EXIT_WAIT.as_secs()
            ));
        }
        for w in warnings {
            // stderr, also with --json: `finished` stays the last event.
            let _ = writeln!(std::io::stderr(), "warning: {w}");
        }
    }

    /// Whether the renderer already showed why the command failed.
    pub fn failure_shown(&self) -> bool {
        self.renderer.failure_shown()
    }
}

impl From<&TargetArgs> for Selection {
    fn from(t: &TargetArgs) -> Self {
        Selection {
            env: t.env.clone(),
            group: t.group.clone(),
            servers: t.server.clone(),
        }
    }
}

/// An operation's result as the handler's: success is exit 0, and the
/// error keeps its type so the binary's mapper finds its kind.
pub(crate) fn done<T>(r: Result<T, ops::Error>) -> Result<i32> {
    r.map(|_| 0).map_err(anyhow::Error::new)
}

/// Run one parsed command line. Returns the process exit code on success paths
/// that are not plain 0 (e.g. `arcane run` passing a child's code through).
/// The second value says whether a failure was already shown.
pub fn run(cli: Cli) -> (Result<i32>, bool) {
    let ctx = match Ctx::new(cli.global) {
        Ok(c) => c,
        Err(e) => return (Err(e), false),
    };
    let code = match cli.command {
        None => ctx
            .project()
            .and_then(|p| crate::tui::run(p, ctx.global.identity.clone())),
        Some(cmd) => dispatch(&ctx, cmd),
    };
    ctx.finish();
    (code, ctx.failure_shown())
}

fn dispatch(ctx: &Ctx, cmd: Command) -> Result<i32> {
    use Command::*;
    match cmd {
        Init(a) => config_cmd::init(ctx, a),
        Config(c) => config_cmd::config(ctx, c),
        Env(args::EnvCmd::Show {
            env,
            server,
            reveal,
        }) => env_cmd::show(ctx, &env, server.as_deref(), reveal),
        Env(c) => secrets_cmd::env(ctx, c),
        Completions(a) => config_cmd::completions(a),
        Filter(c) => secrets_cmd::filter(ctx, c),
        Identity(c) => secrets_cmd::identity(ctx, c),
        Team(c) => secrets_cmd::team(ctx, c),
        Run(a) => secrets_cmd::run(ctx, a),
        Scan(a) => secrets_cmd::scan(ctx, a),
        Secrets(c) => secrets_cmd::secrets(ctx, c),
        Hooks(c) => secrets_cmd::hooks(ctx, c),
        Setup => secrets_cmd::setup(ctx),
        Deploy(a) => match a.keys {
            Some(k) => secrets_cmd::deploy_keys(ctx, k),
            None => deploy_cmd::deploy(ctx, a),
        },
        Server(c) => remote_cmd::server(ctx, c),
        Status(t) => remote_cmd::status(ctx, t),
        Ps(t) => remote_cmd::ps(ctx, t),
        Logs(a) => remote_cmd::logs(ctx, a),
        Exec(a) => remote_cmd::exec(ctx, a),
        Ssh(a) => remote_cmd::ssh(ctx, a),
        Halt(a) => remote_cmd::halt(ctx, a),
        Build(a) => ship_cmd::build(ctx, a),
        Push(a) => ship_cmd::push(ctx, a),
        Releases(a) => deploy_cmd::releases(ctx, a),
        Rollback(a) => deploy_cmd::rollback(ctx, a),
        Lock(c) => deploy_cmd::lock(ctx, c),
        Accessory(c) => deploy_cmd::accessory(ctx, c),
        Proxy(c) => deploy_cmd::proxy(ctx, c),
        Network(c) => network_cmd::network(ctx, c),
        Spark(c) => spark_cmd::spark(ctx, c),
        Git(c) => git_cmd::git(ctx, c),
    }
}
