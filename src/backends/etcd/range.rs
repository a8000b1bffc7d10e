//! Reading ranges of keys in pages at one pinned revision.
//!
//! A prefix like `/registry/` can hold hundreds of thousands of keys. Reading them in one
//! response would hold them all in memory (and hit gRPC's message limit), so every range is
//! read in pages of `limit` keys, each page starting just after the previous page's last key,
//! all at the revision the first page was served at: the pages add up to one consistent
//! snapshot even while the cluster keeps writing. `ls` hands each page to its writer and drops
//! it, so its memory stays flat however many keys there are.

use etcd_client::{GetOptions, KeyValue};

use super::revisions::Header;
use super::{EtcdClient, EtcdError};
use crate::backends::{EtcdEntry, EtcdSelector};

/// Keys in the first page when values are read too.
pub const VALUE_PAGE: i64 = 500;
/// Keys in the first page for `ls` (keys only).
pub const KEY_PAGE: i64 = 5000;
/// Later pages are sized from the bytes per key seen so far to about this many bytes: small
/// enough that `ls` streams in flat memory, big enough that a large prefix takes few requests
/// (etcd 3.4 counts the rest of the range for every limited request, so 20 pages of a big
/// prefix cost it several times the CPU of 2; issue 8 measures a 10,000-key delete and a
/// 100,000-key `ls`).
const PAGE_BYTES: usize = 2 * 1024 * 1024;
/// Bounds of an adaptive page.
const PAGE_MIN: i64 = 10;
const PAGE_MAX: i64 = 100_000;

/// The size of the next page, after a page of `keys` keys holding `bytes` bytes.
pub fn next_page_size(keys: usize, bytes: usize) -> Option<i64> {
    if keys == 0 {
        return None;
    }
    let per_key = (bytes / keys).max(1);
    let n = i64::try_from(PAGE_BYTES / per_key).unwrap_or(PAGE_MAX);
    Some(n.clamp(PAGE_MIN, PAGE_MAX))
}

/// The end of the range of keys that start with `prefix` (etcd's `range_end`): the prefix
/// with its last byte below 0xff incremented. `[0]` (every key) for an empty or all-0xff prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The first key of a prefix's range (`[0]` for the empty prefix: etcd needs a key).
pub fn range_start(prefix: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        vec![0]
    } else {
        prefix.to_vec()
    }
}

/// A key and value as read, with the revision it was last modified at (the delete is guarded
/// on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEntry {
    pub entry: EtcdEntry,
    pub mod_revision: i64,
}

impl From<KeyValue> for ReadEntry {
    fn from(kv: KeyValue) -> Self {
        let mod_revision = kv.mod_revision();
        let (key, value) = kv.into_key_value();
        ReadEntry {
            entry: EtcdEntry { key, value },
            mod_revision,
        }
    }
}

/// A range read page by page at one revision.
pub struct Pages {
    kv: etcd_client::KvClient,
    endpoint: String,
    next: Option<Vec<u8>>,
    end: Vec<u8>,
    revision: i64,
    keys_only: bool,
    page: i64,
    remaining: Option<u64>,
    /// The first page's header and the number of keys in the whole range.
    first: Option<(Header, i64)>,
}

impl Pages {
    /// Reads at `revision` (an earlier state of the range) instead of the current one.
    pub fn at_revision(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }

    /// The first answer's header and how many keys the whole range holds (known after the
    /// first page).
    pub fn first_answer(&self) -> Option<(Header, i64)> {
        self.first
    }

    /// The revision the pages are read at (known after the first page).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The next page, or `None` when the range is exhausted (or `limit` keys were read).
    pub async fn next_page(&mut self) -> Result<Option<Vec<KeyValue>>, EtcdError> {
        let Some(start) = self.next.take() else {
            return Ok(None);
        };
        let mut limit = self.page;
        if let Some(r) = self.remaining {
            if r == 0 {
                return Ok(None);
            }
            limit = limit.min(i64::try_from(r).unwrap_or(i64::MAX));
        }
        let mut opts = GetOptions::new().with_limit(limit);
        if !self.end.is_empty() {
            opts = opts.with_range(self.end.clone());
        }
        if self.revision > 0 {
            opts = opts.with_revision(self.revision);
        }
        if self.keys_only {
            opts = opts.with_keys_only();
        }
        let mut resp = self
            .kv
            .get(start, Some(opts))
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "reading a range", &e))?;
        if self.revision == 0 {
            self.revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        }
        if self.first.is_none() {
            self.first = Some((
                resp.header().map(Header::from).unwrap_or_default(),
                resp.count(),
            ));
        }
        let kvs = resp.take_kvs();
        let bytes = kvs
            .iter()
            .map(|kv| kv.key().len() + kv.value().len() + 16)
            .sum();
        if let Some(n) = next_page_size(kvs.len(), bytes) {
            self.page = n;
        }
        if resp.more()
            && let Some(last) = kvs.last()
        {
            let mut next = last.key().to_vec();
            next.push(0);
            self.next = Some(next);
        }
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(kvs.len() as u64);
        }
        Ok(Some(kvs))
    }
}

