//! Containers: run and create (app, hook, accessory, smoke test), start,
//! stop, remove, logs, exec, inspect and ps, with the parsers of what
//! inspect and ps print.

use super::{sh, words as s};
use crate::deploy::layout::{
    self, Labels, COMPOSE_SERVICE, LABEL_ACCESSORY, LABEL_APP, LABEL_ENV, LABEL_HOOK,
    LABEL_RELEASE, LABEL_SERVICE, LABEL_SMOKE, LABEL_VERSION,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one single-image app container is run. Stored in `release.json`, so
/// a rollback re-creates exactly what was deployed, not what the config says
/// now: the field names are fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Container name, `<app>-<env>-<service>-<release>`.
    pub name: String,
    pub image: String,
    /// Absolute path of the 0600 env file on the server.
    pub env_file: String,
    /// The docker network the container joins.
    pub network: String,
    /// `-p` value (e.g. `8080:8080`) when the app is published without a proxy.
    pub publish: Option<String>,
    pub labels: Labels,
    /// Networks joined after `network`: behind the proxy the app lives on
    /// the proxy's network (`arcane`) and also joins `<app>-<env>`, where its
    /// accessories are. Empty (and absent from older `release.json`) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

/// Whether a container is started at once or left created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Run,
    Create,
}

/// `docker run -d` (or `docker create`) for an app container. `publish`
/// overrides the spec's port: the health-check candidate runs unpublished.
pub fn container(verb: Verb, spec: &RunSpec, name: &str, publish: Option<&str>) -> Vec<String> {
    let mut a = match verb {
        Verb::Run => s(&["docker", "run", "-d"]),
        Verb::Create => s(&["docker", "create"]),
    };
    a.extend(["--name".into(), name.to_string()]);
    a.extend(spec.labels.args());
    a.extend(["--env-file".into(), spec.env_file.clone()]);
    a.extend(s(&["--restart", "unless-stopped"]));
    a.extend(["--network".into(), spec.network.clone()]);
    if let Some(p) = publish {
        a.extend(["-p".into(), p.to_string()]);
    }
    a.push(spec.image.clone());
    a
}

/// The shell line that brings an app container up (`Run`) or leaves it
/// created (`Create`), on all its networks. `docker run` joins one network
/// on every docker version; further ones are joined between create and
/// start, so the app never runs without reaching its accessories.
pub fn container_line(verb: Verb, spec: &RunSpec, name: &str, publish: Option<&str>) -> String {
    if spec.also.is_empty() {
        return sh(&container(verb, spec, name, publish)) + " >/dev/null";
    }
    let create = container(Verb::Create, spec, name, publish);
    let mut parts = created_on(create, &spec.also, name);
    if verb == Verb::Run {
        parts.push(format!("{} >/dev/null", sh(&start(&[name.to_string()]))));
    }
    parts.join(" && ")
}

/// `docker create` (`create`, an argv), then `docker network connect` to
/// each of `also`: the container exists, on all its networks, not started.
fn created_on(create: Vec<String>, also: &[String], name: &str) -> Vec<String> {
    std::iter::once(create)
        .chain(also.iter().map(|n| super::network_connect(n, name)))
        .map(|a| format!("{} >/dev/null", sh(&a)))
        .collect()
}

/// A one-off container of the new image with the new env (pre/post-deploy hooks).
pub fn hook_run(
    image: &str,
    env_file: &str,
    network: &str,
    name: &str,
    labels: &Labels,
    command: &str,
) -> Vec<String> {
    let mut a = s(&["docker", "run", "--rm", "--name", name]);
    a.extend(labels.args());
    a.extend(["--label".into(), layout::label(LABEL_HOOK, "1")]);
    a.extend(["--env-file".into(), env_file.into()]);
    a.extend(["--network".into(), network.into()]);
    a.extend([image.into(), "sh".into(), "-c".into(), command.into()]);
    a
}

/// A hook container that also joins `also` before it starts: `hook_run`
/// turned into `create`, `network connect`, then `start -a` (which streams
/// its output and exits with its status; `--rm` still removes it).
pub fn hook_line(mut run: Vec<String>, also: &[String], name: &str) -> String {
    if let Some(verb) = run.get_mut(1) {
        *verb = "create".into();
    }
    let mut parts = created_on(run, also, name);
    // `exec`: a timeout or cancel kills the shell, which must then be the
    // attached docker client itself, not its parent.
    parts.push(format!("exec {}", sh(&s(&["docker", "start", "-a", name]))));
    parts.join(" && ")
}

