//! Cryptojacking: a miner takes `share` of each held target node's compute
//! (`compute_stolen_node_ms`, and `compute_available_ppm` of the scenario's GPU, edge and
//! cloud nodes). The miner's load shows in the node's CPU telemetry, which host sensors
//! see. The goal is `goal` nodes mining at once.

use paraverse_sim::prelude::*;

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

/// Compute theft at a share of each hijacked node.
#[derive(Debug)]
pub(super) struct Cryptojacking {
    /// Share of a node's compute taken, per mille.
    pub share_permille: u64,
}

impl Objective for Cryptojacking {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("resource_hijacking", "impact", "T1496"),
            step("compute_stolen", "impact", "T1496"),
        ]
    }

    fn unit(&self) -> &'static str {
        "nodes hijacked"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick) = (c.campaign, st.tick);
        let active = &targets.active;
        let out = &mut *st.out;
        if let Some(&first) = active.first() {
            out.book
                .reach(id, chain::OBJECTIVE, tick, Some(first), &mut out.log);
        }
        let n = active.len() as u64;
        st.effects.hijacked_ppm += n * self.share_permille * 1000;
        for &node in active {
            let t = &mut st.telemetry[node as usize];
            t.cpu_permille = (u64::from(t.cpu_permille) + self.share_permille).min(1000) as u16;
        }
        if let Some(stolen) = out.impact.compute_stolen {
            // share (‰) × tick (µs) → node-ms.
            out.metrics
                .add(stolen, n * self.share_permille * st.tick_us / 1_000_000);
        }
        if n >= c.goal {
            out.book
                .reach_goal(id, tick, active.first().copied(), &mut out.log);
        }
    }
}
