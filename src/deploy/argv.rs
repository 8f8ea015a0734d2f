//! Pure builders for every docker / compose command line the deploy engine
//! runs. Nothing here touches a server: each function maps plain data to an
//! argv, and the unit tests below pin the exact words, so a reviewer can see
//! what runs on a production box without reading the engine.
//!
//! Secrets never appear here: containers get their env through `--env-file`
//! pointing at the 0600 file in the release directory.

use crate::remote::shell_quote;
use serde::{Deserialize, Serialize};

/// The labels every arcane container carries. They are how the engine finds
/// an app's containers again (`docker ps --filter label=...`) and what keeps
/// two apps, or two envs of one app, on the same server apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub app: String,
    pub env: String,
    pub service: String,
    pub version: String,
    pub release: String,
}

impl Labels {
    pub fn args(&self) -> Vec<String> {
        [
            ("arcane.app", &self.app),
            ("arcane.env", &self.env),
            ("arcane.service", &self.service),
            ("arcane.version", &self.version),
            ("arcane.release", &self.release),
        ]
        .iter()
        .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")])
        .collect()
    }
}

/// How one single-image container is run. Stored in `release.json`, so a
/// rollback re-creates exactly what was deployed, not what the config says now.
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

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `docker run -d` (or `docker create`) for an app container. `publish`
/// overrides the spec's port: the health-check candidate runs unpublished.
pub fn container(verb: &str, spec: &RunSpec, name: &str, publish: Option<&str>) -> Vec<String> {
    let mut a = s(&["docker", verb]);
    if verb == "run" {
        a.push("-d".into());
    }
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

/// The shell line that brings an app container up (`run`) or leaves it
/// created (`create`), on all its networks. `docker run` joins one network
/// on every docker version; further ones are joined between create and
/// start, so the app never runs without reaching its accessories.
pub fn container_line(verb: &str, spec: &RunSpec, name: &str, publish: Option<&str>) -> String {
    if spec.also.is_empty() {
        return sh(&container(verb, spec, name, publish)) + " >/dev/null";
    }
    let mut parts = created_on(container("create", spec, name, publish), &spec.also, name);
    if verb == "run" {
        parts.push(format!("{} >/dev/null", sh(&start(&[name.to_string()]))));
    }
    parts.join(" && ")
}

/// `docker create` (`create`, an argv), then `docker network connect` to
/// each of `also`: the container exists, on all its networks, not started.
fn created_on(create: Vec<String>, also: &[String], name: &str) -> Vec<String> {
    std::iter::once(create)
        .chain(
            also.iter()
                .map(|n| s(&["docker", "network", "connect", n, name])),
        )
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
    a.extend(["--label".into(), "arcane.hook=1".into()]);
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

pub fn start(names: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "start"]);
    a.extend(names.iter().cloned());
    a
}

pub fn stop(names: &[String], grace_secs: u64) -> Vec<String> {
    let mut a = s(&["docker", "stop", "-t"]);
    a.push(grace_secs.to_string());
    a.extend(names.iter().cloned());
    a
}

pub fn rm_force(names: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "rm", "-f"]);
    a.extend(names.iter().cloned());
    a
}

pub fn rmi(images: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "rmi"]);
    a.extend(images.iter().cloned());
    a
}

pub fn image_id(image: &str) -> Vec<String> {
    s(&["docker", "image", "inspect", "-f", "{{.Id}}", image])
}

/// One line per container: name, state, health, IPs, restart count.
pub const INSPECT_FORMAT: &str = "{{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}|{{.State.ExitCode}}|{{.Image}}|{{.RestartCount}}";

pub fn inspect(names: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "inspect", "-f", INSPECT_FORMAT]);
    a.extend(names.iter().cloned());
    a
}

/// Every container of one app+env (running or not), one per line.
pub const PS_FORMAT: &str = "{{.Names}}|{{.State}}|{{.Label \"arcane.service\"}}|{{.Label \"arcane.release\"}}|{{.Label \"arcane.accessory\"}}";

pub fn ps_app(app: &str, env: &str) -> Vec<String> {
    vec![
        "docker".into(),
        "ps".into(),
        "-a".into(),
        "--filter".into(),
        format!("label=arcane.app={app}"),
        "--filter".into(),
        format!("label=arcane.env={env}"),
        "--format".into(),
        PS_FORMAT.into(),
    ]
}

pub fn network_inspect(name: &str) -> Vec<String> {
    s(&["docker", "network", "inspect", "-f", "{{.Name}}", name])
}

