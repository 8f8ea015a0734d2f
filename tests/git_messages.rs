//! Commit messages from a model, through `arcane git commit`: a local HTTP
//! server stands in for Ollama / an OpenAI-compatible endpoint (a fake:
//! no real model runs here) and records exactly what it receives.

#[path = "common/gitfix.rs"]
mod gitfix;

use gitfix::Fixture;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy)]
enum Mode {
    Reply,
    Error,
    Slow,
}

/// What the fake received: (request line and headers, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A one-thread HTTP server answering like Ollama's `/api/chat` or an
/// OpenAI-compatible `/chat/completions`.
fn fake_model(mode: Mode) -> (String, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            s2.lock().unwrap().push((head.clone(), body));
            let reply = match mode {
                Mode::Slow => {
                    std::thread::sleep(Duration::from_secs(3));
                    continue;
                }
                Mode::Error => {
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"
                        .to_string()
                }
                Mode::Reply => {
                    let content = "feat(app): greet the user from the fake model\n\nSays hello.";
                    let json = if head.starts_with("POST /chat/completions") {
                        serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
                    } else {
                        serde_json::json!({"message": {"role": "assistant", "content": content}, "done": true})
                    }
                    .to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                        json.len()
                    )
                }
            };
            let _ = c.write_all(reply.as_bytes());
        }
    });
    (url, seen)
}

/// A project whose staged changes hold a normal edit, an env file change,
/// a secret being removed and a compose file quoting an env value.
fn staged_fixture(provider: &str, url: &str, timeout: &str) -> Fixture {
    let f = Fixture::project();
    f.write("src/leak.rs", "const K: &str = \"AKIAQ3EGRFZWNLVJ7XKD\";\n");
    f.git_ok(&["add", "-A"]);
    f.git_ok(&["commit", "-q", "--no-verify", "-m", "chore: old key"]);
    f.append_toml(&format!(
        "\n[git.messages]\nprovider = \"{provider}\"\nurl = \"{url}\"\nmodel = \"fake\"\ntimeout = {timeout}\n"
    ));
    if provider == "openai" {
        f.append_toml("api_key_env = \"ARCANE_TEST_MODEL_KEY\"\n");
    }
    f.ok(&[
        "env",
        "set",
        "DB_PASSWORD",
        "An0therS3cret!",
        "--env",
        "staging",
    ]);
    f.write("src/app.rs", "fn main() { println!(\"hello\"); }\n");
    f.write("src/leak.rs", "const K: &str = \"\";\n");
    f.write(
        "compose.yml",
        "services:\n  web:\n    command: run --as An0therS3cret!\n",
    );
    f.git_ok(&["add", "-A"]);
    f
}

fn json_events(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn fake_ollama_receives_only_redacted_input() {
    let (url, seen) = fake_model(Mode::Reply);
    let f = staged_fixture("ollama", &url, "5");
    let out = f.ok(&["--json", "git", "commit", "--dry-run"]);
    let ev = json_events(&out);
    let c = ev.iter().find(|e| e["event"] == "git_commit").unwrap();
    assert_eq!(c["generator"], "ollama:fake");
    assert_eq!(
        c["message"]["subject"],
        "feat(app): greet the user from the fake model"
    );
    assert!(c["commit"].is_null());

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (head, body) = &seen[0];
    assert!(head.starts_with("POST /api/chat"), "{head}");
    let req: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(req["model"], "fake");
    let prompt = req["messages"][1]["content"].as_str().unwrap();
    // Names and stats of everything; the diff of the ordinary file.
    assert!(prompt.contains("M src/app.rs (+1 -1)"), "{prompt}");
    assert!(
        prompt.contains("println!(\\\"hello\\\")") || prompt.contains("println!(\"hello\")"),
        "{prompt}"
    );
    assert!(
        prompt.contains("config/envs/staging.env")
            && prompt.contains("[diff withheld: encrypted env file]"),
        "{prompt}"
    );
    assert!(
        prompt.contains("src/leak.rs")
            && prompt.contains("[diff withheld: the secret scanner flags it]"),
        "{prompt}"
    );
    // No secret in any form: not the env values, not the removed key.
    for secret in [
        "An0therS3cret!",
        "Sup3rS3cretPw",
        "AKIAQ3EGRFZWNLVJ7XKD",
        "arcane:v1:",
    ] {
        assert!(!body.contains(secret), "{secret} was sent: {body}");
    }
    assert!(prompt.contains("run --as ***"), "{prompt}");
}

#[test]
fn fake_ollama_timeout_falls_back_to_the_deterministic_message() {
    let (url, _seen) = fake_model(Mode::Slow);
    let f = staged_fixture("ollama", &url, "0.5");
    let t = std::time::Instant::now();
    let out = f.ok(&["--json", "git", "commit", "--dry-run"]);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "the timeout bounds the wait"
    );
    let ev = json_events(&out);
    let c = ev.iter().find(|e| e["event"] == "git_commit").unwrap();
    assert_eq!(c["generator"], "fallback");
    assert_eq!(c["fallback_reason"], "ollama:fake: timed out");
    let subject = c["message"]["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("build:") || subject.contains(':'),
        "{subject}"
    );
}

