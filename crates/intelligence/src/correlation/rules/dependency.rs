//! Dependencies: when a service that others call fails, its callers fail after it. The
//! call graph comes from traces (parent and child spans in different services, and the
//! peers of client spans), from TCP connections and from DNS lookups.

use tapio_domain::{Event, EventKind};

use super::{
    is_failed_termination, is_metric_anomaly, is_template_change, minutes, waiting_reason,
    CausalRule,
};
use crate::correlation::link::Link;

/// The name of the cross-service rule: a chain that uses it is a cascade.
pub const CASCADE_RULE: &str = "callee-failure-breaks-callers";

fn is_pod_failure(e: &Event) -> bool {
    is_failed_termination(e)
        || matches!(
            e.kind,
            EventKind::ProbeFailed { .. } | EventKind::TcpConnectFailed { .. }
        )
        || matches!(waiting_reason(e), Some("CrashLoopBackOff"))
}

fn is_calls_failing(e: &Event) -> bool {
    matches!(e.kind, EventKind::CallsFailing { .. })
}

/// What the callers saw, for the chain's explanation.
fn calls_failing_text(e: &Event) -> String {
    let EventKind::CallsFailing {
        callers,
        failed,
        total,
        message,
    } = &e.kind
    else {
        return String::new();
    };
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(": \"{message}\"")
    };
    format!(
        "calls into {} failed ({failed} of {total}, from {}){said}",
        e.entity.name,
        callers.join(", ")
    )
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: CASCADE_RULE,
        cause: is_pod_failure,
        effect: is_pod_failure,
        link: Link::CalleeOfPod,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, e| {
            format!(
                "{} (a service that {} calls) was failing first, so the calls into it failed",
                c.entity.name, e.entity.name
            )
        },
    },
    CausalRule {
        name: "failing-calls-break-callers",
        cause: is_calls_failing,
        effect: is_pod_failure,
        link: Link::CalleeOfPod,
        max_delay: minutes(15),
        prior: 0.85,
        why: |c, e| {
            format!(
                "{}, and {} depends on it",
                calls_failing_text(c),
                e.entity.name
            )
        },
    },
    CausalRule {
        // A caller rolled out with a change starts failing its own calls (bad queries,
        // wrong address or credentials): the dependency is fine.
        name: "caller-change-fails-its-calls",
        cause: is_template_change,
        effect: is_calls_failing,
        link: Link::CallerWorkload,
        max_delay: minutes(30),
        prior: 0.75,
        why: |c, e| {
            format!(
                "{} {} changed and its calls into {} began to fail",
                c.entity.kind, c.entity.name, e.entity.name
            )
        },
    },
    CausalRule {
        name: "saturated-dependency-fails-calls",
        cause: is_metric_anomaly,
        effect: is_calls_failing,
        link: Link::SameEntity,
        max_delay: minutes(30),
        prior: 0.8,
        why: |c, _| match &c.kind {
            EventKind::MetricAnomaly {
                metric, observed, ..
            } => format!("{metric} of {} rose to {observed}", c.entity.name),
            _ => String::new(),
        },
    },
];
