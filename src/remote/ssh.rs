//! The SSH transport: one ssh2 session per server, every command, upload and
//! forward multiplexed over it as channels (see [`super::session`] for how
//! concurrent channels share the session safely).

use super::forward;
use super::hostkey::{self, Verdict};
use super::session::{Backoff, Core};
use super::ssh_config;
use super::transport::*;
use crate::config::Server;
use crate::event::{Emitter, Stream};
use ssh2::Session;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to connect. `Default` is what the CLI uses.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// TCP connect + SSH handshake + auth must finish within this.
    pub timeout: Duration,
    /// Interval of SSH keepalives on an idle session.
    pub keepalive: Duration,
    /// Home directory for `~/.ssh/*` (default: `$HOME`).
    pub home: Option<PathBuf>,
    /// Relative `identity_file`/`known_hosts` paths in servers.toml are
    /// relative to this (the project root); default: the current directory.
    pub base_dir: Option<PathBuf>,
    /// Try ssh-agent first (when `SSH_AUTH_SOCK` is set).
    pub use_agent: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            home: None,
            base_dir: None,
            use_agent: true,
        }
    }
}

impl ConnectOptions {
    /// The options for a project: relative paths in its servers.toml resolve
    /// against `root`, and the environment may override two timings:
    /// `ARCANE_CONNECT_TIMEOUT` (seconds, fractions allowed) and
    /// `ARCANE_SSH_KEEPALIVE` (seconds; a link is declared dead after three
    /// keepalive intervals without an acknowledgement).
    pub fn for_project(root: &std::path::Path) -> ConnectOptions {
        let mut o = ConnectOptions {
            base_dir: Some(root.to_path_buf()),
            ..Default::default()
        };
        let secs = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
        };
        if let Some(d) = secs("ARCANE_CONNECT_TIMEOUT") {
            o.timeout = d;
        }
        if let Some(d) = secs("ARCANE_SSH_KEEPALIVE") {
            o.keepalive = d.max(Duration::from_secs(1));
        }
        o
    }

    pub fn home(&self) -> PathBuf {
        self.home
            .clone()
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    fn path(&self, p: &Path) -> PathBuf {
        let s = p.to_string_lossy();
        let p = ssh_config::expand_tilde(&s, &self.home());
        if p.is_absolute() {
            p
        } else {
            match &self.base_dir {
                Some(b) => b.join(p),
                None => p,
            }
        }
    }
}

/// Where and how to reach a server, after `~/.ssh/config` is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub hostname: String,
    pub port: u16,
    pub user: String,
    /// Identity files in the order they are tried (after the agent).
    pub identities: Vec<PathBuf>,
    /// known_hosts files checked (the server's own first).
    pub known_hosts: Vec<PathBuf>,
    /// Where new trust lines go: the server's `known_hosts` if set, else the
    /// user's.
    pub trust_file: PathBuf,
    /// `user@host:port` or an alias of a jump host.
    pub proxy_jump: Option<String>,
}

/// Apply servers.toml values over `~/.ssh/config` over defaults.
pub fn resolve(server: &Server, opts: &ConnectOptions) -> Endpoint {
    let home = opts.home();
    let local_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let cfg_text = std::fs::read_to_string(home.join(".ssh/config")).unwrap_or_default();
    let hc = ssh_config::resolve(
        &cfg_text,
        &server.config.host,
        &home,
        &local_user,
        &|p: &Path| std::fs::read_to_string(p).ok(),
    );
    let c = &server.config;
    let mut identities = vec![];
    if let Some(f) = &c.identity_file {
        identities.push(opts.path(f));
    }
    identities.extend(hc.identity_files.iter().cloned());
    identities.push(home.join(".ssh/id_ed25519"));
    identities.push(home.join(".ssh/id_rsa"));
    let mut seen = std::collections::HashSet::new();
    identities.retain(|p| seen.insert(p.clone()));

    let user_kh = if hc.user_known_hosts.is_empty() {
        vec![home.join(".ssh/known_hosts")]
    } else {
        hc.user_known_hosts.clone()
    };
    let mut known_hosts = vec![];
    if let Some(k) = &c.known_hosts {
        known_hosts.push(opts.path(k));
    }
    known_hosts.extend(user_kh.iter().cloned());
    let trust_file = known_hosts[0].clone();
    Endpoint {
        name: server.name.clone(),
        hostname: hc.hostname.unwrap_or_else(|| c.host.clone()),
        port: c.port.or(hc.port).unwrap_or(22),
        user: c.user.clone().or(hc.user).unwrap_or(local_user),
        identities,
        known_hosts,
        trust_file,
        proxy_jump: hc.proxy_jump,
    }
}

