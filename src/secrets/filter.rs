//! The git filter: ciphertext in git, plaintext in the working tree.
//!
//! `arcane filter process` speaks git's long-running filter protocol (version
//! 2, pkt-line framed, capabilities clean and smudge), so one arcane process
//! serves a whole `git checkout` or `git add` and unwraps each scope key once
//! (one passphrase prompt, on /dev/tty). `filter clean|smudge %f` are the
//! one-shot fallbacks for old gits; `filter textconv` feeds `git diff`.
//!
//! Policy: without a usable identity, smudge passes ciphertext through with a
//! one-line warning so checkout succeeds; clean of plaintext refuses so the
//! commit fails; clean of content that is already fully encrypted is a no-op.

use super::format::{encrypt_text, EnvDoc, FileId, Segment};
use super::keys::Keyring;
use super::project::{decrypt_if_needed, looks_encrypted};
use super::SecretsError;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest pkt-line payload (65520 minus the 4-byte length).
const MAX_PKT: usize = 65516;

/// Read one pkt-line; `Ok(None)` is a flush packet, `Err(UnexpectedEof)` the end.
pub fn read_pkt(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let s = std::str::from_utf8(&len).map_err(|_| bad("pkt-line length is not hex"))?;
    let n = usize::from_str_radix(s, 16).map_err(|_| bad("pkt-line length is not hex"))?;
    match n {
        0 => Ok(None),
        1..=3 => Err(bad("invalid pkt-line length")),
        _ => {
            let mut buf = vec![0u8; n - 4];
            r.read_exact(&mut buf)?;
            Ok(Some(buf))
        }
    }
}

fn bad(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.to_string())
}

pub fn write_pkt(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    for chunk in data.chunks(MAX_PKT) {
        write!(w, "{:04x}", chunk.len() + 4)?;
        w.write_all(chunk)?;
    }
    Ok(())
}

pub fn write_flush(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0000")
}

/// Read text packets up to a flush.
fn read_list(r: &mut impl Read) -> io::Result<Vec<String>> {
    let mut v = vec![];
    while let Some(p) = read_pkt(r)? {
        v.push(
            String::from_utf8_lossy(&p)
                .trim_end_matches('\n')
                .to_string(),
        );
    }
    Ok(v)
}

/// Filter state for one git command: keyrings per project root, cached.
pub struct Filter {
    identity_flag: Option<PathBuf>,
    keyrings: HashMap<PathBuf, Keyring>,
    warned: bool,
    warned_untrusted: bool,
}

impl Filter {
    pub fn new(identity_flag: Option<&Path>) -> Filter {
        Filter {
            identity_flag: identity_flag.map(Path::to_path_buf),
            keyrings: HashMap::new(),
            warned: false,
            warned_untrusted: false,
        }
    }

    fn keyring(&mut self, root: &Path) -> &Keyring {
        let flag = self.identity_flag.clone();
        self.keyrings
            .entry(root.to_path_buf())
            .or_insert_with(|| Keyring::new(root, flag.as_deref()))
    }

    /// Encrypt for git. Errors refuse the commit.
    pub fn clean(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let p = Path::new(path);
        let text = std::str::from_utf8(input)
            .map_err(|_| SecretsError::input(format!("{path}: env files must be UTF-8 text")))?;
        let doc = EnvDoc::parse(text, p)?;
        if doc.is_fully_encrypted() {
            return Ok(input.to_vec());
        }
        let refuse = |why: String| {
            SecretsError::NoKey(format!(
                "refusing to store {path} unencrypted: {why}. Nothing was committed; fix the identity (see `arcane identity show`) or unstage the file"
            ))
        };
        let root = project_root_for(p)
            .ok_or_else(|| refuse("no .arcane/ directory found above it".into()))?;
        let id = FileId::from_path(p)?;
        let keys = self.keyring(&root);
        let c = keys.cipher(&id.scope).map_err(|e| refuse(e.to_string()))?;
        Ok(encrypt_text(&c, &id, text, p)?.into_bytes())
    }

    /// Decrypt for the working tree; never fails a checkout: without a key,
    /// with a key the signed manifest does not vouch for, or on a bad file,
    /// the ciphertext is passed through with one warning.
    pub fn smudge(&mut self, path: &str, input: &[u8]) -> Vec<u8> {
        match self.smudge_checked(path, input) {
            Ok(out) => out,
            Err(e @ SecretsError::Untrusted { .. }) => {
                if !self.warned_untrusted {
                    self.warned_untrusted = true;
                    eprintln!(
                        "arcane: left env files encrypted: {e}\n\
                         arcane: nothing was decrypted with that key; `arcane secrets verify` shows every problem"
                    );
                }
                input.to_vec()
            }
            Err(e @ (SecretsError::NoKey(_) | SecretsError::Locked { .. })) => {
                if !self.warned {
                    self.warned = true;
                    eprintln!(
                        "arcane: checked out env files as ciphertext (cannot decrypt {path}: {})",
                        first_line(&e.to_string())
                    );
                }
                input.to_vec()
            }
            Err(e) => {
                eprintln!("arcane: {path} left encrypted: {e}");
                input.to_vec()
            }
        }
    }

    /// Smudge, or the reason it could not decrypt (the one-shot `filter
    /// smudge` exits 2 on an unauthenticated key).
    pub fn smudge_checked(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let Ok(text) = std::str::from_utf8(input) else {
            return Ok(input.to_vec());
        };
        if !looks_encrypted(text) {
            return Ok(input.to_vec());
        }
        let p = Path::new(path);
        match project_root_for(p) {
            Some(root) => decrypt_if_needed(text, p, self.keyring(&root)).map(String::into_bytes),
            None => Err(SecretsError::NoKey(
                "no .arcane/ directory found above it".into(),
            )),
        }
    }

