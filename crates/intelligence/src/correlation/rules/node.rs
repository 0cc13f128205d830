//! Nodes: pressure evicts pods (often because of one noisy neighbour); a NotReady node
//! (often a failing kubelet or runtime unit) loses its pods.

use tapio_domain::{Event, EventKind};

use super::{
    describe_metric, is_failed_termination, is_memory_growth, minutes, node_condition, CausalRule,
};
use crate::correlation::link::Link;

fn is_pressure(e: &Event) -> bool {
    matches!(node_condition(e), Some((c, "True")) if c.ends_with("Pressure"))
}

fn is_memory_pressure(e: &Event) -> bool {
    node_condition(e) == Some(("MemoryPressure", "True"))
}

fn is_not_ready(e: &Event) -> bool {
    matches!(node_condition(e), Some(("Ready", "False" | "Unknown")))
}

fn is_evicted(e: &Event) -> bool {
    matches!(e.kind, EventKind::PodEvicted { .. })
}

fn is_pod_lost(e: &Event) -> bool {
    is_failed_termination(e)
        || matches!(&e.kind, EventKind::PodPhaseChanged { to, .. } if to == "Failed" || to == "Unknown")
        || matches!(
            e.kind,
            EventKind::PodDeleted | EventKind::ProbeFailed { .. }
        )
}

fn is_unit_trouble(e: &Event) -> bool {
    matches!(e.kind, EventKind::UnitTrouble { .. })
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "node-pressure-evicts-pods",
        cause: is_pressure,
        effect: is_evicted,
        link: Link::NodeRunsPod,
        max_delay: minutes(15),
        prior: 0.9,
        why: |c, _| match node_condition(c) {
            Some((cond, _)) => format!(
                "node {} reported {cond}, so the kubelet evicted pods to reclaim resources",
                c.entity.name
            ),
            None => String::new(),
        },
    },
    CausalRule {
        name: "noisy-neighbour-causes-memory-pressure",
        cause: is_memory_growth,
        effect: is_memory_pressure,
        link: Link::PodOnNode,
        max_delay: minutes(30),
        prior: 0.75,
        why: |c, _| {
            format!(
                "{} on pod {}, filling the node's memory",
                describe_metric(c),
                c.entity.name
            )
        },
    },
    CausalRule {
        name: "not-ready-node-loses-pods",
        cause: is_not_ready,
        effect: is_pod_lost,
        link: Link::NodeRunsPod,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, _| {
            format!(
                "node {} stopped being Ready, so its pods failed or were removed",
                c.entity.name
            )
        },
    },
    CausalRule {
        name: "failing-unit-makes-node-not-ready",
        cause: is_unit_trouble,
        effect: is_not_ready,
        link: Link::SameNode,
        max_delay: minutes(10),
        prior: 0.85,
        why: |c, _| match &c.kind {
            EventKind::UnitTrouble { unit, message } => {
                format!("{unit} failed on the node ({message})")
            }
            _ => String::new(),
        },
    },
];
