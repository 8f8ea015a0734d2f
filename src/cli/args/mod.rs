//! The whole command tree, in one place (clap derive).
//!
//! Help, completions and the README's command overview all come from here, the
//! way ripgrep generates every surface from one flag table.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod git;
mod secrets;
mod servers;
mod spark;

pub use git::*;
pub use secrets::*;
pub use servers::*;
pub use spark::*;

#[derive(Debug, Parser)]
#[command(
    name = "arcane",
    version,
    about = "Deploy Docker apps to your own servers over SSH",
    long_about = "arcane deploys Docker apps to your own servers over SSH, with encrypted \
                  secrets in git. Run it with no arguments inside a project to open the dashboard."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Print one JSON event per line on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// More output; -v shows every remote command (secrets redacted).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only print errors and final results.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Project directory (default: walk up from the current directory to find arcane.toml).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Your age identity file (default: $XDG_CONFIG_HOME/arcane/identity.txt).
    #[arg(long, global = true, value_name = "PATH", env = "ARCANE_IDENTITY")]
    pub identity: Option<PathBuf>,
}

/// Which servers a command acts on. With none given, the env's servers are used
/// (staging unless the command says otherwise).
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// Environment (staging, production, ...).
    #[arg(long, short = 'e', value_name = "ENV")]
    pub env: Option<String>,
    /// A server group from config/servers.toml.
    #[arg(long, short = 'g', value_name = "GROUP")]
    pub group: Option<String>,
    /// One server by name (repeatable).
    #[arg(long, short = 's', value_name = "SERVER")]
    pub server: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold arcane.toml, config/servers.toml, config/envs/*.env and the key material.
    Init(InitArgs),
    /// Your personal age identity.
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// Teammates who can decrypt env files.
    #[command(subcommand)]
    Team(TeamCmd),
    /// Deploy the app (or manage machine keys: gen-key, allow, revoke).
    Deploy(DeployArgs),
    /// Show and edit the layered, encrypted env files.
    #[command(subcommand)]
    Env(EnvCmd),
    /// Run a command with the merged, decrypted env.
    Run(RunArgs),
    /// Scan files for leaked secrets.
    Scan(ScanArgs),
    /// Verify the encrypted secrets: signed keys, recipients, MACs, plaintext.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// Git hooks.
    #[command(subcommand)]
    Hooks(HooksCmd),
    /// Configure git filters for encrypted env files in this clone.
    Setup,
    /// The server registry: list, check, trust.
    #[command(subcommand)]
    Server(ServerCmd),
    /// Reachability, containers, live release and health of each server.
    Status(TargetArgs),
    /// The app's containers on each server.
    Ps(TargetArgs),
    /// Container logs.
    Logs(LogsArgs),
    /// Run a command in a running service container.
    Exec(ExecArgs),
    /// Open an interactive shell on a server.
    Ssh(SshArgs),
    /// Build the app image, tagged by git SHA.
    Build(BuildArgs),
    /// Ship built images to servers, sending only missing layers.
    Push(PushArgs),
    /// Release history.
    Releases(ReleasesArgs),
    /// Roll back to the previous (or a given) release.
    Rollback(RollbackArgs),
    /// Deploy locks.
    #[command(subcommand)]
    Lock(LockCmd),
    /// Accessories (databases, caches) that app deploys never restart.
    #[command(subcommand)]
    Accessory(AccessoryCmd),
    /// The edge proxy in front of the apps.
    #[command(subcommand)]
    Proxy(ProxyCmd),
    /// Stop the app's containers.
    Halt(HaltArgs),
    /// Validate the project configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Git filter plumbing for encrypted env files (run by git, not by people).
    #[command(subcommand, hide = true)]
    Filter(FilterCmd),
    /// The git assistant: shadow snapshots, generated commits, smart squash.
    #[command(subcommand)]
    Git(GitCmd),
    /// The private network (Tailscale/Headscale): install, join, status.
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Spark: the push-to-deploy build server (webhooks, polling, a queue).
    #[command(subcommand)]
    Spark(SparkCmd),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// App name (default: the directory name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub keys: Option<DeployKeyCmd>,
    /// App name (default: [app].name from arcane.toml).
    pub app: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask for confirmation (required for protected envs without a TTY).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Deploy to several servers at once (default: all at once).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub parallel: Option<usize>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the image already built for this commit.
    #[arg(long)]
    pub skip_build: bool,
    /// Wait this many seconds for another deploy's lock.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub lock_wait: u64,
    /// Deploy uncommitted changes to a protected env (they deploy as
    /// `<sha>-dirty-<hash>`; unprotected envs only get a warning).
    #[arg(long)]
    pub allow_dirty: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// Run the image locally and probe its health path before anything ships.
    #[arg(long)]
    pub smoke: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// arcane's own transfer over SSH (default).
    Ssh,
    /// Push to [registry] and pull on the servers.
    Registry,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum)]
    pub via: Option<Via>,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Release version to go back to (default: the previous one).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate arcane.toml, config/servers.toml and the env files.
    Check,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_bootstrap_takes_a_target_yes_and_dry_run() {
        let c = Cli::try_parse_from([
            "arcane",
            "server",
            "bootstrap",
            "-g",
            "web",
            "--yes",
            "--dry-run",
        ])
        .unwrap();
        match c.command {
            Some(Command::Server(ServerCmd::Bootstrap {
                target,
                yes,
                dry_run,
            })) => {
                assert_eq!(target.group.as_deref(), Some("web"));
                assert!(yes && dry_run);
            }
            other => panic!("{other:?}"),
        }
        let c =
            Cli::try_parse_from(["arcane", "server", "cloud-init", "--env", "production"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Server(ServerCmd::CloudInit { target })) if target.env.as_deref() == Some("production")
        ));
    }

    #[test]
    fn deploy_subcommands_and_app_positional_coexist() {
        let c = Cli::try_parse_from(["arcane", "deploy", "gen-key"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Deploy(DeployArgs {
                keys: Some(DeployKeyCmd::GenKey),
                ..
            }))
        ));
        let c = Cli::try_parse_from(["arcane", "deploy", "web", "--env", "production", "--yes"])
            .unwrap();
        match c.command {
            Some(Command::Deploy(d)) => {
                assert_eq!(d.app.as_deref(), Some("web"));
                assert!(d.yes && d.parallel.is_none());
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from(["arcane", "deploy", "--parallel"]).unwrap();
        match c.command {
            Some(Command::Deploy(d)) => assert_eq!(d.parallel, Some(0)),
            other => panic!("{other:?}"),
        }
    }
}
