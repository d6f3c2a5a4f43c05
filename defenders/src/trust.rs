//! Zero trust and continuous biometric authentication.
//!
//! # Zero trust
//!
//! Every node in the enforced zones has a trust score (ppm of full trust) that decays by
//! `decay_per_hour` while it goes unverified. Each node is re-verified every
//! `reverify_interval` (nodes are spread evenly over the interval by id). Verification
//! restores full trust, unless it finds the device compromised: attestation against a
//! hardware root of trust (every kind but IoT wearables and sensors) finds it with chance
//! `attestation`, behavioural checks (IoT) with chance `behavioural`; then trust drops to
//! zero and the node is reported to the responses (quarantine) as a certain alert. A
//! taken-over account is unmasked with chance `behavioural` and revoked. Nodes
//! below `threshold` get no access ([`AccessPolicy::denied`]): the traffic core refuses
//! their flows and attackers cannot move through them (software-defined perimeter).
//!
//! The costs are real: every verification is work (`verifications`), a user terminal's
//! re-verification is a prompt (`reauth_prompts`; biometric devices verify without one),
//! and if trust decays below the threshold before the next verification, clean nodes are
//! cut off too (their refused flows count as `blocked_flow_ticks`).
//!
//! # Continuous biometric authentication
//!
//! Every `reverify_interval`, each account on a biometric device is re-authenticated from
//! the headset's sensors; a deepfake session is unmasked with the `liveness` chance and
//! the account revoked. Liveness detection also rejects deepfake log-ins outright (see
//! the takeover campaign).

use crate::{DefenseStep, every, zone_mask};
use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{AuthMethod, Biometric, NodeKind, ZeroTrust};
use rayon::prelude::*;

/// Counters of zero trust.
#[derive(Debug, Clone, Copy)]
pub struct TrustCounters {
    /// Verifications made.
    pub verifications: CounterId,
    /// Verifications that prompted a user.
    pub prompts: CounterId,
    /// Compromised devices found (each time trust drops from above zero).
    pub caught: CounterId,
    /// Taken-over accounts revoked.
    pub revoked: CounterId,
    /// Node-ticks denied access.
    pub denied: CounterId,
}

/// Zero trust's configuration and trust scores.
#[derive(Resource, Debug, Clone)]
pub struct ZeroTrustState {
    /// Parameters.
    pub config: ZeroTrust,
    /// Whether each zone is enforced.
    pub enforced: Vec<bool>,
    /// Trust per node, ppm.
    pub trust: Vec<u32>,
    /// Counters.
    pub counters: TrustCounters,
}

const VERIFY: Stream = Stream::named("defense.zero_trust.verify");

/// Whether a device kind has a hardware root of trust to attest against.
pub fn attests(kind: NodeKind) -> bool {
    !matches!(kind, NodeKind::IotWearable | NodeKind::IotSensor)
}

