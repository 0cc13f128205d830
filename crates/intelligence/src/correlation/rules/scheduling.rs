//! Scheduling and admission: scale-ups that do not fit, quotas, volumes, sandboxes, Jobs.

use tapio_domain::{Event, EventKind};

use super::{is_failed_termination, minutes, CausalRule};
use crate::correlation::link::Link;

fn is_scale_up(e: &Event) -> bool {
    matches!(e.kind, EventKind::ReplicasChanged { from, to } if to > from)
}

fn is_scheduling_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::SchedulingFailed { .. })
}

fn is_create_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::CreateFailed { .. })
}

fn is_sandbox_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::SandboxFailed { .. })
}

fn is_cni_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::CniFailure { .. })
}

fn is_taint_added(e: &Event) -> bool {
    matches!(e.kind, EventKind::TaintsChanged { .. })
}

fn is_taint_unschedulable(e: &Event) -> bool {
    matches!(&e.kind, EventKind::SchedulingFailed { message } if message.contains("taint"))
}

fn is_job_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::JobFailed { .. })
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "scale-up-does-not-fit",
        cause: is_scale_up,
        effect: is_scheduling_failure,
        link: Link::WorkloadOwnsPod,
        max_delay: minutes(30),
        prior: 0.8,
        why: |c, _| match c.kind {
            EventKind::ReplicasChanged { from, to } => format!(
                "{} was scaled from {from} to {to} replicas, more than the nodes can fit",
                c.entity.name
            ),
            _ => String::new(),
        },
    },
    CausalRule {
        name: "scale-up-hits-quota",
        cause: is_scale_up,
        effect: is_create_failure,
        link: Link::WorkloadOwnsPod,
        max_delay: minutes(30),
        prior: 0.8,
        why: |c, _| {
            format!(
                "{} was scaled up, past what the namespace quota allows",
                c.entity.name
            )
        },
    },
    CausalRule {
        name: "taint-blocks-scheduling",
        cause: is_taint_added,
        effect: is_taint_unschedulable,
        link: Link::AnyNode,
        max_delay: minutes(60),
        prior: 0.85,
        why: |c, _| match &c.kind {
            EventKind::TaintsChanged { added } => format!(
                "node {} was tainted ({}), and the pod does not tolerate it",
                c.entity.name,
                added.join(", ")
            ),
            _ => String::new(),
        },
    },
    CausalRule {
        name: "cni-failure-fails-sandbox",
        cause: is_cni_failure,
        effect: is_sandbox_failure,
        link: Link::NodeRunsPod,
        max_delay: minutes(5),
        prior: 0.9,
        why: |c, _| match &c.kind {
            EventKind::CniFailure { op, message } => format!(
                "the CNI plugin failed {op} ({message}), so the pod sandbox could not be created"
            ),
            _ => String::new(),
        },
    },
    CausalRule {
        name: "pod-failures-fail-job",
        cause: is_failed_termination,
        effect: is_job_failure,
        link: Link::PodOfWorkload,
        max_delay: minutes(120),
        prior: 0.9,
        why: |_, _| "its pods kept failing until the Job hit its backoff limit".to_owned(),
    },
];
