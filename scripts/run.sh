#!/usr/bin/env bash
# The main job, from a fresh machine: build chaos (release) and run playbooks.
#   scripts/run.sh [PLAYBOOK...]
# With a kind cluster named k8splayground (kind-config.yaml) every playbook runs against it
# (default: all of playbooks/). Without one, the kind-like test cluster of
# scripts/testcluster.sh is started as k8splayground and the node-only playbook runs against
# it (default: playbooks/node-faults.yaml); the test cluster is removed afterwards.
# Reports go to target/chaos-report.json and target/chaos-junit.xml.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked --bin chaos
chaos=target/release/chaos
cluster=k8splayground

if command -v kind >/dev/null 2>&1 && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  [ "$#" -gt 0 ] || set -- playbooks/*.yaml
else
  echo "run.sh: no kind cluster '$cluster'; using the kind-like test cluster (node faults only)" >&2
  scripts/testcluster.sh up "$cluster" --workers 2 >/dev/null
  trap 'scripts/testcluster.sh down "$cluster" >/dev/null 2>&1 || true' EXIT
  [ "$#" -gt 0 ] || set -- playbooks/node-faults.yaml
fi
"$chaos" validate "$@"
"$chaos" run --cluster "$cluster" --json target/chaos-report.json --junit target/chaos-junit.xml "$@"
