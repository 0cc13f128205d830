//! Events by entity, in event-time order, back to a retention horizon that the engine moves
//! forward as event time passes.

use rustc_hash::FxHashMap as HashMap;

use jiff::Timestamp;
use tapio_domain::{EntityKey, Event, EventKind, Severity};

use crate::topology::short_host;

/// Every retained event, indexed by entity and by node.
#[derive(Debug, Default)]
pub struct Timeline {
    events: Vec<Event>,
    by_entity: HashMap<EntityKey, Vec<usize>>,
    by_node: HashMap<String, Vec<usize>>,
    sorted: bool,
    /// Ids of the events held: an event delivered twice (a redelivered bus message, an
    /// anomaly derived again) is kept once.
    ids: rustc_hash::FxHashSet<tapio_domain::EventId>,
    /// Informational events not kept (no rule reads them).
    pub skipped_info: u64,
    /// Events already held, dropped.
    pub duplicates: u64,
    /// Events before this are forgotten, and dropped when they arrive.
    horizon: Option<Timestamp>,
    /// Events forgotten or dropped for being before the horizon.
    pub expired: u64,
}

impl Timeline {
    /// Adds an event. Informational events no rule reads — plain Kubernetes events
    /// (Scheduled, Pulled...) and containers stopped by a pod deletion — are counted and
    /// dropped.
    pub fn push(&mut self, event: Event) {
        let unread = matches!(
            event.kind,
            EventKind::Other { .. }
                | EventKind::ContainerTerminated { .. }
                | EventKind::PodPhaseChanged { .. }
        );
        if unread && event.severity == Severity::Info {
            self.skipped_info += 1;
            return;
        }
        if self.horizon.is_some_and(|h| event.at < h) {
            self.expired += 1;
            return;
        }
        if !self.ids.insert(event.id) {
            self.duplicates += 1;
            return;
        }
        self.index(event);
    }

    /// Adds an event to the indexes and the list.
    fn index(&mut self, event: Event) {
        let idx = self.events.len();
        self.by_entity
            .entry(event.entity.key())
            .or_default()
            .push(idx);
        if let Some(node) = &event.node {
            self.by_node
                .entry(short_host(node).to_owned())
                .or_default()
                .push(idx);
        }
        self.events.push(event);
        self.sorted = false;
    }

    /// Forgets every event before `horizon` and drops those that arrive later; returns how
    /// many it forgot. The ids of forgotten events go too.
    pub fn forget_before(&mut self, horizon: Timestamp) -> usize {
        self.horizon = Some(self.horizon.map_or(horizon, |h| h.max(horizon)));
        if self.events.iter().all(|e| e.at >= horizon) {
            return 0;
        }
        let held = std::mem::take(&mut self.events);
        let before = held.len();
        self.by_entity.clear();
        self.by_node.clear();
        self.ids.clear();
        for event in held.into_iter().filter(|e| e.at >= horizon) {
            self.ids.insert(event.id);
            self.index(event);
        }
        self.sorted = false;
        let forgotten = before - self.events.len();
        self.expired += forgotten as u64;
        forgotten
    }

    /// Number of events at or after `from`.
    pub fn count_since(&self, from: Timestamp) -> usize {
        self.events.iter().filter(|e| e.at >= from).count()
    }

    /// Sorts the indexes by event time; call before querying after pushes.
    pub fn seal(&mut self) {
        if self.sorted {
            return;
        }
        let events = &self.events;
        let key = |i: &usize| (events[*i].at, *i);
        for list in self.by_entity.values_mut().chain(self.by_node.values_mut()) {
            list.sort_by_key(key);
        }
        self.sorted = true;
    }

    /// Number of retained events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is retained.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// All retained events, in arrival order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// One event by index.
    pub fn get(&self, idx: usize) -> &Event {
        &self.events[idx]
    }

    /// Indexes of `entity`'s events with `from <= at <= to`.
    pub fn of_entity(&self, entity: &EntityKey, from: Timestamp, to: Timestamp) -> Vec<usize> {
        self.window(self.by_entity.get(entity), from, to)
    }

    /// Indexes of events that happened on `node` with `from <= at <= to`.
    pub fn on_node(&self, node: &str, from: Timestamp, to: Timestamp) -> Vec<usize> {
        self.window(self.by_node.get(short_host(node)), from, to)
    }

    fn window(&self, list: Option<&Vec<usize>>, from: Timestamp, to: Timestamp) -> Vec<usize> {
        let Some(list) = list else { return Vec::new() };
        let start = list.partition_point(|&i| self.events[i].at < from);
        list[start..]
            .iter()
            .copied()
            .take_while(|&i| self.events[i].at <= to)
            .collect()
    }
}
