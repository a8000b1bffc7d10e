//! Waiting on real processes and real containers, where there is no clock to pause: poll a
//! check until a deadline, read a child's stdout until a line shows up, send a child a
//! signal. One copy each, so every test fails the same way (with what it waited for) when
//! the thing never happens.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it gives a value; fails the test naming `what` when
/// `within` has passed.
pub fn eventually<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads the child's stdout until it shows `needle` (or ends, or `within` passes: then the
/// test fails with what it saw); returns all it read.
pub fn read_until(child: &mut Child, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut seen = String::new();
    let out = child.stdout.as_mut().expect("the child's stdout is piped");
    let mut buf = [0u8; 512];
    while !seen.contains(needle) && Instant::now() < deadline {
        let n = out.read(&mut buf).expect("read the child's stdout");
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains(needle), "never saw `{needle}`: {seen}");
    seen
}

/// Starts `cmd` with its output piped and returns once its stdout shows `needle` (a run is
/// then inside that step), with what it printed so far.
pub fn spawn_until(mut cmd: Command, needle: &str, within: Duration) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let seen = read_until(&mut child, needle, within);
    (child, seen)
}

/// `kill SIG PID` for the child (`-INT`, `-TERM`, `-KILL`, ...), asserting it was sent.
pub fn signal(child: &Child, sig: &str) {
    let sent = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill {sig} {} failed", child.id());
}
