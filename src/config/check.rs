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
        interpolation(p, &mut errors, &mut warnings);
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
            meaning_changes(&text, path, &entries, warnings);
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

/// Values that read differently than they did before arcane followed docker
/// compose's parser (`${VAR}` was literal, a tab before `#` started a comment,
/// `KEY= # x` was empty). Values are never shown: only the key and why.
pub fn meaning_changes(
    text: &str,
    path: &Path,
    entries: &[envfile::EnvEntry],
    warnings: &mut Vec<ConfigError>,
) {
    let Ok(old) = super::envfile_v0::parse(text, path) else {
        return;
    };
    if old.len() != entries.len() {
        return;
    }
    for (n, o) in entries.iter().zip(&old) {
        let why = if n.interpolate && o.value.contains('$') {
            "`$` now starts an interpolation (${VAR}, $VAR, $$), as in docker compose; before, it was literal"
        } else if n.key != o.key || n.value != o.value {
            "it now follows docker compose's rules (a comment needs a space before '#', \' in single quotes, escapes in double quotes); before, it read differently"
        } else {
            continue;
        };
        warnings.push(
            ConfigError::new(path, format!("the value of {} changed meaning: {why}", n.key))
                .at(n.line, 1)
                .with_help("check it with `arcane env show --reveal`; to keep a `$` literal write $$ or single-quote the value (`arcane env set` does this for you)"),
        );
    }
}

/// Interpolation problems per declared env: a `${VAR:?msg}` that fails is an
/// error; a name no layer defines is a warning (compose would read the shell).
/// Ciphertext values are opaque tokens here, so this needs no key.
fn interpolation(p: &Project, errors: &mut Vec<ConfigError>, warnings: &mut Vec<ConfigError>) {
    let raw = |f: &Path| {
        std::fs::read_to_string(f).map_err(|e| ConfigError::new(f, format!("cannot read: {e}")))
    };
    let mut seen = std::collections::HashSet::new();
    for env in p.config.env_names() {
        let mut targets: Vec<Option<&str>> = vec![None];
        targets.extend(
            p.servers
                .servers
                .iter()
                .filter(|(_, s)| s.env == env)
                .map(|(n, _)| Some(n.as_str())),
        );
        for server in targets {
            let (errs, warns) = match super::layers::merged(p, &env, server, &raw) {
                Ok(m) => (vec![], m.undefined),
                // Syntax errors are reported per file already.
                Err(e) if e.message.contains("missing a value") => (vec![e], vec![]),
                Err(_) => (vec![], vec![]),
            };
            for (list, out) in [(errs, &mut *errors), (warns, &mut *warnings)] {
                for e in list {
                    if seen.insert((e.file.clone(), e.line, e.message.clone())) {
                        out.push(e);
                    }
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
