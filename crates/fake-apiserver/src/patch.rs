//! Patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7386), a strategic merge
//! patch that knows the list merge keys of the fields our tests touch, and a model of
//! server-side apply built on it.

use serde_json::{Map, Value};

/// How a list field merges under strategic merge patch and apply.
enum ListMerge {
    /// Replaced wholesale.
    Atomic,
    /// A set of scalars (`metadata.finalizers`): union.
    Set,
    /// Objects merged by the value of a key (`containers` by `name`).
    Keyed(&'static str),
}

/// List merge strategies of the Kubernetes types, by field name (enough for our kinds).
fn list_merge(field: &str, sample: &[Value]) -> ListMerge {
    match field {
        "finalizers" => ListMerge::Set,
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => ListMerge::Keyed("name"),
        "volumeMounts" => ListMerge::Keyed("mountPath"),
        "conditions" | "addresses" => ListMerge::Keyed("type"),
        "ownerReferences" => ListMerge::Keyed("uid"),
        "hostAliases" => ListMerge::Keyed("ip"),
        "topologySpreadConstraints" => ListMerge::Keyed("topologyKey"),
        "ports" if sample.iter().any(|p| p.get("containerPort").is_some()) => {
            ListMerge::Keyed("containerPort")
        }
        "ports" => ListMerge::Keyed("port"),
        _ => ListMerge::Atomic,
    }
}

/// RFC 7386 merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    let t = crate::util::obj_mut(target);
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Strategic merge patch: merge patch, plus list merge keys and the `$patch`,
/// `$deleteFromPrimitiveList/...` directives (`$retainKeys` and `$setElementOrder` are ignored).
pub(crate) fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = strip_directives(patch);
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip_directives(patch);
            return;
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return;
        }
        _ => {}
    }
    let t = crate::util::obj_mut(target);
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(o) if o.get("$patch").and_then(Value::as_str) == Some("delete") => {
                t.remove(k);
            }
            Value::Array(items) => {
                let entry = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                merge_list(entry, items, k);
            }
            _ => strategic_merge(t.entry(k.clone()).or_insert(Value::Null), v),
        }
    }
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(list), Some(gone)) =
                (t.get_mut(field).and_then(Value::as_array_mut), v.as_array())
        {
            list.retain(|x| !gone.contains(x));
        }
    }
}

fn merge_list(target: &mut Value, items: &[Value], field: &str) {
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(list) = target else { return };
    let mut sample = items.to_vec();
    sample.extend(list.iter().cloned());
    match list_merge(field, &sample) {
        ListMerge::Atomic => *list = items.iter().map(strip_directives).collect(),
        ListMerge::Set => {
            for it in items {
                if !list.contains(it) {
                    list.push(it.clone());
                }
            }
        }
        ListMerge::Keyed(key) => {
            if items
                .iter()
                .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                *list = items
                    .iter()
                    .filter(|i| i.get("$patch").is_none())
                    .map(strip_directives)
                    .collect();
                return;
            }
            for it in items {
                let kv = it.get(key);
                let pos = list.iter().position(|x| kv.is_some() && x.get(key) == kv);
                let delete = it.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        list.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => strategic_merge(&mut list[i], it),
                    (None, false) => list.push(strip_directives(it)),
                }
            }
        }
    }
}

/// Server-side apply, modelled: the applied configuration is merged like a strategic merge
/// patch, and fields this manager applied last time but left out now are removed. Field
/// ownership conflicts between managers are not modelled (apply always wins, as with
/// `force=true`).
pub(crate) fn apply(target: &mut Value, config: &Value, previous: Option<&Value>) {
    if let Some(prev) = previous {
        remove_dropped(target, prev, config);
    }
    strategic_merge(target, config);
}

