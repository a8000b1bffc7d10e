//! Connecting to a cluster's API server: which kubeconfig, which context, and the safety rule.
//!
//! Why it exists: a chaos tool pointed at the wrong cluster deletes the wrong namespaces. So
//! the context is chosen the way a kind user expects — `--context`/`--kubeconfig` when given,
//! otherwise `kind-<cluster>` from the default kubeconfig (`$KUBECONFIG`, else
//! `~/.kube/config`), otherwise the kubeconfig kind itself would write, built from the
//! control-plane container through Docker (so no kind CLI is needed) — and then refused unless
//! it is that kind cluster: a context named `kind-<cluster>` whose server is on this machine.
//! Anything else needs `--allow-context NAME` naming exactly the context used.
//!
//! The connection is checked once here (`GET /version`), so an API server that is down fails
//! the playbook with exit 3 and its URL at the first API step, not with a cryptic error later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};

use super::discovery::Resources;
use super::{KubeBackend, error};
use crate::backends::BackendError;
use crate::backends::docker::DockerNodes;

/// How long one API request may take by default before the server counts as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where to find the cluster, from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeTarget {
    /// `--kubeconfig FILE`: read this file instead of the default kubeconfig.
    pub kubeconfig: Option<PathBuf>,
    /// `--context NAME`: use this context instead of `kind-<cluster>`.
    pub context: Option<String>,
    /// `--allow-context NAME`: the user's explicit consent to run against this context although
    /// it is not the kind cluster's (wrong name, or a server that is not on this machine).
    /// It must name the context actually used; consent for another context does not count.
    pub allow_context: Option<String>,
    /// Request timeout (default [`DEFAULT_TIMEOUT`]); connecting has the same bound.
    pub timeout: Option<Duration>,
}

/// Where the kubeconfig came from, for messages and for the safety rule.
enum Origin {
    File(String),
    /// Built from the control-plane container: it is the kind cluster by construction.
    KindNode(String),
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File(f) => f.clone(),
            Origin::KindNode(n) => format!("/etc/kubernetes/admin.conf of node container {n}"),
        }
    }
}

/// Connects to the API server of kind cluster `cluster`, as `target` says.
///
/// `docker` is used only when no kubeconfig has the `kind-<cluster>` context (and none was
/// named): the kubeconfig is then built the way `kind get kubeconfig` does it. Errors:
/// `Unavailable` (exit 3) when no kubeconfig or context can be found, when the context is
/// refused by the safety rule, or when the API server does not answer (with its URL and the
/// reason); `Failed` when the server rejects the first request (e.g. RBAC).
pub async fn connect(
    cluster: &str,
    target: &KubeTarget,
    docker: Option<&DockerNodes>,
) -> Result<KubeBackend, BackendError> {
    let kind_context = format!("kind-{cluster}");
    let wanted = target
        .context
        .clone()
        .unwrap_or_else(|| kind_context.clone());
    let (kubeconfig, origin) = match &target.kubeconfig {
        Some(path) => {
            let kc = read_kubeconfig(path)?;
            let origin = Origin::File(path.display().to_string());
            require_context(&kc, &wanted, &origin, cluster)?;
            (kc, origin)
        }
        None => match default_kubeconfig()? {
            Some((kc, file)) if has_context(&kc, &wanted) => (kc, Origin::File(file)),
            Some((kc, file)) if target.context.is_some() => {
                return Err(missing_context(&kc, &wanted, &Origin::File(file), cluster));
            }
            None if target.context.is_some() => {
                let origin = Origin::File(default_paths_text());
                return Err(missing_context(
                    &Kubeconfig::default(),
                    &wanted,
                    &origin,
                    cluster,
                ));
            }
            found => {
                let Some(docker) = docker else {
                    return Err(no_kind_context(
                        cluster,
                        found.as_ref(),
                        "no Docker connection to read it from the control-plane container",
                    ));
                };
                let (kc, node) = super::kind_config::from_node(cluster, docker)
                    .await
                    .map_err(|e| {
                        BackendError::unavailable(format!(
                            "{}; reading it from the kind node containers failed too: {}",
                            no_kind_context(cluster, found.as_ref(), "").message,
                            e.message
                        ))
                    })?;
                (kc, Origin::KindNode(node))
            }
        },
    };
    let server = server_of(&kubeconfig, &wanted).unwrap_or_default();
    check_safety(
        cluster,
        &wanted,
        &server,
        &origin,
        target.allow_context.as_deref(),
    )?;
    let timeout = target.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let options = KubeConfigOptions {
        context: Some(wanted.clone()),
        ..Default::default()
    };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            BackendError::unavailable(format!(
                "cannot use context `{wanted}` of {}: {}",
                origin.describe(),
                error::reason(&e)
            ))
        })?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let watch_config = config.clone();
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    let client = client_for(config, &server, &wanted)?;
    let mut watch_config = watch_config;
    watch_config.connect_timeout = Some(timeout);
    let watch_client = client_for(watch_config, &server, &wanted)?;
    let backend = KubeBackend {
        client,
        watch_client,
        server,
        context: wanted,
        timeout,
        resources: Resources::default(),
    };
    backend
        .client
        .apiserver_version()
        .await
        .map_err(|e| backend.fail("get the version of", "the API server", e))?;
    Ok(backend)
}