impl EtcdClient {
    /// Pages over one key (`end` empty) or the range `[start, end)`.
    pub(crate) fn pages(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        keys_only: bool,
        limit: Option<u64>,
    ) -> Pages {
        Pages {
            kv: self.kv(),
            endpoint: self.endpoint.clone(),
            next: Some(start),
            end,
            revision: 0,
            keys_only,
            page: if keys_only { KEY_PAGE } else { VALUE_PAGE },
            remaining: limit,
            first: None,
        }
    }

    /// Pages over what a selector names.
    pub(crate) fn pages_of(&self, selector: &EtcdSelector, keys_only: bool) -> Pages {
        match selector {
            EtcdSelector::Key(k) => self.pages(k.as_bytes().to_vec(), Vec::new(), keys_only, None),
            EtcdSelector::Prefix(p) => self.pages(
                range_start(p.as_bytes()),
                prefix_end(p.as_bytes()),
                keys_only,
                None,
            ),
        }
    }

    /// Every key and value a selector names, at one revision (returned with them).
    pub(crate) async fn read_at_one_revision(
        &self,
        selector: &EtcdSelector,
    ) -> Result<(i64, Vec<ReadEntry>), EtcdError> {
        let mut pages = self.pages_of(selector, false);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page.into_iter().map(ReadEntry::from));
        }
        Ok((pages.revision(), all))
    }

    /// Counts the keys in `[start, end)` (one key when `end` is empty) without reading them.
    pub(crate) async fn count_range(&self, start: &[u8], end: &[u8]) -> Result<u64, EtcdError> {
        let mut opts = GetOptions::new().with_count_only();
        if !end.is_empty() {
            opts = opts.with_range(end.to_vec());
        }
        let resp = self
            .kv()
            .get(start.to_vec(), Some(opts))
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "counting keys", &e))?;
        Ok(u64::try_from(resp.count()).unwrap_or(0))
    }

    /// The number of keys that start with `prefix` (all keys for an empty prefix).
    pub async fn count_prefix(&self, prefix: &[u8]) -> Result<u64, EtcdError> {
        self.count_range(&range_start(prefix), &prefix_end(prefix))
            .await
    }

    /// Hands every key under `prefix` (at most `limit`) to `write`, page by page, never
    /// holding more than one page. Stops early, without error, when `write` fails (a closed
    /// pipe: `chaos etcd ls | head`); returns how many keys were handed over and the revision.
    pub async fn for_each_key(
        &self,
        prefix: &[u8],
        limit: Option<u64>,
        mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<(u64, i64), EtcdError> {
        let mut pages = self.pages(range_start(prefix), prefix_end(prefix), true, limit);
        let mut n = 0u64;
        while let Some(page) = pages.next_page().await? {
            for kv in &page {
                if write(kv.key()).is_err() {
                    return Ok((n, pages.revision()));
                }
                n += 1;
            }
        }
        Ok((n, pages.revision()))
    }

    /// One key's value, or `None` when it does not exist.
    pub async fn get_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, EtcdError> {
        let mut resp = self
            .kv()
            .get(key.to_vec(), None)
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "reading a key", &e))?;
        Ok(resp
            .take_kvs()
            .into_iter()
            .next()
            .map(|kv| kv.into_key_value().1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_aim_at_two_mebibytes_within_bounds() {
        assert_eq!(next_page_size(0, 0), None);
        // Kubernetes objects of ~8 KiB: 256 a page.
        assert_eq!(next_page_size(500, 500 * 8192), Some(256));
        // Keys only, ~60 bytes each.
        assert_eq!(next_page_size(5000, 5000 * 60), Some(34_952));
        assert_eq!(next_page_size(10, 10), Some(PAGE_MAX));
        assert_eq!(next_page_size(1, 1024 * 1024 * 1024), Some(PAGE_MIN));
    }

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
        assert_eq!(range_start(b""), vec![0]);
    }
}
