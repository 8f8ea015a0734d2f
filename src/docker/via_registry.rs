//! `--via registry`: `docker push` to the user's registry once, `docker
//! pull` on each server, retag to `<repo>:<version>`, check the image ID.
//! Passwords reach `docker login` on stdin only, into a throwaway client
//! config removed afterwards.

use super::argv;
use super::build::{short_id, BuiltImages};
use super::push::{remote_fail, remote_image_id, PushReport};
use super::DockerError;
use crate::event::Emitter;
use crate::remote::{Cmd, LocalTransport, Transport};
use std::time::Instant;

/// Where `--via registry` pushes: `<server>/<repo>:<tag>`.
pub fn registry_reference(registry: &str, local: &str) -> String {
    format!("{}/{local}", registry.trim_end_matches('/'))
}

/// Credentials for `docker login`, the password held as a secret.
pub struct RegistryLogin {
    pub username: String,
    pub password: secrecy::SecretString,
}

impl RegistryLogin {
    /// The login `[registry]` asks for: none without `username` and
    /// `password_key` (docker then uses the machine's own login), else the
    /// password from the environment variable `password_key` names. `Err`
    /// is a message for the user (bad input).
    pub fn from_config(reg: &crate::config::RegistryConfig) -> Result<Option<Self>, String> {
        let (Some(user), Some(key)) = (&reg.username, &reg.password_key) else {
            return Ok(None);
        };
        let password = std::env::var(key).map_err(|_| {
            format!(
                "[registry] password_key = {key:?} in arcane.toml, but the environment variable {key} is not set; export it so arcane can run `docker login`"
            )
        })?;
        Ok(Some(RegistryLogin {
            username: user.clone(),
            password: password.into(),
        }))
    }
}

/// A throwaway Docker client configuration on one machine, made for one
/// login: `docker login` stores the password (base64, not encrypted) in the
/// client config, so arcane logs in with `docker --config DIR` and removes
/// DIR afterwards instead of leaving the registry password in
/// `~/.docker/config.json` here and on every server.
struct LoginConfig<'a> {
    t: &'a dyn Transport,
    dir: String,
}

impl<'a> LoginConfig<'a> {
    fn create(t: &'a dyn Transport, em: &Emitter) -> Result<LoginConfig<'a>, DockerError> {
        // mktemp -d makes it 0700; config.json inside is 0600.
        let out = t.run(
            &Cmd::shell(r#"mktemp -d "${TMPDIR:-/tmp}/arcane-docker-XXXXXXXX""#),
            em,
        )?;
        let dir = out.stdout_str().trim().to_string();
        if !out.success() || !dir.starts_with('/') {
            return Err(remote_fail(
                t,
                "creating a temporary docker config directory",
                &out,
            ));
        }
        Ok(LoginConfig { t, dir })
    }

    /// `docker ARGS` -> `docker --config DIR ARGS`.
    fn docker(&self, mut words: Vec<String>) -> Vec<String> {
        words.splice(1..1, ["--config".to_string(), self.dir.clone()]);
        words
    }

    fn remove(self, em: &Emitter) {
        let out = self
            .t
            .run(&Cmd::argv(["rm", "-rf", "--", self.dir.as_str()]), em);
        if !out.as_ref().is_ok_and(|o| o.success()) {
            em.warn(format!(
                "{}: could not remove the temporary docker config {} (it holds the registry login); remove it by hand",
                self.t.name(),
                self.dir
            ));
        }
    }
}

/// `docker login` on a transport, password through stdin, into a fresh
/// [`LoginConfig`] (returned; the caller removes it when done).
fn login<'a>(
    t: &'a dyn Transport,
    server: &str,
    l: &RegistryLogin,
    em: &Emitter,
) -> Result<LoginConfig<'a>, DockerError> {
    use secrecy::ExposeSecret;
    em.redactor().add(l.password.expose_secret());
    let host = server.split('/').next().unwrap_or(server);
    let cfg = LoginConfig::create(t, em)?;
    let cmd = Cmd::argv(cfg.docker(argv::login(host, &l.username)))
        .with_stdin(l.password.expose_secret().as_bytes().to_vec());
    let out = match t.run(&cmd, em) {
        Ok(o) => o,
        Err(e) => {
            cfg.remove(em);
            return Err(e.into());
        }
    };
    if !out.success() {
        cfg.remove(em);
        return Err(DockerError::Failed(format!(
            "{}: docker login to {host} as {:?} failed (exit {}): {}; check [registry] in arcane.toml (server, username) and the password in the variable its password_key names",
            t.name(),
            l.username,
            out.status,
            out.stderr_str().trim()
        )));
    }
    Ok(cfg)
}

