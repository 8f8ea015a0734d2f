//! `arcane config check`: every problem in arcane.toml, config/servers.toml
//! and the env files, in one pass, so a user fixes them all before the next run.

use super::envfile;
use super::layers::missing_env_file;
use super::servers::did_you_mean;
use super::{ConfigError, Project};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The outcome of a check. Errors make the check fail (exit 2); warnings are
/// things that will not stop a deploy today but look unintended.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub project: Option<Project>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
    /// Env files that were checked.
    pub env_files: Vec<PathBuf>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Check the project at `root`. Never stops at the first problem.
pub fn check(root: &Path) -> CheckReport {
    let (project, mut errors) = Project::load_collect(root);
    let mut warnings = vec![];
    let envs_dir = root.join(super::ENVS_DIR);
    let mut env_files: Vec<PathBuf> = match std::fs::read_dir(&envs_dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "env") && p.is_file())
            .collect(),
        Err(_) => vec![],
    };
    env_files.sort();
    for f in &env_files {
        check_env_file(f, &mut errors, &mut warnings);
        if let Some(p) = &project {
            if let Some(e) = check_layer_name(p, f) {
                errors.push(e);
            }
        }
    }
    if let Some(p) = &project {
        for env in p.config.env_names() {
            let path = p.env_file_path(&env, None);
            if !path.is_file() {
                errors.push(missing_env_file(&path, &env));
            }
        }
        errors.extend(super::publish::clash_errors(p, None));
        if let Some((path, msg)) = p.build_mode().missing() {
            warnings.push(ConfigError::new(path, msg).with_help(
                "`arcane build` needs it; set [build] in arcane.toml if your app lives elsewhere",
            ));
        }
    }
    sort_by_location(&mut errors);
    CheckReport {
        project,
        errors,
        warnings,
        env_files,
    }
}

fn check_env_file(path: &Path, errors: &mut Vec<ConfigError>, warnings: &mut Vec<ConfigError>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::new(path, format!("cannot read: {e}")));
            return;
        }
    };
    // Syntax only: encrypted values are plain tokens, so this works on
    // ciphertext too and needs no key.
    match envfile::parse(&text, path) {
        Err(e) => errors.push(e),
        Ok(entries) => {
            let mut first: HashMap<&str, usize> = HashMap::new();
            for e in &entries {
                if let Some(l) = first.get(e.key.as_str()) {
                    warnings.push(
                        ConfigError::new(
                            path,
                            format!(
                                "{} is set again (first on line {l}); the last value wins",
                                e.key
                            ),
                        )
                        .at(e.line, 1),
                    );
                } else {
                    first.insert(&e.key, e.line);
                }
            }
        }
    }
}

/// An env file whose name is no layer of this project is never read: say so.
fn check_layer_name(p: &Project, path: &Path) -> Option<ConfigError> {
    let name = path.file_name()?.to_string_lossy();
    let stem = name.strip_suffix(".env")?;
    let envs = p.config.env_names();
    let (env, server) = match stem.split_once('.') {
        Some((e, s)) => (e, Some(s)),
        None => (stem, None),
    };
    if stem == "base" {
        return None;
    }
    let layers = "env files are base.env, <env>.env and <env>.<server>.env";
    if !envs.iter().any(|e| e == env) {
        let help = match did_you_mean(env, &envs) {
            Some(m) => format!("did you mean {m}? ({layers})"),
            None => format!("declared envs: {}; {layers}", envs.join(", ")),
        };
        return Some(
            ConfigError::new(
                path,
                format!("{name} belongs to no declared env, so it is never used"),
            )
            .with_help(help),
        );
    }
    let server = server?;
    match p.servers.servers.get(server) {
        None => {
            let mut e = ConfigError::new(
                path,
                format!("{name} names server {server:?}, which is not in config/servers.toml"),
            );
            if let Some(m) = did_you_mean(server, p.servers.servers.keys()) {
                e = e.with_help(format!("did you mean {env}.{m}.env?"));
            }
            Some(e)
        }
        Some(s) if s.env != env => Some(
            ConfigError::new(
                path,
                format!(
                    "{name}: server {server:?} belongs to env {:?}, so this file is never used",
                    s.env
                ),
            )
            .with_help(format!("rename it to {}.{server}.env", s.env)),
        ),
        Some(_) => None,
    }
}

/// Order problems file by file (files in the order they were first reported:
/// arcane.toml, servers.toml, env files), then by line and column.
fn sort_by_location(errs: &mut [ConfigError]) {
    let mut files: Vec<PathBuf> = vec![];
    for e in errs.iter() {
        if !files.contains(&e.file) {
            files.push(e.file.clone());
        }
    }
    errs.sort_by_key(|e| {
        (
            files.iter().position(|f| *f == e.file),
            e.line.unwrap_or(0),
            e.column.unwrap_or(0),
        )
    });
}
