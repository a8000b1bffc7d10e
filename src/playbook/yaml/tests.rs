//! Unit tests of the parent module.

use super::*;

#[test]
fn positions_are_one_based() {
    let docs = parse("a: 1\nb:\n  - x\n").unwrap().docs;
    let b = docs[0].get("b").unwrap();
    let NodeKind::Seq(items) = &b.kind else {
        panic!("not a seq")
    };
    assert_eq!(items[0].span.start.line, 3);
    assert_eq!(items[0].span.start.col, 5);
    assert_eq!(items[0].span.start.offset, 12);
}

#[test]
fn duplicate_keys_are_reported() {
    let d = parse("a: 1\na: 2\n").unwrap();
    assert_eq!(d.duplicate_keys.len(), 1);
    assert_eq!(d.duplicate_keys[0].pos.line, 2);
}

#[test]
fn syntax_errors_carry_a_position() {
    let e = parse("a: [1, 2\nb: 3\n").err().unwrap();
    assert!(e.pos.line >= 1, "{e:?}");
}

#[test]
fn aliases_copy_the_anchored_node() {
    let d = parse("a: &x {k: v}\nb: *x\n").unwrap();
    assert_eq!(
        d.docs[0].get("b").unwrap().get("k").unwrap().scalar_text(),
        Some("v")
    );
}

#[test]
fn multiple_documents_and_non_ascii_offsets() {
    let d = parse("é: 1\n---\nb: 2\n").unwrap();
    assert_eq!(d.docs.len(), 2);
    let (_, v) = match &d.docs[0].kind {
        NodeKind::Map(e) => e[0].clone(),
        _ => panic!(),
    };
    assert_eq!(v.span.start.offset, 4); // 'é' is two bytes
}

#[test]
fn offsets_of_non_ascii_text_match_a_scan_from_the_start() {
    let src = "é: [ü, {ß: ñ}]\n# ☃\nb: \"日本\"\nc: &x {k: é}\nd: *x\n";
    let naive = |c: usize| src.char_indices().nth(c).map_or(src.len(), |(b, _)| b);
    let o = Offsets::new(src);
    // Forwards, backwards and jumps, as the parser reports them.
    for c in [0, 3, 9, 2, 30, 31, 1, 40, 18, 500, 0, 7] {
        assert_eq!(o.byte(c), naive(c), "char {c}");
    }
}

#[test]
fn aliases_and_depth_are_limited() {
    let e = parse("a: &a [1, 2]\nb: [*a, *a]\n").unwrap();
    assert_eq!(e.docs.len(), 1);
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for l in 1..9 {
        bomb += &format!(
            "a{l}: &a{l} [{}]\n",
            vec![format!("*a{}", l - 1); 10].join(", ")
        );
    }
    let e = parse(&bomb).err().unwrap();
    assert!(e.message.contains("alias expansion limit"), "{e:?}");
    assert_eq!(e.pos.line, 5, "{e:?}");
    let deep = "[".repeat(limits::MAX_DEPTH + 1);
    let e = parse(&deep).err().unwrap();
    assert!(e.message.contains("nesting depth limit"), "{e:?}");
    assert_eq!(e.pos.col, limits::MAX_DEPTH + 1);
    // An alias may not copy a deep node into a deep place.
    let half = limits::MAX_DEPTH / 2 + 1;
    let text = format!(
        "a: &d {}x{}\nb: {}*d{}\n",
        "[".repeat(half),
        "]".repeat(half),
        "[".repeat(half),
        "]".repeat(half)
    );
    let e = parse(&text).err().unwrap();
    assert!(e.message.contains("nesting depth limit"), "{e:?}");
}

#[test]
fn only_files_that_look_like_ours_are_shown() {
    let keys = ["apiVersion", "kind"];
    assert!(looks_like("apiVersion: v1\nkind: Pod\n", &keys));
    assert!(looks_like("x: {a: 1}\nkind: Pod\n", &keys));
    assert!(looks_like("kind: Pod\nmetadata: {name: \"broken\n", &keys));
    assert!(!looks_like("x: {kind: 1}\n", &keys));
    assert!(!looks_like("-----BEGIN PRIVATE KEY-----\nAAAA\n", &keys));
    assert!(!looks_like("root:$6$x:19000:0:99999:7:::\n", &keys));
    assert!(!looks_like("PATH=/bin\0HOME=/root\0", &keys));
    assert!(!looks_like("- kind\n", &keys));
    assert!(!looks_like("", &keys));
}
