//! The body of `etcd-delete`: one key or every key under a prefix, one type once read (the
//! "neither" and "both" cases are refused while deserializing, so no later code handles them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::written::read_as_written;

/// What an `etcd-delete` deletes: one key, or every key under a prefix. A playbook writes it as
/// `key:` or `prefix:` (exactly one; deserializing refuses neither and both), so past parsing
/// there is no third case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtcdTarget {
    Key(String),
    Prefix(String),
}

impl EtcdTarget {
    /// The target a `key:`/`prefix:` pair names: exactly one of them (`what` names the step
    /// or condition in the error).
    pub fn of(what: &str, key: Option<String>, prefix: Option<String>) -> Result<Self, String> {
        match (key, prefix) {
            (Some(k), None) => Ok(EtcdTarget::Key(k)),
            (None, Some(p)) => Ok(EtcdTarget::Prefix(p)),
            (None, None) => Err(format!("`{what}` needs one of `key` or `prefix`")),
            (Some(_), Some(_)) => Err(format!("`{what}` takes only one of `key` or `prefix`")),
        }
    }

    /// Back to the written `key:`/`prefix:` pair.
    pub fn into_fields(self) -> (Option<String>, Option<String>) {
        match self {
            EtcdTarget::Key(k) => (Some(k), None),
            EtcdTarget::Prefix(p) => (None, Some(p)),
        }
    }
}

/// `etcd-delete`, read from `{key: K}` or `{prefix: P}`.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "EtcdDeleteFields")]
pub struct EtcdDelete {
    pub target: EtcdTarget,
}

// `etcd-delete` as written, and as the JSON Schema shows it (a doc comment here would become
// a schema description the field-by-field shape never had).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "EtcdDelete")]
struct EtcdDeleteFields {
    /// One key, like `/registry/pods/default/web-0`...
    #[serde(default)]
    key: Option<String>,
    /// ...or every key under a prefix.
    #[serde(default)]
    prefix: Option<String>,
}

impl From<EtcdDelete> for EtcdDeleteFields {
    fn from(d: EtcdDelete) -> Self {
        let (key, prefix) = d.target.into_fields();
        EtcdDeleteFields { key, prefix }
    }
}

impl EtcdDeleteFields {
    fn check(self) -> Result<EtcdDelete, String> {
        let target = EtcdTarget::of("etcd-delete", self.key, self.prefix)?;
        Ok(EtcdDelete { target })
    }
}

read_as_written!(
    EtcdDelete,
    EtcdDeleteFields,
    &["key", "prefix"],
    EtcdDeleteFields::check
);
