//! The `exec` check of a probe: a command run in a node container (`node:`, resolved by the
//! preflight like a fault's target) or in a pod's container (`pod:`, found again at each
//! sample through the API). Apart from `probe.rs` to keep that file short.

use std::fmt;

use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};

use super::super::values::Duration;
use super::probe::check_answer;
use super::target::NodeTarget;
use super::written::read_as_written;

/// A command a probe runs, in a node container or in a pod's container.
#[derive(Debug, Clone, Serialize)]
pub struct ExecCheck {
    /// Where it runs: `node` or `pod`.
    #[serde(flatten)]
    pub target: ExecTarget,
    pub command: Vec<String>,
    /// The exit code that counts as ok (default 0).
    pub exit_code: i64,
    /// A regular expression standard output must match, if any.
    pub output: Option<String>,
    /// How long one run may take (default 2s).
    pub timeout: Option<Duration>,
}

/// Where an exec probe runs its command.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecTarget {
    /// A node container: by name, by role (`{role: worker, index: 1}`, `pick: random`) or
    /// `{target-of: STEP}`, resolved once by the preflight like a fault's.
    Node(NodeTarget),
    /// A container of a pod, found again at each sample.
    Pod(PodExec),
}

impl ExecTarget {
    /// The node target, for an exec in a node container.
    pub fn node(&self) -> Option<&NodeTarget> {
        match self {
            ExecTarget::Node(n) => Some(n),
            ExecTarget::Pod(_) => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "ExecCheck", transform = node_or_pod)]
struct ExecCheckWritten {
    /// The node container to run it in: a name, `{role: worker}` (with `index` or `pick:
    /// random`) or `{target-of: STEP}`, as a fault names its node.
    #[serde(default)]
    node: Option<NodeTarget>,
    /// ...or the pod container to run it in: `{name: NAME}` or `{selector: SEL}` (the first
    /// Running pod by name), with `namespace` and `container`.
    #[serde(default)]
    pod: Option<PodExec>,
    /// The command as an argument list; never passed through a shell.
    #[schemars(length(min = 1))]
    command: Vec<String>,
    /// The exit code that counts as ok (default 0).
    #[serde(default)]
    exit_code: Option<i64>,
    /// A regular expression standard output must match (Rust `regex` syntax).
    #[serde(default)]
    output: Option<String>,
    /// How long one run may take, like `2s` (default 2s).
    #[serde(default)]
    timeout: Option<Duration>,
}

const EXEC_FIELDS: &[&str] = &["node", "pod", "command", "exit-code", "output", "timeout"];

/// The schema says what the parser checks: exactly one of `node` and `pod`.
fn node_or_pod(schema: &mut Schema) {
    one_of(schema, "node", "pod");
}

/// Requires exactly one of the fields `a` and `b`.
fn one_of(schema: &mut Schema, a: &str, b: &str) {
    schema.insert(
        "oneOf".into(),
        serde_json::json!([
            {"required": [a], "not": {"required": [b]}},
            {"required": [b], "not": {"required": [a]}},
        ]),
    );
}

impl ExecCheckWritten {
    fn check(self) -> Result<ExecCheck, String> {
        let target = match (self.node, self.pod) {
            (Some(n), None) => ExecTarget::Node(n),
            (None, Some(p)) => ExecTarget::Pod(p),
            (None, None) => {
                return Err("an exec probe needs where to run: `node` or `pod`".into());
            }
            (Some(_), Some(_)) => {
                return Err("an exec probe runs in a `node` or in a `pod`, not both".into());
            }
        };
        if self.command.is_empty() {
            return Err("an empty command".into());
        }
        check_answer(self.output.as_deref(), self.timeout)?;
        Ok(ExecCheck {
            target,
            command: self.command,
            exit_code: self.exit_code.unwrap_or(0),
            output: self.output,
            timeout: self.timeout,
        })
    }
}

read_as_written!(
    ExecCheck,
    ExecCheckWritten,
    EXEC_FIELDS,
    ExecCheckWritten::check
);

/// The pod an exec probe runs in, looked up at each sample (a pod replaced by its controller
/// is found again by its selector).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PodExec {
    pub namespace: String,
    pub pod: PodLookup,
    /// The container; `None` for the pod's first app container.
    pub container: Option<String>,
}

/// One pod by name, or the first Running pod (by name) a label selector matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodLookup {
    Name(String),
    Selector(String),
}

impl fmt::Display for PodExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pod {
            PodLookup::Name(n) => write!(f, "pod {}/{n}", self.namespace)?,
            PodLookup::Selector(s) => write!(f, "pod `{s}` in {}", self.namespace)?,
        }
        if let Some(c) = &self.container {
            write!(f, " (container {c})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "PodExec", transform = name_or_selector)]
struct PodExecWritten {
    /// The pod's namespace (default `default`).
    #[serde(default)]
    namespace: Option<String>,
    /// The pod's name...
    #[serde(default)]
    name: Option<String>,
    /// ...or a label selector (`app=web`): the first Running pod it matches, by name.
    #[serde(default)]
    selector: Option<String>,
    /// The container (default: the pod's first app container).
    #[serde(default)]
    container: Option<String>,
}

const POD_EXEC_FIELDS: &[&str] = &["namespace", "name", "selector", "container"];

/// The schema says what the parser checks: exactly one of `name` and `selector`.
fn name_or_selector(schema: &mut Schema) {
    one_of(schema, "name", "selector");
}

impl PodExecWritten {
    fn check(self) -> Result<PodExec, String> {
        let non_empty = |what: &str, v: Option<String>| match v {
            Some(v) if v.trim().is_empty() => Err(format!("`{what}` is empty")),
            v => Ok(v),
        };
        let name = non_empty("name", self.name)?;
        let selector = non_empty("selector", self.selector)?;
        let pod = match (name, selector) {
            (Some(n), None) => PodLookup::Name(n),
            (None, Some(s)) => PodLookup::Selector(s),
            (None, None) => return Err("a pod needs a `name` or a `selector`".into()),
            (Some(_), Some(_)) => {
                return Err("a pod takes a `name` or a `selector`, not both".into());
            }
        };
        Ok(PodExec {
            namespace: non_empty("namespace", self.namespace)?.unwrap_or_else(|| "default".into()),
            pod,
            container: non_empty("container", self.container)?,
        })
    }
}

read_as_written!(
    PodExec,
    PodExecWritten,
    POD_EXEC_FIELDS,
    PodExecWritten::check
);
