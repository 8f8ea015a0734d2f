//! The layered, encrypted env files: `env show`, `env set|unset|edit`, the
//! values `arcane run` passes on, and the dashboard's Env tab.
//!
//! Writes work on the checkout (`Local`), not on a loaded project: a broken
//! `arcane.toml` must not stop anyone from fixing a secret. Reads of values
//! go through the secrets engine's reader, which refuses key files the
//! signed manifest does not vouch for.

use super::{Ctx, Error, Local};
use crate::config;
use crate::event::report::{EnvKeyRow, EnvReport};
use crate::event::Event;
use crate::secrets::recipients::Recipients;
use crate::secrets::{project, Keyring};
use std::path::{Path, PathBuf};

/// The merged env of `env` (on `server`): every key, the layer it comes
/// from and, with `reveal`, its value. Decrypts, so it needs a key that can
/// open the scopes, and refuses unauthenticated key files.
pub fn show(ctx: &Ctx, env: &str, server: Option<&str>, reveal: bool) -> Result<EnvReport, Error> {
    let read = crate::secrets::boxed_reader(&ctx.project.root, ctx.identity.as_deref());
    let merged = config::merged(ctx.project, env, server, &*read)?;
    let rep = EnvReport {
        env: env.to_string(),
        server: server.map(str::to_string),
        keys: merged
            .iter()
            .map(|e| EnvKeyRow {
                key: e.key.clone(),
                layer: e.layer.clone(),
                overrides: vec![],
                line: e.line,
                value: reveal.then(|| e.value.clone()),
            })
            .collect(),
    };
    ctx.em.emit(Event::Env(rep.clone()));
    let target = match server {
        Some(s) => format!("{env} on {s}"),
        None => env.to_string(),
    };
    let hint = if reveal || rep.keys.is_empty() {
        ""
    } else {
        " (values hidden; --reveal shows them)"
    };
    ctx.em
        .finished(true, format!("{} keys for {target}{hint}", rep.keys.len()));
    Ok(rep)
}

