//! `arcane env show` through the real binary: merged keys with their layers.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use std::path::Path;
use tempfile::TempDir;

fn project(envs: &[(&str, &str)]) -> TempDir {
    let t = tempfile::tempdir().unwrap();
    let files = [
        ("arcane.toml", "[app]\nname = \"demo\"\n"),
        (
            "config/servers.toml",
            "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n\n[servers.web1]\nhost = \"10.77.0.2\"\nenv = \"production\"\n",
        ),
    ];
    for (p, text) in files.iter().chain(envs) {
        let path = t.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    t
}

fn arcane(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn standard() -> TempDir {
    project(&[
        ("config/envs/base.env", "# shared\nA=base\nB=base\n"),
        (
            "config/envs/staging.env",
            "B=\"staging value\"\nC=s3cret-staging\n",
        ),
        ("config/envs/staging.local.env", "A=local\n"),
        ("config/envs/production.env", "C=prod\n"),
    ])
}

/// The keys of the `env` report.
fn env_keys(out: &std::process::Output) -> Vec<serde_json::Value> {
    json_lines(out)
        .into_iter()
        .find(|v| v["event"] == "env")
        .map(|v| v["keys"].as_array().unwrap().clone())
        .unwrap_or_default()
}

#[test]
fn json_lists_merged_keys_with_layers_and_no_values() {
    let t = standard();
    let out = arcane(t.path(), &["env", "show", "--env", "staging", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let keys: Vec<(String, String)> = env_keys(&out)
        .into_iter()
        .map(|v| {
            assert!(v.get("value").is_none(), "value leaked: {v}");
            (
                v["key"].as_str().unwrap().to_string(),
                v["layer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("A", "base.env"),
        ("B", "staging.env"),
        ("C", "staging.env"),
    ]
    .iter()
    .map(|(k, l)| (k.to_string(), l.to_string()))
    .collect();
    assert_eq!(keys, want);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));
}

#[test]
fn reveal_adds_values_and_server_layer_applies() {
    let t = standard();
    let out = arcane(
        t.path(),
        &[
            "env", "show", "-e", "staging", "-s", "local", "--reveal", "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let got: Vec<(String, String, String)> = env_keys(&out)
        .into_iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap().into(),
                v["value"].as_str().unwrap().into(),
                v["layer"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("A".into(), "local".into(), "staging.local.env".into()),
            ("B".into(), "staging value".into(), "staging.env".into()),
            ("C".into(), "s3cret-staging".into(), "staging.env".into()),
        ]
    );
}

#[test]
fn human_output_masks_values() {
    let t = standard();
    let out = arcane(t.path(), &["env", "show", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("KEY  VALUE     LAYER\n"), "{stdout}");
    assert!(stdout.contains("C    ********  staging.env"), "{stdout}");
    assert!(!stdout.contains("s3cret"));
    let out = arcane(t.path(), &["env", "show", "--env", "staging", "--reveal"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("s3cret-staging"));
}

#[test]
fn unknown_env_is_exit_2_with_did_you_mean() {
    let t = standard();
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show", "--env", "prodution"])
        .assert()
        .code(2)
        .stderr(
            contains("unknown env \"prodution\"").and(contains("did you mean \"production\"?")),
        );
}

#[test]
fn server_of_another_env_is_refused() {
    let t = standard();
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show", "--env", "staging", "--server", "web1"])
        .assert()
        .code(2)
        .stderr(contains("belongs to env \"production\"").and(contains("--env production")));
}

#[test]
fn missing_env_file_for_the_selected_env() {
    let t = project(&[("config/envs/staging.env", "A=1\n")]);
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show", "--env", "production"])
        .assert()
        .code(2)
        .stderr(
            contains("config/envs/production.env: env file for env \"production\" is missing")
                .and(contains("touch config/envs/production.env")),
        );
    // base.env is optional.
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show", "--env", "staging"])
        .assert()
        .code(0);
}

#[test]
fn env_syntax_error_names_file_and_line() {
    let t = project(&[("config/envs/staging.env", "A=1\n\nB='open\n")]);
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show"])
        .assert()
        .code(2)
        .stderr(contains(
            "staging.env:3:3: unterminated single-quoted value for B",
        ));
}

#[test]
fn encrypted_file_without_access_says_how_to_get_it() {
    let t = project(&[("config/envs/staging.env", "# c\nA=arcane:v1:QUJDRA==\n")]);
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["env", "show", "--env", "staging"])
        .assert()
        .code(2)
        .stderr(
            contains("staging.env:2:1: A is encrypted")
                .and(contains("arcane setup"))
                .and(contains("QUJDRA").not()),
        );
}
