//! Evidence per service around the onset: metric deviations against a clean baseline, and
//! from spans: self-time per operation, the caller-side gap of calls to another service
//! (network and queueing), and changes in how many calls an operation makes (trace shape).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::onset::{episodes, EPISODE_FRACTION, EPISODE_MIN, REL, SPANS_NEEDED};
use super::signals::{Family, MetricGrid};
use crate::anomaly::{median, robust_scale};
use crate::telemetry::SpanStore;

/// Rows before the onset included in the evidence window.
const ROWS_BEFORE: usize = 2;
/// Rows from the onset on included in the evidence window.
const ROWS_AFTER: usize = 3;
/// Fewest clean baseline rows before earlier episodes are kept in the baseline anyway.
const MIN_BASE_ROWS: usize = 3;
/// Spans before / after the onset compared (seconds).
const SPAN_BEFORE: f64 = 60.0;
const SPAN_AFTER: f64 = 120.0;
/// Fewest spans per key and period.
const MIN_SPANS: usize = 10;
/// Scores are clipped to this many robust sigmas.
const CLIP: f64 = 50.0;

/// What kind of signal a piece of evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvidenceFamily {
    Resource,
    Latency,
    ClientLatency,
    EdgeBySource,
    EdgeByDestination,
    /// Self-time of spans that have children.
    SelfTime,
    /// Self-time of spans without children (may hide an uninstrumented remote call).
    LeafTime,
    /// Caller-side gap of calls into the service.
    CallGap,
    /// Change in how many calls callers make into the service.
    Shape,
}

impl EvidenceFamily {
    /// Whether a rise in this family is something users feel (slower or failing requests).
    pub fn is_degradation(self) -> bool {
        matches!(
            self,
            Self::Latency
                | Self::EdgeBySource
                | Self::EdgeByDestination
                | Self::SelfTime
                | Self::LeafTime
                | Self::CallGap
        )
    }
}

impl From<Family> for EvidenceFamily {
    fn from(f: Family) -> Self {
        match f {
            Family::Resource => Self::Resource,
            Family::Latency => Self::Latency,
            Family::ClientLatency => Self::ClientLatency,
            Family::EdgeBySource => Self::EdgeBySource,
            Family::EdgeByDestination => Self::EdgeByDestination,
        }
    }
}

/// One signed deviation attributed to a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub service: String,
    pub family: EvidenceFamily,
    pub label: String,
    /// Robust z-score, clipped to ±50.
    pub z: f64,
    /// For edges, gaps and shapes: the calling service.
    pub caller: Option<String>,
    /// For metric series: the persistent rise in the series' own unit (z × scale), so that
    /// rises of different series can be compared in seconds rather than in sigmas.
    pub rise: Option<f64>,
}

impl Evidence {
    /// A latency or duration series of what the service serves (its rise is in seconds).
    pub fn is_duration(&self) -> bool {
        let label = self.label.to_ascii_lowercase();
        self.family == EvidenceFamily::Latency
            && self.rise.is_some()
            && (label.contains("latency") || label.contains("duration"))
    }
}

fn clip(z: f64) -> f64 {
    z.clamp(-CLIP, CLIP)
}

/// The strongest persistent deviation in `window`: min(|z_t|, |z_t+1|) with agreeing signs
/// (a lone last point counts alone), signed.
fn persistent_z(z: &[Option<f64>], window: std::ops::Range<usize>) -> f64 {
    let mut best = 0.0f64;
    for t in window {
        let Some(a) = z.get(t).copied().flatten() else {
            continue;
        };
        let v = match z.get(t + 1).copied().flatten() {
            None => a,
            Some(b) if a > 0.0 && b > 0.0 => a.min(b),
            Some(b) if a < 0.0 && b < 0.0 => a.max(b),
            Some(_) => 0.0,
        };
        if v.abs() > best.abs() {
            best = v;
        }
    }
    best
}

/// Metric evidence: each series' strongest persistent deviation around `row` against the
/// rows before it, leaving out rows of earlier anomaly episodes.
pub(super) fn metric_evidence(grid: &MetricGrid, row: usize, activity: &[f64]) -> Vec<Evidence> {
    let mut base: Vec<usize> = (0..row.saturating_sub(ROWS_BEFORE).max(2)).collect();
    let mut busy = BTreeSet::new();
    for (first, last) in episodes(activity, EPISODE_MIN, EPISODE_FRACTION) {
        busy.extend(first..=last + 1);
    }
    let clean: Vec<usize> = base.iter().copied().filter(|t| !busy.contains(t)).collect();
    if clean.len() >= MIN_BASE_ROWS {
        base = clean;
    }
    let window = row.saturating_sub(ROWS_BEFORE)..(row + ROWS_AFTER).min(grid.rows);
    let mut out = Vec::new();
    for s in &grid.signals {
        let b: Vec<f64> = base
            .iter()
            .filter_map(|&t| s.rows.get(t).copied().flatten())
            .collect();
        if b.len() < 2 {
            continue;
        }
        let baseline = robust_scale(&b, REL, s.family.abs_floor());
        let z: Vec<Option<f64>> = s.rows.iter().map(|v| v.map(|x| baseline.z(x))).collect();
        let persistent = persistent_z(&z, window.clone());
        out.push(Evidence {
            service: s.service.clone(),
            family: s.family.into(),
            label: s.label.clone(),
            z: clip(persistent),
            caller: s.caller.clone(),
            rise: Some(persistent * baseline.scale),
        });
    }
    out
}

#[derive(Default)]
struct Periods<T> {
    far: Vec<T>,
    anomaly: Vec<T>,
    local: Vec<T>,
}