/// Defend stage: decay, re-verify, and set who is denied access.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn zero_trust(
    mut nodes: Query<(&InZone, &Kind, &InGroup, &mut Security)>,
    mut state: ResMut<ZeroTrustState>,
    mut policy: ResMut<AccessPolicy>,
    scenario: Res<ScenarioRes>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
    mut tripwires: ResMut<Tripwires>,
) {
    let (zones, kinds, groups, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let (rng, tick) = (*rng, clock.tick);
    let state = &mut *state;
    let cfg = state.config.clone();
    let enforced = &state.enforced;
    let biometric: Vec<bool> = scenario
        .groups
        .iter()
        .map(|g| g.auth == AuthMethod::Biometric)
        .collect();
    let interval = cfg.interval_ticks;
    // Per chunk: (verifications, prompts, caught nodes, revoked, denied).
    let results: Vec<(u64, u64, Vec<u32>, u64, u64)> = security
        .par_chunks_mut(CHUNK)
        .zip(state.trust.par_chunks_mut(CHUNK))
        .zip(policy.denied.par_chunks_mut(CHUNK))
        .enumerate()
        .map(|(c, ((sec, trust), denied))| {
            let mut r = (0, 0, Vec::new(), 0, 0);
            for (k, ((s, t), d)) in sec.iter_mut().zip(trust).zip(denied).enumerate() {
                let i = c * CHUNK + k;
                let node = i as u32;
                if !enforced[zones[i].0 as usize] {
                    continue;
                }
                *t = t.saturating_sub(cfg.decay_ppm_per_tick.min(u64::from(u32::MAX)) as u32);
                if (node.wrapping_add(tick)).is_multiple_of(interval) {
                    r.0 += 1;
                    let kind = kinds[i].0;
                    if kind.is_terminal() && !biometric[groups[i].0 as usize] {
                        r.1 += 1;
                    }
                    let check = if attests(kind) {
                        cfg.attestation
                    } else {
                        cfg.behavioural
                    };
                    if s.compromised && check.hit(rng.draw(VERIFY, node, tick, 0)) {
                        if *t > 0 {
                            r.2.push(node);
                        }
                        *t = 0;
                    } else {
                        *t = 1_000_000;
                    }
                    if s.account_taken_over && cfg.behavioural.hit(rng.draw(VERIFY, node, tick, 1))
                    {
                        s.account_taken_over = false;
                        r.3 += 1;
                    }
                }
                *d = u64::from(*t) < cfg.threshold_ppm;
                r.4 += u64::from(*d);
            }
            r
        })
        .collect();
    let c = state.counters;
    for (verified, prompts, caught, revoked, denied) in results {
        metrics.add(c.verifications, verified);
        metrics.add(c.prompts, prompts);
        metrics.add(c.caught, caught.len() as u64);
        metrics.add(c.revoked, revoked);
        metrics.add(c.denied, denied);
        for node in caught {
            let mut e = RunEvent::new(tick, "trust_revoked", node);
            e.truth = Some(true);
            log.push(e);
            // A failed attestation is a certain alert for the responses.
            tripwires.sources.push(node);
        }
    }
}

/// Continuous biometric authentication's configuration and counters.
#[derive(Resource, Debug, Clone)]
pub struct BiometricAuth {
    /// Parameters.
    pub config: Biometric,
    /// Checks made.
    pub checks: CounterId,
    /// Deepfake sessions unmasked and revoked.
    pub revoked: CounterId,
}

const LIVENESS: Stream = Stream::named("defense.biometric.liveness");

/// Defend stage, on every `interval`-th tick ([`every`]): re-authenticate
/// biometric accounts.
pub fn biometric_reauth(
    mut nodes: Query<(&InGroup, &mut Security)>,
    auth: Res<BiometricAuth>,
    scenario: Res<ScenarioRes>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let tick = clock.tick;
    let (groups, mut security) = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let mut checks = 0u64;
    for (g, group) in scenario.groups.iter().enumerate() {
        if group.auth != AuthMethod::Biometric {
            continue;
        }
        checks += u64::from(group.count);
        for node in group.nodes() {
            debug_assert_eq!(groups[node as usize].0 as usize, g);
            let s = &mut security[node as usize];
            if s.account_taken_over && auth.config.liveness.hit(rng.draw(LIVENESS, node, tick, 0)) {
                s.account_taken_over = false;
                metrics.add(auth.revoked, 1);
                let mut e = RunEvent::new(tick, "deepfake_unmasked", node);
                e.truth = Some(true);
                log.push(e);
            }
        }
    }
    metrics.add(auth.checks, checks);
}

/// Parameters are rebuilt; trust scores are state.
impl Persist for ZeroTrustState {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        paraverse_sim::checkpoint::encode::<Self, _>(&self.trust, out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let trust: Vec<u32> = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("trust scores", trust.len(), self.trust.len())?;
        self.trust = trust;
        Ok(())
    }
}

/// Adds zero trust (scores, re-verification) and its counters to the defend stage.
pub(crate) fn install_zero_trust(builder: &mut UniverseBuilder<'_>, z: ZeroTrust) {
    let zone_count = builder.scenario.zones.len();
    let mut m = builder.metrics();
    let counters = TrustCounters {
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
    let enforced = zone_mask(zone_count, &z.zones);
    let nodes = builder.scenario.node_count as usize;
    builder.world_mut().insert_resource(ZeroTrustState {
        config: z,
        enforced,
        trust: vec![1_000_000; nodes],
        counters,
    });
    builder.persist::<ZeroTrustState>();
    builder.add_systems(SimStage::Defend, zero_trust.in_set(DefenseStep::Trust));
}

/// Adds continuous biometric re-authentication, on its cadence, to the defend stage.
pub(crate) fn install_biometric(builder: &mut UniverseBuilder<'_>, b: Biometric) {
    let mut m = builder.metrics();
    let auth = BiometricAuth {
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
    builder.rebuilt::<BiometricAuth>();
    builder.add_systems(
        SimStage::Defend,
        biometric_reauth
            .run_if(every(b.interval_ticks))
            .in_set(DefenseStep::Biometric),
    );
}
