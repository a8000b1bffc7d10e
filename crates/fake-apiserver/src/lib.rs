//! # fake-apiserver: a FAKE Kubernetes API server for kind-chaos's tests
//!
//! **This crate is test support, not part of the product.** It serves plain HTTP on
//! `127.0.0.1:<ephemeral port>` and holds objects in memory as `serde_json::Value`, so that the
//! real `kube::Client` (kube 5, k8s-openapi 0.29) can be pointed at it through a kubeconfig
//! ([`FakeApiServer::kubeconfig_yaml`]) and exercised without a cluster.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = fake_apiserver::FakeApiServer::start().await?;
//! let kubeconfig_yaml = server.kubeconfig_yaml("kind-test");
//! // build a kube::Client from `kubeconfig_yaml` in the test, then:
//! server.kubelet_up("kind-worker", false);
//! let requests = server.requests();
//! # drop((kubeconfig_yaml, requests)); Ok(()) }
//! ```
//!
//! ## Two modes, one server
//!
//! - **In-process** ([`FakeApiServer::start`]): plain HTTP on loopback, no authentication,
//!   for fast tests that drive it with kube-rs and its test knobs.
//! - **Served** (the `serve` binary, [`FakeApiServer::serve_cluster`]): kind's control plane
//!   for the local test cluster: HTTPS on 6443, the cluster PKI and `admin.conf` at
//!   kubeadm's paths ([`pki`]), client-certificate authentication with upstream's outcomes
//!   (a certificate the CA did not sign is 401; none is `system:anonymous`, which may only
//!   read `/healthz`, `/livez`, `/readyz` and `/version`, else 403).
//!
//! ## What it models (the semantics kind-chaos's playbooks rely on)
//!
//! - **Discovery**: `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]`, `/version`, and the
//!   aggregated (apidiscovery v2) form of `/api` and `/apis`. Built-in kinds: core/v1 pods,
//!   nodes, namespaces, events, configmaps, secrets, services, serviceaccounts; apps/v1
//!   deployments, replicasets, daemonsets, statefulsets; batch/v1 jobs. Tests add CRD-like kinds with
//!   [`FakeApiServer::register_resource`] (generic storage).
//! - **CRUD**: create, get, list, update, patch (JSON patch, merge patch, strategic merge with
//!   the list merge keys of the common fields, server-side apply with `fieldManager` that
//!   creates when missing), delete (DeleteOptions in the body or the query), deletecollection.
//!   Cluster-scoped and namespaced kinds; `uid`, `creationTimestamp`, a global
//!   `resourceVersion` counter, `generation` (pods, apps and batch kinds, custom kinds); optimistic
//!   concurrency (409 on a stale `resourceVersion`); no-op writes keep the resourceVersion;
//!   the status subresource (main writes keep `.status`, `/status` writes only `.status`).
//!   Failures are `Status` objects with the real reasons and codes (404 NotFound, 409
//!   AlreadyExists/Conflict, 422 Invalid, 403 Forbidden, 400 BadRequest, 410 Expired).
//! - **Selectors**: label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`); field
//!   selectors limited, as on the real server, to the fields each kind supports
//!   (`metadata.name`, `metadata.namespace`; pods `spec.nodeName`, `status.phase`, ...; events
//!   `involvedObject.*`, `reason`, `type`, ...). Unsupported fields are a 400.
//! - **Watch**: `watch=true` streams `ADDED`/`MODIFIED`/`DELETED` JSON lines from a
//!   `resourceVersion` (replayed from a bounded history; too old gives an `ERROR` event with a
//!   410 `Expired` Status, as the watch cache does), or from "now" with synthetic `ADDED`s when
//!   no version (or `0`) is given; `allowWatchBookmarks`, `sendInitialEvents`,
//!   `timeoutSeconds`; selector watches turn objects leaving/entering the selection into
//!   `DELETED`/`ADDED`. [`FakeApiServer::break_watches`] ends every open watch.
//! - **Finalizers**: deleting an object with finalizers sets `deletionTimestamp` (and
//!   `deletionGracePeriodSeconds`) and keeps it; it goes when its last finalizer is removed and
//!   its grace period is 0. As on the real server, no finalizer can be *added* once
//!   `deletionTimestamp` is set (422 "no new finalizers can be added if the object is being
//!   deleted"); removing them is allowed. Propagation: `Foreground` and `Orphan` add the
//!   `foregroundDeletion` / `orphan` finalizers and a small garbage collector honours them and
//!   `ownerReferences` (dependents of a deleted owner are deleted in the background).
//! - **Pods**: a pod without `spec.nodeName` (or finished) is deleted at once; a scheduled
//!   pod deleted with grace > 0 (request, else `terminationGracePeriodSeconds`, default 30)
//!   becomes Terminating (`deletionTimestamp` = now + grace) until its node's simulated
//!   kubelet confirms, which sets the grace to 0: it is then removed unless finalizers remain.
//!   A kubelet that is down ([`FakeApiServer::kubelet_up`]) confirms nothing, so pods stay
//!   Terminating (the kubelet-failure lab); when it comes back, they go. Grace 0 (force)
//!   removes at once, or leaves the pod Terminating while finalizers remain. Kubelets of every
//!   node name are up unless a test says otherwise, whether or not a Node object exists.
//!   `pods/log` returns text a test set ([`FakeApiServer::set_pod_log`]), with the real
//!   errors for an ambiguous container or a missing previous container.
//! - **Namespaces**: created `Active` with `spec.finalizers: [kubernetes]`; NamespaceLifecycle
//!   admission (404 for any write but a delete into a missing namespace, 403 creating into a
//!   Terminating one; `default`,
//!   `kube-system`, `kube-public` cannot be deleted); delete makes it Terminating and the
//!   namespace controller deletes its contents (with the pod and finalizer rules above), sets
//!   the `NamespaceContentRemaining` / `NamespaceFinalizersRemaining` conditions, and removes
//!   the `kubernetes` finalizer once nothing is left, at which point the namespace goes.
//!   `PUT /api/v1/namespaces/{ns}/finalize` with `spec.finalizers` emptied lets it go at once,
//!   leaving stuck objects stored in the vanished namespace (the dangling-resources lab).
//! - **Controllers** (run on every write and on a 20 ms tick): kubelets, namespace controller,
//!   garbage collector, the deployment controller (a ReplicaSet
//!   `<deployment>-<pod-template-hash>` per template, rolling or recreating to a new one on a
//!   template change, see `src/deployments.rs`), the ReplicaSet controller (pods
//!   `<replicaset>-<random>` with the template's labels and a controller `ownerReference`,
//!   see `src/replicasets.rs`), the Job controller (pods up to `parallelism` until
//!   `completions` succeeded, back-off, `backoffLimit`, `SuccessCriteriaMet`/`Complete` and
//!   `FailureTarget`/`Failed`, see `src/jobs.rs`), and, when [`FakeApiServer::auto_schedule`] is on, a scheduler
//!   (nodeSelector, required/preferred node affinity, taints and tolerations, Ready nodes)
//!   plus kubelets that start bound pods (phase Running, Ready). An optional node monitor
//!   ([`FakeApiServer::node_monitor_grace`]) turns a node whose kubelet is down into Ready
//!   `Unknown` with the `unreachable` taints. The served mode runs instead the node
//!   lifecycle controller driven by the kubelets' Leases and taint-based eviction
//!   ([`FakeApiServer::node_lifecycle`], [`lifecycle`]) and serves `pods/log` from the
//!   node's kubelet on 10250 ([`FakeApiServer::proxy_pod_logs`]).
//! - **Admission**: NamespaceLifecycle and DefaultTolerationSeconds (every new pod tolerates
//!   the `not-ready`/`unreachable` NoExecute taints for 300 s unless it says otherwise).
//! - **Events**: `Scheduled` (scheduler), `NodeNotReady` and `TaintManagerEviction` (node
//!   lifecycle), and any a test records.
//! - **Test knobs**: direct object access ([`FakeApiServer::get`], [`FakeApiServer::insert`],
//!   [`FakeApiServer::list`], [`FakeApiServer::remove`] — the latter is an etcd-style key
//!   delete), nodes ([`FakeApiServer::add_node`], [`FakeApiServer::set_node_ready`]), events
//!   ([`FakeApiServer::record_event`]), a log of every request ([`FakeApiServer::requests`]),
//!   injected failures and delays ([`FakeApiServer::fail_next`]), history compaction.
//!
//! ## What it does not model
//!
//! Authentication in the in-process mode (any credentials are accepted); RBAC (in the served
//! mode every certificate the cluster CA signed may do everything; RBAC failures are
//! injected with [`FakeApiServer::fail_next`]); protobuf (request bodies of Namespaces and
//! ConfigMaps only, `src/protobuf.rs`) and CBOR; `managedFields` and apply
//! conflicts between field managers; `fieldValidation=Strict` beyond the fields of
//! `src/strict.rs` and on patches; `limit`/`continue` pagination (lists are
//! always whole; the `limit` is ignored); `resourceVersionMatch` (a list or get at an older
//! `resourceVersion` is served as it is now); the legacy `/api/v1/watch/...` paths; exec/attach/port-forward (answered 400);
//! admission webhooks, quotas, limit ranges, PodDisruptionBudgets; OpenAPI schemas (no
//! schema validation beyond the fields `src/validation.rs` checks);
//! `events.k8s.io/v1` (only core/v1 events); `minReadySeconds`, `progressDeadlineSeconds`
//! and `collisionCount` of Deployments; pod GC of
//! pods on missing nodes; container restarts, probes and terminal pod phases.
//! In the in-process mode it is one process-local store: nothing survives
//! [`FakeApiServer::shutdown`].
//!
//! ## Storage
//!
//! Both modes share the store (a cache of every object, as upstream's watch cache) and
//! differ only in the [`storage`] behind it: memory in the in-process mode; in the served
//! mode with [`ServeOptions::etcd`], a real etcd under upstream's `/registry/...` keys,
//! JSON values, `resourceVersion` = the key's `mod_revision`, every write an etcd
//! transaction comparing it, and one watch on `/registry/` through which raw etcd writes
//! and deletes reach GET, LIST, API watches and the controllers. GET and LIST without
//! `resourceVersion` and every write first catch the cache up with etcd's current revision
//! (upstream reads etcd for them), `resourceVersion=0` reads the cache as it is
//! (`src/store/fresh.rs`).

