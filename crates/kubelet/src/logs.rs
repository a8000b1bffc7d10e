//! The kubelet's container log endpoint on port 10250: `GET
//! /containerLogs/{namespace}/{pod}/{container}[?previous=true&tailLines=N]`.
//!
//! Why it exists: the API server answers `pods/log` by asking the kubelet of the pod's node
//! (the served fake-apiserver proxies it here), so logs come from the node's files and
//! fail while the kubelet is down, as on kind. Plain HTTP, not the real kubelet's HTTPS
//! (see testcluster/README.md). The pod is found by the CRI labels of its sandbox (the
//! newest one of that namespace and name), its files under
//! `/var/log/pods/NS_NAME_UID/CONTAINER/ATTEMPT.log`.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cri::Runtime;
use crate::pods::observe::{KIND, POD_NAME, POD_NAMESPACE, POD_UID};

/// An error answer: HTTP status and the text the real kubelet writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogError {
    pub status: u16,
    pub message: String,
}

impl LogError {
    fn new(status: u16, message: String) -> LogError {
        LogError { status, message }
    }
}

/// Serves the log endpoint on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, rt: Runtime, root: PathBuf) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (rt, root) = (rt.clone(), root.clone());
        tokio::spawn(async move {
            if let Err(e) = handle(stream, &rt, &root).await {
                tracing::debug!("log request: {e}");
            }
        });
    }
}

async fn handle(mut stream: TcpStream, rt: &Runtime, root: &Path) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("");
    let (status, body) = match answer(rt, root, target).await {
        Ok(text) => (200, text),
        Err(e) => (e.status, e.message),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// The answer to one request target (path and query).
async fn answer(rt: &Runtime, root: &Path, target: &str) -> Result<String, LogError> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["containerLogs", ns, pod, container] = segs.as_slice() else {
        return Err(LogError::new(404, "404 page not found".into()));
    };
    let mut previous = false;
    let mut tail = None;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            "previous" => previous = v == "true" || v == "1",
            "tailLines" => tail = v.parse::<usize>().ok(),
            _ => {}
        }
    }
    let uid = pod_uid(rt, ns, pod).await?;
    let text = read_log(root, ns, pod, &uid, container, previous).await?;
    Ok(match tail {
        Some(n) => tail_lines(&text, n),
        None => text,
    })
}

/// The uid of the newest sandbox of `ns/pod` on this node.
// Upstream: pkg/kubelet/server/server.go, getContainerLogs: `pod %q does not exist` (404).
async fn pod_uid(rt: &Runtime, ns: &str, pod: &str) -> Result<String, LogError> {
    let sandboxes = rt
        .list(&[(POD_NAMESPACE, ns), (POD_NAME, pod), (KIND, "sandbox")])
        .await
        .map_err(|e| LogError::new(500, e.to_string()))?;
    sandboxes
        .iter()
        .max_by_key(|c| c.created_at.as_ref().map(|t| (t.seconds, t.nanos)))
        .and_then(|c| c.labels.get(POD_UID).cloned())
        .ok_or_else(|| LogError::new(404, format!("pod {pod:?} does not exist")))
}

/// The current (or previous) instance's log of `container`.
// Upstream: pkg/kubelet/kubelet_pods.go, validateContainerLogStatus: the errors for a
// container that has not started and for a missing previous instance (400).
pub async fn read_log(
    root: &Path,
    ns: &str,
    pod: &str,
    uid: &str,
    container: &str,
    previous: bool,
) -> Result<String, LogError> {
    let dir = root.join(format!("{ns}_{pod}_{uid}")).join(container);
    let mut attempts: Vec<u32> = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
                attempts.push(n);
            }
        }
    }
    attempts.sort_unstable_by(|a, b| b.cmp(a));
    let pick = if previous {
        attempts.get(1).ok_or_else(|| {
            LogError::new(
                400,
                format!("previous terminated container {container:?} in pod {pod:?} not found"),
            )
        })?
    } else {
        attempts.first().ok_or_else(|| {
            LogError::new(
                400,
                format!(
                    "container {container:?} in pod {pod:?} is waiting to start: ContainerCreating"
                ),
            )
        })?
    };
    let bytes = tokio::fs::read(dir.join(format!("{pick}.log")))
        .await
        .map_err(|e| LogError::new(500, e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
    if !out.is_empty() && text.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn current_and_previous_are_the_two_newest_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("default_p_u1").join("probe");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("0.log"), "first\n").unwrap();
        std::fs::write(c.join("1.log"), "second\n").unwrap();
        let cur = read_log(dir.path(), "default", "p", "u1", "probe", false).await;
        assert_eq!(cur.unwrap(), "second\n");
        let prev = read_log(dir.path(), "default", "p", "u1", "probe", true).await;
        assert_eq!(prev.unwrap(), "first\n");
    }

    #[tokio::test]
    async fn missing_instances_are_the_kubelets_400s() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("default_p_u1").join("probe");
        std::fs::create_dir_all(&c).unwrap();
        let none = read_log(dir.path(), "default", "p", "u1", "probe", false).await;
        assert_eq!(
            none.unwrap_err(),
            LogError::new(
                400,
                "container \"probe\" in pod \"p\" is waiting to start: ContainerCreating".into()
            )
        );
        std::fs::write(c.join("0.log"), "only\n").unwrap();
        let prev = read_log(dir.path(), "default", "p", "u1", "probe", true).await;
        assert_eq!(
            prev.unwrap_err(),
            LogError::new(
                400,
                "previous terminated container \"probe\" in pod \"p\" not found".into()
            )
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail_lines("a\nb", 5), "a\nb");
    }
}
