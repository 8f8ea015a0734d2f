//! Detection rules for the leak scanner.
//!
//! Hand-written matchers rather than a regex engine: every rule is a literal
//! prefix (found with a substring search) followed by a character class and a
//! length range, which is both faster than a regex set and easy to audit. The
//! generic rule looks for `name = value` assignments whose name suggests a
//! secret and whose value is long and random enough (Shannon entropy), after
//! dropping obvious placeholders and references.

/// One match in a line (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: &'static str,
    pub start: usize,
    pub end: usize,
}

/// Rule ids and what they find (for `--help`-like listings and docs).
pub const RULES: &[(&str, &str)] = &[
    ("aws-access-key-id", "AWS access key id (AKIA/ASIA...)"),
    (
        "aws-secret-access-key",
        "AWS secret access key in an assignment",
    ),
    (
        "github-token",
        "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
    ),
    (
        "gitlab-token",
        "GitLab token (glpat-, gldt-, glrt-, glptt-)",
    ),
    (
        "slack-token",
        "Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-)",
    ),
    ("slack-webhook", "Slack incoming webhook URL"),
    (
        "stripe-secret-key",
        "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_)",
    ),
    ("google-api-key", "Google API key (AIza...)"),
    (
        "google-oauth-secret",
        "Google OAuth client secret (GOCSPX-)",
    ),
    ("private-key", "PEM or OpenSSH private key block"),
    ("jwt", "JSON Web Token"),
    ("age-secret-key", "age secret key (AGE-SECRET-KEY-1...)"),
    ("npm-token", "npm access token (npm_)"),
    (
        "url-credentials",
        "password embedded in a URL (scheme://user:pass@host)",
    ),
    (
        "generic-secret",
        "high-entropy value assigned to a secret-looking name",
    ),
];

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}
fn upper_digit(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}
fn alnum_under(c: u8) -> bool {
    alnum(c) || c == b'_'
}
fn alnum_dash_under(c: u8) -> bool {
    alnum(c) || c == b'_' || c == b'-'
}
fn bech32(c: u8) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

struct PrefixRule {
    id: &'static str,
    prefixes: &'static [&'static str],
    class: fn(u8) -> bool,
    min: usize,
    max: usize,
}

const PREFIX_RULES: &[PrefixRule] = &[
    PrefixRule {
        id: "aws-access-key-id",
        prefixes: &[
            "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA",
        ],
        class: upper_digit,
        min: 16,
        max: 16,
    },
    PrefixRule {
        id: "github-token",
        prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        class: alnum,
        min: 36,
        max: 255,
    },
    PrefixRule {
        id: "github-token",
        prefixes: &["github_pat_"],
        class: alnum_under,
        min: 59,
        max: 255,
    },
    PrefixRule {
        id: "gitlab-token",
        prefixes: &["glpat-", "gldt-", "glrt-", "glptt-"],
        class: alnum_dash_under,
        min: 20,
        max: 64,
    },
    PrefixRule {
        id: "slack-token",
        prefixes: &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"],
        class: alnum_dash_under,
        min: 10,
        max: 255,
    },
    PrefixRule {
        id: "stripe-secret-key",
        prefixes: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        class: alnum,
        min: 20,
        max: 255,
    },
    PrefixRule {
        id: "google-api-key",
        prefixes: &["AIza"],
        class: alnum_dash_under,
        min: 35,
        max: 35,
    },
    PrefixRule {
        id: "google-oauth-secret",
        prefixes: &["GOCSPX-"],
        class: alnum_dash_under,
        min: 28,
        max: 28,
    },
    PrefixRule {
        id: "age-secret-key",
        prefixes: &["AGE-SECRET-KEY-1"],
        class: bech32,
        min: 58,
        max: 58,
    },
    PrefixRule {
        id: "npm-token",
        prefixes: &["npm_"],
        class: alnum,
        min: 36,
        max: 36,
    },
];

/// All hits in one line, sorted by position, overlapping hits dropped.
pub fn scan_line(line: &str) -> Vec<Hit> {
    let b = line.as_bytes();
    let mut hits = vec![];
    for r in PREFIX_RULES {
        for p in r.prefixes {
            for (i, _) in line.match_indices(p) {
                if i > 0 && alnum(b[i - 1]) {
                    continue;
                }
                let body = i + p.len();
                let n = b[body..]
                    .iter()
                    .take(r.max + 1)
                    .take_while(|c| (r.class)(**c))
                    .count();
                if n >= r.min && n <= r.max {
                    let tok = &line[body..body + n];
                    if !looks_placeholder(tok) {
                        hits.push(Hit {
                            rule: r.id,
                            start: i,
                            end: body + n,
                        });
                    }
                }
            }
        }
    }
    private_key(line, &mut hits);
    jwt(line, &mut hits);
    slack_webhook(line, &mut hits);
    url_credentials(line, &mut hits);
    generic(line, &mut hits);
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut out: Vec<Hit> = vec![];
    for h in hits {
        if out.last().is_some_and(|l| h.start < l.end) {
            continue;
        }
        out.push(h);
    }
    out
}

