//! Env files (`config/envs/*.env`): the one parser behind `env show`, `config
//! check`, the git filter, `env set/edit` and the deploy. It follows docker
//! compose v2's dotenv parser (compose-go), so a file that works with compose
//! works with arcane and back:
//!
//! * `KEY=value`, `KEY: value`, `export KEY=value` (space or tab), leading
//!   blanks, a UTF-8 BOM, CRLF line ends, keys of Unicode letters and digits
//!   plus `_ . - [ ]`;
//! * unquoted values end at the line end or at ` #` (a space before `#`; a tab
//!   or `#` alone is data), and are trimmed; `KEY= # x` is `# x`, as in compose;
//! * single quotes are literal except `\'`; double quotes understand `\a \b \f
//!   \n \r \t \v \\ \" \$` and `\0NNN`, and keep other backslashes;
//! * unquoted and double-quoted values are interpolated (`${VAR}`, see
//!   [`super::interp`]) when the layers are merged; single-quoted never.
//!
//! Deliberate differences, each an error naming file, line and column: a bare
//! `KEY` line (compose copies it from the shell), an empty key, a key
//! starting with a digit (compose drops those silently), and text after a
//! closing quote (compose starts a new statement there).
//!
//! Every entry keeps byte spans (its line, the raw value text, the value
//! itself) so the secrets engine can encrypt or rewrite values in place and
//! keep comments, order and blank lines byte for byte.

use super::interp;
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
    /// The value after unquoting and unescaping. When [`interpolate`] is set
    /// it is a template (`$$`, `${VAR}`) that `config::layers` expands.
    ///
    /// [`interpolate`]: EnvEntry::interpolate
    pub value: String,
    /// The value contains `$` and was not single-quoted.
    pub interpolate: bool,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range of the value as written: quotes included, surrounding
    /// whitespace and an inline comment excluded. Replace it with
    /// [`quote_value`] of a new value to rewrite one value in place.
    pub span: Range<usize>,
    pub quote: Quote,
    /// Written with a leading `export `.
    pub export: bool,
    /// Offset of the start of the key's line (leading blanks, `export`).
    pub line_start: usize,
    /// The raw value text: from after `=` and the blanks after it to the end
    /// of the line the value ends on (inline comment and trailing blanks
    /// included, line end excluded). This is what the secrets format encrypts.
    pub raw: Range<usize>,
    /// Offset just past the line end of the entry's last line.
    pub end: usize,
}

impl EnvEntry {
    pub fn is_encrypted(&self) -> bool {
        self.value.starts_with(ENCRYPTED_PREFIX)
    }
}

/// Keys: compose's characters (Unicode letters and digits, `_ . - [ ]`), not
/// starting with a digit, `.`, `-` or a bracket. Prefer `[A-Z_][A-Z0-9_]*`:
/// shells cannot use the others.
pub fn is_valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_') && chars.all(is_key_char)
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
}

/// compose's `isSpace`: blanks that are not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\u{0b}' | '\u{0c}' | '\r' | '\u{85}' | '\u{a0}'
    )
}

/// The end of the line content at `eol` (a `\n` offset or the text length):
/// a `\r` before the `\n` belongs to the line end.
fn content_end(text: &str, eol: usize) -> usize {
    if eol > 0 && text.as_bytes()[eol - 1] == b'\r' && eol < text.len() {
        eol - 1
    } else {
        eol
    }
}

