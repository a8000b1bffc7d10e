#!/usr/bin/env bash
# A stand-in for kind's node containers, for kind-chaos's Docker-side tests.
# Built only from Debian packages (no image registry is needed). See usage()
# and testcluster/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TC_DIR=$ROOT/testcluster
PROG=${0##*/}

NODE_IMAGE=kind-chaos-node:test
PAUSE_IMAGE=kind-chaos-pause:test
# The name the pause image has inside the nodes' containerd after import.
PAUSE_REF=docker.io/library/kind-chaos-pause:test
ROOTFS_REPO=kind-chaos-node-rootfs
SUITE=bookworm
# etcd-server: the control plane's etcd in `up --api` clusters (Debian's 3.4).
PACKAGES=containerd,runc,procps,iproute2,iptables,tini,etcd-server
# Bump when prepare_rootfs changes what goes into the root file system.
ROOTFS_REV=2
PAUSE_LINKS="sh sleep ls cat echo env ps kill true false printf date hostname id"

NETWORK=kind
OWNER=io.kind-chaos.testcluster # label on everything this script creates
L_CLUSTER=io.x-k8s.kind.cluster
L_ROLE=io.x-k8s.kind.role
L_HASH=io.kind-chaos.testcluster.hash
CACHE_DIR=${KIND_CHAOS_CACHE_DIR:-/var/cache/kind-chaos}
# Host-side kubeconfigs of `up --api` clusters, one directory per cluster.
STATE_DIR=${KIND_CHAOS_TESTCLUSTER_STATE:-${TMPDIR:-/tmp}/kind-chaos-testcluster-$(id -u)}
# Where the fake API server runs in the control plane (the entrypoint starts it).
APISERVER_IN_NODE=/usr/local/bin/kube-apiserver

usage() {
  cat <<EOF
Usage: $PROG COMMAND [ARGS]

A test cluster that imitates kind's node containers (Docker side only: no
Kubernetes). Nodes run a real containerd; pods are containerd "sandboxes".

Commands:
  image [--rebuild]
      Build the images if missing or out of date (--rebuild: from scratch):
        $NODE_IMAGE   debootstrap $SUITE (minbase + ${PACKAGES//,/ })
                               + testcluster/node/ (entrypoint, kubelet stand-in)
        $PAUSE_IMAGE  FROM scratch + Debian's static busybox
      Installs debootstrap and busybox-static with apt-get if they are missing.
  up NAME [--workers N] [--api]
      Start cluster NAME (default 2 workers; builds the images if needed):
      containers NAME-control-plane, NAME-worker, NAME-worker2, ... labelled
      $L_CLUSTER=NAME and $L_ROLE=control-plane|worker, on Docker
      network "$NETWORK" (created if missing). Waits for containerd in each
      node, imports $PAUSE_IMAGE into its k8s.io namespace and prints the
      node names, one per line. Reuses what already exists.
      --api: also run a control plane in NAME-control-plane: the fake API
      server of crates/fake-apiserver (its 'serve' binary, built with cargo
      unless KIND_CHAOS_APISERVER_BIN names one) as $APISERVER_IN_NODE on
      6443 (HTTPS, client certificates, /etc/kubernetes/pki, admin.conf as
      kind has them) storing its objects in the node's etcd (Debian's
      etcd-server, TLS at kind's paths, client port 2379 published on
      127.0.0.1), and in every node the stand-in kubelet of crates/kubelet
      (built with cargo unless KIND_CHAOS_KUBELET_BIN names one) as
      /usr/bin/kubelet with /etc/kubernetes/kubelet.conf and the flags in
      /var/lib/kubelet/kubeadm-flags.env, as kind would (kind-config.yaml:
      worker labelled mock-server=true, worker2 tainted
      playground_test=ensure_only_tolerations_run_here:NoSchedule); the
      kubelets register the nodes, and 'up' waits until all are Ready. Needs
      kubectl on this machine.
  kubeconfig NAME
      Print the path of a kubeconfig for the API of an 'up --api' cluster,
      usable from this machine: admin.conf of NAME-control-plane with
      cluster, user and context named kind-NAME and the server at
      https://127.0.0.1:<published port>, as 'kind get kubeconfig' makes it.
  down NAME
      Remove the cluster's node containers and their anonymous volumes, the
      network "$NETWORK" if this script created it and nothing else uses it,
      and the cluster's kubeconfig.
  ls NAME
      One line per node container: NAME ROLE STATE IP (tab-separated).
  pod NAME NODE NAMESPACE PODNAME [UID]
      Start a pod sandbox in NODE (a node container name; NAME-NODE also
      works) the way the CRI would: a containerd container + task (one
      containerd-shim-runc-v2 process) in namespace k8s.io, running the pause
      image, with labels io.kubernetes.pod.{name,namespace,uid} and
      io.cri-containerd.kind=sandbox. UID defaults to a random UUID.
      Prints the 64-hex sandbox id.
  unpod NAME NODE SANDBOX_ID
      Kill and delete that sandbox.

Inside a node: containerd log /var/log/containerd.log; the chosen snapshotter
in /run/kind-chaos/snapshotter and in 'containerd config dump'; the kubelet
stand-in /usr/bin/kubelet (log /var/log/unit-restarter.log; with --api the
kubelet's own log is /var/log/kubelet.log) is restarted 1 s after it exits,
if it is executable.

Environment:
  KIND_CHAOS_APISERVER_BIN the fake API server binary for 'up --api' (default:
                           cargo build -p fake-apiserver --bin serve)
  KIND_CHAOS_KUBELET_BIN   the kubelet binary for 'up --api' (default:
                           cargo build -p kubelet --bin kubelet)
  KIND_CHAOS_CRICTL_BIN    the crictl stand-in for 'up --api' nodes (default: crictl
                           next to the kubelet binary, else cargo build -p kubelet
                           --bin crictl)
  KIND_CHAOS_TESTCLUSTER_STATE where kubeconfigs go ($STATE_DIR)
  KIND_CHAOS_SNAPSHOTTER   force the nodes' snapshotter (at 'up'), e.g. native
  KIND_CHAOS_ETCD_HOST_PORT the host port for etcd's 2379 of 'up --api' clusters
                           (default: random, on 127.0.0.1)
  KIND_CHAOS_DEBIAN_MIRROR mirror for debootstrap (default: from apt's sources)
  KIND_CHAOS_CACHE_DIR     where debootstrap keeps its .debs ($CACHE_DIR)
EOF
}

log() { echo "$PROG: $*" >&2; }
die() {
  echo "$PROG: error: $*" >&2
  exit 1
}
usage_error() {
  echo "$PROG: error: $*" >&2
  echo "Run '$PROG --help' for usage." >&2
  exit 2
}

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(false)
fi
as_root() {
  if [[ ${SUDO[0]:-} == false ]]; then
    die "'$*' needs root, and sudo is not available"
  fi
  "${SUDO[@]}" "$@"
}

TMP_DIRS=()
cleanup() {
  local d
  for d in "${TMP_DIRS[@]}"; do
    [[ -n $d && -d $d ]] || continue
    unmount_under "$d"
    as_root rm -rf --one-file-system "$d" 2>/dev/null || true
  done
}
trap cleanup EXIT

# Unmount whatever is mounted below DIR (debootstrap mounts /proc, /sys in the
# target and may leave them behind when it fails).
unmount_under() {
  local dir=$1 m
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do as_root umount -l "$m" 2>/dev/null || true; done
}

# new_tmp_dir VAR WHAT: a fresh directory in VAR, removed when the script exits.
new_tmp_dir() {
  local d
  d=$(mktemp -d "${TMPDIR:-/var/tmp}/kind-chaos-$2.XXXXXX") || die "mktemp failed"
  TMP_DIRS+=("$d")
  printf -v "$1" '%s' "$d"
}

# ---------------------------------------------------------------------------
# host prerequisites
# ---------------------------------------------------------------------------
APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "need the packages $* but apt-get is not available; install them by hand"
  local i
  if [[ -z $APT_UPDATED ]]; then
    log "apt-get update"
    for i in 1 2 3; do
      if as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq \
        -o DPkg::Lock::Timeout=600 update >&2; then
        APT_UPDATED=1
        break
      fi
      sleep $((i * 3))
    done
    [[ -n $APT_UPDATED ]] || die "apt-get update failed"
  fi
  log "apt-get install $*"
  local out
  out=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends \
    -o DPkg::Lock::Timeout=600 install "$@" 2>&1) || {
    echo "$out" >&2
    die "apt-get install $* failed"
  }
}

dpkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_docker() {
  if ! command -v docker >/dev/null 2>&1; then
    apt_install docker.io
  fi
  docker info >/dev/null 2>&1 && return 0
  if command -v dockerd >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    log "the Docker daemon is not running; starting dockerd (log /var/log/kind-chaos-dockerd.log)"
    nohup dockerd >>/var/log/kind-chaos-dockerd.log 2>&1 &
    local i
    for ((i = 0; i < 120; i++)); do
      docker info >/dev/null 2>&1 && return 0
      sleep 0.5
    done
    die "dockerd did not come up within 60s; see /var/log/kind-chaos-dockerd.log"
  fi
  die "cannot reach the Docker daemon ('docker info' fails)"
}

ensure_build_tools() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  dpkg_installed busybox-static || missing+=(busybox-static)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
  [[ -x /bin/busybox ]] || die "/bin/busybox missing although busybox-static is installed"
}

