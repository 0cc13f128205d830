//! The unified event: one thing that happened to one entity at one event time, whichever
//! collector saw it.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::entity::EntityRef;

/// Where an observation came from: the `source` of a recording line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Kubeapi,
    Kubelet,
    Systemd,
    Etcd,
    Otlp,
    Ebpf,
    Dns,
    Cni,
    /// Derived inside the engine (for example a metric anomaly).
    Engine,
}

impl Source {
    /// The sources a recording may name.
    pub const RECORDABLE: [Source; 8] = [
        Self::Kubeapi,
        Self::Kubelet,
        Self::Systemd,
        Self::Etcd,
        Self::Otlp,
        Self::Ebpf,
        Self::Dns,
        Self::Cni,
    ];

    /// The recording spelling (`"kubeapi"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubeapi => "kubeapi",
            Self::Kubelet => "kubelet",
            Self::Systemd => "systemd",
            Self::Etcd => "etcd",
            Self::Otlp => "otlp",
            Self::Ebpf => "ebpf",
            Self::Dns => "dns",
            Self::Cni => "cni",
            Self::Engine => "engine",
        }
    }

    /// Parses a recording `source`; `None` for sources this version does not know.
    pub fn parse(name: &str) -> Option<Self> {
        Self::RECORDABLE.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad an event is on its own, before any correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

/// A stable event id: the same input always yields the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u64);

impl EventId {
    /// Derives an id from the event's source, its raw input and a discriminator that
    /// separates several events produced by one input line.
    pub fn derive(source: Source, raw: &[u8], discriminator: &str) -> Self {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(source.as_str().as_bytes());
        h.update(&[0]);
        h.update(raw);
        h.update(&[0]);
        h.update(discriminator.as_bytes());
        Self(h.digest())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ev-{:016x}", self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.strip_prefix("ev-")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(EventId)
            .ok_or_else(|| serde::de::Error::custom(format!("not an event id: {s:?}")))
    }
}

/// Where the event came from in the input: the recording line (1-based) that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RawRef {
    pub line: u64,
}

/// Which probe of a container failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

