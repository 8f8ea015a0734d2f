//! A bounded, fixed-rate HTTP/1.1 load generator for the proxy tests and
//! benchmark. Included by `tests/proxy_*.rs` with `#[path]`.
//!
//! Why not only `wrk`: wrk sends as fast as it can (which starves a 2-core
//! box shared with the proxy and the apps) and cannot say which version
//! answered. This client holds a fixed total rate over keep-alive connections
//! (like browsers and wrk do, so a proxy that closes idle keep-alive
//! connections on reload is caught), counts every non-2xx answer and every
//! connection error, and tallies response bodies so a test can see the
//! switches happen.
//!
//! Safety: it only targets loopback (127.0.0.0/8) or the testbed's own
//! namespace addresses (10.77.0.0/16, or 10.78-10.86 for further testbed slots), and both its duration and total
//! request count are capped.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MAX_DURATION: Duration = Duration::from_secs(600);
pub const MAX_REQUESTS: u64 = 500_000;

#[derive(Debug, Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
    /// Total requests per second across all connections.
    pub rate: u32,
    pub connections: u32,
    /// Upper bound; `Running::stop` ends it earlier.
    pub duration: Duration,
    /// Behave like browsers and Go's HTTP client: before reusing an idle
    /// keep-alive connection, notice that the server closed it and open a
    /// new one instead. Without it the client writes into a connection the
    /// server already closed (like wrk) and counts that as an error.
    pub polite: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub sent: u64,
    pub ok: u64,
    /// Status code -> count, for non-2xx answers.
    pub non_2xx: BTreeMap<u16, u64>,
    /// Connect/read/write failures and malformed answers, by kind.
    pub errors: BTreeMap<String, u64>,
    /// First line of the body -> count (which version answered).
    pub bodies: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Idle keep-alive connections the server closed, noticed before reuse.
    pub reconnects_idle: u64,
    /// Per-request latency samples in microseconds.
    pub latencies_us: Vec<u64>,
}

impl Stats {
    pub fn failures(&self) -> u64 {
        self.non_2xx.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i] as f64 / 1000.0
    }
    fn merge(&mut self, o: Stats) {
        self.sent += o.sent;
        self.ok += o.ok;
        for (k, v) in o.non_2xx {
            *self.non_2xx.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, v) in o.bodies {
            *self.bodies.entry(k).or_default() += v;
        }
        self.latencies_us.extend(o.latencies_us);
        self.reconnects_idle += o.reconnects_idle;
    }
    pub fn summary(&self) -> String {
        format!(
            "sent={} ok={} failures={} ({:.4}%) idle_closed={} rate={:.0} req/s p50={:.1}ms p99={:.1}ms max={:.1}ms non_2xx={:?} errors={:?} bodies={:?}",
            self.sent,
            self.ok,
            self.failures(),
            100.0 * self.failures() as f64 / (self.sent.max(1) as f64),
            self.reconnects_idle,
            self.rate(),
            self.percentile_ms(0.5),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0),
            self.non_2xx,
            self.errors,
            self.bodies
        )
    }
}

/// Only loopback or the testbed's own addresses: 10.(77+slot).K.2, with
/// slots 0-9.
pub fn allowed_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || (v4.octets()[0] == 10 && (77..=86).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

pub struct Running {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Stats>>,
    started: Instant,
    pub live: Arc<Mutex<Stats>>,
}

impl Running {
    /// Stop and collect the totals.
    pub fn stop(self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = Stats::default();
        for t in self.threads {
            total.merge(t.join().expect("load thread panicked"));
        }
        total.elapsed = self.started.elapsed();
        total
    }
}

pub fn start(load: Load) -> Running {
    assert!(
        allowed_target(load.addr.ip()),
        "load generator refuses {}: only 127.0.0.0/8 or 10.77.x.x",
        load.addr
    );
    let duration = load.duration.min(MAX_DURATION);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let per_conn_budget = MAX_REQUESTS / load.connections.max(1) as u64;
    let interval =
        Duration::from_secs_f64(load.connections.max(1) as f64 / load.rate.max(1) as f64);
    let live = Arc::new(Mutex::new(Stats::default()));
    let threads = (0..load.connections.max(1))
        .map(|i| {
            let load = load.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                // Spread the connections over one interval.
                std::thread::sleep(interval.mul_f64(i as f64 / load.connections.max(1) as f64));
                conn_loop(&load, interval, started + duration, per_conn_budget, &stop)
            })
        })
        .collect();
    Running {
        stop,
        threads,
        started,
        live,
    }
}

