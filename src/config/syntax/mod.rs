//! TOML syntax errors, explained. The parser reports where it gave up
//! ("invalid basic string" at the end of a line); the user needs where the
//! broken thing starts (the quote that was never closed), what is wrong in
//! words, and how to fix it. A small lexer finds the open string or bracket
//! at the failure point, and each parser message gets its own wording.

use super::servers::line_col;
use super::ConfigError;
use lex::*;
use std::ops::Range;
use std::path::Path;

mod lex;
#[cfg(test)]
mod tests;

/// The [`ConfigError`] for a TOML syntax error: the parser's `message` and
/// `span` (from `toml_edit::TomlError`) turned into a location, a message and
/// a help line.
pub fn explain(text: &str, path: &Path, message: &str, span: Option<Range<usize>>) -> ConfigError {
    let at = boundary(text, span.map_or(text.len(), |s| s.start));
    let (head, detail) = match message.trim().split_once('\n') {
        Some((h, d)) => (h.trim(), Some(d.trim())),
        None => (message.trim(), None),
    };
    let x = Explained::new(text, at, head, detail);
    let (line, col) = line_col(text, boundary(text, x.at));
    ConfigError::new(path, x.message)
        .at(line, col)
        .with_help(x.help)
}

struct Explained {
    at: usize,
    message: String,
    help: String,
}

impl Explained {
    /// The parser's wording is matched literally; should a parser upgrade
    /// reword a message, it falls through to [`generic`], which still gives
    /// the location and a help line.
    fn new(text: &str, at: usize, head: &str, detail: Option<&str>) -> Self {
        let dup = |d: &str| d.starts_with("duplicate key");
        match (head, detail) {
            (
                "invalid basic string"
                | "invalid literal string"
                | "invalid multiline basic string"
                | "invalid multiline literal string",
                _,
            ) => string(text, at),
            (h, _) if h.starts_with("invalid escape") || h.contains("unicode") => escape(text, at),
            (h, _) if dup(h) => duplicate(text, at, h, false),
            ("invalid table header", Some(d)) if dup(d) => duplicate(text, at, d, true),
            ("invalid table header", Some(d)) if d.starts_with("expected newline") => {
                after_header(text, at)
            }
            ("invalid table header", _) => header(text, at, detail.unwrap_or_default()),
            ("invalid array", _) => array(text, at),
            ("invalid inline table", _) => inline_table(text, at),
            ("invalid string", _) => bad_value(text, at),
            (h, _) if h.starts_with("expected newline") => after_value(text, at),
            (h, _) if h.starts_with("expected `.`, `=`") => bad_key(text, at),
            ("invalid key", _) => empty_key(text, at),
            // The parser has no words when the file ends right after `=`.
            ("", _) if key_of_line(text, at).is_some() => bad_value(text, at),
            _ => generic(text, at, head, detail),
        }
    }
}

fn after_header(text: &str, at: usize) -> Explained {
    Explained {
        at,
        message: format!("unexpected `{}` after the table header", token(text, at)),
        help: "only a comment (# ...) may follow a [table] header on its line".into(),
    }
}

/// A string left open (or holding a control character).
fn string(text: &str, at: usize) -> Explained {
    let Some((start, kind)) = scan(text, at).string else {
        return generic(text, at, "invalid string", None);
    };
    let d = kind.delim();
    let next = text[at..].chars().next();
    // TOML allows tabs in strings, but no other control character.
    let control = next.filter(|&c| (c.is_control() && c != '\t') && !matches!(c, '\n' | '\r'));
    match kind {
        Str::Basic | Str::Literal if control.is_none() => Explained {
            at: start,
            message: format!(
                "unterminated string: the {d} that opens it is not closed on this line"
            ),
            help: format!(
                "end the string with {d} on the same line; text over several lines goes \
                 between {d}{d}{d} and {d}{d}{d}"
            ),
        },
        Str::MlBasic | Str::MlLiteral if control.is_none() => Explained {
            at: start,
            message: format!(
                "unterminated multi-line string: the {d} here is never closed, so the rest \
                 of the file was read as text"
            ),
            help: format!("end the string with {d}"),
        },
        _ => {
            let c = control.unwrap_or('\0');
            let help = match kind {
                Str::Basic | Str::MlBasic => {
                    format!("remove it, or write it as the escape \\u{:04X}", c as u32)
                }
                Str::Literal | Str::MlLiteral => format!(
                    "remove it; to keep it, use a \"...\" string with the escape \\u{:04X}",
                    c as u32
                ),
            };
            Explained {
                at,
                message: format!("control character U+{:04X} inside a string", c as u32),
                help,
            }
        }
    }
}

