//! The SSH transport: one ssh2 session per server, every command, upload and
//! forward multiplexed over it as channels (see [`super::session`] for how
//! concurrent channels share the session safely).
//!
//! - [`options`]: how to connect, and where (servers.toml over `~/.ssh/config`);
//! - [`connect`]: socket, handshake, host key check, authentication, keepalive;
//! - [`exec`]: running a command on a channel, and killing an abandoned one;
//! - [`upload`]: the atomic remote write script.

mod connect;
mod exec;
mod options;
mod upload;

pub use connect::{fetch_host_key, HostKeyInfo};
pub use options::{resolve, ConnectOptions, Endpoint};
pub use upload::{remote_path, upload_script};

use super::forward;
use super::guard::{guarded, Watch};
use super::session::{Backoff, Core};
use super::transport::*;
use crate::config::Server;
use crate::event::{Emitter, Stream};
use exec::{ExecEnd, Input};
use ssh2::Session;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct SshTransport {
    core: Arc<Core>,
    stop: Arc<AtomicBool>,
    host_key: Vec<u8>,
    // Kept alive for the session's lifetime when connected through a jump host.
    _jump: Option<Jump>,
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let core = self.core.clone();
        let _ = core.attempt(|| core.sess.disconnect(None, "bye", None));
    }
}

/// A jump host's session and the pump carrying our socket through it.
type Jump = (Arc<SshTransport>, forward::Pump);

impl Transport for SshTransport {
    fn name(&self) -> &str {
        &self.core.name
    }

    fn run(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError> {
        let line = cmd.to_shell();
        em.command(&line);
        let mut out = Output::default();
        let never = || false;
        let end = self.exec(
            &line,
            cmd.stdin.as_deref().into(),
            cmd.timeout,
            &never,
            &mut |s, b| match s {
                Stream::Stdout => out.stdout.extend_from_slice(b),
                Stream::Stderr => out.stderr.extend_from_slice(b),
            },
        )?;
        match end {
            ExecEnd::Exited(code) => {
                out.status = code;
                Ok(out)
            }
            _ => Err(RemoteError::Timeout {
                server: self.core.name.clone(),
                command: em.redactor().redact(&line),
                secs: cmd.timeout.map(|t| t.as_secs()).unwrap_or(0),
            }),
        }
    }

    fn stream(
        &self,
        cmd: &Cmd,
        em: &Emitter,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError> {
        let line = cmd.to_shell();
        em.command(&line);
        let mut bufs = [Vec::new(), Vec::new()];
        let emit_lines = |s: Stream, b: &[u8], flush: bool, bufs: &mut [Vec<u8>; 2]| {
            let buf = &mut bufs[(s == Stream::Stderr) as usize];
            buf.extend_from_slice(b);
            while let Some(i) = buf.iter().position(|&c| c == b'\n') {
                let l: Vec<u8> = buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&l[..i]);
                em.log(s, text.trim_end_matches('\r'));
            }
            if flush && !buf.is_empty() {
                em.log(s, String::from_utf8_lossy(buf).trim_end_matches('\r'));
                buf.clear();
            }
        };
        // Without input, the command runs under the stdin watchdog, so it
        // dies with the channel: see `remote::guard`.
        let (script, input) = match cmd.stdin.as_deref() {
            None => (guarded(&line, Watch::Stdin), Input::Held),
            Some(b) => (line.clone(), Input::Bytes(b)),
        };
        let end = self.exec(&script, input, cmd.timeout, stop, &mut |s, b| {
            emit_lines(s, b, false, &mut bufs)
        })?;
        emit_lines(Stream::Stdout, &[], true, &mut bufs);
        emit_lines(Stream::Stderr, &[], true, &mut bufs);
        Ok(match end {
            ExecEnd::Exited(c) => c,
            _ => 130,
        })
    }

    fn upload(&self, path: &str, bytes: &[u8], mode: u32, em: &Emitter) -> Result<(), RemoteError> {
        em.command(&format!(
            "upload {} bytes to {path} (mode {mode:o})",
            bytes.len()
        ));
        let mut err = vec![];
        let never = || false;
        let end = self.exec(
            &upload_script(path, mode),
            Input::Bytes(bytes),
            None,
            &never,
            &mut |s, b| {
                if s == Stream::Stderr {
                    err.extend_from_slice(b)
                }
            },
        )?;
        match end {
            ExecEnd::Exited(0) => Ok(()),
            _ => Err(self.core.err(
                &format!("upload to {path}"),
                String::from_utf8_lossy(&err).trim(),
            )),
        }
    }

    fn forward_local(&self, host: &str, port: u16) -> Result<Box<dyn Forward>, RemoteError> {
        forward::local(self.core.clone(), host, port)
    }

    fn forward_remote(&self, target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
        forward::remote(self.core.clone(), target)
    }

    fn unix_request(
        &self,
        socket: &str,
        request: &[u8],
        em: &Emitter,
    ) -> Option<Result<Vec<u8>, RemoteError>> {
        log_unix_request(em, socket, request);
        Some(self.streamlocal(socket, request))
    }
}

impl SshTransport {
    /// One request/response exchange over a direct-streamlocal channel.
    fn streamlocal(&self, socket: &str, request: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let core = &self.core;
        let mut ch = core.open("open streamlocal channel", || {
            core.sess.channel_direct_streamlocal(socket, None)
        })?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut pos, mut eof_sent) = (0, false);
        let mut out = vec![];
        let mut buf = vec![0u8; 32 * 1024];
        let mut b = Backoff::new();
        let res = loop {
            let mut progress = false;
            if pos < request.len() {
                match core.attempt(|| ch.write(&request[pos..])) {
                    Ok(Some(n)) => {
                        pos += n;
                        progress = true;
                    }
                    Ok(None) => {}
                    Err(e) => break Err(core.err(&format!("write to {socket}"), e)),
                }
            } else if !eof_sent {
                if let Ok(Some(())) = core.attempt(|| ch.send_eof()) {
                    eof_sent = true;
                }
            }
            match core.attempt(|| ch.read(&mut buf)) {
                Ok(Some(0)) => break Ok(out),
                Ok(Some(n)) => {
                    out.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Ok(None) => {}
                Err(e) => break Err(core.err(&format!("read from {socket}"), e)),
            }
            if Instant::now() > deadline {
                break Err(core.err(&format!("request to {socket}"), "timed out"));
            }
            if progress {
                b.reset();
            } else {
                core.wait(None, b.next_ms());
            }
        };
        core.dispose(ch, Duration::from_secs(2));
        res
    }
}
