//! Locations in TOML files: turn toml's serde errors into [`ConfigError`]s with
//! line, column and a did-you-mean, report every unknown key (not just the
//! first), and find the line of a key for semantic errors serde cannot see
//! (e.g. the `servers = ["srv9"]` of a group naming an unknown server).
//!
//! Spans come from `toml_edit::ImDocument`, which keeps byte offsets of every
//! key and value; the public config structs stay plain types.

use super::servers::line_col;
use super::ConfigError;
use serde::de::DeserializeOwned;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::{ImDocument, Item, Key, Value};

/// One step of a path into a TOML document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A TOML file's text, kept to point errors at lines.
#[derive(Debug, Clone)]
pub struct TomlSource {
    pub path: PathBuf,
    pub text: String,
    doc: Option<ImDocument<String>>,
}

impl TomlSource {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let doc = ImDocument::parse(text.clone()).ok();
        TomlSource {
            path: path.into(),
            text,
            doc,
        }
    }

    /// Read a file; an unreadable file gives an empty source (errors then
    /// carry no line, which is the best we can do).
    pub fn read(path: &Path) -> Self {
        Self::new(path, std::fs::read_to_string(path).unwrap_or_default())
    }

    /// Byte span of the thing at `path`: the key for a trailing [`Seg::Key`]
    /// (so the error points at `key = ...`), the element for a trailing
    /// [`Seg::Index`]. Falls back to the deepest parent found.
    pub fn span(&self, path: &[Seg]) -> Option<Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Item(doc.as_item());
        let mut best: Option<Range<usize>> = None;
        for seg in path {
            let (next, span) = match (*seg, node) {
                (Seg::Key(k), n) => match n.get_key(k) {
                    Some((key, next)) => (next, key.span()),
                    None => break,
                },
                (Seg::Index(i), n) => match n.get_index(i) {
                    Some(found) => found,
                    None => break,
                },
            };
            if span.is_some() {
                best = span;
            }
            node = next;
        }
        best
    }

    /// A [`ConfigError`] in this file, at `path` if it can be found.
    pub fn error(&self, path: &[Seg], message: impl Into<String>) -> ConfigError {
        let e = ConfigError::new(&self.path, message);
        match self.span(path) {
            Some(s) => {
                let (l, c) = line_col(&self.text, s.start);
                e.at(l, c)
            }
            None => e,
        }
    }

    /// Deserialize, reporting every unknown key (each with a did-you-mean) and
    /// otherwise the first error serde stops at.
    pub fn parse_all<T: DeserializeOwned>(&self) -> Result<T, Vec<ConfigError>> {
        parse_all(&self.text, &self.path)
    }
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn get_key(self, k: &str) -> Option<(&'a Key, Node<'a>)> {
        let (key, item) = match self {
            Node::Item(i) => i.as_table_like()?.get_key_value(k)?,
            Node::Table(t) => t.get_key_value(k)?,
            Node::Value(Value::InlineTable(t)) => t.get_key_value(k)?,
            Node::Value(_) => return None,
        };
        Some((key, Node::Item(item)))
    }

    fn get_index(self, i: usize) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => a.get(i).map(|t| (Node::Table(t), t.span())),
            Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                a.get(i).map(|v| (Node::Value(v), v.span()))
            }
            _ => None,
        }
    }
}

/// The error for one serde failure, with line, column and help.
fn convert(e: &toml::de::Error, text: &str, path: &Path) -> ConfigError {
    let msg = e.message().trim_end().to_string();
    let mut err = ConfigError::new(path, msg.clone());
    if let Some(span) = e.span() {
        let (l, c) = line_col(text, span.start);
        err = err.at(l, c);
    }
    if let Some(help) = help_for(&msg) {
        err = err.with_help(help);
    }
    err
}

