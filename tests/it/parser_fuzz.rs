//! The playbook parser never panics: arbitrary bytes, and valid playbooks mutated at random
//! (bytes dropped, duplicated, replaced; lines swapped, re-indented, cut), are loaded and must
//! give a plan or diagnostics. Deterministic seeds, bounded in count and time, so it is part of
//! every test run. A failure prints the input that broke it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use kind_chaos::playbook::{self, Sources};

/// xorshift64*: small, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\n",
    "  ",
    "&a ",
    "*a",
    "!!str ",
    "'",
    "\"",
    "#",
    "~",
    "-1",
    "1e9",
    "null",
    "true",
    "5 minutes",
    "---\n",
    "? ",
    "|\n",
    "\t",
    "é",
    "\u{0}",
    "name: x\n",
    "group:\n  - ",
    "&b [*a, *a, *a]",
    "*b",
    "[[[[[[[[",
    "{a: {b: {c: ",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut s: Vec<char> = input.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if !s.is_empty() => {
                let end = (at + rng.below(12)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let tok = TOKENS[rng.below(TOKENS.len())];
                for (i, c) in tok.chars().enumerate() {
                    s.insert((at + i).min(s.len()), c);
                }
            }
            2 if !s.is_empty() => {
                let i = at.min(s.len() - 1);
                s[i] = char::from_u32(rng.below(0x7f) as u32).unwrap_or(' ');
            }
            3 => {
                let text: String = s.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    lines.swap(a, b);
                }
                s = lines.join("\n").chars().collect();
            }
            4 => {
                let text: String = s.iter().collect();
                let mut lines: Vec<String> = text.lines().map(String::from).collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    lines[i] = format!("{}{}", " ".repeat(rng.below(5)), lines[i].trim_start());
                }
                s = lines.join("\n").chars().collect();
            }
            _ => {
                let end = (at + rng.below(40)).min(s.len());
                let chunk: Vec<char> = s[at.min(end)..end].to_vec();
                for (i, c) in chunk.into_iter().enumerate() {
                    s.insert((end + i).min(s.len()), c);
                }
            }
        }
    }
    s.into_iter().collect()
}

fn load_must_not_panic(text: &str) {
    let dir = Path::new("tests/fixtures/valid/fuzz.yaml");
    let r = catch_unwind(AssertUnwindSafe(|| {
        if let Err(e) = playbook::load_str(dir, text, Sources::default()) {
            assert!(
                !e.diagnostics.is_empty(),
                "an invalid playbook without diagnostics"
            );
            let _ = e.render(false);
        }
    }));
    if r.is_err() {
        panic!("the parser panicked on this input:\n-----\n{text}\n-----\n{text:?}");
    }
}

fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "playbooks",
        "tests/fixtures/valid",
        "tests/fixtures/invalid",
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                out.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    out
}

const BUDGET: Duration = Duration::from_secs(8);

#[test]
fn mutated_playbooks_never_panic_the_parser() {
    // Panics are caught per input; keep the default hook from printing each one.
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = Instant::now();
    let mut n = 0;
    while n < 20_000 && start.elapsed() < BUDGET {
        let base = &seeds[rng.below(seeds.len())];
        let mut text = mutate(&mut rng, base);
        if rng.below(3) == 0 {
            text = mutate(&mut rng, &text);
        }
        load_must_not_panic(&text);
        n += 1;
    }
    assert!(n >= 500, "only {n} inputs in {BUDGET:?}");
}

#[test]
fn arbitrary_bytes_never_panic_the_parser() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let start = Instant::now();
    let mut n = 0;
    while n < 20_000 && start.elapsed() < BUDGET / 2 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        load_must_not_panic(&String::from_utf8_lossy(&bytes));
        n += 1;
    }
    assert!(n >= 500, "only {n} inputs");
}

#[test]
fn invalid_utf8_files_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, b"name: \xff\xfe\n").unwrap();
    let e = playbook::load(&p).unwrap_err();
    assert!(
        e.diagnostics[0].message.contains(
            "cannot read the playbook: it is not UTF-8 text: invalid byte 0xff at line 1, column 7"
        ),
        "{:?}",
        e.diagnostics
    );
    assert!(e.diagnostics[0].to_string().contains("bad.yaml:1:7:"));
}

