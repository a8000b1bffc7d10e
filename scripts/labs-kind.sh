#!/usr/bin/env bash
# Runs every lab playbook against a real kind cluster, with JUnit and JSON reports:
#   scripts/labs-kind.sh [PLAYBOOK...]          # default: every playbooks/*.yaml
# The cluster (k8splayground, from kind-config.yaml) is created or reused, and the lab images
# are built and loaded, by `chaos cluster up`. Reports: target/labs/junit.xml, target/labs/report.json.
# The hosted-CI workflow .github/workflows/e2e.yml runs this; here (no kubelet can run) it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked --bin chaos
chaos=target/release/chaos
[ "$#" -gt 0 ] || set -- playbooks/*.yaml
"$chaos" validate "$@"
"$chaos" cluster up
mkdir -p target/labs
"$chaos" run --cluster k8splayground --junit target/labs/junit.xml --json target/labs/report.json "$@"
