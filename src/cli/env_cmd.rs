//! `env show`: the merged, layered env of a target.

use super::render::table;
use super::Ctx;
use crate::config;
use anyhow::Result;
use serde_json::json;

/// Shown instead of a value without `--reveal`. Fixed width, so the mask does
/// not leak a value's length.
const MASK: &str = "********";

/// How env files are read: the secrets engine's reader, which returns
/// plaintext whether the file on disk is plaintext (git filters configured)
/// or ciphertext (a CI checkout); every caller of `merged` in the CLI goes
/// through this function.
fn env_reader(ctx: &Ctx) -> crate::secrets::EnvReader {
    match ctx.project_root() {
        Ok(root) => crate::secrets::boxed_reader(&root, ctx.global.identity.as_deref()),
        Err(_) => Box::new(config::read_plain),
    }
}

pub fn show(ctx: &Ctx, env: &str, server: Option<&str>, reveal: bool) -> Result<i32> {
    let p = ctx.project()?;
    let read = env_reader(ctx);
    let merged = config::merged(&p, env, server, &*read)?;
    // Values are not registered with the redactor here: nothing else is
    // printed that could carry them, and masking short plain values like
    // "staging" would garble the summary line.
    let shown = |v: &str| {
        if v.is_empty() {
            "(empty)".to_string()
        } else if reveal {
            v.to_string()
        } else {
            MASK.to_string()
        }
    };
    if ctx.json() {
        for e in merged.iter() {
            let mut v = json!({ "key": e.key, "layer": e.layer, "line": e.line });
            if reveal {
                v["value"] = json!(e.value);
            }
            ctx.emitter.data("env_key", v);
        }
    } else {
        let rows = merged
            .iter()
            .map(|e| vec![e.key.clone(), shown(&e.value), e.layer.clone()])
            .collect();
        ctx.emitter
            .data("table", table(&["key", "value", "layer"], rows));
    }
    let target = match server {
        Some(s) => format!("{env} on {s}"),
        None => env.to_string(),
    };
    let hint = if reveal || merged.is_empty() {
        ""
    } else {
        " (values hidden; --reveal shows them)"
    };
    ctx.emitter
        .finished(true, format!("{} keys for {target}{hint}", merged.len()));
    Ok(0)
}