/// Chains of aliases, each level repeating the one before `fan` times: 10^9 nodes at nine
/// levels of ten if expanded. They must stop at the alias limit, quickly.
fn alias_chain(levels: usize, fan: usize) -> String {
    let mut s = String::from("a0: &a0 [x, y]\n");
    for l in 1..=levels {
        let refs = vec![format!("*a{}", l - 1); fan].join(", ");
        s += &format!("a{l}: &a{l} [{refs}]\n");
    }
    s
}

fn diagnostics(text: &str) -> Vec<String> {
    match playbook::load_str(Path::new("fuzz.yaml"), text, Sources::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn alias_expansion_is_bounded() {
    let mut rng = Rng(0xA11A_5B0B_0000_0001);
    for _ in 0..40 {
        let (levels, fan) = (1 + rng.below(12), 1 + rng.below(40));
        let text = alias_chain(levels, fan);
        let start = Instant::now();
        load_must_not_panic(&text);
        assert!(
            start.elapsed() < BUDGET / 4,
            "{levels} levels of {fan} took {:?}",
            start.elapsed()
        );
        // 2 + 1 nodes at the bottom, each level `fan` times the one below (plus its list).
        let mut nodes = 3usize;
        let mut added = 0usize;
        for _ in 0..levels {
            added = added.saturating_add(nodes.saturating_mul(fan));
            nodes = nodes.saturating_mul(fan).saturating_add(1);
        }
        let d = diagnostics(&text);
        let limited = d.iter().any(|m| m.contains("alias expansion limit"));
        assert_eq!(
            limited,
            added > playbook::limits::MAX_ALIAS_NODES,
            "{levels} levels of {fan}: {d:?}"
        );
    }
}

#[test]
fn nesting_depth_is_bounded() {
    let max = playbook::limits::MAX_DEPTH;
    let mut rng = Rng(0xDEE9_0000_0000_0002);
    let start = Instant::now();
    for i in 0..300 {
        let depth = match i % 3 {
            0 => max - 2 + rng.below(5),
            1 => rng.below(50_000),
            _ => rng.below(2 * max),
        };
        let text = match rng.below(4) {
            0 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            1 => format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
            2 => format!(
                "steps:\n  - {}{{sleep: 1s}}{}\n",
                "{group: [".repeat(depth / 2),
                "]}".repeat(depth / 2)
            ),
            // An alias copies a deep node into a deep place.
            _ => format!(
                "a: &d {}x{}\nb: {}*d{}\n",
                "[".repeat(depth / 2),
                "]".repeat(depth / 2),
                "[".repeat(depth / 2),
                "]".repeat(depth / 2)
            ),
        };
        load_must_not_panic(&text);
    }
    let over = format!("{}{}", "[".repeat(max + 1), "]".repeat(max + 1));
    assert!(
        diagnostics(&over)
            .iter()
            .any(|m| m.contains("fuzz.yaml:1:") && m.contains("nesting depth limit")),
        "{:?}",
        diagnostics(&over)
    );
    let at = format!("{}{}", "[".repeat(max), "]".repeat(max));
    assert!(
        !diagnostics(&at).iter().any(|m| m.contains("depth limit")),
        "{max} levels are allowed"
    );
    assert!(start.elapsed() < BUDGET, "took {:?}", start.elapsed());
}

#[test]
fn size_is_bounded_and_parsing_is_linear() {
    let limit = playbook::limits::MAX_FILE_BYTES as usize;
    let over = format!("a: \"{}\"\n", "x".repeat(limit));
    assert!(
        diagnostics(&over)
            .iter()
            .any(|m| m.contains("file size limit of 1 MiB")),
    );
    // Just under the limit, with one non-ASCII character and with many small nodes: parsing
    // time grows linearly (the quadratic cases took 15 s and more for a few hundred KB).
    let mut rng = Rng(0x5125_0000_0000_0003);
    for _ in 0..3 {
        let size = limit / 2 + rng.below(limit / 2 - 1024);
        let wide = format!("a: \"é{}\"\n", "x".repeat(size));
        let start = Instant::now();
        load_must_not_panic(&wide);
        assert!(
            start.elapsed() < BUDGET / 2,
            "{size} B took {:?}",
            start.elapsed()
        );
    }
    let mut keys = String::from("steps:\n");
    let mut i = 0;
    while keys.len() < limit / 4 {
        keys += &format!("  - é{i}: x\n");
        i += 1;
    }
    let start = Instant::now();
    load_must_not_panic(&keys);
    assert!(
        start.elapsed() < BUDGET,
        "{i} unknown steps took {:?}",
        start.elapsed()
    );
}
