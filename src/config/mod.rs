//! Project configuration: `arcane.toml`, `config/servers.toml` and the layered
//! env files under `config/envs/`.
//!
//! Everything the user writes by hand is parsed here, and every problem comes
//! back as a [`ConfigError`] naming the file, line and column, so the binary
//! can print it and exit with code 2.

mod error;
pub mod project;
pub mod servers;

pub use error::{ConfigError, ConfigErrors};
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

    /// Load and validate `arcane.toml` and `config/servers.toml`.
    pub fn load(root: &Path) -> Result<Project, ConfigErrors> {
        let config = ProjectConfig::load(&root.join(PROJECT_FILE)).map_err(ConfigErrors::from)?;
        let servers = ServersFile::load(&root.join(SERVERS_FILE)).map_err(ConfigErrors::from)?;
        let project = Project {
            root: root.to_path_buf(),
            config,
            servers,
        };
        project.validate()?;
        Ok(project)
    }

    /// Cross-file checks: a server's env must be defined, and so on.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let envs = self.config.env_names();
        let mut errs = self
            .servers
            .validate(&root_file(&self.root, SERVERS_FILE), &envs);
        errs.extend(self.config.validate(&root_file(&self.root, PROJECT_FILE)));
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    pub fn envs_dir(&self) -> PathBuf {
        self.root.join(ENVS_DIR)
    }

    pub fn app_name(&self) -> &str {
        &self.config.app.name
    }

    /// Servers selected by `--env`, `--group` and `--server`.
    pub fn select(&self, sel: &Selection) -> Result<Vec<Server>, ConfigError> {
        self.servers
            .select(sel, &root_file(&self.root, SERVERS_FILE))
    }
}

fn root_file(root: &Path, rel: &str) -> PathBuf {
    root.join(rel)
}
