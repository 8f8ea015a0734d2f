//! The semantic checks of `arcane.toml` that serde cannot express (names,
//! ranges, paths, cross-key rules), each error pointing at its key.

use super::locate::{Seg, TomlSource};
use super::project::{is_valid_name, named_volume, ProjectConfig, MAX_HEALTH_SECS};
use super::ConfigError;

/// A docker volume name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn is_volume_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
}

fn grace_ok(g: f64) -> bool {
    (0.0..=MAX_HEALTH_SECS).contains(&g)
}

impl ProjectConfig {
    /// Semantic checks serde cannot express, each pointing at its key in
    /// `src` (the text this config was parsed from).
    pub fn validate(&self, src: &TomlSource) -> Vec<ConfigError> {
        use Seg::{Index, Key};
        let mut errs = vec![];
        if !is_valid_name(&self.app.name) {
            errs.push(
                src.error(
                    &[Key("app"), Key("name")],
                    format!("[app] name {:?} is not a valid name", self.app.name),
                )
                .with_help(
                    "use lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters (it names containers and images)",
                ),
            );
        }
        if self.build.compose.is_some()
            && (self.build.dockerfile.is_some() || self.build.context.is_some())
        {
            errs.push(
                src.error(
                    &[Key("build"), Key("compose")],
                    "[build] sets `compose` together with `dockerfile`/`context`; choose one mode",
                )
                .with_help("in compose mode the compose file names each service's build context"),
            );
        }
        if self.health.timeout == 0 {
            errs.push(src.error(
                &[Key("health"), Key("timeout")],
                "[health] timeout must be at least 1 second",
            ));
        }
        // Seconds are turned into durations: NaN, infinite or absurd values
        // would panic or overflow there, so they stop here.
        if !(self.health.interval > 0.0 && self.health.interval <= MAX_HEALTH_SECS) {
            errs.push(src.error(
                &[Key("health"), Key("interval")],
                format!("[health] interval must be greater than 0 and at most {MAX_HEALTH_SECS} seconds"),
            ));
        }
        if !grace_ok(self.health.grace) {
            errs.push(src.error(
                &[Key("health"), Key("grace")],
                format!("[health] grace cannot be negative or more than {MAX_HEALTH_SECS} seconds"),
            ));
        }
        for (name, s) in &self.health.services {
            if s.grace.is_some_and(|g| !grace_ok(g)) {
                errs.push(src.error(
                    &[Key("health"), Key("services"), Key(name), Key("grace")],
                    format!(
                        "[health.services.{name}] grace cannot be negative or more than {MAX_HEALTH_SECS} seconds"
                    ),
                ));
            }
        }
        if self.health.healthy_threshold == 0 {
            errs.push(src.error(
                &[Key("health"), Key("healthy_threshold")],
                "[health] healthy_threshold must be at least 1",
            ));
        }
        if !self.health.path.starts_with('/') {
            errs.push(src.error(
                &[Key("health"), Key("path")],
                format!("[health] path {:?} must start with '/'", self.health.path),
            ));
        }
        if self.health.port == Some(0) {
            errs.push(
                src.error(&[Key("health"), Key("port")], "[health] port cannot be 0")
                    .with_help("a port is a whole number from 1 to 65535"),
            );
        }
        if self.deploy.keep_releases == 0 {
            errs.push(src.error(
                &[Key("deploy"), Key("keep_releases")],
                "[deploy] keep_releases must be at least 1 (the live release is kept)",
            ));
        }
        errs.extend(super::publish::validate(self, src));
        if self.deploy.timeout == 0 {
            errs.push(src.error(
                &[Key("deploy"), Key("timeout")],
                "[deploy] timeout must be at least 1 second",
            ));
        }
        if let Some(p) = &self.proxy {
            if p.hosts.is_empty() {
                errs.push(src.error(
                    &[Key("proxy"), Key("hosts")],
                    "[proxy] hosts must name at least one domain",
                ));
            }
            for (i, h) in p.hosts.iter().enumerate() {
                if h.trim().is_empty() || h.contains(['/', ' ', ':']) {
                    errs.push(
                        src.error(
                            &[Key("proxy"), Key("hosts"), Index(i)],
                            format!("[proxy] host {h:?} is not a domain name"),
                        )
                        .with_help("write the bare domain, e.g. \"app.example.com\" (no scheme, path or port)"),
                    );
                }
            }
            if p.app_port == 0 {
                errs.push(
                    src.error(
                        &[Key("proxy"), Key("app_port")],
                        "[proxy] app_port cannot be 0",
                    )
                    .with_help("a port is a whole number from 1 to 65535"),
                );
            }
            if p.health_path
                .as_deref()
                .is_some_and(|h| !h.starts_with('/'))
            {
                errs.push(src.error(
                    &[Key("proxy"), Key("health_path")],
                    "[proxy] health_path must start with '/'",
                ));
            }
        }
        for (phase, hooks) in [
            ("pre_deploy", &self.hooks.pre_deploy),
            ("post_deploy", &self.hooks.post_deploy),
        ] {
            for (i, h) in hooks.iter().enumerate() {
                if h.command.trim().is_empty() {
                    errs.push(src.error(
                        &[Key("hooks"), Key(phase), Index(i), Key("command")],
                        format!("[[hooks.{phase}]] command is empty"),
                    ));
                }
            }
        }
        for (name, a) in &self.accessories {
            if !is_valid_name(name) || *name == self.app.name {
                errs.push(
                    src.error(
                        &[Key("accessories"), Key(name)],
                        format!("accessory name {name:?} is not valid"),
                    )
                    .with_help("use lowercase letters, digits, '-' and '_', and a name other than the app's"),
                );
            }
            if a.image.trim().is_empty() {
                errs.push(src.error(
                    &[Key("accessories"), Key(name), Key("image")],
                    format!("accessory {name:?} has an empty image"),
                ));
            }
            for (i, v) in a.volumes.iter().enumerate() {
                let Some(src_name) = named_volume(v) else {
                    continue;
                };
                // `{app}`/`{env}` become names of `[a-z0-9_-]`; anything else
                // (a typo like `{evn}`) would only fail at boot.
                let expanded = src_name.replace("{app}", "a").replace("{env}", "e");
                if !is_volume_name(&expanded) {
                    errs.push(
                        src.error(
                            &[Key("accessories"), Key(name), Key("volumes"), Index(i)],
                            format!("accessory {name:?}: {src_name:?} is not a valid volume name"),
                        )
                        .with_help("letters, digits, '_', '.' and '-', starting with a letter or digit; {app} and {env} are replaced"),
                    );
                }
            }
            for (i, k) in a.env.iter().enumerate() {
                if !super::envfile::is_valid_key(k) {
                    errs.push(src.error(
                        &[Key("accessories"), Key(name), Key("env"), Index(i)],
                        format!("accessory {name:?}: {k:?} is not a valid env key name"),
                    ));
                }
            }
        }
        if let Some(r) = &self.registry {
            if r.server.trim().is_empty() {
                errs.push(src.error(
                    &[Key("registry"), Key("server")],
                    "[registry] server is empty",
                ));
            }
            if let Some(k) = &r.password_key {
                if !super::envfile::is_valid_key(k) {
                    errs.push(
                        src.error(
                            &[Key("registry"), Key("password_key")],
                            format!("[registry] password_key {k:?} is not an env key name"),
                        )
                        .with_help("name the env key that holds the password, e.g. REGISTRY_PASSWORD; never the password itself"),
                    );
                }
            }
        }
        if self.envs.as_ref().is_some_and(|m| m.is_empty()) {
            errs.push(
                src.error(&[Key("envs")], "[envs] declares no env")
                    .with_help("declare at least one, e.g. [envs.staging], or remove [envs] to get staging and production"),
            );
        }
        errs.extend(self.git.validate(src));
        for name in self.env_names() {
            if !is_valid_name(&name) || name == "base" || name.contains('.') {
                errs.push(
                    src.error(
                        &[Key("envs"), Key(&name)],
                        format!("[envs.{name}] is not a valid env name"),
                    )
                    .with_help("use lowercase letters, digits, '-' and '_'; \"base\" is reserved for keys shared by every env"),
                );
            }
        }
        errs.extend(self.notify.validate(src, &[Key("notify")]));
        errs.extend(self.bootstrap.validate(src));
        errs
    }
}
