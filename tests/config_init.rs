//! `arcane init` through the real binary.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use std::path::Path;

fn arcane(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .assert()
}

const FILES: [&str; 6] = [
    "arcane.toml",
    "config/servers.toml",
    "config/envs/base.env",
    "config/envs/staging.env",
    "config/envs/production.env",
    ".gitignore",
];

#[test]
fn init_in_an_empty_dir_then_check_passes() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("My Shop");
    std::fs::create_dir(&dir).unwrap();
    arcane(&dir, &["init"])
        .code(0)
        .stderr(contains("created arcane.toml").and(contains("6 created")));
    for f in FILES {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let toml = std::fs::read_to_string(dir.join("arcane.toml")).unwrap();
    assert!(toml.contains("name = \"my-shop\""), "{toml}");
    assert!(toml.contains("[envs.production]\nprotected = true"));
    let servers = std::fs::read_to_string(dir.join("config/servers.toml")).unwrap();
    assert!(servers.contains("[servers.local]\nhost = \"local\""));
    arcane(&dir, &["config", "check"])
        .code(0)
        .stderr(contains("OK"));
    arcane(&dir, &["env", "show", "--env", "production"]).code(0);
}

#[test]
fn init_twice_overwrites_nothing() {
    let t = tempfile::tempdir().unwrap();
    arcane(t.path(), &["init", "--name", "shop"]).code(0);
    let edited = "[app]\nname = \"shop\"\n# my edit\n";
    std::fs::write(t.path().join("arcane.toml"), edited).unwrap();
    std::fs::write(t.path().join("config/envs/staging.env"), "MINE=1\n").unwrap();
    std::fs::remove_file(t.path().join("config/envs/production.env")).unwrap();
    let before: Vec<String> = FILES[..4]
        .iter()
        .map(|f| std::fs::read_to_string(t.path().join(f)).unwrap())
        .collect();
    arcane(t.path(), &["init", "--name", "other"])
        .code(0)
        .stderr(
            contains("skipped arcane.toml (exists, left unchanged)")
                .and(contains("created config/envs/production.env"))
                .and(contains("1 created, 0 updated, 5 skipped")),
        );
    let after: Vec<String> = FILES[..4]
        .iter()
        .map(|f| std::fs::read_to_string(t.path().join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    // No temp files left behind.
    let stray: Vec<_> = std::fs::read_dir(t.path().join("config/envs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".arcane-init"))
        .collect();
    assert!(stray.is_empty());
}

#[test]
fn init_appends_only_missing_gitignore_lines() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join(".gitignore"), "/target\n.env\n").unwrap();
    arcane(t.path(), &["init"])
        .code(0)
        .stderr(contains("updated .gitignore"));
    let gi = std::fs::read_to_string(t.path().join(".gitignore")).unwrap();
    assert!(gi.starts_with("/target\n.env\n"), "{gi}");
    assert_eq!(gi.matches(".env\n").count(), 1, "{gi}");
    assert!(gi.contains(".env.local\n"));
}

#[test]
fn init_rejects_an_invalid_name() {
    let t = tempfile::tempdir().unwrap();
    arcane(t.path(), &["init", "--name", "My App"])
        .code(2)
        .stderr(contains("not a valid app name").and(contains("--name my-app")));
    assert!(!t.path().join("arcane.toml").exists());
}

#[test]
fn init_with_project_dir_creates_it() {
    let t = tempfile::tempdir().unwrap();
    arcane(t.path(), &["--project", "sub/app", "init"]).code(0);
    assert!(t.path().join("sub/app/arcane.toml").is_file());
    arcane(t.path(), &["--project", "sub/app", "config", "check"]).code(0);
}

#[test]
fn init_json_reports_each_file() {
    let t = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["init", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let init = lines
        .iter()
        .find(|v| v["event"] == "init")
        .expect("an init report");
    let created: Vec<&str> = init["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["action"] == "created")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(created, FILES.to_vec());
}
