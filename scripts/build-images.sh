#!/usr/bin/env bash
# Builds the lab images (images/<name>/Dockerfile) as kind-chaos/<name>:<probe version>.
#
# Why a script and not plain `docker build`: the images are FROM scratch (nothing can be pulled
# on machines without a registry, and nothing needs to be), so their files come from this
# machine: the probe, built here as a static binary, Debian's static busybox, and for the
# `entrypoint-shell` image Debian's dash with the glibc it links. The script builds or finds
# those, assembles one build context in a temporary directory (binaries are never committed)
# and builds every image from it. It behaves the same with or without a registry.
#
# Progress goes to stderr; stdout gets one line per image built: `TAG IMAGE-ID SIZE`.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/build-images.sh [--out DIR]

Builds every images/<name>/Dockerfile as kind-chaos/<name>:<version of crates/probe>.

  --out DIR   assemble the build context in DIR and keep it (default: a temporary directory,
              removed afterwards); rebuild one image with
              docker build -f DIR/images/<name>/Dockerfile DIR
  -h, --help  print this text

Needs: Docker (the daemon is started if it is down and `dockerd` can be run here as root
without an init system), cargo, a static busybox (Debian's busybox-static, or BUSYBOX=path)
and dash (DASH=path to override); missing Debian packages are installed with apt-get.
EOF
}

die() {
    echo "build-images.sh: error: $*" >&2
    exit 1
}
log() { echo "build-images.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
    --out)
        [ $# -ge 2 ] || die "--out needs a directory"
        OUT=$2
        shift 2
        ;;
    --out=*)
        OUT=${1#--out=}
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "build-images.sh: unknown argument: $1" >&2
        usage >&2
        exit 2
        ;;
    esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
fi

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    log "installing $* with apt-get"
    $SUDO apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2
}

is_static() {
    # glibc's ldd says "not a dynamic executable" for static and "statically linked" for
    # static-pie binaries (and exits 1 for the former, hence no pipe under pipefail).
    local out
    out=$(ldd "$1" 2>&1 || true)
    grep -Eq 'not a dynamic executable|statically linked' <<<"$out"
}

ensure_docker() {
    command -v docker >/dev/null 2>&1 ||
        die "the docker CLI is not installed (Debian: apt-get install docker.io)"
    local err
    if err=$(docker info 2>&1 >/dev/null); then
        return 0
    fi
    # A CI or development container has no init system to start the daemon: do it here, but
    # only for the default socket, and not when a daemon is already running (but unhealthy).
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -z "${DOCKER_HOST:-}" ] && [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null 2>&1 &&
        [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] &&
        ! { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }; then
        log "the Docker daemon is not running; starting dockerd (log: /tmp/dockerd.log)"
        nohup dockerd >/tmp/dockerd.log 2>&1 &
        for _ in $(seq 60); do
            docker info >/dev/null 2>&1 && return 0
            sleep 0.5
        done
        die "dockerd did not answer within 30 s; see /tmp/dockerd.log"
    fi
    die "the Docker daemon is not reachable (is it running? e.g. sudo systemctl start docker):
$err"
}

find_busybox() {
    local bb=${BUSYBOX:-/bin/busybox}
    if [ -x "$bb" ] && is_static "$bb"; then
        echo "$bb"
        return
    fi
    [ -z "${BUSYBOX:-}" ] || die "BUSYBOX=$bb is not a statically linked executable"
    apt_install busybox-static ||
        die "need a static busybox: install Debian's busybox-static or set BUSYBOX=/path/to/it"
    is_static /bin/busybox || die "/bin/busybox is not static even after installing busybox-static"
    echo /bin/busybox
}

find_dash() {
    local dash=${DASH:-}
    if [ -z "$dash" ]; then
        dash=$(command -v dash || true)
        if [ -z "$dash" ]; then
            apt_install dash || die "need dash (the /bin/sh of entrypoint-shell); install it or set DASH"
            dash=$(command -v dash) || die "dash not found after installing it"
        fi
    fi
    [ -x "$dash" ] || die "DASH=$dash is not an executable"
    echo "$dash"
}

