//! Ransomware: a held target node is encrypted `dwell` after the campaign took it and
//! stops serving (benign flows to it fail) until backups restore it. The goal is `goal`
//! target nodes encrypted at once.

use paraverse_sim::prelude::*;

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

/// Encryption after a dwell time.
#[derive(Debug)]
pub(super) struct Ransomware {
    /// Ticks from taking a node to encrypting it.
    pub dwell_ticks: u32,
}

impl Objective for Ransomware {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("staging", "collection", "T1074"),
            step("encryption", "impact", "T1486"),
            step("services_encrypted", "impact", "T1486"),
        ]
    }

    fn unit(&self) -> &'static str {
        "nodes encrypted"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick) = (c.campaign, st.tick);
        let out = &mut *st.out;
        for &n in &targets.active {
            out.book
                .reach(id, chain::OBJECTIVE, tick, Some(n), &mut out.log);
            let taken = c.held[&n];
            let s = &mut st.security[n as usize];
            if !s.encrypted && tick >= taken.0.saturating_add(self.dwell_ticks) {
                s.encrypted = true;
                let mut e = RunEvent::new(tick, "encryption", n);
                e.campaign = Some(id);
                e.technique = Some("T1486");
                out.log.push(e);
                out.book
                    .reach(id, chain::EFFECT, tick, Some(n), &mut out.log);
            }
        }
        let encrypted = targets
            .held
            .iter()
            .filter(|&&n| st.security[n as usize].encrypted)
            .count() as u64;
        if encrypted >= c.goal {
            out.book.reach_goal(id, tick, None, &mut out.log);
        }
    }
}
