//! `container-kill`: a signal to one container's process of a pod (one by name, or the pods a
//! selector matches and its `pick` of them, like `pod-delete`), inside the node each pod runs
//! on. No undo: the kubelet restarts the container (or not) by the pod's policy.

use async_trait::async_trait;

use crate::backends::{BackendError, PodKey, PodQuery, PodSignal, Result};
use crate::observe::words::{part, pods_target};
use crate::playbook::model;
use crate::playbook::values::Signal;

use super::super::backends::Backends;
use super::super::targets::pods;
use super::delete::pick_words;
use super::{Fault, UndoRecord};

family! {
    ContainerKill(model::ContainerKill),
}

#[async_trait]
impl Fault for ContainerKill<'_> {
    fn describe(&self) -> String {
        let c = self.0;
        let pick = pick_words(c.pick, c.picked.pods.as_deref());
        let whom = match &c.pod {
            Some(pod) => format!("{}/{pod}", c.namespace),
            None => pods_target(&c.namespace, &None, &c.selector),
        };
        format!(
            "send {} to {whom}{pick}{}",
            c.signal.map(|s| s.to_string()).unwrap_or("SIGTERM".into()),
            part(" container ", c.container.as_ref())
        )
    }
    async fn inject(&self, b: &Backends, _undo: Option<UndoRecord>) -> Result<Option<UndoRecord>> {
        let c = self.0;
        let names = match &c.pod {
            Some(name) => vec![name.clone()],
            None => {
                let kube = b.kube().await?;
                pods::of_step(
                    kube.as_ref(),
                    &pods::Pods {
                        namespace: &c.namespace,
                        name: None,
                        selector: c.selector.as_deref(),
                        pick: c.pick,
                        picked: &c.picked,
                    },
                )
                .await?
            }
        };
        let signal = c.signal.unwrap_or(Signal::TERM);
        for name in names {
            let pod = PodKey {
                namespace: c.namespace.clone(),
                name,
            };
            let node = node_of(b, &pod).await?;
            b.nodes()
                .await?
                .kill_pod_container(
                    &node,
                    PodSignal {
                        pod: &pod,
                        container: c.container.as_deref(),
                        signal,
                    },
                )
                .await?;
        }
        Ok(None)
    }
}

/// The node a pod runs on: from the API when it answers, else from the nodes' sandboxes.
async fn node_of(b: &Backends, pod: &PodKey) -> Result<String> {
    if let Ok(kube) = b.kube().await {
        let q = PodQuery {
            namespace: Some(pod.namespace.clone()),
            name: Some(pod.name.clone()),
            ..Default::default()
        };
        if let Ok(pods) = kube.pods(&q).await
            && let Some(node) = pods.into_iter().find_map(|p| p.node)
        {
            return Ok(node);
        }
    }
    let reality = b.nodes().await?.reality(None).await?;
    reality
        .iter()
        .find(|n| n.sandboxes.iter().any(|s| s.live && &s.pod == pod))
        .map(|n| n.node.clone())
        .ok_or_else(|| BackendError::not_found(format!("pod {pod} runs on no node")))
}
