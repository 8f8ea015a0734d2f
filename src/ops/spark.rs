//! `spark serve`, `spark status`, `spark install-service` and
//! `spark secret`: the operations on a Spark build machine.
//!
//! Unlike the project operations they take no `Ctx`: they run on the build
//! machine, outside any project, from the Spark config file. `serve` hands
//! over to the daemon in `crate::spark`; the others read or write its
//! files and report through the emitter like any operation.

use super::Error;
use crate::config::ConfigErrors;
use crate::event::{Emitter, Event};
use crate::spark::config::{config_path, SparkFile};
use crate::spark::service::{self, UnitOptions};
use crate::spark::{secrets, status};
use std::path::{Path, PathBuf};

/// Load the Spark config (`--config`, `$ARCANE_SPARK_CONFIG`, or
/// `/etc/arcane/spark.toml`).
pub fn load(config: Option<&Path>) -> Result<(PathBuf, SparkFile), Error> {
    let path = config_path(config);
    let file = SparkFile::load(&path).map_err(|e: ConfigErrors| Error::ConfigList(e))?;
    Ok((path, file))
}

/// Run Spark until SIGTERM or SIGINT.
///
/// Before any thread starts, the default location of a person's identity
/// (`$XDG_CONFIG_HOME/arcane/identity.txt`) is pointed at an empty
/// directory of Spark's own, so a job can only ever decrypt with the
/// machine key, even when Spark runs as a user who has an identity.
pub fn serve(config: Option<&Path>) -> Result<(), Error> {
    if std::env::var_os(crate::secrets::identity::ENV_IDENTITY).is_some_and(|v| !v.is_empty()) {
        return Err(Error::input(
            "ARCANE_IDENTITY is set: Spark deploys with the machine key only (ARCANE_MACHINE_KEY or ARCANE_MACHINE_KEY_FILE); unset it",
        ));
    }
    let (_, file) = load(config)?;
    secrets::machine_key()?;
    let no_identity = file.spark.state_dir.join("no-personal-identity");
    std::fs::create_dir_all(&no_identity)
        .map_err(|e| Error::Failed(format!("creating {}: {e}", no_identity.display())))?;
    std::env::set_var("XDG_CONFIG_HOME", &no_identity);
    crate::spark::serve::serve(file, crate::spark::job::real_deploy())
}

/// The queue, the running job and the last results, from the journal.
pub fn status(
    em: &Emitter,
    config: Option<&Path>,
    limit: usize,
) -> Result<crate::event::report::SparkStatus, Error> {
    let (_, file) = load(config)?;
    let s = &file.spark;
    let rep = status::read(&s.state_dir, s.keep_jobs, limit).map_err(|e| {
        Error::Failed(format!(
            "reading the journal in {}: {e}",
            s.state_dir.display()
        ))
    })?;
    em.emit(Event::Spark(rep.clone()));
    let running = rep.running.len();
    em.finished(
        true,
        format!(
            "{} queued, {running} running, {} recent{}",
            rep.queued.len(),
            rep.recent.len(),
            if rep.serving {
                ""
            } else {
                " (Spark is not running)"
            }
        ),
    );
    Ok(rep)
}

/// What `install-service` was asked.
#[derive(Debug, Clone)]
pub struct InstallService {
    pub config: Option<PathBuf>,
    pub user: String,
    /// Print the unit instead of writing it.
    pub print: bool,
    /// Where to write it (default /etc/systemd/system/arcane-spark.service).
    pub path: Option<PathBuf>,
}

/// Write the systemd unit (with `print`, only make it). Returns its text.
pub fn install_service(em: &Emitter, req: &InstallService) -> Result<String, Error> {
    let (config, file) = load(req.config.as_deref())?;
    let config = std::fs::canonicalize(&config).unwrap_or(config);
    if req.user.is_empty()
        || !req
            .user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::input(format!(
            "--user {:?} is not a user name",
            req.user
        )));
    }
    let binary = std::env::current_exe()
        .map_err(|e| Error::Failed(format!("cannot find arcane's own path: {e}")))?;
    let o = UnitOptions {
        binary,
        config,
        user: req.user.clone(),
        state_dir: file.spark.state_dir.clone(),
        key_file: service::KEY_PATH.into(),
    };
    let text = service::unit(&o);
    if req.print {
        return Ok(text);
    }
    let path = req
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(service::UNIT_PATH));
    crate::secrets::write_atomic(&path, text.as_bytes(), 0o644)
        .map_err(|e| Error::Failed(format!("writing {}: {e}", path.display())))?;
    em.info(format!("wrote {}; then, as root:", path.display()));
    for s in service::next_steps(&o, &path) {
        em.info(format!("  {s}"));
    }
    em.finished(true, format!("installed {}", path.display()));
    Ok(text)
}

/// Set (`Some`) or remove (`None`) one of the machine's secrets.
pub fn secret_set(
    em: &Emitter,
    config: Option<&Path>,
    name: &str,
    value: Option<&str>,
) -> Result<(), Error> {
    let (_, file) = load(config)?;
    let key = secrets::machine_key()?;
    let path = file.spark.secrets_path();
    if let Some(v) = value {
        em.redactor().add(v);
        if v.is_empty() {
            return Err(Error::input(format!(
                "the value of {name} on stdin is empty"
            )));
        }
    }
    let changed = secrets::update(&path, &key, name, value)?;
    let what = match (value.is_some(), changed) {
        (true, true) => format!("set {name} in {}", path.display()),
        (true, false) => format!("{name} already has that value"),
        (false, true) => format!("removed {name} from {}", path.display()),
        (false, false) => format!("{name} was not set"),
    };
    em.finished(true, what);
    Ok(())
}

/// The names (never the values) in the machine's encrypted env.
pub fn secret_list(em: &Emitter, config: Option<&Path>) -> Result<Vec<String>, Error> {
    let (_, file) = load(config)?;
    let key = secrets::machine_key()?;
    let env = secrets::MachineEnv::load(&file.spark.secrets_path(), &key)?;
    let names = env.names();
    em.finished(
        true,
        format!(
            "{} secret(s) in {}{}{}",
            names.len(),
            file.spark.secrets_path().display(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        ),
    );
    Ok(names)
}