/// Words between backticks, in order.
fn backticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// did-you-mean for serde's "unknown field `x`, expected one of `a`, `b`" and
/// "unknown variant" messages; a hint for out-of-range ports.
fn help_for(msg: &str) -> Option<String> {
    if msg.starts_with("unknown field") || msg.starts_with("unknown variant") {
        let words = backticked(msg);
        let (bad, valid) = words.split_first()?;
        let valid: Vec<String> = valid.iter().map(|s| s.to_string()).collect();
        if valid.is_empty() {
            return Some("this table takes no keys".into());
        }
        return Some(match super::servers::did_you_mean(bad, &valid) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("valid here: {}", valid.join(", ")),
        });
    }
    if msg.contains("expected u16") {
        return Some("a port is a whole number from 1 to 65535".into());
    }
    None
}

/// See [`TomlSource::parse_all`]. Unknown keys are blanked out (offsets kept)
/// and parsing retried, so one pass reports every typo in the file.
pub fn parse_all<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, Vec<ConfigError>> {
    let mut work = text.to_string();
    let mut errs: Vec<ConfigError> = vec![];
    for _ in 0..100 {
        let e = match toml::from_str::<T>(&work) {
            Ok(v) if errs.is_empty() => return Ok(v),
            Ok(_) => return Err(errs),
            Err(e) => e,
        };
        let ce = convert(&e, text, path);
        let unknown = ce.message.starts_with("unknown field");
        if !errs
            .iter()
            .any(|x| x.message == ce.message && x.line == ce.line)
        {
            errs.push(ce);
        }
        let Some(span) = e.span().filter(|_| unknown) else {
            break;
        };
        match blank_key_at(&work, span.start) {
            Some(next) => work = next,
            None => break,
        }
    }
    Err(errs)
}

/// `work` with the entry whose key starts at `offset` replaced by blanks
/// (newlines kept, so every later offset and line stays the same).
fn blank_key_at(work: &str, offset: usize) -> Option<String> {
    let doc = ImDocument::parse(work.to_string()).ok()?;
    let mut headers = vec![];
    collect_headers(doc.as_item(), &mut headers);
    headers.sort();
    let ranges = find_entry(doc.as_item(), offset, &headers, work.len())?;
    let mut bytes = work.as_bytes().to_vec();
    for r in ranges {
        for b in &mut bytes[r] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    String::from_utf8(bytes).ok()
}

fn collect_headers(item: &Item, out: &mut Vec<usize>) {
    match item {
        Item::Table(t) => {
            if let Some(s) = t.span() {
                out.push(s.start);
            }
            for (_, v) in t.iter() {
                collect_headers(v, out);
            }
        }
        Item::ArrayOfTables(a) => {
            for t in a.iter() {
                if let Some(s) = t.span() {
                    out.push(s.start);
                }
                for (_, v) in t.iter() {
                    collect_headers(v, out);
                }
            }
        }
        _ => {}
    }
}

/// The byte ranges making up the entry whose key span contains `offset`.
fn find_entry(
    item: &Item,
    offset: usize,
    headers: &[usize],
    len: usize,
) -> Option<Vec<Range<usize>>> {
    let section = |start: usize| {
        let end = headers.iter().copied().find(|&h| h > start).unwrap_or(len);
        start..end
    };
    let tables: Vec<&toml_edit::Table> = match item {
        Item::Table(t) => vec![t],
        Item::ArrayOfTables(a) => a.iter().collect(),
        _ => return None,
    };
    for t in tables {
        for (k, v) in t.iter() {
            let key = t.key(k)?;
            if key.span().is_some_and(|s| s.contains(&offset)) {
                return match v {
                    Item::Value(val) => Some(vec![key.span()?.start..val.span()?.end]),
                    Item::Table(tt) => Some(vec![section(tt.span()?.start)]),
                    Item::ArrayOfTables(a) => a
                        .iter()
                        .map(|tt| tt.span().map(|s| section(s.start)))
                        .collect(),
                    Item::None => None,
                };
            }
            // A header key's span lies inside the header, e.g. `[bulid]`.
            if let Item::Table(tt) = v {
                if tt.span().is_some_and(|s| s.contains(&offset)) && !tt.is_dotted() {
                    if let Some(r) = find_entry(v, offset, headers, len) {
                        return Some(r);
                    }
                    return Some(vec![section(tt.span()?.start)]);
                }
            }
            if let Some(r) = find_entry(v, offset, headers, len) {
                return Some(r);
            }
        }
    }
    None
}
