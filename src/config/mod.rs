//! Project configuration: `arcane.toml`, `config/servers.toml` and the layered
//! env files under `config/envs/`.
//!
//! Everything the user writes by hand is parsed here, and every problem comes
//! back as a [`ConfigError`] naming the file, line and column, so the binary
//! can print it and exit with code 2.

pub mod check;
pub mod envfile;
mod error;
pub mod init;
pub mod layers;
pub mod locate;
pub mod project;
pub mod servers;

pub use envfile::{EnvEntry, ENCRYPTED_PREFIX};
pub use error::{ConfigError, ConfigErrors};
pub use layers::{merged, read_plain, MergedEntry, MergedEnv};
pub use locate::TomlSource;
pub use project::*;
pub use servers::*;

use std::path::{Path, PathBuf};

/// The file that marks a project root.
pub const PROJECT_FILE: &str = "arcane.toml";
/// The server registry, relative to the project root.
pub const SERVERS_FILE: &str = "config/servers.toml";
/// Where env files live, relative to the project root.
pub const ENVS_DIR: &str = "config/envs";

/// A loaded project: its root, `arcane.toml` and the server registry.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectConfig,
    pub servers: ServersFile,
}

impl Project {
    /// Find the project: `--project DIR` if given, else walk up from `start`.
    pub fn discover(explicit: Option<&Path>, start: &Path) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = explicit {
            let dir = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                start.join(dir)
            };
            if dir.join(PROJECT_FILE).is_file() {
                return Ok(dir);
            }
            return Err(ConfigError::new(
                dir.join(PROJECT_FILE),
                "no arcane.toml here; run `arcane init` in the project directory or fix --project",
            ));
        }
        let mut cur = Some(start);
        while let Some(dir) = cur {
            if dir.join(PROJECT_FILE).is_file() {
                return Ok(dir.to_path_buf());
            }
            cur = dir.parent();
        }
        Err(ConfigError::new(
            start.join(PROJECT_FILE),
            "no arcane.toml found in this directory or any parent; run `arcane init` to create one, or pass --project DIR",
        ))
    }

    /// Load and validate `arcane.toml` and `config/servers.toml`, reporting
    /// every problem in both files (each with file, line and column).
    pub fn load(root: &Path) -> Result<Project, ConfigErrors> {
        let (project, errs) = Self::load_collect(root);
        match project {
            Some(p) if errs.is_empty() => Ok(p),
            _ => Err(ConfigErrors(errs)),
        }
    }

    /// Like [`Project::load`] but also returns the project when only semantic
    /// checks failed (so `config check` can go on to check env files).
    pub fn load_collect(root: &Path) -> (Option<Project>, Vec<ConfigError>) {
        let mut errs = vec![];
        let psrc = read_source(&root.join(PROJECT_FILE), &mut errs);
        let ssrc = read_source(&root.join(SERVERS_FILE), &mut errs);
        let config = psrc.as_ref().and_then(|s| {
            s.parse_all::<ProjectConfig>()
                .map_err(|e| errs.extend(e))
                .ok()
        });
        let servers = ssrc.as_ref().and_then(|s| {
            s.parse_all::<ServersFile>()
                .map_err(|e| errs.extend(e))
                .ok()
        });
        let (Some(config), Some(servers), Some(psrc), Some(ssrc)) = (config, servers, psrc, ssrc)
        else {
            return (None, errs);
        };
        let project = Project {
            root: root.to_path_buf(),
            config,
            servers,
        };
        errs.extend(project.validate_with(&psrc, &ssrc));
        (Some(project), errs)
    }

    /// Cross-file and semantic checks: a server's env must be declared, group
    /// members must exist, and so on. Reads the files again to locate errors.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let psrc = TomlSource::read(&self.root.join(PROJECT_FILE));
        let ssrc = TomlSource::read(&self.root.join(SERVERS_FILE));
        let errs = self.validate_with(&psrc, &ssrc);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// [`Project::validate`] with the sources already in hand.
    pub fn validate_with(
        &self,
        project_src: &TomlSource,
        servers_src: &TomlSource,
    ) -> Vec<ConfigError> {
        let mut errs = self.config.validate(project_src);
        errs.extend(self.servers.validate(servers_src, &self.config.env_names()));
        errs
    }

    /// The env file of a layer: `base.env` for `env == "base"`, else
    /// `<env>.env`, or `<env>.<server>.env` with a server.
    pub fn env_file_path(&self, env: &str, server: Option<&str>) -> PathBuf {
        match server {
            Some(s) => self.envs_dir().join(format!("{env}.{s}.env")),
            None => self.envs_dir().join(format!("{env}.env")),
        }
    }

    /// How to build the app (see [`ProjectConfig::build_mode`]).
    pub fn build_mode(&self) -> BuildMode {
        self.config.build_mode(&self.root)
    }

    pub fn envs_dir(&self) -> PathBuf {
        self.root.join(ENVS_DIR)
    }

    pub fn app_name(&self) -> &str {
        &self.config.app.name
    }

    /// Servers selected by `--env`, `--group` and `--server`.
    pub fn select(&self, sel: &Selection) -> Result<Vec<Server>, ConfigError> {
        if let Some(env) = &sel.env {
            let envs = self.config.env_names();
            if !envs.contains(env) {
                return Err(layers::check_target(self, env, None).unwrap_err());
            }
        }
        self.servers.select(sel, &self.root.join(SERVERS_FILE))
    }
}

fn read_source(path: &Path, errs: &mut Vec<ConfigError>) -> Option<TomlSource> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(TomlSource::new(path, text)),
        Err(e) => {
            let msg = if e.kind() == std::io::ErrorKind::NotFound {
                "file not found".to_string()
            } else {
                format!("cannot read: {e}")
            };
            errs.push(ConfigError::new(path, msg).with_help("run `arcane init` to create it"));
            None
        }
    }
}
