//! CPU: a container held at its CPU limit is throttled; throttled processes answer probes
//! late, so probes time out and liveness failures restart the container.

use tapio_domain::Event;

use super::{describe_metric, is_probe_or_exit_failure, metric_up, minutes, CausalRule};
use crate::correlation::link::Link;

fn is_throttling(e: &Event) -> bool {
    metric_up(e).is_some_and(|m| m.to_ascii_lowercase().contains("throttl"))
}

fn is_cpu_saturation(e: &Event) -> bool {
    metric_up(e).is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("cpu") && !m.contains("throttl")
    })
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "throttling-fails-probes",
        cause: is_throttling,
        effect: is_probe_or_exit_failure,
        link: Link::SameEntity,
        max_delay: minutes(30),
        prior: 0.85,
        why: |c, _| {
            format!(
                "{}: the container was held at its CPU limit, so its probes timed out",
                describe_metric(c)
            )
        },
    },
    CausalRule {
        name: "cpu-demand-causes-throttling",
        cause: is_cpu_saturation,
        effect: is_throttling,
        link: Link::SameEntity,
        max_delay: minutes(30),
        prior: 0.7,
        why: |c, _| format!("{}, up to the CPU limit", describe_metric(c)),
    },
    CausalRule {
        name: "cpu-saturation-fails-probes",
        cause: is_cpu_saturation,
        effect: is_probe_or_exit_failure,
        link: Link::SameEntity,
        max_delay: minutes(30),
        prior: 0.6,
        why: |c, _| {
            format!(
                "{}, leaving too little CPU to answer probes in time",
                describe_metric(c)
            )
        },
    },
];