fn client_for(config: Config, server: &str, context: &str) -> Result<Client, BackendError> {
    Client::try_from(config).map_err(|e| {
        BackendError::unavailable(format!(
            "cannot set up a client for {server} (context `{context}`): {}",
            error::reason(&e)
        ))
    })
}

/// The default kubeconfig: the files of `$KUBECONFIG` that exist, merged as kubectl does,
/// else `~/.kube/config`; `None` when there is none. Returns the files read, for messages.
fn default_kubeconfig() -> Result<Option<(Kubeconfig, String)>, BackendError> {
    let paths: Vec<PathBuf> = default_paths()
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    if paths.is_empty() {
        return Ok(None);
    }
    let mut merged = Kubeconfig::default();
    for p in &paths {
        let kc = read_kubeconfig(p)?;
        merged = merged.merge(kc).map_err(|e| {
            BackendError::unavailable(format!(
                "cannot merge the kubeconfig {}: {}",
                p.display(),
                error::reason(&e)
            ))
        })?;
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok(Some((merged, names.join(", "))))
}

fn default_paths() -> Vec<PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(v) if !v.is_empty() => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        _ => std::env::var_os("HOME")
            .map(|h| vec![Path::new(&h).join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

fn default_paths_text() -> String {
    let names: Vec<String> = default_paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if names.is_empty() {
        "the default kubeconfig".into()
    } else {
        names.join(", ")
    }
}

fn has_context(kc: &Kubeconfig, name: &str) -> bool {
    kc.contexts.iter().any(|c| c.name == name)
}

fn context_names(kc: &Kubeconfig) -> String {
    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn require_context(
    kc: &Kubeconfig,
    wanted: &str,
    origin: &Origin,
    cluster: &str,
) -> Result<(), BackendError> {
    if has_context(kc, wanted) {
        return Ok(());
    }
    Err(missing_context(kc, wanted, origin, cluster))
}

fn missing_context(kc: &Kubeconfig, wanted: &str, origin: &Origin, cluster: &str) -> BackendError {
    BackendError::unavailable(format!(
        "no context `{wanted}` in {} (its contexts: {}); is kind cluster `{cluster}` created? pass --context NAME to use another one",
        origin.describe(),
        context_names(kc)
    ))
}

fn no_kind_context(cluster: &str, found: Option<&(Kubeconfig, String)>, why: &str) -> BackendError {
    let mut m = match found {
        Some((kc, file)) => format!(
            "no context `kind-{cluster}` in {file} (its contexts: {})",
            context_names(kc)
        ),
        None => format!("no kubeconfig at {}", default_paths_text()),
    };
    if !why.is_empty() {
        m += &format!(" and {why}");
    }
    m += &format!(
        "; is kind cluster `{cluster}` created (`kind create cluster --name {cluster}`, or `chaos cluster up`)? pass --kubeconfig/--context to use another cluster"
    );
    BackendError::unavailable(m)
}

/// The server URL of a context, if the kubeconfig has it.
fn server_of(kc: &Kubeconfig, context: &str) -> Option<String> {
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?;
    kc.clusters
        .iter()
        .find(|c| c.name == ctx.cluster)?
        .cluster
        .as_ref()?
        .server
        .clone()
}

/// Whether a server URL points at this machine (where kind publishes its API servers).
pub(crate) fn is_local_server(server: &str) -> bool {
    let Some(host) = host_of(server) else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => false,
    }
}

/// The host of a URL (`https://[::1]:6443/x` -> `::1`), without a URL parser dependency.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    let host = authority.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// The safety rule: only the kind cluster's own context, unless the user named this context
/// in `--allow-context`.
fn check_safety(
    cluster: &str,
    context: &str,
    server: &str,
    origin: &Origin,
    allowed: Option<&str>,
) -> Result<(), BackendError> {
    if matches!(origin, Origin::KindNode(_)) || allowed == Some(context) {
        return Ok(());
    }
    let kind_name = format!("kind-{cluster}");
    let problem = if context != kind_name {
        format!("context `{context}` is not kind cluster `{cluster}`'s (`{kind_name}`)")
    } else if !is_local_server(server) {
        format!(
            "context `{context}` points at {server}, which is not on this machine (kind serves its API on 127.0.0.1)"
        )
    } else {
        return Ok(());
    };
    let consent = match allowed {
        Some(other) => format!(" (--allow-context names `{other}`, not `{context}`)"),
        None => String::new(),
    };
    Err(BackendError::unavailable(format!(
        "refusing to inject faults through {problem}{consent}: kind-chaos only runs against local kind clusters unless told otherwise; pass --allow-context {context} if this really is a disposable cluster"
    )))
}

/// Reads one kubeconfig file; a file that cannot be read leaves the cluster unreachable.
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, BackendError> {
    Kubeconfig::read_from(path).map_err(|e| {
        BackendError::unavailable(format!(
            "cannot read the kubeconfig {}: {}",
            path.display(),
            error::reason(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_servers() {
        for s in [
            "https://127.0.0.1:6443",
            "http://127.0.0.1:1234",
            "https://localhost:6443",
            "https://[::1]:6443",
            "https://0.0.0.0:6443",
        ] {
            assert!(is_local_server(s), "{s}");
        }
        for s in [
            "https://10.0.0.1:6443",
            "https://prod.example.com",
            "nonsense",
        ] {
            assert!(!is_local_server(s), "{s}");
        }
    }

    #[test]
    fn safety_rule() {
        let file = || Origin::File("kc".into());
        assert!(check_safety("lab", "kind-lab", "https://127.0.0.1:1", &file(), None).is_ok());
        let e = check_safety("lab", "prod", "https://127.0.0.1:1", &file(), None).unwrap_err();
        assert!(
            e.message.contains("`prod` is not kind cluster `lab`'s"),
            "{}",
            e.message
        );
        assert!(e.message.contains("--allow-context prod"), "{}", e.message);
        let e =
            check_safety("lab", "kind-lab", "https://10.1.1.1:6443", &file(), None).unwrap_err();
        assert!(e.message.contains("not on this machine"), "{}", e.message);
        assert!(
            check_safety(
                "lab",
                "prod",
                "https://10.1.1.1:6443",
                &file(),
                Some("prod")
            )
            .is_ok()
        );
        let e =
            check_safety("lab", "prod", "https://10.1.1.1", &file(), Some("staging")).unwrap_err();
        assert!(
            e.message.contains("names `staging`, not `prod`"),
            "{}",
            e.message
        );
        let node = Origin::KindNode("lab-control-plane".into());
        assert!(check_safety("lab", "kind-lab", "https://10.1.1.1", &node, None).is_ok());
    }
}
