//! When did the latest incident begin? A metric onset (rows where several series of one
//! service deviate persistently) cross-checked with a span change point (operations whose
//! durations shift against the preceding minute), which is precise to seconds.

use std::collections::{BTreeMap, HashMap};

use super::signals::MetricGrid;
use crate::anomaly::{median, robust_scale};
use crate::telemetry::SpanStore;

/// Relative floor of robust scales.
pub(super) const REL: f64 = 0.10;
/// Episode threshold: activity must reach this many robust sigmas...
pub(super) const EPISODE_MIN: f64 = 4.0;
/// ...and this fraction of the window's peak activity.
pub(super) const EPISODE_FRACTION: f64 = 0.5;
/// Contributions are capped so that one exploding series cannot dominate.
const CONTRIBUTION_CAP: f64 = 20.0;
/// Span change points: grid step and comparison window, seconds.
const SPAN_STEP: f64 = 10.0;
const SPAN_WINDOW: f64 = 60.0;
/// Fewest spans before / per half-window / per operation for a span change point.
const SPAN_MIN_BEFORE: usize = 8;
const SPAN_MIN_KEY: usize = 24;
/// Fewest spans at all for span analysis.
pub(super) const SPANS_NEEDED: usize = 100;
/// A span change point this close before the metric onset is the same incident.
const AGREE_SECS: f64 = 120.0;

/// The chosen onset with what evidence gathering needs.
pub struct Onset {
    /// Seconds since the epoch.
    pub at: f64,
    pub precise: bool,
    /// Grid row of the onset.
    pub row: usize,
    /// Activity per row (max over services of their persistent deviation).
    pub activity: Vec<f64>,
}

/// Maximal runs of `a` at or above max(`min`, `fraction` × max a), as (first, last).
pub(super) fn episodes(a: &[f64], min: f64, fraction: f64) -> Vec<(usize, usize)> {
    let peak = a.iter().copied().fold(0.0, f64::max);
    let threshold = min.max(fraction * peak);
    let mut out = Vec::new();
    let mut start = None;
    for (i, &x) in a.iter().enumerate() {
        match (x >= threshold, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, a.len() - 1));
    }
    out
}

