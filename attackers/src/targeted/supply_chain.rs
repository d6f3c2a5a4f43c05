//! Supply chain: the attacker reaches the vendor's update service (the campaign's
//! `target` group) through the shared approach, then pushes a trojanised app or firmware
//! update (ATT&CK T1195.002 / T1195.003) that every node of the fleet installs.
//!
//! # Model
//!
//! The update is pushed the first tick the campaign holds an unquarantined service node
//! (the `trojanised_update` step; its tick is kept by the kill chain). Each fleet node
//! installs it at its own tick of the rollout, `push + U{0, rollout − 1}`, provided the
//! campaign still holds an unquarantined service node then (quarantining the service
//! pulls the update: nodes whose turn passes meanwhile miss it), the node is not itself
//! quarantined, and it accepts the package:
//!
//! - with code signing, a node verifies signatures with chance `coverage` (drawn once per
//!   node); it rejects the package unless the build carries the vendor's valid signature,
//!   which it does with chance `signed` (one draw per push: a compromised build system
//!   signs what it builds). Each rejection is a certain alert on the service node that
//!   sent the update, as a decoy is on a lateral mover's source;
//! - otherwise the node installs the trojan and the campaign holds it (a foothold,
//!   `trojanised_install`, T1072 software deployment tools).
//!
//! Zero trust's attestation finds installed trojans like any compromise, at re-verification.
//! The goal is `goal` fleet nodes trojanised (default: the whole fleet).

use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{Component, SupplyChain};

use super::{CAMPAIGN, Objective, Stage, TargetedCampaign, Targets};
use crate::chain::{self, step};

/// Whether this push's build is validly signed.
const SIGNED: u64 = 13;
/// Each fleet node's install tick within the rollout.
const INSTALL_AT: u64 = 14;
/// Whether a node verifies signatures (a property of the node, not of the campaign).
const VERIFIES: Stream = Stream::named("defense.code_signing.verifies");

/// A trojanised update pushed through the update service.
#[derive(Debug)]
pub(super) struct Trojan(pub SupplyChain);

impl Trojan {
    fn technique(&self) -> &'static str {
        match self.0.component {
            Component::App => "T1195.002",
            Component::Firmware => "T1195.003",
        }
    }
}

impl Objective for Trojan {
    fn steps(&self) -> Vec<KillStep> {
        vec![
            step("trojanised_update", "initial-access", self.technique()),
            step("update_installed", "execution", "T1072"),
            step("fleet_trojanised", "initial-access", self.technique()),
        ]
    }

    fn unit(&self) -> &'static str {
        "fleet nodes trojanised"
    }

    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>) {
        let (id, tick, rng) = (c.campaign, st.tick, st.rng);
        // The service node that pushes: without one, the rollout is paused.
        let Some(&server) = targets.active.first() else {
            return;
        };
        let out = &mut *st.out;
        out.book
            .reach(id, chain::OBJECTIVE, tick, Some(server), &mut out.log);
        let push = out.book.reached_at(id, chain::OBJECTIVE).unwrap_or(tick);
        let since = u64::from(tick - push);
        let rollout = u64::from(self.0.rollout_ticks);
        if since < rollout {
            let signed = self
                .0
                .signed
                .hit(rng.draw(c.stream.derive(SIGNED), CAMPAIGN, push, 0));
            let mut rejected = 0u32;
            for &g in &self.0.fleet {
                for n in st.scenario.groups[g as usize].nodes() {
                    if rng.below(c.stream.derive(INSTALL_AT), n, push, 0, rollout) != since {
                        continue;
                    }
                    let s = &mut st.security[n as usize];
                    if s.quarantined || c.held.contains_key(&n) {
                        continue;
                    }
                    let verifies = st
                        .scenario
                        .defense
                        .code_signing
                        .is_some_and(|cs| cs.coverage.hit(rng.draw(VERIFIES, n, 0, 0)));
                    let mut e = if verifies && !signed {
                        rejected += 1;
                        RunEvent::new(tick, "update_rejected", n)
                    } else {
                        s.compromise(id);
                        c.held.insert(n, (tick, s.rebuilds));
                        c.progress += 1;
                        out.metrics.add(out.impact.footholds, 1);
                        out.book
                            .reach(id, chain::EFFECT, tick, Some(n), &mut out.log);
                        let mut e = RunEvent::new(tick, "trojanised_install", n);
                        e.technique = Some("T1072");
                        e
                    };
                    e.source = Some(server);
                    e.campaign = Some(id);
                    out.log.push(e);
                }
            }
            // A failed signature check is a certain alert on the node that sent it.
            if rejected > 0 {
                st.tripwires.sources.push(server);
            }
        }
        if c.progress >= c.goal {
            out.book.reach_goal(id, tick, None, &mut out.log);
        }
    }
}
