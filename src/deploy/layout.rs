//! Where arcane keeps things: the labels on every image, container, network
//! and volume it creates, and the directory layout under `~/.arcane` on a
//! server.
//!
//! Both are a contract with what is already deployed: the labels are how
//! `status`, `ps`, a deploy's cleanup and the TUI find an app's containers
//! again (never by name), and the paths are where the releases of earlier
//! arcane versions live. Spelling either out in one place means a deploy, an
//! operation and the TUI cannot drift apart; every shell snippet and argv
//! that names one uses these.
//!
//! ```text
//! ~/.arcane/<app>/<env>/
//!   current                 the live release name
//!   lock/holder.json        the deploy lock (see lock.rs)
//!   releases/<release>/
//!     .env                  0600, the merged env (the only place values live)
//!     release.json          0600, what was deployed, by whom; digests, never values
//!     compose.yml, arcane.override.yml   (compose mode)
//!   accessories/<name>.env  0600, an accessory's env
//! ~/.arcane/push/<port>.session   a running push's SSH session (see docker::push)
//! ```

use crate::remote::{shell_quote, Cmd};
use serde::{Deserialize, Serialize};

/// The app an image, container, network or volume belongs to.
pub const LABEL_APP: &str = "arcane.app";
/// The env (staging, production...) of a container, network or volume.
pub const LABEL_ENV: &str = "arcane.env";
/// The service (`web` in image mode, the compose service otherwise).
pub const LABEL_SERVICE: &str = "arcane.service";
/// The version (git sha, maybe with `-dirty-<hash>`).
pub const LABEL_VERSION: &str = "arcane.version";
/// The release directory name a container was started from.
pub const LABEL_RELEASE: &str = "arcane.release";
/// The accessory name of an accessory's container.
pub const LABEL_ACCESSORY: &str = "arcane.accessory";
/// A one-off hook container.
pub const LABEL_HOOK: &str = "arcane.hook";
/// A local smoke-test container; the value names its owner (see `docker::smoke`).
pub const LABEL_SMOKE: &str = "arcane.smoke";
/// The commit, under the OCI annotation name tools already read.
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
/// The edge proxy's container (value: the proxy kind, `caddy`).
pub const LABEL_PROXY: &str = "arcane.proxy";
/// The proxy's shared network.
pub const LABEL_NETWORK: &str = "arcane.network";
/// What compose puts on the containers it runs.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

/// `key=value`, as `--label` and `--filter label=` take it.
pub fn label(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

/// The labels that scope a network or volume to one app+env.
pub fn app_env(app: &str, env: &str) -> Vec<(&'static str, String)> {
    vec![(LABEL_APP, app.to_string()), (LABEL_ENV, env.to_string())]
}

/// The labels every app container carries. They are how the engine finds
/// an app's containers again (`docker ps --filter label=...`) and what keeps
/// two apps, or two envs of one app, on the same server apart. Stored in
/// `release.json` (inside the run spec), so the field names are fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub app: String,
    pub env: String,
    pub service: String,
    pub version: String,
    pub release: String,
}

impl Labels {
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (LABEL_APP, &self.app),
            (LABEL_ENV, &self.env),
            (LABEL_SERVICE, &self.service),
            (LABEL_VERSION, &self.version),
            (LABEL_RELEASE, &self.release),
        ]
    }

    /// `--label k=v` for each label.
    pub fn args(&self) -> Vec<String> {
        self.pairs()
            .iter()
            .flat_map(|(k, v)| ["--label".to_string(), label(k, v)])
            .collect()
    }
}

/// The directory under the user's home that holds everything arcane keeps.
pub const HOME_DIR: &str = ".arcane";
/// The names inside an app+env's directory (see the module doc).
pub const CURRENT: &str = "current";
pub const RELEASES: &str = "releases";
pub const RELEASE_JSON: &str = "release.json";
pub const ENV_FILE: &str = ".env";
pub const LOCK_DIR: &str = "lock";
/// Inside the lock directory: who holds it.
pub const LOCK_HOLDER: &str = "holder.json";

/// Where a running push records its SSH session (see `docker::push`).
pub const PUSH_MARKER_DIR: &str = "$HOME/.arcane/push";

/// Where one app+env lives on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `<home>/.arcane/<app>/<env>`
    pub root: String,
}

impl Layout {
    pub fn new(home: &str, app: &str, env: &str) -> Layout {
        Layout {
            root: format!("{}/{HOME_DIR}/{app}/{env}", home.trim_end_matches('/')),
        }
    }

    /// Before the home directory is known: `~/.arcane/<app>/<env>`, for
    /// scripts that expand `~` (see `remote::ssh::remote_path`).
    pub fn tilde(app: &str, env: &str) -> Layout {
        Layout::new("~", app, env)
    }

