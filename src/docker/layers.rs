//! Exporting a local image into a content-addressed blob cache, so the push
//! registry can serve it and unchanged layers are not re-exported or re-hashed
//! on every push.
//!
//! Cache layout (under `$ARCANE_CACHE_DIR`, else the XDG cache dir):
//! - `blobs/sha256/<hex>`: layer tars and image configs, named by digest.
//! - `layers/<diff-id hex>.json`: `{digest, size, media_type}` of the blob that
//!   carries that layer (with the classic image store the blob *is* the
//!   uncompressed tar, so digest == diff ID; the containerd store may export
//!   compressed blobs, which keep their own digest).
//!
//! When every layer and the config of an image are cached, `docker save` is
//! not run at all; otherwise it is streamed once and only the blobs that are
//! new are kept.

use super::{argv, DockerError};
use crate::event::Emitter;
use crate::remote::{Cmd, LocalTransport, Transport};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const MT_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MT_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MT_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MT_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// One blob in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// `sha256:<hex>`
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// A local image, exported: its config and layer blobs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageBlobs {
    /// `repo:tag`
    pub reference: String,
    /// Image ID (`sha256:` digest of the config).
    pub id: String,
    pub diff_ids: Vec<String>,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl ImageBlobs {
    /// The schema2 manifest that describes this image, and its digest.
    pub fn manifest(&self) -> (Vec<u8>, String) {
        let desc = |b: &Blob| serde_json::json!({"mediaType": b.media_type, "size": b.size, "digest": b.digest});
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": desc(&self.config),
            "layers": self.layers.iter().map(desc).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&m).expect("json");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        (bytes, digest)
    }

    /// Chain IDs of the layer stack (what engines key layers by).
    pub fn chain_ids(&self) -> Vec<String> {
        chain_ids(&self.diff_ids)
    }
}

/// `chain(0) = diff(0)`, `chain(n) = sha256(chain(n-1) + " " + diff(n))`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev} {d}").as_bytes()))
            ),
        };
        out.push(next);
    }
    out
}

