//! `arcane.toml`: the app, how to build it, how to check its health, how to
//! deploy it, and which envs exist.

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub app: AppConfig,
    #[serde(default)]
    pub build: BuildConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub deploy: DeployConfig,
    #[serde(default)]
    pub proxy: Option<ProxyConfig>,
    #[serde(default)]
    pub hooks: HooksConfig,
    #[serde(default)]
    pub accessories: BTreeMap<String, AccessoryConfig>,
    /// Declared envs. When the table is absent, `staging` and `production` exist.
    #[serde(default)]
    pub envs: Option<BTreeMap<String, EnvConfig>>,
    #[serde(default)]
    pub registry: Option<RegistryConfig>,
    #[serde(default)]
    pub notifications: NotificationsConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: String,
}

/// Dockerfile mode (`dockerfile` + `context`) or compose mode (`compose`).
/// With neither set, `compose.yml` / `docker-compose.yml` is auto-detected,
/// else `Dockerfile` in the project root is used.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    pub dockerfile: Option<String>,
    pub context: Option<String>,
    pub compose: Option<String>,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// HTTP path probed inside the container.
    pub path: String,
    /// Container port to probe (default: proxy.app_port, else 8080).
    pub port: Option<u16>,
    /// Seconds to wait for healthy before failing.
    pub timeout: u64,
    /// Seconds between probes.
    pub interval: f64,
    /// Consecutive successful probes needed.
    pub healthy_threshold: u32,
    /// Seconds after start before probing.
    pub grace: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            path: "/health".into(),
            port: None,
            timeout: 30,
            interval: 1.0,
            healthy_threshold: 1,
            grace: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Start the new containers next to the old ones; stop the old only once healthy.
    #[default]
    Rolling,
    /// Stop the old containers first (for apps that cannot run twice). Has downtime.
    Recreate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Stop the rollout at the first failed server; servers done stay on the new version.
    #[default]
    Stop,
    /// Roll every server that got the new version back.
    RollbackAll,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    pub strategy: Strategy,
    /// Seconds that bound the whole deploy.
    pub timeout: u64,
    pub keep_releases: usize,
    pub on_failure: OnFailure,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            strategy: Strategy::Rolling,
            timeout: 600,
            keep_releases: 5,
            on_failure: OnFailure::Stop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tls {
    /// ACME certificates for public domains.
    #[default]
    Auto,
    /// Caddy's internal CA (for tests and private networks).
    Internal,
    /// Plain HTTP.
    Off,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub hosts: Vec<String>,
    pub app_port: u16,
    #[serde(default)]
    pub tls: Tls,
    /// Health path the proxy gates on (default: health.path).
    pub health_path: Option<String>,
    /// Proxy image (default caddy:2).
    #[serde(default = "default_proxy_image")]
    pub image: String,
    /// Seconds in-flight requests get to finish after a cutover.
    #[serde(default = "default_drain")]
    pub drain_timeout: u64,
}

fn default_proxy_image() -> String {
    "caddy:2".into()
}

fn default_drain() -> u64 {
    30
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    #[serde(default)]
    pub pre_deploy: Vec<Hook>,
    #[serde(default)]
    pub post_deploy: Vec<Hook>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// Compose service whose image runs the hook (default: the app image).
    pub service: Option<String>,
    /// Shell command, run with `sh -c`.
    pub command: String,
    #[serde(default)]
    pub continue_on_error: bool,
    /// Seconds.
    #[serde(default = "default_hook_timeout")]
    pub timeout: u64,
}

fn default_hook_timeout() -> u64 {
    300
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessoryConfig {
    pub image: String,
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Names of env keys passed to the accessory (values come from the env files).
    #[serde(default)]
    pub env: Vec<String>,
    /// Port mappings, docker syntax ("127.0.0.1:5432:5432").
    #[serde(default)]
    pub ports: Vec<String>,
    pub cmd: Option<String>,
    /// Only servers with one of these roles run it (default: all).
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Ask for confirmation before deploying (default: true for production).
    pub protected: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// e.g. "registry.example.com/team"
    pub server: String,
    pub username: Option<String>,
    /// Name of the env key that holds the registry password (never the password itself).
    pub password_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Desktop notification when a deploy finishes or fails.
    pub desktop: bool,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig { desktop: true }
    }
}

pub const DEFAULT_ENVS: [&str; 2] = ["staging", "production"];

impl ProjectConfig {
    pub fn load(path: &Path) -> Result<ProjectConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, format!("cannot read: {e}"))
                .with_help("run `arcane init` to create it")
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<ProjectConfig, ConfigError> {
        super::servers::parse_toml(text, path)
    }

    /// Names of the declared envs, sorted.
    pub fn env_names(&self) -> Vec<String> {
        match &self.envs {
            Some(m) => m.keys().cloned().collect(),
            None => DEFAULT_ENVS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether deploying to `env` needs confirmation.
    pub fn is_protected(&self, env: &str) -> bool {
        self.envs
            .as_ref()
            .and_then(|m| m.get(env))
            .and_then(|e| e.protected)
            .unwrap_or(env == "production")
    }

    /// The container port the health probe and the proxy use.
    pub fn app_port(&self) -> u16 {
        self.health
            .port
            .or(self.proxy.as_ref().map(|p| p.app_port))
            .unwrap_or(8080)
    }

    /// Semantic checks serde cannot express.
    pub fn validate(&self, file: &Path) -> Vec<ConfigError> {
        let mut errs = vec![];
        if !is_valid_name(&self.app.name) {
            errs.push(
                ConfigError::new(
                    file,
                    format!("[app] name {:?} is not a valid name", self.app.name),
                )
                .with_help(
                    "use lowercase letters, digits and '-' (it names containers and images)",
                ),
            );
        }
        if self.build.compose.is_some() && self.build.dockerfile.is_some() {
            errs.push(ConfigError::new(
                file,
                "[build] sets both `compose` and `dockerfile`; choose one",
            ));
        }
        if self.health.timeout == 0 || self.health.interval <= 0.0 {
            errs.push(ConfigError::new(
                file,
                "[health] timeout and interval must be greater than 0",
            ));
        }
        if self.deploy.keep_releases == 0 {
            errs.push(ConfigError::new(
                file,
                "[deploy] keep_releases must be at least 1",
            ));
        }
        if let Some(p) = &self.proxy {
            if p.hosts.is_empty() {
                errs.push(ConfigError::new(
                    file,
                    "[proxy] hosts must name at least one domain",
                ));
            }
            if p.app_port == 0 {
                errs.push(ConfigError::new(
                    file,
                    "[proxy] app_port must be between 1 and 65535",
                ));
            }
        }
        for name in self.env_names() {
            if !is_valid_name(&name) || name == "base" {
                errs.push(ConfigError::new(
                    file,
                    format!("[envs.{name}] is not a valid env name (\"base\" is reserved for shared keys)"),
                ));
            }
        }
        errs
    }
}

/// Names that end up in container, network and file names.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}
