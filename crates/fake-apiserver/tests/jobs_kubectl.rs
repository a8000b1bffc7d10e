//! batch/v1 Jobs through the real kubectl against the served mode (`serve` as a process):
//! `kubectl create -f` of a Job, `kubectl get jobs`' columns, the restart-policy validation and
//! `kubectl wait --for=condition=complete`. Nothing plays the kubelet in served mode, so the
//! test reports the pod's end through `pods/status` as a kubelet would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const KUBECTL: &str = "/usr/bin/kubectl";

struct Served {
    child: Child,
    kubeconfig: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Served {
    fn start() -> Served {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut child = Command::new(env!("CARGO_BIN_EXE_serve"))
            .args(["--cluster", "jobs-test", "--listen", "127.0.0.1:0"])
            .arg("--pki-dir")
            .arg(dir.join("pki"))
            .arg("--admin-conf")
            .arg(dir.join("admin.conf"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        let port: u16 = line
            .trim()
            .strip_prefix("serving on https://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("serve did not start: {line:?}"));
        let conf = std::fs::read_to_string(dir.join("admin.conf")).expect("admin.conf");
        let text: String = conf
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("server: ") {
                    format!("    server: https://127.0.0.1:{port}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, text).expect("kubeconfig");
        Served {
            child,
            kubeconfig,
            _tmp: tmp,
        }
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        kubectl(&self.kubeconfig, args, stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl(args, None);
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: these tests drive the served API with the real kubectl"
    );
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        std::io::Write::write_all(&mut input, text.as_bytes()).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect("kubectl output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn kubectl_create_job_runs_a_pod_and_wait_sees_the_job_complete() {
    let s = Served::start();
    // `kubectl create job` sends protobuf, which the fake decodes for Namespaces and
    // ConfigMaps only: the same Job (what `kubectl create job hello --image=busybox
    // --dry-run=client -o yaml -- true` prints) from a manifest, sent as JSON.
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hello\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: hello\n        image: busybox\n        command: [\"true\"]\n";
    let (ok, out, err) = s.kubectl(&["create", "--validate=false", "-f", "-"], Some(job));
    assert!(ok, "{err}");
    assert!(out.contains("job.batch/hello created"), "{out}");
    let out = s.ok(&["get", "jobs"]);
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{out}"
    );
    let row: Vec<&str> = out
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["hello", "Running", "0/1"], "{out}");
    let pods = s.ok(&[
        "get",
        "pods",
        "-l",
        "batch.kubernetes.io/job-name=hello",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    let pods: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(pods.len(), 1, "one pod: {pods:?}");
    let (ok, _, err) = s.kubectl(
        &[
            "wait",
            "--for=condition=complete",
            "job/hello",
            "--timeout=1s",
        ],
        None,
    );
    assert!(!ok, "not complete before its pod succeeded: {err}");
    let status = r#"{"status":{"phase":"Succeeded","containerStatuses":[{"name":"hello","image":"busybox","imageID":"","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#;
    s.ok(&[
        "patch",
        "pod",
        pods[0],
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    let out = s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/hello",
        "--timeout=10s",
    ]);
    assert!(out.contains("job.batch/hello condition met"), "{out}");
    let out = s.ok(&["get", "jobs", "hello", "--no-headers"]);
    let row: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&row[..3], ["hello", "Complete", "1/1"], "{out}");
    let out = s.ok(&[
        "get",
        "job",
        "hello",
        "-o",
        "jsonpath={.status.succeeded} {.status.conditions[*].type}",
    ]);
    assert_eq!(out, "1 SuccessCriteriaMet Complete");
    // kubectl deletes with Background propagation: the pod goes with the Job.
    s.ok(&["delete", "job", "hello", "--wait=true", "--timeout=10s"]);
    let mut left = String::from("?");
    for _ in 0..50 {
        left = s.ok(&["get", "pods", "-o", "name"]);
        if left.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(left.trim(), "", "the Job's pod is collected");
}

#[test]
fn a_job_whose_pods_restart_always_is_refused() {
    let s = Served::start();
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: always\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers:\n      - name: c\n        image: busybox\n";
    let (ok, _, err) = s.kubectl(&["create", "--validate=false", "-f", "-"], Some(job));
    assert!(!ok, "refused");
    assert!(
        err.contains(
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        ),
        "{err}"
    );
}
