//! One job: fetch the app's repository, check out the exact commit in a
//! clean worktree, load the project from it and call the deploy operation
//! a person would run, with an interaction policy from the Spark config
//! and the machine key. Its events go to the job's log and through the
//! notifier to the project's and the machine's channels.

use super::config::SparkFile;
use super::git;
use super::joblog::JobLog;
use super::journal::{Job, JobResult};
use super::queue::{Outcome, Runner};
use super::secrets::MachineEnv;
use crate::config::{Project, Selection};
use crate::error::{ErrorKind, HasKind, InputError};
use crate::event::report::{DeployResult, DeploySummary};
use crate::event::{Emitter, Sink};
use crate::interact::{Confirm, Interact};
use crate::ops::deploy::DeployRequest;
use crate::ops::notify::{Channels, Notifier, Target};
use crate::ops::{self, Cancel};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The deploy a job runs: `ops::deploy::deploy`, or a stand-in in tests.
pub type DeployFn =
    Arc<dyn Fn(&ops::Ctx, &DeployRequest) -> Result<DeploySummary, ops::Error> + Send + Sync>;

pub fn real_deploy() -> DeployFn {
    Arc::new(ops::deploy::deploy)
}

/// How long a job waits for a deploy lock a person holds.
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// Answers the deploy's confirmations the way the config says: a protected
/// env only when the app's `allow_protected` lists it, nothing else.
pub struct SparkInteract {
    pub app: String,
    pub allowed: Vec<String>,
}

impl Interact for SparkInteract {
    fn confirm(&self, req: &Confirm) -> Result<bool, InputError> {
        match &req.word {
            Some(env) if self.allowed.contains(env) => Ok(true),
            Some(env) => Err(InputError::new(format!(
                "{env} is protected, and Spark deploys a protected env only when [spark.apps.{}] allow_protected lists it",
                self.app
            ))),
            None => Err(InputError::new(format!(
                "{}: Spark answers no confirmation but a protected env's",
                req.prompt.trim_end_matches('?')
            ))),
        }
    }
}

