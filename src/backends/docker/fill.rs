//! The memory hog and the disk fill inside a node container, and the sweep of everything
//! kind-chaos may have left in a node.
//!
//! A memory hog is a tmpfs of our own mounted at `/run/<marker>` (sized to the fill, so it is
//! bounded by nothing but the node's memory) holding one file written from `/dev/zero`: its
//! pages are charged to the memory cgroup of the process that wrote them, the node
//! container's, and stay charged until the tmpfs is unmounted, with no process of ours
//! running. A disk fill is the file `/var/lib/containerd/<marker>`, `fallocate`d (real blocks,
//! not a sparse file). Each is freed by a timer of its own in the node (`setsid sh`, its PID in
//! `/run/<marker>.pid` and the marker in its command line, as the CPU hog's loops carry it)
//! after the fill's duration, so a fill outlives no `chaos` that was killed by more than that;
//! the undo stops the timer (only a process that still carries the marker) and frees the fill
//! now. Everything the scripts need is in a kind node and in the Debian test node: `sh`,
//! coreutils (`head`, `stat`, `df`), util-linux (`mount`, `fallocate`, `setsid`), `sed`.

use super::DockerNodes;
use crate::backends::{
    BackendError, CHAIN_PREFIX, DISK_PREFIX, Fill, HOG_PREFIX, Held, MEMORY_PREFIX, Size,
};

/// Where the fill of marker `$marker` lives (`p`), whether it is memory (`kind`), its timer's
/// PID file (`pidf`), and `release`, which frees it (idempotent).
const WHERE: &str = r#"
marker=$1
pidf=/run/$marker.pid
case $marker in
  kind-chaos-mem-*) kind=mem; p=/run/$marker ;;
  kind-chaos-disk-*) kind=disk; p=/var/lib/containerd/$marker ;;
  *) echo "not a fill of kind-chaos: $marker" >&2; exit 2 ;;
esac
release() {
  if [ -d "$p" ]; then
    if grep -q -F " $p tmpfs " /proc/mounts; then
      umount "$p" || { echo "cannot unmount the tmpfs at $p" >&2; exit 12; }
    fi
    rm -f "$p/fill"
    rmdir "$p" || exit 12
  elif [ -e "$p" ]; then
    rm -f "$p" || exit 12
  fi
}
"#;

/// With [`WHERE`]: takes `$2` (bytes, or `N%` of the node's memory or the filesystem's size;
/// the node's memory is the smallest of the machine's and the limits of its memory cgroup,
/// read at its path and at the root, where kind's entrypoint bind-mounts the node's own)
/// and starts the timer that frees it after `$3` seconds. Prints the bytes held and what a
/// share is taken of. Exit 11: a fill of this marker is there already; 13: not that much
/// memory or free space; 12: writing failed (what was written is freed again).
const FILL: &str = r#"
size=$2
secs=$3
if [ -e "$p" ] || [ -s "$pidf" ]; then
  echo "$p exists already: an earlier fill was not undone (chaos recover)" >&2
  exit 11
fi
if [ $kind = mem ]; then
  of=$(sed -n 's/^MemTotal: *\([0-9][0-9]*\) kB$/\1/p' /proc/meminfo)
  of=$((of * 1024))
  v2=$(sed -n 's/^0:://p' /proc/self/cgroup)
  v1=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup)
  for f in "/sys/fs/cgroup$v2/memory.max" /sys/fs/cgroup/memory.max \
    "/sys/fs/cgroup/memory$v1/memory.limit_in_bytes" /sys/fs/cgroup/memory/memory.limit_in_bytes; do
    lim=$(cat "$f" 2>/dev/null)
    case $lim in
      ''|max|*[!0-9]*) ;;
      *) [ "$lim" -lt "$of" ] && of=$lim ;;
    esac
  done
  whole="the node's memory"
  room=$of
else
  d=${p%/*}
  [ -d "$d" ] || { echo "the node has no $d" >&2; exit 10; }
  set -- $(df -P -B1 "$d" | sed -n 2p)
  of=$2
  room=$4
  whole="the filesystem of $d"
fi
case $size in
  *%) bytes=$((of / 100 * ${size%\%})) ;;
  *) bytes=$size ;;
esac
if [ "$bytes" -gt "$room" ]; then
  echo "cannot take $bytes bytes: $whole has $room ($of in all)" >&2
  exit 13
fi
broke() {
  release
  echo "could not fill $p: $1" >&2
  exit 12
}
if [ $kind = mem ]; then
  mkdir -m 0700 "$p" || exit 10
  err=$(mount -t tmpfs -o "size=$bytes,mode=0700" "$marker" "$p" 2>&1) || broke "$err"
  err=$(head -c "$bytes" /dev/zero 2>&1 >"$p/fill") || broke "$err"
  f=$p/fill
else
  if ! err=$(fallocate -l "$bytes" "$p" 2>&1); then
    case $err in
      *"not supported"*) err=$(head -c "$bytes" /dev/zero 2>&1 >"$p") || broke "$err" ;;
      *) broke "$err" ;;
    esac
  fi
  f=$p
fi
got=$(stat -c %s "$f")
[ "$got" = "$bytes" ] || broke "wrote $got bytes of $bytes"
setsid sh -c 'sleep "$1"
p=$2
if [ -d "$p" ]; then umount "$p"; rm -f "$p/fill"; rmdir "$p"; else rm -f "$p"; fi
rm -f "$3"' "$marker" "$secs" "$p" "$pidf" </dev/null >/dev/null 2>&1 &
echo $! >"$pidf"
echo "$bytes $of"
"#;

/// With [`WHERE`]: stops the timer's process group (only if its PID still carries the marker)
/// and frees the fill. Prints the bytes freed (0: nothing was there).
const UNFILL: &str = r#"
if [ -s "$pidf" ]; then
  pid=$(cat "$pidf")
  if grep -q -a -F -e "$marker" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -s TERM -- "-$pid" 2>/dev/null
    i=0
    while kill -0 -- "-$pid" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    kill -s KILL -- "-$pid" 2>/dev/null
  fi
fi
bytes=0
if [ -f "$p/fill" ]; then bytes=$(stat -c %s "$p/fill"); elif [ -f "$p" ]; then bytes=$(stat -c %s "$p"); fi
release
rm -f "$pidf"
echo "$bytes"
"#;

/// Lists what of kind-chaos's is in the node, one `KIND NAME` a line: `chain` (iptables
/// chains by their prefix), `qdisc` (a root qdisc with our handle on any interface), `hog`
/// (CPU hogs' PID files), `fill` (memory and disk fills, and timers whose fill is gone).
const LEFTOVERS: &str = r#"
iptables -w -S 2>/dev/null | sed -n "s/^-N \($1[A-Za-z0-9-]*\)\$/chain \1/p"
tc qdisc show 2>/dev/null | grep -q ' c4a0: ' && echo "qdisc c4a0:"
for f in /run/kind-chaos-hog-*.pids; do
  [ -e "$f" ] || continue
  f=${f##*/}
  echo "hog ${f%.pids}"
