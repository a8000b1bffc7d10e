//! The scheduler model used by `auto_schedule`: Ready, schedulable nodes whose taints the
//! pod tolerates and whose labels satisfy its nodeSelector and required node affinity;
//! the highest preferred-affinity score wins, ties by node name. Plus the condition helper
//! the controllers share.

use serde_json::{Value, json};

use crate::util::{self, at, set_at, str_at};

/// Sets (or adds) a condition; a condition whose status, reason and message are unchanged
/// is left alone, so controllers reach a fixed point.
pub(crate) fn set_condition(
    obj: &mut Value,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
) {
    let now = util::now();
    let conds = util::obj_mut(&mut obj["status"])
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    let Some(list) = conds.as_array_mut() else {
        return;
    };
    let new = json!({ "type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": now });
    match list.iter_mut().find(|c| c["type"] == kind) {
        Some(c) if c["status"] == status && c["reason"] == reason && c["message"] == message => {}
        Some(c) => *c = new,
        None => list.push(new),
    }
}

pub(crate) fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    at(obj, &["status", "conditions"])?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?["status"]
        .as_str()
}

/// Binds a pod to a node, as the `binding` subresource does.
pub(crate) fn bind(pod: &mut Value, node: &str) {
    set_at(pod, &["spec", "nodeName"], json!(node));
    set_condition(pod, "PodScheduled", "True", "", "");
}

pub(crate) fn tolerates(tolerations: &[Value], taint: &Value) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t["effect"]
            .as_str()
            .is_none_or(|e| e.is_empty() || Some(e) == taint["effect"].as_str());
        let key = t["key"].as_str().unwrap_or("");
        let key_ok = key.is_empty() || Some(key) == taint["key"].as_str();
        let value_ok = match t["operator"].as_str().unwrap_or("Equal") {
            "Exists" => true,
            _ => t["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""),
        };
        effect_ok && key_ok && value_ok && (!key.is_empty() || t["operator"] == "Exists")
    })
}

fn expression_holds(node: &Value, e: &Value, field: bool) -> bool {
    let key = e["key"].as_str().unwrap_or("");
    let got = if field {
        (key == "metadata.name").then(|| util::name_of(node))
    } else {
        util::labels(node)
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    let values: Vec<&str> = e["values"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<i64>().ok());
    match e["operator"].as_str().unwrap_or("") {
        "In" => got.is_some_and(|g| values.contains(&g)),
        "NotIn" => got.is_none_or(|g| !values.contains(&g)),
        "Exists" => got.is_some(),
        "DoesNotExist" => got.is_none(),
        "Gt" => matches!((num(got), num(values.first().copied())), (Some(a), Some(b)) if a > b),
        "Lt" => matches!((num(got), num(values.first().copied())), (Some(a), Some(b)) if a < b),
        _ => false,
    }
}

fn term_holds(node: &Value, term: &Value) -> bool {
    let all = |field: &str, is_field: bool| {
        term[field]
            .as_array()
            .is_none_or(|es| es.iter().all(|e| expression_holds(node, e, is_field)))
    };
    all("matchExpressions", false) && all("matchFields", true)
}

fn fits(pod: &Value, node: &Value) -> bool {
    let ready = condition(node, "Ready") == Some("True");
    let unschedulable = at(node, &["spec", "unschedulable"])
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let tolerations = at(pod, &["spec", "tolerations"])
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let taints_ok = at(node, &["spec", "taints"])
        .and_then(Value::as_array)
        .is_none_or(|ts| {
            ts.iter()
                .filter(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
                .all(|t| tolerates(&tolerations, t))
        });
    let selector_ok = at(pod, &["spec", "nodeSelector"])
        .and_then(Value::as_object)
        .is_none_or(|sel| {
            sel.iter()
                .all(|(k, v)| util::labels(node).and_then(|l| l.get(k)) == Some(v))
        });
    let required = at(
        pod,
        &[
            "spec",
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ],
    )
    .and_then(Value::as_array);
    let affinity_ok = required.is_none_or(|terms| terms.iter().any(|t| term_holds(node, t)));
    ready && !unschedulable && taints_ok && selector_ok && affinity_ok
}

fn score(pod: &Value, node: &Value) -> i64 {
    at(
        pod,
        &[
            "spec",
            "affinity",
            "nodeAffinity",
            "preferredDuringSchedulingIgnoredDuringExecution",
        ],
    )
    .and_then(Value::as_array)
    .map(|prefs| {
        prefs
            .iter()
            .filter(|p| term_holds(node, &p["preference"]))
            .map(|p| p["weight"].as_i64().unwrap_or(0))
            .sum()
    })
    .unwrap_or(0)
}

/// The node the pod should go to, if any fits.
pub(crate) fn choose(pod: &Value, nodes: &[&Value]) -> Option<String> {
    let mut best: Option<(i64, &str)> = None;
    for n in nodes.iter().filter(|n| fits(pod, n)) {
        let s = score(pod, n);
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, util::name_of(n)));
        }
    }
    best.map(|(_, n)| n.to_string())
}

/// The node's InternalIP, if it has one.
pub(crate) fn node_ip(node: Option<&Value>) -> Option<String> {
    at(node?, &["status", "addresses"])?
        .as_array()?
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| str_at(a, &["address"]).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn lab_workload_prefers_the_labelled_worker_and_tolerates_the_tainted_one() {
        let w1 = node("w1", json!({"mock-server": "true"}), json!([]));
        let w2 = node(
            "w2",
            json!({}),
            json!([{"key": "playground_test", "value": "x", "effect": "NoSchedule"}]),
        );
        let cp = node(
            "cp",
            json!({}),
            json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        );
        let pod = json!({"spec": {
            "tolerations": [{"key": "playground_test", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [{"key": "mock-server", "operator": "Exists"}]}}]}}}});
        assert_eq!(choose(&pod, &[&cp, &w2, &w1]).as_deref(), Some("w1"));
        assert_eq!(choose(&pod, &[&cp, &w2]).as_deref(), Some("w2"));
        assert_eq!(choose(&json!({"spec": {}}), &[&cp, &w2]), None);
    }
}
