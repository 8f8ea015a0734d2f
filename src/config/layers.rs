//! Layered env files: what a container on a given env (and server) receives.
//!
//! Layers, weakest first (a later layer overrides a key of an earlier one):
//! 1. `config/envs/base.env`: keys shared by every env. Optional: a project
//!    whose envs share nothing does not need it.
//! 2. `config/envs/<env>.env`: required for a selected env. A missing file
//!    almost always means a typo, a forgotten `git add` or a branch without
//!    the env, and deploying without the env's keys would start a broken app.
//! 3. `config/envs/<env>.<server>.env`: optional per-server overrides.
//!
//! Files are encrypted in git, so reading goes through a hook: the secrets
//! engine passes a decrypting reader; [`read_plain`] is for plaintext files and
//! says clearly when it meets ciphertext.

use super::envfile::{self, ENCRYPTED_PREFIX};
use super::servers::did_you_mean;
use super::{ConfigError, Project, PROJECT_FILE, SERVERS_FILE};
use std::path::{Path, PathBuf};

/// How env files are read: plaintext ([`read_plain`]) or decrypting (the
/// secrets engine's reader).
pub type ReadFn = dyn Fn(&Path) -> Result<String, ConfigError>;

/// Which kind of layer a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    Base,
    Env,
    Server,
}

/// One layer file, present or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// File name, e.g. `staging.web1.env`; this is what `env show` prints.
    pub name: String,
    pub path: PathBuf,
    pub kind: LayerKind,
}

impl Layer {
    /// Whether a missing file is an error.
    pub fn required(&self) -> bool {
        self.kind == LayerKind::Env
    }
}

/// One merged key: the winning value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedEntry {
    pub key: String,
    pub value: String,
    /// File name of the layer that set the winning value (`base.env`...).
    pub layer: String,
    /// 1-based line in that file.
    pub line: usize,
}

/// The merged env, in first-appearance order (base keys first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergedEnv {
    pub env: String,
    pub server: Option<String>,
    pub entries: Vec<MergedEntry>,
    /// References to names no layer defines before them (they expanded to
    /// ""): compose would look them up in the shell, arcane does not, so
    /// `config check` warns with the file and line.
    pub undefined: Vec<ConfigError>,
}

impl MergedEnv {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &MergedEntry> {
        self.entries.iter()
    }

    /// `(key, value)` pairs, for building a container's environment.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    /// The file a container receives (`KEY=value` lines, quoted so that
    /// compose's env_file parser reads the same values back).
    pub fn to_env_file(&self) -> String {
        self.entries
            .iter()
            .map(|e| envfile::format_line(&e.key, &e.value) + "\n")
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Expand an entry's `${VAR}` against the keys merged so far: lower
    /// layers, and keys defined before it in its own file.
    fn interpolate(&mut self, e: &envfile::EnvEntry, path: &Path) -> Result<String, ConfigError> {
        let mut missing = vec![];
        let v = super::interp::expand(&e.value, &|k| self.get(k).map(str::to_string), &mut missing)
            .map_err(|x| {
                ConfigError::new(path, format!("{}: {}", e.key, x.message))
                    .at(e.line, 1)
                    .with_help("define the variable in this file or a lower layer (base.env), or give a default: ${VAR:-default}")
            })?;
        for m in missing {
            self.undefined.push(
                ConfigError::new(
                    path,
                    format!("{} refers to ${m}, which no layer defines before it, so it is empty", e.key),
                )
                .at(e.line, 1)
                .with_help("docker compose would take it from your shell; arcane never does: define it in an env file (before this line) or write $$ for a literal $"),
            );
        }
        Ok(v)
    }

    fn set(&mut self, key: &str, value: String, layer: &str, line: usize) {
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(e) => {
                e.value = value;
                e.layer = layer.to_string();
                e.line = line;
            }
            None => self.entries.push(MergedEntry {
                key: key.to_string(),
                value,
                layer: layer.to_string(),
                line,
            }),
        }
    }
}

