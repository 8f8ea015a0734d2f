//! Webhook authentication and push parsing, as pure functions.
//!
//! GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`
//! with the hook's secret; GitLab sends the hook's secret token as is in
//! `X-Gitlab-Token`. Both are compared in constant time (HMAC's
//! `verify_slice`; hashes of the tokens compared with `subtle`), before the
//! body is parsed at all.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Github,
    Gitlab,
    Poll,
}

impl Source {
    pub fn word(self) -> &'static str {
        match self {
            Source::Github => "github",
            Source::Gitlab => "gitlab",
            Source::Poll => "poll",
        }
    }
}

/// A push to a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub branch: String,
    pub sha: String,
    /// Every URL the payload gives for the repository, normalized.
    pub repos: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Push(Push),
    /// GitHub's hello when a hook is created.
    Ping,
    /// Authentic, but nothing to build; the reason goes in the log.
    Ignore(String),
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn verify_github(secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `sha256=<hex>` for `body`, as GitHub computes it (for tests and tools).
pub fn sign_github(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether GitLab's `X-Gitlab-Token` is `token`. Hashes are compared, so
/// neither the content nor the length of the token leaks through timing.
pub fn verify_gitlab(token: &str, header: Option<&str>) -> bool {
    let Some(h) = header else { return false };
    let a = Sha256::digest(token.as_bytes());
    let b = Sha256::digest(h.as_bytes());
    bool::from(a.ct_eq(&b)) && !token.is_empty()
}

fn is_zero_sha(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b'0')
}

pub fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The branch of a `refs/heads/...` ref, or why there is none.
fn branch_of(r: &str) -> Result<String, String> {
    if let Some(b) = r.strip_prefix("refs/heads/") {
        return Ok(b.to_string());
    }
    if r.starts_with("refs/tags/") {
        return Err(format!("{r} is a tag"));
    }
    Err(format!("{r} is not a branch"))
}

fn push_of(r: &str, after: &str, repos: Vec<Option<&str>>) -> Parsed {
    let branch = match branch_of(r) {
        Ok(b) => b,
        Err(why) => return Parsed::Ignore(why),
    };
    if is_zero_sha(after) {
        return Parsed::Ignore(format!("branch {branch} was deleted"));
    }
    if !is_sha(after) {
        return Parsed::Ignore(format!("push to {branch} has no commit sha"));
    }
    let mut repos: Vec<String> = repos.into_iter().flatten().map(normalize_repo).collect();
    repos.sort();
    repos.dedup();
    Parsed::Push(Push {
        branch,
        sha: after.to_ascii_lowercase(),
        repos,
    })
}

fn json(body: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))
}

/// A GitHub delivery: `event` is `X-GitHub-Event`.
pub fn parse_github(event: Option<&str>, body: &[u8]) -> Result<Parsed, String> {
    match event {
        Some("push") => {}
        Some("ping") => return Ok(Parsed::Ping),
        Some(other) => return Ok(Parsed::Ignore(format!("a {other:?} event, not a push"))),
        None => return Ok(Parsed::Ignore("no X-GitHub-Event header".into())),
    }
    let v = json(body)?;
    let repo = &v["repository"];
    if v["deleted"].as_bool() == Some(true) {
        let b = v["ref"].as_str().unwrap_or("?");
        return Ok(Parsed::Ignore(format!("{b} was deleted")));
    }
    Ok(push_of(
        v["ref"].as_str().unwrap_or(""),
        v["after"].as_str().unwrap_or(""),
        ["clone_url", "ssh_url", "git_url", "html_url", "svn_url"]
            .iter()
            .map(|k| repo[*k].as_str())
            .collect(),
    ))
}

/// A GitLab delivery: `event` is `X-Gitlab-Event`.
pub fn parse_gitlab(event: Option<&str>, body: &[u8]) -> Result<Parsed, String> {
    match event {
        Some("Push Hook") => {}
        Some(other) => return Ok(Parsed::Ignore(format!("a {other:?} event, not a push"))),
        None => return Ok(Parsed::Ignore("no X-Gitlab-Event header".into())),
    }
    let v = json(body)?;
    if v["object_kind"].as_str() != Some("push") {
        return Ok(Parsed::Ignore(format!(
            "object_kind {:?}, not a push",
            v["object_kind"].as_str().unwrap_or("")
        )));
    }
    let (p, r) = (&v["project"], &v["repository"]);
    Ok(push_of(
        v["ref"].as_str().unwrap_or(""),
        v["after"].as_str().unwrap_or(""),
        vec![
            p["git_ssh_url"].as_str(),
            p["git_http_url"].as_str(),
            p["web_url"].as_str(),
            r["git_ssh_url"].as_str(),
            r["git_http_url"].as_str(),
            r["homepage"].as_str(),
        ],
    ))
}

