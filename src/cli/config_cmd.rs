//! `init`, `config check`, `completions`.

use super::args::{CompletionsArgs, ConfigCmd, InitArgs};
use super::Ctx;
use crate::config::{self, check, init as scaffold, ConfigError};
use crate::error::InputError;
use anyhow::Result;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Scaffold a project in `--project DIR` or the current directory.
pub fn init(ctx: &Ctx, a: InitArgs) -> Result<i32> {
    let dir = match &ctx.global.project {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => ctx.cwd.join(p),
        None => ctx.cwd.clone(),
    };
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
    let report = scaffold::scaffold(&dir, &name)?;
    // Key material under .arcane/ and the git filters for config/envs/*.env,
    // now that the files exist.
    super::secrets_cmd::init_secrets(ctx, &dir)?;
    for (action, paths) in [
        ("created", &report.created),
        ("updated", &report.updated),
        ("skipped", &report.skipped),
    ] {
        for p in paths {
            let shown = rel(&dir, p);
            if ctx.json() {
                ctx.emitter
                    .data("init_file", json!({ "path": shown, "action": action }));
            } else if action == "skipped" {
                ctx.emitter
                    .info(format!("skipped {shown} (exists, left unchanged)"));
            } else {
                ctx.emitter.info(format!("{action} {shown}"));
            }
        }
    }
    if !report.created.is_empty() {
        ctx.emitter.info(
            "next: add your servers to config/servers.toml, then `arcane config check` \
             and `arcane env show --env staging`",
        );
    }
    ctx.emitter.finished(
        true,
        format!(
            "initialized {name} in {}: {} created, {} updated, {} skipped",
            dir.display(),
            report.created.len(),
            report.updated.len(),
            report.skipped.len()
        ),
    );
    Ok(0)
}

pub fn config(ctx: &Ctx, c: ConfigCmd) -> Result<i32> {
    match c {
        ConfigCmd::Check => check_cmd(ctx),
    }
}

/// Print every problem, not just the first; exit 2 if there is any.
fn check_cmd(ctx: &Ctx) -> Result<i32> {
    let root = ctx.project_root()?;
    let mut report = check::check(&root);
    // The keyless half of `arcane secrets verify`: signed keys, recipients,
    // plaintext inside encrypted env files.
    match crate::secrets::verify::verify(&root, None) {
        Ok(v) => {
            for p in v.problems {
                let e = ConfigError::new(
                    root.join(&p.file),
                    format!("[{}] {}", p.check, p.message),
                )
                .with_help(
                    "`arcane secrets verify` checks the secrets (with your key, also every MAC)",
                );
                let e = match p.line {
                    Some(l) => e.at(l, 1),
                    None => e,
                };
                // An old commit checked out is not a configuration error.
                match p.check {
                    "behind" => report.warnings.push(e),
                    _ => report.errors.push(e),
                }
            }
        }
        Err(e) => report
            .errors
            .push(ConfigError::new(root.join(".arcane"), e.to_string())),
    }
    for (severity, list) in [("error", &report.errors), ("warning", &report.warnings)] {
        for e in list {
            let e = relative(&ctx.cwd, e);
            if ctx.json() {
                ctx.emitter.data(
                    "config_problem",
                    json!({
                        "severity": severity,
                        "file": e.file,
                        "line": e.line,
                        "column": e.column,
                        "message": e.message,
                        "help": e.help,
                    }),
                );
            } else if severity == "error" {
                ctx.emitter
                    .message(crate::event::Level::Error, e.to_string());
            } else {
                ctx.emitter.warn(e.to_string());
            }
        }
    }
    if !report.ok() {
        let n = report.errors.len();
        return Err(InputError::new(format!(
            "{n} problem{} in the configuration of {}",
            if n == 1 { "" } else { "s" },
            root.display()
        ))
        .into());
    }
    ctx.emitter.finished(
        true,
        format!(
            "OK: {} (arcane.toml, config/servers.toml, {} env file{})",
            root.display(),
            report.env_files.len(),
            if report.env_files.len() == 1 { "" } else { "s" }
        ),
    );
    Ok(0)
}

/// A path as the user would type it from `base` (absolute if outside it).
fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

fn relative(cwd: &Path, e: &ConfigError) -> ConfigError {
    let mut e = e.clone();
    if let Ok(r) = e.file.strip_prefix(cwd) {
        e.file = PathBuf::from(r);
    }
    e
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
