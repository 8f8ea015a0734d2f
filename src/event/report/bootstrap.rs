//! `server bootstrap` and `server cloud-init`.

use crate::error::ErrorKind;
use serde::Serialize;

/// One finished step of a bootstrap on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootstrapStep {
    /// `connect`, `os`, `packages`, `engine`, `user`, `layout`, `login`,
    /// `firewall`, `sshd`, `registry`.
    pub step: String,
    /// The step changed the server (in a dry run: would change it).
    pub changed: bool,
    pub detail: String,
}

/// A bootstrap of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ServerBootstrap {
    pub server: String,
    pub host: String,
    /// The user arcane connected as (root, or a sudo user).
    pub connected_as: Option<String>,
    pub deploy_user: String,
    /// `PRETTY_NAME` of the server's os-release.
    pub os: Option<String>,
    /// The steps that finished, in order.
    pub steps: Vec<BootstrapStep>,
    pub ok: bool,
    /// The step that failed, if one did.
    pub failed_step: Option<String>,
    pub error: Option<String>,
    pub error_kind: Option<ErrorKind>,
}

impl ServerBootstrap {
    /// Whether any step changed (or would change) the server.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(|s| s.changed)
    }

    /// The steps that changed something, by name.
    pub fn changed_steps(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.changed)
            .map(|s| s.step.as_str())
            .collect()
    }
}

/// `server bootstrap` over the selected servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootstrapReport {
    pub dry_run: bool,
    pub servers: Vec<ServerBootstrap>,
}

/// `server cloud-init`: the user-data, and what it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudInitReport {
    pub app: String,
    pub env: String,
    /// The registry servers it was made for (none: a server to come).
    pub servers: Vec<String>,
    pub deploy_user: String,
    /// The `#cloud-config` document.
    pub user_data: String,
}