/// The layer files for `env` (and `server`), weakest first.
pub fn layer_files(envs_dir: &Path, env: &str, server: Option<&str>) -> Vec<Layer> {
    let mut out = vec![
        Layer {
            name: "base.env".into(),
            path: envs_dir.join("base.env"),
            kind: LayerKind::Base,
        },
        Layer {
            name: format!("{env}.env"),
            path: envs_dir.join(format!("{env}.env")),
            kind: LayerKind::Env,
        },
    ];
    if let Some(s) = server {
        out.push(Layer {
            name: format!("{env}.{s}.env"),
            path: envs_dir.join(format!("{env}.{s}.env")),
            kind: LayerKind::Server,
        });
    }
    out
}

/// Check that `env` is declared and `server` (if any) exists and belongs to it.
pub fn check_target(project: &Project, env: &str, server: Option<&str>) -> Result<(), ConfigError> {
    let envs = project.config.env_names();
    if !envs.iter().any(|e| e == env) {
        let mut e = ConfigError::new(
            project.root.join(PROJECT_FILE),
            format!("unknown env {env:?}"),
        );
        e = e.with_help(match did_you_mean(env, &envs) {
            Some(m) => format!("did you mean {m:?}? (declared envs: {})", envs.join(", ")),
            None => format!(
                "declared envs: {}; add [envs.{env}] to arcane.toml to create it",
                envs.join(", ")
            ),
        });
        return Err(e);
    }
    if let Some(s) = server {
        let file = project.root.join(SERVERS_FILE);
        let Some(cfg) = project.servers.servers.get(s) else {
            let mut e = ConfigError::new(file, format!("unknown server {s:?}"));
            if let Some(m) = did_you_mean(s, project.servers.servers.keys()) {
                e = e.with_help(format!("did you mean {m:?}?"));
            }
            return Err(e);
        };
        if cfg.env != env {
            return Err(ConfigError::new(
                file,
                format!("server {s:?} belongs to env {:?}, not {env:?}", cfg.env),
            )
            .with_help(format!("use --env {}", cfg.env)));
        }
    }
    Ok(())
}

/// Merge the layers of `env` (and `server`). `read` returns a file's plaintext
/// (see [`read_plain`]); it is only called for files that exist.
pub fn merged(
    project: &Project,
    env: &str,
    server: Option<&str>,
    read: &dyn Fn(&Path) -> Result<String, ConfigError>,
) -> Result<MergedEnv, ConfigError> {
    check_target(project, env, server)?;
    let mut out = MergedEnv {
        env: env.to_string(),
        server: server.map(str::to_string),
        ..MergedEnv::default()
    };
    for layer in layer_files(&project.envs_dir(), env, server) {
        if !layer.path.is_file() {
            if layer.required() {
                return Err(missing_env_file(&layer.path, env));
            }
            continue;
        }
        let text = read(&layer.path)?;
        for e in envfile::parse(&text, &layer.path)? {
            let value = if e.interpolate {
                out.interpolate(&e, &layer.path)?
            } else {
                e.value
            };
            out.set(&e.key, value, &layer.name, e.line);
        }
    }
    Ok(out)
}

/// The error for a declared env without its env file.
pub fn missing_env_file(path: &Path, env: &str) -> ConfigError {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("{env}.env"));
    let rel = format!("{}/{name}", super::ENVS_DIR);
    ConfigError::new(path, format!("env file for env {env:?} is missing"))
        .with_help(format!(
            "create {rel} (it may be empty: `touch {rel}`), check it out from git, or run `arcane init` to scaffold the missing files"
        ))
}