# The Debian mirror apt uses here (first .../debian URI of apt's sources).
debian_mirror() {
  if [[ -n ${KIND_CHAOS_DEBIAN_MIRROR:-} ]]; then
    echo "$KIND_CHAOS_DEBIAN_MIRROR"
    return
  fi
  local files=() f m
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  m=
  if ((${#files[@]})); then
    m=$(awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" {
        for (i = 2; i <= NF; i++) {
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; continue }
          print $i; break
        }
        next
      }
      $1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }
    ' "${files[@]}" | sed 's:/*$::' | grep -E '/debian$' | head -n1 || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------
image_label() { # IMAGE LABEL -> value ("" if image missing)
  docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

hash_of() { sha256sum | cut -c1-16; }

rootfs_tag() {
  echo "$ROOTFS_REPO:$(printf '%s\n' "$SUITE" "$PACKAGES" "$ROOTFS_REV" | hash_of)"
}

node_hash() {
  {
    rootfs_tag
    cat "$TC_DIR/node/Dockerfile" "$TC_DIR/node/kind-chaos-entrypoint" "$TC_DIR/node/unit-restarter"
  } | hash_of
}

pause_hash() {
  {
    cat "$TC_DIR/pause/Dockerfile" "$TC_DIR/pause/pause.c"
    echo "$PAUSE_LINKS"
    dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || true
  } | hash_of
}

# Trim and complete a debootstrap tree before it becomes an image.
prepare_rootfs() {
  local r=$1
  # shellcheck disable=SC2016 # expanded by the inner shell
  as_root sh -euc '
    r=$1
    # kubelet stand-in: a copy of sleep, so /proc/PID/comm is "kubelet".
    cp "$r/bin/sleep" "$r/usr/bin/kubelet"
    chmod 0755 "$r/usr/bin/kubelet"
    # kind installs containerd in /usr/local/bin. Move the binaries there (a
    # symlink would not do: the shim re-executes itself by its real path), so
    # shims run as /usr/local/bin/containerd-shim-runc-v2 as in a kind node.
    for b in containerd containerd-shim containerd-shim-runc-v1 containerd-shim-runc-v2 ctr; do
      if [ -f "$r/usr/bin/$b" ] && [ ! -L "$r/usr/bin/$b" ]; then
        mv "$r/usr/bin/$b" "$r/usr/local/bin/$b"
        ln -s "/usr/local/bin/$b" "$r/usr/bin/$b"
      fi
    done
    rm -f "$r/etc/dpkg/dpkg.cfg.d/kind-chaos-unsafe-io"
    rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* \
      "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
      "$r"/usr/share/locale/* "$r"/var/log/*.log "$r"/var/log/apt/*
    : >"$r/etc/resolv.conf"
    : >"$r/etc/hostname"
  ' sh "$r"
}

build_rootfs() {
  local tag=$1 mirror dir t0
  mirror=$(debian_mirror)
  new_tmp_dir dir rootfs
  as_root mkdir -p "$CACHE_DIR/debs"
  # debootstrap does not read apt's proxy setting; pass it on if there is one.
  if [[ -z ${http_proxy:-} ]] && command -v apt-config >/dev/null 2>&1; then
    local http_proxy=
    eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
    [[ -n $http_proxy ]] && export http_proxy
  fi
  log "debootstrap $SUITE from $mirror (this takes a minute; log $dir.log)"
  t0=$SECONDS
  # dpkg without fsync: the tree is thrown away if anything fails anyway.
  as_root mkdir -p "$dir/root/etc/dpkg/dpkg.cfg.d"
  echo force-unsafe-io | as_root tee "$dir/root/etc/dpkg/dpkg.cfg.d/kind-chaos-unsafe-io" >/dev/null
  if ! as_root debootstrap --variant=minbase --include="$PACKAGES" \
    --cache-dir="$CACHE_DIR/debs" "$SUITE" "$dir/root" "$mirror" >"$dir.log" 2>&1; then
    tail -n 30 "$dir.log" >&2
    die "debootstrap failed (full log: $dir.log)"
  fi
  rm -f "$dir.log"
  log "debootstrap done in $((SECONDS - t0))s; importing $tag"
  prepare_rootfs "$dir/root"
  as_root tar -C "$dir/root" --numeric-owner -c . |
    docker import --change "LABEL $OWNER=rootfs" --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null ||
    die "docker import of the root file system failed"
  log "root file system imported ($((SECONDS - t0))s since debootstrap started)"
  unmount_under "$dir"
  as_root rm -rf --one-file-system "$dir"
  # Older root file systems of this script are no longer needed.
  local old
  for old in $(docker images "$ROOTFS_REPO" --format '{{.Repository}}:{{.Tag}}'); do
    [[ $old == "$tag" ]] || docker rmi "$old" >/dev/null 2>&1 || true
  done
}

build_node_image() {
  local rootfs=$1 hash=$2 ctx out
  new_tmp_dir ctx node-ctx
  cp "$TC_DIR/node/Dockerfile" "$TC_DIR/node/kind-chaos-entrypoint" "$TC_DIR/node/unit-restarter" "$ctx/"
  chmod 0755 "$ctx/kind-chaos-entrypoint" "$ctx/unit-restarter"
  out=$(docker build -q --build-arg "BASE=$rootfs" --label "$OWNER=node" --label "$L_HASH=$hash" \
    -t "$NODE_IMAGE" "$ctx" 2>&1) || {
    echo "$out" >&2
    die "docker build of $NODE_IMAGE failed"
  }
}

build_pause_image() {
  local hash=$1 ctx out l
  new_tmp_dir ctx pause-ctx
  mkdir -p "$ctx/bin"
  cp "$TC_DIR/pause/Dockerfile" "$ctx/"
  cp /bin/busybox "$ctx/bin/busybox"
  # The sandbox's process, /pause, as in Kubernetes' pause image (own code, static).
  command -v gcc >/dev/null 2>&1 && [[ -e /usr/lib/x86_64-linux-gnu/libc.a || -e /usr/lib/libc.a ]] ||
    apt_install gcc libc6-dev || die "need gcc and libc6-dev to build the pause image"
  gcc -static -Os -o "$ctx/pause" "$TC_DIR/pause/pause.c" || die "could not compile pause.c"
  for l in $PAUSE_LINKS; do ln -s busybox "$ctx/bin/$l"; done
  out=$(docker build -q --label "$L_HASH=$hash" -t "$PAUSE_IMAGE" "$ctx" 2>&1) || {
    echo "$out" >&2
    die "docker build of $PAUSE_IMAGE failed"
  }
}

ensure_images() { # [rebuild]
  local rebuild=${1:-} lock_fd=''
  ensure_docker
  # One build at a time when several runs (say, parallel tests) start at once.
  if command -v flock >/dev/null 2>&1; then
    exec {lock_fd}>"${TMPDIR:-/tmp}/kind-chaos-testcluster-image.lock"
    flock "$lock_fd"
  fi
  ensure_images_locked "$rebuild"
  if [[ -n ${lock_fd:-} ]]; then
    exec {lock_fd}>&-
  fi
  return 0
}

ensure_images_locked() {
  local rebuild=$1 t0=$SECONDS rootfs nh ph
  rootfs=$(rootfs_tag)
  nh=$(node_hash)
  local need_node='' need_rootfs='' need_pause=''
  [[ -n $rebuild || $(image_label "$NODE_IMAGE" "$L_HASH") != "$nh" ]] && need_node=1
  if [[ -n $need_node ]]; then
    if [[ -n $rebuild ]] || ! docker image inspect "$rootfs" >/dev/null 2>&1; then
      need_rootfs=1
    fi
  fi
  if [[ -n $need_rootfs ]] || ! dpkg_installed busybox-static; then
    ensure_build_tools
  fi
  ph=$(pause_hash)
  [[ -n $rebuild || $(image_label "$PAUSE_IMAGE" "$L_HASH") != "$ph" ]] && need_pause=1
  if [[ -z $need_node && -z $need_pause ]]; then
    return 0
  fi
  if [[ -n $need_pause ]]; then
    [[ -x /bin/busybox ]] || ensure_build_tools
    build_pause_image "$ph"
    log "built $PAUSE_IMAGE"
  fi
  if [[ -n $need_rootfs ]]; then
    build_rootfs "$rootfs"
  fi
  if [[ -n $need_node ]]; then
    build_node_image "$rootfs" "$nh"
    log "built $NODE_IMAGE"
  fi
  # Drop the images these builds replaced (dangling ones of ours only).
  docker image prune -f --filter "label=$OWNER" >/dev/null 2>&1 || true
  log "images ready in $((SECONDS - t0))s"
}

cmd_image() {
  local rebuild=
  while (($#)); do
    case $1 in
    --rebuild) rebuild=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "image: unknown argument '$1'" ;;
    esac
    shift
  done
  ensure_images "$rebuild"
  echo "$NODE_IMAGE"
  echo "$PAUSE_IMAGE"
}

# ---------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------
ip2int() {
  local IFS=.
  local -a o
  read -r -a o <<<"$1"
  echo $(((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]))
}

cidr_overlap() { # A/len B/len
  local a=${1%/*} al=${1#*/} b=${2%/*} bl=${2#*/} l mask
  [[ $1 == */* ]] || al=32
  [[ $2 == */* ]] || bl=32
  l=$((al < bl ? al : bl))
  mask=$(((0xffffffff << (32 - l)) & 0xffffffff))
  (($(($(ip2int "$a") & mask)) == $(($(ip2int "$b") & mask))))
}

