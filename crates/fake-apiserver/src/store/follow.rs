//! How the store takes in the storage: all of it at start ([`State::load`]), then what
//! others change there ([`State::follow`]): a raw `etcdctl put` or `del` under `/registry/`
//! becomes a change of the store with its revision, which API watches and the controllers
//! see like any other.

use tokio::time::Instant;

use super::{ChangeType, State, set_rv};
use crate::resources::ResourceDef;
use crate::storage::{Outside, Storage, StorageError, keys};
use crate::util;

impl State {
    /// A store over `storage`, filled with what it holds (`extra` kinds registered first,
    /// so that their stored objects are recognised). Watches from before its revision get
    /// 410, as after a restart of the real API server.
    pub(crate) fn load(
        storage: Box<dyn Storage>,
        extra: &[ResourceDef],
    ) -> Result<Self, StorageError> {
        let mut st = State::new();
        for def in extra {
            st.reg.add(def.clone());
        }
        st.storage = storage;
        let snap = st.storage.list_all()?;
        for (key, mut obj, rev) in snap.objects {
            let Some((res, ns, name)) = keys::parse(&st.reg, &key) else {
                continue;
            };
            set_rv(&mut obj, rev);
            if util::is_terminating(&obj) {
                st.terminating_since
                    .insert(util::uid_of(&obj).to_string(), Instant::now());
            }
            st.objects
                .entry(res.qualified())
                .or_default()
                .insert((ns, name), obj);
        }
        st.rv = snap.revision;
        st.compacted_rv = snap.revision;
        Ok(st)
    }

    /// Applies what others changed in the storage since the last look (a raw etcd delete
    /// or put), each as its own change with its revision, so API watchers see it.
    pub(crate) fn follow(&mut self) {
        for change in self.storage.outside_changes(None) {
            self.apply_outside(change);
        }
    }

    pub(super) fn apply_outside(&mut self, change: Outside) {
        match change {
            Outside::Put {
                key,
                mut value,
                revision,
            } => {
                let Some((res, ns, name)) = keys::parse(&self.reg, &key) else {
                    return;
                };
                set_rv(&mut value, revision);
                self.rv = self.rv.max(revision);
                let prev = self
                    .objects
                    .entry(res.qualified())
                    .or_default()
                    .insert((ns, name), value.clone());
                let uid = util::uid_of(&value).to_string();
                if util::is_terminating(&value) {
                    self.terminating_since
                        .entry(uid)
                        .or_insert_with(Instant::now);
                }
                let kind = if prev.is_some() {
                    ChangeType::Modified
                } else {
                    ChangeType::Added
                };
                self.record(&res, kind, &value, prev);
            }
            Outside::Delete { key, revision } => {
                let Some((res, ns, name)) = keys::parse(&self.reg, &key) else {
                    return;
                };
                let Some(mut obj) = self
                    .objects
                    .get_mut(&res.qualified())
                    .and_then(|b| b.remove(&(ns, name)))
                else {
                    return;
                };
                let prev = obj.clone();
                set_rv(&mut obj, revision);
                self.rv = self.rv.max(revision);
                self.forget(util::uid_of(&obj));
                self.record(&res, ChangeType::Deleted, &obj, Some(prev));
            }
        }
    }
}
