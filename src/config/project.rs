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
    /// `[network]`: the private network servers join (docs/network.md).
    #[serde(default)]
    pub network: Option<super::network::NetworkConfig>,
    /// Team channels (Slack, Discord, webhooks, GitHub statuses).
    #[serde(default)]
    pub notify: super::notify::NotifyConfig,
    /// `[git]`: the git assistant (watcher, message generator).
    #[serde(default)]
    pub git: super::git::GitConfig,
    /// `[bootstrap]`: what `server bootstrap` makes of a bare server.
    #[serde(default)]
    pub bootstrap: super::bootstrap::BootstrapConfig,
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
    /// Seconds after start before probing (every service without its own).
    pub grace: f64,
    /// `[health.services.NAME]`: per-service settings (compose mode).
    pub services: BTreeMap<String, ServiceHealth>,
}

/// `[health.services.NAME]`: what differs for one service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceHealth {
    /// Seconds after start before the service is probed or judged: it must
    /// still be running (and not Docker-unhealthy) once they have passed.
    pub grace: Option<f64>,
}

/// The named volume of a `volumes` entry (`pgdata:/data` -> `pgdata`);
/// `None` for a bind mount of a host path or an anonymous volume.
pub fn named_volume(spec: &str) -> Option<&str> {
    spec.split_once(':')
        .map(|(src, _)| src)
        .filter(|src| !src.is_empty() && !src.starts_with(['/', '.', '~', '$']))
}

/// The longest `interval` or `grace` accepted (an hour): far beyond any
/// real start-up, and safe to turn into a `Duration` and add to an `Instant`.
pub const MAX_HEALTH_SECS: f64 = 3600.0;

impl HealthConfig {
    /// The grace period of `service`: its own, else `[health] grace`.
    pub fn grace_for(&self, service: &str) -> f64 {
        self.services
            .get(service)
            .and_then(|s| s.grace)
            .unwrap_or(self.grace)
    }
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
            services: BTreeMap::new(),
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
    /// Host port, or `ip:port`, the app container is published on when there
    /// is no `[proxy]` (default: the app port on all interfaces). Two apps
    /// on one server need different values; so do two envs, each with its
    /// own `[envs.NAME] publish` (see `config::publish`).
    pub publish: Option<String>,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            strategy: Strategy::Rolling,
            timeout: 600,
            keep_releases: 5,
            on_failure: OnFailure::Stop,
            publish: None,
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
    /// This env's `[deploy] publish` (see `config::publish`): envs sharing a
    /// server without `[proxy]` need different host ports.
    pub publish: Option<String>,
    /// How a terminal confirms a protected deploy: `"yes"` (y/N, the
    /// default) or `"name"` (type the env's name). The dashboard always asks
    /// for the name.
    pub confirm: Option<ConfirmStyle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmStyle {
    Yes,
    Name,
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

    /// Parse, reporting the first problem (see [`super::TomlSource::parse_all`] for all).
    pub fn parse(text: &str, path: &Path) -> Result<ProjectConfig, ConfigError> {
        super::locate::parse_all(text, path).map_err(|mut e| e.remove(0))
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

    /// Whether a terminal must type the env's name to confirm a deploy to it.
    pub fn confirm_by_name(&self, env: &str) -> bool {
        self.envs
            .as_ref()
            .and_then(|m| m.get(env))
            .and_then(|e| e.confirm)
            == Some(ConfirmStyle::Name)
    }

    /// The container port the health probe and the proxy use.
    pub fn app_port(&self) -> u16 {
        self.health
            .port
            .or(self.proxy.as_ref().map(|p| p.app_port))
            .unwrap_or(8080)
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
