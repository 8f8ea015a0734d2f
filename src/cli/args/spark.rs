//! Spark, the push-to-deploy build server: `arcane spark ...`.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Which Spark config file (default /etc/arcane/spark.toml).
#[derive(Debug, Clone, Args, Default)]
pub struct SparkConfigArg {
    /// The Spark config file.
    #[arg(long, value_name = "PATH", env = "ARCANE_SPARK_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SparkCmd {
    /// Run the server: webhooks, polling and the build queue, until SIGTERM.
    Serve(SparkConfigArg),
    /// The queue, the running job and the last results with their logs.
    Status {
        #[command(flatten)]
        config: SparkConfigArg,
        /// How many finished jobs to show.
        #[arg(long, default_value_t = 20)]
        last: usize,
    },
    /// Write a hardened systemd unit for `spark serve` (or print it).
    InstallService {
        #[command(flatten)]
        config: SparkConfigArg,
        /// The system user the service runs as.
        #[arg(long, default_value = "arcane-spark")]
        user: String,
        /// Print the unit on stdout instead of writing it.
        #[arg(long)]
        print: bool,
        /// Where to write it (default /etc/systemd/system/arcane-spark.service).
        #[arg(long, value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// The build machine's encrypted secrets (webhook secrets, tokens, chat URLs).
    #[command(subcommand)]
    Secret(SparkSecretCmd),
}

#[derive(Debug, Subcommand)]
pub enum SparkSecretCmd {
    /// Set NAME to the value read from stdin (never from the command line).
    Set {
        name: String,
        #[command(flatten)]
        config: SparkConfigArg,
    },
    /// Remove NAME.
    Unset {
        name: String,
        #[command(flatten)]
        config: SparkConfigArg,
    },
    /// The names of the secrets (never their values).
    List(SparkConfigArg),
}
