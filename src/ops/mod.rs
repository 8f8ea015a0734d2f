//! One function per user-visible operation, shared by the CLI and the TUI.
//!
//! Each operation takes a [`Ctx`] (the project, the interaction policy, an
//! event emitter, a cancel token, the identity and the way to open
//! connections) plus its own request, emits typed events while it runs and
//! returns a typed report from [`crate::event::report`]. It never prints and
//! never asks a terminal anything: the CLI renders the events and answers
//! prompts with `--yes` or a TTY; the dashboard turns the report into a
//! message and answers prompts with a dialog. Both therefore run the same
//! code and cannot disagree, the way gitui's `asyncgit` knows no UI.
//!
//! The engines below (`deploy`, `remote`, `docker`, `secrets`, `proxy`)
//! hold the machinery; this layer holds the orchestration a user sees:
//! selection, confirmation, fan-out over servers, the report and the final
//! `Finished` event.

pub mod accessory;
pub mod bootstrap;
pub mod config;
pub mod deploy;
pub mod env;
mod fanout;
pub mod git;
pub mod git_watch;
pub mod lock;
pub mod logs;
pub mod network;
pub mod notify;
pub mod proxy;
pub mod releases;
pub mod secrets;
pub mod server;
pub mod ship;
pub mod spark;
pub mod status;
pub mod team;

pub use crate::cancel::Cancel;
pub use fanout::{fan_out, fan_out_all, limit_of};

use crate::config::{ConfigError, ConfigErrors, Project, Selection, Server};
use crate::deploy::DeployError;
use crate::docker::DockerError;
use crate::error::{ErrorKind, HasKind, InputError};
use crate::event::Emitter;
use crate::interact::{Confirm, Interact};
use crate::remote::{ConnectOptions, Connector, RemoteError, SshConnector, Transport};
use crate::secrets::SecretsError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every way an operation can fail. Causes are kept whole (`transparent`
/// keeps their `source()` chain); [`Error::kind`] decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    ConfigList(#[from] ConfigErrors),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// Boxed: the network errors carry several names and would make every
    /// `Result` of the ops layer large.
    #[error(transparent)]
    Network(Box<crate::network::NetworkError>),
    #[error("cancelled")]
    Interrupted,
    /// A failure with no more specific type (a docker command that failed).
    #[error("{0}")]
    Failed(String),
    /// The operation already said why it failed (its `Finished` event and
    /// report carry the details), so front ends need not print it again.
    #[error("{message}")]
    Reported { kind: ErrorKind, message: String },
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(InputError::new(msg))
    }

    /// Whether the failure was already shown through events.
    pub fn is_reported(&self) -> bool {
        matches!(self, Error::Reported { .. })
    }
}

impl From<crate::network::NetworkError> for Error {
    fn from(e: crate::network::NetworkError) -> Self {
        Error::Network(Box::new(e))
    }
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::ConfigList(e) => e.kind(),
            Error::Remote(e) => e.kind(),
            Error::Deploy(e) => e.kind(),
            Error::Docker(e) => e.kind(),
            Error::Secrets(e) => e.kind(),
            Error::Proxy(e) => e.kind(),
            Error::Network(e) => e.kind(),
            Error::Interrupted => ErrorKind::Interrupted,
            Error::Failed(_) => ErrorKind::Failed,
            Error::Reported { kind, .. } => *kind,
        }
    }
}

/// What operations on the checkout alone get (env files, the team and its
/// keys): they work without a valid `arcane.toml`, so a broken config never
/// stops anyone from fixing a secret or a membership.
pub struct Local<'a> {
    pub root: &'a Path,
    /// `--identity`, or the default identity / `ARCANE_MACHINE_KEY`.
    pub identity: Option<&'a Path>,
    pub em: &'a Emitter,
}

