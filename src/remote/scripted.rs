//! A scripted transport for unit tests: it records every call (the command
//! line as the server's shell would get it, the stdin length, never the
//! stdin itself) and answers from a script, so an engine's whole step and
//! argv sequence runs in-process, in milliseconds, without Docker or SSH.
//!
//! A script is a list of rules. A rule matches a command whose shell text
//! contains every one of its needles; the rule added last wins, so a test
//! states the normal answers first and then overrides one to inject a
//! failure. A `once` rule is used up by its first match. A command no rule
//! matches panics with the command and the rules: a test must script
//! everything the engine runs.
//!
//! `forward_local` answers HTTP with a status from the script (a real
//! listener on 127.0.0.1, so health probes run their own code).

use super::transport::{Cmd, Forward, Output, RemoteError, Transport};
use crate::event::{Emitter, Stream};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `run` or `stream`: the shell text and how many stdin bytes it got.
    Run {
        cmd: String,
        stdin: Option<usize>,
    },
    Upload {
        path: String,
        mode: u32,
    },
    Forward {
        host: String,
        port: u16,
    },
}

impl Call {
    /// The command line of a `Run`.
    pub fn cmd(&self) -> Option<&str> {
        match self {
            Call::Run { cmd, .. } => Some(cmd),
            _ => None,
        }
    }
}

type Answer = Arc<dyn Fn(&Cmd) -> Result<Output, RemoteError> + Send + Sync>;

struct Rule {
    needles: Vec<String>,
    answer: Answer,
    once: bool,
    used: bool,
}

impl Rule {
    fn matches(&self, text: &str) -> bool {
        !(self.once && self.used) && self.needles.iter().all(|n| text.contains(n.as_str()))
    }
}

type HttpAnswer = Arc<dyn Fn(&str, u16) -> u16 + Send + Sync>;

/// See the module doc.
pub struct Scripted {
    name: String,
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<Call>>,
    uploads: Mutex<BTreeMap<String, Vec<u8>>>,
    failing_uploads: Mutex<Vec<String>>,
    http: Mutex<Option<HttpAnswer>>,
}

/// A successful output with `stdout`.
pub fn ok(stdout: &str) -> Output {
    Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: vec![],
    }
}

/// A failed output with `stderr`.
pub fn fail(status: i32, stderr: &str) -> Output {
    Output {
        status,
        stdout: vec![],
        stderr: stderr.as_bytes().to_vec(),
    }
}

/// A transport error (the connection dropped).
pub fn dropped(server: &str) -> RemoteError {
    RemoteError::Io {
        server: server.into(),
        what: "channel".into(),
        reason: "connection reset (scripted)".into(),
    }
}

impl Scripted {
    pub fn new(name: &str) -> Arc<Scripted> {
        Arc::new(Scripted {
            name: name.into(),
            rules: Mutex::new(vec![]),
            calls: Mutex::new(vec![]),
            uploads: Mutex::new(BTreeMap::new()),
            failing_uploads: Mutex::new(vec![]),
            http: Mutex::new(None),
        })
    }

    fn add(&self, needles: &[&str], answer: Answer, once: bool) {
        self.rules.lock().unwrap().push(Rule {
            needles: needles.iter().map(|s| s.to_string()).collect(),
            answer,
            once,
            used: false,
        });
    }

    /// Every command containing all of `needles` gets `out`.
    pub fn on(&self, needles: &[&str], out: Output) {
        self.add(needles, Arc::new(move |_| Ok(out.clone())), false);
    }

    /// The next command containing all of `needles` gets `out`.
    pub fn once(&self, needles: &[&str], out: Output) {
        self.add(needles, Arc::new(move |_| Ok(out.clone())), true);
    }

    /// Commands containing all of `needles` are answered by `f`.
    pub fn on_fn(
        &self,
        needles: &[&str],
        f: impl Fn(&Cmd) -> Result<Output, RemoteError> + Send + Sync + 'static,
    ) {
        self.add(needles, Arc::new(f), false);
    }

    /// The next command containing all of `needles` fails at the transport.
    pub fn drop_once(&self, needles: &[&str]) {
        let name = self.name.clone();
        self.add(needles, Arc::new(move |_| Err(dropped(&name))), true);
    }

    /// Uploads to a path containing `needle` fail at the transport.
    pub fn fail_upload(&self, needle: &str) {
        self.failing_uploads.lock().unwrap().push(needle.into());
    }

