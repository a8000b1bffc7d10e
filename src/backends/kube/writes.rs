//! The API writes that faults and their undos make: deletes, finalizers, a namespace's
//! `/finalize`, cordons and taints.
//!
//! Why it exists: these are the writes a playbook makes through the API, and each must do
//! exactly what its `kubectl` counterpart does (a forced delete is grace 0 + `Background`) and
//! must not clobber a concurrent writer — a controller may be changing the same object while a
//! fault is injected or undone. Finalizers are therefore changed with JSON patches whose
//! `test` operations pin what was read (the list, or the entry at the index being removed), and
//! node taints with a patch pinned to the `resourceVersion`; when a test fails the object is
//! read again and the change recomputed. Every operation says whether it changed anything, so
//! the engine only undoes what it did.

use ::kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use k8s_openapi::api::core::v1::{Namespace, Node};
use serde_json::{Value, json};

use super::KubeBackend;
use super::error::status_code;
use crate::backends::{BackendError, DeleteOptions, FinalizerOp, WriteCheck};
use crate::playbook::model::{NodeTaint, Propagation, ResourceRef, TaintEffect};

/// How often a write is recomputed after losing a race with another writer.
const ATTEMPTS: usize = 8;

/// What a finalizer edit decided after reading the object.
enum Edit<T> {
    /// Nothing to change; the result as it is.
    Done(T),
    /// Send this JSON patch; the result once it is applied.
    Patch(Value, T),
}

/// A JSON patch from its operations (kube's `Patch::Json` wants json-patch's type; it is
/// inferred here so this crate does not depend on json-patch directly).
fn json_patch(ops: Value) -> Result<Patch<()>, BackendError> {
    serde_json::from_value(ops)
        .map(Patch::Json)
        .map_err(|e| BackendError::failed(format!("internal error building a JSON patch: {e}")))
}

/// A write that lost a race: a failed `test` (422) or a stale `resourceVersion` (409).
fn lost_race(e: &::kube::Error) -> bool {
    matches!(status_code(e), Some(409 | 422))
}

