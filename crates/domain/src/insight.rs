//! The insight: Tapio's answer, in the shape of `shared/spec/insights.md`.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::entity::EntityRef;
use crate::event::EventId;

/// Root cause categories of the insight contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RootCauseKind {
    ConfigChange,
    SecretChange,
    ImageChange,
    SpecChange,
    ScaleChange,
    MemoryLimit,
    MemoryLeak,
    CpuThrottling,
    CpuSaturation,
    NodeMemoryPressure,
    NodeDiskPressure,
    NodePidPressure,
    NodeNotReady,
    DiskFull,
    DnsFailure,
    NetworkDelay,
    NetworkLoss,
    ConnectivityLoss,
    NetworkPolicy,
    DependencyFailure,
    ApplicationError,
    ImagePull,
    Scheduling,
    VolumeProvisioning,
    ProbeMisconfig,
    QuotaExceeded,
    CniFailure,
    EtcdDegraded,
    ControlPlane,
    NodeServiceFailure,
    Unknown,
}

impl fmt::Display for RootCauseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An entity as the insight contract names it: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityName {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl From<&EntityRef> for EntityName {
    fn from(r: &EntityRef) -> Self {
        Self {
            kind: r.kind.as_str().to_owned(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        }
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// The cause an insight names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    pub kind: RootCauseKind,
    pub entity: EntityName,
    /// Owning workload (`Deployment/cart`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Service name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When the cause began.
    pub at: Timestamp,
}

/// The symptom that made the incident visible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Symptom {
    pub kind: String,
    pub entity: EntityName,
    pub at: Timestamp,
}

/// One step of a causal chain, root cause first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainStep {
    pub kind: String,
    pub entity: EntityName,
    pub at: Timestamp,
    /// Ids of the events that back this step.
    pub evidence: Vec<EventId>,
    /// How this step leads to the next.
    pub why: String,
}

/// A cause that was considered and ranked lower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub root_cause: RootCause,
    pub confidence: f64,
    pub why_not: String,
}

/// One explained incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// Stable: the same input yields the same id.
    pub id: String,
    pub pattern: String,
    pub confidence: f64,
    pub summary: String,
    pub root_cause: RootCause,
    pub symptom: Symptom,
    pub chain: Vec<ChainStep>,
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    #[serde(default)]
    pub recommendations: Vec<String>,
    #[serde(default)]
    pub affected: Vec<EntityName>,
}

/// Figures about one analysis run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub lines: u64,
    pub rejected: u64,
    pub events: u64,
    pub entities: u64,
    pub elapsed_ms: f64,
}

/// What `tapio analyze --format json` prints: insights best first, then the run's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsightReport {
    pub insights: Vec<Insight>,
    pub stats: Stats,
}
