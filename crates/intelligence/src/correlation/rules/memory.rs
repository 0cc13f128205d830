//! Memory: growth (a leak, or load that needs more) up to the limit gets the container
//! OOM-killed; a lowered limit does the same sooner.

use tapio_domain::{Event, EventKind};

use super::{
    describe_metric, is_memory_growth, is_oom_termination, is_other_metric_growth, minutes,
    CausalRule,
};
use crate::correlation::link::Link;

fn is_kernel_oom(e: &Event) -> bool {
    matches!(e.kind, EventKind::OomKill { .. })
}

fn is_limit_lowered(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ResourcesChanged {
            memory_limit_lowered_to: Some(_),
            ..
        }
    )
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "memory-growth-causes-oom",
        cause: is_memory_growth,
        effect: is_oom_termination,
        link: Link::SameEntity,
        max_delay: minutes(60),
        prior: 0.9,
        why: |c, _| {
            format!("{}, until the container reached its memory limit and the kernel killed it (OOMKilled)", describe_metric(c))
        },
    },
    CausalRule {
        name: "kernel-oom-kill-is-oomkilled",
        cause: is_kernel_oom,
        effect: is_oom_termination,
        link: Link::SameEntity,
        max_delay: minutes(2),
        // Not a cause so much as the same fact seen twice: the kernel's record of the kill
        // (process, limit) is the first and most exact evidence of the kubelet's OOMKilled.
        prior: 1.0,
        why: |_, _| "the kernel OOM killer chose a process of this container".to_owned(),
    },
    CausalRule {
        name: "load-growth-drives-memory",
        cause: is_other_metric_growth,
        effect: is_memory_growth,
        link: Link::SameEntity,
        max_delay: minutes(30),
        prior: 0.8,
        why: |c, _| format!("{}; memory followed", describe_metric(c)),
    },
    CausalRule {
        name: "lowered-limit-causes-oom",
        cause: is_limit_lowered,
        effect: is_oom_termination,
        link: Link::WorkloadOwnsPod,
        max_delay: minutes(60),
        prior: 0.85,
        why: |c, _| match &c.kind {
            EventKind::ResourcesChanged { change, .. } => {
                format!("the memory limit was lowered ({change}), below what the container uses")
            }
            _ => String::new(),
        },
    },
];
