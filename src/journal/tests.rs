//! The journal on disk: damaged lines, torn tails, forgetting, unique names, trust.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::engine::{UndoLog, UndoRecord};
use crate::state_dir::{check_own, current_uid};

fn unpause(node: &str) -> UndoRecord {
    UndoRecord::NodeUnpause { node: node.into() }
}

fn journal(state: &Path, name: &str) -> Journal {
    Journal::create(
        state,
        "kind",
        name,
        Path::new("p.yaml"),
        "2026-01-01T00:00:00Z",
        &Connection::default(),
    )
    .unwrap()
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn a_damaged_line_is_reported_with_its_number_and_every_other_entry_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = journal(dir.path(), "pb");
    j.intent("steps[0]", &unpause("a")).unwrap();
    append_raw(j.path(), b"{\"event\":\"intent\",\"id\":9,\"st\n");
    append_raw(j.path(), b"\xff\xfe not text\n");
    j.intent("steps[1]", &unpause("b")).unwrap();
    j.applied(2, &unpause("b"));
    let r = RunJournal::read(j.path()).unwrap();
    assert_eq!(r.owed().len(), 2, "{:?}", r.entries);
    let lines: Vec<usize> = r.unreadable.iter().map(|u| u.line).collect();
    assert_eq!(lines, vec![3, 4]);
    assert!(
        r.unreadable[1].reason.contains("not UTF-8"),
        "{:?}",
        r.unreadable
    );
    assert!(r.torn.is_none());
    assert!(r.needs_attention());
}

#[test]
fn a_torn_last_line_is_harmless_and_what_recover_appends_starts_on_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = journal(dir.path(), "pb");
    j.intent("steps[0]", &unpause("a")).unwrap();
    append_raw(
        j.path(),
        b"{\"event\":\"applied\",\"id\":1,\"undo\":{\"undo\":\"node-unp",
    );
    let path = j.path().to_path_buf();
    let r = RunJournal::read(&path).unwrap();
    assert_eq!(r.torn, Some(3));
    assert!(r.unreadable.is_empty());
    assert_eq!(r.owed().len(), 1);

    let mut log = Journal::append_to(&path).unwrap();
    log.write(&Line::Undone { id: 1 }).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(
            "node-unp\n{\"event\":\"torn\",\"line\":3}\n{\"event\":\"undone\",\"id\":1}\n"
        ),
        "{text}"
    );
    let r = RunJournal::read(&path).unwrap();
    assert_eq!(r.torn, Some(3), "still known as the torn tail");
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    assert!(r.owed().is_empty());
    assert!(!r.needs_attention());
}

#[test]
fn forgetting_an_entry_or_a_whole_run_is_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = journal(dir.path(), "pb");
    j.intent("steps[0]", &unpause("a")).unwrap();
    j.intent("steps[1]", &unpause("b")).unwrap();
    append_raw(j.path(), b"garbage\n");
    let path = j.path().to_path_buf();
    j.write(&Line::Forgotten {
        id: Some(2),
        at: "now".into(),
        uid: Some(0),
    })
    .unwrap();
    let r = RunJournal::read(&path).unwrap();
    assert_eq!(r.owed().iter().map(|e| e.id).collect::<Vec<_>>(), vec![1]);
    assert_eq!(r.unresolved().len(), 1);
    j.write(&Line::Forgotten {
        id: None,
        at: "now".into(),
        uid: Some(0),
    })
    .unwrap();
    let r = RunJournal::read(&path).unwrap();
    assert!(r.owed().is_empty());
    assert!(r.unresolved().is_empty());
    assert!(!r.needs_attention());
    assert_eq!(r.entries[0].state, EntryState::Forgotten);
}

#[test]
fn two_playbooks_of_the_same_name_in_one_second_get_two_journals() {
    let dir = tempfile::tempdir().unwrap();
    let a = journal(dir.path(), "same");
    let b = journal(dir.path(), "same");
    assert_ne!(a.path(), b.path());
    assert!(
        b.path().to_string_lossy().ends_with("-same-2.jsonl"),
        "{}",
        b.path().display()
    );
    let ids: Vec<String> = scan(dir.path())
        .unwrap()
        .runs
        .iter()
        .map(RunJournal::id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
}

#[test]
fn cluster_names_become_file_name_parts_only_once_made_safe() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::create(
        dir.path(),
        "../../../../tmp/x",
        "p",
        Path::new("p.yaml"),
        "2026-01-01T00:00:00Z",
        &Connection::default(),
    )
    .unwrap();
    assert_eq!(j.path().parent(), Some(dir.path().join("runs").as_path()));
}

#[test]
fn a_journal_planted_in_a_folder_others_can_write_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = journal(dir.path(), "pb");
    j.intent("steps[0]", &unpause("a")).unwrap();
    let runs = dir.path().join("runs");
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = scan(dir.path()).unwrap_err();
    assert!(e.contains("can be written by everyone"), "{e}");
    std::fs::set_permissions(&runs, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(j.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let s = scan(dir.path()).unwrap();
    assert!(s.runs.is_empty());
    assert!(
        s.refused[0].contains("can be written by everyone"),
        "{:?}",
        s.refused
    );
}

#[test]
fn a_journal_of_another_user_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path(), "pb");
    let me = current_uid().unwrap();
    if me == 0 {
        // Root can make the file someone else's.
        std::os::unix::fs::chown(j.path(), Some(65534), None).unwrap();
        let e = RunJournal::read(j.path()).unwrap_err();
        assert!(
            e.contains("belongs to uid 65534, not to you (uid 0)"),
            "{e}"
        );
    } else {
        // Anyone else finds a file of root's.
        let e = check_own(Path::new("/")).unwrap_err();
        assert!(
            e.contains(&format!("belongs to uid 0, not to you (uid {me})")),
            "{e}"
        );
    }
}

#[test]
fn version_1_journals_with_values_inline_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path(), "old");
    append_raw(
        j.path(),
        br#"{"event":"intent","id":1,"step":"steps[0]","undo":{"undo":"etcd-restore","selector":{"Key":"/k"},"backup":{"revision":3,"entries":[{"key":[47,107],"value":[0,255]}]}}}
"#,
    );
    let r = RunJournal::read(j.path()).unwrap();
    match &r.owed()[0].undo {
        UndoRecord::EtcdRestore { backup, file, .. } => {
            assert_eq!(backup.entries[0].key, b"/k");
            assert_eq!(backup.entries[0].value, vec![0, 255]);
            assert!(file.is_none());
        }
        other => panic!("{other:?}"),
    }
}
