//! The local smoke test: run the freshly built image on this machine, probe
//! its health path, and remove it again. An image that cannot answer its own
//! health check here is never shipped.

use super::argv;
use super::build::{BuiltImage, BuiltImages, DEFAULT_SERVICE};
use super::DockerError;
use crate::config::Project;
use crate::event::{Emitter, Stream};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How many container log lines a failure shows.
const LOG_LINES: usize = 30;

/// The image the smoke test runs: in compose mode the service named `web` or
/// like the app, else the first built service.
pub fn smoke_image<'a>(project: &Project, built: &'a BuiltImages) -> Option<&'a BuiltImage> {
    built
        .images
        .iter()
        .find(|i| i.service == DEFAULT_SERVICE)
        .or_else(|| {
            built
                .images
                .iter()
                .find(|i| i.service == project.app_name())
        })
        .or_else(|| built.images.first())
}

/// Removes the container however the test ends.
struct Container<'a> {
    name: String,
    em: &'a Emitter,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = run(&argv::rm_force(&self.name), &BTreeMap::new(), self.em);
    }
}

fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    em: &Emitter,
) -> Result<std::process::Output, DockerError> {
    em.command(&crate::remote::Cmd::argv(argv.to_vec()).to_shell());
    std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| DockerError::Io(format!("cannot run {}: {e}", argv[0])))
}

/// Run the smoke test for `built`; `Err(DockerError::Smoke)` carries the
/// container's last log lines.
pub fn smoke_test(
    project: &Project,
    built: &BuiltImages,
    env: Option<&str>,
    em: &Emitter,
) -> Result<(), DockerError> {
    let Some(img) = smoke_image(project, built) else {
        return Ok(());
    };
    let h = &project.config.health;
    let port = project.config.app_port();
    let step = "smoke";
    em.step_started(step);
    let name = format!(
        "arcane-smoke-{}-{:08x}",
        project.app_name(),
        rand::random::<u32>()
    );
    let mut cenv = BTreeMap::new();
    cenv.insert("ARCANE_ENV".to_string(), env.unwrap_or("smoke").to_string());
    let out = run(&argv::smoke_run(&name, &img.tag, port, &cenv), &cenv, em)?;
    let guard = Container { name, em };
    let fail = |reason: String, logs: String| {
        em.step_finished(step, false, Some(reason.clone()));
        for l in logs.lines() {
            em.log(Stream::Stderr, l);
        }
        Err(DockerError::Smoke {
            image: img.tag.clone(),
            reason,
            logs,
        })
    };
    if !out.status.success() {
        return fail(
            "docker run failed".into(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        );
    }
    let logs = |g: &Container| -> String {
        run(&argv::logs_tail(&g.name, LOG_LINES), &BTreeMap::new(), em)
            .map(|o| {
                let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                s.push_str(&String::from_utf8_lossy(&o.stderr));
                s.trim_end().to_string()
            })
            .unwrap_or_default()
    };
    let out = run(&argv::port(&guard.name, port), &BTreeMap::new(), em)?;
    let addr = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().parse::<SocketAddr>().ok().filter(|a| a.is_ipv4()));
    let Some(addr) = addr else {
        let l = logs(&guard);
        return fail(
            format!("the container did not publish port {port} (is [health] port / [proxy] app_port right?)"),
            l,
        );
    };
    std::thread::sleep(Duration::from_secs_f64(h.grace));
    let deadline = Instant::now() + Duration::from_secs(h.timeout);
    let mut ok_in_a_row = 0;
    let mut last = String::from("no answer yet");
    loop {
        match http_status(addr, &h.path, Duration::from_secs(2)) {
            Ok(code) if (200..400).contains(&code) => {
                ok_in_a_row += 1;
                if ok_in_a_row >= h.healthy_threshold.max(1) {
                    break;
                }
            }
            Ok(code) => {
                ok_in_a_row = 0;
                last = format!("GET {} answered {code}", h.path);
            }
            Err(e) => {
                ok_in_a_row = 0;
                last = format!("GET {} failed: {e}", h.path);
            }
        }
        let st = run(&argv::container_state(&guard.name), &BTreeMap::new(), em)?;
        let st = String::from_utf8_lossy(&st.stdout).trim().to_string();
        if let Some(code) = st.strip_prefix("false ") {
            let l = logs(&guard);
            return fail(format!("the container exited with code {code}"), l);
        }
        if Instant::now() >= deadline {
            let l = logs(&guard);
            return fail(format!("not healthy after {}s ({last})", h.timeout), l);
        }
        std::thread::sleep(Duration::from_secs_f64(h.interval));
    }
    drop(guard);
    em.step_finished(
        step,
        true,
        Some(format!(
            "{} answered GET {} on port {port}",
            img.tag, h.path
        )),
    );
    Ok(())
}

/// A minimal HTTP/1.0 GET returning the status code. Enough for a health
/// probe; no redirects, no TLS (the container is probed on loopback).
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: arcane-smoke\r\n\r\n");
    s.write_all(req.as_bytes())?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let r = s.read(&mut buf[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn http_status_reads_the_status_line() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for (i, c) in l.incoming().take(2).enumerate() {
                let mut c = c.unwrap();
                let mut b = [0u8; 512];
                let _ = c.read(&mut b);
                let code = if i == 0 { "200 OK" } else { "503 Unavailable" };
                let _ = write!(c, "HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n");
            }
        });
        assert_eq!(
            http_status(addr, "/health", Duration::from_secs(2)).unwrap(),
            200
        );
        assert_eq!(
            http_status(addr, "/health", Duration::from_secs(2)).unwrap(),
            503
        );
    }
}
