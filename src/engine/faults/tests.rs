//! The registry agrees with the playbook model: every fault key has a fault, found in one
//! family only, and a step the model says can be undone gets an undo from its fault (and no
//! other step does). The families' lookups end in `_ => None`, so these tests, not the
//! compiler, catch a fault key that no family claims.

use std::path::Path;

use super::*;
use crate::playbook::model::{Exec as ExecBody, action_keys};
use crate::playbook::{PlanStepKind, load};

fn every_action() -> Vec<Action> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/every-action.yaml");
    let plan = load(&file).expect("the fixture is valid");
    plan.all_steps()
        .into_iter()
        .filter_map(|s| match &s.kind {
            PlanStepKind::Action(a) => Some(a.as_ref().clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_fixture_holds_every_action() {
    let mut seen: Vec<&str> = every_action().iter().map(Action::key).collect();
    // `apply`, `group`, `probe`, `parallel` and `repeat` become plan step kinds of their own.
    seen.extend(["apply", "group", "probe", "parallel", "repeat"]);
    seen.sort_unstable();
    seen.dedup();
    let mut all = action_keys().to_vec();
    all.sort_unstable();
    assert_eq!(seen, all);
}

#[test]
fn a_fault_has_an_undo_exactly_when_the_model_says_so() {
    let mut actions = every_action();
    actions.push(Action::Exec(ExecBody {
        node: "n".into(),
        command: vec!["true".into()],
        undo: None,
    }));
    let mut kinds: Vec<&str> = Vec::new();
    for a in &actions {
        let Some(fault) = of(a) else {
            continue;
        };
        kinds.push(a.key());
        assert_eq!(
            a.has_undo(),
            fault.undo().is_some(),
            "{}: has_undo and the fault's undo disagree",
            a.key()
        );
        assert_eq!(
            fault.undo().is_some(),
            fault.planned().is_some(),
            "{}",
            a.key()
        );
        assert_eq!(planned(a), fault.planned(), "{}", a.key());
    }
    // Every kind of fault was checked: every key but those of the actions that are not
    // faults.
    kinds.sort_unstable();
    kinds.dedup();
    let not_faults = [
        "apply", "assert", "group", "parallel", "probe", "repeat", "sleep", "undo", "wait",
    ];
    let mut expected: Vec<&str> = action_keys()
        .iter()
        .copied()
        .filter(|k| !not_faults.contains(k))
        .collect();
    expected.sort_unstable();
    assert_eq!(kinds, expected);
}

#[test]
fn non_faults_are_not_faults() {
    for a in every_action() {
        let not_a_fault = matches!(
            a,
            Action::Wait(_)
                | Action::Sleep(_)
                | Action::Assert(_)
                | Action::Group(_)
                | Action::Undo(_)
        );
        assert_eq!(of(&a).is_none(), not_a_fault, "{}", a.key());
    }
}

#[test]
fn no_two_families_claim_one_action() {
    for a in every_action() {
        let claimed = FAMILIES
            .iter()
            .filter(|family| family(&a).is_some())
            .count();
        assert!(claimed <= 1, "{}: claimed by {claimed} families", a.key());
    }
}

#[test]
fn node_kill_with_a_stop_signal_is_undone_by_resuming() {
    use crate::playbook::model::NodeKill as Body;
    use crate::playbook::values::Signal;
    let undo = |signal| {
        let body = Body {
            node: "n".into(),
            signal,
        };
        of(&Action::NodeKill(body)).and_then(|f| f.undo())
    };
    let resume = Some(UndoRecord::NodeContinue { node: "n".into() });
    let start = Some(UndoRecord::NodeStart { node: "n".into() });
    assert_eq!(undo(Some(Signal(19))), resume);
    assert_eq!(undo(Some(Signal(22))), resume);
    assert_eq!(undo(Some(Signal(15))), start);
    assert_eq!(undo(None), start);
}