/// Parse an env file. `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<EnvEntry>, ConfigError> {
    let len = text.len();
    let b = text.as_bytes();
    let err = |off: usize, msg: String| {
        let (l, c) = line_col(text, off);
        ConfigError::new(path, msg).at(l, c)
    };
    let eol_from = |i: usize| text[i..].find('\n').map_or(len, |p| i + p);
    let next_line = |eol: usize| (eol + 1).min(len);
    let mut out = vec![];
    let mut i = if text.starts_with('\u{feff}') { 3 } else { 0 };
    while let Some((o, _)) = text[i..].char_indices().find(|(_, c)| !c.is_whitespace()) {
        i += o;
        let eol = eol_from(i);
        if b[i] == b'#' {
            i = next_line(eol);
            continue;
        }
        let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
        let mut k0 = i;
        let mut export = false;
        if let Some(rest) = text[i..].strip_prefix("export") {
            if rest.starts_with([' ', '\t']) {
                k0 = i + 6 + (rest.len() - rest.trim_start_matches(is_space).len());
                export = true;
            }
        }
        // The key ends at `=`, `:` (compose's YAML style) or the line end.
        let mut term = None;
        for (o, c) in text[k0..].char_indices() {
            match c {
                '=' | ':' | '\n' => {
                    term = Some((k0 + o, c));
                    break;
                }
                c if is_space(c) || is_key_char(c) => {}
                c => return Err(err(
                    k0 + o,
                    format!("invalid key name: unexpected character {c:?}"),
                )
                .with_help(
                    "keys are letters, digits, '_', '.', '-', '[' or ']'; quote values, not keys",
                )),
            }
        }
        let line_text = text[i..eol].trim_end();
        let (t, tc) = match term {
            Some((t, c)) if c != '\n' => (t, c),
            _ => {
                let t = term.map_or(len, |x| x.0);
                let key = text[k0..t].trim_end_matches(is_space);
                return Err(err(
                    i,
                    format!(
                        "no '=' in {line_text:?}: each line must be KEY=value, a # comment or blank"
                    ),
                )
                .with_help(if is_valid_key(key) && term.is_some() {
                    "a bare KEY takes its value from the shell in docker compose; arcane refuses that so a deploy never depends on who ran it: write KEY=value (KEY= for empty)"
                } else {
                    "write `KEY=` for an empty value; quote values that span lines"
                }));
            }
        };
        let key = text[k0..t].trim_end_matches(is_space);
        if key.is_empty() {
            return Err(err(t, format!("missing key name before '{tc}'")));
        }
        if let Some(sp) = key.find(is_space) {
            return Err(err(
                k0 + sp,
                format!("invalid key name {key:?}: keys cannot contain a space"),
            ));
        }
        if !is_valid_key(key) {
            return Err(err(k0, format!("invalid key name {key:?}")).with_help(
                "keys start with a letter or '_' (compose ignores keys starting with a digit)",
            ));
        }
        let line = line_col(text, k0).0;
        let key = key.to_string();
        let raw_start =
            t + 1 + (text[t + 1..].len() - text[t + 1..].trim_start_matches([' ', '\t']).len());
        let v = t + 1 + (text[t + 1..].len() - text[t + 1..].trim_start_matches(is_space).len());
        if v < len && (b[v] == b'"' || b[v] == b'\'') {
            let q = b[v];
            let (extracted, close) = extract_quoted(text, v).ok_or_else(|| {
                let kind = if q == b'"' { "double" } else { "single" };
                err(v, format!("unterminated {kind}-quoted value for {key}")).with_help(
                    "add the closing quote (write \\\" or \\' for a quote inside the value)",
                )
            })?;
            let after_eol = eol_from(close + 1);
            let rest = text[close + 1..after_eol].trim_start_matches(is_space);
            if !rest.is_empty() && !rest.starts_with('#') {
                let at = after_eol - rest.len();
                return Err(err(
                    at,
                    format!("unexpected text after the closing quote of {key}"),
                )
                .with_help("put the whole value inside the quotes, or start a comment with ' #'"));
            }
            let (value, quote) = if q == b'\'' {
                (extracted, Quote::Single)
            } else {
                (expand_escapes(&extracted), Quote::Double)
            };
            let interpolate = quote == Quote::Double && value.contains('$');
            if interpolate {
                interp::check(&value).map_err(|e| err(v, format!("{key}: {}", e.message)))?;
            }
            out.push(EnvEntry {
                key,
                value,
                interpolate,
                line,
                span: v..close + 1,
                quote,
                export,
                line_start,
                raw: raw_start.min(content_end(text, after_eol))..content_end(text, after_eol),
                end: next_line(after_eol),
            });
            i = next_line(after_eol);
        } else {
            let vend = eol.max(v);
            let line_val = &text[v.min(vend)..vend];
            let cut = line_val.find(" #").unwrap_or(line_val.len());
            let value = line_val[..cut].trim_end();
            let interpolate = value.contains('$');
            if interpolate {
                interp::check(value)
                    .map_err(|e| err(v + e.offset, format!("{key}: {}", e.message)))?;
            }
            let ce = content_end(text, eol);
            out.push(EnvEntry {
                key,
                value: value.to_string(),
                interpolate,
                line,
                span: v.min(vend)..v.min(vend) + value.len(),
                quote: Quote::None,
                export,
                line_start,
                raw: raw_start.min(ce)..ce,
                end: next_line(eol),
            });
            i = next_line(eol);
        }
        if i >= len {
            break;
        }
    }
    Ok(out)
}

/// Scan a quoted value whose opening quote is at `start`, as compose does: a
/// backslash before the quote character drops the backslash, any other
/// escaped character keeps it. Returns the text and the closing offset.
fn extract_quoted(text: &str, start: usize) -> Option<(String, usize)> {
    let q = text.as_bytes()[start] as char;
    let mut out = String::new();
    let mut escaped = false;
    for (n, c) in text[start + 1..].char_indices() {
        if escaped {
            escaped = false;
            if c != q {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '\\' => escaped = true,
            c if c == q => return Some((out, start + 1 + n)),
            c => out.push(c),
        }
    }
    None
}

/// compose's `expandEscapes` for double-quoted values. `\$` becomes `$$`, so
/// interpolation turns it into a literal `$`.
fn expand_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.peek().copied() {
            Some(e @ ('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' | '"' | '$')) => {
                it.next();
                match e {
                    'a' => out.push('\u{07}'),
                    'b' => out.push('\u{08}'),
                    'f' => out.push('\u{0c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\u{0b}'),
                    '$' => out.push_str("$$"),
                    other => out.push(other),
                }
            }
            Some('0') => {
                it.next();
                let mut digits = String::new();
                while digits.len() < 3 && it.peek().is_some_and(|d| d.is_ascii_digit()) {
                    digits.push(it.next().expect("peeked"));
                }
                match u32::from_str_radix(&digits, 8) {
                    Ok(n) if digits.len() == 3 && n <= 255 => {
                        out.push(char::from_u32(n).expect("below 256"))
                    }
                    _ => {
                        out.push_str("\\0");
                        out.push_str(&digits);
                    }
                }
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// Write `v` so that [`parse`] (and compose) read back exactly `v`, with no
/// interpolation: bare when it is plain, single quotes when that is literal,
/// else double quotes with escapes (`\$` for `$`).
pub fn quote_value(v: &str) -> String {
    if v.is_empty() {
        return String::new();
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,/:@+=%~".contains(c);
    if v.chars().all(plain) {
        return v.to_string();
    }
    if !v.contains(['\'', '\r']) && !v.ends_with('\\') {
        return format!("'{v}'");
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
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
mod tests;
