//! Strict host key checking against OpenSSH `known_hosts` files.
//!
//! libssh2's `KnownHosts` does the matching (it understands hashed `|1|...`
//! entries), but its check ignores key types: a host known only by its RSA key
//! would look "changed" when it offers an ed25519 key. OpenSSH treats that case
//! as "not known for this key type", so we feed libssh2 only the lines whose
//! key type equals the offered key's type. The same trick, with a dummy key,
//! tells which key types are known for a host, so the handshake can prefer
//! them (as OpenSSH does) instead of tripping on a type we have never seen.

use base64::Engine;
use sha2::{Digest, Sha256};
use ssh2::{CheckResult, KnownHostFileKind};
use std::path::{Path, PathBuf};

/// Host key algorithms in the order we prefer them when nothing is known.
pub const DEFAULT_HOSTKEY_ALGOS: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

/// The outcome of checking an offered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    /// No entry for this host and key type.
    Unknown,
    /// An entry for this host and key type exists with a different key; the
    /// path is the file that holds it.
    Changed(PathBuf),
    /// The key is marked `@revoked`.
    Revoked(PathBuf),
}

/// OpenSSH's fingerprint format: `SHA256:` + unpadded base64 of the SHA-256 of
/// the key blob.
pub fn fingerprint(blob: &[u8]) -> String {
    let digest = Sha256::digest(blob);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The key type named inside an SSH public key blob (`ssh-ed25519`, ...).
pub fn key_type(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

/// How a host appears in known_hosts: `host` on port 22, else `[host]:port`.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The known_hosts line that trusts `blob` for `host:port`.
pub fn known_hosts_line(host: &str, port: u16, blob: &[u8]) -> Option<String> {
    Some(format!(
        "{} {} {}",
        host_pattern(host, port),
        key_type(blob)?,
        base64::engine::general_purpose::STANDARD.encode(blob)
    ))
}

/// One parsed line of a known_hosts file, before host matching.
struct Line<'a> {
    marker: Option<&'a str>,
    /// The line without its marker, as libssh2 reads it.
    rest: String,
    key_type: &'a str,
    key_b64: &'a str,
}

fn parse_line(line: &str) -> Option<Line<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut words = line.split_whitespace();
    let mut first = words.next()?;
    let mut marker = None;
    if first.starts_with('@') {
        marker = Some(first);
        first = words.next()?;
    }
    let key_type = words.next()?;
    let key_b64 = words.next()?;
    Some(Line {
        marker,
        rest: format!("{first} {key_type} {key_b64}"),
        key_type,
        key_b64,
    })
}

/// Check `blob` offered by `host:port` against the given known_hosts texts
/// (path, contents). Missing files are simply absent from `files`.
pub fn check(files: &[(PathBuf, String)], host: &str, port: u16, blob: &[u8]) -> Verdict {
    let Some(kt) = key_type(blob) else {
        return Verdict::Unknown;
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    let mut changed = None;
    for (path, text) in files {
        // Revoked keys first: a revoked key is refused whatever else says.
        for l in text.lines().filter_map(parse_line) {
            if l.marker == Some("@revoked")
                && l.key_b64 == b64
                && matches_host(&l.rest, host, port, blob, false)
            {
                return Verdict::Revoked(path.clone());
            }
        }
        match check_lines(text, host, port, blob, &kt) {
            CheckResult::Match => return Verdict::Trusted,
            CheckResult::Mismatch => {
                changed.get_or_insert_with(|| path.clone());
            }
            _ => {}
        }
    }
    match changed {
        Some(p) => Verdict::Changed(p),
        None => Verdict::Unknown,
    }
}

/// Key types (known_hosts names) recorded for `host:port` in any file.
pub fn known_types(files: &[(PathBuf, String)], host: &str, port: u16) -> Vec<String> {
    let mut types: Vec<String> = vec![];
    for (_, text) in files {
        for l in text.lines().filter_map(parse_line) {
            if l.marker.is_some() || types.iter().any(|t| t == l.key_type) {
                continue;
            }
            // A dummy key: a host entry of this type answers "mismatch".
            if matches_host(&l.rest, host, port, b"arcane-probe", true) {
                types.push(l.key_type.to_string());
            }
        }
    }
    types
}

/// Host key algorithm preference: algorithms for known key types first.
pub fn hostkey_preference(known: &[String]) -> String {
    let algos_for = |t: &str| -> Vec<&'static str> {
        if t == "ssh-rsa" {
            vec!["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        } else {
            DEFAULT_HOSTKEY_ALGOS
                .iter()
                .copied()
                .filter(|a| *a == t)
                .collect()
        }
    };
    let mut out: Vec<&str> = known.iter().flat_map(|t| algos_for(t)).collect();
    for a in DEFAULT_HOSTKEY_ALGOS {
        if !out.contains(a) {
            out.push(a);
        }
    }
    out.join(",")
}

fn new_known_hosts() -> Option<(ssh2::Session, ssh2::KnownHosts)> {
    let sess = ssh2::Session::new().ok()?;
    let kh = sess.known_hosts().ok()?;
    Some((sess, kh))
}

fn check_lines(text: &str, host: &str, port: u16, blob: &[u8], kt: &str) -> CheckResult {
    let Some((_sess, mut kh)) = new_known_hosts() else {
        return CheckResult::Failure;
    };
    for l in text.lines().filter_map(parse_line) {
        if l.marker.is_none() && l.key_type == kt {
            // Lines libssh2 cannot parse (unsupported key types) are skipped.
            let _ = kh.read_str(&l.rest, KnownHostFileKind::OpenSSH);
        }
    }
    kh.check_port(host, port, blob)
}

/// Whether one known_hosts line names `host:port`. With `dummy`, `blob` is a
/// probe that never matches, so a host match shows up as "mismatch".
fn matches_host(rest: &str, host: &str, port: u16, blob: &[u8], dummy: bool) -> bool {
    let Some((_sess, mut kh)) = new_known_hosts() else {
        return false;
    };
    if kh.read_str(rest, KnownHostFileKind::OpenSSH).is_err() {
        return false;
    }
    match kh.check_port(host, port, blob) {
        CheckResult::Match => !dummy,
        CheckResult::Mismatch => true,
        _ => false,
    }
}

/// Read the known_hosts files that exist.
pub fn load(paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok().map(|t| (p.clone(), t)))
        .collect()
}

