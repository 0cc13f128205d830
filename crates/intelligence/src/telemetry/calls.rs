//! Calls out of services, from their client spans: which service called which peer (a
//! host name or address: a database, a cache, another service), when, and whether the
//! call failed. Peers need not emit spans of their own, so this is how a failing
//! dependency that is not instrumented (Postgres, Redis) is seen from its callers.

use std::collections::VecDeque;

use jiff::Timestamp;
use rustc_hash::FxHashMap as HashMap;
use tapio_domain::SpanRecord;

use super::interner::Interner;

/// Most distinct callers, namespaces, peers and error messages kept.
const NAMES: usize = 100_000;

/// The window before and after an onset that its error rates are measured over, seconds.
const WINDOW: f64 = 600.0;
/// Fewest failed calls after an onset for it to count.
const MIN_FAILED: u64 = 5;
/// Smallest share of failed calls after an onset.
const MIN_RATE: f64 = 0.2;
/// Fewest calls before an onset: without them there is nothing to compare with.
const MIN_BASELINE: u64 = 10;

/// Epoch seconds as a timestamp (`None` out of range).
fn timestamp(secs: f64) -> Option<Timestamp> {
    Timestamp::from_nanosecond((secs * 1e9) as i128).ok()
}

/// One outgoing call, compactly.
#[derive(Debug, Clone, Copy)]
struct Call {
    /// Interned calling service, its namespace (or `u32::MAX`) and the peer.
    caller: u32,
    namespace: u32,
    peer: u32,
    /// Start, seconds since the Unix epoch.
    at: f64,
    error: bool,
    /// Interned status message of a failed call, or `u32::MAX`.
    message: u32,
}

/// Calls into one peer that started failing.
#[derive(Debug, Clone, PartialEq)]
pub struct FailingPeer {
    /// The peer as the callers named it.
    pub peer: String,
    /// The namespace of the first failing caller (short peer names are relative to it).
    pub namespace: Option<String>,
    /// The first failed call of the failing period.
    pub at: Timestamp,
    /// Services whose calls failed (`<namespace>/<service>` when the namespace is known),
    /// sorted.
    pub callers: Vec<String>,
    /// Failed and all calls in the window after `at`.
    pub failed: u64,
    pub total: u64,
    /// The most common error message of those calls (empty when they had none).
    pub message: String,
}

/// Outgoing calls in arrival order, at most `capacity` (the oldest leave first).
#[derive(Debug)]
pub struct CallStore {
    calls: VecDeque<Call>,
    names: Interner,
    capacity: usize,
}

impl Default for CallStore {
    fn default() -> Self {
        Self::new(500_000)
    }
}

impl CallStore {
    /// An empty store holding at most `capacity` calls.
    pub fn new(capacity: usize) -> Self {
        Self {
            calls: VecDeque::new(),
            names: Interner::new(NAMES),
            capacity: capacity.max(1),
        }
    }

    /// Keeps `span` if it is a call to a peer.
    pub fn push(&mut self, span: &SpanRecord) {
        let Some(peer) = span.peer.as_deref().filter(|p| !p.is_empty()) else {
            return;
        };
        let call = Call {
            caller: self.names.intern(&span.service),
            namespace: match span.pod.as_ref().and_then(|p| p.namespace.as_deref()) {
                Some(ns) => self.names.intern(ns),
                None => u32::MAX,
            },
            peer: self.names.intern(peer),
            at: span.start.as_nanosecond() as f64 / 1e9,
            error: span.error == Some(true),
            message: match span.status_message.as_deref() {
                Some(m) if span.error == Some(true) => self.names.intern(m),
                _ => u32::MAX,
            },
        };
        self.calls.push_back(call);
        if self.calls.len() > self.capacity {
            self.calls.pop_front();
        }
    }

    /// Distinct (caller, caller's namespace, peer) triples, each with the time of its
    /// latest call.
    pub fn edges(&self) -> Vec<(&str, Option<&str>, &str, Timestamp)> {
        let mut latest: HashMap<(u32, u32, u32), f64> = HashMap::default();
        for c in &self.calls {
            let t = latest
                .entry((c.caller, c.namespace, c.peer))
                .or_insert(c.at);
            *t = t.max(c.at);
        }
        let mut out: Vec<(&str, Option<&str>, &str, Timestamp)> = latest
            .into_iter()
            .filter_map(|((c, ns, p), at)| {
                Some((
                    self.names.name(c)?,
                    self.names.name(ns),
                    self.names.name(p)?,
                    timestamp(at)?,
                ))
            })
            .collect();
        out.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        out
    }