/// Read a plaintext env file. Ciphertext (`arcane:v1:` values) is an error that
/// says how to get access, instead of handing encrypted blobs to a container.
pub fn read_plain(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(path, format!("cannot read: {e}")))?;
    // A syntax error is reported by the caller's parse, with its location.
    if let Ok(entries) = envfile::parse(&text, path) {
        if let Some(e) = entries
            .iter()
            .find(|e| e.value.starts_with(ENCRYPTED_PREFIX))
        {
            return Err(ConfigError::new(
                path,
                format!(
                    "{} is encrypted (its values start with `{ENCRYPTED_PREFIX}`) and was read without decrypting",
                    e.key
                ),
            )
            .at(e.line, 1)
            .with_help(
                "run `arcane setup` in this clone so git decrypts env files on checkout; \
                 if you have no access yet, create an identity with `arcane identity new` \
                 and ask a teammate to run `arcane team add <you> <your public key>`",
            ));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProjectConfig, ServersFile};

    fn project(dir: &Path) -> Project {
        let config: ProjectConfig = toml::from_str("[app]\nname = \"x\"\n").unwrap();
        let servers: ServersFile = toml::from_str(
            "[servers.web1]\nhost = \"local\"\nenv = \"staging\"\n[servers.p1]\nhost = \"local\"\nenv = \"production\"\n",
        )
        .unwrap();
        Project {
            root: dir.to_path_buf(),
            config,
            servers,
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir.join("config/envs")).unwrap();
        std::fs::write(dir.join("config/envs").join(name), text).unwrap();
    }

    #[test]
    fn later_layers_override_and_keep_first_position() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "base.env", "A=base\nB=base\n");
        write(t.path(), "staging.env", "B=staging\nC=staging\n");
        write(t.path(), "staging.web1.env", "# override\nA=web1\n");
        let p = project(t.path());
        let m = merged(&p, "staging", Some("web1"), &read_plain).unwrap();
        let got: Vec<(&str, &str, &str, usize)> = m
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.layer.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "web1", "staging.web1.env", 2),
                ("B", "staging", "staging.env", 1),
                ("C", "staging", "staging.env", 2),
            ]
        );
        // Without the server, its override does not apply.
        let m = merged(&p, "staging", None, &read_plain).unwrap();
        assert_eq!(m.get("A"), Some("base"));
    }

    #[test]
    fn base_is_optional_env_file_is_required() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "staging.env", "A=1\n");
        let p = project(t.path());
        assert_eq!(merged(&p, "staging", None, &read_plain).unwrap().len(), 1);
        let e = merged(&p, "production", None, &read_plain).unwrap_err();
        assert!(e.message.contains("missing"), "{e}");
        assert!(e.file.ends_with("config/envs/production.env"));
        assert!(e.help.unwrap().contains("touch config/envs/production.env"));
    }

    #[test]
    fn unknown_env_and_server_mismatch_are_errors() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "staging.env", "");
        let p = project(t.path());
        let e = merged(&p, "stagin", None, &read_plain).unwrap_err();
        assert!(e.help.unwrap().contains("did you mean \"staging\""));
        let e = merged(&p, "staging", Some("p1"), &read_plain).unwrap_err();
        assert!(e.message.contains("belongs to env \"production\""), "{e}");
        let e = merged(&p, "staging", Some("web2"), &read_plain).unwrap_err();
        assert!(e.help.unwrap().contains("web1"));
    }

    #[test]
    fn plain_reader_refuses_ciphertext_and_hook_is_used() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "staging.env", "# c\nA=arcane:v1:QUJD\n");
        let p = project(t.path());
        let e = merged(&p, "staging", None, &read_plain).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("encrypted") && e.help.unwrap().contains("arcane setup"));
        let decrypt = |path: &Path| -> Result<String, ConfigError> {
            Ok(std::fs::read_to_string(path)
                .unwrap()
                .replace("arcane:v1:QUJD", "plain"))
        };
        let m = merged(&p, "staging", None, &decrypt).unwrap();
        assert_eq!(m.get("A"), Some("plain"));
        assert_eq!(m.to_env_file(), "A=plain\n");
    }
}
