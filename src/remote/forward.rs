//! TCP forwarding over the shared session: direct-tcpip (local → server) and
//! tcpip-forward (server → local). Each accepted connection gets a pump
//! thread that copies both ways between a local socket and an SSH channel,
//! using the session's non-blocking call discipline.

use super::session::{poll, Backoff, Core};
use super::transport::{Forward, RemoteError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The local end of a pumped channel.
pub(crate) enum Local {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Local {
    fn fd(&self) -> RawFd {
        match self {
            Local::Tcp(s) => s.as_raw_fd(),
            Local::Unix(s) => s.as_raw_fd(),
        }
    }
    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Local::Tcp(s) => s.set_nonblocking(true),
            Local::Unix(s) => s.set_nonblocking(true),
        }
    }
    fn shutdown_write(&self) {
        let _ = match self {
            Local::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Local::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

impl Read for Local {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Local::Tcp(s) => s.read(b),
            Local::Unix(s) => s.read(b),
        }
    }
}

impl Write for Local {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Local::Tcp(s) => s.write(b),
            Local::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running copy loop; stopping it closes the channel.
pub(crate) struct Pump {
    stop: Arc<AtomicBool>,
}

impl Pump {
    pub fn spawn(core: Arc<Core>, ch: ssh2::Channel, local: Local) -> Pump {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || pump(&core, ch, local, &s));
        Pump { stop }
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(core: &Core, mut ch: ssh2::Channel, mut local: Local, stop: &AtomicBool) {
    if local.set_nonblocking().is_err() {
        core.dispose(ch, Duration::from_secs(2));
        return;
    }
    let mut up: Vec<u8> = vec![]; // local → channel
    let mut down: Vec<u8> = vec![]; // channel → local
    let mut buf = vec![0u8; 32 * 1024];
    let (mut local_eof, mut eof_sent, mut remote_eof, mut shut) = (false, false, false, false);
    let mut b = Backoff::new();
    'outer: while !stop.load(Ordering::SeqCst) {
        let mut progress = false;
        if up.is_empty() && !local_eof {
            match local.read(&mut buf) {
                Ok(0) => {
                    local_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    up.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if !up.is_empty() {
            match core.attempt(|| ch.write(&up)) {
                Ok(Some(n)) => {
                    up.drain(..n);
                    progress = true;
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        if local_eof && up.is_empty() && !eof_sent {
            match core.attempt(|| ch.send_eof()) {
                Ok(Some(())) => eof_sent = true,
                Ok(None) => {}
                Err(_) => break,
            }
        }
        if down.is_empty() && !remote_eof {
            match core.attempt(|| ch.read(&mut buf)) {
                Ok(Some(0)) => {
                    remote_eof = true;
                    progress = true;
                }
                Ok(Some(n)) => {
                    down.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        while !down.is_empty() {
            match local.write(&down) {
                Ok(n) => {
                    down.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break 'outer,
            }
        }
        if remote_eof && down.is_empty() && !shut {
            local.shutdown_write();
            shut = true;
        }
        if remote_eof && shut && (eof_sent || local_eof) {
            break;
        }
        if progress {
            b.reset();
        } else {
            let mut ev = libc::POLLIN;
            if !down.is_empty() {
                ev |= libc::POLLOUT;
            }
            let ev = if up.is_empty() && !local_eof {
                ev
            } else {
                ev & !libc::POLLIN
            };
            core.wait(Some((local.fd(), ev)), b.next_ms());
        }
    }
    core.dispose(ch, Duration::from_secs(2));
}

/// A local forward: a listener on 127.0.0.1 whose connections are tunnelled.
struct LocalForward {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forward for LocalForward {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LocalForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn local(
    core: Arc<Core>,
    host: &str,
    port: u16,
) -> Result<Box<dyn Forward>, RemoteError> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| core.err("bind forward", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| core.err("bind forward", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| core.err("bind forward", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (s, host) = (stop.clone(), host.to_string());
    let thread = std::thread::spawn(move || {
        let mut pumps: Vec<Pump> = vec![];
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((conn, _)) => {
                    let _ = conn.set_nodelay(true);
                    let opened = core.open("open direct-tcpip channel", || {
                        core.sess.channel_direct_tcpip(
                            &host,
                            port,
                            Some(("127.0.0.1", addr.port())),
                        )
                    });
                    match opened {
                        Ok(ch) => pumps.push(Pump::spawn(core.clone(), ch, Local::Tcp(conn))),
                        Err(_) => drop(conn), // the client sees the connection close
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    poll(&[(listener.as_raw_fd(), libc::POLLIN)], 50);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        drop(pumps);
    });
    Ok(Box::new(LocalForward {
        addr,
        stop,
        thread: Some(thread),
    }))
}

/// A remote forward: the server listens on its 127.0.0.1:`port`.
struct RemoteForward {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forward for RemoteForward {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn remote(core: Arc<Core>, target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
    let (mut listener, port) = core.open("tcpip-forward on the server", || {
        core.sess.channel_forward_listen(0, Some("127.0.0.1"), None)
    })?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut pumps: Vec<Pump> = vec![];
        let mut b = Backoff::new();
        while !s.load(Ordering::SeqCst) {
            match core.attempt(|| listener.accept()) {
                Ok(Some(ch)) => {
                    b.reset();
                    match TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
                        Ok(conn) => {
                            let _ = conn.set_nodelay(true);
                            pumps.push(Pump::spawn(core.clone(), ch, Local::Tcp(conn)));
                        }
                        Err(_) => core.dispose(ch, Duration::from_secs(2)),
                    }
                }
                Ok(None) => core.wait(None, b.next_ms()),
                Err(_) => break,
            }
        }
        drop(pumps);
        // Cancelling the forward sends a packet: under the I/O lock.
        core.drop_locked(listener);
    });
    Ok(Box::new(RemoteForward {
        addr,
        stop,
        thread: Some(thread),
    }))
}
