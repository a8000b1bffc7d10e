//! What the API server's Go types say about JSON that the protobuf bytes do not.
//!
//! The API server writes every non-pointer scalar field into protobuf, zero or not
//! (`hostNetwork: false`, `generation: 0`), and every pointer field that is set. Its JSON,
//! made by `encoding/json` from the same Go struct, leaves a zero field out when the field is
//! tagged `omitempty` and is not a pointer. So whether `false`, `0`, `""`, `[]` or `{}` is shown
//! depends on the Go field, which the bytes do not record. This module holds that knowledge:
//!
//! - fields without `omitempty` (shown even when zero; an empty list or map shows as `null`,
//!   as Go's nil slice does): generated from k8s-openapi, whose required fields are exactly
//!   those ([`super::generated::REQUIRED`]), plus the few that are `+optional` yet lack
//!   `omitempty` ([`SHOWN`], from the Go types);
//! - pointer fields to scalars (`*bool`, `*int32`, `*string`: a set zero is shown):
//!   [`POINTERS`], written from the Go types of the kinds a kind cluster stores (core, apps,
//!   batch, coordination, discovery, rbac, meta) and CRD schemas. A pointer field of another group's type that
//!   is set to zero is left out, as if it were a plain `omitempty` field (docs/etcd.md).
//!
//! A pointer field without `omitempty` that is not set is `null` ([`NULL_WHEN_UNSET`]).
//!
//! Types are named as k8s-pb names them (`CSIVolumeSource`, `FcVolumeSource`), which is how
//! they appear in the decoded tree. Names are not qualified by API group: where two groups use
//! one name (`Subject`, `EndpointPort`) the facts are merged, which only ever shows a zero the
//! API would also show for one of them.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::generated::{NAMES, REQUIRED};

/// Pointer fields to scalars and strings, per k8s-pb type (space-separated JSON names).
const POINTERS: &[(&str, &str)] = &[
    // meta/v1
    ("ObjectMeta", "deletionGracePeriodSeconds"),
    ("OwnerReference", "controller blockOwnerDeletion"),
    ("ListMeta", "remainingItemCount"),
    // core/v1: pods and their templates
    (
        "PodSpec",
        "activeDeadlineSeconds automountServiceAccountToken enableServiceLinks hostUsers \
         priority setHostnameAsFQDN shareProcessNamespace terminationGracePeriodSeconds \
         runtimeClassName preemptionPolicy hostnameOverride",
    ),
    (
        "PodSecurityContext",
        "fsGroup runAsGroup runAsNonRoot runAsUser fsGroupChangePolicy \
         supplementalGroupsPolicy seLinuxChangePolicy",
    ),
    (
        "SecurityContext",
        "allowPrivilegeEscalation privileged readOnlyRootFilesystem runAsGroup runAsNonRoot \
         runAsUser procMount",
    ),
    ("SeccompProfile", "localhostProfile"),
    ("AppArmorProfile", "localhostProfile"),
    (
        "WindowsSecurityContextOptions",
        "hostProcess gmsaCredentialSpecName gmsaCredentialSpec runAsUserName",
    ),
    ("Container", "restartPolicy"),
    ("EphemeralContainer", "restartPolicy"),
    ("Probe", "terminationGracePeriodSeconds"),
    ("GrpcAction", "service"),
    ("Toleration", "tolerationSeconds"),
    (
        "TopologySpreadConstraint",
        "minDomains nodeAffinityPolicy nodeTaintsPolicy",
    ),
    ("VolumeMount", "mountPropagation recursiveReadOnly"),
    ("VolumeMountStatus", "recursiveReadOnly"),
    ("ContainerStatus", "started stopSignal"),
    ("HostPathVolumeSource", "type"),
    ("ConfigMapVolumeSource", "defaultMode optional defaultUser"),
    ("SecretVolumeSource", "defaultMode optional defaultUser"),
    ("ProjectedVolumeSource", "defaultMode defaultUser"),
    ("DownwardAPIVolumeSource", "defaultMode defaultUser"),
    ("DownwardAPIVolumeFile", "mode user"),
    ("KeyToPath", "mode user"),
    ("ConfigMapProjection", "optional"),
    ("SecretProjection", "optional"),
    ("ConfigMapEnvSource", "optional"),
    ("SecretEnvSource", "optional"),
    ("ConfigMapKeySelector", "optional"),
    ("SecretKeySelector", "optional"),
    ("FileKeySelector", "optional"),
    ("ServiceAccountTokenProjection", "expirationSeconds user"),
    (
        "ClusterTrustBundleProjection",
        "name signerName optional user",
    ),
    ("PodCertificateProjection", "maxExpirationSeconds user"),
    ("CSIVolumeSource", "readOnly fsType"),
    ("FcVolumeSource", "lun"),
    ("IscsiVolumeSource", "initiatorName"),
    ("EmptyDirVolumeSource", "mode"),
    (
        "PersistentVolumeClaimSpec",
        "storageClassName volumeMode volumeAttributesClassName",
    ),
    ("TypedLocalObjectReference", "apiGroup"),
    ("TypedObjectReference", "apiGroup namespace"),
    (
        "PodResourceClaim",
        "resourceClaimName resourceClaimTemplateName",
    ),
    ("PodResourceClaimStatus", "resourceClaimName"),
    // core/v1: other kinds
    ("ConfigMap", "immutable"),
    ("Secret", "immutable"),
    ("ServiceAccount", "automountServiceAccountToken"),
    (
        "ServiceSpec",
        "allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy ipFamilyPolicy \
         trafficDistribution",
    ),
    ("ServicePort", "appProtocol"),
    ("EndpointPort", "appProtocol"),
    ("ClientIpConfig", "timeoutSeconds"),
    ("LoadBalancerIngress", "ipMode"),
    ("EndpointAddress", "nodeName"),
    ("NodeFeatures", "supplementalGroupsPolicy"),
    (
        "NodeRuntimeHandlerFeatures",
        "recursiveReadOnlyMounts userNamespaces",
    ),
    ("NodeSwapStatus", "capacity"),
    ("ReplicationControllerSpec", "replicas"),
    // apps/v1
    (
        "DeploymentSpec",
        "replicas progressDeadlineSeconds revisionHistoryLimit podReplacementPolicy",
    ),
    ("DeploymentStatus", "collisionCount terminatingReplicas"),
    ("ReplicaSetSpec", "replicas"),
    ("ReplicaSetStatus", "terminatingReplicas"),
    ("DaemonSetSpec", "revisionHistoryLimit"),
    ("DaemonSetStatus", "collisionCount"),
    ("StatefulSetSpec", "replicas revisionHistoryLimit"),
    ("StatefulSetStatus", "collisionCount"),
    ("RollingUpdateStatefulSetStrategy", "partition"),
    // batch/v1
    (
        "JobSpec",
        "activeDeadlineSeconds backoffLimit backoffLimitPerIndex completions manualSelector \
         maxFailedIndexes parallelism suspend ttlSecondsAfterFinished completionMode \
         podReplacementPolicy managedBy",
    ),
    ("JobStatus", "ready terminating failedIndexes"),
    ("SuccessPolicyRule", "succeededIndexes succeededCount"),
    (
        "CronJobSpec",
        "failedJobsHistoryLimit startingDeadlineSeconds successfulJobsHistoryLimit suspend \
         timeZone",
    ),
    // coordination/v1
    (
        "LeaseSpec",
        "holderIdentity leaseDurationSeconds leaseTransitions strategy preferredHolder",
    ),
    // discovery/v1
    ("Endpoint", "hostname nodeName zone"),
    ("EndpointConditions", "ready serving terminating"),
    ("EndpointPort", "name protocol port appProtocol"),
    // apiextensions/v1 (CRD schemas)
    (
        "JsonSchemaProps",
        "maximum minimum maxLength minLength maxItems minItems multipleOf maxProperties \
         minProperties x-kubernetes-preserve-unknown-fields x-kubernetes-embedded-resource \
         x-kubernetes-int-or-string x-kubernetes-list-type x-kubernetes-map-type",
    ),
];

