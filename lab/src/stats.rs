//! Per-point summaries: mean and 95 % confidence interval of every metric over the
//! replicas (Student's t, n − 1 degrees of freedom), and the best point by score.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::experiment::Score;
use crate::runner::{METRICS, RunResult};

/// Two-sided 97.5 % quantiles of Student's t for 1 to 30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// Mean and 95 % confidence interval of one metric at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Replicas with a value.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one replica).
    pub sd: f64,
    /// Lower end of the 95 % interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

impl Estimate {
    /// From values.
    pub fn of(values: &[f64]) -> Option<Self> {
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
        let t = if n > 1 {
            T975.get(n - 2).copied().unwrap_or(1.96)
        } else {
            0.0
        };
        let half = t * sd / (n as f64).sqrt();
        Some(Self {
            n,
            mean,
            sd,
            ci_low: mean - half,
            ci_high: mean + half,
        })
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
                    Estimate::of(&vals).map(|e| ((*m).to_owned(), e))
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

/// `points.csv`: one row per point, mean and interval of every metric.
pub fn points_csv(points: &[PointSummary]) -> String {
    let mut out = String::from("point");
    if let Some(p) = points.first() {
        for (name, _) in &p.settings {
            out.push(',');
            out.push_str(name);
        }
    }
    out.push_str(",replicas,score");
    for m in METRICS {
        out.push_str(&format!(",{m}.mean,{m}.ci_low,{m}.ci_high"));
    }
    out.push('\n');
    for p in points {
        out.push_str(&p.point.to_string());
        for (_, v) in &p.settings {
            out.push(',');
            out.push_str(&v.replace(',', ";"));
        }
        out.push_str(&format!(",{},{}", p.seeds.len(), p.score));
        for m in METRICS {
            match p.metrics.get(*m) {
                Some(e) => out.push_str(&format!(",{},{},{}", e.mean, e.ci_low, e.ci_high)),
                None => out.push_str(",,,"),
            }
        }
        out.push('\n');
    }
    out
}

/// The point with the lowest score.
pub fn best(points: &[PointSummary]) -> Option<&PointSummary> {
    points
        .iter()
        .min_by(|a, b| a.score.total_cmp(&b.score).then(a.point.cmp(&b.point)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_uses_students_t() {
        let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.mean, 2.0);
        assert_eq!(e.sd, 1.0);
        let half = 4.303 / 3f64.sqrt();
        assert!((e.ci_high - 2.0 - half).abs() < 1e-12);
        let one = Estimate::of(&[5.0]).unwrap();
        assert_eq!((one.ci_low, one.ci_high), (5.0, 5.0));
        assert!(Estimate::of(&[]).is_none());
    }
}