build_probe() {
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed (needed to build the probe)"
    local target
    target="$(uname -m)-unknown-linux-gnu"
    log "building the static probe for $target"
    # crt-static: a glibc binary with no dynamic dependencies, for FROM scratch images (no musl
    # target is needed). Its own target dir keeps the workspace's normal build untouched.
    RUSTFLAGS='-C target-feature=+crt-static' \
        CARGO_TARGET_DIR="$ROOT/target/probe-static" \
        CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo build --quiet --release -p probe --target "$target" \
        --manifest-path "$ROOT/Cargo.toml" >&2
    PROBE_BIN="$ROOT/target/probe-static/$target/release/probe"
    is_static "$PROBE_BIN" || die "$PROBE_BIN is not statically linked"
}

# Busybox applets linked into every image: enough for `echo test` (the lab's override), `ps`
# (to see who is PID 1) and a look around with `docker exec`.
APPLETS="cat echo env false kill ls ps sleep true"

assemble_context() {
    local ctx=$1 busybox=$2 dash=$3
    mkdir -p "$ctx/busybox-root/bin" "$ctx/busybox-sh/bin" "$ctx/dash-root/bin"
    cp "$PROBE_BIN" "$ctx/probe"
    cp "$busybox" "$ctx/busybox-root/bin/busybox"
    local applet
    for applet in $APPLETS; do
        ln -sf busybox "$ctx/busybox-root/bin/$applet"
    done
    # /bin/sh as busybox's ash (the alpine-like images) ...
    ln -sf busybox "$ctx/busybox-sh/bin/sh"
    # ... or as dash with its shared libraries at the paths its ELF interpreter expects.
    cp -L "$dash" "$ctx/dash-root/bin/dash"
    ln -sf dash "$ctx/dash-root/bin/sh"
    local lib
    for lib in $(ldd "$dash" 2>/dev/null | grep -o '/[^ ]*' || true); do
        cp -L --parents "$lib" "$ctx/dash-root/"
    done
    mkdir -p "$ctx/images"
    cp -r "$ROOT/images/." "$ctx/images/"
}

main() {
    ensure_docker
    local busybox dash version ctx
    busybox=$(find_busybox)
    dash=$(find_dash)
    version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/crates/probe/Cargo.toml" | head -n1)
    [ -n "$version" ] || die "cannot read the probe's version from crates/probe/Cargo.toml"
    build_probe

    if [ -n "$OUT" ]; then
        mkdir -p "$OUT"
        ctx=$(cd "$OUT" && pwd)
        rm -rf "${ctx:?}/busybox-root" "$ctx/busybox-sh" "$ctx/dash-root" "$ctx/images"
    else
        ctx=$(mktemp -d "${TMPDIR:-/tmp}/kind-chaos-images.XXXXXX")
        TMP_CTX=$ctx
        trap 'rm -rf "$TMP_CTX"' EXIT
    fi
    assemble_context "$ctx" "$busybox" "$dash"

    local dockerfile name tag id size built=0 output
    for dockerfile in "$ROOT"/images/*/Dockerfile; do
        name=$(basename "$(dirname "$dockerfile")")
        tag="kind-chaos/$name:$version"
        log "building $tag"
        if ! output=$(docker build -q -t "$tag" -f "$ctx/images/$name/Dockerfile" "$ctx" 2>&1); then
            echo "$output" >&2
            die "docker build of $tag failed"
        fi
        id=$(docker image inspect -f '{{.Id}}' "$tag")
        size=$(docker image inspect -f '{{.Size}}' "$tag")
        id=${id#sha256:}
        echo "$tag ${id:0:12} $size"
        built=$((built + 1))
    done
    [ "$built" -gt 0 ] || die "no images/*/Dockerfile found under $ROOT"
    log "built $built images (context: $([ -n "$OUT" ] && echo "$ctx" || echo "temporary, removed"))"
}

main
