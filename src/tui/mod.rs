//! The dashboard (`arcane` with no arguments), built the TEA way:
//!
//! - [`model`]: plain data, built from the project config;
//! - [`update::update`]`(model, msg) -> Vec<Command>`: every state change, no I/O;
//! - [`view::view`]`(model, frame)`: pure rendering (clock and spinner are
//!   model fields, so snapshots are deterministic);
//! - [`effects`]: the thin adapter that runs each `Command` as an engine call
//!   on a blocking thread and reports back with a message;
//! - [`runtime`]: the tokio loop over terminal input, engine events (through
//!   `event::ChannelSink`) and a render tick.
//!
//! The UI holds no deploy logic: it asks the engines and shows their events.

pub mod bootstrap;
pub mod dialog;
pub mod effects;
pub mod graph;
pub mod keymap;
pub mod model;
pub mod runtime;
pub mod spark;
pub mod theme;
pub mod update;
pub mod view;

#[cfg(test)]
mod bootstrap_tests;
#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

use crate::config::Project;
use crate::error::InputError;
use crate::event::{ChannelSink, Emitter};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Open the dashboard on `project`; `identity` is `--identity`.
pub fn run(project: Project, identity: Option<PathBuf>) -> Result<i32> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(InputError::new(
            "the dashboard needs a terminal; run a subcommand instead (see `arcane --help`)",
        )
        .into());
    }
    let mut model = model::Model::new(&project, theme::no_color_env(), runtime::unix_now());
    let (msg_tx, msg_rx) = tokio::sync::mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(Arc::new(ChannelSink(ev_tx)));
    let effects = effects::Effects::new(Arc::new(project), identity, msg_tx, emitter);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut terminal = ratatui::try_init().context("opening the terminal")?;
    let res = rt.block_on(runtime::run(
        &mut terminal,
        &mut model,
        &effects,
        msg_rx,
        ev_rx,
    ));
    ratatui::restore();
    // `update` has stopped the follower on quitting; its command must be
    // dead before arcane is.
    effects.stop_logs_and_wait(std::time::Duration::from_secs(3));
    res.context("drawing the dashboard")?;
    // Background probes may still be waiting on a dead server's timeout;
    // they hold nothing that needs cleaning up.
    rt.shutdown_background();
    Ok(crate::error::EXIT_OK)
}
