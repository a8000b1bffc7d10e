//! The node's heartbeat Lease in `kube-node-lease`.
//!
//! Follows upstream's node lease controller (pkg/kubelet/nodelease/controller.go, now
//! k8s.io/component-helpers/apimachinery/lease/controller.go): `ensureLease` creates the
//! Lease named after the node with `holderIdentity` = node name and
//! `leaseDurationSeconds` (40), owned by the Node (`setNodeOwnerFunc`); then every
//! `renewIntervalFraction` (0.25) of the duration `retryUpdateLease` PUTs the cached copy
//! with a fresh `renewTime`, re-reading it on a conflict (up to `maxUpdateRetries`, 5).
//! The node lifecycle controller reads `renewTime` to decide whether the node is alive.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

const MAX_UPDATE_RETRIES: usize = 5;

/// Keeps one node's Lease renewed; holds the last copy written, as upstream caches it.
pub struct LeaseRenewer {
    api: Api<Lease>,
    node: String,
    node_uid: Option<String>,
    duration_seconds: i32,
    latest: Option<Lease>,
}

impl LeaseRenewer {
    /// `node_uid` (of the registered Node) makes the Node the Lease's owner.
    pub fn new(
        client: kube::Client,
        node: &str,
        node_uid: Option<String>,
        duration_seconds: u32,
    ) -> LeaseRenewer {
        LeaseRenewer {
            api: Api::namespaced(client, LEASE_NAMESPACE),
            node: node.to_string(),
            node_uid,
            duration_seconds: i32::try_from(duration_seconds).unwrap_or(40),
            latest: None,
        }
    }

    /// Renews the Lease now (creating it if needed). Returns it as stored.
    pub async fn renew(&mut self) -> Result<Lease, kube::Error> {
        let mut last_err = None;
        for _ in 0..MAX_UPDATE_RETRIES {
            let base = match self.latest.take() {
                Some(l) => l,
                None => match self.api.get_opt(&self.node).await? {
                    Some(l) => l,
                    None => {
                        let created = self.create().await?;
                        self.latest = Some(created.clone());
                        return Ok(created);
                    }
                },
            };
            let lease = self.refreshed(base);
            match self
                .api
                .replace(&self.node, &PostParams::default(), &lease)
                .await
            {
                Ok(stored) => {
                    self.latest = Some(stored.clone());
                    return Ok(stored);
                }
                // Stale copy (409) or deleted meanwhile (404): read it again.
                Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                    last_err = Some(kube::Error::Api(s));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            kube::Error::Service("lease update kept conflicting".to_string().into())
        }))
    }

    async fn create(&self) -> Result<Lease, kube::Error> {
        let lease = self.refreshed(Lease {
            metadata: ObjectMeta {
                name: Some(self.node.clone()),
                namespace: Some(LEASE_NAMESPACE.to_string()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        self.api.create(&PostParams::default(), &lease).await
    }

    /// The lease with holder, duration, owner and `renewTime` = now.
    fn refreshed(&self, mut lease: Lease) -> Lease {
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = Some(self.node.clone());
        spec.lease_duration_seconds = Some(self.duration_seconds);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        if let Some(uid) = &self.node_uid {
            let owners = lease.metadata.owner_references.get_or_insert_with(Vec::new);
            if owners.is_empty() {
                owners.push(OwnerReference {
                    api_version: "v1".to_string(),
                    kind: "Node".to_string(),
                    name: self.node.clone(),
                    uid: uid.clone(),
                    ..OwnerReference::default()
                });
            }
        }
        lease
    }
}
