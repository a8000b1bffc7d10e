#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, checks formatting and
# lints, then runs every test of the workspace (unit, playbook fixtures, engine on the fake
# cluster, adapters against real Docker, real etcd and the fake API server, the CLI end to
# end). Tests that need Docker or etcd fail (never skip) when those are missing.
# Real-kind end-to-end tests are #[ignore]d here; scripts/e2e-kind.sh runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CI="${CI:-true}"
start=$(date +%s)
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The shipped build, without the test-only fake cluster (feature test-fake-cluster, which every
# test build above and below turns on through the package's dev-dependency on itself).
cargo clippy --workspace --lib --bins --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
echo "test.sh: done in $(( $(date +%s) - start ))s" >&2
