//! Decisions under threat uncertainty: what the defender chooses, scored over what it
//! does not control.
//!
//! An experiment's points combine *decisions* (defense parameters, and axes marked
//! `decision = true`) with *threats* (the other axes: the campaign, its entry, start or
//! intensity). Optimising over both, as if the defender chose when the attacker starts,
//! answers the wrong question. Here each decision is scored at every threat (the score of
//! its point's metric means, [`crate::stats`]), the threat scores are combined by the
//! experiment's risk measure ([`Risk`]: mean, worst, or CVaR), and the best decision is
//! the lowest. Its statement compares it with the runner-up run by run: every threat and
//! replica ran the same seeds (common random numbers), so the runs pair up by (threat,
//! seed), and the difference of the paired run scores gets a bootstrap 95 % interval and a
//! two-sided sign-flip randomisation test whose p-value is stated. Both draw from the
//! simulator's counter-based RNG, so the statement is the same on every machine.

use std::collections::BTreeMap;

use paraverse_sim::rng::{SimRng, Stream};
use serde::Serialize;

use crate::experiment::{Risk, Score};
use crate::runner::RunResult;
use crate::stats::{Estimate, PointSummary};
use crate::{Experiment, Point};

/// Random sign flips of the randomisation test.
pub const SIGN_FLIPS: u32 = 10_000;

const FLIPS: Stream = Stream::named("lab.sign-flip");
const RISK_BOOTSTRAP: Stream = Stream::named("lab.risk-bootstrap");

/// One decision's score at one threat.
#[derive(Debug, Clone, Serialize)]
pub struct AtThreat {
    /// The threat's settings (`name = value`), empty without threat axes.
    pub threat: Vec<(String, String)>,
    /// The point evaluating this decision at this threat.
    pub point: usize,
    /// The point's score (of its metric means; lower is better).
    pub score: f64,
}

/// A decision scored over the threats.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Index (order of first appearance in the grid).
    pub decision: usize,
    /// Its settings (`name = value`).
    pub settings: Vec<(String, String)>,
    /// Its score at each threat, in threat order.
    pub threats: Vec<AtThreat>,
    /// The threat scores combined by the risk measure (lower is better).
    pub score: f64,
}

/// The paired comparison of the best decision with the runner-up.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The runner-up decision.
    pub runner_up: usize,
    /// Paired runs (same threat, same seed) compared.
    pub pairs: usize,
    /// How much better the best is, in score units: under the mean risk, the mean of
    /// (runner-up run score − best run score); under worst or CVaR, the runner-up's risk
    /// minus the best's (see `test`).
    pub mean_difference: f64,
    /// 95 % percentile-bootstrap interval of that mean.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Two-sided p-value of the sign-flip randomisation test (null: no difference).
    pub p_value: f64,
    /// The test, in words.
    pub test: String,
    /// What the difference is of, for the statement: `per paired run` (the mean risk)
    /// or `in the worst over the threats` (worst, CVaR).
    pub per: String,
}

/// The decisions of a sweep and the best one.
#[derive(Debug, Clone, Serialize)]
pub struct Decisions {
    /// The risk measure used.
    pub risk: String,
    /// Every decision, in order.
    pub decisions: Vec<Decision>,
    /// Index of the best (lowest score; ties to the lower index).
    pub best: Option<usize>,
    /// The best against the runner-up, where there is one with paired runs.
    pub comparison: Option<Comparison>,
    /// Where the runner-up gave identical results in every paired run (a tie): the best
    /// against the first decision down the ranking whose results differ.
    pub first_different: Option<Comparison>,
    /// Settings (decisions or threats) that changed no objective anywhere: every pair of
    /// points that differ only in that setting had the same means of all three
    /// objectives. Such a setting is not being tested; check the model or the values.
    pub no_effect: Vec<String>,
}

/// The settings of an experiment that changed no objective: for each setting with at
/// least two values, the points are grouped by all their other settings, and the setting
/// has no effect when within every group the three objectives' means are identical.
pub fn no_effect(points: &[PointSummary]) -> Vec<String> {
    use crate::runner::OBJECTIVES;
    let Some(first) = points.first() else {
        return Vec::new();
    };
    let means = |p: &PointSummary| -> Vec<Option<u64>> {
        OBJECTIVES
            .iter()
            .map(|m| p.metrics.get(*m).map(|e| e.mean.to_bits()))
            .collect()
    };
    let mut quiet = Vec::new();
    for (k, (name, _)) in first.settings.iter().enumerate() {
        // Points by their other settings: the objectives' means (as bits) of each.
        let mut groups: BTreeMap<Vec<&str>, Vec<Vec<Option<u64>>>> = BTreeMap::new();
        for p in points {
            let others: Vec<&str> = p
                .settings
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .map(|(_, (_, v))| v.as_str())
                .collect();
            groups.entry(others).or_default().push(means(p));
        }
        let compared = groups.values().any(|g| g.len() > 1);
        let unchanged = groups.values().all(|g| g.iter().all(|m| *m == g[0]));
        if compared && unchanged {
            quiet.push(name.clone());
        }
    }
    quiet
}