/// Append a trust line to `path`, creating it (and its directory) if needed.
/// The file is created 0644 like OpenSSH's; its directory 0700.
pub fn append(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
    }
    let existing = std::fs::read(path).unwrap_or_default();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)?;
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        f.write_all(b"\n")?;
    }
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(kt: &str, body: &[u8]) -> Vec<u8> {
        let mut b = (kt.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kt.as_bytes());
        b.extend_from_slice(&(body.len() as u32).to_be_bytes());
        b.extend_from_slice(body);
        b
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// A hashed entry as `ssh-keygen -H` writes it: |1|salt|HMAC-SHA1(salt, host),
    /// here with an all-zero salt.
    const HASHED_HOST: &str = "|1|AAAAAAAAAAAAAAAAAAAAAAAAAAA=|";

    #[test]
    fn fingerprint_matches_openssh_format() {
        // ssh-keygen -lf of this key prints this fingerprint.
        let key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        assert_eq!(
            fingerprint(&raw),
            "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU"
        );
        assert_eq!(key_type(&raw).as_deref(), Some("ssh-ed25519"));
    }

    #[test]
    fn plain_entries_match_change_and_unknown() {
        let k1 = blob("ssh-ed25519", &[1; 32]);
        let k2 = blob("ssh-ed25519", &[2; 32]);
        let rsa = blob("ssh-rsa", &[3; 64]);
        let p = PathBuf::from("/kh");
        let files = vec![(
            p.clone(),
            format!(
                "# comment\n[10.77.0.2]:2222 ssh-ed25519 {}\n10.77.0.3 ssh-rsa {}\n",
                b64(&k1),
                b64(&rsa)
            ),
        )];
        assert_eq!(check(&files, "10.77.0.2", 2222, &k1), Verdict::Trusted);
        assert_eq!(
            check(&files, "10.77.0.2", 2222, &k2),
            Verdict::Changed(p.clone())
        );
        // Port 22 entries do not vouch for other ports, as in OpenSSH.
        assert_eq!(check(&files, "10.77.0.2", 22, &k1), Verdict::Unknown);
        // Only an RSA key is known for .3: an ed25519 key is unknown, not changed.
        assert_eq!(check(&files, "10.77.0.3", 22, &k1), Verdict::Unknown);
        assert_eq!(check(&files, "10.77.0.3", 22, &rsa), Verdict::Trusted);
        assert_eq!(known_types(&files, "10.77.0.3", 22), vec!["ssh-rsa"]);
        assert!(hostkey_preference(&known_types(&files, "10.77.0.3", 22))
            .starts_with("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-ed25519"));
    }

    #[test]
    fn hashed_entries_work() {
        // Hash computed with: HMAC-SHA1(key = 20 zero bytes, "10.77.0.2").
        let k1 = blob("ssh-ed25519", &[1; 32]);
        let line = format!(
            "{HASHED_HOST}{} ssh-ed25519 {}",
            hashed_for_test("10.77.0.2"),
            b64(&k1)
        );
        let files = vec![(PathBuf::from("/kh"), line)];
        assert_eq!(check(&files, "10.77.0.2", 22, &k1), Verdict::Trusted);
        assert_eq!(check(&files, "10.77.0.9", 22, &k1), Verdict::Unknown);
    }

    /// HMAC-SHA1 with a zero salt, computed by `ssh-keygen -H` and pasted here
    /// (the crate has no SHA-1; the value is fixed test data).
    fn hashed_for_test(host: &str) -> &'static str {
        assert_eq!(host, "10.77.0.2");
        HASH_10_77_0_2
    }
    const HASH_10_77_0_2: &str = "NyenatsernOoT6Y6S0DMolL2ZJ0=";

    #[test]
    fn revoked_keys_are_refused() {
        let k1 = blob("ssh-ed25519", &[1; 32]);
        let files = vec![(
            PathBuf::from("/kh"),
            format!(
                "@revoked host ssh-ed25519 {}\nhost ssh-ed25519 {}\n",
                b64(&k1),
                b64(&k1)
            ),
        )];
        assert!(matches!(
            check(&files, "host", 22, &k1),
            Verdict::Revoked(_)
        ));
    }

    #[test]
    fn trust_lines_use_brackets_for_other_ports() {
        let k1 = blob("ssh-ed25519", &[1; 32]);
        let l = known_hosts_line("10.0.0.1", 2222, &k1).unwrap();
        assert!(l.starts_with("[10.0.0.1]:2222 ssh-ed25519 AAAA"), "{l}");
        assert!(known_hosts_line("h", 22, &k1)
            .unwrap()
            .starts_with("h ssh-"));
    }
}
