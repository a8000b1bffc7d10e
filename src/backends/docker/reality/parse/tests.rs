use super::*;

const ID_A: &str = "f13e0ce0bdb3126c85393c5e3750fe9654e7e22a630ad1a5a9545fa03703690c";
const ID_B: &str = "9a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";
const CTR_APP: &str = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";

fn proc_line(pid: u32, args: &[&str]) -> String {
    format!("/proc/{pid}/cmdline:{}\0\n", args.join("\0"))
}

fn shim(pid: u32, id: &str) -> String {
    proc_line(
        pid,
        &[
            "/usr/local/bin/containerd-shim-runc-v2",
            "-namespace",
            "k8s.io",
            "-id",
            id,
            "-address",
            "/run/containerd/containerd.sock",
        ],
    )
}

fn info(id: &str, labels: &str, annotations: &str) -> String {
    format!(
        "@@kind-chaos:info@@ {id}\n{{\"ID\": \"{id}\", \"Labels\": {{{labels}}}, \"Spec\": {{\"annotations\": {{{annotations}}}}}}}\n"
    )
}

/// Output as the test cluster's nodes produce it (no crictl): captured shape, trimmed.
fn ctr_output() -> String {
    let mut s = String::new();
    s += &proc_line(
        1,
        &[
            "/usr/bin/tini",
            "--",
            "/usr/local/bin/kind-chaos-entrypoint",
        ],
    );
    s += &shim(116, ID_A);
    s += &proc_line(136, &["/bin/sleep", "infinity"]);
    // The scan's own shell: its script spans lines, each prefixed by grep.
    s += "/proc/150/cmdline:sh\0-c\0\n/proc/150/cmdline:echo \"@@kind-chaos:end@@\"\0\n";
    s += &proc_line(51, &["/usr/bin/kubelet", "infinity"]);
    s += &shim(200, ID_B);
    // Transient shim invocations and shims of other namespaces are not pod shims.
    s += &proc_line(
        300,
        &[
            "containerd-shim-runc-v2",
            "-namespace",
            "k8s.io",
            "-id",
            "x1",
            "start",
        ],
    );
    s += &proc_line(
        301,
        &["containerd-shim-runc-v2", "-namespace", "moby", "-id", "x2"],
    );
    s += "@@kind-chaos:tasks@@\n";
    s += "TASK                                                                PID    STATUS    \n";
    s += &format!(
        "{ID_A}    136    RUNNING\n{ID_B}    210    STOPPED\n{CTR_APP}    220    RUNNING\n"
    );
    s += &info(
        ID_A,
        r#""io.cri-containerd.kind": "sandbox", "io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "ns1", "io.kubernetes.pod.uid": "1111-2222""#,
        "",
    );
    s += &info(
        ID_B,
        r#""io.kubernetes.pod.name": "db", "io.kubernetes.pod.namespace": "ns2", "io.kubernetes.pod.uid": "u-db""#,
        "",
    );
    s += &info(
        CTR_APP,
        r#""io.cri-containerd.kind": "container", "io.kubernetes.container.name": "app""#,
        &format!(r#""io.kubernetes.cri.sandbox-id": "{ID_A}""#),
    );
    s += "@@kind-chaos:info@@ deadbeef\n"; // vanished between `tasks ls` and `info`
    s += "@@kind-chaos:end@@\n";
    s
}

#[test]
fn ctr_scan_maps_shims_to_pods() {
    let scan = parse_scan(&ctr_output()).unwrap();
    assert_eq!(scan.source, Source::Ctr);
    assert_eq!(scan.kubelet_pids, vec![51]);
    let shims: Vec<(u32, &str)> = scan
        .shims
        .iter()
        .map(|s| (s.pid, s.sandbox_id.as_str()))
        .collect();
    assert_eq!(shims, vec![(200, ID_B), (116, ID_A)]);
    let r = scan.reality("n1");
    assert!(r.kubelet_running);
    assert_eq!(r.sandboxes.len(), 2);
    let web = &r.sandboxes[0];
    assert_eq!(web.pod.to_string(), "ns1/web");
    assert_eq!((web.uid.as_str(), web.live), ("1111-2222", true));
    assert_eq!(web.containers, vec!["app".to_string()]);
    let db = &r.sandboxes[1];
    assert_eq!(db.pod.to_string(), "ns2/db");
    assert!(db.containers.is_empty());
    assert_eq!(scan.running_pid(CTR_APP), Some(220));
    assert_eq!(
        scan.running_pid(ID_B),
        None,
        "a stopped task has no live pid"
    );
}

#[test]
fn crictl_scan_marks_sandboxes_without_shims_dead() {
    let mut s = shim(116, ID_A);
    s += &proc_line(51, &["kubelet", "--config=/var/lib/kubelet/config.yaml"]);
    s += &crictl_web_and_old();
    s += "@@kind-chaos:tasks@@\nTASK PID STATUS\n";
    s += &format!("{CTR_APP} 220 RUNNING\n@@kind-chaos:end@@\n");
    let scan = parse_scan(&s).unwrap();
    assert_eq!(scan.source, Source::Crictl);
    let r = scan.reality("n1");
    assert!(r.kubelet_running);
    let by: Vec<(&str, bool, usize)> = r
        .sandboxes
        .iter()
        .map(|s| (s.pod.name.as_str(), s.live, s.containers.len()))
        .collect();
    assert_eq!(by, vec![("old", false, 0), ("web", true, 1)]);
    assert_eq!(scan.running_pid(CTR_APP), Some(220));
}

#[test]
fn no_kubelet_and_no_pods() {
    let s = format!(
        "{}@@kind-chaos:tasks@@\nTASK PID STATUS\n@@kind-chaos:end@@\n",
        proc_line(1, &["/sbin/init"])
    );
    let r = parse_scan(&s).unwrap().reality("n");
    assert!(!r.kubelet_running);
    assert!(r.shims.is_empty() && r.sandboxes.is_empty());
}

#[test]
fn invalid_cri_json_is_an_error() {
    let s = "@@kind-chaos:crictl-pods@@\n{not json\n@@kind-chaos:end@@\n";
    assert!(parse_scan(s).is_err());
}

#[test]
fn ids_are_checked_before_use() {
    assert!(valid_id(ID_A));
    assert!(valid_id("my-sandbox_1.2"));
    assert!(!valid_id(""));
    assert!(!valid_id("a b"));
    assert!(!valid_id("$(id)"));
    assert!(!valid_id(&"a".repeat(129)));
}

fn bundle(id: &str, pid: u32, spec: &str) -> String {
    let dir = format!("/run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}");
    format!("{dir}/init.pid:{pid}\n{dir}/config.json:{spec}\n")
}

/// Output of the no-crictl branch: tasks and pods from the task bundles, one `ctr info` left
/// for a sandbox without CRI annotations.
#[test]
fn bundle_scan_maps_tasks_and_pods_from_the_oci_specs() {
    let mut s = shim(116, ID_A);
    s += &shim(200, ID_B);
    s += &proc_line(136, &["/pause"]);
    s += &proc_line(220, &["/app"]);
    s += "@@kind-chaos:bundles@@\n";
    s += &bundle(
        ID_A,
        136,
        r#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"ID","io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"ns1","io.kubernetes.cri.sandbox-uid":"u-web"}}"#,
    );
    s += &bundle(
        CTR_APP,
        220,
        &format!(
            r#"{{"annotations":{{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-id":"{ID_A}"}}}}"#
        ),
    );
    // Its init process is gone: a stopped task.
    s += &stopped_db_sandbox();
    let scan = parse_scan(&s).unwrap();
    assert_eq!(scan.source, Source::Ctr);
    let tasks: Vec<(&str, u32, &str)> = scan
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.pid, t.status.as_str()))
        .collect();
    assert_eq!(
        tasks,
        vec![
            (ID_A, 136, "RUNNING"),
            (CTR_APP, 220, "RUNNING"),
            (ID_B, 210, "STOPPED")
        ]
    );
    let r = scan.reality("n1");
    let by: Vec<(String, &str, bool, Vec<String>)> = r
        .sandboxes
        .iter()
        .map(|s| {
            (
                s.pod.to_string(),
                s.uid.as_str(),
                s.live,
                s.containers.clone(),
            )
        })
        .collect();
    assert_eq!(
        by,
        vec![
            (
                "ns1/web".to_string(),
                "u-web",
                true,
                vec!["app".to_string()]
            ),
            ("ns2/db".to_string(), "u-db", true, vec![]),
        ]
    );
    assert_eq!(scan.running_pid(CTR_APP), Some(220));
    assert_eq!(scan.running_pid(ID_B), None, "its init process is gone");
}