/// A run's score: the experiment's weights applied to its own objectives (a run without
/// a metric counts it as 0, as the point score does).
pub fn run_score(run: &RunResult, w: &Score) -> f64 {
    w.of_metrics(|k| run.metrics.get(k).copied().flatten().unwrap_or(0.0))
}

fn part(exp: &Experiment, p: &Point, decision: bool) -> Vec<(String, String)> {
    p.settings
        .iter()
        .enumerate()
        .filter(|(k, _)| Point::is_decision(&exp.file, *k) == decision)
        .map(|(_, s)| s.clone())
        .collect()
}

/// Scores every decision over the threats by the experiment's risk measure, picks the
/// best and compares it with the runner-up.
pub fn decide(exp: &Experiment, points: &[PointSummary], runs: &[RunResult]) -> Decisions {
    let risk: Risk = exp.file.score.risk;
    let by_point: BTreeMap<usize, &PointSummary> = points.iter().map(|p| (p.point, p)).collect();
    let mut decisions: Vec<Decision> = Vec::new();
    for p in &exp.points {
        let Some(summary) = by_point.get(&p.index) else {
            continue; // no runs yet (partial results)
        };
        if decisions.len() <= p.decision {
            decisions.resize_with(p.decision + 1, || Decision {
                decision: 0,
                settings: Vec::new(),
                threats: Vec::new(),
                score: f64::NAN,
            });
        }
        let d = &mut decisions[p.decision];
        d.decision = p.decision;
        d.settings = part(exp, p, true);
        d.threats.push(AtThreat {
            threat: part(exp, p, false),
            point: p.index,
            score: summary.score,
        });
    }
    decisions.retain(|d| !d.threats.is_empty());
    let threat_count = exp.points.iter().map(|p| p.threat + 1).max().unwrap_or(1);
    for d in &mut decisions {
        let scores: Vec<f64> = d.threats.iter().map(|t| t.score).collect();
        d.score = risk.of(&scores);
    }
    // Only decisions seen at every threat compete: a partial sweep must not crown a
    // decision that has not yet faced its worst threat.
    let complete: Vec<&Decision> = decisions
        .iter()
        .filter(|d| d.threats.len() == threat_count)
        .collect();
    let mut ranked = complete.clone();
    ranked.sort_by(|a, b| {
        a.score
            .total_cmp(&b.score)
            .then(a.decision.cmp(&b.decision))
    });
    let best = ranked.first().map(|d| d.decision);
    let comparison = match (ranked.first(), ranked.get(1)) {
        (Some(b), Some(r)) => compare(exp, runs, b, r),
        _ => None,
    };
    let first_different = match (&comparison, ranked.first()) {
        (Some(c), Some(b)) if c.is_tie() => ranked[2..]
            .iter()
            .filter_map(|r| compare(exp, runs, b, r))
            .find(|c| !c.is_tie()),
        _ => None,
    };
    Decisions {
        risk: risk.to_string(),
        decisions,
        best,
        comparison,
        first_different,
        no_effect: no_effect(points),
    }
}

/// Pairs the runs of two decisions by (threat, replica) and compares their scores.
fn compare(
    exp: &Experiment,
    runs: &[RunResult],
    best: &Decision,
    runner_up: &Decision,
) -> Option<Comparison> {
    let threat_of = |point: usize| exp.points.get(point).map(|p| p.threat);
    let scores = |d: &Decision| -> BTreeMap<(usize, u32), f64> {
        let points: Vec<usize> = d.threats.iter().map(|t| t.point).collect();
        runs.iter()
            .filter(|r| points.contains(&r.point))
            .filter_map(|r| {
                Some((
                    (threat_of(r.point)?, r.replica),
                    run_score(r, &exp.file.score),
                ))
            })
            .collect()
    };
    let (b, r) = (scores(best), scores(runner_up));
    let key = paraverse_sim::rng::fnv1a(
        format!("{}-{}-{}", best.decision, runner_up.decision, exp.hash).as_bytes(),
    );
    // Runs of both decisions, paired by (threat, seed).
    let pairs: BTreeMap<(usize, u32), (f64, f64)> = b
        .iter()
        .filter_map(|(k, vb)| r.get(k).map(|vr| (*k, (*vb, *vr))))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    match exp.file.score.risk {
        Risk::Mean => compare_means(&pairs, runner_up.decision, key),
        risk => compare_risk(&pairs, risk, runner_up.decision, key),
    }
}

