//! Connecting to a server and reading, in one round trip, what is deployed
//! there for this app+env: home, live release, release records, containers
//! and which compose CLI it has.

use super::{remaining, short, Shared};
use crate::config::{Project, Server};
use crate::deploy::deps;
use crate::deploy::layout::{self, Layout};
use crate::deploy::release::{Release, Runtime};
use crate::deploy::DeployError;
use crate::docker::argv::{self, Container};
use crate::docker::compose::{self, ComposeCli};
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::sync::Arc;
use std::time::Duration;

/// What is on the server for this app+env, read in one round trip.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub home: String,
    pub current: Option<String>,
    pub releases: Vec<Release>,
    /// The app's containers (app, accessories, hook runs), stopped ones too.
    pub containers: Vec<Container>,
    pub compose: Option<ComposeCli>,
}

fn facts_script(app: &str, env: &str, want_compose: bool) -> String {
    let ps = argv::sh(&argv::ps_app(app, env, None, true));
    let mut s = format!(
        "echo \"HOME=$HOME\"; d={root}; echo \"CURRENT=$(cat \"$d/{current}\" 2>/dev/null)\"; \
         for f in \"$d\"/{releases}/*/{json}; do [ -f \"$f\" ] && {{ echo '--RELEASE--'; cat \"$f\"; echo; }}; done; \
         echo '--PS--'; {ps} 2>/dev/null",
        root = layout::shell_root(app, env),
        current = layout::CURRENT,
        releases = layout::RELEASES,
        json = layout::RELEASE_JSON,
    );
    if want_compose {
        s.push_str("; echo '--COMPOSE--'; ");
        s.push_str(&compose::detect_script(false));
    }
    s
}

fn parse_facts(out: &str) -> Facts {
    let mut f = Facts::default();
    let mut section = "";
    let mut buf = String::new();
    let flush = |buf: &mut String, f: &mut Facts| {
        if let Ok(r) = serde_json::from_str::<Release>(buf.trim()) {
            f.releases.push(r);
        }
        buf.clear();
    };
    for line in out.lines() {
        match line {
            "--RELEASE--" => {
                flush(&mut buf, &mut f);
                section = "release";
                continue;
            }
            "--PS--" => {
                flush(&mut buf, &mut f);
                section = "ps";
                continue;
            }
            "--COMPOSE--" => {
                section = "compose";
                continue;
            }
            _ => {}
        }
        match section {
            "" => {
                if let Some(h) = line.strip_prefix("HOME=") {
                    f.home = h.to_string();
                } else if let Some(c) = line.strip_prefix("CURRENT=") {
                    f.current = Some(c.trim().to_string()).filter(|c| !c.is_empty());
                }
            }
            "release" => {
                buf.push_str(line);
                buf.push('\n');
            }
            "ps" => f.containers.extend(argv::parse_ps(line)),
            "compose" => f.compose = compose::parse_detect(line).map(|d| d.cli),
            _ => {}
        }
    }
    flush(&mut buf, &mut f);
    f
}

/// A connected server with what is deployed on it.
pub(crate) struct Session {
    pub server: Server,
    pub t: Arc<dyn Transport>,
    pub layout: Layout,
    pub facts: Facts,
    app: String,
    env: String,
    want_compose: bool,
}

impl Session {
    pub fn open(
        project: &Project,
        access: &deps::Access,
        server: &Server,
        env: &str,
        want_compose: bool,
        em: &Emitter,
    ) -> Result<Session, DeployError> {
        let mut s = Session::connect(project, access, server, env, want_compose, em)?;
        s.refresh(em)?;
        Ok(s)
    }

    /// Connected, but nothing read yet: the deploy reads the facts in the
    /// lock's round trip ([`Session::facts_script`], [`Session::apply_facts`]).
    pub fn connect(
        project: &Project,
        access: &deps::Access,
        server: &Server,
        env: &str,
        want_compose: bool,
        em: &Emitter,
    ) -> Result<Session, DeployError> {
        let t = deps::connect(server, access, em)?;
        Ok(Session::with_transport(
            project,
            server,
            env,
            want_compose,
            t,
        ))
    }

    /// A session over a transport the caller opened (tests drive the
    /// whole deploy through a scripted one).
    pub fn with_transport(
        project: &Project,
        server: &Server,
        env: &str,
        want_compose: bool,
        t: Arc<dyn Transport>,
    ) -> Session {
        let app = project.app_name();
        Session {
            server: server.clone(),
            t,
            layout: Layout::new("/", app, env),
            facts: Facts::default(),
            app: app.into(),
            env: env.into(),
            want_compose,
        }
    }

    /// The lock directory before the home directory is known:
    /// `~/.arcane/<app>/<env>/lock` (the lock scripts expand `~`).
    pub fn lock_dir(&self) -> String {
        if self.facts.home.is_empty() {
            Layout::tilde(&self.app, &self.env).lock_dir()
        } else {
            self.layout.lock_dir()
        }
    }

    pub fn facts_script(&self) -> String {
        facts_script(&self.app, &self.env, self.want_compose)
    }