/// The host key a server offered, for `arcane server trust`.
#[derive(Debug, Clone)]
pub struct HostKeyInfo {
    pub key_type: String,
    pub blob: Vec<u8>,
    pub fingerprint: String,
    pub verdict: Verdict,
    pub endpoint: Endpoint,
    /// The line that trusts this key.
    pub known_hosts_line: String,
}

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

/// The socket a session runs over: TCP, or one end of a socketpair whose
/// other end is pumped through a jump host's direct-tcpip channel.
enum Sock {
    Tcp(TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

fn open_socket(
    ep: &Endpoint,
    opts: &ConnectOptions,
    depth: usize,
) -> Result<(Sock, Option<Jump>), RemoteError> {
    if let Some(jump) = &ep.proxy_jump {
        if depth >= 3 {
            return Err(RemoteError::Io {
                server: ep.name.clone(),
                what: "ProxyJump".into(),
                reason: "more than 3 nested jump hosts".into(),
            });
        }
        let jserver = jump_server(jump);
        let jt = SshTransport::connect_depth(&jserver, opts, depth + 1)?;
        let ch = jt.core.open("open jump channel", || {
            jt.core
                .sess
                .channel_direct_tcpip(&ep.hostname, ep.port, Some(("127.0.0.1", 0)))
        })?;
        let (a, b) = std::os::unix::net::UnixStream::pair().map_err(|e| RemoteError::Io {
            server: ep.name.clone(),
            what: "socketpair".into(),
            reason: e.to_string(),
        })?;
        let pump = forward::Pump::spawn(jt.core.clone(), ch, forward::Local::Unix(b));
        return Ok((Sock::Unix(a), Some((Arc::new(jt), pump))));
    }
    let addr_s = format!("{}:{}", ep.hostname, ep.port);
    let unreachable = |reason: String| RemoteError::Unreachable {
        server: ep.name.clone(),
        addr: addr_s.clone(),
        reason,
    };
    let addrs: Vec<SocketAddr> = (ep.hostname.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, opts.timeout) {
            Ok(s) => {
                tune_tcp(&s, opts);
                return Ok((Sock::Tcp(s), None));
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "no answer within {}s (connect timeout)",
                    opts.timeout.as_secs()
                )
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

/// `user@host:port` → a server description the resolver understands.
fn jump_server(spec: &str) -> Server {
    let spec = spec.trim_start_matches("ssh://");
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, spec),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse().ok()),
        _ => (rest.to_string(), None),
    };
    Server {
        name: format!("jump {host}"),
        config: crate::config::ServerConfig {
            host,
            user,
            port,
            identity_file: None,
            known_hosts: None,
            env: String::new(),
            roles: vec![],
            ..Default::default()
        },
    }
}

/// Keepalive at the TCP level too, and a user timeout so a cut link errors
/// out instead of hanging a command forever.
fn tune_tcp(s: &TcpStream, opts: &ConnectOptions) {
    let _ = s.set_nodelay(true);
    let fd = s.as_raw_fd();
    let set = |level, name, val: libc::c_int| {
        // SAFETY: plain setsockopt on an owned socket with an int value.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                &val as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    };
    let ka = opts.keepalive.as_secs().max(1) as libc::c_int;
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, ka);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, ka);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
    set(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ka * 3 * 1000);
}

