//! arcane: deploy Docker apps to your own servers over SSH.
//!
//! The library holds every capability; `main.rs` only parses arguments, picks a
//! renderer and maps errors to exit codes. The layout mirrors the architecture:
//! an engine that emits typed [`event::Event`]s, pure builders for docker argv,
//! one transport for every remote command, and renderers (CLI, JSON lines, TUI)
//! that consume the same event stream.

pub mod bootstrap;
pub mod cancel;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod docker;
pub mod error;
pub mod event;
pub mod git;
pub mod interact;
pub mod network;
pub mod ops;
pub mod proxy;
pub mod remote;
pub mod secrets;
pub mod spark;
pub mod tui;
