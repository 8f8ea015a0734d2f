//! The one transport every remote command goes through: ssh2 for servers, and
//! a local transport for `host = "local"`. Every command is logged as an
//! [`Event::Command`](crate::event::Event) with secrets redacted before it runs.
//!
//! The transport is blocking on purpose: ssh2 is blocking, and engines get
//! parallelism across servers with threads (one per server), which keeps each
//! server's step sequence plain sequential code. Within one server, channels
//! are multiplexed over a single session (see `session.rs`), so a forward and
//! a command run concurrently.

mod forward;
mod guard;
pub mod hostkey;
pub mod local;
#[cfg(test)]
pub mod scripted;
mod session;
pub mod ssh;
pub mod ssh_config;
pub mod transport;

pub use local::LocalTransport;
pub use ssh::{fetch_host_key, ConnectOptions, Endpoint, HostKeyInfo, SshTransport};
pub use transport::*;

use crate::config::Server;
use crate::event::Emitter;
use std::sync::Arc;

/// Opens transports. Operations get one from their context instead of
/// calling [`connect`] themselves, so a test can hand the whole deploy a
/// scripted transport, and the dashboard can use shorter timeouts than the
/// CLI without either knowing about the other.
pub trait Connector: Send + Sync {
    fn connect(&self, server: &Server, em: &Emitter) -> Result<Arc<dyn Transport>, RemoteError>;

    /// The SSH options behind the connections (host key files, identities,
    /// timeouts), for what talks SSH without a transport: `server trust`
    /// and `arcane ssh`.
    fn options(&self) -> &ConnectOptions;
}

/// The real thing: ssh2 (or the local transport) with these options.
#[derive(Debug, Clone, Default)]
pub struct SshConnector(pub ConnectOptions);

impl Connector for SshConnector {
    fn connect(&self, server: &Server, em: &Emitter) -> Result<Arc<dyn Transport>, RemoteError> {
        connect(server, em, &self.0)
    }

    fn options(&self) -> &ConnectOptions {
        &self.0
    }
}

/// Connect to a server: the local transport for `host = "local"`, else one
/// SSH session (host key checked strictly, then auth). The connection shows
/// in the command log (`-v`) as the equivalent `ssh` invocation.
pub fn connect(
    server: &Server,
    em: &Emitter,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Transport>, RemoteError> {
    if server.is_local() {
        return Ok(Arc::new(LocalTransport::new(server.name.clone())));
    }
    let ep = ssh::resolve(server, opts);
    em.command(&format!("ssh {}@{} -p {}", ep.user, ep.hostname, ep.port));
    Ok(Arc::new(SshTransport::connect(server, opts)?))
}
