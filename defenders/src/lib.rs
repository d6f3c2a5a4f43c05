//! Defense strategies as ECS systems: the scenario holds their parameters, this crate
//! their behaviour.
//!
//! [`DefenderPlugin`] reads `[defense.*]` (or a strategy file that replaced them) and
//! adds, in the order of [`DefenseStep`]:
//!
//! - [`detection`] (sense stage): alert on nodes whose outbound connection attempts in a
//!   tick exceed a threshold (scaled by the possibly poisoned [`DetectionModel`]). It sees
//!   only [`Telemetry`], never ground truth, so benign bursts give real false positives
//!   and slow scanners real false negatives; decoys touched in lateral movement alert too;
//!   in a twin's member only the alerts the real network raised pass
//!   ([`detection::FedAlerts`]);
//! - [`response`] (defend stage): quarantine of alerted nodes after a response delay,
//!   optional rebuild and release; patching and hardening rounds on a cadence;
//! - [`trust`]: zero trust (trust scores, re-verification, attestation, no access below
//!   the threshold) and continuous biometric authentication with liveness detection;
//! - [`recovery`]: backups and restores;
//! - [`step_up`]: step-up authentication's prompts and counters (the second factor itself
//!   is checked where identity campaigns log in);
//! - [`adaptive`]: the adaptive response (CARTA): throttle, revoke or quarantine
//!   according to each alert's risk.
//!
//! [`export`] writes a strategy for the real deployment (JSON, Kubernetes NetworkPolicy,
//! nftables) and checks each export admits what the simulator admitted.
//!
//! Micro-segmentation needs no system: `sim` builds the [`AccessPolicy`] from the
//! scenario, and the traffic core and the attackers obey it. DDoS protection, privacy
//! protection and the poisoned-data filter act where the attack happens (the attackers
//! crate reads their parameters). Each defense registers counters (`detections`,
//! `false_quarantines`, `verifications`, `reauth_prompts`, `backup_runs`, ...) so its
//! effect and its cost appear in the run summary.

pub mod adaptive;
pub mod detection;
pub mod export;
pub mod recovery;
pub mod response;
pub mod step_up;
pub mod trust;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;

/// The order of defenses within the sense and defend stages: each writes node security,
/// so they run one after another.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefenseStep {
    /// Scan detection (sense).
    Detect,
    /// Decoy alerts (sense).
    Deceive,
    /// A twin member keeps only the alerts the real network raised (sense; see
    /// [`detection::FedAlerts`]).
    Corroborate,
    /// Adaptive response: throttle, revoke, decide quarantine (defend).
    Respond,
    /// Quarantine and release (defend).
    Quarantine,
    /// Patch rounds (defend).
    Patch,
    /// Hardening rounds (defend).
    Harden,
    /// Zero-trust verification (defend).
    Trust,
    /// Continuous biometric authentication (defend).
    Biometric,
    /// Backups and restores (defend).
    Recover,
    /// Step-up authentication's counters and benign prompts (defend).
    StepUp,
}

/// Adds the scenario's defenses to the sense and defend stages.
pub struct DefenderPlugin;

impl SimPlugin for DefenderPlugin {
    fn name(&self) -> &'static str {
        "defenders"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        let defense = builder.scenario.defense.clone();
        builder.configure_sets(
            (
                DefenseStep::Detect,
                DefenseStep::Deceive,
                DefenseStep::Corroborate,
            )
                .chain()
                .in_set(SimStage::Sense),
        );
        builder.configure_sets(
            (
                DefenseStep::Respond,
                DefenseStep::Quarantine,
                DefenseStep::Patch,
                DefenseStep::Harden,
                DefenseStep::Trust,
                DefenseStep::Biometric,
                DefenseStep::Recover,
                DefenseStep::StepUp,
            )
                .chain()
                .in_set(SimStage::Defend),
        );
        let tripwires = defense.deception.is_some()
            || defense.zero_trust.is_some()
            || defense.code_signing.is_some();
        if defense.detection.is_some() || tripwires {
            builder
                .world_mut()
                .insert_resource(response::Alerts::default());
            builder.persist::<response::Alerts>();
            builder.add_systems(
                SimStage::Sense,
                detection::corroborate_alerts.in_set(DefenseStep::Corroborate),
            );
        }
        if let Some(det) = defense.detection {
            detection::install(builder, det);
        }
        if tripwires {
            detection::install_tripwires(builder);
        }
        if let Some(q) = defense.quarantine {
            response::install_quarantine(builder, q, defense.adaptive.is_none());
        }
        if let Some(p) = defense.patching {
            response::install_patching(builder, p);
        }
        if let Some(h) = defense.hardening {
            response::install_hardening(builder, h);
        }
        if let Some(z) = defense.zero_trust {
            trust::install_zero_trust(builder, z);
        }
        if let Some(b) = defense.biometric {
            trust::install_biometric(builder, b);
        }
        if let Some(a) = defense.adaptive {
            adaptive::install(builder, a);
        }
        if let Some(b) = defense.backups {
            recovery::install(builder, b);
        }
        if let Some(su) = defense.step_up {
            step_up::install(builder, su);
        }
        Ok(())
    }
}

/// The cadence of a periodic defense (patch, hardening and re-authentication rounds): a
/// run condition true on every `interval`-th tick, so the round itself holds no guard.
pub fn every(interval: u32) -> impl FnMut(Res<Clock>) -> bool + Clone {
    move |clock: Res<Clock>| clock.tick.is_multiple_of(interval)
}

/// A per-zone mask: `zones` empty means every zone; an id past the last zone
/// ([`NO_ZONE`](paraverse_sim::scenario::NO_ZONE), a strategy's `kind:` list that selected
/// nothing here) covers none.
fn zone_mask(zone_count: usize, zones: &[u16]) -> Vec<bool> {
    let mut mask = vec![zones.is_empty(); zone_count.max(1)];
    for &z in zones {
        if let Some(m) = mask.get_mut(z as usize) {
            *m = true;
        }
    }
    mask
}

/// The groups in the zones `mask` marks, in id order: (the group's index, its ids). Each
/// group is a run of ids in one zone and groups follow each other in id order, so a
/// detector reads only its zones' nodes without a zone lookup per node.
fn monitored_groups<'a>(
    scenario: &'a Scenario,
    mask: &'a [bool],
) -> impl Iterator<Item = (usize, std::ops::Range<u32>)> + 'a {
    scenario
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| mask.get(usize::from(g.zone)).copied().unwrap_or(false))
        .map(|(i, g)| (i, g.nodes()))
}

/// The nodes of the zones `mask` marks, as runs of consecutive ids in id order
/// (neighbouring groups' ids merged).
fn monitored_runs(scenario: &Scenario, mask: &[bool]) -> Vec<std::ops::Range<u32>> {
    let mut runs: Vec<std::ops::Range<u32>> = Vec::new();
    for (_, ids) in monitored_groups(scenario, mask) {
        match runs.last_mut() {
            Some(last) if last.end == ids.start => last.end = ids.end,
            _ => runs.push(ids),
        }
    }
    runs
}

/// `runs` cut into tasks of at most [`CHUNK`] ids, in order.
fn chunked(runs: &[std::ops::Range<u32>]) -> Vec<std::ops::Range<u32>> {
    runs.iter()
        .flat_map(|r| {
            (r.start..r.end)
                .step_by(CHUNK)
                .map(move |s| s..r.end.min(s.saturating_add(CHUNK as u32)))
        })
        .collect()
}

#[cfg(test)]
mod tests;
