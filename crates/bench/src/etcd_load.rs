//! Loads etcd with many keys, quickly: transactions of 100 puts (etcd's default
//! `--max-txn-ops` is 128), several in flight at once so etcd commits them together.

use std::path::PathBuf;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions, Txn, TxnOp};
use futures::StreamExt;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    endpoints: String,
    #[arg(long)]
    cacert: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// Keys are `PREFIX<group>/<name>`, like `/registry/pods/ns-07/pod-000123`.
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    count: usize,
    /// Bytes per value (a `k8s\0` header, then filler), like a small Kubernetes object.
    #[arg(long, default_value_t = 512)]
    value_size: usize,
    /// Keys are spread over this many groups (namespaces).
    #[arg(long, default_value_t = 50)]
    groups: usize,
    /// Transactions in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

const TXN_OPS: usize = 100;

pub async fn run(a: Args) -> Result<(), String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(read(&a.cacert)?))
        .identity(Identity::from_pem(read(&a.cert)?, read(&a.key)?));
    let client = Client::connect(
        a.endpoints.split(',').collect::<Vec<_>>(),
        Some(ConnectOptions::new().with_tls(tls)),
    )
    .await
    .map_err(|e| format!("connecting to {}: {e}", a.endpoints))?;
    let mut value = b"k8s\0".to_vec();
    value.resize(a.value_size.max(4), b'x');
    let groups = a.groups.max(1);
    let keys: Vec<String> = (0..a.count)
        .map(|i| format!("{}ns-{:02}/obj-{i:07}", a.prefix, i % groups))
        .collect();
    let started = std::time::Instant::now();
    let results: Vec<Result<(), String>> = futures::stream::iter(keys.chunks(TXN_OPS))
        .map(|chunk| {
            let mut kv = client.kv_client();
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|k| TxnOp::put(k.as_bytes(), value.clone(), None))
                .collect();
            async move {
                kv.txn(Txn::new().and_then(ops))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("put: {e}"))
            }
        })
        .buffer_unordered(a.concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect::<Result<(), String>>()?;
    eprintln!(
        "chaos-bench: put {} keys under {} in {:.1}s",
        a.count,
        a.prefix,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
