//! `arcane init`: scaffold a project that `arcane config check` accepts.
//!
//! Never overwrites: every file is created with no-clobber semantics, and an
//! existing file is reported as skipped. `.gitignore` only gets the missing
//! lines appended. Key material and git filters are the secrets engine's part
//! of `init`; the CLI calls it right after [`scaffold`].

use super::{ConfigError, ENVS_DIR, PROJECT_FILE, SERVERS_FILE};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `init` did to each file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InitReport {
    pub created: Vec<PathBuf>,
    /// Existing files left untouched.
    pub skipped: Vec<PathBuf>,
    /// Existing files that got lines appended (only `.gitignore`).
    pub updated: Vec<PathBuf>,
}

/// Lines `init` makes sure are in `.gitignore`.
pub const GITIGNORE_LINES: &[&str] = &[
    "# arcane: plaintext dotenv files outside config/envs/ must never be committed",
    ".env",
    ".env.local",
];

/// A valid app name from a directory name: lowercase, `[a-z0-9_-]`, starting
/// with a letter or digit, at most 63 characters; `app` if nothing is left.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let trimmed: String = out
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(63)
        .collect();
    let trimmed = trimmed.trim_end_matches(['-', '_']).to_string();
    if trimmed.is_empty() {
        "app".into()
    } else {
        trimmed
    }
}

/// The files of a new project, relative to its root.
pub fn templates(name: &str) -> Vec<(String, String)> {
    vec![
        (PROJECT_FILE.into(), project_toml(name)),
        (SERVERS_FILE.into(), SERVERS_TOML.into()),
        (
            format!("{ENVS_DIR}/base.env"),
            env_file("every env", "LOG_LEVEL=info\n"),
        ),
        (
            format!("{ENVS_DIR}/staging.env"),
            env_file("the staging env", "APP_ENV=staging\n"),
        ),
        (
            format!("{ENVS_DIR}/production.env"),
            env_file("the production env", "APP_ENV=production\n"),
        ),
    ]
}

/// Create the project files in `root`, skipping any that exist.
pub fn scaffold(root: &Path, name: &str) -> Result<InitReport, ConfigError> {
    let mut report = InitReport::default();
    for (rel, text) in templates(name) {
        let path = root.join(&rel);
        if path.exists() {
            report.skipped.push(path);
            continue;
        }
        if create_new(&path, &text)? {
            report.created.push(path);
        } else {
            report.skipped.push(path);
        }
    }
    let gi = root.join(".gitignore");
    match ensure_lines(&gi, GITIGNORE_LINES)? {
        LinesOutcome::Created => report.created.push(gi),
        LinesOutcome::Appended => report.updated.push(gi),
        LinesOutcome::Unchanged => report.skipped.push(gi),
    }
    Ok(report)
}

/// Write `text` to a new file atomically: a temp file in the same directory,
/// then a no-clobber rename, so a crash leaves no half-written file and an
/// existing file is never replaced. Returns false if the file appeared meanwhile.
pub fn create_new(path: &Path, text: &str) -> Result<bool, ConfigError> {
    let io = |e: std::io::Error| ConfigError::new(path, format!("cannot create: {e}"));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".arcane-init-")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(e.error)),
    }
}

enum LinesOutcome {
    Created,
    Appended,
    Unchanged,
}

/// Append the lines of `lines` missing from `path` (creating it if needed).
fn ensure_lines(path: &Path, lines: &[&str]) -> Result<LinesOutcome, ConfigError> {
    let io = |e: std::io::Error| ConfigError::new(path, format!("cannot update: {e}"));
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let have: Vec<&str> = existing
        .as_deref()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .collect();
    let missing: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with('#') && !have.contains(l))
        .collect();
    if missing.is_empty() {
        return Ok(LinesOutcome::Unchanged);
    }
    let mut add = String::new();
    for l in lines {
        if l.starts_with('#') || missing.contains(l) {
            add.push_str(l);
            add.push('\n');
        }
    }
    match existing {
        None => {
            create_new(path, &add)?;
            Ok(LinesOutcome::Created)
        }
        Some(t) => {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(io)?;
            let sep = if t.is_empty() || t.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            f.write_all(format!("{sep}{add}").as_bytes()).map_err(io)?;
            Ok(LinesOutcome::Appended)
        }
    }
}

fn env_file(scope: &str, example: &str) -> String {
    format!(
        "# Env keys for {scope}. Layers, weakest first: base.env, <env>.env,\n\
         # <env>.<server>.env (a later layer overrides a key of an earlier one).\n\
         # Syntax: KEY=value, export KEY=value, 'literal', \"with \\n escapes\",\n\
         # multi-line values in quotes, # comments. See docs/configuration.md.\n\
         # Show the merged result with `arcane env show --env <env>`.\n\
         {example}"
    )
}

fn project_toml(name: &str) -> String {
    PROJECT_TOML.replace("{name}", name)
}

const PROJECT_TOML: &str = r#"# arcane.toml: how arcane builds, checks and deploys this app.
# Every key is described in docs/configuration.md; `arcane config check`
# validates this file, config/servers.toml and config/envs/*.env.

[app]
# Names containers, images and releases: lowercase letters, digits, '-', '_'.
name = "{name}"

