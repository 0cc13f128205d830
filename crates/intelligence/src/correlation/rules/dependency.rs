//! Dependencies: when a service that others call fails, its callers fail after it. The
//! call graph comes from traces (parent and child spans in different services).

use tapio_domain::{Event, EventKind};

use super::{is_failed_termination, minutes, waiting_reason, CausalRule};
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

pub(super) const RULES: &[CausalRule] = &[CausalRule {
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
}];
