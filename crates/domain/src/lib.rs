//! L0 domain model: the events, entities, relations, telemetry and insights every other
//! level speaks. Pure data and pure functions; no I/O.

pub mod entity;
pub mod event;
pub mod insight;
pub mod observation;
pub mod partition;
pub mod telemetry;

pub use entity::{EntityKey, EntityKind, EntityRef, EntitySnapshot, Relation, RelationKind};
pub use event::{Event, EventId, EventKind, RawRef, Severity, Source};
pub use insight::{
    Alternative, ChainStep, EntityName, Insight, InsightReport, RootCause, RootCauseKind, Stats,
    Symptom,
};
pub use jiff::{SignedDuration, Timestamp};
pub use observation::Observation;
pub use partition::{partition_of, Partition};
pub use telemetry::{LogRecord, MetricSample, SpanRecord};
