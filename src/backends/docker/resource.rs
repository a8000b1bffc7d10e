//! The resource faults inside a node container: a CPU hog is busy loops (`sh`'s `while :`),
//! each under coreutils' `timeout` so it ends by itself, their PIDs in `/run/<marker>.pids`
//! and the marker in their command line, so the undo stops exactly them (each timeout's
//! process group, its loop included): a PID from the file whose command line no longer carries
//! the marker (the hog ended, the PID was reused) is left alone.

use super::DockerNodes;
use crate::backends::{BackendError, CpuHog, HOG_PREFIX};

/// Starts `$2` busy loops named `$1`, each ended by `timeout` after `$3` seconds.
const HOG: &str = r#"
marker=$1
n=$2
secs=$3
f=/run/$marker.pids
if [ -s "$f" ]; then
  echo "$f exists already: an earlier hog was not undone (chaos recover)" >&2
  exit 11
fi
: >"$f" || exit 10
i=0
while [ $i -lt "$n" ]; do
  timeout "$secs" sh -c 'while :; do :; done' "$marker" </dev/null >/dev/null 2>&1 &
  echo $! >>"$f"
  i=$((i + 1))
done
"#;

/// Stops the hog named `$1`. Each `timeout` of its PID file still carrying the marker leads a
/// process group of its own (coreutils' timeout calls setpgid) holding its loop: the group is
/// signalled, SIGTERM then, after 1 s, SIGKILL, so a loop never outlives a timeout that died
/// first (signalling only the timeout could KILL it before it passed TERM on, leaving its
/// loop running with no timeout left to end it). Waits up to 5 s for the groups to be gone.
const UNHOG: &str = r#"
marker=$1
f=/run/$marker.pids
[ -f "$f" ] || exit 0
ours() { grep -q -a -F -e "$marker" "/proc/$1/cmdline" 2>/dev/null; }
groups=
for p in $(cat "$f"); do
  ours "$p" && groups="$groups $p"
done
for g in $groups; do kill -s TERM -- "-$g" 2>/dev/null; done
i=0
while [ $i -lt 50 ]; do
  left=
  for g in $groups; do kill -0 -- "-$g" 2>/dev/null && left="$left $g"; done
  if [ -z "$left" ]; then
    rm -f "$f"
    exit 0
  fi
  if [ $i -ge 10 ]; then
    for g in $left; do kill -s KILL -- "-$g" 2>/dev/null; done
  fi
  i=$((i + 1))
  sleep 0.1
done
echo "hog processes still running in process groups:$left" >&2
exit 12
"#;

fn check_marker(marker: &str) -> Result<(), BackendError> {
    let ok = marker
        .strip_prefix(HOG_PREFIX)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(BackendError::failed(format!(
            "refusing hog marker `{marker}`: not one of kind-chaos's"
        )))
    }
}

impl DockerNodes {
    pub(crate) async fn hog(&self, node: &str, hog: &CpuHog) -> Result<(), BackendError> {
        check_marker(&hog.marker)?;
        let args = [
            hog.marker.clone(),
            hog.cores.to_string(),
            hog.seconds.to_string(),
        ];
        self.exec_script_ok(node, "starting the CPU hog", HOG, &args)
            .await?;
        Ok(())
    }

    pub(crate) async fn unhog(&self, node: &str, marker: &str) -> Result<(), BackendError> {
        check_marker(marker)?;
        self.exec_script_ok(node, "stopping the CPU hog", UNHOG, &[marker.to_string()])
            .await?;
        Ok(())
    }
}
