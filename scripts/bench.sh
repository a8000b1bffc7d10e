#!/usr/bin/env bash
# shellcheck disable=SC2016 # $ and backquotes in single quotes are meant literally
# Benchmarks of kind-chaos against the ways people do the same things today, measured in the
# same run on this machine. Prints a table and writes BENCHMARKS.md (the part of it below the
# KEEP line is hand-written notes and is kept). Not part of scripts/test.sh.
#
#   scripts/bench.sh [--only nodes,etcd,wait,startup] [--runs N] [--out FILE] [--no-build]
#
# What it starts (a kind-like test cluster "chaos-bench", or $BENCH_CLUSTER: no test uses that
# name; an etcd on loopback with TLS; temp folders) it removes on exit, also on failure and
# Ctrl-C. Nodes: N = 1 2 5 13 20 50 ($BENCH_NODES), 10 pod sandboxes each.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=${0##*/}
# CHAOS_BIN and TESTCLUSTER may point elsewhere, to measure a change side by side.
# BENCH_PROFILE=debug measures the debug build (only where a release build cannot be had: the
# report says so).
PROFILE=${BENCH_PROFILE:-release}
[[ $PROFILE == release || $PROFILE == debug ]] || { echo "BENCH_PROFILE must be release or debug" >&2; exit 1; }
CHAOS=${CHAOS_BIN:-$ROOT/target/$PROFILE/chaos}
BENCH=$ROOT/target/$PROFILE/chaos-bench
TESTCLUSTER=${TESTCLUSTER:-$ROOT/scripts/testcluster.sh}
CLUSTER=${BENCH_CLUSTER:-chaos-bench} # another name where several people share one Docker
KEEP_LINE='<!-- bench.sh: everything below this line is kept when BENCHMARKS.md is rewritten -->'

ONLY=nodes,etcd,wait,startup
RUNS=${BENCH_RUNS:-7}
OUT=$ROOT/BENCHMARKS.md
NO_BUILD=''
NODE_COUNTS=(${BENCH_NODES:-1 2 5 13 20 50})
PODS_PER_NODE=10
ETCD_KEYS=100000
DEL_KEYS=10000
VALUE_SIZE=512

usage() { sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; }
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}

while (($#)); do
  case $1 in
  --only) ONLY=$2; shift ;;
  --only=*) ONLY=${1#*=} ;;
  --runs) RUNS=$2; shift ;;
  --runs=*) RUNS=${1#*=} ;;
  --out) OUT=$2; shift ;;
  --out=*) OUT=${1#*=} ;;
  --no-build) NO_BUILD=1 ;;
  -h | --help) usage; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 3)); then die "--runs must be a number >= 3"; fi
want() { [[ ,$ONLY, == *,$1,* ]]; }

# ---------------------------------------------------------------------------
# cleanup: everything this script starts is undone on any exit
# ---------------------------------------------------------------------------
WORK=''
ETCD_PID=''
CLUSTER_UP=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $ETCD_PID ]]; then
    kill "$ETCD_PID" 2>/dev/null || true
    wait "$ETCD_PID" 2>/dev/null || true
  fi
  if [[ -n $CLUSTER_UP ]]; then
    "$TESTCLUSTER" down "$CLUSTER" >/dev/null 2>&1 || log "could not remove test cluster $CLUSTER"
  fi
  if [[ -n $WORK && -d $WORK ]]; then
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# prerequisites and build
# ---------------------------------------------------------------------------
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[[ -x /usr/bin/time ]] || need+=(time)
command -v jq >/dev/null || need+=(jq)
command -v openssl >/dev/null || need+=(openssl)
if want etcd; then
  command -v etcd >/dev/null || need+=(etcd-server)
  command -v etcdctl >/dev/null || need+=(etcd-client)
fi
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -qq -y --no-install-recommends install "${need[@]}" >&2
fi

cd "$ROOT"
if [[ -z $NO_BUILD ]]; then
  log "building chaos and chaos-bench ($PROFILE)"
  release=()
  [[ $PROFILE == release ]] && release=(--release)
  cargo build "${release[@]}" --locked --quiet --bin chaos
  cargo build "${release[@]}" --locked --quiet -p kind-chaos-bench
fi
[[ -x $CHAOS && -x $BENCH ]] || die "no $PROFILE build of chaos and chaos-bench (run without --no-build)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kind-chaos-bench.XXXXXX")
export CHAOS_STATE_DIR=$WORK/state # journals, locks and etcd backups of this run only
export CI=true                     # plain output
unset KUBECONFIG