#[test]
fn bundle_lines_that_are_not_task_files_are_ignored() {
    let s = "@@kind-chaos:bundles@@\n\
             /run/containerd/io.containerd.runtime.v2.task/k8s.io/$(id)/init.pid:5\n\
             /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/init.pid:not-a-pid\n\
             /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs:x\n\
             no colon here\n\
             @@kind-chaos:end@@\n";
    let scan = parse_scan(s).unwrap();
    assert!(
        scan.tasks.is_empty() && scan.sandboxes.is_empty(),
        "{scan:?}"
    );
}

#[test]
fn a_spec_being_written_leaves_its_task_unmapped_until_the_next_scan() {
    let s = format!(
        "{}@@kind-chaos:bundles@@\n{}@@kind-chaos:end@@\n",
        proc_line(7, &["/pause"]),
        bundle(ID_A, 7, "{\"ociVersion\":\"1.1")
    );
    let scan = parse_scan(&s).unwrap();
    assert_eq!(scan.tasks.len(), 1);
    assert!(scan.sandboxes.is_empty());
}

/// containerd's API (the socket path) read like the exec path's bundles and `ctr info`: same
/// pods, containers and tasks; a container without a task is left out, as the exec path (which
/// starts from the tasks) never sees it.
#[test]
fn containerd_api_reads_like_the_bundles_and_ctr_info() {
    let processes = shim(116, ID_A) + &proc_line(51, &["/usr/bin/kubelet"]);
    let web = r#"{"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"ns1","io.kubernetes.cri.sandbox-uid":"u-web"}}"#;
    let app = format!(
        r#"{{"annotations":{{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-id":"{ID_A}"}}}}"#
    );
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let db = labels(&[
        ("io.cri-containerd.kind", "sandbox"),
        ("io.kubernetes.pod.name", "db"),
        ("io.kubernetes.pod.namespace", "ns2"),
        ("io.kubernetes.pod.uid", "u-db"),
    ]);
    let no_task = "d".repeat(64);
    let containers: Vec<ApiContainer> = vec![
        (ID_A.into(), BTreeMap::new(), web.as_bytes().to_vec()),
        (CTR_APP.into(), BTreeMap::new(), app.clone().into_bytes()),
        (ID_B.into(), db.clone(), br#"{"annotations":{}}"#.to_vec()),
        (no_task.clone(), db, Vec::new()),
    ];
    let task = |id: &str, pid, status: &str| Task {
        id: id.into(),
        pid,
        status: status.into(),
    };
    let tasks = vec![
        task(ID_A, 136, "RUNNING"),
        task(CTR_APP, 220, "RUNNING"),
        task(ID_B, 210, "STOPPED"),
    ];
    let scan = from_containerd(&processes, tasks.clone(), &containers, false).unwrap();
    assert_eq!(scan.tasks, tasks);
    assert_eq!(scan.kubelet_pids, vec![51]);

    // The exec path's output for the same node.
    let mut s = processes.clone();
    s += "@@kind-chaos:bundles@@\n";
    s += &bundle(ID_A, 136, web);
    s += &bundle(CTR_APP, 220, &app);
    s += &stopped_db_sandbox();
    // The exec path sees 136 and 220 as live processes; here their status says so.
    s = proc_line(136, &["/pause"]) + &proc_line(220, &["/app"]) + &s;
    let exec = parse_scan(&s).unwrap();
    assert_eq!(scan.reality("n1"), exec.reality("n1"));
    let r = scan.reality("n1");
    assert_eq!(r.sandboxes.len(), 2, "{r:#?}");
    assert!(r.sandboxes.iter().all(|s| s.id != no_task));
    assert_eq!(r.sandboxes[0].containers, vec!["app".to_string()]);
}

/// The end of a scan: sandbox `db`'s bundle without CRI annotations (its init process gone, a
/// stopped task) and its labels as `ctr containers info` shows them.
fn stopped_db_sandbox() -> String {
    let mut s = bundle(ID_B, 210, r#"{"annotations":{}}"#);
    s += "\n";
    s += &info(
        ID_B,
        r#""io.cri-containerd.kind": "sandbox", "io.kubernetes.pod.name": "db", "io.kubernetes.pod.namespace": "ns2", "io.kubernetes.pod.uid": "u-db""#,
        "",
    );
    s += "@@kind-chaos:end@@\n";
    s
}

/// On a node with `crictl` the socket path gives the CRI's view, as the exec path's `crictl
/// pods`/`crictl ps` would: a sandbox whose task is gone (stopped, not yet removed) is still
/// listed, not live; an exited container is not running.
#[test]
fn containerd_api_on_a_crictl_node_reads_like_crictl() {
    let processes = shim(116, ID_A) + &proc_line(51, &["/usr/bin/kubelet"]);
    let sandbox = |name: &str, uid: &str| {
        format!(
            r#"{{"annotations":{{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-name":"{name}","io.kubernetes.cri.sandbox-namespace":"default","io.kubernetes.cri.sandbox-uid":"{uid}"}}}}"#
        )
    };
    let container = |name: &str| {
        format!(
            r#"{{"annotations":{{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"{name}","io.kubernetes.cri.sandbox-id":"{ID_A}"}}}}"#
        )
    };
    let containers: Vec<ApiContainer> = vec![
        (
            ID_A.into(),
            BTreeMap::new(),
            sandbox("web", "u1").into_bytes(),
        ),
        (
            ID_B.into(),
            BTreeMap::new(),
            sandbox("old", "u2").into_bytes(),
        ),
        (
            CTR_APP.into(),
            BTreeMap::new(),
            container("app").into_bytes(),
        ),
        (
            "e1".into(),
            BTreeMap::new(),
            container("sidecar").into_bytes(),
        ),
    ];
    let task = |id: &str, pid| Task {
        id: id.into(),
        pid,
        status: "RUNNING".into(),
    };
    let tasks = vec![task(ID_A, 136), task(CTR_APP, 220)];
    let socket = from_containerd(&processes, tasks, &containers, true).unwrap();
    assert_eq!(socket.source, Source::Crictl);

    let mut s = processes.clone();
    s += &crictl_web_and_old();
    s += "@@kind-chaos:end@@\n";
    let crictl = parse_scan(&s).unwrap();
    let r = socket.reality("n1");
    assert_eq!(r, crictl.reality("n1"));
    let by: Vec<(&str, bool, Vec<String>)> = r
        .sandboxes
        .iter()
        .map(|s| (s.pod.name.as_str(), s.live, s.containers.clone()))
        .collect();
    assert_eq!(
        by,
        vec![
            ("old", false, vec![]),
            ("web", true, vec!["app".to_string()])
        ]
    );
    // Without crictl the same node reads as its task bundles would: the stopped sandbox is gone.
    let containers_again = containers.clone();
    let bundles = from_containerd(
        &processes,
        vec![task(ID_A, 136), task(CTR_APP, 220)],
        &containers_again,
        false,
    )
    .unwrap();
    assert_eq!(bundles.reality("n1").sandboxes.len(), 1);
}

/// `crictl pods` and `crictl ps` of a node with sandbox `web` (ready, `app` running, `sidecar`
/// exited) and sandbox `old` (not ready), as the scan prints them.
fn crictl_web_and_old() -> String {
    let mut s = String::from("@@kind-chaos:crictl-pods@@\n");
    s += &format!(
        r#"{{"items": [
  {{"id": "{ID_A}", "metadata": {{"name": "web", "uid": "u1", "namespace": "default"}}, "state": "SANDBOX_READY"}},
  {{"id": "{ID_B}", "metadata": {{"name": "old", "uid": "u2", "namespace": "default"}}, "state": "SANDBOX_NOTREADY"}}
]}}
"#
    );
    s += "@@kind-chaos:crictl-ps@@\n";
    s += &format!(
        r#"{{"containers": [
  {{"id": "{CTR_APP}", "podSandboxId": "{ID_A}", "metadata": {{"name": "app"}}, "state": "CONTAINER_RUNNING"}},
  {{"id": "e1", "podSandboxId": "{ID_A}", "metadata": {{"name": "sidecar"}}, "state": "CONTAINER_EXITED"}}
]}}
"#
    );
    s
}
