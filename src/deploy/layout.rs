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

use crate::event::report::LiveRelease;
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

/// Separates the live release from the lock holder in [`state_script`]'s output.
const LOCK_MARK: &str = "@@arcane-lock@@";

/// What `status` reads from the server's files in one round trip: the live
/// release name and its `release.json`, then a marker line and the deploy
/// lock's holder. Missing files print nothing; the exit status is 0.
pub fn state_script(app: &str, env: &str) -> Cmd {
    let dir = shell_root(app, env);
    Cmd::shell(format!(
        "if v=$(cat {dir}/{CURRENT} 2>/dev/null); then printf '%s\\n' \"$v\"; \
         cat {dir}/{RELEASES}/\"$v\"/{RELEASE_JSON} 2>/dev/null; fi; echo; echo {LOCK_MARK}; \
         cat {dir}/{LOCK_DIR}/{LOCK_HOLDER} 2>/dev/null; true"
    ))
}

/// [`state_script`]'s output: the live release (name first, then its
/// record, which may be missing or from an older arcane) and who holds the
/// lock (`"held"` when the holder file is unreadable).
pub fn parse_state(out: &str) -> (Option<LiveRelease>, Option<String>) {
    let (rel, lock) = out
        .split_once(&format!("\n{LOCK_MARK}\n"))
        .unwrap_or((out, ""));
    let mut parts = rel.trim_start().splitn(2, '\n');
    let live = parts
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|name| {
            let rec: serde_json::Value = parts
                .next()
                .and_then(|r| serde_json::from_str(r.trim()).ok())
                .unwrap_or_default();
            let f = |k: &str| rec[k].as_str().unwrap_or_default().to_string();
            LiveRelease {
                release: name.to_string(),
                version: Some(f("version"))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| name.to_string()),
                git_sha: f("git_sha"),
                deployed_by: f("deployed_by"),
                created_at: f("created_at"),
            }
        });
    let lock = lock.trim();
    let holder = (!lock.is_empty()).then(|| {
        serde_json::from_str::<serde_json::Value>(lock)
            .ok()
            .and_then(|h| h["who"].as_str().map(str::to_string))
            .unwrap_or_else(|| "held".into())
    });
    (live, holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_script_reads_release_and_lock() {
        let sh = state_script("hello", "staging").to_shell();
        assert!(
            sh.contains("\"$HOME\"/.arcane/hello/staging/current"),
            "{sh}"
        );
        assert!(sh.contains("/lock/holder.json"), "{sh}");
        let out = "abc-r2\n{\"version\":\"abc\",\"git_sha\":\"abcdef\",\"deployed_by\":\"me@x\"}\n\n@@arcane-lock@@\n{\"who\":\"bob@laptop\"}\n";
        let (live, lock) = parse_state(out);
        let live = live.unwrap();
        assert_eq!(
            (live.release.as_str(), live.version.as_str()),
            ("abc-r2", "abc")
        );
        assert_eq!(live.deployed_by, "me@x");
        assert_eq!(lock.as_deref(), Some("bob@laptop"));
        assert_eq!(parse_state("\n@@arcane-lock@@\n"), (None, None));
        assert_eq!(
            parse_state("v1\n\n@@arcane-lock@@\ngarbage").1.as_deref(),
            Some("held")
        );
        assert_eq!(
            parse_state("v1\n\n@@arcane-lock@@\n").0.unwrap().version,
            "v1"
        );
    }

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
}
