//! The pods a `pod-delete` or `container-kill` acts on: its named pod, or the pods its
//! `selector` matches and its `pick` of them. A pick is chosen once: by the preflight, when
//! the pods are there before the first step and no step before this one can replace them;
//! else as the step starts ([`chosen_at_step`]: pods an earlier step creates, or each run of
//! a `repeat`), before the step is described, so its progress line, its result and the
//! reports name the pods it took. Either way the choice goes through [`choose`], so the error
//! names the pods that match, and the fault itself only reads the choice.

use crate::backends::{BackendError, KubeOps, PodQuery, Result};
use crate::playbook::model::{Action, Picked, PodChoice, PodPick};
use crate::playbook::{PlanStep, PlanStepKind};

use super::super::backends::Backends;
use super::pick::pick_pods;

/// The names of the pods `selector` matches in `namespace`, in name order.
pub async fn matching(kube: &dyn KubeOps, namespace: &str, selector: &str) -> Result<Vec<String>> {
    let q = PodQuery {
        namespace: Some(namespace.to_string()),
        selector: Some(selector.to_string()),
        ..Default::default()
    };
    let mut names: Vec<String> = kube
        .pods(&q)
        .await?
        .into_iter()
        .map(|p| p.key.name)
        .collect();
    names.sort();
    Ok(names)
}

/// What `pick` takes of `pods` (the pods `selector` matches, in name order) with `seed`; the
/// error says the pick and the pods there are.
pub fn choose(
    written: &str,
    pick: PodPick,
    seed: u64,
    pods: &[String],
) -> std::result::Result<Vec<String>, String> {
    pick_pods(pods, pick, seed).map_err(|e| {
        let there = if pods.is_empty() {
            "no pod matches".to_string()
        } else {
            format!("matching: {}", pods.join(", "))
        };
        format!("`{written}`: {e} ({there})")
    })
}

/// Records the preflight's choice for a step's pick, from the pods matching now.
pub fn choose_now(c: &mut PodChoice<'_>, pods: &[String]) -> std::result::Result<(), String> {
    let chosen = choose(&c.written(), c.pick, c.picked.seed, pods)?;
    c.picked.pods = Some(chosen);
    Ok(())
}

/// `s` with its pod pick made now, when the preflight left it to the step: from the pods its
/// selector matches now, with the step's seed (in a `repeat`, each run's own: repeat.rs).
/// `None` when there is nothing to choose (no pick, or the preflight chose).
pub async fn chosen_at_step(b: &Backends, s: &PlanStep) -> Result<Option<PlanStep>> {
    let PlanStepKind::Action(a) = &s.kind else {
        return Ok(None);
    };
    if picked_of(a).is_none_or(|p| p.pods.is_some()) {
        return Ok(None);
    }
    let mut a = a.clone();
    let Some(c) = a.pod_choice() else {
        return Ok(None);
    };
    let kube = b.kube().await?;
    let pods = matching(kube.as_ref(), c.namespace, c.selector).await?;
    let chosen =
        choose(&c.written(), c.pick, c.picked.seed, &pods).map_err(BackendError::failed)?;
    c.picked.pods = Some(chosen);
    Ok(Some(PlanStep {
        kind: PlanStepKind::Action(a),
        ..s.clone()
    }))
}

/// The pods a step's pick took (the preflight's choice, or the step's), for its result.
pub fn taken(s: &PlanStep) -> Option<Vec<String>> {
    match &s.kind {
        PlanStepKind::Action(a) => picked_of(a)?.pods.clone(),
        _ => None,
    }
}

/// What was chosen for the action's pod pick, if it has one (a `selector` and a `pick`, as
/// `Action::pod_choice` reads them).
fn picked_of(a: &Action) -> Option<&Picked> {
    match a {
        Action::PodDelete(p) if p.pick.is_some() && p.selector.is_some() => Some(&p.picked),
        Action::ContainerKill(c) if c.pick.is_some() && c.selector.is_some() => Some(&c.picked),
        _ => None,
    }
}

