//! A node's containers (id, labels, OCI spec) read from containerd's metadata database as the
//! host sees the node's files, without a request to its containerd.
//!
//! containerd answers a listing of containers from this same database (`metadata/containers.go`
//! reads `v1/<namespace>/containers/<id>`: a `labels` bucket and the `spec`, a protobuf `Any`
//! whose value is the OCI spec's JSON; the layout is `metadata/buckets.go`'s, versioned `v1`).
//! Asking it costs the node's containerd a new gRPC connection and a listing (about 2 ms of
//! its CPU for each node of each `chaos reality`, measured in BENCHMARKS.md), so at 13 nodes
//! the askings, not `chaos`, set the time; reading the file costs a few page reads. The
//! database is read without containerd's lock, as a consistent snapshot (see [`super::bolt`]):
//! a read during which containerd committed is read again, and after a few such reads, or when
//! anything in the file is not as described, the caller asks containerd instead.

use std::collections::BTreeMap;
use std::fs::File;

use super::bolt::{Bucket, Snapshot, Value};
use super::parse::ApiContainer;

/// containerd's metadata database inside a node (its default root, kind's).
pub const META_DB: &str = "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db";
/// How many times a read is tried while containerd keeps committing during it.
const ATTEMPTS: usize = 3;

/// The containers of containerd namespace `namespace` on the node whose files are under `root`
/// (`/proc/PID/root`), as containerd's `Containers.List` gives them.
pub fn containers(root: &str, namespace: &str) -> Result<Vec<ApiContainer>, String> {
    let path = format!("{root}{META_DB}");
    let file = File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    for _ in 0..ATTEMPTS {
        let snap = Snapshot::open(&file).map_err(|e| format!("{path}: {e}"))?;
        let read = read(&snap, namespace).map_err(|e| format!("{path}: {e}"))?;
        if snap.still_current().map_err(|e| format!("{path}: {e}"))? {
            return Ok(read);
        }
    }
    Err(format!(
        "{path}: containerd committed during each of {ATTEMPTS} reads"
    ))
}

/// The containers of `namespace` in one snapshot (none when it has no containers bucket).
fn read(snap: &Snapshot, namespace: &str) -> Result<Vec<ApiContainer>, String> {
    let Some(containers) = snap.bucket(&[b"v1", namespace.as_bytes(), b"containers"])? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (id, value) in snap.entries(&containers)? {
        let id = text(id, "a container id")?;
        let Value::Bucket(bucket) = value else {
            return Err(format!("container {id}: a value, not a bucket"));
        };
        let (labels, spec) =
            container(snap, &bucket).map_err(|e| format!("container {id}: {e}"))?;
        out.push((id, labels, spec));
    }
    Ok(out)
}

/// One container's labels and the OCI spec's bytes (empty when it has none).
fn container(
    snap: &Snapshot,
    bucket: &Bucket,
) -> Result<(BTreeMap<String, String>, Vec<u8>), String> {
    let mut labels = BTreeMap::new();
    let mut spec = Vec::new();
    for (key, value) in snap.entries(bucket)? {
        match (key.as_slice(), value) {
            (b"labels", Value::Bucket(b)) => {
                for (k, v) in snap.entries(&b)? {
                    let Value::Data(v) = v else {
                        return Err("a bucket among its labels".into());
                    };
                    labels.insert(text(k, "a label")?, text(v, "a label's value")?);
                }
            }
            (b"spec", Value::Data(any)) => spec = any_value(&any)?,
            _ => {}
        }
    }
    Ok((labels, spec))
}

/// The value of a protobuf `google.protobuf.Any` (field 2), as containerd stores a spec.
fn any_value(bytes: &[u8]) -> Result<Vec<u8>, String> {
    use prost::Message;
    #[derive(Clone, PartialEq, Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    Any::decode(bytes)
        .map(|a| a.value)
        .map_err(|e| format!("its spec is not a protobuf Any: {e}"))
}

fn text(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_the_value_of_its_any() {
        // Field 1 (type URL) then field 2 (value), as protobuf encodes an Any.
        let mut any = vec![0x0a, 3, b'u', b'r', b'l', 0x12, 2, b'{', b'}'];
        assert_eq!(any_value(&any).unwrap(), b"{}");
        any.truncate(7);
        assert!(any_value(&any).unwrap_err().contains("not a protobuf Any"));
    }
}
