//! Restores event-time order for lines that arrive up to a tolerance late.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use jiff::{SignedDuration, Timestamp};

use super::line::Record;

struct Pending(Record);

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Ties keep input order, so equal timestamps replay as written.
        (self.0.ts, self.0.line).cmp(&(other.0.ts, other.0.line))
    }
}

/// A bounded min-heap keyed on event time. A record leaves once the newest time seen is
/// more than `tolerance` past it, or when the buffer is full — by count or by bytes —
/// oldest first.
pub(crate) struct ReorderBuffer {
    heap: BinaryHeap<Reverse<Pending>>,
    tolerance: SignedDuration,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    newest: Option<Timestamp>,
    last_emitted: Option<Timestamp>,
    /// Records that arrived after newer ones had already left (older than the tolerance).
    pub late: u64,
    /// Records that left early because the buffer was full.
    pub forced: u64,
}

impl ReorderBuffer {
    pub fn new(tolerance: SignedDuration, capacity: usize, max_bytes: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            tolerance,
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            bytes: 0,
            newest: None,
            last_emitted: None,
            late: 0,
            forced: 0,
        }
    }

    /// Adds a record; late records are counted and still passed on, in arrival order.
    pub fn push(&mut self, record: Record) {
        if self.last_emitted.is_some_and(|t| record.ts < t) {
            self.late += 1;
        }
        self.newest = Some(self.newest.map_or(record.ts, |n| n.max(record.ts)));
        self.bytes += record.data.get().len();
        self.heap.push(Reverse(Pending(record)));
    }

    /// Takes the next record that may leave, if any.
    pub fn pop_ready(&mut self) -> Option<Record> {
        let top_ts = self.heap.peek()?.0 .0.ts;
        let watermark = self.newest? - self.tolerance;
        if top_ts <= watermark {
            return self.emit();
        }
        if self.heap.len() > self.capacity || self.bytes > self.max_bytes {
            self.forced += 1;
            return self.emit();
        }
        None
    }

    /// Takes the oldest record regardless of the watermark (end of input).
    pub fn drain(&mut self) -> Option<Record> {
        self.emit()
    }

    fn emit(&mut self) -> Option<Record> {
        let Reverse(Pending(record)) = self.heap.pop()?;
        self.bytes -= record.data.get().len();
        self.last_emitted = Some(self.last_emitted.map_or(record.ts, |t| t.max(record.ts)));
        Some(record)
    }
}