/// A pick's seed for one run of a `repeat`: the template's seed mixed with the run's step id
/// (`steps[1].repeat#2[0]`), so each run picks anew and a replay picks the same.
pub fn reseed(a: &mut Action, id: &str) {
    if let Some(c) = a.pod_choice() {
        c.picked.seed = super::pick::step_seed(c.picked.seed, id);
        c.picked.pods = None;
    }
}

/// What a step that acts on pods says about them, as written.
pub struct Pods<'a> {
    pub namespace: &'a str,
    pub name: Option<&'a str>,
    pub selector: Option<&'a str>,
    pub pick: Option<PodPick>,
    pub picked: &'a Picked,
}

/// The pods the step acts on, when it runs: its named pod; else the preflight's choice when
/// it made one; else the pods its selector matches now, every one or its pick of them (an
/// error when none match, or fewer than the pick needs).
pub async fn of_step(kube: &dyn KubeOps, p: &Pods<'_>) -> Result<Vec<String>> {
    if let Some(name) = p.name {
        return Ok(vec![name.to_string()]);
    }
    if let Some(chosen) = &p.picked.pods {
        return Ok(chosen.clone());
    }
    let selector = p.selector.unwrap_or_default();
    let pods = matching(kube, p.namespace, selector).await?;
    match p.pick {
        None | Some(PodPick::All) if pods.is_empty() => Err(BackendError::not_found(format!(
            "no pods match `{selector}` in {}",
            p.namespace
        ))),
        None => Ok(pods),
        Some(pick) => {
            let written = format!("pick: {pick} of {selector} in {}", p.namespace);
            choose(&written, pick, p.picked.seed, &pods).map_err(BackendError::failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_pick_of_more_than_match_names_the_pods_there_are() {
        let e = choose(
            "pick: 3 of app=web in default",
            PodPick::Count(3),
            1,
            &names(&["web-0", "web-1"]),
        )
        .unwrap_err();
        assert!(
            e.contains("`pick: 3 of app=web in default`: `pick: 3` needs at least 3 matching pods, and 2 match (matching: web-0, web-1)"),
            "{e}"
        );
        let e = choose("pick: random of app=x in d", PodPick::Random, 1, &[]).unwrap_err();
        assert!(e.ends_with("(no pod matches)"), "{e}");
    }

    #[test]
    fn each_run_of_a_repeat_gets_its_own_seed_the_same_at_every_replay() {
        let action = |seed| {
            let mut a: Action =
                serde_json::from_str(r#"{"pod-delete": {"selector": "app=web", "pick": 2}}"#)
                    .unwrap();
            if let Some(c) = a.pod_choice() {
                c.picked.seed = seed;
                c.picked.pods = Some(vec!["web-0".into()]);
            }
            a
        };
        let seed_of = |mut a: Action, id: &str| {
            reseed(&mut a, id);
            let c = a.pod_choice().unwrap();
            assert_eq!(c.picked.pods, None, "a run picks anew");
            c.picked.seed
        };
        let one = seed_of(action(7), "steps[0].repeat#1[0]");
        let two = seed_of(action(7), "steps[0].repeat#2[0]");
        assert_ne!(one, two);
        assert_eq!(one, seed_of(action(7), "steps[0].repeat#1[0]"));
        assert_ne!(one, seed_of(action(8), "steps[0].repeat#1[0]"));
    }

    #[test]
    fn the_preflight_and_the_step_choose_the_same_from_the_same_seed() {
        let pods = names(&["a", "b", "c", "d", "e"]);
        let mut picked = Picked {
            seed: 77,
            pods: None,
        };
        let mut c = PodChoice {
            namespace: "default",
            selector: "app=web",
            pick: PodPick::Count(2),
            picked: &mut picked,
        };
        choose_now(&mut c, &pods).unwrap();
        let at_step = choose("x", PodPick::Count(2), 77, &pods).unwrap();
        assert_eq!(picked.pods, Some(at_step));
    }
}
