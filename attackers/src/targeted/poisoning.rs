//! Poisoning: held, active nodes of a data store or SOC group feed poisoned samples to
//! the detection model's training data; the poisoned-data filter rejects each with its
//! chance. When `samples_needed` are in, the model's learned threshold has grown to
//! `× (1 + strength)` ([`DetectionModel`]), so the detectors miss more. The goal is the
//! fully poisoned model.

use paraverse_sim::prelude::*;

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

/// Samples a node sends this tick.
const SAMPLES: u64 = 10;
/// Whether the filter catches a sample.
const FILTERED: u64 = 12;

/// Poisoning of the detection model.
#[derive(Debug)]
pub(super) struct Poisoning {
    /// Samples per tick per held target node.
    pub samples_per_tick: PerTick,
    /// Samples for full effect.
    pub samples_needed: u64,
    /// Threshold inflation at full effect, parts per million.
    pub strength_ppm: u64,
}

impl Objective for Poisoning {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("training_data_access", "collection", "T1213"),
            step("poisoning", "persistence", "AML.T0020"),
            step("model_poisoned", "defense-evasion", "AML.T0020"),
        ]
    }

    fn unit(&self) -> &'static str {
        "models poisoned"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick, rng) = (c.campaign, st.tick, st.rng);
        let filter = st.scenario.defense.poison_filter;
        let out = &mut *st.out;
        let mut samples = 0u64;
        for &n in &targets.active {
            out.book
                .reach(id, chain::OBJECTIVE, tick, Some(n), &mut out.log);
            let sent = self
                .samples_per_tick
                .sample(rng.draw(c.stream.derive(SAMPLES), n, tick, 0));
            samples += match filter {
                Some(f) => (0..sent)
                    .filter(|&k| !f.catch.hit(rng.draw(c.stream.derive(FILTERED), n, tick, k)))
                    .count() as u64,
                None => u64::from(sent),
            };
        }
        if samples > 0 {
            out.book.reach(id, chain::EFFECT, tick, None, &mut out.log);
        }
        c.progress = (c.progress + samples).min(self.samples_needed);
        let scale = 1_000_000 + self.strength_ppm * c.progress / self.samples_needed;
        st.effects.scale_ppm = Some(st.effects.scale_ppm.map_or(scale, |s| s.max(scale)));
        if c.progress >= self.samples_needed {
            out.book.reach_goal(id, tick, None, &mut out.log);
        }
    }
}