/// A repository URL as `host/path` (or a path), lowercase, without
/// scheme, user, `.git` and trailing slashes, so the SSH and HTTPS URLs of
/// one repository compare equal.
pub fn normalize_repo(url: &str) -> String {
    let u = url.trim();
    let u = u.strip_prefix("file://").unwrap_or(u);
    let u = match u.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        // scp-like `git@host:org/app.git`
        None if !u.starts_with('/') && u.contains(':') => u.replacen(':', "/", 1),
        None => u.to_string(),
    };
    let u = match u.split_once('/') {
        Some((auth, path)) if auth.contains('@') => {
            format!(
                "{}/{path}",
                auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth)
            )
        }
        _ => u,
    };
    // A port in the host (`host:22/org/app`) names the same repository.
    let u = match u.split_once('/') {
        Some((host, path)) if host.contains(':') && !host.is_empty() => {
            format!("{}/{path}", host.split(':').next().unwrap_or(host))
        }
        _ => u,
    };
    u.trim_end_matches('/')
        .trim_end_matches(".git")
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signatures() {
        let body = br#"{"a":1}"#;
        let sig = sign_github("It's a Secret to Everybody", body);
        assert!(verify_github(
            "It's a Secret to Everybody",
            body,
            Some(&sig)
        ));
        assert!(!verify_github("wrong", body, Some(&sig)));
        assert!(!verify_github(
            "It's a Secret to Everybody",
            b"{}",
            Some(&sig)
        ));
        assert!(!verify_github("It's a Secret to Everybody", body, None));
        assert!(!verify_github("x", body, Some("sha1=abc")));
        assert!(!verify_github("x", body, Some("sha256=zz")));
    }

    #[test]
    fn github_docs_example_signature() {
        // The worked example in GitHub's "Validating webhook deliveries".
        assert_eq!(
            sign_github("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn gitlab_tokens() {
        assert!(verify_gitlab("tok", Some("tok")));
        assert!(!verify_gitlab("tok", Some("tok2")));
        assert!(!verify_gitlab("tok", None));
        assert!(!verify_gitlab("", Some("")));
    }

    #[test]
    fn repository_urls_normalize_to_one_name() {
        let want = "github.com/acme/hello";
        for u in [
            "git@github.com:acme/hello.git",
            "https://github.com/Acme/Hello.git",
            "ssh://git@github.com:22/acme/hello.git",
            "git://github.com/acme/hello.git",
            "https://github.com/acme/hello/",
        ] {
            assert_eq!(normalize_repo(u), want, "{u}");
        }
        assert_eq!(normalize_repo("/srv/git/hello.git"), "/srv/git/hello");
        assert_eq!(
            normalize_repo("file:///srv/git/hello.git"),
            "/srv/git/hello"
        );
    }

    #[test]
    fn pushes_tags_deletions_and_other_events() {
        let push = br#"{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"clone_url":"https://github.com/a/b.git","ssh_url":"git@github.com:a/b.git"}}"#;
        match parse_github(Some("push"), push).unwrap() {
            Parsed::Push(p) => {
                assert_eq!(p.branch, "main");
                assert_eq!(p.repos, vec!["github.com/a/b"]);
            }
            other => panic!("{other:?}"),
        }
        let tag = br#"{"ref":"refs/tags/v1","after":"0123456789abcdef0123456789abcdef01234567"}"#;
        assert!(
            matches!(parse_github(Some("push"), tag).unwrap(), Parsed::Ignore(w) if w.contains("tag"))
        );
        let del = br#"{"ref":"refs/heads/x","after":"0000000000000000000000000000000000000000","deleted":true}"#;
        assert!(
            matches!(parse_github(Some("push"), del).unwrap(), Parsed::Ignore(w) if w.contains("deleted"))
        );
        assert_eq!(parse_github(Some("ping"), b"{}").unwrap(), Parsed::Ping);
        assert!(matches!(
            parse_github(Some("issues"), b"{}").unwrap(),
            Parsed::Ignore(_)
        ));
        assert!(parse_github(Some("push"), b"not json").is_err());
        assert!(matches!(
            parse_gitlab(Some("Tag Push Hook"), b"{}").unwrap(),
            Parsed::Ignore(_)
        ));
    }
}
