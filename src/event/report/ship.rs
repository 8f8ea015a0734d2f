//! `build` and `push`.

use serde::Serialize;

/// One image a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltImage {
    /// Compose service, or `web` in Dockerfile mode.
    pub service: String,
    /// `<app>:<version>` or `<app>-<service>:<version>`.
    pub tag: String,
    /// `sha256:...`
    pub id: String,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    pub version: String,
    /// The commit (without the dirty suffix).
    pub revision: String,
    pub images: Vec<BuiltImage>,
}

/// `push` to one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerPush {
    pub server: String,
    pub ok: bool,
    pub bytes_sent: u64,
    /// Images that were not on the server yet.
    pub images_sent: usize,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushSummary {
    pub version: String,
    pub servers: Vec<ServerPush>,
}