/// A backslash escape TOML does not know, in a "..." string.
fn escape(text: &str, at: usize) -> Explained {
    let start = scan(text, at).string.map_or(0, |(s, _)| s);
    let Some(bs) = text[start..at].rfind('\\').map(|r| start + r) else {
        return generic(text, at, "invalid escape sequence", None);
    };
    let rest = &text[bs + 1..];
    let len = match rest.chars().next() {
        Some('u') => 5,
        Some('U') => 9,
        _ => 1,
    };
    let esc: String = rest
        .chars()
        .take(len)
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    Explained {
        at: bs,
        message: format!("invalid escape `\\{esc}` in a \"...\" string"),
        help: "a backslash starts an escape (\\n, \\t, \\\", \\\\, \\u00E9): write \\\\ for a \
               backslash, or use a 'single-quoted' string, which takes backslashes as they are \
               (handy for paths and patterns)"
            .into(),
    }
}

/// `duplicate key `k` in table `t`` (or `in document root`); `header` when
/// the duplicate is a `[table]` header.
fn duplicate(text: &str, at: usize, msg: &str, header: bool) -> Explained {
    let words: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    let key = words.first().copied().unwrap_or("?");
    let here = line_text(text, at);
    if header {
        let first = earlier_line(text, at, |l| l == here);
        let (message, help) = match first {
            Some(n) => (
                format!("duplicate table {here}: it is already declared on line {n}"),
                format!(
                    "move these keys into the {here} on line {n}; a table is declared only once"
                ),
            ),
            None => (
                format!("duplicate key: {here} redefines `{key}`, which is already defined"),
                format!(
                    "rename one of them, or merge their keys; `{key}` can be defined only once"
                ),
            ),
        };
        return Explained {
            at: line_start(text, at),
            message,
            help,
        };
    }
    let table = match words.get(1) {
        Some(t) => format!("[{t}]"),
        None => "the top level".into(),
    };
    let first = earlier_line(text, at, |l| {
        if l.starts_with('[') {
            return false;
        }
        let k = l.trim_start_matches(['"', '\'']);
        k.strip_prefix(key).is_some_and(|r| {
            let r = r.trim_start_matches(['"', '\'']).trim_start();
            r.starts_with('=') || r.starts_with('.')
        })
    });
    let (message, help) = match first {
        Some(n) => (
            format!("duplicate key `{key}` in {table}: it is already set on line {n}"),
            format!("keep only one `{key}` (line {n} or this one)"),
        ),
        None => (
            format!("duplicate key `{key}` in {table}"),
            format!("keep only one `{key}`; a key is set once per table"),
        ),
    };
    Explained { at, message, help }
}

/// A `[table]` header the parser could not read.
fn header(text: &str, at: usize, detail: &str) -> Explained {
    let here = line_text(text, at);
    let start = line_start(text, at);
    let (close, open) = if detail.contains("`]]`") {
        ("]]", "[[")
    } else {
        ("]", "[")
    };
    if !here.contains(close) {
        let name = here.trim_start_matches('[').trim_end_matches(']');
        return Explained {
            at: start,
            message: format!("table header `{here}` is missing its closing `{close}`"),
            help: format!("write `{open}{name}{close}`"),
        };
    }
    Explained {
        at,
        message: format!("invalid table name in `{here}`"),
        help: "a table name is words of letters, digits, `-` and `_` joined by dots, e.g. \
               [servers.web1]; quote any other word: [servers.\"my server\"]"
            .into(),
    }
}

