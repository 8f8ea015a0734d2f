//! Shipping built images to servers.
//!
//! Default (`--via ssh`): the images are exported into the local blob cache
//! ([`super::layers`]) and served by an in-process read-only registry
//! ([`super::registry`]) that the server reaches through an SSH remote forward
//! on its own 127.0.0.1 (Docker treats 127.0.0.0/8 registries as plain-HTTP
//! without configuration). The server's dockerd then runs an ordinary
//! `docker pull`: it fetches only the blobs it lacks, verifies every digest,
//! and tags the image only once it is complete. arcane retags it to the plain
//! `<app>:<version>` name, drops the temporary `127.0.0.1:PORT/...` name, and
//! checks that the image ID on the server equals the local one.
//!
//! `--via registry` ([`super::via_registry`], re-exported here): `docker
//! push` to the user's registry, `docker pull` on each server, retag.
//! Passwords reach `docker login` on stdin only.
//!
//! See docs/shipping.md for the measurements behind this design.

use super::argv;
use super::build::{short_id, BuiltImages};
use super::layers::{chain_ids, Cache, ImageBlobs};
use super::registry::{repo_and_tag, Registry};
use super::DockerError;
use crate::event::Emitter;
use crate::remote::{Cmd, Transport};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::via_registry::{registry_pull, registry_push, registry_reference, RegistryLogin};

/// What one server received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub server: String,
    /// Bytes the local registry served to this server (blobs and manifests).
    pub bytes_sent: u64,
    /// The arcane estimate of what the server lacked before the push.
    pub bytes_missing_estimate: u64,
    /// Images that were already on the server with the right ID.
    pub already_present: Vec<String>,
    /// `(tag, image id)` now on the server.
    pub images: Vec<(String, String)>,
    pub elapsed_ms: u64,
}

/// Images exported and ready to serve to any number of servers.
pub struct Prepared {
    cache: Cache,
    images: Vec<ImageBlobs>,
}

impl Prepared {
    pub fn images(&self) -> &[ImageBlobs] {
        &self.images
    }
}