/// `docker ARGS`, through the login's config when there is one.
fn docker_argv(cfg: Option<&LoginConfig>, words: Vec<String>) -> Vec<String> {
    match cfg {
        Some(c) => c.docker(words),
        None => words,
    }
}

/// `--via registry`, local half: push every image to `registry`.
pub fn registry_push(
    registry: &str,
    login_with: Option<&RegistryLogin>,
    built: &BuiltImages,
    em: &Emitter,
) -> Result<(), DockerError> {
    let local = LocalTransport::new("local");
    let cfg = login_with
        .map(|l| login(&local, registry, l, em))
        .transpose()?;
    let res = (|| {
        for img in &built.images {
            let remote = registry_reference(registry, &img.tag);
            let step = format!("registry push {}", img.service);
            em.step_started(&step);
            let out = local.run(&Cmd::argv(argv::tag(&img.tag, &remote)), em)?;
            if !out.success() {
                let e = remote_fail(&local, "docker tag", &out);
                em.step_finished(&step, false, Some(e.to_string()));
                return Err(e);
            }
            let status = local.stream(
                &Cmd::argv(docker_argv(cfg.as_ref(), argv::push(&remote))),
                em,
                &|| false,
            )?;
            em.step_finished(&step, status == 0, Some(remote.clone()));
            if status != 0 {
                return Err(DockerError::Failed(format!(
                    "docker push {remote} failed (exit {status}); check [registry] in arcane.toml and your credentials"
                )));
            }
        }
        Ok(())
    })();
    if let Some(c) = cfg {
        c.remove(em);
    }
    res
}

/// `--via registry`, server half: pull from the registry, retag, verify.
pub fn registry_pull(
    t: &dyn Transport,
    registry: &str,
    login_with: Option<&RegistryLogin>,
    built: &BuiltImages,
    em: &Emitter,
) -> Result<PushReport, DockerError> {
    let start = Instant::now();
    em.step_started("pull");
    let res = (|| -> Result<PushReport, DockerError> {
        let cfg = login_with.map(|l| login(t, registry, l, em)).transpose()?;
        let pulled = (|| -> Result<Vec<(String, String)>, DockerError> {
            let mut images = vec![];
            for img in &built.images {
                let remote = registry_reference(registry, &img.tag);
                let out = t.run(
                    &Cmd::argv(docker_argv(cfg.as_ref(), argv::pull(&remote))),
                    em,
                )?;
                if !out.success() {
                    return Err(remote_fail(t, &format!("docker pull {remote}"), &out));
                }
                let out = t.run(&Cmd::argv(argv::tag(&remote, &img.tag)), em)?;
                if !out.success() {
                    return Err(remote_fail(t, "docker tag", &out));
                }
                // The registry name was only the way in: the server keeps
                // `<repo>:<version>`, as with `--via ssh`.
                let _ = t.run(&Cmd::argv(argv::rmi(std::slice::from_ref(&remote))), em)?;
                match remote_image_id(t, &img.tag, em)? {
                    Some(id) if id == img.id => images.push((img.tag.clone(), id)),
                    other => {
                        return Err(DockerError::Failed(format!(
                            "{}: pulled {} has ID {}, expected {}",
                            t.name(),
                            img.tag,
                            other.as_deref().map(short_id).unwrap_or("none"),
                            short_id(&img.id)
                        )))
                    }
                }
            }
            Ok(images)
        })();
        if let Some(c) = cfg {
            c.remove(em);
        }
        Ok(PushReport {
            server: t.name().to_string(),
            bytes_sent: 0,
            bytes_missing_estimate: 0,
            already_present: vec![],
            images: pulled?,
            elapsed_ms: start.elapsed().as_millis() as u64,
        })
    })();
    em.step_finished(
        "pull",
        res.is_ok(),
        res.as_ref().err().map(|e| e.to_string()),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_config_goes_right_after_docker() {
        let local = LocalTransport::new("local");
        let cfg = LoginConfig {
            t: &local,
            dir: "/tmp/arcane-docker-x".into(),
        };
        assert_eq!(
            docker_argv(Some(&cfg), argv::pull("r/a:1")),
            [
                "docker",
                "--config",
                "/tmp/arcane-docker-x",
                "pull",
                "r/a:1"
            ]
        );
        assert_eq!(
            docker_argv(None, argv::pull("r/a:1")),
            ["docker", "pull", "r/a:1"]
        );
    }

    #[test]
    fn registry_names() {
        assert_eq!(
            registry_reference("reg.example.com/team/", "web:abc"),
            "reg.example.com/team/web:abc"
        );
    }
}
