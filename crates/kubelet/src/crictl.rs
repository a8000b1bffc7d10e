//! A stand-in for `crictl`, the CRI's command-line client, for the test cluster's nodes
//! (kind's nodes have it; Debian bookworm does not package it). It reads the same
//! containerd objects the kubelet makes, by their CRI labels, and answers the forms
//! kind-chaos and the labs use, with crictl's output:
//!
//! - `crictl pods [-o json] [-q]`: every sandbox (`SANDBOX_READY` while its task runs);
//! - `crictl ps [-a] [--state S] [--label K=V]... [--name RE] [--pod ID] [-q] [-o json]`:
//!   containers (only running ones without `-a`/`--state`); `--name` is an anchored or
//!   plain substring pattern (`^probe$`, `probe`), not a full regular expression.

use serde_json::{Value, json};

use crate::cri::container::{TaskState, with_recorded_exit};
use crate::cri::{CriError, Runtime};
use crate::pods::observe::{ATTEMPT, CONTAINER_NAME, KIND, POD_NAME, POD_NAMESPACE, POD_UID};

/// One sandbox or container with its task state.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub labels: std::collections::HashMap<String, String>,
    pub running: bool,
    pub exited: bool,
    pub created_ns: i64,
}

impl Item {
    fn label(&self, k: &str) -> &str {
        self.labels.get(k).map(String::as_str).unwrap_or("")
    }
}

/// Every sandbox and container of the runtime's namespace.
pub async fn items(rt: &Runtime) -> Result<Vec<Item>, CriError> {
    let mut out = Vec::new();
    for c in rt.list(&[]).await? {
        let state = with_recorded_exit(rt.task_state(&c.id).await?, &c.labels);
        out.push(Item {
            running: matches!(state, TaskState::Running { .. }),
            exited: matches!(state, TaskState::Exited { .. }),
            created_ns: c
                .created_at
                .as_ref()
                .map_or(0, |t| t.seconds * 1_000_000_000 + i64::from(t.nanos)),
            id: c.id,
            labels: c.labels,
        });
    }
    Ok(out)
}

/// What a `crictl` command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub pods: bool,
    pub all: bool,
    pub state: Option<String>,
    pub labels: Vec<(String, String)>,
    pub name: Option<String>,
    pub pod: Option<String>,
    pub quiet: bool,
    pub json: bool,
}

/// Parses `pods ...` or `ps ...` (global flags such as `--runtime-endpoint X` are skipped).
pub fn parse(args: &[String]) -> Result<Query, String> {
    let mut q = Query::default();
    let mut it = args.iter();
    let mut command = None;
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "pods" | "ps" if command.is_none() => command = Some(flag.clone()),
            "-a" | "--all" => q.all = true,
            "-q" | "--quiet" => q.quiet = true,
            "-o" | "--output" => q.json = value()? == "json",
            "-s" | "--state" => q.state = Some(value()?),
            "--label" => {
                let v = value()?;
                let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
                q.labels.push((k.to_string(), val.to_string()));
            }
            "--name" => q.name = Some(value()?),
            "-p" | "--pod" => q.pod = Some(value()?),
            "-r" | "--runtime-endpoint" | "-i" | "--image-endpoint" | "-t" | "--timeout" => {
                value()?;
            }
            other => return Err(format!("unsupported argument {other:?}")),
        }
    }
    match command.as_deref() {
        Some("pods") => q.pods = true,
        Some("ps") => {}
        _ => return Err("usage: crictl pods|ps [flags]".into()),
    }
    Ok(q)
}

/// crictl's `--name` match: `^x$`, `^x`, `x$` or a substring.
fn name_matches(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix('^'), pattern.strip_suffix('$')) {
        (Some(p), _) if p.ends_with('$') => name == &p[..p.len() - 1],
        (Some(p), _) => name.starts_with(p),
        (None, Some(p)) => name.ends_with(p),
        (None, None) => name.contains(pattern),
    }
}

fn state_of(item: &Item, pods: bool) -> &'static str {
    match (pods, item.running, item.exited) {
        (true, true, _) => "SANDBOX_READY",
        (true, false, _) => "SANDBOX_NOTREADY",
        (false, true, _) => "CONTAINER_RUNNING",
        (false, false, true) => "CONTAINER_EXITED",
        (false, false, false) => "CONTAINER_CREATED",
    }
}

