//! `config check`, `init` and `setup`: the project's own files. They work
//! on a directory, not a loaded project: `config check` exists precisely
//! for a project that does not load.

use super::{Error, Local};
use crate::config::{check, init as scaffold, ConfigError};
use crate::error::ErrorKind;
use crate::event::report::{ConfigProblem, ConfigReport, InitFile, InitReport};
use crate::event::{Emitter, Event};
use crate::secrets::recipients::{valid_recipient_name, Recipients};
use crate::secrets::{gitcfg, project, Keyring};
use std::path::{Path, PathBuf};

/// Every problem of the project at `root`, not just the first: arcane.toml,
/// config/servers.toml, the env files, and the keyless half of `secrets
/// verify` (signed keys, recipients, plaintext inside encrypted files).
/// Paths are shown relative to `cwd`. Any error is input (exit 2).
pub fn check(root: &Path, cwd: &Path, em: &Emitter) -> Result<ConfigReport, Error> {
    let mut report = check::check(root);
    match crate::secrets::verify::verify(root, None) {
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
    let problem = |severity: &'static str, e: &ConfigError| {
        let file = e.file.strip_prefix(cwd).unwrap_or(&e.file);
        ConfigProblem {
            severity,
            file: file.display().to_string(),
            line: e.line,
            column: e.column,
            message: e.message.clone(),
            help: e.help.clone(),
        }
    };
    let rep = ConfigReport {
        root: root.display().to_string(),
        problems: report
            .errors
            .iter()
            .map(|e| problem("error", e))
            .chain(report.warnings.iter().map(|e| problem("warning", e)))
            .collect(),
        env_files: report
            .env_files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
            .collect(),
    };
    em.emit(Event::ConfigCheck(rep.clone()));
    if !report.ok() {
        let n = report.errors.len();
        let message = format!(
            "{n} problem{} in the configuration of {}",
            if n == 1 { "" } else { "s" },
            root.display()
        );
        em.failed(ErrorKind::Input, &message);
        return Err(Error::Reported {
            kind: ErrorKind::Input,
            message,
        });
    }
    em.finished(
        true,
        format!(
            "OK: {} (arcane.toml, config/servers.toml, {} env file{})",
            root.display(),
            rep.env_files.len(),
            if rep.env_files.len() == 1 { "" } else { "s" }
        ),
    );
    Ok(rep)
}

/// Scaffold a project named `name` in `dir` (never overwriting a file),
/// then its key material: your identity if you have none, recipients, one
/// data key per scope, git filters and the pre-commit hook.
pub fn init(
    dir: &Path,
    name: &str,
    identity: Option<&Path>,
    em: &Emitter,
) -> Result<InitReport, Error> {
    let report = scaffold::scaffold(dir, name)?;
    secrets_init(
        &Local {
            root: dir,
            identity,
            em,
        },
        false,
    )?;
    let files = [
        ("created", &report.created),
        ("updated", &report.updated),
        ("skipped", &report.skipped),
    ]
    .into_iter()
    .flat_map(|(action, paths)| {
        paths.iter().map(move |p| InitFile {
            path: p.strip_prefix(dir).unwrap_or(p).display().to_string(),
            action,
        })
    })
    .collect();
    let rep = InitReport {
        dir: dir.display().to_string(),
        name: name.to_string(),
        files,
    };
    em.emit(Event::Init(rep.clone()));
    if !report.created.is_empty() {
        em.info(
            "next: add your servers to config/servers.toml, then `arcane config check` \
             and `arcane env show --env staging`",
        );
    }
    em.finished(
        true,
        format!(
            "initialized {name} in {}: {} created, {} updated, {} skipped",
            dir.display(),
            report.created.len(),
            report.updated.len(),
            report.skipped.len()
        ),
    );
    Ok(rep)
}

/// `arcane setup`: configure this clone's git filters and hook; in a
/// project without key material yet (arcane.toml written by hand), create
/// it like `init` does.
pub fn setup(l: &Local) -> Result<(), Error> {
    if !Recipients::exists(l.root) {
        return secrets_init(l, true);
    }
    let keys = Keyring::new(l.root, l.identity);
    let (configured, hook) = project::setup_git(l.root, &keys)?;
    if !configured {
        return Err(Error::input(format!(
            "{} is not in a git repository; run `git init` first",
            l.root.display()
        )));
    }
    if let Some(h) = hook {
        l.em.info(format!("installed {}", h.display()));
    }
    l.em.finished(
        true,
        "git filters configured: env files are plaintext in this working tree and encrypted in git",
    );
    Ok(())
}

/// The secrets half of `init`.
fn secrets_init(l: &Local, finish: bool) -> Result<(), Error> {
    let root = l.root;
    let envs = crate::config::ProjectConfig::load(&root.join(crate::config::PROJECT_FILE))
        .map(|c| c.env_names())
        .unwrap_or_else(|_| {
            crate::config::DEFAULT_ENVS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    let owner = owner_name(root);
    let rep = project::init_secrets(root, &envs, l.identity, &owner)?;
    if let Some(p) = &rep.created_identity {
        l.em.info(format!(
            "created your identity {} (mode 0600, no passphrase; back it up). Public key: {}",
            p.display(),
            rep.public_key
        ));
    }
    if rep.created_keys {
        l.em.info(format!(
            "created .arcane/recipients.toml and a data key per scope ({}) owned by {owner}",
            rep.scopes.join(", ")
        ));
    }
    if rep.git_configured {
        l.em.info("configured git filters for config/envs/*.env and the pre-commit hook");
    } else {
        l.em.warn(
            "not a git repository: env files will be written encrypted; after `git init`, run `arcane setup`",
        );
    }
    if finish {
        l.em.finished(true, "secrets ready");
    }
    Ok(())
}

/// The first member's name: git's user.name (or $USER), cleaned to a valid
/// recipient name.
fn owner_name(root: &Path) -> String {
    gitcfg::git(root, &["config", "user.name"])
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .map(|n| {
            n.chars()
                .map(|c| {
                    if valid_recipient_name(&c.to_string()) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .filter(|n| valid_recipient_name(n))
        .unwrap_or_else(|| "owner".into())
}

/// The directory `init` works in: `--project DIR` or the current one.
pub fn init_dir(project: Option<&Path>, cwd: &Path) -> PathBuf {
    match project {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => cwd.join(p),
        None => cwd.to_path_buf(),
    }
}
