//! The Kubernetes kinds whose protobuf this build decodes: every persisted kind of the stable
//! API groups k8s-pb knows. The envelope's apiVersion and kind pick the type; the type's
//! `Debug` form (prost's, field by field) is what [`super::debug`] parses and [`super::json`]
//! turns into JSON, so one list of types is all there is to maintain.

use k8s_pb::Resource;
use prost::Message;

macro_rules! kinds {
    ($($ty:path),* $(,)?; $(($av:literal, $kind:literal, $raw_ty:path)),* $(,)?) => {
        /// The `Debug` text of the object of `kind` in `raw`, or `None` for an unknown kind.
        pub fn debug_of(
            api_version: &str,
            kind: &str,
            raw: &[u8],
        ) -> Option<Result<String, prost::DecodeError>> {
            $(
                if api_version == <$ty as Resource>::API_VERSION && kind == <$ty as Resource>::KIND {
                    return Some(<$ty as Message>::decode(raw).map(|m| format!("{m:?}")));
                }
            )*
            $(
                if api_version == $av && kind == $kind {
                    return Some(<$raw_ty as Message>::decode(raw).map(|m| format!("{m:?}")));
                }
            )*
            None
        }

        /// Every (apiVersion, kind) that [`debug_of`] decodes.
        pub fn known_kinds() -> Vec<(&'static str, &'static str)> {
            vec![$((<$ty as Resource>::API_VERSION, <$ty as Resource>::KIND),)* $(($av, $kind)),*]
        }
    };
}

kinds! {
    k8s_pb::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_pb::api::admissionregistration::v1::ValidatingAdmissionPolicy,
    k8s_pb::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    k8s_pb::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_pb::api::apps::v1::ControllerRevision,
    k8s_pb::api::apps::v1::DaemonSet,
    k8s_pb::api::apps::v1::Deployment,
    k8s_pb::api::apps::v1::ReplicaSet,
    k8s_pb::api::apps::v1::StatefulSet,
    k8s_pb::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_pb::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_pb::api::batch::v1::CronJob,
    k8s_pb::api::batch::v1::Job,
    k8s_pb::api::certificates::v1::CertificateSigningRequest,
    k8s_pb::api::coordination::v1::Lease,
    k8s_pb::api::core::v1::ConfigMap,
    k8s_pb::api::core::v1::Endpoints,
    k8s_pb::api::core::v1::Event,
    k8s_pb::api::core::v1::LimitRange,
    k8s_pb::api::core::v1::Namespace,
    k8s_pb::api::core::v1::Node,
    k8s_pb::api::core::v1::PersistentVolume,
    k8s_pb::api::core::v1::PersistentVolumeClaim,
    k8s_pb::api::core::v1::Pod,
    k8s_pb::api::core::v1::PodTemplate,
    k8s_pb::api::core::v1::ReplicationController,
    k8s_pb::api::core::v1::ResourceQuota,
    k8s_pb::api::core::v1::Secret,
    k8s_pb::api::core::v1::Service,
    k8s_pb::api::core::v1::ServiceAccount,
    k8s_pb::api::discovery::v1::EndpointSlice,
    k8s_pb::api::events::v1::Event,
    k8s_pb::api::flowcontrol::v1::FlowSchema,
    k8s_pb::api::flowcontrol::v1::PriorityLevelConfiguration,
    k8s_pb::api::networking::v1::IPAddress,
    k8s_pb::api::networking::v1::Ingress,
    k8s_pb::api::networking::v1::IngressClass,
    k8s_pb::api::networking::v1::NetworkPolicy,
    k8s_pb::api::networking::v1::ServiceCIDR,
    k8s_pb::api::node::v1::RuntimeClass,
    k8s_pb::api::policy::v1::PodDisruptionBudget,
    k8s_pb::api::rbac::v1::ClusterRole,
    k8s_pb::api::rbac::v1::ClusterRoleBinding,
    k8s_pb::api::rbac::v1::Role,
    k8s_pb::api::rbac::v1::RoleBinding,
    k8s_pb::api::resource::v1::DeviceClass,
    k8s_pb::api::resource::v1::ResourceClaim,
    k8s_pb::api::resource::v1::ResourceClaimTemplate,
    k8s_pb::api::resource::v1::ResourceSlice,
    k8s_pb::api::scheduling::v1::PriorityClass,
    k8s_pb::api::storage::v1::CSIDriver,
    k8s_pb::api::storage::v1::CSINode,
    k8s_pb::api::storage::v1::CSIStorageCapacity,
    k8s_pb::api::storage::v1::StorageClass,
    k8s_pb::api::storage::v1::VolumeAttachment,
    k8s_pb::api::storage::v1::VolumeAttributesClass,
    k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    k8s_pb::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
    // Stored but not served, so k8s-pb gives it no `Resource`: the service IP and node port
    // allocators' bitmaps under /registry/ranges/.
    ("v1", "RangeAllocation", k8s_pb::api::core::v1::RangeAllocation),
}