pub(crate) fn effect_name(e: TaintEffect) -> &'static str {
    match e {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

impl KubeBackend {
    pub(crate) async fn delete(
        &self,
        target: &ResourceRef,
        opts: &DeleteOptions,
    ) -> Result<(), BackendError> {
        let r = self.resolve(&target.api_version, &target.kind).await?;
        let api = self.dynamic_api(&r, target.namespace.as_deref());
        let dp = DeleteParams {
            grace_period_seconds: opts
                .grace_period_seconds
                .map(|g| u32::try_from(g.max(0)).unwrap_or(u32::MAX)),
            propagation_policy: opts.propagation.map(|p| match p {
                Propagation::Foreground => ::kube::api::PropagationPolicy::Foreground,
                Propagation::Background => ::kube::api::PropagationPolicy::Background,
                Propagation::Orphan => ::kube::api::PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&target.name, &dp).await {
            Ok(_) => Ok(()),
            // A namespace that is already being deleted answers a second delete with 409
            // Conflict; it is on its way out, which is what the delete asked for.
            Err(::kube::Error::Api(status)) if status.code == 409 => {
                match api.get_opt(&target.name).await {
                    Ok(Some(o)) if o.metadata.deletion_timestamp.is_some() => Ok(()),
                    Ok(None) => Ok(()),
                    _ => Err(self.fail("delete", &target.to_string(), ::kube::Error::Api(status))),
                }
            }
            Err(e) => Err(self.fail("delete", &target.to_string(), e)),
        }
    }

    async fn object_api(&self, target: &ResourceRef) -> Result<Api<DynamicObject>, BackendError> {
        let r = self.resolve(&target.api_version, &target.kind).await?;
        Ok(self.dynamic_api(&r, target.namespace.as_deref()))
    }

    /// Adds or removes one finalizer; `Ok(false)` when it was already there / not there.
    pub(crate) async fn finalizer(
        &self,
        target: &ResourceRef,
        finalizer: &str,
        op: FinalizerOp,
    ) -> Result<bool, BackendError> {
        let verb = match op {
            FinalizerOp::Add => format!("add finalizer `{finalizer}` to"),
            FinalizerOp::Remove => format!("remove finalizer `{finalizer}` from"),
        };
        self.patch_finalizers(target, &verb, |list, rv| {
            let current = list.clone().unwrap_or_default();
            match op {
                FinalizerOp::Add if current.iter().any(|f| f == finalizer) => Edit::Done(false),
                FinalizerOp::Add => Edit::Patch(
                    match list {
                        Some(list) => json!([
                            {"op": "test", "path": "/metadata/finalizers", "value": list},
                            {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
                        ]),
                        None => json!([
                            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                            {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
                        ]),
                    },
                    true,
                ),
                FinalizerOp::Remove => {
                    let at: Vec<usize> = current
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| *f == finalizer)
                        .map(|(i, _)| i)
                        .collect();
                    if at.is_empty() {
                        return Edit::Done(false);
                    }
                    // Highest index first, so the earlier indexes stay valid.
                    let ops: Vec<Value> = at
                        .iter()
                        .rev()
                        .flat_map(|i| {
                            let path = format!("/metadata/finalizers/{i}");
                            [
                                json!({"op": "test", "path": path, "value": finalizer}),
                                json!({"op": "remove", "path": path}),
                            ]
                        })
                        .collect();
                    Edit::Patch(Value::Array(ops), true)
                }
            }
        })
        .await
    }

    /// Removes every finalizer; returns the ones removed.
    pub(crate) async fn clear_finalizers(
        &self,
        target: &ResourceRef,
    ) -> Result<Vec<String>, BackendError> {
        self.patch_finalizers(target, "remove the finalizers of", |list, _| {
            let list = list.unwrap_or_default();
            if list.is_empty() {
                return Edit::Done(Vec::new());
            }
            let ops = json!([
                {"op": "test", "path": "/metadata/finalizers", "value": list},
                {"op": "remove", "path": "/metadata/finalizers"},
            ]);
            Edit::Patch(ops, list)
        })
        .await
    }

    /// The optimistic loop both finalizer edits share: read the object, let `edit` decide
    /// from its `metadata.finalizers` (and resourceVersion) on a JSON patch whose `test` ops
    /// guard what it read, and send it. A patch refused because the object changed meanwhile
    /// is planned again from a fresh read; refused again with nothing changed, the refusal
    /// is real and reported.
    async fn patch_finalizers<T>(
        &self,
        target: &ResourceRef,
        verb: &str,
        edit: impl Fn(Option<Vec<String>>, &str) -> Edit<T>,
    ) -> Result<T, BackendError> {
        let api = self.object_api(target).await?;
        let what = target.to_string();
        let mut lost: Option<(String, ::kube::Error)> = None;
        for _ in 0..ATTEMPTS {
            let obj = api
                .get(&target.name)
                .await
                .map_err(|e| self.fail("get", &what, e))?;
            let rv = obj.metadata.resource_version.clone().unwrap_or_default();
            if let Some((old_rv, e)) = lost.take()
                && old_rv == rv
            {
                // Nothing changed since the patch was refused: the refusal is real.
                return Err(self.fail(verb, &what, e));
            }
            let (ops, done) = match edit(obj.metadata.finalizers.clone(), &rv) {
                Edit::Done(v) => return Ok(v),
                Edit::Patch(ops, done) => (ops, done),
            };
            match api
                .patch(&target.name, &PatchParams::default(), &json_patch(ops)?)
                .await
            {
                Ok(_) => return Ok(done),
                Err(e) if lost_race(&e) => lost = Some((rv, e)),
                Err(e) => return Err(self.fail(verb, &what, e)),
            }
        }
        Err(self.contended(verb, &what))
    }

    /// A dry-run empty merge patch (`kubectl patch --dry-run=server -p '{}'`): admission runs
    /// as for a real edit, nothing is stored. A refusal (404, 403, 409, 422) is an answer, not
    /// an error: the `resource` condition's `writable`.
    pub(crate) async fn write_check(
        &self,
        target: &ResourceRef,
    ) -> Result<WriteCheck, BackendError> {
        let api = self.object_api(target).await?;
        let pp = PatchParams {
            dry_run: true,
            ..PatchParams::default()
        };
        match api.patch(&target.name, &pp, &Patch::Merge(json!({}))).await {
            Ok(_) => Ok(WriteCheck::Accepted),
            Err(::kube::Error::Api(s)) if matches!(s.code, 403 | 404 | 409 | 422) => {
                Ok(WriteCheck::Refused {
                    code: s.code,
                    message: s.message,
                })
            }
            Err(e) => Err(self.fail("dry-run patch", &target.to_string(), e)),
        }
    }

    /// `PUT /api/v1/namespaces/{name}/finalize` with `spec.finalizers` emptied.
    pub(crate) async fn finalize_namespace(&self, name: &str) -> Result<(), BackendError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let what = format!("namespace {name}");
        let verb = "clear the finalizers (/finalize) of";
        for _ in 0..ATTEMPTS {
            let mut ns = api
                .get(name)
                .await
                .map_err(|e| self.fail("get", &what, e))?;
            ns.spec.get_or_insert_with(Default::default).finalizers = Some(Vec::new());
            match api
                .replace_subresource("finalize", name, &PostParams::default(), &ns)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if status_code(&e) == Some(409) => continue,
                Err(e) => return Err(self.fail(verb, &what, e)),
            }
        }
        Err(self.contended(verb, &what))
    }

    /// Sets or clears `spec.unschedulable`, as `kubectl cordon`/`uncordon` do.
    pub(crate) async fn cordon(&self, node: &str, cordoned: bool) -> Result<(), BackendError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let patch =
            json!({"spec": {"unschedulable": if cordoned { json!(true) } else { Value::Null }}});
        let verb = if cordoned { "cordon" } else { "uncordon" };
        match api
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(404) => Err(self.node_missing(node).await),
            Err(e) => Err(self.fail(verb, &format!("node {node}"), e)),
        }
    }

    /// Adds (replacing one with the same key and effect) or removes a taint; idempotent.
    pub(crate) async fn taint(&self, taint: &NodeTaint, present: bool) -> Result<(), BackendError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let node = taint.node.name();
        let what = format!("node {node}");
        let effect = effect_name(taint.effect);
        let verb = if present {
            format!("add taint {}:{effect} to", taint.key)
        } else {
            format!("remove taint {}:{effect} from", taint.key)
        };
        let mut lost: Option<(String, ::kube::Error)> = None;
        for _ in 0..ATTEMPTS {
            let n = match api.get(node).await {
                Ok(n) => n,
                Err(e) if status_code(&e) == Some(404) => {
                    return Err(self.node_missing(node).await);
                }
                Err(e) => return Err(self.fail("get", &what, e)),
            };
            let rv = n.metadata.resource_version.clone().unwrap_or_default();
            if let Some((old_rv, e)) = lost.take()
                && old_rv == rv
            {
                return Err(self.fail(&verb, &what, e));
            }
            let old: Vec<Value> = n
                .spec
                .and_then(|s| s.taints)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| serde_json::to_value(t).ok())
                .collect();
            let same = |t: &Value| t["key"] == taint.key.as_str() && t["effect"] == effect;
            let mut new: Vec<Value> = old.iter().filter(|t| !same(t)).cloned().collect();
            if present {
                let mut t = json!({"key": taint.key, "effect": effect});
                if let Some(v) = &taint.value {
                    t["value"] = json!(v);
                }
                // Keep the new taint where the old one was, so an unchanged taint is a no-op.
                let at = old
                    .iter()
                    .position(same)
                    .unwrap_or(new.len())
                    .min(new.len());
                new.insert(at, t);
            }
            if new == old {
                return Ok(());
            }
            let ops = json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "add", "path": "/spec/taints", "value": new},
            ]);
            match api
                .patch(node, &PatchParams::default(), &json_patch(ops)?)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if lost_race(&e) => lost = Some((rv, e)),
                Err(e) => return Err(self.fail(&verb, &what, e)),
            }
        }
        Err(self.contended(&verb, &what))
    }

    /// "no node `x`; the cluster has a, b" (the node names when they can be listed).
    pub(crate) async fn node_missing(&self, node: &str) -> BackendError {
        let api: Api<Node> = Api::all(self.client.clone());
        let names = match api.list(&Default::default()).await {
            Ok(list) => list
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => "(nodes could not be listed)".into(),
        };
        BackendError::not_found(format!("no node `{node}`; the cluster has {names}"))
    }

    fn contended(&self, verb: &str, what: &str) -> BackendError {
        BackendError::failed(format!(
            "cannot {verb} {what}: it kept changing under us ({ATTEMPTS} attempts); another writer is busy with it"
        ))
    }
}