/// An array whose `]` the parser did not find: either never closed (point at
/// its `[`) or a missing `,` between elements (point at the element).
fn array(text: &str, at: usize) -> Explained {
    let opener = scan(text, at)
        .open
        .iter()
        .rev()
        .find(|(c, _)| *c == b'[')
        .map(|&(_, o)| o);
    let rest = &text[at..];
    let (l, _) = line_col(text, opener.unwrap_or(at));
    let starts_line = text[line_start(text, at)..at].trim().is_empty();
    let next_line = line_text(text, at);
    let unclosed = rest.trim().is_empty()
        || (starts_line && (next_line.starts_with('[') || looks_like_key_line(&next_line)));
    // Right after `[` or `,` no comma is missing: the element itself is bad.
    let prev = text[..at].trim_end().chars().next_back();
    if !unclosed && matches!(prev, Some('[' | ',')) {
        return bad_value(text, at);
    }
    match opener {
        Some(o) if unclosed => {
            let before = if rest.trim().is_empty() {
                "the end of the file".to_string()
            } else {
                format!("line {}", line_col(text, at).0)
            };
            Explained {
                at: o,
                message: format!("this array is not closed: no `]` before {before}"),
                help: "close it with `]` after its last element; elements are separated by `,` \
                       and may span several lines"
                    .into(),
            }
        }
        _ => Explained {
            at,
            message: format!(
                "expected `,` or `]` before `{}` in the array that starts on line {l}",
                token(text, at)
            ),
            help: "separate the elements of an array with `,`, e.g. [\"a\", \"b\"]".into(),
        },
    }
}

/// An inline table `{ ... }` not closed on its line, or missing a `,`.
fn inline_table(text: &str, at: usize) -> Explained {
    let opener = scan(text, at)
        .open
        .iter()
        .rev()
        .find(|(c, _)| *c == b'{')
        .map(|&(_, o)| o);
    let to_eol = text[at..].split('\n').next().unwrap_or("");
    match opener {
        Some(o)
            if matches!(
                to_eol
                    .trim_start_matches([',', ' ', '\t', '\r'])
                    .chars()
                    .next(),
                None | Some('#')
            ) =>
        {
            Explained {
                at: o,
                message: "inline table `{ ... }` is not closed on this line".into(),
                help: "end it with `}` on the line where it starts (an inline table is one line); \
                   for a longer table write a [section] header instead"
                    .into(),
            }
        }
        _ => Explained {
            at,
            message: format!(
                "expected `,` or `}}` before `{}` in this inline table",
                token(text, at)
            ),
            help: "separate the keys of an inline table with `,`, e.g. { a = 1, b = 2 }".into(),
        },
    }
}

/// A value that is missing or not a TOML value (a bare word).
fn bad_value(text: &str, at: usize) -> Explained {
    let rest = value_text(text, at);
    let key = key_of_line(text, at);
    let in_array = !scan(text, at).open.is_empty();
    if rest.is_empty() {
        return Explained {
            at,
            message: match &key {
                Some(k) => format!("`{k}` has no value"),
                None => "missing value".into(),
            },
            help: format!(
                "write a value after `=`, e.g. {} = \"text\"",
                key.as_deref().unwrap_or("key")
            ),
        };
    }
    let tok = token(text, at);
    if tok.starts_with('=') {
        return Explained {
            at,
            message: "unexpected `=`: a value was expected".into(),
            help: "write one `=` between the key and its value".into(),
        };
    }
    let bools = ["true".to_string(), "false".to_string()];
    let lower = tok.to_ascii_lowercase();
    if let Some(b) = super::servers::did_you_mean(&lower, &bools).filter(|_| !in_array) {
        return Explained {
            at,
            message: format!("`{tok}` is not a value"),
            help: format!(
                "booleans are written {b} or {}",
                if b == "true" { "false" } else { "true" }
            ),
        };
    }
    if let Some(q) = tok.chars().last().filter(|c| matches!(c, '"' | '\'')) {
        return Explained {
            at,
            message: format!("the string `{tok}` has no opening {q}"),
            help: format!("start it with {q}: {q}{tok}"),
        };
    }
    let quoted = match (&key, in_array) {
        (Some(k), false) => format!("{k} = \"{rest}\""),
        _ => format!("\"{tok}\""),
    };
    Explained {
        at,
        message: format!("`{tok}` is not a valid value"),
        help: format!("quote text: {quoted} (unquoted values are numbers, true/false and dates)"),
    }
}

