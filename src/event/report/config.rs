//! `config check` and `init`.

use serde::Serialize;

/// One problem in a file the user wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// `error` or `warning`.
    pub severity: &'static str,
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

/// `config check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigReport {
    pub root: String,
    pub problems: Vec<ConfigProblem>,
    /// Env files that were checked.
    pub env_files: Vec<String>,
}

/// A file `init` looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitFile {
    pub path: String,
    /// `created`, `updated` or `skipped`.
    pub action: &'static str,
}

/// `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitReport {
    pub dir: String,
    pub name: String,
    pub files: Vec<InitFile>,
}
