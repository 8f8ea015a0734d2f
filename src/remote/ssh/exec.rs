//! Running a command on a channel: stdin, output, exit status, timeouts,
//! and killing the command's process group on the server when it is
//! abandoned.

use super::*;

impl SshTransport {
    /// `stdin`: bytes written to the command, then end of file; `Held`
    /// keeps the channel's stdin open without writing, for a script under
    /// [`guarded`](crate::remote::guard) watching it.
    pub(super) fn exec(
        &self,
        script: &str,
        stdin: Input,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
        sink: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<ExecEnd, RemoteError> {
        let core = &self.core;
        let _slot = core.session_slot(crate::remote::session::MAX_SESSIONS);
        let mut ch = core.open_session()?;
        // The login shell is the session leader (sshd calls setsid), so its
        // pid names the process group to kill when the command is abandoned.
        let wrapped = format!("echo arcane-pid:$$ >&2; {script}");
        let res = self.exec_on(&mut ch, &wrapped, &stdin, timeout, stop, sink);
        let grace = match &res {
            Ok(ExecEnd::Exited(_)) => Duration::from_secs(10),
            _ => Duration::from_secs(2),
        };
        let res = res.map(|end| match end {
            ExecEnd::Exited(_) => {
                let _ = core.block("close channel", Some(Instant::now() + grace), || ch.close());
                let code = ch.exit_status().unwrap_or(-1);
                let sig = ch.exit_signal().ok().and_then(|s| s.exit_signal);
                ExecEnd::Exited(match sig {
                    Some(s) => 128 + signal_number(&s),
                    None => code,
                })
            }
            other => other,
        });
        core.dispose(ch, grace);
        res
    }

    fn exec_on(
        &self,
        ch: &mut ssh2::Channel,
        script: &str,
        stdin: &Input,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
        sink: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<ExecEnd, RemoteError> {
        let core = &self.core;
        core.open("exec", || ch.exec(script))?;
        let start = Instant::now();
        let input = match stdin {
            Input::Bytes(b) => b,
            Input::None | Input::Held => &[][..],
        };
        let mut pos = 0;
        let mut eof_sent = matches!(stdin, Input::Held);
        let mut pid: Option<u32> = None;
        let mut head: Option<Vec<u8>> = Some(vec![]); // stderr until the pid line
        let mut buf = vec![0u8; 32 * 1024];
        let mut b = Backoff::new();
        loop {
            let mut progress = false;
            if pos < input.len() {
                let end = (pos + 32 * 1024).min(input.len());
                match core.attempt(|| ch.write(&input[pos..end])) {
                    Ok(Some(n)) => {
                        pos += n;
                        progress = true;
                    }
                    Ok(None) => {}
                    // The command stopped reading (exited early): keep
                    // collecting its output and status instead of failing.
                    Err(_) => {
                        pos = input.len();
                        eof_sent = true;
                    }
                }
            }
            if pos >= input.len() && !eof_sent {
                match core.attempt(|| ch.send_eof()) {
                    Ok(Some(())) => eof_sent = true,
                    Ok(None) => {}
                    Err(_) => eof_sent = true,
                }
            }
            for stream in [Stream::Stdout, Stream::Stderr] {
                loop {
                    let r = core.attempt(|| match stream {
                        Stream::Stdout => ch.read(&mut buf),
                        Stream::Stderr => ch.stderr().read(&mut buf),
                    });
                    match r {
                        Ok(Some(0)) | Ok(None) => break,
                        Ok(Some(n)) => {
                            progress = true;
                            if stream == Stream::Stderr && head.is_some() {
                                // Login scripts may print before our pid
                                // line: pass their lines on, drop ours.
                                let h = head.as_mut().unwrap();
                                h.extend_from_slice(&buf[..n]);
                                while let Some(i) = h.iter().position(|&c| c == b'\n') {
                                    let line: Vec<u8> = h.drain(..=i).collect();
                                    let text = String::from_utf8_lossy(&line);
                                    if let Some(p) = text.trim_end().strip_prefix("arcane-pid:") {
                                        pid = p.trim().parse().ok();
                                        let rest = std::mem::take(h);
                                        head = None;
                                        if !rest.is_empty() {
                                            sink(Stream::Stderr, &rest);
                                        }
                                        break;
                                    }
                                    sink(Stream::Stderr, &line);
                                }
                            } else {
                                sink(stream, &buf[..n]);
                            }
                        }
                        Err(e) => return Err(core.err("read output", e)),
                    }
                }
            }
            let eof = core
                .attempt(|| Ok::<bool, ssh2::Error>(ch.eof()))
                .ok()
                .flatten()
                .unwrap_or(false);
            if eof {
                if let Some(h) = head.take() {
                    if !h.is_empty() {
                        sink(Stream::Stderr, &h);
                    }
                }
                return Ok(ExecEnd::Exited(0));
            }
            let timed_out = timeout.is_some_and(|t| start.elapsed() > t);
            if timed_out || stop() {
                if let Some(pid) = pid {
                    self.kill_group(pid);
                }
                return Ok(if timed_out {
                    ExecEnd::TimedOut
                } else {
                    ExecEnd::Stopped
                });
            }
            if progress {
                b.reset();
            } else {
                core.wait(None, b.next_ms());
            }
        }
    }

    /// Kill an abandoned command's process group on the server.
    fn kill_group(&self, pid: u32) {
        let script = format!("kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null");
        let never = || false;
        let _ = self.exec_plain(&script, Some(Duration::from_secs(5)), &never);
    }

    /// Run without the pid wrapper (used for the kill itself).
    fn exec_plain(
        &self,
        script: &str,
        timeout: Option<Duration>,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), RemoteError> {
        let core = &self.core;
        let _slot = core.session_slot(crate::remote::session::MAX_SESSIONS + 2);
        let mut ch = core.open_session()?;
        let start = Instant::now();
        let r = core.open("exec", || ch.exec(script));
        let mut b = Backoff::new();
        let mut buf = [0u8; 1024];
        while r.is_ok() && !stop() && timeout.is_none_or(|t| start.elapsed() < t) {
            let _ = core.attempt(|| ch.read(&mut buf));
            let _ = core.attempt(|| ch.stderr().read(&mut buf));
            if core
                .attempt(|| Ok::<bool, ssh2::Error>(ch.eof()))
                .ok()
                .flatten()
                .unwrap_or(false)
            {
                break;
            }
            core.wait(None, b.next_ms());
        }
        core.dispose(ch, Duration::from_secs(2));
        r
    }
}

/// What a command gets on stdin.
pub(super) enum Input<'a> {
    /// Nothing: end of file at once.
    None,
    /// These bytes, then end of file.
    Bytes(&'a [u8]),
    /// Nothing, and the channel's stdin stays open until the channel closes.
    Held,
}

impl<'a> From<Option<&'a [u8]>> for Input<'a> {
    fn from(b: Option<&'a [u8]>) -> Self {
        b.map_or(Input::None, Input::Bytes)
    }
}

pub(super) enum ExecEnd {
    Exited(i32),
    Stopped,
    TimedOut,
}

fn signal_number(name: &str) -> i32 {
    match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "SEGV" => 11,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    }
}
