//! Which events can be a root cause, of which kind, and how much a chain that starts there
//! is worth before its links are counted.

use tapio_domain::{Event, EventKind, RootCauseKind};

/// What a chain that starts at an event says about the cause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RootClass {
    pub kind: RootCauseKind,
    /// How strongly an event of this kind explains an incident on its own (0-1). A change
    /// someone made is a strong root; a symptom that explains only itself is weak.
    pub weight: f64,
}

fn class(kind: RootCauseKind, weight: f64) -> Option<RootClass> {
    Some(RootClass { kind, weight })
}

/// The root-cause class of `event`, or `None` when it cannot start a chain (for example a
/// pod being created: something else made it).
pub fn root_of(event: &Event) -> Option<RootClass> {
    use RootCauseKind as K;
    match &event.kind {
        EventKind::ConfigChanged { .. } => class(K::ConfigChange, 0.95),
        EventKind::SecretChanged { .. } => class(K::SecretChange, 0.95),
        EventKind::ImageChanged { .. } => class(K::ImageChange, 0.95),
        EventKind::ResourcesChanged {
            memory_limit_lowered_to: Some(_),
            ..
        } => class(K::MemoryLimit, 0.95),
        EventKind::ResourcesChanged { .. }
        | EventKind::EnvChanged { .. }
        | EventKind::RolloutRestarted => class(K::SpecChange, 0.85),
        EventKind::ProbeChanged { .. } => class(K::ProbeMisconfig, 0.9),
        EventKind::ReplicasChanged { .. } => class(K::ScaleChange, 0.85),
        EventKind::PolicyChanged { .. } => class(K::NetworkPolicy, 0.9),
        EventKind::MetricAnomaly { metric, score, .. } if *score > 0.0 => {
            let m = metric.to_ascii_lowercase();
            if crate::correlation::rules::is_memory_metric(metric) {
                class(K::MemoryLeak, 0.75)
            } else if m.starts_with("error_logs") {
                class(K::ApplicationError, 0.6)
            } else if crate::correlation::rules::is_connection_metric(metric) {
                // A pool that fills up waits on what it connects to; a server that runs
                // out of connections (backends, clients, sessions) fails its callers.
                class(K::DependencyFailure, 0.7)
            } else if m.contains("throttl") {
                class(K::CpuThrottling, 0.75)
            } else if m.contains("cpu") {
                class(K::CpuSaturation, 0.7)
            } else {
                class(K::ApplicationError, 0.55)
            }
        }
        EventKind::NodeConditionChanged {
            condition, status, ..
        } => match (condition.as_str(), status.as_str()) {
            ("MemoryPressure", "True") => class(K::NodeMemoryPressure, 0.8),
            ("DiskPressure", "True") => class(K::NodeDiskPressure, 0.8),
            ("PIDPressure", "True") => class(K::NodePidPressure, 0.8),
            ("Ready", "False" | "Unknown") => class(K::NodeNotReady, 0.75),
            ("NetworkUnavailable", "True") => class(K::CniFailure, 0.75),
            _ => None,
        },
        EventKind::UnitTrouble { .. } => class(K::NodeServiceFailure, 0.85),
        EventKind::TaintsChanged { .. } => class(K::Scheduling, 0.85),
        EventKind::EtcdTrouble { .. } => class(K::EtcdDegraded, 0.85),
        EventKind::CniFailure { .. } => class(K::CniFailure, 0.85),
        EventKind::DnsFailure { .. } => class(K::DnsFailure, 0.75),
        EventKind::TcpConnectFailed { .. } => class(K::ConnectivityLoss, 0.5),
        // Several services failing their calls into it at once: strong evidence.
        EventKind::CallsFailing { callers, .. } if callers.len() > 1 => {
            class(K::DependencyFailure, 0.85)
        }
        // One caller failing into it may as well be the caller's own fault.
        EventKind::CallsFailing { .. } => class(K::DependencyFailure, 0.5),
        EventKind::OomKill { .. } => class(K::MemoryLimit, 0.6),
        EventKind::ContainerTerminated { reason, .. } if reason == "OOMKilled" => {
            class(K::MemoryLimit, 0.6)
        }
        EventKind::ContainerTerminated { .. } => class(K::ApplicationError, 0.45),
        EventKind::ContainerWaiting { reason, .. } => match reason.as_str() {
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => class(K::ImagePull, 0.6),
            "CreateContainerConfigError" => class(K::ConfigChange, 0.6),
            "CrashLoopBackOff" => class(K::ApplicationError, 0.4),
            _ => class(K::Unknown, 0.3),
        },
        EventKind::ImagePullFailed { .. } => class(K::ImagePull, 0.6),
        // Failing probes without a probe change: the application is unhealthy.
        EventKind::ProbeFailed { .. } => class(K::ApplicationError, 0.4),
        EventKind::SchedulingFailed { .. } => class(K::Scheduling, 0.7),
        EventKind::CreateFailed { message } if message.contains("quota") => {
            class(K::QuotaExceeded, 0.85)
        }
        EventKind::CreateFailed { .. } => class(K::ControlPlane, 0.5),
        EventKind::SandboxFailed { .. } => class(K::CniFailure, 0.6),
        EventKind::VolumeFailed { .. } => class(K::VolumeProvisioning, 0.75),
        EventKind::PodEvicted { .. } => class(K::Unknown, 0.4),
        EventKind::JobFailed { .. } => class(K::ApplicationError, 0.4),
        _ => None,
    }
}

/// Root causes that are a change someone made to one workload.
pub fn is_workload_change(kind: RootCauseKind) -> bool {
    matches!(
        kind,
        RootCauseKind::ConfigChange
            | RootCauseKind::SecretChange
            | RootCauseKind::ImageChange
            | RootCauseKind::SpecChange
            | RootCauseKind::ProbeMisconfig
    )
}