fn private_key(line: &str, hits: &mut Vec<Hit>) {
    for (i, _) in line.match_indices("-----BEGIN ") {
        let rest = &line[i + 11..];
        let Some(end) = rest.find("-----") else {
            continue;
        };
        let label = &rest[..end];
        if label.ends_with("PRIVATE KEY") || label == "PGP PRIVATE KEY BLOCK" {
            hits.push(Hit {
                rule: "private-key",
                start: i,
                end: i + 11 + end + 5,
            });
        }
    }
}

fn b64url(c: u8) -> bool {
    alnum(c) || c == b'-' || c == b'_'
}

fn jwt(line: &str, hits: &mut Vec<Hit>) {
    let b = line.as_bytes();
    for (i, _) in line.match_indices("eyJ") {
        if i > 0 && b64url(b[i - 1]) {
            continue;
        }
        let mut pos = i;
        let mut ok = true;
        for seg in 0..3 {
            let n = b[pos..].iter().take_while(|c| b64url(**c)).count();
            if n < 10 || (seg == 1 && !line[pos..].starts_with("eyJ")) {
                ok = false;
                break;
            }
            pos += n;
            if seg < 2 {
                if b.get(pos) != Some(&b'.') {
                    ok = false;
                    break;
                }
                pos += 1;
            }
        }
        if ok {
            hits.push(Hit {
                rule: "jwt",
                start: i,
                end: pos,
            });
        }
    }
}

fn slack_webhook(line: &str, hits: &mut Vec<Hit>) {
    for (i, m) in line.match_indices("hooks.slack.com/services/T") {
        let b = line.as_bytes();
        let n = b[i + m.len()..]
            .iter()
            .take_while(|c| alnum(**c) || **c == b'/')
            .count();
        if n >= 20 {
            hits.push(Hit {
                rule: "slack-webhook",
                start: i,
                end: i + m.len() + n,
            });
        }
    }
}

fn url_credentials(line: &str, hits: &mut Vec<Hit>) {
    let b = line.as_bytes();
    for (i, _) in line.match_indices("://") {
        let rest = &line[i + 3..];
        let auth_end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .unwrap_or(rest.len());
        let auth = &rest[..auth_end];
        let Some(at) = auth.rfind('@') else { continue };
        let Some((_user, pass)) = auth[..at].split_once(':') else {
            continue;
        };
        // scheme must be letters right before "://"
        if i == 0 || !b[i - 1].is_ascii_alphabetic() {
            continue;
        }
        if pass.len() < 6 || looks_placeholder(pass) || entropy(pass) < 2.5 {
            continue;
        }
        let start = i + 3 + auth[..at].find(':').unwrap() + 1;
        hits.push(Hit {
            rule: "url-credentials",
            start,
            end: start + pass.len(),
        });
    }
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "credential",
    "auth",
    "signing_key",
    "encryption_key",
    "client_secret",
    "passphrase",
    "session_key",
    "master_key",
    "dsn",
];
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "_id",
    "id",
    "_url",
    "_uri",
    "_file",
    "_path",
    "_name",
    "_length",
    "_len",
    "_size",
    "_type",
    "_env",
    "_header",
    "_field",
    "_prefix",
    "_at",
    "_ttl",
    "_expiry",
    "_timeout",
    "_count",
    "_enabled",
    "_mode",
    "_method",
    "_endpoint",
    "_host",
    "_user",
    "_username",
    "_format",
];

fn secretish_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if NOT_SECRET_SUFFIXES.iter().any(|s| n.ends_with(s)) && !n.ends_with("secret_id") {
        return false;
    }
    if n.contains("public") || n.contains("publishable") || n.starts_with("no_") {
        return false;
    }
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// Placeholders, references and templates are not secrets.
pub fn looks_placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "example",
        "changeme",
        "change_me",
        "change-me",
        "placeholder",
        "your_",
        "your-",
        "yourtoken",
        "dummy",
        "xxxx",
        "redacted",
        "todo",
        "fixme",
        "replace",
        "insert",
        "sample",
        "fake",
        "notreal",
        "secret_here",
        "token_here",
        "<",
        "${",
        "{{",
        "%(",
        "$(",
        "****",
        "....",
        "0000000000",
        "1234567890",
        "abcdefgh",
    ];
    if WORDS.iter().any(|w| l.contains(w)) {
        return true;
    }
    let first = v.chars().next();
    v.chars().all(|c| Some(c) == first)
}

/// Does the value look like code rather than a literal (a reference to a
/// variable, a call, an env lookup)?
fn looks_like_code(v: &str) -> bool {
    v.contains('(')
        || v.starts_with('$')
        || v.starts_with('@')
        || v.starts_with("process.env")
        || v.starts_with("os.environ")
        || v.starts_with("ENV[")
        || v.starts_with("env(")
        || v.starts_with("settings.")
        || v.starts_with("config.")
        || v.starts_with("self.")
        || v.starts_with("this.")
        || (v.contains('.')
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !v.chars().any(|c| c.is_ascii_digit()))
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.'
}

