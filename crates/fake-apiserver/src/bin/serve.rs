//! `serve`: the fake API server as a program, for the control plane of the local test
//! cluster (`scripts/testcluster.sh up NAME --api` runs it in `NAME-control-plane` as
//! `/usr/local/bin/kube-apiserver`). Test support: it never ships inside `chaos`.
//!
//! It serves HTTPS with client-certificate authentication on 6443, with the PKI and the
//! `admin.conf` at kubeadm's paths (see `fake_apiserver::served`). With `--etcd-servers`
//! the objects live in that etcd under upstream's keys (the node's entrypoint passes kind's
//! flags); without, in memory: a restart starts from an empty cluster.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use fake_apiserver::{EtcdFiles, FakeApiServer, ServeOptions, pki};

const USAGE: &str = "\
Usage: serve --cluster NAME [OPTIONS]
       serve issue-kubeconfig --cluster NAME --cn USER [--org GROUP]... [--server URL]
             [--pki-dir DIR]

Serves the fake Kubernetes API over HTTPS like kind's kube-apiserver: the cluster CA in
PKI_DIR/ca.{crt,key} (made when missing), a serving certificate PKI_DIR/apiserver.{crt,key}
for NAME-control-plane, kubernetes.default..., localhost, 127.0.0.1, 10.96.0.1 and the
advertise address, and the cluster-admin kubeconfig ADMIN_CONF (server
https://NAME-control-plane:PORT, user kubernetes-admin, context kubernetes-admin@NAME).
Requests need a client certificate signed by the CA; without one they are anonymous and
may only GET /healthz, /livez, /readyz and /version.

Options:
  --cluster NAME             cluster name (required)
  --listen ADDR:PORT         where to listen (default 0.0.0.0:6443; port 0 picks one)
  --advertise-address IP     the node's IP (default: none)
  --tls-san NAME_OR_IP       one more name for the serving certificate (repeatable)
  --pki-dir DIR              default /etc/kubernetes/pki
  --admin-conf FILE          default /etc/kubernetes/admin.conf
  --simulate-kubelets        play the nodes' kubelets (confirm the deletion of Terminating
                             pods on the controllers' pass); default off, since the test
                             cluster's nodes run real kubelets
  --etcd-servers URL[,URL]   keep the objects in this etcd (kube-apiserver's flag), after
                             writing kubeadm's etcd PKI into PKI_DIR/etcd/ (CA, server, peer,
                             healthcheck-client) and PKI_DIR/apiserver-etcd-client.{crt,key}
                             when missing; waits up to 60 s for etcd to answer.
                             Default: in memory
  --etcd-cafile FILE         default PKI_DIR/etcd/ca.crt
  --etcd-certfile FILE       default PKI_DIR/apiserver-etcd-client.crt
  --etcd-keyfile FILE        default PKI_DIR/apiserver-etcd-client.key

issue-kubeconfig prints to stdout a kubeconfig for user USER (groups GROUP) with a client
certificate signed by the cluster CA in PKI_DIR (which must exist), server URL (default
https://NAME-control-plane:6443), cluster NAME, context USER@NAME: kubeadm's kubelet.conf
for a node is `--cn system:node:NODE --org system:nodes`.

Prints `serving on https://ADDR` once it accepts connections; stops on SIGTERM or SIGINT.";

fn parse(args: Vec<String>) -> Result<ServeOptions, String> {
    let mut cluster = None;
    let mut opts = ServeOptions::kind("");
    let (mut servers, mut cafile, mut certfile, mut keyfile) = (None, None, None, None);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--cluster" => cluster = Some(value()?),
            "--listen" => {
                let v = value()?;
                opts.listen = v
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--advertise-address" => {
                let v = value()?;
                opts.advertise = Some(
                    v.parse::<IpAddr>()
                        .map_err(|e| format!("--advertise-address {v:?}: {e}"))?,
                );
            }
            "--tls-san" => opts.extra_sans.push(value()?),
            "--pki-dir" => opts.pki_dir = PathBuf::from(value()?),
            "--admin-conf" => opts.admin_conf = PathBuf::from(value()?),
            "--simulate-kubelets" => opts.simulate_kubelets = true,
            "--etcd-servers" => {
                let v = value()?;
                servers = Some(v.split(',').map(str::to_string).collect::<Vec<_>>());
            }
            "--etcd-cafile" => cafile = Some(PathBuf::from(value()?)),
            "--etcd-certfile" => certfile = Some(PathBuf::from(value()?)),
            "--etcd-keyfile" => keyfile = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    opts.cluster = checked_cluster(cluster)?;
    match servers {
        Some(servers) => {
            let kind = EtcdFiles::kind(&opts.pki_dir);
            opts.etcd = Some(EtcdFiles {
                servers,
                cafile: cafile.unwrap_or(kind.cafile),
                certfile: certfile.unwrap_or(kind.certfile),
                keyfile: keyfile.unwrap_or(kind.keyfile),
            });
        }
        None if cafile.is_some() || certfile.is_some() || keyfile.is_some() => {
            return Err("--etcd-cafile/--etcd-certfile/--etcd-keyfile need --etcd-servers".into());
        }
        None => {}
    }
    Ok(opts)
}

fn checked_cluster(cluster: Option<String>) -> Result<String, String> {
    let cluster = cluster.ok_or("--cluster NAME is required")?;
    let valid = !cluster.is_empty()
        && cluster
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(format!(
            "bad cluster name {cluster:?} (lower-case letters, digits and '-')"
        ));
    }
    Ok(cluster)
}

/// What `issue-kubeconfig` was asked for.
struct IssueRequest {
    cluster: String,
    user: String,
    groups: Vec<String>,
    server: Option<String>,
    pki_dir: PathBuf,
}

fn parse_issue(args: Vec<String>) -> Result<IssueRequest, String> {
    let (mut cluster, mut user, mut server) = (None, None, None);
    let mut groups = Vec::new();
    let mut pki_dir = ServeOptions::kind("").pki_dir;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--cluster" => cluster = Some(value()?),
            "--cn" => user = Some(value()?),
            "--org" => groups.push(value()?),
            "--server" => server = Some(value()?),
            "--pki-dir" => pki_dir = PathBuf::from(value()?),
            other => return Err(format!("issue-kubeconfig: unknown argument {other:?}")),
        }
    }
    Ok(IssueRequest {
        cluster: checked_cluster(cluster)?,
        user: user
            .filter(|u| !u.is_empty())
            .ok_or("--cn USER is required")?,
        groups,
        server,
        pki_dir,
    })
}

