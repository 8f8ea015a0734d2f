//! The deploy lifecycle on real test servers (netns + own dockerd + own sshd
//! each, see docs/testing.md), over SSH, with the real binary.

mod common {
    pub mod argv_watch;
    pub mod testbed;
}
mod deploy_support;

use common::argv_watch::ArgvWatch;
use common::testbed::{testbed, testbed_exclusive, Testbed};
use deploy_support::*;
use std::time::Duration;

fn servers_toml(tb: &Testbed) -> String {
    std::fs::read_to_string(&tb.servers_toml).unwrap()
}

fn serves(tb: &Testbed, app: &App, server: &str) -> Option<String> {
    http_get_at(tb.ip(server), app.port, "/")
}

/// Remove the app's containers on the servers (the testbed outlives a test).
fn cleanup(tb: &Testbed, app: &App, servers: &[&str]) {
    for s in servers {
        tb.exec(
            s,
            &format!(
                "docker ps -aq --filter label=arcane.app={} | xargs -r docker rm -f >/dev/null 2>&1; rm -rf /root/.arcane/{}",
                app.name, app.name
            ),
        );
    }
}

#[test]
fn deploys_to_three_servers_sequentially_then_in_parallel() {
    let Some(tb) = testbed(3) else { return };
    let app = App::with_publish("tb3", "", &servers_toml(&tb), false);
    let servers = ["srv1", "srv2", "srv3"];
    let args = [
        "deploy", "--server", "srv1", "--server", "srv2", "--server", "srv3",
    ];
    let o = app.arcane(&args);
    assert!(o.status.success(), "{}", text(&o));
    for s in servers {
        assert_eq!(serves(&tb, &app, s).as_deref(), Some("v1"), "{s}");
    }
    app.commit_version("v2", true);
    let mut a = args.to_vec();
    a.push("--parallel");
    let o = app.arcane(&a);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for s in servers {
        assert_eq!(serves(&tb, &app, s).as_deref(), Some("v2"), "{s}");
        assert!(out.contains(s), "summary names {s}: {out}");
    }
    cleanup(&tb, &app, &servers);
}

#[test]
fn failing_health_check_rolls_back_on_a_server_and_v1_keeps_serving() {
    // Every test asks for 3: the binary shares one testbed, sized by whichever
    // test gets there first.
    let Some(tb) = testbed(3) else { return };
    let app = App::with_publish("tbh", "", &servers_toml(&tb), false);
    assert!(app.arcane(&["deploy", "--server", "srv1"]).status.success());
    app.commit_version("v2", false);
    let o = app.arcane(&["deploy", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("rolled back"), "{}", text(&o));
    assert_eq!(serves(&tb, &app, "srv1").as_deref(), Some("v1"));
    cleanup(&tb, &app, &["srv1"]);
}

#[test]
fn env_file_is_0600_and_no_secret_reaches_any_argv_on_the_server() {
    // Every test asks for 3: the binary shares one testbed, sized by whichever
    // test gets there first.
    let Some(tb) = testbed(3) else { return };
    let app = App::with_publish(
        "tbs",
        "[[hooks.pre_deploy]]\ncommand = \"test -n \\\"$SECRET_TOKEN\\\"\"\n",
        &servers_toml(&tb),
        false,
    );
    // Watch every process's argv (the server's included) while it deploys.
    let watch = ArgvWatch::start("s3cr3t-token-value");
    let o = app.arcane(&["-v", "deploy", "--server", "srv1"]);
    let (hits, _) = watch.finish();
    assert!(o.status.success(), "{}", text(&o));
    assert!(hits.is_empty(), "secret in a server argv: {hits:?}");
    assert!(!text(&o).contains("s3cr3t"), "command log is redacted");
    let o = tb.exec(
        "srv1",
        &format!(
            "stat -c %a /root/.arcane/{}/staging/releases/*/.env",
            app.name
        ),
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "600");
    cleanup(&tb, &app, &["srv1"]);
}

#[test]
fn a_server_cut_off_mid_rollout_is_reported_and_the_exit_code_is_non_zero() {
    let Some(tb) = testbed_exclusive(3) else {
        return;
    };
    let app = App::with_publish("tbc", "", &servers_toml(&tb), false);
    tb.cut("srv2");
    let o = app
        .cmd()
        .args([
            "deploy", "--server", "srv1", "--server", "srv2", "--server", "srv3",
        ])
        .output()
        .unwrap();
    tb.restore("srv2");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("srv2"), "{out}");
    assert_eq!(
        serves(&tb, &app, "srv1").as_deref(),
        Some("v1"),
        "srv1 done before the failure"
    );
    assert!(
        out.contains("skipped"),
        "srv3 is not started after srv2 failed: {out}"
    );
    cleanup(&tb, &app, &["srv1", "srv2", "srv3"]);
}

#[test]
fn concurrent_deploy_to_a_server_is_refused_naming_the_holder() {
    // Every test asks for 3: the binary shares one testbed, sized by whichever
    // test gets there first.
    let Some(tb) = testbed(3) else { return };
    let app = App::with_publish("tbl", "", &servers_toml(&tb), false);
    app.write(
        "arcane.toml",
        &std::fs::read_to_string(app.path().join("arcane.toml"))
            .unwrap()
            .replace("interval = 0.2", "interval = 0.2\ngrace = 6"),
    );
    app.commit("slow");
    let mut first = app
        .cmd()
        .args(["deploy", "--server", "srv1"])
        .spawn()
        .unwrap();
    let lock = format!("/root/.arcane/{}/staging/lock/holder.json", app.name);
    wait_for("first deploy to lock", Duration::from_secs(60), || {
        tb.exec("srv1", &format!("test -f {lock}")).status.success()
    });
    let o = app.arcane(&["deploy", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("holds the lock"), "{}", text(&o));
    assert!(first.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(100));
    cleanup(&tb, &app, &["srv1"]);
}