pub fn network_create(name: &str, app: &str, env: &str) -> Vec<String> {
    vec![
        "docker".into(),
        "network".into(),
        "create".into(),
        "--label".into(),
        format!("arcane.app={app}"),
        "--label".into(),
        format!("arcane.env={env}"),
        name.into(),
    ]
}

pub fn logs_tail(name: &str, lines: u32) -> Vec<String> {
    vec![
        "docker".into(),
        "logs".into(),
        "--tail".into(),
        lines.to_string(),
        name.into(),
    ]
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
        ("arcane.app", &a.app),
        ("arcane.env", &a.env),
        ("arcane.accessory", &a.accessory),
    ] {
        v.extend(["--label".into(), format!("{k}={val}")]);
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

/// Which compose CLI a server has. Detected per server: v2 is a docker
/// plugin (`docker compose`), v1 a separate Python program (`docker-compose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComposeCli {
    V2,
    V1,
}

impl ComposeCli {
    pub fn prefix(self) -> Vec<String> {
        match self {
            ComposeCli::V2 => s(&["docker", "compose"]),
            ComposeCli::V1 => s(&["docker-compose"]),
        }
    }
}

/// `<compose> -p PROJECT -f A -f B` + `rest`.
pub fn compose(cli: ComposeCli, project: &str, files: &[String], rest: &[&str]) -> Vec<String> {
    let mut a = cli.prefix();
    a.extend(["-p".into(), project.into()]);
    for f in files {
        a.extend(["-f".into(), f.clone()]);
    }
    a.extend(rest.iter().map(|x| x.to_string()));
    a
}

/// Converge: only services whose config or image changed are recreated;
/// services removed from the file are removed. Never builds on the server.
pub fn compose_up(cli: ComposeCli, project: &str, files: &[String]) -> Vec<String> {
    compose(
        cli,
        project,
        files,
        &["up", "-d", "--remove-orphans", "--no-build"],
    )
}

