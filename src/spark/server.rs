//! The HTTP side: `POST /hooks/github`, `POST /hooks/gitlab`,
//! `GET /healthz`, and with a status token `GET /status` and
//! `GET /jobs/{id}/log`.
//!
//! Order of checks: the body limit (413), the signature or token (401,
//! nothing queued, nothing parsed), the event (202 ignored when it is not
//! a push), the delivery ID (a replay is answered 200 and does nothing),
//! the repository and branch (202 ignored when no app maps them), then the
//! push is on disk in the journal before the 202 that says it is queued.
//! No header value, secret or URL goes into Spark's log; delivery IDs are
//! cut to a safe alphabet first.

use super::config::SparkFile;
use super::job::JobRunner;
use super::queue::{Accepted, NewPush, Queue};
use super::secrets::MachineEnv;
use super::webhook::{self, Parsed, Source};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::sync::Arc;

pub struct Srv {
    pub file: Arc<SparkFile>,
    pub queue: Arc<Queue>,
    pub env: MachineEnv,
}

pub fn router(srv: Arc<Srv>) -> Router {
    let limit = srv.file.spark.max_body;
    Router::new()
        .route("/hooks/github", post(github))
        .route("/hooks/gitlab", post(gitlab))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/status", get(status))
        .route("/jobs/{id}/log", get(job_log))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(srv)
}

fn reply(code: StatusCode, v: serde_json::Value) -> Response {
    let mut body = v.to_string();
    body.push('\n');
    (code, [("content-type", "application/json")], body).into_response()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A delivery ID fit for the journal and the log, or none.
fn delivery_id(h: &HeaderMap, names: &[&str]) -> Option<String> {
    let v = names.iter().find_map(|n| header(h, n))?.trim();
    let ok = !v.is_empty()
        && v.len() <= 100
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| v.to_string())
}

/// The apps whose secret authenticates this delivery.
fn authenticated(srv: &Srv, source: Source, check: impl Fn(&str) -> bool) -> Vec<String> {
    let mut by_secret: Vec<(String, Vec<String>)> = vec![];
    for app in srv.file.spark.apps.keys() {
        let name = match source {
            Source::Github => srv.file.spark.github_secret_for(app),
            _ => srv.file.spark.gitlab_token_for(app),
        };
        let Some(value) = name.and_then(|n| srv.env.get(n)) else {
            continue;
        };
        match by_secret.iter_mut().find(|(v, _)| *v == value) {
            Some((_, apps)) => apps.push(app.clone()),
            None => by_secret.push((value, vec![app.clone()])),
        }
    }
    // Every candidate secret is checked (constant time each).
    let mut out = vec![];
    for (secret, apps) in by_secret {
        if check(&secret) {
            out.extend(apps);
        }
    }
    out
}

async fn github(State(srv): State<Arc<Srv>>, h: HeaderMap, body: Bytes) -> Response {
    let sig = header(&h, "x-hub-signature-256").map(str::to_string);
    let apps = authenticated(&srv, Source::Github, |s| {
        webhook::verify_github(s, &body, sig.as_deref())
    });
    let id = delivery_id(&h, &["x-github-delivery"]);
    if apps.is_empty() {
        return refused(Source::Github, id.as_deref());
    }
    let parsed = webhook::parse_github(header(&h, "x-github-event"), &body);
    accept(srv, Source::Github, apps, id, parsed).await
}

async fn gitlab(State(srv): State<Arc<Srv>>, h: HeaderMap, body: Bytes) -> Response {
    let token = header(&h, "x-gitlab-token").map(str::to_string);
    let apps = authenticated(&srv, Source::Gitlab, |s| {
        webhook::verify_gitlab(s, token.as_deref())
    });
    let id = delivery_id(&h, &["x-gitlab-event-uuid", "idempotency-key"]);
    if apps.is_empty() {
        return refused(Source::Gitlab, id.as_deref());
    }
    let parsed = webhook::parse_gitlab(header(&h, "x-gitlab-event"), &body);
    accept(srv, Source::Gitlab, apps, id, parsed).await
}

fn refused(source: Source, id: Option<&str>) -> Response {
    super::say(&format!(
        "refused a {} delivery {}: bad or missing signature",
        source.word(),
        id.unwrap_or("(no id)")
    ));
    reply(
        StatusCode::UNAUTHORIZED,
        json!({"error": "bad or missing signature"}),
    )
}

