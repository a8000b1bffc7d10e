//! Unit tests of the selector parser: one per upstream rule.

use super::*;

fn ok(s: &str) -> Vec<Requirement> {
    parse(s).unwrap_or_else(|e| panic!("{s:?}: {e:?}")).0
}

fn err(s: &str) -> SelectorError {
    match parse(s) {
        Ok(sel) => panic!("{s:?} parsed as {sel:?}"),
        Err(e) => e,
    }
}

fn r(key: &str, op: Op, values: &[&str]) -> Requirement {
    Requirement {
        key: key.into(),
        op,
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

#[test]
fn every_operator() {
    assert_eq!(
        ok("a=b, c==d,e!=f, g in (h, i), j notin (k), l, !m, n>1, o<2"),
        vec![
            r("a", Op::Equals, &["b"]),
            r("c", Op::DoubleEquals, &["d"]),
            r("e", Op::NotEquals, &["f"]),
            r("g", Op::In, &["h", "i"]),
            r("j", Op::NotIn, &["k"]),
            r("l", Op::Exists, &[]),
            r("m", Op::DoesNotExist, &[]),
            r("n", Op::GreaterThan, &["1"]),
            r("o", Op::LessThan, &["2"]),
        ]
    );
}

#[test]
fn the_empty_selector_selects_everything() {
    assert_eq!(ok(""), vec![]);
    assert_eq!(ok("  "), vec![]);
}

#[test]
fn whitespace_separates_tokens() {
    assert_eq!(ok(" a \t=\n b "), vec![r("a", Op::Equals, &["b"])]);
    assert_eq!(ok("! a"), vec![r("a", Op::DoesNotExist, &[])]);
}

#[test]
fn keywords_are_values_after_an_operator() {
    assert_eq!(ok("mode=in"), vec![r("mode", Op::Equals, &["in"])]);
    assert_eq!(
        ok("x in (in,notin)"),
        vec![r("x", Op::In, &["in", "notin"])]
    );
}

#[test]
fn an_exact_value_may_be_empty() {
    assert_eq!(ok("a="), vec![r("a", Op::Equals, &[""])]);
    assert_eq!(
        ok("a=,b"),
        vec![r("a", Op::Equals, &[""]), r("b", Op::Exists, &[])]
    );
}

#[test]
fn set_values_may_hold_the_empty_value() {
    assert_eq!(ok("a in ()"), vec![r("a", Op::In, &[""])]);
    assert_eq!(ok("a in (,b)"), vec![r("a", Op::In, &["", "b"])]);
    assert_eq!(ok("a in (b,)"), vec![r("a", Op::In, &["b", ""])]);
    assert_eq!(ok("a in (b,,c)"), vec![r("a", Op::In, &["b", "", "c"])]);
}

#[test]
fn the_longest_symbol_wins() {
    // `!=` is one token, `=>` is `=` then `>`, which is not a value.
    assert_eq!(ok("a!=b"), vec![r("a", Op::NotEquals, &["b"])]);
    let e = err("a=>b");
    assert_eq!((e.at, e.len), (2, 1), "{e:?}");
    assert!(e.message.contains("expected a value"), "{e:?}");
}

#[test]
fn a_comma_needs_a_requirement_after_it() {
    let e = err("a=b,");
    assert!(
        e.message.contains("expected a label key after `,`"),
        "{e:?}"
    );
    let e = err("a=b,,c");
    assert_eq!(e.at, 4);
}

#[test]
fn requirements_need_a_separator() {
    let e = err("a=b c=d");
    assert_eq!((e.at, e.len), (4, 1));
    assert!(e.message.contains("expected `,` or the end"), "{e:?}");
    let e = err("a=b=c");
    assert_eq!(e.at, 3);
}

#[test]
fn an_operator_must_be_known() {
    let e = err("a!b");
    assert_eq!(e.at, 1);
    assert!(e.message.contains("expected one of `=`"), "{e:?}");
    let e = err("a (b)");
    assert!(e.message.contains("found `(`"), "{e:?}");
}

#[test]
fn a_selector_starts_with_a_key_or_bang() {
    let e = err("=b");
    assert!(e.message.contains("expected `!` or a label key"), "{e:?}");
    let e = err("!!a");
    assert_eq!(e.at, 1);
    assert!(e.message.contains("expected a label key"), "{e:?}");
}

#[test]
fn does_not_exist_takes_no_value() {
    let e = err("!a=b");
    assert_eq!(e.at, 2);
}

#[test]
fn set_operators_need_parentheses() {
    // parseIdentifiersList: a second comma is read as an empty value, then `)` is not a
    // value.
    let cases = [
        ("a in b", "expected `(`"),
        ("a in (b", "expected `,` or `)`"),
        ("a in (b c)", "expected `,` or `)`"),
        ("a in (=)", "expected `,`, `)` or a value"),
        ("a in (,,)", "found `)`"),
        ("a in (b,,)", "found `)`"),
        ("a in (b,=)", "expected `,` or a value"),
        ("a in", "expected `(`"),
    ];
    for (selector, says) in cases {
        let message = err(selector).message;
        assert!(message.contains(says), "{selector}: {message}");
    }
}

#[test]
fn greater_and_less_than_take_integers() {
    assert!(err("a>b").message.contains("takes an integer"));
    assert!(err("a<1.5").message.contains("takes an integer"));
    assert!(err("a>99999999999999999999").message.contains("integer"));
    assert!(err("a>").message.contains("integer"));
    // ParseInt accepts a sign, but a signed number is not a label value (NewRequirement
    // checks both), so upstream rejects negative bounds too.
    assert!(err("a>-3").message.contains("invalid value `-3`"));
    assert!(err("a>+3").message.contains("invalid value `+3`"));
    assert_eq!(ok("a>007"), vec![r("a", Op::GreaterThan, &["007"])]);
}

#[test]
fn keys_are_qualified_names() {
    for good in [
        "app",
        "app.kubernetes.io/name",
        "A_b-c.D",
        "x/y",
        "1a",
        &"a".repeat(63),
    ] {
        assert_eq!(check_qualified_name(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("-a", "starting and ending"),
        ("a-", "starting and ending"),
        ("a b", "letters, digits"),
        ("/a", "prefix before `/` must not be empty"),
        ("a/", "name must not be empty"),
        ("a/b/c", "at most one `/`"),
        ("Example.com/a", "lower-case DNS subdomain"),
        ("ex..com/a", "lower-case DNS subdomain"),
        ("-ex.com/a", "lower-case DNS subdomain"),
        ("ex_a.com/a", "lower-case DNS subdomain"),
    ] {
        let e = check_qualified_name(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    assert!(
        check_qualified_name(&"a".repeat(64))
            .unwrap_err()
            .contains("no more than 63")
    );
    let long_prefix = format!("{}/a", ["a"; 128].join("."));
    assert!(
        check_qualified_name(&long_prefix)
            .unwrap_err()
            .contains("no more than 253")
    );
    let e = err("app.kubernetes.io/ name=x");
    assert!(e.message.contains("invalid label key"), "{e:?}");
}

#[test]
fn values_are_label_values() {
    for good in ["", "web", "1.36", "a_b-C.d", &"v".repeat(63)] {
        assert_eq!(check_label_value(good), Ok(()), "{good}");
    }
    for bad in ["-web", "web.", "a/b", "a:b", "é"] {
        assert!(check_label_value(bad).is_err(), "{bad}");
    }
    assert!(
        check_label_value(&"v".repeat(64))
            .unwrap_err()
            .contains("no more than 63")
    );
    let e = err("app=web/x");
    assert_eq!((e.at, e.len), (4, 5));
    assert!(e.message.contains("invalid value `web/x`"), "{e:?}");
    assert!(err("a in (b, -c)").message.contains("invalid value `-c`"));
    assert!(err("a!=b:c").message.contains("invalid value"));
}

#[test]
fn a_nul_byte_is_read_as_upstream_reads_it() {
    // Where a token would start, NUL ends the input...
    assert_eq!(ok("a=b \0garbage"), vec![r("a", Op::Equals, &["b"])]);
    // ...inside an identifier or after a symbol it only ends that token.
    assert_eq!(err("a=b\0garbage").at, 4);
    assert_eq!(ok("a=\0b"), vec![r("a", Op::Equals, &["b"])]);
}

#[test]
fn errors_point_into_plain_and_quoted_scalars() {
    let e = err("app=web c");
    let whole = |offset, col, len| Span {
        start: Pos {
            line: 3,
            col,
            offset,
        },
        end_offset: offset + len,
    };
    let src = "k:\n  x\n  selector: app=web c\n";
    let s = span_in(Some(src), "app=web c", whole(19, 13, 9), &e);
    assert_eq!((s.start.col, s.start.offset, s.len()), (21, 27, 1));
    let src = "k:\n  x\n  selector: \"app=web c\"\n";
    let s = span_in(Some(src), "app=web c", whole(19, 13, 11), &e);
    assert_eq!((s.start.col, s.start.offset), (22, 28));
    // Escapes or no source: the whole scalar.
    let src = "k:\n  x\n  selector: \"app=web\\x20c\"\n";
    let w = whole(19, 13, 14);
    assert_eq!(span_in(Some(src), "app=web c", w, &e), w);
    assert_eq!(span_in(None, "app=web c", w, &e), w);
    // Text of the right length that is not the value quoted, around a multi-byte character:
    // the whole scalar, and no panic.
    let e = err("\u{e9}=b c");
    let src = "k: \u{e9}\u{e9}=b c\n";
    let w = Span {
        start: Pos {
            line: 1,
            col: 4,
            offset: 3,
        },
        end_offset: src.len() - 1,
    };
    assert_eq!(span_in(Some(src), "\u{e9}=b c", w, &e), w);
}
