//! What a `docker build` prints, kept out of the results.
//!
//! Docker's raw build output is hundreds of lines of detail. It goes to a
//! log file (named in the error when the build fails, with its last lines),
//! to `-v` as verbose log lines, and to a progress bar fed by the builder's
//! own step counter. The command log still shows the `docker build` line.

use crate::event::{Emitter, Event, Sink, Stream};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Lines of the build log quoted in a failure.
const TAIL: usize = 15;

/// A sink for one `docker build`'s stream.
pub struct BuildLog {
    em: Emitter,
    label: String,
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
    tail: Mutex<std::collections::VecDeque<String>>,
}

/// `~/.cache/arcane/builds/<app>-<service>.log` (or under `ARCANE_CACHE_DIR`).
pub fn log_path(app: &str, service: &str) -> PathBuf {
    let root = match std::env::var_os("ARCANE_CACHE_DIR") {
        Some(d) => PathBuf::from(d),
        None => directories::ProjectDirs::from("", "", "arcane")
            .map(|p| p.cache_dir().to_path_buf())
            .unwrap_or_else(std::env::temp_dir),
    };
    root.join("builds").join(format!("{app}-{service}.log"))
}

impl BuildLog {
    /// Start a log at `path` (replacing the previous build's), reporting to `em`.
    pub fn new(em: &Emitter, label: &str, path: &Path) -> BuildLog {
        let file = path
            .parent()
            .map(std::fs::create_dir_all)
            .and_then(Result::ok)
            .and_then(|_| std::fs::File::create(path).ok());
        BuildLog {
            em: em.clone(),
            label: label.to_string(),
            path: path.to_path_buf(),
            file: Mutex::new(file),
            tail: Mutex::new(Default::default()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last lines, for a failure message.
    pub fn tail(&self) -> String {
        let t = self.tail.lock().unwrap();
        t.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    fn line(&self, stream: Stream, line: &str) {
        if let Some(f) = self.file.lock().unwrap().as_mut() {
            let _ = writeln!(f, "{line}");
        }
        {
            let mut t = self.tail.lock().unwrap();
            t.push_back(crate::event::strip_control(line));
            while t.len() > TAIL {
                t.pop_front();
            }
        }
        if let Some((done, total)) = step_of(line) {
            self.em.progress(&self.label, done, Some(total));
        }
        self.em.log_verbose(stream, line);
    }
}

impl Sink for BuildLog {
    fn emit(&self, ev: Event) {
        match ev {
            Event::Log { stream, line, .. } => self.line(stream, &line),
            other => self.em.emit(other),
        }
    }
}

/// The builder's own counter: `Step 3/7 : RUN ...` (the classic builder)
/// or `#5 [2/4] RUN ...` (BuildKit). The last step is reported as one short
/// of done, so the bar finishes when the build does, not when it starts its
/// last step.
pub fn step_of(line: &str) -> Option<(u64, u64)> {
    let line = crate::event::strip_control(line);
    let frac = if let Some(rest) = line.strip_prefix("Step ") {
        rest.split_whitespace().next()?
    } else if line.starts_with('#') {
        let open = line.find('[')?;
        let close = line[open..].find(']')? + open;
        line[open + 1..close].rsplit(' ').next()?
    } else {
        return None;
    };
    let (n, m) = frac.split_once('/')?;
    let (n, m) = (n.parse::<u64>().ok()?, m.parse::<u64>().ok()?);
    (n >= 1 && n <= m).then_some((n - 1, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Recorder;
    use std::sync::Arc;

    #[test]
    fn builder_steps_become_progress() {
        assert_eq!(step_of("Step 3/7 : RUN make"), Some((2, 7)));
        assert_eq!(step_of("#6 [2/4] RUN apk add curl"), Some((1, 4)));
        assert_eq!(step_of("#6 [builder 3/5] COPY . ."), Some((2, 5)));
        assert_eq!(step_of(" ---> Running in abc"), None);
        assert_eq!(step_of("Step 9/7 : nonsense"), None);
    }

    #[test]
    fn q_does_not_quiet_docker_build_output_regression() {
        // Raw build output is verbose detail (shown with -v), kept in a
        // file, and its counter drives a progress bar.
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let path = dir.path().join("b.log");
        let log = Arc::new(BuildLog::new(
            &Emitter::new(rec.clone()),
            "build web",
            &path,
        ));
        let em = Emitter::new(log.clone());
        em.log(Stream::Stdout, "Step 1/2 : FROM busybox");
        em.log(Stream::Stdout, "\x1b[31mboom\x1b[0m");
        let evs = rec.events();
        assert!(evs.iter().all(|e| match e {
            Event::Log { verbose, .. } => *verbose,
            _ => true,
        }));
        assert!(evs.iter().any(|e| matches!(
            e,
            Event::Progress {
                done: 0,
                total: Some(2),
                ..
            }
        )));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "Step 1/2 : FROM busybox\nboom\n"
        );
        assert_eq!(log.tail(), "Step 1/2 : FROM busybox\nboom");
    }
}
