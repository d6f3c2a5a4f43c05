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
use paraverse_sim::scenario::{AuthMethod, DetectionMethod};

/// The order of defenses within the sense and defend stages: each writes node security,
/// so they run one after another.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefenseStep {
    /// Scan detection (sense).
    Detect,
    /// Decoy alerts (sense).
    Deceive,
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
        let zones = builder.scenario.zones.len();
        builder.configure_sets(
            (DefenseStep::Detect, DefenseStep::Deceive)
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
        }
        if let Some(det) = defense.detection {
            let mut m = builder.metrics();
            let counters = detection::DetectionCounters {
                detections: m.register("detections", "alerts raised by scan detection"),
                true_detections: m.register("true_detections", "alerts on compromised nodes"),
                false_detections: m.register(
                    "false_detections",
                    "alerts on clean nodes (false positives)",
                ),
            };
            let monitored = zone_mask(zones, &det.zones);
            match det.method {
                DetectionMethod::Threshold => {
                    builder
                        .world_mut()
                        .insert_resource(detection::ScanDetection {
                            config: det,
                            monitored,
                            counters,
                        });
                    builder.rebuilt::<detection::ScanDetection>();
                    builder.add_systems(
                        SimStage::Sense,
                        detection::detect_scanning.in_set(DefenseStep::Detect),
                    );
                }
                DetectionMethod::Ueba => {
                    let nodes = builder.scenario.node_count as usize;
                    builder
                        .world_mut()
                        .insert_resource(detection::Ueba::new(det, monitored, counters, nodes));
                    builder.persist::<detection::Ueba>();
                    builder.add_systems(
                        SimStage::Sense,
                        detection::detect_ueba.in_set(DefenseStep::Detect),
                    );
                }
            }
        }
        if tripwires {
            let alerts = builder.metrics().register(
                "tripwire_alerts",
                "certain alerts: decoys touched in lateral movement, failed attestations",
            );
            let first = builder.scenario.defense.detection.is_none();
            builder
                .world_mut()
                .insert_resource(detection::TripwireAlerts { first, alerts });
            builder.rebuilt::<detection::TripwireAlerts>();
            builder.add_systems(
                SimStage::Sense,
                detection::tripwire_alerts.in_set(DefenseStep::Deceive),
            );
        }
        if let Some(q) = defense.quarantine {
            let mut m = builder.metrics();
            let counters = response::QuarantineCounters {
                quarantines: m.register("quarantines", "nodes isolated"),
                false_quarantines: m.register("false_quarantines", "clean nodes isolated (cost)"),
                releases: m.register("releases", "quarantined nodes rebuilt and released"),
            };
            builder
                .world_mut()
                .insert_resource(response::QuarantinePolicy {
                    config: q,
                    counters,
                    pending: Default::default(),
                    releases: Default::default(),
                    every_alert: defense.adaptive.is_none(),
                });
            builder.persist::<response::QuarantinePolicy>();
            builder.add_systems(
                SimStage::Defend,
                response::quarantine.in_set(DefenseStep::Quarantine),
            );
        }
        if let Some(p) = defense.patching {
            let patches = builder.metrics().register("patches", "nodes patched");
            let zones = zone_mask(zones, &p.zones);
            let interval = p.interval_ticks;
            builder.world_mut().insert_resource(response::PatchPolicy {
                config: p,
                zones,
                patches,
            });
            builder.rebuilt::<response::PatchPolicy>();
            builder.add_systems(
                SimStage::Defend,
                response::patch
                    .run_if(every(interval))
                    .in_set(DefenseStep::Patch),
            );
        }
        if let Some(h) = defense.hardening {
            let hardened = builder.metrics().register(
                "hardened",
                "default-credential devices given unique credentials",
            );
            let default_credentials = builder
                .scenario
                .groups
                .iter()
                .map(|g| g.auth == AuthMethod::DefaultCredentials)
                .collect();
            let zones = zone_mask(zones, &h.zones);
            let interval = h.interval_ticks;
            builder
                .world_mut()
                .insert_resource(response::HardeningPolicy {
                    config: h,
                    zones,
                    default_credentials,
                    hardened,
                });
            builder.rebuilt::<response::HardeningPolicy>();
            builder.add_systems(
                SimStage::Defend,
                response::harden
                    .run_if(every(interval))
                    .in_set(DefenseStep::Harden),
            );
        }
        if let Some(z) = defense.zero_trust {
            let mut m = builder.metrics();
            let counters = trust::TrustCounters {
                verifications: m.register(
                    "verifications",
                    "zero-trust re-verifications (operations cost)",
                ),
                prompts: m.register(
                    "reauth_prompts",
                    "re-verifications that prompted a user (friction)",
                ),
                caught: m.register(
                    "trust_revoked",
                    "compromised devices found by re-verification",
                ),
                revoked: m.register("accounts_revoked", "taken-over accounts revoked"),
                denied: m.register("denied_node_ticks", "node-ticks below the trust threshold"),
            };
            let enforced = zone_mask(zones, &z.zones);
            let nodes = builder.scenario.node_count as usize;
            builder.world_mut().insert_resource(trust::ZeroTrustState {
                config: z,
                enforced,
                trust: vec![1_000_000; nodes],
                counters,
            });
            builder.persist::<trust::ZeroTrustState>();
            builder.add_systems(
                SimStage::Defend,
                trust::zero_trust.in_set(DefenseStep::Trust),
            );
        }
        if let Some(b) = defense.biometric {
            let mut m = builder.metrics();
            let auth = trust::BiometricAuth {
                config: b,
                checks: m.register(
                    "biometric_checks",
                    "continuous biometric re-authentications",
                ),
                revoked: m.register(
                    "deepfakes_unmasked",
                    "deepfake sessions unmasked and revoked",
                ),
            };
            builder.world_mut().insert_resource(auth);
            builder.rebuilt::<trust::BiometricAuth>();
            builder.add_systems(
                SimStage::Defend,
                trust::biometric_reauth
                    .run_if(every(b.interval_ticks))
                    .in_set(DefenseStep::Biometric),
            );
        }
        if let Some(a) = defense.adaptive {
            let mut m = builder.metrics();
            let counters = adaptive::AdaptiveCounters {
                throttles: m.register("throttles", "alerted nodes throttled (adaptive response)"),
                revocations: m.register("revocations", "credentials revoked (adaptive response)"),
                throttled: m.register("throttled_node_ticks", "node-ticks throttled (friction)"),
            };
            builder
                .world_mut()
                .insert_resource(adaptive::AdaptiveResponse {
                    config: a,
                    counters,
                    throttle: Default::default(),
                    unthrottle: Default::default(),
                    revoke: Default::default(),
                });
            builder.persist::<adaptive::AdaptiveResponse>();
            builder.add_systems(
                SimStage::Defend,
                adaptive::respond.in_set(DefenseStep::Respond),
            );
        }
        if let Some(b) = defense.backups {
            let mut m = builder.metrics();
            let policy = recovery::BackupPolicy {
                config: b,
                restoring: Default::default(),
                queued: Default::default(),
                runs: m.register("backup_runs", "backup rounds (operations cost)"),
                restores: m.register("restores", "encrypted nodes restored from backup"),
                loss: m.register(
                    "data_loss_window_s",
                    "seconds of data lost to restores, summed",
                ),
            };
            builder.world_mut().insert_resource(policy);
            builder.persist::<recovery::BackupPolicy>();
            builder.add_systems(
                SimStage::Defend,
                recovery::backups.in_set(DefenseStep::Recover),
            );
        }
        if let Some(su) = defense.step_up {
            let scenario = builder.scenario;
            let users: u64 = scenario
                .groups
                .iter()
                .filter(|g| g.kind.is_terminal())
                .map(|g| u64::from(g.count))
                .sum();
            let tick_us = scenario.tick.as_micros();
            let mut m = builder.metrics();
            let defense = step_up::StepUpDefense {
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
            builder
                .rebuilt::<step_up::StepUpDefense>()
                .persist::<StepUps>();
            builder.add_systems(
                SimStage::Defend,
                step_up::step_up.in_set(DefenseStep::StepUp),
            );
        }
        Ok(())
    }
}

/// The cadence of a periodic defense (patch, hardening and re-authentication rounds): a
/// run condition true on every `interval`-th tick, so the round itself holds no guard.
pub fn every(interval: u32) -> impl FnMut(Res<Clock>) -> bool + Clone {
    move |clock: Res<Clock>| clock.tick.is_multiple_of(interval)
}

/// A per-zone mask: `zones` empty means every zone.
fn zone_mask(zone_count: usize, zones: &[u16]) -> Vec<bool> {
    let mut mask = vec![zones.is_empty(); zone_count.max(1)];
    for &z in zones {
        mask[z as usize] = true;
    }
    mask
}

#[cfg(test)]
mod tests;