/// The blob cache.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl Cache {
    /// `$ARCANE_CACHE_DIR` or `$XDG_CACHE_HOME/arcane` (`~/.cache/arcane`).
    pub fn default_location() -> Result<Cache, DockerError> {
        let root = match std::env::var_os("ARCANE_CACHE_DIR") {
            Some(d) => PathBuf::from(d),
            None => directories::ProjectDirs::from("", "", "arcane")
                .map(|p| p.cache_dir().to_path_buf())
                .ok_or_else(|| {
                    DockerError::Io(
                        "cannot find a cache directory (set HOME or ARCANE_CACHE_DIR)".into(),
                    )
                })?,
        };
        Ok(Cache::at(root))
    }

    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex_of(digest))
    }

    fn layer_meta_path(&self, diff_id: &str) -> PathBuf {
        self.root
            .join("layers")
            .join(format!("{}.json", hex_of(diff_id)))
    }

    fn layer(&self, diff_id: &str) -> Option<Blob> {
        let text = std::fs::read(self.layer_meta_path(diff_id)).ok()?;
        let b: Blob = serde_json::from_slice(&text).ok()?;
        let len = std::fs::metadata(self.blob_path(&b.digest)).ok()?.len();
        (len == b.size).then_some(b)
    }

    fn config(&self, id: &str) -> Option<Blob> {
        let len = std::fs::metadata(self.blob_path(id)).ok()?.len();
        Some(Blob {
            digest: id.to_string(),
            size: len,
            media_type: MT_CONFIG.into(),
        })
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), DockerError> {
        let dir = path.parent().expect("has parent");
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(path)
            .map_err(|e| DockerError::Io(e.to_string()))?;
        Ok(())
    }

    /// Export `reference` into the cache (or find it there) and describe it.
    pub fn export(&self, reference: &str, em: &Emitter) -> Result<ImageBlobs, DockerError> {
        let out =
            LocalTransport::new("local").run(&Cmd::argv(argv::image_layers(reference)), em)?;
        if !out.success() {
            return Err(DockerError::Failed(format!(
                "cannot inspect local image {reference}: {}; run `arcane build` first",
                out.stderr_str().trim()
            )));
        }
        #[derive(Deserialize)]
        struct Insp {
            id: String,
            layers: Vec<String>,
        }
        let insp: Insp = serde_json::from_str(out.stdout_str().trim())
            .map_err(|e| DockerError::Failed(format!("docker image inspect {reference}: {e}")))?;
        let cached: Option<Vec<Blob>> = insp.layers.iter().map(|d| self.layer(d)).collect();
        if let (Some(layers), Some(config)) = (cached, self.config(&insp.id)) {
            return Ok(ImageBlobs {
                reference: reference.into(),
                id: insp.id,
                diff_ids: insp.layers,
                config,
                layers,
            });
        }
        em.step_started("export");
        // Layers already cached are not hashed again: an archive entry whose
        // size matches a big cached layer of this image is skipped. Should that
        // skip a new layer by coincidence, the export runs once more hashing
        // everything.
        let skip: HashSet<u64> = insp
            .layers
            .iter()
            .filter_map(|d| self.layer(d).map(|b| b.size))
            // Tiny layers often share a size (tar rounds to 512-byte blocks)
            // and cost nothing to hash: only big ones are skipped.
            .filter(|&n| n >= 1 << 20)
            .collect();
        let blobs = match self.save_into_cache(reference, &insp.id, &insp.layers, &skip, em)? {
            Some(b) => b,
            None => self
                .save_into_cache(reference, &insp.id, &insp.layers, &HashSet::new(), em)?
                .ok_or_else(|| DockerError::Failed(format!("cannot export {reference}")))?,
        };
        em.step_finished(
            "export",
            true,
            Some(format!("{} layers of {reference}", blobs.layers.len())),
        );
        Ok(blobs)
    }

    /// Stream `docker save` and keep every file it contains as a blob.
    /// `Ok(None)`: an entry skipped by size turned out to be needed.
    fn save_into_cache(
        &self,
        reference: &str,
        id: &str,
        diff_ids: &[String],
        skip_sizes: &HashSet<u64>,
        em: &Emitter,
    ) -> Result<Option<ImageBlobs>, DockerError> {
        let blob_dir = self.root.join("blobs/sha256");
        std::fs::create_dir_all(&blob_dir)?;
        let argv = argv::save(reference);
        em.command(&Cmd::argv(argv.clone()).to_shell());
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| DockerError::Io(format!("cannot run docker save: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        // Archive path -> (digest, size) of every regular file kept.
        let mut files: HashMap<String, (String, u64)> = HashMap::new();
        let mut skipped: HashSet<String> = HashSet::new();
        let mut manifest: Option<Vec<u8>> = None;
        // Docker 20.10 writes a byte-identical layer once and links the
        // others to it (`b/layer.tar -> ../a/layer.tar`); remember the links
        // and resolve them once every file is known.
        let mut links: Vec<(String, String)> = vec![];
        let mut archive = tar::Archive::new(stdout);
        let res: Result<(), DockerError> = (|| {
            for entry in archive.entries()? {
                let mut entry = entry?;
                let kind = entry.header().entry_type();
                if kind.is_symlink() || kind.is_hard_link() {
                    let path = entry.path()?.to_string_lossy().into_owned();
                    if let Some(target) = entry.link_name()? {
                        let target = target.to_string_lossy().into_owned();
                        links.push((
                            path.clone(),
                            resolve_link(&path, &target, kind.is_symlink()),
                        ));
                    }
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                let path = entry.path()?.to_string_lossy().into_owned();
                if path == "manifest.json" {
                    let mut v = vec![];
                    entry.read_to_end(&mut v)?;
                    manifest = Some(v);
                    continue;
                }
                let keep = path.ends_with(".tar")
                    || path.starts_with("blobs/")
                    || (path.ends_with(".json") && !path.contains('/'));
                if !keep {
                    continue;
                }
                let is_layer = path.ends_with("layer.tar") || path.starts_with("blobs/");
                if is_layer && skip_sizes.contains(&entry.header().size()?) {
                    skipped.insert(path);
                    continue;
                }
                let mut tmp = tempfile::NamedTempFile::new_in(&blob_dir)?;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 1 << 20];
                let mut size = 0u64;
                loop {
                    let n = entry.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                    tmp.write_all(&buf[..n])?;
                    size += n as u64;
                }
                let digest = format!("sha256:{}", hex::encode(h.finalize()));
                let dest = self.blob_path(&digest);
                if dest.exists() {
                    drop(tmp); // already cached: the temp file is removed
                } else {
                    tmp.persist(&dest)
                        .map_err(|e| DockerError::Io(e.to_string()))?;
                }
                files.insert(path, (digest, size));
            }
            Ok(())
        })();
        let status = child.wait()?;
        let stderr = err_thread.join().unwrap_or_default();
        if !status.success() {
            return Err(DockerError::Failed(format!(
                "docker save {reference} failed: {}",
                stderr.trim()
            )));
        }
        res?;
        for (path, target) in links {
            if let Some(v) = files.get(&target).cloned() {
                files.insert(path, v);
            } else if skipped.contains(&target) {
                skipped.insert(path);
            }
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            layers: Vec<String>,
        }
        let manifest = manifest
            .ok_or_else(|| DockerError::Failed("docker save produced no manifest.json".into()))?;
        let entries: Vec<Entry> = serde_json::from_slice(&manifest)
            .map_err(|e| DockerError::Failed(format!("docker save manifest.json: {e}")))?;
        let entry = entries
            .first()
            .ok_or_else(|| DockerError::Failed("docker save manifest.json is empty".into()))?;
        let lookup = |p: &str| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| DockerError::Failed(format!("docker save archive lacks {p}")))
        };
        let (cdigest, csize) = lookup(&entry.config)?;
        if cdigest != id {
            return Err(DockerError::Failed(format!(
                "exported config of {reference} has digest {cdigest}, expected the image ID {id}"
            )));
        }
        if entry.layers.len() != diff_ids.len() {
            return Err(DockerError::Failed(format!(
                "exported {reference} has {} layers, docker inspect says {}",
                entry.layers.len(),
                diff_ids.len()
            )));
        }
        let mut layers = vec![];
        for (p, diff) in entry.layers.iter().zip(diff_ids) {
            if skipped.contains(p) {
                match self.layer(diff) {
                    Some(b) => {
                        layers.push(b);
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            let (digest, size) = lookup(p)?;
            let media_type = if &digest == diff {
                MT_LAYER_TAR.to_string()
            } else {
                sniff_media_type(&self.blob_path(&digest))?
            };
            let blob = Blob {
                digest,
                size,
                media_type,
            };
            self.write_atomic(
                &self.layer_meta_path(diff),
                &serde_json::to_vec(&blob).expect("json"),
            )?;
            layers.push(blob);
        }
        Ok(Some(ImageBlobs {
            reference: reference.into(),
            id: id.into(),
            diff_ids: diff_ids.to_vec(),
            config: Blob {
                digest: cdigest,
                size: csize,
                media_type: MT_CONFIG.into(),
            },
            layers,
        }))
    }
}

/// A blob whose digest is not its diff ID is compressed; say how.
fn sniff_media_type(path: &Path) -> Result<String, DockerError> {
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => MT_LAYER_GZIP.into(),
        [0x28, 0xb5, 0x2f, 0xfd] => MT_LAYER_ZSTD.into(),
        _ => MT_LAYER_TAR.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let d = vec!["sha256:a".to_string(), "sha256:b".to_string()];
        let c = chain_ids(&d);
        assert_eq!(c[0], "sha256:a");
        assert_eq!(
            c[1],
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest(b"sha256:a sha256:b"))
            )
        );
    }

    #[test]
    fn manifest_lists_config_and_layers() {
        let img = ImageBlobs {
            reference: "web:1".into(),
            id: "sha256:c".into(),
            diff_ids: vec!["sha256:l".into()],
            config: Blob {
                digest: "sha256:c".into(),
                size: 10,
                media_type: MT_CONFIG.into(),
            },
            layers: vec![Blob {
                digest: "sha256:l".into(),
                size: 20,
                media_type: MT_LAYER_TAR.into(),
            }],
        };
        let (bytes, digest) = img.manifest();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["config"]["digest"], "sha256:c");
        assert_eq!(v["layers"][0]["mediaType"], MT_LAYER_TAR);
        assert_eq!(v["layers"][0]["size"], 20);
        assert!(digest.starts_with("sha256:") && digest.len() == 71);
    }
}

/// The archive path a link entry points at. Symlinks are relative to the
/// link's own directory; hard links name an archive path directly.
fn resolve_link(path: &str, target: &str, symlink: bool) -> String {
    if !symlink {
        return target.trim_start_matches("./").to_string();
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop(); // the link's own file name
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod link_tests {
    use super::resolve_link;

    #[test]
    fn docker_save_layer_links_resolve_to_archive_paths() {
        assert_eq!(
            resolve_link("b/layer.tar", "../a/layer.tar", true),
            "a/layer.tar"
        );
        assert_eq!(
            resolve_link("b/layer.tar", "a/layer.tar", false),
            "a/layer.tar"
        );
        assert_eq!(
            resolve_link("blobs/sha256/x", "../sha256/y", true),
            "blobs/sha256/y"
        );
    }
}
