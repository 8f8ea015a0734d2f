//! Caddy's admin API, reached through the transport with `docker exec`.
//!
//! Why not a published port and `Transport::forward_local`: the admin listener
//! would then have to listen on the container's `0.0.0.0`, where every app
//! container on the `arcane` network can reach it at `arcane-proxy:2019` and
//! rewrite any app's route. Keeping Caddy's default (`localhost:2019` in the
//! container's own network namespace) and piping each request through
//! `docker exec -i arcane-proxy nc 127.0.0.1 2019` (2020 for the router) means only someone who can
//! already run docker on the server can reach it, nothing is installed on the
//! server, no host port can clash with a host-installed Caddy, and it works
//! the same over SSH and locally.

use super::docker;
use super::http::{parse_response, Request, Response};
use super::ProxyError;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::time::Duration;

pub struct Admin<'a> {
    t: &'a dyn Transport,
    em: &'a Emitter,
    /// The admin port inside the container (edge 2019, router 2020).
    port: u16,
    /// Config changes block until the old config's in-flight requests finished
    /// (up to Caddy's grace period), so the pipe must outlive that.
    timeout: Duration,
}

impl<'a> Admin<'a> {
    pub fn new(t: &'a dyn Transport, em: &'a Emitter, port: u16, timeout: Duration) -> Self {
        Admin {
            t,
            em,
            port,
            timeout,
        }
    }

    pub fn server(&self) -> &str {
        self.t.name()
    }

    /// Send one request; any HTTP status comes back as a `Response`.
    pub fn send(&self, req: &Request) -> Result<Response, ProxyError> {
        // Caddy only accepts loopback admin requests whose Host is a loopback origin.
        let host = format!("127.0.0.1:{}", self.port);
        // The request rides on stdin; a trailing comment names it in the
        // command log (`-v`), so the log says what was asked of the proxy.
        let what: String = format!("{} {}", req.method, req.path)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || " /_.-@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let line = Cmd::argv(docker::admin_pipe(self.port)).to_shell();
        let cmd = Cmd::shell(format!("{line} # {what}"))
            .with_stdin(req.encode(&host))
            .with_timeout(self.timeout);
        let out = self.t.run(&cmd, self.em)?;
        let server = self.t.name().to_string();
        if !out.success() && out.stdout.is_empty() {
            let err = out.stderr_str();
            if err.contains("No such container") || err.contains("is not running") {
                return Err(ProxyError::NotRunning { server });
            }
            return Err(ProxyError::Unreachable {
                server,
                reason: format!(
                    "`docker exec {} nc` exited {}: {}",
                    super::CONTAINER,
                    out.status,
                    err.trim()
                ),
            });
        }
        parse_response(&out.stdout).map_err(|reason| ProxyError::Unreachable { server, reason })
    }

    /// Send and require a 2xx answer.
    pub fn expect_ok(&self, req: &Request) -> Result<Response, ProxyError> {
        let r = self.send(req)?;
        if r.ok() {
            Ok(r)
        } else {
            Err(ProxyError::Admin {
                server: self.t.name().to_string(),
                method: req.method.to_string(),
                path: req.path.clone(),
                status: r.status,
                body: r.body_str().trim().to_string(),
            })
        }
    }

    /// GET a JSON document; `None` on 404 (an `@id` or path that does not exist).
    pub fn get_json(&self, path: &str) -> Result<Option<serde_json::Value>, ProxyError> {
        let req = Request::get(path);
        let r = self.send(&req)?;
        if r.status == 404 || (r.status == 400 && r.body_str().contains("unknown object ID")) {
            return Ok(None);
        }
        if !r.ok() {
            return Err(ProxyError::Admin {
                server: self.t.name().to_string(),
                method: "GET".into(),
                path: path.into(),
                status: r.status,
                body: r.body_str().trim().to_string(),
            });
        }
        serde_json::from_slice(&r.body)
            .map(Some)
            .map_err(|e| ProxyError::Unreachable {
                server: self.t.name().to_string(),
                reason: format!("GET {path}: invalid JSON: {e}"),
            })
    }
}
