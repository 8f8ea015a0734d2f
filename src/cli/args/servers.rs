//! Servers and what runs on them: the registry, logs, exec, locks, accessories, the proxy, the network.

use super::TargetArgs;
use clap::{Args, Subcommand};

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