/// TCP + handshake with a host-key preference, in blocking mode bounded by
/// the connect timeout. Returns the session, its fd and the offered key.
fn handshake(
    ep: &Endpoint,
    opts: &ConnectOptions,
    depth: usize,
) -> Result<(Session, RawFd, Vec<u8>, Option<Jump>), RemoteError> {
    let io = |what: &str, e: &dyn std::fmt::Display| RemoteError::Io {
        server: ep.name.clone(),
        what: what.into(),
        reason: e.to_string(),
    };
    let (sock, jump) = open_socket(ep, opts, depth)?;
    let mut sess = Session::new().map_err(|e| io("ssh session", &e))?;
    let files = hostkey::load(&ep.known_hosts);
    let pref = hostkey::hostkey_preference(&hostkey::known_types(&files, &ep.hostname, ep.port));
    let _ = sess.method_pref(ssh2::MethodType::HostKey, &pref);
    sess.set_timeout(opts.timeout.as_millis() as u32);
    let fd = match sock {
        Sock::Tcp(s) => {
            let fd = s.as_raw_fd();
            sess.set_tcp_stream(s);
            fd
        }
        Sock::Unix(s) => {
            let fd = s.as_raw_fd();
            sess.set_tcp_stream(s);
            fd
        }
    };
    sess.handshake().map_err(|e| {
        if e.code() == ssh2::ErrorCode::Session(-9) {
            io(
                "ssh handshake",
                &format!(
                    "no answer within {}s (connect timeout)",
                    opts.timeout.as_secs()
                ),
            )
        } else {
            io("ssh handshake", &e)
        }
    })?;
    let blob = sess
        .host_key()
        .map(|(k, _)| k.to_vec())
        .ok_or_else(|| io("ssh handshake", &"the server sent no host key"))?;
    Ok((sess, fd, blob, jump))
}

/// Connect far enough to see the server's host key, without authenticating.
pub fn fetch_host_key(server: &Server, opts: &ConnectOptions) -> Result<HostKeyInfo, RemoteError> {
    let ep = resolve(server, opts);
    let (_sess, _fd, blob, _jump) = handshake(&ep, opts, 0)?;
    let files = hostkey::load(&ep.known_hosts);
    let verdict = hostkey::check(&files, &ep.hostname, ep.port, &blob);
    Ok(HostKeyInfo {
        key_type: hostkey::key_type(&blob).unwrap_or_else(|| "unknown".into()),
        fingerprint: hostkey::fingerprint(&blob),
        known_hosts_line: hostkey::known_hosts_line(&ep.hostname, ep.port, &blob)
            .unwrap_or_default(),
        blob,
        verdict,
        endpoint: ep,
    })
}

impl SshTransport {
    pub fn connect(server: &Server, opts: &ConnectOptions) -> Result<SshTransport, RemoteError> {
        Self::connect_depth(server, opts, 0)
    }

    fn connect_depth(
        server: &Server,
        opts: &ConnectOptions,
        depth: usize,
    ) -> Result<SshTransport, RemoteError> {
        let ep = resolve(server, opts);
        let (sess, fd, blob, jump) = handshake(&ep, opts, depth)?;

        // The key is checked before any credential is offered.
        let files = hostkey::load(&ep.known_hosts);
        let fp = hostkey::fingerprint(&blob);
        let host = hostkey::host_pattern(&ep.hostname, ep.port);
        match hostkey::check(&files, &ep.hostname, ep.port, &blob) {
            Verdict::Trusted => {}
            Verdict::Unknown => {
                return Err(RemoteError::UnknownHostKey {
                    server: ep.name.clone(),
                    host,
                    fingerprint: fp,
                })
            }
            Verdict::Changed(p) => {
                return Err(RemoteError::HostKeyChanged {
                    server: ep.name.clone(),
                    host,
                    fingerprint: fp,
                    known_hosts: p.display().to_string(),
                })
            }
            Verdict::Revoked(p) => {
                return Err(RemoteError::HostKeyRevoked {
                    server: ep.name.clone(),
                    host,
                    fingerprint: fp,
                    known_hosts: p.display().to_string(),
                })
            }
        }

        authenticate(&sess, &ep, opts)?;
        sess.set_blocking(false);
        sess.set_keepalive(false, opts.keepalive.as_secs().max(1) as u32);
        let core = Arc::new(Core::new(ep.name.clone(), sess, fd));
        let stop = Arc::new(AtomicBool::new(false));
        spawn_keepalive(Arc::downgrade(&core), stop.clone(), opts.keepalive);
        Ok(SshTransport {
            core,
            stop,
            host_key: blob,
            _jump: jump,
        })
    }

