//! `arcane git watch` on real repositories: snapshots land in
//! `refs/arcane/shadow/<branch>` within the debounce window, the user's
//! HEAD, index, stash and status never change, encrypted env files are
//! ciphertext in every snapshot, and a staged secret blocks a snapshot.

#[path = "common/gitfix.rs"]
mod gitfix;

use gitfix::Fixture;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Kills the watcher however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn show(f: &Fixture, rev_path: &str) -> String {
    f.git_ok(&["show", rev_path])
}

#[test]
fn edits_become_shadow_commits_and_the_user_state_never_changes() {
    let f = Fixture::project();
    // Something staged and something modified, so the index is not trivial.
    f.write("src/staged.rs", "pub fn staged() {}\n");
    f.git_ok(&["add", "src/staged.rs"]);
    f.write("src/app.rs", "fn main() { println!(\"edited\"); }\n");
    f.git_ok(&["stash", "list"]);
    let before = f.user_state();

    let child = f
        .cmd(&["git", "watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = Running(child);
    wait_for("the first snapshot", Duration::from_secs(20), || {
        f.shadow().is_some()
    });
    let first = f.shadow().unwrap();
    assert_eq!(
        show(&f, &format!("{first}:src/app.rs")),
        "fn main() { println!(\"edited\"); }"
    );
    assert!(show(&f, &format!("{first}:src/staged.rs")).contains("staged"));

    // An edit: a new snapshot within the debounce window (200 ms) plus
    // the time one snapshot takes.
    let t = Instant::now();
    f.write("src/app.rs", "fn main() { println!(\"again\"); }\n");
    wait_for("a snapshot of the edit", Duration::from_secs(10), || {
        f.shadow().as_deref() != Some(first.as_str())
    });
    let took = t.elapsed();
    let second = f.shadow().unwrap();
    assert_eq!(
        f.rev(&format!("{second}^")).as_deref(),
        Some(first.as_str()),
        "one chain"
    );
    assert!(show(&f, &format!("{second}:src/app.rs")).contains("again"));
    eprintln!("edit to shadow commit: {took:?}");

    // Ignored files never wake it; a change in a new directory does.
    f.write(".gitignore", "target/\n");
    wait_for("the .gitignore snapshot", Duration::from_secs(10), || {
        f.shadow().as_deref() != Some(second.as_str())
    });
    let third = f.shadow().unwrap();
    f.write("target/debug/junk.o", "x");
    f.write("newdir/deep/file.txt", "hello\n");
    wait_for(
        "a snapshot of the new directory",
        Duration::from_secs(10),
        || f.shadow().as_deref() != Some(third.as_str()),
    );
    let fourth = f.shadow().unwrap();
    assert!(show(&f, &format!("{fourth}:newdir/deep/file.txt")).contains("hello"));
    assert!(!f
        .git(&["cat-file", "-e", &format!("{fourth}:target/debug/junk.o")])
        .status
        .success());

    // Ctrl-C stops it cleanly.
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(w.0.id() as i32, libc::SIGINT);
    }
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = w.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "the watcher did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(25));
    };
    let mut err = String::new();
    use std::io::Read;
    w.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("watcher stopped"), "{err}");
    assert!(!f.dir.join(".git/arcane/watch.json").exists());

    // The user's side: HEAD, branches, index bytes, stash and status as
    // before (plus the files written since, which are untracked or modified
    // in the working tree only).
    let after = f.user_state();
    assert_eq!(before.0, after.0, "HEAD");
    assert_eq!(before.1, after.1, "branches, tags, stash ref");
    assert_eq!(before.2, after.2, "the index file's bytes");
    assert_eq!(before.3, after.3, "stash list");
    for line in before.4.lines() {
        let path = &line[3..];
        if path != "src/app.rs" {
            assert!(
                after.4.contains(line),
                "status of {path} changed: {}",
                after.4
            );
        }
    }
}

#[test]
fn encrypted_env_files_are_ciphertext_in_every_snapshot() {
    let f = Fixture::project();
    f.ok(&[
        "env",
        "set",
        "API_TOKEN",
        "tok-9f8e7d6c5b4a",
        "--env",
        "staging",
    ]);
    let work = std::fs::read_to_string(f.dir.join("config/envs/staging.env")).unwrap();
    assert!(
        work.contains("tok-9f8e7d6c5b4a"),
        "plaintext in the working tree: {work}"
    );
    f.ok(&["git", "watch", "--once"]);
    let snap = f.shadow().unwrap();
    let stored = show(&f, &format!("{snap}:config/envs/staging.env"));
    assert!(stored.contains("arcane:mac:v1:"), "{stored}");
    for secret in ["tok-9f8e7d6c5b4a", "Sup3rS3cretPw"] {
        assert!(
            !stored.contains(secret),
            "plaintext in the snapshot: {stored}"
        );
        let all = f.git_ok(&["log", "-p", "--no-textconv", "refs/arcane/shadow/main"]);
        assert!(
            !all.contains(secret),
            "plaintext somewhere in the shadow history"
        );
    }
}

