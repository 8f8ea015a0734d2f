//! The binary's edge: output paths, exit codes and messages that do not
//! need a server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn arcane() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arcane"));
    c.env("NO_COLOR", "1");
    c
}

/// `arcane completions bash | head -1`: the reader closes the pipe after one
/// line; arcane must exit quietly instead of panicking on EPIPE.
#[test]
fn completions_bash_head_panics_on_broken_pipe_regression() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"][..],
        &["--help"][..],
    ] {
        let mut child = arcane()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        {
            let mut out = BufReader::new(child.stdout.take().unwrap());
            out.read_line(&mut first).unwrap();
            // Dropping the reader closes the pipe, like `head -1` exiting.
        }
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!first.is_empty());
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
    }
}
