//! The wrapper that ties a streamed command's life to arcane's.
//!
//! A streamed command (`docker logs -f`, `docker exec`, a hook) may run for
//! ever and print nothing for hours, so nothing tells it that arcane is gone:
//! a dead pipe only kills a writer when it next writes, and over SSH
//! without a PTY sshd sends no SIGHUP when the channel or the connection
//! closes. The transports kill the command's process group when `stop()`
//! says so, but that needs arcane alive: quitting, a crash or `kill -9` would
//! leave the follower running, locally and on the server.
//!
//! So the command runs under a watchdog that holds one end of a pipe whose
//! other end only arcane holds: over SSH, the channel's stdin (sshd closes it
//! when the channel closes or the connection drops, also when arcane's
//! process dies and the kernel closes its socket); locally, a pipe on fd 3
//! whose write end arcane keeps. When that pipe reaches end of file, the
//! watchdog kills the command's whole process group (TERM, then KILL two
//! seconds later), so nothing it started survives. When the command ends
//! on its own, the wrapper kills the watchdog and exits with the command's
//! status; when arcane stops it, the TERM to the group ends the watchdog
//! too (it ignores TERM only once it is the one sending it).
//!
//! Why not a PTY over SSH (sshd hangs up a PTY session's processes)? It
//! merges stderr into stdout, rewrites line endings and lets the remote
//! program see a terminal; and SIGHUP is only sent when sshd notices the
//! close, which the stdin watch covers anyway. Why not PR_SET_PDEATHSIG
//! locally? It reaches only the direct child (`sh`), not the `docker` it
//! starts, and fires when the spawning *thread* ends.
//!
//! The wrapper needs the shell running it to lead its process group: sshd
//! makes the login shell a session leader, and the local transport starts
//! `sh` with `setpgid(0, 0)`.

/// Where the watchdog reads the pipe arcane holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// The command's stdin (over SSH: the channel). The command itself gets
    /// `/dev/null` as stdin.
    Stdin,
    /// File descriptor 3, set up by the spawner; stdin is left to the command.
    Fd3,
}

/// `script`, run in a subshell under the watchdog described above. The
/// script is on lines of its own, so a trailing `# comment` in it cannot
/// swallow the closing parenthesis.
pub fn guarded(script: &str, watch: Watch) -> String {
    let save = match watch {
        Watch::Stdin => "exec 3<&0 </dev/null\n",
        Watch::Fd3 => "",
    };
    format!(
        "{save}{{ while read -r arcane_l <&3; do :; done; \
         trap '' TERM; kill -TERM -$$; sleep 2; kill -KILL -$$; }} </dev/null >/dev/null 2>&1 &\n\
         arcane_w=$!\n\
         exec 3<&-\n\
         (\n{script}\n)\n\
         arcane_s=$?\n\
         kill -KILL $arcane_w 2>/dev/null\n\
         exit $arcane_s"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn the_script_runs_in_a_subshell_after_the_watchdog() {
        let g = guarded("docker logs -f abc # note", Watch::Stdin);
        assert!(g.starts_with("exec 3<&0 </dev/null\n{ while read"));
        assert!(g.contains("\n(\ndocker logs -f abc # note\n)\n"));
        assert!(g.ends_with("exit $arcane_s"));
        assert!(!guarded("x", Watch::Fd3).contains("exec 3<&0"));
    }

    /// Kills the test's process group if an assertion fails first.
    struct Group(i32);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: plain kill(2) on the group this test started.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }

    /// No live process is left in group `pgid`. Zombies do not count: an
    /// orphan is reaped by init, which may take its time.
    fn gone(pgid: i32) -> bool {
        !std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            // "pid (comm) state ppid pgrp ...": comm may hold spaces.
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
        })
    }

    /// Whether the group is gone within `secs`.
    fn gone_within(pgid: i32, secs: u64) -> bool {
        let start = Instant::now();
        while !gone(pgid) {
            if start.elapsed() > Duration::from_secs(secs) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// `sh` in its own session (so it leads its group, as over SSH), its
    /// stdin a pipe this test holds.
    fn start(script: &str) -> (std::process::Child, Group) {
        let child = Command::new("setsid")
            .args(["sh", "-c"])
            .arg(guarded(script, Watch::Stdin))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let g = Group(child.id() as i32);
        (child, g)
    }

    #[test]
    fn the_wrapper_passes_output_and_status_through_and_leaves_nothing() {
        let (mut child, g) = start("echo out; echo err >&2; exit 7 # c");
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));
        assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
        // The watchdog went with the script, though arcane's end is open.
        assert!(gone_within(g.0, 1), "the watchdog outlived the script");
    }

    /// arcane going away (its end of the pipe closing) kills the command
    /// and what the command started.
    #[test]
    fn closing_the_watched_pipe_kills_the_whole_group() {
        let (mut child, g) = start("sleep 30 & sleep 31; echo not-killed");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!gone(g.0));
        drop(child.stdin.take());
        // The shell itself is this test's child: reap it, then the rest of
        // its group must follow.
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "");
        assert!(child.wait().unwrap().code().is_none_or(|c| c != 0));
        assert!(gone_within(g.0, 5), "the group outlived its watched pipe");
    }
}
