//! Telemetry samples (metrics, spans, logs) tied to cluster entities. The engine turns
//! their deviations into events on the same timeline as everything else.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::entity::EntityRef;

/// Names of the metrics Tapio's own collectors produce, shared by collectors and engine.
pub mod metric_names {
    /// A container's memory limit in bytes (as kube-state-metrics names it), published by
    /// the kubeapi parser so that usage can be compared with it.
    pub const MEMORY_LIMIT: &str = "kube_pod_container_resource_limits_memory_bytes";
    /// A container's working set in bytes (kubelet stats/summary): what the OOM killer
    /// and evictions look at.
    pub const WORKING_SET: &str = "container_memory_working_set_bytes";
    /// A container's CPU use in cores (kubelet stats/summary).
    pub const CPU_USAGE: &str = "container_cpu_usage_cores";
    /// CFS periods a container ran in, cumulative (its cgroup's `cpu.stat`; cAdvisor's name).
    pub const CFS_PERIODS: &str = "container_cpu_cfs_periods_total";
    /// CFS periods in which it was throttled, cumulative.
    pub const CFS_THROTTLED_PERIODS: &str = "container_cpu_cfs_throttled_periods_total";
    /// Time it spent throttled, seconds, cumulative.
    pub const CFS_THROTTLED_SECONDS: &str = "container_cpu_cfs_throttled_seconds_total";
}

/// One metric data point about one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub at: Timestamp,
    /// The pod, node or workload the point describes.
    pub entity: EntityRef,
    /// The service the entity belongs to (`service.name`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub name: String,
    pub value: f64,
    /// A cumulative counter (a monotonic sum): its rate, not its level, is the signal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counter: bool,
    /// Point attributes that distinguish series of one metric (sorted by key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

/// One finished span of a distributed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The service that emitted it (`service.name`).
    pub service: String,
    /// The pod that emitted it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<EntityRef>,
    pub name: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `Some(true)` when the span status is ERROR; `None` when the span has no status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    /// For a call out of the service (span kind CLIENT or PRODUCER): the host it went to
    /// (`server.address`, `net.peer.name` or `peer.service`), which may be a database or
    /// another service that emits no spans of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The status message of a failed span (what the client library said went wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

impl SpanRecord {
    /// Duration in seconds (zero when the clock went backwards).
    pub fn duration_secs(&self) -> f64 {
        let d = self.end.duration_since(self.start).as_secs_f64();
        d.max(0.0)
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub at: Timestamp,
    pub entity: EntityRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// OTLP severity number (1-24), when the record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_number: Option<i32>,
    pub body: String,
}
