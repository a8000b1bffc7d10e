//! The real kubectl (`/usr/bin/kubectl`) against the served control plane of
//! tests/it/local_cluster.rs (the same cluster, started once), where what kubectl prints or
//! does depends on the server's rules: the Tables of `kubectl get` (pods, nodes, Deployments,
//! ReplicaSets), Deployment rollouts through ReplicaSets, cordon/uncordon/drain, protobuf
//! request bodies, validation and server dry runs.
//!
//! The pods run the pause image every node already has (`kind-chaos-pause:test`, imported
//! by `scripts/testcluster.sh`), so no lab image has to be loaded.

use std::time::{Duration, Instant};

use crate::local_cluster::{CLUSTER, cluster, container_ip, kubectl, kubectl_ok};

/// The whitespace-separated columns of each line of `kubectl get` output.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// The row whose first column is `name`, by the header's column names.
fn row_of(out: &str, name: &str) -> Vec<(String, String)> {
    let all = rows(out);
    let header = all.first().cloned().unwrap_or_default();
    let row = all
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{out}"))
        .clone();
    header.into_iter().zip(row).collect()
}

fn cell(row: &[(String, String)], column: &str) -> String {
    row.iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

/// A Deployment of the pause image (SIGTERM ends it; grace 2 s).
fn deployment(name: &str, replicas: u32, extra_spec: &str) -> String {
    format!(
        r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{name}","namespace":"default"}},
  "spec":{{"replicas":{replicas},"selector":{{"matchLabels":{{"app":"{name}"}}}},
    "strategy":{{"type":"RollingUpdate","rollingUpdate":{{"maxSurge":1,"maxUnavailable":0}}}},
    "template":{{"metadata":{{"labels":{{"app":"{name}"}}}},
      "spec":{{"terminationGracePeriodSeconds":2,{extra_spec}
        "containers":[{{"name":"pause","image":"kind-chaos-pause:test","imagePullPolicy":"Never","command":["/pause"]}}]}}}}}}}}"#
    )
}

#[test]
fn kubectl_get_nodes_prints_status_roles_and_the_wide_columns() {
    cluster();
    let out = kubectl_ok(&["get", "nodes"], None);
    assert_eq!(
        rows(&out)[0],
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        "{out}"
    );
    let cp = format!("{CLUSTER}-control-plane");
    let row = row_of(&out, &cp);
    assert_eq!(cell(&row, "STATUS"), "Ready", "{out}");
    assert_eq!(cell(&row, "ROLES"), "control-plane", "{out}");
    let worker = row_of(&out, &format!("{CLUSTER}-worker"));
    assert_eq!(cell(&worker, "ROLES"), "<none>", "{out}");
    let wide = kubectl_ok(&["get", "nodes", "-o", "wide"], None);
    let header = wide.lines().next().unwrap_or_default();
    for column in [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ] {
        assert!(header.contains(column), "{column} missing: {wide}");
    }
    let line = wide
        .lines()
        .find(|l| l.starts_with(&format!("{cp} ")))
        .unwrap_or_default();
    assert!(line.contains(&container_ip(&cp)), "{wide}");
    assert!(line.contains("containerd://"), "{wide}");
}

