//! The bounds on what a playbook or manifest may cost to read. `chaos validate` runs on files
//! from anywhere (a pull request, a shared folder), so reading one must take bounded time and
//! memory whatever it holds: a FIFO or `/dev/zero`, a few KB of nested aliases that expand to
//! gigabytes, or nesting deep enough to overflow the stack. Each limit is an error that names
//! the limit and where it was hit.

use std::io::Read;
use std::path::Path;

/// The largest playbook or manifest file read (1 MiB): a hundred times the largest playbook we
/// ship; a larger manifest can be split into several `apply` steps.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The deepest nesting of lists and mappings (a Kubernetes CRD schema nests about 30 deep).
pub const MAX_DEPTH: usize = 100;

/// The most nodes that aliases (`*name`) may add to a file by copying what they refer to, in
/// total. Anchors are a convenience for repeating a few steps, not a compression scheme: a
/// 1.3 KB file of nine levels of ten aliases would otherwise expand to 10^9 nodes.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The most problems recorded for one playbook (with its manifests); the rest are counted.
/// Checking a file of 250,000 misspelt steps then takes memory for 1,000 messages, not all.
pub const MAX_PROBLEMS: usize = 1_000;

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not a regular file (a FIFO, a device, a directory, a socket).
    NotRegular(&'static str),
    TooLarge {
        limit: u64,
    },
    Io(String),
    /// Not UTF-8: 1-based line and column (in characters) of the first invalid byte.
    NotUtf8 {
        line: usize,
        col: usize,
        offset: usize,
        byte: u8,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => {
                write!(f, "it is {what}, not a regular file")
            }
            ReadError::TooLarge { limit } => write!(
                f,
                "it is larger than the file size limit of {} MiB",
                limit / (1024 * 1024)
            ),
            ReadError::Io(e) => f.write_str(e),
            ReadError::NotUtf8 {
                line, col, byte, ..
            } => write!(
                f,
                "it is not UTF-8 text: invalid byte 0x{byte:02x} at line {line}, column {col}"
            ),
        }
    }
}

fn kind_of(ft: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_char_device() || ft.is_block_device() {
        Some("a device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// Opening a FIFO for reading blocks until a writer comes; non-blocking open returns at once,
/// and the type check below refuses it.
#[cfg(target_os = "linux")]
const O_NONBLOCK: i32 = 0o4000;
#[cfg(not(target_os = "linux"))]
const O_NONBLOCK: i32 = 0;

/// Reads a regular file of at most `limit` bytes as UTF-8 text. FIFOs, devices and directories
/// are refused before anything is read from them, and no more than `limit + 1` bytes are ever
/// read, whatever the file claims its size is.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    use std::os::unix::fs::OpenOptionsExt;
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(ReadError::NotRegular(what));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    // The path may have been swapped between the check and the open: check what was opened.
    let meta = file.metadata().map_err(|e| ReadError::Io(e.to_string()))?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(ReadError::NotRegular(what));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        // The prefix up to `at` is valid UTF-8 by definition.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ReadError::NotUtf8 {
            line,
            col,
            offset: at,
            byte: bytes.get(at).copied().unwrap_or(0),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_regular_files_are_refused_without_reading() {
        assert_eq!(
            read_text(Path::new("/dev/zero"), MAX_FILE_BYTES),
            Err(ReadError::NotRegular("a device"))
        );
        assert_eq!(
            read_text(Path::new("/"), MAX_FILE_BYTES),
            Err(ReadError::NotRegular("a directory"))
        );
    }

    #[test]
    fn the_size_limit_and_utf8_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "abcd").unwrap();
        assert_eq!(read_text(&p, 3), Err(ReadError::TooLarge { limit: 3 }));
        assert_eq!(read_text(&p, 4).unwrap(), "abcd");
        std::fs::write(&p, b"a: 1\nb: \xc3\xa9\xff\n").unwrap();
        assert_eq!(
            read_text(&p, 100),
            Err(ReadError::NotUtf8 {
                line: 2,
                col: 5,
                offset: 10,
                byte: 0xff
            })
        );
    }
}
