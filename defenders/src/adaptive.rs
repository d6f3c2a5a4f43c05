//! Adaptive response (CARTA: continuous adaptive risk and trust assessment): the answer
//! to an alert depends on its risk, not one rule for all.
//!
//! Risk = severity × criticality. Severity is 1 for a detector's alert, which may be a
//! false positive, and 3 for a certain tripwire (a decoy touched, a failed attestation).
//! Criticality is 1 for terminals, 2 for gateways, edge, cloud and GPU nodes, 3 for
//! identity, data, ledger, wallet and SOC nodes. Each action whose level the risk reaches
//! follows after its delay:
//!
//! - **throttle** (`throttle_at`): for `throttle_for`, the node makes at most one outbound
//!   attempt per tick (scans, lateral moves) and its flows get at most 256 kbit/s. Cheap
//!   for a false positive (some user friction), slows an attacker;
//! - **revoke** (`revoke_at`): credentials and sessions revoked: a taken-over account is
//!   recovered, the user re-enrols, and zero trust (if on) re-verifies the node before it
//!   gets access again;
//! - **quarantine** (`quarantine_at`): isolation with `[defense.quarantine]`'s delay and
//!   release, as before, but now only for alerts risky enough.
//!
//! So a phone alerted by a noisy detector is throttled, not cut off, while the same alert
//! on a data store, or a decoy touched by anything, isolates it.

use std::collections::VecDeque;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::Adaptive;

use crate::DefenseStep;
use crate::response::{Alerts, QuarantinePolicy};
use crate::trust::ZeroTrustState;

/// Counters of the adaptive response.
#[derive(Debug, Clone, Copy)]
pub struct AdaptiveCounters {
    /// Throttles applied.
    pub throttles: CounterId,
    /// Credentials revoked.
    pub revocations: CounterId,
    /// Node-ticks throttled (friction).
    pub throttled: CounterId,
}

/// The adaptive response's configuration and queues.
#[derive(Resource, Debug, Clone)]
pub struct AdaptiveResponse {
    /// Parameters.
    pub config: Adaptive,
    /// Counters.
    pub counters: AdaptiveCounters,
    /// (due tick, node) of throttles to apply.
    pub throttle: VecDeque<(u32, u32)>,
    /// (due tick, node) of throttles to lift.
    pub unthrottle: VecDeque<(u32, u32)>,
    /// (due tick, node) of revocations.
    pub revoke: VecDeque<(u32, u32)>,
}

/// Pops every entry of a due-ordered queue that is due.
fn due(queue: &mut VecDeque<(u32, u32)>, tick: u32) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(&(at, node)) = queue.front() {
        if at > tick {
            break;
        }
        queue.pop_front();
        out.push(node);
    }
    out
}

/// Defend stage, before quarantine: score this tick's alerts and act on due decisions.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn respond(
    mut nodes: Query<(&Kind, &mut Security)>,
    mut adaptive: ResMut<AdaptiveResponse>,
    mut quarantine: ResMut<QuarantinePolicy>,
    mut zero_trust: Option<ResMut<ZeroTrustState>>,
    mut policy: ResMut<AccessPolicy>,
    alerts: Res<Alerts>,
    clock: Res<Clock>,
    (mut metrics, mut log): (ResMut<Metrics>, ResMut<EventLog>),
) {
    let (kinds, mut security) = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = clock.tick;
    let a = &mut *adaptive;
    let cfg = a.config;
    for &node in &alerts.raised {
        let severity = if alerts.certain.contains(&node) { 3 } else { 1 };
        let risk = severity * Adaptive::criticality(kinds[node as usize].0);
        if risk >= cfg.quarantine_at {
            let delay = quarantine.config.delay_ticks;
            quarantine
                .pending
                .push_back((tick.saturating_add(delay), node));
        }
        if risk >= cfg.revoke_at {
            a.revoke
                .push_back((tick.saturating_add(cfg.revoke_delay_ticks), node));
        }
        if risk >= cfg.throttle_at {
            a.throttle
                .push_back((tick.saturating_add(cfg.throttle_delay_ticks), node));
        }
    }
    // Queues are appended in tick order with constant delays, so they stay due-ordered.
    for node in due(&mut a.throttle, tick) {
        if !std::mem::replace(&mut policy.throttled[node as usize], true) {
            metrics.add(a.counters.throttles, 1);
            log.push(RunEvent::new(tick, "throttle", node));
        }
        a.unthrottle
            .push_back((tick.saturating_add(cfg.throttle_ticks), node));
    }
    for node in due(&mut a.unthrottle, tick) {
        policy.throttled[node as usize] = false;
    }
    for node in due(&mut a.revoke, tick) {
        let s = &mut security[node as usize];
        s.account_taken_over = false;
        if let Some(zt) = zero_trust.as_deref_mut() {
            // Re-enrolment: no access until zero trust verifies the node again.
            zt.trust[node as usize] = 0;
            policy.denied[node as usize] = true;
        }
        metrics.add(a.counters.revocations, 1);
        let mut e = RunEvent::new(tick, "revoke", node);
        e.truth = Some(s.compromised);
        log.push(e);
    }
    let throttled = policy.throttled.iter().filter(|&&t| t).count() as u64;
    metrics.add(a.counters.throttled, throttled);
}

/// Parameters are rebuilt; the queues of throttles and revocations are state.
impl Persist for AdaptiveResponse {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        paraverse_sim::checkpoint::encode::<Self, _>(
            &(&self.throttle, &self.unthrottle, &self.revoke),
            out,
        )
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        (self.throttle, self.unthrottle, self.revoke) =
            paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        Ok(())
    }
}

/// Adds the adaptive response and its counters to the defend stage.
pub(crate) fn install(builder: &mut UniverseBuilder<'_>, a: Adaptive) {
    let mut m = builder.metrics();
    let counters = AdaptiveCounters {
        throttles: m.register("throttles", "alerted nodes throttled (adaptive response)"),
        revocations: m.register("revocations", "credentials revoked (adaptive response)"),
        throttled: m.register("throttled_node_ticks", "node-ticks throttled (friction)"),
    };
    builder.world_mut().insert_resource(AdaptiveResponse {
        config: a,
        counters,
        throttle: Default::default(),
        unthrottle: Default::default(),
        revoke: Default::default(),
    });
    builder.persist::<AdaptiveResponse>();
    builder.add_systems(SimStage::Defend, respond.in_set(DefenseStep::Respond));
}
