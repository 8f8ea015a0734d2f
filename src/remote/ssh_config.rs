//! A small `~/.ssh/config` reader: enough for `host = "alias"` in
//! servers.toml to mean what it means to `ssh alias`.
//!
//! Honoured: `Host` patterns (`*`, `?`, `!negation`), `HostName` (with `%h`),
//! `User`, `Port`, `IdentityFile` (several; `~`, `%d`, `%u`, `%h`, `%r`),
//! `ProxyJump` (first hop), `UserKnownHostsFile`, `IdentitiesOnly` and plain
//! `Include`. As in OpenSSH, the first value obtained for an option wins.
//! `Match` blocks are skipped (except `Match all`): evaluating them needs
//! information (exec, canonical names) we do not have.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub proxy_jump: Option<String>,
    pub user_known_hosts: Vec<PathBuf>,
    pub identities_only: bool,
}

struct Block {
    patterns: Option<Vec<String>>, // None: `Match` we cannot evaluate
    options: Vec<(String, Vec<String>)>,
}

/// Resolve `alias` from config text. `home` expands `~` and `%d`;
/// `local_user` is `%u`; `read_include` loads included files (tests pass a
/// closure; the real one reads from disk).
pub fn resolve(
    text: &str,
    alias: &str,
    home: &Path,
    local_user: &str,
    read_include: &dyn Fn(&Path) -> Option<String>,
) -> HostConfig {
    let mut blocks = vec![];
    parse_into(text, home, read_include, &mut blocks, 0);
    let mut hc = HostConfig::default();
    let mut identities_raw: Vec<String> = vec![];
    let mut known_raw: Option<Vec<String>> = None;
    for b in &blocks {
        let applies = match &b.patterns {
            None => false,
            Some(p) => host_matches(p, alias),
        };
        if !applies {
            continue;
        }
        for (k, v) in &b.options {
            let first = v.first().cloned().unwrap_or_default();
            match k.as_str() {
                "hostname" if hc.hostname.is_none() => hc.hostname = Some(first),
                "user" if hc.user.is_none() => hc.user = Some(first),
                "port" if hc.port.is_none() => hc.port = first.parse().ok(),
                "identityfile" => identities_raw.push(first),
                "proxyjump" if hc.proxy_jump.is_none() => {
                    if !first.eq_ignore_ascii_case("none") {
                        // Several hops are comma-separated; we take the first
                        // (see docs/remote.md for the limit).
                        hc.proxy_jump = first.split(',').next().map(str::to_string);
                    } else {
                        hc.proxy_jump = Some(String::new());
                    }
                }
                "userknownhostsfile" if known_raw.is_none() => known_raw = Some(v.clone()),
                "identitiesonly" => hc.identities_only |= first.eq_ignore_ascii_case("yes"),
                _ => {}
            }
        }
    }
    if hc.proxy_jump.as_deref() == Some("") {
        hc.proxy_jump = None;
    }
    let host = hc.hostname.clone().unwrap_or_else(|| alias.to_string());
    let host = host.replace("%h", alias);
    let remote_user = hc.user.clone().unwrap_or_else(|| local_user.to_string());
    let expand = |s: &str| -> PathBuf {
        let s = s
            .replace("%d", &home.to_string_lossy())
            .replace("%u", local_user)
            .replace("%r", &remote_user)
            .replace("%h", &host)
            .replace("%%", "%");
        expand_tilde(&s, home)
    };
    hc.hostname = Some(host.clone());
    hc.identity_files = identities_raw.iter().map(|s| expand(s)).collect();
    hc.user_known_hosts = known_raw
        .unwrap_or_default()
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("none"))
        .map(|s| expand(s))
        .collect();
    hc
}

pub fn expand_tilde(s: &str, home: &Path) -> PathBuf {
    if s == "~" {
        home.to_path_buf()
    } else if let Some(rest) = s.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(s)
    }
}

