//! HTTP: the accept loop, request recording and fault injection, URL routing to
//! discovery, collections, objects and subresources.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::Shared;
use crate::auth::{self, Caller};
use crate::discovery;
use crate::error::ApiError;
use crate::knobs::{FaultAction, RecordedRequest};
use crate::resources::ResourceDef;
use crate::select::{FieldSelector, LabelSelector};
use crate::semantics;
use crate::store::fresh::{self, Freshness};
use crate::subresources;
use crate::tls::TlsServer;
use crate::watch::{self, WatchParams};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
struct Disconnect;

impl std::fmt::Display for Disconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: disconnect")
    }
}

impl std::error::Error for Disconnect {}

/// The accept loop: plain HTTP without authentication (in-process mode), or, with `tls`,
/// HTTPS whose client certificate decides who the caller is (served mode).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<Arc<TlsServer>>) {
    let mut conns = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let tls = tls.clone();
        conns.spawn(async move {
            match tls {
                None => serve_connection(stream, shared, Caller::Trusted).await,
                Some(tls) => {
                    if let Some((stream, caller)) = tls.accept(stream).await {
                        serve_connection(stream, shared, caller).await;
                    }
                }
            }
        });
        while conns.try_join_next().is_some() {}
    }
}

async fn serve_connection<S>(stream: S, shared: Arc<Shared>, caller: Caller)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let caller = Arc::new(caller);
    let svc = service_fn(move |req| handle(shared.clone(), caller.clone(), req));
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

pub(crate) fn json_response(code: u16, v: &Value) -> Response<Body> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn text_response(text: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(text)).boxed());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// One incoming request, read whole.
pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub accept: String,
    pub body: Bytes,
}

impl Req {
    pub(crate) fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        if crate::protobuf::is_protobuf(&self.content_type) {
            return crate::protobuf::decode(&self.body);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

async fn handle(
    shared: Arc<Shared>,
    caller: Arc<Caller>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Disconnect> {
    let header = |name: hyper::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(hyper::header::CONTENT_TYPE);
    let accept = header(hyper::header::ACCEPT).unwrap_or_default();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Disconnect),
    };
    // Authentication and authorization come first, as in upstream's handler chain.
    let refusal = auth::check(&caller, &method, &path, &raw_query);
    let (index, fault) = {
        let mut st = shared.lock();
        st.knobs.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: raw_query.clone(),
            content_type: content_type.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
            status: 0,
        });
        (
            st.knobs.requests.len() - 1,
            match refusal {
                None => st.knobs.take_fault(&method, &path),
                Some(_) => None,
            },
        )
    };
    let resp = match (refusal, fault) {
        (Some(refused), _) => Some(error_response(&refused)),
        (None, Some(FaultAction::Disconnect)) => return Err(Disconnect),
        (
            None,
            Some(FaultAction::Respond {
                code,
                reason,
                message,
            }),
        ) => Some(error_response(&ApiError::new(code, &reason, message))),
        (None, Some(FaultAction::Delay(d))) => {
            tokio::time::sleep(d).await;
            None
        }
        (None, None) => None,
    };
    let resp = match resp {
        Some(r) => r,
        None => {
            let query = form_urlencoded::parse(raw_query.as_bytes())
                .into_owned()
                .collect();
            let r = Req {
                method,
                path,
                query,
                content_type: content_type.unwrap_or_default(),
                accept,
                body,
            };
            let segs: Vec<String> = r
                .path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let seg_refs: Vec<&str> = segs.iter().map(String::as_str).collect();
            let from_kubelet = r.method == "GET" && shared.lock().knobs.kubelet_logs;
            match crate::logs::log_path(&seg_refs).filter(|_| from_kubelet) {
                Some((ns, name)) => crate::logs::proxy(&shared, &r, ns, name)
                    .await
                    .unwrap_or_else(|e| error_response(&e)),
                None => dry_run(&r, || route(&shared, &r)).unwrap_or_else(|e| error_response(&e)),
            }
        }
    };
    if let Some(rec) = shared.lock().knobs.requests.get_mut(index) {
        rec.status = resp.status().as_u16();
    }
    Ok(resp)
}

