//! The `local` transport: this machine, no SSH. Same trait, same command log,
//! so every engine works unchanged against `host = "local"`.

use super::transport::*;
use crate::event::{Emitter, Stream};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
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
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd.to_shell());
        c.stdin(if cmd.stdin.is_some() {
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
        let mut child = c.spawn().map_err(|e| self.io("spawn sh", e))?;
        if let Some(input) = &cmd.stdin {
            let mut stdin = child.stdin.take().expect("piped");
            let input = input.clone();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        Ok(child)
    }
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
        let mut child = self.spawn(cmd)?;
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
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().map_err(|e| self.io("wait", e))? {
                break s.code().unwrap_or(128 + 9);
            }
            let timed_out = cmd.timeout.is_some_and(|t| start.elapsed() > t);
            if stop() || timed_out {
                let _ = child.kill();
                let _ = child.wait();
                break 130;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = t1.join();
        let _ = t2.join();
        Ok(status)
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
}
