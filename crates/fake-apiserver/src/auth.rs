//! Who is calling, and the part of authorization that clients of a kind cluster can observe.
//!
//! Why it exists: the served mode authenticates by client certificate like kind's
//! kube-apiserver (kubeadm leaves `--anonymous-auth` at its default, true). Upstream puts the
//! x509 authenticator first and falls back to the anonymous user only when no authenticator
//! *failed* (`union.NewFailOnError`, pkg/kubeapiserver/authenticator/config.go, `New`). So:
//! - a certificate the cluster CA did not sign: 401 `Unauthorized`, on every path;
//! - no certificate: `system:anonymous`, which RBAC lets read only what the
//!   `system:public-info-viewer` ClusterRole allows (`/healthz`, `/livez`, `/readyz`,
//!   `/version`), and refuses everything else with 403 `Forbidden`;
//! - a valid certificate: the user of its `CN`; every such user may do everything (RBAC is
//!   not modelled: kind's `admin.conf` user is a cluster admin anyway).
//!
//! The in-process mode has no authentication ([`Caller::Trusted`]).

use serde_json::json;

use crate::error::ApiError;

/// The outcome of authentication for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The in-process (plain HTTP) mode: no authentication.
    Trusted,
    /// A client certificate signed by the cluster CA.
    User { name: String, groups: Vec<String> },
    /// No client certificate.
    Anonymous,
    /// A client certificate that does not verify against the cluster CA.
    Rejected,
}

/// The paths `system:public-info-viewer` may `get`
/// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, `ClusterRoles`).
const PUBLIC_INFO: [&str; 5] = ["/livez", "/readyz", "/healthz", "/version", "/version/"];

/// `None` when `caller` may make this request; else the refusal.
pub(crate) fn check(caller: &Caller, method: &str, path: &str, query: &str) -> Option<ApiError> {
    match caller {
        Caller::Trusted | Caller::User { .. } => None,
        // staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go, `Unauthorized`:
        // `NewUnauthorized("Unauthorized")`, a bare Status without details.
        Caller::Rejected => Some(ApiError::new(401, "Unauthorized", "Unauthorized")),
        Caller::Anonymous => {
            let info = RequestInfo::parse(method, path, query);
            if !info.resource && info.verb == "get" && PUBLIC_INFO.contains(&path) {
                return None;
            }
            Some(info.forbidden("system:anonymous"))
        }
    }
}

/// What a request does, as upstream's `RequestInfoFactory.NewRequestInfo` reads it
/// (staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
#[derive(Debug, Default, PartialEq, Eq)]
struct RequestInfo {
    resource: bool,
    path: String,
    verb: String,
    group: String,
    namespace: String,
    plural: String,
    name: String,
    sub: String,
}

