//! The picking rules without a cluster: every node target form, its errors, pod picks, and
//! that a seed replays the same picks.

use super::*;
use crate::backends::NodeContainer;
use crate::playbook::model::{NodePick, NodeSelect, PodPick};

fn kind3() -> Vec<NodeContainer> {
    // Listed out of order on purpose: picks go by name.
    [
        "kind-worker2",
        "kind-control-plane",
        "kind-worker3",
        "kind-worker",
    ]
    .iter()
    .map(|n| NodeContainer {
        name: n.to_string(),
        role: if n.contains("control") {
            "control-plane".into()
        } else {
            "worker".into()
        },
        state: "running".into(),
    })
    .collect()
}

fn role(r: &str, index: Option<u32>, pick: Option<NodePick>) -> NodeSelect {
    NodeSelect::Role {
        role: r.into(),
        index,
        pick,
    }
}

fn pick(select: &NodeSelect) -> Result<String, String> {
    pick_node(&kind3(), select, &mut Rng::new(7))
}

#[test]
fn a_name_must_exist_and_the_error_lists_the_nodes() {
    assert_eq!(
        pick(&NodeSelect::Name("kind-worker".into())).unwrap(),
        "kind-worker"
    );
    let e = pick(&NodeSelect::Name("k8splayground-worker".into())).unwrap_err();
    assert!(e.contains("no node `k8splayground-worker`"), "{e}");
    assert!(e.contains("kind-control-plane (control-plane)"), "{e}");
    assert!(e.contains("kind-worker3 (worker)"), "{e}");
}

#[test]
fn a_role_alone_is_its_only_node_else_an_error_listing_them() {
    assert_eq!(
        pick(&role("control-plane", None, None)).unwrap(),
        "kind-control-plane"
    );
    let e = pick(&role("worker", None, None)).unwrap_err();
    assert!(
        e.contains("3 nodes have the role `worker` (kind-worker, kind-worker2, kind-worker3)"),
        "{e}"
    );
    assert!(e.contains("index: N"), "{e}");
    let e = pick(&role("gpu", None, None)).unwrap_err();
    assert!(
        e.contains("no node has the role `gpu` (roles: control-plane, worker)"),
        "{e}"
    );
}

#[test]
fn an_index_counts_from_one_in_name_order() {
    assert_eq!(pick(&role("worker", Some(1), None)).unwrap(), "kind-worker");
    assert_eq!(
        pick(&role("worker", Some(2), None)).unwrap(),
        "kind-worker2"
    );
    assert_eq!(
        pick(&role("worker", Some(3), None)).unwrap(),
        "kind-worker3"
    );
    let e = pick(&role("worker", Some(4), None)).unwrap_err();
    assert!(
        e.contains("`index: 4`: the cluster has 3 worker node(s)"),
        "{e}"
    );
}

#[test]
fn a_random_pick_is_one_of_the_role_and_replays_from_its_seed() {
    let nodes = kind3();
    let select = role("worker", None, Some(NodePick::Random));
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let a = pick_node(&nodes, &select, &mut Rng::new(seed)).unwrap();
        let b = pick_node(&nodes, &select, &mut Rng::new(seed)).unwrap();
        assert_eq!(a, b, "seed {seed}");
        assert!(a.starts_with("kind-worker"), "{a}");
        seen.insert(a);
    }
    assert_eq!(seen.len(), 3, "64 seeds pick every worker: {seen:?}");
}

#[test]
fn splitmix64_gives_its_published_numbers() {
    // The reference sequence of SplitMix64 from seed 0 (Vigna's splitmix64.c).
    let mut r = Rng::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn step_seeds_differ_by_step_and_not_by_run() {
    assert_eq!(step_seed(42, "steps[1]"), step_seed(42, "steps[1]"));
    assert_ne!(step_seed(42, "steps[1]"), step_seed(42, "steps[2]"));
    assert_ne!(step_seed(42, "steps[1]"), step_seed(43, "steps[1]"));
}

#[test]
fn pod_picks_take_all_one_n_or_a_share() {
    let pods: Vec<u32> = (0..10).collect();
    assert_eq!(pick_pods(&pods, PodPick::All, 1).unwrap(), pods);
    assert_eq!(pick_pods(&[5], PodPick::One, 1).unwrap(), vec![5]);
    let e = pick_pods(&pods, PodPick::One, 1).unwrap_err();
    assert!(e.contains("exactly one matching pod, and 10 match"), "{e}");
    assert_eq!(pick_pods(&pods, PodPick::Random, 1).unwrap().len(), 1);
    assert_eq!(pick_pods(&pods, PodPick::Count(3), 1).unwrap().len(), 3);
    let e = pick_pods(&pods, PodPick::Count(30), 1).unwrap_err();
    assert!(
        e.contains("`pick: 30` needs at least 30 matching pods, and 10 match"),
        "{e}"
    );
    assert_eq!(pick_pods(&pods, PodPick::Percent(25), 1).unwrap().len(), 3);
    assert_eq!(pick_pods(&pods, PodPick::Percent(100), 1).unwrap(), pods);
    let empty: Vec<u32> = Vec::new();
    // `all` of nothing would delete nothing and pass: like the step without a pick, an error.
    for p in [
        PodPick::All,
        PodPick::Random,
        PodPick::Percent(50),
        PodPick::Count(1),
    ] {
        let e = pick_pods(&empty, p, 1).unwrap_err();
        assert!(
            e.contains("needs at least 1 matching pod, and 0 match"),
            "{e}"
        );
    }
}

#[test]
fn pod_picks_replay_from_the_seed_and_keep_the_pods_order() {
    let pods: Vec<u32> = (0..20).collect();
    let a = pick_pods(&pods, PodPick::Count(5), 99).unwrap();
    assert_eq!(a, pick_pods(&pods, PodPick::Count(5), 99).unwrap());
    assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
    let others: Vec<Vec<u32>> = (0..8)
        .map(|s| pick_pods(&pods, PodPick::Count(5), s).unwrap())
        .collect();
    assert!(others.iter().any(|o| o != &a), "seeds change the pick");
}

#[test]
fn a_drawn_seed_can_be_written_back_exactly() {
    for _ in 0..64 {
        assert!(draw_seed() < 1 << 53);
    }
}
