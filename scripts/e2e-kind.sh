#!/usr/bin/env bash
# Runs the real-kind end-to-end tests: tests/it/e2e_kind.rs, whose tests are all
# #[ignore = "needs a kind cluster"] in the normal suite (scripts/test.sh), against a real kind
# cluster. They check the Kubernetes backend's scenarios (connecting, the safety rule, the
# dangling/collected-resources and forced-delete labs, finalizers, watch-driven waits, unknown
# kinds, RBAC) against a real API server, kubelet and controllers.
#
#   scripts/e2e-kind.sh                    # create (or reuse) k8splayground, run every e2e test
#   scripts/e2e-kind.sh --delete           # ... and delete the cluster afterwards if it made it
#   scripts/e2e-kind.sh -- e2e_forced      # only the tests whose name contains e2e_forced
#
# The cluster comes from kind-config.yaml (the seeds' k8splayground: a control plane with
# etcd's 2379 on 127.0.0.1, a worker labelled mock-server=true, a worker tainted
# playground_test); an existing cluster of that name is reused as it is. The lab images are
# built (scripts/build-images.sh) and loaded into the nodes with `chaos load-image`, since the
# lab manifests use imagePullPolicy: Never.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/e2e-kind.sh [--cluster NAME] [--delete] [--no-images] [-- TEST-FILTER...]

  --cluster NAME  the kind cluster (default: $KIND_CHAOS_E2E_CLUSTER, else k8splayground)
  --delete        delete the cluster at the end if this script created it
  --no-images     do not build and load the lab images (they are already in the nodes)
  -h, --help      print this text

Needs Docker and cargo; the kind CLI only when the cluster must be created.
EOF
}

die() {
    echo "e2e-kind.sh: error: $*" >&2
    exit 1
}
log() { echo "e2e-kind.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=${KIND_CHAOS_E2E_CLUSTER:-k8splayground}
DELETE=0
IMAGES=1
while [ $# -gt 0 ]; do
    case "$1" in
    --cluster)
        [ $# -ge 2 ] || die "--cluster needs a name"
        CLUSTER=$2
        shift 2
        ;;
    --delete)
        DELETE=1
        shift
        ;;
    --no-images)
        IMAGES=0
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        break
        ;;
    *)
        echo "e2e-kind.sh: unknown argument: $1" >&2
        usage >&2
        exit 2
        ;;
    esac
done

cd "$ROOT"
command -v cargo >/dev/null || die "cargo is not installed"
docker info >/dev/null 2>&1 || die "Docker does not answer (is the daemon running?)"

# kind's node containers carry io.x-k8s.kind.cluster=<name>; no kind CLI needed to find them.
cluster_exists() {
    [ -n "$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER")" ]
}

CREATED=0
cleanup() {
    if [ "$DELETE" = 1 ] && [ "$CREATED" = 1 ]; then
        log "deleting kind cluster $CLUSTER"
        kind delete cluster --name "$CLUSTER" || true
    fi
}
trap cleanup EXIT

if cluster_exists; then
    # scripts/testcluster.sh makes kind-like node containers without Kubernetes in them.
    if [ -n "$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --filter label=io.kind-chaos.testcluster)" ]; then
        die "$CLUSTER is a test cluster from scripts/testcluster.sh (containerd only, no Kubernetes); pick another --cluster"
    fi
    log "reusing kind cluster $CLUSTER"
    mapfile -t NODES < <(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$CLUSTER")
    docker start "${NODES[@]}" >/dev/null
else
    command -v kind >/dev/null ||
        die "kind cluster $CLUSTER does not exist and the kind CLI is not installed to create it (https://kind.sigs.k8s.io)"
    log "creating kind cluster $CLUSTER from kind-config.yaml"
    kind create cluster --config kind-config.yaml --name "$CLUSTER" --wait 5m
    CREATED=1
fi

cargo build --bin chaos
CHAOS="$ROOT/target/debug/chaos"
if [ "$IMAGES" = 1 ]; then
    log "building the lab images"
    mapfile -t TAGS < <(scripts/build-images.sh | awk '{print $1}')
    [ "${#TAGS[@]}" -gt 0 ] || die "scripts/build-images.sh built no image"
    log "loading ${#TAGS[@]} image(s) into $CLUSTER"
    "$CHAOS" load-image --cluster "$CLUSTER" "${TAGS[@]}"
fi

export KIND_CHAOS_E2E_CLUSTER="$CLUSTER"
# The tests share one cluster: one at a time. They are the only #[ignore]d tests of the
# integration test binary (tests/it, module e2e_kind), so --ignored runs just them.
start=$(date +%s)
cargo test --test it -- --ignored --test-threads=1 "$@"
log "done in $(($(date +%s) - start))s"
