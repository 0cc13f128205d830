//! Network: a NetworkPolicy that newly selects pods cuts their traffic, and probes or
//! connections fail.

use tapio_domain::{Event, EventKind};

use super::{minutes, CausalRule};
use crate::correlation::link::Link;

fn is_policy_change(e: &Event) -> bool {
    matches!(e.kind, EventKind::PolicyChanged { .. })
}

/// Failures a policy that cuts traffic causes: probes and connects of the pods it
/// selects (egress), and calls into them failing for their callers (ingress; whether the
/// policy has an Ingress part is not known here, only that it selects the pod).
fn is_connectivity_failure(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ProbeFailed { .. }
            | EventKind::TcpConnectFailed { .. }
            | EventKind::CallsFailing { .. }
    )
}

fn is_dns_failure(e: &Event) -> bool {
    matches!(e.kind, EventKind::DnsFailure { .. })
}

fn is_pod_network_trouble(e: &Event) -> bool {
    is_connectivity_failure(e) || super::is_failed_termination(e)
}

fn is_calls_failing(e: &Event) -> bool {
    matches!(e.kind, EventKind::CallsFailing { .. })
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
        name: "network-policy-blocks-traffic",
        cause: is_policy_change,
        effect: is_connectivity_failure,
        link: Link::PolicySelectsPod,
        max_delay: minutes(15),
        prior: 0.8,
        why: |c, _| {
            format!(
                "NetworkPolicy {} now selects this pod and does not allow the traffic",
                c.entity.name
            )
        },
    },
];