#[test]
fn a_deployment_rolls_out_through_replicasets_and_kubectl_prints_its_pods() {
    cluster();
    kubectl_ok(
        &["apply", "--validate=false", "-f", "-"],
        Some(&deployment("rollout", 2, "")),
    );
    kubectl_ok(
        &["rollout", "status", "deployment/rollout", "--timeout=120s"],
        None,
    );
    let out = kubectl_ok(&["get", "pods", "-l", "app=rollout", "-o", "wide"], None);
    let header = &rows(&out)[0];
    assert_eq!(
        header[..5],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert!(
        out.lines()
            .next()
            .unwrap_or_default()
            .contains("NOMINATED NODE"),
        "{out}"
    );
    let pods = rows(&out);
    assert_eq!(pods.len(), 3, "{out}");
    for p in &pods[1..] {
        let row: Vec<(String, String)> = header.iter().cloned().zip(p.iter().cloned()).collect();
        assert_eq!(cell(&row, "READY"), "1/1", "{out}");
        assert_eq!(cell(&row, "STATUS"), "Running", "{out}");
        assert_eq!(cell(&row, "RESTARTS"), "0", "{out}");
        assert_eq!(cell(&row, "NODE"), format!("{CLUSTER}-worker"), "{out}");
    }
    let rs = kubectl_ok(&["get", "rs", "-l", "app=rollout"], None);
    assert_eq!(
        rows(&rs)[0],
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{rs}"
    );
    let first = rows(&rs)[1][0].clone();
    assert_eq!(rows(&rs)[1][1..4], ["2", "2", "2"], "{rs}");
    // A template change: a second ReplicaSet takes over, the first stays at zero.
    kubectl_ok(
        &[
            "patch",
            "deployment",
            "rollout",
            "-p",
            r#"{"spec":{"template":{"metadata":{"annotations":{"rev":"2"}}}}}"#,
        ],
        None,
    );
    kubectl_ok(
        &["rollout", "status", "deployment/rollout", "--timeout=120s"],
        None,
    );
    let rs = kubectl_ok(&["get", "rs", "-l", "app=rollout"], None);
    assert_eq!(rows(&rs).len(), 3, "{rs}");
    let old = row_of(&rs, &first);
    assert_eq!(cell(&old, "DESIRED"), "0", "{rs}");
    let deploy = kubectl_ok(&["get", "deployment", "rollout"], None);
    let row = row_of(&deploy, "rollout");
    assert_eq!(cell(&row, "READY"), "2/2", "{deploy}");
    assert_eq!(cell(&row, "UP-TO-DATE"), "2", "{deploy}");
    assert_eq!(cell(&row, "AVAILABLE"), "2", "{deploy}");
    let revision = kubectl_ok(
        &[
            "get",
            "deployment",
            "rollout",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        ],
        None,
    );
    assert_eq!(revision, "2");
    kubectl_ok(&["delete", "deployment", "rollout"], None);
    wait_for("the ReplicaSets collected", Duration::from_secs(30), || {
        kubectl_ok(&["get", "rs", "-l", "app=rollout", "-o", "name"], None)
            .trim()
            .is_empty()
    });
}

fn taints(node: &str) -> String {
    kubectl_ok(
        &["get", "node", node, "-o", "jsonpath={.spec.taints[*].key}"],
        None,
    )
}

#[test]
fn cordon_uncordon_and_drain() {
    cluster();
    // worker2: only pods tolerating its playground_test taint go there, so no other test's
    // pods are disturbed.
    let node = format!("{CLUSTER}-worker2");
    kubectl_ok(&["cordon", &node], None);
    wait_for("the unschedulable taint", Duration::from_secs(10), || {
        taints(&node).contains("node.kubernetes.io/unschedulable")
    });
    let out = kubectl_ok(&["get", "nodes"], None);
    assert_eq!(
        cell(&row_of(&out, &node), "STATUS"),
        "Ready,SchedulingDisabled",
        "{out}"
    );
    kubectl_ok(&["uncordon", &node], None);
    wait_for("the taint removed", Duration::from_secs(10), || {
        !taints(&node).contains("node.kubernetes.io/unschedulable")
    });
    assert!(
        taints(&node).contains("playground_test"),
        "its own taint stays"
    );
    let pinned = format!(
        r#""nodeSelector":{{"kubernetes.io/hostname":"{node}"}},
        "tolerations":[{{"key":"playground_test","operator":"Exists","effect":"NoSchedule"}}],"#
    );
    kubectl_ok(
        &["apply", "--validate=false", "-f", "-"],
        Some(&deployment("drained", 1, &pinned)),
    );
    kubectl_ok(
        &["rollout", "status", "deployment/drained", "--timeout=120s"],
        None,
    );
    let before = kubectl_ok(&["get", "pods", "-l", "app=drained", "-o", "name"], None);
    let drain = kubectl(
        &[
            "drain",
            &node,
            "--pod-selector=app=drained",
            "--ignore-daemonsets",
            "--timeout=90s",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&drain.stdout);
    assert!(
        drain.status.success(),
        "kubectl drain: {stdout}{}",
        String::from_utf8_lossy(&drain.stderr)
    );
    assert!(
        stdout.contains("evicted") || stdout.contains("deleted"),
        "{stdout}"
    );
    assert!(taints(&node).contains("node.kubernetes.io/unschedulable"));
    // The evicted pod is replaced, but the replacement cannot go anywhere while cordoned.
    wait_for("a Pending replacement", Duration::from_secs(30), || {
        let out = kubectl_ok(
            &[
                "get",
                "pods",
                "-l",
                "app=drained",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{\"\\n\"}{end}",
            ],
            None,
        );
        let lines: Vec<&str> = out.lines().collect();
        lines.len() == 1
            && lines[0].ends_with(" Pending")
            && !before.contains(lines[0].split(' ').next().unwrap_or("-"))
    });
    kubectl_ok(&["uncordon", &node], None);
    kubectl_ok(
        &["rollout", "status", "deployment/drained", "--timeout=120s"],
        None,
    );
    kubectl_ok(&["delete", "deployment", "drained"], None);
}

#[test]
fn kubectl_sees_422_validation_and_a_server_dry_run_stores_nothing() {
    cluster();
    let pod = |name: &str, policy: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"default"}},
  "spec":{{"restartPolicy":"{policy}","containers":[{{"name":"c","image":"kind-chaos-pause:test"}}]}}}}"#
        )
    };
    let out = kubectl(
        &["apply", "--validate=false", "-f", "-"],
        Some(&pod("invalid", "Sometimes")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#),
        "{stderr}"
    );
    let out = kubectl_ok(
        &["apply", "--validate=false", "--dry-run=server", "-f", "-"],
        Some(&pod("dry", "Never")),
    );
    assert!(out.contains("pod/dry created (server dry run)"), "{out}");
    let get = kubectl(&["get", "pod", "dry"], None);
    assert!(!get.status.success(), "the dry run stored the pod");
}

#[test]
fn kubectl_create_namespace_and_configmap_send_protobuf_bodies() {
    cluster();
    let out = kubectl_ok(&["create", "namespace", "proto-ns"], None);
    assert!(out.contains("namespace/proto-ns created"), "{out}");
    let out = kubectl_ok(
        &[
            "create",
            "configmap",
            "proto",
            "-n",
            "proto-ns",
            "--from-literal=k=v",
        ],
        None,
    );
    assert!(out.contains("configmap/proto created"), "{out}");
    let value = kubectl_ok(
        &[
            "get",
            "configmap",
            "proto",
            "-n",
            "proto-ns",
            "-o",
            "jsonpath={.data.k}",
        ],
        None,
    );
    assert_eq!(value, "v");
    kubectl_ok(&["delete", "namespace", "proto-ns"], None);
}
