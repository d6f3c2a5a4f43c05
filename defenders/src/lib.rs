//! Defense strategies as ECS systems: the scenario holds their parameters, this crate
//! their behaviour.
//!
//! [`DefenderPlugin`] reads `[defense.*]` and adds:
//!
//! - [`detection`] (sense stage): alert on nodes whose outbound connection attempts in a
//!   tick exceed a threshold. It sees only [`Telemetry`], never ground truth, so benign
//!   bursts give real false positives and slow scanners real false negatives;
//! - [`response`] (defend stage): quarantine of alerted nodes after a response delay,
//!   optional rebuild and release; then patching rounds on a cadence.
//!
//! Each defense registers counters (`detections`, `false_detections`, `quarantines`,
//! `patches`, ...) so its effect and its cost appear in the run summary.

pub mod detection;
pub mod response;

use bevy_ecs::schedule::IntoScheduleConfigs;
use paraverse_sim::prelude::*;

/// Adds the scenario's defenses to the sense and defend stages.
pub struct DefenderPlugin;

impl SimPlugin for DefenderPlugin {
    fn name(&self) -> &'static str {
        "defenders"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        let defense = builder.scenario.defense.clone();
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
            let monitored = zone_mask(builder.scenario.zones.len(), &det.zones);
            builder
                .world_mut()
                .insert_resource(detection::ScanDetection {
                    config: det,
                    monitored,
                    counters,
                });
            builder
                .world_mut()
                .insert_resource(response::Alerts::default());
            builder.add_systems(SimStage::Sense, detection::detect_scanning);
        }
        let quarantine = defense.quarantine.is_some();
        let patching = defense.patching.is_some();
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
                });
        }
        if let Some(p) = defense.patching {
            let patches = builder.metrics().register("patches", "nodes patched");
            let zones = zone_mask(builder.scenario.zones.len(), &p.zones);
            builder.world_mut().insert_resource(response::PatchPolicy {
                config: p,
                zones,
                patches,
            });
        }
        // Both write node security: quarantine first (it acts on last tick's alerts),
        // then the patch round.
        match (quarantine, patching) {
            (true, true) => {
                builder.add_systems(
                    SimStage::Defend,
                    (response::quarantine, response::patch).chain(),
                );
            }
            (true, false) => {
                builder.add_systems(SimStage::Defend, response::quarantine);
            }
            (false, true) => {
                builder.add_systems(SimStage::Defend, response::patch);
            }
            (false, false) => {}
        }
        Ok(())
    }
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
