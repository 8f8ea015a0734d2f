//! The env file parser arcane used before it followed compose v2's dotenv
//! parser (values were literal: no `${VAR}`, a tab before `#` started a
//! comment, `KEY= # x` was empty). Kept only so `config check` can warn,
//! with file and line, where an existing file now reads differently.

use super::envfile::is_valid_key;
use super::servers::line_col;
use super::ConfigError;
use std::path::Path;

/// One assignment as the old parser read it.
pub(crate) struct Legacy {
    pub key: String,
    pub value: String,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parse an env file the way arcane did before the compose-compatible parser.
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<Legacy>, ConfigError> {
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
            let _ = export;
            out.push(Legacy { key, value });
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
            out.push(Legacy {
                key,
                value: value.to_string(),
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
