//! Step-up authentication: a risk engine that asks for a second factor when a log-in or a
//! wallet transfer looks wrong for the identity (a new device, an odd place, a burst of
//! attempts), per account rather than per device.
//!
//! The attack side lives where the log-in happens (`paraverse_attackers::identity`):
//! each log-in an identity campaign wins is flagged with chance `detect`; a flagged
//! impostor must then pass the second factor, which stolen or stuffed passwords and a
//! hijacked session cannot (unless the user approves an unexpected prompt, chance
//! `fatigue`), while a deepfake that fooled the face check fools it again unless liveness
//! detection catches it. What this module adds is the cost: every challenge, and
//! `false_prompts` benign log-ins per user-hour flagged by mistake, is a prompt on a
//! user's device (`step_up_prompts`, friction), and the challenges and blocks the attack
//! side records in [`StepUps`] become counters.

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::StepUp;

use crate::DefenseStep;

/// Counters and the benign prompt rate of the deployed step-up.
#[derive(Resource, Debug, Clone)]
pub struct StepUpDefense {
    /// Benign log-ins flagged per tick, over every user.
    pub false_prompts: PerTick,
    /// Impostor log-ins challenged.
    pub challenges: CounterId,
    /// Impostors the second factor stopped.
    pub blocked: CounterId,
    /// Prompts users saw (challenges of impostors, whose victims get the prompt, and
    /// benign log-ins flagged by mistake): the friction.
    pub prompts: CounterId,
}

const FALSE_PROMPTS: Stream = Stream::named("defense.step_up.false_prompts");

/// Defend stage: counts this tick's challenges and blocks, and the benign prompts.
pub fn step_up(
    defense: Res<StepUpDefense>,
    mut step_ups: ResMut<StepUps>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
) {
    let StepUps {
        challenged,
        blocked,
    } = std::mem::take(&mut *step_ups);
    let benign = defense
        .false_prompts
        .sample(rng.draw(FALSE_PROMPTS, u32::MAX, clock.tick, 0));
    metrics.add(defense.challenges, u64::from(challenged));
    metrics.add(defense.blocked, u64::from(blocked));
    metrics.add(defense.prompts, u64::from(challenged) + u64::from(benign));
}

/// Adds step-up authentication's counters and benign prompts to the defend stage.
pub(crate) fn install(builder: &mut UniverseBuilder<'_>, su: StepUp) {
    let scenario = builder.scenario;
    let users: u64 = scenario
        .groups
        .iter()
        .filter(|g| g.kind.is_terminal())
        .map(|g| u64::from(g.count))
        .sum();
    let tick_us = scenario.tick.as_micros();
    let mut m = builder.metrics();
    let defense = StepUpDefense {
        false_prompts: PerTick::from_rate(
            users as f64 * su.false_prompts_per_hour / 3600.0,
            tick_us,
        ),
        challenges: m.register("step_up_challenges", "impostor log-ins challenged"),
        blocked: m.register("step_up_blocked", "impostors the second factor stopped"),
        prompts: m.register(
            "step_up_prompts",
            "second-factor prompts users saw (friction)",
        ),
    };
    builder.world_mut().insert_resource(defense);
    builder.world_mut().insert_resource(StepUps::default());
    builder.rebuilt::<StepUpDefense>().persist::<StepUps>();
    builder.add_systems(SimStage::Defend, step_up.in_set(DefenseStep::StepUp));
}
