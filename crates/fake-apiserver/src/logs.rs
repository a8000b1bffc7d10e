//! `pods/log` through the kubelet of the pod's node, as the real API server serves it: it
//! finds the node's address and kubelet port, asks `GET /containerLogs/NS/POD/CONTAINER` and
//! passes the answer on (the kubelet's own error text and status included).
//!
//! Why it exists: in the local test cluster the logs live in the nodes (crates/kubelet
//! serves them on 10250), so `kubectl logs` and the labs' `pod-logs` assertions read the
//! containers' real output, and fail while the node's kubelet is down, as on kind. Plain
//! HTTP to the kubelet (the real one is HTTPS, unverified by default).

use std::sync::Arc;
use std::time::Duration;

use hyper::Response;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Shared;
use crate::error::ApiError;
use crate::router::{Body, Req, text_response};
use crate::subresources::log_container;
use crate::util::str_at;

const KUBELET_PORT: u64 = 10250;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `segs` is `api/v1/namespaces/NS/pods/NAME/log`: `(NS, NAME)`.
pub(crate) fn log_path<'a>(segs: &[&'a str]) -> Option<(&'a str, &'a str)> {
    match segs {
        ["api", "v1", "namespaces", ns, "pods", name, "log"] => Some((ns, name)),
        _ => None,
    }
}

/// The node's address for the kubelet: its InternalIP, else its first address.
// Upstream: pkg/kubelet/client/kubelet_client.go, NodeConnectionInfoGetter.GetConnectionInfo
// (preferred address types, daemonEndpoints.kubeletEndpoint.Port).
fn kubelet_address(node: &Value) -> Option<String> {
    let addrs = node["status"]["addresses"].as_array()?;
    let ip = addrs
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .or_else(|| addrs.first())?["address"]
        .as_str()?;
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .filter(|p| *p > 0)
        .unwrap_or(KUBELET_PORT);
    Some(format!("{ip}:{port}"))
}

/// `GET .../pods/{name}/log` answered by the node's kubelet.
// Upstream: pkg/registry/core/pod/rest/log.go, (*LogREST).Get -> pod.LogLocation and the
// generic LocationStreamer with its response checker.
pub(crate) async fn proxy(
    shared: &Arc<Shared>,
    r: &Req,
    ns: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let (addr, path) = {
        let st = shared.lock();
        let pods = st.reg.pods();
        let pod = st
            .get(&pods, ns, name)
            .ok_or_else(|| ApiError::not_found(&pods, name))?;
        let container = log_container(pod, r)?;
        let node = str_at(pod, &["spec", "nodeName"]).unwrap_or("");
        if node.is_empty() {
            // Upstream: pkg/registry/core/pod/strategy.go, LogLocation.
            return Err(ApiError::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let nodes = st.reg.nodes();
        let addr = st
            .get(&nodes, "", node)
            .and_then(kubelet_address)
            .ok_or_else(|| ApiError::not_found(&nodes, node))?;
        let mut query = Vec::new();
        for key in [
            "previous",
            "tailLines",
            "timestamps",
            "sinceSeconds",
            "limitBytes",
        ] {
            if let Some(v) = r.q(key) {
                query.push(format!("{key}={v}"));
            }
        }
        let mut path = format!("/containerLogs/{ns}/{name}/{container}");
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        (addr, path)
    };
    let url = format!("http://{addr}{path}");
    let (status, body) = fetch(&addr, &path)
        .await
        .map_err(|e| ApiError::new(500, "InternalError", format!("Get \"{url}\": {e}")))?;
    if (200..300).contains(&status) {
        return Ok(text_response(body));
    }
    // Upstream: staging/src/k8s.io/apiserver/pkg/registry/generic/rest/response_checker.go,
    // Check -> errors.NewGenericServerResponse(status, "", pods/log, name, body).
    let reason = match status {
        400 => "BadRequest",
        404 => "NotFound",
        _ => "InternalError",
    };
    Err(ApiError::new(status, reason, body.trim_end().to_string()))
}

/// One HTTP/1.1 GET with `Connection: close`: the status and the body.
async fn fetch(addr: &str, path: &str) -> Result<(u16, String), String> {
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("dial tcp {addr}: i/o timeout"))?
        .map_err(|e| format!("dial tcp {addr}: connect: {e}"))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tokio::time::timeout(READ_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .map_err(|_| "read: i/o timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "malformed HTTP response".to_string())?;
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "malformed HTTP status line".to_string())?;
    Ok((status, body.to_string()))
}