/// What every operation gets.
pub struct Ctx<'a> {
    pub project: &'a Project,
    /// How to answer confirmations: `--yes`, a TTY prompt, a TUI dialog.
    pub interact: &'a dyn Interact,
    pub em: Emitter,
    pub cancel: Cancel,
    /// `--identity`: the age identity that opens env files (None: the
    /// default under the XDG config dir, or `ARCANE_MACHINE_KEY`).
    pub identity: Option<PathBuf>,
    pub connector: Arc<dyn Connector>,
}

impl<'a> Ctx<'a> {
    /// A context with the project's default SSH options.
    pub fn new(project: &'a Project, interact: &'a dyn Interact, em: Emitter) -> Ctx<'a> {
        Ctx {
            project,
            interact,
            em,
            cancel: Cancel::default(),
            identity: None,
            connector: Arc::new(SshConnector(ConnectOptions::for_project(&project.root))),
        }
    }

    pub fn with_identity(mut self, identity: Option<PathBuf>) -> Self {
        self.identity = identity;
        self
    }

    pub fn with_cancel(mut self, cancel: Cancel) -> Self {
        self.cancel = cancel;
        self
    }

    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = connector;
        self
    }

    /// The same context with another emitter (e.g. a per-op sink).
    pub fn with_emitter(mut self, em: Emitter) -> Self {
        self.em = em;
        self
    }

    pub fn app(&self) -> &str {
        self.project.app_name()
    }

    /// The checkout-only view of this context.
    pub fn local(&self) -> Local<'_> {
        Local {
            root: &self.project.root,
            identity: self.identity.as_deref(),
            em: &self.em,
        }
    }

    /// The servers a selection names (staging's when it names nothing).
    pub fn servers(&self, sel: &Selection) -> Result<Vec<Server>, Error> {
        Ok(self.project.select(sel)?)
    }

    /// The env a selection means (staging by default), checked against
    /// arcane.toml, and its servers.
    pub fn env_servers(&self, sel: &Selection) -> Result<(String, Vec<Server>), Error> {
        let env = sel.env.clone().unwrap_or_else(|| "staging".into());
        self.check_env(&env)?;
        let mut sel = sel.clone();
        sel.env = Some(env.clone());
        Ok((env, self.project.select(&sel)?))
    }

    pub fn check_env(&self, env: &str) -> Result<(), Error> {
        let envs = self.project.config.env_names();
        if envs.iter().any(|e| e == env) {
            return Ok(());
        }
        let mut msg = format!(
            "unknown env {env:?}; arcane.toml defines: {}",
            envs.join(", ")
        );
        if let Some(m) = crate::config::did_you_mean(env, envs.iter()) {
            msg.push_str(&format!(" (did you mean {m:?}?)"));
        }
        Err(Error::input(msg))
    }

    /// One server by registry name.
    pub fn server(&self, name: &str) -> Result<Server, Error> {
        let sel = Selection {
            servers: vec![name.to_string()],
            ..Default::default()
        };
        Ok(self.project.select(&sel)?.remove(0))
    }

    /// Open the transport to `server` (by its tailnet name with `connect =
    /// "tailnet"`); the connection shows in the command log on `em`.
    pub fn connect(
        &self,
        server: &Server,
        em: &Emitter,
    ) -> Result<Arc<dyn Transport>, RemoteError> {
        self.reaching().connect(server, em)
    }

    /// The connector with `connect = "tailnet"` applied (see
    /// `network::reach`); `connector` itself reaches every server at its host.
    pub fn reaching(&self) -> Arc<dyn Connector> {
        crate::network::reach::connector(self.project, self.connector.clone())
    }

    /// Ask before something dangerous. `Ok(())` to go ahead; a "no" is bad
    /// input (exit 2) whose message says nothing was changed.
    pub fn confirm(&self, req: Confirm, refused: &str) -> Result<(), Error> {
        if self.interact.confirm(&req)? {
            Ok(())
        } else {
            Err(Error::input(refused))
        }
    }

    pub fn check_cancel(&self) -> Result<(), Error> {
        if self.cancel.is_cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}
