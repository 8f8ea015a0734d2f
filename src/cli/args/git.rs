//! The git assistant: `arcane git watch|commit|squash`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum GitCmd {
    /// Snapshot the working tree into refs/arcane/shadow/<branch> on every
    /// change (never touches HEAD, the index or your files).
    Watch(GitWatchArgs),
    /// Commit the staged changes with a generated message (opened in your
    /// editor on a terminal).
    Commit(GitCommitArgs),
    /// Turn unpushed WIP commits and shadow snapshots into a few
    /// meaningful commits, grouped as minor (feat) and patch changes.
    Squash(GitSquashArgs),
}

#[derive(Debug, Args)]
pub struct GitWatchArgs {
    /// Take one snapshot now and exit.
    #[arg(long, conflicts_with_all = ["install_service", "uninstall_service"])]
    pub once: bool,
    /// Run the watcher as a systemd user service for this project.
    #[arg(long, conflicts_with = "uninstall_service")]
    pub install_service: bool,
    /// Stop and remove the user service.
    #[arg(long)]
    pub uninstall_service: bool,
}

#[derive(Debug, Args)]
pub struct GitCommitArgs {
    /// Commit with the generated message as it is, without an editor.
    #[arg(long)]
    pub no_edit: bool,
    /// Print the generated message; commit nothing.
    #[arg(long, conflicts_with = "no_edit")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct GitSquashArgs {
    /// Squash what is on top of this branch (default: the upstream, else
    /// the newest commit of any remote branch).
    #[arg(long, value_name = "BRANCH")]
    pub onto: Option<String>,
    /// Show the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also tag the result with the next semver version.
    #[arg(long)]
    pub tag: bool,
    /// Leave the shadow snapshots since HEAD out.
    #[arg(long)]
    pub no_shadow: bool,
}
