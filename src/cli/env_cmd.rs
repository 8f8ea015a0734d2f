//! `env show`: the merged, layered env of a target.

// The reader type is spelled out (not `config::ReadFn`) to keep this file
// identical to the secrets branch's seam line.
#![allow(clippy::type_complexity)]

use super::render::table;
use super::Ctx;
use crate::config::{self, ConfigError};
use anyhow::Result;
use serde_json::json;
use std::path::Path;

/// Shown instead of a value without `--reveal`. Fixed width, so the mask does
/// not leak a value's length.
const MASK: &str = "********";

/// How env files are read. Plaintext for now; the secrets engine swaps in its
/// decrypting reader here (one line), and every caller of `merged` in the CLI
/// goes through this function.
fn env_reader(ctx: &Ctx) -> Box<dyn Fn(&Path) -> Result<String, ConfigError>> {
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
