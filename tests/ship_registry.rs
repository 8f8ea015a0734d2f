//! The push registry against a real Docker 20.10 engine on a testbed server,
//! reached through OpenSSH's own `-R` remote forward (independent of arcane's
//! ssh transport): the engine pulls the exported image, gets the same image
//! ID, and a second image that changes one small layer only fetches that layer.
//!
//! Needs root, docker and the testbed (tests/testbed/testbed); CI runs as root.

#[path = "common/host.rs"]
mod host;

use arcane::docker::layers::Cache;
use arcane::docker::registry::Registry;
use arcane::event::Emitter;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Testbed(PathBuf);
impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = Command::new(testbed_bin())
            .args(["down", "--dir"])
            .arg(&self.0)
            .status();
    }
}
fn testbed_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed")
}

#[test]
fn registry_serves_a_real_engine_through_an_ssh_remote_forward() {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new(testbed_bin())
        .args(["up", "1", "--dir"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success(), "testbed up failed");
    let _tb = Testbed(dir.path().to_path_buf());
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path().display();
    sh(&format!(
        "printf 'FROM busybox:stable\\nRUN head -c 2000000 /dev/urandom > /data.bin\\nCOPY app.txt /app.txt\\n' > {c}/Dockerfile && echo one > {c}/app.txt"
    ));
    let tag = format!("arcane-test-registry:{}", std::process::id());
    let _host = host::HostCleanup::new()
        .image(&format!("{tag}-a"))
        .image(&format!("{tag}-b"));
    sh(&format!("docker build -q -t {tag}-a {c}"));
    sh(&format!(
        "echo two > {c}/app.txt && docker build -q -t {tag}-b {c}"
    ));
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::at(cache_dir.path());
    let em = Emitter::null();
    let a = cache.export(&format!("{tag}-a"), &em).unwrap();
    let b = cache.export(&format!("{tag}-b"), &em).unwrap();
    assert_eq!(a.layers[..2], b.layers[..2]);
    // Second export comes from the cache (no docker save): same answer.
    assert_eq!(cache.export(&format!("{tag}-a"), &em).unwrap(), a);

    let reg = Registry::start(&cache, &[a.clone(), b.clone()]).unwrap();
    let ssh = format!(
        "ssh -F {}/ssh_config -o ExitOnForwardFailure=yes -R 127.0.0.1:45123:{} srv1",
        dir.path().display(),
        reg.addr()
    );
    let (repo, ta) = tag.split_once(':').unwrap();
    sh(&format!(
        "{ssh} docker pull -q 127.0.0.1:45123/{repo}:{ta}-a"
    ));
    let first = reg.bytes_sent();
    let id = sh(&format!(
        "{ssh} docker image inspect --format '{{{{.Id}}}}' 127.0.0.1:45123/{repo}:{ta}-a"
    ));
    assert_eq!(id, a.id);
    sh(&format!(
        "{ssh} docker pull -q 127.0.0.1:45123/{repo}:{ta}-b"
    ));
    let second = reg.bytes_sent() - first;
    let id = sh(&format!(
        "{ssh} docker image inspect --format '{{{{.Id}}}}' 127.0.0.1:45123/{repo}:{ta}-b"
    ));
    assert_eq!(id, b.id);
    assert!(first > 2_000_000, "first pull sent {first}");
    let small = b.layers[2].size + b.config.size + 10_000;
    assert!(
        second < small,
        "second pull sent {second} bytes, expected < {small} (only the changed layer)"
    );
}
