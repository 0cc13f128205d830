//! Robust statistics: medians and MAD-based scales with floors, so that a flat baseline
//! does not turn every wiggle into an infinite z-score.

/// Median of the finite values of a slice (0 when there are none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A baseline's centre and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustBaseline {
    pub median: f64,
    pub scale: f64,
}

impl RobustBaseline {
    /// Robust z-score of `x` against the baseline.
    pub fn z(&self, x: f64) -> f64 {
        (x - self.median) / self.scale
    }
}

/// Median and scale of a baseline: scale = max(1.4826·MAD, `relative`·|median|, `absolute`).
pub fn robust_scale(values: &[f64], relative: f64, absolute: f64) -> RobustBaseline {
    let med = median(values);
    let deviations: Vec<f64> = values.iter().map(|x| (x - med).abs()).collect();
    let mad = 1.4826 * median(&deviations);
    RobustBaseline {
        median: med,
        scale: mad.max(relative * med.abs()).max(absolute),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);
    }

    #[test]
    fn the_scale_has_floors() {
        let flat = robust_scale(&[10.0, 10.0, 10.0], 0.1, 1e-3);
        assert_eq!(flat.scale, 1.0);
        let zero = robust_scale(&[0.0, 0.0], 0.1, 1e-3);
        assert_eq!(zero.scale, 1e-3);
        assert_eq!(flat.z(12.0), 2.0);
    }
}