/// The keys of `env`'s layers, read without decrypting (key names are not
/// secret), so it works without a key. A key set in several layers comes
/// from the highest and names the ones it overrides. Still refuses when a
/// scope's key file is not vouched for: a forged file's keys are not shown.
pub fn keys(ctx: &Ctx, env: &str) -> Result<Vec<EnvKeyRow>, Error> {
    let p = ctx.project;
    if Recipients::exists(&p.root) {
        let keys = Keyring::new(&p.root, None);
        for scope in ["base", env] {
            keys.check_key_file(scope)?;
        }
    }
    let mut out: Vec<EnvKeyRow> = vec![];
    for layer in config::layers::layer_files(&p.envs_dir(), env, None) {
        let name = layer.name.trim_end_matches(".env").to_string();
        let text = match std::fs::read_to_string(&layer.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Failed(format!("{}: {e}", layer.path.display())));
            }
        };
        for e in config::envfile::parse(&text, &layer.path)? {
            match out.iter_mut().find(|k| k.key == e.key) {
                Some(k) => {
                    let old = std::mem::replace(&mut k.layer, name.clone());
                    if !k.overrides.contains(&old) {
                        k.overrides.push(old);
                    }
                    k.line = e.line;
                }
                None => out.push(EnvKeyRow {
                    key: e.key,
                    layer: name.clone(),
                    overrides: vec![],
                    line: e.line,
                    value: None,
                }),
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// One decrypted value of `env`'s merged env.
pub fn reveal(ctx: &Ctx, env: &str, key: &str) -> Result<String, Error> {
    let read = crate::secrets::boxed_reader(&ctx.project.root, ctx.identity.as_deref());
    let merged = config::merged(ctx.project, env, None, &*read)?;
    merged
        .get(key)
        .map(str::to_string)
        .ok_or_else(|| Error::input(format!("{key} is not set for {env}")))
}

/// The merged env as `(key, value)` pairs, every value registered with the
/// redactor first (what `arcane run` gives its child).
pub fn pairs(ctx: &Ctx, env: &str, server: Option<&str>) -> Result<Vec<(String, String)>, Error> {
    let read = crate::secrets::boxed_reader(&ctx.project.root, ctx.identity.as_deref());
    let merged = config::merged(ctx.project, env, server, &*read)?;
    let pairs = merged.pairs();
    ctx.em
        .redactor()
        .add_all(pairs.iter().map(|(_, v)| v.as_str()));
    Ok(pairs)
}

/// A project without key material cannot encrypt: say what creates it,
/// instead of "recipients.toml does not exist".
fn require_keys(root: &Path) -> Result<(), Error> {
    if Recipients::exists(root) {
        return Ok(());
    }
    Err(Error::input(format!(
        "{} has no encrypted secrets yet (no .arcane/recipients.toml): run `arcane setup` in this project to create your identity, the keys and the git filters, then set values",
        root.display()
    )))
}

fn keyring(l: &Local) -> Keyring {
    Keyring::new(l.root, l.identity)
}

/// Set `key` in `layer.env` (`base`, `staging`, `staging.web1`...), any
/// value byte for byte; re-encrypts the file. Returns the file written.
pub fn set(l: &Local, layer: &str, key: &str, value: &str) -> Result<PathBuf, Error> {
    require_keys(l.root)?;
    let path = project::set_value(l.root, layer, key, value, &keyring(l))?;
    l.em.finished(true, format!("set {key} in {}", rel(l.root, &path)));
    Ok(path)
}

/// Remove `key` from `layer.env`. `Ok(false)` when it was not set.
pub fn unset(l: &Local, layer: &str, key: &str) -> Result<bool, Error> {
    require_keys(l.root)?;
    let found = project::unset_value(l.root, layer, key, &keyring(l))?;
    let path = project::env_file_path(l.root, layer);
    l.em.finished(
        true,
        if found {
            format!("removed {key} from {}", rel(l.root, &path))
        } else {
            format!("{key} is not set in {}", rel(l.root, &path))
        },
    );
    Ok(found)
}

/// `env edit`: decrypt `layer.env` into a 0600 temp file (on RAM-backed
/// storage when there is one), let `editor` change it, validate and write
/// it back encrypted. The temp file is removed whatever happens; an invalid
/// edit leaves the original untouched. Returns whether anything changed.
pub fn edit(
    l: &Local,
    layer: &str,
    editor: &dyn Fn(&Path) -> Result<(), Error>,
) -> Result<bool, Error> {
    require_keys(l.root)?;
    let keys = keyring(l);
    let path = project::env_file_path(l.root, layer);
    let existing = std::fs::read_to_string(&path).ok();
    let plain = match &existing {
        Some(t) => project::decrypt_if_needed(t, &path, &keys)?,
        None => String::new(),
    };
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let io = |e: std::io::Error| Error::Failed(format!("the temporary copy: {e}"));
    let tmp = tempfile::Builder::new()
        .prefix("arcane-edit-")
        .suffix(&format!("-{layer}.env"))
        .tempfile_in(dir)
        .map_err(io)?; // created 0600 by tempfile
    std::fs::write(tmp.path(), plain.as_bytes()).map_err(io)?;
    editor(tmp.path())
        .map_err(|e| Error::input(format!("{e}; {} left unchanged", rel(l.root, &path))))?;
    let mut edited = std::fs::read_to_string(tmp.path()).map_err(io)?;
    drop(tmp);
    if edited == plain {
        l.em.finished(
            true,
            format!("no changes; {} left unchanged", rel(l.root, &path)),
        );
        return Ok(false);
    }
    if layer != "base" && !path.exists() {
        let scope = crate::secrets::FileId::from_path(&path)?.scope;
        project::ensure_scope(l.root, scope.as_str(), &keys)?;
    }
    let res = project::write_env_file(l.root, &path, &edited, existing.as_deref(), &keys);
    zeroize::Zeroize::zeroize(&mut edited);
    res.map_err(|e| {
        Error::input(format!(
            "{e}\n{} was left unchanged; your edit was discarded",
            rel(l.root, &path)
        ))
    })?;
    l.em.finished(true, format!("saved {}", rel(l.root, &path)));
    Ok(true)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
