//! Sensitivity: which parameters move the objectives, and how much.
//!
//! Two analyses, both written at the end of a sweep and shown in the report:
//!
//! - **Main effects** of a grid (`[[vary]]` and `[[axis]]`): for each setting and each of
//!   its values, the mean of the score and of each objective over every point with that
//!   value (the other settings averaged out), and the spread of those means. A setting
//!   whose spread is zero everywhere is the "no effect" warning of
//!   [`crate::decision::no_effect`], seen from the other side.
//! - **Sobol indices** of a `[random] design = "saltelli"` experiment: with N base
//!   samples A and B of the k parameters and, for each parameter i, A with column i taken
//!   from B (AB_i), the first-order index S_i (the share of the output's variance that
//!   parameter i explains alone) and the total index ST_i (its share including every
//!   interaction) are estimated by Saltelli et al. (2010) and Jansen (1999):
//!
//!   ```text
//!   V    = Var(f(A) ∪ f(B))
//!   S_i  = mean_j[ (f(B_j) − mean) · (f(AB_i,j) − f(A_j)) ] / V
//!   ST_i = mean_j[ (f(A_j) − f(AB_i,j))² ] / (2 V)
//!   ```
//!
//!   where f of a settings row is the decision's score over the threats (by the declared
//!   risk measure), or the mean of an objective over the threats and replicas. Each index
//!   gets a 95 % percentile-bootstrap interval over the base samples (seeded from the
//!   experiment, so the same on every machine). Estimates from few samples can leave
//!   [0, 1]; the intervals say how far to trust them. A parameter whose total index stays
//!   below 0.01 for every output has no measurable effect and is warned about.

use std::collections::BTreeMap;

use paraverse_sim::rng::{SimRng, Stream};
use serde::Serialize;

use crate::experiment::Design;
use crate::stats::{PointSummary, quantile};
use crate::{Experiment, Point};

/// The outputs analysed: the score, then the three objectives.
pub const OUTPUTS: [&str; 4] = [
    "score",
    crate::runner::SECURITY_LOSS,
    crate::runner::AVAILABILITY,
    crate::runner::COST,
];

/// Bootstrap resamples of the Sobol intervals.
pub const SOBOL_RESAMPLES: u32 = 1_000;

/// A total index below this for every output: no measurable effect.
pub const NO_EFFECT_TOTAL: f64 = 0.01;

const RESAMPLE: Stream = Stream::named("lab.sobol-bootstrap");

/// One setting's main effect on the outputs.
#[derive(Debug, Clone, Serialize)]
pub struct MainEffect {
    /// The setting (`zero_trust.threshold`, `campaign.0.start`).
    pub setting: String,
    /// Whether the defender decides it (else a threat).
    pub decision: bool,
    /// Per value, in grid order: the value, the points with it, and the mean of each
    /// output over them.
    pub levels: Vec<Level>,
    /// Per output: the largest minus the smallest level mean.
    pub spread: BTreeMap<String, f64>,
}

/// A value of a setting and the outputs' means over the points with it.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// The value as written.
    pub value: String,
    /// Points with this value.
    pub points: usize,
    /// Mean of each output over them.
    pub means: BTreeMap<String, f64>,
}

fn output_of(p: &PointSummary, output: &str) -> Option<f64> {
    if output == "score" {
        Some(p.score)
    } else {
        p.metrics.get(output).map(|e| e.mean)
    }
}

