//! Delivery: each channel has a worker thread that posts its requests in
//! order (a GitHub "pending" always lands before the "success" that follows
//! it), retrying with exponential backoff on connection errors, 408, 429 and
//! 5xx. Nothing here can fail a deploy: a request that cannot be delivered
//! becomes one warning, with every URL and token masked.
//!
//! A CLI process that is about to exit calls [`flush`] with a bound, so a
//! slow chat service holds a deploy's exit up by seconds, not minutes; a
//! daemon (Spark) never needs to.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Where failures are told (the CLI's stderr, a Spark job's log).
pub type Warn = Arc<dyn Fn(String) + Send + Sync>;

/// One HTTP POST to make.
pub struct Request {
    /// `slack "team"`: how warnings name the channel.
    pub label: String,
    /// One worker per key: requests with the same key go out in order.
    pub key: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Values masked in any warning (the URL, tokens).
    pub secrets: Vec<String>,
    pub warn: Warn,
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Per attempt: connect and the whole exchange.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            timeout: Duration::from_secs(10),
        }
    }
}

struct Outbox {
    workers: Mutex<HashMap<String, Sender<Request>>>,
    in_flight: Mutex<usize>,
    idle: Condvar,
}

fn outbox() -> &'static Outbox {
    static O: OnceLock<Outbox> = OnceLock::new();
    O.get_or_init(|| Outbox {
        workers: Mutex::new(HashMap::new()),
        in_flight: Mutex::new(0),
        idle: Condvar::new(),
    })
}

/// Queue `req` on its channel's worker and return at once.
pub fn send(req: Request, retry: Retry) {
    let o = outbox();
    *o.in_flight.lock().unwrap() += 1;
    let mut workers = o.workers.lock().unwrap();
    let tx = workers.entry(req.key.clone()).or_insert_with(|| {
        let (tx, rx) = channel::<Request>();
        let _ = std::thread::Builder::new()
            .name("arcane-notify-http".into())
            .spawn(move || {
                for r in rx {
                    deliver(&r, retry);
                    done_one();
                }
            });
        tx
    });
    if let Err(e) = tx.send(req) {
        // The worker is gone (it could not be spawned): say so once.
        let r = e.0;
        (r.warn)(format!("{}: not delivered (no worker thread)", r.label));
        done_one();
    }
}

fn done_one() {
    let o = outbox();
    let mut n = o.in_flight.lock().unwrap();
    *n = n.saturating_sub(1);
    if *n == 0 {
        o.idle.notify_all();
    }
}

/// Wait until every queued request was delivered or given up, at most
/// `max`. Returns how many were still in flight.
pub fn flush(max: Duration) -> usize {
    let o = outbox();
    let deadline = Instant::now() + max;
    let mut n = o.in_flight.lock().unwrap();
    while *n > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        n = o.idle.wait_timeout(n, deadline - now).unwrap().0;
    }
    *n
}

fn agent(timeout: Duration) -> Result<ureq::Agent, String> {
    static A: OnceLock<Result<ureq::Agent, String>> = OnceLock::new();
    A.get_or_init(|| {
        let tls = native_tls::TlsConnector::new().map_err(|e| format!("TLS setup failed: {e}"))?;
        Ok(ureq::AgentBuilder::new()
            .tls_connector(Arc::new(tls))
            .timeout_connect(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .redirects(0)
            .user_agent(concat!("arcane/", env!("CARGO_PKG_VERSION")))
            .build())
    })
    .clone()
}

/// What one attempt gave.
enum Attempt {
    Done,
    /// Worth another try, after at least this long.
    Retry(String, Option<Duration>),
    Fatal(String),
}

fn attempt(agent: &ureq::Agent, r: &Request) -> Attempt {
    let mut req = agent.post(&r.url).set("Content-Type", "application/json");
    for (k, v) in &r.headers {
        req = req.set(k, v);
    }
    match req.send_bytes(&r.body) {
        Ok(_) => Attempt::Done,
        Err(ureq::Error::Status(code, resp)) => {
            let retry_after = resp
                .header("Retry-After")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(30)));
            let body: String = resp
                .into_string()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let msg = format!("HTTP {code} {}", body.trim()).trim().to_string();
            if code == 408 || code == 429 || code >= 500 {
                Attempt::Retry(msg, retry_after)
            } else {
                Attempt::Fatal(msg)
            }
        }
        // The transport error's Display names the URL: only its kind is kept.
        Err(ureq::Error::Transport(t)) => Attempt::Retry(t.kind().to_string(), None),
    }
}

