//! Spark's queue as people and scripts see it (`arcane spark status`, the
//! dashboard's Spark tab, `GET /status`).

use serde::{Deserialize, Serialize};

/// A push waiting for its job (the newest of a burst).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkQueued {
    pub app: String,
    pub env: String,
    pub branch: String,
    pub sha: String,
    /// `github`, `gitlab` or `poll`.
    pub source: String,
    /// How many pushes it stands for.
    pub pushes: u32,
    /// RFC 3339: the first push of the burst.
    pub since: String,
}

/// A job, running or finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkJob {
    pub id: u64,
    pub app: String,
    pub env: String,
    pub branch: String,
    pub sha: String,
    pub source: String,
    pub pushes: u32,
    /// `running`, `stopped` (Spark died while it ran), or the result:
    /// `succeeded`, `failed`, `rolled_back`, `cancelled`, `interrupted`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// The job's log file.
    pub log: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkStatus {
    pub state_dir: String,
    /// Whether a `spark serve` holds the state dir now.
    pub serving: bool,
    pub queued: Vec<SparkQueued>,
    pub running: Vec<SparkJob>,
    /// Finished jobs, newest first.
    pub recent: Vec<SparkJob>,
}
