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
use std::sync::Mutex;
use std::time::{Duration, Instant};

const EAGAIN: i32 = -37; // LIBSSH2_ERROR_EAGAIN

pub(crate) struct Core {
    pub name: String,
    pub sess: Session,
    pub fd: RawFd,
    io: Mutex<()>,
    open: Mutex<()>,
}

/// Something that can be retried: libssh2 errors and io errors both carry
/// "would block".
pub(crate) trait Again {
    fn is_again(&self) -> bool;
}

impl Again for ssh2::Error {
    fn is_again(&self) -> bool {
        self.code() == ErrorCode::Session(EAGAIN)
    }
}

impl Again for io::Error {
    fn is_again(&self) -> bool {
        self.kind() == io::ErrorKind::WouldBlock
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
        }
    }

    pub fn err(&self, what: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Io {
            server: self.name.clone(),
            what: what.into(),
            reason: e.to_string(),
        }
    }

    /// One attempt of a libssh2 call. `Ok(None)` means "would block waiting
    /// for the server": wait and try again.
    pub fn attempt<T, E: Again>(
        &self,
        mut f: impl FnMut() -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let _g = self.io.lock().unwrap_or_else(|p| p.into_inner());
        let start = Instant::now();
        loop {
            match f() {
                Ok(v) => return Ok(Some(v)),
                Err(e) if e.is_again() => {
                    let out = matches!(
                        self.sess.block_directions(),
                        BlockDirections::Outbound | BlockDirections::Both
                    );
                    // A half-sent packet: finish it with the lock held. The
                    // cap only matters on a wedged socket, which TCP's user
                    // timeout turns into an error soon enough.
                    if out && start.elapsed() < Duration::from_secs(120) {
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

    /// Open a channel. Opens are serialised: libssh2 keeps their state in the
    /// session, not the channel.
    pub fn open<T>(
        &self,
        what: &str,
        f: impl FnMut() -> Result<T, ssh2::Error>,
    ) -> Result<T, RemoteError> {
        let _g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        self.block(what, Some(Instant::now() + Duration::from_secs(30)), f)
    }

    /// Wait until the ssh socket (and optionally another fd) is ready.
    pub fn wait(&self, other: Option<(RawFd, i16)>, ms: i32) {
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

    /// A global-request keepalive; the lock rules above apply.
    pub fn keepalive(&self) -> bool {
        self.attempt(|| self.sess.keepalive_send()).is_ok()
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