fn deliver(r: &Request, retry: Retry) {
    let agent = match agent(retry.timeout) {
        Ok(a) => a,
        Err(e) => return (r.warn)(mask(&format!("{}: not delivered: {e}", r.label), r)),
    };
    let mut backoff = retry.first_backoff;
    for n in 1..=retry.attempts.max(1) {
        match attempt(&agent, r) {
            Attempt::Done => return,
            Attempt::Fatal(e) => {
                return (r.warn)(mask(
                    &format!("{}: not delivered: {e} (not retried)", r.label),
                    r,
                ))
            }
            Attempt::Retry(e, after) => {
                if n == retry.attempts.max(1) {
                    return (r.warn)(mask(
                        &format!("{}: not delivered after {n} attempts: {e}", r.label),
                        r,
                    ));
                }
                std::thread::sleep(after.unwrap_or(backoff).max(backoff));
                backoff = (backoff * 2).min(retry.max_backoff);
            }
        }
    }
}

/// `text` with the request's URL, its path and every secret masked.
fn mask(text: &str, r: &Request) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = r.secrets.iter().map(String::as_str).collect();
    secrets.push(&r.url);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s, crate::event::REDACTED);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A local HTTP server that answers each request with the next status
    /// of `codes` and records the bodies (stand-in for a chat service).
    pub(crate) fn fake_service(codes: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook/s3cr3t-path", l.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(vec![]));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for (i, c) in l.incoming().enumerate() {
                let Ok(mut c) = c else { return };
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                // Headers, then Content-Length bytes of body.
                let body = loop {
                    let n = c.read(&mut buf[got..]).unwrap_or(0);
                    if n == 0 {
                        break String::new();
                    }
                    got += n;
                    let t = String::from_utf8_lossy(&buf[..got]).to_string();
                    if let Some((h, b)) = t.split_once("\r\n\r\n") {
                        let len = h
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if b.len() >= len {
                            break b.to_string();
                        }
                    }
                };
                s2.lock().unwrap().push(body);
                let code = codes.get(i).copied().unwrap_or(200);
                let _ = write!(
                    c,
                    "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
                );
            }
        });
        (url, seen)
    }

    fn fast() -> Retry {
        Retry {
            attempts: 3,
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            timeout: Duration::from_secs(3),
        }
    }

    fn req(url: &str, key: &str, body: &str, warns: Arc<Mutex<Vec<String>>>) -> Request {
        Request {
            label: format!("webhook \"{key}\""),
            key: key.into(),
            url: url.into(),
            headers: vec![("Authorization".into(), "Bearer tok-12345".into())],
            body: body.as_bytes().to_vec(),
            secrets: vec!["tok-12345".into()],
            warn: Arc::new(move |w| warns.lock().unwrap().push(w)),
        }
    }

    #[test]
    fn fake_service_5xx_is_retried_and_order_is_kept() {
        let (url, seen) = fake_service(vec![503, 200, 200]);
        let warns = Arc::new(Mutex::new(vec![]));
        send(req(&url, "order", "one", warns.clone()), fast());
        send(req(&url, "order", "two", warns.clone()), fast());
        assert_eq!(flush(Duration::from_secs(10)), 0);
        assert_eq!(*seen.lock().unwrap(), vec!["one", "one", "two"]);
        assert!(warns.lock().unwrap().is_empty());
    }

    #[test]
    fn fake_service_4xx_is_not_retried_and_the_warning_masks_secrets() {
        let (url, seen) = fake_service(vec![404]);
        let warns = Arc::new(Mutex::new(vec![]));
        send(req(&url, "fatal", "x", warns.clone()), fast());
        flush(Duration::from_secs(10));
        assert_eq!(seen.lock().unwrap().len(), 1);
        let w = warns.lock().unwrap().join("\n");
        assert!(w.contains("HTTP 404"), "{w}");
        assert!(!w.contains("s3cr3t") && !w.contains("tok-12345"), "{w}");
    }

    #[test]
    fn a_channel_that_is_down_gives_one_warning() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let warns = Arc::new(Mutex::new(vec![]));
        let url = format!("http://127.0.0.1:{port}/s3cr3t-path");
        send(req(&url, "down", "x", warns.clone()), fast());
        flush(Duration::from_secs(10));
        let w = warns.lock().unwrap().clone();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("after 3 attempts"), "{w:?}");
        assert!(!w[0].contains("s3cr3t"), "{w:?}");
    }
}
