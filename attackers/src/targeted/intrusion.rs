//! Intrusion: reach the high-value target and hold it. The goal is `goal` target nodes
//! held (quarantined or not: the attacker is in).

use paraverse_sim::prelude::*;

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::step;

/// Intrusion has no parameters beyond its approach and goal.
#[derive(Debug)]
pub(super) struct Intrusion;

impl Objective for Intrusion {
    fn steps(&self) -> Vec<KillStep> {
        vec![step("high_value_target", "collection", "T1005")]
    }

    fn unit(&self) -> &'static str {
        "target nodes held"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        if targets.held.len() as u64 >= c.goal {
            let out = &mut *st.out;
            out.book.reach_goal(
                c.campaign,
                st.tick,
                targets.held.first().copied(),
                &mut out.log,
            );
        }
    }
}