    /// SHA256 fingerprint of the host key this session verified.
    pub fn host_key_fingerprint(&self) -> String {
        hostkey::fingerprint(&self.host_key)
    }

    fn exec(
        &self,
        script: &str,
        stdin: Option<&[u8]>,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
        sink: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<ExecEnd, RemoteError> {
        let core = &self.core;
        let _slot = core.session_slot(super::session::MAX_SESSIONS);
        let mut ch = core.open_session()?;
        // The login shell is the session leader (sshd calls setsid), so its
        // pid names the process group to kill when the command is abandoned.
        let wrapped = format!("echo arcane-pid:$$ >&2; {script}");
        let res = self.exec_on(&mut ch, &wrapped, stdin, timeout, stop, sink);
        let grace = match &res {
            Ok(ExecEnd::Exited(_)) => Duration::from_secs(10),
            _ => Duration::from_secs(2),
        };
        let res = res.map(|end| match end {
            ExecEnd::Exited(_) => {
                let _ = core.block("close channel", Some(Instant::now() + grace), || ch.close());
                let code = ch.exit_status().unwrap_or(-1);
                let sig = ch.exit_signal().ok().and_then(|s| s.exit_signal);
                ExecEnd::Exited(match sig {
                    Some(s) => 128 + signal_number(&s),
                    None => code,
                })
            }
            other => other,
        });
        core.dispose(ch, grace);
        res
    }

    fn exec_on(
        &self,
        ch: &mut ssh2::Channel,
        script: &str,
        stdin: Option<&[u8]>,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
        sink: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<ExecEnd, RemoteError> {
        let core = &self.core;
        core.open("exec", || ch.exec(script))?;
        let start = Instant::now();
        let input = stdin.unwrap_or(&[]);
        let mut pos = 0;
        let mut eof_sent = false;
        let mut pid: Option<u32> = None;
        let mut head: Option<Vec<u8>> = Some(vec![]); // stderr until the pid line
        let mut buf = vec![0u8; 32 * 1024];
        let mut b = Backoff::new();
        loop {
            let mut progress = false;
            if pos < input.len() {
                let end = (pos + 32 * 1024).min(input.len());
                match core.attempt(|| ch.write(&input[pos..end])) {
                    Ok(Some(n)) => {
                        pos += n;
                        progress = true;
                    }
                    Ok(None) => {}
                    // The command stopped reading (exited early): keep
                    // collecting its output and status instead of failing.
                    Err(_) => {
                        pos = input.len();
                        eof_sent = true;
                    }
                }
            }
            if pos >= input.len() && !eof_sent {
                match core.attempt(|| ch.send_eof()) {
                    Ok(Some(())) => eof_sent = true,
                    Ok(None) => {}
                    Err(_) => eof_sent = true,
                }
            }
            for stream in [Stream::Stdout, Stream::Stderr] {
                loop {
                    let r = core.attempt(|| match stream {
                        Stream::Stdout => ch.read(&mut buf),
                        Stream::Stderr => ch.stderr().read(&mut buf),
                    });
                    match r {
                        Ok(Some(0)) | Ok(None) => break,
                        Ok(Some(n)) => {
                            progress = true;
                            if stream == Stream::Stderr && head.is_some() {
                                // Login scripts may print before our pid
                                // line: pass their lines on, drop ours.
                                let h = head.as_mut().unwrap();
                                h.extend_from_slice(&buf[..n]);
                                while let Some(i) = h.iter().position(|&c| c == b'\n') {
                                    let line: Vec<u8> = h.drain(..=i).collect();
                                    let text = String::from_utf8_lossy(&line);
                                    if let Some(p) = text.trim_end().strip_prefix("arcane-pid:") {
                                        pid = p.trim().parse().ok();
                                        let rest = std::mem::take(h);
                                        head = None;
                                        if !rest.is_empty() {
                                            sink(Stream::Stderr, &rest);
                                        }
                                        break;
                                    }
                                    sink(Stream::Stderr, &line);
                                }
                            } else {
                                sink(stream, &buf[..n]);
                            }
                        }
                        Err(e) => return Err(core.err("read output", e)),
                    }
                }
            }
            let eof = core
                .attempt(|| Ok::<bool, ssh2::Error>(ch.eof()))
                .ok()
                .flatten()
                .unwrap_or(false);
            if eof {
                if let Some(h) = head.take() {
                    if !h.is_empty() {
                        sink(Stream::Stderr, &h);
                    }
                }
                return Ok(ExecEnd::Exited(0));
            }
            let timed_out = timeout.is_some_and(|t| start.elapsed() > t);
            if timed_out || stop() {
                if let Some(pid) = pid {
                    self.kill_group(pid);
                }
                return Ok(if timed_out {
                    ExecEnd::TimedOut
                } else {
                    ExecEnd::Stopped
                });
            }
            if progress {
                b.reset();
            } else {
                core.wait(None, b.next_ms());
            }
        }
    }

    /// Kill an abandoned command's process group on the server.
    fn kill_group(&self, pid: u32) {
        let script = format!("kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null");
        let never = || false;
        let _ = self.exec_plain(&script, Some(Duration::from_secs(5)), &never);
    }

    /// Run without the pid wrapper (used for the kill itself).
    fn exec_plain(
        &self,
        script: &str,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), RemoteError> {
        let core = &self.core;
        let _slot = core.session_slot(super::session::MAX_SESSIONS + 2);
        let mut ch = core.open_session()?;
        let start = Instant::now();
        let r = core.open("exec", || ch.exec(script));
        let mut b = Backoff::new();
        let mut buf = [0u8; 1024];
        while r.is_ok() && !stop() && timeout.is_none_or(|t| start.elapsed() < t) {
            let _ = core.attempt(|| ch.read(&mut buf));
            let _ = core.attempt(|| ch.stderr().read(&mut buf));
            if core
                .attempt(|| Ok::<bool, ssh2::Error>(ch.eof()))
                .ok()
                .flatten()
                .unwrap_or(false)
            {
                break;
            }
            core.wait(None, b.next_ms());
        }
        core.dispose(ch, Duration::from_secs(2));
        r
    }
}

enum ExecEnd {
    Exited(i32),
    Stopped,
    TimedOut,
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    }
}

/// Keepalives on an idle session, and the link watchdog
/// ([`Core::check_link`]): a link is dead once the server has acknowledged
/// nothing for three keepalive intervals, the same bound as TCP's user
/// timeout.
fn spawn_keepalive(core: std::sync::Weak<Core>, stop: Arc<AtomicBool>, every: Duration) {
    let dead_after = every * 3;
    std::thread::spawn(move || {
        let mut last = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
            let Some(c) = core.upgrade() else { return };
            if !c.check_link(dead_after) {
                return;
            }
            if last.elapsed() >= every {
                last = Instant::now();
                c.keepalive();
            }
        }
    });
}

