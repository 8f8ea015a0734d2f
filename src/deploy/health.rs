//! Health checks: HTTP probes to the container's own IP and port as seen from
//! the server, carried over the transport (`forward_local`, an SSH
//! direct-tcpip channel), so nothing has to be installed on the server and the
//! container needs no published port. A Docker `HEALTHCHECK` is honoured too:
//! a container Docker calls unhealthy is unhealthy, and one still `starting`
//! is not healthy yet.

use super::argv;
use super::DeployError;
use crate::config::HealthConfig;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One line of `docker inspect` with [`argv::INSPECT_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    pub status: String,
    /// Docker HEALTHCHECK status, empty without one.
    pub health: String,
    pub ips: Vec<String>,
    pub exit_code: i32,
    pub image_id: String,
    /// Times Docker restarted it (its restart policy after a crash).
    pub restarts: u64,
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

pub fn inspect(
    t: &dyn Transport,
    names: &[String],
    em: &Emitter,
) -> Result<Vec<ContainerState>, DeployError> {
    let out = t
        .run(&Cmd::argv(argv::inspect(names)), em)
        .map_err(DeployError::remote)?;
    Ok(parse_inspect(&out.stdout_str()))
}

/// Send `GET path` and return the status code.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: arcane-health\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        let n = s.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    parse_status_line(&buf[..got])
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

fn parse_status_line(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b).ok()?;
    let mut parts = s.split_whitespace();
    let proto = parts.next()?;
    if !proto.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// What a target to probe looks like.
pub struct Probe<'a> {
    pub container: &'a str,
    pub port: u16,
    pub cfg: &'a HealthConfig,
    /// Seconds to wait before the first probe (the service's grace).
    pub grace: f64,
    /// Deadline of the whole deploy; the check never outlives it.
    pub deadline: Instant,
}

/// Wait until the container is healthy: `healthy_threshold` successful HTTP
/// probes in a row (2xx/3xx) and Docker's own HEALTHCHECK (if any) healthy.
/// Fails early when the container exits.
pub fn wait_healthy(
    t: &dyn Transport,
    p: &Probe,
    em: &Emitter,
    cancelled: &dyn Fn() -> bool,
) -> Result<String, DeployError> {
    let start = Instant::now();
    let limit = (start + Duration::from_secs(p.cfg.timeout)).min(p.deadline);
    if p.grace > 0.0 {
        sleep_until(
            (start + Duration::from_secs_f64(p.grace)).min(limit),
            cancelled,
        );
    }
    let interval = Duration::from_secs_f64(p.cfg.interval.max(0.05));
    let names = vec![p.container.to_string()];
    let quiet = Emitter::null();
    let mut streak = 0u32;
    let mut last_err = String::from("no probe ran");
    let mut forward: Option<(String, Box<dyn crate::remote::Forward>)> = None;
    let mut first = true;
    loop {
        if cancelled() {
            return Err(DeployError::Cancelled);
        }
        let st = inspect(t, &names, if first { em } else { &quiet })?;
        first = false;
        let Some(st) = st.into_iter().next() else {
            return Err(DeployError::failed(format!(
                "container {} does not exist",
                p.container
            )));
        };
        if st.status == "exited" || st.status == "dead" {
            return Err(DeployError::failed(format!(
                "container {} exited with code {} before becoming healthy",
                p.container, st.exit_code
            )));
        }
        let docker_ok = match st.health.as_str() {
            "" | "healthy" => true,
            "unhealthy" => {
                return Err(DeployError::failed(format!(
                    "Docker reports container {} unhealthy (its HEALTHCHECK failed)",
                    p.container
                )))
            }
            other => {
                last_err = format!("Docker HEALTHCHECK status is {other}");
                false
            }
        };
        let probe = match st.ips.first() {
            None => Err(format!("container {} has no IP address yet", p.container)),
            Some(ip) => {
                if forward.as_ref().map(|(i, _)| i != ip).unwrap_or(true) {
                    forward = Some((
                        ip.clone(),
                        t.forward_local(ip, p.port).map_err(DeployError::remote)?,
                    ));
                }
                let addr = forward.as_ref().expect("set").1.addr();
                match http_status(addr, &p.cfg.path, Duration::from_secs(3)) {
                    Ok(code) if (200..400).contains(&code) => Ok(code),
                    Ok(code) => Err(format!("GET {} answered {code}", p.cfg.path)),
                    Err(e) => Err(format!("GET {} on {ip}:{}: {e}", p.cfg.path, p.port)),
                }
            }
        };
        match probe {
            Ok(code) if docker_ok => {
                streak += 1;
                if streak >= p.cfg.healthy_threshold.max(1) {
                    return Ok(format!(
                        "GET {} -> {code} in {:.1}s",
                        p.cfg.path,
                        start.elapsed().as_secs_f64()
                    ));
                }
            }
            Ok(_) => streak = 0,
            Err(e) => {
                streak = 0;
                last_err = e;
            }
        }
        if Instant::now() + interval > limit {
            return Err(DeployError::failed(format!(
                "{} not healthy after {:.0}s: {last_err}",
                p.container,
                start.elapsed().as_secs_f64()
            )));
        }
        sleep_until(Instant::now() + interval, cancelled);
    }
}

pub(crate) fn sleep_until(t: Instant, cancelled: &dyn Fn() -> bool) {
    while Instant::now() < t && !cancelled() {
        std::thread::sleep((t - Instant::now()).min(Duration::from_millis(100)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_inspect_lines() {
        let v = parse_inspect(
            "/hello-staging-web-abc|running|healthy|172.18.0.2 |0|sha256:1\n/x|exited|||137|sha256:2\n",
        );
        assert_eq!(v[0].name, "hello-staging-web-abc");
        assert_eq!(v[0].ips, ["172.18.0.2"]);
        assert_eq!(v[0].health, "healthy");
        assert_eq!(v[1].status, "exited");
        assert_eq!(v[1].exit_code, 137);
        assert!(v[1].ips.is_empty());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.1 503 x"), Some(503));
        assert_eq!(parse_status_line(b"SSH-2.0"), None);
    }

    #[test]
    fn probes_a_real_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 256];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
        });
        assert_eq!(
            http_status(addr, "/health", Duration::from_secs(10)).unwrap(),
            204
        );
    }
}
