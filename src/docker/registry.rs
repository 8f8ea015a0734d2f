//! A tiny read-only registry (Docker Registry HTTP API v2, pull side only)
//! serving exported images from the blob cache on 127.0.0.1.
//!
//! The server's own dockerd pulls from it through an SSH remote forward, so
//! nothing is installed on the server, dockerd itself decides which layers it
//! lacks, and a pull is atomic: the image is only tagged once every layer and
//! the config are in. Only the blobs of the images handed to [`Registry::start`]
//! are served, never the rest of the cache.

use super::layers::{Cache, ImageBlobs, MT_MANIFEST};
use super::DockerError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Response, StatusCode, Uri};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

struct State {
    /// `name:reference` and `name@digest` -> (bytes, digest)
    manifests: HashMap<String, (Vec<u8>, String)>,
    /// digest -> (path, size)
    blobs: HashMap<String, (PathBuf, u64)>,
    sent: Arc<AtomicU64>,
    active: Arc<AtomicUsize>,
}

/// A running registry; stops when dropped.
pub struct Registry {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    active: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The repository path an image is served under (its local repository).
pub fn repo_and_tag(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (reference, "latest"),
    }
}

impl Registry {
    /// Serve `images` on a random port of 127.0.0.1.
    pub fn start(cache: &Cache, images: &[ImageBlobs]) -> Result<Registry, DockerError> {
        let mut manifests = HashMap::new();
        let mut blobs = HashMap::new();
        for img in images {
            let (bytes, digest) = img.manifest();
            let (repo, tag) = repo_and_tag(&img.reference);
            manifests.insert(format!("{repo}:{tag}"), (bytes.clone(), digest.clone()));
            manifests.insert(format!("{repo}@{digest}"), (bytes, digest));
            for b in std::iter::once(&img.config).chain(&img.layers) {
                blobs.insert(b.digest.clone(), (cache.blob_path(&b.digest), b.size));
            }
        }
        let sent = Arc::new(AtomicU64::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(State {
            manifests,
            blobs,
            sent: sent.clone(),
            active: active.clone(),
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(move |m: Method, u: Uri, h: HeaderMap| {
                    let st = state.clone();
                    async move { handle(&st, m, u, h).await }
                });
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_background();
        });
        Ok(Registry {
            addr,
            sent,
            active,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Body bytes handed to connections so far (blobs and manifests).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Blob bodies being sent right now (a transfer that stalls with some in
    /// flight is a dead connection, not dockerd unpacking layers).
    pub fn active(&self) -> Arc<AtomicUsize> {
        self.active.clone()
    }

    /// The live byte counter, for a progress thread.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.sent.clone()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn status(code: StatusCode, msg: &str) -> Response<Body> {
    let body = serde_json::json!({"errors": [{"code": "UNKNOWN", "message": msg}]}).to_string();
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("response")
}

/// `bytes=A-` or `bytes=A-B` -> (start, end inclusive).
fn parse_range(h: &HeaderMap, size: u64) -> Option<(u64, u64)> {
    let v = h.get(header::RANGE)?.to_str().ok()?;
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        size.checked_sub(1)?
    } else {
        b.parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (start <= end).then_some((start, end))
}

async fn handle(st: &State, m: Method, u: Uri, h: HeaderMap) -> Response<Body> {
    let head = m == Method::HEAD;
    if m != Method::GET && !head {
        return status(StatusCode::METHOD_NOT_ALLOWED, "read-only registry");
    }
    let path = u.path();
    if path == "/v2/" || path == "/v2" {
        return Response::builder()
            .header("Docker-Distribution-API-Version", "registry/2.0")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .expect("response");
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return status(StatusCode::NOT_FOUND, "not found");
    };
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        let key = if reference.starts_with("sha256:") {
            format!("{name}@{reference}")
        } else {
            format!("{name}:{reference}")
        };
        let Some((bytes, digest)) = st.manifests.get(&key) else {
            return status(StatusCode::NOT_FOUND, "manifest unknown");
        };
        st.sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let b = Response::builder()
            .header(header::CONTENT_TYPE, MT_MANIFEST)
            .header(header::CONTENT_LENGTH, bytes.len())
            .header("Docker-Content-Digest", digest.as_str())
            .header("Docker-Distribution-API-Version", "registry/2.0");
        return b
            .body(if head {
                Body::empty()
            } else {
                Body::from(bytes.clone())
            })
            .expect("response");
    }
    if let Some((_name, digest)) = rest.rsplit_once("/blobs/") {
        let Some((p, size)) = st.blobs.get(digest) else {
            return status(StatusCode::NOT_FOUND, "blob unknown");
        };
        let size = *size;
        let range = parse_range(&h, size);
        let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
        let len = if size == 0 { 0 } else { end - start + 1 };
        let mut b = Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, len)
            .header(header::ACCEPT_RANGES, "bytes")
            .header("Docker-Content-Digest", digest)
            .header("Docker-Distribution-API-Version", "registry/2.0");
        if range.is_some() {
            b = b
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
        }
        if head {
            return b.body(Body::empty()).expect("response");
        }
        let file = match tokio::fs::File::open(p).await {
            Ok(f) => f,
            Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let guard = Active::new(st.active.clone());
        return b
            .body(file_body(file, start, len, st.sent.clone(), guard))
            .expect("response");
    }
    status(StatusCode::NOT_FOUND, "not found")
}

/// Counts a blob body in flight until it is finished or dropped.
struct Active(Arc<AtomicUsize>);

impl Active {
    fn new(c: Arc<AtomicUsize>) -> Active {
        c.fetch_add(1, Ordering::Relaxed);
        Active(c)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Stream `len` bytes of `file` from `start`, counting them as they go out.
fn file_body(
    file: tokio::fs::File,
    start: u64,
    len: u64,
    sent: Arc<AtomicU64>,
    guard: Active,
) -> Body {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let stream = futures::stream::unfold(
        (Some(file), start, len, sent, true),
        move |(file, start, remaining, sent, first)| async move {
            let mut f = file?;
            if first && start > 0 {
                if let Err(e) = f.seek(std::io::SeekFrom::Start(start)).await {
                    return Some((Err(e), (None, 0, 0, sent, false)));
                }
            }
            if remaining == 0 {
                return None;
            }
            let mut buf = vec![0u8; remaining.min(256 * 1024) as usize];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    sent.fetch_add(n as u64, Ordering::Relaxed);
                    Some((
                        Ok(Bytes::from(buf)),
                        (Some(f), start, remaining - n as u64, sent, false),
                    ))
                }
                Err(e) => Some((Err(e), (None, 0, 0, sent, false))),
            }
        },
    );
    // The guard lives exactly as long as the body stream.
    let stream = futures::StreamExt::map(stream, move |item| {
        let _ = &guard;
        item
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repo_and_tag() {
        assert_eq!(repo_and_tag("web:abc"), ("web", "abc"));
        assert_eq!(repo_and_tag("web"), ("web", "latest"));
        assert_eq!(repo_and_tag("h:5000/web:1"), ("h:5000/web", "1"));
        assert_eq!(repo_and_tag("h:5000/web"), ("h:5000/web", "latest"));
    }

    #[test]
    fn ranges_are_clamped() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_range(&h, 10), None);
        h.insert(header::RANGE, "bytes=4-".parse().unwrap());
        assert_eq!(parse_range(&h, 10), Some((4, 9)));
        h.insert(header::RANGE, "bytes=2-100".parse().unwrap());
        assert_eq!(parse_range(&h, 10), Some((2, 9)));
        h.insert(header::RANGE, "bytes=20-".parse().unwrap());
        assert_eq!(parse_range(&h, 10), None);
    }
}
