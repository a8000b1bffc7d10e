//! core/v1 Events recorded by the control plane's own components (scheduler, node
//! lifecycle controller, taint eviction controller) and by tests through
//! [`crate::FakeApiServer::record_event`].
//!
//! Why it exists: `kubectl describe` and the labs read what happened to a pod or node from
//! its events (`Scheduled`, `NodeNotReady`, `TaintManagerEviction`); one helper writes them
//! the way upstream's event recorder does, with `involvedObject` naming the object.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::semantics;
use crate::store::State;
use crate::util;

/// Records an Event about `involved` from `component` (`Normal` or `Warning`), in the
/// object's namespace (`default` for cluster-scoped objects, as upstream's recorder does).
// Upstream: staging/src/k8s.io/client-go/tools/record/event.go, (*recorder).makeEvent.
pub(crate) fn record(
    st: &mut State,
    involved: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
) -> Result<Value, ApiError> {
    let ns = match util::namespace_of(involved) {
        "" => "default".to_string(),
        ns => ns.to_string(),
    };
    let now = util::now();
    let res = st.reg.events();
    let name = format!("{}.{:016x}", util::name_of(involved), st.rng.next());
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": name, "namespace": ns },
        "involvedObject": {
            "apiVersion": involved["apiVersion"], "kind": involved["kind"],
            "name": util::name_of(involved), "namespace": util::namespace_of(involved),
            "uid": util::uid_of(involved), "resourceVersion": involved["metadata"]["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": { "component": component },
        "reportingComponent": component,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    semantics::create(st, &res, Some(&ns), event)
}
