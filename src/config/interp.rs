//! `${VAR}` interpolation in env values, with docker compose v2's rules
//! (compose-go's `template` package): `$$` is a literal `$`; `$VAR` and
//! `${VAR}` take a value; `${VAR:-default}` when unset or empty,
//! `${VAR-default}` when unset; `${VAR:?message}` and `${VAR?message}` fail
//! with the message. Defaults and messages are interpolated themselves. Any
//! other `$` is an error, as in compose.
//!
//! `${server:NAME}` is not a variable: it is kept as written (and `$$`
//! before `{server:` stays `$$`), for the network step that resolves it at
//! deploy time to a server's tailnet name (`crate::network::refs`).
//!
//! What a name resolves to is the caller's business: arcane resolves against
//! the keys of the merged layers defined before the value (see
//! `config::layers`), never against the deployer's shell, so a deploy does not
//! depend on whose laptop ran it.

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpError {
    /// Byte offset of the offending `$` in the template.
    pub offset: usize,
    pub message: String,
}

/// The start of a reference to another server (see the module docs).
const SERVER_REF: &str = "{server:";

fn name_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.is_empty() || !(b[0].is_ascii_alphabetic() || b[0] == b'_') {
        return 0;
    }
    1 + b[1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count()
}

/// The index of the `}` closing the `${` at `start` (nested `${` counted).
fn closing_brace(t: &str, start: usize) -> Option<usize> {
    let b = t.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i] == b'}' {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i);
            }
        } else if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

