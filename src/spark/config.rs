//! The Spark config file on the build machine (default
//! `/etc/arcane/spark.toml`): `[spark]` (where to listen, the state dir,
//! the queue's limits, which secrets authenticate webhooks), one
//! `[spark.apps.NAME]` per app (a git URL and its branch-to-env map), and
//! the machine's own `[notify]` channels.
//!
//! Like arcane.toml it only names secrets (`*_env`); their values come
//! from the machine's encrypted env or from env vars (see `secrets.rs`).

use crate::config::locate::{Seg, TomlSource};
use crate::config::notify::{has_credentials, is_secret_name, secret_name_error, NotifyConfig};
use crate::config::{is_valid_name, ConfigError, ConfigErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_CONFIG: &str = "/etc/arcane/spark.toml";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/arcane-spark";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// `ARCANE_SPARK_CONFIG` names the config file when `--config` does not.
pub const ENV_CONFIG: &str = "ARCANE_SPARK_CONFIG";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SparkFile {
    pub spark: SparkConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SparkConfig {
    pub listen: String,
    pub state_dir: PathBuf,
    /// The machine's encrypted env (default `<state_dir>/secrets.age`).
    pub secrets: Option<PathBuf>,
    /// Deploys of different apps (or envs) at once.
    pub workers: usize,
    /// Wait this long after a push for more before building the newest.
    pub debounce: String,
    /// The largest webhook body accepted, in bytes.
    pub max_body: usize,
    /// How many finished jobs (logs and results) are kept.
    pub keep_jobs: usize,
    pub github_secret_env: Option<String>,
    pub gitlab_token_env: Option<String>,
    /// Bearer token for `GET /status` and job logs (not served without).
    pub status_token_env: Option<String>,
    pub apps: BTreeMap<String, AppConfig>,
}

impl Default for SparkConfig {
    fn default() -> Self {
        SparkConfig {
            listen: DEFAULT_LISTEN.into(),
            state_dir: DEFAULT_STATE_DIR.into(),
            secrets: None,
            workers: 2,
            debounce: "3s".into(),
            max_body: 1024 * 1024,
            keep_jobs: 200,
            github_secret_env: None,
            gitlab_token_env: None,
            status_token_env: None,
            apps: BTreeMap::new(),
        }
    }
}

/// `[spark.apps.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// What `git clone` takes: an SSH URL (deploy key), https without
    /// credentials, or a path.
    pub repo: String,
    /// The project's directory inside the repository.
    #[serde(default)]
    pub path: Option<String>,
    /// Branch → env, e.g. `{ main = "production", develop = "staging" }`.
    pub branches: BTreeMap<String, String>,
    /// Protected envs Spark may deploy (none by default).
    #[serde(default)]
    pub allow_protected: Vec<String>,
    /// Poll the branches with `git ls-remote` this often (e.g. "60s").
    #[serde(default)]
    pub poll: Option<String>,
    pub github_secret_env: Option<String>,
    pub gitlab_token_env: Option<String>,
}

impl AppConfig {
    pub fn env_of(&self, branch: &str) -> Option<&str> {
        self.branches.get(branch).map(String::as_str)
    }

    pub fn may_deploy_protected(&self, env: &str) -> bool {
        self.allow_protected.iter().any(|e| e == env)
    }

    pub fn poll_every(&self) -> Option<Duration> {
        self.poll.as_deref().and_then(|p| parse_duration(p).ok())
    }
}

impl SparkConfig {
    pub fn debounce(&self) -> Duration {
        parse_duration(&self.debounce).unwrap_or(Duration::from_secs(3))
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| DEFAULT_LISTEN.parse().unwrap())
    }

    pub fn secrets_path(&self) -> PathBuf {
        self.secrets
            .clone()
            .unwrap_or_else(|| self.state_dir.join("secrets.age"))
    }

    pub fn github_secret_for(&self, app: &str) -> Option<&str> {
        self.apps
            .get(app)
            .and_then(|a| a.github_secret_env.as_deref())
            .or(self.github_secret_env.as_deref())
    }

    pub fn gitlab_token_for(&self, app: &str) -> Option<&str> {
        self.apps
            .get(app)
            .and_then(|a| a.gitlab_token_env.as_deref())
            .or(self.gitlab_token_env.as_deref())
    }
}

/// Whether a git URL carries a password or token: any userinfo over
/// http(s), a `user:password@` over ssh. `git@host:org/app.git` is fine.
pub fn git_url_has_credentials(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return has_credentials(url);
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        return authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.contains(':'));
    }
    false
}

