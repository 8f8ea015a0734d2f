//! Env files (`config/envs/*.env`), parsed the way docker compose parses an
//! `env_file`, so a file that works with compose works with arcane and back.
//!
//! Supported: `KEY=value`, `export KEY=value`, full-line `#` comments, inline
//! ` # comments` after unquoted values, blank lines, single quotes (literal),
//! double quotes with `\n \t \r \" \\ \$` escapes, quoted values spanning
//! several lines, `KEY=` (empty). Unquoted values are trimmed.
//!
//! Deliberately NOT supported: `${VAR}` interpolation. Values are literal, so a
//! secret containing `$` never changes meaning between layers or tools (`\$` in
//! double quotes is accepted and means `$`). A bare `KEY` line (compose's "take
//! it from my shell") is an error: deploys must not depend on a laptop's shell.
//!
//! Every entry keeps the byte span of its value text so the secrets engine can
//! encrypt or edit values in place and keep comments, order and blank lines.

use super::servers::line_col;
use super::ConfigError;
use std::ops::Range;
use std::path::Path;

/// Values starting with this are ciphertext written by the secrets engine.
pub const ENCRYPTED_PREFIX: &str = "arcane:v1:";

/// How a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
}

/// One `KEY=value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    pub key: String,
    /// The value after unquoting and unescaping.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range of the value as written in the file: quotes included,
    /// surrounding whitespace and an inline comment excluded. For `KEY=` it is
    /// the empty range right after `=`. Replace this range with
    /// [`quote_value`] of a new value to rewrite one value in place.
    pub span: Range<usize>,
    pub quote: Quote,
    /// Written with a leading `export `.
    pub export: bool,
}

impl EnvEntry {
    pub fn is_encrypted(&self) -> bool {
        self.value.starts_with(ENCRYPTED_PREFIX)
    }
}