/// Export `built` into the blob cache (cached layers are not re-exported).
/// Callers shipping one artifact to many servers prepare once and call
/// [`push_prepared`] per server ([`push_all`], the deploy engine).
pub fn prepare(built: &BuiltImages, em: &Emitter) -> Result<Prepared, DockerError> {
    let cache = Cache::default_location()?;
    let images = built
        .images
        .iter()
        .map(|i| {
            let b = cache.export(&i.tag, em)?;
            if b.id != i.id {
                return Err(DockerError::Failed(format!(
                    "local image {} is now {} but was built as {}; run `arcane build` again",
                    i.tag,
                    short_id(&b.id),
                    short_id(&i.id)
                )));
            }
            Ok(b)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared { cache, images })
}

/// Ship `built` to the server behind `t`, sending only the layers it lacks.
/// The library entry point for the deploy engine.
pub fn push_image(
    t: &dyn Transport,
    built: &BuiltImages,
    em: &Emitter,
) -> Result<PushReport, DockerError> {
    let prepared = prepare(built, em)?;
    push_prepared(t, &prepared, em)
}

pub(super) fn remote_fail(
    t: &dyn Transport,
    what: &str,
    out: &crate::remote::Output,
) -> DockerError {
    DockerError::Failed(format!(
        "{}: {what} failed (exit {}): {}",
        t.name(),
        out.status,
        out.stderr_str().trim()
    ))
}

/// The image ID of `reference` on the server, if it exists.
pub(super) fn remote_image_id(
    t: &dyn Transport,
    reference: &str,
    em: &Emitter,
) -> Result<Option<String>, DockerError> {
    let out = t.run(&Cmd::argv(argv::image_id(&[reference.to_string()])), em)?;
    Ok(out
        .success()
        .then(|| out.stdout_str().trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// Ship already-exported images to one server.
pub fn push_prepared(
    t: &dyn Transport,
    p: &Prepared,
    em: &Emitter,
) -> Result<PushReport, DockerError> {
    let start = Instant::now();
    let step = "push";
    em.step_started(step);
    let res = push_inner(t, p, em, start);
    match &res {
        Ok(r) => em.step_finished(
            step,
            true,
            Some(if r.images.len() == r.already_present.len() {
                "already up to date".to_string()
            } else {
                format!(
                    "{} sent in {:.1}s",
                    human_bytes(r.bytes_sent),
                    r.elapsed_ms as f64 / 1000.0
                )
            }),
        ),
        Err(e) => em.step_finished(step, false, Some(e.to_string())),
    }
    res
}

/// What the server's engine holds, from one inventory round trip.
#[derive(Debug, Default)]
struct Inventory {
    /// tag -> image ID
    tags: std::collections::HashMap<String, String>,
    /// chain IDs of every layer stack
    chains: HashSet<String>,
}

fn parse_inventory(text: &str) -> Inventory {
    let mut inv = Inventory::default();
    for line in text.lines() {
        // `["a:1","b:2"] sha256:ID ["sha256:..",..]`
        let line = line.trim();
        let Some(end) = line.find("] ") else { continue };
        let (tags, rest) = (&line[..=end], line[end + 2..].trim());
        let Some((id, layers)) = rest.split_once(' ') else {
            continue;
        };
        if let Ok(tags) = serde_json::from_str::<Vec<String>>(tags) {
            for t in tags {
                inv.tags.insert(t, id.to_string());
            }
        }
        if let Ok(diffs) = serde_json::from_str::<Vec<String>>(layers.trim()) {
            inv.chains.extend(chain_ids(&diffs));
        }
    }
    inv
}

/// `127.0.0.1:PORT/<repo>:*` names an interrupted push left behind.
fn stale_names(inv: &Inventory, repos: &HashSet<&str>) -> Vec<String> {
    let mut v: Vec<String> = inv
        .tags
        .keys()
        .filter(|t| {
            t.strip_prefix("127.0.0.1:")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(port, rest)| {
                    port.bytes().all(|b| b.is_ascii_digit()) && repos.contains(repo_and_tag(rest).0)
                })
        })
        .cloned()
        .collect();
    v.sort();
    v
}

fn push_inner(
    t: &dyn Transport,
    p: &Prepared,
    em: &Emitter,
    start: Instant,
) -> Result<PushReport, DockerError> {
    let mut report = PushReport {
        server: t.name().to_string(),
        bytes_sent: 0,
        bytes_missing_estimate: 0,
        already_present: vec![],
        images: vec![],
        elapsed_ms: 0,
    };
    // Round trip 1: clear dead sessions of interrupted pushes, then see what
    // the engine has.
    let script = format!(
        "{}; {}",
        argv::reap_stale_pushes_script(),
        argv::engine_inventory_script()
    );
    let out = t.run(&Cmd::shell(script), em)?;
    if !out.success() {
        return Err(remote_fail(t, "listing images", &out));
    }
    for line in out
        .stderr_str()
        .lines()
        .filter(|l| l.starts_with("arcane: "))
    {
        em.warn(line.trim_start_matches("arcane: "));
    }
    let inv = parse_inventory(&out.stdout_str());
    // Images already there with the right ID cost nothing.
    let mut todo = vec![];
    for img in &p.images {
        match inv.tags.get(&img.reference) {
            Some(id) if *id == img.id => {
                report.already_present.push(img.reference.clone());
                report.images.push((img.reference.clone(), id.clone()));
            }
            _ => todo.push(img),
        }
    }
    let repos: HashSet<&str> = p
        .images
        .iter()
        .map(|i| repo_and_tag(&i.reference).0)
        .collect();
    let stale = stale_names(&inv, &repos);
    if todo.is_empty() {
        if !stale.is_empty() {
            let _ = t.run(&Cmd::argv(argv::rmi(&stale)), em)?;
        }
        report.elapsed_ms = start.elapsed().as_millis() as u64;
        return Ok(report);
    }
    let mut seen = HashSet::new();
    for img in &todo {
        for (blob, chain) in img.layers.iter().zip(img.chain_ids()) {
            if !inv.chains.contains(&chain) && seen.insert(blob.digest.clone()) {
                report.bytes_missing_estimate += blob.size;
            }
        }
        report.bytes_missing_estimate += img.config.size;
    }

    let images: Vec<ImageBlobs> = todo.iter().map(|i| (*i).clone()).collect();
    let registry = Registry::start(&p.cache, &images)?;
    let fwd = t.forward_remote(registry.addr())?;
    let port = fwd.addr().port();

    // Progress: bytes served, against the estimate (grown if docker fetches
    // more, e.g. base layers it has but never pulled from a registry).
    let done = Arc::new(AtomicBool::new(false));
    let progress = {
        let done = done.clone();
        let em = em.clone();
        let est = report.bytes_missing_estimate;
        let counter = registry.counter();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let n = counter.load(Ordering::Relaxed);
                em.progress("push", n, Some(est.max(n + 1)));
                std::thread::sleep(Duration::from_millis(250));
            }
            let n = counter.load(Ordering::Relaxed);
            em.progress("push", n, Some(n));
        })
    };

    let renames: Vec<(String, String)> = todo
        .iter()
        .map(|img| {
            let (repo, tag) = repo_and_tag(&img.reference);
            (
                format!("127.0.0.1:{port}/{repo}:{tag}"),
                img.reference.clone(),
            )
        })
        .collect();
    let result = (|| -> Result<(), DockerError> {
        // Round trip 2: the pulls. dockerd fetches only blobs it lacks and
        // tags an image only once it is complete.
        let temps: Vec<String> = renames.iter().map(|(t, _)| t.clone()).collect();
        let names = todo
            .iter()
            .map(|i| i.reference.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        // A connection that died mid-transfer can take the transport minutes
        // to notice; a transfer with blobs in flight and no byte moving for
        // `stall_timeout()` is abandoned instead.
        let (counter, active) = (registry.counter(), registry.active());
        let last = std::sync::Mutex::new((0u64, Instant::now()));
        let stalled = std::sync::atomic::AtomicBool::new(false);
        let limit = stall_timeout();
        let stop = || {
            let n = counter.load(Ordering::Relaxed);
            let mut l = last.lock().unwrap();
            if n != l.0 || active.load(Ordering::Relaxed) == 0 {
                *l = (n, Instant::now());
                return false;
            }
            let s = l.1.elapsed() > limit;
            if s {
                stalled.store(true, Ordering::Relaxed);
            }
            s
        };
        let status = t
            .stream(&Cmd::shell(argv::pull_all_script(&temps, port)), em, &stop)
            .map_err(|e| interrupted(t, &names, &e.to_string()))?;
        if stalled.load(Ordering::Relaxed) {
            return Err(interrupted(
                t,
                &names,
                &format!(
                    "no data moved for {}s; the connection looks dead",
                    limit.as_secs()
                ),
            ));
        }
        if status != 0 {
            return Err(interrupted(
                t,
                &names,
                &format!("docker pull exited with {status}; see its output above"),
            ));
        }
        // Round trip 3: final names, temporary names dropped, IDs checked.
        let out = t.run(&Cmd::shell(argv::finalize_script(&renames, &stale)), em)?;
        if !out.success() {
            return Err(remote_fail(t, "tagging the pulled images", &out));
        }
        let ids: Vec<String> = out
            .stdout_str()
            .lines()
            .map(|l| l.trim().to_string())
            .collect();
        for (i, img) in todo.iter().enumerate() {
            match ids.get(i) {
                Some(id) if *id == img.id => report.images.push((img.reference.clone(), id.clone())),
                other => {
                    return Err(DockerError::Failed(format!(
                        "{}: after the push {} has ID {}, expected {} (local); the image was not shipped correctly",
                        t.name(),
                        img.reference,
                        other.map(|s| short_id(s)).unwrap_or("none"),
                        short_id(&img.id)
                    )))
                }
            }
        }
        Ok(())
    })();
    done.store(true, Ordering::Relaxed);
    let _ = progress.join();
    report.bytes_sent = registry.bytes_sent();
    drop(fwd);
    drop(registry);
    result?;
    report.elapsed_ms = start.elapsed().as_millis() as u64;
    Ok(report)
}

/// How long a transfer may make no progress before it is abandoned
/// (`ARCANE_PUSH_STALL_SECS`, default 60).
fn stall_timeout() -> Duration {
    let secs = std::env::var("ARCANE_PUSH_STALL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn interrupted(t: &dyn Transport, reference: &str, detail: &str) -> DockerError {
    DockerError::Failed(format!(
        "{}: the transfer of {reference} was interrupted ({detail}). Nothing was tagged on the server; layers that arrived completely are kept, so running the push again resumes from there",
        t.name()
    ))
}

/// Ship to many servers at once, one thread per server. Returns one result per
/// transport, in order.
pub fn push_all(
    transports: &[Arc<dyn Transport>],
    built: &BuiltImages,
    em: &Emitter,
) -> Result<Vec<Result<PushReport, DockerError>>, DockerError> {
    let prepared = prepare(built, em)?;
    Ok(std::thread::scope(|s| {
        let handles: Vec<_> = transports
            .iter()
            .map(|t| {
                let em = em.for_server(t.name());
                let p = &prepared;
                s.spawn(move || push_prepared(t.as_ref(), p, &em))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DockerError::Failed("push thread panicked".into())))
            })
            .collect()
    }))
}

/// `1536` -> `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_lines_give_tags_chains_and_leftovers() {
        let text = "[\"web:1\",\"127.0.0.1:4000/web:0\",\"127.0.0.1:4000/other:0\"] sha256:aa [\"sha256:l1\",\"sha256:l2\"]\n[] sha256:bb [\"sha256:l1\"]\n";
        let inv = parse_inventory(text);
        assert_eq!(inv.tags["web:1"], "sha256:aa");
        assert!(inv.chains.contains("sha256:l1"));
        assert_eq!(inv.chains.len(), 2);
        let repos: HashSet<&str> = ["web"].into();
        assert_eq!(stale_names(&inv, &repos), ["127.0.0.1:4000/web:0"]);
    }

    #[test]
    fn names_and_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