    pub fn refresh(&mut self, em: &Emitter) -> Result<(), DeployError> {
        let out = self
            .t
            .run(
                &Cmd::shell(self.facts_script()).with_timeout(Duration::from_secs(60)),
                em,
            )
            .map_err(DeployError::remote)?;
        self.apply_facts(&out.stdout_str(), &out.stderr_str())
    }

    /// Take what [`Session::facts_script`] printed.
    pub fn apply_facts(&mut self, stdout: &str, stderr: &str) -> Result<(), DeployError> {
        let facts = parse_facts(stdout);
        if facts.home.is_empty() {
            return Err(DeployError::failed(format!(
                "{}: could not read the server's home directory: {}",
                self.server.name,
                stderr.trim()
            )));
        }
        self.layout = Layout::new(&facts.home, &self.app, &self.env);
        self.facts = facts;
        Ok(())
    }

    pub fn live_release(&self) -> Option<&Release> {
        let cur = self.facts.current.as_deref()?;
        self.facts.releases.iter().find(|r| r.release == cur)
    }

    /// App containers (not accessories, not hook runs) of other releases
    /// that are up: the ones serving now.
    pub(super) fn serving_except(&self, release: &str) -> Vec<String> {
        self.facts
            .containers
            .iter()
            .filter(|c| {
                !c.service.is_empty()
                    && c.accessory.is_empty()
                    && c.release != release
                    && !c.name.ends_with(CHECK_SUFFIX)
                    && c.up()
            })
            .map(|c| c.name.clone())
            .collect()
    }

    pub(super) fn run_ok(
        &self,
        argv: Vec<String>,
        sh: &Shared,
        em: &Emitter,
    ) -> Result<String, DeployError> {
        self.run_cmd(Cmd::argv(argv), sh, em)
    }

    /// Run with the time left in the deploy as timeout; non-zero exit is an error.
    pub(super) fn run_cmd(
        &self,
        cmd: Cmd,
        sh: &Shared,
        em: &Emitter,
    ) -> Result<String, DeployError> {
        let left = remaining(sh)?;
        let cmd = cmd.with_timeout(left);
        let out = self.t.run(&cmd, em).map_err(DeployError::remote)?;
        if !out.success() {
            let err = out.stderr_str();
            let err = err.trim();
            return Err(DeployError::failed(format!(
                "`{}` failed (exit {}): {}",
                short(&cmd.to_shell()),
                out.status,
                if err.is_empty() {
                    out.stdout_str()
                } else {
                    err.to_string()
                }
                .trim()
            )));
        }
        Ok(out.stdout_str())
    }
}

/// The health-check candidate of an image-mode release is its container's
/// name with this suffix.
pub(super) const CHECK_SUFFIX: &str = "-check";

pub(super) fn release_running(sess: &Session, r: &Release) -> bool {
    match &r.runtime {
        Runtime::Image { spec, .. } => sess
            .facts
            .containers
            .iter()
            .any(|c| c.name == spec.name && c.state == "running"),
        Runtime::Compose { .. } => sess
            .facts
            .containers
            .iter()
            .any(|c| c.state == "running" && c.accessory.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_parse_releases_ps_and_compose() {
        let r = serde_json::json!({
            "app":"a","env":"staging","release":"abc","version":"abc","git_sha":"abcdef",
            "created_at":"2026-01-01T00:00:00Z","created_unix":1,"deployed_by":"me@x",
            "images":{"web":"a:abc"},"image_ids":{"web":"sha256:1"},"env_digest":"d","env_keys":{},
            "runtime":{"mode":"image","spec":{"name":"a-staging-web-abc","image":"a:abc","env_file":"/h/.env","network":"a-staging","publish":"8080:8080","labels":{"app":"a","env":"staging","service":"web","version":"abc","release":"abc"}},"port":8080},
            "status":"live"
        });
        let out = format!(
            "HOME=/root\nCURRENT=abc\n--RELEASE--\n{}\n\n--PS--\n\
             1\ta-staging-web-abc\ta:abc\trunning\tUp\tweb\tabc\tabc\t\t\n\
             2\ta-staging-db\tpg\trunning\tUp\t\t\t\tdb\t\n--COMPOSE--\nv1\n",
            serde_json::to_string_pretty(&r).unwrap()
        );
        let f = parse_facts(&out);
        assert_eq!(f.home, "/root");
        assert_eq!(f.current.as_deref(), Some("abc"));
        assert_eq!(f.releases.len(), 1);
        assert_eq!(f.containers.len(), 2);
        assert_eq!(f.containers[0].release, "abc");
        assert_eq!(f.containers[1].accessory, "db");
        assert_eq!(f.compose, Some(ComposeCli::V1));
        let f = parse_facts("HOME=/home/x\nCURRENT=\n--PS--\n");
        assert_eq!(f.current, None);
        assert!(f.releases.is_empty());
    }

    #[test]
    fn facts_script_quotes_and_detects_compose_only_when_asked() {
        let s = facts_script("hello", "staging", false);
        assert!(s.contains("d=\"$HOME\"/.arcane/hello/staging;"), "{s}");
        assert!(s.contains(&argv::sh(&argv::ps_app("hello", "staging", None, true))));
        assert!(!s.contains("--COMPOSE--"));
        assert!(facts_script("hello", "staging", true).ends_with(&compose::detect_script(false)));
    }
}
