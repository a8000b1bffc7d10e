//! Every invalid fixture renders all of its problems with file:line:col and a code frame; the
//! rendered text is pinned by snapshots (review changes with `cargo insta review`).

use std::path::Path;

use kind_chaos::playbook;

fn render(name: &str) -> (String, usize) {
    let path = Path::new("tests/fixtures/invalid").join(name);
    match playbook::load(&path) {
        Ok(_) => panic!("{name} should be invalid"),
        Err(e) => (e.render(false), e.diagnostics.len()),
    }
}

macro_rules! fixture {
    ($test:ident, $file:literal, $count:expr, $line:literal) => {
        #[test]
        fn $test() {
            let (text, count) = render($file);
            assert_eq!(count, $count, "{text}");
            assert!(
                text.contains(concat!("tests/fixtures/invalid/", $file, ":", $line)),
                "{text}"
            );
            insta::assert_snapshot!(text);
        }
    };
}

fixture!(yaml_syntax_error, "syntax-error.yaml", 1, "5:");
fixture!(
    unknown_top_level_key,
    "unknown-top-level-key.yaml",
    1,
    "4:1"
);
fixture!(empty_file, "empty.yaml", 1, "1:1");
fixture!(comment_only_file, "comment-only.yaml", 1, "1:1");
fixture!(every_error_at_once, "many-errors.yaml", 12, "4:10");
fixture!(
    wrong_header_and_two_actions_in_a_step,
    "wrong-header.yaml",
    3,
    "1:13"
);
fixture!(duplicate_keys, "duplicate-keys.yaml", 2, "4:1");
fixture!(two_documents, "two-documents.yaml", 1, "7:1");
fixture!(steps_not_a_list, "steps-not-a-list.yaml", 1, "4:8");

#[test]
fn bad_manifests_are_reported_against_the_manifest_file_with_the_document_index() {
    let (text, count) = render("bad-manifest.yaml");
    assert_eq!(count, 3, "{text}");
    assert!(text.contains("manifests/not-objects.yaml:5:1"), "{text}");
    assert!(text.contains("document 2 of the manifest"), "{text}");
    assert!(text.contains("manifests/not-yaml.yaml:3:"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let e = playbook::load(Path::new("tests/fixtures/nope.yaml")).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1);
    assert!(
        e.diagnostics[0]
            .message
            .starts_with("cannot read the playbook: ")
    );
}

#[test]
fn valid_fixtures_and_every_shipped_playbook_load() {
    let mut n = 0;
    for dir in ["tests/fixtures/valid", "playbooks"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                if let Err(e) = playbook::load(&path) {
                    panic!("{} is invalid:\n{}", path.display(), e.render(false));
                }
                n += 1;
            }
        }
    }
    assert!(n >= 4, "only {n} playbooks found");
}

#[test]
fn shipped_playbooks_carry_the_schema_modeline_and_a_description() {
    for entry in std::fs::read_dir("playbooks").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with(
                    "# yaml-language-server: $schema=../schema/playbook.schema.json\n"
                ),
                "{} lacks the modeline",
                path.display()
            );
            let plan = playbook::load(&path).unwrap();
            assert!(
                plan.description.is_some(),
                "{} has no description",
                path.display()
            );
        }
    }
}
