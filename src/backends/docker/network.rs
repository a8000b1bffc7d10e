//! The network faults inside a node container: a partition is iptables rules in a chain of our
//! own (named by the fault, prefix [`CHAIN_PREFIX`]) jumped to from `INPUT` and `OUTPUT`, so the
//! undo removes exactly that chain and nothing a CNI or kube-proxy wrote; a shaping is a qdisc
//! of ours (handle `c4a0:`) at the root of the node's interface on the `kind` network, so the
//! undo removes it only when it is ours.
//!
//! Peers are named by node and found by their addresses on the `kind` network. The scripts are
//! fixed text; addresses, ports, the chain name and the numbers arrive as positional
//! parameters and are only expanded quoted (see `scripts`).

use super::DockerNodes;
use crate::backends::etcd::discover::KIND_NETWORK;
use crate::backends::{BackendError, CHAIN_PREFIX, Impairment, Partition, Peer, Shaping};

/// Creates chain `$1`, fills it with DROP rules for direction `$2` (`both`, `in`, `out`) and
/// the peers `$3...` (`ADDR` or `ADDR:PORT`, the port on the peer's side), then jumps to it
/// first thing from `INPUT` and `OUTPUT` (last, so a half-filled chain is never live). `in` and
/// `out` tell connections apart by who opened them (conntrack's direction), so established
/// connections stop too. Exit 11: the chain exists already.
const PARTITION: &str = r#"
chain=$1
dir=$2
shift 2
if iptables -w -n -L "$chain" >/dev/null 2>&1; then
  echo "iptables chain $chain exists already: an earlier partition was not undone (chaos recover)" >&2
  exit 11
fi
iptables -w -N "$chain" || exit 10
rule() { iptables -w -A "$chain" "$@" -j DROP || exit 12; }
to_peer() {
  if [ -n "$port" ]; then rule -d "$a" -p tcp --dport "$port" "$@"; else rule -d "$a" "$@"; fi
}
from_peer() {
  if [ -n "$port" ]; then rule -s "$a" -p tcp --sport "$port" "$@"; else rule -s "$a" "$@"; fi
}
for p in "$@"; do
  a=${p%%:*}
  port=
  [ "$a" = "$p" ] || port=${p#*:}
  case "$dir" in
    both) to_peer; from_peer ;;
    out) to_peer -m conntrack --ctdir ORIGINAL; from_peer -m conntrack --ctdir REPLY ;;
    in) from_peer -m conntrack --ctdir ORIGINAL; to_peer -m conntrack --ctdir REPLY ;;
    *) echo "unknown direction $dir" >&2; exit 2 ;;
  esac
done
iptables -w -I INPUT 1 -j "$chain" || exit 13
iptables -w -I OUTPUT 1 -j "$chain" || exit 13
"#;

/// Removes every jump to chain `$1` from `INPUT` and `OUTPUT`, then the chain; succeeds when
/// there is none (the undo may run twice). Fails if anything still names the chain after.
const HEAL: &str = r#"
chain=$1
for c in INPUT OUTPUT; do
  n=0
  while [ $n -lt 100 ] && iptables -w -D "$c" -j "$chain" 2>/dev/null; do n=$((n + 1)); done
done
if iptables -w -n -L "$chain" >/dev/null 2>&1; then
  iptables -w -F "$chain" || exit 10
  iptables -w -X "$chain" || exit 11
fi
if iptables -w -S 2>/dev/null | grep -q -F -e "$chain"; then
  echo "iptables still names chain $chain after the heal" >&2
  exit 12
fi
"#;

/// Finds the interface holding address `$1` (the node's on the `kind` network) into `dev`.
const FIND_DEV: &str = r#"
dev=$(ip -o -4 addr show | while read -r _ d _ addr _; do [ "${addr%/*}" = "$1" ] && echo "$d"; done)
dev=${dev%%[[:space:]]*}
if [ -z "$dev" ]; then
  echo "no interface has address $1" >&2
  exit 10
fi
"#;

/// With `dev` found: puts qdisc `$2` (`delay` with `$3` and jitter `$4` in µs, `loss` with `$3`
/// per cent, both netem; `rate` with `$3` kbit/s, tbf) under handle `c4a0:` at the root. With
/// peers `$5...`: an htb root whose one class (`c4a0:2`, holding the netem, or itself limited
/// to the rate) takes only packets to those addresses; htb sends every other packet on
/// unshaped. Refuses a root qdisc already there. Exit 20: the kernel has no netem; nothing is
/// left behind then.
const SHAPE: &str = r#"
what=$2
a=$3
b=$4
shift 4
root=$(tc qdisc show dev "$dev" root)
case "$root" in
  *" c4a0: "*) echo "$dev is shaped by kind-chaos already (chaos recover): $root" >&2; exit 11 ;;
  ""|*noqueue*|*" 0: "*) ;;
  *) echo "$dev has a root qdisc already: $root" >&2; exit 11 ;;
