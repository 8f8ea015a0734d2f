//! `[notify]` channels on a real `arcane deploy` to the local target.
//! Slack, Discord and the GitHub statuses API are outside services, so
//! local HTTP servers stand in for them (`fake_` in the test's name); one
//! more channel points where nothing listens, and must not fail the deploy.

mod common {
    pub mod fake_http;
}
mod deploy_support;

use common::fake_http::{down_url, FakeService, Request};
use deploy_support::*;
use std::time::{Duration, Instant};

fn channels(api: &str) -> String {
    format!(
        r#"
[notify.channels.team]
kind = "slack"
url_env = "TEST_SLACK_URL"

[notify.channels.ops]
kind = "discord"
url_env = "TEST_DISCORD_URL"
events = ["failed", "rolled_back"]

[notify.channels.audit]
kind = "webhook"
url_env = "TEST_DOWN_URL"

[notify.channels.gh]
kind = "github"
repo = "acme/hello"
token_env = "TEST_GITHUB_TOKEN"
api_url = "{api}"
target_url = "https://ci.example/{{app}}/{{sha}}"
"#
    )
}

fn has(r: &[Request], f: impl Fn(&serde_json::Value) -> bool) -> bool {
    r.iter().any(|r| f(&r.json()))
}

#[test]
fn fake_slack_discord_and_github_get_the_right_payloads_and_a_down_channel_fails_nothing() {
    let (slack, discord, github) = (
        FakeService::start(200),
        FakeService::start(204),
        FakeService::start(201),
    );
    let down = down_url();
    let app = App::local("nc", &channels(&github.url));
    let deploy = || {
        let t = Instant::now();
        let o = app
            .cmd()
            .env(
                "TEST_SLACK_URL",
                format!("{}/services/T000/B000/s3cr3tSlackPath", slack.url),
            )
            .env(
                "TEST_DISCORD_URL",
                format!("{}/api/webhooks/1/s3cr3tDiscordPath", discord.url),
            )
            .env("TEST_DOWN_URL", &down)
            .env("TEST_GITHUB_TOKEN", "ghp-fake-t0ken-4242")
            .args(["deploy"])
            .output()
            .unwrap();
        (o, t.elapsed())
    };

    let (o, took) = deploy();
    assert!(o.status.success(), "{}", text(&o));
    let sha = common_head(&app);
    let out = text(&o);
    // The down channel is one warning on stderr, its URL masked.
    assert!(out.contains("warning: notify webhook \"audit\""), "{out}");
    assert!(
        !out.contains("s3cr3t-hook-path") && !out.contains("s3cr3tSlackPath"),
        "{out}"
    );
    assert!(!out.contains("ghp-fake-t0ken"), "{out}");
    assert!(took < Duration::from_secs(90), "held up: {took:?}");

    let s = slack.wait_for("started and succeeded", Duration::from_secs(10), |r| {
        r.len() >= 2
    });
    assert_eq!(s[0].path, "/services/T000/B000/s3cr3tSlackPath");
    assert!(
        has(&s, |v| v["text"]
            == format!("{} deploy to staging started", app.name)),
        "{s:#?}"
    );
    assert!(
        has(&s, |v| v["text"] == format!("{} deployed", app.name)
            && v["attachments"][0]["color"] == "good"
            && v["attachments"][0]["text"]
                .as_str()
                .unwrap()
                .contains("is live on staging")),
        "{s:#?}"
    );
    let g = github.wait_for("pending and success", Duration::from_secs(10), |r| {
        r.len() >= 2
    });
    for r in &g {
        assert_eq!(r.path, format!("/repos/acme/hello/statuses/{sha}"));
        assert_eq!(
            r.header("authorization"),
            Some("Bearer ghp-fake-t0ken-4242")
        );
        assert_eq!(
            r.json()["target_url"],
            format!("https://ci.example/{}/{sha}", app.name)
        );
    }
    assert_eq!(g[0].json()["state"], "pending");
    assert_eq!(g[1].json()["state"], "success");
    // Discord only takes failures.
    std::thread::sleep(Duration::from_millis(300));
    assert!(discord.requests().is_empty(), "{:#?}", discord.requests());

    // A version that fails its health check: rolled back.
    app.commit_version("v2", false);
    let (o, _) = deploy();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v2 = common_head(&app);
    let d = discord.wait_for("the rollback", Duration::from_secs(10), |r| !r.is_empty());
    let embed = &d[0].json()["embeds"][0];
    assert_eq!(
        embed["title"],
        format!("{} deploy to staging FAILED", app.name)
    );
    assert_eq!(embed["color"], 0xECB22E);
    assert!(
        !d[0].body.contains("s3cr3t-token-value"),
        "an env value leaked"
    );
    let g = github.wait_for("the failure status", Duration::from_secs(10), |r| {
        r.iter()
            .any(|r| r.path.ends_with(&v2) && r.json()["state"] == "failure")
    });
    assert!(g
        .iter()
        .any(|r| r.path.ends_with(&v2) && r.json()["state"] == "pending"));
    assert_eq!(app.get().as_deref(), Some("v1"));
}

fn common_head(app: &App) -> String {
    let o = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(app.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
