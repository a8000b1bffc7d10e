//! Every line `chaos` writes for a person goes through here, for two reasons:
//!
//! - **A closed pipe never panics.** `println!` panics when stdout is gone (`chaos ... | head -1`,
//!   a lost terminal), which used to abort a run between its undo and its reports, or kill the
//!   signal task so Ctrl-C did nothing. Here a failed write marks the stream as gone and later
//!   writes are dropped quietly; the work (undo, recover, report files) carries on.
//! - **No raw control bytes reach a terminal.** Keys, values, pod names and playbook strings are
//!   not ours: an ESC in one could move the cursor, retitle the window or hide text. [`clean`]
//!   escapes them, and the line macros apply it to every line they write.
//!
//! `--json -` / `--junit -` put a report on stdout; [`human_to_stderr`] then sends the human
//! output to stderr so the report stays parseable.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);
static HUMAN_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// One of the two standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn gone_flag(self) -> &'static AtomicBool {
        match self {
            Stream::Stdout => &STDOUT_GONE,
            Stream::Stderr => &STDERR_GONE,
        }
    }

    /// Whether a write to this stream failed before (its reader is gone).
    pub fn is_gone(self) -> bool {
        self.gone_flag().load(Ordering::Relaxed)
    }

    /// Writes all of `bytes` and flushes; on any error the stream is marked gone and nothing
    /// more is written to it. Returns whether the bytes were written.
    pub fn write_bytes(self, bytes: &[u8]) -> bool {
        if self.is_gone() {
            return false;
        }
        let written = match self {
            Stream::Stdout => {
                let mut s = std::io::stdout().lock();
                s.write_all(bytes).and_then(|()| s.flush())
            }
            Stream::Stderr => {
                let mut s = std::io::stderr().lock();
                s.write_all(bytes).and_then(|()| s.flush())
            }
        };
        if written.is_err() {
            self.gone_flag().store(true, Ordering::Relaxed);
        }
        written.is_ok()
    }
}

/// From now on the human output (`outln!`) goes to stderr: stdout carries a report.
pub fn human_to_stderr() {
    HUMAN_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Where the human output goes.
pub fn human_stream() -> Stream {
    if HUMAN_TO_STDERR.load(Ordering::Relaxed) {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}

/// Whether stdout and stderr are the same file (one terminal, one pipe, one log file): then a
/// message meant for both is written once.
pub fn stdout_is_stderr() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let id = |fd: std::os::fd::BorrowedFd<'_>| {
        let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
        let m = file.metadata().ok()?;
        Some((m.dev(), m.ino()))
    };
    let (o, e) = (id(std::io::stdout().as_fd()), id(std::io::stderr().as_fd()));
    o.is_some() && o == e
}

/// Writes formatted text to `stream`, control bytes escaped.
pub fn write_clean(stream: Stream, args: fmt::Arguments<'_>, newline: bool) {
    let mut text = match args.as_str() {
        Some(s) => clean(s).into_owned(),
        None => {
            let s = args.to_string();
            match clean(&s) {
                Cow::Borrowed(_) => s,
                Cow::Owned(o) => o,
            }
        }
    };
    if newline {
        text.push('\n');
    }
    stream.write_bytes(text.as_bytes());
}

/// A `Write` for the human output (or raw stdout) that never fails: once its stream is gone,
/// bytes are dropped and reported as written, so code that `expect`s its writes (generators,
/// reporters) never panics on a closed pipe.
pub struct Quiet(pub Stream);

impl Write for Quiet {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_bytes(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The human output as a writer that never fails (the caller escapes what it writes).
pub fn human_writer() -> Box<dyn Write + Send> {
    Box::new(Quiet(human_stream()))
}

/// A writer that escapes control bytes in what it is given and never fails (for logs: each
/// event arrives as one write, so no character is split between writes).
pub struct Escaping(pub Stream);

impl Write for Escaping {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_bytes(clean(&text).as_bytes());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether a character must not reach a terminal as it is: C0 controls other than newline and
/// tab (ESC, NUL, CR, BEL...), DEL, and the C1 controls (U+0080..U+009F, which some terminals
/// read as CSI and OSC).
pub fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Text safe to show on a terminal: every control character but `\n` and `\t` written as an
/// escape (`\e` as `\x1b`, `\r` as `\r`, C1 as `\u{9b}`). Borrowed when nothing needed escaping.
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    use fmt::Write as _;
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\r' => write!(out, "\\r"),
        '\0' => write!(out, "\\0"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// [`clean`], also returning where each byte offset of `text` lands in the cleaned text (one
/// entry per byte, plus one for the end), so positions into the text can be moved along.
pub fn clean_mapped(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for c in text.chars() {
        let at = out.len();
        map.extend(std::iter::repeat_n(at, c.len_utf8()));
        push_escaped(&mut out, c);
    }
    map.push(out.len());
    (out, map)
}

/// A line of human output (stdout, or stderr with `--json -`), control bytes escaped.
#[macro_export]
macro_rules! outln {
    () => { $crate::report::out::write_clean($crate::report::out::human_stream(), format_args!(""), true) };
    ($($arg:tt)*) => { $crate::report::out::write_clean($crate::report::out::human_stream(), format_args!($($arg)*), true) };
}

/// Human output without a newline, control bytes escaped.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::report::out::write_clean($crate::report::out::human_stream(), format_args!($($arg)*), false) };
}

/// A line on stderr (errors, warnings, notes), control bytes escaped.
#[macro_export]
macro_rules! errln {
    () => { $crate::report::out::write_clean($crate::report::out::Stream::Stderr, format_args!(""), true) };
    ($($arg:tt)*) => { $crate::report::out::write_clean($crate::report::out::Stream::Stderr, format_args!($($arg)*), true) };
}

/// Text on stderr without a newline, control bytes escaped.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::report::out::write_clean($crate::report::out::Stream::Stderr, format_args!($($arg)*), false) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_escaped_and_newlines_and_tabs_kept() {
        assert_eq!(
            clean("a\x1b[2Jb\0c\rd\x7fe\u{9b}f\n\tg"),
            "a\\x1b[2Jb\\0c\\rd\\x7fe\\u{9b}f\n\tg"
        );
        assert!(matches!(clean("plain ✔ text\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn positions_move_along_with_the_escapes() {
        let text = "a\x1bb\u{9b}c";
        let (out, map) = clean_mapped(text);
        assert_eq!(out, "a\\x1bb\\u{9b}c");
        assert_eq!(map.len(), text.len() + 1);
        // 'b' is at byte 2 of the text and at byte 5 of the cleaned text.
        assert_eq!(&out[map[2]..map[2] + 1], "b");
        assert_eq!(&out[map[5]..map[5] + 1], "c");
        assert_eq!(map[text.len()], out.len());
    }
}
