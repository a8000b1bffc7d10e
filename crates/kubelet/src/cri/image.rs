//! Images in the node's containerd: the name a pod's `image:` has there, and the parts of
//! the image config a container is made from (ENTRYPOINT, CMD, ENV, WORKDIR, USER,
//! STOPSIGNAL) plus the chain id of its unpacked layers, which is the parent snapshot of
//! the container's root file system. Images are never pulled: they are loaded into the
//! node (`chaos load-image`, `ctr images import`), as kind's pods use them with
//! `imagePullPolicy: Never` or `IfNotPresent`.

use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::{GetImageRequest, ReadContentRequest};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::{CriError, Runtime, rpc};

/// What a container needs from its image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// The image's name in containerd.
    pub name: String,
    /// The manifest's digest (`imageID` in container statuses).
    pub digest: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    /// `STOPSIGNAL`, e.g. `SIGINT`; empty when the image sets none.
    pub stop_signal: String,
    /// The chain id of the layers (the snapshot to prepare the root file system from).
    pub chain_id: String,
}

/// A pod's image reference as containerd names it after an import: `busybox` ->
/// `docker.io/library/busybox:latest`, `kind-chaos/x:1` -> `docker.io/kind-chaos/x:1`
/// (Docker's normalisation, which `ctr images import` of a `docker save` applies).
pub fn normalize(image: &str) -> String {
    let (path, digest) = match image.split_once('@') {
        Some((p, d)) => (p, Some(d)),
        None => (image, None),
    };
    let first = path.split('/').next().unwrap_or_default();
    let has_domain =
        path.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_domain {
        path.to_string()
    } else if path.contains('/') {
        format!("docker.io/{path}")
    } else {
        format!("docker.io/library/{path}")
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct OciConfig {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    stop_signal: Option<String>,
}

impl Runtime {
    /// Reads the config of image `reference` (a pod's `image:`), which must be present.
    pub async fn image_config(&self, reference: &str) -> Result<ImageConfig, CriError> {
        let name = normalize(reference);
        let img_err = |message: String| CriError::Image {
            image: reference.to_string(),
            message,
        };
        let image = ImagesClient::new(self.channel.clone())
            .get(self.req(GetImageRequest { name: name.clone() }))
            .await
            .map_err(|s| {
                if s.code() == tonic::Code::NotFound {
                    img_err(format!("not present in the node as {name}"))
                } else {
                    rpc("images.get")(s)
                }
            })?
            .into_inner()
            .image
            .ok_or_else(|| img_err("containerd returned no image".into()))?;
        let target = image
            .target
            .ok_or_else(|| img_err("the image has no target".into()))?;
        let mut manifest_digest = target.digest.clone();
        let mut doc = self.read_json(&target.digest).await?;
        if doc.get("manifests").is_some() {
            // An index (multi-platform): the manifest for this platform.
            let m = pick_platform(&doc).ok_or_else(|| {
                img_err("no manifest for linux/".to_string() + crate::host::go_arch())
            })?;
            manifest_digest = m;
            doc = self.read_json(&manifest_digest).await?;
        }
        let config_digest = doc["config"]["digest"]
            .as_str()
            .ok_or_else(|| img_err("the manifest has no config".into()))?
            .to_string();
        let config = self.read_json(&config_digest).await?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let oci: OciConfig = serde_json::from_value(config["config"].clone()).unwrap_or_default();
        Ok(ImageConfig {
            name,
            digest: manifest_digest,
            entrypoint: oci.entrypoint.unwrap_or_default(),
            cmd: oci.cmd.unwrap_or_default(),
            env: oci.env.unwrap_or_default(),
            working_dir: oci.working_dir.unwrap_or_default(),
            user: oci.user.unwrap_or_default(),
            stop_signal: oci.stop_signal.unwrap_or_default(),
            chain_id: chain_id(&diff_ids),
        })
    }

    async fn read_json(&self, digest: &str) -> Result<Value, CriError> {
        let mut stream = ContentClient::new(self.channel.clone())
            .read(self.req(ReadContentRequest {
                digest: digest.to_string(),
                offset: 0,
                size: 0,
            }))
            .await
            .map_err(rpc("content.read"))?
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend(chunk.map_err(rpc("content.read"))?.data);
        }
        serde_json::from_slice(&bytes).map_err(|source| CriError::Decode {
            what: digest.to_string(),
            source,
        })
    }
}

fn pick_platform(index: &Value) -> Option<String> {
    let ms = index["manifests"].as_array()?;
    ms.iter()
        .find(|m| {
            m["platform"]["os"] == "linux"
                && m["platform"]["architecture"] == crate::host::go_arch()
        })
        .or_else(|| ms.iter().find(|m| m.get("platform").is_none()))
        .and_then(|m| m["digest"].as_str().map(String::from))
}

/// The OCI chain id of layers with these diff ids: the first diff id, then
/// `sha256(parent + " " + diff_id)` for each next one (image-spec, config.md).
pub fn chain_id(diff_ids: &[String]) -> String {
    let mut it = diff_ids.iter();
    let Some(first) = it.next() else {
        return String::new();
    };
    it.fold(first.clone(), |parent, d| {
        let sum = ring::digest::digest(&ring::digest::SHA256, format!("{parent} {d}").as_bytes());
        format!("sha256:{}", hex::encode(sum.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(normalize("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            normalize("kind-chaos-pause:test"),
            "docker.io/library/kind-chaos-pause:test"
        );
        assert_eq!(
            normalize("kind-chaos/small-entrypoint-exec:0.1.0"),
            "docker.io/kind-chaos/small-entrypoint-exec:0.1.0"
        );
        assert_eq!(
            normalize("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(normalize("localhost:5000/x"), "localhost:5000/x:latest");
    }

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a = "sha256:aaaa".to_string();
        assert_eq!(chain_id(std::slice::from_ref(&a)), a);
        let two = chain_id(&[a.clone(), "sha256:bbbb".into()]);
        let want = ring::digest::digest(&ring::digest::SHA256, b"sha256:aaaa sha256:bbbb");
        assert_eq!(two, format!("sha256:{}", hex::encode(want.as_ref())));
        assert_eq!(chain_id(&[]), "");
    }
}
