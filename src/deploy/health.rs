//! Health checks: HTTP probes to the container's own IP and port as seen from
//! the server, carried over the transport (`forward_local`, an SSH
//! direct-tcpip channel), so nothing has to be installed on the server and the
//! container needs no published port. A Docker `HEALTHCHECK` is honoured too:
//! a container Docker calls unhealthy is unhealthy, and one still `starting`
//! is not healthy yet.

use super::DeployError;
use crate::config::HealthConfig;
use crate::docker::argv;
pub use crate::docker::argv::ContainerState;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The state of each container (those that exist).
pub fn inspect(
    t: &dyn Transport,
    names: &[String],
    em: &Emitter,
) -> Result<Vec<ContainerState>, DeployError> {
    let out = t
        .run(&Cmd::argv(argv::inspect(names)), em)
        .map_err(DeployError::remote)?;
    Ok(argv::parse_inspect(&out.stdout_str()))
}

/// Send `GET path` and return the status code.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    // One write: a server that answers as soon as the request line is in
    // (and closes) would otherwise reset the rest of it.
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: arcane-health\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
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
        if st.ended() {
            return Err(with_logs(
                t,
                p.container,
                format!(
                    "container {} exited with code {} before becoming healthy",
                    p.container, st.exit_code
                ),
                em,
            ));
        }
        let docker_ok = match st.health.as_str() {
            "" | "healthy" => true,
            "unhealthy" => {
                return Err(with_logs(
                    t,
                    p.container,
                    format!(
                        "Docker reports container {} unhealthy (its HEALTHCHECK failed)",
                        p.container
                    ),
                    em,
                ))
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
            return Err(with_logs(
                t,
                p.container,
                format!(
                    "{} not healthy after {:.0}s: {last_err}",
                    p.container,
                    start.elapsed().as_secs_f64()
                ),
                em,
            ));
        }
        sleep_until(Instant::now() + interval, cancelled);
    }
}

/// How many of a container's last log lines a failed health check shows.
pub const LOG_LINES: usize = 20;

/// Starts the log block of a health failure's message (see [`with_logs`]).
pub const LOGS_MARK: &str = "\n--- last log lines of ";

/// A health failure of `container`, with its last [`LOG_LINES`] log lines:
/// each emitted as a `Log` event and appended to the message, redacted like
/// every event (an app may print its env). Without them a failed deploy
/// says that the new version is unhealthy but never why.
pub fn with_logs(t: &dyn Transport, container: &str, reason: String, em: &Emitter) -> DeployError {
    // One stream, in the order the container wrote it.
    let cmd = Cmd::shell(format!(
        "{} 2>&1",
        argv::sh(&argv::logs(container, LOG_LINES, false))
    ))
    .with_timeout(Duration::from_secs(15));
    let logs = match t.run(&cmd, em) {
        Ok(out) if out.success() => em.redactor().redact(out.stdout_str().trim_end()),
        _ => return DeployError::failed(reason),
    };
    if logs.trim().is_empty() {
        return DeployError::failed(format!("{reason} (it logged nothing)"));
    }
    for l in logs.lines() {
        em.log(crate::event::Stream::Stderr, l);
    }
    DeployError::failed(format!("{reason}{LOGS_MARK}{container} ---\n{logs}"))
}

/// The first part of a health failure's message, without its log lines
/// (for one-line summaries).
pub fn without_logs(message: &str) -> &str {
    message.split(LOGS_MARK).next().unwrap_or(message)
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
            let mut got = vec![];
            let mut b = [0u8; 256];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&b[..n]),
                }
            }
            let _ = s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
        });
        assert_eq!(
            http_status(addr, "/health", Duration::from_secs(10)).unwrap(),
            204
        );
    }
}