/// Join an argv into one `sh` line (for `a || b` combinations).
pub fn sh(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            name: "hello-staging-web-abc1234".into(),
            image: "hello:abc1234".into(),
            env_file: "/root/.arcane/hello/staging/releases/abc1234/.env".into(),
            network: "hello-staging".into(),
            publish: Some("8080:8080".into()),
            labels: Labels {
                app: "hello".into(),
                env: "staging".into(),
                service: "web".into(),
                version: "abc1234".into(),
                release: "abc1234".into(),
            },
            also: vec![],
        }
    }

    #[test]
    fn container_line_joins_extra_networks_between_create_and_start() {
        let mut sp = spec();
        assert_eq!(
            container_line("run", &sp, "n", None),
            sh(&container("run", &sp, "n", None)) + " >/dev/null"
        );
        sp.network = "arcane".into();
        sp.also = vec!["hello-staging".into()];
        let run = container_line("run", &sp, "n", None);
        let create = sh(&container("create", &sp, "n", None));
        assert_eq!(
            run,
            format!(
                "{create} >/dev/null && docker network connect hello-staging n >/dev/null \
                 && docker start n >/dev/null"
            )
        );
        assert_eq!(
            container_line("create", &sp, "n", None),
            format!("{create} >/dev/null && docker network connect hello-staging n >/dev/null")
        );
    }

    #[test]
    fn hook_line_creates_connects_then_starts_attached() {
        let l = spec().labels;
        let run = hook_run("img:1", "/e", "arcane", "h-0", &l, "migrate");
        let line = hook_line(run.clone(), &["hello-staging".into()], "h-0");
        let mut create = run;
        create[1] = "create".into();
        assert_eq!(
            line,
            format!(
                "{} >/dev/null && docker network connect hello-staging h-0 >/dev/null \
                 && exec docker start -a h-0",
                sh(&create)
            )
        );
        assert!(line.starts_with("docker create --rm --name h-0"));
    }

    #[test]
    fn run_spec_without_also_reads_old_release_json() {
        let mut v = serde_json::to_value(spec()).unwrap();
        assert!(v.get("also").is_none(), "empty `also` is not written");
        v.as_object_mut().unwrap().remove("also");
        let back: RunSpec = serde_json::from_value(v).unwrap();
        assert_eq!(back, spec());
    }

    #[test]
    fn run_uses_env_file_labels_restart_and_port() {
        let sp = spec();
        assert_eq!(
            container("run", &sp, &sp.name, sp.publish.as_deref()).join(" "),
            "docker run -d --name hello-staging-web-abc1234 \
             --label arcane.app=hello --label arcane.env=staging --label arcane.service=web \
             --label arcane.version=abc1234 --label arcane.release=abc1234 \
             --env-file /root/.arcane/hello/staging/releases/abc1234/.env \
             --restart unless-stopped --network hello-staging -p 8080:8080 hello:abc1234"
        );
        let c = container("create", &sp, "x", None);
        assert_eq!(&c[..4], &["docker", "create", "--name", "x"]);
        assert!(!c.contains(&"-p".to_string()) && !c.contains(&"-d".to_string()));
    }

    #[test]
    fn hooks_run_in_a_one_off_container_of_the_new_image() {
        let sp = spec();
        let a = hook_run(
            &sp.image,
            &sp.env_file,
            "hello-staging",
            "hello-staging-hook-1",
            &sp.labels,
            "./migrate up",
        );
        assert_eq!(
            &a[..5],
            &["docker", "run", "--rm", "--name", "hello-staging-hook-1"]
        );
        assert_eq!(
            &a[a.len() - 8..],
            &[
                "--env-file",
                "/root/.arcane/hello/staging/releases/abc1234/.env",
                "--network",
                "hello-staging",
                "hello:abc1234",
                "sh",
                "-c",
                "./migrate up"
            ]
        );
    }

    #[test]
    fn small_commands() {
        let n = vec!["a".to_string(), "b".to_string()];
        assert_eq!(start(&n), ["docker", "start", "a", "b"]);
        assert_eq!(stop(&n, 10), ["docker", "stop", "-t", "10", "a", "b"]);
        assert_eq!(rm_force(&n), ["docker", "rm", "-f", "a", "b"]);
        assert_eq!(rmi(&n), ["docker", "rmi", "a", "b"]);
        assert_eq!(
            image_id("x:1"),
            ["docker", "image", "inspect", "-f", "{{.Id}}", "x:1"]
        );
        assert_eq!(
            ps_app("hello", "staging")[..7],
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                "label=arcane.app=hello",
                "--filter",
                "label=arcane.env=staging"
            ]
        );
        assert_eq!(
            network_create("hello-staging", "hello", "staging"),
            [
                "docker",
                "network",
                "create",
                "--label",
                "arcane.app=hello",
                "--label",
                "arcane.env=staging",
                "hello-staging"
            ]
        );
        assert_eq!(logs_tail("c", 50), ["docker", "logs", "--tail", "50", "c"]);
    }

    #[test]
    fn compose_v1_and_v2() {
        let files = vec![
            "/r/compose.yml".to_string(),
            "/r/arcane.override.yml".into(),
        ];
        assert_eq!(
            compose_up(ComposeCli::V2, "hello-staging", &files).join(" "),
            "docker compose -p hello-staging -f /r/compose.yml -f /r/arcane.override.yml up -d --remove-orphans --no-build"
        );
        assert_eq!(
            compose_up(ComposeCli::V1, "hello-staging", &files).join(" "),
            "docker-compose -p hello-staging -f /r/compose.yml -f /r/arcane.override.yml up -d --remove-orphans --no-build"
        );
        assert_eq!(
            compose(ComposeCli::V1, "p", &[], &["ps", "-q"]),
            ["docker-compose", "-p", "p", "ps", "-q"]
        );
    }

    #[test]
    fn accessories() {
        let a = AccessorySpec {
            name: "hello-staging-db".into(),
            app: "hello".into(),
            env: "staging".into(),
            accessory: "db".into(),
            image: "postgres:16".into(),
            env_file: Some("/h/.arcane/hello/staging/accessories/db.env".into()),
            network: "hello-staging".into(),
            volumes: vec!["pgdata:/var/lib/postgresql/data".into()],
            ports: vec!["127.0.0.1:5432:5432".into()],
            cmd: split_words("postgres -c 'max_connections=50'"),
        };
        assert_eq!(
            accessory_run(&a).join(" "),
            "docker run -d --name hello-staging-db --label arcane.app=hello --label arcane.env=staging \
             --label arcane.accessory=db --env-file /h/.arcane/hello/staging/accessories/db.env \
             --restart unless-stopped --network hello-staging --network-alias db -v pgdata:/var/lib/postgresql/data \
             -p 127.0.0.1:5432:5432 postgres:16 postgres -c max_connections=50"
        );
    }

    #[test]
    fn sh_quotes_each_word() {
        assert_eq!(
            sh(&[
                "docker".into(),
                "ps".into(),
                "--format".into(),
                "{{.Names}}|x".into()
            ]),
            "docker ps --format '{{.Names}}|x'"
        );
        assert_eq!(split_words(r#"a "b c" '' d"#), ["a", "b c", "", "d"]);
    }
}
