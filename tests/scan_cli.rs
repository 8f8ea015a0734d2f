//! `arcane scan` through the binary: findings, redaction, allowlists, exit codes.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_arcane");

fn scan(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .current_dir(dir)
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn findings_are_redacted_and_exit_one() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("app.env"),
        "GITHUB=ghp_4bT2sJ9qLx0VwZr8mNc1YpKe6HdA3uFgQiRo\nSTRIPE=sk_live_51Hq8ZkLmN3pQrStUvWxYz0aBc\nok=1\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("clean.txt"),
        "nothing to see\npassword = changeme\n",
    )
    .unwrap();
    let (code, out, _) = scan(d.path(), &["."]);
    assert_eq!(code, 1);
    assert!(out.contains("app.env:1:github-token: ghp_"), "{out}");
    assert!(out.contains("app.env:2:stripe-secret-key: sk_l"), "{out}");
    assert!(
        !out.contains("4bT2sJ9qLx0V") && !out.contains("51Hq8ZkLmN3p"),
        "not redacted: {out}"
    );
    assert!(!out.contains("clean.txt"), "{out}");
    // JSON output carries the same findings.
    let o = Command::new(BIN)
        .current_dir(d.path())
        .args(["--json", "scan", "."])
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&o.stdout);
    assert!(
        json.contains(r#""rule":"github-token""#) && json.contains(r#""line":1"#),
        "{json}"
    );
}

#[test]
fn inline_and_file_allowlists() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join(".arcane")).unwrap();
    std::fs::create_dir_all(d.path().join("fixtures")).unwrap();
    std::fs::write(d.path().join("arcane.toml"), "[app]\nname = \"x\"\n").unwrap();
    std::fs::write(
        d.path().join("a.txt"),
        "k = 'AKIAQ3EGRFZWNLVJ7XKD' # arcane:allow\n",
    )
    .unwrap();
    std::fs::write(d.path().join("fixtures/t.txt"), "AKIAQ3EGRFZWNLVJ7XKD\n").unwrap();
    std::fs::write(
        d.path().join(".arcane/scan-allow.toml"),
        "paths = [\"fixtures/**\"]\n",
    )
    .unwrap();
    let (code, out, err) = scan(d.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("no secrets found"), "{err}");
}
