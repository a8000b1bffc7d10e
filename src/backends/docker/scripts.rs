//! The fixed shell scripts run inside node containers with `sh -c SCRIPT sh ARGS...`.
//!
//! They are constants: nothing from a playbook or the command line is ever pasted into their
//! text; inputs arrive as positional parameters and are only ever expanded quoted. Each does in
//! one exec what would otherwise take many (one exec costs a Docker round trip and a process
//! start, and issue 8 benchmarks 20 nodes), and they use only what a kind node and the test
//! cluster both have: a POSIX `sh` (dash), `grep`, `sleep`, `chmod`, `kill`, `ctr`, maybe `crictl`.

/// Marks the sections of [`SCAN`]'s output. Lines of the `/proc` part all start with `/proc/`,
/// so a line starting with this cannot be confused with a process's command line.
pub const MARK: &str = "@@kind-chaos:";

/// What runs on the node, in one exec:
/// 1. every process's command line (`grep -H` prefixes each line with `/proc/PID/cmdline:`;
///    arguments are NUL-separated; this does not match itself the way `ps | grep` does);
/// 2. pods and containers from `crictl` when it works (kind's nodes); else containerd's task
///    bundles: each task's `init.pid` and its OCI spec, whose CRI annotations name the pod,
///    with `ctr containers info` (a Go process each) only for tasks without those annotations.
pub const SCAN: &str = r#"
grep -a -H -s '' /proc/[0-9]*/cmdline
if command -v crictl >/dev/null 2>&1 \
  && pods=$(crictl pods -o json 2>/dev/null) \
  && ctrs=$(crictl ps -o json 2>/dev/null); then
  echo "@@kind-chaos:crictl-pods@@"
  printf '%s\n' "$pods"
  echo "@@kind-chaos:crictl-ps@@"
  printf '%s\n' "$ctrs"
  echo "@@kind-chaos:tasks@@"
  ctr -n k8s.io tasks ls 2>/dev/null
else
  # No crictl (the Debian test nodes). containerd's task bundles say it all without a process
  # per task: each task's init.pid, and its OCI spec with the CRI's annotations. Only a task
  # whose spec has no CRI annotations costs a `ctr containers info` (a Go process).
  b=/run/containerd/io.containerd.runtime.v2.task/k8s.io
  echo "@@kind-chaos:bundles@@"
  grep -H -s '' "$b"/*/init.pid "$b"/*/config.json
  echo
  for f in $(grep -L -s -e '"io.kubernetes.cri.sandbox-name"' -e '"io.kubernetes.cri.container-name"' "$b"/*/config.json); do
    id=${f%/config.json}
    id=${id##*/}
    echo "@@kind-chaos:info@@ $id"
    ctr -n k8s.io containers info "$id" 2>/dev/null
  done
fi
echo "@@kind-chaos:end@@"
"#;

/// Lists the PIDs of processes whose name (`/proc/PID/comm`) is `$1`, one per line.
const FIND_BY_COMM: &str = r#"
find_comm() {
  for p in /proc/[0-9]*; do
    read -r c 2>/dev/null <"$p/comm" || continue
    [ "$c" = "$1" ] && echo "${p#/proc/}"
  done
}
"#;

/// `chmod -x` the kubelet, then SIGKILL every kubelet process until none is left (bounded:
/// the unit restarter may have been starting one at the moment of the chmod). Prints
/// `stopped N` with the number of processes killed.
pub fn kubelet_stop() -> String {
    format!(
        r#"{FIND_BY_COMM}
chmod -x /usr/bin/kubelet || exit 10
killed=0
i=0
while [ $i -lt 50 ]; do
  pids=$(find_comm kubelet)
  if [ -z "$pids" ]; then
    echo "stopped $killed"
    exit 0
  fi
  for p in $pids; do kill -KILL "$p" 2>/dev/null && killed=$((killed + 1)); done
  i=$((i + 1))
  sleep 0.1
done
echo "a kubelet process is still running after 5 s: $(echo $pids)" >&2
exit 1
"#
    )
}

/// `chmod +x` the kubelet, then wait (up to `$1` tenths of a second) for its restart loop to
/// start it again. Prints the kubelet PID(s); exit 1 if none came back in time.
pub fn kubelet_start() -> String {
    format!(
        r#"{FIND_BY_COMM}
chmod +x /usr/bin/kubelet || exit 10
i=0
while [ $i -lt "$1" ]; do
  pids=$(find_comm kubelet)
  if [ -n "$pids" ]; then
    echo $pids
    exit 0
  fi
  i=$((i + 1))
  sleep 0.1
done
echo "no kubelet process came back within $(($1 / 10)) s after chmod +x /usr/bin/kubelet" >&2
exit 1
"#
    )
}

/// Sends signal number `$1` to the PIDs `$2...` (the shell's `kill`, so no binary is needed).
pub const KILL: &str = r#"
sig=$1
shift
kill "-$sig" "$@"
"#;

/// Prints the containerd configuration (where kind reads the CRI snapshotter from).
pub const CONFIG_DUMP: &str = "exec containerd config dump";
