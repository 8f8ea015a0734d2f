//! The one transport every remote command goes through: ssh2 for servers, and
//! a local transport for `host = "local"`. Every command is logged as an
//! [`Event::Command`](crate::event::Event) with secrets redacted before it runs.
//!
//! The transport is blocking on purpose: ssh2 is blocking, and engines get
//! parallelism across servers with threads (one per server), which keeps each
//! server's step sequence plain sequential code.

pub mod local;
pub mod transport;

pub use local::LocalTransport;
pub use transport::*;
