//! `arcane config check` through the real binary: every bad input names its
//! file and line, says what to do, and exits 2; a good project exits 0.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use std::path::Path;
use tempfile::TempDir;

const ARCANE: &str =
    "[app]\nname = \"demo\"\n\n[envs.staging]\n\n[envs.production]\nprotected = true\n";
const SERVERS: &str = "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n\n[servers.web1]\nhost = \"10.77.0.2\"\nenv = \"production\"\n";

/// A valid project, with `overrides` (path, text) written on top.
fn project(overrides: &[(&str, &str)]) -> TempDir {
    let t = tempfile::tempdir().unwrap();
    let mut files = vec![
        ("arcane.toml", ARCANE),
        ("config/servers.toml", SERVERS),
        ("config/envs/base.env", "A=1\n"),
        ("config/envs/staging.env", "B=2\n"),
        ("config/envs/production.env", "B=3\n"),
        ("Dockerfile", "FROM busybox:stable\n"),
    ];
    files.extend_from_slice(overrides);
    for (p, text) in files {
        let path = t.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    t
}

fn check(dir: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(dir)
        .args(["config", "check"])
        .env("NO_COLOR", "1")
        .assert()
}

#[test]
fn valid_project_is_ok() {
    let t = project(&[]);
    check(t.path())
        .success()
        .code(0)
        .stderr(contains("OK").and(contains("3 env files")));
}

#[test]
fn the_repos_own_example_configs_are_ok() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    check(root).code(0).stderr(contains("OK"));
    check(&root.join("examples/hello"))
        .code(0)
        .stderr(contains("OK"));
}

#[test]
fn malformed_toml_shows_the_line() {
    let t = project(&[("arcane.toml", "[app]\nname = \"demo\n")]);
    check(t.path())
        .code(2)
        .stderr(contains("arcane.toml:2:").and(contains("1 problem")));
}

/// Regression (issue 16): an unterminated string gave "arcane.toml:2:12:
/// invalid basic string", pointing past the end of the value, with no help.
#[test]
fn an_unterminated_toml_string_points_at_its_opening_quote_with_a_help_line() {
    let t = project(&[("arcane.toml", "[app]\nname = \"demo\n\n[envs.staging]\n")]);
    check(t.path()).code(2).stderr(
        contains(
            "arcane.toml:2:8: unterminated string: the \" that opens it is not closed on this line",
        )
        .and(contains("help: end the string with \" on the same line"))
        .and(contains("1 problem")),
    );
    let t = project(&[(
        "config/servers.toml",
        "[servers.local]\nhost = \"local\"\nenv = 'staging\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("servers.toml:3:7: unterminated string: the ' that opens it")
            .and(contains("help: end the string with ' on the same line")),
    );
    // Every command that loads the project says the same.
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .arg("status")
        .assert()
        .code(2)
        .stderr(contains("servers.toml:3:7: unterminated string"));
}

/// The other common TOML slips get a location where the mistake is and a
/// help line, too (one per kind; the wording is unit-tested in
/// src/config/syntax/tests.rs).
#[test]
fn toml_syntax_errors_say_what_to_do() {
    let cases = [
        (
            "[app\nname = \"demo\"\n",
            "arcane.toml:1:1: table header `[app` is missing its closing `]`",
            "help: write `[app]`",
        ),
        (
            "[app]\nname = \"demo\"\nname = \"x\"\n",
            "arcane.toml:3:1: duplicate key `name` in [app]: it is already set on line 2",
            "help: keep only one `name`",
        ),
        (
            "[app]\nname = demo\n",
            "arcane.toml:2:8: `demo` is not a valid value",
            "help: quote text: name = \"demo\"",
        ),
        (
            "[app]\nname = \"demo\"\n[deploy]\nhosts = [\"a\", \"b\"\n\n[envs.staging]\n",
            "arcane.toml:4:9: this array is not closed",
            "help: close it with `]`",
        ),
        (
            "[app]\nname = \"demo\"\n[build]\ndockerfile = \"C:\\ops\\Dockerfile\"\n",
            "arcane.toml:4:17: invalid escape `\\o`",
            "'single-quoted' string",
        ),
    ];
    for (text, message, help) in cases {
        check(project(&[("arcane.toml", text)]).path())
            .code(2)
            .stderr(contains(message).and(contains(help)));
    }
}

#[test]
fn unknown_key_suggests_the_closest_valid_key() {
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n\n[helth]\npath = \"/up\"\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:4:2: unknown field `helth`").and(contains("did you mean `health`?")),
    );
}