/// What happened: a closed set of kinds the rules reason about, each with its typed
/// attributes. `Other` keeps reasons no rule knows yet, so that nothing is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    // --- configuration and rollout -----------------------------------------------------
    /// ConfigMap `data`/`binaryData` changed; names the keys added, removed or changed.
    ConfigChanged { keys: Vec<String> },
    /// Secret data changed (detected through hashes; values are never seen).
    SecretChanged { keys: Vec<String> },
    /// A workload's pod template changed a container image.
    ImageChanged {
        container: String,
        from: String,
        to: String,
    },
    /// A workload's pod template changed container resources.
    ResourcesChanged {
        container: String,
        /// e.g. `limits.memory 512Mi -> 256Mi`.
        change: String,
        /// New memory limit in bytes, when it was lowered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        memory_limit_lowered_to: Option<u64>,
    },
    /// A workload's probes changed.
    ProbeChanged { container: String },
    /// A workload's env / envFrom / command / args changed.
    EnvChanged { container: String },
    /// `kubectl rollout restart` (the restartedAt annotation) or another template change.
    RolloutRestarted,
    /// A workload's desired replica count changed.
    ReplicasChanged { from: i32, to: i32 },
    /// A NetworkPolicy was created or its rules changed, and which traffic of the pods it
    /// selects it restricts (as its `policyTypes` say, or Kubernetes' defaults for them).
    PolicyChanged {
        created: bool,
        #[serde(default = "restricts_by_default")]
        ingress: bool,
        #[serde(default = "restricts_by_default")]
        egress: bool,
    },

    // --- pod and container lifecycle ---------------------------------------------------
    /// A pod object appeared.
    PodCreated,
    /// A pod object was deleted.
    PodDeleted,
    /// `status.phase` changed.
    PodPhaseChanged { from: String, to: String },
    /// A container terminated (`lastState.terminated` or `state.terminated`).
    ContainerTerminated {
        container: String,
        reason: String,
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// A container's restart count went up.
    ContainerRestarted { container: String, restarts: i32 },
    /// A container is waiting with a failure reason (CrashLoopBackOff, ImagePullBackOff,
    /// ErrImagePull, CreateContainerConfigError, ...).
    ContainerWaiting {
        container: String,
        reason: String,
        message: String,
    },
    /// Pulling an image failed (event `Failed` / `ErrImagePull`).
    ImagePullFailed { image: String, message: String },
    /// A probe failed (event `Unhealthy`).
    ProbeFailed { probe: ProbeKind, message: String },
    /// The kubelet killed the container (event `Killing`).
    ContainerKilled { message: String },
    /// The pod was evicted.
    PodEvicted { message: String },
    /// The scheduler could not place the pod.
    SchedulingFailed { message: String },
    /// A controller could not create pods (quota, admission).
    CreateFailed { message: String },
    /// Pod sandbox (network namespace) creation failed.
    SandboxFailed { message: String },
    /// A volume could not be mounted or provisioned.
    VolumeFailed { message: String },
    /// A Job hit its backoff limit or deadline.
    JobFailed { reason: String, message: String },

    // --- nodes -------------------------------------------------------------------------
    /// A node condition changed status (`Ready`, `MemoryPressure`, `DiskPressure`, ...).
    NodeConditionChanged {
        condition: String,
        status: String,
        #[serde(default)]
        message: String,
    },

    /// A node's taints changed; `added` lists the new ones (`key=value:Effect`).
    TaintsChanged { added: Vec<String> },

    // --- node-level signals (eBPF, journal, DNS, CNI, etcd) ------------------------------
    /// The kernel OOM killer chose a victim.
    OomKill {
        pid: u32,
        comm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        memcg_limit_bytes: Option<u64>,
    },
    /// A process exited abnormally.
    ProcessExit {
        pid: u32,
        comm: String,
        exit_code: i32,
        signal: i32,
    },
    /// A TCP connection could not be established.
    TcpConnectFailed {
        daddr: String,
        dport: u16,
        errno: i32,
    },
    /// TCP retransmits or resets towards a peer.
    TcpTrouble {
        what: String,
        daddr: String,
        dport: u16,
    },
    /// A DNS query failed or timed out; `client` is the querying address (a pod IP).
    DnsFailure {
        client: String,
        query: String,
        rcode: String,
        server: String,
    },
    /// CNI ADD/DEL failed.
    CniFailure { op: String, message: String },
    /// A systemd unit (kubelet, containerd...) failed or logged a known failure.
    UnitTrouble { unit: String, message: String },
    /// etcd leader change, alarm or slowness.
    EtcdTrouble { what: String, message: String },

    // --- telemetry anomalies (derived by the engine) -------------------------------------
    /// A metric moved away from its baseline.
    MetricAnomaly {
        metric: String,
        /// Robust z-score of the observed value against the baseline (signed).
        score: f64,
        baseline: f64,
        observed: f64,
    },

    /// Calls from other services into this entity started failing (from their client
    /// spans): `callers` are the services whose calls failed (`<namespace>/<service>`
    /// when the namespace is known), `message` the most common error they reported.
    CallsFailing {
        callers: Vec<String>,
        failed: u64,
        total: u64,
        message: String,
    },

    /// A reason or kind no rule knows yet, kept as-is.
    Other { reason: String, message: String },
}