/// `name = value`, `name: value`, `"name": "value"`, `name := value`, `name => value`.
fn generic(line: &str, hits: &mut Vec<Hit>) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c != b'=' && c != b':' {
            i += 1;
            continue;
        }
        let sep_start = i;
        // Skip ==, !=, <=, >=, ::, :// and arrows that are not assignments.
        let prev = if i > 0 { b[i - 1] } else { b' ' };
        let next = b.get(i + 1).copied().unwrap_or(b' ');
        if (c == b'=' && (next == b'=' || matches!(prev, b'=' | b'!' | b'<' | b'>')))
            || (c == b':' && (next == b':' || next == b'/' || prev == b':'))
        {
            i += 2;
            continue;
        }
        let mut j = i + 1;
        if (c == b':' && next == b'=') || (c == b'=' && next == b'>') {
            j += 1;
        }
        // Name to the left: skip spaces and a closing quote.
        let mut k = sep_start;
        while k > 0 && b[k - 1] == b' ' {
            k -= 1;
        }
        if k > 0 && (b[k - 1] == b'"' || b[k - 1] == b'\'') {
            k -= 1;
        }
        let name_end = k;
        while k > 0 && ident_char(b[k - 1]) {
            k -= 1;
        }
        let name = &line[k..name_end];
        // Value to the right.
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let (vs, ve) = if j < b.len() && (b[j] == b'"' || b[j] == b'\'' || b[j] == b'`') {
            let q = b[j];
            let end = b[j + 1..]
                .iter()
                .position(|x| *x == q)
                .map(|p| j + 1 + p)
                .unwrap_or(b.len());
            (j + 1, end)
        } else {
            let end = b[j..]
                .iter()
                .position(|x| {
                    x.is_ascii_whitespace() || matches!(x, b',' | b';' | b')' | b'}' | b']' | b'#')
                })
                .map(|p| j + p)
                .unwrap_or(b.len());
            (j, end)
        };
        i = sep_start + 1;
        if name.is_empty() || !secretish_name(name) || vs >= ve {
            continue;
        }
        let value = &line[vs..ve];
        if value.starts_with(super::format::VALUE_PREFIX)
            || looks_placeholder(value)
            || looks_like_code(value)
        {
            continue;
        }
        let len = value.chars().count();
        let h = entropy(value);
        let is_hex = value.chars().all(|c| c.is_ascii_hexdigit());
        let aws_secret = name.to_ascii_lowercase().contains("aws") && len == 40 && h >= 4.0;
        let ok = if is_hex {
            len >= 16 && h >= 3.0
        } else {
            (len >= 8 && h >= 3.0 && has_mixed_classes(value)) || (len >= 20 && h >= 3.5)
        };
        if ok || aws_secret {
            hits.push(Hit {
                rule: if aws_secret {
                    "aws-secret-access-key"
                } else {
                    "generic-secret"
                },
                start: vs,
                end: ve,
            });
        }
    }
}

/// At least two of: lowercase, uppercase, digit, symbol (real passwords and
/// keys mix classes; English words and identifiers mostly do not).
fn has_mixed_classes(v: &str) -> bool {
    let classes = [
        v.chars().any(|c| c.is_ascii_lowercase()),
        v.chars().any(|c| c.is_ascii_uppercase()),
        v.chars().any(|c| c.is_ascii_digit()),
        v.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|x| **x).count() >= 3
        || (classes[2] && classes.iter().filter(|x| **x).count() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(line: &str) -> Vec<&'static str> {
        scan_line(line).into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn provider_tokens() {
        assert_eq!(rules("key = AKIAQ3EGRFZWNLVJ7XKD"), ["aws-access-key-id"]);
        assert_eq!(
            rules("t: ghp_4bT2sJ9qLx0VwZr8mNc1YpKe6HdA3uFgQiRo"),
            ["github-token"]
        );
        assert_eq!(rules("GITLAB=glpat-Xk3vR9sT2mQ7wLp1Zb8N"), ["gitlab-token"]);
        assert_eq!(
            rules("-----BEGIN OPENSSH PRIVATE KEY-----"),
            ["private-key"]
        );
        assert!(rules("-----BEGIN PUBLIC KEY-----").is_empty());
        assert_eq!(
            rules("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.Xq3b9Zk2LmN8pR4sT6vW1yA"),
            ["jwt"]
        );
        assert_eq!(
            rules("DATABASE_URL=postgres://app:Zx9kQ2mT7vLp@db:5432/app"),
            ["url-credentials"]
        );
    }

    #[test]
    fn generic_assignments_with_entropy() {
        assert_eq!(rules("DB_PASSWORD=Tr0ub4dor&3xK9"), ["generic-secret"]);
        assert_eq!(
            rules(r#""api_key": "9f8e7d6c5b4a39281706f5e4d3c2b1a0""#),
            ["generic-secret"]
        );
        assert!(rules("password = changeme").is_empty());
        assert!(rules("password = os.environ.get('DB_PASSWORD')").is_empty());
        assert!(rules("token_url = https://example.org/token").is_empty());
        assert!(rules("SECRET_KEY_LENGTH=32").is_empty());
        assert!(rules("if password == other_password:").is_empty());
        assert!(rules("API_KEY=arcane:v1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo").is_empty());
    }
}