#[test]
fn every_unknown_key_is_reported_in_one_run() {
    let t = project(&[(
        "arcane.toml",
        "[app]\nnmae = \"x\"\nname = \"demo\"\n\n[deploy]\nstrategy = \"rolling\"\nkeep = 3\n\n[bulid]\ncontext = \".\"\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:2:1: unknown field `nmae`")
            .and(contains("did you mean `name`?"))
            .and(contains("arcane.toml:7:1: unknown field `keep`"))
            .and(contains("did you mean `keep_releases`?"))
            .and(contains("arcane.toml:9:2: unknown field `bulid`"))
            .and(contains("3 problems")),
    );
}

#[test]
fn unknown_enum_value_suggests_a_valid_one() {
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n[deploy]\nstrategy = \"rollin\"\n",
    )]);
    check(t.path())
        .code(2)
        .stderr(contains("arcane.toml:4:12").and(contains("did you mean `rolling`?")));
}

#[test]
fn wrong_type_shows_the_line() {
    let t = project(&[(
        "config/servers.toml",
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\nport = \"twenty-two\"\n",
    )]);
    check(t.path()).code(2).stderr(contains(
        "servers.toml:4:8: invalid type: string \"twenty-two\", expected u16",
    ));
}

#[test]
fn bad_ports_are_rejected_with_their_line() {
    let t = project(&[(
        "config/servers.toml",
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\nport = 0\n",
    )]);
    check(t.path()).code(2).stderr(contains(
        "servers.toml:4:1: server \"local\": port cannot be 0",
    ));
    let t = project(&[(
        "config/servers.toml",
        "[servers.local]\nhost = \"local\"\nenv = \"staging\"\nport = 70000\n",
    )]);
    check(t.path())
        .code(2)
        .stderr(contains("servers.toml:4:8").and(contains("1 to 65535")));
}

#[test]
fn unknown_group_member_points_at_the_member() {
    let t = project(&[(
        "config/servers.toml",
        &format!("{SERVERS}\n[groups.web]\nservers = [\"web1\", \"web9\"]\n"),
    )]);
    check(t.path()).code(2).stderr(
        contains("servers.toml:10:20: group \"web\" names unknown server \"web9\"")
            .and(contains("did you mean \"web1\"?")),
    );
}

