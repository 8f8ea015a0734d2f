//! `arcane secrets verify`: every check of the encrypted secrets in one pass,
//! also run by `config check`. What needs no key always runs (the signed
//! manifest and the pins, key files against it, `recipients.toml` against
//! it, plaintext inside encrypted files in the working tree, the index and
//! HEAD); with a key, each scope's data key is checked against its key id
//! and every env file of the scope is decrypted (every value and the MAC).

use super::keys::{key_file, Keyring, KEYS_DIR};
use super::project::{env_files, looks_encrypted};
use super::recipients::{Recipients, RECIPIENTS_FILE};
use super::{gitcfg, sealed, trust, FileId, SecretsError};
use std::path::Path;

/// One problem, located, and what verification found and could not check
/// (the same data `arcane secrets verify --json` reports).
pub use crate::event::report::{SecretsProblem as Problem, SecretsReport as Report};

fn problem(check: &'static str, file: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        check,
        file: file.into(),
        line: None,
        message: message.into(),
    }
}

/// Verify the project at `root`. `keys`: `None` checks only what needs no
/// key (what `config check` runs); with a keyring, scopes it can open are
/// also decrypted. `Ok` with problems is a finding; `Err` is a usage error.
pub fn verify(root: &Path, keys: Option<&Keyring>) -> Result<Report, SecretsError> {
    let mut rep = Report::default();
    if !Recipients::exists(root) {
        return Ok(rep);
    }
    let plain_keys = Keyring::new(root, None);
    let ring = keys.unwrap_or(&plain_keys);
    let verified = match ring.trusted() {
        Ok(v) => Some(v),
        Err(SecretsError::Untrusted { file, message }) => {
            rep.problems
                .push(problem("manifest", file.display().to_string(), message));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(v) = &verified {
        rep.first_use = v.first_use;
        if v.behind {
            rep.problems.push(problem(
                "behind",
                trust::MANIFEST,
                "older than a key manifest you verified before: an old commit, or .arcane/ was rolled back",
            ));
        }
        for s in v.tip.scopes.keys() {
            rep.scopes.push((
                s.clone(),
                v.tip
                    .recipients_of(s)
                    .into_iter()
                    .map(|(n, _, _)| n)
                    .collect(),
            ));
            if !key_file(root, s).exists() {
                rep.problems.push(problem(
                    "key-file",
                    format!("{KEYS_DIR}/{s}.age"),
                    "missing: the signed manifest names this scope's key file",
                ));
            } else if let Err(e) = ring.check_key_file(s) {
                rep.problems.push(untrusted("key-file", e));
            } else if let Some(m) = wrapping_mismatch(&key_file(root, s), &v.tip.recipients_of(s)) {
                rep.problems
                    .push(problem("recipients", format!("{KEYS_DIR}/{s}.age"), m));
            }
        }
        for f in std::fs::read_dir(root.join(KEYS_DIR))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(s) = name.strip_suffix(".age") {
                if !v.tip.scopes.contains_key(s) {
                    rep.problems.push(problem(
                        "key-file",
                        format!("{KEYS_DIR}/{name}"),
                        "not in the signed key manifest: added outside arcane (a forged key?); see `git log -p -- .arcane/`",
                    ));
                }
            }
        }
        match Recipients::load(root) {
            Ok(r) => {
                for m in trust::recipients_mismatch(&r, &v.tip) {
                    rep.problems.push(problem("recipients", RECIPIENTS_FILE, m));
                }
            }
            Err(e) => rep
                .problems
                .push(problem("recipients", RECIPIENTS_FILE, e.to_string())),
        }
    }
    for f in sealed::scan_worktree(root) {
        rep.problems.push(sealed_problem(f));
    }
    if let Ok(top) = gitcfg::toplevel(root) {
        let head = gitcfg::git(&top, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok();
        let mut found = sealed::scan_index(&top)?;
        if head {
            // HEAD's tree: what a clone gets. `scan --rev` covers history.
            found.extend(sealed::scan_revs(
                &top,
                &["--no-walk".into(), "HEAD".into()],
            )?);
        }
        found.dedup();
        rep.problems.extend(found.into_iter().map(sealed_problem));
    }
    if let (Some(v), Some(keys)) = (&verified, keys) {
        for s in v.tip.scopes.keys() {
            match keys.data_key(s) {
                Ok(_) => {}
                Err(SecretsError::NoKey(_)) => {
                    rep.skipped.push(s.clone());
                    continue;
                }
                Err(e) => {
                    rep.problems.push(untrusted("key", e));
                    continue;
                }
            }
            for f in env_files(root) {
                if !FileId::from_path(&f).is_ok_and(|id| id.scope == *s) {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&f) else {
                    continue;
                };
                if !looks_encrypted(&text) {
                    continue;
                }
                let decrypted = super::project::decrypt_if_needed(&text, &f, keys);
                if let Ok(plain) = &decrypted {
                    if let Ok(entries) = crate::config::envfile::parse(plain, &f) {
                        let mut w = vec![];
                        crate::config::check::meaning_changes(plain, &f, &entries, &mut w);
                        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                        rep.warnings.extend(w.into_iter().map(|c| Problem {
                            check: "meaning",
                            file: rel.clone(),
                            line: c.line,
                            message: c.message,
                        }));
                    }
                }
                if let Err(e) = decrypted {
                    let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                    let line = match &e {
                        SecretsError::BadValue { line, .. } | SecretsError::Parse { line, .. } => {
                            Some(*line)
                        }
                        _ => None,
                    };
                    rep.problems.push(Problem {
                        check: "env-file",
                        file: rel,
                        line,
                        message: e.to_string(),
                    });
                }
            }
        }
    } else if verified.is_some() {
        rep.skipped = rep.scopes.iter().map(|(s, _)| s.clone()).collect();
    }
    Ok(rep)
}

/// The recipient stanzas in an armored age file's header: (type, first arg).
/// Grease stanzas (random `*-grease` types age adds) are left out.
pub fn stanzas(data: &[u8]) -> Option<Vec<(String, String)>> {
    use base64::Engine;
    let text = std::str::from_utf8(data).ok()?;
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let end = raw.windows(4).position(|w| w == b"\n---")?;
    let header = std::str::from_utf8(&raw[..end]).ok()?;
    Some(
        header
            .lines()
            .filter_map(|l| l.strip_prefix("-> "))
            .map(|l| {
                let mut it = l.split(' ');
                let t = it.next().unwrap_or("").to_string();
                (t, it.next().unwrap_or("").to_string())
            })
            .filter(|(t, _)| !t.ends_with("-grease"))
            .collect(),
    )
}

/// Does the key file's age header wrap the key for exactly the recipients
/// the manifest names? X25519 stanzas can only be counted; ssh stanzas carry
/// a tag of the key, so they are matched one by one. This needs no key and
/// catches a member who signed a file also wrapped for someone unlisted.
fn wrapping_mismatch(
    path: &Path,
    recipients: &std::collections::BTreeSet<(String, super::recipients::Kind, String)>,
) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let data = std::fs::read(path).ok()?;
    let Some(found) = stanzas(&data) else {
        return Some("not an armored age file".into());
    };
    let mut want_x = 0usize;
    let mut want: Vec<(String, String)> = vec![];
    for (_, _, key) in recipients {
        if key.starts_with("age1") {
            want_x += 1;
        } else if let Some((t, b64)) = key.split_once(' ') {
            let blob = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let tag = base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(&sha2::Sha256::digest(&blob)[..4]);
            want.push((t.to_string(), tag));
        }
    }
    let got_x = found.iter().filter(|(t, _)| t == "X25519").count();
    let mut got: Vec<(String, String)> = found.into_iter().filter(|(t, _)| t != "X25519").collect();
    got.sort();
    want.sort();
    if got_x != want_x || got != want {
        return Some(format!(
            "the key file is wrapped for {} recipient(s) ({} age, {} ssh), the signed manifest names {} ({} age, {} ssh): someone unlisted may hold this key",
            got_x + got.len(),
            got_x,
            got.len(),
            want_x + want.len(),
            want_x,
            want.len()
        ));
    }
    None
}

fn untrusted(check: &'static str, e: SecretsError) -> Problem {
    match e {
        SecretsError::Untrusted { file, message } => {
            problem(check, file.display().to_string(), message)
        }
        other => problem(check, "", other.to_string()),
    }
}

fn sealed_problem(f: super::scan::Finding) -> Problem {
    Problem {
        check: "plaintext",
        file: f.file,
        line: Some(f.line),
        message: format!(
            "{}: {} ({}); it is not encrypted and git stores it as is",
            f.rule, f.redacted, f.fingerprint
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::recipients::Kind;
    use std::collections::BTreeSet;

    #[test]
    fn the_age_header_is_checked_against_the_named_recipients() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let b = age::x25519::Identity::generate().to_public().to_string();
        let ssh =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
        let k = crate::secrets::DataKey::generate();
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.age");
        let set = |keys: &[&str]| -> BTreeSet<(String, Kind, String)> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| (format!("m{i}"), Kind::Person, k.to_string()))
                .collect()
        };
        std::fs::write(
            &p,
            crate::secrets::keys::wrap("s", &k, &[a.clone(), ssh.into()]).unwrap(),
        )
        .unwrap();
        assert_eq!(wrapping_mismatch(&p, &set(&[&a, ssh])), None);
        // Also wrapped for someone the manifest does not name.
        std::fs::write(
            &p,
            crate::secrets::keys::wrap("s", &k, &[a.clone(), b.clone(), ssh.into()]).unwrap(),
        )
        .unwrap();
        assert!(wrapping_mismatch(&p, &set(&[&a, ssh]))
            .unwrap()
            .contains("someone unlisted"));
        // Another ssh key than the named one.
        std::fs::write(
            &p,
            crate::secrets::keys::wrap("s", &k, &[a.clone(), b.clone()]).unwrap(),
        )
        .unwrap();
        assert!(wrapping_mismatch(&p, &set(&[&a, ssh])).is_some());
    }
}