# Results: one tab-separated line per measurement (section, what, median s, comparison) and
# per goal (goal, met/MISSED, measured).
RESULTS=$WORK/results
GOALS=$WORK/goals
COMMANDS=$WORK/commands
BEFORE_AFTER=$WORK/before-after
: >"$RESULTS"
: >"$GOALS"
: >"$COMMANDS"
: >"$BEFORE_AFTER"

# "Before": the medians of the last full run before issue 21 (BENCHMARKS.md of 2026-11-23,
# chaos at 461e9ab, same machine kind: 2 cores), in ms, by what is measured.
declare -A BEFORE=(
  [startup-version]=2.4 [startup-validate]=8.1
  [reality-1]=81.3 [reality-5]=149.5 [reality-20]=653.9
  [shell-1]=88.8 [shell-5]=384.0 [shell-20]=1745.3
  [etcd-count]=88.3 [etcd-stream]=592.7 [etcd-del]=323.2 [etcd-del-etcdctl]=88.6 [etcd-del-getdel]=250.7
  [wait]=1.1
  # N=2 and N=13: the release run of the nodes section of 2026-12-02 (chaos at c42d980, quiet
  # machine), before the node's processes came from its cgroup and its tasks from the bundles.
  [reality-2]=34.9 [reality-13]=102.8 [shell-2]=145.7 [shell-13]=907.3
)
# before_after KEY WHAT NOW_SECONDS: a row of the before/after table, if there is a "before".
before_after() {
  [[ -n ${BEFORE[$1]:-} ]] || return 0
  printf '%s\t%s\t%s\n' "$2" "${BEFORE[$1]}" "$3" >>"$BEFORE_AFTER"
}

# hyperfine_median JSON INDEX -> median seconds of that command
median_of() { jq -r ".results[$2].median" "$1"; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# vs CHAOS_S BASELINE_S NAME -> "3.10x faster than NAME" or "1.20x slower than NAME"
vs() {
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
    if (a <= 0 || b <= 0) print "n/a"
    else if (a <= b) printf "%.2fx faster than %s\n", b / a, n
    else printf "%.2fx slower than %s\n", a / b, n }'
}
# result SECTION WHAT MEDIAN_SECONDS COMPARISON
result() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }
# goal TEXT OK(0/1) MEASURED
goal() {
  local verdict=MISSED
  [[ $2 == 1 ]] && verdict=met
  printf '%s\t%s\t%s\n' "$1" "$verdict" "$3" >>"$GOALS"
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }
cmdlog() { printf '%s\n' "$*" >>"$COMMANDS"; }