/// Auth in the documented order; the error lists everything tried.
fn authenticate(sess: &Session, ep: &Endpoint, opts: &ConnectOptions) -> Result<(), RemoteError> {
    let mut tried = vec![];
    if opts.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match agent_auth(sess, &ep.user) {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push("ssh-agent (no key accepted)".to_string()),
            Err(e) => tried.push(format!("ssh-agent ({e})")),
        }
    } else if opts.use_agent {
        tried.push("ssh-agent (SSH_AUTH_SOCK not set)".into());
    }
    for id in &ep.identities {
        if !id.exists() {
            tried.push(format!("{} (missing)", id.display()));
            continue;
        }
        match sess.userauth_pubkey_file(&ep.user, None, id, None) {
            Ok(()) if sess.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("{} (not accepted)", id.display())),
            Err(e) => {
                let m = e.message();
                let why = if m.contains("passphrase") || m.contains("Unable to extract") {
                    "unreadable or passphrase-protected; load it into ssh-agent"
                } else {
                    "rejected by the server"
                };
                tried.push(format!("{} ({why})", id.display()));
            }
        }
    }
    Err(RemoteError::Auth {
        server: ep.name.clone(),
        user: ep.user.clone(),
        tried,
    })
}

fn agent_auth(sess: &Session, user: &str) -> Result<bool, ssh2::Error> {
    let mut agent = sess.agent()?;
    agent.connect()?;
    agent.list_identities()?;
    for id in agent.identities()? {
        if agent.userauth(user, &id).is_ok() && sess.authenticated() {
            let _ = agent.disconnect();
            return Ok(true);
        }
    }
    let _ = agent.disconnect();
    Ok(false)
}

