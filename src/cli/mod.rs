//! The binary's edge: the command tree, the renderers and one handler module
//! per area. Handlers load config, build an engine call and hand its events to
//! the renderer chosen by `--json`/`-q`/`-v`.

pub mod args;
pub mod render;

mod config_cmd;
mod deploy_cmd;
mod env_cmd;
mod proxy_cmd;
mod remote_cmd;
mod secrets_cmd;
mod ship_cmd;

use crate::config::{ConfigErrors, Project, Selection};
use crate::event::Emitter;
use anyhow::Result;
use args::{Cli, Command, TargetArgs};
use std::path::PathBuf;
use std::sync::Arc;

/// Everything a handler needs from the command line.
pub struct Ctx {
    pub global: args::GlobalArgs,
    pub cwd: PathBuf,
    pub emitter: Emitter,
    renderer: Arc<render::Renderer>,
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

    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Let progress bars finish before the process prints its last line.
    pub fn finish(&self) {
        self.renderer.finish();
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

/// Run one parsed command line. Returns the process exit code on success paths
/// that are not plain 0 (e.g. `arcane run` passing a child's code through).
pub fn run(cli: Cli) -> Result<i32> {
    let ctx = Ctx::new(cli.global)?;
    let code = match cli.command {
        None => crate::tui::run(&ctx),
        Some(cmd) => dispatch(&ctx, cmd),
    };
    ctx.finish();
    code
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
    }
}