/// The kubeconfig of `issue-kubeconfig`, signed by the CA that must already be in the PKI
/// directory (the API server made it on its first start).
fn issue_kubeconfig(req: &IssueRequest) -> Result<String, String> {
    let (crt, key) = (req.pki_dir.join("ca.crt"), req.pki_dir.join("ca.key"));
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))
    };
    let ca = pki::Ca::from_pem(&read(&crt)?, &read(&key)?).map_err(|e| e.to_string())?;
    let groups: Vec<&str> = req.groups.iter().map(String::as_str).collect();
    let client = ca
        .issue_client(&req.user, &groups)
        .map_err(|e| e.to_string())?;
    let server = req
        .server
        .clone()
        .unwrap_or_else(|| format!("https://{}-control-plane:6443", req.cluster));
    Ok(pki::kubeconfig(
        &req.cluster,
        &server,
        ca.cert_pem(),
        &req.user,
        &client,
    ))
}

/// Resolves on SIGTERM or SIGINT. Registered before `serving on` is printed, so a signal
/// sent as soon as that line is read is not lost to the default action.
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("issue-kubeconfig") {
        let out = parse_issue(args[1..].to_vec()).and_then(|r| issue_kubeconfig(&r));
        return match out {
            Ok(conf) => {
                print!("{conf}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("serve: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        };
    }
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("serve: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let stopped = match stop_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("serve: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match FakeApiServer::serve_cluster(&opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving on {}", server.url());
    eprintln!(
        "serve: cluster {} on {}; admin kubeconfig {}",
        opts.cluster,
        server.url(),
        opts.admin_conf.display()
    );
    stopped.await;
    server.shutdown();
    ExitCode::SUCCESS
}
