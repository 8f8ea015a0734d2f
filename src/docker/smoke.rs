//! The local smoke test: run the freshly built image on this machine, probe
//! its health path, and remove it again. An image that cannot answer its own
//! health check here is never shipped.

use super::argv;
use super::build::{BuiltImage, BuiltImages, DEFAULT_SERVICE};
use super::DockerError;
use crate::config::Project;
use crate::deploy::health::{http_status, sleep_until};
use crate::deploy::layout::LABEL_SMOKE;
use crate::event::{Emitter, Stream};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How many container log lines a failure shows.
const LOG_LINES: usize = 30;

/// The image the smoke test runs: in compose mode the service named `web` or
/// like the app, else the first built service.
pub fn smoke_image<'a>(project: &Project, built: &'a BuiltImages) -> Option<&'a BuiltImage> {
    built
        .images
        .iter()
        .find(|i| i.service == DEFAULT_SERVICE)
        .or_else(|| {
            built
                .images
                .iter()
                .find(|i| i.service == project.app_name())
        })
        .or_else(|| built.images.first())
}

/// Removes the container however the test ends: a failure, an error, a
/// panic, or Ctrl-C (see [`Sigint`]). A run killed outright leaves it, and
/// the next smoke test on this machine removes it ([`sweep`]).
struct Container<'a> {
    name: String,
    em: &'a Emitter,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = run(
            &argv::rm_force(std::slice::from_ref(&self.name)),
            &BTreeMap::new(),
            self.em,
        );
    }
}

fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    em: &Emitter,
) -> Result<std::process::Output, DockerError> {
    em.command(&crate::remote::Cmd::argv(argv.to_vec()).to_shell());
    std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| DockerError::Io(format!("cannot run {}: {e}", argv[0])))
}

/// The smoke label's value: who runs the test, so a leftover can be told
/// from another run's container still in use.
fn owner() -> String {
    format!("{}/{}", crate::deploy::whoami(), std::process::id())
}

/// Remove the smoke containers of this user on this machine whose arcane
/// process is gone (a run killed before it could clean up).
fn sweep(em: &Emitter) {
    let fmt = format!("{{{{.ID}}}}\t{{{{.Label \"{LABEL_SMOKE}\"}}}}");
    let Ok(out) = run(
        &argv::ps_with(&[(LABEL_SMOKE, "")], true, &fmt),
        &BTreeMap::new(),
        em,
    ) else {
        return;
    };
    let dead = orphans(
        &String::from_utf8_lossy(&out.stdout),
        &crate::deploy::whoami(),
        |pid| std::path::Path::new(&format!("/proc/{pid}")).exists(),
    );
    if !dead.is_empty() {
        let _ = run(&argv::rm_force(&dead), &BTreeMap::new(), em);
    }
}

/// The IDs in `ID<TAB>OWNER` lines whose owner is `me` with a pid that is
/// not `alive`. Another user's or machine's containers, and those of older
/// arcane versions (owner `1`), are left alone.
fn orphans(ps: &str, me: &str, alive: impl Fn(u32) -> bool) -> Vec<String> {
    ps.lines()
        .filter_map(|l| {
            let (id, owner) = l.split_once('\t')?;
            let (who, pid) = owner.rsplit_once('/')?;
            let pid: u32 = pid.parse().ok()?;
            (who == me && !alive(pid)).then(|| id.to_string())
        })
        .collect()
}

static SIGINT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINT.store(true, Ordering::SeqCst);
}

/// Ctrl-C during the smoke test: noted instead of killing arcane, so the
/// test stops at its next check and removes its container. The previous
/// disposition comes back when the test ends.
struct Sigint(libc::sighandler_t);

impl Sigint {
    fn catch() -> Sigint {
        SIGINT.store(false, Ordering::SeqCst);
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        let old =
            unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
        if old == libc::SIG_IGN {
            // Ignored (a background job): leave it ignored.
            // SAFETY: restoring the disposition we just replaced.
            unsafe { libc::signal(libc::SIGINT, old) };
        }
        Sigint(old)
    }

    fn caught(&self) -> bool {
        SIGINT.load(Ordering::SeqCst)
    }
}

impl Drop for Sigint {
    fn drop(&mut self) {
        // SAFETY: restoring the disposition `catch` replaced.
        unsafe { libc::signal(libc::SIGINT, self.0) };
    }
}

