//! The floors of ARCHITECTURE.md, checked: a module of `src/` names (through `crate::` or
//! `super::` up to the crate root) only its own floor and the floors below it, never one above,
//! and `engine`, `playbook` and `observe` name no adapter crate's types. Text is read, not
//! compiled: a comment does not count, a `use crate::{a::x, b::y}` group counts each of its
//! names, and a macro counts as the floor that defines it (`errln!` is report's).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The floors, top to bottom; a floor may name those after it. `exit` is the CLI's exit codes.
const FLOORS: &[&[&str]] = &[
    &["cli", "exit"],
    &["report"],
    &["journal"],
    &["engine"],
    &["observe"],
    &["backends"],
    &["playbook"],
    &["state_dir"],
];

/// Exported macros, which `crate::NAME` names at the root, by the floor that defines them.
const MACROS: &[(&str, &str)] = &[
    ("outln", "report"),
    ("out", "report"),
    ("errln", "report"),
    ("err", "report"),
];

/// Crates of the adapters that the pure floors never name.
const ADAPTER_CRATES: &[&str] = &["kube", "bollard", "etcd_client", "k8s_openapi", "indicatif"];
const PURE_FLOORS: &[&str] = &["engine", "playbook", "observe"];

fn floor_of(name: &str) -> Option<usize> {
    let name = MACROS
        .iter()
        .find(|(m, _)| *m == name)
        .map_or(name, |(_, f)| f);
    FLOORS.iter().position(|f| f.contains(&name))
}

/// The file's text without comments (`//` to the end of a line; no block comments in src/).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            }
            if !in_str && c == '/' && prev == '/' {
                cut = i - 1;
                break;
            }
            prev = c;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segments of the paths in `{a::x, b::{y, z}, c}`: `a`, `b`, `c`.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => start = true,
            c if start && (c.is_ascii_alphabetic() || c == '_') && depth == 0 => {
                heads.push(ident_at(&group[i..]).to_string());
                start = false;
            }
            _ => {}
        }
    }
    heads
}

/// The crate-level names a file's code reaches: after `crate::` (or `$crate::`), and after as
/// many `super::` as climb from the file's module to the crate root.
fn crate_names(code: &str, depth: usize) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut add = |rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            names.extend(group_heads(&group[..end]));
        } else {
            names.insert(ident_at(rest).to_string());
        }
    };
    for (i, _) in code.match_indices("crate::") {
        add(&code[i + "crate::".len()..]);
    }
    let climb = "super::".repeat(depth);
    for (i, _) in code.match_indices(&climb) {
        let before = &code[..i];
        if before.ends_with("super::") {
            continue; // counted from its first `super::`
        }
        let rest = &code[i + climb.len()..];
        if !rest.starts_with("super::") {
            add(rest);
        }
    }
    names
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Every way `code`, in a file of floor `floor` at module depth `depth`, names a floor above.
fn upward(floor: &str, depth: usize, code: &str) -> Vec<String> {
    let here = floor_of(floor).unwrap_or_else(|| panic!("{floor} is on no floor"));
    crate_names(code, depth)
        .into_iter()
        .filter_map(|n| floor_of(&n).map(|f| (n, f)))
        .filter(|(_, f)| *f < here)
        .map(|(n, _)| n)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (floor, module depth, code) of every library file of src/ (not main.rs nor lib.rs).
fn library() -> Vec<(PathBuf, String, usize, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).unwrap().to_path_buf();
            let parts: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts == ["main"] || parts == ["lib"] {
                return None;
            }
            let depth = parts.len() - usize::from(parts.last().is_some_and(|p| p == "mod"));
            let text = std::fs::read_to_string(&path).unwrap();
            Some((rel, parts[0].clone(), depth, code(&text)))
        })
        .collect()
}

#[test]
fn no_floor_names_a_floor_above_it() {
    let files = library();
    assert!(files.len() > 100, "src/ not found: {} files", files.len());
    let mut found = Vec::new();
    for (rel, floor, depth, code) in &files {
        for name in upward(floor, *depth, code) {
            found.push(format!("{} ({floor}) names {name}", rel.display()));
        }
    }
    assert!(found.is_empty(), "upward names:\n{}", found.join("\n"));
}

#[test]
fn the_pure_floors_name_no_adapter_crate() {
    let mut found = Vec::new();
    for (rel, floor, _, code) in library() {
        if !PURE_FLOORS.contains(&floor.as_str()) {
            continue;
        }
        for krate in ADAPTER_CRATES {
            let named = code.match_indices(&format!("{krate}::")).any(|(i, _)| {
                !code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            });
            if named {
                found.push(format!("{} ({floor}) names {krate}", rel.display()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The reader itself: what it must catch, and what it must let pass.
#[test]
fn the_check_sees_groups_macros_and_super_and_skips_comments() {
    let up = |floor, depth, text: &str| upward(floor, depth, &code(text));
    assert_eq!(
        up(
            "journal",
            1,
            "use crate::{\n    engine::UndoRecord,\n    report::{out, style},\n};\n"
        ),
        ["report"]
    );
    assert_eq!(up("journal", 1, "crate::errln!(\"x\");"), ["errln"]);
    assert_eq!(up("engine", 2, "use super::super::cli::run;"), ["cli"]);
    assert!(up("engine", 3, "use super::super::report::x;").is_empty());
    assert!(up("engine", 1, "// see crate::report\nuse crate::backends::X;").is_empty());
    assert!(up("engine", 1, "let s = \"//\"; use crate::playbook::Plan;").is_empty());
    assert_eq!(
        up("playbook", 1, "let s = \"//\"; crate::exit::Exit::Passed"),
        ["exit"]
    );
}
