//! Project configuration: `arcane.toml`, `config/servers.toml` and the layered
//! env files under `config/envs/`.
//!
//! Everything the user writes by hand is parsed here, and every problem comes
//! back as a [`ConfigError`] naming the file, line and column, so the binary
//! can print it and exit with code 2.

pub mod bootstrap;
mod build;
pub mod check;
pub mod envfile;
mod envfile_v0;
mod error;
pub mod git;
pub mod init;
pub mod interp;
pub mod layers;
pub mod locate;
pub mod network;
pub mod notify;
pub mod project;
pub mod publish;
pub mod servers;
mod syntax;
mod validate;

pub use build::*;
pub use envfile::{EnvEntry, ENCRYPTED_PREFIX};
pub use error::{ConfigError, ConfigErrors};
pub use layers::{merged, read_plain, MergedEntry, MergedEnv, ReadFn};
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
    ///
    /// The error names the directory searched, not `DIR/arcane.toml`: a
    /// path to a file that does not exist reads as if arcane had looked for
    /// it there and found it broken.
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
            let help = format!("pass --project the directory that holds {PROJECT_FILE}");
            let err = match dir.canonicalize() {
                Ok(real) if real.is_dir() => ConfigError::new(
                    real,
                    format!("no {PROJECT_FILE} in this directory (given by --project)"),
                )
                .with_help(format!(
                    "{help}, or run `arcane --project DIR init` to make this one a project"
                )),
                _ => {
                    ConfigError::new(dir, "no such directory (given by --project)").with_help(help)
                }
            };
            return Err(err);
        }
        let mut cur = Some(start);
        while let Some(dir) = cur {
            if dir.join(PROJECT_FILE).is_file() {
                return Ok(dir.to_path_buf());
            }
            cur = dir.parent();
        }
        Err(ConfigError::new(
            start,
            format!("no {PROJECT_FILE} found in this directory or any parent directory"),
        )
        .with_help(format!(
            "run `arcane init` here to create a project, or `cd` into one, \
             or pass --project DIR naming the directory that holds {PROJECT_FILE}"
        )))
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
        errs.extend(network::validate(self, project_src, servers_src));
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
    /// Every server of the registry, in name order.
    pub fn all_servers(&self) -> Vec<Server> {
        self.servers
            .servers
            .iter()
            .map(|(name, c)| Server {
                name: name.clone(),
                config: c.clone(),
            })
            .collect()
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path, arcane: &str, servers: &str) -> Result<Project, ConfigErrors> {
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::write(dir.join(PROJECT_FILE), arcane).unwrap();
        std::fs::write(dir.join(SERVERS_FILE), servers).unwrap();
        Project::load(dir)
    }

    const SERVERS: &str = "[servers.a]\nhost = \"local\"\nenv = \"staging\"\n[servers.b]\nhost = \"h\"\nenv = \"staging\"\n[servers.p]\nhost = \"h\"\nenv = \"production\"\n[groups.g]\nservers = [\"a\", \"p\"]\n";

    #[test]
    fn selection_rules_and_empty_selection() {
        let t = tempfile::tempdir().unwrap();
        let p = project(t.path(), "[app]\nname = \"x\"\n", SERVERS).unwrap();
        let names = |sel: Selection| -> Vec<String> {
            p.select(&sel)
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(Selection::default()), ["a", "b"]);
        let env = |e: &str| Some(e.to_string());
        assert_eq!(
            names(Selection {
                env: env("production"),
                ..Default::default()
            }),
            ["p"]
        );
        assert_eq!(
            names(Selection {
                group: Some("g".into()),
                ..Default::default()
            }),
            ["a", "p"]
        );
        assert_eq!(
            names(Selection {
                group: Some("g".into()),
                env: env("staging"),
                ..Default::default()
            }),
            ["a"]
        );
        assert_eq!(
            names(Selection {
                servers: vec!["b".into()],
                ..Default::default()
            }),
            ["b"]
        );
        let e = p
            .select(&Selection {
                servers: vec!["p".into()],
                env: env("staging"),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            e.message
                .contains("no servers match --env staging --server p"),
            "{e}"
        );
        let e = p
            .select(&Selection {
                env: env("prodution"),
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.help.unwrap().contains("did you mean \"production\""));
        let e = p
            .select(&Selection {
                group: Some("gg".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean \"g\"?"));
        // An env declared but without servers selects nothing: an error.
        let t2 = tempfile::tempdir().unwrap();
        let p2 = project(
            t2.path(),
            "[app]\nname = \"x\"\n[envs.staging]\n[envs.qa]\n",
            "[servers.a]\nhost = \"local\"\nenv = \"staging\"\n",
        )
        .unwrap();
        let e = p2
            .select(&Selection {
                env: env("qa"),
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.message.contains("no servers match --env qa"), "{e}");
    }

    #[test]
    fn load_reports_problems_of_both_files() {
        let t = tempfile::tempdir().unwrap();
        let errs = project(
            t.path(),
            "[app]\nname = \"x\"\nbogus = 1\n",
            "[servers.a]\nhost = \"local\"\nenv = \"staging\"\nprot = 22\n",
        )
        .unwrap_err();
        let lines: Vec<(String, Option<usize>)> = errs
            .0
            .iter()
            .map(|e| {
                (
                    e.file.file_name().unwrap().to_string_lossy().into_owned(),
                    e.line,
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("arcane.toml".to_string(), Some(3)),
                ("servers.toml".to_string(), Some(4))
            ]
        );
        assert_eq!(errs.0[1].help.as_deref(), Some("did you mean `port`?"));
    }

    #[test]
    fn build_mode_explicit_and_detected() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let cfg = |s: &str| -> ProjectConfig {
            toml::from_str(&format!("[app]\nname = \"x\"\n{s}")).unwrap()
        };
        assert_eq!(
            cfg("").build_mode(root),
            BuildMode::Dockerfile {
                dockerfile: root.join("Dockerfile"),
                context: root.to_path_buf()
            }
        );
        assert_eq!(
            cfg("[build]\ncontext = \"app\"\n").build_mode(root),
            BuildMode::Dockerfile {
                dockerfile: root.join("app/Dockerfile"),
                context: root.join("app")
            }
        );
        assert_eq!(
            cfg("[build]\ndockerfile = \"ops/Dockerfile\"\n").build_mode(root),
            BuildMode::Dockerfile {
                dockerfile: root.join("ops/Dockerfile"),
                context: root.to_path_buf()
            }
        );
        std::fs::write(root.join("docker-compose.yml"), "services: {}\n").unwrap();
        assert_eq!(
            cfg("").build_mode(root),
            BuildMode::Compose {
                file: root.join("docker-compose.yml")
            }
        );
        std::fs::write(root.join("compose.yml"), "services: {}\n").unwrap();
        std::fs::write(root.join("compose.yaml"), "services: {}\n").unwrap();
        assert_eq!(
            cfg("").build_mode(root),
            BuildMode::Compose {
                file: root.join("compose.yml")
            }
        );
        // Explicit Dockerfile keys win over a compose file on disk.
        assert!(matches!(
            cfg("[build]\ncontext = \".\"\n").build_mode(root),
            BuildMode::Dockerfile { .. }
        ));
        assert_eq!(
            cfg("[build]\ncompose = \"ops/c.yml\"\n").build_mode(root),
            BuildMode::Compose {
                file: root.join("ops/c.yml")
            }
        );
        // Integers are accepted where seconds are floats.
        assert_eq!(cfg("[health]\ninterval = 2\n").health.interval, 2.0);
    }

    #[test]
    fn user_paths_expand_home_and_root() {
        let root = Path::new("/proj");
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            resolve_user_path(root, Path::new("~/.ssh/id")),
            Path::new(&home).join(".ssh/id")
        );
        assert_eq!(
            resolve_user_path(root, Path::new("config/kh")),
            Path::new("/proj/config/kh")
        );
        assert_eq!(
            resolve_user_path(root, Path::new("/abs")),
            Path::new("/abs")
        );
    }
}