#[test]
fn server_env_must_be_declared() {
    let t = project(&[(
        "config/servers.toml",
        "[servers.local]\nhost = \"local\"\nenv = \"stagin\"\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("servers.toml:3:1: server \"local\" has env \"stagin\", which is not declared")
            .and(contains("did you mean \"staging\"?")),
    );
}

#[test]
fn duplicate_names_are_rejected() {
    let t = project(&[(
        "config/servers.toml",
        &format!("{SERVERS}\n[groups.web1]\nservers = [\"web1\", \"web1\"]\n"),
    )]);
    check(t.path()).code(2).stderr(
        contains("servers.toml:9:9: group \"web1\" has the same name as a server").and(contains(
            "servers.toml:10:20: group \"web1\" lists server \"web1\" twice",
        )),
    );
    // TOML itself refuses a server defined twice.
    let t = project(&[(
        "config/servers.toml",
        &format!("{SERVERS}\n[servers.local]\nhost = \"local\"\nenv = \"staging\"\n"),
    )]);
    check(t.path())
        .code(2)
        .stderr(contains("servers.toml:9:").and(contains("duplicate")));
}

#[test]
fn empty_target_selection_is_an_error() {
    let t = project(&[(
        "config/servers.toml",
        &format!(
            "{SERVERS}\n[groups.none]\nservers = []\n\n[groups.prod]\nservers = [\"local\"]\nenv = \"production\"\n"
        ),
    )]);
    check(t.path()).code(2).stderr(
        contains("servers.toml:10:1: group \"none\" selects no servers")
            .and(contains(
                "servers.toml:14:1: group \"prod\" selects no servers: none of its servers is in env \"production\"",
            )),
    );
}

#[test]
fn env_syntax_error_shows_the_line() {
    let t = project(&[(
        "config/envs/staging.env",
        "# comment\nGOOD=1\nPASSWORD=\"unterminated\nNEXT=2\n",
    )]);
    check(t.path()).code(2).stderr(contains(
        "config/envs/staging.env:3:10: unterminated double-quoted value for PASSWORD",
    ));
    let t = project(&[("config/envs/base.env", "A=1\nJUST_A_KEY\n")]);
    check(t.path())
        .code(2)
        .stderr(contains("config/envs/base.env:2:1: no '='"));
}

#[test]
fn missing_env_file_for_a_declared_env() {
    let t = project(&[]);
    std::fs::remove_file(t.path().join("config/envs/production.env")).unwrap();
    check(t.path()).code(2).stderr(
        contains("config/envs/production.env: env file for env \"production\" is missing")
            .and(contains("touch config/envs/production.env")),
    );
}

#[test]
fn stray_env_files_are_reported() {
    let t = project(&[
        ("config/envs/prodution.env", "A=1\n"),
        ("config/envs/staging.web1.env", "A=1\n"),
    ]);
    check(t.path()).code(2).stderr(
        contains("prodution.env belongs to no declared env")
            .and(contains("did you mean production?"))
            .and(contains("rename it to production.web1.env")),
    );
}

#[test]
fn problems_in_every_file_are_reported_together() {
    let t = project(&[
        ("arcane.toml", "[app]\nname = \"Not Valid\"\n"),
        (
            "config/servers.toml",
            "[servers.local]\nhost = \"local\"\nenv = \"qa\"\n",
        ),
        ("config/envs/staging.env", "1BAD=x\n"),
    ]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:2:1: [app] name \"Not Valid\" is not a valid name")
            .and(contains(
                "servers.toml:3:1: server \"local\" has env \"qa\"",
            ))
            .and(contains("staging.env:1:1: invalid key name \"1BAD\""))
            .and(contains("3 problems")),
    );
}

#[test]
fn json_lists_problems_in_a_config_check_event() {
    let t = project(&[("config/envs/staging.env", "NOPE\n")]);
    let out = Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["config", "check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(report["event"], "config_check");
    let first = &report["problems"][0];
    assert_eq!(first["file"], "config/envs/staging.env");
    assert_eq!(first["line"], 1);
    assert_eq!(first["severity"], "error");
}

#[test]
fn no_project_is_an_input_error() {
    let t = tempfile::tempdir().unwrap();
    check(t.path())
        .code(2)
        .stderr(contains("no arcane.toml found").and(contains("arcane init")));
}

fn arcane_in(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .assert()
}

/// Regression (issue 16): the error named `<tmp>/arcane.toml`, a file that
/// does not exist, as if arcane had found it broken.
#[test]
fn a_missing_project_names_the_directory_not_a_file_that_does_not_exist() {
    let t = tempfile::tempdir().unwrap();
    let sub = t.path().join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    let out = arcane_in(&sub, &["status"]).code(2);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!(
            "error: {}: no arcane.toml found in this directory or any parent directory",
            sub.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: run `arcane init` here") && stderr.contains("--project DIR"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&format!("{}/arcane.toml", sub.display())),
        "{stderr}"
    );

    // --project naming a directory without arcane.toml, relative or absolute.
    for arg in ["deep", &t.path().join("deep").display().to_string()] {
        let out = arcane_in(t.path(), &["--project", arg, "status"]).code(2);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(
            stderr.contains("deep: no arcane.toml in this directory (given by --project)")
                && stderr.contains("help: pass --project the directory that holds arcane.toml")
                && !stderr.contains("deep/arcane.toml"),
            "{stderr}"
        );
    }
    // ...and a directory that does not exist.
    arcane_in(t.path(), &["--project", "nope", "releases"])
        .code(2)
        .stderr(contains("nope: no such directory (given by --project)"));
    // --json carries the same message in its error event.
    arcane_in(&sub, &["--json", "status"])
        .code(2)
        .stdout(contains("\"exit_code\":2").and(contains("no arcane.toml found")));
}

#[test]
fn a_negative_service_grace_and_an_unknown_service_key_are_located() {
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n\n[health.services.worker]\ngrace = -1\n\n[health.services.web]\ngrce = 2\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:8:1: unknown field `grce`").and(contains("did you mean `grace`?")),
    );
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n\n[health.services.worker]\ngrace = -1\n",
    )]);
    check(t.path())
        .code(2)
        .stderr(contains("arcane.toml:5:1").and(contains(
            "[health.services.worker] grace cannot be negative",
        )));
    // inf is valid TOML; as a duration it would panic mid-deploy.
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n\n[health]\ninterval = inf\ngrace = 1e9\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:5:1: [health] interval must be greater than 0 and at most 3600").and(
            contains("arcane.toml:6:1: [health] grace cannot be negative or more than 3600"),
        ),
    );
}