used_ipv4_ranges() {
  local ids
  ids=$(docker network ls -q)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' $ids | tr ' ' '\n'
  fi
  if command -v ip >/dev/null 2>&1; then
    ip -4 route show 2>/dev/null | awk '$1 != "default" { print $1 }'
    ip -4 -o addr show 2>/dev/null | awk '{ print $4 }'
  fi
}

pick_subnet() {
  local used cand u ok i
  used=$(used_ipv4_ranges | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(/[0-9]+)?$' || true)
  for i in $(seq 18 31) ; do
    cand=172.$i.0.0/16
    ok=1
    for u in $used; do
      if cidr_overlap "$cand" "$u"; then ok=; break; fi
    done
    [[ -n $ok ]] && { echo "$cand"; return; }
  done
  echo "" # let Docker choose
}

# Docker does not keep network names unique: two scripts creating "$NETWORK" at once both
# succeed, and every later `docker run --network $NETWORK` fails as ambiguous. Keep the
# oldest network this script made and remove the younger ones while nothing uses them.
dedupe_network() {
  local ids keep id
  ids=$(docker network ls -q --no-trunc --filter "name=^$NETWORK\$" --filter "label=$OWNER=network")
  (($(wc -w <<<"$ids") > 1)) || return 0
  # shellcheck disable=SC2086
  keep=$(docker network inspect -f '{{.Created}} {{.Id}}' $ids | sort | head -n1 | awk '{print $NF}')
  for id in $ids; do
    [[ $id == "$keep" ]] && continue
    if [[ $(docker network inspect -f '{{len .Containers}}' "$id" 2>/dev/null) == 0 ]]; then
      docker network rm "$id" >/dev/null 2>&1 && log "removed a duplicate Docker network $NETWORK (${id:0:12})"
    fi
  done
}

ensure_network() {
  dedupe_network
  docker network inspect "$NETWORK" >/dev/null 2>&1 && return 0
  local subnet args=()
  subnet=$(pick_subnet)
  [[ -n $subnet ]] && args+=(--subnet "$subnet")
  log "creating Docker network $NETWORK ${subnet:-(subnet chosen by Docker)}"
  # No masquerading: the nodes never need to reach beyond this machine.
  docker network create -d bridge "${args[@]}" --label "$OWNER=network" \
    -o com.docker.network.bridge.enable_ip_masquerade=false "$NETWORK" >/dev/null ||
    docker network inspect "$NETWORK" >/dev/null 2>&1 || # lost a race: fine
    die "could not create Docker network $NETWORK"
  dedupe_network
}

# ---------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------
check_name() {
  [[ $1 =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] ||
    usage_error "bad cluster name '$1' (lower-case letters, digits and '-')"
}

container_label() { # CONTAINER LABEL
  docker container inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null
}

container_state() { docker container inspect -f '{{.State.Status}}' "$1" 2>/dev/null || true; }

# Node containers of cluster NAME, control-plane first, as kind orders them.
cluster_nodes() {
  docker ps -a --filter "label=$L_CLUSTER=$1" --format '{{.Names}}' | sort -V
}

create_node() { # CLUSTER NODE ROLE
  local cluster=$1 node=$2 role=$3 args=()
  [[ $role == control-plane ]] && args+=(--publish 127.0.0.1::6443)
  [[ $role == control-plane && -n $WITH_API ]] && args+=(--publish "$(etcd_publish)")
  [[ -n ${KIND_CHAOS_SNAPSHOTTER:-} ]] && args+=(-e "KIND_CHAOS_SNAPSHOTTER=$KIND_CHAOS_SNAPSHOTTER")
  docker run -d --name "$node" --hostname "$node" \
    --label "$L_CLUSTER=$cluster" --label "$L_ROLE=$role" --label "$OWNER=node" \
    --network "$NETWORK" \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --cap-add=ALL --cap-drop=SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /tmp -v /var/lib/containerd \
    "${args[@]}" "$NODE_IMAGE" >/dev/null
}

# Make NODE exist and run, wait for its containerd, load the pause image.
bring_up_node() { # CLUSTER NODE ROLE PAUSE_TAR
  local cluster=$1 node=$2 role=$3 tar=$4 state
  state=$(container_state "$node")
  if [[ -z $state ]]; then
    create_node "$cluster" "$node" "$role" || {
      echo "docker run of $node failed"
      return 1
    }
  else
    if [[ $(container_label "$node" "$OWNER") != node ]]; then
      echo "container $node exists but was not made by $PROG; not touching it"
      return 1
    fi
    if [[ $(container_label "$node" "$L_CLUSTER") != "$cluster" ]]; then
      echo "container $node belongs to another cluster"
      return 1
    fi
    case $state in
    running) ;;
    paused) docker unpause "$node" >/dev/null ;;
    *) docker start "$node" >/dev/null || {
      echo "docker start $node failed"
      return 1
    } ;;
    esac
  fi
  if ! docker exec "$node" sh -c '
      i=0
      while [ $i -lt 600 ]; do
        [ -e /run/kind-chaos/ready ] && ctr version >/dev/null 2>&1 && exit 0
        i=$((i + 1)); sleep 0.05
      done
      exit 1'; then
    echo "containerd in $node did not become ready; last log lines:"
    docker logs --tail 20 "$node" 2>&1
    docker exec "$node" tail -n 20 /var/log/containerd.log 2>&1 || true
    return 1
  fi
  # As 'kind load docker-image' does, with the node's snapshotter.
  if ! docker exec -i "$node" sh -c \
    'exec ctr -n k8s.io images import --all-platforms --digests --snapshotter="$(cat /run/kind-chaos/snapshotter)" -' \
    <"$tar" >/dev/null; then
    echo "importing $PAUSE_IMAGE into $node failed"
    return 1
  fi
}

