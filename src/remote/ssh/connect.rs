//! Opening a session: the socket (direct or through jump hosts), the
//! handshake, the host key check before any credential is offered,
//! authentication, and the keepalive/link watchdog thread.

use super::*;
use crate::remote::hostkey::{self, Verdict};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
