//! Responses: quarantine of alerted nodes after a delay, rebuild and release, and
//! patching on a cadence.
//!
//! Quarantine isolates a node (it neither scans nor can be reached) `delay` after its
//! alert: the time a SOC needs to triage and act. Isolating a clean node is a real cost
//! and is counted as `false_quarantines`. With `release_after`, an isolated node is
//! rebuilt (clean; patched unless `release_patched = false`) and returns. Patch rounds every `interval` patch each
//! still-unpatched node in the covered zones with chance `coverage`; patching closes the
//! door but does not evict an attacker already inside.

use std::collections::VecDeque;

use crate::{DefenseStep, every, zone_mask};
use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{AuthMethod, Hardening, Patching, Quarantine};
use rayon::prelude::*;

/// Alerts raised this tick, in node-id order (written by detection, read by responses).
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Alerts {
    /// Nodes alerted this tick.
    pub raised: Vec<u32>,
    /// Those of them alerted by a certain tripwire (a decoy, a failed attestation).
    pub certain: Vec<u32>,
}

impl Alerts {
    /// Starts a tick's alerts.
    pub fn clear(&mut self) {
        self.raised.clear();
        self.certain.clear();
    }
}

/// Counters of the quarantine policy.
#[derive(Debug, Clone, Copy)]
pub struct QuarantineCounters {
    /// Nodes isolated.
    pub quarantines: CounterId,
    /// Clean nodes isolated.
    pub false_quarantines: CounterId,
    /// Nodes rebuilt and released.
    pub releases: CounterId,
}

/// The quarantine policy and its queues. Delays are constant, so due ticks arrive in
/// order and plain FIFO queues suffice.
#[derive(Resource, Debug, Clone)]
pub struct QuarantinePolicy {
    /// Parameters.
    pub config: Quarantine,
    /// Counters.
    pub counters: QuarantineCounters,
    /// (due tick, node) of alerted nodes awaiting isolation.
    pub pending: VecDeque<(u32, u32)>,
    /// (due tick, node) of isolated nodes awaiting release.
    pub releases: VecDeque<(u32, u32)>,
    /// Whether every alert leads to quarantine (false when the adaptive response decides
    /// which do, by risk).
    pub every_alert: bool,
}

/// Defend stage: isolate nodes whose response delay has passed; release rebuilt ones.
pub fn quarantine(
    mut nodes: Query<&mut Security>,
    mut policy: ResMut<QuarantinePolicy>,
    alerts: Res<Alerts>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = clock.tick;
    let policy = &mut *policy;
    let c = policy.counters;
    if policy.every_alert {
        for &node in &alerts.raised {
            policy
                .pending
                .push_back((tick.saturating_add(policy.config.delay_ticks), node));
        }
    }
    while let Some(&(due, node)) = policy.releases.front() {
        if due > tick {
            break;
        }
        policy.releases.pop_front();
        security[node as usize].release(policy.config.release_patched);
        metrics.add(c.releases, 1);
        log.push(RunEvent::new(tick, "release", node));
    }
    while let Some(&(due, node)) = policy.pending.front() {
        if due > tick {
            break;
        }
        policy.pending.pop_front();
        let s = &mut security[node as usize];
        if s.quarantined {
            continue;
        }
        s.quarantined = true;
        metrics.add(c.quarantines, 1);
        if !s.compromised {
            metrics.add(c.false_quarantines, 1);
        }
        let mut e = RunEvent::new(tick, "quarantine", node);
        e.truth = Some(s.compromised);
        log.push(e);
        if let Some(r) = policy.config.release_ticks {
            policy.releases.push_back((tick.saturating_add(r), node));
        }
    }
}

/// One round of a cadence defense: every node `eligible` (by its state, zone and group)
/// is acted on with `chance`, each from its own draw `(stream, node, tick)`, so chunks
/// run in parallel and the result does not depend on the split. Returns how many.
fn round(
    security: &mut [Security],
    zones: &[InZone],
    groups: &[InGroup],
    (rng, stream, tick, chance): (SimRng, Stream, u32, Chance),
    eligible: impl Fn(&Security, usize, usize) -> bool + Sync,
    act: impl Fn(&mut Security) + Sync,
) -> u64 {
    security
        .par_chunks_mut(CHUNK)
        .zip(zones.par_chunks(CHUNK))
        .zip(groups.par_chunks(CHUNK))
        .enumerate()
        .map(|(c, ((sec, zone), group))| {
            let mut n = 0u64;
            for (k, ((s, z), g)) in sec.iter_mut().zip(zone).zip(group).enumerate() {
                let node = (c * CHUNK + k) as u32;
                if eligible(s, z.0 as usize, g.0 as usize)
                    && chance.hit(rng.draw(stream, node, tick, 0))
                {
                    act(s);
                    n += 1;
                }
            }
            n
        })
        .sum()
}