/// A path for the remote shell: `~/x` becomes `"$HOME"/x`, the rest is quoted.
pub fn remote_path(p: &str) -> String {
    match p.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
        None if p == "~" => "\"$HOME\"".into(),
        None => shell_quote(p),
    }
}

/// The script that writes stdin to `path` atomically: a 0600 temp file in
/// the same directory (mktemp creates it 0600 under umask 077), chmod to the
/// final mode, then rename over the target. A failure removes the temp file.
pub fn upload_script(path: &str, mode: u32) -> String {
    let (dir, base) = match path.rsplit_once('/') {
        Some(("", b)) => ("/", b),
        Some((d, b)) => (d, b),
        None => (".", path),
    };
    let dir = remote_path(dir);
    let tmpl = format!("{dir}/{}", shell_quote(&format!(".{base}.arcane-XXXXXX")));
    format!(
        "set -e; mkdir -p {dir}; umask 077; t=$(mktemp {tmpl}); \
         trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod {mode:o} \"$t\"; \
         mv -f \"$t\" {}; trap - EXIT",
        remote_path(path)
    )
}

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
            cmd.stdin.as_deref(),
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
        let end = self.exec(
            &line,
            cmd.stdin.as_deref(),
            cmd.timeout,
            stop,
            &mut |s, b| emit_lines(s, b, false, &mut bufs),
        )?;
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
            Some(bytes),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_script_is_atomic_and_quoted() {
        assert_eq!(
            upload_script("~/.arcane/web/staging/app.env", 0o600),
            "set -e; mkdir -p \"$HOME\"/.arcane/web/staging; umask 077; \
             t=$(mktemp \"$HOME\"/.arcane/web/staging/.app.env.arcane-XXXXXX); \
             trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod 600 \"$t\"; \
             mv -f \"$t\" \"$HOME\"/.arcane/web/staging/app.env; trap - EXIT"
        );
        assert!(upload_script("/srv/a b", 0o644).contains("mv -f \"$t\" '/srv/a b'"));
        assert!(upload_script("x", 0o644).contains("mktemp ./"));
    }

    #[test]
    fn jump_specs_parse() {
        let s = jump_server("deploy@bastion:2200");
        assert_eq!(
            (
                s.config.host.as_str(),
                s.config.user.as_deref(),
                s.config.port
            ),
            ("bastion", Some("deploy"), Some(2200))
        );
        let s = jump_server("bastion");
        assert_eq!((s.config.user, s.config.port), (None, None));
    }

    #[test]
    fn servers_toml_wins_over_ssh_config() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::write(
            home.path().join(".ssh/config"),
            "Host web\n HostName 10.77.0.5\n User cfg\n Port 2200\n IdentityFile ~/.ssh/web_key\n",
        )
        .unwrap();
        let opts = ConnectOptions {
            home: Some(home.path().into()),
            base_dir: Some("/proj".into()),
            ..Default::default()
        };
        let server = Server {
            name: "w".into(),
            config: crate::config::ServerConfig {
                host: "web".into(),
                user: Some("root".into()),
                port: None,
                identity_file: Some("keys/id".into()),
                known_hosts: Some("tb/known_hosts".into()),
                env: "staging".into(),
                roles: vec![],
                ..Default::default()
            },
        };
        let ep = resolve(&server, &opts);
        let h = home.path();
        assert_eq!(
            (ep.hostname.as_str(), ep.port, ep.user.as_str()),
            ("10.77.0.5", 2200, "root")
        );
        assert_eq!(
            ep.identities,
            vec![
                PathBuf::from("/proj/keys/id"),
                h.join(".ssh/web_key"),
                h.join(".ssh/id_ed25519"),
                h.join(".ssh/id_rsa")
            ]
        );
        assert_eq!(
            ep.known_hosts,
            vec![
                PathBuf::from("/proj/tb/known_hosts"),
                h.join(".ssh/known_hosts")
            ]
        );
        assert_eq!(ep.trust_file, PathBuf::from("/proj/tb/known_hosts"));
    }
}