fn conn_loop(
    load: &Load,
    interval: Duration,
    end: Instant,
    budget: u64,
    stop: &AtomicBool,
) -> Stats {
    let mut st = Stats::default();
    let mut conn: Option<TcpStream> = None;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: arcane-loadgen\r\n\r\n",
        load.path, load.host
    );
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) && Instant::now() < end && st.sent < budget {
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        next += interval;
        st.sent += 1;
        let t0 = Instant::now();
        let c = match conn.take() {
            Some(c) if load.polite && peer_closed(&c) => {
                st.reconnects_idle += 1;
                match TcpStream::connect_timeout(&load.addr, Duration::from_secs(5)) {
                    Ok(c) => {
                        let _ = c.set_nodelay(true);
                        let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                        c
                    }
                    Err(e) => {
                        *st.errors
                            .entry(format!("connect: {:?}", e.kind()))
                            .or_default() += 1;
                        continue;
                    }
                }
            }
            Some(c) => c,
            None => match TcpStream::connect_timeout(&load.addr, Duration::from_secs(5)) {
                Ok(c) => {
                    let _ = c.set_nodelay(true);
                    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                    c
                }
                Err(e) => {
                    *st.errors
                        .entry(format!("connect: {:?}", e.kind()))
                        .or_default() += 1;
                    continue;
                }
            },
        };
        match exchange(c, req.as_bytes()) {
            Ok((status, body, keep)) => {
                st.latencies_us.push(t0.elapsed().as_micros() as u64);
                if (200..300).contains(&status) {
                    st.ok += 1;
                } else {
                    *st.non_2xx.entry(status).or_default() += 1;
                }
                let first = body.lines().next().unwrap_or("").trim().to_string();
                *st.bodies.entry(first).or_default() += 1;
                conn = keep;
            }
            Err(kind) => {
                *st.errors.entry(kind).or_default() += 1;
            }
        }
    }
    st
}

/// Has the server closed (or reset) this idle connection? A non-blocking peek
/// that returns 0 bytes or an error means it is gone.
fn peer_closed(c: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    if c.set_nonblocking(true).is_err() {
        return true;
    }
    let r = c.peek(&mut b);
    let _ = c.set_nonblocking(false);
    match r {
        Ok(0) => true,
        Ok(_) => false, // unexpected bytes: treat as usable, the read will tell
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// One request/response on `c`. Returns the connection back if it can be reused.
fn exchange(mut c: TcpStream, req: &[u8]) -> Result<(u16, String, Option<TcpStream>), String> {
    c.write_all(req)
        .map_err(|e| format!("write: {:?}", e.kind()))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = c
            .read(&mut chunk)
            .map_err(|e| format!("read: {:?}", e.kind()))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "read: closed before response".into()
            } else {
                "read: closed mid-response".into()
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    let mut len = 0usize;
    let mut close = false;
    for l in head.lines().skip(1) {
        let l = l.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        } else if l.starts_with("connection:") && l.contains("close") {
            close = true;
        } else if l.starts_with("transfer-encoding:") {
            // The test apps answer with a length; chunked would need more code.
            close = true;
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = c
            .read(&mut chunk)
            .map_err(|e| format!("read body: {:?}", e.kind()))?;
        if n == 0 {
            return Err("read: closed mid-body".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((
        status,
        String::from_utf8_lossy(&body).into_owned(),
        if close { None } else { Some(c) },
    ))
}