/// Fields that are `+optional` (not required in the OpenAPI schema) but lack `omitempty` in Go.
const SHOWN: &[(&str, &str)] = &[
    ("Role", "rules"),
    ("ClusterRole", "rules"),
    ("EndpointSlice", "endpoints ports"),
    ("Event", "reportingComponent reportingInstance"),
    ("StatefulSetStatus", "availableReplicas"),
    ("StatefulSetSpec", "serviceName"),
    ("StatefulSetOrdinals", "start"),
    ("NodeRuntimeHandler", "name"),
    ("RoleRef", "apiGroup"),
    ("RangeAllocation", "range data"),
];

/// Pointer fields without `omitempty`: unset (nil in Go), the API's JSON shows them as `null`.
const NULL_WHEN_UNSET: &[(&str, &str)] = &[
    ("TypedLocalObjectReference", "apiGroup"),
    ("TypedObjectReference", "apiGroup"),
    ("GrpcAction", "service"),
];

/// Fields that Go embeds (`json:",inline"`): their fields are shown at the parent's level
/// (`volumes[].emptyDir`, not `volumes[].volumeSource.emptyDir`). From the k8s-pb fields
/// k8s-openapi has no field for (make_tables.py lists them).
pub(super) const INLINE: &[&str] = &[
    "volume_source",
    "persistent_volume_source",
    "handler",
    "ephemeral_container_common",
    "local_object_reference",
    "rule_with_operations",
    "rule",
    "ingress_rule_value",
    "device_configuration",
];

/// Fields whose `Vec<u8>` is bytes (base64 in JSON) rather than a list of numbers.
pub(super) const BYTES: &[&str] = &[
    "raw",
    "ca_bundle",
    "request",
    "certificate",
    "data",
    "binary_data",
    "patch",
    "proof_of_possession",
    "pkix_public_key",
];