/// The answer to `q` over `items`, as crictl prints it.
pub fn render(q: &Query, items: &[Item]) -> String {
    let kind = if q.pods { "sandbox" } else { "container" };
    let mut chosen: Vec<&Item> = items
        .iter()
        .filter(|i| i.label(KIND) == kind)
        .filter(|i| q.labels.iter().all(|(k, v)| i.label(k) == v))
        .filter(|i| {
            let name = if q.pods {
                i.label(POD_NAME)
            } else {
                i.label(CONTAINER_NAME)
            };
            q.name.as_deref().is_none_or(|p| name_matches(p, name))
        })
        .filter(|i| {
            q.pod.as_deref().is_none_or(|p| {
                let sandbox = items
                    .iter()
                    .find(|s| s.label(KIND) == "sandbox" && s.label(POD_UID) == i.label(POD_UID));
                sandbox.is_some_and(|s| s.id.starts_with(p))
            })
        })
        .filter(|i| {
            let state = state_of(i, q.pods);
            match q.state.as_deref() {
                Some(s) => state
                    .to_ascii_lowercase()
                    .ends_with(&s.to_ascii_lowercase()),
                None => q.pods || q.all || i.running,
            }
        })
        .collect();
    chosen.sort_by_key(|i| std::cmp::Reverse(i.created_ns));
    if q.quiet {
        return chosen.iter().map(|i| format!("{}\n", i.id)).collect();
    }
    let entries: Vec<Value> = chosen.iter().map(|i| entry(i, q.pods, items)).collect();
    let doc = if q.pods {
        json!({ "items": entries })
    } else {
        json!({ "containers": entries })
    };
    if q.json {
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    }
    let mut out = String::from("ID\tSTATE\tNAME\tPOD\tNAMESPACE\n");
    for i in chosen {
        out += &format!(
            "{}\t{}\t{}\t{}\t{}\n",
            &i.id[..i.id.len().min(13)],
            state_of(i, q.pods),
            if q.pods {
                i.label(POD_NAME)
            } else {
                i.label(CONTAINER_NAME)
            },
            i.label(POD_NAME),
            i.label(POD_NAMESPACE)
        );
    }
    out
}

/// One entry of crictl's JSON (`pods -o json` items, `ps -o json` containers).
fn entry(i: &Item, pods: bool, all: &[Item]) -> Value {
    let attempt: u64 = i.label(ATTEMPT).parse().unwrap_or(0);
    let labels: serde_json::Map<String, Value> = i
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if pods {
        return json!({
            "id": i.id,
            "metadata": {
                "name": i.label(POD_NAME), "uid": i.label(POD_UID),
                "namespace": i.label(POD_NAMESPACE), "attempt": 0,
            },
            "state": state_of(i, true),
            "createdAt": i.created_ns.to_string(),
            "labels": labels,
        });
    }
    let sandbox = all
        .iter()
        .find(|s| s.label(KIND) == "sandbox" && s.label(POD_UID) == i.label(POD_UID))
        .map(|s| s.id.clone())
        .unwrap_or_default();
    json!({
        "id": i.id,
        "podSandboxId": sandbox,
        "metadata": { "name": i.label(CONTAINER_NAME), "attempt": attempt },
        "state": state_of(i, false),
        "createdAt": i.created_ns.to_string(),
        "labels": labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, kind: &str, name: &str, running: bool) -> Item {
        let mut labels = std::collections::HashMap::new();
        labels.insert(KIND.to_string(), kind.to_string());
        labels.insert(POD_NAME.to_string(), "p".to_string());
        labels.insert(POD_NAMESPACE.to_string(), "default".to_string());
        labels.insert(POD_UID.to_string(), "u1".to_string());
        if kind == "container" {
            labels.insert(CONTAINER_NAME.to_string(), name.to_string());
        }
        Item {
            id: id.to_string(),
            labels,
            running,
            exited: !running,
            created_ns: 1,
        }
    }

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_labs_form_lists_running_containers_by_label_and_name() {
        let items = vec![
            item("sb1", "sandbox", "", true),
            item("c1", "container", "probe", true),
            item("c2", "container", "probe-helper", true),
            item("c3", "container", "probe", false),
        ];
        let q = parse(&args(
            "ps --state running --label io.kubernetes.pod.namespace=default --label io.kubernetes.pod.name=p --name ^probe$ -q",
        ))
        .unwrap();
        assert_eq!(render(&q, &items), "c1\n");
        let none = parse(&args("ps --label io.kubernetes.pod.name=other -q")).unwrap();
        assert_eq!(render(&none, &items), "");
    }

    #[test]
    fn json_is_crictls_shape() {
        let items = vec![
            item("sb1", "sandbox", "", false),
            item("c1", "container", "probe", true),
            item("c3", "container", "old", false),
        ];
        let pods: Value =
            serde_json::from_str(&render(&parse(&args("pods -o json")).unwrap(), &items)).unwrap();
        assert_eq!(pods["items"][0]["id"], "sb1");
        assert_eq!(pods["items"][0]["state"], "SANDBOX_NOTREADY");
        assert_eq!(pods["items"][0]["metadata"]["namespace"], "default");
        let ps: Value =
            serde_json::from_str(&render(&parse(&args("ps -o json")).unwrap(), &items)).unwrap();
        let ids: Vec<&str> = ps["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["c1"], "running only without -a");
        assert_eq!(ps["containers"][0]["podSandboxId"], "sb1");
        assert_eq!(ps["containers"][0]["state"], "CONTAINER_RUNNING");
        let all = render(&parse(&args("ps -a -q")).unwrap(), &items);
        assert_eq!(all.lines().count(), 2);
    }

    #[test]
    fn unknown_arguments_are_refused() {
        assert!(parse(&args("inspect x")).is_err());
        assert!(parse(&args("ps --bogus")).is_err());
    }
}
