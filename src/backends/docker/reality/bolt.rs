//! A read-only reader of bbolt database files (the key-value store containerd keeps its
//! metadata in), for reading a node's containers without asking its containerd.
//!
//! Why not a crate: no maintained Rust crate reads bbolt's file format (`jammdb` and others
//! are bolt-like stores with their own), and only a small part of it is needed: the two meta
//! pages, branch and leaf pages, nested and inline buckets. The format is bbolt's
//! (go.etcd.io/bbolt: `page.go`, `bucket.go`, `db.go`'s `meta`), stable since boltdb 1.0;
//! every field is read in the host's byte order, as bbolt writes it.
//!
//! Reading a file another process writes, without its lock, is safe here for this reason:
//! bbolt never writes a page that the last committed transaction can reach (a transaction
//! writes its pages to free ones and commits by writing the meta page last; a page freed by
//! transaction T is reused no earlier than T+1). So a read of everything reachable from the
//! meta page of transaction T is consistent if, after it, the newest meta page still names
//! T ([`Snapshot::still_current`]); otherwise the caller reads again. Every offset and
//! length is checked: a page that is not what it should be is an error, never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// How much of a meta page is read: its page header and the meta fields.
const META_READ: usize = PAGE_HEADER + 64;
/// bbolt's magic number, in each meta page.
const MAGIC: u32 = 0xED0C_DAED;
/// The file format version bbolt writes.
const VERSION: u32 = 2;
/// A page's header: id (u64), flags (u16), count (u16), overflow (u32).
const PAGE_HEADER: usize = 16;
/// A branch element: pos (u32), ksize (u32), pgid (u64); a leaf element: flags, pos, ksize,
/// vsize (u32 each).
const ELEMENT: usize = 16;
/// A bucket's header in its parent's value: root pgid (u64, 0 for an inline bucket), sequence.
const BUCKET_HEADER: usize = 16;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
/// A leaf element whose value is a nested bucket.
const BUCKET_LEAF: u32 = 0x01;
/// How deep a B+tree may be before the file counts as damaged (a cycle of pages).
const MAX_DEPTH: usize = 64;
/// The largest page size bbolt accepts (its pages are 4 KiB to 64 KiB in practice).
const MAX_PAGE_SIZE: u32 = 1 << 20;

/// One committed state of a bbolt file.
pub struct Snapshot<'f> {
    file: &'f File,
    page_size: u64,
    txid: u64,
    root: Bucket,
}

/// A bucket: its B+tree's root page, or its own page inline in its parent's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    Paged(u64),
    Inline(Vec<u8>),
}

/// What a key holds: a value, or a nested bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Data(Vec<u8>),
    Bucket(Bucket),
}

/// The fields of a meta page that a reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    page_size: u32,
    root: u64,
    txid: u64,
}

impl<'f> Snapshot<'f> {
    /// The newest committed state of `file`.
    pub fn open(file: &'f File) -> Result<Snapshot<'f>, String> {
        let meta = newest_meta(file)?;
        Ok(Snapshot {
            file,
            page_size: u64::from(meta.page_size),
            txid: meta.txid,
            root: Bucket::Paged(meta.root),
        })
    }

    /// Whether the state read is still the newest one committed: what was read from it is
    /// consistent only if so (see the module's documentation).
    pub fn still_current(&self) -> Result<bool, String> {
        Ok(newest_meta(self.file)?.txid == self.txid)
    }

    /// The bucket at `path` from the top (`None` if a part of it is missing or not a bucket).
    pub fn bucket(&self, path: &[&[u8]]) -> Result<Option<Bucket>, String> {
        let mut at = self.root.clone();
        for name in path {
            let found = self.entries(&at)?.into_iter().find(|(k, _)| k == name);
            match found {
                Some((_, Value::Bucket(b))) => at = b,
                _ => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// Every key of `bucket` with what it holds, in key order.
    pub fn entries(&self, bucket: &Bucket) -> Result<Vec<(Vec<u8>, Value)>, String> {
        let mut out = Vec::new();
        match bucket {
            Bucket::Inline(page) => leaf_entries(page, &mut out)?,
            Bucket::Paged(root) => self.walk(*root, 0, &mut out)?,
        }
        Ok(out)
    }

    /// The entries of the tree below page `id`, appended to `out`.
    fn walk(&self, id: u64, depth: usize, out: &mut Vec<(Vec<u8>, Value)>) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("page {id}: the tree is deeper than {MAX_DEPTH}"));
        }
        let page = self.page(id)?;
        match flags(&page)? {
            LEAF_PAGE => leaf_entries(&page, out),
            BRANCH_PAGE => {
                for i in 0..count(&page)? {
                    let e = element(&page, i)?;
                    self.walk(u64_at(&page, e + 8)?, depth + 1, out)?;
                }
                Ok(())
            }
            other => Err(format!("page {id}: flags {other:#x}, not a branch or leaf")),
        }
    }

    /// Page `id` with its overflow pages: one read for the page, one more for any overflow.
    fn page(&self, id: u64) -> Result<Vec<u8>, String> {
        let at = id
            .checked_mul(self.page_size)
            .ok_or_else(|| format!("page {id}: beyond any file"))?;
        let size = usize::try_from(self.page_size).map_err(|_| "page size".to_string())?;
        let mut page = vec![0u8; size];
        read_exact_at(self.file, &mut page, at)?;
        if u64_at(&page, 0)? != id {
            return Err(format!("page {id}: its header names another page"));
        }
        let overflow = u64::from(u32_at(&page, 12)?);
        if overflow > 0 {
            let len = (overflow + 1)
                .checked_mul(self.page_size)
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| format!("page {id}: {overflow} overflow pages"))?;
            page.resize(len, 0);
            read_exact_at(self.file, &mut page[size..], at + self.page_size)?;
        }
        Ok(page)
    }
}

