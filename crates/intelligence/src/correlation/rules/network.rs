//! Network: a NetworkPolicy that newly selects pods cuts their traffic, and probes or
//! connections fail.

use tapio_domain::{Event, EventKind};

use super::{is_calls_failing, minutes, CausalRule};
use crate::correlation::link::Link;

/// A policy change that restricts the ingress of the pods it selects.
fn restricts_ingress(e: &Event) -> bool {
    matches!(e.kind, EventKind::PolicyChanged { ingress: true, .. })
}

/// A policy change that restricts the egress of the pods it selects.
fn restricts_egress(e: &Event) -> bool {
    matches!(e.kind, EventKind::PolicyChanged { egress: true, .. })
}

/// Failures of traffic into the pods a policy selects: calls into them failing for their
/// callers, and probes (a probe from outside the node, or one the policy leaves out).
fn is_ingress_failure(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ProbeFailed { .. } | EventKind::CallsFailing { .. }
    )
}

/// Failures of traffic out of the pods a policy selects: their connects, and probes that
/// check a dependency.
fn is_egress_failure(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ProbeFailed { .. } | EventKind::TcpConnectFailed { .. }
    )
}

fn is_dns_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::DnsFailure { .. })
}

fn is_pod_network_trouble(e: &Event) -> bool {
    is_ingress_failure(e) || is_egress_failure(e) || super::is_failed_termination(e)
}

pub(super) const RULES: &[CausalRule] = &[
    CausalRule {
        name: "dns-failure-fails-calls",
        cause: is_dns_failure,
        effect: is_calls_failing,
        link: Link::LookupOfCallee,
        max_delay: minutes(15),
        prior: 0.85,
        why: |c, e| match &c.kind {
            EventKind::DnsFailure { query, rcode, .. } => format!(
                "looking up {query} failed ({rcode}), so calls to {} could not even connect",
                e.entity.name
            ),
            _ => String::new(),
        },
    },
    CausalRule {
        name: "dns-failure-breaks-pod",
        cause: is_dns_failure,
        effect: is_pod_network_trouble,
        link: Link::SameEntity,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, _| {
            match &c.kind {
        EventKind::DnsFailure { query, rcode, server, .. } => format!("looking up {query} failed ({rcode} from {server}), so the pod could not reach what it needs"),
        _ => String::new(),
    }
        },
    },
    CausalRule {
        name: "network-policy-blocks-ingress",
        cause: restricts_ingress,
        effect: is_ingress_failure,
        link: Link::PolicySelectsPod,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, _| {
            format!(
                "NetworkPolicy {} now selects this pod and does not allow the traffic into it",
                c.entity.name
            )
        },
    },
    CausalRule {
        name: "network-policy-blocks-egress",
        cause: restricts_egress,
        effect: is_egress_failure,
        link: Link::PolicySelectsPod,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, _| {
            format!(
                "NetworkPolicy {} now selects this pod and does not allow its traffic out",
                c.entity.name
            )
        },
    },
];
