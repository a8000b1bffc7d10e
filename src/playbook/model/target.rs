//! How a playbook names what a fault or a check is about, so that one playbook runs on any
//! cluster: a node by name (`node: NAME`, `{name: NAME}`), by role and position (`{role:
//! worker}`, `{role: worker, index: 2}`), at random (`{role: worker, pick: random}`), or as the
//! node an earlier step chose (`{target-of: STEP}`); and how many of the pods a selector matches
//! a fault takes (`pick: all | one | random | N | P%`).
//!
//! A `NodeTarget` is read once and resolved once: the engine's preflight (`engine/targets.rs`)
//! fills in the node's name before the first step, and every fault and check reads that name
//! (`Deref<Target = str>`), so none of them knows how the node was named.

use std::fmt;

use crate::playbook::schema::by_hand;
use crate::playbook::values::{StrOrNumber, read_str_or_number};
use schemars::{JsonSchema, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A node of the cluster, as a playbook names it, and (once resolved) its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTarget {
    /// How the playbook names the node.
    pub select: NodeSelect,
    /// The node the preflight chose, for a target that does not name it.
    resolved: Option<String>,
    /// The target as written (`{role: worker, index: 2}`), for messages and the plan.
    written: String,
}

/// The ways to name a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelect {
    /// `node: NAME` or `node: {name: NAME}`: the Kubernetes node name (= its container in kind).
    Name(String),
    /// `{role: ROLE}` (the only node of that role), `{role: ROLE, index: N}` (the N-th, from
    /// 1, in name order), `{role: ROLE, pick: random}` (one of them, from the run's seed).
    Role {
        role: String,
        index: Option<u32>,
        pick: Option<NodePick>,
    },
    /// `{target-of: STEP}`: the node the named earlier step resolved to.
    TargetOf(String),
}

/// How to choose among the nodes of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NodePick {
    /// One of them at random, from the run's seed.
    Random,
}

impl NodeTarget {
    /// A node by name.
    pub fn named(name: impl Into<String>) -> Self {
        NodeTarget::new(NodeSelect::Name(name.into()))
    }

    pub fn new(select: NodeSelect) -> Self {
        let written = written(&select);
        NodeTarget {
            select,
            resolved: None,
            written,
        }
    }

    /// The node's name: the written one, or the one the preflight resolved; before that, for a
    /// target that does not name its node, the target as written (no node has that name, so a
    /// backend asked about it answers "not found").
    pub fn name(&self) -> &str {
        match (&self.resolved, &self.select) {
            (Some(n), _) => n,
            (None, NodeSelect::Name(n)) => n,
            (None, _) => &self.written,
        }
    }

    /// Whether the name is known: written, or resolved by the preflight.
    pub fn is_resolved(&self) -> bool {
        self.resolved.is_some() || matches!(self.select, NodeSelect::Name(_))
    }

    /// The target as written, like `{role: worker, index: 2}` or `k8splayground-worker`.
    pub fn written(&self) -> &str {
        &self.written
    }

    /// Records the node the preflight chose.
    pub fn resolve(&mut self, name: impl Into<String>) {
        self.resolved = Some(name.into());
    }
}

fn written(select: &NodeSelect) -> String {
    match select {
        NodeSelect::Name(n) => n.clone(),
        NodeSelect::Role { role, index, pick } => {
            let mut s = format!("{{role: {role}");
            if let Some(i) = index {
                s += &format!(", index: {i}");
            }
            if let Some(NodePick::Random) = pick {
                s += ", pick: random";
            }
            s + "}"
        }
        NodeSelect::TargetOf(step) => format!("{{target-of: {step}}}"),
    }
}

impl From<&str> for NodeTarget {
    fn from(name: &str) -> Self {
        NodeTarget::named(name)
    }
}

impl From<String> for NodeTarget {
    fn from(name: String) -> Self {
        NodeTarget::named(name)
    }
}

impl std::ops::Deref for NodeTarget {
    type Target = str;
    fn deref(&self) -> &str {
        self.name()
    }
}

impl fmt::Display for NodeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<str> for NodeTarget {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<String> for NodeTarget {
    fn eq(&self, other: &String) -> bool {
        self.name() == other
    }
}

/// A node target as a mapping, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NodeFields {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    pick: Option<NodePick>,
    #[serde(default)]
    target_of: Option<String>,
}

