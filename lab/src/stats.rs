//! Per-point summaries: mean, median, quartiles, extremes and a 95 % confidence interval
//! of the mean of every metric over the replicas, and the best point by score.
//!
//! The interval is a percentile bootstrap ([`BOOTSTRAP_RESAMPLES`] resamples of the
//! replicas, with replacement): outcomes of attack campaigns are heavy-tailed and often
//! bimodal (a campaign succeeds or it does not), where mean ± Student's t gave intervals
//! such as security loss 82,528 [−272,543, 437,599] and availability above 1. A resampled
//! mean lies between the smallest and largest value observed, so the interval never
//! leaves the metric's feasible range. The resamples are drawn from the simulator's
//! counter-based RNG keyed by the point's seeds and the metric, so the same runs give the
//! same interval on every machine.

use std::collections::BTreeMap;

use paraverse_sim::rng::{SimRng, Stream};
use serde::Serialize;

use crate::experiment::Score;
use crate::runner::{METRICS, RunResult};

/// Bootstrap resamples per interval.
pub const BOOTSTRAP_RESAMPLES: u32 = 2_000;

const BOOTSTRAP: Stream = Stream::named("lab.bootstrap");

/// Summary statistics and the 95 % interval of one metric at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Replicas with a value.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one replica).
    pub sd: f64,
    /// Median.
    pub median: f64,
    /// First quartile (linear interpolation between order statistics).
    pub q25: f64,
    /// Third quartile.
    pub q75: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Lower end of the 95 % percentile-bootstrap interval of the mean.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// The `q` quantile of sorted values (linear interpolation, as numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * frac,
        None => sorted[i],
    }
}

impl Estimate {
    /// From values, with the bootstrap keyed by `key` (e.g. a hash of the point's seeds
    /// and the metric).
    pub fn of_keyed(values: &[f64], key: u64) -> Option<Self> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (ci_low, ci_high) = if n > 1 && sorted[0] != sorted[n - 1] {
            let rng = SimRng::new(key);
            let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
                .map(|b| {
                    (0..n as u32)
                        .map(|i| values[rng.below(BOOTSTRAP, 0, b, i, n as u64) as usize])
                        .sum::<f64>()
                        / n as f64
                })
                .collect();
            means.sort_by(f64::total_cmp);
            // Each resampled mean lies within [min, max]; the clamp only absorbs the
            // last bit of rounding in the sums.
            let clamp = |v: f64| v.clamp(sorted[0], sorted[n - 1]);
            (
                clamp(quantile(&means, 0.025)),
                clamp(quantile(&means, 0.975)),
            )
        } else {
            (mean, mean)
        };
        Some(Self {
            n,
            mean,
            sd,
            median: quantile(&sorted, 0.5),
            q25: quantile(&sorted, 0.25),
            q75: quantile(&sorted, 0.75),
            min: sorted[0],
            max: sorted[n - 1],
            ci_low,
            ci_high,
        })
    }

    /// From values, with the bootstrap keyed by the values themselves.
    pub fn of(values: &[f64]) -> Option<Self> {
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| v.to_bits().to_le_bytes())
            .collect();
        Self::of_keyed(values, paraverse_sim::rng::fnv1a(&bytes))
    }
}

/// One point's summary.
#[derive(Debug, Clone, Serialize)]
pub struct PointSummary {
    /// Point index.
    pub point: usize,
    /// Its settings.
    pub settings: Vec<(String, String)>,
    /// Seeds used.
    pub seeds: Vec<u64>,
    /// Every metric.
    pub metrics: BTreeMap<String, Estimate>,
    /// The score of the means (lower is better).
    pub score: f64,
}

/// Summarises runs per point, in point order.
pub fn summarise(runs: &[RunResult], score: &Score) -> Vec<PointSummary> {
    let mut by_point: BTreeMap<usize, Vec<&RunResult>> = BTreeMap::new();
    for r in runs {
        by_point.entry(r.point).or_default().push(r);
    }
    by_point
        .into_iter()
        .map(|(point, rs)| {
            let metrics: BTreeMap<String, Estimate> = METRICS
                .iter()
                .filter_map(|m| {
                    let vals: Vec<f64> = rs
                        .iter()
                        .filter_map(|r| r.metrics.get(*m).copied().flatten())
                        .collect();
                    // Keyed by the point's seeds and the metric: reproducible, and the
                    // same resamples (common random numbers) for every point.
                    let key = rs
                        .iter()
                        .fold(paraverse_sim::rng::fnv1a(m.as_bytes()), |k, r| {
                            k.rotate_left(7) ^ r.seed
                        });
                    Estimate::of_keyed(&vals, key).map(|e| ((*m).to_owned(), e))
                })
                .collect();
            let mean = |m: &str| metrics.get(m).map_or(0.0, |e| e.mean);
            let score = score.security_loss * mean("objectives.security_loss")
                + score.availability * mean("objectives.availability")
                + score.cost * mean("objectives.cost");
            PointSummary {
                point,
                settings: rs[0].settings.clone(),
                seeds: rs.iter().map(|r| r.seed).collect(),
                metrics,
                score,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_intervals_stay_within_the_data_and_are_reproducible() {
        // A bimodal outcome: the campaign fails (0) or succeeds (about 400,000).
        let v = [0.0, 0.0, 412_000.0];
        let e = Estimate::of(&v).unwrap();
        assert!(e.ci_low >= 0.0 && e.ci_high <= 412_000.0, "{e:?}");
        assert!(e.ci_low < e.mean && e.mean < e.ci_high, "{e:?}");
        assert_eq!(Estimate::of(&v), Some(e), "same values, same interval");
        // Student's t would have given a negative lower end here.
        let t = 4.303 * e.sd / 3f64.sqrt();
        assert!(e.mean - t < 0.0);
        // A share stays within [0, 1].
        let a = Estimate::of(&[0.99, 1.0, 1.0, 0.2]).unwrap();
        assert!(a.ci_high <= 1.0 && a.ci_low >= 0.2, "{a:?}");
        assert_eq!((a.median, a.min, a.max), (0.995, 0.2, 1.0));
        let one = Estimate::of(&[5.0]).unwrap();
        assert_eq!((one.ci_low, one.ci_high, one.median), (5.0, 5.0, 5.0));
        assert!(Estimate::of(&[]).is_none());
    }
}
