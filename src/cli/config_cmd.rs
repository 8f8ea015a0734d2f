//! `init`, `config check`, `completions`.

use super::args::{CompletionsArgs, ConfigCmd, InitArgs};
use super::{not_yet, Ctx};
use anyhow::Result;

pub fn init(_ctx: &Ctx, _a: InitArgs) -> Result<i32> {
    not_yet("init")
}

pub fn config(ctx: &Ctx, c: ConfigCmd) -> Result<i32> {
    match c {
        ConfigCmd::Check => {
            let p = ctx.project()?;
            ctx.emitter
                .finished(true, format!("{}: configuration OK", p.root.display()));
            Ok(0)
        }
    }
}

pub fn completions(a: CompletionsArgs) -> Result<i32> {
    use clap::CommandFactory;
    let mut cmd = super::args::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "arcane", &mut std::io::stdout());
    Ok(0)
}