impl NodeFields {
    fn check(self) -> Result<NodeSelect, String> {
        let NodeFields {
            name,
            role,
            index,
            pick,
            target_of,
        } = self;
        if (index.is_some() || pick.is_some()) && role.is_none() {
            return Err("`index` and `pick` choose among the nodes of a `role`; add `role`".into());
        }
        if index.is_some() && pick.is_some() {
            return Err("a node target takes `index` or `pick`, not both".into());
        }
        if index == Some(0) {
            return Err("`index` counts from 1 (the first node of the role, in name order)".into());
        }
        match (name, role, target_of) {
            (Some(n), None, None) => Ok(NodeSelect::Name(n)),
            (None, Some(role), None) => Ok(NodeSelect::Role { role, index, pick }),
            (None, None, Some(step)) => Ok(NodeSelect::TargetOf(step)),
            (None, None, None) => Err(
                "a node target needs one of `name`, `role` or `target-of` (or write the node's name)"
                    .into(),
            ),
            _ => Err("a node target takes only one of `name`, `role` or `target-of`".into()),
        }
    }
}

impl<'de> Deserialize<'de> for NodeTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodeTarget;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a node: its name, or `{role: ROLE}`, `{role: ROLE, index: N}`, `{role: ROLE, pick: random}`, `{name: NAME}`, `{target-of: STEP}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeTarget, E> {
                Ok(NodeTarget::named(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<NodeTarget, A::Error> {
                let f = NodeFields::deserialize(de::value::MapAccessDeserializer::new(m))?;
                f.check().map(NodeTarget::new).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for NodeTarget {
    /// The node's name once known (so a journaled undo record names the node it faulted, and
    /// reads back as that name), else the mapping as written.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if self.is_resolved() {
            return s.serialize_str(self.name());
        }
        match &self.select {
            NodeSelect::Name(n) => s.serialize_str(n),
            NodeSelect::Role { role, index, pick } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("role", role)?;
                if let Some(i) = index {
                    m.serialize_entry("index", i)?;
                }
                if let Some(p) = pick {
                    m.serialize_entry("pick", p)?;
                }
                m.end()
            }
            NodeSelect::TargetOf(step) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("target-of", step)?;
                m.end()
            }
        }
    }
}

by_hand!(
    NodeTarget,
    json_schema!({
        "description": "A node: its name (the node container's, in kind), or `{role: ROLE}` (the only node of that role), `{role: ROLE, index: N}` (the N-th from 1, in name order), `{role: ROLE, pick: random}` (one at random, from `seed`), `{name: NAME}`, `{target-of: STEP}` (the node an earlier named step chose).",
        "anyOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": false, "required": ["name"],
             "properties": {"name": {"type": "string"}}},
            {"type": "object", "additionalProperties": false, "required": ["role"],
             "properties": {"role": {"type": "string"},
                            "index": {"type": "integer", "minimum": 1, "maximum": 4294967295_u64}}},
            {"type": "object", "additionalProperties": false, "required": ["role", "pick"],
             "properties": {"role": {"type": "string"},
                            "pick": {"type": "string", "enum": ["random"]}}},
            {"type": "object", "additionalProperties": false, "required": ["target-of"],
             "properties": {"target-of": {"type": "string"}}}
        ]
    })
);

/// How many of the pods a selector matches a fault takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodPick {
    /// Every matching pod (the default).
    #[default]
    All,
    /// The only matching pod: an error when more or none match.
    One,
    /// One matching pod at random, from the run's seed.
    Random,
    /// N matching pods at random: an error when fewer match.
    Count(u32),
    /// This share of the matching pods at random, rounded up (1 to 100 per cent).
    Percent(u8),
}

impl PodPick {
    /// How many pods this pick needs to match: one for every pick but `one` (exactly one) and
    /// N (at least N).
    pub fn needs(self) -> usize {
        match self {
            PodPick::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            _ => 1,
        }
    }

    /// Whether the pick is made with the seed.
    pub fn is_random(self) -> bool {
        !matches!(self, PodPick::All | PodPick::One)
    }
}

/// What the engine chose for a step's pod pick (never written in a playbook): the step's seed
/// (the run's, mixed with the step's id) and, when the preflight could choose before the first
/// step, the pods themselves (else the step chooses, with the same seed, when it runs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picked {
    pub seed: u64,
    pub pods: Option<Vec<String>>,
}

impl fmt::Display for PodPick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodPick::All => f.write_str("all"),
            PodPick::One => f.write_str("one"),
            PodPick::Random => f.write_str("random"),
            PodPick::Count(n) => write!(f, "{n}"),
            PodPick::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for PodPick {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PodPick::Count(n) => s.serialize_u32(*n),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl StrOrNumber for PodPick {
    const EXPECTING: &'static str =
        "`all`, `one`, `random`, a number of pods (`2`) or a share (`50%`)";
    const NAME: &'static str = "pick";
    const NEGATIVE: &'static str = "a number of pods cannot be negative";
    fn read_str(v: &str) -> Result<Self, String> {
        match v {
            "all" => Ok(PodPick::All),
            "one" => Ok(PodPick::One),
            "random" => Ok(PodPick::Random),
            _ => match v.strip_suffix('%').map(str::parse::<u8>) {
                Some(Ok(p)) if (1..=100).contains(&p) => Ok(PodPick::Percent(p)),
                _ => Err(format!(
                    "invalid pick `{v}`: expected `all`, `one`, `random`, a number of pods (`2`) or a share from `1%` to `100%`"
                )),
            },
        }
    }
    fn read_number(v: u64) -> Result<Self, String> {
        match u32::try_from(v) {
            Ok(n) if n >= 1 => Ok(PodPick::Count(n)),
            _ => Err(format!(
                "invalid pick `{v}`: a number of pods from 1 to {}",
                u32::MAX
            )),
        }
    }
}

read_str_or_number!(PodPick, deserialize_any);

by_hand!(
    PodPick,
    json_schema!({
        "description": "How many of the matching pods: `all` (default), `one` (the only one, else an error), `random` (one, from `seed`), N (that many at random; fewer matching is an error), `P%` (that share at random, rounded up).",
        "anyOf": [
            {"type": "string", "enum": ["all", "one", "random"]},
            {"type": "string", "pattern": "^([1-9]|[1-9][0-9]|100)%$"},
            {"type": "integer", "minimum": 1, "maximum": 4294967295_u64}
        ]
    })
);

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> Result<NodeTarget, String> {
        serde_json::from_str::<NodeTarget>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn every_written_form_reads() {
        assert_eq!(node(r#""w""#).unwrap().select, NodeSelect::Name("w".into()));
        assert_eq!(
            node(r#"{"name": "w"}"#).unwrap().select,
            NodeSelect::Name("w".into())
        );
        let t = node(r#"{"role": "worker", "index": 2}"#).unwrap();
        assert_eq!(
            t.select,
            NodeSelect::Role {
                role: "worker".into(),
                index: Some(2),
                pick: None
            }
        );
        assert_eq!(t.written(), "{role: worker, index: 2}");
        assert!(!t.is_resolved());
        let t = node(r#"{"role": "worker", "pick": "random"}"#).unwrap();
        assert_eq!(t.written(), "{role: worker, pick: random}");
        let t = node(r#"{"target-of": "kill"}"#).unwrap();
        assert_eq!(t.select, NodeSelect::TargetOf("kill".into()));
    }

    #[test]
    fn bad_forms_say_what_is_expected() {
        for (text, says) in [
            (r#"{"role": "worker", "index": 0}"#, "counts from 1"),
            (
                r#"{"role": "worker", "index": 1, "pick": "random"}"#,
                "not both",
            ),
            (r#"{"name": "a", "role": "worker"}"#, "only one of"),
            (r#"{"index": 1}"#, "add `role`"),
            (r#"{}"#, "needs one of"),
            (r#"{"role": "worker", "pick": "first"}"#, "unknown variant"),
            (r#"{"rol": "worker"}"#, "unknown field"),
        ] {
            let e = node(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_resolved_target_reads_as_its_node() {
        let mut t = node(r#"{"role": "worker"}"#).unwrap();
        assert_eq!(t.name(), "{role: worker}");
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"role":"worker"}"#);
        t.resolve("kind-worker");
        assert_eq!(&*t, "kind-worker");
        assert_eq!(t.to_string(), "kind-worker");
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""kind-worker""#);
    }

    #[test]
    fn pod_picks_read_and_refuse() {
        let p = |s: &str| serde_json::from_str::<PodPick>(s).map_err(|e| e.to_string());
        assert_eq!(p(r#""all""#).unwrap(), PodPick::All);
        assert_eq!(p(r#""one""#).unwrap(), PodPick::One);
        assert_eq!(p(r#""random""#).unwrap(), PodPick::Random);
        assert_eq!(p("3").unwrap(), PodPick::Count(3));
        assert_eq!(p(r#""50%""#).unwrap(), PodPick::Percent(50));
        for bad in ["0", "-1", r#""0%""#, r#""101%""#, r#""some""#] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pick_with_a_pod_name_is_refused_at_the_pick() {
        let text = "apiVersion: chaos/v1alpha1\nkind: Playbook\nname: t\nsteps:\n  - pod-delete: {name: web-0, pick: random}\n";
        let e = crate::playbook::load_str(
            std::path::Path::new("t.yaml"),
            text,
            crate::playbook::Sources::default(),
        )
        .err()
        .map(|e| e.render(false))
        .unwrap_or_default();
        assert!(
            e.contains("`pick` chooses among the pods a `selector` matches"),
            "{e}"
        );
        assert!(e.contains("t.yaml:5:"), "{e}");
    }
}
