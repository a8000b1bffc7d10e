//! Unit tests of the parent module: the etcd target and the action keys.

use std::path::Path;

use crate::playbook::{PlanStepKind, Sources, load_str};

use super::*;
use crate::playbook::model::{EtcdTarget, action_keys};

/// A playbook of one step: its plan, or every problem as (message, line, column).
fn load(step: &str) -> Result<crate::playbook::Plan, Vec<(String, usize, usize)>> {
    let text = format!("apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\nsteps:\n  - {step}\n");
    load_str(Path::new("t.yaml"), &text, Sources::default()).map_err(|invalid| {
        invalid
            .diagnostics
            .iter()
            .map(|d| {
                let at = d
                    .span
                    .map(|s| (s.start.line, s.start.col))
                    .unwrap_or((0, 0));
                (d.message.clone(), at.0, at.1)
            })
            .collect()
    })
}

fn problems(step: &str) -> Vec<(String, usize, usize)> {
    load(step).err().unwrap_or_default()
}

fn etcd_delete(body: &str) -> Result<EtcdDelete, Vec<(String, usize, usize)>> {
    let plan = load(&format!("etcd-delete: {body}"))?;
    match &plan.steps[0].kind {
        PlanStepKind::Action(a) => match a.as_ref() {
            Action::EtcdDelete(e) => Ok(e.clone()),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_etcd_target_is_a_key_or_a_prefix() {
    let key = etcd_delete("{key: /registry/pods/default/web}").unwrap();
    assert_eq!(
        key.target,
        EtcdTarget::Key("/registry/pods/default/web".into())
    );
    let prefix = etcd_delete("{prefix: /registry/pods/}").unwrap();
    assert_eq!(prefix.target, EtcdTarget::Prefix("/registry/pods/".into()));
    // Written back as it was read.
    assert_eq!(
        serde_json::to_value(&prefix).unwrap(),
        serde_json::json!({"key": null, "prefix": "/registry/pods/"})
    );
}

#[test]
fn neither_or_both_is_refused_at_the_body() {
    let needs = "`etcd-delete` needs one of `key` or `prefix`".to_string();
    assert_eq!(etcd_delete("{}").unwrap_err(), vec![(needs.clone(), 5, 18)]);
    assert_eq!(etcd_delete("").unwrap_err()[0].0, needs);
    assert_eq!(
        etcd_delete("{key: /a, prefix: /b}").unwrap_err(),
        vec![(
            "`etcd-delete` takes only one of `key` or `prefix`".into(),
            5,
            18
        )]
    );
    let unknown = etcd_delete("{kye: /a}").unwrap_err();
    assert_eq!(unknown[0].0, "unknown field `kye`");
}

#[test]
fn action_keys_are_the_keys_a_step_accepts() {
    let keys = action_keys();
    assert_eq!(keys.first(), Some(&"apply"));
    assert_eq!(keys.last(), Some(&"undo"));
    let step = |key: &str| problems(&format!("{key}: {{}}"));
    let unknown = |found: &[(String, usize, usize)]| {
        found.iter().any(|(m, ..)| m.contains("unknown step type"))
    };
    for key in keys {
        assert!(!unknown(&step(key)), "{key}: {:?}", step(key));
    }
    assert!(unknown(&step("kubelet-stopp")));
}

#[test]
fn an_etcd_key_condition_has_one_target_too() {
    // `  - assert: {etcd-key: {}}`: the body of `etcd-key` starts at column 24.
    let etcd_key = |body: &str| problems(&format!("assert: {{etcd-key: {body}}}"));
    // One problem, at the body or, for the pairings (rules of validation), at the field.
    for (body, message, col) in [
        ("{}", "`etcd-key` needs one of `key` or `prefix`", 24),
        (
            "{key: /a, count: 1}",
            "`count` goes with `prefix`, not `key`",
            41,
        ),
    ] {
        assert_eq!(etcd_key(body), vec![(message.to_string(), 5, col)]);
    }
    for (body, message) in [
        (
            "{key: /a, prefix: /b}",
            "`etcd-key` takes only one of `key` or `prefix`",
        ),
        (
            "{prefix: /a/, exists: true}",
            "`exists` goes with `key`; use `count` with `prefix`",
        ),
    ] {
        assert_eq!(etcd_key(body)[0].0, message, "{body}");
    }
    assert!(etcd_key("{prefix: /a/, count: 2}").is_empty());
}