/// An accessory: a long-lived container app deploys never touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessorySpec {
    pub name: String,
    pub app: String,
    pub env: String,
    pub accessory: String,
    pub image: String,
    pub env_file: Option<String>,
    pub network: String,
    pub volumes: Vec<String>,
    pub ports: Vec<String>,
    pub cmd: Vec<String>,
}

pub fn accessory_run(a: &AccessorySpec) -> Vec<String> {
    let mut v = s(&["docker", "run", "-d", "--name"]);
    v.push(a.name.clone());
    for (k, val) in [
        (LABEL_APP, &a.app),
        (LABEL_ENV, &a.env),
        (LABEL_ACCESSORY, &a.accessory),
    ] {
        v.extend(["--label".into(), layout::label(k, val)]);
    }
    if let Some(f) = &a.env_file {
        v.extend(["--env-file".into(), f.clone()]);
    }
    v.extend(s(&["--restart", "unless-stopped"]));
    v.extend(["--network".into(), a.network.clone()]);
    // Apps on the network reach it by its short name (`db`) as well as by
    // its container name; the network is per app+env, so `db` is unambiguous.
    v.extend(["--network-alias".into(), a.accessory.clone()]);
    for vol in &a.volumes {
        v.extend(["-v".into(), vol.clone()]);
    }
    for p in &a.ports {
        v.extend(["-p".into(), p.clone()]);
    }
    v.push(a.image.clone());
    v.extend(a.cmd.iter().cloned());
    v
}

/// Split an accessory `cmd` string into words (whitespace, with simple
/// single/double quotes), so it runs without needing a shell in the image.
pub fn split_words(cmd: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut has = false;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The local smoke-test container, detached, publishing `port` on a random
/// port of 127.0.0.1 only (nothing is exposed beyond this machine). `owner`
/// is the smoke label's value, so a leftover can be traced to its run.
pub fn smoke_run(
    name: &str,
    owner: &str,
    image: &str,
    port: u16,
    env: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut a = s(&[
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--label",
        &layout::label(LABEL_SMOKE, owner),
        "-p",
        &format!("127.0.0.1::{port}"),
    ]);
    // Values are passed by name only (`-e KEY`), read from docker's own
    // environment, so they never appear in argv or the command log.
    for k in env.keys() {
        a.push("-e".into());
        a.push(k.clone());
    }
    a.push(image.into());
    a
}

/// The host address `port/tcp` of container `name` is published on.
pub fn port(name: &str, port: u16) -> Vec<String> {
    s(&["docker", "port", name, &format!("{port}/tcp")])
}

pub fn start(names: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "start"]);
    a.extend(names.iter().cloned());
    a
}

/// Stop, giving each container `grace_secs` after SIGTERM.
pub fn stop(names: &[String], grace_secs: u64) -> Vec<String> {
    let mut a = s(&["docker", "stop", "-t"]);
    a.push(grace_secs.to_string());
    a.extend(names.iter().cloned());
    a
}

/// Remove containers whatever their state.
pub fn rm_force(names: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "rm", "-f"]);
    a.extend(names.iter().cloned());
    a
}

/// The last `tail` lines of a container's output, and what follows with `follow`.
pub fn logs(name: &str, tail: usize, follow: bool) -> Vec<String> {
    let mut a = s(&["docker", "logs", "--tail", &tail.to_string()]);
    if follow {
        a.push("--follow".into());
    }
    a.push(name.into());
    a
}

/// Run `cmd` in a running container (no TTY: output and exit code come
/// back); with `stdin`, the command's stdin is the container process's.
pub fn exec(name: &str, stdin: bool, cmd: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "exec"]);
    if stdin {
        a.push("-i".into());
    }
    a.push(name.into());
    a.extend(cmd.iter().cloned());
    a
}

/// One line per container: name, state, health, IPs, exit code, image ID,
/// restart count (see [`parse_inspect`]).
pub const INSPECT_FORMAT: &str = "{{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}|{{.State.ExitCode}}|{{.Image}}|{{.RestartCount}}";

/// [`INSPECT_FORMAT`] of each container; exit 1 and "No such container"
/// on stderr when one does not exist.
pub fn inspect(names: &[String]) -> Vec<String> {
    inspect_format(names, INSPECT_FORMAT)
}