fn parse_into(
    text: &str,
    home: &Path,
    read_include: &dyn Fn(&Path) -> Option<String>,
    blocks: &mut Vec<Block>,
    depth: usize,
) {
    if blocks.is_empty() {
        // Options before the first Host apply to every host.
        blocks.push(Block {
            patterns: Some(vec!["*".into()]),
            options: vec![],
        });
    }
    for raw in text.lines() {
        let Some((key, args)) = split_line(raw) else {
            continue;
        };
        match key.as_str() {
            "host" => blocks.push(Block {
                patterns: Some(args),
                options: vec![],
            }),
            "match" => {
                let all = args.len() == 1 && args[0].eq_ignore_ascii_case("all");
                blocks.push(Block {
                    patterns: if all { Some(vec!["*".into()]) } else { None },
                    options: vec![],
                })
            }
            "include" if depth < 8 => {
                for a in args {
                    let p = expand_tilde(&a, home);
                    let p = if p.is_absolute() {
                        p
                    } else {
                        home.join(".ssh").join(p)
                    };
                    if let Some(t) = read_include(&p) {
                        parse_into(&t, home, read_include, blocks, depth + 1);
                    }
                }
            }
            _ => {
                if let Some(b) = blocks.last_mut() {
                    b.options.push((key, args));
                }
            }
        }
    }
}

/// `Key value`, `Key=value`, `Key "quoted value"`; comments and blanks skipped.
fn split_line(raw: &str) -> Option<(String, Vec<String>)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let key = line[..end].to_ascii_lowercase();
    let mut rest = line[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    let mut args = vec![];
    let mut cur = String::new();
    let mut in_quote = false;
    let mut has = false;
    for c in rest.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                has = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if has {
                    args.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
    }
    if has {
        args.push(cur);
    }
    Some((key, args))
}

fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut any = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(p, host) {
            any = true;
        }
    }
    any
}

/// `*` and `?` globbing, case-insensitive like OpenSSH host patterns.
fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.to_lowercase().chars().collect();
    let s: Vec<char> = s.to_lowercase().chars().collect();
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_include(_: &Path) -> Option<String> {
        None
    }

    #[test]
    fn aliases_resolve_with_first_value_winning() {
        let cfg = r#"
# global
IdentityFile ~/.ssh/global_key

Host web1 web2
    HostName 10.77.0.%h
    User deploy
    Port=2222
    IdentityFile "~/.ssh/id web"

Host web*
    User ignored
    Port 22
    IdentityFile %d/.ssh/%r@%h

Host * !bastion
    ProxyJump bastion,other

Match host web1 exec "true"
    User matched
"#;
        let home = Path::new("/home/me");
        let h = resolve(cfg, "web1", home, "me", &no_include);
        assert_eq!(h.hostname.as_deref(), Some("10.77.0.web1"));
        assert_eq!(h.user.as_deref(), Some("deploy"));
        assert_eq!(h.port, Some(2222));
        assert_eq!(
            h.identity_files,
            vec![
                PathBuf::from("/home/me/.ssh/global_key"),
                PathBuf::from("/home/me/.ssh/id web"),
                PathBuf::from("/home/me/.ssh/deploy@10.77.0.web1"),
            ]
        );
        assert_eq!(h.proxy_jump.as_deref(), Some("bastion"));
        let b = resolve(cfg, "bastion", home, "me", &no_include);
        assert_eq!(b.hostname.as_deref(), Some("bastion"));
        assert_eq!((b.user, b.port, b.proxy_jump), (None, None, None));
    }

    #[test]
    fn includes_and_known_hosts_files() {
        let cfg = "Include conf.d/extra\nHost x\n  UserKnownHostsFile ~/kh1 /etc/kh2\n";
        let inc = |p: &Path| {
            (p == Path::new("/h/.ssh/conf.d/extra")).then(|| "Host x\n HostName 1.2.3.4\n".into())
        };
        let h = resolve(cfg, "x", Path::new("/h"), "u", &inc);
        assert_eq!(h.hostname.as_deref(), Some("1.2.3.4"));
        assert_eq!(
            h.user_known_hosts,
            vec![PathBuf::from("/h/kh1"), PathBuf::from("/etc/kh2")]
        );
    }

    #[test]
    fn globbing() {
        assert!(glob("*.example.com", "a.EXAMPLE.com"));
        assert!(glob("web?", "web1"));
        assert!(!glob("web?", "web10"));
        assert!(host_matches(&["*".into(), "!db*".into()], "web"));
        assert!(!host_matches(&["*".into(), "!db*".into()], "db1"));
    }
}