    /// `forward_local` connections answer HTTP with `f(host, port)`.
    pub fn http(&self, f: impl Fn(&str, u16) -> u16 + Send + Sync + 'static) {
        *self.http.lock().unwrap() = Some(Arc::new(f));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The command lines run, in order.
    pub fn commands(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter_map(|c| c.cmd().map(String::from))
            .collect()
    }

    /// What was uploaded to `path` last.
    pub fn uploaded(&self, path: &str) -> Option<Vec<u8>> {
        self.uploads.lock().unwrap().get(path).cloned()
    }

    fn answer(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError> {
        let text = cmd.to_shell();
        em.command(&text);
        self.calls.lock().unwrap().push(Call::Run {
            cmd: text.clone(),
            stdin: cmd.stdin.as_ref().map(|s| s.len()),
        });
        let answer = {
            let mut rules = self.rules.lock().unwrap();
            let Some(r) = rules.iter_mut().rev().find(|r| r.matches(&text)) else {
                let known: Vec<String> = rules.iter().map(|r| r.needles.join(" + ")).collect();
                drop(rules);
                panic!(
                    "{}: unscripted command: {text}\nrules:\n  {}",
                    self.name,
                    known.join("\n  ")
                );
            };
            r.used = true;
            r.answer.clone()
        };
        answer(cmd)
    }
}

impl Transport for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, cmd: &Cmd, em: &Emitter) -> Result<Output, RemoteError> {
        self.answer(cmd, em)
    }

    fn stream(
        &self,
        cmd: &Cmd,
        em: &Emitter,
        _stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<i32, RemoteError> {
        let out = self.answer(cmd, em)?;
        for l in out.stdout_str().lines() {
            em.log(Stream::Stdout, l);
        }
        for l in out.stderr_str().lines() {
            em.log(Stream::Stderr, l);
        }
        Ok(out.status)
    }

    fn upload(
        &self,
        path: &str,
        bytes: &[u8],
        mode: u32,
        _em: &Emitter,
    ) -> Result<(), RemoteError> {
        self.calls.lock().unwrap().push(Call::Upload {
            path: path.into(),
            mode,
        });
        if self
            .failing_uploads
            .lock()
            .unwrap()
            .iter()
            .any(|n| path.contains(n.as_str()))
        {
            return Err(dropped(&self.name));
        }
        self.uploads
            .lock()
            .unwrap()
            .insert(path.into(), bytes.to_vec());
        Ok(())
    }

    fn forward_local(&self, host: &str, port: u16) -> Result<Box<dyn Forward>, RemoteError> {
        self.calls.lock().unwrap().push(Call::Forward {
            host: host.into(),
            port,
        });
        let Some(f) = self.http.lock().unwrap().clone() else {
            return Err(RemoteError::Io {
                server: self.name.clone(),
                what: format!("forward to {host}:{port}"),
                reason: "not scripted".into(),
            });
        };
        let code = f(host, port);
        Ok(Box::new(HttpStub::start(code)))
    }

    fn forward_remote(&self, _target: SocketAddr) -> Result<Box<dyn Forward>, RemoteError> {
        Err(RemoteError::Io {
            server: self.name.clone(),
            what: "remote forward".into(),
            reason: "not supported by the scripted transport".into(),
        })
    }
}

/// A listener on 127.0.0.1 answering every request with one status code,
/// until dropped.
struct HttpStub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl HttpStub {
    fn start(code: u16) -> HttpStub {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = l.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut c) = c else { continue };
                // The whole request first: answering (and closing) while
                // the client still writes would reset its connection.
                let mut got = vec![];
                let mut b = [0u8; 1024];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&b[..n]),
                    }
                }
                let _ = write!(c, "HTTP/1.0 {code} Scripted\r\nContent-Length: 0\r\n\r\n");
            }
        });
        HttpStub { addr, stop }
    }
}

impl Forward for HttpStub {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = TcpStream::connect(self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_rule_wins_once_rules_are_used_up_and_stdin_is_only_counted() {
        let t = Scripted::new("srv");
        let em = Emitter::null();
        t.on(&["docker", "ps"], ok("all"));
        t.once(&["docker ps", "-a"], fail(1, "boom"));
        let cmd = Cmd::argv(["docker", "ps", "-a"]).with_stdin(b"secret".to_vec());
        assert_eq!(t.run(&cmd, &em).unwrap().status, 1);
        assert_eq!(t.run(&cmd, &em).unwrap().stdout_str(), "all");
        assert_eq!(
            t.calls()[0],
            Call::Run {
                cmd: "docker ps -a".into(),
                stdin: Some(6)
            }
        );
        t.drop_once(&["docker"]);
        assert!(t.run(&cmd, &em).is_err());
        t.upload("/x/.env", b"A=1", 0o600, &em).unwrap();
        assert_eq!(t.uploaded("/x/.env").unwrap(), b"A=1");
        t.fail_upload("release.json");
        assert!(t.upload("/x/release.json", b"{}", 0o600, &em).is_err());
    }

    #[test]
    fn forwards_answer_the_scripted_http_status() {
        let t = Scripted::new("srv");
        assert!(t.forward_local("10.0.0.2", 80).is_err());
        t.http(|_, _| 204);
        let f = t.forward_local("10.0.0.2", 80).unwrap();
        let code = crate::deploy::health::http_status(
            f.addr(),
            "/health",
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(code, 204);
    }

    #[test]
    #[should_panic(expected = "unscripted command: docker info")]
    fn an_unscripted_command_fails_loudly() {
        let t = Scripted::new("srv");
        let _ = t.run(&Cmd::argv(["docker", "info"]), &Emitter::null());
    }
}