done
for f in /run/kind-chaos-mem-* /run/kind-chaos-disk-*.pid /var/lib/containerd/kind-chaos-disk-*; do
  [ -e "$f" ] || continue
  f=${f##*/}
  echo "fill ${f%.pid}"
done
"#;

/// Whether `marker` is `prefix` then letters and digits only.
fn is_marker(marker: &str, prefix: &str) -> bool {
    marker
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn check_fill_marker(marker: &str) -> Result<(), BackendError> {
    if is_marker(marker, MEMORY_PREFIX) || is_marker(marker, DISK_PREFIX) {
        Ok(())
    } else {
        Err(BackendError::failed(format!(
            "refusing fill marker `{marker}`: not one of kind-chaos's"
        )))
    }
}

/// Parses the numbers a script printed on its last line.
fn numbers(out: &str, what: &str, node: &str) -> Result<Vec<u64>, BackendError> {
    let last = out.lines().last().unwrap_or_default();
    last.split_whitespace()
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| {
            BackendError::failed(format!(
                "{what} on node `{node}` printed `{}`, not numbers",
                out.trim()
            ))
        })
}

impl DockerNodes {
    pub(crate) async fn fill(&self, node: &str, fill: &Fill) -> Result<Held, BackendError> {
        check_fill_marker(&fill.marker)?;
        let size = match fill.size {
            Size::Bytes(b) => b.to_string(),
            Size::Percent(p) => format!("{p}%"),
        };
        let args = [fill.marker.clone(), size, fill.seconds.to_string()];
        let what = if fill.marker.starts_with(MEMORY_PREFIX) {
            "holding memory"
        } else {
            "filling the disk"
        };
        let out = self
            .exec_script_ok(node, what, &format!("{WHERE}{FILL}"), &args)
            .await?;
        match numbers(&out, what, node)?[..] {
            [bytes, of] => Ok(Held { bytes, of }),
            _ => Err(BackendError::failed(format!(
                "{what} on node `{node}` printed `{}`",
                out.trim()
            ))),
        }
    }

    pub(crate) async fn unfill(&self, node: &str, marker: &str) -> Result<u64, BackendError> {
        check_fill_marker(marker)?;
        let what = "freeing the fill";
        let out = self
            .exec_script_ok(
                node,
                what,
                &format!("{WHERE}{UNFILL}"),
                &[marker.to_string()],
            )
            .await?;
        match numbers(&out, what, node)?[..] {
            [bytes] => Ok(bytes),
            _ => Err(BackendError::failed(format!(
                "{what} on node `{node}` printed `{}`",
                out.trim()
            ))),
        }
    }

    /// Finds what of kind-chaos's is in the node and undoes each, the way its undo would.
    pub(crate) async fn sweep(&self, node: &str) -> Result<Vec<String>, BackendError> {
        let out = self
            .exec_script_ok(
                node,
                "looking for what kind-chaos left",
                LEFTOVERS,
                &[CHAIN_PREFIX.to_string()],
            )
            .await?;
        let mut removed = Vec::new();
        let mut fills = std::collections::BTreeSet::new();
        for line in out.lines() {
            let Some((kind, name)) = line.split_once(' ') else {
                continue;
            };
            match kind {
                "chain" if name.len() <= 28 => {
                    self.heal(node, name).await?;
                    removed.push(format!("iptables chain {name}"));
                }
                "qdisc" => {
                    self.unshape(node).await?;
                    removed.push("qdisc c4a0: (network shaping)".to_string());
                }
                "hog" if is_marker(name, HOG_PREFIX) => {
                    self.unhog(node, name).await?;
                    removed.push(format!("CPU hog {name}"));
                }
                "fill" if fills.insert(name.to_string()) => {
                    let bytes = self.unfill(node, name).await?;
                    removed.push(format!("fill {name} ({bytes} bytes)"));
                }
                _ => {}
            }
        }
        Ok(removed)
    }
}