// Lets the crate's unit tests share the integration tests' support files (tests/support/).
#[cfg(test)]
extern crate self as fake_apiserver;

mod access;
mod admission;
mod auth;
mod controllers;
mod cordon;
mod deletion;
mod deployments;
mod discovery;
mod error;
mod events;
mod jobs;
mod knobs;
mod kubelet;
pub mod lifecycle;
mod logs;
mod patch;
pub mod pki;
mod protobuf;
mod replicasets;
mod resources;
mod router;
mod scheduler;
mod select;
mod semantics;
mod served;
mod storage;
mod store;
mod strict;
mod subresources;
mod table;
mod tls;
mod util;
mod validation;
mod watch;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch as signal};
use tokio::task::JoinHandle;

pub use access::{FakeNode, ReadyStatus};
pub use error::{ApiError, StartError};
pub use knobs::{Fault, PodTermination, RecordedRequest};
pub use resources::ResourceDef;
pub use served::{EtcdFiles, ServeOptions};
pub use storage::EtcdConfig;
pub use tls::TlsMaterial;

use store::State;

/// What the HTTP side, the watches and the controllers share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The latest resourceVersion, for watches waiting on new changes.
    pub rv_tx: signal::Sender<u64>,
    /// Bumped by `break_watches`.
    pub break_tx: signal::Sender<u64>,
    /// `true` once the server is shutting down.
    pub shutdown_tx: signal::Sender<bool>,
    /// Wakes the controllers after a write.
    pub wake: Notify,
    /// `127.0.0.1:port`.
    pub address: String,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the locked state, then tells watches and controllers if anything changed.
    /// Inside [`router::dry_run`] (a `dryRun=All` request) nothing is stored.
    pub(crate) fn mutate<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (out, changed) = {
            let mut st = self.lock();
            let before = st.rv;
            st.dry_run = router::DRY_RUN.with(std::cell::Cell::get);
            let out = f(&mut st);
            st.dry_run = false;
            (out, (st.rv != before).then_some(st.rv))
        };
        if let Some(rv) = changed {
            self.rv_tx.send_replace(rv);
            self.wake.notify_one();
        }
        out
    }
}