/// "500ms", "3s", "2m", "1h" (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"500ms\", \"3s\" or \"2m\""))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !(0.0..=86400.0).contains(&secs) {
        return Err(format!("{s:?} is out of range (0 to 24h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The config file this command uses: `--config`, `$ARCANE_SPARK_CONFIG`,
/// else `/etc/arcane/spark.toml`.
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ENV_CONFIG).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

impl SparkFile {
    /// Read and check a config file; every problem names its line.
    pub fn load(path: &Path) -> Result<SparkFile, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(path, format!("cannot read the Spark config: {e}"))
                .with_help("write one (docs/spark.md has an example) or pass --config PATH")
        })?;
        let src = TomlSource::new(path, text);
        let file: SparkFile = src.parse_all().map_err(ConfigErrors)?;
        let errs = file.validate(&src);
        if errs.is_empty() {
            Ok(file)
        } else {
            Err(ConfigErrors(errs))
        }
    }

    pub fn validate(&self, src: &TomlSource) -> Vec<ConfigError> {
        use Seg::Key;
        let s = &self.spark;
        let mut errs = vec![];
        if s.listen.parse::<SocketAddr>().is_err() {
            errs.push(
                src.error(
                    &[Key("spark"), Key("listen")],
                    format!("[spark] listen {:?} is not an address:port", s.listen),
                )
                .with_help(
                    "e.g. listen = \"127.0.0.1:7878\" (put a TLS proxy in front, docs/spark.md)",
                ),
            );
        }
        if let Err(e) = parse_duration(&s.debounce) {
            errs.push(src.error(
                &[Key("spark"), Key("debounce")],
                format!("[spark] debounce: {e}"),
            ));
        }
        if s.workers == 0 || s.workers > 64 {
            errs.push(src.error(
                &[Key("spark"), Key("workers")],
                "[spark] workers must be 1 to 64",
            ));
        }
        if s.max_body < 1024 {
            errs.push(src.error(
                &[Key("spark"), Key("max_body")],
                "[spark] max_body must be at least 1024 bytes",
            ));
        }
        if s.keep_jobs == 0 {
            errs.push(src.error(
                &[Key("spark"), Key("keep_jobs")],
                "[spark] keep_jobs must be at least 1",
            ));
        }
        for (key, v) in [
            ("github_secret_env", &s.github_secret_env),
            ("gitlab_token_env", &s.gitlab_token_env),
            ("status_token_env", &s.status_token_env),
        ] {
            if v.as_deref().is_some_and(|v| !is_secret_name(v)) {
                errs.push(secret_name_error(
                    src,
                    &[Key("spark"), Key(key)],
                    &format!("[spark] {key}"),
                ));
            }
        }
        if s.apps.is_empty() {
            errs.push(
                src.error(&[Key("spark")], "[spark] lists no app")
                    .with_help("add [spark.apps.NAME] with repo = \"...\" and branches = { main = \"staging\" }"),
            );
        }
        for (name, a) in &s.apps {
            errs.extend(validate_app(src, s, name, a));
        }
        errs.extend(self.notify.validate(src, &[Key("notify")]));
        errs
    }
}