/// Keys start with a letter or `_`, then letters, digits, `_`, `.` or `-`
/// (compose accepts the last two; shells do not, so prefer `_`).
pub fn is_valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parse an env file. `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<EnvEntry>, ConfigError> {
    let b = text.as_bytes();
    let len = b.len();
    let err = |off: usize, msg: String| {
        let (l, c) = line_col(text, off);
        ConfigError::new(path, msg).at(l, c)
    };
    let eol_from = |i: usize| text[i..].find('\n').map_or(len, |p| i + p);
    let mut out = vec![];
    let mut i = if text.starts_with('\u{feff}') { 3 } else { 0 };
    while i < len {
        while i < len && (is_blank(b[i]) || b[i] == b'\r') {
            i += 1;
        }
        if i >= len {
            break;
        }
        if b[i] == b'\n' {
            i += 1;
            continue;
        }
        let eol = eol_from(i);
        if b[i] == b'#' {
            i = eol + 1;
            continue;
        }
        let line_text = &text[i..eol];
        let mut key_start = i;
        let mut export = false;
        if let Some(rest) = line_text.strip_prefix("export") {
            if rest.starts_with([' ', '\t']) {
                let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                key_start = i + "export".len() + skipped;
                export = true;
            }
        }
        let Some(eq_rel) = text[key_start..eol].find('=') else {
            return Err(err(
                i,
                format!(
                    "no '=' in {:?}: each line must be KEY=value, a # comment or blank",
                    line_text.trim_end()
                ),
            )
            .with_help("write `KEY=` for an empty value; quote values that span lines"));
        };
        let eq = key_start + eq_rel;
        let key = text[key_start..eq].trim_end_matches([' ', '\t']);
        if key.is_empty() {
            return Err(err(eq, "missing key name before '='".into()));
        }
        if !is_valid_key(key) {
            let bad = key
                .char_indices()
                .find(|&(n, c)| {
                    !(c.is_ascii_alphanumeric() || c == '_' || (n > 0 && (c == '.' || c == '-')))
                        || (n == 0 && c.is_ascii_digit())
                })
                .map_or(0, |(n, _)| n);
            return Err(err(
                key_start + bad,
                format!("invalid key name {key:?}"),
            )
            .with_help("keys start with a letter or '_' and contain only letters, digits, '_', '.' or '-'"));
        }
        let mut j = eq + 1;
        while j < eol && is_blank(b[j]) {
            j += 1;
        }
        let line = line_col(text, key_start).0;
        let key = key.to_string();
        if j < len && (b[j] == b'"' || b[j] == b'\'') {
            let (value, close) = if b[j] == b'\'' {
                match text[j + 1..].find('\'') {
                    Some(p) => (text[j + 1..j + 1 + p].to_string(), j + 1 + p),
                    None => {
                        return Err(
                            err(j, format!("unterminated single-quoted value for {key}"))
                                .with_help("add the closing ' (single quotes cannot contain ')"),
                        )
                    }
                }
            } else {
                parse_double(text, j).ok_or_else(|| {
                    err(j, format!("unterminated double-quoted value for {key}"))
                        .with_help("add the closing \" (write \\\" for a quote inside the value)")
                })?
            };
            // After the closing quote only blanks or a comment may follow.
            let after_eol = eol_from(close + 1);
            let mut k = close + 1;
            while k < after_eol && (is_blank(b[k]) || b[k] == b'\r') {
                k += 1;
            }
            if k < after_eol && b[k] != b'#' {
                return Err(err(
                    k,
                    format!("unexpected text after the closing quote of {key}"),
                )
                .with_help("put the whole value inside the quotes, or start a comment with ' #'"));
            }
            out.push(EnvEntry {
                key,
                value,
                line,
                span: j..close + 1,
                quote: if b[j] == b'\'' {
                    Quote::Single
                } else {
                    Quote::Double
                },
                export,
            });
            i = after_eol + 1;
        } else {
            // Unquoted: a '#' preceded by a blank starts a comment.
            let mut end = eol;
            let mut k = j;
            while k < eol {
                if b[k] == b'#' && k > eq + 1 && is_blank(b[k - 1]) {
                    end = k;
                    break;
                }
                k += 1;
            }
            let value = text[j..end].trim_end_matches([' ', '\t', '\r']);
            let span = if value.is_empty() {
                eq + 1..eq + 1
            } else {
                j..j + value.len()
            };
            out.push(EnvEntry {
                key,
                value: value.to_string(),
                line,
                span,
                quote: Quote::None,
                export,
            });
            i = eol + 1;
        }
    }
    Ok(out)
}

/// Parse a double-quoted value whose opening quote is at `start`. Returns the
/// unescaped value and the offset of the closing quote.
fn parse_double(text: &str, start: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut it = text[start + 1..].char_indices().peekable();
    while let Some((n, c)) = it.next() {
        match c {
            '"' => return Some((out, start + 1 + n)),
            '\\' => match it.peek().map(|&(_, c)| c) {
                Some(e @ ('n' | 't' | 'r' | '"' | '\\' | '$')) => {
                    it.next();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                }
                // Unknown escapes stay as written, like compose.
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    None
}

/// Write `v` so that [`parse`] reads back exactly `v`: bare when it is plain,
/// single quotes when that suffices, else double quotes with escapes.
pub fn quote_value(v: &str) -> String {
    if v.is_empty() {
        return String::new();
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,/:@+=%~".contains(c);
    if v.chars().all(plain) {
        return v.to_string();
    }
    if !v.contains(['\'', '\n', '\r']) {
        return format!("'{v}'");
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One `KEY=value` line (no newline) with correct quoting.
pub fn format_line(key: &str, value: &str) -> String {
    format!("{key}={}", quote_value(value))
}

/// Apply in-place edits (byte range of the old value text, new value) and keep
/// everything else in the file byte for byte. Ranges must not overlap.
pub fn rewrite(text: &str, edits: &[(Range<usize>, String)]) -> String {
    let mut sorted: Vec<&(Range<usize>, String)> = edits.iter().collect();
    sorted.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_string();
    for (r, v) in sorted {
        out.replace_range(r.clone(), &quote_value(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
        parse(text, Path::new("t.env")).map(|v| v.into_iter().map(|e| (e.key, e.value)).collect())
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_compose_env_file_syntax() {
        type Case = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            ("plain", "A=1\nB=two\n", &[("A", "1"), ("B", "two")]),
            ("export prefix", "export A=1\n", &[("A", "1")]),
            ("export with tabs", "export\tA=1", &[("A", "1")]),
            ("key named export", "export=1", &[("export", "1")]),
            (
                "full-line comment",
                "# hi\n  # indented\nA=1",
                &[("A", "1")],
            ),
            ("blank lines", "\n\n  \nA=1\n\n", &[("A", "1")]),
            (
                "inline comment",
                "A=1 # one\nB=2\t# two",
                &[("A", "1"), ("B", "2")],
            ),
            ("hash without blank is data", "A=a#b", &[("A", "a#b")]),
            (
                "unquoted trimmed",
                "A=   spaced out  \t",
                &[("A", "spaced out")],
            ),
            ("blanks around =", "A = 1", &[("A", "1")]),
            ("empty", "A=\nB=", &[("A", ""), ("B", "")]),
            ("empty then comment", "A= # nothing", &[("A", "")]),
            (
                "single quotes literal",
                r#"A='x\ny $Z "q"'"#,
                &[("A", r#"x\ny $Z "q""#)],
            ),
            ("single quotes keep blanks", "A=' a '", &[("A", " a ")]),
            ("single quotes comment", "A='x' # c", &[("A", "x")]),
            (
                "double escapes",
                r#"A="l1\nl2\tt \"q\" \\ \$HOME""#,
                &[("A", "l1\nl2\tt \"q\" \\ $HOME")],
            ),
            ("unknown escape kept", r#"A="a\qb""#, &[("A", "a\\qb")]),
            (
                "double multi-line",
                "A=\"line1\nline2\"\nB=3",
                &[("A", "line1\nline2"), ("B", "3")],
            ),
            ("single multi-line", "A='x\ny'", &[("A", "x\ny")]),
            ("empty quotes", "A=\"\"\nB=''", &[("A", ""), ("B", "")]),
            ("crlf", "A=1\r\nB=\"2\"\r\n", &[("A", "1"), ("B", "2")]),
            ("bom", "\u{feff}A=1", &[("A", "1")]),
            ("equals in value", "A=x=y==", &[("A", "x=y==")]),
            ("quote inside unquoted", "A=it's", &[("A", "it's")]),
            ("unicode", "A=héllo wörld", &[("A", "héllo wörld")]),
            ("dots and dashes in keys", "a.b-c_D=1", &[("a.b-c_D", "1")]),
            (
                "ciphertext",
                "A=arcane:v1:AbC+/=",
                &[("A", "arcane:v1:AbC+/=")],
            ),
            (
                "duplicate keys kept in order",
                "A=1\nA=2",
                &[("A", "1"), ("A", "2")],
            ),
        ];
        for (name, text, want) in cases {
            assert_eq!(
                p(text).unwrap_or_else(|e| panic!("{name}: {e}")),
                kv(want),
                "{name}"
            );
        }
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let cases: &[(&str, &str, usize, usize, &str)] = &[
            ("no equals", "A=1\nJUSTKEY\n", 2, 1, "no '='"),
            ("no equals indented", "A=1\n  JUST KEY", 2, 3, "no '='"),
            ("bad key start", "1A=x", 1, 1, "invalid key name"),
            ("space in key", "MY KEY=x", 1, 3, "invalid key name"),
            ("missing key", "=x", 1, 1, "missing key"),
            (
                "unterminated double",
                "A=1\nB=\"abc\nC=2",
                2,
                3,
                "unterminated double",
            ),
            ("unterminated single", "B='abc", 1, 3, "unterminated single"),
            (
                "escaped quote is not a close",
                "B=\"abc\\\"",
                1,
                3,
                "unterminated double",
            ),
            (
                "text after quote",
                "B=\"a\"b",
                1,
                6,
                "after the closing quote",
            ),
            ("error after multi-line", "A=\"x\ny\"\nnope", 3, 1, "no '='"),
        ];
        for (name, text, line, col, msg) in cases {
            let e = p(text).expect_err(name);
            assert_eq!((e.line, e.column), (Some(*line), Some(*col)), "{name}: {e}");
            assert!(e.message.contains(msg), "{name}: {e}");
            assert_eq!(e.file, Path::new("t.env"));
        }
    }

    #[test]
    fn entries_carry_line_and_value_span() {
        let text = "# c\nexport A=one # c\nB='two'\nC=\"th\nree\"\nD=\n";
        let es = parse(text, Path::new("t.env")).unwrap();
        let got: Vec<(usize, &str, Quote, bool)> = es
            .iter()
            .map(|e| (e.line, &text[e.span.clone()], e.quote, e.export))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "one", Quote::None, true),
                (3, "'two'", Quote::Single, false),
                (4, "\"th\nree\"", Quote::Double, false),
                (6, "", Quote::None, false),
            ]
        );
    }

    #[test]
    fn rewrite_keeps_comments_and_order() {
        let text = "# header\nA=one # keep\n\nB='two'\nD=\n";
        let es = parse(text, Path::new("t.env")).unwrap();
        let edits: Vec<(Range<usize>, String)> = es
            .iter()
            .map(|e| (e.span.clone(), format!("new {}", e.key)))
            .collect();
        let out = rewrite(text, &edits);
        assert_eq!(out, "# header\nA='new A' # keep\n\nB='new B'\nD='new D'\n");
        assert_eq!(
            p(&out).unwrap(),
            kv(&[("A", "new A"), ("B", "new B"), ("D", "new D")])
        );
    }

    #[test]
    fn quote_value_round_trips() {
        let values = [
            "",
            "plain",
            "arcane:v1:QUJD+/=",
            "with space",
            " lead",
            "trail ",
            "a#b",
            "x #y",
            "it's",
            "say \"hi\"",
            "both ' and \"",
            "multi\nline",
            "multi\nline with 'quote'",
            "back\\slash",
            "back\\slash and 'q'\n",
            "$HOME",
            "$HOME 'q'\n",
            "tab\there",
            "cr\r\n",
            "ünï cödé",
            "'",
            "\"",
            "\\",
            "=",
            "#",
        ];
        for v in values {
            let line = format_line("K", v);
            let got = p(&line).unwrap_or_else(|e| panic!("{v:?} -> {line:?}: {e}"));
            assert_eq!(got, kv(&[("K", v)]), "{v:?} written as {line:?}");
        }
        assert_eq!(quote_value("plain"), "plain");
        assert_eq!(quote_value("a b"), "'a b'");
        assert_eq!(quote_value("it's\n"), "\"it's\\n\"");
    }
}
