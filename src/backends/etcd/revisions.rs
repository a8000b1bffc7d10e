//! Reads that show etcd's own bookkeeping, for `chaos etcd get|ls --rev N -w json` and `chaos
//! etcd watch`: the response header (which revision answered) and each key's create and mod
//! revisions, version and lease, read now or at an earlier revision, and the events after a
//! revision. The game-day reads (`get_value`, `for_each_key`) stay lean; these carry what a
//! person comparing notes with `etcdctl -w json` needs.

use etcd_client::{EventType, GetOptions, KeyValue, ResponseHeader, WatchOptions, WatchStream};

use super::range::{prefix_end, range_start};
use super::{EtcdClient, EtcdError};

/// Which revision answered, and from which member (etcd's `ResponseHeader`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Header {
    pub cluster_id: u64,
    pub member_id: u64,
    pub revision: i64,
    pub raft_term: u64,
}

impl From<&ResponseHeader> for Header {
    fn from(h: &ResponseHeader) -> Self {
        Header {
            cluster_id: h.cluster_id(),
            member_id: h.member_id(),
            revision: h.revision(),
            raft_term: h.raft_term(),
        }
    }
}

/// A key with its value (empty when read keys-only) and etcd's bookkeeping of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    /// How many times the key was written since it was created (1 on creation).
    pub version: i64,
    /// The lease the key is attached to; 0 for none.
    pub lease: i64,
}

impl From<&KeyValue> for Kv {
    fn from(kv: &KeyValue) -> Self {
        Kv {
            key: kv.key().to_vec(),
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
            lease: kv.lease(),
        }
    }
}

/// A key range read at one revision: the first page's header, the keys in the range (all of
/// them, not only those listed) and whether a limit cut the listing short.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeSummary {
    pub header: Header,
    pub count: i64,
    pub listed: u64,
    pub more: bool,
}

/// A change to a watched key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub deleted: bool,
    /// The key as it is after the event; for a delete, the key with the deleting revision as
    /// its `mod_revision` and no value.
    pub kv: Kv,
}

/// A watch from a revision on: events in the order etcd sends them.
pub struct EtcdWatch {
    stream: WatchStream,
    endpoint: String,
}

impl EtcdWatch {
    /// The next batch of events with the header that came with them; `None` when etcd closed
    /// the watch. A compacted start revision or a cancelled watch is an error saying so.
    pub async fn next(&mut self) -> Result<Option<(Header, Vec<WatchEvent>)>, EtcdError> {
        loop {
            let Some(resp) = self
                .stream
                .message()
                .await
                .map_err(|e| EtcdError::request(&self.endpoint, "watching", &e))?
            else {
                return Ok(None);
            };
            if resp.canceled() {
                let why = if resp.compact_revision() > 0 {
                    format!(
                        "the start revision was compacted; the oldest revision left is {}",
                        resp.compact_revision()
                    )
                } else {
                    resp.cancel_reason().to_string()
                };
                return Err(EtcdError::Request {
                    endpoint: self.endpoint.clone(),
                    what: "watching".into(),
                    reason: format!("etcd cancelled the watch: {why}"),
                    unreachable: false,
                });
            }
            if resp.events().is_empty() {
                continue;
            }
            let header = resp.header().map(Header::from).unwrap_or_default();
            let events = resp
                .events()
                .iter()
                .filter_map(|e| {
                    Some(WatchEvent {
                        deleted: e.event_type() == EventType::Delete,
                        kv: Kv::from(e.kv()?),
                    })
                })
                .collect();
            return Ok(Some((header, events)));
        }
    }
}

impl EtcdClient {
    /// One key with its bookkeeping, now or at `revision`, and the header of the answer.
    pub async fn get_kv(
        &self,
        key: &[u8],
        revision: Option<i64>,
    ) -> Result<(Header, Option<Kv>), EtcdError> {
        let opts = revision.map(|r| GetOptions::new().with_revision(r));
        let resp = self
            .kv()
            .get(key.to_vec(), opts)
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "reading a key", &e))?;
        let header = resp.header().map(Header::from).unwrap_or_default();
        Ok((header, resp.kvs().first().map(Kv::from)))
    }

    /// Hands every key under `prefix` (at most `limit`, keys only unless `values`) to `write`
    /// page by page, all read at one revision: `revision`, or the current one. Stops early,
    /// without error, when `write` fails (a closed pipe); the summary says what was read.
    pub async fn for_each_kv(
        &self,
        prefix: &[u8],
        limit: Option<u64>,
        revision: Option<i64>,
        values: bool,
        mut write: impl FnMut(&Header, &Kv) -> std::io::Result<()>,
    ) -> Result<RangeSummary, EtcdError> {
        let mut pages = self.pages(range_start(prefix), prefix_end(prefix), !values, limit);
        if let Some(r) = revision {
            pages = pages.at_revision(r);
        }
        let mut summary = RangeSummary::default();
        while let Some(page) = pages.next_page().await? {
            if let Some((header, count)) = pages.first_answer() {
                summary.header = header;
                summary.count = count;
            }
            for kv in &page {
                if write(&summary.header, &Kv::from(kv)).is_err() {
                    return Ok(summary);
                }
                summary.listed += 1;
            }
        }
        if summary.header.revision == 0 {
            // An empty range still has a header: the count-only read says which revision.
            let (header, _) = self.get_kv(&range_start(prefix), revision).await?;
            summary.header = header;
        }
        summary.more = i64::try_from(summary.listed).unwrap_or(i64::MAX) < summary.count;
        Ok(summary)
    }

    /// Watches the keys under `prefix` (or the one key `prefix`, when `exact`), from
    /// `start_revision` (inclusive) or from now.
    pub async fn watch(
        &self,
        prefix: &[u8],
        exact: bool,
        start_revision: Option<i64>,
    ) -> Result<EtcdWatch, EtcdError> {
        let mut opts = WatchOptions::new();
        if !exact {
            opts = opts.with_range(prefix_end(prefix));
        }
        if let Some(r) = start_revision {
            opts = opts.with_start_revision(r);
        }
        let start = if exact {
            prefix.to_vec()
        } else {
            range_start(prefix)
        };
        let stream = self
            .watcher()
            .watch(start, Some(opts))
            .await
            .map_err(|e| EtcdError::request(&self.endpoint, "starting a watch", &e))?;
        Ok(EtcdWatch {
            stream,
            endpoint: self.endpoint.clone(),
        })
    }
}
