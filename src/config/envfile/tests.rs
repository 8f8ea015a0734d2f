//! The parser table. Each case comes from compose-go's dotenv tests
//! (`godotenv_test.go`, `godotenv_var_expansion_test.go`, `parser_test.go`,
//! the `fixtures/*.env` files) or from the rules of its `parser.go`, with the
//! value compose v2 gives; the cases where arcane deliberately differs are in
//! `deliberate_differences_are_errors`.

use super::*;
use std::collections::HashMap;

/// Parse and resolve within the file, as compose does for one env_file.
fn p(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = vec![];
    for e in parse(text, Path::new("t.env"))? {
        let v = if e.interpolate {
            interp::expand(&e.value, &|k| seen.get(k).cloned(), &mut vec![]).unwrap()
        } else {
            e.value
        };
        seen.insert(e.key.clone(), v.clone());
        out.push((e.key, v));
    }
    Ok(out)
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

type Case = (&'static str, &'static [(&'static str, &'static str)]);

/// Agreement with compose v2 on every case.
#[test]
fn compose_v2_cases() {
    let cases: &[Case] = &[
        // godotenv_test.go TestParsing
        ("FOO=bar", &[("FOO", "bar")]),
        ("FOO =bar", &[("FOO", "bar")]),
        ("FOO= bar", &[("FOO", "bar")]),
        ("FOO=\"bar\"", &[("FOO", "bar")]),
        ("FOO='bar'", &[("FOO", "bar")]),
        (r#"FOO="escaped\"bar""#, &[("FOO", "escaped\"bar")]),
        (r#"FOO="'d'""#, &[("FOO", "'d'")]),
        ("OPTION_A: 1", &[("OPTION_A", "1")]),
        ("OPTION_A: Foo=bar", &[("OPTION_A", "Foo=bar")]),
        ("OPTION_A=1:B", &[("OPTION_A", "1:B")]),
        ("export OPTION_A=2", &[("OPTION_A", "2")]),
        (r"export OPTION_B='\n'", &[("OPTION_B", r"\n")]),
        ("export exportFoo=2", &[("exportFoo", "2")]),
        ("exportFOO=2", &[("exportFOO", "2")]),
        ("export_FOO =2", &[("export_FOO", "2")]),
        ("export.FOO= 2", &[("export.FOO", "2")]),
        ("export\tOPTION_A=2", &[("OPTION_A", "2")]),
        ("  export OPTION_A=2", &[("OPTION_A", "2")]),
        ("\texport OPTION_A=2", &[("OPTION_A", "2")]),
        (r#"FOO="bar\nbaz""#, &[("FOO", "bar\nbaz")]),
        ("FOO.BAR=foobar", &[("FOO.BAR", "foobar")]),
        ("FOO=foobar=", &[("FOO", "foobar=")]),
        ("FOO=bar ", &[("FOO", "bar")]),
        ("FOO=bar # this is foo", &[("FOO", "bar")]),
        (r#"FOO="bar#baz" # comment"#, &[("FOO", "bar#baz")]),
        ("FOO='bar#baz' # comment", &[("FOO", "bar#baz")]),
        (
            r#"FOO="bar#baz#bang" # comment"#,
            &[("FOO", "bar#baz#bang")],
        ),
        (r#"FOO="ba#r""#, &[("FOO", "ba#r")]),
        ("FOO='ba#r'", &[("FOO", "ba#r")]),
        // parser.go: `\ ` is no escape (kept), `\a` is BEL, `\\` one backslash.
        (r#"FOO="bar\n\ b\az""#, &[("FOO", "bar\n\\ b\u{7}z")]),
        (r#"FOO="bar\\\n\ b\az""#, &[("FOO", "bar\\\n\\ b\u{7}z")]),
        (r#"FOO="bar\\r\ b\az""#, &[("FOO", "bar\\r\\ b\u{7}z")]),
        (" KEY =value", &[("KEY", "value")]),
        ("   KEY=value", &[("KEY", "value")]),
        ("\tKEY=value", &[("KEY", "value")]),
        // TestExpanding
        ("FOO=test\nBAR=$FOO", &[("FOO", "test"), ("BAR", "test")]),
        (
            "FOO=test\nBAR=${FOO}bar",
            &[("FOO", "test"), ("BAR", "testbar")],
        ),
        ("BAR=$FOO", &[("BAR", "")]),
        (
            "FOO=test\nBAR=\"quote $FOO\"",
            &[("FOO", "test"), ("BAR", "quote test")],
        ),
        ("BAR='quote $FOO'", &[("BAR", "quote $FOO")]),
        (r#"FOO="foo\$BAR""#, &[("FOO", "foo$BAR")]),
        (r#"FOO="foo\${BAR}""#, &[("FOO", "foo${BAR}")]),
        (
            "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
            &[("FOO", "test"), ("BAR", "foo${FOO} test")],
        ),
        // var expansion tests (defaults, against keys defined before)
        (
            "E=\nR=${U:-Default Value}",
            &[("E", ""), ("R", "Default Value")],
        ),
        (
            "E=\nR=${E:-Default Value}",
            &[("E", ""), ("R", "Default Value")],
        ),
        ("E=\nR=${E-Default Value}", &[("E", ""), ("R", "")]),
        ("R=${U-Default Value}", &[("R", "Default Value")]),
        ("T=v\nR=${T:?must}", &[("T", "v"), ("R", "v")]),
        ("A=$$HOME\nB=a$$b", &[("A", "$HOME"), ("B", "a$b")]),
        // TestVariableStringValueSeparator and fixtures/quoted.env
        (
            "TEST_URLS=\"stratum+tcp://a:3333\nstratum+tcp://a:443\"",
            &[("TEST_URLS", "stratum+tcp://a:3333\nstratum+tcp://a:443")],
        ),
        (
            "OPTION_J='first line\nsecond line'\nOPTION_Z=last value",
            &[
                ("OPTION_J", "first line\nsecond line"),
                ("OPTION_Z", "last value"),
            ],
        ),
        ("OPTION_H=\"\\n\"", &[("OPTION_H", "\n")]),
        ("OPTION_I=\"echo 'asd'\"", &[("OPTION_I", "echo 'asd'")]),
        (
            "OPTION_C=''\nOPTION_G=\"\"",
            &[("OPTION_C", ""), ("OPTION_G", "")],
        ),
        // parser_test.go
        (
            "\na=b\na[1]=c\na.propertyKey=d\nárvíztűrő-TÜKÖRFÚRÓGÉP=ÁRVÍZTŰRŐ-tükörfúrógép\n",
            &[
                ("a", "b"),
                ("a[1]", "c"),
                ("a.propertyKey", "d"),
                ("árvíztűrő-TÜKÖRFÚRÓGÉP", "ÁRVÍZTŰRŐ-tükörfúrógép"),
            ],
        ),
        // parser.go rules: the whitespace rule of inline comments, BOM, CRLF.
        ("KEY= # x", &[("KEY", "# x")]),
        ("A=1\t# not a comment", &[("A", "1\t# not a comment")]),
        ("A=a#b", &[("A", "a#b")]),
        ("A=   spaced out  \t", &[("A", "spaced out")]),
        ("A=\nB=", &[("A", ""), ("B", "")]),
        ("\u{feff}A=1", &[("A", "1")]),
        (
            "A=1\r\nB=\"2\"\r\nC='x'\r\n",
            &[("A", "1"), ("B", "2"), ("C", "x")],
        ),
        ("A=\"l1\r\nl2\"", &[("A", "l1\r\nl2")]),
        ("A='it\\'s'", &[("A", "it's")]),
        ("A='x\\y'", &[("A", "x\\y")]),
        (r#"A="\0101\0""#, &[("A", "A\\0")]),
        (r#"A="a\qb""#, &[("A", "a\\qb")]),
        ("# hi\n  # indented\n\n  \nA=1", &[("A", "1")]),
        ("A=héllo wörld", &[("A", "héllo wörld")]),
        ("A=it's", &[("A", "it's")]),
        ("A=1\nA=2", &[("A", "1"), ("A", "2")]),
        ("A=arcane:v1:AbC-_", &[("A", "arcane:v1:AbC-_")]),
        ("A='x' # c", &[("A", "x")]),
        ("A=\"x\"#c", &[("A", "x")]),
    ];
    for (text, want) in cases {
        assert_eq!(
            p(text).unwrap_or_else(|e| panic!("{text:?}: {e}")),
            kv(want),
            "{text:?}"
        );
    }
}

/// compose accepts these with another meaning (or silently drops them);
/// arcane refuses them with the line and column.
#[test]
fn deliberate_differences_are_errors() {
    let cases: &[(&str, usize, usize, &str, &str)] = &[
        // compose: inherited from the shell
        ("A=1\nJUSTKEY\n", 2, 1, "no '='", "from the shell"),
        ("A=1\n  JUST KEY", 2, 3, "no '='", ""),
        // compose: key "" with value "value"
        ("=\"value\"", 1, 1, "missing key", ""),
        // compose: parsed, then ignored by Read
        ("1A=x", 1, 1, "invalid key name", "digit"),
        ("MY KEY=x", 1, 3, "cannot contain a space", ""),
        ("lol$wut", 1, 4, "unexpected character '$'", ""),
        ("A=1\nB=\"abc\nC=2", 2, 3, "unterminated double", ""),
        ("B='abc", 1, 3, "unterminated single", ""),
        ("B=\"abc\\\"", 1, 3, "unterminated double", ""),
        ("KEY=\"", 1, 5, "unterminated double", ""),
        // compose: a new statement `b` (inherited)
        ("B=\"a\"b", 1, 6, "after the closing quote", ""),
        ("A=\"x\ny\"\nnope", 3, 1, "no '='", ""),
        // compose: the same errors ("Invalid template")
        ("A=price$", 1, 8, "write `$$`", ""),
        ("A=${B", 1, 3, "never closed", ""),
    ];
    for (text, line, col, msg, help) in cases {
        let e = parse(text, Path::new("t.env")).expect_err(text);
        assert_eq!(
            (e.line, e.column),
            (Some(*line), Some(*col)),
            "{text:?}: {e}"
        );
        assert!(e.message.contains(msg), "{text:?}: {e}");
        assert!(
            e.help.clone().unwrap_or_default().contains(help),
            "{text:?}: {e:?}"
        );
        assert_eq!(e.file, Path::new("t.env"));
    }
}

#[test]
fn entries_carry_line_spans_and_raw_values() {
    let text = "# c\nexport A=one # c\nB='two'\r\nC=\"th\nree\" # x\nD=\n";
    let es = parse(text, Path::new("t.env")).unwrap();
    let got: Vec<(usize, &str, &str, Quote, bool)> = es
        .iter()
        .map(|e| {
            (
                e.line,
                &text[e.span.clone()],
                &text[e.raw.clone()],
                e.quote,
                e.export,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "one", "one # c", Quote::None, true),
            (3, "'two'", "'two'", Quote::Single, false),
            (4, "\"th\nree\"", "\"th\nree\" # x", Quote::Double, false),
            (6, "", "", Quote::None, false),
        ]
    );
    assert_eq!(&text[es[0].line_start..es[0].raw.start], "export A=");
    assert_eq!(&text[es[1].raw.end..es[1].end], "\r\n");
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
        "ends\\",
        "back\\slash and 'q'\n",
        "$HOME",
        "${HOME}",
        "$$",
        "$HOME 'q'\n",
        "tab\there",
        "cr\r\n",
        "ünï cödé",
        "'",
        "\"",
        "\\",
        "=",
        "#",
        "\\'",
        "\\\"",
        "\\$",
        "\\0101",
        "\u{85}nel\u{a0}",
        " # x",
    ];
    for v in values {
        let line = format_line("K", v);
        let got = p(&line).unwrap_or_else(|e| panic!("{v:?} -> {line:?}: {e}"));
        assert_eq!(got, kv(&[("K", v)]), "{v:?} written as {line:?}");
    }
    assert_eq!(quote_value("plain"), "plain");
    assert_eq!(quote_value("a b"), "'a b'");
    assert_eq!(quote_value("it's $x"), "\"it's \\$x\"");
}

proptest::proptest! {
    /// Whatever `env set` writes reads back byte for byte.
    #[test]
    fn any_value_round_trips(v in "\\PC*|[\\x00-\\x7f]*|[$'\"\\\\#\n\r\t {} ]*") {
        let line = format_line("K", &v);
        let got = p(&line).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(got, kv(&[("K", &v)]), "written as {:?}", line);
    }
}
