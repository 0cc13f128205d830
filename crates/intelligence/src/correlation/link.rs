//! How a cause must relate to its effect in the topology for a rule to apply, and where
//! to look for candidate causes of an effect.

use jiff::Timestamp;
use tapio_domain::{EntityKey, EntityKind, Event, EventKind, RelationKind};

use crate::topology::{short_host, Topology};

/// The topological relation a rule requires between cause and effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Same entity (same pod, same node, same workload).
    SameEntity,
    /// The cause's ConfigMap or Secret is used by the effect's pod.
    ConfigUsedByPod,
    /// The cause's ConfigMap or Secret is mounted as a volume by the effect's pod: the only
    /// way a running container sees a change (env is read when a container is created).
    ConfigMountedByPod,
    /// The cause's workload controls the effect's pod (directly or through a ReplicaSet).
    WorkloadOwnsPod,
    /// The cause's pod is controlled by the effect's workload (pod failures fail a Job).
    PodOfWorkload,
    /// The cause's ConfigMap or Secret is used by pods of the effect's workload.
    ConfigUsedByWorkload,
    /// The cause's node runs the effect's pod.
    NodeRunsPod,
    /// The cause's pod runs on the effect's node (a noisy neighbour).
    PodOnNode,
    /// The cause happened on the effect's node (host units, kernel).
    SameNode,
    /// The cause's NetworkPolicy selects the effect's pod.
    PolicySelectsPod,
    /// The cause's pod serves a service that the effect's pod's service calls.
    CalleeOfPod,
    /// The cause is about any node (cluster-wide node changes such as taints).
    AnyNode,
    /// The cause's workload serves one of the services whose calls the effect
    /// (`CallsFailing`) says failed.
    CallerWorkload,
    /// The cause (a `DnsFailure`) is a pod of one of the services whose calls the effect
    /// (`CallsFailing`) says failed, and the name it could not look up is the callee's
    /// host (or that host with a search domain appended).
    LookupOfCallee,
}

/// The pods of the callers named by a `CallsFailing` event.
fn caller_pods(effect: &Event, topo: &Topology) -> Vec<EntityKey> {
    let EventKind::CallsFailing { callers, .. } = &effect.kind else {
        return Vec::new();
    };
    callers
        .iter()
        .filter_map(|c| c.split_once('/'))
        .flat_map(|(ns, service)| topo.pods_of_service(Some(ns), service, effect.at))
        .collect()
}

/// The workloads serving the callers named by a `CallsFailing` event.
pub(crate) fn caller_workloads(effect: &Event, topo: &Topology) -> Vec<EntityKey> {
    let mut out: Vec<EntityKey> = caller_pods(effect, topo)
        .iter()
        .filter_map(|pod| topo.workload_of(pod, effect.at))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether the DNS lookup `cause` failed for the host that `effect`'s calls go to.
fn looked_up_callee(cause: &Event, effect: &Event) -> bool {
    let EventKind::DnsFailure { query, .. } = &cause.kind else {
        return false;
    };
    let query = query.trim_end_matches('.');
    let host = effect.entity.name.as_str();
    query == host
        || query
            .strip_prefix(host)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl Link {
    /// Entities whose events may be causes of `effect` under this link.
    pub fn candidate_entities(self, effect: &Event, topo: &Topology) -> Vec<EntityKey> {
        let at = effect.at;
        let key = effect.entity.key();
        match self {
            Self::SameEntity => vec![key],
            Self::ConfigMountedByPod => topo.related(&key, RelationKind::MountsConfig, at),
            Self::ConfigUsedByPod => {
                let mut v = topo.related(&key, RelationKind::MountsConfig, at);
                v.extend(topo.related(&key, RelationKind::ReadsEnvFrom, at));
                v.sort();
                v.dedup();
                v
            }
            Self::WorkloadOwnsPod => topo.owner_chain(&key, at),
            Self::PodOfWorkload => topo.pods_of(&key, at),
            Self::ConfigUsedByWorkload => {
                let mut v: Vec<EntityKey> = topo
                    .pods_of(&key, at)
                    .iter()
                    .flat_map(|pod| {
                        let mut c = topo.related(pod, RelationKind::MountsConfig, at);
                        c.extend(topo.related(pod, RelationKind::ReadsEnvFrom, at));
                        c
                    })
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            Self::NodeRunsPod => topo.node_of(&key, at).into_iter().collect(),
            Self::PodOnNode => {
                if key.kind == EntityKind::Node {
                    topo.sources_of(&key, RelationKind::RunsOn, at)
                } else {
                    Vec::new()
                }
            }
            // Found through the timeline's node index instead.
            Self::SameNode => Vec::new(),
            Self::PolicySelectsPod => {
                topo.selecting(key.namespace.as_deref(), EntityKind::NetworkPolicy)
            }
            Self::CalleeOfPod => topo.callee_pods(&key, at),
            Self::AnyNode => topo.selecting(None, EntityKind::Node),
            Self::CallerWorkload => caller_workloads(effect, topo),
            Self::LookupOfCallee => caller_pods(effect, topo),
        }
    }

    /// Whether `cause` and `effect` are related as this link requires.
    pub fn holds(self, cause: &Event, effect: &Event, topo: &Topology) -> bool {
        let at = effect.at;
        let ck = cause.entity.key();
        let ek = effect.entity.key();
        match self {
            Self::SameEntity => ck == ek,
            Self::ConfigUsedByPod => {
                topo.uses_config(&ek, &ck, at) || topo.uses_config(&ek, &ck, cause.at)
            }
            Self::ConfigMountedByPod => {
                topo.related(&ek, RelationKind::MountsConfig, at)
                    .contains(&ck)
                    || topo
                        .related(&ek, RelationKind::MountsConfig, cause.at)
                        .contains(&ck)
            }
            Self::WorkloadOwnsPod => ck != ek && topo.is_owned_by(&ek, &ck, at),
            Self::PodOfWorkload => ck != ek && topo.is_owned_by(&ck, &ek, cause.at),
            Self::ConfigUsedByWorkload => topo
                .pods_of(&ek, at)
                .iter()
                .chain(topo.pods_of(&ek, cause.at).iter())
                .any(|pod| topo.uses_config(pod, &ck, cause.at)),
            Self::NodeRunsPod => topo.node_of(&ek, at).as_ref() == Some(&ck),
            Self::PodOnNode => topo.node_of(&ck, cause.at).as_ref() == Some(&ek),
            Self::SameNode => match (&cause.node, &effect.node) {
                (Some(a), Some(b)) => short_host(a) == short_host(b),
                _ => false,
            },
            Self::CalleeOfPod => topo.calls(&ek, &ck, at),
            Self::AnyNode => ck.kind == EntityKind::Node,
            Self::CallerWorkload => caller_workloads(effect, topo).contains(&ck),
            Self::LookupOfCallee => {
                looked_up_callee(cause, effect) && caller_pods(effect, topo).contains(&ck)
            }
            Self::PolicySelectsPod => {
                ck.kind == EntityKind::NetworkPolicy
                    && ck.namespace == ek.namespace
                    && policy_selects(topo, &ck, &ek, cause.at.max(at))
            }
        }
    }
}

fn policy_selects(topo: &Topology, policy: &EntityKey, pod: &EntityKey, at: Timestamp) -> bool {
    let (Some(policy), Some(pod)) = (topo.version_at(policy, at), topo.version_at(pod, at)) else {
        return false;
    };
    // An empty podSelector selects every pod of the namespace.
    match &policy.selector {
        Some(sel) if sel.is_empty() => true,
        _ => policy.selects(&pod.labels),
    }
}
