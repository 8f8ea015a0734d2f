//! Each parser message of a broken TOML file, explained.

use super::*;
use std::path::Path;

/// (line, column, message, help) for a document that does not parse.
fn explained(text: &str) -> (usize, usize, String, String) {
    let e = text
        .parse::<toml_edit::ImDocument<String>>()
        .expect_err(text);
    let ce = explain(text, Path::new("a.toml"), e.message(), e.span());
    (
        ce.line.unwrap(),
        ce.column.unwrap(),
        ce.message,
        ce.help.unwrap(),
    )
}

#[track_caller]
fn check(text: &str, line: usize, col: usize, message: &str, help: &str) {
    let (l, c, m, h) = explained(text);
    assert_eq!((l, c), (line, col), "{text:?}: {m}");
    assert!(
        m.contains(message),
        "{text:?}: message {m:?} lacks {message:?}"
    );
    assert!(h.contains(help), "{text:?}: help {h:?} lacks {help:?}");
    assert!(!m.contains('\n') && !h.contains('\n'), "{m:?} {h:?}");
}

#[test]
fn an_unterminated_string_points_at_its_opening_quote() {
    let m = "unterminated string: the \" that opens it is not closed on this line";
    check(
        "[app]\nname = \"tp\nx = 1\n",
        2,
        8,
        m,
        "end the string with \"",
    );
    check("[app]\nname = \"tp", 2, 8, m, "\"\"\"");
    check("[app]\r\nname = \"tp\r\nx = 1\r\n", 2, 8, m, "same line");
    check(
        "a = \"é # \"\nb = \"x\" # \"c\nd = 'oops\n",
        3,
        5,
        "the ' that opens",
        "with '",
    );
    check(
        "[app]\nx = \"\"\"ok\"\"\"\nname = \"\"\"tp\nx = 1\n",
        3,
        8,
        "unterminated multi-line string: the \"\"\" here",
        "end the string with \"\"\"",
    );
    check("a = '''x\n", 1, 5, "the ''' here", "with '''");
    check(
        "a = \"t\u{1}p\"\n",
        1,
        7,
        "control character U+0001",
        "\\u0001",
    );
}

#[test]
fn escapes_name_the_bad_escape() {
    check(
        "a = \"C:\\dir\"\n",
        1,
        8,
        "invalid escape `\\d`",
        "'single-quoted'",
    );
    check(
        "a = \"\\u12G4\"\n",
        1,
        6,
        "invalid escape `\\u12G4`",
        "\\\\",
    );
}

#[test]
fn duplicates_name_the_first_definition() {
    check(
        "[app]\nname = \"a\"\n# c\nname = \"b\"\n",
        4,
        1,
        "duplicate key `name` in [app]: it is already set on line 2",
        "keep only one `name`",
    );
    check(
        "a.b = 1\na = 2\n",
        2,
        1,
        "in the top level: it is already set on line 1",
        "",
    );
    check(
        "[servers.local]\nhost = \"x\"\n\n[servers.local]\n",
        4,
        1,
        "duplicate table [servers.local]: it is already declared on line 1",
        "move these keys into the [servers.local] on line 1",
    );
    check(
        "[app]\nname = 1\n[app.name]\n",
        3,
        1,
        "[app.name] redefines `name`",
        "",
    );
}

#[test]
fn headers_missing_a_bracket_or_with_a_bad_name() {
    check(
        "[app\nname = 1\n",
        1,
        1,
        "table header `[app` is missing its closing `]`",
        "write `[app]`",
    );
    check(
        "[[hooks.pre\n",
        1,
        1,
        "`[[hooks.pre` is missing its closing `]]`",
        "`[[hooks.pre]]`",
    );
    check("[a b]\n", 1, 4, "invalid table name in `[a b]`", "quote");
    check(
        "[app]]\n",
        1,
        6,
        "unexpected `]` after the table header",
        "comment",
    );
    check(
        "[]\n",
        1,
        1,
        "table header `[]` has no name",
        "name the table",
    );
    check(
        "app]\n",
        1,
        1,
        "table header `app]` is missing its opening `[`",
        "write `[app]`",
    );
}

