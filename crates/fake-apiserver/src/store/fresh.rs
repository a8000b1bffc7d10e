//! Reads and writes that see what the storage holds, not only what the store's cache has
//! followed so far: the store follows etcd through a watch, asynchronously, so a key put
//! back with `etcdctl put` is in etcd before it is in the cache. Upstream's API server
//! reads etcd where it matters, and so does this one, by catching the cache up first:
//!
//! - GET and LIST without `resourceVersion` are consistent reads (upstream:
//!   staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go, `Get` delegates them to
//!   etcd, `GetList` with ConsistentListFromCache serves the cache only once it has reached
//!   etcd's current revision, GetCurrentResourceVersionFromStorage): the store asks the
//!   storage for its current revision and applies what the watch brings until it has
//!   reached it.
//! - With `resourceVersion=N` they are served once the cache has reached N (watch_cache.go
//!   waitUntilFreshAndBlock), and with `resourceVersion=0` from the cache as it is.
//! - Every write first catches up as a consistent read does (upstream's writes read the
//!   current object from etcd: staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go
//!   GuaranteedUpdate and conditionalDelete), and a write the storage refused because the
//!   object changed in the meantime is made once more from a fresh read (GuaranteedUpdate
//!   retries with the current state when its cached guess was stale).
//!
//! The wait is bounded as upstream's (3 s, watch_cache.go `blockTimeout`); past it the
//! request fails with upstream's "Too large resource version" timeout
//! (staging/src/k8s.io/apiserver/pkg/storage/errors.go NewTooLargeResourceVersionError).

use std::time::Duration;

use serde_json::json;

use super::{State, unavailable};
use crate::Shared;
use crate::error::ApiError;

/// How long a request waits for the cache to catch up (upstream's `blockTimeout`).
pub(crate) const FRESH_TIMEOUT: Duration = Duration::from_secs(3);
/// What the timeout tells the client to wait before trying again (upstream's
/// `resourceVersionTooHighRetrySeconds`).
const RETRY_SECONDS: u64 = 1;

/// How fresh what a request reads must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// `resourceVersion=0`: whatever the cache holds.
    Cached,
    /// No `resourceVersion`: what the storage holds now (a quorum read).
    Current,
    /// `resourceVersion=N`: not older than N.
    NotOlderThan(u64),
}

impl Freshness {
    /// What a GET or LIST's `resourceVersion` parameter asks for.
    pub(crate) fn of_read(resource_version: Option<&str>) -> Result<Freshness, ApiError> {
        match resource_version.unwrap_or("") {
            "" => Ok(Freshness::Current),
            "0" => Ok(Freshness::Cached),
            v => v
                .parse()
                .map(Freshness::NotOlderThan)
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}"))),
        }
    }
}

impl State {
    /// Applies what others changed in the storage until the cache is as fresh as `need`
    /// asks (see the module doc); the 504 "Too large resource version" when it cannot
    /// within [`FRESH_TIMEOUT`], a 500 when the storage does not answer.
    pub(crate) fn catch_up(&mut self, need: Freshness) -> Result<(), ApiError> {
        let target = match need {
            Freshness::Cached => return Ok(()),
            Freshness::Current => match self.storage.current_revision() {
                Ok(Some(revision)) => revision,
                Ok(None) => return Ok(()),
                Err(e) => return Err(unavailable(&e.to_string())),
            },
            Freshness::NotOlderThan(rv) => rv,
        };
        if self.rv >= target {
            return Ok(());
        }
        let (changes, reached) = self.storage.changes_through(target, FRESH_TIMEOUT);
        for change in changes {
            self.apply_outside(change);
        }
        // A progress notification moves the cache's revision on without a change, as a
        // bookmark from etcd moves upstream's watch cache (watch_cache.go UpdateResourceVersion).
        self.rv = self.rv.max(reached);
        if self.rv >= target {
            Ok(())
        } else {
            Err(too_large_resource_version(target, self.rv))
        }
    }

    /// Whether a write was refused since the last call because the object had changed in
    /// the storage (the store's copy was stale).
    pub(crate) fn take_stale_write(&mut self) -> bool {
        std::mem::take(&mut self.stale_write)
    }
}

/// Serves a read once the cache is as fresh as `need`.
pub(crate) fn read<T>(
    shared: &Shared,
    need: Freshness,
    serve: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    shared.mutate(|st| st.catch_up(need))?;
    serve()
}

/// Makes a write from the storage's current state, and once more from a fresh read when
/// the storage refused it because the cache was stale.
pub(crate) fn write<T>(
    shared: &Shared,
    make: impl Fn() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    shared.mutate(|st| {
        st.stale_write = false;
        st.catch_up(Freshness::Current)
    })?;
    let out = make();
    if out.is_err() && shared.mutate(State::take_stale_write) {
        shared.mutate(|st| st.catch_up(Freshness::Current))?;
        return make();
    }
    out
}

/// Upstream's storage.NewTooLargeResourceVersionError: 504 Timeout, retry after a second.
fn too_large_resource_version(wanted: u64, current: u64) -> ApiError {
    ApiError::new(
        504,
        "Timeout",
        format!("Timeout: Too large resource version: {wanted}, current: {current}"),
    )
    .with_details(json!({
        "causes": [{ "reason": "ResourceVersionTooLarge", "message": "Too large resource version" }],
        "retryAfterSeconds": RETRY_SECONDS,
    }))
}