esac
leaf() {
  case "$what" in
    delay)
      if [ "$b" -gt 0 ]; then
        tc qdisc add dev "$dev" "$@" netem delay "${a}us" "${b}us"
      else
        tc qdisc add dev "$dev" "$@" netem delay "${a}us"
      fi ;;
    loss) tc qdisc add dev "$dev" "$@" netem loss "${a}%" ;;
    rate) tc qdisc add dev "$dev" "$@" tbf rate "${a}kbit" burst 32kbit latency 400ms ;;
  esac
}
broke() {
  echo "tc could not set up the shaping on $dev: $1" >&2
  exit 12
}
failed() {
  case "$what:$1" in
    rate:*) ;;
    *unknown*|*"not found"*|*"No such file"*)
      echo "this kernel has no sch_netem, so no netem qdisc on $dev (tc: $1)" >&2
      exit 20 ;;
  esac
  broke "$1"
}
undo() {
  tc qdisc del dev "$dev" root handle c4a0:
}
if [ $# -eq 0 ]; then
  err=$(leaf root handle c4a0: 2>&1) || failed "$err"
  exit 0
fi
err=$(tc qdisc add dev "$dev" root handle c4a0: htb 2>&1) || broke "$err"
rate=10gbit
[ "$what" = rate ] && rate="${a}kbit"
if ! err=$(tc class add dev "$dev" parent c4a0: classid c4a0:2 htb rate "$rate" 2>&1); then
  undo
  broke "$err"
fi
if [ "$what" != rate ] && ! err=$(leaf parent c4a0:2 handle c4a1: 2>&1); then
  undo
  failed "$err"
fi
for p in "$@"; do
  if ! err=$(tc filter add dev "$dev" parent c4a0: protocol ip prio 1 u32 match ip dst "$p/32" flowid c4a0:2 2>&1); then
    undo
    broke "$err"
  fi
done
"#;

/// With `dev` found: removes the root qdisc if it is ours (handle `c4a0:`); leaves another
/// alone. Succeeds when there is none (the undo may run twice).
const UNSHAPE: &str = r#"
case "$(tc qdisc show dev "$dev" root)" in
  *" c4a0: "*) tc qdisc del dev "$dev" root || exit 11 ;;
esac
case "$(tc qdisc show dev "$dev" root)" in
  *" c4a0: "*) echo "the qdisc of kind-chaos is still on $dev" >&2; exit 12 ;;
esac
"#;

impl DockerNodes {
    /// The node's address on the `kind` network.
    pub(crate) async fn kind_address(&self, node: &str) -> Result<String, BackendError> {
        self.container_ip(node, KIND_NETWORK).await?.ok_or_else(|| {
            BackendError::not_found(format!(
                "node `{node}` has no address on Docker network `{KIND_NETWORK}`"
            ))
        })
    }

    pub(crate) async fn partition(&self, node: &str, cut: &Partition) -> Result<(), BackendError> {
        if !cut.chain.starts_with(CHAIN_PREFIX) || cut.chain.len() > 28 {
            return Err(BackendError::failed(format!(
                "refusing iptables chain `{}`: not one of kind-chaos's",
                cut.chain
            )));
        }
        let mut args = vec![cut.chain.clone(), cut.direction.word().into()];
        for Peer { node: peer, ports } in &cut.peers {
            let addr = self.kind_address(peer).await?;
            if ports.is_empty() {
                args.push(addr);
            } else {
                args.extend(ports.iter().map(|p| format!("{addr}:{p}")));
            }
        }
        self.check_node(node).await?;
        self.exec_script_ok(
            node,
            "adding the partition's iptables rules",
            PARTITION,
            &args,
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn heal(&self, node: &str, chain: &str) -> Result<(), BackendError> {
        self.exec_script_ok(
            node,
            "removing the partition's iptables rules",
            HEAL,
            &[chain.to_string()],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn shape(&self, node: &str, shaping: &Shaping) -> Result<(), BackendError> {
        let me = self.kind_address(node).await?;
        let (what, a, b) = match shaping.impairment {
            Impairment::Delay {
                delay_us,
                jitter_us,
            } => ("delay", delay_us, jitter_us),
            Impairment::Loss { percent } => ("loss", u64::from(percent), 0),
            Impairment::Bandwidth { rate_kbit } => ("rate", u64::from(rate_kbit), 0),
        };
        let mut args = vec![me, what.into(), a.to_string(), b.to_string()];
        for peer in &shaping.peers {
            args.push(self.kind_address(peer).await?);
        }
        let out = self
            .exec_script(
                node,
                "shaping its traffic",
                &format!("{FIND_DEV}{SHAPE}"),
                &args,
            )
            .await?;
        if out.exit_code != 0 {
            return Err(BackendError::failed(format!(
                "shaping the traffic of node `{node}` failed (exit {}): {}",
                out.exit_code,
                out.stderr.trim()
            )));
        }
        Ok(())
    }

    pub(crate) async fn unshape(&self, node: &str) -> Result<(), BackendError> {
        let me = self.kind_address(node).await?;
        self.exec_script_ok(
            node,
            "removing the traffic shaping",
            &format!("{FIND_DEV}{UNSHAPE}"),
            &[me],
        )
        .await?;
        Ok(())
    }
}
