//! Writes that need more than one call into the semantics: PUT and PATCH (all patch
//! formats, server-side apply), deletecollection, and the subresources `log`, `eviction`,
//! `binding` and `scale`.

use std::sync::Arc;

use hyper::Response;
use serde_json::{Value, json};

use crate::Shared;
use crate::error::ApiError;
use crate::patch;
use crate::router::{
    Body, Req, Target, json_response, name_of, ns_or_empty, selectors, text_response,
};
use crate::semantics::{self, DeleteOpts, Part};
use crate::util::{self, at, set_at, str_at};

fn part_of(t: &Target) -> Part {
    match t.sub.as_deref() {
        Some("status") => Part::Status,
        Some("finalize") => Part::Finalize,
        _ => Part::Main,
    }
}

/// PUT of an object, its status or (namespaces) its finalizers.
pub(crate) fn put(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = r.json_body()?;
    let part = part_of(t);
    shared.mutate(
        |st| match st.get(&t.res, ns_or_empty(t), name_of(t)).cloned() {
            Some(old) => {
                let (out, _) = semantics::update(st, &t.res, &old, body, part)?;
                Ok(json_response(200, &out))
            }
            // Events are the one built-in kind the real server creates on update.
            None if part == Part::Main && t.res.is("", "events") => {
                let mut body = body;
                semantics::check_identity(&t.res, t.ns.as_deref(), t.name.as_deref(), &mut body)?;
                Ok(json_response(
                    201,
                    &semantics::create(st, &t.res, t.ns.as_deref(), body)?,
                ))
            }
            None => Err(ApiError::not_found(&t.res, name_of(t))),
        },
    )
}

fn parse_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the apply body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

/// PATCH of an object or its status.
pub(crate) fn patch(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let ct = r
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let part = part_of(t);
    if ct == "application/apply-patch+yaml" {
        return apply(shared, r, t, part);
    }
    let known = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];
    if !known.contains(&ct.as_str()) || (ct.contains("strategic") && t.res.is_custom()) {
        return Err(ApiError::unsupported_media(&ct));
    }
    let doc = r.json_body()?;
    shared.mutate(|st| {
        let old = st
            .get(&t.res, ns_or_empty(t), name_of(t))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&t.res, name_of(t)))?;
        let mut target = old.clone();
        match ct.as_str() {
            "application/json-patch+json" => patch::json_patch(&mut target, &doc).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?,
            "application/merge-patch+json" => patch::merge_patch(&mut target, &doc),
            _ => patch::strategic_merge(&mut target, &doc),
        }
        let (out, _) = semantics::update(st, &t.res, &old, target, part)?;
        Ok(json_response(200, &out))
    })
}

fn apply(
    shared: &Arc<Shared>,
    r: &Req,
    t: &Target,
    part: Part,
) -> Result<Response<Body>, ApiError> {
    let manager = r.q("fieldManager").filter(|m| !m.is_empty()).ok_or_else(|| {
        ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
    })?;
    let config = parse_apply_body(&r.body)?;
    if config.get("apiVersion").is_none() || config.get("kind").is_none() {
        return Err(ApiError::bad_request(
            "apiVersion and kind must be set in an apply configuration",
        ));
    }
    shared.mutate(|st| {
        let (code, out) = match st.get(&t.res, ns_or_empty(t), name_of(t)).cloned() {
            None if part == Part::Main => {
                let mut obj = config.clone();
                semantics::check_identity(&t.res, t.ns.as_deref(), t.name.as_deref(), &mut obj)?;
                (201, semantics::create(st, &t.res, t.ns.as_deref(), obj)?)
            }
            None => return Err(ApiError::not_found(&t.res, name_of(t))),
            Some(old) => {
                let key = (util::uid_of(&old).to_string(), manager.to_string());
                let mut target = old.clone();
                patch::apply(&mut target, &config, st.applied.get(&key));
                let (out, _) = semantics::update(st, &t.res, &old, target, part)?;
                (200, out)
            }
        };
        if st.get(&t.res, ns_or_empty(t), name_of(t)).is_some() {
            st.applied.insert(
                (util::uid_of(&out).to_string(), manager.to_string()),
                config,
            );
        }
        Ok(json_response(code, &out))
    })
}

/// DELETE of a collection: each selected object is deleted as by a single DELETE.
pub(crate) fn delete_collection(
    shared: &Arc<Shared>,
    r: &Req,
    t: &Target,
) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(r, &t.res)?;
    let opts = DeleteOpts::parse(&r.json_body()?, &r.query);
    shared.mutate(|st| {
        let chosen: Vec<Value> = st
            .list(&t.res, t.ns.as_deref())
            .into_iter()
            .filter(|o| labels.matches(util::labels(o)) && fields.matches(o))
            .cloned()
            .collect();
        let mut items = Vec::new();
        for obj in chosen {
            if let Ok(out) = semantics::delete(
                st,
                &t.res,
                util::namespace_of(&obj),
                util::name_of(&obj),
                &opts,
            ) {
                items.push(if out["kind"] == "Status" { obj } else { out });
            }
        }
        let doc = json!({
            "kind": format!("{}List", t.res.kind),
            "apiVersion": t.res.api_version(),
            "metadata": { "resourceVersion": st.rv.to_string() },
            "items": items,
        });
        Ok(json_response(200, &doc))
    })
}