# ---------------------------------------------------------------------------
# 5. startup (first: nothing else running yet)
# ---------------------------------------------------------------------------
bench_startup() {
  log "startup: chaos --version, chaos validate playbooks/*.yaml"
  local pbs=(playbooks/*.yaml) json=$WORK/startup.json rc=0
  "$CHAOS" validate "${pbs[@]}" >/dev/null 2>&1 || rc=$?
  ((rc == 0)) || log "warning: chaos validate of the playbooks exits $rc (timed anyway)"
  hyperfine -N --warmup 5 --runs $((RUNS * 5)) -i --export-json "$json" \
    -n 'chaos --version' "$CHAOS --version" \
    -n "chaos validate (${#pbs[@]} playbooks)" "$CHAOS validate ${pbs[*]}" \
    -n 'etcdctl version (baseline: a Go CLI)' 'etcdctl version' >/dev/null
  cmdlog "hyperfine -N --warmup 5 --runs $((RUNS * 5)) 'chaos --version' 'chaos validate playbooks/*.yaml' 'etcdctl version'"
  local v va e
  v=$(median_of "$json" 0)
  va=$(median_of "$json" 1)
  e=$(median_of "$json" 2)
  result "startup" "chaos --version" "$v" "$(vs "$v" "$e" "etcdctl version")"
  result "startup" "chaos validate ${#pbs[@]} playbooks (exit $rc)" "$va" "$(vs "$va" "$e" "etcdctl version")"
  result "startup" "baseline: etcdctl version" "$e" ""
  before_after startup-version "chaos --version" "$v"
  before_after startup-validate "chaos validate of the playbooks" "$va"
}

# ---------------------------------------------------------------------------
# 1. node reality
# ---------------------------------------------------------------------------
node_names() { # N -> the node container names of a cluster of N nodes
  local n=$1 i
  echo "$CLUSTER-control-plane"
  for ((i = 1; i < n; i++)); do
    if ((i == 1)); then echo "$CLUSTER-worker"; else echo "$CLUSTER-worker$i"; fi
  done
}

add_pods() { # NODE...: 10 pod sandboxes on each (nodes in parallel, 4 at a time); half of
  # them as the CRI makes them (its annotations in the OCI spec), half with only the CRI's
  # labels (their pod is known to containerd's metadata alone, as on a held-out cluster)
  printf '%s\n' "$@" | xargs -P 4 -I{} bash -c '
    for i in $(seq 1 "$2"); do
      if ((i % 2)); then
        "$1" pod "$3" "{}" bench "{}-pod-$i" >/dev/null || exit 1
      else
        docker exec "{}" sh -c "exec ctr -n k8s.io run -d --snapshotter \"\$(cat /run/kind-chaos/snapshotter)\" \
          --label io.kubernetes.pod.name=\$2 --label io.kubernetes.pod.namespace=bench \
          --label io.kubernetes.pod.uid=uid-\$2 --label io.cri-containerd.kind=sandbox \
          docker.io/library/kind-chaos-pause:test \$1 /bin/sleep infinity" \
          sh "$(od -An -tx1 -N32 /dev/urandom | tr -d " \n")" "{}-pod-$i" >/dev/null || exit 1
      fi
    done' _ "$TESTCLUSTER" "$PODS_PER_NODE" "$CLUSTER"
}

bench_nodes() {
  log "node reality: test cluster $CLUSTER with ${NODE_COUNTS[*]} nodes, $PODS_PER_NODE pod sandboxes each"
  "$TESTCLUSTER" down "$CLUSTER" >/dev/null 2>&1 || true # a leftover of a killed run
  CLUSTER_UP=1
  local have=0 n json nodes=() seeds=$WORK/seeds.sh c1=''
  for n in "${NODE_COUNTS[@]}"; do
    "$TESTCLUSTER" up "$CLUSTER" --workers $((n - 1)) >/dev/null
    mapfile -t nodes < <(node_names "$n")
    add_pods "${nodes[@]:have}"
    have=$n
    # The seeds' way: each node in turn.
    {
      echo '#!/usr/bin/env bash'
      echo 'set -o pipefail'
      printf 'for n in %s; do\n' "${nodes[*]}"
      echo '  docker exec "$n" ps aux | grep containerd-shim | wc -l'
      echo 'done'
    } >"$seeds"
    chmod +x "$seeds"
    # Check both see every shim before timing them.
    local shims seen
    shims=$("$CHAOS" reality --cluster "$CLUSTER" --output json 2>/dev/null | jq '[.nodes[].shims | length] | add')
    seen=$("$seeds" | awk '{ s += $1 } END { print s }')
    [[ $shims == $((n * PODS_PER_NODE)) && $seen == $((n * PODS_PER_NODE)) ]] ||
      die "expected $((n * PODS_PER_NODE)) shims on $n nodes; chaos reality saw $shims, the shell pipeline $seen"
    json=$WORK/nodes-$n.json
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$json" \
      -n "chaos reality N=$n" "$CHAOS reality --cluster $CLUSTER --output json" \
      -n "seeds N=$n" "$seeds" \
      -n "chaos reality, exec path N=$n" "env KIND_CHAOS_REALITY=exec $CHAOS reality --cluster $CLUSTER --output json" \
      >/dev/null
    local c s x sources
    c=$(median_of "$json" 0)
    s=$(median_of "$json" 1)
    x=$(median_of "$json" 2)
    [[ -n $c1 ]] || c1=$c
    # Same reality both ways (the node reads, without how they were read).
    local same='del(.nodes[].source) | .nodes'
    # Compared twice at most: a difference is printed (< default, > exec), and one that does not
    # come back a second later (a process starting or ending between the two reads) is noted.
    local try
    for try in 1 2; do
      "$CHAOS" reality --cluster "$CLUSTER" --output json 2>/dev/null | jq -S "$same" >"$WORK/default.json"
      KIND_CHAOS_REALITY=exec "$CHAOS" reality --cluster "$CLUSTER" --output json 2>/dev/null | jq -S "$same" >"$WORK/exec.json"
      diff "$WORK/default.json" "$WORK/exec.json" >&2 && break
      ((try == 1)) || die "N=$n: chaos reality differs between its default path and the exec path (above)"
      log "N=$n: chaos reality differed between its default path and the exec path (above); reading again"
      result "nodes" "N=$n: note: the default and exec paths differed once, then agreed (diff in the run's log)" 0 ""
      sleep 1
    done
    # How chaos read the nodes by default (containerd-socket where it runs as root next to Docker).
    sources=$("$CHAOS" reality --cluster "$CLUSTER" --output json 2>/dev/null | jq -r '[.nodes[].source] | unique | join(",")')
    result "nodes" "N=$n: chaos reality --output json (read via: $sources)" "$c" "$(vs "$c" "$s" "the shell"); $(ratio "$c" "$c1")x chaos at N=1"
    result "nodes" "N=$n: chaos reality --output json, exec path forced (KIND_CHAOS_REALITY=exec)" "$x" "$(vs "$c" "$x" "the exec path")"
    result "nodes" "N=$n: seeds' way, for each node in turn: docker exec NODE ps aux | grep containerd-shim | wc -l" "$s" ""
    # Where chaos's time goes (in-process, same Docker client): the floor of one exec per node.
    local floor
    floor=$("$BENCH" node-floor --cluster "$CLUSTER" --runs "$RUNS")
    result "nodes" "N=$n: profile: one \`true\` exec in every node at once / the node snapshot, in-process" \
      "$(jq -r '.exec_true_ms / 1000' <<<"$floor")" "snapshot $(jq -r .snapshot_ms <<<"$floor") ms"
    eval "C_$n=$c S_$n=$s"
    before_after "reality-$n" "chaos reality --output json, N=$n" "$c"
    before_after "shell-$n" "baseline: the seeds' sequential shell, N=$n" "$s"
    if ((n == 13)); then
      # The timeline samples every node once a second for a whole run: its cost is CPU per
      # second of wall time (this process, dockerd, containerd, the node containers), not
      # latency.
      local cost
      cost=$("$BENCH" sample-cost --cluster "$CLUSTER" --interval 1 --duration 40 --rounds 8)
      result "nodes" "N=13: sampling node reality once a second for 40 s: CPU time per second of wall time, less the same processes' in 40 s without sampling, the two alternating in 8 rounds of 5 s; the node containers' share from their cgroups' CPU accounting (chaos $(jq -r .cpu_percent_of_one_core.chaos <<<"$cost")%, dockerd $(jq -r .cpu_percent_of_one_core.dockerd <<<"$cost")%, host containerd $(jq -r .cpu_percent_of_one_core.containerd <<<"$cost")%, Docker's shims of the nodes $(jq -r .cpu_percent_of_one_core.shims <<<"$cost")%, in the nodes $(jq -r .cpu_percent_of_one_core.nodes <<<"$cost")%; read via $(jq -r '.sources | unique | join(",")' <<<"$cost"))" \
        "$(jq -r '.cpu_percent_of_one_core.total / 100' <<<"$cost")" "$(jq -r .samples <<<"$cost") samples"
      # The same, forgetting what the socket path keeps between reads (a connection and a full
      # listing per node and sample, as before it kept them), and through the exec path.
      local fresh viaexec
      fresh=$("$BENCH" sample-cost --cluster "$CLUSTER" --interval 1 --duration 20 --forget-kept)
      result "nodes" "N=13: the same, nothing kept between samples (as before issue 21's fix; chaos $(jq -r .cpu_percent_of_one_core.chaos <<<"$fresh")%, dockerd $(jq -r .cpu_percent_of_one_core.dockerd <<<"$fresh")%, host containerd $(jq -r .cpu_percent_of_one_core.containerd <<<"$fresh")%, Docker's shims of the nodes $(jq -r .cpu_percent_of_one_core.shims <<<"$fresh")%, in the nodes $(jq -r .cpu_percent_of_one_core.nodes <<<"$fresh")%)" \
        "$(jq -r '.cpu_percent_of_one_core.total / 100' <<<"$fresh")" "$(jq -r .samples <<<"$fresh") samples"
      viaexec=$(KIND_CHAOS_REALITY=exec "$BENCH" sample-cost --cluster "$CLUSTER" --interval 1 --duration 20)
      result "nodes" "N=13: the same through the exec path (KIND_CHAOS_REALITY=exec; chaos $(jq -r .cpu_percent_of_one_core.chaos <<<"$viaexec")%, dockerd $(jq -r .cpu_percent_of_one_core.dockerd <<<"$viaexec")%, host containerd $(jq -r .cpu_percent_of_one_core.containerd <<<"$viaexec")%, Docker's shims of the nodes $(jq -r .cpu_percent_of_one_core.shims <<<"$viaexec")%, in the nodes $(jq -r .cpu_percent_of_one_core.nodes <<<"$viaexec")%; not counted: the short-lived runc and scan processes)" \
        "$(jq -r '.cpu_percent_of_one_core.total / 100' <<<"$viaexec")" "$(jq -r .samples <<<"$viaexec") samples"
      cmdlog "chaos-bench sample-cost --cluster $CLUSTER --interval 1 --duration 20 --forget-kept"
      cmdlog "KIND_CHAOS_REALITY=exec chaos-bench sample-cost --cluster $CLUSTER --interval 1 --duration 20"
      goal "sampling node reality at N=13, 1 sample a second: at most 5% of one core (issue 21)" \
        "$(le "$(jq -r .cpu_percent_of_one_core.total <<<"$cost")" 5)" \
        "$(jq -r .cpu_percent_of_one_core.total <<<"$cost")% of one core"
      cmdlog "chaos-bench sample-cost --cluster $CLUSTER --interval 1 --duration 40 --rounds 8"
    fi
  done
  cmdlog "chaos reality --cluster $CLUSTER --output json"
  cmdlog "KIND_CHAOS_REALITY=exec chaos reality --cluster $CLUSTER --output json"
  cmdlog "for n in NODES; do docker exec \"\$n\" ps aux | grep containerd-shim | wc -l; done"
  cmdlog "chaos-bench node-floor --cluster $CLUSTER --runs $RUNS   # profile rows (the library chaos-bench was built from)"
  if [[ -n ${C_20:-} && -n ${C_1:-} ]]; then
    local limit
    limit=$(awk -v a="$C_1" 'BEGIN { print a * 1.5 }')
    goal "node reality: chaos at N=20 within 1.5x of N=1" "$(le "$C_20" "$limit")" \
      "$(ms "$C_20") ms vs $(ms "$C_1") ms = $(ratio "$C_20" "$C_1")x"
  fi
  if [[ -n ${C_13:-} && -n ${C_2:-} ]]; then
    local limit
    limit=$(awk -v a="$C_2" 'BEGIN { print a * 1.5 }')
    goal "node reality: chaos at N=13 within 1.5x of N=2 (issue 21)" "$(le "$C_13" "$limit")" \
      "$(ms "$C_13") ms vs $(ms "$C_2") ms = $(ratio "$C_13" "$C_2")x"
  fi
  if [[ -n ${C_13:-} && -n ${S_13:-} ]]; then
    local fifth
    fifth=$(awk -v s="$S_13" 'BEGIN { print s / 5 }')
    goal "node reality: chaos >= 5x faster than the sequential shell at N=13 (issue 21)" "$(le "$C_13" "$fifth")" \
      "$(ms "$C_13") ms vs $(ms "$S_13") ms = $(ratio "$S_13" "$C_13")x"
  fi
  "$TESTCLUSTER" down "$CLUSTER" >/dev/null 2>&1 || log "could not remove test cluster $CLUSTER"
  CLUSTER_UP=''
}

# ---------------------------------------------------------------------------
# 2 and 3. etcd
# ---------------------------------------------------------------------------
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

make_certs() { # DIR: ca.crt, server.{crt,key}, client.{crt,key}
  local d=$1
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-etcd-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    local who
    for who in server client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=bench-$who" \
        -keyout "$who.key" -out "$who.csr" 2>/dev/null
      openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$who.ext" -out "$who.crt" 2>/dev/null
    done
    chmod 0600 ./*.key
  )
}

bench_etcd() {
  local d=$WORK/etcd cport pport i
  mkdir -p "$d/data"
  make_certs "$d"
  cport=$(free_port)
  pport=$(free_port)
  while [[ $pport == "$cport" ]]; do pport=$(free_port); done
  local ep=https://127.0.0.1:$cport
  log "etcd: $(etcd --version | head -n1) on $ep (client-cert TLS), data in $d/data"
  etcd --name bench --data-dir "$d/data" \
    --listen-client-urls "$ep" --advertise-client-urls "$ep" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "bench=http://127.0.0.1:$pport" \
    --cert-file "$d/server.crt" --key-file "$d/server.key" \
    --client-cert-auth --trusted-ca-file "$d/ca.crt" \
    --log-level error --logger zap >"$d/etcd.log" 2>&1 &
  ETCD_PID=$!
  local tls=(--endpoints "$ep" --cacert "$d/ca.crt" --cert "$d/client.crt" --key "$d/client.key")
  local T="--endpoints $ep --cacert $d/ca.crt --cert $d/client.crt --key $d/client.key"
  for ((i = 0; i < 100; i++)); do
    ETCDCTL_API=3 etcdctl "${tls[@]}" endpoint health >/dev/null 2>&1 && break
    kill -0 "$ETCD_PID" 2>/dev/null || { cat "$d/etcd.log" >&2; die "etcd exited"; }
    sleep 0.1
  done
  export ETCDCTL_API=3
  log "etcd: loading $ETCD_KEYS keys of $VALUE_SIZE bytes under /registry/pods/"
  "$BENCH" etcd-load "${tls[@]}" --prefix /registry/pods/ --count "$ETCD_KEYS" --value-size "$VALUE_SIZE"

  # Correctness first: both count every key.
  local c e
  c=$("$CHAOS" etcd ls /registry --count "${tls[@]}")
  e=$(etcdctl "${tls[@]}" get /registry --prefix --keys-only | grep -c .)
  [[ $c == "$ETCD_KEYS" && $e == "$ETCD_KEYS" ]] || die "expected $ETCD_KEYS keys; chaos counted $c, etcdctl listed $e"

  local json=$WORK/etcd-ls.json
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" \
    -n 'chaos etcd ls /registry --count' "$CHAOS etcd ls /registry --count $T" \
    -n 'etcdctl get /registry --prefix --keys-only | wc -l' "etcdctl $T get /registry --prefix --keys-only | wc -l" \
    -n 'chaos etcd ls /registry > /dev/null' "$CHAOS etcd ls /registry $T > /dev/null" \
    -n 'etcdctl get /registry --prefix --keys-only > /dev/null' "etcdctl $T get /registry --prefix --keys-only > /dev/null" \
    >/dev/null
  cmdlog "chaos etcd ls /registry --count --endpoints EP --cacert ca.crt --cert client.crt --key client.key"
  cmdlog "etcdctl --endpoints EP --cacert ca.crt --cert client.crt --key client.key get /registry --prefix --keys-only | wc -l"
  cmdlog "chaos etcd ls /registry ... > /dev/null; etcdctl get /registry --prefix --keys-only ... > /dev/null"
  local lc le_ ls lse
  lc=$(median_of "$json" 0)
  le_=$(median_of "$json" 1)
  ls=$(median_of "$json" 2)
  lse=$(median_of "$json" 3)

  # Peak RSS (median of 3).
  rss() { # CMD... -> median max RSS in KiB
    local r=()
    for _ in 1 2 3; do
      r+=("$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n1)")
    done
    printf '%s\n' "${r[@]}" | sort -n | sed -n 2p
  }
  local rc_count rc_ls rc_e
  rc_count=$(rss "$CHAOS" etcd ls /registry --count "${tls[@]}")
  rc_ls=$(rss "$CHAOS" etcd ls /registry "${tls[@]}")
  rc_e=$(rss etcdctl "${tls[@]}" get /registry --prefix --keys-only)
  cmdlog "/usr/bin/time -f %M (peak RSS) of each, median of 3"
  local mib='BEGIN { printf "%.1f", k / 1024 }'
  result "etcd" "ls --count over $ETCD_KEYS keys: chaos" "$lc" "$(vs "$lc" "$le_" etcdctl); peak RSS $(awk -v k="$rc_count" "$mib") MiB"
  result "etcd" "ls --count: etcdctl get --prefix --keys-only | wc -l" "$le_" "peak RSS of etcdctl $(awk -v k="$rc_e" "$mib") MiB"
  result "etcd" "ls streaming $ETCD_KEYS keys to /dev/null: chaos" "$ls" "$(vs "$ls" "$lse" etcdctl); peak RSS $(awk -v k="$rc_ls" "$mib") MiB"
  result "etcd" "ls streaming: etcdctl get --prefix --keys-only > /dev/null" "$lse" ""
  before_after etcd-count "etcd ls --count over $ETCD_KEYS keys" "$lc"
  before_after etcd-stream "etcd ls streaming $ETCD_KEYS keys" "$ls"
  goal "etcd ls --count: chaos no slower than etcdctl | wc -l" "$(le "$lc" "$le_")" \
    "$(ms "$lc") ms vs $(ms "$le_") ms"
  goal "etcd ls: chaos peak RSS under 64 MiB" "$(le "$(awk -v a="$rc_count" -v b="$rc_ls" 'BEGIN { print (a > b ? a : b) }')" 65535)" \
    "--count $(awk -v k="$rc_count" "$mib") MiB, streaming $(awk -v k="$rc_ls" "$mib") MiB"

  # 3. prefix delete of 10,000 keys: chaos (backup of every value first) vs etcdctl (none).
  log "etcd: prefix delete of $DEL_KEYS keys"
  local load="$BENCH etcd-load $T --prefix /registry/bench/ --count $DEL_KEYS --value-size $VALUE_SIZE --groups 10"
  json=$WORK/etcd-del.json
  # Check both delete every key.
  eval "$load" 2>/dev/null
  "$CHAOS" etcd del /registry/bench/ --prefix "${tls[@]}" >"$WORK/del.out"
  grep -q "deleted $DEL_KEYS key" "$WORK/del.out" || die "chaos etcd del: $(cat "$WORK/del.out")"
  eval "$load" 2>/dev/null
  [[ $(etcdctl "${tls[@]}" del --prefix /registry/bench/) == "$DEL_KEYS" ]] || die "etcdctl del did not delete $DEL_KEYS keys"
  hyperfine --runs "$RUNS" --export-json "$json" \
    --prepare "rm -rf $CHAOS_STATE_DIR/backups $WORK/shell-backup.json; $load 2>/dev/null" \
    -n "chaos etcd del /registry/bench/ --prefix (backup)" "$CHAOS etcd del /registry/bench/ --prefix $T" \
    -n "etcdctl del --prefix /registry/bench/ (no backup)" "etcdctl $T del --prefix /registry/bench/" \
    -n "etcdctl get -w json > backup && etcdctl del" \
    "etcdctl $T get --prefix /registry/bench/ -w json > $WORK/shell-backup.json && etcdctl $T del --prefix /registry/bench/" \
    >/dev/null
  cmdlog "chaos etcd del /registry/bench/ --prefix --endpoints EP ... (before each run: $DEL_KEYS keys loaded with chaos-bench etcd-load)"
  cmdlog "etcdctl --endpoints EP ... del --prefix /registry/bench/"
  cmdlog "etcdctl ... get --prefix /registry/bench/ -w json > backup.json && etcdctl ... del --prefix /registry/bench/"
  local dc de dg
  dc=$(median_of "$json" 0)
  de=$(median_of "$json" 1)
  dg=$(median_of "$json" 2)
  result "etcd" "del --prefix of $DEL_KEYS keys, every value backed up: chaos" "$dc" "$(vs "$dc" "$de" "etcdctl del (no backup)"); $(vs "$dc" "$dg" "etcdctl get > file && del")"
  result "etcd" "del --prefix: etcdctl del --prefix (no backup)" "$de" ""
  result "etcd" "del --prefix: etcdctl get --prefix -w json > file && etcdctl del --prefix (unsynced backup)" "$dg" ""
  before_after etcd-del "etcd del --prefix of $DEL_KEYS keys with backup" "$dc"
  before_after etcd-del-etcdctl "baseline: etcdctl del --prefix" "$de"
  before_after etcd-del-getdel "baseline: etcdctl get -w json > file && etcdctl del" "$dg"
  local twice half
  twice=$(awk -v e="$de" 'BEGIN { print e * 2 }')
  goal "etcd del of $DEL_KEYS keys with backup within 2x of etcdctl del --prefix" "$(le "$dc" "$twice")" \
    "$(ms "$dc") ms vs $(ms "$de") ms = $(ratio "$dc" "$de")x"
  half=$(awk -v e="$dg" 'BEGIN { print e * 1.5 }')
  goal "etcd del of $DEL_KEYS keys with backup within 1.5x of etcdctl get -w json > file && del (issue 21)" "$(le "$dc" "$half")" \
    "$(ms "$dc") ms vs $(ms "$dg") ms = $(ratio "$dc" "$dg")x"

  kill "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true
  ETCD_PID=''
}

# ---------------------------------------------------------------------------
# 4. wait latency
# ---------------------------------------------------------------------------
bench_wait() {
  log "wait latency: watch-driven wait vs a 1 s polling loop (fake API server, in-process)"
  local json=$WORK/wait.json
  "$BENCH" wait-latency --samples 30 --polling-samples 20 >"$json"
  cmdlog "chaos-bench wait-latency --samples 30 --polling-samples 20"
  local w p
  w=$(jq -r '.watch.median_ms' "$json")
  p=$(jq -r '.polling.median_ms' "$json")
  result "wait" "pod turns Running -> chaos wait done (watch; n=$(jq .watch.n "$json"), p90 $(jq .watch.p90_ms "$json") ms)" "$(awk -v m="$w" 'BEGIN { print m / 1000 }')" "$(vs "$w" "$p" "polling")"
  result "wait" "baseline: check once a second (n=$(jq .polling.n "$json"), p90 $(jq .polling.p90_ms "$json") ms)" "$(awk -v m="$p" 'BEGIN { print m / 1000 }')" ""
  goal "wait latency: median under 50 ms" "$(le "$w" 50)" "$w ms (polling: $p ms)"
  before_after wait "wait latency (watch), median" "$(awk -v m="$w" 'BEGIN { print m / 1000 }')"
}

START=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
want startup && bench_startup
want nodes && bench_nodes
want etcd && bench_etcd
want wait && bench_wait

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
table() {
  echo '| benchmark | what | median | comparison |'
  echo '| --- | --- | ---: | --- |'
  local s n m d
  while IFS=$'\t' read -r s n m d; do
    printf '| %s | %s | %s ms | %s |\n' "$s" "${n//|/\\|}" "$(ms "$m")" "${d//|/\\|}"
  done <"$RESULTS"
}
before_after_table() {
  echo '| what | before (2026-11-23) | now | now / before |'
  echo '| --- | ---: | ---: | ---: |'
  local w b n
  while IFS=$'\t' read -r w b n; do
    printf '| %s | %s ms | %s ms | %s |\n' "${w//|/\\|}" "$b" "$(ms "$n")" \
      "$(awk -v b="$b" -v n="$n" 'BEGIN { if (b > 0) printf "%.2f", n * 1000 / b; else print "n/a" }')"
  done <"$BEFORE_AFTER"
}
goals() {
  echo '| goal | result | measured |'
  echo '| --- | --- | --- |'
  local g v m
  while IFS=$'\t' read -r g v m; do
    [[ $v == met ]] || v="**$v**"
    printf '| %s | %s | %s |\n' "${g//|/\\|}" "$v" "${m//|/\\|}"
  done <"$GOALS"
}

machine() {
  echo "- load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the results)"
  echo "- CPUs: $(nproc) ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
  echo "- memory: $(free -h | awk '/^Mem:/ { print $2 " total, " $7 " available" }')"
  echo "- kernel: $(uname -srm)"
  echo "- Docker: server $(docker version -f '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown)"
  echo "- etcd: $(etcd --version 2>/dev/null | head -n1 | sed 's/etcd Version: //'), etcdctl $(etcdctl version 2>/dev/null | head -n1 | sed 's/etcdctl version: //')"
  echo "- build: $PROFILE$([[ $PROFILE == release ]] || echo ' (**not** the release build: slower than what users run)')"
  echo "- hyperfine $(hyperfine --version | awk '{ print $2 }'); chaos $("$CHAOS" --version | awk '{ print $2 }') at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (with uncommitted changes in src/)')"
}

{
  echo
  goals
  echo
  table
} >&2

KEPT=''
if [[ -f $OUT ]] && grep -qxF "$KEEP_LINE" "$OUT"; then
  KEPT=$(sed -n "/^$(printf '%s' "$KEEP_LINE" | sed 's/[][\.*^$/]/\\&/g')\$/,\$p" "$OUT" | tail -n +2)
fi
{
  echo '# Benchmarks'
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) in $((SECONDS - START)) s (sections: $ONLY)."
  echo 'Medians of several runs (hyperfine; `--runs '"$RUNS"'`), each ratio against a baseline measured in the same run'
  echo 'on the same machine. Rerun with `scripts/bench.sh`; it starts and removes its own test cluster and etcd.'
  echo
  echo '## Machine'
  echo
  machine
  echo
  echo '## Goals (issues 8 and 21)'
  echo
  goals
  echo
  echo '## Results'
  echo
  table
  echo
  echo '## Before and after'
  echo
  echo 'Medians of this run against those of the last full run before issue 21 (`scripts/bench.sh` of'
  echo '2026-11-23, chaos at 461e9ab, the same kind of machine; its node counts were 1, 5, 10 and 20),'
  echo 'except N=2 and N=13: the release run of the nodes section of 2026-12-02 (chaos at c42d980, a'
  echo 'quiet machine), before the node'"'"'s processes came from its cgroup and its tasks from the task'
  echo 'bundles. Compare the baselines rows to see how much the machine differed.'
  echo
  before_after_table
  echo
  echo '## Commands'
  echo
  echo '```'
  cat "$COMMANDS"
  echo '```'
  echo
  echo "Setups: node reality on the kind-like test cluster (\`scripts/testcluster.sh up $CLUSTER --workers N-1\`),"
  echo "$PODS_PER_NODE pod sandboxes per node (real containerd-shim-runc-v2 processes): half by \`testcluster.sh pod\`"
  echo "(the CRI's labels and OCI annotations), half by \`ctr run\` with only the CRI's labels; each N is"
  echo "checked to give the same \`chaos reality\` via the default path and the exec path before it is timed."
  echo "etcd: Debian's etcd on loopback with client-certificate TLS (certificates made with openssl), data on"
  echo "disk in a temp folder, $ETCD_KEYS keys of $VALUE_SIZE bytes under /registry/pods/ (50 namespaces), loaded"
  echo "with \`chaos-bench etcd-load\`; the delete benchmark reloads $DEL_KEYS keys under /registry/bench/ before each run."
  echo 'Wait latency: `chaos-bench wait-latency` (crates/bench): the fake API server, the real kube client and'
  echo '`kind_chaos::engine::run` on a one-step plan `wait: {until: {pods: {..., phase: Running}}, interval: 1m}`;'
  echo 'the pod turns Running at a known instant 0.2-1.2 s after the wait starts; latency = step finished - that'
  echo 'instant. The baseline checks the same condition through the same client once a second.'
  echo
  echo "$KEEP_LINE"
  if [[ -n $KEPT ]]; then
    printf '%s\n' "$KEPT"
  else
    echo
    echo '## Notes (hand-written: profiles, fixes, before/after)'
  fi
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT ($((SECONDS - START)) s)"
