//! `init`, `config check`, `completions`: parse, call, return the exit code.

use super::args::{CompletionsArgs, ConfigCmd, InitArgs};
use super::{done, Ctx};
use crate::config::{self, init as scaffold};
use crate::error::InputError;
use crate::ops;
use anyhow::Result;

/// Scaffold a project in `--project DIR` or the current directory.
pub fn init(ctx: &Ctx, a: InitArgs) -> Result<i32> {
    let dir = ops::config::init_dir(ctx.global.project.as_deref(), &ctx.cwd);
    let name = match a.name {
        Some(n) if config::is_valid_name(&n) => n,
        Some(n) => {
            return Err(InputError::new(format!(
                "--name {n:?} is not a valid app name; use lowercase letters, digits, '-' and '_', \
                 starting with a letter or digit (e.g. --name {})",
                scaffold::sanitize_name(&n)
            ))
            .into())
        }
        None => scaffold::sanitize_name(
            &dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    done(ops::config::init(
        &dir,
        &name,
        ctx.global.identity.as_deref(),
        &ctx.emitter,
    ))
}

pub fn config(ctx: &Ctx, c: ConfigCmd) -> Result<i32> {
    match c {
        ConfigCmd::Check => {
            let root = ctx.project_root()?;
            done(ops::config::check(&root, &ctx.cwd, &ctx.emitter))
        }
    }
}

pub fn completions(a: CompletionsArgs) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = super::args::Cli::command();
    let mut script = vec![];
    clap_complete::generate(a.shell, &mut cmd, "arcane", &mut script);
    // A reader that stops early (`| head -1`) is not an error.
    super::render::write_stdout(&script);
    Ok(0)
}
