//! How an app is built: Dockerfile or compose mode, chosen by `[build]`
//! or by the files in the project root.

use super::ProjectConfig;
use std::path::{Path, PathBuf};

impl ProjectConfig {
    /// How to build the app. Explicit `[build]` keys win; otherwise a compose
    /// file in the project root selects compose mode, else `./Dockerfile`.
    /// Paths are resolved against `root`; existence is not checked here.
    pub fn build_mode(&self, root: &Path) -> BuildMode {
        let b = &self.build;
        if let Some(f) = &b.compose {
            return BuildMode::Compose { file: root.join(f) };
        }
        if b.dockerfile.is_none() && b.context.is_none() {
            if let Some(f) = COMPOSE_FILES
                .iter()
                .map(|f| root.join(f))
                .find(|p| p.is_file())
            {
                return BuildMode::Compose { file: f };
            }
        }
        let context = match b.context.as_deref() {
            None | Some(".") | Some("./") | Some("") => root.to_path_buf(),
            Some(c) => root.join(c),
        };
        let dockerfile = match &b.dockerfile {
            Some(d) => root.join(d),
            None => context.join("Dockerfile"),
        };
        BuildMode::Dockerfile {
            dockerfile,
            context,
        }
    }
}

/// Compose files auto-detected in the project root, first match wins (the
/// same order `arcane build` documents; only matters when several exist).
pub const COMPOSE_FILES: [&str; 4] = [
    "compose.yml",
    "compose.yaml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// What `arcane build` builds (see [`ProjectConfig::build_mode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildMode {
    /// `docker build -f dockerfile context`.
    Dockerfile {
        dockerfile: PathBuf,
        context: PathBuf,
    },
    /// `docker-compose -f file build`.
    Compose { file: PathBuf },
}

impl BuildMode {
    /// The files that must exist for a build, with a message if one is missing.
    pub fn missing(&self) -> Option<(PathBuf, String)> {
        match self {
            BuildMode::Compose { file } if !file.is_file() => {
                Some((file.clone(), "compose file not found".into()))
            }
            BuildMode::Dockerfile { context, .. } if !context.is_dir() => {
                Some((context.clone(), "build context directory not found".into()))
            }
            BuildMode::Dockerfile { dockerfile, .. } if !dockerfile.is_file() => Some((
                dockerfile.clone(),
                "no Dockerfile here (and no compose file in the project root)".into(),
            )),
            _ => None,
        }
    }
}
