//! Multi-objective optimisation of defense parameters: NSGA-II (Deb et al., 2002) with
//! fast non-dominated sorting, crowding distance and binary tournaments.
//!
//! Written here rather than taken from a crate: the Rust NSGA-II crates we found are
//! young or unmaintained, and the algorithm is small; writing it lets every random choice
//! come from the simulator's counter-based RNG and every operator avoid transcendental
//! functions (blend crossover and uniform mutation instead of SBX's `powf`), so an
//! optimisation gives the same front on every machine and thread count.
//!
//! All objectives are minimised. Candidates are evaluated in parallel, one generation at
//! a time; the run stops when the evaluation budget is spent.

use paraverse_sim::rng::{SimRng, Stream};
use rayon::prelude::*;
use serde::Serialize;

/// A candidate and its objective values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Individual {
    /// Parameters, each within its bounds.
    pub x: Vec<f64>,
    /// Objectives (minimised).
    pub f: Vec<f64>,
    /// Non-domination rank (0: the front).
    pub rank: usize,
    /// Crowding distance within its rank.
    pub crowding: f64,
}

/// Whether `a` dominates `b` (no worse in every objective, better in one).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Fast non-dominated sort: the fronts, as indices, best first.
pub fn fronts(pop: &[Individual]) -> Vec<Vec<usize>> {
    let n = pop.len();
    let mut dominated_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(&pop[i].f, &pop[j].f) {
                dominated_by[i].push(j);
            } else if i != j && dominates(&pop[j].f, &pop[i].f) {
                count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominated_by[i] {
                count[j] -= 1;
                if count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distances of one front (boundary points: infinite).
fn crowding(pop: &mut [Individual], front: &[usize]) {
    for &i in front {
        pop[i].crowding = 0.0;
    }
    let m = pop.first().map_or(0, |p| p.f.len());
    for k in 0..m {
        let mut idx = front.to_vec();
        idx.sort_by(|&a, &b| pop[a].f[k].total_cmp(&pop[b].f[k]).then(a.cmp(&b)));
        let (lo, hi) = (pop[idx[0]].f[k], pop[idx[idx.len() - 1]].f[k]);
        pop[idx[0]].crowding = f64::INFINITY;
        pop[idx[idx.len() - 1]].crowding = f64::INFINITY;
        if hi > lo {
            for w in 1..idx.len().saturating_sub(1) {
                let d = (pop[idx[w + 1]].f[k] - pop[idx[w - 1]].f[k]) / (hi - lo);
                pop[idx[w]].crowding += d;
            }
        }
    }
}

/// Ranks and crowding of a population; returns its fronts.
fn rank(pop: &mut [Individual]) -> Vec<Vec<usize>> {
    let fr = fronts(pop);
    for (r, f) in fr.iter().enumerate() {
        for &i in f {
            pop[i].rank = r;
        }
        crowding(pop, f);
    }
    fr
}

const RNG: Stream = Stream::named("lab.nsga2");

/// A uniform draw in [0, 1).
fn uniform(rng: &SimRng, generation: u32, i: u32, n: u32) -> f64 {
    rng.uniform(RNG, i, generation, n)
}

/// Settings of a run.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Population size (even, at least 4).
    pub population: usize,
    /// Evaluations in all (at least one population).
    pub budget: usize,
    /// Seed of the optimiser's own choices.
    pub seed: u64,
}

/// Runs NSGA-II over the box `bounds` and returns the final population, ranked, plus
/// every evaluation made (in order), for reports.
pub fn nsga2<F>(bounds: &[(f64, f64)], s: Settings, eval: F) -> (Vec<Individual>, Vec<Individual>)
where
    F: Fn(&[f64]) -> Vec<f64> + Sync,
{
    nsga2_on_grid(bounds, s, |_, v| v, eval)
}

/// [`nsga2`] where each candidate's coordinates are first put on a grid by `snap`
/// (dimension, value), so that candidates are the values actually evaluated and
/// reported (a parameter's declared step), not points between them.
pub fn nsga2_on_grid<F, S>(
    bounds: &[(f64, f64)],
    s: Settings,
    snap: S,
    eval: F,
) -> (Vec<Individual>, Vec<Individual>)
where
    F: Fn(&[f64]) -> Vec<f64> + Sync,
    S: Fn(usize, f64) -> f64 + Sync,
{
    let rng = SimRng::new(s.seed);
    let n = s.population.max(4).div_ceil(2) * 2;
    let evaluate = |xs: Vec<Vec<f64>>| -> Vec<Individual> {
        xs.into_par_iter()
            .map(|x| {
                let x: Vec<f64> = x.iter().enumerate().map(|(d, &v)| snap(d, v)).collect();
                Individual {
                    f: eval(&x),
                    x,
                    rank: 0,
                    crowding: 0.0,
                }
            })
            .collect()
    };
    let mut history = Vec::new();
    let initial: Vec<Vec<f64>> = (0..n as u32)
        .map(|i| {
            bounds
                .iter()
                .enumerate()
                .map(|(d, &(lo, hi))| lo + (hi - lo) * uniform(&rng, 0, i, d as u32))
                .collect()
        })
        .collect();
    let mut pop = evaluate(initial);
    history.extend(pop.iter().cloned());
    rank(&mut pop);
    let mut generation = 1u32;
    while history.len() + n <= s.budget.max(n) {
        let children = offspring(&pop, bounds, &rng, generation);
        let offspring = evaluate(children);
        history.extend(offspring.iter().cloned());
        let mut all = pop;
        all.extend(offspring);
        let next = survivors(all, n);
        pop = next;
        rank(&mut pop);
        generation += 1;
    }
    pop.sort_by(|a, b| a.rank.cmp(&b.rank).then(a.f[0].total_cmp(&b.f[0])));
    (pop, history)
}

/// A generation's children: parents by binary tournament (rank, then crowding), blend
/// crossover (BLX-0.5), and with chance 1/dims per coordinate a fresh uniform value.
fn offspring(
    pop: &[Individual],
    bounds: &[(f64, f64)],
    rng: &SimRng,
    generation: u32,
) -> Vec<Vec<f64>> {
    let n = pop.len();
    let dims = bounds.len() as u32;
    let better = |a: usize, b: usize| {
        let (x, y) = (&pop[a], &pop[b]);
        if x.rank != y.rank {
            if x.rank < y.rank { a } else { b }
        } else if x.crowding != y.crowding {
            if x.crowding > y.crowding { a } else { b }
        } else {
            a.min(b)
        }
    };
    let pick = |k: u32| {
        let a = rng.below(RNG.derive(1), k, generation, 0, n as u64) as usize;
        let b = rng.below(RNG.derive(1), k, generation, 1, n as u64) as usize;
        better(a, b)
    };
    (0..n as u32)
        .map(|c| {
            let (p, q) = (&pop[pick(2 * c)].x, &pop[pick(2 * c + 1)].x);
            bounds
                .iter()
                .enumerate()
                .map(|(d, &(lo, hi))| {
                    let d32 = d as u32;
                    let (a, b) = (p[d].min(q[d]), p[d].max(q[d]));
                    let span = b - a;
                    let u = uniform(rng, generation, c, 3 * d32);
                    let mut v = a - 0.5 * span + 2.0 * span * u;
                    // Mutation: with chance 1/dims, a fresh uniform value.
                    if uniform(rng, generation, c, 3 * d32 + 1) * f64::from(dims) < 1.0 {
                        v = lo + (hi - lo) * uniform(rng, generation, c, 3 * d32 + 2);
                    }
                    v.clamp(lo, hi)
                })
                .collect()
        })
        .collect()
}

/// Elitist survival: the best `n` of parents and offspring by rank, then crowding.
fn survivors(mut all: Vec<Individual>, n: usize) -> Vec<Individual> {
    let fr = rank(&mut all);
    let mut next = Vec::with_capacity(n);
    for f in fr {
        if next.len() + f.len() <= n {
            next.extend(f.iter().map(|&i| all[i].clone()));
        } else {
            let mut f = f;
            f.sort_by(|&a, &b| all[b].crowding.total_cmp(&all[a].crowding).then(a.cmp(&b)));
            next.extend(f.iter().take(n - next.len()).map(|&i| all[i].clone()));
            break;
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schaffer's problem N.1: minimise x² and (x − 2)² for x in [−10, 10]; the Pareto
    /// set is x ∈ [0, 2], the front f₂ = (√f₁ − 2)².
    #[test]
    fn nsga2_finds_the_known_front_of_schaffer_n1() {
        let (pop, history) = nsga2(
            &[(-10.0, 10.0)],
            Settings {
                population: 20,
                budget: 600,
                seed: 3,
            },
            |x| vec![x[0] * x[0], (x[0] - 2.0) * (x[0] - 2.0)],
        );
        assert_eq!(history.len(), 600);
        let front: Vec<&Individual> = pop.iter().filter(|p| p.rank == 0).collect();
        assert!(front.len() >= 15, "the front fills the population");
        for p in &front {
            assert!(
                (-0.05..=2.05).contains(&p.x[0]),
                "off the Pareto set: {:?}",
                p.x
            );
        }
        // It spreads along the whole set, not one point.
        let (lo, hi) = front.iter().fold((f64::MAX, f64::MIN), |(a, b), p| {
            (a.min(p.x[0]), b.max(p.x[0]))
        });
        assert!(lo < 0.2 && hi > 1.8, "spread {lo}..{hi}");
    }

    /// A two-parameter problem with a known optimum corner: minimising (x, y) both, the
    /// front is the single point (0, 0).
    #[test]
    fn nsga2_finds_a_unique_optimum_and_is_deterministic() {
        let run = || {
            nsga2(
                &[(0.0, 1.0), (0.0, 1.0)],
                Settings {
                    population: 12,
                    budget: 360,
                    seed: 9,
                },
                |x| vec![x[0] + 0.1 * x[1], x[1] + 0.1 * x[0]],
            )
        };
        let (pop, _) = run();
        let best = &pop[0];
        assert!(best.x[0] < 0.05 && best.x[1] < 0.05, "{:?}", best.x);
        assert_eq!(run().0, pop, "same seed, same result");
    }

    #[test]
    fn dominance_and_fronts() {
        assert!(dominates(&[1.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 2.0], &[2.0, 1.0]));
        let p = |f: [f64; 2]| Individual {
            x: vec![],
            f: f.to_vec(),
            rank: 0,
            crowding: 0.0,
        };
        let pop = vec![p([1.0, 3.0]), p([2.0, 2.0]), p([3.0, 3.0]), p([3.0, 1.0])];
        assert_eq!(fronts(&pop), vec![vec![0, 1, 3], vec![2]]);
    }
}

/// The optimiser applied to an experiment: its `[optimise]` parameters, evaluated on the
/// simulator (mean objectives over the replicas).
pub mod experiment {
    use std::collections::HashMap;
    use std::fs::OpenOptions;
    use std::io::Write as _;
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use paraverse_sim::scenario::{ParamRange, param};
    use serde::{Deserialize, Serialize};

    use super::{Individual, Settings, nsga2_on_grid};
    use crate::runner::{self, DropReason, Dropped, run_one_scenario};
    use crate::{Experiment, LabError};

    /// A searched parameter's name, bounds and range.
    #[derive(Debug, Clone)]
    pub struct Dimension {
        /// `section.field`.
        pub name: String,
        /// Bounds, in the range's unit.
        pub bounds: (f64, f64),
        /// The declared range.
        pub range: ParamRange,
        /// The declared step (`paraverse space`): values are snapped to `min + k × step`.
        pub step: f64,
    }

    impl Dimension {
        /// `v` snapped to the step grid from the lower bound, within the bounds, and
        /// rounded to the step's decimals so that 0.2 + 0.05 prints as 0.25.
        pub fn snap(&self, v: f64) -> f64 {
            let (lo, hi) = self.bounds;
            if self.step.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !v.is_finite() {
                return v.clamp(lo, hi);
            }
            let k = ((v - lo) / self.step).round();
            let mut snapped = lo + k * self.step;
            while snapped > hi {
                snapped -= self.step;
            }
            let snapped = snapped.max(lo);
            let (mut decimals, mut scaled) = (0, self.step);
            while decimals < 10 && (scaled - scaled.round()).abs() > 1e-9 {
                decimals += 1;
                scaled *= 10.0;
            }
            format!("{snapped:.decimals$}").parse().unwrap_or(snapped)
        }

        /// The CSV column of the dimension: its name and unit, e.g.
        /// `zero_trust.reverify_interval [s]`.
        pub fn column(&self) -> String {
            match self.range.unit().trim() {
                "" => self.name.clone(),
                unit => format!("{} [{unit}]", self.name),
            }
        }

        /// A snapped value as a CSV cell: a number in the range's unit, or the option's
        /// name for a choice.
        pub fn cell(&self, v: f64) -> String {
            match self.range {
                ParamRange::Choice { options } => {
                    options[(v.round().max(0.0) as usize).min(options.len() - 1)].to_owned()
                }
                _ => self.snap(v).to_string(),
            }
        }
    }

    /// The dimensions of an experiment's `[optimise]`.
    pub fn dimensions(exp: &Experiment) -> Result<Vec<Dimension>, LabError> {
        let o = exp.file.optimise.as_ref().ok_or_else(|| {
            LabError::Mismatch(format!(
                "{}: no [optimise] table: add one with [[optimise.param]] entries",
                exp.origin
            ))
        })?;
        dimensions_of(&o.params, &exp.origin)
    }

    /// The dimensions of a list of searched or sampled parameters.
    pub fn dimensions_of(
        params: &[crate::experiment::OptimiseParam],
        origin: &str,
    ) -> Result<Vec<Dimension>, LabError> {
        params
            .iter()
            .map(|p| {
                let decl = param(&p.name).expect("checked when loaded");
                let (lo, hi) = decl.range.bounds();
                let (a, b) = (p.min.unwrap_or(lo), p.max.unwrap_or(hi));
                if !(lo..=hi).contains(&a) || !(lo..=hi).contains(&b) || a > b {
                    return Err(LabError::Mismatch(format!(
                        "{origin}: `{}`: bounds {a}..{b} are outside its range {lo}..{hi}",
                        p.name
                    )));
                }
                Ok(Dimension {
                    name: p.name.clone(),
                    bounds: (a, b),
                    range: decl.range,
                    step: decl.step,
                })
            })
            .collect()
    }

    /// A point of the box as strategy values.
    pub fn values(dims: &[Dimension], x: &[f64]) -> Vec<(String, toml::Value)> {
        dims.iter()
            .zip(x)
            .map(|(d, &v)| {
                let v = d.snap(v);
                let value = match d.range {
                    ParamRange::Fraction { .. } | ParamRange::Rate { .. } => toml::Value::Float(v),
                    ParamRange::Duration { .. } => toml::Value::String(
                        paraverse_sim::units::SimDuration::from_micros((v * 1e6).round() as u64)
                            .to_string(),
                    ),
                    ParamRange::Bandwidth { .. } => {
                        toml::Value::String(format!("{} kbit/s", v.round() as u64))
                    }
                    ParamRange::Choice { options } => toml::Value::String(
                        options[(v.round() as usize).min(options.len() - 1)].to_owned(),
                    ),
                };
                (d.name.clone(), value)
            })
            .collect()
    }

    /// Mean objectives of a candidate over the replicas: (security loss, −availability,
    /// cost), all to minimise. A candidate that cannot run gets the worst values.
    pub fn objectives(exp: &Experiment, dims: &[Dimension], x: &[f64]) -> Vec<f64> {
        let Ok(scenario) = exp.candidate(&values(dims, x)) else {
            return vec![f64::MAX, 0.0, f64::MAX];
        };
        let replicas = exp.replicas;
        let mut sum = [0.0; 3];
        for r in 0..replicas {
            let Ok(run) = run_one_scenario(&scenario, exp.seed(r), "candidate") else {
                return vec![f64::MAX, 0.0, f64::MAX];
            };
            let m = |k: &str| run.get(k).copied().flatten().unwrap_or(0.0);
            sum[0] += m(crate::runner::SECURITY_LOSS);
            sum[1] -= m(crate::runner::AVAILABILITY);
            sum[2] += m(crate::runner::COST);
        }
        sum.iter().map(|s| s / f64::from(replicas)).collect()
    }

    /// What an optimisation produced: the dimensions, the final population (ranked) and
    /// every evaluation in order.
    pub type Optimised = (Vec<Dimension>, Vec<Individual>, Vec<Individual>);

    /// The optimiser's journal in its results folder: one verified line per candidate
    /// evaluated (its settings and objectives), appended as each finishes.
    pub const JOURNAL: &str = "evaluations.jsonl";

    /// Verified evaluations by their settings (CSV cells).
    pub type Journal = HashMap<Vec<String>, Vec<f64>>;

    /// One journal line.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Evaluated {
        /// FNV-1a of the experiment file.
        pub experiment_hash: String,
        /// The candidate's values, as CSV cells ([`Dimension::cell`]).
        pub settings: Vec<String>,
        /// Its objectives.
        pub f: Vec<f64>,
    }

    /// Reads the journal of `dir`: verified evaluations of `exp` by their settings, and
    /// the lines dropped as damaged. Evaluations of another version of the experiment
    /// file are refused.
    pub fn read_journal(exp: &Experiment, dir: &Path) -> Result<(Journal, Vec<Dropped>), LabError> {
        let path = dir.join(JOURNAL);
        let text = match std::fs::read(&path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(LabError::io(format!("cannot read {}", path.display()))(e)),
        };
        let hash = exp.hash_hex();
        let mut known = HashMap::new();
        let mut dropped = Vec::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let Some(line) = line.strip_suffix('\n') else {
                dropped.push(Dropped {
                    line: i + 1,
                    reason: DropReason::Torn,
                });
                break;
            };
            match runner::parse_checked_line::<Evaluated>(line) {
                Ok(e) if e.experiment_hash != hash => {
                    return Err(LabError::Mismatch(format!(
                        "{} holds evaluations of another version of the experiment file (hash {}, the file now {hash}): move the folder away to start afresh, or restore the file",
                        path.display(),
                        e.experiment_hash
                    )));
                }
                Ok(e) => {
                    known.insert(e.settings, e.f);
                }
                Err(reason) => dropped.push(Dropped {
                    line: i + 1,
                    reason,
                }),
            }
        }
        Ok((known, dropped))
    }

    /// Runs the optimiser on an experiment, journaling each evaluation in `dir` (held by
    /// the caller) so that a killed optimisation resumed with the same command skips
    /// what was evaluated and ends with the same front, files and best point as an
    /// uninterrupted one (NSGA-II's choices are deterministic; an evaluation read back
    /// from the journal equals the one made, bit for bit). Returns the result and the
    /// number of evaluations taken from the journal.
    pub fn optimise(
        exp: &Experiment,
        dir: &Path,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Optimised, usize, Vec<Dropped>), LabError> {
        let o = exp.file.optimise.as_ref().expect("checked by dimensions");
        let dims = dimensions(exp)?;
        let bounds: Vec<(f64, f64)> = dims.iter().map(|d| d.bounds).collect();
        let (known, dropped) = read_journal(exp, dir)?;
        // The journal is rewritten with its verified lines only, then appended to.
        let mut kept = String::new();
        let hash = exp.hash_hex();
        let mut entries: Vec<(&Vec<String>, &Vec<f64>)> = known.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (settings, f) in entries {
            kept.push_str(&runner::checked_line(&Evaluated {
                experiment_hash: hash.clone(),
                settings: settings.clone(),
                f: f.clone(),
            }));
            kept.push('\n');
        }
        runner::write_atomic(&dir.join(JOURNAL), &kept)?;
        let journal = OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL))
            .map_err(LabError::io(format!("cannot append to {}", dir.display())))?;
        let journal = Mutex::new((journal, None::<std::io::Error>));
        let reused = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let (pop, history) = nsga2_on_grid(
            &bounds,
            Settings {
                population: o.population,
                budget: o.budget,
                seed: o.seed,
            },
            |d, v| dims[d].snap(v),
            |x| {
                let settings: Vec<String> = dims.iter().zip(x).map(|(d, &v)| d.cell(v)).collect();
                let f = match known.get(&settings) {
                    Some(f) => {
                        reused.fetch_add(1, Ordering::Relaxed);
                        f.clone()
                    }
                    None => {
                        let f = objectives(exp, &dims, x);
                        let line = runner::checked_line(&Evaluated {
                            experiment_hash: hash.clone(),
                            settings,
                            f: f.clone(),
                        });
                        let mut j = journal.lock().expect("no panics while appending");
                        if j.1.is_none()
                            && let Err(e) = writeln!(j.0, "{line}").and_then(|()| j.0.flush())
                        {
                            j.1 = Some(e);
                        }
                        f
                    }
                };
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                f
            },
        );
        if let Some(e) = journal.into_inner().expect("no panics while appending").1 {
            return Err(LabError::io(format!(
                "cannot append to {}",
                dir.join(JOURNAL).display()
            ))(e));
        }
        Ok(((dims, pop, history), reused.into_inner(), dropped))
    }
}
