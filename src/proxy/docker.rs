//! The proxy container's docker argv: its own `docker run` and inspect
//! formats, and the shared builders of [`crate::docker::argv`] applied to
//! it. Pure functions, so tests assert exactly what runs on a server.

use super::{CONTAINER, NETWORK};
use crate::deploy::layout::{self, LABEL_NETWORK, LABEL_PROXY};
use crate::docker::argv;

/// Named volumes: certificates and ACME state (`/data`) and Caddy's autosaved
/// config (`/config`). Both outlive the container, so a reboot or an image
/// upgrade keeps every app's routes and certificates.
pub const DATA_VOLUME: &str = "arcane-proxy-data";
pub const CONFIG_VOLUME: &str = "arcane-proxy-config";
/// The proxy kind, the value of its container's `arcane.proxy` label.
pub const KIND: &str = "caddy";

fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// `docker network inspect arcane` (exit 0 when it exists).
pub fn network_inspect() -> Vec<String> {
    argv::network_inspect(NETWORK)
}

/// `docker network create arcane`.
pub fn network_create() -> Vec<String> {
    argv::network_create(NETWORK, &[(LABEL_NETWORK, "1".into())])
}

/// State and image of the proxy container, one line: `running caddy:2`.
pub fn inspect() -> Vec<String> {
    argv::inspect_format(
        &[CONTAINER.to_string()],
        "{{.State.Status}} {{.Config.Image}}",
    )
}

/// Where the router's config lives inside the container (in the config volume).
pub const ROUTER_HOME: &str = "/config/router";

/// The container's entrypoint script: the router Caddy in a restart loop in
/// the background, the edge Caddy as PID 1 (so `docker stop` stops the edge
/// gracefully and the container lives exactly as long as the edge).
///
/// The router's first config comes from `$ARCANE_ROUTER_BASE`; afterwards its
/// autosave (`--resume`) wins, like the edge's.
pub fn entrypoint_script() -> String {
    format!(
        "mkdir -p {h} && printf '%s' \"$ARCANE_ROUTER_BASE\" > {h}/base.json && \
         (while :; do XDG_CONFIG_HOME={h} XDG_DATA_HOME=/data/router caddy run --resume --config {h}/base.json; sleep 1; done) & \
         exec caddy run --resume",
        h = ROUTER_HOME
    )
}

/// Run the proxy container.
///
/// * Two Caddy processes: the edge (ports 80/443, TLS, one route per app
///   host set) and the router (`127.0.0.1:8081` inside the container, one
///   route per app with its current upstreams). A deploy only changes the
///   router; see `caddy/mod.rs` for why.
/// * Neither admin API is published. Both keep loopback listeners inside
///   the container's own network namespace (`localhost:2019`, `:2020`): app
///   containers on the `arcane` network cannot reach them (a compromised app
///   could otherwise re-route every other app), nor can other users of the
///   server. arcane reaches them with `docker exec` (see `admin.rs`).
/// * `--resume` loads the autosaved configs from the config volume, so the
///   routes survive a restart, a reboot of the server and a new container.
/// * `--restart unless-stopped` brings the proxy back after a dockerd restart.
pub fn run(image: &str, router_base: &str) -> Vec<String> {
    let mut a = v(&[
        "docker",
        "run",
        "--detach",
        "--name",
        CONTAINER,
        "--label",
        &layout::label(LABEL_PROXY, KIND),
        "--restart",
        "unless-stopped",
        "--network",
        NETWORK,
        "--publish",
        "80:80",
        "--publish",
        "443:443",
        "--publish",
        "443:443/udp",
    ]);
    a.extend(v(&[
        "--volume",
        &format!("{DATA_VOLUME}:/data"),
        "--volume",
        &format!("{CONFIG_VOLUME}:/config"),
        // The official image sets these; a custom image might not.
        "--env",
        "XDG_DATA_HOME=/data",
        "--env",
        "XDG_CONFIG_HOME=/config",
        "--env",
        &format!("ARCANE_ROUTER_BASE={router_base}"),
        "--entrypoint",
        "sh",
        image,
        "-c",
        &entrypoint_script(),
    ]));
    a
}

fn me() -> [String; 1] {
    [CONTAINER.to_string()]
}

/// `docker start arcane-proxy` (a stopped proxy keeps its config).
pub fn start() -> Vec<String> {
    argv::start(&me())
}

/// Stop gracefully: Caddy finishes in-flight requests within its grace period.
pub fn stop(timeout_secs: u64) -> Vec<String> {
    argv::stop(&me(), timeout_secs)
}

/// Remove the (stopped) container; the volumes stay.
pub fn rm() -> Vec<String> {
    argv::rm_force(&me())
}

pub fn logs(tail: usize) -> Vec<String> {
    argv::logs(CONTAINER, tail, false)
}

/// The addresses of containers on their networks, one line per container:
/// `name ip1 ip2...`.
pub fn container_ips(names: &[String]) -> Vec<String> {
    argv::inspect_format(
        names,
        "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
    )
}

/// The proxy container's TCP sockets (`/proc/net/tcp`): used to count the
/// connections still open to old upstreams while draining.
pub fn proc_net_tcp() -> Vec<String> {
    argv::exec(CONTAINER, false, &v(&["cat", "/proc/net/tcp"]))
}

/// Pipe one HTTP request into an admin listener inside the container.
pub fn admin_pipe(port: u16) -> Vec<String> {
    argv::exec(CONTAINER, true, &v(&["nc", "127.0.0.1", &port.to_string()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_container_argv() {
        let a = run("caddy:2", "{}");
        assert_eq!(
            a[..a.len() - 1].join(" "),
            "docker run --detach --name arcane-proxy --label arcane.proxy=caddy \
             --restart unless-stopped --network arcane --publish 80:80 --publish 443:443 \
             --publish 443:443/udp --volume arcane-proxy-data:/data \
             --volume arcane-proxy-config:/config --env XDG_DATA_HOME=/data \
             --env XDG_CONFIG_HOME=/config --env ARCANE_ROUTER_BASE={} --entrypoint sh caddy:2 -c"
        );
        assert_eq!(a.last().unwrap(), &entrypoint_script());
        assert!(entrypoint_script().ends_with("exec caddy run --resume"));
        // Nothing publishes an admin port or the router.
        assert!(!a
            .iter()
            .any(|w| w.contains("2019") || w.contains("2020") || w.contains("8081")));
        assert_eq!(
            admin_pipe(2019),
            v(&[
                "docker",
                "exec",
                "-i",
                "arcane-proxy",
                "nc",
                "127.0.0.1",
                "2019"
            ])
        );
        assert_eq!(stop(30), v(&["docker", "stop", "-t", "30", "arcane-proxy"]));
        assert_eq!(rm(), v(&["docker", "rm", "-f", "arcane-proxy"]));
        assert_eq!(
            inspect(),
            v(&[
                "docker",
                "inspect",
                "--type",
                "container",
                "-f",
                "{{.State.Status}} {{.Config.Image}}",
                "arcane-proxy"
            ])
        );
        assert_eq!(
            network_create(),
            v(&[
                "docker",
                "network",
                "create",
                "--label",
                "arcane.network=1",
                "arcane"
            ])
        );
        assert_eq!(
            network_inspect(),
            v(&[
                "docker",
                "network",
                "inspect",
                "--format",
                "{{.Name}}",
                "arcane"
            ])
        );
        assert_eq!(
            logs(50),
            v(&["docker", "logs", "--tail", "50", "arcane-proxy"])
        );
    }
}