/// Main effects of every setting of a grid with at least two values. Sampled settings
/// (`[random]`) are skipped: every sample has its own value, so there is no level to
/// average over (use the saltelli design for them).
pub fn main_effects(exp: &Experiment, points: &[PointSummary]) -> Vec<MainEffect> {
    let Some(first) = points.first() else {
        return Vec::new();
    };
    let sampled = exp.file.random.as_ref().map_or(0, |r| r.params.len());
    let mut out = Vec::new();
    for (k, (name, _)) in first.settings.iter().enumerate().skip(sampled) {
        let mut levels: Vec<(String, Vec<&PointSummary>)> = Vec::new();
        for p in points {
            let Some((_, v)) = p.settings.get(k) else {
                continue;
            };
            match levels.iter_mut().find(|(value, _)| value == v) {
                Some((_, ps)) => ps.push(p),
                None => levels.push((v.clone(), vec![p])),
            }
        }
        if levels.len() < 2 {
            continue;
        }
        let levels: Vec<Level> = levels
            .into_iter()
            .map(|(value, ps)| Level {
                value,
                points: ps.len(),
                means: OUTPUTS
                    .iter()
                    .filter_map(|o| {
                        let v: Vec<f64> = ps.iter().filter_map(|p| output_of(p, o)).collect();
                        (!v.is_empty())
                            .then(|| (o.to_string(), v.iter().sum::<f64>() / v.len() as f64))
                    })
                    .collect(),
            })
            .collect();
        let spread = OUTPUTS
            .iter()
            .filter_map(|o| {
                let m: Vec<f64> = levels
                    .iter()
                    .filter_map(|l| l.means.get(*o).copied())
                    .collect();
                let (lo, hi) = m
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                (!m.is_empty()).then(|| (o.to_string(), hi - lo))
            })
            .collect();
        out.push(MainEffect {
            setting: name.clone(),
            decision: Point::is_decision(&exp.file, k),
            levels,
            spread,
        });
    }
    out
}

/// `effects.csv`: the main effects as a tidy table, a row per setting, value and output.
pub fn effects_table(effects: &[MainEffect]) -> paraverse_table::Table {
    use paraverse_table::{Values, floats, ints, texts};
    let rows: Vec<(&MainEffect, &Level, &String, f64)> = effects
        .iter()
        .flat_map(|e| {
            e.levels
                .iter()
                .flat_map(move |l| l.means.iter().map(move |(o, m)| (e, l, o, *m)))
        })
        .collect();
    let mut t = paraverse_table::Table::new();
    t.push("setting", texts(rows.iter().map(|r| r.0.setting.clone())));
    t.push(
        "decision",
        Values::Bool(rows.iter().map(|r| Some(r.0.decision)).collect()),
    );
    t.push("value", texts(rows.iter().map(|r| r.1.value.clone())));
    t.push("points", ints(rows.iter().map(|r| r.1.points as u64)));
    t.push("output", texts(rows.iter().map(|r| r.2.clone())));
    t.push("mean", floats(rows.iter().map(|r| r.3)));
    t
}

/// A parameter's Sobol indices for one output.
#[derive(Debug, Clone, Serialize)]
pub struct Indices {
    /// The parameter.
    pub parameter: String,
    /// First-order index S_i.
    pub first_order: f64,
    /// Its 95 % bootstrap interval.
    pub first_order_ci: (f64, f64),
    /// Total index ST_i.
    pub total: f64,
    /// Its 95 % bootstrap interval.
    pub total_ci: (f64, f64),
}

/// The Sobol indices of every parameter for one output.
#[derive(Debug, Clone, Serialize)]
pub struct OutputIndices {
    /// The output (`score`, `objectives.security_loss`, ...).
    pub output: String,
    /// Variance of the output over the A and B samples; 0 means no parameter moved it
    /// (then no indices).
    pub variance: f64,
    /// Per parameter.
    pub indices: Vec<Indices>,
}

/// The Sobol analysis of a saltelli experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Sobol {
    /// Base samples N.
    pub base_samples: usize,
    /// Parameters k.
    pub parameters: Vec<String>,
    /// Model evaluations: N × (k + 2) settings rows, each over every threat and replica.
    pub rows: usize,
    /// The method, in words.
    pub method: String,
    /// Per output.
    pub outputs: Vec<OutputIndices>,
    /// Parameters whose total index stays below [`NO_EFFECT_TOTAL`] for every output.
    pub no_effect: Vec<String>,
}

/// Mean and variance of the output over the A and B rows of the base samples `sample`
/// (blocks of A, B, AB_0..AB_k-1).
fn ab_moments(f: &[f64], k: usize, sample: &[usize]) -> (f64, f64) {
    let block = k + 2;
    let ab: Vec<f64> = sample
        .iter()
        .flat_map(|&j| [f[j * block], f[j * block + 1]])
        .collect();
    let mean = ab.iter().sum::<f64>() / ab.len() as f64;
    let var = ab.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / ab.len() as f64;
    (mean, var)
}