/// Run the smoke test for `built`; `Err(DockerError::Smoke)` carries the
/// container's last log lines.
pub fn smoke_test(
    project: &Project,
    built: &BuiltImages,
    env: Option<&str>,
    em: &Emitter,
) -> Result<(), DockerError> {
    let Some(img) = smoke_image(project, built) else {
        return Ok(());
    };
    let h = &project.config.health;
    let port = project.config.app_port();
    let step = "smoke";
    em.step_started(step);
    sweep(em);
    let sigint = Sigint::catch();
    let name = format!(
        "arcane-smoke-{}-{:08x}",
        project.app_name(),
        rand::random::<u32>()
    );
    let mut cenv = BTreeMap::new();
    cenv.insert("ARCANE_ENV".to_string(), env.unwrap_or("smoke").to_string());
    let out = run(
        &argv::smoke_run(&name, &owner(), &img.tag, port, &cenv),
        &cenv,
        em,
    )?;
    // From here on the container may exist (`docker run` creates it even
    // when it cannot start it): every way out removes it.
    let guard = Container { name, em };
    let fail = |reason: String, logs: String| {
        em.step_finished(step, false, Some(reason.clone()));
        for l in logs.lines() {
            em.log(Stream::Stderr, l);
        }
        Err(DockerError::Smoke {
            image: img.tag.clone(),
            reason,
            logs,
        })
    };
    let interrupted = || {
        em.step_finished(step, false, Some("interrupted".into()));
        Err(DockerError::Interrupted(crate::error::Interrupted))
    };
    if !out.status.success() {
        return fail(
            "docker run failed".into(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        );
    }
    let logs = |g: &Container| -> String {
        run(&argv::logs(&g.name, LOG_LINES, false), &BTreeMap::new(), em)
            .map(|o| {
                let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                s.push_str(&String::from_utf8_lossy(&o.stderr));
                s.trim_end().to_string()
            })
            .unwrap_or_default()
    };
    let out = run(&argv::port(&guard.name, port), &BTreeMap::new(), em)?;
    let addr = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().parse::<SocketAddr>().ok().filter(|a| a.is_ipv4()));
    let Some(addr) = addr else {
        if sigint.caught() {
            return interrupted();
        }
        let l = logs(&guard);
        return fail(
            format!("the container did not publish port {port} (is [health] port / [proxy] app_port right?)"),
            l,
        );
    };
    let caught = || sigint.caught();
    sleep_until(Instant::now() + Duration::from_secs_f64(h.grace), &caught);
    let deadline = Instant::now() + Duration::from_secs(h.timeout);
    let mut ok_in_a_row = 0;
    let mut last = String::from("no answer yet");
    loop {
        if sigint.caught() {
            return interrupted();
        }
        match http_status(addr, &h.path, Duration::from_secs(2)) {
            Ok(code) if (200..400).contains(&code) => {
                ok_in_a_row += 1;
                if ok_in_a_row >= h.healthy_threshold.max(1) {
                    break;
                }
            }
            Ok(code) => {
                ok_in_a_row = 0;
                last = format!("GET {} answered {code}", h.path);
            }
            Err(e) => {
                ok_in_a_row = 0;
                last = format!("GET {} failed: {e}", h.path);
            }
        }
        let st = run(
            &argv::inspect(std::slice::from_ref(&guard.name)),
            &BTreeMap::new(),
            em,
        )?;
        let st = argv::parse_inspect(&String::from_utf8_lossy(&st.stdout));
        if let Some(st) = st.first().filter(|s| s.ended()) {
            let l = logs(&guard);
            return fail(
                format!("the container exited with code {}", st.exit_code),
                l,
            );
        }
        if Instant::now() >= deadline {
            let l = logs(&guard);
            return fail(format!("not healthy after {}s ({last})", h.timeout), l);
        }
        sleep_until(
            Instant::now() + Duration::from_secs_f64(h.interval),
            &caught,
        );
    }
    drop(guard);
    em.step_finished(
        step,
        true,
        Some(format!(
            "{} answered GET {} on port {port}",
            img.tag, h.path
        )),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_users_smoke_containers_of_dead_runs_are_orphans() {
        let ps = "a\troot@box/10\nb\troot@box/11\nc\tada@box/10\nd\t1\ne\troot@other/10\n";
        assert_eq!(orphans(ps, "root@box", |pid| pid == 11), ["a"]);
        assert!(orphans(ps, "root@box", |_| true).is_empty());
    }
}
