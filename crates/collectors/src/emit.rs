//! Building observations from one input record: ids derive from the record's payload, so
//! the same input always yields the same events.

use jiff::Timestamp;
use tapio_domain::{
    EntityRef, Event, EventKind, MetricSample, Observation, RawRef, Severity, Source,
};

use crate::recording::Record;

/// Collects the observations one record produces.
pub struct Emitter<'a> {
    record: &'a Record,
    source: Source,
    out: &'a mut Vec<Observation>,
    /// Hash of the record's payload, computed once for all its events.
    payload_hash: Option<[u8; 16]>,
}

impl<'a> Emitter<'a> {
    /// Emits on behalf of `record`'s own source.
    pub fn new(record: &'a Record, out: &'a mut Vec<Observation>) -> Self {
        Self {
            record,
            source: record.source,
            out,
            payload_hash: None,
        }
    }

    /// The record's event time.
    pub fn ts(&self) -> Timestamp {
        self.record.ts
    }

    /// Emits an event. `discriminator` must differ between the events of one record.
    pub fn event(
        &mut self,
        discriminator: &str,
        at: Timestamp,
        kind: EventKind,
        severity: Severity,
        entity: EntityRef,
        node: Option<String>,
    ) {
        let payload = self.payload_hash.get_or_insert_with(|| {
            xxhash_rust::xxh3::xxh3_128(self.record.data.get().as_bytes()).to_be_bytes()
        });
        self.out.push(Observation::Event(Event::from_input(
            self.source,
            payload,
            RawRef {
                line: self.record.line,
            },
            discriminator,
            at,
            kind,
            severity,
            entity,
            node,
        )));
    }

    /// Emits any other observation.
    pub fn push(&mut self, observation: Observation) {
        self.out.push(observation);
    }

    /// Emits a metric point.
    pub fn metric(&mut self, sample: MetricSample) {
        self.out.push(Observation::Metric(sample));
    }
}
