//! Exfiltration: each held, active target node sends its records to a drop node over an
//! exfiltration flow in the traffic core (or, without one, at the nominal rate), most
//! sensitive class first. Records leave at the rate the network actually gave the flow
//! in the previous tick; records held in privacy-preserving form are useless stolen. What
//! is left to steal is shared by every exfiltration campaign. The goal is `goal` records
//! (default: all the target group holds).

use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{DataClass, FlowClass, GroupId};

use super::{Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

/// Which drop node a target node's flow goes to.
const DROP_NODE: u64 = 8;

/// Exfiltration state of one target node, for one campaign (what is left to steal is
/// shared: `TargetedCampaigns::data_left`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Exfil {
    flow: Option<u32>,
    carry_bits: u64,
}

/// Data theft to a drop group.
#[derive(Debug)]
pub(super) struct Exfiltration {
    /// Group of drop servers.
    pub drop: GroupId,
    /// Rate per held target node, kbit/s.
    pub kbps: u32,
    /// Bytes per record.
    pub record_bytes: u64,
}

impl Objective for Exfiltration {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("collection", "collection", "T1005"),
            step("exfiltration", "exfiltration", "T1041"),
            step("data_stolen", "exfiltration", "T1041"),
        ]
    }

    fn unit(&self) -> &'static str {
        "records stolen"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let mut new_flows: Vec<(u32, NewFlow)> = Vec::new();
        for &n in &targets.active {
            if let Some(flow) = self.steal(c, st, n) {
                new_flows.push((n, flow));
            }
        }
        if let Some(core) = st.traffic.as_deref_mut() {
            if !new_flows.is_empty() {
                let flows: Vec<NewFlow> = new_flows.iter().map(|&(_, f)| f).collect();
                let ids = core.add_flows(st.topology, &flows);
                for ((n, _), id) in new_flows.into_iter().zip(ids) {
                    if let Some(x) = c.exfil.get_mut(&n) {
                        x.flow = Some(id);
                    }
                }
            }
            // Flows of nodes the campaign lost, or emptied, stop.
            for (&n, x) in &c.exfil {
                if let Some(f) = x.flow {
                    let on = targets.active.binary_search(&n).is_ok()
                        && st
                            .data_left
                            .get(&n)
                            .is_some_and(|r| r.iter().any(|&r| r > 0));
                    core.set_demand(f, if on { self.kbps } else { 0 });
                }
            }
        }
        if c.progress >= c.goal {
            let out = &mut *st.out;
            out.book.reach_goal(c.campaign, st.tick, None, &mut out.log);
        }
    }
}

impl Exfiltration {
    /// Steals what node `n`'s flow carried this tick; returns the flow to open where the
    /// node has none yet.
    fn steal(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, n: u32) -> Option<NewFlow> {
        let (id, tick, rng) = (c.campaign, st.tick, st.rng);
        let g = &st.scenario.groups[st.groups[n as usize].0 as usize];
        let x = c.exfil.entry(n).or_insert_with(|| Exfil {
            flow: None,
            carry_bits: 0,
        });
        let remaining = st
            .data_left
            .entry(n)
            .or_insert_with(|| DataClass::ALL.map(|cl| g.data.get(&cl).copied().unwrap_or(0)));
        let out = &mut *st.out;
        out.book
            .reach(id, chain::OBJECTIVE, tick, Some(n), &mut out.log);
        if remaining.iter().all(|&r| r == 0) {
            return None;
        }
        let mut open = None;
        let kbps_now = match (&st.traffic, x.flow) {
            (Some(core), Some(f)) => core.state.rate.get(f as usize).copied().unwrap_or(0),
            (Some(_), None) => {
                let drop = &st.scenario.groups[self.drop as usize];
                let dst = drop.first_node
                    + rng.below(c.stream.derive(DROP_NODE), n, 0, 0, u64::from(drop.count)) as u32;
                open = Some(NewFlow {
                    src: n,
                    dst,
                    class: FlowClass::Exfiltration,
                    demand_kbps: self.kbps,
                    priority: FlowClass::Exfiltration.default_priority(),
                    service: drop.services.first().copied(),
                });
                0
            }
            (None, _) => self.kbps,
        };
        // What leaves shows in the node's egress, which a volume detector watches.
        if kbps_now > 0 {
            st.egress.push((n, kbps_now));
        }
        x.carry_bits += u64::from(kbps_now) * st.tick_us / 1000;
        let record_bits = self.record_bytes * 8;
        let mut records = x.carry_bits / record_bits;
        x.carry_bits -= records * record_bits;
        let mut taken = 0;
        for (k, r) in remaining.iter_mut().enumerate() {
            let t = records.min(*r);
            *r -= t;
            records -= t;
            taken += t;
            // Records held in privacy-preserving form are useless stolen.
            let usable = match &st.scenario.defense.privacy {
                Some(p) => p.exposed(k, t),
                None => t,
            };
            if usable > 0 {
                out.metrics.add(out.impact.records[k], usable);
            }
        }
        if remaining.iter().all(|&r| r == 0) {
            x.carry_bits = 0;
        }
        if taken > 0 {
            c.progress += taken;
            out.book
                .reach(id, chain::EFFECT, tick, Some(n), &mut out.log);
        }
        open
    }
}
