//! Dependencies: when a service that others call fails, its callers fail after it. The
//! call graph comes from traces (parent and child spans in different services, and the
//! peers of client spans), from TCP connections and from DNS lookups.

use tapio_domain::{Event, EventKind};

use super::{
    is_calls_failing, is_failed_termination, is_metric_anomaly, is_probe_or_exit_failure,
    is_template_change, minutes, waiting_reason, CausalRule,
};
use crate::correlation::link::Link;

/// The name of the rule by which a failing service breaks the pods of its callers.
pub const CASCADE_RULE: &str = "callee-failure-breaks-callers";

/// Rules that carry a failure from one service to the services calling it: a chain that
/// uses one is a cascade, and its root a dependency failure for the callers.
pub const CROSS_SERVICE_RULES: [&str; 3] = [
    CASCADE_RULE,
    "failing-calls-break-callers",
    "failing-calls-cascade",
];

fn is_pod_failure(e: &Event) -> bool {
    is_failed_termination(e)
        || matches!(
            e.kind,
            EventKind::ProbeFailed { .. } | EventKind::TcpConnectFailed { .. }
        )
        || matches!(waiting_reason(e), Some("CrashLoopBackOff"))
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

/// A pod's connections to a dependency piling up: its pool in use, waiting or timing out.
fn is_connection_saturation(e: &Event) -> bool {
    super::metric_up(e).is_some_and(super::is_connection_metric)
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "exhausted-pool-fails-pod",
        cause: is_connection_saturation,
        effect: is_probe_or_exit_failure,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.7,
        why: |c, _| {
            match &c.kind {
            EventKind::MetricAnomaly {
                metric,
                baseline,
                observed,
                ..
            } => format!(
                "{metric} rose from {baseline:.0} to {observed:.0}: requests waited on the dependency's connections until they and the probes timed out"
            ),
            _ => String::new(),
        }
        },
    },
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
        // A service whose own pods fail (unready, crashing) fails the calls made into it.
        name: "failing-pods-fail-calls-into-them",
        cause: is_pod_failure,
        effect: is_calls_failing,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.85,
        why: |c, _| {
            format!(
                "{} was failing itself, so calls into it failed",
                c.entity.name
            )
        },
    },
    CausalRule {
        // Calls failing into a dependency make the caller fail the calls made into it.
        name: "failing-calls-cascade",
        cause: is_calls_failing,
        effect: is_calls_failing,
        link: Link::CalleeOfPod,
        max_delay: minutes(15),
        prior: 0.85,
        why: |c, e| {
            format!(
                "{}, so {} failed the calls made into it in turn",
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
