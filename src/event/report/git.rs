//! The git assistant: shadow snapshots, generated commits, squash plans.

use serde::{Deserialize, Serialize};

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `A`dded, `M`odified, `D`eleted, `T`ype changed.
    pub status: char,
    pub added: u64,
    pub removed: u64,
    pub binary: bool,
}

/// A commit message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// A leak scanner (or plaintext) finding, the secret already redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRow {
    pub file: String,
    pub line: usize,
    pub rule: String,
    pub redacted: String,
    pub fingerprint: String,
}

/// What became of one snapshot attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotState {
    /// Committed to the shadow ref.
    Taken,
    /// Nothing changed since the last snapshot (or HEAD).
    Unchanged,
    /// The leak scanner or the plaintext check found something.
    Blocked,
    /// A git command held the index; tried again later.
    Busy,
}

/// `git watch`: one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowSnapshot {
    pub branch: Option<String>,
    pub shadow_ref: String,
    pub state: SnapshotState,
    pub commit: Option<String>,
    pub parent: Option<String>,
    pub subject: Option<String>,
    pub generator: Option<String>,
    pub fallback_reason: Option<String>,
    pub files: Vec<FileChange>,
    pub findings: Vec<FindingRow>,
    /// Plaintext env files left out (no filter would encrypt them).
    pub left_out: Vec<String>,
    /// Why the configured filter could not encrypt them, if it failed.
    pub filter_error: Option<String>,
    pub elapsed_ms: u64,
}

/// How much a change moves a semver version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

/// One commit being squashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SquashSource {
    pub sha: String,
    pub subject: String,
    pub kind: String,
    pub scope: Option<String>,
    pub breaking: bool,
    /// A shadow snapshot (not a commit of the branch).
    pub shadow: bool,
    #[serde(skip)]
    pub author: (String, String, String),
    #[serde(skip)]
    pub files: Vec<String>,
}

/// One commit of a squash's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SquashGroup {
    pub kind: String,
    pub scope: Option<String>,
    pub bump: Bump,
    pub message: Message,
    /// `original` (the one commit's own message), `fallback`, or a model.
    pub generator: String,
    pub files: Vec<String>,
    /// Short shas of the commits it replaces.
    pub commits: Vec<String>,
    #[serde(skip)]
    pub author: (String, String, String),
}

/// A squash, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SquashPlan {
    pub branch: String,
    pub base: String,
    /// What the base was found from (`origin/main`, the `--onto` value).
    pub base_name: String,
    /// The branch tip the plan was made on.
    pub head: String,
    /// The shadow tip whose snapshots are included, if any.
    pub shadow_tip: Option<String>,
    /// The tree the result has (the last squashed commit's).
    pub tree: String,
    pub sources: Vec<SquashSource>,
    pub groups: Vec<SquashGroup>,
    pub bump: Option<Bump>,
    pub version_from: Option<String>,
    pub version_to: Option<String>,
    /// Why a model did not write some messages.
    pub fallback_reasons: Vec<String>,
}

/// What applying a squash did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SquashApplied {
    pub new_head: String,
    pub commits: Vec<String>,
    pub backup_ref: String,
    /// The command that puts everything back.
    pub undo: String,
    pub tag: Option<String>,
}

/// `git squash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SquashReport {
    pub plan: SquashPlan,
    pub dry_run: bool,
    pub applied: Option<SquashApplied>,
}

/// `git commit`: the generated message, before or after committing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitReport {
    pub message: Message,
    pub generator: String,
    pub fallback_reason: Option<String>,
    pub files: Vec<FileChange>,
    /// The new commit; `None` for a draft or `--dry-run`.
    pub commit: Option<String>,
}

/// One snapshot of a shadow chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRow {
    pub sha: String,
    pub time: i64,
    pub subject: String,
}

/// A branch's shadow chain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ShadowChain {
    pub shadow_ref: String,
    pub branch: Option<String>,
    /// The HEAD the chain started from.
    pub base: Option<String>,
    /// Whether it started from the current HEAD (squash can use it).
    pub on_head: bool,
    pub snapshots: Vec<SnapshotRow>,
}