# ---------------------------------------------------------------------------
# control plane (up --api)
# ---------------------------------------------------------------------------
KUBECTL=${KUBECTL:-kubectl}
WITH_API=

# etcd (up --api): Debian's etcd-server in the node image, started by the
# control plane's entrypoint once the API server has written the etcd PKI.
#
# etcd's client port on the host, as kind-config.yaml's extraPortMappings asks
# (listenAddress 127.0.0.1). The host port is random unless
# KIND_CHAOS_ETCD_HOST_PORT pins it (2379 in kind-config.yaml), so that several
# clusters and the host's own test etcds do not collide; chaos's etcd discovery
# reads whichever port Docker published.
etcd_publish() {
  echo "127.0.0.1:${KIND_CHAOS_ETCD_HOST_PORT:-}:2379"
}

# Refuse a control plane whose image predates etcd (it could not store anything).
check_etcd_in_node() { # CONTROL_PLANE
  local cp=$1
  docker exec "$cp" sh -c 'test -x /usr/bin/etcd && grep -q "^run_etcd()" /usr/local/bin/kind-chaos-entrypoint' ||
    die "$cp runs a node image without etcd; '$PROG down ${cp%-control-plane}' and 'up' again"
}

need_kubectl() {
  command -v "$KUBECTL" >/dev/null 2>&1 ||
    die "--api needs kubectl on this machine to wait for the API and the nodes (none found; set KUBECTL)"
}

