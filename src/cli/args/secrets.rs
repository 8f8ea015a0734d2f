//! Secrets: identities, the team, deploy keys, env files, the scanner, git filters.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum FilterCmd {
    /// git's long-running filter protocol (filter.arcane.process).
    Process,
    /// One-shot clean (stdin plaintext, stdout ciphertext).
    Clean { path: String },
    /// One-shot smudge (stdin ciphertext, stdout plaintext).
    Smudge { path: String },
    /// diff.arcane.textconv: the file with values masked.
    Textconv { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum IdentityCmd {
    /// Generate a new x25519 age identity.
    New {
        /// Protect the identity with a passphrase (age scrypt).
        #[arg(long)]
        passphrase: bool,
        /// Replace an existing identity.
        #[arg(long)]
        force: bool,
    },
    /// Print your public key.
    Show,
    /// Import an age identity or an ssh-ed25519 private key.
    Import {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TeamCmd {
    /// Give a teammate access to scopes.
    Add {
        name: String,
        pubkey: String,
        /// Comma-separated scopes (default: base,staging).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Remove a teammate and rotate every scope they had.
    Remove { name: String },
    /// List recipients and their scopes.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DeployKeyCmd {
    /// Print a new machine keypair; stores nothing.
    GenKey,
    /// Allow a machine (server or CI) to decrypt scopes.
    Allow {
        pubkey: String,
        #[arg(long)]
        name: String,
        /// Comma-separated scopes (default: the machine's env).
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Revoke a machine key and rotate its scopes.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum EnvCmd {
    /// Print the merged keys and the layer each came from.
    Show {
        #[arg(long, short = 'e', default_value = "staging")]
        env: String,
        #[arg(long, short = 's')]
        server: Option<String>,
        /// Print values instead of masks.
        #[arg(long)]
        reveal: bool,
    },
    /// Set a key (VALUE "-" reads it from stdin, so it stays out of shell history).
    Set {
        key: String,
        value: String,
        /// Env file to write (base, staging, production...).
        #[arg(long, short = 'e', default_value = "base")]
        env: String,
    },
    /// Remove a key.
    Unset {
        key: String,
        #[arg(long, short = 'e', default_value = "base")]
        env: String,
    },
    /// Edit an env file in $EDITOR; re-encrypted on save.
    Edit {
        #[arg(long, short = 'e', default_value = "base")]
        env: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[arg(long, short = 'e', default_value = "staging")]
    pub env: String,
    #[arg(long, short = 's')]
    pub server: Option<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories (default: the project).
    pub paths: Vec<PathBuf>,
    /// Scan the staged changes (for the pre-commit hook).
    #[arg(long)]
    pub staged: bool,
    /// Check every env file version committed in a revision range (e.g.
    /// origin/main..HEAD, or OLD..NEW in a pre-receive hook) for plaintext
    /// inside encrypted files. Works in bare repositories. Repeatable.
    #[arg(long, value_name = "RANGE", conflicts_with = "staged")]
    pub rev: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Check key authenticity, recipients, each file's MAC and plaintext in
    /// encrypted files (exit 0 clean, 1 on findings). Key checks need no key;
    /// MACs are checked for the scopes you can open.
    Verify,
    /// Pin this clone to the key manifest of the member with this
    /// fingerprint (from their `arcane identity show`), instead of trusting
    /// the first manifest seen.
    Trust { fingerprint: String },
    /// Start a signed key manifest for a project made before manifests
    /// existed, vouching for the key files as they are (an owner, once).
    Adopt,
}

#[derive(Debug, Subcommand)]
pub enum HooksCmd {
    /// Install the pre-commit hook (scanner plus an encryption check).
    Install,
    /// Run the pre-commit checks (called by the hook).
    #[command(hide = true)]
    PreCommit,
}