thread_local! {
    /// Set while a `dryRun=All` request is routed; [`Shared::mutate`] then stores nothing.
    /// Routing is synchronous, so nothing else runs on the thread meanwhile.
    pub(crate) static DRY_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as a dry run when the request says `dryRun=All`: admission, defaults and
/// validation run and the answer is what would be stored, but nothing is.
// Upstream: staging/src/k8s.io/apiserver/pkg/registry/generic/registry/dryrun.go (DryRunnableStorage)
// and staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go, ValidateDryRun.
pub(crate) fn dry_run(
    r: &Req,
    f: impl FnOnce() -> Result<Response<Body>, ApiError>,
) -> Result<Response<Body>, ApiError> {
    let values: Vec<&str> = r
        .query
        .iter()
        .filter(|(k, _)| k == "dryRun")
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(bad) = values.iter().find(|v| **v != "All") {
        return Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: {bad:?}: supported values: \"All\""
        )));
    }
    if values.is_empty() || r.method == "GET" {
        return f();
    }
    DRY_RUN.with(|d| d.set(true));
    let out = f();
    DRY_RUN.with(|d| d.set(false));
    out
}

fn route(shared: &Arc<Shared>, r: &Req) -> Result<Response<Body>, ApiError> {
    let segs: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
    let get_only = |v: Value| {
        if r.method == "GET" {
            Ok(json_response(200, &v))
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match segs.as_slice() {
        ["version"] => get_only(discovery::version()),
        ["healthz" | "readyz" | "livez"] => Ok(text_response("ok".into())),
        ["api"] if discovery::wants_aggregated(&r.accept) => {
            let mut resp = get_only(discovery::aggregated(&shared.lock().reg, true))?;
            set_aggregated_type(&mut resp);
            Ok(resp)
        }
        ["api"] => get_only(discovery::api_versions(&shared.address)),
        ["apis"] if discovery::wants_aggregated(&r.accept) => {
            let mut resp = get_only(discovery::aggregated(&shared.lock().reg, false))?;
            set_aggregated_type(&mut resp);
            Ok(resp)
        }
        ["apis"] => get_only(discovery::api_group_list(&shared.lock().reg)),
        ["apis", group] => {
            let doc = discovery::api_group(&shared.lock().reg, group)
                .ok_or_else(ApiError::path_not_found)?;
            get_only(doc)
        }
        ["api", "v1", rest @ ..] => resource_route(shared, r, "", "v1", rest),
        ["apis", group, version, rest @ ..] => resource_route(shared, r, group, version, rest),
        _ => Err(ApiError::path_not_found()),
    }
}

fn set_aggregated_type(resp: &mut Response<Body>) {
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
    );
}

/// What a resource URL names.
pub(crate) struct Target {
    pub res: Arc<ResourceDef>,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

fn resource_route(
    shared: &Arc<Shared>,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    if rest.is_empty() {
        let doc = discovery::resource_list(&shared.lock().reg, group, version)
            .ok_or_else(ApiError::path_not_found)?;
        return if r.method == "GET" {
            Ok(json_response(200, &doc))
        } else {
            Err(ApiError::method_not_allowed())
        };
    }
    let ns_subs = ["status", "finalize"];
    let (ns, plural, name, sub) = match rest {
        ["namespaces", ns, plural] if !(group.is_empty() && ns_subs.contains(plural)) => {
            (Some(*ns), *plural, None, None)
        }
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        [plural] => (None, *plural, None, None),
        [plural, name] => (None, *plural, Some(*name), None),
        [plural, name, sub] => (None, *plural, Some(*name), Some(*sub)),
        _ => return Err(ApiError::path_not_found()),
    };
    let res = shared
        .lock()
        .reg
        .by_path(group, version, plural)
        .ok_or_else(ApiError::path_not_found)?;
    let scoped_wrong = if res.namespaced {
        ns.is_none() && name.is_some()
    } else {
        ns.is_some()
    };
    if scoped_wrong || sub.is_some_and(|s| !res.has_sub(s)) {
        return Err(ApiError::path_not_found());
    }
    let t = Target {
        res,
        ns: ns.map(str::to_string),
        name: name.map(str::to_string),
        sub: sub.map(str::to_string),
    };
    let is_watch = matches!(r.q("watch"), Some("true" | "1"));
    // Reads as fresh as their resourceVersion asks, writes from what etcd holds (store/fresh.rs).
    match r.method.as_str() {
        "GET" if is_watch => serve_resource(shared, r, &t),
        "GET" => fresh::read(shared, Freshness::of_read(r.q("resourceVersion"))?, || {
            serve_resource(shared, r, &t)
        }),
        _ => fresh::write(shared, || serve_resource(shared, r, &t)),
    }
}

/// Admission, then the request on `t`.
fn serve_resource(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    crate::admission::admit_request(shared, r, t)?;
    if matches!(r.method.as_str(), "POST" | "PUT")
        && t.sub.is_none()
        && r.q("fieldValidation") == Some("Strict")
        && let Ok(body) = r.json_body()
    {
        crate::strict::check(&t.res, &body)?;
    }
    match (r.method.as_str(), t.name.is_some(), t.sub.as_deref()) {
        ("GET", false, _) if matches!(r.q("watch"), Some("true" | "1")) => {
            start_watch(shared, r, t)
        }
        ("GET", false, _) => list(shared, r, t),
        ("POST", false, _) => {
            let body = r.json_body()?;
            let obj = shared.mutate(|st| semantics::create(st, &t.res, t.ns.as_deref(), body))?;
            Ok(json_response(201, &obj))
        }
        ("DELETE", false, _) => subresources::delete_collection(shared, r, t),
        ("GET", true, None | Some("status")) => {
            let st = shared.lock();
            let obj = st
                .get(&t.res, ns_or_empty(t), name_of(t))
                .ok_or_else(|| ApiError::not_found(&t.res, name_of(t)))?;
            if t.sub.is_none() && crate::table::wanted(&r.accept) {
                let rv = crate::util::str_at(obj, &["metadata", "resourceVersion"]).unwrap_or("");
                let table = crate::table::build(&t.res, &[obj], rv, r.q("includeObject"));
                return Ok(json_response(200, &table));
            }
            Ok(json_response(200, obj))
        }
        ("PUT", true, None | Some("status") | Some("finalize")) => subresources::put(shared, r, t),
        ("PATCH", true, None | Some("status")) => subresources::patch(shared, r, t),
        ("DELETE", true, None) => {
            let body = r.json_body()?;
            let opts = semantics::DeleteOpts::parse(&body, &r.query);
            let out = shared
                .mutate(|st| semantics::delete(st, &t.res, ns_or_empty(t), name_of(t), &opts))?;
            Ok(json_response(200, &out))
        }
        ("GET", true, Some("log")) => subresources::logs(shared, r, t),
        ("POST", true, Some("eviction")) => subresources::evict(shared, r, t),
        ("POST", true, Some("binding")) => subresources::bind(shared, r, t),
        ("GET" | "PUT" | "PATCH", true, Some("scale")) => subresources::scale(shared, r, t),
        (_, true, Some("exec" | "attach" | "portforward" | "proxy")) => Err(ApiError::bad_request(
            "the fake API server does not implement streaming subresources (exec, attach, portforward, proxy)",
        )),
        _ => Err(ApiError::method_not_allowed()),
    }
}

pub(crate) fn ns_or_empty(t: &Target) -> &str {
    t.ns.as_deref().unwrap_or("")
}

pub(crate) fn name_of(t: &Target) -> &str {
    t.name.as_deref().unwrap_or("")
}

pub(crate) fn selectors(
    r: &Req,
    res: &ResourceDef,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(r.q("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(r.q("fieldSelector").unwrap_or(""), res)?;
    Ok((labels, fields))
}

fn list(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(r, &t.res)?;
    let st = shared.lock();
    let items: Vec<&Value> = st
        .list(&t.res, t.ns.as_deref())
        .into_iter()
        .filter(|o| labels.matches(crate::util::labels(o)) && fields.matches(o))
        .collect();
    if crate::table::wanted(&r.accept) {
        let table = crate::table::build(&t.res, &items, &st.rv.to_string(), r.q("includeObject"));
        return Ok(json_response(200, &table));
    }
    let doc = json!({
        "kind": format!("{}List", t.res.kind),
        "apiVersion": t.res.api_version(),
        "metadata": { "resourceVersion": st.rv.to_string() },
        "items": items,
    });
    Ok(json_response(200, &doc))
}

fn start_watch(shared: &Arc<Shared>, r: &Req, t: &Target) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(r, &t.res)?;
    let rv = match r.q("resourceVersion").unwrap_or("") {
        "" | "0" => None,
        v => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let flag = |k: &str| matches!(r.q(k), Some("true" | "1"));
    let timeout = r
        .q("timeoutSeconds")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0);
    let p = WatchParams {
        rv,
        namespace: t.ns.clone(),
        labels,
        fields,
        bookmarks: flag("allowWatchBookmarks"),
        send_initial: flag("sendInitialEvents"),
        timeout: timeout.map(std::time::Duration::from_secs),
    };
    let body = watch::start(shared.clone(), t.res.clone(), p);
    let mut resp = Response::new(body.boxed());
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
