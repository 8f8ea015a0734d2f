//! A small TOML lexer and line helpers: enough to find the string or the
//! bracket still open where the parser gave up, and the key, value and words
//! of the line it gave up on.

use super::super::servers::line_col;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Str {
    Basic,
    Literal,
    MlBasic,
    MlLiteral,
}

impl Str {
    pub fn delim(self) -> &'static str {
        match self {
            Str::Basic => "\"",
            Str::Literal => "'",
            Str::MlBasic => "\"\"\"",
            Str::MlLiteral => "'''",
        }
    }
}

/// What is open at an offset.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// The string the offset is inside: its opening delimiter and kind.
    pub string: Option<(usize, Str)>,
    /// `[` and `{` of values still open, innermost last.
    pub open: Vec<(u8, usize)>,
}

/// Lex `text` up to `until`, tracking strings, comments and the brackets of
/// values (a `[` that starts a line outside a value is a header, not an
/// array). Every delimiter is ASCII, so working on bytes is UTF-8 safe.
pub(super) fn scan(text: &str, until: usize) -> Scan {
    let b = text.as_bytes();
    let until = until.min(b.len());
    let starts = |i: usize, s: &str| b[i..].starts_with(s.as_bytes());
    let mut s = Scan::default();
    let (mut comment, mut in_value) = (false, false);
    let mut i = 0;
    while i < until {
        let c = b[i];
        if let Some((_, kind)) = s.string {
            match (kind, c) {
                (Str::Basic | Str::MlBasic, b'\\') => i += 1,
                (Str::Basic, b'"') | (Str::Literal, b'\'') => s.string = None,
                (Str::Basic | Str::Literal, b'\n') => s.string = None,
                (Str::MlBasic, b'"') if starts(i, "\"\"\"") => {
                    s.string = None;
                    i += 2;
                }
                (Str::MlLiteral, b'\'') if starts(i, "'''") => {
                    s.string = None;
                    i += 2;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        if comment && c != b'\n' {
            i += 1;
            continue;
        }
        comment = false;
        match c {
            b'#' => comment = true,
            b'"' if starts(i, "\"\"\"") => {
                s.string = Some((i, Str::MlBasic));
                i += 2;
            }
            b'\'' if starts(i, "'''") => {
                s.string = Some((i, Str::MlLiteral));
                i += 2;
            }
            b'"' => s.string = Some((i, Str::Basic)),
            b'\'' => s.string = Some((i, Str::Literal)),
            b'=' if s.open.is_empty() => in_value = true,
            b'[' | b'{' if in_value || !s.open.is_empty() => s.open.push((c, i)),
            b']' | b'}' => {
                s.open.pop();
            }
            b'\n' if s.open.is_empty() => in_value = false,
            _ => {}
        }
        i += 1;
    }
    s
}

/// The nearest char boundary at or before `i`.
pub(super) fn boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(super) fn line_start(text: &str, at: usize) -> usize {
    let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
    s + (text[s..].len() - text[s..].trim_start_matches([' ', '\t']).len())
}

/// The line holding `at`, trimmed, without a trailing comment (a `#` inside
/// a string is rare enough on a broken line to ignore).
pub(super) fn line_text(text: &str, at: usize) -> String {
    let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let e = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let l = &text[s..e];
    l.split(" #").next().unwrap_or(l).trim().to_string()
}

/// The value text from `at` to the end of its line, without a comment.
pub(super) fn value_text(text: &str, at: usize) -> String {
    let to_eol = text[at..].split('\n').next().unwrap_or("");
    to_eol.split('#').next().unwrap_or("").trim().to_string()
}

/// The value of the `key = value` line holding `at`, as written.
pub(super) fn line_value(text: &str, at: usize) -> Option<String> {
    let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let eq = text[s..].split('\n').next()?.find('=')?;
    Some(value_text(text, s + eq + 1))
}

/// The key of the `key = value` line holding `at`, if `at` is after its `=`.
pub(super) fn key_of_line(text: &str, at: usize) -> Option<String> {
    let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let (k, _) = text[s..at].split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
}

/// The word at `at` (up to a space or a delimiter), or its one character.
pub(super) fn token(text: &str, at: usize) -> String {
    let rest = &text[at..];
    let word: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '#'))
        .take(40)
        .collect();
    if word.is_empty() {
        rest.chars().take(1).collect()
    } else {
        word
    }
}

/// The bare key (letters, digits, `-`, `_`, dots) a line starts with.
pub(super) fn bare_key(line: &str) -> &str {
    let len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .unwrap_or(line.len());
    &line[..len]
}

/// A line's text for a message: long lines cut, with an ellipsis.
pub(super) fn short(line: &str) -> String {
    match line.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// `name = ...` or `a.b = ...` with a bare key.
pub(super) fn looks_like_key_line(line: &str) -> bool {
    let key = bare_key(line);
    !key.is_empty() && line[key.len()..].trim_start().starts_with('=')
}

/// The 1-based number of the last line before the one holding `at` for which
/// `pred(trimmed line)` holds; for keys, the search stops at the table header
/// that opens `at`'s section.
pub(super) fn earlier_line(text: &str, at: usize, pred: impl Fn(&str) -> bool) -> Option<usize> {
    let here = line_col(text, at).0;
    let is_header = line_text(text, at).starts_with('[');
    let lines: Vec<&str> = text.lines().take(here - 1).collect();
    for (i, l) in lines.iter().enumerate().rev() {
        let l = l.split(" #").next().unwrap_or(l).trim();
        if pred(l) {
            return Some(i + 1);
        }
        if !is_header && l.starts_with('[') {
            return None;
        }
    }
    None
}
