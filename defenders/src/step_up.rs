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