/// `docker inspect` of containers only (never an image or network that
/// happens to have the name), with a caller's format.
pub fn inspect_format(names: &[String], format: &str) -> Vec<String> {
    let mut a = s(&["docker", "inspect", "--type", "container", "-f", format]);
    a.extend(names.iter().cloned());
    a
}

/// One line of `docker inspect` with [`INSPECT_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    /// created, running, restarting, exited, paused, dead.
    pub status: String,
    /// Docker HEALTHCHECK status, empty without one.
    pub health: String,
    pub ips: Vec<String>,
    pub exit_code: i32,
    pub image_id: String,
    /// Times Docker restarted it (its restart policy after a crash).
    pub restarts: u64,
}

impl ContainerState {
    /// It stopped for good (docker will not restart it by itself).
    pub fn ended(&self) -> bool {
        matches!(self.status.as_str(), "exited" | "dead")
    }
}

pub fn parse_inspect(out: &str) -> Vec<ContainerState> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("").trim().to_string();
            ContainerState {
                name: get(0).trim_start_matches('/').to_string(),
                status: get(1),
                health: get(2),
                ips: get(3).split_whitespace().map(String::from).collect(),
                exit_code: get(4).parse().unwrap_or(0),
                image_id: get(5),
                restarts: get(6).parse().unwrap_or(0),
            }
        })
        .collect()
}

/// Whether inspect's stderr says the container does not exist.
pub fn no_such_container(stderr: &str) -> bool {
    stderr.contains("No such")
}

/// The fields `docker ps` prints for [`parse_ps`], tab-separated (labels
/// never hold tabs).
pub fn ps_fields() -> String {
    let mut f = String::from("{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Status}}");
    for l in [
        LABEL_SERVICE,
        LABEL_VERSION,
        LABEL_RELEASE,
        LABEL_ACCESSORY,
        COMPOSE_SERVICE,
    ] {
        f.push_str(&format!("\t{{{{.Label \"{l}\"}}}}"));
    }
    f
}

/// `docker ps` of the containers carrying every label of `filters`
/// (`key=value`; an empty value: the key with any value), stopped ones too
/// with `all`, printed for [`parse_ps`].
pub fn ps(filters: &[(&str, &str)], all: bool) -> Vec<String> {
    ps_with(filters, all, &ps_fields())
}

/// [`ps`] with a caller's format.
pub fn ps_with(filters: &[(&str, &str)], all: bool, format: &str) -> Vec<String> {
    let mut a = s(&["docker", "ps"]);
    if all {
        a.push("-a".into());
    }
    a.push("--no-trunc".into());
    for (k, v) in filters {
        a.push("--filter".into());
        a.push(if v.is_empty() {
            format!("label={k}")
        } else {
            format!("label={}", layout::label(k, v))
        });
    }
    a.push("--format".into());
    a.push(format.into());
    a
}

/// `docker ps` of an app's containers in `env` (accessories and hook runs
/// included), optionally of one service.
pub fn ps_app(app: &str, env: &str, service: Option<&str>, all: bool) -> Vec<String> {
    let mut f = vec![(LABEL_APP, app), (LABEL_ENV, env)];
    if let Some(svc) = service {
        f.push((LABEL_SERVICE, svc));
    }
    ps(&f, all)
}

/// One container as `docker ps` (or the API's container list) reports it:
/// the same data `status` and `ps` report.
pub use crate::event::report::Container;

/// Parse [`ps`]'s output; lines that do not fit are skipped.
pub fn parse_ps(out: &str) -> Vec<Container> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 7 {
                return None;
            }
            let get = |i: usize| f.get(i).copied().unwrap_or_default().to_string();
            Some(Container {
                id: get(0),
                name: get(1),
                image: get(2),
                state: get(3),
                status: get(4),
                service: get(5),
                version: get(6),
                release: get(7),
                accessory: get(8),
                compose_service: get(9),
                health: health_of(f[4]).into(),
            })
        })
        .collect()
}

/// Docker shows health only inside the status text.
pub fn health_of(status: &str) -> &'static str {
    if status.contains("(healthy)") {
        "healthy"
    } else if status.contains("(unhealthy)") {
        "unhealthy"
    } else if status.contains("(health: starting)") {
        "starting"
    } else {
        "none"
    }
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