    pub fn current(&self) -> String {
        format!("{}/{CURRENT}", self.root)
    }
    pub fn releases(&self) -> String {
        format!("{}/{RELEASES}", self.root)
    }
    pub fn release_dir(&self, release: &str) -> String {
        format!("{}/{RELEASES}/{release}", self.root)
    }
    pub fn env_file(&self, release: &str) -> String {
        format!("{}/{ENV_FILE}", self.release_dir(release))
    }
    pub fn release_json(&self, release: &str) -> String {
        format!("{}/{RELEASE_JSON}", self.release_dir(release))
    }
    /// The project's compose file as uploaded (compose mode).
    pub fn compose_file(&self, release: &str) -> String {
        format!("{}/compose.yml", self.release_dir(release))
    }
    /// The generated override next to it.
    pub fn override_file(&self, release: &str) -> String {
        format!("{}/arcane.override.yml", self.release_dir(release))
    }
    pub fn lock_dir(&self) -> String {
        format!("{}/{LOCK_DIR}", self.root)
    }
    /// Who holds the deploy lock (JSON, see `deploy::lock::Holder`).
    pub fn lock_holder(&self) -> String {
        format!("{}/{LOCK_HOLDER}", self.lock_dir())
    }
    pub fn accessories_dir(&self) -> String {
        format!("{}/accessories", self.root)
    }
    pub fn accessory_env(&self, name: &str) -> String {
        format!("{}/{name}.env", self.accessories_dir())
    }
}

/// `"$HOME"/.arcane/<app>/<env>` as a shell word, for scripts that run in
/// the server's shell (its `$HOME`, whatever the user).
pub fn shell_root(app: &str, env: &str) -> String {
    format!(
        "\"$HOME\"/{HOME_DIR}/{}/{}",
        shell_quote(app),
        shell_quote(env)
    )
}

/// Print the lock holder's JSON, or nothing when no deploy holds the lock.
pub fn lock_holder_script(app: &str, env: &str) -> Cmd {
    Cmd::shell(format!(
        "cat {}/{LOCK_DIR}/{LOCK_HOLDER} 2>/dev/null || true",
        shell_root(app, env)
    ))
}

/// Print the live release name and its `release.json`, tolerating their
/// absence (nothing deployed yet prints nothing).
pub fn live_release_script(app: &str, env: &str) -> Cmd {
    let dir = shell_root(app, env);
    Cmd::shell(format!(
        "if v=$(cat {dir}/{CURRENT} 2>/dev/null); then printf '%s\\n' \"$v\"; \
         cat {dir}/{RELEASES}/\"$v\"/{RELEASE_JSON} 2>/dev/null; fi"
    ))
}

/// The live release as [`live_release_script`] prints it: the version, and
/// the release's JSON record (whatever the deploy engine wrote).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveRelease {
    pub version: String,
    pub record: Option<serde_json::Value>,
}

pub fn parse_live_release(out: &str) -> Option<LiveRelease> {
    let mut parts = out.splitn(2, '\n');
    let version = parts.next()?.trim().to_string();
    if version.is_empty() {
        return None;
    }
    let record = parts
        .next()
        .and_then(|r| serde_json::from_str(r.trim()).ok());
    Some(LiveRelease { version, record })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_home_and_before_it_is_known() {
        let l = Layout::new("/home/deploy/", "hello", "staging");
        assert_eq!(
            l.env_file("abc"),
            "/home/deploy/.arcane/hello/staging/releases/abc/.env"
        );
        assert_eq!(l.lock_dir(), "/home/deploy/.arcane/hello/staging/lock");
        assert_eq!(
            l.lock_holder(),
            "/home/deploy/.arcane/hello/staging/lock/holder.json"
        );
        assert_eq!(
            l.override_file("abc"),
            "/home/deploy/.arcane/hello/staging/releases/abc/arcane.override.yml"
        );
        assert_eq!(
            l.accessory_env("db"),
            "/home/deploy/.arcane/hello/staging/accessories/db.env"
        );
        assert_eq!(
            Layout::tilde("a", "e").lock_dir(),
            "~/.arcane/a/e/lock".to_string()
        );
        assert_eq!(shell_root("a b", "e"), "\"$HOME\"/.arcane/'a b'/e");
        assert_eq!(
            lock_holder_script("web", "staging").to_shell(),
            "cat \"$HOME\"/.arcane/web/staging/lock/holder.json 2>/dev/null || true"
        );
    }

    #[test]
    fn labels_are_flags_in_a_fixed_order() {
        let l = Labels {
            app: "a".into(),
            env: "e".into(),
            service: "s".into(),
            version: "v".into(),
            release: "r".into(),
        };
        assert_eq!(
            l.args().join(" "),
            "--label arcane.app=a --label arcane.env=e --label arcane.service=s \
             --label arcane.version=v --label arcane.release=r"
        );
    }

    #[test]
    fn live_release_reading_tolerates_absence() {
        assert_eq!(
            live_release_script("web", "staging").to_shell(),
            "if v=$(cat \"$HOME\"/.arcane/web/staging/current 2>/dev/null); then \
             printf '%s\\n' \"$v\"; cat \"$HOME\"/.arcane/web/staging/releases/\"$v\"/release.json \
             2>/dev/null; fi"
        );
        assert_eq!(parse_live_release(""), None);
        assert_eq!(
            parse_live_release("1a2b3c\n"),
            Some(LiveRelease {
                version: "1a2b3c".into(),
                record: None
            })
        );
        let r = parse_live_release("v2\n{\"deployed_at\":\"now\"}\n").unwrap();
        assert_eq!(r.record.unwrap()["deployed_at"], "now");
    }
}
