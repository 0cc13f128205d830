//! Service-level root-cause ranking from telemetry alone (metrics and traces): find when
//! the incident began, gather evidence per service around that time, and rank services
//! so that a fault is blamed where it starts, not where it propagates to.
//!
//! Works on any OpenTelemetry-shaped input: per-pod metric series carrying `service.name`,
//! per-edge latency series with `source_workload` / `destination_workload` / `reporter`
//! point attributes (Istio's labels), and spans with parent links. No service, namespace
//! or metric name is special beyond the name patterns in `signals`.

mod evidence;
mod onset;
mod scoring;
mod signals;

pub use evidence::{Evidence, EvidenceFamily};
pub use scoring::Candidate;

use crate::telemetry::{SeriesStore, SpanStore};

/// The incident start the ranking is built around.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentOnset {
    /// Seconds since the Unix epoch.
    pub at: f64,
    /// True when a span change point fixed it to within seconds; false when it comes from
    /// metric rows (to within a row).
    pub precise: bool,
}

/// Services ranked as root-cause candidates of the latest incident in the telemetry.
#[derive(Debug, Clone)]
pub struct ServiceRanking {
    pub onset: IncidentOnset,
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// The strongest sign that users saw it: latency, errors or time spent going up
    /// (robust sigmas). Resource changes alone are not an incident.
    pub degradation: f64,
}

impl ServiceRanking {
    /// Margin of the best candidate over the second on the ranking key: the score margin
    /// (s1 − s2) / s1, or the corroboration margin when that is what decided.
    pub fn margin(&self) -> f64 {
        let (Some(a), b) = (self.candidates.first(), self.candidates.get(1)) else {
            return 0.0;
        };
        let (s2, c2) = b.map_or((0.0, 0.0), |b| (b.score, b.corroboration));
        let ratio = |x1: f64, x2: f64| {
            if x1 > 0.0 {
                (x1 - x2).max(0.0) / x1
            } else {
                0.0
            }
        };
        ratio(a.score, s2).max(ratio(a.corroboration, c2))
    }

    /// Whether the best two scored exactly the same and corroboration decided.
    pub fn tie_broken(&self) -> bool {
        matches!((self.candidates.first(), self.candidates.get(1)), (Some(a), Some(b)) if a.score == b.score)
    }
}

/// Ranks services from the metric series and spans held, or `None` when there is no
/// service-level telemetry to rank on.
pub fn rank_services(series: &SeriesStore, spans: &SpanStore) -> Option<ServiceRanking> {
    let grid = signals::MetricGrid::build(series)?;
    let onset = onset::incident_onset(&grid, spans);
    let mut ev = evidence::metric_evidence(&grid, onset.row, &onset.activity);
    ev.extend(evidence::span_evidence(spans, onset.at, onset.precise));
    let candidates = scoring::rank(&ev);
    if candidates.is_empty() {
        return None;
    }
    let degradation = ev
        .iter()
        .filter(|e| e.family.is_degradation())
        .map(|e| e.z)
        .fold(0.0, f64::max);
    Some(ServiceRanking {
        onset: IncidentOnset {
            at: onset.at,
            precise: onset.precise,
        },
        candidates,
        degradation,
    })
}
