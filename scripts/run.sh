#!/usr/bin/env bash
# The main job, from a fresh machine: build chaos (release) and run playbooks.
#   scripts/run.sh [PLAYBOOK...]          # default: every playbooks/*.yaml
# With a kind cluster named k8splayground (kind-config.yaml) the playbooks run against it.
# Without one (no kind, or no such cluster), the local test cluster of scripts/testcluster.sh
# is started as k8splayground with its control plane and kubelets (`up --api`: the fake API
# server of crates/fake-apiserver and crates/kubelet on real containerd, see
# testcluster/README.md), the lab images are built (scripts/build-images.sh) and loaded
# (`chaos load-image`), every playbook runs unmodified, and the cluster is removed afterwards
# (KIND_CHAOS_KEEP_TESTCLUSTER=1 keeps it).
# Reports go to target/chaos-report.json and target/chaos-junit.xml.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked --bin chaos
chaos=target/release/chaos
cluster=k8splayground
[ "$#" -gt 0 ] || set -- playbooks/*.yaml

# The lab images every playbook's manifests name (images/*), built when one is missing.
lab_images() {
  local version
  version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' crates/probe/Cargo.toml | head -n1)
  for dir in images/*/; do
    echo "kind-chaos/$(basename "$dir"):$version"
  done
}

ensure_lab_images() {
  local img missing=''
  for img in $(lab_images); do
    docker image inspect "$img" >/dev/null 2>&1 || missing=1
  done
  [ -z "$missing" ] || scripts/build-images.sh >/dev/null
}

# The local cluster as k8splayground: control plane, kubelets, lab images loaded into its nodes.
start_local_cluster() {
  cargo build --locked -p fake-apiserver --bin serve -p kubelet --bin kubelet --bin crictl
  export KIND_CHAOS_APISERVER_BIN=${KIND_CHAOS_APISERVER_BIN:-$PWD/target/debug/serve}
  export KIND_CHAOS_KUBELET_BIN=${KIND_CHAOS_KUBELET_BIN:-$PWD/target/debug/kubelet}
  scripts/testcluster.sh up "$cluster" --workers 2 --api >/dev/null
  if [ -z "${KIND_CHAOS_KEEP_TESTCLUSTER:-}" ]; then
    trap 'scripts/testcluster.sh down "$cluster" >/dev/null 2>&1 || true' EXIT
  fi
  ensure_lab_images
  # shellcheck disable=SC2046 # one argument per image
  "$chaos" load-image --cluster "$cluster" $(lab_images)
}

if command -v kind >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  :
else
  echo "run.sh: no kind cluster '$cluster'; starting the local test cluster (testcluster.sh up $cluster --api)" >&2
  start_local_cluster
fi
"$chaos" validate "$@"
"$chaos" run --cluster "$cluster" --json target/chaos-report.json --junit target/chaos-junit.xml "$@"