/// The patching policy.
#[derive(Resource, Debug, Clone)]
pub struct PatchPolicy {
    /// Parameters.
    pub config: Patching,
    /// Whether each zone is covered.
    pub zones: Vec<bool>,
    /// Counter of nodes patched.
    pub patches: CounterId,
}

const PATCH: Stream = Stream::named("defense.patch");

/// Defend stage, on every `interval`-th tick ([`every`]): patch each
/// unpatched covered node with chance `coverage` (each node decides from its own draw, so
/// chunks run in parallel).
pub fn patch(
    mut nodes: Query<(&InZone, &InGroup, &mut Security)>,
    policy: Res<PatchPolicy>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let tick = clock.tick;
    let (zones, groups, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let covered = &policy.zones;
    let patched = round(
        security.bypass_change_detection(),
        zones,
        groups,
        (*rng, PATCH, tick, policy.config.coverage),
        |s, z, _| !s.patched && covered[z],
        |s| s.patched = true,
    );
    metrics.add(policy.patches, patched);
    log.push(RunEvent::global(tick, "patch_round", patched));
}

/// The hardening policy: devices on factory-default credentials get unique ones.
#[derive(Resource, Debug, Clone)]
pub struct HardeningPolicy {
    /// Parameters.
    pub config: paraverse_sim::scenario::Hardening,
    /// Whether each zone is covered.
    pub zones: Vec<bool>,
    /// Whether each group is on default credentials.
    pub default_credentials: Vec<bool>,
    /// Counter of devices hardened.
    pub hardened: CounterId,
}

const HARDEN: Stream = Stream::named("defense.harden");

/// Defend stage, on every `interval`-th tick ([`every`]): harden each
/// default-credential device in the covered zones with chance `coverage`. A hardened device resists dictionary attacks
/// (botnets, default-credential access); it does not evict an attacker already inside.
pub fn harden(
    mut nodes: Query<(&InZone, &InGroup, &mut Security)>,
    policy: Res<HardeningPolicy>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let tick = clock.tick;
    let (zones, groups, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let p = &*policy;
    let hardened = round(
        security.bypass_change_detection(),
        zones,
        groups,
        (*rng, HARDEN, tick, p.config.coverage),
        |s, z, g| !s.hardened && p.default_credentials[g] && p.zones[z],
        |s| s.hardened = true,
    );
    metrics.add(p.hardened, hardened);
    log.push(RunEvent::global(tick, "hardening_round", hardened));
}

paraverse_sim::persist_whole!(Alerts);

/// Parameters are rebuilt; alerted nodes awaiting isolation and release are state.
impl Persist for QuarantinePolicy {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        paraverse_sim::checkpoint::encode::<Self, _>(&(&self.pending, &self.releases), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        (self.pending, self.releases) = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        Ok(())
    }
}

/// Adds quarantine and release to the defend stage; `every_alert`: it acts on every alert (no adaptive response deciding which).
pub(crate) fn install_quarantine(
    builder: &mut UniverseBuilder<'_>,
    q: Quarantine,
    every_alert: bool,
) {
    let mut m = builder.metrics();
    let counters = QuarantineCounters {
        quarantines: m.register("quarantines", "nodes isolated"),
        false_quarantines: m.register("false_quarantines", "clean nodes isolated (cost)"),
        releases: m.register("releases", "quarantined nodes rebuilt and released"),
    };
    builder.world_mut().insert_resource(QuarantinePolicy {
        config: q,
        counters,
        pending: Default::default(),
        releases: Default::default(),
        every_alert,
    });
    builder.persist::<QuarantinePolicy>();
    builder.add_systems(SimStage::Defend, quarantine.in_set(DefenseStep::Quarantine));
}

/// Adds patch rounds, on their cadence, to the defend stage.
pub(crate) fn install_patching(builder: &mut UniverseBuilder<'_>, p: Patching) {
    let zone_count = builder.scenario.zones.len();
    let patches = builder.metrics().register("patches", "nodes patched");
    let zones = zone_mask(zone_count, &p.zones);
    let interval = p.interval_ticks;
    builder.world_mut().insert_resource(PatchPolicy {
        config: p,
        zones,
        patches,
    });
    builder.rebuilt::<PatchPolicy>();
    builder.add_systems(
        SimStage::Defend,
        patch.run_if(every(interval)).in_set(DefenseStep::Patch),
    );
}

/// Adds hardening rounds, on their cadence, to the defend stage.
pub(crate) fn install_hardening(builder: &mut UniverseBuilder<'_>, h: Hardening) {
    let zone_count = builder.scenario.zones.len();
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
    let zones = zone_mask(zone_count, &h.zones);
    let interval = h.interval_ticks;
    builder.world_mut().insert_resource(HardeningPolicy {
        config: h,
        zones,
        default_credentials,
        hardened,
    });
    builder.rebuilt::<HardeningPolicy>();
    builder.add_systems(
        SimStage::Defend,
        harden.run_if(every(interval)).in_set(DefenseStep::Harden),
    );
}
