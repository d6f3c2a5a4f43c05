//! `replicas = "auto"`: as many replicas as the decision needs, no more.
//!
//! A fixed replica count is a guess: too few and the best decision is a coin toss, too
//! many and the lab wastes hours. With `replicas = "auto"` the sweep runs a batch of
//! replicas at every point, decides ([`crate::decision`]), and stops as soon as its rule
//! ([`AutoSpec`]) is met: the best decision separated from the others (the paired
//! comparison's p-value below 1 − confidence; a runner-up with identical results is
//! passed over for the first decision that differs), or, with `width`, the best
//! decision's 95 % score interval narrower than that share of its score; else it adds
//! a batch, up to `max`. Each round is an ordinary sweep of the results folder with more
//! replicas, so a killed auto sweep resumes like any other and, the runs being
//! deterministic, stops at the same round for the same reason.

use std::path::Path;

use serde::Serialize;

use crate::decision::{self, Decisions};
use crate::experiment::AutoSpec;
use crate::folder::FolderLock;
use crate::runner::{self, SweepOutcome};
use crate::stats::{self, Estimate};
use crate::{Experiment, LabError};

/// Why an auto sweep stopped.
#[derive(Debug, Clone, Serialize)]
pub struct AutoStop {
    /// Replicas per point when it stopped.
    pub replicas: u32,
    /// Rounds (batches) run.
    pub rounds: u32,
    /// Which rule: `separated`, `width` or `cap`.
    pub rule: &'static str,
    /// The reason in words.
    pub reason: String,
}

/// Runs rounds of `batch` more replicas until the rule is met (see the module docs);
/// `round` is told the replicas of each round before it runs.
pub fn sweep_auto(
    exp: &mut Experiment,
    dir: &Path,
    round: &dyn Fn(u32),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(SweepOutcome, AutoStop), LabError> {
    let lock = FolderLock::acquire(dir, &format!("sweep of {}", exp.origin))?;
    sweep_auto_held(exp, &lock, round, progress)
}

/// [`sweep_auto`] in a results folder this process already holds (the regression gate
/// clears it first and runs every round under one lock).
pub fn sweep_auto_held(
    exp: &mut Experiment,
    lock: &FolderLock,
    round: &dyn Fn(u32),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(SweepOutcome, AutoStop), LabError> {
    let dir = lock.dir();
    let spec = exp.file.auto.clone().unwrap_or_default();
    // Resuming: a round starts only when the ones before it did not stop, so the sweep
    // goes on at the highest round the folder holds runs of.
    let present = runner::load_runs(dir)?
        .runs
        .iter()
        .map(|r| r.replica + 1)
        .max()
        .unwrap_or(0);
    let mut replicas = present
        .div_ceil(spec.batch)
        .saturating_mul(spec.batch)
        .clamp(spec.batch.min(spec.max), spec.max);
    let mut rounds = replicas.div_ceil(spec.batch) - 1;
    let mut resumed = None;
    loop {
        rounds += 1;
        exp.replicas = replicas;
        round(replicas);
        let mut outcome = runner::sweep_held(exp, lock, None, progress)?;
        let resumed = *resumed.get_or_insert(outcome.resumed);
        let points = stats::summarise(&outcome.runs, &exp.file.score);
        let decisions = decision::decide(exp, &points, &outcome.runs);
        let stop = |rule, reason| AutoStop {
            replicas,
            rounds,
            rule,
            reason,
        };
        let done = separated(&spec, &decisions)
            .map(|r| stop("separated", r))
            .or_else(|| narrow(exp, &spec, &decisions, &outcome).map(|r| stop("width", r)))
            .or_else(|| {
                (replicas >= spec.max).then(|| {
                    stop(
                        "cap",
                        format!(
                            "the cap of {} replicas per point was reached before the best decision was separated{}",
                            spec.max,
                            spec.width
                                .map(|w| format!(" or its interval narrower than {w} of its score"))
                                .unwrap_or_default()
                        ),
                    )
                })
            });
        if let Some(stop) = done {
            // Resumed counts what the first round found done; ran, what all rounds made.
            outcome.ran = outcome.runs.len() - resumed;
            outcome.resumed = resumed;
            return Ok((outcome, stop));
        }
        replicas = (replicas + spec.batch).min(spec.max);
    }
}

/// The separation rule: the best decision's comparison (past a tie) below 1 − confidence.
fn separated(spec: &AutoSpec, d: &Decisions) -> Option<String> {
    let c = d
        .comparison
        .as_ref()
        .filter(|c| !c.is_tie())
        .or(d.first_different.as_ref())?;
    (c.p_value < 1.0 - spec.confidence).then(|| {
        format!(
            "the best decision is separated from decision {} at {} % confidence (paired p = {:.4})",
            c.runner_up,
            spec.confidence * 100.0,
            c.p_value
        )
    })
}

/// The width rule: the best decision's run scores have a 95 % interval of the mean
/// narrower than `width` × |mean|.
fn narrow(
    exp: &Experiment,
    spec: &AutoSpec,
    d: &Decisions,
    outcome: &SweepOutcome,
) -> Option<String> {
    let width = spec.width?;
    let best = d.decisions.iter().find(|x| Some(x.decision) == d.best)?;
    let scores: Vec<f64> = outcome
        .runs
        .iter()
        .filter(|r| best.threats.iter().any(|t| t.point == r.point))
        .map(|r| decision::run_score(r, &exp.file.score))
        .collect();
    let e = Estimate::of(&scores)?;
    (e.ci_high - e.ci_low <= width * e.mean.abs()).then(|| {
        format!(
            "the best decision's score interval [{:.1}, {:.1}] is narrower than {width} of its score {:.1}",
            e.ci_low, e.ci_high, e.mean
        )
    })
}
