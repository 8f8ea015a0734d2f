//! Everything arcane knows about docker: the command lines ([`argv`], one
//! pure function per operation), compose ([`compose`]), the Engine API
//! requests ([`api`]), and image build, smoke test, export and shipping.
//!
//! Library API for the other engines:
//! - [`build`] / [`find_built`] / [`version_for`]: images for the current git version.
//! - [`smoke::smoke_test`]: run an image locally and probe its health path.
//! - [`push::push_image`]: ship images to one server, sending only missing layers.

pub mod api;
pub mod argv;
pub mod build;
pub mod build_log;
pub mod compose;
pub mod layers;
pub mod push;
pub mod registry;
pub mod smoke;
mod via_registry;

pub use build::{
    build, build_mode, find_built, version_for, BuildMode, BuildOptions, BuiltImage, BuiltImages,
};

use crate::git::GitError;
use crate::remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// Something the user must fix (config, missing file, no git commit).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A docker command failed.
    #[error("{0}")]
    Failed(String),
    /// Local I/O (cache, export).
    #[error("{0}")]
    Io(String),
    /// Ctrl-C stopped it (exit 130); what it started was removed.
    #[error("interrupted")]
    Interrupted(#[source] crate::error::Interrupted),
    /// The smoke test failed; `logs` are the container's last lines.
    #[error("smoke test of {image} failed: {reason}\n--- last container log lines ---\n{logs}")]
    Smoke {
        image: String,
        reason: String,
        logs: String,
    },
}

impl DockerError {
    /// Errors the user fixes by editing config or committing (exit code 2).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            DockerError::Input(_)
                | DockerError::Git(GitError::NotARepo(_))
                | DockerError::Git(GitError::NoCommits(_))
        )
    }
}

impl crate::error::HasKind for DockerError {
    fn kind(&self) -> crate::error::ErrorKind {
        if self.is_input() {
            crate::error::ErrorKind::Input
        } else if matches!(self, DockerError::Interrupted(_)) {
            crate::error::ErrorKind::Interrupted
        } else {
            crate::error::ErrorKind::Failed
        }
    }
}

impl From<std::io::Error> for DockerError {
    fn from(e: std::io::Error) -> Self {
        DockerError::Io(e.to_string())
    }
}
