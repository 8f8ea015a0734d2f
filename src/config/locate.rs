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
    if let Some(rest) = msg.strip_prefix("missing field") {
        let field = backticked(rest).first().copied().unwrap_or("it");
        return Some(format!(
            "add `{field} = ...` to this table (every key is described in docs/configuration.md)"
        ));
    }
    if msg.contains("expected a sequence") {
        return Some("write a list, e.g. [\"a\", \"b\"]".into());
    }
    if msg.contains("expected u16") {
        return Some("a port is a whole number from 1 to 65535".into());
    }
    None
}

/// See [`TomlSource::parse_all`]. Unknown keys are blanked out (offsets kept)
/// and parsing retried, so one pass reports every typo in the file.
///
/// A syntax error stops everything (nothing after it can be read) and is
/// explained by `config::syntax::explain`.
pub fn parse_all<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, Vec<ConfigError>> {
    if let Err(e) = ImDocument::parse(text) {
        return Err(vec![super::syntax::explain(
            text,
            path,
            e.message(),
            e.span(),
        )]);
    }
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
    let out = String::from_utf8(bytes).ok()?;
    // Blanking inside an inline table or a dotted key can break the syntax;
    // then stop rather than report an error the user did not write.
    ImDocument::parse(out.as_str()).ok()?;
    Some(out)
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
                    Item::Value(val) => {
                        let whole = key.span()?.start..val.span()?.end;
                        Some(vec![whole])
                    }
                    // A table's content is its own section plus the sections
                    // of every table under it (`[bulid]`, `[bulid.args]`...).
                    Item::Table(_) | Item::ArrayOfTables(_) => {
                        let mut own = vec![];
                        collect_headers(v, &mut own);
                        (!own.is_empty()).then(|| own.into_iter().map(section).collect())
                    }
                    Item::None => None,
                };
            }
            if let Some(r) = find_entry(v, offset, headers, len) {
                return Some(r);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProjectConfig, ServersFile};
    use Seg::{Index, Key};

    const TEXT: &str = r#"[app]
name = "x"

[envs.staging]
[envs.production]
protected = true

[[hooks.pre_deploy]]
command = "a"

[[hooks.pre_deploy]]
command = ""

[accessories.db]
image = "postgres"
env = ["A", "B-"]
inline = { k = 1 }
"#;

    fn at(src: &TomlSource, path: &[Seg]) -> Option<(usize, usize)> {
        src.span(path).map(|s| line_col(&src.text, s.start))
    }

    #[test]
    fn finds_keys_headers_elements_and_array_tables() {
        let src = TomlSource::new("a.toml", TEXT);
        assert_eq!(at(&src, &[Key("app"), Key("name")]), Some((2, 1)));
        assert_eq!(at(&src, &[Key("envs"), Key("production")]), Some((5, 7)));
        assert_eq!(
            at(&src, &[Key("envs"), Key("production"), Key("protected")]),
            Some((6, 1))
        );
        assert_eq!(
            at(
                &src,
                &[Key("hooks"), Key("pre_deploy"), Index(1), Key("command")]
            ),
            Some((12, 1))
        );
        assert_eq!(
            at(&src, &[Key("accessories"), Key("db"), Key("env"), Index(1)]),
            Some((16, 13))
        );
        assert_eq!(
            at(
                &src,
                &[Key("accessories"), Key("db"), Key("inline"), Key("k")]
            ),
            Some((17, 12))
        );
        // Missing leaf: the deepest parent found.
        assert_eq!(at(&src, &[Key("app"), Key("nope")]), Some((1, 2)));
        assert_eq!(at(&src, &[Key("nope")]), None);
        let e = src.error(&[Key("app"), Key("name")], "bad");
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
    }

    #[test]
    fn reports_every_unknown_key_with_did_you_mean() {
        let text = "[app]\nnaem = 1\nname = \"x\"\n\n[[hooks.pre_deplyo]]\ncommand = \"a\"\n\n[[hooks.pre_deplyo]]\ncommand = \"b\"\n\n[helth]\npath = \"/\"\n[helth.sub]\nx = 1\n\n[deploy]\nstrategy = \"recreate\"\ntimeoutt = 3\n";
        let errs = parse_all::<ProjectConfig>(text, Path::new("a.toml")).unwrap_err();
        let got: Vec<(Option<usize>, String, Option<String>)> = errs
            .into_iter()
            .map(|e| {
                (
                    e.line,
                    e.message.split(',').next().unwrap().to_string(),
                    e.help,
                )
            })
            .collect();
        let want = vec![
            (
                Some(2),
                "unknown field `naem`",
                Some("did you mean `name`?"),
            ),
            (
                Some(5),
                "unknown field `pre_deplyo`",
                Some("did you mean `pre_deploy`?"),
            ),
            (
                Some(11),
                "unknown field `helth`",
                Some("did you mean `health`?"),
            ),
            (
                Some(18),
                "unknown field `timeoutt`",
                Some("did you mean `timeout`?"),
            ),
        ];
        let want: Vec<(Option<usize>, String, Option<String>)> = want
            .into_iter()
            .map(|(l, m, h)| (l, m.to_string(), h.map(str::to_string)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn stops_at_type_errors_and_inline_tables() {
        let errs = parse_all::<ServersFile>(
            "[servers.a]\nhost = 1\nenv = \"staging\"\nbogus = 2\n",
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].line, Some(2));
        let errs = parse_all::<ServersFile>(
            "servers = { a = { host = \"h\", env = \"staging\", hots = 1 } }\n",
            Path::new("s.toml"),
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `host`?"));
    }
}