fn container_names(pod: &Value) -> (Vec<String>, Vec<String>) {
    let names = |field: &str| -> Vec<String> {
        at(pod, &["spec", field])
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let main = names("containers");
    let mut all = main.clone();
    all.extend(names("initContainers"));
    all.extend(names("ephemeralContainers"));
    (main, all)
}

/// The container a `pods/log` request is about: `container=`, or the only one.
// Upstream: pkg/registry/core/pod/strategy.go, LogLocation (the container checks).
pub(crate) fn log_container(pod: &Value, r: &Req) -> Result<String, ApiError> {
    let name = util::name_of(pod);
    let (main, all) = container_names(pod);
    let container = match r.q("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if main.len() == 1 => main[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                main.join(" ")
            )));
        }
    };
    if !all.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    Ok(container)
}

/// `GET .../pods/{name}/log`: the text set with `set_pod_log`.
pub(crate) fn logs(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let st = shared.lock();
    let name = name_of(t);
    let pod = st
        .get(&t.res, ns_or_empty(t), name)
        .ok_or_else(|| ApiError::not_found(&t.res, name))?;
    let container = log_container(pod, r)?;
    let previous = matches!(r.q("previous"), Some("true" | "1"));
    let key = (
        ns_or_empty(t).to_string(),
        name.to_string(),
        container.clone(),
        previous,
    );
    let text = match st.knobs.pod_logs.get(&key) {
        Some(text) => text.clone(),
        None if previous => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        None => String::new(),
    };
    let text = match r.q("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
            if !out.is_empty() && text.ends_with('\n') {
                out.push('\n');
            }
            out
        }
        None => text,
    };
    Ok(text_response(text))
}

fn success(code: u16) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code })
}

/// `POST .../pods/{name}/eviction`: a delete with the eviction's DeleteOptions (no
/// PodDisruptionBudgets are modelled).
pub(crate) fn evict(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = r.json_body()?;
    let opts = DeleteOpts::parse(body.get("deleteOptions").unwrap_or(&Value::Null), &[]);
    shared.mutate(|st| semantics::delete(st, &t.res, ns_or_empty(t), name_of(t), &opts))?;
    Ok(json_response(201, &success(201)))
}

/// `POST .../pods/{name}/binding`: what the scheduler does.
pub(crate) fn bind(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = r.json_body()?;
    let node = str_at(&body, &["target", "name"]).unwrap_or("").to_string();
    shared.mutate(|st| {
        let name = name_of(t);
        let old = st
            .get(&t.res, ns_or_empty(t), name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&t.res, name))?;
        if let Some(n) = str_at(&old, &["spec", "nodeName"]).filter(|n| !n.is_empty()) {
            return Err(ApiError::conflict(
                &t.res,
                name,
                &format!("pod {name} is already assigned to node \"{n}\""),
            ));
        }
        let mut new = old.clone();
        crate::scheduler::bind(&mut new, &node);
        st.update(&t.res, &old, new);
        Ok(json_response(201, &success(201)))
    })
}

/// `GET|PUT|PATCH .../{name}/scale` (autoscaling/v1 Scale).
pub(crate) fn scale(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let body = if r.method == "GET" {
        Value::Null
    } else {
        r.json_body()?
    };
    shared.mutate(|st| {
        let name = name_of(t);
        let old = st.get(&t.res, ns_or_empty(t), name).cloned().ok_or_else(|| ApiError::not_found(&t.res, name))?;
        let as_scale = |o: &Value| {
            json!({
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    "name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
                    "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
                    "creationTimestamp": o["metadata"]["creationTimestamp"],
                },
                "spec": { "replicas": o["spec"]["replicas"].as_i64().unwrap_or(1) },
                "status": { "replicas": o["status"]["replicas"].as_i64().unwrap_or(0) },
            })
        };
        if r.method == "GET" {
            return Ok(json_response(200, &as_scale(&old)));
        }
        let mut wanted = as_scale(&old);
        if r.method == "PUT" {
            wanted = body;
        } else if r.content_type.contains("json-patch") {
            patch::json_patch(&mut wanted, &body).map_err(|e| ApiError::new(422, "Invalid", e))?;
        } else {
            patch::merge_patch(&mut wanted, &body);
        }
        let replicas = wanted["spec"]["replicas"].as_i64().unwrap_or(0).max(0);
        let mut new = old.clone();
        set_at(&mut new, &["spec", "replicas"], json!(replicas));
        let (out, _) = semantics::update(st, &t.res, &old, new, Part::Main)?;
        Ok(json_response(200, &as_scale(&out)))
    })
}
