//! The control loops the fake runs in place of kube-controller-manager, the scheduler and
//! the kubelets: pod termination and start-up, the namespace controller, the garbage
//! collector, the deployment, ReplicaSet and Job controllers, the scheduler (with
//! `auto_schedule`), the node monitor (with `node_monitor_grace`) and the cordon taint.
//! They run after every write and on a short tick, each pass until nothing changes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Shared;
use crate::kubelet;
use crate::resources::ResourceDef;
use crate::scheduler::set_condition;
use crate::semantics::{self, DeleteOpts, Part};
use crate::store::State;
use crate::util::{self, at, set_at};

const TICK: Duration = Duration::from_millis(20);
const MAX_PASSES: usize = 20;

pub(crate) async fn run(shared: Arc<Shared>) {
    let mut down = shared.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = down.changed() => return,
        }
        settle(&shared);
    }
}

/// Runs passes until one changes nothing.
pub(crate) fn settle(shared: &Shared) {
    shared.mutate(|st| {
        for _ in 0..MAX_PASSES {
            let before = st.rv;
            pass(st);
            if st.rv == before {
                break;
            }
        }
    });
}

fn pass(st: &mut State) {
    kubelet::kubelets_terminate(st);
    namespaces(st);
    garbage_collect(st);
    if st.knobs.deployments {
        crate::deployments::run(st);
        crate::replicasets::run(st);
    }
    crate::jobs::run(st);
    if st.knobs.auto_schedule {
        kubelet::schedule(st);
        kubelet::kubelets_start(st);
    }
    kubelet::node_monitor(st);
    crate::lifecycle::run(st);
    crate::cordon::run(st);
}

fn background() -> DeleteOpts {
    DeleteOpts {
        propagation: Some("Background".into()),
        ..DeleteOpts::default()
    }
}

/// The namespace controller: empties Terminating namespaces, reports what remains, and
/// lets the namespace go once nothing does (or once `spec.finalizers` is empty).
fn namespaces(st: &mut State) {
    let nsres = st.reg.namespaces();
    let terminating: Vec<Value> = st
        .list(&nsres, None)
        .into_iter()
        .filter(|n| util::is_terminating(n))
        .cloned()
        .collect();
    for ns in terminating {
        let name = util::name_of(&ns).to_string();
        let fins = semantics::spec_finalizers(&ns);
        if fins.is_empty() {
            semantics::purge_namespace(st, &nsres, &ns);
            continue;
        }
        if !fins.iter().any(|f| f == "kubernetes") {
            continue;
        }
        for (res, obj) in st.in_namespace(&name) {
            if !util::is_terminating(&obj) {
                let _ = semantics::delete(st, &res, &name, util::name_of(&obj), &background());
            }
        }
        let remaining = st.in_namespace(&name);
        let Some(old) = st.get(&nsres, "", &name).cloned() else {
            continue;
        };
        let mut new = old.clone();
        if remaining.is_empty() {
            set_condition(
                &mut new,
                "NamespaceContentRemaining",
                "False",
                "ContentRemoved",
                "All content successfully removed",
            );
            set_condition(
                &mut new,
                "NamespaceFinalizersRemaining",
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            );
            let (updated, _) = st.update(&nsres, &old, new);
            let mut finalized = updated.clone();
            let left: Vec<String> = fins.into_iter().filter(|f| f != "kubernetes").collect();
            set_at(&mut finalized, &["spec", "finalizers"], json!(left));
            let _ = semantics::update(st, &nsres, &updated, finalized, Part::Finalize);
            continue;
        }
        let mut kinds: Vec<String> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut with_fins: Vec<(String, usize)> = Vec::new();
        for (res, obj) in &remaining {
            let q = res.qualified();
            match kinds.iter().position(|k| *k == q) {
                Some(i) => counts[i] += 1,
                None => {
                    kinds.push(q);
                    counts.push(1);
                }
            }
            for f in util::finalizers(obj) {
                match with_fins.iter_mut().find(|(n, _)| *n == f) {
                    Some((_, c)) => *c += 1,
                    None => with_fins.push((f, 1)),
                }
            }
        }
        let content: Vec<String> = kinds
            .iter()
            .zip(&counts)
            .map(|(k, c)| format!("{k}. has {c} resource instances"))
            .collect();
        set_condition(
            &mut new,
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            &format!("Some resources are remaining: {}", content.join(", ")),
        );
        if with_fins.is_empty() {
            set_condition(
                &mut new,
                "NamespaceFinalizersRemaining",
                "False",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            );
        } else {
            let f: Vec<String> = with_fins
                .iter()
                .map(|(f, c)| format!("{f} in {c} resource instances"))
                .collect();
            set_condition(
                &mut new,
                "NamespaceFinalizersRemaining",
                "True",
                "SomeFinalizersRemain",
                &format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    f.join(", ")
                ),
            );
        }
        st.update(&nsres, &old, new);
    }
}