/// Something after a complete value on the same line.
fn after_value(text: &str, at: usize) -> Explained {
    let tok = token(text, at);
    let key = key_of_line(text, at);
    let before = line_value(text, at).map(|_| {
        let s = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let eq = text[s..at].find('=').map_or(at, |i| s + i + 1);
        text[eq..at].trim_end().to_string()
    });
    let rest = text[at..].lines().next().unwrap_or("").trim();
    let in_brackets = !scan(text, at).open.is_empty();
    let help = match (before, &key, line_value(text, at)) {
        _ if looks_like_key_line(rest) => format!(
            "start `{}` on a new line: one `key = value` per line",
            bare_key(rest)
        ),
        _ if tok.starts_with(',') && !in_brackets => {
            "several values make an array: put them in [ ], e.g. [\"a\", \"b\"]".to_string()
        }
        (Some(b), _, _) if b.ends_with(['"', '\'']) => {
            "a key takes one value: put the text in one string, or use an array [\"a\", \"b\"]"
                .to_string()
        }
        (Some(_), Some(k), Some(v)) if !in_brackets => format!(
            "if the value is text, quote all of it: {k} = \"{}\"",
            v.replace('"', "\\\"")
        ),
        _ => "write one `key = value` per line; quote text that holds spaces or punctuation".into(),
    };
    Explained {
        at,
        message: format!("unexpected `{tok}` after the value"),
        help,
    }
}

/// A line that is neither `key = value` nor a header, or a key with
/// characters a bare key cannot hold.
fn bad_key(text: &str, at: usize) -> Explained {
    let here = line_text(text, at);
    let start = line_start(text, at);
    let key = bare_key(&here);
    let after = here[key.len()..].trim_start();
    let starts_value = after.starts_with(['"', '\'', '[', '{', '+', '-'])
        || after.starts_with(|c: char| c.is_ascii_digit())
        || after.starts_with("true")
        || after.starts_with("false");
    if !key.is_empty() && starts_value {
        return Explained {
            at: start,
            message: format!("missing `=` between the key `{key}` and its value"),
            help: format!("write `{key} = {after}`"),
        };
    }
    if !here.contains('=') {
        let (message, help) = if here.ends_with(']') && !here.contains(' ') {
            (
                format!("table header `{here}` is missing its opening `[`"),
                format!("write `[{here}`"),
            )
        } else if here.contains(' ') {
            (
                format!("`{}` is not a setting", short(&here)),
                "start a comment with `#`; a setting is written `key = value`".to_string(),
            )
        } else {
            (
                format!("`{here}` has no value"),
                format!("write `{here} = value` (text in \"quotes\")"),
            )
        };
        return Explained {
            at: start,
            message,
            help,
        };
    }
    let k = here.split('=').next().unwrap_or_default().trim();
    Explained {
        at,
        message: format!("invalid key `{k}`"),
        help: format!(
            "a bare key holds only letters A-Z a-z, digits, `-` and `_`; quote any other key: \
             \"{k}\" = ..."
        ),
    }
}

/// `= 1` with no key, or `[]`.
fn empty_key(text: &str, at: usize) -> Explained {
    let here = line_text(text, at);
    if here.starts_with('[') {
        return Explained {
            at: line_start(text, at),
            message: format!("table header `{here}` has no name"),
            help: "name the table, e.g. [servers.web1]".into(),
        };
    }
    Explained {
        at,
        message: "missing key".into(),
        help: "write `key = value`, with the key first".into(),
    }
}

fn generic(text: &str, at: usize, head: &str, detail: Option<&str>) -> Explained {
    let message = match detail {
        Some(d) => format!("{head}: {d}"),
        None if head.is_empty() => "unexpected text".to_string(),
        None => head.to_string(),
    };
    let number = ["integer", "float", "date", "time", "number"]
        .iter()
        .any(|w| head.contains(w));
    let help = match (key_of_line(text, at), line_value(text, at)) {
        (Some(k), Some(v)) if number => format!(
            "numbers are written 42, 3.14 or 1_000 and dates 2024-01-31; if this is text, \
             quote it: {k} = \"{v}\""
        ),
        _ => "one `key = value` per line, text in \"quotes\", [table] headers on their own line"
            .into(),
    };
    Explained { at, message, help }
}