/// Expand `t`. `lookup` gives a name's value (`None`: undefined); names that
/// were looked up and undefined are pushed to `missing` (they expand to "").
pub fn expand(
    t: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<String>,
) -> Result<String, InterpError> {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len());
    let mut i = 0;
    let invalid = |offset: usize| {
        InterpError {
        offset,
        message: "a `$` must start $VAR, ${VAR}, ${VAR:-default} or ${VAR:?message}; write `$$` for a literal $".into(),
    }
    };
    while i < b.len() {
        let Some(rel) = t[i..].find('$') else {
            out.push_str(&t[i..]);
            break;
        };
        out.push_str(&t[i..i + rel]);
        i += rel;
        match b.get(i + 1) {
            Some(b'$') if t[i + 2..].starts_with(SERVER_REF) => {
                // The network step's own escape: left for it to undo.
                out.push_str("$$");
                i += 2;
            }
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let close = closing_brace(t, i).ok_or_else(|| InterpError {
                    offset: i,
                    message: "`${` is never closed with `}`".into(),
                })?;
                let inner = &t[i + 2..close];
                if inner.starts_with(&SERVER_REF[1..]) {
                    out.push_str(&t[i..=close]);
                    i = close + 1;
                    continue;
                }
                let n = name_len(inner);
                if n == 0 {
                    return Err(invalid(i));
                }
                let name = &inner[..n];
                let rest = &inner[n..];
                let nested = |s: &str, missing: &mut Vec<String>| {
                    expand(s, lookup, missing).map_err(|e| InterpError {
                        offset: i,
                        message: e.message,
                    })
                };
                let get = |missing: &mut Vec<String>| {
                    let v = lookup(name);
                    if v.is_none() {
                        missing.push(name.to_string());
                    }
                    v
                };
                let value = if rest.is_empty() {
                    get(missing).unwrap_or_default()
                } else if let Some(d) = rest.strip_prefix(":-") {
                    let d = nested(d, missing)?;
                    match lookup(name) {
                        Some(v) if !v.is_empty() => v,
                        _ => d,
                    }
                } else if let Some(d) = rest.strip_prefix('-') {
                    let d = nested(d, missing)?;
                    lookup(name).unwrap_or(d)
                } else if let Some((m, nonempty)) = rest
                    .strip_prefix(":?")
                    .map(|m| (m, true))
                    .or_else(|| rest.strip_prefix('?').map(|m| (m, false)))
                {
                    let m = nested(m, missing)?;
                    match lookup(name) {
                        Some(v) if !nonempty || !v.is_empty() => v,
                        _ => {
                            return Err(InterpError {
                                offset: i,
                                message: format!(
                                    "required variable {name} is missing a value: {m}"
                                ),
                            })
                        }
                    }
                } else {
                    return Err(invalid(i));
                };
                out.push_str(&value);
                i = close + 1;
            }
            _ => {
                let n = name_len(&t[i + 1..]);
                if n == 0 {
                    return Err(invalid(i));
                }
                let name = &t[i + 1..i + 1 + n];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => missing.push(name.to_string()),
                }
                i += 1 + n;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod server_ref_tests {
    use super::*;

    #[test]
    fn server_references_pass_through_for_the_network_step() {
        let look = |n: &str| (n == "A").then(|| "a".to_string());
        let x = |t: &str| expand(t, &look, &mut vec![]).unwrap();
        assert_eq!(x("${server:db1}:5432"), "${server:db1}:5432");
        assert_eq!(x("$${server:db1}"), "$${server:db1}");
        assert_eq!(x("${A}-${server:db1}"), "a-${server:db1}");
        assert_eq!(x("$${A}"), "${A}");
        assert!(check("${server:db1}").is_ok());
    }
}

/// Syntax only: would `t` expand if every name had a non-empty value?
pub fn check(t: &str) -> Result<(), InterpError> {
    expand(t, &|_| Some("x".to_string()), &mut vec![]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(t: &str) -> Result<(String, Vec<String>), String> {
        let vars: HashMap<&str, &str> = [("TEST_VAR", "Test Value"), ("EMPTY_VAR", "")].into();
        let mut missing = vec![];
        expand(t, &|k| vars.get(k).map(|v| v.to_string()), &mut missing)
            .map(|v| (v, missing))
            .map_err(|e| e.message)
    }

    /// Cases from compose-go's template and dotenv var-expansion tests.
    #[test]
    fn compose_template_cases() {
        let ok: &[(&str, &str)] = &[
            ("$TEST_VAR", "Test Value"),
            ("${TEST_VAR}bar", "Test Valuebar"),
            ("${UNSET_VAR:-Default Value}", "Default Value"),
            ("${EMPTY_VAR:-Default Value}", "Default Value"),
            ("${TEST_VAR:-Default Value}", "Test Value"),
            ("${UNSET_VAR-Default Value}", "Default Value"),
            ("${EMPTY_VAR-Default Value}", ""),
            ("${TEST_VAR-Default Value}", "Test Value"),
            ("${TEST_VAR:?Default Value}", "Test Value"),
            ("${EMPTY_VAR?Test error}", ""),
            ("$$TEST_VAR", "$TEST_VAR"),
            ("a$$b$$", "a$b$"),
            ("${UNSET_VAR:-${TEST_VAR}}", "Test Value"),
            ("${UNSET_VAR:-x}${TEST_VAR}", "xTest Value"),
            ("pre-$TEST_VAR.post", "pre-Test Value.post"),
            ("ünï $TEST_VAR", "ünï Test Value"),
        ];
        for (t, want) in ok {
            assert_eq!(run(t).map(|r| r.0).as_deref(), Ok(*want), "{t}");
        }
        assert_eq!(run("$FOO").unwrap(), (String::new(), vec!["FOO".into()]));
        for (t, msg) in [
            (
                "${UNSET_VAR:?Test error}",
                "UNSET_VAR is missing a value: Test error",
            ),
            (
                "${EMPTY_VAR:?Test error}",
                "EMPTY_VAR is missing a value: Test error",
            ),
            ("${UNSET_VAR?Test error}", "UNSET_VAR is missing a value"),
            ("price$", "write `$$`"),
            ("$1", "write `$$`"),
            ("${", "never closed"),
            ("${}", "write `$$`"),
            ("${A B}", "write `$$`"),
            ("${A:+x}", "write `$$`"),
        ] {
            let e = run(t).unwrap_err();
            assert!(e.contains(msg), "{t}: {e}");
        }
    }
}