# How the image is built. With no keys set: compose.yml, compose.yaml,
# docker-compose.yml or docker-compose.yaml here selects compose mode,
# else ./Dockerfile is built with this directory as context.
[build]
# dockerfile = "Dockerfile"   # relative to this directory
# context = "."
# compose = "compose.yml"     # compose mode (not together with dockerfile/context)
# [build.args]
# NODE_ENV = "production"

# The health check that gates every deploy (probed inside the container).
[health]
# path = "/health"
# port = 8080                 # default: [proxy] app_port, else 8080
# timeout = 30                # seconds to become healthy before the deploy fails
# interval = 1.0              # seconds between probes
# healthy_threshold = 1       # consecutive successes needed
# grace = 0.0                 # seconds after start before the first probe
# [health.services.worker]    # compose mode: one service's own grace; it must
# grace = 10.0                #   still be running once this has passed

[deploy]
# strategy = "rolling"        # or "recreate" (stops the old version first: downtime)
# timeout = 600               # seconds for the whole deploy
# keep_releases = 5
# on_failure = "stop"         # or "rollback-all"

# Zero-downtime cutover behind the Caddy edge proxy.
# [proxy]
# hosts = ["app.example.com"]
# app_port = 8080
# tls = "auto"                # "internal" (private CA) or "off" (plain HTTP)
# health_path = "/health"     # default: [health] path
# image = "caddy:2"
# drain_timeout = 30          # seconds in-flight requests get after a cutover

# Commands run in the app image around a deploy.
# [[hooks.pre_deploy]]
# command = "./bin/migrate"
# service = "web"             # compose service whose image runs it
# continue_on_error = false
# timeout = 300
# [[hooks.post_deploy]]
# command = "./bin/warm-cache"

# Long-lived services that app deploys never restart.
# [accessories.db]
# image = "postgres:16"
# volumes = ["db-data:/var/lib/postgresql/data"]
# env = ["POSTGRES_PASSWORD"]  # key names; values come from the env files
# ports = ["127.0.0.1:5432:5432"]
# cmd = "postgres -c max_connections=200"
# roles = ["db"]

# Only when shipping through a registry (`arcane push --via registry`).
# [registry]
# server = "registry.example.com/team"
# username = "deploy"
# password_key = "REGISTRY_PASSWORD"   # env key holding the password

# [notifications]
# desktop = true

# A private network servers join (Tailscale, or Headscale with login_server);
# see docs/network.md. The auth key stays in the environment variable.
# [network]
# provider = "tailscale"
# auth_key_env = "TS_AUTHKEY"
# tailnet_domain = "example-corp.ts.net"
# default_tags = ["tag:arcane"]

# The envs servers can belong to. Each needs config/envs/<env>.env.
[envs.staging]

[envs.production]
protected = true              # deploys ask for confirmation (--yes in scripts)
"#;

const SERVERS_TOML: &str = r#"# config/servers.toml: the servers arcane deploys to, and groups of them.
# `arcane server check` tests a server; `arcane server trust NAME` records its
# host key. Every key is described in docs/configuration.md.

[servers.local]
host = "local"                # this machine, without SSH
env = "staging"

# [servers.web1]
# host = "203.0.113.10"       # hostname, IP, ~/.ssh/config alias, or "local"
# user = "deploy"
# port = 22
# identity_file = "~/.ssh/id_ed25519"
# known_hosts = "config/known_hosts"
# env = "production"
# roles = ["web"]
# connect = "tailnet"         # reach it by its tailnet name (needs [network])

# [groups.web]
# servers = ["web1"]
# env = "production"          # optional: only members in this env
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_directory_names() {
        for (raw, want) in [
            ("my-app", "my-app"),
            ("My App", "my-app"),
            ("__weird..Name!!", "weird-name"),
            ("-_-", "app"),
            ("café", "caf"),
            ("123", "123"),
        ] {
            assert_eq!(sanitize_name(raw), want, "{raw}");
        }
        assert_eq!(sanitize_name(&"a".repeat(100)).len(), 63);
        assert!(super::super::is_valid_name(&sanitize_name("Ünïcode Dir")));
    }

    #[test]
    fn templates_parse_and_validate() {
        let t = tempfile::tempdir().unwrap();
        let r = scaffold(t.path(), "demo").unwrap();
        assert_eq!(r.created.len(), 6, "{r:?}");
        let report = super::super::check::check(t.path());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let again = scaffold(t.path(), "demo").unwrap();
        assert!(again.created.is_empty() && again.updated.is_empty());
        assert_eq!(again.skipped.len(), 6);
    }

    #[test]
    fn gitignore_gets_only_missing_lines() {
        let t = tempfile::tempdir().unwrap();
        let gi = t.path().join(".gitignore");
        std::fs::write(&gi, "target\n.env").unwrap();
        assert!(matches!(
            ensure_lines(&gi, GITIGNORE_LINES).unwrap(),
            LinesOutcome::Appended
        ));
        let text = std::fs::read_to_string(&gi).unwrap();
        assert_eq!(
            text,
            format!("target\n.env\n{}\n.env.local\n", GITIGNORE_LINES[0])
        );
        assert!(matches!(
            ensure_lines(&gi, GITIGNORE_LINES).unwrap(),
            LinesOutcome::Unchanged
        ));
    }
}