/// A running fake API server. Dropping it (or calling [`FakeApiServer::shutdown`]) stops it.
///
/// It runs as tasks of the tokio runtime that called [`FakeApiServer::start`], so start it
/// inside the test's runtime (`#[tokio::test]`).
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeApiServer {
    /// Binds `127.0.0.1:0`, seeds the namespaces every cluster has (`default`, `kube-system`,
    /// `kube-public`, `kube-node-lease`) and starts serving (plain HTTP, no authentication)
    /// and the controllers.
    pub async fn start() -> Result<FakeApiServer, StartError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start_on(listener, None, None, State::new(), None)
    }

    /// Serves on `listener` (HTTPS when `tls` is given) from `state`; `advertise` is the
    /// address discovery names (default: the bound one); `follow` is notified when the
    /// storage has changes made by others to apply. Shared by both modes.
    fn start_on(
        listener: TcpListener,
        advertise: Option<String>,
        tls: Option<Arc<tls::TlsServer>>,
        state: State,
        follow: Option<Arc<Notify>>,
    ) -> Result<FakeApiServer, StartError> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            rv_tx: signal::channel(0).0,
            break_tx: signal::channel(0).0,
            shutdown_tx: signal::channel(false).0,
            wake: Notify::new(),
            address: advertise.unwrap_or_else(|| addr.to_string()),
        });
        shared.mutate(|st| {
            let nsres = st.reg.namespaces();
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                let obj =
                    json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } });
                // Cannot fail: fresh store, valid names.
                let _ = semantics::create(st, &nsres, None, obj);
            }
        });
        let served = tls.is_some();
        let mut tasks = vec![
            tokio::spawn(router::serve(listener, shared.clone(), tls)),
            tokio::spawn(controllers::run(shared.clone())),
        ];
        if let Some(wake) = follow {
            tasks.push(tokio::spawn(follow_storage(shared.clone(), wake)));
        }
        Ok(FakeApiServer {
            shared,
            addr,
            tls: served,
            tasks,
        })
    }

    /// `http://127.0.0.1:<port>` (`https://<bound address>` in the served mode).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig whose cluster, user and context are all named `context_name` (and that
    /// context current), pointing at [`FakeApiServer::url`] without credentials.
    pub fn kubeconfig_yaml(&self, context_name: &str) -> String {
        let n = context_name;
        format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\nclusters:\n- name: {n}\n  cluster:\n    server: {url}\ncontexts:\n- name: {n}\n  context:\n    cluster: {n}\n    user: {n}\ncurrent-context: {n}\nusers:\n- name: {n}\n  user: {{}}\n",
            url = self.url()
        )
    }

    /// Stops serving: closes the listener, every connection and watch, and the controllers.
    /// Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.shared.shutdown_tx.send_replace(true);
        for t in &self.tasks {
            t.abort();
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// Applies what others change in the storage (a raw etcd delete) as soon as its watch
/// brings it, so GET, LIST and API watches show it at once, and wakes the controllers.
async fn follow_storage(shared: Arc<Shared>, wake: Arc<Notify>) {
    let mut down = shared.shutdown_tx.subscribe();
    loop {
        tokio::select! {
            _ = wake.notified() => shared.mutate(State::follow),
            _ = down.changed() => return,
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
