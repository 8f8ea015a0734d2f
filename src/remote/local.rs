//! The `local` transport: this machine, no SSH. Same trait, same command log,
//! so every engine works unchanged against `host = "local"`.

use super::guard::{guarded, Watch};
use super::transport::*;
use crate::event::{Emitter, Stream};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct LocalTransport {
    name: String,
}

impl LocalTransport {
    pub fn new(name: impl Into<String>) -> Self {
        LocalTransport { name: name.into() }
    }

    fn io(&self, what: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Io {
            server: self.name.clone(),
            what: what.into(),
            reason: e.to_string(),
        }
    }

    fn spawn(&self, cmd: &Cmd) -> Result<std::process::Child, RemoteError> {
        self.spawn_with(&cmd.to_shell(), cmd.stdin.as_ref(), |_| {})
    }

    fn spawn_with(
        &self,
        script: &str,
        stdin: Option<&Vec<u8>>,
        setup: impl FnOnce(&mut Command),
    ) -> Result<std::process::Child, RemoteError> {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        // arcane's own key material never reaches commands it runs.
        for k in [
            "ARCANE_MACHINE_KEY",
            "ARCANE_MACHINE_KEY_FILE",
            "ARCANE_IDENTITY",
        ] {
            c.env_remove(k);
        }
        setup(&mut c);
        let mut child = c.spawn().map_err(|e| self.io("spawn sh", e))?;
        if let Some(input) = stdin {
            let mut stdin = child.stdin.take().expect("piped");
            let input = input.clone();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        Ok(child)
    }

    /// `sh` running `cmd` under [`guarded`] in a process group of its own,
    /// with the read end of a pipe on fd 3 for the watchdog. The returned
    /// write end is the pipe only arcane holds: dropping it (or arcane
    /// dying) ends the command's group.
    fn spawn_guarded(&self, cmd: &Cmd) -> Result<(std::process::Child, OwnedFd), RemoteError> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds we then own; O_CLOEXEC keeps the write
        // end out of every other process arcane starts.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(self.io("pipe", std::io::Error::last_os_error()));
        }
        // SAFETY: both fds were just created and are owned here only.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let script = guarded(&cmd.to_shell(), Watch::Fd3);
        let rfd = read.as_raw_fd();
        let child = self.spawn_with(&script, cmd.stdin.as_ref(), move |c| {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    if libc::setpgid(0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // dup2 clears close-on-exec on the copy; if the pipe
                    // already is fd 3, clear it by hand.
                    let ok = if rfd == 3 {
                        libc::fcntl(3, libc::F_SETFD, 0) == 0
                    } else {
                        libc::dup2(rfd, 3) == 3
                    };
                    if ok {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        })?;
        drop(read);
        Ok((child, write))
    }
}

/// Whether the process `pid` (our child) has exited, without reaping it:
/// while it is an unreaped zombie its pid, which names its process group,
/// cannot be reused, so the group can still be signalled safely.
fn exited(pid: i32) -> bool {
    // SAFETY: waitid with WNOWAIT on our own child only reads its state.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r != 0 || info.si_pid() != 0
    }
}