/// The meta page of the newest transaction that is whole (magic, version and checksum right).
fn newest_meta(file: &File) -> Result<Meta, String> {
    let mut first = [0u8; META_READ];
    read_exact_at(file, &mut first, 0)?;
    let zero = meta(&first);
    // The second meta page starts one page in. Its size is in the first meta page; when that
    // one is damaged, the second is looked for where each page size would put it (one that
    // names another size does not count).
    let sizes = match &zero {
        Ok(m) => vec![m.page_size],
        Err(_) => (9..=16).map(|bits| 1u32 << bits).collect(),
    };
    let mut one = Err("no second meta page".to_string());
    for size in sizes {
        let mut second = [0u8; META_READ];
        let found = read_exact_at(file, &mut second, u64::from(size))
            .and_then(|()| meta(&second))
            .and_then(|m| match m.page_size == size {
                true => Ok(m),
                false => Err(format!("a meta page of {} bytes at {size}", m.page_size)),
            });
        one = found;
        if one.is_ok() {
            break;
        }
    }
    match (zero, one) {
        (Ok(a), Ok(b)) => Ok(if b.txid > a.txid { b } else { a }),
        (Ok(m), Err(_)) | (Err(_), Ok(m)) => Ok(m),
        (Err(a), Err(b)) => Err(format!("no valid meta page: {a}; {b}")),
    }
}

/// The meta page at the start of `page`.
fn meta(page: &[u8]) -> Result<Meta, String> {
    if flags(page)? != META_PAGE {
        return Err("not a meta page".into());
    }
    let m = page
        .get(PAGE_HEADER..PAGE_HEADER + 64)
        .ok_or("a short meta page")?;
    if u32_at(m, 0)? != MAGIC {
        return Err("not a bbolt file (magic)".into());
    }
    let version = u32_at(m, 4)?;
    if version != VERSION {
        return Err(format!("bbolt format version {version}, not {VERSION}"));
    }
    if fnv1a64(&m[..56]) != u64_at(m, 56)? {
        return Err("meta page checksum mismatch".into());
    }
    let page_size = u32_at(m, 8)?;
    if !(512..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(format!("page size {page_size}"));
    }
    Ok(Meta {
        page_size,
        root: u64_at(m, 16)?,
        txid: u64_at(m, 48)?,
    })
}

/// The key-value pairs of leaf page `page` (whole, or inline in a bucket's value).
fn leaf_entries(page: &[u8], out: &mut Vec<(Vec<u8>, Value)>) -> Result<(), String> {
    if flags(page)? != LEAF_PAGE {
        return Err("an inline bucket that is not a leaf page".into());
    }
    for i in 0..count(page)? {
        let e = element(page, i)?;
        let kind = u32_at(page, e)?;
        let pos = e + usize_of(u32_at(page, e + 4)?)?;
        let ksize = usize_of(u32_at(page, e + 8)?)?;
        let vsize = usize_of(u32_at(page, e + 12)?)?;
        let key = slice(page, pos, ksize)?.to_vec();
        let value = slice(page, pos + ksize, vsize)?;
        let value = if kind & BUCKET_LEAF == 0 {
            Value::Data(value.to_vec())
        } else {
            let root = u64_at(value, 0)?;
            Value::Bucket(if root == 0 {
                Bucket::Inline(value.get(BUCKET_HEADER..).unwrap_or_default().to_vec())
            } else {
                Bucket::Paged(root)
            })
        };
        out.push((key, value));
    }
    Ok(())
}

fn flags(page: &[u8]) -> Result<u16, String> {
    Ok(u16::from_ne_bytes(array(page, 8)?))
}

fn count(page: &[u8]) -> Result<usize, String> {
    Ok(usize::from(u16::from_ne_bytes(array(page, 10)?)))
}

/// Where element `i` of a page starts.
fn element(page: &[u8], i: usize) -> Result<usize, String> {
    let at = PAGE_HEADER + i * ELEMENT;
    slice(page, at, ELEMENT)?;
    Ok(at)
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    Ok(u32::from_ne_bytes(array(b, at)?))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    Ok(u64::from_ne_bytes(array(b, at)?))
}

fn array<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], String> {
    slice(b, at, N)?
        .try_into()
        .map_err(|_| format!("{N} bytes at {at}"))
}

fn slice(b: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    at.checked_add(len)
        .and_then(|end| b.get(at..end))
        .ok_or_else(|| format!("{len} bytes at {at} lie past the page's {} bytes", b.len()))
}

fn usize_of(n: u32) -> Result<usize, String> {
    usize::try_from(n).map_err(|_| format!("{n} does not fit"))
}

fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> Result<(), String> {
    file.read_exact_at(buf, at)
        .map_err(|e| format!("reading {} bytes at {at}: {e}", buf.len()))
}

/// FNV-1a, 64 bits: bbolt's checksum of a meta page.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