static SHOWN_WHEN_ZERO: LazyLock<HashMap<&'static str, HashSet<&'static str>>> =
    LazyLock::new(|| {
        let mut m: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (ty, fields) in REQUIRED.iter().chain(POINTERS).chain(SHOWN) {
            m.entry(ty).or_default().extend(fields.split_whitespace());
        }
        m
    });

/// Whether the API's JSON shows field `json` of Go type `ty` when it is zero or empty.
pub(super) fn shown_when_zero(ty: &str, json: &str) -> bool {
    SHOWN_WHEN_ZERO
        .get(ty)
        .is_some_and(|fields| fields.contains(json))
}

/// Whether the API's JSON shows field `json` of Go type `ty` as `null` when it is not set.
pub(super) fn null_when_unset(ty: &str, json: &str) -> bool {
    NULL_WHEN_UNSET.iter().any(|(t, f)| *t == ty && *f == json)
}

/// The JSON name of k8s-pb field `field` of type `ty`.
pub(super) fn json_name(ty: &str, field: &str) -> String {
    if let Some(name) = schema_props_name(ty, field) {
        return name;
    }
    NAMES
        .iter()
        .find(|(t, f, _)| *t == ty && *f == field)
        .map_or_else(|| camel(field), |(_, _, j)| (*j).to_string())
}

/// The names k8s-openapi cannot give: `JSONSchemaProps` (a CRD's schema) writes its own JSON,
/// in JSON Schema's spelling: `$ref` and `$schema`, and its `x-kubernetes-*` extensions
/// hyphenated (`x_kubernetes_list_type` -> `x-kubernetes-list-type`).
fn schema_props_name(ty: &str, field: &str) -> Option<String> {
    if ty != "JsonSchemaProps" {
        return None;
    }
    match field {
        "ref" | "schema" => Some(format!("${field}")),
        _ if field.starts_with("x_kubernetes_") => Some(field.replace('_', "-")),
        _ => None,
    }
}

/// prost's snake_case field name back to the API's camelCase, initialisms restored
/// (`pod_ip` -> `podIP`); the names this gets wrong are in [`NAMES`].
pub(super) fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for (i, p) in field.split('_').filter(|p| !p.is_empty()).enumerate() {
        match p {
            _ if i == 0 => out.push_str(p),
            "ips" => out.push_str("IPs"),
            "cidrs" => out.push_str("CIDRs"),
            "ip" | "id" | "uid" | "cidr" | "uuid" | "uri" | "url" | "tls" | "pid" | "ipc"
            | "cpu" | "io" | "api" => out.push_str(&p.to_ascii_uppercase()),
            _ => {
                let mut cs = p.chars();
                if let Some(c) = cs.next() {
                    out.extend(c.to_uppercase());
                    out.push_str(cs.as_str());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_get_the_apis_spelling() {
        for (ty, snake, api) in [
            ("PodStatus", "pod_ip", "podIP"),
            ("PodStatus", "host_ips", "hostIPs"),
            ("VolumeSource", "downward_api", "downwardAPI"),
            ("ContainerStatus", "container_id", "containerID"),
            ("NodeSpec", "pod_cid_rs", "podCIDRs"),
            ("PolicyRule", "non_resource_ur_ls", "nonResourceURLs"),
            ("PodSpec", "set_hostname_as_fqdn", "setHostnameAsFQDN"),
            ("DaemonEndpoint", "port", "Port"),
            ("ServicePort", "port", "port"),
            ("ObjectMeta", "generate_name", "generateName"),
            ("ManagedFieldsEntry", "fields_v1", "fieldsV1"),
            ("ObjectMeta", "uid", "uid"),
            ("PodSpec", "host_pid", "hostPID"),
            ("PodSpec", "host_ipc", "hostIPC"),
        ] {
            assert_eq!(json_name(ty, snake), api);
        }
    }

    #[test]
    fn a_crd_schema_keeps_json_schemas_spelling() {
        let name = |field| json_name("JsonSchemaProps", field);
        assert_eq!(name("ref"), "$ref");
        assert_eq!(name("schema"), "$schema");
        assert_eq!(name("x_kubernetes_list_type"), "x-kubernetes-list-type");
        assert_eq!(
            name("x_kubernetes_preserve_unknown_fields"),
            "x-kubernetes-preserve-unknown-fields"
        );
        assert_eq!(name("min_length"), "minLength");
        assert_eq!(json_name("JsonSchemaPropsOrBool", "schema"), "schema");
    }

    #[test]
    fn go_facts_decide_which_zeros_show() {
        assert!(shown_when_zero("ContainerStatus", "restartCount"));
        assert!(shown_when_zero("DeploymentSpec", "replicas"));
        assert!(shown_when_zero("Role", "rules"));
        assert!(shown_when_zero("StatefulSetSpec", "serviceName"));
        assert!(shown_when_zero("StatefulSetOrdinals", "start"));
        assert!(!shown_when_zero("PodSpec", "hostNetwork"));
        assert!(!shown_when_zero("ObjectMeta", "generation"));
        assert!(!shown_when_zero("JobStatus", "active"));
    }
}