fn remove_dropped(target: &mut Value, prev: &Value, config: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), prev.as_object()) else {
        return;
    };
    for (k, pv) in p {
        let Some(cv) = config.get(k) else {
            t.remove(k);
            continue;
        };
        let Some(tv) = t.get_mut(k) else { continue };
        match (pv, cv) {
            (Value::Object(_), Value::Object(_)) => remove_dropped(tv, pv, cv),
            (Value::Array(pa), Value::Array(ca)) => {
                let Some(list) = tv.as_array_mut() else {
                    continue;
                };
                let mut sample = pa.clone();
                sample.extend(ca.iter().cloned());
                match list_merge(k, &sample) {
                    ListMerge::Set => list.retain(|x| !pa.contains(x) || ca.contains(x)),
                    ListMerge::Keyed(key) => {
                        list.retain(|x| {
                            let kv = x.get(key);
                            let was = pa.iter().any(|i| i.get(key) == kv);
                            let is = ca.iter().any(|i| i.get(key) == kv);
                            !was || is
                        });
                        for item in list.iter_mut() {
                            let kv = item.get(key).cloned();
                            let old = pa.iter().find(|i| i.get(key) == kv.as_ref());
                            let new = ca.iter().find(|i| i.get(key) == kv.as_ref());
                            if let (Some(o), Some(n)) = (old, new) {
                                remove_dropped(item, o, n);
                            }
                        }
                    }
                    ListMerge::Atomic => {}
                }
            }
            _ => {}
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent<'a>(doc: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(p)
                .ok_or_else(|| format!("path segment {p:?} not found"))?,
            Value::Array(a) => {
                let i: usize = p
                    .parse()
                    .map_err(|_| format!("invalid array index {p:?}"))?;
                a.get_mut(i)
                    .ok_or_else(|| format!("array index {i} out of range"))?
            }
            _ => return Err(format!("cannot descend into {p:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    let Some((last, init)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse()
                    .map_err(|_| format!("invalid index {last:?}"))?
            };
            if i > a.len() {
                return Err(format!("index {i} out of range"));
            }
            a.insert(i, value);
        }
        _ => return Err(format!("cannot add at {path:?}")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let (last, init) = parts
        .split_last()
        .ok_or("cannot remove the whole document")?;
    match parent(doc, init)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("unable to remove nonexistent key: {last}")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("index {i} out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove at {path:?}")),
    }
}

fn get(doc: &Value, path: &str) -> Result<Value, String> {
    if path.is_empty() {
        return Ok(doc.clone());
    }
    let ptr: String = path.to_string();
    doc.pointer(&ptr)
        .cloned()
        .ok_or_else(|| format!("path {path:?} not found"))
}

/// RFC 6902 JSON patch.
pub(crate) fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("operation without path")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| "operation without value".to_string())
        };
        match op["op"].as_str().unwrap_or_default() {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, value()?)?;
            }
            "move" => {
                let from = op["from"].as_str().ok_or("move without from")?;
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().ok_or("copy without from")?;
                let v = get(doc, from)?;
                add(doc, path, v)?;
            }
            "test" => {
                if get(doc, path)? != value()? {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"finalizers": ["a", "b"]}});
        let ops = json!([
            {"op": "add", "path": "/metadata/finalizers/-", "value": "c"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "test", "path": "/metadata/finalizers/0", "value": "b"},
            {"op": "add", "path": "/metadata/labels", "value": {"x~y/z": "1"}},
            {"op": "replace", "path": "/metadata/labels/x~0y~1z", "value": "2"},
        ]);
        assert_eq!(json_patch(&mut d, &ops), Ok(()));
        assert_eq!(
            d,
            json!({"metadata": {"finalizers": ["b", "c"], "labels": {"x~y/z": "2"}}})
        );
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    #[test]
    fn strategic_merge_knows_merge_keys() {
        let mut d = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        strategic_merge(
            &mut d,
            &json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "c", "image": "y"}, {"name": "d", "image": "z"}]}}),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(
            d["spec"]["containers"],
            json!([{"name": "c", "image": "y"}, {"name": "d", "image": "z"}])
        );
        strategic_merge(
            &mut d,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["b"]));
        strategic_merge(
            &mut d,
            &json!({"spec": {"containers": [{"name": "d", "$patch": "delete"}]}}),
        );
        assert_eq!(
            d["spec"]["containers"],
            json!([{"name": "c", "image": "y"}])
        );
    }

    #[test]
    fn apply_removes_fields_it_no_longer_sets() {
        let first = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let mut obj = json!({"metadata": {"name": "x", "labels": {"other": "y"}}});
        apply(&mut obj, &first, None);
        let second = json!({"metadata": {"labels": {"a": "1"}}, "data": {"k": "w"}});
        apply(&mut obj, &second, Some(&first));
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x", "labels": {"other": "y", "a": "1"}}, "data": {"k": "w"}})
        );
    }
}
