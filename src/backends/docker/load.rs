//! `kind load docker-image` without the kind CLI: export images from the local Docker image
//! store (`docker save`) once, then stream the tar into every node's containerd with
//! `ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=<S> -`, where
//! S is the snapshotter the node's CRI plugin uses (read, as kind does, from `containerd config
//! dump`). The tar goes to a temporary file first so that the nodes, imported in parallel, each
//! read it at their own pace; the file is removed when the load ends, however it ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use futures::future::join_all;
use tokio::io::AsyncWriteExt;

use super::{DockerNodes, scripts};
use crate::backends::BackendError;

/// The snapshotter used when the node's configuration does not name one (containerd's default).
pub const DEFAULT_SNAPSHOTTER: &str = "overlayfs";

/// What loading images into a cluster did.
#[derive(Debug)]
pub struct LoadReport {
    pub images: Vec<String>,
    /// Size of the exported tar.
    pub bytes: u64,
    /// Time to export the images from Docker.
    pub export: Duration,
    /// One entry per node, in node order.
    pub nodes: Vec<NodeLoad>,
}

impl LoadReport {
    pub fn all_loaded(&self) -> bool {
        self.nodes.iter().all(|n| n.result.is_ok())
    }
}

/// The import into one node.
#[derive(Debug)]
pub struct NodeLoad {
    pub node: String,
    /// The snapshotter used, when it was found.
    pub snapshotter: Option<String>,
    /// How long the import took, or why it failed.
    pub result: Result<Duration, BackendError>,
}

/// A temporary file removed on drop.
struct TempTar(PathBuf);

impl Drop for TempTar {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl DockerNodes {
    /// Loads local Docker images into every node of the cluster (or only `only`).
    pub async fn load_images(
        &self,
        images: &[String],
        only: Option<&str>,
    ) -> Result<LoadReport, BackendError> {
        if images.is_empty() {
            return Err(BackendError::failed("no image to load"));
        }
        for image in images {
            self.docker().inspect_image(image).await.map_err(|e| {
                if super::error::status_of(&e) == Some(404) {
                    BackendError::not_found(format!(
                        "image `{image}` is not in the local Docker image store (`docker images` lists them)"
                    ))
                } else {
                    super::DockerError::api(format!("inspecting image {image}"), e).into()
                }
            })?;
        }
        let mut nodes = self.nodes().await?;
        if let Some(want) = only {
            self.check_node(want).await?;
            nodes.retain(|n| n.name == want);
        }
        let started = Instant::now();
        let (tar, bytes) = self.export(images).await?;
        let export = started.elapsed();
        let loads = nodes.iter().map(|n| {
            let tar = &tar;
            async move {
                if n.state != "running" {
                    return NodeLoad {
                        node: n.name.clone(),
                        snapshotter: None,
                        result: Err(BackendError::failed(format!(
                            "node `{}` is {}, not running",
                            n.name, n.state
                        ))),
                    };
                }
                match self.snapshotter(&n.name).await {
                    Ok(snap) => {
                        let result = self.import(&n.name, &snap, &tar.0).await;
                        NodeLoad {
                            node: n.name.clone(),
                            snapshotter: Some(snap),
                            result,
                        }
                    }
                    Err(e) => NodeLoad {
                        node: n.name.clone(),
                        snapshotter: None,
                        result: Err(e),
                    },
                }
            }
        });
        let nodes = join_all(loads).await;
        Ok(LoadReport {
            images: images.to_vec(),
            bytes,
            export,
            nodes,
        })
    }

    /// `docker save` of the images into a temporary file.
    async fn export(&self, images: &[String]) -> Result<(TempTar, u64), BackendError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "kind-chaos-load-{}-{nanos}.tar",
            std::process::id()
        ));
        let guard = TempTar(path.clone());
        let io = |e: std::io::Error| {
            BackendError::failed(format!("writing the image tar {}: {e}", path.display()))
        };
        let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let mut stream = self.docker().export_images(&names);
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await.map_err(|e| {
            BackendError::from(super::DockerError::api(
                format!("exporting {}", images.join(", ")),
                e,
            ))
        })? {
            bytes += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok((guard, bytes))
    }

    /// The snapshotter the node's CRI plugin uses.
    pub async fn snapshotter(&self, node: &str) -> Result<String, BackendError> {
        let out = self
            .exec_script(
                node,
                "reading the containerd configuration",
                scripts::CONFIG_DUMP,
                &[],
            )
            .await?;
        if out.exit_code != 0 {
            return Ok(DEFAULT_SNAPSHOTTER.to_string());
        }
        Ok(cri_snapshotter(&out.stdout).unwrap_or_else(|| DEFAULT_SNAPSHOTTER.to_string()))
    }

    async fn import(
        &self,
        node: &str,
        snapshotter: &str,
        tar: &std::path::Path,
    ) -> Result<Duration, BackendError> {
        let started = Instant::now();
        let file = tokio::fs::File::open(tar)
            .await
            .map_err(|e| BackendError::failed(format!("opening {}: {e}", tar.display())))?;
        let argv: Vec<String> = [
            "ctr",
            "--namespace=k8s.io",
            "images",
            "import",
            "--all-platforms",
            "--digests",
            &format!("--snapshotter={snapshotter}"),
            "-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = self.exec_with_stdin(node, &argv, file).await?;
        if out.exit_code != 0 {
            return Err(BackendError::failed(format!(
                "ctr images import failed on node `{node}` (exit {}): {}",
                out.exit_code,
                super::exec::first_lines(&out.stderr, &out.stdout)
            )));
        }
        Ok(started.elapsed())
    }
}

/// The `snapshotter` of the CRI plugin in a `containerd config dump` (TOML): containerd 1.x
/// keeps it in `[plugins."io.containerd.grpc.v1.cri".containerd]`, 2.x in
/// `[plugins.'io.containerd.cri.v1.images']`.
pub fn cri_snapshotter(config: &str) -> Option<String> {
    let mut section = String::new();
    for line in config.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.replace(['"', '\''], "");
            continue;
        }
        let in_cri = section == "[plugins.io.containerd.grpc.v1.cri.containerd]"
            || section == "[plugins.io.containerd.cri.v1.images]";
        if !in_cri {
            continue;
        }
        if let Some((k, v)) = t.split_once('=')
            && k.trim() == "snapshotter"
        {
            let v = v.trim().trim_matches(['"', '\'']).trim();
            if !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::cri_snapshotter;

    #[test]
    fn finds_the_cri_snapshotter_in_containerd_1_and_2() {
        let v1 = r#"
[plugins."io.containerd.grpc.v1.cri".cni]
  snapshotter = "wrong"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  snapshotter = "native"
[plugins."io.containerd.snapshotter.v1.overlayfs"]
"#;
        assert_eq!(cri_snapshotter(v1).as_deref(), Some("native"));
        let v2 = "[plugins.'io.containerd.cri.v1.images']\n  snapshotter = 'overlayfs'\n";
        assert_eq!(cri_snapshotter(v2).as_deref(), Some("overlayfs"));
        assert_eq!(cri_snapshotter("version = 2\n"), None);
    }
}