#[test]
fn arrays_and_inline_tables_unclosed_or_missing_a_comma() {
    check(
        "a = [1, 2\n\n[b]\n",
        1,
        5,
        "this array is not closed: no `]` before line 3",
        "close it with `]`",
    );
    check("a = [1, 2\n", 1, 5, "no `]` before the end of the file", "");
    check("a = [1, 2\nb = 3\n", 1, 5, "before line 2", "");
    check(
        "a = [\"a\" \"b\"]\n",
        1,
        10,
        "expected `,` or `]` before `\"b\"` in the array that starts on line 1",
        "separate",
    );
    check(
        "a = [\n  \"a\"\n  \"b\",\n]\n",
        3,
        3,
        "that starts on line 1",
        "`,`",
    );
    check(
        "a = { b = 1,\n c = 2 }\n",
        1,
        5,
        "inline table `{ ... }` is not closed on this line",
        "[section]",
    );
    check(
        "a = { b = 1 c = 2 }\n",
        1,
        13,
        "expected `,` or `}` before `c`",
        "{ a = 1, b = 2 }",
    );
}

#[test]
fn values_missing_bare_or_followed_by_junk() {
    check(
        "[app]\nname = tp x\n",
        2,
        8,
        "`tp` is not a valid value",
        "name = \"tp x\"",
    );
    check(
        "[app]\nname = \n",
        2,
        8,
        "`name` has no value",
        "name = \"text\"",
    );
    check(
        "a = True\n",
        1,
        5,
        "`True` is not a value",
        "booleans are written true or false",
    );
    check(
        "a = fals\n",
        1,
        5,
        "`fals` is not a value",
        "written false or true",
    );
    check(
        "a = 1 b = 2\n",
        1,
        7,
        "unexpected `b` after the value",
        "start `b` on a new line",
    );
    check(
        "a = 1, 2\n",
        1,
        6,
        "unexpected `,` after the value",
        "put them in [ ]",
    );
    check("a = \"x\\", 1, 5, "unterminated string", "");
    check(
        "a = [b]\n",
        1,
        6,
        "`b` is not a valid value",
        "quote text: \"b\"",
    );
    check("a = = 1\n", 1, 5, "unexpected `=`", "one `=`");
    check(
        "v = 1.2.3\n",
        1,
        8,
        "unexpected `.3` after the value",
        "v = \"1.2.3\"",
    );
    check(
        "a = \"x\" \"y\"\n",
        1,
        9,
        "unexpected `\"y\"` after the value",
        "one string",
    );
    check(
        "na me = 1\n",
        1,
        4,
        "invalid key `na me`",
        "\"na me\" = ...",
    );
    check(
        "name\n",
        1,
        1,
        "`name` has no value",
        "write `name = value`",
    );
    check(
        "name  \"x\"\n",
        1,
        1,
        "missing `=` between the key `name` and its value",
        "write `name = \"x\"`",
    );
    check(
        "Names the app.\n",
        1,
        1,
        "`Names the app.` is not a setting",
        "start a comment with `#`",
    );
    check(
        "a = x\"\n",
        1,
        5,
        "the string `x\"` has no opening \"",
        "start it with \": \"x\"",
    );
    check("[app]\nname =", 2, 7, "`name` has no value", "");
    check("  = 1\n", 1, 3, "missing key", "key = value");
    check(
        "a = 1_\n",
        1,
        7,
        "invalid integer: expected digit",
        "a = \"1_\"",
    );
    check(
        "a = 1979-13-01\n",
        1,
        10,
        "invalid date-time: value is out of range",
        "quote it",
    );
}

/// Every way of breaking real config files by deleting one character or
/// cutting them short gets a one-line message and a help line, never a panic
/// (the lexer slices by byte offsets).
#[test]
fn every_one_character_deletion_of_a_real_config_is_explained() {
    let extra = r#"
[x]
multi = """a
b"""
lit = '''c'''
u = "é\u00E9"
arr = [1, [2, 3], { a = 'b' }]
"#;
    let mut explained = 0;
    for (_, template) in crate::config::init::templates("demo")
        .into_iter()
        .filter(|(p, _)| p.ends_with(".toml"))
    {
        let good = format!("{template}{extra}");
        let cuts = good.char_indices().map(|(i, c)| {
            let mut t = good.clone();
            t.replace_range(i..i + c.len_utf8(), "");
            t
        });
        let prefixes = good.char_indices().map(|(i, _)| good[..i].to_string());
        for text in cuts.chain(prefixes) {
            let Err(e) = text.parse::<toml_edit::ImDocument<String>>() else {
                continue;
            };
            let ce = explain(&text, Path::new("a.toml"), e.message(), e.span());
            assert!(ce.line.is_some() && ce.help.is_some(), "{text}");
            assert!(
                !ce.message.contains('\n') && !ce.message.is_empty(),
                "{:?}",
                ce.message
            );
            explained += 1;
        }
    }
    assert!(explained > 100, "{explained}");
}
