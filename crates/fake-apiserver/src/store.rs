//! The in-memory store: objects as JSON by resource and (namespace, name), the global
//! resourceVersion counter, and a bounded history of changes that watches replay.
//!
//! Every write goes through [`State::create`], [`State::update`] or [`State::remove`] (or
//! their `try_` forms, which say when the storage refused), which commit it to the
//! [`Storage`] (its revision becomes the resourceVersion) and append to the history.
//! `update` also carries the one rule the real registry applies on every write: an object
//! that is being deleted, has no finalizers left and a deletion grace period of 0 is
//! removed instead of stored.
//!
//! The maps here are the server's cache of the storage, as upstream's watch cache: in the
//! served mode the storage is etcd, and what others change there ([`State::follow`]) is
//! applied here, with its revision, as soon as the watch brings it, and before consistent
//! reads and writes the cache is caught up with what etcd holds ([`fresh`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::knobs::Knobs;
use crate::resources::{Registry, ResourceDef};
use crate::storage::memory::MemoryStorage;
use crate::storage::{Storage, StorageError, Write, keys};
use crate::util::{self, Rng};

mod follow;
pub(crate) mod fresh;
#[cfg(test)]
mod fresh_tests;

/// What happened to an object (the watch event type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One committed write, as watches see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub res: Arc<ResourceDef>,
    pub kind: ChangeType,
    /// The object after the write (for `Deleted`: its last state, with the deletion's resourceVersion).
    pub object: Value,
    /// The object before the write (`None` for `Added`), so selector watches can turn a
    /// modification that leaves or enters the selection into DELETED or ADDED.
    pub prev: Option<Value>,
}

pub(crate) const DEFAULT_HISTORY: usize = 1000;

type Objects = BTreeMap<(String, String), Value>;

