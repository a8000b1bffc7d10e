//! Whether the process that wrote a file still runs: journals, lock holder lines and temporary
//! backup files name their writer by pid *and* start time, so a pid the kernel reused for
//! another process is not mistaken for the writer.

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that wrote a file (a journal, a lock holder line, a temporary backup)
/// still runs: same pid, same start time (0: unknown, any process with that pid counts).
pub fn process_alive(pid: u32, start: u64) -> bool {
    match process_start_time(pid) {
        Some(t) => start == 0 || t == start,
        None => false,
    }
}