impl EventKind {
    /// A short stable name of the kind (`"container_terminated"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::ConfigChanged { .. } => "config_changed",
            Self::SecretChanged { .. } => "secret_changed",
            Self::ImageChanged { .. } => "image_changed",
            Self::ResourcesChanged { .. } => "resources_changed",
            Self::ProbeChanged { .. } => "probe_changed",
            Self::EnvChanged { .. } => "env_changed",
            Self::RolloutRestarted => "rollout_restarted",
            Self::ReplicasChanged { .. } => "replicas_changed",
            Self::PolicyChanged { .. } => "policy_changed",
            Self::PodCreated => "pod_created",
            Self::PodDeleted => "pod_deleted",
            Self::PodPhaseChanged { .. } => "pod_phase_changed",
            Self::ContainerTerminated { .. } => "container_terminated",
            Self::ContainerRestarted { .. } => "container_restarted",
            Self::ContainerWaiting { .. } => "container_waiting",
            Self::ImagePullFailed { .. } => "image_pull_failed",
            Self::ProbeFailed { .. } => "probe_failed",
            Self::ContainerKilled { .. } => "container_killed",
            Self::PodEvicted { .. } => "pod_evicted",
            Self::SchedulingFailed { .. } => "scheduling_failed",
            Self::CreateFailed { .. } => "create_failed",
            Self::SandboxFailed { .. } => "sandbox_failed",
            Self::VolumeFailed { .. } => "volume_failed",
            Self::JobFailed { .. } => "job_failed",
            Self::NodeConditionChanged { .. } => "node_condition_changed",
            Self::TaintsChanged { .. } => "taints_changed",
            Self::OomKill { .. } => "oom_kill",
            Self::ProcessExit { .. } => "process_exit",
            Self::TcpConnectFailed { .. } => "tcp_connect_failed",
            Self::TcpTrouble { .. } => "tcp_trouble",
            Self::DnsFailure { .. } => "dns_failure",
            Self::CniFailure { .. } => "cni_failure",
            Self::UnitTrouble { .. } => "unit_trouble",
            Self::EtcdTrouble { .. } => "etcd_trouble",
            Self::MetricAnomaly { .. } => "metric_anomaly",
            Self::CallsFailing { .. } => "calls_failing",
            Self::Other { .. } => "other",
        }
    }

    /// True for a change someone made to the configuration or the rollout of a workload
    /// (a cause, never a symptom). Changes are few; every partition of the cluster is sent
    /// all of them, so that a change in one namespace can explain failures in another.
    pub fn is_change(&self) -> bool {
        matches!(
            self,
            Self::ConfigChanged { .. }
                | Self::SecretChanged { .. }
                | Self::ImageChanged { .. }
                | Self::ResourcesChanged { .. }
                | Self::ProbeChanged { .. }
                | Self::EnvChanged { .. }
                | Self::RolloutRestarted
                | Self::ReplicasChanged { .. }
                | Self::PolicyChanged { .. }
        )
    }

    /// True for a container that ended because it ran out of memory.
    pub fn is_oom(&self) -> bool {
        match self {
            Self::ContainerTerminated { reason, .. } => reason == "OOMKilled",
            Self::OomKill { .. } => true,
            _ => false,
        }
    }
}

/// A policy change recorded before its direction was: taken as restricting both.
fn restricts_by_default() -> bool {
    true
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    /// Event time: when it happened, not when Tapio saw it.
    pub at: Timestamp,
    pub source: Source,
    pub kind: EventKind,
    pub severity: Severity,
    /// The entity the event is about.
    pub entity: EntityRef,
    /// The node it happened on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The input line that carried it.
    pub raw: RawRef,
}

impl Event {
    /// Builds an event whose id derives from the source, the raw input and `discriminator`.
    #[allow(clippy::too_many_arguments)]
    pub fn from_input(
        source: Source,
        raw_input: &[u8],
        raw: RawRef,
        discriminator: &str,
        at: Timestamp,
        kind: EventKind,
        severity: Severity,
        entity: EntityRef,
        node: Option<String>,
    ) -> Self {
        Self {
            id: EventId::derive(source, raw_input, discriminator),
            at,
            source,
            kind,
            severity,
            entity,
            node,
            raw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_stable_and_distinguish_inputs() {
        let a = EventId::derive(Source::Kubeapi, b"{\"x\":1}", "pod/0");
        let b = EventId::derive(Source::Kubeapi, b"{\"x\":1}", "pod/0");
        let c = EventId::derive(Source::Kubeapi, b"{\"x\":1}", "pod/1");
        let d = EventId::derive(Source::Kubelet, b"{\"x\":1}", "pod/0");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn event_id_round_trips_through_json() {
        let id = EventId::derive(Source::Otlp, b"x", "");
        let json = serde_json::to_string(&id).unwrap();
        assert!(json.starts_with("\"ev-"));
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<EventId>("\"nope\"").is_err());
    }

    #[test]
    fn sources_parse_their_recording_names_only() {
        for s in Source::RECORDABLE {
            assert_eq!(Source::parse(s.as_str()), Some(s));
        }
        assert_eq!(Source::parse("engine"), None);
        assert_eq!(Source::parse("syslog"), None);
    }
}