/// The mean risk: the mean of the paired run differences, its bootstrap interval and a
/// sign-flip randomisation test.
fn compare_means(
    pairs: &BTreeMap<(usize, u32), (f64, f64)>,
    runner_up: usize,
    key: u64,
) -> Option<Comparison> {
    let diffs: Vec<f64> = pairs.values().map(|(vb, vr)| vr - vb).collect();
    compare_paired(&diffs, runner_up, key, "threat and seed")
}

/// Compares the best with `runner_up` over paired differences (runner-up score minus
/// best score, one per pair of runs that shared their random numbers, `paired_by` in
/// words): the mean difference, its 95 % percentile-bootstrap interval and a two-sided
/// sign-flip randomisation test, all drawn from the counter-based RNG keyed by `key`.
pub fn compare_paired(
    diffs: &[f64],
    runner_up: usize,
    key: u64,
    paired_by: &str,
) -> Option<Comparison> {
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let e = Estimate::of_keyed(diffs, key)?;
    // Sign-flip randomisation: under the null each paired difference is as likely
    // positive as negative. p = (1 + #{|flipped mean| >= |observed mean|}) / (1 + N).
    let rng = SimRng::new(key);
    let observed = mean.abs();
    let as_extreme = (0..SIGN_FLIPS)
        .filter(|&f| {
            let flipped: f64 = diffs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if rng.draw(FLIPS, 0, f, i as u32) & 1 == 0 {
                        *d
                    } else {
                        -d
                    }
                })
                .sum::<f64>()
                / n as f64;
            flipped.abs() >= observed - observed * 1e-12
        })
        .count();
    Some(Comparison {
        runner_up,
        pairs: n,
        mean_difference: mean,
        ci_low: e.ci_low,
        ci_high: e.ci_high,
        p_value: (1 + as_extreme) as f64 / f64::from(SIGN_FLIPS + 1),
        test: format!(
            "paired by {paired_by} ({n} pairs, common random numbers); 95 % percentile-bootstrap interval of the mean difference; two-sided sign-flip randomisation test, {SIGN_FLIPS} flips"
        ),
        per: "per paired run".to_owned(),
    })
}

/// A pair of runs, the best's and the runner-up's, at (threat, seed).
type Pair = ((usize, u32), (f64, f64));

/// The runner-up's risk minus the best's: each decision's threat scores are the means
/// of its runs at that threat over the chosen seeds, combined by the risk measure.
/// `swap(i)` exchanges the two decisions' runs of pair `i` (the permutation test).
fn risk_difference(pairs: &[Pair], risk: Risk, seeds: &[u32], swap: &dyn Fn(usize) -> bool) -> f64 {
    let mut by_threat: BTreeMap<usize, (f64, f64, u32)> = BTreeMap::new();
    for &seed in seeds {
        for (i, &((threat, s), (vb, vr))) in pairs.iter().enumerate() {
            if s != seed {
                continue;
            }
            let (vb, vr) = if swap(i) { (vr, vb) } else { (vb, vr) };
            let e = by_threat.entry(threat).or_insert((0.0, 0.0, 0));
            *e = (e.0 + vb, e.1 + vr, e.2 + 1);
        }
    }
    let (mut tb, mut tr) = (Vec::new(), Vec::new());
    for (sb, sr, n) in by_threat.into_values() {
        tb.push(sb / f64::from(n));
        tr.push(sr / f64::from(n));
    }
    risk.of(&tr) - risk.of(&tb)
}