/// Everything the server holds, behind one mutex.
pub(crate) struct State {
    pub reg: Registry,
    objects: HashMap<String, Objects>,
    pub rv: u64,
    history: VecDeque<Arc<Change>>,
    pub history_limit: usize,
    /// Watches that start at or after this resourceVersion can be served; older ones get 410.
    pub compacted_rv: u64,
    pub rng: Rng,
    pub knobs: Knobs,
    /// The last configuration each field manager applied, by (uid, manager): what
    /// server-side apply removes fields against.
    pub applied: HashMap<(String, String), Value>,
    /// When each terminating object (by uid) got its deletionTimestamp.
    pub terminating_since: HashMap<String, Instant>,
    storage: Box<dyn Storage>,
    /// Why the storage last refused a write made through an infallible method (the
    /// controllers' writes; they try again on their next pass).
    pub storage_error: Option<String>,
    /// Set when the storage refused an update or delete because the object had changed
    /// there since the store's copy (see [`fresh::write`]).
    stale_write: bool,
    /// While set (a request with `dryRun=All`), writes return what they would store and
    /// store nothing.
    pub dry_run: bool,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            reg: Registry::builtin(),
            objects: HashMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: DEFAULT_HISTORY,
            compacted_rv: 0,
            rng: Rng::seeded(),
            knobs: Knobs::default(),
            applied: HashMap::new(),
            terminating_since: HashMap::new(),
            storage: Box::new(MemoryStorage),
            storage_error: None,
            stale_write: false,
            dry_run: false,
        }
    }

    fn bucket(&self, res: &ResourceDef) -> Option<&Objects> {
        self.objects.get(&res.qualified())
    }

    pub(crate) fn get(&self, res: &ResourceDef, ns: &str, name: &str) -> Option<&Value> {
        let ns = if res.namespaced { ns } else { "" };
        self.bucket(res)?.get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of `res`, in one namespace or (`None`) all, ordered by namespace then name.
    pub(crate) fn list(&self, res: &ResourceDef, ns: Option<&str>) -> Vec<&Value> {
        let Some(b) = self.bucket(res) else {
            return Vec::new();
        };
        match ns {
            Some(ns) if res.namespaced => b
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v)
                .collect(),
            _ => b.values().collect(),
        }
    }

    /// Every namespaced object stored in `ns`, with its resource.
    pub(crate) fn in_namespace(&self, ns: &str) -> Vec<(Arc<ResourceDef>, Value)> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for res in self.reg.all().iter().filter(|r| r.namespaced) {
            let q = res.qualified();
            if seen.contains(&q) {
                continue;
            }
            seen.push(q);
            out.extend(
                self.list(res, Some(ns))
                    .into_iter()
                    .map(|o| (res.clone(), o.clone())),
            );
        }
        out
    }

    /// Every stored object with its resource (each storage bucket once).
    pub(crate) fn all_objects(&self) -> Vec<(Arc<ResourceDef>, Value)> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for res in self.reg.all() {
            let q = res.qualified();
            if seen.contains(&q) {
                continue;
            }
            seen.push(q);
            out.extend(
                self.list(res, None)
                    .into_iter()
                    .map(|o| (res.clone(), o.clone())),
            );
        }
        out
    }

    fn key(res: &ResourceDef, obj: &Value) -> (String, String) {
        let ns = if res.namespaced {
            util::namespace_of(obj)
        } else {
            ""
        };
        (ns.to_string(), util::name_of(obj).to_string())
    }

    /// Commits `write` to the storage: first what others changed there is applied, then
    /// the write; its revision becomes `obj`'s resourceVersion and the store's.
    fn commit(&mut self, write: Write<'_>, obj: &mut Value) -> Result<u64, StorageError> {
        self.follow();
        let rv = self.storage.commit(write, self.rv)?;
        for change in self.storage.outside_changes(Some(rv)) {
            self.apply_outside(change);
        }
        self.rv = self.rv.max(rv);
        set_rv(obj, rv);
        Ok(rv)
    }

    /// Remembers a refused write of an infallible method.
    fn refused(&mut self, what: &str, res: &ResourceDef, obj: &Value, e: &StorageError) {
        let msg = format!(
            "storage refused to {what} {} {}/{}: {e}",
            res.qualified(),
            util::namespace_of(obj),
            util::name_of(obj)
        );
        eprintln!("fake-apiserver: {msg}");
        self.storage_error = Some(msg);
    }

    fn storage_key(res: &ResourceDef, obj: &Value) -> String {
        let (ns, name) = Self::key(res, obj);
        keys::key(res, &ns, &name)
    }

    fn record(
        &mut self,
        res: &Arc<ResourceDef>,
        kind: ChangeType,
        object: &Value,
        prev: Option<Value>,
    ) {
        let change = Change {
            rv: self.rv,
            res: res.clone(),
            kind,
            object: object.clone(),
            prev,
        };
        self.history.push_back(Arc::new(change));
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
    }

    /// Stores a new object (metadata already filled in) and returns it as stored; when the
    /// storage refuses, returns it unstored (see [`State::try_create`]).
    pub(crate) fn create(&mut self, res: &Arc<ResourceDef>, obj: Value) -> Value {
        match self.try_create(res, obj.clone()) {
            Ok(v) => v,
            Err(e) => {
                self.refused("create", res, &obj, &e.1);
                obj
            }
        }
    }

    /// [`State::create`], or why the storage refused: the error for the client (409
    /// AlreadyExists when the key was created behind the server's back) and the cause.
    pub(crate) fn try_create(
        &mut self,
        res: &Arc<ResourceDef>,
        mut obj: Value,
    ) -> Result<Value, (ApiError, StorageError)> {
        if self.dry_run {
            return Ok(obj);
        }
        let key = Self::storage_key(res, &obj);
        let value = obj.clone();
        if let Err(e) = self.commit(
            Write::Create {
                key: &key,
                value: &value,
            },
            &mut obj,
        ) {
            let api = match e {
                StorageError::Conflict { .. } => ApiError::already_exists(res, util::name_of(&obj)),
                StorageError::Unavailable(ref m) => unavailable(m),
            };
            return Err((api, e));
        }
        if util::is_terminating(&obj) {
            self.terminating_since
                .insert(util::uid_of(&obj).to_string(), Instant::now());
        }
        let key = Self::key(res, &obj);
        self.objects
            .entry(res.qualified())
            .or_default()
            .insert(key, obj.clone());
        self.record(res, ChangeType::Added, &obj, None);
        Ok(obj)
    }

    /// Replaces `old` with `new`. A write that changes nothing is a no-op (no new
    /// resourceVersion, no event), as on the real server. An object being deleted with no
    /// finalizers left and grace 0 is removed instead. Returns the result and whether the
    /// object is gone; when the storage refuses, `old` as it was (see [`State::try_update`]).
    pub(crate) fn update(
        &mut self,
        res: &Arc<ResourceDef>,
        old: &Value,
        new: Value,
    ) -> (Value, bool) {
        match self.try_update(res, old, new) {
            Ok(out) => out,
            Err((_, e)) => {
                self.refused("update", res, old, &e);
                (old.clone(), false)
            }
        }
    }

    /// [`State::update`], or why the storage refused: 409 Conflict when the object was
    /// changed in storage since `old` was read (the etcd transaction's compare failed).
    pub(crate) fn try_update(
        &mut self,
        res: &Arc<ResourceDef>,
        old: &Value,
        mut new: Value,
    ) -> Result<(Value, bool), (ApiError, StorageError)> {
        util::set_at(
            &mut new,
            &["metadata", "resourceVersion"],
            old["metadata"]["resourceVersion"].clone(),
        );
        let gone = util::is_terminating(&new)
            && util::finalizers(&new).is_empty()
            && new["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0)
                == 0
            && (!res.is("", "namespaces") || crate::semantics::spec_finalizers(&new).is_empty());
        if (!gone && &new == old) || self.dry_run {
            return Ok((new, gone));
        }
        let skey = Self::storage_key(res, &new);
        let expect = rv_of(old);
        let value = new.clone();
        let write = if gone {
            Write::Delete { key: &skey, expect }
        } else {
            Write::Update {
                key: &skey,
                expect,
                value: &value,
            }
        };
        if let Err(e) = self.commit(write, &mut new) {
            self.stale_write |= matches!(e, StorageError::Conflict { .. });
            let api = match e {
                StorageError::Conflict { .. } => ApiError::modified(res, util::name_of(old)),
                StorageError::Unavailable(ref m) => unavailable(m),
            };
            return Err((api, e));
        }
        let key = Self::key(res, &new);
        let uid = util::uid_of(&new).to_string();
        if gone {
            if let Some(b) = self.objects.get_mut(&res.qualified()) {
                b.remove(&key);
            }
            self.forget(&uid);
            self.record(res, ChangeType::Deleted, &new, Some(old.clone()));
            return Ok((new, true));
        }
        if util::is_terminating(&new) && !util::is_terminating(old) {
            self.terminating_since.insert(uid, Instant::now());
        }
        self.objects
            .entry(res.qualified())
            .or_default()
            .insert(key, new.clone());
        self.record(res, ChangeType::Modified, &new, Some(old.clone()));
        Ok((new, false))
    }

    /// Removes an object at once (no finalizers, no grace): what the registry does once
    /// deletion is due, and what an etcd key delete does. `None` when there is no such
    /// object, or the storage refused (then [`State::storage_error`] says why).
    pub(crate) fn remove(&mut self, res: &Arc<ResourceDef>, ns: &str, name: &str) -> Option<Value> {
        let ns = if res.namespaced { ns } else { "" };
        let mut obj = self
            .objects
            .get(&res.qualified())?
            .get(&(ns.to_string(), name.to_string()))?
            .clone();
        if self.dry_run {
            return Some(obj);
        }
        let prev = obj.clone();
        let skey = keys::key(res, ns, name);
        let write = Write::Delete {
            key: &skey,
            expect: rv_of(&prev),
        };
        if let Err(e) = self.commit(write, &mut obj) {
            self.stale_write |= matches!(e, StorageError::Conflict { .. });
            self.refused("delete", res, &prev, &e);
            return None;
        }
        if let Some(b) = self.objects.get_mut(&res.qualified()) {
            b.remove(&(ns.to_string(), name.to_string()));
        }
        self.forget(util::uid_of(&obj));
        self.record(res, ChangeType::Deleted, &obj, Some(prev));
        Some(obj)
    }

    fn forget(&mut self, uid: &str) {
        self.terminating_since.remove(uid);
        self.applied.retain(|(u, _), _| u != uid);
    }

    /// Changes after `rv`, or `None` if some of them were already dropped from the history.
    pub(crate) fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.compacted_rv {
            return None;
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Some(self.history.iter().skip(start).cloned().collect())
    }

    /// Drops the whole history and moves the resourceVersion on (as an API server restart
    /// over a compacted etcd does): every watch from an earlier resourceVersion, open or
    /// resumed, gets 410 and must re-list; a list made afterwards can be watched from.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.compacted_rv = self.rv;
    }

    /// Fresh uid, creationTimestamp (and a name from generateName) for a new object.
    pub(crate) fn stamp_new(&mut self, obj: &mut Value) {
        let uid = self.rng.uid();
        util::set_at(obj, &["metadata", "uid"], Value::String(uid));
        util::set_at(
            obj,
            &["metadata", "creationTimestamp"],
            Value::String(util::now()),
        );
    }
}

pub(super) fn set_rv(obj: &mut Value, rv: u64) {
    util::set_at(
        obj,
        &["metadata", "resourceVersion"],
        Value::String(rv.to_string()),
    );
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// What the client gets when the storage does not answer (upstream: etcd errors become
/// 500 InternalError, staging/src/k8s.io/apiserver/pkg/storage/errors.go).
fn unavailable(why: &str) -> ApiError {
    ApiError::new(
        500,
        "InternalError",
        format!("Internal error occurred: {why}"),
    )
}
