//! One ssh2 session shared by every channel of a server.
//!
//! ssh2's `Session` holds a mutex for the duration of each libssh2 call, so in
//! blocking mode a channel waiting for output would hold the whole connection
//! and starve every other channel (a `docker pull` over a reverse forward
//! would never see its data). The session therefore runs non-blocking and
//! every call goes through [`Core::attempt`]: one try under our own I/O lock,
//! then the lock is released while the thread waits on the socket.
//!
//! libssh2's non-blocking contract has one sharp edge: when a packet send
//! returns EAGAIN half-way, the *same* call must be repeated before any other
//! call sends, or the next sender silently completes the pending packet
//! instead of its own (lost or duplicated channel data). So when libssh2 says
//! it is blocked on the outbound direction, the calling thread keeps the I/O
//! lock and retries until the packet is out. Multi-step session operations
//! whose state lives in the session (channel open, tcpip-forward) are also
//! serialised with a second lock held across their whole retry loop.

use super::transport::RemoteError;
use ssh2::{BlockDirections, Channel, ErrorCode, Session};
use std::io;
use std::os::unix::io::RawFd;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

const EAGAIN: i32 = -37; // LIBSSH2_ERROR_EAGAIN
const SOCKET_DISCONNECT: i32 = -13; // LIBSSH2_ERROR_SOCKET_DISCONNECT

pub(crate) struct Core {
    pub name: String,
    pub sess: Session,
    pub fd: RawFd,
    io: Mutex<()>,
    open: Mutex<()>,
    /// Open session channels (commands). OpenSSH refuses more than
    /// `MaxSessions` (default 10) per connection, so commands beyond
    /// [`MAX_SESSIONS`] wait for a free slot instead of failing.
    sessions: Mutex<usize>,
    freed: Condvar,
    /// Set by the link watchdog when the server stopped acknowledging data;
    /// errors after that carry this reason instead of libssh2's.
    dead: std::sync::OnceLock<String>,
}

/// Session channels used for commands; two more stay free for the short
/// `kill` commands that stop abandoned ones (see [`Core::session_slot`]).
pub const MAX_SESSIONS: usize = 8;

/// A session channel slot, released on drop.
pub(crate) struct Slot<'a>(&'a Core);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut n = self.0.sessions.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.0.freed.notify_all();
    }
}

impl Drop for Core {
    /// libssh2 frees a non-blocking session only if nothing would block; in
    /// blocking mode with a short timeout it always finishes, so the last
    /// owner's drop switches modes first.
    fn drop(&mut self) {
        self.sess.set_timeout(1000);
        self.sess.set_blocking(true);
    }
}

/// Something that can be retried: libssh2 errors and io errors both carry
/// "would block".
pub(crate) trait Again {
    fn is_again(&self) -> bool;
    /// The error every call gets once the link watchdog declared the
    /// connection dead ([`Core::err`] replaces its text with the reason).
    fn lost() -> Self;
}

impl Again for ssh2::Error {
    fn is_again(&self) -> bool {
        self.code() == ErrorCode::Session(EAGAIN)
    }
    fn lost() -> Self {
        ssh2::Error::new(ErrorCode::Session(SOCKET_DISCONNECT), "connection lost")
    }
}

impl Again for io::Error {
    fn is_again(&self) -> bool {
        self.kind() == io::ErrorKind::WouldBlock
    }
    fn lost() -> Self {
        io::Error::new(io::ErrorKind::ConnectionAborted, "connection lost")
    }
}

/// Exponential backoff for poll timeouts: another thread may have pulled our
/// data off the socket into libssh2's queues, so we never wait long.
pub(crate) struct Backoff(u64);

impl Backoff {
    pub fn new() -> Self {
        Backoff(1)
    }
    pub fn reset(&mut self) {
        self.0 = 1;
    }
    pub fn next_ms(&mut self) -> i32 {
        let v = self.0;
        self.0 = (self.0 * 2).min(20);
        v as i32
    }
}