/// First-order and total indices of `k` parameters from the values of one output at the
/// rows of a saltelli design (blocks of A, B, AB_0..AB_k-1), over the base samples
/// `sample`. `None` where the output does not vary.
fn estimate(f: &[f64], k: usize, sample: &[usize]) -> Option<(Vec<f64>, Vec<f64>)> {
    let block = k + 2;
    let n = sample.len() as f64;
    let (mean, var) = ab_moments(f, k, sample);
    if var.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let mut first = Vec::with_capacity(k);
    let mut total = Vec::with_capacity(k);
    for i in 0..k {
        let (mut s, mut t) = (0.0, 0.0);
        for &j in sample {
            let (a, b, abi) = (f[j * block], f[j * block + 1], f[j * block + 2 + i]);
            // f(B) centred: the same estimator in exact arithmetic, far less variance
            // when the output's mean dwarfs its spread (availability near 1).
            s += (b - mean) * (abi - a);
            t += (a - abi) * (a - abi);
        }
        first.push(s / n / var);
        total.push(t / n / (2.0 * var));
    }
    Some((first, total))
}

/// The Sobol indices of a `[random] design = "saltelli"` experiment, once every point
/// has runs; `None` for other designs or partial results.
pub fn sobol(exp: &Experiment, points: &[PointSummary]) -> Option<Sobol> {
    let r = exp.file.random.as_ref()?;
    if r.design != Design::Saltelli || exp.points.is_empty() {
        return None;
    }
    let k = r.params.len();
    let rows = r.rows();
    let per_row = exp.points.len() / rows;
    let by_point: BTreeMap<usize, &PointSummary> = points.iter().map(|p| (p.point, p)).collect();
    // f per output per row: the score by the risk measure over the row's threats, an
    // objective's mean over them.
    let mut f: Vec<Vec<f64>> = vec![Vec::with_capacity(rows); OUTPUTS.len()];
    for row in 0..rows {
        let ps: Vec<&PointSummary> = (row * per_row..(row + 1) * per_row)
            .map(|i| by_point.get(&i).copied())
            .collect::<Option<_>>()?;
        for (o, output) in OUTPUTS.iter().enumerate() {
            let v: Vec<f64> = ps
                .iter()
                .map(|p| output_of(p, output).unwrap_or(0.0))
                .collect();
            f[o].push(if o == 0 {
                exp.file.score.risk.of(&v)
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            });
        }
    }
    let n = r.points;
    let all: Vec<usize> = (0..n).collect();
    let names: Vec<String> = r.params.iter().map(|p| p.name.clone()).collect();
    let mut outputs = Vec::new();
    for (o, output) in OUTPUTS.iter().enumerate() {
        let values = &f[o];
        let (_, variance) = ab_moments(values, k, &all);
        let Some((first, total)) = estimate(values, k, &all) else {
            outputs.push(OutputIndices {
                output: output.to_string(),
                variance,
                indices: Vec::new(),
            });
            continue;
        };
        let rng = SimRng::new(exp.hash ^ paraverse_sim::rng::fnv1a(output.as_bytes()));
        let mut boot_first = vec![Vec::new(); k];
        let mut boot_total = vec![Vec::new(); k];
        for b in 0..SOBOL_RESAMPLES {
            let sample: Vec<usize> = (0..n as u32)
                .map(|j| rng.below(RESAMPLE, 0, b, j, n as u64) as usize)
                .collect();
            if let Some((s, t)) = estimate(values, k, &sample) {
                for i in 0..k {
                    boot_first[i].push(s[i]);
                    boot_total[i].push(t[i]);
                }
            }
        }
        let ci = |v: &mut Vec<f64>, point: f64| {
            if v.is_empty() {
                return (point, point);
            }
            v.sort_by(f64::total_cmp);
            (quantile(v, 0.025), quantile(v, 0.975))
        };
        let indices = (0..k)
            .map(|i| Indices {
                parameter: names[i].clone(),
                first_order: first[i],
                first_order_ci: ci(&mut boot_first[i], first[i]),
                total: total[i],
                total_ci: ci(&mut boot_total[i], total[i]),
            })
            .collect();
        outputs.push(OutputIndices {
            output: output.to_string(),
            variance,
            indices,
        });
    }
    let no_effect = names
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            outputs
                .iter()
                .all(|o| o.indices.get(*i).is_none_or(|x| x.total < NO_EFFECT_TOTAL))
        })
        .map(|(_, n)| n.clone())
        .collect();
    Some(Sobol {
        base_samples: n,
        parameters: names,
        rows,
        method: format!(
            "Saltelli design: {n} base samples A and B and, per parameter, A with that column from B ({rows} settings rows, each over every threat and replica, common random numbers); first-order index by Saltelli et al. (2010), total index by Jansen (1999); 95 % percentile-bootstrap intervals over the base samples ({SOBOL_RESAMPLES} resamples)"
        ),
        outputs,
        no_effect,
    })
}

