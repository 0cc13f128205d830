//! What flows on the bus from collectors to the engine.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::entity::{EntityRef, EntitySnapshot};
use crate::event::Event;
use crate::telemetry::{LogRecord, MetricSample, SpanRecord};

/// One unit of input for the engine: an event, a topology change or a telemetry sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "observation", rename_all = "snake_case")]
pub enum Observation {
    Event(Event),
    /// The entity exists with these labels and relations from `at` on.
    Entity(EntitySnapshot),
    /// The entity stopped existing at `at`.
    EntityGone {
        at: Timestamp,
        entity: EntityRef,
    },
    Metric(MetricSample),
    Span(SpanRecord),
    Log(LogRecord),
}

impl Observation {
    /// Event time of the observation.
    pub fn at(&self) -> Timestamp {
        match self {
            Self::Event(e) => e.at,
            Self::Entity(s) => s.at,
            Self::EntityGone { at, .. } => *at,
            Self::Metric(m) => m.at,
            Self::Span(s) => s.end,
            Self::Log(l) => l.at,
        }
    }
}