# The fake API server binary: KIND_CHAOS_APISERVER_BIN, else built with cargo.
apiserver_bin() {
  if [[ -n ${KIND_CHAOS_APISERVER_BIN:-} ]]; then
    [[ -f $KIND_CHAOS_APISERVER_BIN && -x $KIND_CHAOS_APISERVER_BIN ]] ||
      die "KIND_CHAOS_APISERVER_BIN=$KIND_CHAOS_APISERVER_BIN is not an executable file"
    echo "$KIND_CHAOS_APISERVER_BIN"
    return
  fi
  local cargo=${CARGO:-cargo} out bin
  command -v "$cargo" >/dev/null 2>&1 ||
    die "cargo is needed to build the fake API server (or set KIND_CHAOS_APISERVER_BIN)"
  log "building the fake API server (cargo build -p fake-apiserver --bin serve)"
  out=$(cd "$ROOT" && "$cargo" build -q -p fake-apiserver --bin serve 2>&1) || {
    echo "$out" >&2
    die "cargo build of the fake API server failed"
  }
  bin=${CARGO_TARGET_DIR:-$ROOT/target}/debug/serve
  [[ $bin == /* ]] || bin=$ROOT/$bin
  [[ -x $bin ]] || die "cargo built the fake API server but $bin is missing"
  echo "$bin"
}

# Copy BIN into the control plane as $APISERVER_IN_NODE (its entrypoint runs it
# and restarts it when it exits). A different binary replaces a running one.
install_apiserver() { # CONTROL_PLANE BIN
  local cp=$1 bin=$2 want have pid out running
  docker exec "$cp" grep -q '^run_apiserver()' /usr/local/bin/kind-chaos-entrypoint ||
    die "$cp runs a node image from before --api existed; '$PROG down ${cp%-control-plane}' and 'up' again"
  want=$(sha256sum "$bin" | cut -c1-64)
  have=$(docker exec "$cp" sh -c "sha256sum $APISERVER_IN_NODE 2>/dev/null | cut -c1-64" || true)
  [[ $want == "$have" ]] && return 0
  running=$(docker exec "$cp" sh -c 'pidof kube-apiserver || true')
  docker cp "$bin" "$cp:$APISERVER_IN_NODE.new" >/dev/null ||
    die "could not copy the fake API server into $cp"
  docker exec "$cp" sh -c "chmod 0755 $APISERVER_IN_NODE.new && mv -f $APISERVER_IN_NODE.new $APISERVER_IN_NODE" ||
    die "could not install the fake API server in $cp"
  # A glibc binary from this host runs in the node when both are the same
  # Debian release; say so plainly when it does not.
  if ! out=$(docker exec "$cp" "$APISERVER_IN_NODE" --help 2>&1 >/dev/null); then
    die "the fake API server does not run inside $cp (built on a newer system than the node's $SUITE?): $out"
  fi
  # An older binary was running: stop it, and the entrypoint starts the new one.
  for pid in $running; do
    docker exec "$cp" kill "$pid" 2>/dev/null || true
  done
}

kubeconfig_path() { echo "$STATE_DIR/$1/kubeconfig"; }

# kind's rewrite of admin.conf (kind get kubeconfig): every name kind-NAME,
# the server at the port Docker publishes for 6443. Prints the file's path.
write_kubeconfig() { # NAME
  local name=$1 cp=$1-control-plane port conf file tmp
  port=$(docker port "$cp" 6443/tcp 2>/dev/null | head -n1)
  port=${port##*:}
  [[ $port =~ ^[0-9]+$ ]] || die "$cp publishes no port for 6443"
  conf=$(docker exec "$cp" cat /etc/kubernetes/admin.conf 2>/dev/null) || return 1
  file=$(kubeconfig_path "$name")
  mkdir -p "${file%/*}"
  chmod 700 "${file%/*}"
  tmp=$file.tmp.$$
  (
    umask 077
    printf '%s\n' "$conf" | sed \
      -e "s#^    server: .*#    server: https://127.0.0.1:$port#" \
      -e "s#^  name: $name\$#  name: kind-$name#" \
      -e "s#^    cluster: $name\$#    cluster: kind-$name#" \
      -e "s#^    user: kubernetes-admin\$#    user: kind-$name#" \
      -e "s#^  name: kubernetes-admin@$name\$#  name: kind-$name#" \
      -e "s#^current-context: .*#current-context: kind-$name#" \
      -e "s#^- name: kubernetes-admin\$#- name: kind-$name#" >"$tmp"
  )
  if ! grep -q "server: https://127.0.0.1:$port\$" "$tmp"; then
    rm -f "$tmp"
    die "admin.conf of $cp does not have the expected layout"
  fi
  mv -f "$tmp" "$file"
  echo "$file"
}

# Wait until the API server in the control plane answers /readyz with the
# admin credentials; prints the kubeconfig path.
wait_for_api() { # NAME
  local name=$1 i file
  for ((i = 0; i < 120; i++)); do
    if file=$(write_kubeconfig "$name" 2>/dev/null) &&
      "$KUBECTL" --kubeconfig "$file" get --raw /readyz >/dev/null 2>&1; then
      echo "$file"
      return 0
    fi
    sleep 0.5
  done
  docker exec "$name-control-plane" tail -n 20 /var/log/kube-apiserver.log >&2 || true
  die "the API server in $name-control-plane did not become ready within 60s (log above)"
}

# The stand-in kubelet binary: KIND_CHAOS_KUBELET_BIN, else built with cargo.
# The crictl stand-in of crates/kubelet (kind's nodes have crictl; Debian bookworm has none):
# KIND_CHAOS_CRICTL_BIN, else next to the kubelet binary, else built with cargo.
crictl_bin() { # KUBELET_BIN
  local bin=${KIND_CHAOS_CRICTL_BIN:-$(dirname "$1")/crictl} out cargo=${CARGO:-cargo}
  if [[ ! -x $bin ]]; then
    [[ -z ${KIND_CHAOS_CRICTL_BIN:-} ]] || die "KIND_CHAOS_CRICTL_BIN=$bin is not an executable file"
    log "building crictl (cargo build -p kubelet --bin crictl)"
    out=$(cd "$ROOT" && "$cargo" build -q -p kubelet --bin crictl 2>&1) || {
      echo "$out" >&2
      die "cargo build of crictl failed"
    }
    bin=${CARGO_TARGET_DIR:-$ROOT/target}/debug/crictl
    [[ $bin == /* ]] || bin=$ROOT/$bin
  fi
  [[ -x $bin ]] || die "no crictl at $bin"
  echo "$bin"
}

kubelet_bin() {
  if [[ -n ${KIND_CHAOS_KUBELET_BIN:-} ]]; then
    [[ -f $KIND_CHAOS_KUBELET_BIN && -x $KIND_CHAOS_KUBELET_BIN ]] ||
      die "KIND_CHAOS_KUBELET_BIN=$KIND_CHAOS_KUBELET_BIN is not an executable file"
    echo "$KIND_CHAOS_KUBELET_BIN"
    return
  fi
  local cargo=${CARGO:-cargo} out bin
  command -v "$cargo" >/dev/null 2>&1 ||
    die "cargo is needed to build the kubelet (or set KIND_CHAOS_KUBELET_BIN)"
  log "building the kubelet (cargo build -p kubelet --bin kubelet)"
  out=$(cd "$ROOT" && "$cargo" build -q -p kubelet --bin kubelet 2>&1) || {
    echo "$out" >&2
    die "cargo build of the kubelet failed"
  }
  bin=${CARGO_TARGET_DIR:-$ROOT/target}/debug/kubelet
  [[ $bin == /* ]] || bin=$ROOT/$bin
  [[ -x $bin ]] || die "cargo built the kubelet but $bin is missing"
  echo "$bin"
}

# The node's kubelet flags, as kubeadm and kind-config.yaml give them: the
# control plane's role label (and its NoSchedule taint only when there are
# workers, as kind does), worker 1 labelled mock-server=true, worker 2 tainted
# playground_test.
kubelet_flags() { # ROLE INDEX WORKERS
  local role=$1 index=$2 workers=$3 flags=
  if [[ $role == control-plane ]]; then
    flags='--node-labels=node-role.kubernetes.io/control-plane=,node.kubernetes.io/exclude-from-external-load-balancers='
    ((workers > 0)) && flags+=' --register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule'
  elif ((index == 1)); then
    flags='--node-labels=mock-server=true'
  elif ((index == 2)); then
    flags='--register-with-taints=playground_test=ensure_only_tolerations_run_here:NoSchedule'
  fi
  echo "$flags"
}

# Give NODE its kubelet as kubeadm join does in kind: /etc/kubernetes/kubelet.conf
# (a client certificate for system:node:NODE in group system:nodes, issued by
# the API server in the control plane with the cluster CA), the flags in
# /var/lib/kubelet/kubeadm-flags.env, and BIN as /usr/bin/kubelet. The node's
# restart loop then runs it (the sleep stand-in it ran before is stopped).
install_kubelet() { # CLUSTER NODE BIN FLAGS
  local name=$1 node=$2 bin=$3 flags=$4 work conf out pid
  docker exec "$node" grep -q kubeadm-flags.env /usr/local/bin/unit-restarter ||
    die "$node runs a node image from before the kubelet was installed; '$PROG down $name' and 'up' again"
  new_tmp_dir work kubelet
  conf=$work/kubelet.conf
  docker exec "$name-control-plane" "$APISERVER_IN_NODE" issue-kubeconfig --cluster "$name" \
    --cn "system:node:$node" --org system:nodes >"$conf" ||
    die "could not issue the kubelet credentials of $node"
  printf 'KUBELET_KUBEADM_ARGS="%s"\n' "$flags" >"$work/kubeadm-flags.env"
  docker exec "$node" mkdir -p /etc/kubernetes /var/lib/kubelet || die "mkdir in $node failed"
  docker cp "$conf" "$node:/etc/kubernetes/kubelet.conf" >/dev/null &&
    docker exec "$node" chmod 0600 /etc/kubernetes/kubelet.conf &&
    docker cp "$work/kubeadm-flags.env" "$node:/var/lib/kubelet/kubeadm-flags.env" >/dev/null ||
    die "could not write the kubelet's configuration into $node"
  docker cp "$bin" "$node:/usr/bin/kubelet.new" >/dev/null ||
    die "could not copy the kubelet into $node"
  # A glibc binary from this host runs in the node when both are the same
  # Debian release (it needs glibc 2.34); say so plainly when it does not.
  if ! out=$(docker exec "$node" /usr/bin/kubelet.new --help 2>&1 >/dev/null); then
    die "the kubelet does not run inside $node (built on a newer system than the node's $SUITE?): $out"
  fi
  docker exec "$node" sh -c 'chmod 0755 /usr/bin/kubelet.new && mv -f /usr/bin/kubelet.new /usr/bin/kubelet' ||
    die "could not install the kubelet in $node"
  docker cp "$CRICTL_BIN" "$node:/usr/local/bin/crictl" >/dev/null &&
    docker exec "$node" chmod 0755 /usr/local/bin/crictl ||
    die "could not install crictl in $node"
  # Whatever runs now (the sleep stand-in, or an older kubelet) gives way: the
  # loop starts the new binary with the flags 1 s later.
  pid=$(docker exec "$node" sh -c 'cat /run/kind-chaos/kubelet.pid 2>/dev/null' || true)
  if [[ $pid =~ ^[0-9]+$ ]]; then
    docker exec "$node" kill "$pid" 2>/dev/null || true
  fi
}

# Wait until every node is registered and Ready (posted by its kubelet).
wait_for_nodes() { # KUBECONFIG NODE...
  local kc=$1 i node ready missing
  shift
  for ((i = 0; i < 120; i++)); do
    missing=
    for node in "$@"; do
      ready=$("$KUBECTL" --kubeconfig "$kc" get node "$node" \
        -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
      [[ $ready == True ]] || missing+=" $node"
    done
    [[ -z $missing ]] && return 0
    sleep 0.5
  done
  for node in $missing; do
    log "$node: tail of /var/log/kubelet.log:"
    docker exec "$node" tail -n 15 /var/log/kubelet.log >&2 || true
  done
  die "nodes not Ready within 60s:$missing"
}

# Start the API server in the control plane, then a kubelet in every node;
# the kubelets register the nodes (there is no other registration).
start_api() { # NAME WORKERS NODE...
  local name=$1 workers=$2 bin kbin kc i node role
  shift 2
  bin=$(apiserver_bin)
  kbin=$(kubelet_bin)
  check_etcd_in_node "$name-control-plane"
  CRICTL_BIN=$(crictl_bin "$kbin")
  install_apiserver "$name-control-plane" "$bin"
  kc=$(wait_for_api "$name")
  i=0
  for node in "$@"; do
    role=worker
    [[ $node == "$name-control-plane" ]] && role=control-plane
    install_kubelet "$name" "$node" "$kbin" "$(kubelet_flags "$role" "$i" "$workers")"
    i=$((i + 1))
  done
  wait_for_nodes "$kc" "$@"
}

cmd_up() {
  local name='' workers=2 api=''
  while (($#)); do
    case $1 in
    --workers) (($# >= 2)) || usage_error "--workers needs a number"; workers=$2; shift ;;
    --workers=*) workers=${1#*=} ;;
    --api) api=1 WITH_API=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage_error "up: unknown option '$1'" ;;
    *) [[ -z $name ]] || usage_error "up: unexpected argument '$1'"; name=$1 ;;
    esac
    shift
  done
  [[ -n $name ]] || usage_error "up: missing cluster NAME"
  check_name "$name"
  if ! [[ $workers =~ ^[0-9]+$ ]] || ((workers > 50)); then
    usage_error "--workers must be 0..50, not '$workers'"
  fi

  local t0=$SECONDS
  [[ -z $api ]] || need_kubectl
  ensure_images
  ensure_network

  local nodes=("$name-control-plane") roles=(control-plane) i
  for ((i = 1; i <= workers; i++)); do
    if ((i == 1)); then nodes+=("$name-worker"); else nodes+=("$name-worker$i"); fi
    roles+=(worker)
  done

  local work tar
  new_tmp_dir work up
  tar=$work/pause.tar
  docker save "$PAUSE_IMAGE" -o "$tar" || die "docker save $PAUSE_IMAGE failed"

  local pids=() failed=
  for i in "${!nodes[@]}"; do
    bring_up_node "$name" "${nodes[$i]}" "${roles[$i]}" "$tar" >"$work/$i.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      failed=1
      log "node ${nodes[$i]}:"
      sed 's/^/    /' "$work/$i.log" >&2
    fi
  done
  [[ -z $failed ]] || die "cluster $name is not fully up (see above; '$PROG down $name' cleans up)"
  local img
  img=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE")
  for i in "${!nodes[@]}"; do
    if [[ $(docker container inspect -f '{{.Image}}' "${nodes[$i]}") != "$img" ]]; then
      log "warning: ${nodes[$i]} runs an older $NODE_IMAGE; '$PROG down $name' and 'up' again to use the new one"
    fi
  done
  if [[ -n $api ]]; then
    start_api "$name" "$workers" "${nodes[@]}"
    log "API server of $name ready; kubeconfig: $(kubeconfig_path "$name")"
  fi
  log "cluster $name up in $((SECONDS - t0))s"
  printf '%s\n' "${nodes[@]}"
}

cmd_kubeconfig() {
  (($# == 1)) || usage_error "kubeconfig: expected exactly one cluster NAME"
  local name=$1 cp
  check_name "$name"
  ensure_docker
  cp=$name-control-plane
  [[ $(container_label "$cp" "$L_CLUSTER") == "$name" ]] || die "no cluster $name"
  [[ $(container_state "$cp") == running ]] || die "$cp is not running"
  docker exec "$cp" test -s /etc/kubernetes/admin.conf ||
    die "$cp has no /etc/kubernetes/admin.conf: start the cluster with '$PROG up $name --api'"
  write_kubeconfig "$name"
}

cmd_down() {
  (($# == 1)) || usage_error "down: expected exactly one cluster NAME"
  local name=$1 ids others
  check_name "$name"
  ensure_docker
  ids=$(docker ps -aq --filter "label=$L_CLUSTER=$name" --filter "label=$OWNER=node")
  others=$(docker ps -a --filter "label=$L_CLUSTER=$name" --format '{{.Names}} {{.Label "'"$OWNER"'"}}' |
    awk '$2 != "node" { print $1 }')
  [[ -z $others ]] || log "leaving containers not made by $PROG: $others"
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null || die "could not remove the nodes of $name"
    log "removed cluster $name"
  else
    log "no cluster $name"
  fi
  rm -rf "${STATE_DIR:?}/$name"
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    if [[ -n $(docker ps -aq --filter "network=$NETWORK") ]]; then
      log "keeping network $NETWORK: other containers use it"
    elif [[ $(docker network inspect -f "{{index .Labels \"$OWNER\"}}" "$NETWORK") != network ]]; then
      log "keeping network $NETWORK: not created by $PROG"
    else
      docker network rm "$NETWORK" >/dev/null 2>&1 || log "could not remove network $NETWORK"
    fi
  fi
}

cmd_ls() {
  (($# == 1)) || usage_error "ls: expected exactly one cluster NAME"
  check_name "$1"
  ensure_docker
  local n
  for n in $(cluster_nodes "$1"); do
    docker container inspect -f \
      "{{.Name}}	{{index .Config.Labels \"$L_ROLE\"}}	{{.State.Status}}	{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}" \
      "$n" | sed 's:^/::'
  done
}

# NODE may be a container name or the part after "NAME-".
resolve_node() { # CLUSTER NODE
  local c
  for c in "$2" "$1-$2"; do
    if [[ $(container_label "$c" "$L_CLUSTER") == "$1" ]]; then
      [[ $(container_state "$c") == running ]] || die "node $c is not running"
      echo "$c"
      return
    fi
  done
  die "no node '$2' in cluster $1 (nodes: $(cluster_nodes "$1" | paste -sd " " -))"
}

cmd_pod() {
  (($# == 4 || $# == 5)) || usage_error "pod: expected NAME NODE NAMESPACE PODNAME [UID]"
  local name=$1 node ns=$3 pod=$4 uid=${5:-} id
  check_name "$name"
  ensure_docker
  node=$(resolve_node "$name" "$2")
  [[ -n $uid ]] || uid=$(cat /proc/sys/kernel/random/uuid)
  id=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  [[ $id =~ ^[0-9a-f]{64}$ ]] || die "could not make a sandbox id"
  docker exec "$node" sh -c '
    id=$1 ref=$2 ns=$3 pod=$4 uid=$5
    exec ctr -n k8s.io run -d \
      --snapshotter "$(cat /run/kind-chaos/snapshotter)" \
      --label "io.kubernetes.pod.name=$pod" \
      --label "io.kubernetes.pod.namespace=$ns" \
      --label "io.kubernetes.pod.uid=$uid" \
      --label "io.cri-containerd.kind=sandbox" \
      --annotation "io.kubernetes.cri.container-type=sandbox" \
      --annotation "io.kubernetes.cri.sandbox-id=$id" \
      --annotation "io.kubernetes.cri.sandbox-name=$pod" \
      --annotation "io.kubernetes.cri.sandbox-namespace=$ns" \
      --annotation "io.kubernetes.cri.sandbox-uid=$uid" \
      "$ref" "$id" /bin/sleep infinity
  ' sh "$id" "$PAUSE_REF" "$ns" "$pod" "$uid" >&2 ||
    die "could not start sandbox for $ns/$pod in $node"
  echo "$id"
}

cmd_unpod() {
  (($# == 3)) || usage_error "unpod: expected NAME NODE SANDBOX_ID"
  local name=$1 node id=$3
  check_name "$name"
  [[ $id =~ ^[0-9a-f]{64}$ ]] || usage_error "unpod: '$id' is not a 64-hex sandbox id"
  ensure_docker
  node=$(resolve_node "$name" "$2")
  docker exec "$node" sh -c '
    id=$1
    ctr -n k8s.io containers info "$id" >/dev/null 2>&1 || { echo "no sandbox $id" >&2; exit 1; }
    ctr -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    ctr -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    exec ctr -n k8s.io containers delete "$id"
  ' sh "$id" >&2 || die "could not remove sandbox $id from $node"
}

main() {
  (($#)) || {
    usage >&2
    exit 2
  }
  local cmd=$1
  shift
  case $cmd in
  image) cmd_image "$@" ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  kubeconfig) cmd_kubeconfig "$@" ;;
  ls) cmd_ls "$@" ;;
  pod) cmd_pod "$@" ;;
  unpod) cmd_unpod "$@" ;;
  -h | --help | help) usage ;;
  *) usage_error "unknown command '$cmd'" ;;
  esac
}

main "$@"