    /// Serve git's long-running filter protocol until git closes the pipe.
    pub fn serve(&mut self, r: &mut impl Read, w: &mut impl Write) -> io::Result<()> {
        let hello = read_list(r)?;
        if hello.first().map(String::as_str) != Some("git-filter-client")
            || !hello.iter().any(|l| l == "version=2")
        {
            return Err(bad("not a git filter client speaking version 2"));
        }
        write_pkt(w, b"git-filter-server\n")?;
        write_pkt(w, b"version=2\n")?;
        write_flush(w)?;
        w.flush()?;
        let caps = read_list(r)?;
        for cap in ["clean", "smudge"] {
            if caps.iter().any(|c| c == &format!("capability={cap}")) {
                write_pkt(w, format!("capability={cap}\n").as_bytes())?;
            }
        }
        write_flush(w)?;
        w.flush()?;
        loop {
            let headers = match read_list(r) {
                Ok(h) => h,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            };
            let get = |k: &str| {
                headers
                    .iter()
                    .find_map(|h| h.strip_prefix(&format!("{k}=")).map(str::to_string))
            };
            let command = get("command").unwrap_or_default();
            let pathname = get("pathname").unwrap_or_default();
            let mut content = vec![];
            while let Some(p) = read_pkt(r)? {
                content.extend_from_slice(&p);
            }
            let result = match command.as_str() {
                "clean" => self.clean(&pathname, &content).map_err(|e| {
                    eprintln!("arcane: {e}");
                }),
                "smudge" => Ok(self.smudge(&pathname, &content)),
                _ => Err(()),
            };
            match result {
                Ok(out) => {
                    write_pkt(w, b"status=success\n")?;
                    write_flush(w)?;
                    write_pkt(w, &out)?;
                    write_flush(w)?;
                    write_flush(w)?;
                }
                Err(()) => {
                    write_pkt(w, b"status=error\n")?;
                    write_flush(w)?;
                }
            }
            w.flush()?;
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The project root owning an env file: `<root>/config/envs/x.env`, or the
/// nearest ancestor with `.arcane/recipients.toml`.
pub fn project_root_for(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut cur = abs.parent();
    while let Some(d) = cur {
        if d.join(super::recipients::RECIPIENTS_FILE).is_file() {
            return Some(d.to_path_buf());
        }
        cur = d.parent();
    }
    None
}

/// `git diff` textconv: the plaintext with every value masked by a keyed
/// fingerprint (so a changed value shows as changed), or revealed when
/// `ARCANE_REVEAL=1` or `git config arcane.reveal true`.
pub fn textconv(file: &Path, identity_flag: Option<&Path>) -> Result<String, SecretsError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SecretsError::io(format!("reading {}", file.display()), e))?;
    // git hands us either the worktree file or a temp file named XXXXXX_<basename>.
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_tmp = file
        .parent()
        .is_some_and(|d| d == std::env::temp_dir() || d.starts_with(std::env::temp_dir()));
    let layer_name = match (in_tmp, name.split_once('_')) {
        (true, Some((pre, rest))) if pre.len() == 6 => rest.to_string(),
        _ => name.to_string(),
    };
    let logical = PathBuf::from(&layer_name);
    let Ok(id) = FileId::from_path(&logical) else {
        return Ok(text);
    };
    let root = project_root_for(file).or_else(find_root_from_cwd);
    let Some(root) = root else { return Ok(text) };
    let keys = Keyring::new(&root, identity_flag);
    let Ok(c) = keys.cipher(&id.scope) else {
        // No key: the ciphertext itself is deterministic, so changes still show.
        return Ok(text);
    };
    let plain = if looks_encrypted(&text) {
        super::format::decrypt_text(&c, &id, &text, &logical)?
    } else {
        text
    };
    if reveal() {
        return Ok(plain);
    }
    let doc = EnvDoc::parse(&plain, &logical)?;
    let mut out = String::new();
    for s in &doc.segments {
        match s {
            Segment::Verbatim(t) => out.push_str(t),
            Segment::Entry {
                prefix,
                key,
                value,
                eol,
                ..
            } => {
                out.push_str(prefix);
                out.push_str(&format!("*** ({})", c.fingerprint(&id, key, value)));
                out.push_str(eol);
            }
            Segment::Mac { .. } => {}
        }
    }
    Ok(out)
}

fn reveal() -> bool {
    if std::env::var("ARCANE_REVEAL").is_ok_and(|v| v == "1" || v == "true") {
        return true;
    }
    std::process::Command::new("git")
        .args(["config", "--get", "--bool", "arcane.reveal"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true")
}

fn find_root_from_cwd() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    if let Some(r) = project_root_for(&cwd.join("x")) {
        return Some(r);
    }
    // A project in a subdirectory of the repo (monorepo).
    std::fs::read_dir(&cwd)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join(super::recipients::RECIPIENTS_FILE).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_lines_roundtrip_and_split_large_payloads() {
        let mut buf = vec![];
        write_pkt(&mut buf, b"hello\n").unwrap();
        write_flush(&mut buf).unwrap();
        let big = vec![b'x'; MAX_PKT + 10];
        write_pkt(&mut buf, &big).unwrap();
        write_flush(&mut buf).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_pkt(&mut r).unwrap().unwrap(), b"hello\n");
        assert!(read_pkt(&mut r).unwrap().is_none());
        assert_eq!(read_pkt(&mut r).unwrap().unwrap().len(), MAX_PKT);
        assert_eq!(read_pkt(&mut r).unwrap().unwrap().len(), 10);
        assert!(read_pkt(&mut r).unwrap().is_none());
        assert!(read_pkt(&mut &b"zzzz"[..]).is_err());
    }
}
