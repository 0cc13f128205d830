//! Robust onset detection: when did a series leave its own baseline for good?
//!
//! The baseline is the median of the first points; its scale the median absolute
//! deviation (with floors, so a flat baseline does not make every wiggle infinite). The
//! onset is the first point of the last run of at least `persist` consecutive points
//! whose robust z-score exceeds `threshold` in the same direction.

use jiff::Timestamp;

use super::stats::median;

/// Tuning of [`detect_onset`].
#[derive(Debug, Clone, Copy)]
pub struct OnsetParams {
    /// Points that form the baseline (at least 3 are needed).
    pub baseline_points: usize,
    /// Robust z-score a point must exceed.
    pub threshold: f64,
    /// Consecutive points needed.
    pub persist: usize,
    /// Scale floor as a fraction of the baseline median.
    pub relative_floor: f64,
}

impl Default for OnsetParams {
    fn default() -> Self {
        Self {
            baseline_points: 4,
            threshold: 4.0,
            persist: 2,
            relative_floor: 0.05,
        }
    }
}

/// A detected departure from baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    pub at: Timestamp,
    pub baseline: f64,
    /// The most extreme value after the onset.
    pub peak: f64,
    /// Robust z-score of the peak (signed).
    pub score: f64,
}

/// Finds where the series left its baseline upward (`up`) or downward for good.
pub fn detect_onset<'a, I>(points: I, up: bool, params: OnsetParams) -> Option<Onset>
where
    I: IntoIterator<Item = &'a (Timestamp, f64)>,
{
    let points: Vec<(Timestamp, f64)> = points.into_iter().copied().collect();
    let n_base = params.baseline_points.max(3);
    if points.len() < n_base + params.persist {
        return None;
    }
    let base: Vec<f64> = points[..n_base].iter().map(|p| p.1).collect();
    let baseline = median(&base);
    let deviations: Vec<f64> = base.iter().map(|x| (x - baseline).abs()).collect();
    let mad = median(&deviations) * 1.4826;
    let scale = mad.max(baseline.abs() * params.relative_floor).max(1e-9);
    let sign = if up { 1.0 } else { -1.0 };
    let z = |x: f64| sign * (x - baseline) / scale;

    let mut run_start: Option<usize> = None;
    let mut best: Option<usize> = None;
    for (i, &(_, x)) in points.iter().enumerate().skip(n_base) {
        if z(x) > params.threshold {
            let start = *run_start.get_or_insert(i);
            if i + 1 - start >= params.persist {
                best = Some(start);
            }
        } else {
            run_start = None;
        }
    }
    let start = best?;
    let peak = points[start..]
        .iter()
        .map(|p| p.1)
        .max_by(|a, b| (sign * a).total_cmp(&(sign * b)))?;
    Some(Onset {
        at: points[start].0,
        baseline,
        peak,
        score: sign * z(peak),
    })
}

/// Tuning of [`detect_growth_runs`].
#[derive(Debug, Clone, Copy)]
pub struct GrowthParams {
    /// Fewest consecutive points in a run.
    pub min_points: usize,
    /// Smallest rise over the run, as a fraction of its starting value.
    pub min_relative_rise: f64,
    /// A dip of up to this fraction of the running value does not end a run.
    pub tolerated_dip: f64,
}

impl Default for GrowthParams {
    fn default() -> Self {
        Self {
            min_points: 4,
            min_relative_rise: 0.5,
            tolerated_dip: 0.02,
        }
    }
}

/// Finds every sustained climb of a series (a leak, a pool filling up): runs of points
/// that keep rising, ignoring small dips, by at least `min_relative_rise` overall. Each run
/// is reported as an [`Onset`] at its first point. A reset (a restarted container) ends a
/// run, so a saw-tooth gives one onset per tooth.
pub fn detect_growth_runs(points: &[(Timestamp, f64)], params: GrowthParams) -> Vec<Onset> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut peak = 0usize;
    let close = |start: usize, peak: usize, out: &mut Vec<Onset>| {
        let (t0, v0) = points[start];
        let vmax = points[peak].1;
        let floor = v0.abs().max(1e-9);
        if peak + 1 - start >= params.min_points && (vmax - v0) / floor >= params.min_relative_rise
        {
            out.push(Onset {
                at: t0,
                baseline: v0,
                peak: vmax,
                // Expressed like a robust z-score against a 5 % scale, for comparability.
                score: (vmax - v0) / (floor * 0.05),
            });
        }
    };
    for i in 1..points.len() {
        let running = points[peak].1;
        let v = points[i].1;
        if v >= running {
            peak = i;
        } else if running - v > running.abs() * params.tolerated_dip {
            close(start, peak, &mut out);
            start = i;
            peak = i;
        }
    }
    if !points.is_empty() {
        close(start, peak, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn series(values: &[f64]) -> Vec<(Timestamp, f64)> {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (t0 + jiff::SignedDuration::from_secs(30 * i as i64), *v))
            .collect()
    }

    #[test]
    fn finds_the_start_of_sustained_growth() {
        let s = series(&[
            100.0, 101.0, 99.0, 100.0, 100.0, 102.0, 150.0, 200.0, 260.0, 330.0,
        ]);
        let o = detect_onset(&s, true, OnsetParams::default()).unwrap();
        assert_eq!(o.at, s[6].0);
        assert_eq!(o.peak, 330.0);
        assert!(o.score > 10.0);
    }

    #[test]
    fn a_single_spike_is_not_an_onset() {
        let s = series(&[100.0, 101.0, 99.0, 100.0, 300.0, 100.0, 101.0, 99.0]);
        assert_eq!(detect_onset(&s, true, OnsetParams::default()), None);
    }

    #[test]
    fn downward_departures_are_found_only_when_asked() {
        let s = series(&[100.0, 100.0, 100.0, 100.0, 100.0, 10.0, 10.0, 10.0]);
        assert!(detect_onset(&s, true, OnsetParams::default()).is_none());
        assert!(detect_onset(&s, false, OnsetParams::default()).is_some());
    }

    #[test]
    fn a_saw_tooth_leak_gives_one_onset_per_tooth() {
        let s = series(&[
            97.0, 142.0, 180.0, 223.0, 119.0, 159.0, 204.0, 245.0, 94.0, 137.0,
        ]);
        let runs = detect_growth_runs(&s, GrowthParams::default());
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].at, s[0].0);
        assert_eq!(runs[1].at, s[4].0);
        assert_eq!(runs[1].peak, 245.0);
    }

    #[test]
    fn a_flat_series_has_no_growth_run() {
        let s = series(&[100.0; 12]);
        assert!(detect_growth_runs(&s, GrowthParams::default()).is_empty());
    }

    proptest! {
        #[test]
        fn growth_runs_never_panic_and_start_before_their_peak(vals in proptest::collection::vec(-1e6f64..1e6, 0..80)) {
            let s = series(&vals);
            for run in detect_growth_runs(&s, GrowthParams::default()) {
                prop_assert!(run.peak >= run.baseline);
            }
        }

        #[test]
        fn noise_within_five_percent_never_triggers(vals in proptest::collection::vec(95.0f64..105.0, 0..60)) {
            let s = series(&vals);
            prop_assert!(detect_onset(&s, true, OnsetParams::default()).is_none());
        }
    }
}