impl Sobol {
    /// `sensitivity.csv`: a tidy row per output and parameter.
    pub fn table(&self) -> paraverse_table::Table {
        use paraverse_table::{Values, floats, texts};
        let rows: Vec<(&OutputIndices, &Indices)> = self
            .outputs
            .iter()
            .flat_map(|o| o.indices.iter().map(move |i| (o, i)))
            .collect();
        let mut t = paraverse_table::Table::new();
        t.push("output", texts(rows.iter().map(|(o, _)| o.output.clone())));
        t.push(
            "parameter",
            texts(rows.iter().map(|(_, i)| i.parameter.clone())),
        );
        type Part = fn(&Indices) -> f64;
        let parts: [(&str, Part); 6] = [
            ("first_order", |i| i.first_order),
            ("first_order.ci_low", |i| i.first_order_ci.0),
            ("first_order.ci_high", |i| i.first_order_ci.1),
            ("total", |i| i.total),
            ("total.ci_low", |i| i.total_ci.0),
            ("total.ci_high", |i| i.total_ci.1),
        ];
        for (name, part) in parts {
            t.push(name, floats(rows.iter().map(|(_, i)| part(i))));
        }
        t.push(
            "variance",
            Values::Float(rows.iter().map(|(o, _)| Some(o.variance)).collect()),
        );
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Ishigami function, the textbook test of Sobol estimators: with a = 7, b = 0.1
    /// on [-π, π]^3 the exact indices are S = (0.314, 0.442, 0), ST = (0.558, 0.442,
    /// 0.244). Evaluated here through a polynomial stand-in for sin (clippy bans the
    /// platform's), accurate to 1e-6 on [-π, π].
    #[test]
    fn estimators_recover_the_ishigami_indices() {
        fn sin(x: f64) -> f64 {
            // Reduce to [-π/2, π/2], then a Taylor series to x^15.
            let pi = std::f64::consts::PI;
            let x = if x > pi / 2.0 {
                pi - x
            } else if x < -pi / 2.0 {
                -pi - x
            } else {
                x
            };
            let (mut term, mut sum) = (x, x);
            for n in 1..8 {
                term *= -x * x / f64::from((2 * n) * (2 * n + 1));
                sum += term;
            }
            sum
        }
        let ishigami = |x: &[f64]| {
            let s1 = sin(x[0]);
            s1 + 7.0 * sin(x[1]) * sin(x[1]) + 0.1 * x[2] * x[2] * x[2] * x[2] * s1
        };
        let spec: crate::experiment::RandomSpec = toml::from_str(
            "points = 4000\nseed = 3\ndesign = \"saltelli\"\n[[param]]\nname = \"a\"\n[[param]]\nname = \"b\"\n[[param]]\nname = \"c\"\n",
        )
        .unwrap();
        let pi = std::f64::consts::PI;
        let f: Vec<f64> = spec
            .unit_rows()
            .iter()
            .map(|u| ishigami(&u.iter().map(|u| -pi + 2.0 * pi * u).collect::<Vec<_>>()))
            .collect();
        let all: Vec<usize> = (0..4000).collect();
        let (s, t) = estimate(&f, 3, &all).unwrap();
        let want_s = [0.314, 0.442, 0.0];
        let want_t = [0.558, 0.442, 0.244];
        for i in 0..3 {
            assert!((s[i] - want_s[i]).abs() < 0.06, "S{i} = {} ({s:?})", s[i]);
            assert!((t[i] - want_t[i]).abs() < 0.06, "ST{i} = {} ({t:?})", t[i]);
        }
        // A constant output has no variance and no indices.
        assert!(estimate(&vec![1.0; f.len()], 3, &all).is_none());
    }
}