fn owner_uids(obj: &Value) -> Vec<String> {
    at(obj, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| o["uid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn remove_finalizer(st: &mut State, res: &Arc<ResourceDef>, obj: &Value, fin: &str) {
    let Some(old) = st
        .get(res, util::namespace_of(obj), util::name_of(obj))
        .cloned()
    else {
        return;
    };
    let mut new = old.clone();
    let fins: Vec<String> = util::finalizers(&old)
        .into_iter()
        .filter(|f| f != fin)
        .collect();
    util::set_finalizers(&mut new, &fins);
    st.update(res, &old, new);
}

/// The garbage collector: dependents of vanished owners go (background); `orphan` and
/// `foregroundDeletion` finalizers are carried out.
fn garbage_collect(st: &mut State) {
    let all = st.all_objects();
    let uids: HashSet<&str> = all.iter().map(|(_, o)| util::uid_of(o)).collect();
    let mut orphaned = Vec::new();
    for (res, obj) in &all {
        let owners = owner_uids(obj);
        if !owners.is_empty()
            && !util::is_terminating(obj)
            && owners.iter().all(|u| !uids.contains(u.as_str()))
        {
            orphaned.push((res.clone(), obj.clone()));
        }
    }
    let owners: Vec<(Arc<ResourceDef>, Value)> = all
        .iter()
        .filter(|(_, o)| {
            util::is_terminating(o)
                && util::finalizers(o)
                    .iter()
                    .any(|f| f == "orphan" || f == "foregroundDeletion")
        })
        .cloned()
        .collect();
    for (res, obj) in orphaned {
        let _ = semantics::delete(
            st,
            &res,
            util::namespace_of(&obj),
            util::name_of(&obj),
            &background(),
        );
    }
    for (res, owner) in owners {
        let uid = util::uid_of(&owner).to_string();
        let dependents: Vec<(Arc<ResourceDef>, Value)> = st
            .all_objects()
            .into_iter()
            .filter(|(_, o)| owner_uids(o).contains(&uid))
            .collect();
        let fins = util::finalizers(&owner);
        if fins.iter().any(|f| f == "orphan") {
            for (dres, dep) in &dependents {
                let mut new = dep.clone();
                if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid.as_str());
                    if refs.is_empty() {
                        util::remove_at(&mut new, &["metadata", "ownerReferences"]);
                    }
                }
                st.update(dres, dep, new);
            }
            remove_finalizer(st, &res, &owner, "orphan");
        } else if dependents.is_empty() {
            remove_finalizer(st, &res, &owner, "foregroundDeletion");
        } else {
            for (dres, dep) in dependents.iter().filter(|(_, d)| !util::is_terminating(d)) {
                let _ = semantics::delete(
                    st,
                    dres,
                    util::namespace_of(dep),
                    util::name_of(dep),
                    &background(),
                );
            }
        }
    }
}