pub struct JobRunner {
    pub file: Arc<SparkFile>,
    pub state_dir: PathBuf,
    pub env: MachineEnv,
    pub deploy: DeployFn,
    /// Serializes git on one app's mirror (two envs may fetch at once).
    mirrors: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl JobRunner {
    pub fn new(
        file: Arc<SparkFile>,
        state_dir: PathBuf,
        env: MachineEnv,
        deploy: DeployFn,
    ) -> Self {
        JobRunner {
            file,
            state_dir,
            env,
            deploy,
            mirrors: Mutex::new(HashMap::new()),
        }
    }

    pub fn job_dir(state_dir: &Path, id: u64) -> PathBuf {
        state_dir.join("jobs").join(id.to_string())
    }

    fn mirror_lock(&self, app: &str) -> Arc<Mutex<()>> {
        self.mirrors
            .lock()
            .unwrap()
            .entry(app.to_string())
            .or_default()
            .clone()
    }

    /// Channels of the machine, plus the project's once it is loaded.
    fn emitter(&self, log: &Arc<JobLog>, job: &Job, project: Option<&Project>) -> Emitter {
        let lookup: ops::notify::Lookup = {
            let env = self.env.clone();
            Arc::new(move |name| env.get(name))
        };
        let warn: ops::notify::deliver::Warn = {
            let log = log.clone();
            let what = format!("job {}", job.id);
            Arc::new(move |w: String| {
                log.note(&format!("warning: {w}"));
                super::say(&format!("{what}: warning: {w}"));
            })
        };
        let mut channels = Channels::new(
            &self.file.notify,
            project.map(|p| p.root.clone()),
            lookup.clone(),
            warn.clone(),
        );
        if let Some(p) = project {
            channels.add(&p.config.notify);
        }
        let notifier = Arc::new(
            Notifier::new(log.clone() as Arc<dyn Sink>, false)
                .with_channels(channels)
                .with_target(Target {
                    app: project
                        .map(|p| p.app_name().to_string())
                        .unwrap_or_else(|| job.app.clone()),
                    env: job.env.clone(),
                    git_sha: Some(job.sha.clone()),
                    job: Some(job.id.to_string()),
                    source: "spark".into(),
                    all_failures: true,
                }),
        );
        let em = Emitter::new(notifier.clone());
        notifier.redact_with(em.redactor().clone());
        em.redactor()
            .add_all(self.env.values().iter().map(String::as_str));
        em
    }

    fn prune_old_jobs(&self, current: u64) {
        let keep = self.file.spark.keep_jobs as u64;
        let Ok(rd) = std::fs::read_dir(self.state_dir.join("jobs")) else {
            return;
        };
        for e in rd.flatten() {
            let id: Option<u64> = e.file_name().to_str().and_then(|s| s.parse().ok());
            if id.is_some_and(|id| id + keep <= current) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    fn run_job(&self, job: &Job, cancel: &Cancel, log: &Arc<JobLog>) -> Outcome {
        let Some(app) = self.file.spark.apps.get(&job.app) else {
            let em = self.emitter(log, job, None);
            return fail(
                &em,
                ErrorKind::Input,
                format!("app {} is no longer in the Spark config", job.app),
            );
        };
        let em = self.emitter(log, job, None);
        em.info(format!(
            "job {}: {} {} ({}) → {}, from {} ({} push{})",
            job.id,
            job.app,
            job.sha,
            job.branch,
            job.env,
            job.source.word(),
            job.pushes,
            if job.pushes == 1 { "" } else { "es" }
        ));
        let mirror = self
            .state_dir
            .join("repos")
            .join(format!("{}.git", job.app));
        let work = self.state_dir.join("work").join(job.id.to_string());
        let lock = self.mirror_lock(&job.app);
        em.step_started("checkout");
        let checkout = {
            let _g = lock.lock().unwrap();
            git::fetch(&mirror, &app.repo, &em, cancel)
                .and_then(|_| git::ensure_commit(&mirror, &job.sha, &em, cancel))
                .and_then(|_| {
                    let _ = std::fs::remove_dir_all(&work);
                    git::worktree_add(&mirror, &work, &job.sha, &em, cancel)
                })
        };
        let out = match checkout {
            Err(e) => {
                em.step_finished("checkout", false, Some(e.clone()));
                let kind = if cancel.is_cancelled() {
                    ErrorKind::Interrupted
                } else {
                    ErrorKind::Failed
                };
                fail(&em, kind, format!("job {}: {e}", job.id))
            }
            Ok(()) => {
                em.step_finished(
                    "checkout",
                    true,
                    Some(format!(
                        "{} at {}",
                        job.branch,
                        &job.sha[..12.min(job.sha.len())]
                    )),
                );
                self.deploy_from(job, app, &work, cancel, log, &em)
            }
        };
        {
            let _g = lock.lock().unwrap();
            git::worktree_remove(&mirror, &work);
        }
        out
    }

    fn deploy_from(
        &self,
        job: &Job,
        app: &super::config::AppConfig,
        work: &Path,
        cancel: &Cancel,
        log: &Arc<JobLog>,
        em: &Emitter,
    ) -> Outcome {
        let root = work.join(app.path.as_deref().unwrap_or("."));
        let project = match Project::load(&root) {
            Ok(p) => p,
            Err(e) => {
                let msg = format!(
                    "the project at {} in {} does not load:\n{e}",
                    app.path.as_deref().unwrap_or("."),
                    &job.sha[..12.min(job.sha.len())]
                );
                return fail(em, ErrorKind::Input, msg);
            }
        };
        let em = self.emitter(log, job, Some(&project));
        let interact = SparkInteract {
            app: job.app.clone(),
            allowed: app.allow_protected.clone(),
        };
        // identity None: only the machine key (the serve process points the
        // personal identity's default path at an empty directory).
        let ctx = ops::Ctx::new(&project, &interact, em.clone()).with_cancel(cancel.clone());
        let req = DeployRequest {
            selection: Selection {
                env: Some(job.env.clone()),
                ..Default::default()
            },
            lock_wait: LOCK_WAIT,
            ..Default::default()
        };
        let res = (self.deploy)(&ctx, &req);
        let summary = log.summary.lock().unwrap().clone();
        match res {
            Ok(s) => Outcome {
                result: JobResult::Succeeded,
                summary: log_final(log)
                    .unwrap_or_else(|| format!("deployed {} to {}", s.app, s.env)),
                version: s.version,
            },
            Err(e) => {
                if !e.is_reported() {
                    em.failed(
                        e.kind(),
                        format!(
                            "deploy of {} to {} failed: {e}",
                            project.app_name(),
                            job.env
                        ),
                    );
                }
                let result = match summary.as_ref().map(|s| s.result) {
                    Some(DeployResult::RolledBack) => JobResult::RolledBack,
                    Some(DeployResult::Cancelled) => JobResult::Cancelled,
                    _ if e.kind() == ErrorKind::Interrupted || cancel.is_cancelled() => {
                        JobResult::Cancelled
                    }
                    _ => JobResult::Failed,
                };
                Outcome {
                    result,
                    summary: log_final(log).unwrap_or_else(|| e.to_string()),
                    version: summary.and_then(|s| s.version),
                }
            }
        }
    }
}

fn log_final(log: &JobLog) -> Option<String> {
    log.finished
        .lock()
        .unwrap()
        .as_ref()
        .map(|(_, s)| s.clone())
}

/// End a job that never reached the deploy: the final event (which the
/// notifier turns into a "failed" notice) and the outcome.
fn fail(em: &Emitter, kind: ErrorKind, msg: String) -> Outcome {
    em.failed(kind, &msg);
    Outcome {
        result: if kind == ErrorKind::Interrupted {
            JobResult::Cancelled
        } else {
            JobResult::Failed
        },
        summary: em.redactor().redact(&msg),
        version: None,
    }
}

impl Runner for JobRunner {
    fn run(&self, job: &Job, cancel: &Cancel) -> Outcome {
        self.prune_old_jobs(job.id);
        let dir = Self::job_dir(&self.state_dir, job.id);
        // A re-run after a crash starts a fresh log.
        let _ = std::fs::remove_dir_all(&dir);
        let log = match JobLog::create(&dir) {
            Ok(l) => Arc::new(l),
            Err(e) => {
                return Outcome {
                    result: JobResult::Failed,
                    summary: format!("cannot write the job log in {}: {e}", dir.display()),
                    version: None,
                }
            }
        };
        super::say(&format!(
            "job {} started: {} {} → {}",
            job.id, job.app, job.sha, job.env
        ));
        let out = self.run_job(job, cancel, &log);
        super::say(&format!(
            "job {} {}: {}",
            job.id,
            out.result.word(),
            out.summary.lines().next().unwrap_or("")
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_envs_deploy_only_when_allow_protected_lists_them() {
        let i = SparkInteract {
            app: "hello".into(),
            allowed: vec!["production".into()],
        };
        let prod = Confirm::typed("Deploy hello to PRODUCTION?", "production", "");
        assert_eq!(i.confirm(&prod), Ok(true));
        let live = Confirm::typed("Deploy hello to LIVE?", "live", "");
        let e = i.confirm(&live).unwrap_err();
        assert!(e.0.contains("[spark.apps.hello] allow_protected"), "{e}");
        assert!(i.confirm(&Confirm::yes_no("Remove it?", "")).is_err());
    }
}
