//! Env files, the team and its keys, the scanner and `secrets verify`.

use serde::Serialize;

/// One key of a merged env.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvKeyRow {
    pub key: String,
    /// The layer it comes from (`base`, `staging`, `staging.web1`).
    pub layer: String,
    /// The lower layers it overrides.
    pub overrides: Vec<String>,
    pub line: usize,
    /// Only with `--reveal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `env show`: the merged env of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvReport {
    pub env: String,
    pub server: Option<String>,
    pub keys: Vec<EnvKeyRow>,
}

/// One member of the team (a person or a machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// `person` or `machine`.
    pub kind: String,
    pub key: String,
    pub scopes: Vec<String>,
    /// From the signed key manifest (not `recipients.toml` alone).
    pub verified: bool,
}

/// `team list` and the dashboard's Keys tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TeamReport {
    pub members: Vec<Member>,
    /// Where `recipients.toml` disagrees with the signed manifest.
    pub mismatches: Vec<String>,
    /// The manifest entry the members come from and who signed it.
    pub manifest_entry: Option<usize>,
    pub signed_by: Option<String>,
    /// Why the members could not be verified, when they could not.
    pub error: Option<String>,
}

/// Your identity (`identity new|show|import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    pub path: Option<String>,
    pub public_keys: Vec<String>,
    /// What teammates check with `arcane secrets trust`.
    pub fingerprint: Option<String>,
}

/// `deploy gen-key`: a new machine keypair, stored nowhere. The secret is
/// printed once, for the machine's secret store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPair {
    pub public_key: String,
    pub secret_key: String,
}

/// A possible secret in a file, staged change or commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanFinding {
    pub file: String,
    pub line: usize,
    pub rule: String,
    /// The secret with all but its first characters masked.
    pub redacted: String,
    /// `sha256` prefix of the secret, for the allowlist.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub findings: Vec<ScanFinding>,
}

/// One problem `secrets verify` found, located.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecretsProblem {
    /// `manifest`, `behind`, `key-file`, `recipients`, `key`, `env-file`,
    /// `plaintext`.
    pub check: &'static str,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

/// `secrets verify` (also part of `config check`).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct SecretsReport {
    pub problems: Vec<SecretsProblem>,
    /// Not failures: values whose meaning changed with the
    /// compose-compatible parser.
    pub warnings: Vec<SecretsProblem>,
    /// Checks skipped for lack of a key (scope names), said, not hidden.
    pub skipped: Vec<String>,
    /// Members per scope from the verified manifest.
    pub scopes: Vec<(String, Vec<String>)>,
    pub first_use: bool,
}
