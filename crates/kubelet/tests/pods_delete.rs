//! Deletion against a real test node's containerd: the image's stop signal, the grace
//! period, SIGKILL, the final status, the confirming delete; force deletes kill at once;
//! on start, sandboxes of pods the API does not have are removed.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::DeleteParams;
use serde_json::Value;
use support::{Lab, TestNode, eventually, pod};

const TERM_IGNORED: &[&str] = &["sh", "-c", "trap '' TERM; sleep 1000 & wait; sleep 1000"];

/// The last pod status the kubelet patched for `name` (the final one, once it is gone).
fn last_status(lab: &Lab, name: &str) -> Value {
    let path = format!("/api/v1/namespaces/default/pods/{name}/status");
    lab.server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .filter_map(|r| r.body_json())
        .next_back()
        .map(|b| b["status"].clone())
        .expect("a status patch")
}

async fn running(lab: &Lab, name: &str) -> Value {
    eventually(60, &format!("pod {name} Running"), || {
        let p = lab.get(name)?;
        (p["status"]["phase"] == "Running"
            && p["status"]["containerStatuses"][0]["state"]["running"].is_object())
        .then_some(p)
    })
    .await
}

/// Deletes with `grace` and returns how long the pod took to leave the API.
async fn delete_and_time(lab: &Lab, name: &str, grace: u32) -> Duration {
    let t0 = Instant::now();
    lab.pods()
        .delete(name, &DeleteParams::default().grace_period(grace))
        .await
        .expect("delete");
    eventually(30, &format!("pod {name} to be gone"), || {
        lab.get(name).is_none().then_some(())
    })
    .await;
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_honours_stop_signal_grace_period_and_force() {
    let node = TestNode::up("kc-kubelet-del");
    // A sandbox made behind the API's back (the kubelet-failure lab's ghost).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/testcluster.sh");
    let out = Command::new(script)
        .args([
            "pod",
            &node.cluster,
            &node.node,
            "default",
            "ghost",
            "ghost-uid",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = node.runtime().await;
    assert_eq!(
        rt.list(&[("io.kubernetes.pod.uid", "ghost-uid")])
            .await
            .unwrap()
            .len(),
        1
    );

    let mut lab = Lab::start(&node).await;
    let n = node.node.as_str();
    // Removal kills the task first, then deletes the container: wait for the latter.
    let mut gone = false;
    for _ in 0..600 {
        if rt
            .list(&[("io.kubernetes.pod.uid", "ghost-uid")])
            .await
            .unwrap()
            .is_empty()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the ghost sandbox was not removed within 30 s");
    let ghost_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!node.tasks().contains(&ghost_id), "{}", node.tasks());

    lab.create(pod("while-down", n, Some(TERM_IGNORED), "Always", 30))
        .await;
    running(&lab, "while-down").await;
    lab.create(pod("exits", n, None, "Always", 30)).await;
    lab.create(pod("ignores", n, Some(TERM_IGNORED), "Always", 30))
        .await;
    lab.create(pod("forced", n, Some(TERM_IGNORED), "Always", 30))
        .await;
    running(&lab, "exits").await;
    running(&lab, "ignores").await;
    let forced = running(&lab, "forced").await;

    // The probe exits on SIGTERM: exit 0 at once, well within the 3 s grace.
    let took = delete_and_time(&lab, "exits", 3).await;
    eprintln!("SIGTERM-exiting pod gone {took:?} after a delete with grace 3");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let st = last_status(&lab, "exits");
    let t = &st["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["exitCode"], 0, "{st}");
    assert_eq!(t["reason"], "Completed");
    assert_eq!(st["phase"], "Succeeded");
    // The kubelet records what it stops, as upstream's killContainer does.
    let killing: Vec<Value> = lab
        .server
        .list("v1", "Event", Some("default"))
        .into_iter()
        .filter(|e| e["reason"] == "Killing" && e["involvedObject"]["name"] == "exits")
        .collect();
    assert_eq!(killing.len(), 1, "{killing:?}");
    assert_eq!(killing[0]["message"], "Stopping container main");
    assert_eq!(
        killing[0]["involvedObject"]["fieldPath"],
        "spec.containers{main}"
    );

    // SIGTERM ignored: SIGKILL after the grace period, exit 137, no sooner than 3 s.
    let took = delete_and_time(&lab, "ignores", 3).await;
    eprintln!("SIGTERM-ignoring pod gone {took:?} after a delete with grace 3");
    assert!(took >= Duration::from_secs(3), "took {took:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let st = last_status(&lab, "ignores");
    let t = &st["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(t["exitCode"], 137, "{st}");
    assert_eq!(t["reason"], "Error");
    assert!(t["finishedAt"].is_string());
    assert_eq!(st["phase"], "Failed");
    assert!(
        st["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "False")
    );

    // Force delete: gone from the API at once; the kubelet kills without waiting.
    let uid = forced["metadata"]["uid"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    lab.pods()
        .delete("forced", &DeleteParams::default().grace_period(0))
        .await
        .expect("force delete");
    assert!(lab.get("forced").is_none());
    for _ in 0..100 {
        if rt
            .list(&[("io.kubernetes.pod.uid", &uid)])
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rt.list(&[("io.kubernetes.pod.uid", &uid)])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );

    // Deleted while the kubelet is down: it stays Terminating; the kubelet that comes
    // back adopts the running container (no restart) and honours the grace period then.
    lab.stop_kubelet();
    lab.pods()
        .delete("while-down", &DeleteParams::default().grace_period(2))
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = lab
        .get("while-down")
        .expect("still Terminating while the kubelet is down");
    assert!(p["metadata"]["deletionTimestamp"].is_string());
    let t0 = Instant::now();
    lab.restart_kubelet();
    eventually(30, "pod while-down to be gone", || {
        lab.get("while-down").is_none().then_some(())
    })
    .await;
    let took = t0.elapsed();
    eprintln!("pod deleted while the kubelet was down gone {took:?} after it came back (grace 2)");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    let st = last_status(&lab, "while-down");
    assert_eq!(
        st["containerStatuses"][0]["state"]["terminated"]["exitCode"], 137,
        "{st}"
    );
    assert_eq!(st["containerStatuses"][0]["restartCount"], 0, "{st}");
}
