//! Finding a kind cluster's etcd without being told: the endpoint and the client credentials
//! come from the control-plane node container through the Docker API, so `chaos etcd ls` works
//! on a fresh kind cluster with no flags and no files on the host.
//!
//! - Endpoint: a host port published for `2379/tcp` on the control-plane container if there is
//!   one (kind's `extraPortMappings`; needed where the host cannot reach container IPs), else
//!   the container's IP on the `kind` network, port 2379.
//! - Credentials: `/etc/kubernetes/pki/etcd/ca.crt` and `healthcheck-client.{crt,key}` (else
//!   `/etc/kubernetes/pki/apiserver-etcd-client.{crt,key}`), copied out of the container into
//!   memory; never written to disk, never logged.
//!
//! Each explicit flag (`--endpoints`, `--cacert`, `--cert`/`--key`) replaces what discovery
//! would have found; with all of them given, Docker is not needed at all ([`connect`]).

use super::connect::{Credentials, EtcdFlags, connect_endpoints};
use super::{EtcdClient, EtcdError};
use crate::backends::docker::DockerNodes;
use crate::backends::{BackendError, ErrorKind};

/// The Docker network kind puts its nodes on.
pub const KIND_NETWORK: &str = "kind";
/// etcd's client port in the control-plane container.
pub const ETCD_PORT: u16 = 2379;
/// The CA that signs etcd's server certificate, in a kind control-plane container.
pub const CA_PATH: &str = "/etc/kubernetes/pki/etcd/ca.crt";
/// The client certificate pairs etcd accepts, in the order they are tried.
pub const CLIENT_PAIRS: [(&str, &str); 2] = [
    (
        "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
        "/etc/kubernetes/pki/etcd/healthcheck-client.key",
    ),
    (
        "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "/etc/kubernetes/pki/apiserver-etcd-client.key",
    ),
];

/// Connects with explicit flags only (no discovery): needs `--endpoints`, and for https
/// endpoints `--cacert` (and `--cert`/`--key` where etcd asks for client certificates).
pub async fn connect(flags: &EtcdFlags) -> Result<EtcdClient, BackendError> {
    let creds = Credentials::from_flags(flags)?;
    Ok(connect_endpoints(&flags.endpoints, &creds).await?)
}

/// The connection flags that were given and those discovery would have to fill in, named with
/// `prefix` (`--` for `chaos etcd`, `--etcd-` for `chaos run`): `None` when no flag was given
/// (plain discovery) or nothing is missing.
pub fn missing_flags(flags: &EtcdFlags, prefix: &str) -> Option<(String, String)> {
    let mut given = Vec::new();
    let mut missing = Vec::new();
    let mut note = |set: bool, name: &str| {
        if set {
            given.push(format!("{prefix}{name}"));
        } else {
            missing.push(format!("{prefix}{name}"));
        }
    };
    note(!flags.endpoints.is_empty(), "endpoints");
    let tls =
        flags.endpoints.is_empty() || flags.endpoints.iter().any(|e| !e.starts_with("http://"));
    if tls {
        note(flags.cacert.is_some(), "cacert");
        note(flags.cert.is_some(), "cert");
        note(flags.key.is_some(), "key");
    }
    if given.is_empty() || missing.is_empty() {
        return None;
    }
    Some((given.join(", "), missing.join(", ")))
}

/// A failure to reach the kind cluster that would have filled in what the flags leave out,
/// said as such: the flag missing first, then why discovery could not stand in for it.
pub fn discovery_failed(
    flags: &EtcdFlags,
    prefix: &str,
    cluster: &str,
    e: BackendError,
) -> BackendError {
    let Some((given, missing)) = missing_flags(flags, prefix) else {
        return e;
    };
    BackendError {
        kind: e.kind,
        message: format!(
            "missing {missing}: {given} given, and what is missing would be discovered from kind cluster `{cluster}`, which failed: {}. Give {missing} too",
            e.message
        ),
    }
}

/// Connects to the etcd of the kind cluster behind `docker`, discovering what `overrides`
/// leaves out.
pub async fn connect_for_cluster(
    docker: &DockerNodes,
    overrides: &EtcdFlags,
) -> Result<EtcdClient, BackendError> {
    let given = Credentials::from_flags(overrides)?;
    let cp = docker.control_plane().await?;
    let (endpoints, how) = if overrides.endpoints.is_empty() {
        let (e, how) = discover_endpoint(docker, &cp).await?;
        (vec![e], Some(how))
    } else {
        (overrides.endpoints.clone(), None)
    };
    let mut creds = given;
    if creds.ca.is_none() {
        creds.ca = Some(read(docker, &cp, CA_PATH).await?);
    }
    if creds.cert.is_none() {
        let (cert, key) = client_pair(docker, &cp).await?;
        creds.cert = Some(cert);
        creds.key = Some(key);
    }
    connect_endpoints(&endpoints, &creds).await.map_err(|e| {
        let mut err = BackendError::from(e);
        if let Some(how) = how {
            err.message = format!(
                "{} (endpoint found for kind cluster `{}`: {how}; override with --endpoints)",
                err.message,
                docker.cluster()
            );
        }
        err
    })
}

/// The endpoint of the control-plane's etcd and how it was found.
async fn discover_endpoint(
    docker: &DockerNodes,
    cp: &str,
) -> Result<(String, String), BackendError> {
    let port = format!("{ETCD_PORT}/tcp");
    if let Some((ip, host_port)) = docker.published_port(cp, &port).await? {
        let host = match ip.as_str() {
            "0.0.0.0" | "" => "127.0.0.1".to_string(),
            "::" => "[::1]".to_string(),
            v6 if v6.contains(':') => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        return Ok((
            format!("https://{host}:{host_port}"),
            format!("{cp}'s port {port} is published on {ip}:{host_port}"),
        ));
    }
    match docker.container_ip(cp, KIND_NETWORK).await? {
        Some(ip) => {
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.clone()
            };
            Ok((
                format!("https://{host}:{ETCD_PORT}"),
                format!("{cp}'s IP on Docker network `{KIND_NETWORK}`"),
            ))
        }
        None => Err(BackendError::unavailable(format!(
            "cannot find etcd of kind cluster `{}`: {cp} publishes no port {port} and has no IP on \
             Docker network `{KIND_NETWORK}`; give --endpoints",
            docker.cluster()
        ))),
    }
}

async fn client_pair(docker: &DockerNodes, cp: &str) -> Result<(Vec<u8>, Vec<u8>), BackendError> {
    let mut missing = Vec::new();
    for (crt, key) in CLIENT_PAIRS {
        match docker.read_file(cp, crt).await {
            Ok(cert) => return Ok((cert, read(docker, cp, key).await?)),
            Err(e) if e.kind == ErrorKind::NotFound => missing.push(crt),
            Err(e) => return Err(e),
        }
    }
    Err(EtcdError::Credentials(format!(
        "no etcd client certificate in {cp} (looked for {}); give --cert and --key",
        missing.join(", ")
    ))
    .into())
}

async fn read(docker: &DockerNodes, cp: &str, path: &str) -> Result<Vec<u8>, BackendError> {
    docker.read_file(cp, path).await.map_err(|e| {
        let kind = if e.kind == ErrorKind::NotFound {
            ErrorKind::Unavailable
        } else {
            e.kind
        };
        BackendError {
            kind,
            message: format!("cannot copy {path} out of {cp}: {}", e.message),
        }
    })
}