impl Core {
    pub fn new(name: String, sess: Session, fd: RawFd) -> Core {
        Core {
            name,
            sess,
            fd,
            io: Mutex::new(()),
            open: Mutex::new(()),
            sessions: Mutex::new(0),
            freed: Condvar::new(),
            dead: std::sync::OnceLock::new(),
        }
    }

    /// Wait for a session channel slot. `limit` is [`MAX_SESSIONS`] for
    /// commands and `MAX_SESSIONS + 2` for kills, so stopping eight streams
    /// at once never deadlocks waiting for a slot one of them holds.
    pub fn session_slot(&self, limit: usize) -> Slot<'_> {
        let mut n = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= limit {
            n = self.freed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        Slot(self)
    }

    /// Open a session channel; if the server refuses (a `MaxSessions` lower
    /// than ours) while other channels of ours are open, wait for one of
    /// them to finish and try again.
    pub fn open_session(&self) -> Result<Channel, RemoteError> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match self.open("open channel", || self.sess.channel_session()) {
                Ok(ch) => return Ok(ch),
                Err(e) => {
                    let n = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
                    if *n <= 1 || Instant::now() >= deadline {
                        return Err(e);
                    }
                    let _ = self
                        .freed
                        .wait_timeout(n, Duration::from_millis(500))
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    pub fn err(&self, what: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Io {
            server: self.name.clone(),
            what: what.into(),
            reason: match self.dead.get() {
                Some(why) => why.clone(),
                None => e.to_string(),
            },
        }
    }

    /// The link watchdog: if data we sent has gone unacknowledged for
    /// `limit`, the connection is declared dead and the socket shut down, so
    /// every call blocked on it (including one holding the I/O lock to
    /// finish a half-sent packet) fails now. TCP's own user timeout does not
    /// cover this: while the local route is gone (an interface down) failed
    /// retransmissions are not counted, and a push hung for minutes. Reads
    /// TCP_INFO only, so it never needs the session's locks.
    pub fn check_link(&self, limit: Duration) -> bool {
        if self.dead.get().is_some() {
            return false;
        }
        let Some((established, unacked, since_ack)) = tcp_ack_state(self.fd) else {
            return true;
        };
        let why = if !established {
            // The kernel gave up first (its user timeout, or a reset).
            "connection lost: the TCP connection to the server was closed".to_string()
        } else if unacked > 0 && since_ack >= limit {
            format!(
                "connection lost: the server acknowledged nothing for {}s",
                since_ack.as_secs()
            )
        } else {
            return true;
        };
        let _ = self.dead.set(why);
        // SAFETY: shutting down our own socket; the fd stays open (and owned
        // by the session) until the session is freed.
        unsafe {
            libc::shutdown(self.fd, libc::SHUT_RDWR);
        }
        false
    }

    /// One attempt of a libssh2 call. `Ok(None)` means "would block waiting
    /// for the server": wait and try again.
    pub fn attempt<T, E: Again>(&self, f: impl FnMut() -> Result<T, E>) -> Result<Option<T>, E> {
        let _g = self.io.lock().unwrap_or_else(|p| p.into_inner());
        self.attempt_held(f)
    }

    /// [`Core::attempt`] for a caller that already holds the I/O lock.
    fn attempt_held<T, E: Again>(
        &self,
        mut f: impl FnMut() -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let start = Instant::now();
        loop {
            if self.dead.get().is_some() {
                return Err(E::lost());
            }
            match f() {
                Ok(v) => return Ok(Some(v)),
                Err(e) if e.is_again() => {
                    let out = matches!(
                        self.sess.block_directions(),
                        BlockDirections::Outbound | BlockDirections::Both
                    );
                    // A half-sent packet: finish it with the lock held. A
                    // dead link ends this through the watchdog, which shuts
                    // the socket down; the cap is a last resort.
                    if out
                        && self.dead.get().is_none()
                        && start.elapsed() < Duration::from_secs(120)
                    {
                        poll(&[(self.fd, libc::POLLOUT)], 50);
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Retry `f` until it completes, an error, or the deadline.
    pub fn block<T, E: Again + std::fmt::Display>(
        &self,
        what: &str,
        deadline: Option<Instant>,
        mut f: impl FnMut() -> Result<T, E>,
    ) -> Result<T, RemoteError> {
        let mut b = Backoff::new();
        loop {
            match self.attempt(&mut f) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => return Err(self.err(what, e)),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.err(what, "timed out waiting for the server"));
            }
            self.wait(None, b.next_ms());
        }
    }

    /// Open a channel, or make any request that waits for a reply (exec,
    /// tcpip-forward). These are serialised: libssh2 keeps a channel open's
    /// state in the session, and its reply wait treats a reply of the same
    /// type for *another* channel as a failure ("Failed waiting for channel
    /// success"), so two such requests must never be in flight at once.
    pub fn open<T>(
        &self,
        what: &str,
        f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, RemoteError> {
        let _g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        self.block(what, Some(Instant::now() + Duration::from_secs(30)), f)
    }

    /// Wait until the ssh socket (and optionally another fd) is ready.
    ///
    /// Before sleeping, any ACK the kernel is holding back goes out now.
    /// sshd does not set TCP_NODELAY, so its small replies (a channel-open
    /// confirmation right after the unsolicited host-keys message, an exec
    /// reply after window adjusts) sit behind Nagle until we ACK what it
    /// already sent; with Linux's delayed ACK that cost 40 ms per request.
    pub fn wait(&self, other: Option<(RawFd, i16)>, ms: i32) {
        quickack(self.fd);
        match other {
            Some(o) => poll(&[(self.fd, libc::POLLIN), o], ms),
            None => poll(&[(self.fd, libc::POLLIN)], ms),
        }
    }

    /// Close and free a channel without ever blocking the session: close
    /// waits for the server's close (bounded), and the free happens under the
    /// I/O lock like every other libssh2 call.
    pub fn dispose(&self, mut ch: Channel, grace: Duration) {
        let deadline = Some(Instant::now() + grace);
        let _ = self.block("close channel", deadline, || ch.close());
        let _g = self.io.lock().unwrap_or_else(|p| p.into_inner());
        drop(ch);
    }

    /// Drop any libssh2 object under the I/O lock.
    pub fn drop_locked<T>(&self, v: T) {
        let _g = self.io.lock().unwrap_or_else(|p| p.into_inner());
        drop(v);
    }

    /// A global-request keepalive; the lock rules above apply. If another
    /// thread is busy on the socket, the connection is in use and needs no
    /// keepalive, so this never waits for the lock.
    pub fn keepalive(&self) -> bool {
        let Ok(_g) = self.io.try_lock() else {
            return true;
        };
        self.attempt_held(|| self.sess.keepalive_send()).is_ok()
    }
}

/// (still established, segments sent but not acknowledged, time since the
/// last ACK arrived)
fn tcp_ack_state(fd: RawFd) -> Option<(bool, u32, Duration)> {
    // SAFETY: tcp_info is plain data; the kernel fills at most `len` bytes.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| {
        (
            info.tcpi_state == 1, // TCP_ESTABLISHED
            info.tcpi_unacked,
            Duration::from_millis(info.tcpi_last_ack_recv.into()),
        )
    })
}

/// Send any pending delayed ACK on a TCP socket right away. The kernel clears
/// quick-ACK mode on its own, so this is asked for before every wait; on a
/// socket that is not TCP it is a harmless error.
pub(crate) fn quickack(fd: RawFd) {
    let one: libc::c_int = 1;
    // SAFETY: `one` outlives the call and its size is passed alongside.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

pub(crate) fn poll(fds: &[(RawFd, i16)], ms: i32) {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of pollfd for the duration of the call.
    unsafe {
        libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms);
    }
}
