#!/usr/bin/env bash
# Installs what building and testing kind-chaos needs on a fresh Debian/Ubuntu machine, and makes
# sure the Docker daemon answers. Idempotent: installs only what is missing.
#   protobuf-compiler, libprotobuf-dev  etcd-client (the Rust crate) generates its gRPC code with
#                      protoc, and etcd's protos import google/protobuf/*.proto
#   time               GNU time: a test measures the peak memory of `chaos etcd ls`
#   etcd-server/-client  the etcd tests start a real etcd (and compare with etcdctl)
#   busybox-static, dash  the lab images and the kind-like test node image
#   debootstrap          builds the kind-like test node image from Debian packages
#   docker.io            only where there is no Docker at all
#   python3-pip          then, from PyPI, check-jsonschema and junitparser: the tests check the
#                        JSON Schema and the JUnit reports with the tools CI users run
set -euo pipefail

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
[ -x /usr/bin/time ] || need+=(time)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v dash >/dev/null 2>&1 || need+=(dash)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v docker >/dev/null 2>&1 || need+=(docker.io)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

pypi=()
python3 -c 'import check_jsonschema' >/dev/null 2>&1 || pypi+=(check-jsonschema)
python3 -c 'import junitparser' >/dev/null 2>&1 || pypi+=(junitparser)
if [ "${#pypi[@]}" -gt 0 ]; then
  echo "setup: installing ${pypi[*]} from PyPI" >&2
  # Debian's own python3 refuses pip outside a venv (PEP 668); the tests import these modules
  # from python3 itself, so install them for it.
  python3 -m pip install --quiet "${pypi[@]}" ||
    python3 -m pip install --quiet --break-system-packages "${pypi[@]}"
fi
for m in check_jsonschema junitparser; do
  python3 -c "import $m" || { echo "setup: python3 cannot import $m after installing it" >&2; exit 3; }
done

if ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null 2>&1; then
    echo "setup: the Docker daemon is not answering; starting dockerd" >&2
    sudo_ sh -c 'nohup dockerd >/var/log/dockerd-kind-chaos.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "setup: Docker is not running and could not be started (see /var/log/dockerd-kind-chaos.log)" >&2
    exit 3
  fi
fi
echo "setup: ready (docker $(docker version --format '{{.Server.Version}}'), $(protoc --version), etcd $(etcd --version 2>/dev/null | head -n1 | awk '{print $3}'))" >&2