impl<T> Periods<T> {
    fn push(&mut self, period: u8, v: T) {
        match period {
            1 => self.anomaly.push(v),
            2 => self.local.push(v),
            _ => self.far.push(v),
        }
    }

    /// The baseline to use (the local one when it is big enough) and the anomaly period.
    fn pick(&self) -> (&[T], &[T]) {
        let base = if self.local.len() >= MIN_SPANS {
            &self.local
        } else {
            &self.far
        };
        (base, &self.anomaly)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SelfKind {
    WithChildren,
    Leaf,
    GapTo(u32),
}

/// Span evidence around `onset` (seconds). With a `precise` onset the anomaly period
/// starts at it and the baseline is the minute before; otherwise the anomaly period
/// starts a minute early and the baseline is everything before that.
pub(super) fn span_evidence(store: &SpanStore, onset: f64, precise: bool) -> Vec<Evidence> {
    let spans = store.spans();
    if spans.len() < SPANS_NEEDED {
        return Vec::new();
    }
    let kids = store.children();
    let (a0, a1) = if precise {
        (onset, onset + SPAN_AFTER)
    } else {
        (onset - SPAN_BEFORE, onset + SPAN_AFTER)
    };
    let local_from = onset - SPAN_BEFORE;
    let mut self_times: BTreeMap<(u32, u32, SelfKind), Periods<f64>> = BTreeMap::new();
    let mut child_counts: BTreeMap<(u32, u32), Periods<HashMap<u32, f64>>> = BTreeMap::new();
    for s in spans {
        if s.start >= a1 {
            continue;
        }
        let period = if s.start >= a0 {
            1
        } else if precise && s.start >= local_from {
            2
        } else {
            0
        };
        let children: &[usize] = kids.get(&(s.trace, s.id)).map_or(&[], |v| v.as_slice());
        let child_time: f64 = children.iter().map(|&i| spans[i].duration()).sum();
        let own = (s.duration() - child_time).max(0.0);
        let mut services: Vec<u32> = children.iter().map(|&i| spans[i].service).collect();
        services.sort_unstable();
        services.dedup();
        let kind = match services.as_slice() {
            [] => SelfKind::Leaf,
            [callee] if *callee != s.service => SelfKind::GapTo(*callee),
            _ => SelfKind::WithChildren,
        };
        self_times
            .entry((s.service, s.name, kind))
            .or_default()
            .push(period, own);
        let mut counts: HashMap<u32, f64> = HashMap::new();
        for &i in children {
            *counts.entry(spans[i].service).or_default() += 1.0;
        }
        child_counts
            .entry((s.service, s.name))
            .or_default()
            .push(period, counts);
    }
    let mut out = Vec::new();
    for ((svc, op, kind), periods) in &self_times {
        let (base, anomaly) = periods.pick();
        if base.len() < MIN_SPANS || anomaly.len() < MIN_SPANS {
            continue;
        }
        let z = clip(robust_scale(base, REL, 1e-3).z(median(anomaly)));
        let (service, op) = (store.name(*svc), store.name(*op));
        out.push(match kind {
            SelfKind::WithChildren => Evidence {
                service: service.to_owned(),
                family: EvidenceFamily::SelfTime,
                label: format!("{service} {op} self-time"),
                z,
                caller: None,
                rise: None,
            },
            SelfKind::Leaf => Evidence {
                service: service.to_owned(),
                family: EvidenceFamily::LeafTime,
                label: format!("{service} {op} self-time (no child spans)"),
                z,
                caller: None,
                rise: None,
            },
            SelfKind::GapTo(callee) => {
                let callee = store.name(*callee);
                Evidence {
                    service: callee.to_owned(),
                    family: EvidenceFamily::CallGap,
                    label: format!("{service}->{callee} {op} caller-side gap"),
                    z,
                    caller: Some(service.to_owned()),
                    rise: None,
                }
            }
        });
    }
    for ((svc, op), periods) in &child_counts {
        let (base, anomaly) = periods.pick();
        if base.len() < MIN_SPANS || anomaly.len() < MIN_SPANS {
            continue;
        }
        let mut callees: Vec<u32> = base
            .iter()
            .chain(anomaly)
            .flat_map(|m| m.keys().copied())
            .collect();
        callees.sort_unstable();
        callees.dedup();
        for cs in callees {
            let vb: Vec<f64> = base
                .iter()
                .map(|m| m.get(&cs).copied().unwrap_or(0.0))
                .collect();
            let va: Vec<f64> = anomaly
                .iter()
                .map(|m| m.get(&cs).copied().unwrap_or(0.0))
                .collect();
            let mean_b = vb.iter().sum::<f64>() / vb.len() as f64;
            let mean_a = va.iter().sum::<f64>() / va.len() as f64;
            let sd =
                (vb.iter().map(|x| (x - mean_b).powi(2)).sum::<f64>() / vb.len() as f64).sqrt();
            let z = clip((mean_a - mean_b) / sd.max(0.1 * mean_b).max(0.05));
            let (service, op, callee) = (store.name(*svc), store.name(*op), store.name(cs));
            out.push(Evidence {
                service: callee.to_owned(),
                family: EvidenceFamily::Shape,
                label: format!(
                    "{service} {op} calls into {callee}: {mean_b:.2} -> {mean_a:.2} per span"
                ),
                z,
                caller: Some(service.to_owned()),
                rise: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_needs_two_agreeing_rows_except_at_the_end() {
        let z = [Some(0.0), Some(9.0), Some(1.0), Some(-6.0), Some(-8.0)];
        assert_eq!(persistent_z(&z, 0..5), -8.0);
        let z = [Some(9.0), Some(-9.0), None];
        assert_eq!(persistent_z(&z, 0..2), -9.0);
        assert_eq!(persistent_z(&[Some(5.0), Some(3.0)], 0..1), 3.0);
    }
}
