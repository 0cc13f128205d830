//! The N-Sigma baseline: rank services by the largest deviation of any of their metric
//! series from that series' early part. Published work finds this simple rule matches
//! many elaborate methods, so `tapio eval` reports it beside Tapio, computed on the same
//! data in the same run.
//!
//! Definition: every series with a pod, plus service-level series without point
//! attributes (per-edge series are left out). Baseline = the series' points before the
//! middle of [first metric point of the recording, the series' last point]; score = the
//! largest |x − mean| / std (population) of the later points (a constant baseline scores
//! 0 if nothing changes, infinity otherwise). A service scores its best series; ties keep
//! the order in which services first appear.

use std::collections::HashMap;

use tapio_domain::EntityKind;

use crate::telemetry::SeriesStore;

/// Services ranked by N-Sigma score, best first.
pub fn nsigma_ranking(series: &SeriesStore) -> Vec<(String, f64)> {
    let t_first = series
        .iter()
        .filter_map(|(_, p)| p.front().map(|x| x.0))
        .min();
    let Some(t_first) = t_first else {
        return Vec::new();
    };
    let mut scores: HashMap<String, (f64, jiff::Timestamp)> = HashMap::new();
    for (key, points) in series.iter() {
        let service = match (&key.service, key.entity.kind) {
            (Some(s), _) => s.clone(),
            (None, EntityKind::Service) => key.entity.name.clone(),
            _ => continue,
        };
        if key.entity.kind != EntityKind::Pod && !key.attributes.is_empty() {
            continue;
        }
        let Some(&(t_last, _)) = points.back() else {
            continue;
        };
        let middle = t_first + t_last.duration_since(t_first) / 2;
        let (base, later): (Vec<&(jiff::Timestamp, f64)>, Vec<_>) =
            points.iter().partition(|(t, _)| *t < middle);
        if base.len() < 2 || later.is_empty() {
            continue;
        }
        let n = base.len() as f64;
        let mean = base.iter().map(|p| p.1).sum::<f64>() / n;
        let sd = (base.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / n).sqrt();
        let max_dev = later.iter().map(|p| (p.1 - mean).abs()).fold(0.0, f64::max);
        let z = if sd > 0.0 {
            max_dev / sd
        } else if max_dev == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        let first_seen = points.front().map_or(t_first, |p| p.0);
        let entry = scores
            .entry(service)
            .or_insert((f64::NEG_INFINITY, first_seen));
        entry.0 = entry.0.max(z);
        entry.1 = entry.1.min(first_seen);
    }
    let mut ranked: Vec<(String, f64, jiff::Timestamp)> =
        scores.into_iter().map(|(s, (z, t))| (s, z, t)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(&b.0)));
    ranked.into_iter().map(|(s, z, _)| (s, z)).collect()
}
