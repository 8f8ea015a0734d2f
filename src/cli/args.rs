//! The whole command tree, in one place (clap derive).
//!
//! Help, completions and the README's command overview all come from here, the
//! way ripgrep generates every surface from one flag table.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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

#[derive(Debug, Args)]
pub struct InitArgs {
    /// App name (default: the directory name).
    #[arg(long)]
    pub name: Option<String>,
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

#[derive(Debug, Subcommand)]
pub enum ServerCmd {
    /// List the servers and groups.
    List,
    /// Check reachability, auth, docker, compose, disk and architecture.
    Check {
        /// One server by name.
        name: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Trust a server's host key (shows the fingerprint first).
    Trust {
        name: String,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Prepare bare servers over SSH: Docker, the deploy user, the layout,
    /// the firewall, sshd hardening ([bootstrap] in arcane.toml).
    Bootstrap {
        #[command(flatten)]
        target: TargetArgs,
        /// Do not ask for confirmation (needed for protected envs without a TTY).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Show what each server would change; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print #cloud-config user-data that gives a new server the same end state.
    CloudInit {
        #[command(flatten)]
        target: TargetArgs,
    },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub service: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Follow new lines.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Lines of history.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub lines: usize,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub service: String,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(last = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    pub name: String,
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
pub enum LockCmd {
    /// Who holds the deploy lock.
    Status(TargetArgs),
    /// Release a lock by force.
    Release {
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessoryCmd {
    Boot(AccessoryArgs),
    Reboot(AccessoryArgs),
    Stop(AccessoryArgs),
    Logs(AccessoryArgs),
    Remove {
        #[command(flatten)]
        args: AccessoryArgs,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct AccessoryArgs {
    pub name: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCmd {
    Boot(TargetArgs),
    Status(TargetArgs),
    Reboot(TargetArgs),
    Logs(TargetArgs),
}

#[derive(Debug, Args)]
pub struct HaltArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate arcane.toml, config/servers.toml and the env files.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Install the client and join the tailnet (every server when none is selected).
    Ensure {
        #[command(flatten)]
        target: TargetArgs,
        /// Show what would be installed or joined, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Installed, version, joined, tailnet, tags, IP and name of each server.
    Status(TargetArgs),
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