/// A worst-case or CVaR risk: the difference of the risk measures themselves, with a
/// bootstrap interval over the seeds (each resample keeps a seed's runs at every threat
/// together) and a paired permutation test (the two decisions' runs swapped at random
/// within each (threat, seed) pair).
fn compare_risk(
    pairs: &BTreeMap<(usize, u32), (f64, f64)>,
    risk: Risk,
    runner_up: usize,
    key: u64,
) -> Option<Comparison> {
    let list: Vec<Pair> = pairs.iter().map(|(k, v)| (*k, *v)).collect();
    let seeds: Vec<u32> = list
        .iter()
        .map(|((_, s), _)| *s)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let observed = risk_difference(&list, risk, &seeds, &|_| false);
    let rng = SimRng::new(key);
    let mut boot: Vec<f64> = (0..crate::stats::BOOTSTRAP_RESAMPLES)
        .map(|b| {
            let sample: Vec<u32> = (0..seeds.len() as u32)
                .map(|i| seeds[rng.below(RISK_BOOTSTRAP, 0, b, i, seeds.len() as u64) as usize])
                .collect();
            risk_difference(&list, risk, &sample, &|_| false)
        })
        .collect();
    boot.sort_by(f64::total_cmp);
    let identical = list.iter().all(|(_, (vb, vr))| vb == vr);
    let (ci_low, ci_high) = if identical {
        (0.0, 0.0)
    } else {
        (
            crate::stats::quantile(&boot, 0.025),
            crate::stats::quantile(&boot, 0.975),
        )
    };
    let size = observed.abs();
    let as_extreme = (0..SIGN_FLIPS)
        .filter(|&f| {
            let t = risk_difference(&list, risk, &seeds, &|i| {
                rng.draw(FLIPS, 1, f, i as u32) & 1 == 1
            });
            t.abs() >= size - size * 1e-12
        })
        .count();
    let n = list.len();
    Some(Comparison {
        runner_up,
        pairs: n,
        mean_difference: if identical { 0.0 } else { observed },
        ci_low,
        ci_high,
        p_value: (1 + as_extreme) as f64 / f64::from(SIGN_FLIPS + 1),
        test: format!(
            "the difference of the {risk} of the threat scores (runner-up minus best), paired by threat and seed ({n} pairs, common random numbers); 95 % percentile-bootstrap interval resampling the {} seeds; two-sided paired permutation test, the two decisions' runs swapped within each pair, {SIGN_FLIPS} permutations",
            seeds.len()
        ),
        per: format!("in the {risk} over the threats"),
    })
}

/// Settings in words: `a = 1, b = 2`, or "the base strategy" when there are none.
fn settings(s: &[(String, String)]) -> String {
    if s.is_empty() {
        "the base strategy".to_owned()
    } else {
        s.iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Comparison {
    /// Identical results in every paired run.
    pub fn is_tie(&self) -> bool {
        self.mean_difference == 0.0 && self.ci_low == 0.0 && self.ci_high == 0.0
    }

    fn words(&self, decisions: &[Decision]) -> Option<String> {
        let other = decisions.iter().find(|d| d.decision == self.runner_up)?;
        Some(format!(
            "decision {} ({}): the best scores {:.1} better {} (95 % CI [{:.1}, {:.1}], {} pairs), p = {:.4} ({}){}",
            self.runner_up,
            settings(&other.settings),
            self.mean_difference,
            self.per,
            self.ci_low,
            self.ci_high,
            self.pairs,
            self.p_value,
            if self.per == "per paired run" {
                "sign-flip test"
            } else {
                "paired permutation test"
            },
            if self.is_tie() {
                ": identical results in every paired run, so what differs between the two has no effect here"
            } else if self.p_value < 0.05 {
                ""
            } else {
                ": not separated at the 5 % level, more replicas would tell"
            }
        ))
    }
}

impl Decisions {
    /// The best decision's statement in words, for the terminal and the report.
    pub fn statement(&self) -> Option<String> {
        let best = &self
            .decisions
            .iter()
            .find(|d| Some(d.decision) == self.best)?;
        let mut out = format!(
            "best decision {}: {} (score {:.1}, the {} over {} threat{})",
            best.decision,
            settings(&best.settings),
            best.score,
            self.risk,
            best.threats.len(),
            if best.threats.len() == 1 { "" } else { "s" }
        );
        if let Some(c) = &self.comparison {
            out.push_str(&format!(
                "; against the runner-up, {}",
                c.words(&self.decisions)?
            ));
        }
        if let Some(c) = &self.first_different {
            out.push_str(&format!(
                "; against the first decision that differs, {}",
                c.words(&self.decisions)?
            ));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_measures_combine_threat_scores() {
        let s = [10.0, 40.0, 20.0, 30.0];
        assert_eq!(Risk::Mean.of(&s), 25.0);
        assert_eq!(Risk::Worst.of(&s), 40.0);
        assert_eq!(Risk::Cvar(0.5).of(&s), 35.0, "mean of the worst half");
        assert_eq!(Risk::Cvar(0.9).of(&s), 40.0, "at least the worst one");
        assert!("cvar:1.5".parse::<Risk>().is_err() && "median".parse::<Risk>().is_err());
        assert_eq!("cvar:0.9".parse::<Risk>(), Ok(Risk::Cvar(0.9)));
    }
}