/// End a streamed command's process group before its leader is reaped. A
/// stopped command gets TERM and a second to go (docker CLIs clean up on
/// TERM); then KILL goes to whatever is left, which after a normal end is
/// only the watchdog and anything the command left in the background.
fn end_group(group: i32, stopped: bool) {
    // SAFETY: kill(2) on the group whose leader is our unreaped child.
    unsafe {
        if stopped {
            libc::kill(-group, libc::SIGTERM);
            let start = Instant::now();
            while !exited(group) && start.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        libc::kill(-group, libc::SIGKILL);
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(128 + 9)
}

struct Direct(SocketAddr);

impl Forward for Direct {
    fn addr(&self) -> SocketAddr {
        self.0
    }
}

impl Transport for LocalTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError> {
        em.command(&cmd.to_shell());
        let child = self.spawn(cmd)?;
        let pid = child.id();
        let deadline = cmd.timeout;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let res = match deadline {
            Some(t) => match rx.recv_timeout(t) {
                Ok(r) => r,
                Err(_) => {
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    return Err(RemoteError::Timeout {
                        server: self.name.clone(),
                        command: em.redactor().redact(&cmd.to_shell()),
                        secs: t.as_secs(),
                    });
                }
            },
            None => rx.recv().map_err(|e| self.io("wait", e))?,
        };
        let out = res.map_err(|e| self.io("wait", e))?;
        Ok(Output {
            status: out.status.code().unwrap_or(128 + 9),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    fn stream(
        &self,
        cmd: &Cmd,
        em: &Emitter,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError> {
        em.command(&cmd.to_shell());
        let (mut child, _watched) = self.spawn_guarded(cmd)?;
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let (e1, e2) = (em.clone(), em.clone());
        let t1 = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                e1.log(Stream::Stdout, &line);
            }
        });
        let t2 = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                e2.log(Stream::Stderr, &line);
            }
        });
        let group = child.id() as i32;
        let start = Instant::now();
        let stopped = loop {
            if exited(group) {
                break false;
            }
            let timed_out = cmd.timeout.is_some_and(|t| start.elapsed() > t);
            if stop() || timed_out {
                break true;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        end_group(group, stopped);
        let status = child.wait().map_err(|e| self.io("wait", e))?;
        // Nothing holds the pipes now, so the readers reach their end.
        let _ = t1.join();
        let _ = t2.join();
        Ok(if stopped { 130 } else { exit_code(status) })
    }

    fn upload(&self, path: &str, bytes: &[u8], mode: u32, em: &Emitter) -> Result<(), RemoteError> {
        use std::os::unix::fs::OpenOptionsExt;
        em.command(&format!(
            "upload {} bytes to {path} (mode {mode:o})",
            bytes.len()
        ));
        let p = std::path::Path::new(path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io("mkdir", e))?;
        }
        let tmp = p.with_extension(format!("arcane-tmp-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| self.io("upload", e))?;
        f.write_all(bytes).map_err(|e| self.io("upload", e))?;
        f.sync_all().map_err(|e| self.io("upload", e))?;
        std::fs::rename(&tmp, p).map_err(|e| self.io("upload", e))?;
        Ok(())
    }

    fn forward_local(&self, host: &str, port: u16) -> Result<Box<dyn Forward>, RemoteError> {
        use std::net::ToSocketAddrs;
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| self.io("resolve", e))?
            .next()
            .ok_or_else(|| self.io("resolve", format!("no address for {host}")))?;
        Ok(Box::new(Direct(addr)))
    }

    fn forward_remote(&self, target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
        // The "server" is this machine: the target is already reachable.
        Ok(Box::new(Direct(target)))
    }

    fn unix_request(
        &self,
        socket: &str,
        request: &[u8],
        em: &Emitter,
    ) -> Option<Result<Vec<u8>, RemoteError>> {
        use std::io::Read;
        log_unix_request(em, socket, request);
        let go = || -> std::io::Result<Vec<u8>> {
            let mut s = std::os::unix::net::UnixStream::connect(socket)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            s.write_all(request)?;
            let mut out = vec![];
            s.read_to_end(&mut out)?;
            Ok(out)
        };
        Some(go().map_err(|e| self.io(&format!("request to {socket}"), e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Recorder};
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn local_runs_logs_and_uploads() {
        let rec = Arc::new(Recorder::default());
        let em = Emitter::new(rec.clone());
        em.redactor().add("topsecret");
        let t = LocalTransport::new("local");
        let out = t
            .run(
                &Cmd::shell("echo hi; echo topsecret >/dev/null; exit 3"),
                &em,
            )
            .unwrap();
        assert_eq!((out.status, out.stdout_str().as_str()), (3, "hi\n"));
        assert!(
            matches!(&rec.events()[0], Event::Command { command, .. } if !command.contains("topsecret"))
        );

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.env");
        t.upload(p.to_str().unwrap(), b"X=1\n", 0o600, &em).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let out = t
            .run(&Cmd::argv(["cat"]).with_stdin(b"piped".to_vec()), &em)
            .unwrap();
        assert_eq!(out.stdout_str(), "piped");
    }

    #[test]
    fn timeouts_kill_the_command() {
        let t = LocalTransport::new("local");
        let e = t
            .run(
                &Cmd::shell("sleep 5").with_timeout(Duration::from_millis(200)),
                &Emitter::null(),
            )
            .unwrap_err();
        assert!(matches!(e, RemoteError::Timeout { .. }));
    }

    /// Whether any process's command line contains `marker`.
    fn running(marker: &str) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
    }

    fn until_gone(marker: &str) -> bool {
        let start = Instant::now();
        while running(marker) {
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Regression (the TUI's Logs follow): `sh -c` does not exec its
    /// command, so killing `sh` left `docker logs -f` running, still
    /// feeding lines. Stopping a stream must end everything it started.
    #[test]
    fn stopping_a_stream_kills_its_children_too() {
        // Unique sleep lengths: each shows in its own process's argv.
        let (a, b) = (
            format!("41.{}", std::process::id()),
            format!("42.{}", std::process::id()),
        );
        let rec = Arc::new(Recorder::default());
        let em = Emitter::new(rec.clone());
        let r2 = rec.clone();
        let stop = move || {
            r2.events()
                .iter()
                .any(|e| matches!(e, Event::Log { line, .. } if line == "first"))
        };
        let t = LocalTransport::new("local");
        let cmd = Cmd::shell(format!("echo first; sleep {a} & sleep {b}; echo never"));
        let start = Instant::now();
        assert_eq!(t.stream(&cmd, &em, &stop).unwrap(), 130);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(
            until_gone(&a) && until_gone(&b),
            "a child outlived the stream"
        );
        assert!(!rec
            .events()
            .iter()
            .any(|e| matches!(e, Event::Log { line, .. } if line == "never")));
    }

    #[test]
    fn a_finished_stream_reports_its_status_and_leaves_nothing_behind() {
        let marker = format!("arcane-local-done-{}", std::process::id());
        let rec = Arc::new(Recorder::default());
        let t = LocalTransport::new("local");
        let cmd = Cmd::shell(format!("echo a; echo b >&2; exit 3 # {marker}"));
        let never = || false;
        assert_eq!(
            t.stream(&cmd, &Emitter::new(rec.clone()), &never).unwrap(),
            3
        );
        let lines: Vec<String> = rec
            .events()
            .iter()
            .filter_map(|e| match e {
                Event::Log { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        // The command log shows the command as given, not the wrapper.
        assert!(
            matches!(&rec.events()[0], Event::Command { command, .. } if command == &cmd.to_shell())
        );
        assert!(until_gone(&marker), "the watchdog outlived the stream");
        // Input still reaches a streamed command.
        let rec = Arc::new(Recorder::default());
        let cmd = Cmd::argv(["cat"]).with_stdin(b"fed\n".to_vec());
        assert_eq!(
            t.stream(&cmd, &Emitter::new(rec.clone()), &never).unwrap(),
            0
        );
        assert!(rec
            .events()
            .iter()
            .any(|e| matches!(e, Event::Log { line, .. } if line == "fed")));
    }
}
