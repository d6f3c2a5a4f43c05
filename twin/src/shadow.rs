//! Proof by shadow truth, closed loop: does following the twin's recommendations pay?
//!
//! A *truth* universe stands in for the real network. Each tick its blue-team events
//! (alerts, quarantines, releases; no ground truth) feed the twin's ensemble; before the
//! first tick and then every cycle the twin forecasts the candidates from its members and,
//! when it recommends another
//! strategy than the one in force, the truth switches to it ([`Universe::branch`] with the
//! truth's own seed: the same world, the same future draws, other defenses) and so do the
//! members. The loop's security loss — summed over the truth's segments, since a branch's
//! records cover its own span and the loss is a sum of counts — is compared with the truth
//! run under each candidate held fixed from the start, same seed.

use paraverse_sim::prelude::*;

use crate::ensemble::{AlertModel, Ensemble, RatePrior};
use crate::forecast::{Candidate, ForecastSpec, forecast};
use crate::observation::blue_observations;

/// The loop's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoopOutcome {
    /// Security loss of the truth run following the recommendations.
    pub followed: f64,
    /// (tick, strategy) of each switch, the starting strategy at tick 0 first.
    pub switches: Vec<(u32, String)>,
    /// Security loss of the truth run under each candidate held fixed.
    pub fixed: Vec<(String, f64)>,
}

/// How the loop runs.
#[derive(Debug, Clone, Copy)]
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

fn loss(u: Universe) -> f64 {
    u.finish().summary.objectives.security_loss
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
    let (seed, ticks) = (start.seed, start.ticks);
    let mut truth = Universe::build(start.clone(), &plain).map_err(|e| e.to_string())?;
    let mut ensemble = Ensemble::new(
        start,
        spec.members,
        (spec.model, spec.prior),
        BackendChoice::Cpu,
        plugins,
    )?;
    let mut current = 0;
    let mut switches = vec![(0, candidates[0].name.clone())];
    let mut followed = 0.0;
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
        let checkpoint = truth.checkpoint().map_err(|e| e.to_string())?;
        let next = Universe::branch(
            &checkpoint,
            candidates[r].scenario.clone(),
            seed,
            ticks - at,
            BackendChoice::Cpu,
            &plain,
        )
        .map_err(|e| e.to_string())?;
        followed += loss(std::mem::replace(&mut truth, next));
        seen = 0;
        ensemble.switch(&candidates[r].scenario, ticks - at, &plain)?;
        current = r;
        switches.push((at, candidates[r].name.clone()));
    }
    followed += loss(truth);
    let mut fixed = Vec::new();
    for c in candidates {
        let mut u = Universe::build(c.scenario.clone(), &plain).map_err(|e| e.to_string())?;
        u.run(|_| {});
        fixed.push((c.name.clone(), loss(u)));
    }
    Ok(LoopOutcome {
        followed,
        switches,
        fixed,
    })
}