impl RequestInfo {
    fn parse(method: &str, path: &str, query: &str) -> RequestInfo {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.to_ascii_lowercase(),
            ..Default::default()
        };
        let mut parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            return info;
        }
        let grouped = parts[0] == "apis";
        parts.remove(0);
        if grouped {
            if parts.len() < 3 {
                return info;
            }
            info.group = parts.remove(0).to_string();
        }
        info.resource = true;
        parts.remove(0); // the version
        let special = matches!(parts.first(), Some(&("watch" | "proxy"))) && parts.len() >= 2;
        if special {
            info.verb = parts.remove(0).to_string();
        } else {
            info.verb = match method {
                "POST" => "create",
                "GET" | "HEAD" => "get",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "",
            }
            .to_string();
        }
        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            info.namespace = parts[1].to_string();
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts.drain(..2);
            }
        }
        if parts.len() >= 3 && info.verb != "proxy" {
            info.sub = parts[2].to_string();
        }
        if parts.len() >= 2 {
            info.name = parts[1].to_string();
        }
        if let Some(p) = parts.first() {
            info.plural = p.to_string();
        }
        if info.name.is_empty() && info.verb == "get" {
            let watch = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "watch")
                .map(|(_, v)| v.to_ascii_lowercase());
            info.verb = match watch.as_deref() {
                Some("false" | "0") | None => "list",
                Some(_) => "watch",
            }
            .to_string();
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".to_string();
        }
        info
    }

    /// The 403 of RBAC's refusal: `forbiddenMessage` in
    /// staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go,
    /// wrapped by `NewForbidden` (staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go).
    fn forbidden(&self, user: &str) -> ApiError {
        if !self.resource {
            let why = format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
            return ApiError::new(403, "Forbidden", format!("forbidden: {why}"))
                .with_details(json!({}));
        }
        let mut resource = self.plural.clone();
        if !self.sub.is_empty() {
            resource = format!("{resource}/{}", self.sub);
        }
        let scope = if self.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {:?}", self.namespace)
        };
        let why = format!(
            "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}",
            self.verb, self.group
        );
        let qualified = if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        };
        let message = if qualified.is_empty() {
            format!("forbidden: {why}")
        } else if self.name.is_empty() {
            format!("{qualified} is forbidden: {why}")
        } else {
            format!("{qualified} {:?} is forbidden: {why}", self.name)
        };
        let mut details = serde_json::Map::new();
        for (k, v) in [
            ("name", &self.name),
            ("group", &self.group),
            ("kind", &self.plural),
        ] {
            if !v.is_empty() {
                details.insert(k.to_string(), json!(v));
            }
        }
        ApiError::new(403, "Forbidden", message).with_details(details.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anonymous(method: &str, path: &str, query: &str) -> Option<ApiError> {
        check(&Caller::Anonymous, method, path, query)
    }

    #[test]
    fn anonymous_reads_public_info_only() {
        for p in ["/healthz", "/livez", "/readyz", "/version"] {
            assert_eq!(anonymous("GET", p, ""), None, "{p}");
        }
        let e = anonymous("GET", "/api", "").unwrap();
        assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            e.message,
            r#"forbidden: User "system:anonymous" cannot get path "/api""#
        );
        assert!(anonymous("POST", "/healthz", "").is_some());
        assert!(anonymous("GET", "/healthz/etcd", "").is_some());
    }

    #[test]
    fn anonymous_resource_refusals_name_verb_resource_and_scope() {
        let e = anonymous("GET", "/api/v1/namespaces/default/pods", "").unwrap();
        assert_eq!(
            e.message,
            r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#
        );
        let e = anonymous("GET", "/apis/apps/v1/deployments", "watch=1").unwrap();
        assert_eq!(
            e.message,
            r#"deployments.apps is forbidden: User "system:anonymous" cannot watch resource "deployments" in API group "apps" at the cluster scope"#
        );
        let e = anonymous("GET", "/api/v1/namespaces/lab/pods/web/log", "").unwrap();
        assert_eq!(
            e.message,
            r#"pods "web" is forbidden: User "system:anonymous" cannot get resource "pods/log" in API group "" in the namespace "lab""#
        );
        assert_eq!(
            e.to_status()["details"],
            json!({ "name": "web", "kind": "pods" })
        );
        let e = anonymous("DELETE", "/api/v1/namespaces/lab", "").unwrap();
        assert_eq!(
            e.message,
            r#"namespaces "lab" is forbidden: User "system:anonymous" cannot delete resource "namespaces" in API group "" in the namespace "lab""#
        );
        let e = anonymous("DELETE", "/api/v1/namespaces/lab/configmaps", "").unwrap();
        assert!(
            e.message.contains("cannot deletecollection"),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_certificates_are_401_and_good_ones_pass() {
        let e = check(&Caller::Rejected, "GET", "/version", "").unwrap();
        assert_eq!(
            e.to_status(),
            json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401 })
        );
        let user = Caller::User {
            name: "kubernetes-admin".into(),
            groups: vec!["kubeadm:cluster-admins".into()],
        };
        assert_eq!(check(&user, "DELETE", "/api/v1/namespaces/x", ""), None);
        assert_eq!(check(&Caller::Trusted, "GET", "/api", ""), None);
    }
}