fn validate_app(src: &TomlSource, s: &SparkConfig, name: &str, a: &AppConfig) -> Vec<ConfigError> {
    use Seg::Key;
    let at = |k: &'static str| vec![Key("spark"), Key("apps"), Key(name), Key(k)];
    let table = format!("[spark.apps.{name}]");
    let mut errs = vec![];
    if !is_valid_name(name) {
        errs.push(
            src.error(
                &[Key("spark"), Key("apps"), Key(name)],
                format!("{table}: {name:?} is not a valid name"),
            )
            .with_help("use lowercase letters, digits, '-' and '_' (it names the job directories)"),
        );
    }
    if a.repo.trim().is_empty() {
        errs.push(src.error(&at("repo"), format!("{table} repo is empty")));
    } else if git_url_has_credentials(&a.repo) {
        errs.push(
            src.error(&at("repo"), format!("{table} repo holds credentials"))
                .with_help("credentials never go into config files (nor into git's argv): use an SSH deploy key (git@host:org/app.git) or a git credential helper"),
        );
    } else if a.repo.starts_with('-') {
        errs.push(src.error(&at("repo"), format!("{table} repo must not start with '-'")));
    }
    if let Some(p) = &a.path {
        let bad = Path::new(p).is_absolute()
            || Path::new(p)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if bad {
            errs.push(src.error(
                &at("path"),
                format!("{table} path {p:?} must be relative, inside the repository"),
            ));
        }
    }
    if a.branches.is_empty() {
        errs.push(
            src.error(&at("branches"), format!("{table} maps no branch"))
                .with_help("e.g. branches = { main = \"production\", develop = \"staging\" }"),
        );
    }
    for (branch, env) in &a.branches {
        if branch.is_empty()
            || branch.starts_with('-')
            || branch.contains("..")
            || branch.contains(char::is_whitespace)
        {
            errs.push(src.error(
                &at("branches"),
                format!("{table}: {branch:?} is not a branch name"),
            ));
        }
        if !is_valid_name(env) || env == "base" {
            errs.push(src.error(
                &at("branches"),
                format!("{table}: branch {branch} maps to {env:?}, which is not an env name"),
            ));
        }
    }
    for env in &a.allow_protected {
        if !a.branches.values().any(|e| e == env) {
            errs.push(
                src.error(
                    &at("allow_protected"),
                    format!("{table} allow_protected names {env:?}, which no branch deploys to"),
                )
                .with_help("list envs from branches = { ... }"),
            );
        }
    }
    if let Some(p) = &a.poll {
        match parse_duration(p) {
            Ok(d) if d < Duration::from_secs(5) => {
                errs.push(src.error(&at("poll"), format!("{table} poll must be at least 5s")));
            }
            Ok(_) => {}
            Err(e) => errs.push(src.error(&at("poll"), format!("{table} poll: {e}"))),
        }
    }
    for (key, v) in [
        ("github_secret_env", &a.github_secret_env),
        ("gitlab_token_env", &a.gitlab_token_env),
    ] {
        if v.as_deref().is_some_and(|v| !is_secret_name(v)) {
            errs.push(secret_name_error(src, &at(key), &format!("{table} {key}")));
        }
    }
    let hooked = s.github_secret_for(name).is_some() || s.gitlab_token_for(name).is_some();
    if !hooked && a.poll.is_none() {
        errs.push(
            src.error(&[Key("spark"), Key("apps"), Key(name)], format!("{table} can never deploy: no webhook secret and no poll"))
                .with_help("set github_secret_env or gitlab_token_env in [spark] (webhooks), or poll = \"60s\""),
        );
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SparkFile, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("spark.toml");
        std::fs::write(&p, text).unwrap();
        SparkFile::load(&p).map_err(|e| {
            e.0.iter()
                .map(|e| {
                    let s = e.to_string();
                    s[s.find("spark.toml").unwrap()..].to_string()
                })
                .collect()
        })
    }

    const OK: &str = "[spark]\ngithub_secret_env = \"GH_SECRET\"\n\n[spark.apps.hello]\nrepo = \"git@github.com:acme/hello.git\"\nbranches = { main = \"production\", develop = \"staging\" }\nallow_protected = [\"production\"]\n";

    #[test]
    fn a_good_config_loads_with_defaults() {
        let f = load(OK).unwrap();
        assert_eq!(f.spark.listen_addr().to_string(), "127.0.0.1:7878");
        assert_eq!(f.spark.debounce(), Duration::from_secs(3));
        let a = &f.spark.apps["hello"];
        assert_eq!(a.env_of("main"), Some("production"));
        assert!(a.may_deploy_protected("production"));
        assert_eq!(f.spark.github_secret_for("hello"), Some("GH_SECRET"));
        assert_eq!(
            f.spark.secrets_path(),
            PathBuf::from("/var/lib/arcane-spark/secrets.age")
        );
    }

    #[test]
    fn errors_name_the_line_and_never_echo_secrets() {
        let e = load("[spark]\ngithub_secret_env = \"hunter2-very-secret\"\n\n[spark.apps.hello]\nrepo = \"https://user:tok3n@github.com/acme/hello.git\"\nbranches = { main = \"staging\" }\npoll = \"1s\"\n").unwrap_err();
        let all = e.join("\n");
        assert!(
            all.contains("spark.toml:2:1: [spark] github_secret_env must name an env var"),
            "{all}"
        );
        assert!(
            all.contains("spark.toml:5:1: [spark.apps.hello] repo holds credentials"),
            "{all}"
        );
        assert!(
            all.contains("spark.toml:7:1: [spark.apps.hello] poll must be at least 5s"),
            "{all}"
        );
        assert!(!all.contains("hunter2") && !all.contains("tok3n"), "{all}");
    }

    #[test]
    fn an_app_without_trigger_or_with_a_stray_protected_env_is_refused() {
        let e = load("[spark.apps.a]\nrepo = \"/srv/a.git\"\nbranches = { main = \"staging\" }\nallow_protected = [\"production\"]\n").unwrap_err();
        let all = e.join("\n");
        assert!(
            all.contains("allow_protected names \"production\""),
            "{all}"
        );
        assert!(all.contains("can never deploy"), "{all}");
        let e = load("[spark]\nlisten = \"localhost\"\n[spark.apps.a]\nrepo = \"/srv/a.git\"\nbranches = {}\npoll = \"1m\"\n").unwrap_err();
        let all = e.join("\n");
        assert!(all.contains("spark.toml:2:1: [spark] listen"), "{all}");
        assert!(all.contains("maps no branch"), "{all}");
    }

    #[test]
    fn git_urls_with_credentials() {
        assert!(!git_url_has_credentials("git@github.com:acme/hello.git"));
        assert!(!git_url_has_credentials(
            "ssh://git@github.com/acme/hello.git"
        ));
        assert!(!git_url_has_credentials(
            "https://github.com/acme/hello.git"
        ));
        assert!(!git_url_has_credentials("/srv/git/hello.git"));
        assert!(git_url_has_credentials(
            "https://x-access-token:abc@github.com/a/b"
        ));
        assert!(git_url_has_credentials("https://abc@github.com/a/b"));
        assert!(git_url_has_credentials("ssh://git:pw@host/a/b"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
