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
fixture!(
    common_wrong_shapes_say_what_to_write,
    "wrong-shapes.yaml",
    5,
    "6:17"
);
fixture!(resource_sizes, "resource-sizes.yaml", 5, "5:");
fixture!(bad_probes_and_steady_state, "bad-probes.yaml", 8, "5:11");
fixture!(
    a_probe_pattern_that_does_not_compile,
    "bad-probe-patterns.yaml",
    1,
    "6:13"
);
fixture!(
    bad_node_targets_and_pod_picks,
    "bad-node-targets.yaml",
    8,
    "8:"
);

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

// Hostile inputs: names that reach paths, files that are not playbooks or manifests, limits.

fixture!(
    a_cluster_name_that_is_a_path_is_refused,
    "cluster-path.yaml",
    1,
    "4:10"
);
fixture!(
    durations_longer_than_seven_days_are_refused,
    "durations-too-long.yaml",
    3,
    "4:10"
);
fixture!(
    etcd_delete_of_everything_is_refused,
    "etcd-delete-everything.yaml",
    3,
    "5:27"
);
fixture!(
    an_alias_bomb_hits_the_alias_limit,
    "alias-bomb.yaml",
    1,
    "9:36"
);
fixture!(
    non_regular_manifests_are_refused_unread,
    "apply-not-a-file.yaml",
    2,
    "5:12"
);

#[test]
fn files_that_are_not_manifests_are_named_but_never_shown() {
    let (text, count) = render("apply-secrets.yaml");
    assert_eq!(count, 4, "{text}");
    for secret in [
        "BEGIN PRIVATE KEY",
        "FAKEKEYMATERIAL",
        "root:",
        "FAKEHASH",
        "SECRET_TOKEN",
        "hunter2",
        "caf",
    ] {
        assert!(!text.contains(secret), "`{secret}` shown:\n{text}");
    }
    for path in [
        "manifests/private-key.pem",
        "manifests/shadow",
        "manifests/environ",
        // The first byte that is not UTF-8, by line and column.
        "manifests/not-utf8.yaml:3:21",
    ] {
        assert!(text.contains(path), "{path} not named:\n{text}");
    }
    insta::assert_snapshot!(text);
}

fn load_text(name: &str, bytes: &[u8]) -> (tempfile::TempDir, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let (text, n) = match playbook::load(&path) {
        Ok(_) => panic!("{name} should be invalid"),
        Err(e) => (e.render(false), e.diagnostics.len()),
    };
    (dir, text, n)
}

const HEADER: &str = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: x\n";

#[test]
fn a_playbook_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let (_d, text, n) = load_text(
        "bad.yaml",
        b"apiVersion: chaos/v1alpha1\nname: \xc3\xa9\xff\xfe\n",
    );
    assert_eq!(n, 1, "{text}");
    assert!(text.contains("bad.yaml:2:8:"), "{text}");
    assert!(
        text.contains("it is not UTF-8 text: invalid byte 0xff at line 2, column 8"),
        "{text}"
    );
}

#[test]
fn deep_nesting_hits_the_depth_limit_at_its_position() {
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let (_d, text, _) = load_text("deep.yaml", deep.as_bytes());
    assert!(
        text.contains("nested more than 100 levels deep (the nesting depth limit)"),
        "{text}"
    );
    assert!(text.contains("deep.yaml:1:"), "{text}");
    let block: String = (0..150).map(|d| format!("{}-\n", " ".repeat(d))).collect();
    let (_d, text, _) = load_text("block.yaml", block.as_bytes());
    assert!(text.contains("block.yaml:101:101:"), "{text}");
    assert!(text.contains("the nesting depth limit"), "{text}");
    let groups = format!(
        "{HEADER}steps:\n  - {}{{sleep: 1s}}{}\n",
        "{group: [".repeat(2_500),
        "]}".repeat(2_500)
    );
    let (_d, text, _) = load_text("groups.yaml", groups.as_bytes());
    assert!(text.contains("the nesting depth limit"), "{text}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let big = format!("{HEADER}description: \"{}\"\n", "x".repeat(5 << 20));
    let (_d, text, n) = load_text("big.yaml", big.as_bytes());
    assert_eq!(n, 1);
    assert!(
        text.contains("cannot read the playbook: it is larger than the file size limit of 1 MiB"),
        "{text}"
    );
    assert!(!text.contains("xxxx"), "{text}");
}

#[test]
fn a_fifo_playbook_or_manifest_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    let e = playbook::load(&fifo).unwrap_err();
    assert!(
        e.diagnostics[0]
            .message
            .contains("it is a FIFO (named pipe), not a regular file"),
        "{:?}",
        e.diagnostics
    );
    let pb = dir.path().join("p.yaml");
    std::fs::write(
        &pb,
        format!("{HEADER}setup:\n  - apply: fifo.yaml\nsteps:\n  - sleep: 1s\n"),
    )
    .unwrap();
    let text = playbook::load(&pb).unwrap_err().render(false);
    assert!(
        text.contains(
            "cannot read manifest `fifo.yaml`: it is a FIFO (named pipe), not a regular file"
        ),
        "{text}"
    );
}

#[test]
fn bad_label_selectors_are_refused_at_the_offending_token() {
    // The last selector of the fixture is valid (every operator): only the first five fail.
    let (text, count) = render("bad-selectors.yaml");
    assert_eq!(count, 5, "{text}");
    for at in ["5:56", "8:50", "10:61", "13:53", "17:19"] {
        assert!(
            text.contains(&format!("tests/fixtures/invalid/bad-selectors.yaml:{at}")),
            "{at}:\n{text}"
        );
    }
    assert!(text.contains("invalid label selector"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn resource_faults_shorter_than_a_second_are_refused_at_their_duration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("short.yaml");
    std::fs::write(
        &file,
        "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: short\nsteps:\n  - memory-hog: {node: w, size: 1Mi, duration: 500ms}\n  - disk-fill: {node: w, size: 1%, duration: 0s}\n  - cpu-hog: {node: w, cores: 0, duration: 1s}\n",
    )
    .expect("write");
    let err = match playbook::load(&file) {
        Ok(_) => panic!("short durations accepted"),
        Err(e) => e,
    };
    let text = err.render(false);
    assert_eq!(err.diagnostics.len(), 3, "{text}");
    assert_eq!(
        text.matches("a memory hog or a disk fill lasts at least 1s")
            .count(),
        2,
        "{text}"
    );
    assert!(text.contains("short.yaml:5:48"), "{text}");
    assert!(text.contains("short.yaml:6:46"), "{text}");
    assert!(text.contains("a CPU hog of 1 to 64 cores"), "{text}");
}
fixture!(
    references_to_earlier_steps_and_whole_lines,
    "lab-conditions.yaml",
    5,
    "7:"
);
fixture!(
    a_variable_unquoted_in_a_flow_collection_says_to_quote_it,
    "vars-in-flow.yaml",
    1,
    "7:59"
);
fixture!(
    container_kill_selectors_and_network_peer_targets,
    "pod-targets.yaml",
    7,
    "5:21"
);

fixture!(
    an_exec_probe_runs_in_one_node_or_one_pod,
    "bad-exec-targets.yaml",
    6,
    "5:11"
);
fixture!(
    an_http_probe_names_its_node_as_a_fault_does,
    "bad-http-targets.yaml",
    7,
    "8:18"
);
