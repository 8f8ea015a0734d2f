//! After a bootstrap, arcane connects as the deploy user: `user = "..."`
//! goes into each bootstrapped server's entry in `config/servers.toml`,
//! with the file's comments and layout kept (toml_edit).

use std::path::Path;
use toml_edit::{value, DocumentMut};

/// `text` with `user = "<user>"` in each of `servers`' entries, and the
/// servers whose entry changed. A server missing from the file is an error
/// (the registry changed under us).
pub fn set_user(
    text: &str,
    servers: &[String],
    user: &str,
) -> Result<(String, Vec<String>), String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot parse servers.toml again: {e}"))?;
    let mut changed = vec![];
    for name in servers {
        let entry = doc
            .get_mut("servers")
            .and_then(|s| s.get_mut(name))
            .and_then(|e| e.as_table_like_mut())
            .ok_or_else(|| format!("servers.toml has no [servers.{name}] any more"))?;
        if entry.get("user").and_then(|u| u.as_str()) == Some(user) {
            continue;
        }
        entry.insert("user", value(user));
        changed.push(name.clone());
    }
    Ok((doc.to_string(), changed))
}

/// Replace `path` with `text` in one rename: readers see the old file or
/// the new one, never half of it.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_set_in_place_keeping_comments() {
        let text = "# my servers\n[servers.web1]\nhost = \"203.0.113.7\" # the VPS\nuser = \"root\"\nenv = \"staging\"\n\n[servers.web2]\nhost = \"h2\"\nenv = \"staging\"\n\n[servers.db]\nhost = \"h3\"\nenv = \"staging\"\nuser = \"arcane\"\n";
        let (out, changed) =
            set_user(text, &["web1".into(), "web2".into(), "db".into()], "arcane").unwrap();
        assert_eq!(changed, ["web1", "web2"]);
        assert!(out.starts_with("# my servers\n[servers.web1]\nhost = \"203.0.113.7\" # the VPS\nuser = \"arcane\"\n"), "{out}");
        assert!(
            out.contains("[servers.web2]\nhost = \"h2\"\nenv = \"staging\"\nuser = \"arcane\"\n"),
            "{out}"
        );
        let again = set_user(&out, &["web1".into()], "arcane").unwrap();
        assert!(again.1.is_empty());
        assert!(set_user(text, &["gone".into()], "arcane")
            .unwrap_err()
            .contains("no [servers.gone]"));
    }
}
