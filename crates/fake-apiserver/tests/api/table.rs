//! Server-side printing: GET and LIST with kubectl's `Accept: ...;as=Table` answer a
//! meta.k8s.io/v1 Table with upstream's printer columns.

use fake_apiserver::{FakeApiServer, FakeNode, ReadyStatus};
use serde_json::{Value, json};

use crate::common::start;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn get_table(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path)
        .header("Accept", TABLE)
        .body(Vec::new())
        .expect("request");
    client.request::<Value>(req).await.expect("table")
}

fn column_names(t: &Value) -> Vec<(String, i64)> {
    t["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["priority"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn row<'a>(t: &'a Value, name: &str) -> &'a Vec<Value> {
    t["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["cells"][0] == name)
        .and_then(|r| r["cells"].as_array())
        .expect("row")
}

fn pod(server: &FakeApiServer, name: &str, status: Value, deleting: bool) {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": { "nodeName": "kind-worker", "containers": [{ "name": "a", "image": "x" }, { "name": "b", "image": "x" }] },
        "status": status,
    });
    if deleting {
        p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        p["metadata"]["finalizers"] = json!(["example.com/hold"]);
    }
    server.insert(p).expect("pod");
}

#[tokio::test]
async fn pods_print_ready_status_restarts_and_wide_columns() {
    let (server, client) = start().await;
    server.kubelet_up("kind-worker", false);
    pod(
        &server,
        "half",
        json!({
            "phase": "Running", "podIP": "10.244.1.5",
            "containerStatuses": [
                { "name": "a", "ready": true, "restartCount": 0, "state": { "running": {} } },
                { "name": "b", "ready": false, "restartCount": 3, "state": { "waiting": { "reason": "CrashLoopBackOff" } },
                  "lastState": { "terminated": { "exitCode": 1, "finishedAt": "2026-01-01T00:00:00Z" } } },
            ],
        }),
        false,
    );
    pod(&server, "going", json!({ "phase": "Running" }), true);
    let t = get_table(&client, "/api/v1/namespaces/default/pods").await;
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        column_names(&t),
        [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1),
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
    let half = row(&t, "half");
    assert_eq!(half[1], "1/2");
    assert_eq!(half[2], "CrashLoopBackOff");
    let restarts = half[3].as_str().expect("restarts");
    assert!(
        restarts.starts_with("3 (") && restarts.ends_with(" ago)"),
        "{restarts}"
    );
    assert_eq!(half[5], "10.244.1.5");
    assert_eq!(half[6], "kind-worker");
    assert_eq!(half[7], "<none>");
    let going = row(&t, "going");
    assert_eq!(going[1], "0/2");
    assert_eq!(going[2], "Terminating");
    assert_eq!(going[3], "0");
    // Rows carry the object's metadata (includeObject=Metadata by default).
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    // A single GET answers a one-row Table.
    let one = get_table(&client, "/api/v1/namespaces/default/pods/going").await;
    assert_eq!(one["rows"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn nodes_print_status_roles_and_node_info() {
    let (server, client) = start().await;
    server
        .add_node(FakeNode::new("kind-control-plane").control_plane())
        .expect("node");
    server
        .add_node(FakeNode::new("kind-worker").ready(ReadyStatus::False))
        .expect("node");
    let mut cordoned = server
        .get("v1", "Node", None, "kind-worker")
        .expect("worker");
    cordoned["spec"]["unschedulable"] = json!(true);
    server.insert(cordoned).expect("cordon");
    let t = get_table(&client, "/api/v1/nodes").await;
    assert_eq!(
        column_names(&t),
        [
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1),
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
    let cp = row(&t, "kind-control-plane");
    assert_eq!(cp[1], "Ready");
    assert_eq!(cp[2], "control-plane");
    assert_eq!(cp[4], "v1.37.0");
    assert_eq!(cp[5], "172.18.0.2");
    assert_eq!(cp[6], "<none>");
    assert_eq!(cp[7], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(cp[8], "<unknown>");
    assert_eq!(cp[9], "containerd://2.1.0");
    let worker = row(&t, "kind-worker");
    assert_eq!(worker[1], "NotReady,SchedulingDisabled");
    assert_eq!(worker[2], "<none>");
}

#[tokio::test]
async fn workloads_and_other_kinds_print_their_columns() {
    let (server, client) = start().await;
    server.insert(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cm", "namespace": "default" },
    })).expect("cm");
    let t = get_table(&client, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!(
        column_names(&t),
        [("Name".to_string(), 0), ("Age".to_string(), 0)]
    );
    let age = row(&t, "cm")[1].as_str().expect("age").to_string();
    assert!(age.ends_with('s'), "{age}");
    let t = get_table(&client, "/api/v1/namespaces").await;
    assert_eq!(row(&t, "default")[1], "Active");
    let t = get_table(&client, "/apis/apps/v1/namespaces/default/deployments").await;
    let names: Vec<String> = column_names(&t).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    // Without the Table Accept, a plain list.
    let plain: Value = client
        .request(
            http::Request::get("/api/v1/namespaces/default/configmaps")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("list");
    assert_eq!(plain["kind"], "ConfigMapList");
}
