//! Synchronous signal reception.
//!
//! Why this design: the probe's whole job is to say which signals reach it, in the order they
//! arrive, so it blocks every catchable standard signal at start-up and takes them one at a time
//! with `sigtimedwait`. No handler runs asynchronously, so there is nothing async-signal-safe to
//! get wrong, no thread and no self-pipe, and a signal sent before the probe is ready stays
//! pending instead of killing it with its default action. Blocked signals are queued by Linux
//! even when their disposition is "ignore" (as Rust sets SIGPIPE, or `nohup` sets SIGHUP), so
//! those are reported too.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// Every standard signal (1-31) a process can catch: all but SIGKILL (9) and SIGSTOP (19).
/// Real-time signals are left alone: the lab never used them and glibc reserves 32 and 33.
pub const CATCHABLE: [libc::c_int; 29] = [
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28,
    29, 30, 31,
];

/// The set of signals the probe has blocked and waits for.
pub struct Blocked {
    set: libc::sigset_t,
}

/// Blocks [`CATCHABLE`] for the calling thread. Call first thing in `main`, before any thread
/// exists, so that every later thread inherits the mask and no signal is delivered the default
/// way.
pub fn block_catchable() -> io::Result<Blocked> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; it is only read after success.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigemptyset succeeded, so the set is initialised.
    let mut set = unsafe { set.assume_init() };
    for signal in CATCHABLE {
        // SAFETY: `set` is a valid, initialised sigset_t and `signal` is a valid signal number.
        if unsafe { libc::sigaddset(&mut set, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(Blocked { set })
}

impl Blocked {
    /// Waits for one of the blocked signals. `None` as timeout waits for ever. Returns
    /// `Ok(None)` when the timeout passes (or the wait is interrupted, e.g. by SIGSTOP/SIGCONT)
    /// without a signal; the caller re-checks its clock and waits again.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<Option<libc::c_int>> {
        let spec = timeout.map(|t| libc::timespec {
            tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
            // Always below 1e9, so the cast is lossless for any c_long (32 or 64 bits).
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let spec_ptr = spec
            .as_ref()
            .map_or(std::ptr::null(), |s| s as *const libc::timespec);
        // SAFETY: `self.set` is initialised, a null siginfo pointer is allowed, and `spec_ptr` is
        // null or points at a timespec that lives until the call returns.
        let signal = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), spec_ptr) };
        if signal > 0 {
            return Ok(Some(signal));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN | libc::EINTR) => Ok(None),
            _ => Err(err),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn catchable_is_every_standard_signal_but_kill_and_stop() {
        let expected: Vec<libc::c_int> = (1..=31)
            .filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP)
            .collect();
        assert_eq!(CATCHABLE.to_vec(), expected);
        assert!(CATCHABLE.contains(&libc::SIGCHLD));
        assert!(CATCHABLE.contains(&libc::SIGTSTP));
    }

    #[test]
    fn timeout_without_signal_is_none() {
        // The test harness runs tests on threads: blocking here affects only this thread, and
        // nothing sends it a signal, so the wait must time out.
        let blocked = block_catchable().unwrap();
        assert_eq!(blocked.wait(Some(Duration::from_millis(20))).unwrap(), None);
    }
}
