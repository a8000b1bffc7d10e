//! The bodies of the faults that act on pods, `pod-delete` and `container-kill`, apart from
//! `actions.rs` to keep that file short: both name one pod, or the pods a label selector
//! matches and a `pick` of them, which the engine chooses once (`engine/targets/pods.rs`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::values::{Duration, Signal};
use super::actions::{Action, default_namespace};
use super::target::{Picked, PodPick};

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContainerKill {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// One pod by name...
    #[serde(default)]
    pub pod: Option<String>,
    /// ...or the pods matching a label selector (`app=web`), each signalled.
    #[serde(default)]
    pub selector: Option<String>,
    /// How many of the pods `selector` matches: `all` (default), `one`, `random`, N, `P%`.
    #[serde(default)]
    pub pick: Option<PodPick>,
    /// The container; may be left out when the pod has only one.
    #[serde(default)]
    pub container: Option<String>,
    /// Default SIGTERM.
    #[serde(default)]
    pub signal: Option<Signal>,
    /// What the engine chose for `pick` (never written in a playbook).
    #[serde(skip)]
    pub picked: Picked,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PodDelete {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// One pod by name...
    #[serde(default)]
    pub name: Option<String>,
    /// ...or every pod matching a label selector (`app=web`).
    #[serde(default)]
    pub selector: Option<String>,
    /// Grace period for the containers to stop (default: the pod's own).
    #[serde(default)]
    pub grace_period: Option<Duration>,
    /// `kubectl delete --force`: grace 0 and background propagation.
    #[serde(default)]
    pub force: bool,
    /// How many of the pods `selector` matches: `all` (default), `one`, `random`, N, `P%`.
    #[serde(default)]
    pub pick: Option<PodPick>,
    /// What the engine chose for `pick` (never written in a playbook).
    #[serde(skip)]
    pub picked: Picked,
}

/// A step's pick among the pods a selector matches, for the engine to choose and record.
pub struct PodChoice<'a> {
    pub namespace: &'a str,
    pub selector: &'a str,
    pub pick: PodPick,
    pub picked: &'a mut Picked,
}

impl PodChoice<'_> {
    /// The pick as written, for messages and the report: `pick: 2 of app=web in default`.
    pub fn written(&self) -> String {
        format!(
            "pick: {} of {} in {}",
            self.pick, self.selector, self.namespace
        )
    }
}

impl Action {
    /// The step's `pick:` among the pods a `selector` matches (`pod-delete`, `container-kill`),
    /// if it writes one.
    pub fn pod_choice(&mut self) -> Option<PodChoice<'_>> {
        let (namespace, selector, pick, picked) = match self {
            Action::PodDelete(p) => (&p.namespace, &p.selector, p.pick, &mut p.picked),
            Action::ContainerKill(c) => (&c.namespace, &c.selector, c.pick, &mut c.picked),
            _ => return None,
        };
        Some(PodChoice {
            namespace,
            selector: selector.as_deref()?,
            pick: pick?,
            picked,
        })
    }
}