#[test]
fn without_the_filter_plaintext_env_files_are_left_out_not_stored() {
    let f = Fixture::project();
    // A clone that never ran `arcane setup`: the filter is not configured.
    f.git_ok(&["config", "--unset", "filter.arcane.process"]);
    f.git_ok(&["config", "--unset", "filter.arcane.clean"]);
    f.git_ok(&["config", "--unset", "filter.arcane.smudge"]);
    f.git_ok(&["config", "--unset", "filter.arcane.required"]);
    let path = f.dir.join("config/envs/staging.env");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("NEW_SECRET=plain-leak-value-123\n");
    std::fs::write(&path, text).unwrap();
    f.write("src/other.rs", "pub fn other() {}\n");
    let o = f.arcane(&["git", "watch", "--once"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("left out of snapshots") && err.contains("config/envs/staging.env"),
        "{err}"
    );
    let snap = f.shadow().unwrap();
    let stored = show(&f, &format!("{snap}:config/envs/staging.env"));
    assert!(
        !stored.contains("plain-leak-value-123") && stored.contains("arcane:v1:"),
        "{stored}"
    );
    assert!(show(&f, &format!("{snap}:src/other.rs")).contains("other"));
    // No object with the plaintext was even written, referenced or not.
    let o = f.git(&["cat-file", "--batch-all-objects", "--batch"]);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("plain-leak-value-123"));
}

#[test]
fn a_staged_aws_key_blocks_the_snapshot() {
    let f = Fixture::project();
    f.ok(&["git", "watch", "--once"]);
    let before = f.shadow();
    f.write("src/keys.rs", "const K: &str = \"AKIAQ3EGRFZWNLVJ7XKD\";\n");
    f.git_ok(&["add", "src/keys.rs"]);
    let o = f.arcane(&["--json", "git", "watch", "--once"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(r#""state":"blocked""#) && out.contains("aws-access-key-id"),
        "{out}"
    );
    assert!(
        !out.contains("Q3EGRFZWNLVJ7XKD"),
        "the key is redacted: {out}"
    );
    assert_eq!(f.shadow(), before, "no snapshot was committed");
    // Gone again: the next snapshot goes through.
    f.git_ok(&["rm", "-q", "--cached", "src/keys.rs"]);
    std::fs::remove_file(f.dir.join("src/keys.rs")).unwrap();
    f.write("src/fine.rs", "pub fn fine() {}\n");
    f.ok(&["git", "watch", "--once"]);
    assert_ne!(f.shadow(), before);
}

#[test]
fn a_second_watcher_of_the_same_tree_is_refused() {
    let f = Fixture::project();
    let child = f
        .cmd(&["git", "watch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _w = Running(child);
    wait_for("the watcher's state file", Duration::from_secs(20), || {
        f.dir.join(".git/arcane/watch.json").exists()
    });
    let o = f.arcane(&["git", "watch", "--once"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already snapshots"));
}

#[test]
fn install_service_writes_a_user_unit_fake_systemctl() {
    let f = Fixture::project();
    // A stand-in for systemctl that records its arguments.
    let bin = f.home.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = f.home.path().join("systemctl.log");
    std::fs::write(
        bin.join("systemctl"),
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        bin.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut f = f;
    f.extra_env.push(("PATH".into(), path));
    f.ok(&["git", "watch", "--install-service"]);
    let units = f.home.path().join("xdg/systemd/user");
    let unit = std::fs::read_dir(&units)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!("--project \"{}\" git watch", f.dir.display())),
        "{text}"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    let name = unit.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        calls.contains(&format!("--user enable --now {name}")),
        "{calls}"
    );
    f.ok(&["git", "watch", "--uninstall-service"]);
    assert!(!unit.exists());
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains(&format!("--user disable --now {name}")));
}

#[test]
fn a_filter_without_a_key_leaves_env_files_out_and_snapshots_the_rest() {
    let f = Fixture::project();
    // The filter is configured but this process has no identity to
    // encrypt with (a service whose identity needs a passphrase, say).
    let id = f.home.path().join("xdg/arcane/identity.txt");
    std::fs::rename(&id, f.home.path().join("identity.away")).unwrap();
    let path = f.dir.join("config/envs/staging.env");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("LATE_SECRET=late-plain-value-77\n");
    std::fs::write(&path, text).unwrap();
    f.write("src/work.rs", "pub fn work() {}\n");
    let o = f.arcane(&["git", "watch", "--once"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("could not encrypt") && err.contains("config/envs/staging.env"),
        "{err}"
    );
    assert!(
        !err.contains("run `arcane setup`"),
        "the filter is set up: {err}"
    );
    let snap = f.shadow().unwrap();
    assert!(show(&f, &format!("{snap}:src/work.rs")).contains("work"));
    let stored = show(&f, &format!("{snap}:config/envs/staging.env"));
    assert!(!stored.contains("late-plain-value-77") && stored.contains("arcane:v1:"));
}
