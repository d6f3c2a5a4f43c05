//! Proof by shadow truth, closed loop: does following the twin's recommendations pay?
//!
//! A *truth* universe stands in for the real network. Each tick its blue-team events
//! (alerts, quarantines, releases; no ground truth) feed the twin's ensemble; before the
//! first tick and then every cycle the twin forecasts the candidates from its members and,
//! when it recommends another strategy than the one in force, the truth deploys it
//! ([`Universe::switch_strategy`]: the same world, the same future draws, other defenses,
//! the run's records kept whole) and so do the members. The loop's objectives and score
//! (the forecast's weights, which the recommendations minimise) are compared with the
//! truth run under each candidate held fixed from the start, same seed.

use paraverse_sim::prelude::*;

use crate::ensemble::{AlertModel, Ensemble, RatePrior};
use crate::forecast::{Candidate, ForecastSpec, forecast};
use crate::observation::blue_observations;

/// One truth run's result: its objectives and their score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RunOutcome {
    /// Security loss.
    pub security_loss: f64,
    /// Availability.
    pub availability: f64,
    /// Cost.
    pub cost: f64,
    /// The score under the forecast's weights (lower is better).
    pub score: f64,
}

/// The loop's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoopOutcome {
    /// The truth run following the recommendations.
    pub followed: RunOutcome,
    /// (tick, strategy) of each switch, the starting strategy at tick 0 first.
    pub switches: Vec<(u32, String)>,
    /// The truth run under each candidate held fixed.
    pub fixed: Vec<(String, RunOutcome)>,
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct LoopSpec {
    /// Ensemble members.
    pub members: u32,
    /// The detectors' rates the twin assumes.
    pub model: AlertModel,
    /// The prior of the attacker's speed.
    pub prior: RatePrior,
    /// Ticks between recommendations.
    pub cycle: u32,
    /// Each cycle's forecast.
    pub forecast: ForecastSpec,
}

fn outcome(u: &Universe, spec: &LoopSpec) -> RunOutcome {
    let o = u.objectives();
    RunOutcome {
        security_loss: o.security_loss,
        availability: o.availability,
        cost: o.cost,
        score: spec.forecast.score.of(&o),
    }
}

/// Runs the loop: the truth starts under `candidates[0]` (its scenario's seed is the
/// truth's), the twin follows its feed and switches it to what it recommends.
pub fn follow(
    candidates: &[Candidate],
    spec: &LoopSpec,
    plugins: &[&'static dyn SimPlugin],
) -> Result<LoopOutcome, String> {
    let plain = plugins.to_vec();
    let start = &candidates.first().ok_or("no candidate")?.scenario;
    let ticks = start.ticks;
    let mut truth = Universe::build(start.clone(), &plain).map_err(|e| e.to_string())?;
    let mut ensemble = Ensemble::new(
        start,
        spec.members,
        (spec.model.clone(), spec.prior),
        BackendChoice::Cpu,
        plugins,
    )?;
    let mut current = 0;
    let mut switches = vec![(0, candidates[0].name.clone())];
    let mut seen = 0;
    let mut no_estimate = |_: &crate::ensemble::Estimate, _: &mut Ensemble| {};
    // The first recommendation comes before the first tick: the loop starts as an
    // operator deploying the twin would, from its advice on the state at hand.
    let mut tick = 0;
    loop {
        if tick > 0 {
            if !truth.step() {
                break;
            }
            tick = truth.clock().tick;
            let events = truth.world().resource::<EventLog>().events();
            let fresh = blue_observations(&events[seen.min(events.len())..]);
            seen = events.len();
            for o in fresh {
                ensemble.observe(o, &plain, &mut no_estimate)?;
            }
            ensemble.close_until(tick, &plain, &mut no_estimate);
        }
        let decide = tick.is_multiple_of(spec.cycle) && tick < ticks;
        tick = tick.max(1);
        if !decide {
            continue;
        }
        let at = truth.clock().tick;
        let starts = ensemble.weighted_starts(tick).map_err(|e| e.to_string())?;
        let f = forecast(&starts, candidates, &spec.forecast, plugins, &|| {})
            .map_err(|e| e.to_string())?;
        let Some(r) = candidates.iter().position(|c| c.name == f.recommended) else {
            continue;
        };
        if r == current {
            continue;
        }
        truth
            .switch_strategy(candidates[r].scenario.clone())
            .map_err(|e| e.to_string())?;
        ensemble.switch(&candidates[r].scenario, ticks - at, &plain)?;
        current = r;
        switches.push((at, candidates[r].name.clone()));
    }
    let followed = outcome(&truth, spec);
    let mut fixed = Vec::new();
    for c in candidates {
        let mut u = Universe::build(c.scenario.clone(), &plain).map_err(|e| e.to_string())?;
        u.run(|_| {});
        fixed.push((c.name.clone(), outcome(&u, spec)));
    }
    Ok(LoopOutcome {
        followed,
        switches,
        fixed,
    })
}