/// Mean of the two largest values, if there are at least two.
fn top2_mean(values: &mut [f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    values.sort_by(|a, b| b.total_cmp(a));
    Some((values[0] + values[1]) / 2.0)
}

/// Activity per row: each series' z-score against its whole-window median, counted when
/// two consecutive rows deviate the same way; per service the mean of its top two
/// series; per row the maximum over services.
pub(super) fn metric_activity(grid: &MetricGrid) -> Vec<f64> {
    let mut per: HashMap<&str, BTreeMap<usize, Vec<f64>>> = HashMap::new();
    for s in &grid.signals {
        let values: Vec<f64> = s.rows.iter().flatten().copied().collect();
        if values.len() < 2 {
            continue;
        }
        let base = robust_scale(&values, REL, s.family.abs_floor());
        for t in 0..grid.rows.saturating_sub(1) {
            let (Some(a), Some(b)) = (s.rows[t], s.rows[t + 1]) else {
                continue;
            };
            let (za, zb) = (base.z(a), base.z(b));
            if za * zb > 0.0 {
                let v = za.abs().min(zb.abs()).min(CONTRIBUTION_CAP);
                per.entry(&s.service)
                    .or_default()
                    .entry(t)
                    .or_default()
                    .push(v);
            }
        }
    }
    let mut activity = vec![0.0; grid.rows];
    for rows in per.into_values() {
        for (t, mut vals) in rows {
            if let Some(m) = top2_mean(&mut vals) {
                activity[t] = f64::max(activity[t], m);
            }
        }
    }
    activity
}

/// Span change-point activity on a 10 s grid: per (service, operation), the median
/// duration of each of the next two half-minutes against the previous minute; both must
/// move the same way. Returns the grid start and the activity per step.
fn span_activity(spans: &SpanStore) -> Option<(f64, Vec<f64>)> {
    let all = spans.spans();
    if all.len() < SPANS_NEEDED {
        return None;
    }
    let t0 = all.iter().map(|s| s.start).fold(f64::MAX, f64::min);
    let t_max = all.iter().map(|s| s.start).fold(f64::MIN, f64::max);
    let steps = ((t_max - t0) / SPAN_STEP) as usize + 1;
    let window = (SPAN_WINDOW / SPAN_STEP).round() as usize;
    let half = window / 2;
    let mut by_key: HashMap<(u32, u32), Vec<Vec<f64>>> = HashMap::new();
    let mut counts: HashMap<(u32, u32), usize> = HashMap::new();
    for s in all {
        *counts.entry((s.service, s.name)).or_default() += 1;
    }
    for s in all {
        let key = (s.service, s.name);
        if counts[&key] < SPAN_MIN_KEY {
            continue;
        }
        let buckets = by_key.entry(key).or_insert_with(|| vec![Vec::new(); steps]);
        let i = (((s.start - t0) / SPAN_STEP) as usize).min(steps - 1);
        buckets[i].push(s.duration());
    }
    let mut per: HashMap<u32, BTreeMap<usize, Vec<f64>>> = HashMap::new();
    let mut keys: Vec<_> = by_key.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let buckets = &by_key[&key];
        if steps < 2 * window {
            continue;
        }
        for i in window..=(steps - window) {
            let gather = |from: usize, to: usize| -> Vec<f64> {
                buckets[from..to].iter().flatten().copied().collect()
            };
            let before = gather(i - window, i);
            let a1 = gather(i, i + half);
            let a2 = gather(i + half, i + window);
            if before.len() < SPAN_MIN_BEFORE
                || a1.len() < SPAN_MIN_BEFORE / 2
                || a2.len() < SPAN_MIN_BEFORE / 2
            {
                continue;
            }
            let base = robust_scale(&before, REL, 1e-3);
            let z1 = base.z(median(&a1));
            let z2 = base.z(median(&a2));
            let v = if z1 * z2 > 0.0 {
                z1.abs().min(z2.abs())
            } else {
                0.0
            };
            per.entry(key.0)
                .or_default()
                .entry(i)
                .or_default()
                .push(v.min(CONTRIBUTION_CAP));
        }
    }
    let mut activity = vec![0.0; steps];
    for rows in per.into_values() {
        for (i, mut vals) in rows {
            if let Some(m) = top2_mean(&mut vals) {
                activity[i] = f64::max(activity[i], m);
            }
        }
    }
    Some((t0, activity))
}

/// Picks the onset of the latest incident.
pub(super) fn incident_onset(grid: &MetricGrid, spans: &SpanStore) -> Onset {
    let activity = metric_activity(grid);
    let row_m = match episodes(&activity, EPISODE_MIN, EPISODE_FRACTION).last() {
        Some(&(first, _)) => first,
        None => activity
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i),
    };
    let t_m = grid.t_first + grid.row_secs * row_m as f64;
    let mut onset = Onset {
        at: t_m,
        precise: false,
        row: row_m,
        activity,
    };
    if let Some((t0, span_act)) = span_activity(spans) {
        if let Some(&(first, _)) = episodes(&span_act, EPISODE_MIN, EPISODE_FRACTION).last() {
            let t_s = t0 + SPAN_STEP * first as f64;
            let d = t_s - t_m;
            // Within [−AGREE, +half a row]: the same incident, seen precisely by the spans.
            // Beyond +AGREE: a later incident the metric rows did not single out.
            if (-AGREE_SECS..=grid.row_secs / 2.0).contains(&d) || d > AGREE_SECS {
                onset.at = t_s;
                onset.precise = true;
                onset.row = ((t_s - grid.t_first) / grid.row_secs).floor().max(0.0) as usize;
            }
        }
    }
    onset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_are_maximal_runs_over_the_threshold() {
        let a = [0.0, 5.0, 6.0, 0.0, 1.0, 10.0, 9.0, 2.0];
        assert_eq!(episodes(&a, 4.0, 0.5), vec![(1, 2), (5, 6)]);
        assert_eq!(episodes(&[1.0, 2.0], 4.0, 0.5), vec![]);
        assert_eq!(episodes(&[9.0, 9.0], 4.0, 0.5), vec![(0, 1)]);
    }
}
