//! The catalogue of causal rules. Each rule is one documented cause -> effect edge: what
//! the cause and effect look like, how they must be related in the topology, how long the
//! effect may lag, how much the edge is worth (prior), and the sentence that explains it.
//! One file per rule family.

mod container;
mod cpu;
mod dependency;
mod memory;
mod network;
mod node;
mod rollout;
mod scheduling;

use std::sync::LazyLock;

use jiff::SignedDuration;
use tapio_domain::{Event, EventKind};

use super::link::Link;

pub use dependency::{CASCADE_RULE, CROSS_SERVICE_RULES};

/// One cause -> effect edge.
#[derive(Debug)]
pub struct CausalRule {
    /// Machine name (`config-restarts-pods`).
    pub name: &'static str,
    /// Does this event look like the cause?
    pub cause: fn(&Event) -> bool,
    /// Does this event look like the effect?
    pub effect: fn(&Event) -> bool,
    /// Required relation between them.
    pub link: Link,
    /// Longest allowed lag from cause to effect.
    pub max_delay: SignedDuration,
    /// Strength of the edge in [0, 1], before the lag discount.
    pub prior: f64,
    /// Why the cause leads to the effect, for the chain's `why`.
    pub why: fn(&Event, &Event) -> String,
}

/// Every rule of every family.
pub static RULES: LazyLock<Vec<&'static CausalRule>> = LazyLock::new(|| {
    [
        container::RULES,
        cpu::RULES,
        dependency::RULES,
        memory::RULES,
        rollout::RULES,
        node::RULES,
        scheduling::RULES,
        network::RULES,
    ]
    .into_iter()
    .flatten()
    .collect()
});

const fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_secs(m * 60)
}

// --- predicates shared by the families -------------------------------------------------

fn waiting_reason(e: &Event) -> Option<&str> {
    match &e.kind {
        EventKind::ContainerWaiting { reason, .. } => Some(reason),
        _ => None,
    }
}

fn is_crash_loop(e: &Event) -> bool {
    waiting_reason(e) == Some("CrashLoopBackOff")
}

fn is_image_pull_waiting(e: &Event) -> bool {
    matches!(
        waiting_reason(e),
        Some("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName")
    )
}

fn is_config_error_waiting(e: &Event) -> bool {
    matches!(
        waiting_reason(e),
        Some("CreateContainerConfigError" | "CreateContainerError")
    )
}

/// A container that ended on its own (not stopped by a pod deletion, which is Info).
fn is_failed_termination(e: &Event) -> bool {
    matches!(e.kind, EventKind::ContainerTerminated { .. })
        && e.severity >= tapio_domain::Severity::Warning
}

fn is_oom_termination(e: &Event) -> bool {
    matches!(&e.kind, EventKind::ContainerTerminated { reason, .. } if reason == "OOMKilled")
}

fn is_config_change(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ConfigChanged { .. } | EventKind::SecretChanged { .. }
    )
}

fn is_template_change(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::ImageChanged { .. }
            | EventKind::ResourcesChanged { .. }
            | EventKind::ProbeChanged { .. }
            | EventKind::EnvChanged { .. }
            | EventKind::RolloutRestarted
    )
}

fn is_pod_created(e: &Event) -> bool {
    matches!(e.kind, EventKind::PodCreated)
}

/// A pod failing as its probes or its containers' exits show.
fn is_probe_or_exit_failure(e: &Event) -> bool {
    is_failed_termination(e) || matches!(e.kind, EventKind::ProbeFailed { .. })
}

/// Calls into an entity failing for its callers.
fn is_calls_failing(e: &Event) -> bool {
    matches!(e.kind, EventKind::CallsFailing { .. })
}

/// Metrics of connections to a dependency: a client's pool (in use, pending, timeouts) or a
/// server's connection slots (backends, clients, sessions).
pub(crate) fn is_connection_metric(name: &str) -> bool {
    let m = name.to_ascii_lowercase();
    [
        "connection",
        "pool",
        "pending",
        "backends",
        "clients",
        "sessions",
    ]
    .iter()
    .any(|k| m.contains(k))
}

pub(crate) fn metric_up(e: &Event) -> Option<&str> {
    match &e.kind {
        EventKind::MetricAnomaly { metric, score, .. } if *score > 0.0 => Some(metric),
        _ => None,
    }
}

fn is_metric_anomaly(e: &Event) -> bool {
    matches!(e.kind, EventKind::MetricAnomaly { .. })
}

/// Memory usage metrics, by the names kubelet, cAdvisor and OpenTelemetry use.
pub fn is_memory_metric(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("memory") && !n.contains("limit") && !n.contains("rate") && !n.contains("percent")
        || n.contains("working_set")
        || n.contains("rss")
}

fn is_memory_growth(e: &Event) -> bool {
    metric_up(e).is_some_and(is_memory_metric)
}

fn is_other_metric_growth(e: &Event) -> bool {
    metric_up(e).is_some_and(|m| !is_memory_metric(m))
}

fn node_condition(e: &Event) -> Option<(&str, &str)> {
    match &e.kind {
        EventKind::NodeConditionChanged {
            condition, status, ..
        } => Some((condition, status)),
        _ => None,
    }
}

fn describe_metric(e: &Event) -> String {
    match &e.kind {
        EventKind::MetricAnomaly {
            metric,
            baseline,
            observed,
            ..
        } => format!(
            "{metric} rose from {} to {}",
            short(*baseline),
            short(*observed)
        ),
        _ => e.kind.name().to_owned(),
    }
}

/// Compact number for sentences (`512Mi` for byte-sized values, `3.2` otherwise).
fn short(v: f64) -> String {
    if v.abs() >= 1024.0 * 1024.0 {
        format!("{:.0}Mi", v / (1024.0 * 1024.0))
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_unique_and_priors_are_probabilities() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate rule names");
        for r in RULES.iter() {
            assert!(r.prior > 0.0 && r.prior <= 1.0, "{}", r.name);
            assert!(r.max_delay.is_positive(), "{}", r.name);
        }
    }

    #[test]
    fn memory_metric_names_are_recognised() {
        assert!(is_memory_metric("container_memory_working_set_bytes"));
        assert!(is_memory_metric("process.runtime.jvm.memory.usage"));
        assert!(!is_memory_metric(
            tapio_domain::telemetry::metric_names::MEMORY_LIMIT
        ));
        assert!(!is_memory_metric("db.client.connection.count"));
    }
}