    /// Peers whose calls started failing: for each, the first failed call after which,
    /// over 10 minutes, at least 5 calls and a fifth of them failed, at more than twice the
    /// share of the 10 minutes before (plus 10 points), which must hold at least 10 calls
    /// (`WINDOW`, `MIN_FAILED`, `MIN_RATE`, `MIN_BASELINE`).
    pub fn failing(&self) -> Vec<FailingPeer> {
        let mut by_peer: HashMap<u32, Vec<&Call>> = HashMap::default();
        for c in &self.calls {
            by_peer.entry(c.peer).or_default().push(c);
        }
        let mut out: Vec<FailingPeer> = by_peer
            .into_iter()
            .filter_map(|(peer, mut calls)| {
                calls.sort_by(|a, b| a.at.total_cmp(&b.at));
                self.onset(peer, &calls)
            })
            .collect();
        out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.peer.cmp(&b.peer)));
        out
    }

    fn onset(&self, peer: u32, calls: &[&Call]) -> Option<FailingPeer> {
        // Prefix sums of failures: errors in calls[..i].
        let mut errors = Vec::with_capacity(calls.len() + 1);
        errors.push(0u64);
        for c in calls {
            errors.push(errors.last().copied().unwrap_or(0) + u64::from(c.error));
        }
        if errors.last().copied().unwrap_or(0) < MIN_FAILED {
            return None;
        }
        let index_at = |t: f64| calls.partition_point(|c| c.at < t);
        let t0 = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.error)
            .find_map(|(i, c)| {
                let before = index_at(c.at - WINDOW);
                let after = index_at(c.at + WINDOW);
                let (failed, total) = (errors[after] - errors[i], (after - i) as u64);
                let (failed_before, total_before) =
                    (errors[i] - errors[before], (i - before) as u64);
                let rate = failed as f64 / total.max(1) as f64;
                let rate_before = failed_before as f64 / total_before.max(1) as f64;
                (failed >= MIN_FAILED
                    && total_before >= MIN_BASELINE
                    && rate >= MIN_RATE
                    && rate > 2.0 * rate_before + 0.1)
                    .then_some(i)
            })?;
        let window = &calls[t0..index_at(calls[t0].at + WINDOW)];
        let mut callers: Vec<String> = window
            .iter()
            .filter(|c| c.error)
            .filter_map(|c| {
                let service = self.names.name(c.caller)?;
                Some(match self.names.name(c.namespace) {
                    Some(ns) => format!("{ns}/{service}"),
                    None => service.to_owned(),
                })
            })
            .collect();
        callers.sort();
        callers.dedup();
        let mut messages: HashMap<u32, u64> = HashMap::default();
        for c in window.iter().filter(|c| c.message != u32::MAX) {
            *messages.entry(c.message).or_default() += 1;
        }
        let message = messages
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .and_then(|(m, _)| self.names.name(m))
            .unwrap_or_default()
            .to_owned();
        Some(FailingPeer {
            peer: self.names.name(peer)?.to_owned(),
            namespace: self.names.name(calls[t0].namespace).map(str::to_owned),
            at: timestamp(calls[t0].at)?,
            failed: window.iter().filter(|c| c.error).count() as u64,
            total: window.len() as u64,
            callers,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_domain::{EntityKind, EntityRef};

    fn call(service: &str, at: i64, error: bool) -> SpanRecord {
        SpanRecord {
            trace_id: "1".into(),
            span_id: "2".into(),
            parent_span_id: None,
            service: service.into(),
            pod: Some(EntityRef::new(EntityKind::Pod, Some("orders"), "p")),
            name: "INSERT".into(),
            start: Timestamp::from_second(at).unwrap(),
            end: Timestamp::from_second(at).unwrap(),
            error: Some(error),
            peer: Some("orders-db".into()),
            status_message: error.then(|| "too many clients".to_owned()),
        }
    }

    #[test]
    fn calls_that_start_failing_give_the_first_failure_callers_and_message() {
        let mut store = CallStore::default();
        for t in 0..600 {
            // One stray failure long before: not the onset.
            store.push(&call("orders-api", t * 2, t == 10));
            store.push(&call("fulfillment", t * 2 + 1, t >= 400 && t % 2 == 0));
            store.push(&call("orders-api", t * 2 + 1, t >= 401 && t % 3 == 0));
        }
        let failing = store.failing();
        assert_eq!(failing.len(), 1);
        let f = &failing[0];
        assert_eq!(f.at, Timestamp::from_second(801).unwrap());
        assert_eq!(f.callers, ["orders/fulfillment", "orders/orders-api"]);
        assert_eq!(f.message, "too many clients");
        assert_eq!(f.namespace.as_deref(), Some("orders"));
        assert!(f.failed >= 100 && f.total > f.failed, "{f:?}");
    }

    #[test]
    fn a_steady_error_rate_or_a_few_failures_are_not_an_onset() {
        let mut store = CallStore::default();
        for t in 0..600 {
            store.push(&call("a", t, t % 4 == 0));
        }
        let mut few = CallStore::default();
        for t in 0..600 {
            few.push(&call("a", t, t > 590 && t % 3 == 0));
        }
        assert!(store.failing().is_empty());
        assert!(few.failing().is_empty());
    }

    #[test]
    fn spans_without_a_peer_are_not_calls() {
        let mut store = CallStore::default();
        let mut s = call("a", 1, true);
        s.peer = None;
        store.push(&s);
        assert!(store.edges().is_empty());
    }
}
