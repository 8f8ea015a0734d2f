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

/// `env set` in a project that has no key material yet said
/// "recipients.toml does not exist"; it must say what to run instead.
#[test]
fn env_set_without_arcane_dir_says_recipients_toml_does_not_exist_regression() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path();
    std::fs::create_dir_all(p.join("config/envs")).unwrap();
    std::fs::write(p.join("arcane.toml"), "[app]\nname = \"bare\"\n").unwrap();
    std::fs::write(
        p.join("config/servers.toml"),
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n",
    )
    .unwrap();
    std::fs::write(p.join("config/envs/base.env"), "").unwrap();
    let o = arcane()
        .current_dir(p)
        .env("HOME", p)
        .env("XDG_CONFIG_HOME", p.join(".config"))
        .args(["env", "set", "A", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("arcane setup"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    assert!(!p.join(".arcane").exists(), "nothing half-written");
}
