//! The transport trait and the command type it runs.

use crate::event::Emitter;
use std::net::SocketAddr;
use std::time::Duration;

/// A command to run on a server. Built from argv by pure functions (see
/// `crate::docker`), quoted for `sh -c` by [`Cmd::to_shell`], so the command
/// log shows exactly what ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    kind: CmdKind,
    /// Bytes written to the command's stdin. Never logged.
    pub stdin: Option<Vec<u8>>,
    /// Kill the command after this long.
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CmdKind {
    Argv(Vec<String>),
    Shell(String),
}

impl Cmd {
    /// A plain argv; each word is quoted.
    pub fn argv<I, S>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            kind: CmdKind::Argv(argv.into_iter().map(Into::into).collect()),
            stdin: None,
            timeout: None,
        }
    }

    /// A shell snippet (pipes, redirects). Callers must quote what they splice in
    /// with [`shell_quote`].
    pub fn shell(script: impl Into<String>) -> Cmd {
        Cmd {
            kind: CmdKind::Shell(script.into()),
            stdin: None,
            timeout: None,
        }
    }

    pub fn with_stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn with_timeout(mut self, t: Duration) -> Cmd {
        self.timeout = Some(t);
        self
    }

    /// The command line handed to the server's shell.
    pub fn to_shell(&self) -> String {
        match &self.kind {
            CmdKind::Argv(a) => a
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
            CmdKind::Shell(s) => s.clone(),
        }
    }

    pub fn argv_words(&self) -> Option<&[String]> {
        match &self.kind {
            CmdKind::Argv(a) => Some(a),
            CmdKind::Shell(_) => None,
        }
    }
}

/// Quote one word for POSIX `sh`.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Command-log line for a request sent straight to a unix socket on the
/// server (e.g. docker's API): its request line, so `-v` and the TUI show the
/// same thing whichever transport carried it. The body is never logged.
pub fn log_unix_request(em: &Emitter, socket: &str, request: &[u8]) {
    let first = String::from_utf8_lossy(request);
    em.command(&format!(
        "{} (via {socket})",
        first.lines().next().unwrap_or_default()
    ));
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// TCP connect failed or timed out.
    #[error("{server}: cannot reach {addr}: {reason}")]
    Unreachable {
        server: String,
        addr: String,
        reason: String,
    },
    /// No authentication method worked; `tried` lists them.
    #[error("{server}: authentication failed as {user}; tried: {}", tried.join(", "))]
    Auth {
        server: String,
        user: String,
        tried: Vec<String>,
    },
    /// The host key is not in known_hosts.
    #[error("{server}: unknown host key for {host} ({fingerprint}); if this is the right server, run `arcane server trust {server}`")]
    UnknownHostKey {
        server: String,
        host: String,
        fingerprint: String,
    },
    /// The host key differs from the one recorded: possible MITM.
    #[error("{server}: HOST KEY CHANGED for {host}! Got {fingerprint}, which does not match {known_hosts}. Someone may be intercepting the connection, or the server was reinstalled. Refusing to connect; remove the old key from {known_hosts} only if you know why it changed.")]
    HostKeyChanged {
        server: String,
        host: String,
        fingerprint: String,
        known_hosts: String,
    },
    /// The host key is listed as `@revoked`.
    #[error("{server}: the host key of {host} ({fingerprint}) is REVOKED in {known_hosts}; refusing to connect")]
    HostKeyRevoked {
        server: String,
        host: String,
        fingerprint: String,
        known_hosts: String,
    },
    /// The connection dropped or a channel failed.
    #[error("{server}: {what}: {reason}")]
    Io {
        server: String,
        what: String,
        reason: String,
    },
    /// A command exceeded its timeout.
    #[error("{server}: command timed out after {secs}s: {command}")]
    Timeout {
        server: String,
        command: String,
        secs: u64,
    },
}

impl crate::error::HasKind for RemoteError {
    /// A server that cannot be reached or refuses us is a failed operation;
    /// the fix (trusting a key, fixing auth) is not in arcane's input.
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Failed
    }
}

/// A forward that lives as long as this handle.
pub trait Forward: Send {
    /// For a local forward: the local address to connect to.
    /// For a remote forward: the port bound on the server's 127.0.0.1.
    fn addr(&self) -> SocketAddr;
}

/// Everything arcane does on a server goes through this.
pub trait Transport: Send + Sync {
    /// The server's registry name (for messages and events).
    fn name(&self) -> &str;

    /// Run a command and capture its output. The command is logged through
    /// `em` (redacted) before it runs. A non-zero exit status is *not* an
    /// error here; callers decide.
    fn run(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError>;

    /// Run a command and emit its output lines as `Log` events while it runs.
    /// Returns the exit status. `stop` is polled; when it returns true the
    /// command is abandoned (used by `logs -f`).
    fn stream(
        &self,
        cmd: &Cmd,
        em: &Emitter,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError>;

    /// Write `bytes` to `path` with `mode`, atomically (temp file + rename), so a
    /// half-written file never exists under the final name. The contents are
    /// never logged.
    fn upload(&self, path: &str, bytes: &[u8], mode: u32, em: &Emitter) -> Result<(), RemoteError>;

    /// Local-to-remote forwarding: returns a local address whose connections are
    /// carried to `host:port` as seen from the server (direct-tcpip).
    fn forward_local(&self, host: &str, port: u16) -> Result<Box<dyn Forward>, RemoteError>;

    /// Remote-to-local forwarding: listen on the server's 127.0.0.1 and carry
    /// each connection to `target` on this machine. `addr()` gives the port on
    /// the server.
    fn forward_remote(&self, target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError>;

    /// Write `request` to a Unix socket on the server and read until it
    /// closes. Used to ask docker's API socket directly, which saves starting
    /// a shell and the docker CLI. `None`: this transport cannot (callers
    /// fall back to running a command).
    fn unix_request(
        &self,
        _socket: &str,
        _request: &[u8],
        _em: &Emitter,
    ) -> Option<Result<Vec<u8>, RemoteError>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_minimal_and_safe() {
        assert_eq!(shell_quote("docker"), "docker");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(
            Cmd::argv(["docker", "ps", "--filter", "label=arcane.app=web"]).to_shell(),
            "docker ps --filter label=arcane.app=web"
        );
    }
}
