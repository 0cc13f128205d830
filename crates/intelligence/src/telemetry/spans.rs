//! A compact, bounded store of spans: ids parsed from hex, service and operation names
//! interned, times as seconds. Enough to rebuild trace trees (children by parent) and the
//! observed service-to-service calls.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use tapio_domain::SpanRecord;

use super::interner::{Interner, OVERFLOW_NAME};

/// Most distinct service and operation names kept (operation names with ids in them would
/// otherwise grow without bound).
const NAMES: usize = 100_000;

/// One span, compactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactSpan {
    pub trace: u128,
    pub id: u64,
    /// 0 when the span is a root.
    pub parent: u64,
    /// Interned service name.
    pub service: u32,
    /// Interned operation name.
    pub name: u32,
    /// Start and end, seconds since the Unix epoch.
    pub start: f64,
    pub end: f64,
    /// The span's status was ERROR.
    pub error: bool,
}

impl CompactSpan {
    /// Duration in seconds (never negative).
    pub fn duration(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }
}

/// Spans in arrival order, at most `capacity` (the oldest leave first, counted).
#[derive(Debug)]
pub struct SpanStore {
    spans: VecDeque<CompactSpan>,
    names: Interner,
    capacity: usize,
    /// Spans dropped because the store was full.
    pub evicted: u64,
    /// Spans whose ids were not hex.
    pub malformed: u64,
}

impl Default for SpanStore {
    fn default() -> Self {
        Self::new(2_000_000)
    }
}

fn hex_u128(s: &str) -> Option<u128> {
    (!s.is_empty() && s.len() <= 32).then(|| u128::from_str_radix(s, 16).ok())?
}

fn hex_u64(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 16).then(|| u64::from_str_radix(s, 16).ok())?
}

impl SpanStore {
    /// A store holding at most `capacity` spans.
    pub fn new(capacity: usize) -> Self {
        Self {
            spans: VecDeque::new(),
            names: Interner::new(NAMES),
            capacity: capacity.max(1),
            evicted: 0,
            malformed: 0,
        }
    }

    /// The string behind an interned id.
    pub fn name(&self, id: u32) -> &str {
        self.names.name(id).unwrap_or(OVERFLOW_NAME)
    }

    /// Adds a span.
    pub fn push(&mut self, span: &SpanRecord) {
        let (Some(trace), Some(id)) = (hex_u128(&span.trace_id), hex_u64(&span.span_id)) else {
            self.malformed += 1;
            return;
        };
        let parent = span
            .parent_span_id
            .as_deref()
            .and_then(hex_u64)
            .unwrap_or(0);
        let compact = CompactSpan {
            trace,
            id,
            parent,
            service: self.names.intern(&span.service),
            name: self.names.intern(&span.name),
            start: span.start.as_nanosecond() as f64 / 1e9,
            end: span.end.as_nanosecond() as f64 / 1e9,
            error: span.error == Some(true),
        };
        self.spans.push_back(compact);
        if self.spans.len() > self.capacity {
            self.spans.pop_front();
            self.evicted += 1;
        }
    }

    /// All spans held.
    pub fn spans(&self) -> &VecDeque<CompactSpan> {
        &self.spans
    }

    /// Number of spans held.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Children of each span, by (trace, parent id), as indexes into [`Self::spans`].
    pub fn children(&self) -> HashMap<(u128, u64), Vec<usize>> {
        let mut kids: HashMap<(u128, u64), Vec<usize>> = HashMap::default();
        for (i, s) in self.spans.iter().enumerate() {
            if s.parent != 0 {
                kids.entry((s.trace, s.parent)).or_default().push(i);
            }
        }
        kids
    }

    /// Spans and failed spans per service that started in `[from, to)` (epoch seconds).
    pub fn errors_by_service(&self, from: f64, to: f64) -> HashMap<&str, (u64, u64)> {
        let mut out: HashMap<&str, (u64, u64)> = HashMap::default();
        for s in self
            .spans
            .iter()
            .filter(|s| s.start >= from && s.start < to)
        {
            let e = out.entry(self.name(s.service)).or_default();
            e.0 += u64::from(s.error);
            e.1 += 1;
        }
        out
    }

    /// Observed calls between services: (caller, callee) pairs where a span of one service
    /// has a child span in another.
    pub fn service_calls(&self) -> Vec<(String, String)> {
        let by_id: HashMap<(u128, u64), u32> = self
            .spans
            .iter()
            .map(|s| ((s.trace, s.id), s.service))
            .collect();
        let mut pairs: Vec<(u32, u32)> = self
            .spans
            .iter()
            .filter(|s| s.parent != 0)
            .filter_map(|s| {
                let caller = *by_id.get(&(s.trace, s.parent))?;
                (caller != s.service).then_some((caller, s.service))
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
            .into_iter()
            .map(|(a, b)| (self.name(a).to_owned(), self.name(b).to_owned()))
            .collect()
    }
}
