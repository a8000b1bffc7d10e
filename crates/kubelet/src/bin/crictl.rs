//! `crictl` for the test cluster's nodes: see `kubelet::crictl`. Installed by
//! `scripts/testcluster.sh up --api` as `/usr/local/bin/crictl`, as kind's nodes have it.

use std::io::Write;
use std::process::ExitCode;

const SOCKET: &str = "/run/containerd/containerd.sock";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let query = match kubelet::crictl::parse(&args) {
        Ok(q) => q,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "crictl: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match kubelet::cri::Runtime::connect(SOCKET.as_ref(), "k8s.io", None).await {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "crictl: {e}");
            return ExitCode::from(1);
        }
    };
    match kubelet::crictl::items(&rt).await {
        Ok(items) => {
            let _ = std::io::stdout().write_all(kubelet::crictl::render(&query, &items).as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "crictl: {e}");
            ExitCode::from(1)
        }
    }
}
