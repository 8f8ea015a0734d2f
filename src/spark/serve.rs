//! The daemon: lock the state dir, check the machine key, replay the queue,
//! then run the scheduler, the pollers and the HTTP server until SIGTERM
//! or SIGINT. On the way out running jobs are cancelled (and run again on
//! the next start), so a restart loses no push and repeats no deploy.

use super::config::SparkFile;
use super::job::{DeployFn, JobRunner};
use super::queue::{Limits, Queue};
use super::secrets::{self, MachineEnv};
use super::server::{router, Srv};
use super::status::SERVE_LOCK;
use crate::cancel::Cancel;
use crate::ops::Error;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long running jobs get to wind down when Spark stops.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// A running Spark.
pub struct Running {
    pub addr: SocketAddr,
    pub queue: Arc<Queue>,
    stop: Cancel,
    http: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    _lock: std::fs::File,
}

fn lock_state_dir(dir: &std::path::Path) -> Result<std::fs::File, Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Failed(format!("creating the state dir {}: {e}", dir.display())))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(SERVE_LOCK))
        .map_err(|e| Error::Failed(format!("{}: {e}", dir.join(SERVE_LOCK).display())))?;
    // SAFETY: flock on a descriptor we own, held as long as `f` lives.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::input(format!(
            "another `arcane spark serve` uses the state dir {}; stop it first or set another [spark] state_dir",
            dir.display()
        )));
    }
    Ok(f)
}

/// Start everything and return once the HTTP port is bound.
pub fn start(file: SparkFile, deploy: DeployFn) -> Result<Running, Error> {
    let file = Arc::new(file);
    let s = &file.spark;
    let lock = lock_state_dir(&s.state_dir)?;
    let key = secrets::machine_key()?;
    let env = MachineEnv::load(&s.secrets_path(), &key)?;
    for app in s.apps.keys() {
        for name in [s.github_secret_for(app), s.gitlab_token_for(app)]
            .into_iter()
            .flatten()
        {
            if env.get(name).is_none() {
                super::say(&format!(
                    "warning: {app}: {name} is in neither the machine's encrypted env nor the environment; its webhooks will be refused (arcane spark secret set {name})"
                ));
            }
        }
    }
    let listener = std::net::TcpListener::bind(s.listen_addr())
        .map_err(|e| Error::Failed(format!("cannot listen on {}: {e}", s.listen_addr())))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Failed(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Failed(e.to_string()))?;
    let limits = Limits::new(s.workers, s.debounce(), s.keep_jobs);
    let (queue, interrupted) = Queue::open(&s.state_dir, limits).map_err(|e| {
        Error::Failed(format!(
            "opening the journal in {}: {e}",
            s.state_dir.display()
        ))
    })?;
    for j in interrupted {
        super::say(&format!(
            "job {} ({} {} → {}) was cut off when Spark stopped; it runs again",
            j.id, j.app, j.sha, j.env
        ));
    }
    let stop = Cancel::default();
    let mut threads = vec![];
    let runner = Arc::new(JobRunner::new(
        file.clone(),
        s.state_dir.clone(),
        env.clone(),
        deploy,
    ));
    let q = queue.clone();
    threads.push(
        std::thread::Builder::new()
            .name("spark-queue".into())
            .spawn(move || q.run(runner))
            .map_err(|e| Error::Failed(e.to_string()))?,
    );
    for (app, a) in &s.apps {
        let Some(every) = a.poll_every() else {
            continue;
        };
        let (f, q, st, app) = (file.clone(), queue.clone(), stop.clone(), app.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("spark-poll-{app}"))
                .spawn(move || super::poll::run(f, q, app, every, st))
                .map_err(|e| Error::Failed(e.to_string()))?,
        );
    }
    let srv = Arc::new(Srv {
        file: file.clone(),
        queue: queue.clone(),
        env,
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    threads.push(
        std::thread::Builder::new()
            .name("spark-http".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .max_blocking_threads(4)
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => return super::say(&format!("cannot start the HTTP runtime: {e}")),
                };
                rt.block_on(async move {
                    let Ok(l) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(l, router(srv))
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .map_err(|e| Error::Failed(e.to_string()))?,
    );
    super::say(&format!(
        "listening on http://{addr} ({} app{}, state in {})",
        s.apps.len(),
        if s.apps.len() == 1 { "" } else { "s" },
        s.state_dir.display()
    ));
    Ok(Running {
        addr,
        queue,
        stop,
        http: Some(tx),
        threads,
        _lock: lock,
    })
}

impl Running {
    /// Stop accepting, cancel running jobs, wait for the threads.
    pub fn stop(mut self, grace: Duration) {
        if let Some(tx) = self.http.take() {
            let _ = tx.send(());
        }
        self.stop.cancel();
        self.queue.stop(grace);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Run until SIGTERM or SIGINT.
pub fn serve(file: SparkFile, deploy: DeployFn) -> Result<(), Error> {
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let running = start(file, deploy)?;
    while !SIGNALLED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
    super::say("stopping: running jobs are cancelled and run again on the next start");
    running.stop(STOP_GRACE);
    super::say("stopped");
    Ok(())
}