async fn accept(
    srv: Arc<Srv>,
    source: Source,
    apps: Vec<String>,
    id: Option<String>,
    parsed: Result<Parsed, String>,
) -> Response {
    let what = format!(
        "{} delivery {}",
        source.word(),
        id.as_deref().unwrap_or("(no id)")
    );
    let push = match parsed {
        Err(e) => {
            super::say(&format!("{what}: refused: {e}"));
            return reply(StatusCode::BAD_REQUEST, json!({"error": e}));
        }
        Ok(Parsed::Ping) => {
            super::say(&format!("{what}: ping"));
            return reply(StatusCode::OK, json!({"status": "pong"}));
        }
        Ok(Parsed::Ignore(why)) => {
            super::say(&format!("{what}: ignored: {why}"));
            return reply(
                StatusCode::ACCEPTED,
                json!({"status": "ignored", "reason": why}),
            );
        }
        Ok(Parsed::Push(p)) => p,
    };
    let mut targets = vec![];
    let mut repo_known = false;
    for name in &apps {
        let app = &srv.file.spark.apps[name];
        if !push.repos.contains(&webhook::normalize_repo(&app.repo)) {
            continue;
        }
        repo_known = true;
        if let Some(env) = app.env_of(&push.branch) {
            targets.push(NewPush {
                app: name.clone(),
                env: env.to_string(),
                branch: push.branch.clone(),
                sha: push.sha.clone(),
                source,
                delivery: id.as_ref().map(|d| format!("{}:{d}:{name}", source.word())),
            });
        }
    }
    if targets.is_empty() {
        let why = if repo_known {
            format!("branch {} maps to no env", push.branch)
        } else {
            "no app in the Spark config has this repository".to_string()
        };
        super::say(&format!("{what}: ignored: {why}"));
        return reply(
            StatusCode::ACCEPTED,
            json!({"status": "ignored", "reason": why}),
        );
    }
    let queue = srv.queue.clone();
    let results = tokio::task::spawn_blocking(move || {
        targets
            .into_iter()
            .map(|t| {
                let r = queue.push(t.clone());
                (t, r)
            })
            .collect::<Vec<_>>()
    })
    .await;
    let Ok(results) = results else {
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "queue failed"}),
        );
    };
    let mut queued = vec![];
    let mut dup = 0;
    for (t, r) in &results {
        match r {
            Ok(Accepted::Queued) => {
                super::say(&format!(
                    "{what}: queued {} {} ({}) → {}",
                    t.app, t.sha, t.branch, t.env
                ));
                queued.push(json!({"app": t.app, "env": t.env, "sha": t.sha}));
            }
            Ok(Accepted::Duplicate) => dup += 1,
            Ok(Accepted::AlreadyThere) => {
                super::say(&format!(
                    "{what}: {} {} is already queued or live",
                    t.app, t.sha
                ));
            }
            Err(e) => {
                super::say(&format!("{what}: the journal cannot be written: {e}"));
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "the queue cannot be written; retry later"}),
                );
            }
        }
    }
    if !queued.is_empty() {
        reply(
            StatusCode::ACCEPTED,
            json!({"status": "queued", "queued": queued}),
        )
    } else if dup == results.len() {
        super::say(&format!("{what}: a replay, ignored"));
        reply(
            StatusCode::OK,
            json!({"status": "duplicate delivery, ignored"}),
        )
    } else {
        reply(StatusCode::OK, json!({"status": "already queued or live"}))
    }
}

/// Whether the request carries the status token; 404 when none is set up.
fn authorized(srv: &Srv, h: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = srv
        .file
        .spark
        .status_token_env
        .as_deref()
        .and_then(|n| srv.env.get(n))
    else {
        return Err(Box::new(StatusCode::NOT_FOUND.into_response()));
    };
    let given = header(h, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    if webhook::verify_gitlab(&token, given) {
        Ok(())
    } else {
        Err(Box::new(reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "a status token is needed"}),
        )))
    }
}

async fn status(State(srv): State<Arc<Srv>>, h: HeaderMap) -> Response {
    if let Err(r) = authorized(&srv, &h) {
        return *r;
    }
    let dir = srv.file.spark.state_dir.clone();
    let rep = srv
        .queue
        .with_state(|s| super::status::report(s, &dir, true, 50));
    reply(
        StatusCode::OK,
        serde_json::to_value(rep).unwrap_or_default(),
    )
}

async fn job_log(State(srv): State<Arc<Srv>>, h: HeaderMap, UrlPath(id): UrlPath<u64>) -> Response {
    if let Err(r) = authorized(&srv, &h) {
        return *r;
    }
    let path = JobRunner::job_dir(&srv.file.spark.state_dir, id).join("log");
    match tokio::fs::read(&path).await {
        Ok(b) => ([("content-type", "text/plain; charset=utf-8")], b).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