#[test]
fn fake_ollama_error_falls_back_and_commits() {
    let (url, _seen) = fake_model(Mode::Error);
    let f = staged_fixture("ollama", &url, "5");
    let out = f.ok(&["--json", "git", "commit", "--no-edit"]);
    let ev = json_events(&out);
    let c = ev.iter().find(|e| e["event"] == "git_commit").unwrap();
    assert_eq!(c["generator"], "fallback");
    assert!(
        c["fallback_reason"].as_str().unwrap().contains("HTTP 500"),
        "{c}"
    );
    let sha = c["commit"].as_str().unwrap();
    assert_eq!(f.rev("HEAD").unwrap(), sha);
    assert_eq!(
        f.git_ok(&["log", "-1", "--format=%s"]),
        c["message"]["subject"].as_str().unwrap()
    );
    // The commit went through git: the env file is ciphertext in it.
    let stored = f.git_ok(&["show", "HEAD:config/envs/staging.env"]);
    assert!(!stored.contains("An0therS3cret!"), "{stored}");
}

#[test]
fn fake_openai_gets_the_key_from_the_named_variable_only() {
    let (url, seen) = fake_model(Mode::Reply);
    let mut f = staged_fixture("openai", &url, "5");
    // Without the variable: the fallback, saying why.
    let out = f.ok(&["--json", "git", "commit", "--dry-run"]);
    assert!(out.contains("ARCANE_TEST_MODEL_KEY is not set"), "{out}");
    assert!(seen.lock().unwrap().is_empty());
    f.extra_env.push((
        "ARCANE_TEST_MODEL_KEY".into(),
        "sk-test-fake-key-123".into(),
    ));
    let out = f.ok(&["--json", "git", "commit", "--dry-run"]);
    assert!(out.contains(r#""generator":"openai:fake""#), "{out}");
    assert!(!out.contains("sk-test-fake-key-123"));
    let seen = seen.lock().unwrap();
    let (head, _) = &seen[0];
    assert!(head.starts_with("POST /chat/completions"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer sk-test-fake-key-123"),
        "{head}"
    );
}

#[test]
fn nothing_staged_is_bad_input() {
    let f = Fixture::project();
    let o = f.arcane(&["git", "commit", "--no-edit"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing is staged"));
}

#[test]
fn a_bad_messages_config_names_the_line() {
    let f = Fixture::project();
    f.append_toml(
        "\n[git.messages]\nprovider = \"ollama\"\ntimeout = -1\napi_key_env = \"sk-live-oops\"\n",
    );
    let o = f.arcane(&["git", "commit", "--dry-run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("arcane.toml:") && err.contains("no model"),
        "{err}"
    );
    assert!(err.contains("timeout must be greater than 0"), "{err}");
    assert!(err.contains("is not an environment variable name"), "{err}");
}