#[test]
fn a_volume_name_with_a_placeholder_typo_is_located() {
    let t = project(&[(
        "arcane.toml",
        "[app]\nname = \"demo\"\n\n[accessories.db]\nimage = \"postgres:16\"\nvolumes = [\"pg-{env}:/d\", \"pg-{evn}:/d\", \"/srv/x:/y\"]\n",
    )]);
    check(t.path()).code(2).stderr(
        contains("arcane.toml:6:")
            .and(contains("\"pg-{evn}\" is not a valid volume name"))
            .and(contains("1 problem")),
    );
}

/// Files whose meaning changed with the compose-compatible parser, and names
/// no layer defines, are warnings with file:line; a failing `${VAR:?}` is an
/// error. Values are never printed.
#[test]
fn interpolation_changes_and_undefined_names_are_reported() {
    let t = project(&[
        (
            "config/envs/base.env",
            "HOST=db\nPASS=pa$word-Secret\nURL=postgres://${HOST}/x\nT=a\t# tab\nE= # c\n",
        ),
        ("config/envs/staging.env", "B=${NOPE}\n"),
    ]);
    check(t.path()).code(0).stderr(
        contains("config/envs/base.env:2:1: the value of PASS changed meaning: `$` now starts an interpolation")
            .and(contains("base.env:3:1: the value of URL changed meaning"))
            .and(contains("base.env:4:1: the value of T changed meaning"))
            .and(contains("base.env:5:1: the value of E changed meaning"))
            .and(contains("base.env:2:1: PASS refers to $word, which no layer defines"))
            .and(contains("staging.env:1:1: B refers to $NOPE"))
            .and(contains("Secret").not()),
    );
    let t = project(&[(
        "config/envs/production.env",
        "B=${MUST:?set it in production.env}\n",
    )]);
    check(t.path())
        .code(2)
        .stderr(contains("production.env:1:1: B: required variable MUST is missing a value: set it in production.env"));
}

/// Regression (staging and production cannot share one server without
/// `[proxy]`): both publish the app port on the same host, so the second
/// deploy failed at cutover with "port is already allocated" although
/// `config check` and `--dry-run` passed. Both say so now; a per-env
/// `publish` fixes it.
#[test]
fn staging_and_production_sharing_a_server_without_a_proxy_clash_in_check_and_dry_run() {
    let shared = "[servers.local]\nhost = \"local\"\nenv = \"staging\"\n\n\
                  [servers.prodbox]\nhost = \"local\"\nenv = \"production\"\n";
    let t = project(&[("config/servers.toml", shared)]);
    check(t.path())
        .code(2)
        .stderr(contains("arcane.toml:4:"))
        .stderr(contains(
            "envs production and staging both publish port 8080 on host \"local\"",
        ))
        .stderr(contains("port is already allocated"))
        .stderr(contains("[envs.staging] publish = \"8081\""));
    Command::cargo_bin("arcane")
        .unwrap()
        .current_dir(t.path())
        .args(["deploy", "--dry-run", "--env", "staging"])
        .env("NO_COLOR", "1")
        .assert()
        .code(2)
        .stderr(contains("both publish port 8080"));

    let own_port = ARCANE.replace(
        "[envs.production]\n",
        "[envs.production]\npublish = \"127.0.0.1:8081\"\n",
    );
    let t = project(&[("config/servers.toml", shared), ("arcane.toml", &own_port)]);
    check(t.path()).code(0).stderr(contains("OK"));
}
