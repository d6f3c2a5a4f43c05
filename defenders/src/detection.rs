//! Scan detection: a rate threshold on outbound connection attempts.
//!
//! The simplest network IDS rule ("more than N new connections per second from one host")
//! and the one worm containment systems such as Williamson's virus throttle build on. It
//! reads only [`Telemetry`], what a sensor could see, so its errors are honest: benign
//! bursts above the threshold are false positives, scanners below it are missed. A node
//! raises at most one alert until it is released from quarantine. The threshold is read
//! through the [`DetectionModel`], so a poisoning campaign that inflates the model's
//! learned threshold raises the miss rate the way it would in practice.

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{Detection, DetectionMethod};
use paraverse_sim::world::{base_egress_kbps, benign_egress};
use rayon::prelude::*;

use crate::response::Alerts;
use crate::{DefenseStep, chunked, monitored_groups, monitored_runs, zone_mask};

/// Counters of the detector.
#[derive(Debug, Clone, Copy)]
pub struct DetectionCounters {
    /// All alerts.
    pub detections: CounterId,
    /// Alerts on compromised nodes.
    pub true_detections: CounterId,
    /// Alerts on clean nodes.
    pub false_detections: CounterId,
}

/// The configured detector.
#[derive(Resource, Debug, Clone)]
pub struct ScanDetection {
    /// Parameters from the scenario.
    pub config: Detection,
    /// The monitored zones' nodes in id order, as tasks of at most [`CHUNK`] ids (groups
    /// are runs of ids, so no node's zone is read).
    pub tasks: Vec<std::ops::Range<u32>>,
    /// Counters.
    pub counters: DetectionCounters,
}

/// Sense stage: alert on monitored nodes above the threshold, in node-id order.
pub fn detect_scanning(
    mut nodes: Query<(&Telemetry, &mut Security)>,
    detector: Res<ScanDetection>,
    model: Res<DetectionModel>,
    clock: Res<Clock>,
    mut alerts: ResMut<Alerts>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let (telemetry, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    // The learned threshold: inflated if an attacker has poisoned the training data.
    let threshold = model.scale(detector.config.threshold_per_tick);
    let security_now: &[Security] = security;
    let flagged: Vec<u32> = detector
        .tasks
        .par_iter()
        .flat_map_iter(|ids| {
            ids.clone().filter(|&n| {
                let (t, s) = (&telemetry[n as usize], &security_now[n as usize]);
                t.connections > threshold && !s.alerted && !s.quarantined
            })
        })
        .collect();
    raise(
        &flagged,
        security,
        detector.counters,
        clock.tick,
        &mut alerts,
        &mut metrics,
        &mut log,
    );
}

/// Starts the tick's alerts with the detector's flagged nodes (in node-id order): marks
/// them alerted, counts true and false detections against ground truth, logs them.
fn raise(
    flagged: &[u32],
    security: &mut [Security],
    c: DetectionCounters,
    tick: u32,
    alerts: &mut Alerts,
    metrics: &mut Metrics,
    log: &mut EventLog,
) {
    alerts.clear();
    for &node in flagged {
        let s = &mut security[node as usize];
        s.alerted = true;
        let truth = s.compromised;
        metrics.add(c.detections, 1);
        metrics.add(
            if truth {
                c.true_detections
            } else {
                c.false_detections
            },
            1,
        );
        let mut e = RunEvent::new(tick, "detection", node);
        e.truth = Some(truth);
        log.push(e);
        alerts.raised.push(node);
    }
}

/// Certain alerts: a decoy touched in lateral movement (no user ever touches a decoy) or
/// a failed zero-trust attestation. Their nodes are alerted at once and feed the same
/// responses as detection.
#[derive(Resource, Debug, Clone)]
pub struct TripwireAlerts {
    /// Whether this system starts the tick's alerts (no scan detector runs before it).
    pub first: bool,
    /// Alerts raised from tripwires.
    pub alerts: CounterId,
}

/// Sense stage (after scan detection): alert on the nodes tripwires caught.
pub fn tripwire_alerts(
    mut nodes: Query<&mut Security>,
    deception: Res<TripwireAlerts>,
    mut tripwires: ResMut<Tripwires>,
    clock: Res<Clock>,
    mut alerts: ResMut<Alerts>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    if deception.first {
        alerts.clear();
    }
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let mut sources = std::mem::take(&mut tripwires.sources);
    sources.sort_unstable();
    sources.dedup();
    for node in sources {
        let s = &mut security[node as usize];
        if s.alerted || s.quarantined {
            continue;
        }
        s.alerted = true;
        metrics.add(deception.alerts, 1);
        let mut e = RunEvent::new(clock.tick, "tripwire_alert", node);
        e.truth = Some(s.compromised);
        log.push(e);
        alerts.raised.push(node);
        alerts.certain.push(node);
    }
}

/// The alerts the real network raised, given to a universe that follows it (a twin's
/// member, `paraverse_twin::ensemble`). The member runs the real network's detectors on
/// its own guess of where the attacker is; where one of them alerts on a node the real
/// network has not alerted on, the member's responses must not act on it — the real ones
/// did not — so the alert is dropped and the node stays on the network, alert-free (the
/// member's quarantines are then the real network's). An attacker the member holds there
/// stays, *revealed*: the gate reports it ([`FedAlerts::revealed`]) and the twin decides
/// its fate — the next real alert of its campaign names where it really is, or, with none
/// within a while, the real sensors' silence evicts it (`paraverse_twin::ensemble`).
///
/// Measured on the campus (README, "The live twin"): members acting on their own alerts
/// hid their surplus attackers in quarantines of their own, counted as compromised (all
/// agreed on 462 compromised nodes where the truth held 453, through the whole isolation
/// period); members that only dropped such alerts, keeping the attackers active, kept a
/// surplus no observation cleared (15 nodes hours after the truth was clean). The gate
/// evicted revealed attackers itself at first, in the tick its detector found them; but a
/// member's detector and the real one find the same attacker at independent times, and
/// the real alert then moved another of the member's attackers onto the node it named, so
/// a member lost attackers about twice as fast as the real network did and the filter
/// made up for it with attackers faster than the real one (README, "The live twin").
///
/// Absent from every other universe, and never checkpointed: a forecast from a member
/// runs its detectors unchecked, as the future has no feed.
#[derive(Resource, Debug, Clone, Default)]
pub struct FedAlerts {
    /// The tick this is the feed of; in another tick the gate lets every alert pass.
    pub tick: u32,
    /// Nodes the real network has alerted on and not released or cleared since (this
    /// tick's alerts included), sorted.
    pub alerted: Vec<u32>,
    /// Written by the gate: the nodes whose alert it dropped this tick and where the
    /// member holds an attacker (its detector found it, the real sensors have not), in
    /// node-id order; the attacker stays until the twin decides.
    pub revealed: Vec<u32>,
}

/// Sense stage (last): where the universe follows a real network ([`FedAlerts`] present and
/// set for this tick), keeps only alerts on nodes the real network alerted on.
pub fn corroborate_alerts(
    mut nodes: Query<&mut Security>,
    feed: Option<ResMut<FedAlerts>>,
    clock: Res<Clock>,
    mut alerts: ResMut<Alerts>,
) {
    let Some(mut feed) = feed else {
        return;
    };
    if feed.tick != clock.tick {
        return;
    }
    let feed = &mut *feed;
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let real = &feed.alerted;
    let revealed = &mut feed.revealed;
    revealed.clear();
    alerts.raised.retain(|&n| {
        let seen = real.binary_search(&n).is_ok();
        if !seen {
            let s = &mut security[n as usize];
            s.alerted = false;
            if s.compromised {
                revealed.push(n);
            }
        }
        seen
    });
    alerts.certain.retain(|n| real.binary_search(n).is_ok());
}

/// UEBA: each monitored node's own baselines of its signals (outbound connections, failed
/// log-ins, CPU load, egress volume), as exponentially weighted moving mean and variance in
/// 16.16 fixed point. A signal more than `sensitivity` standard deviations (scaled by the
/// possibly poisoned [`DetectionModel`]) plus a minimum excess above its mean raises an
/// alert; anomalous values do not enter the baseline. Nothing alerts during the first
/// `1 / learning_rate` ticks while baselines form.
///
/// Only the monitored zones' nodes have baselines (64 bytes each) and are read: watching
/// the 1M city's IoT zone keeps 600,000 of them, not 1,011,552.
#[derive(Resource, Debug, Clone)]
pub struct Ueba {
    /// Parameters.
    pub config: Detection,
    /// The monitored nodes in id order, as tasks of at most [`CHUNK`] ids of one group
    /// each: (the group's index in the scenario, its ids).
    pub tasks: Vec<(usize, std::ops::Range<u32>)>,
    /// Counters.
    pub counters: DetectionCounters,
    /// Per monitored node (in id order, as `tasks` lists them) and signal: (mean,
    /// variance), fixed point.
    pub baselines: Vec<[(i64, i64); SIGNALS]>,
    /// Ticks observed.
    pub seen: u32,
}

/// Signals UEBA baselines per node.
pub const SIGNALS: usize = 4;

/// Smallest excess over the mean that can alert, per signal (connections, failed
/// log-ins, CPU ‰, egress kbit/s): keeps near-constant signals from alerting on noise.
/// Egress needs 1 Mbit/s above the node's usual: exfiltration slower than that, mixed
/// into a busy server's traffic, goes unseen (low and slow), as it does in practice.
pub const MIN_EXCESS: [i64; SIGNALS] = [3, 3, 150, 1000];

impl Ueba {
    /// A detector with empty baselines for the zones `monitored` marks.
    pub fn new(
        config: Detection,
        scenario: &Scenario,
        monitored: &[bool],
        counters: DetectionCounters,
    ) -> Self {
        let tasks: Vec<(usize, std::ops::Range<u32>)> = monitored_groups(scenario, monitored)
            .flat_map(|(g, ids)| chunked(&[ids]).into_iter().map(move |t| (g, t)))
            .collect();
        let nodes = tasks.iter().map(|(_, ids)| ids.len()).sum();
        Self {
            config,
            tasks,
            counters,
            baselines: vec![[(i64::MIN, 0); SIGNALS]; nodes],
            seen: 0,
        }
    }
}

/// Checks and updates one signal's baseline; true if the value is anomalous.
#[inline]
fn ueba_signal(b: &mut (i64, i64), x: u64, k_milli: u64, alpha: i64, k: usize, warm: bool) -> bool {
    let x = (x as i64) << 16;
    if b.0 == i64::MIN {
        // First observation: the mean starts there, the variance at the minimum excess.
        *b = (x, (MIN_EXCESS[k] * MIN_EXCESS[k]) << 16);
        return false;
    }
    let d = x - b.0;
    // The limit is the minimum excess plus k standard deviations, so a value within the
    // minimum excess of its mean (most values) is normal without the square root.
    let floor = MIN_EXCESS[k] << 16;
    if warm && d > floor {
        let sd = paraverse_sim::math::isqrt((b.1.max(0) as u128) << 16);
        // sd · k / 1000 in 64 bits where it fits (a multiply, where 128 bits call a
        // division routine), else in 128: the same value either way.
        let excess = match sd.checked_mul(k_milli) {
            Some(product) => product / 1000,
            None => (u128::from(sd) * u128::from(k_milli) / 1000) as u64,
        };
        if d > excess as i64 + floor {
            return true;
        }
    }
    b.0 += ((i128::from(alpha) * i128::from(d)) >> 16) as i64;
    let sq = ((i128::from(d) * i128::from(d)) >> 16) as i64;
    b.1 += ((i128::from(alpha) * i128::from(sq - b.1)) >> 16) as i64;
    false
}

/// A node's egress this tick, kbit/s: its benign egress plus the attack traffic that left
/// it (`attack`, sorted by node).
#[inline]
fn egress_of(node: u32, benign: u32, attack: &[(u32, u32)]) -> u64 {
    let start = attack.partition_point(|&(n, _)| n < node);
    let sent: u64 = attack[start..]
        .iter()
        .take_while(|&&(n, _)| n == node)
        .map(|&(_, k)| u64::from(k))
        .sum();
    u64::from(benign) + sent
}

/// Sense stage: UEBA over every monitored node, in parallel; alerts in node-id order.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn detect_ueba(
    mut nodes: Query<(&Telemetry, &mut Security)>,
    mut ueba: ResMut<Ueba>,
    model: Res<DetectionModel>,
    (clock, rng, scenario): (Res<Clock>, Res<SimRng>, Res<ScenarioRes>),
    egress: Option<Res<Egress>>,
    mut alerts: ResMut<Alerts>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let (telemetry, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let (rng, tick) = (*rng, clock.tick);
    let mut attack: Vec<(u32, u32)> = egress.map(|e| e.sent.clone()).unwrap_or_default();
    attack.sort_unstable();
    let attack = &attack;
    let security = security.bypass_change_detection();
    let ueba = &mut *ueba;
    let alpha = ueba.config.learning_q16 as i64;
    ueba.seen += 1;
    let warm = u64::from(ueba.seen) * ueba.config.learning_q16 >= 65536;
    // The poisoned model demands more deviation before it alerts.
    let k_milli = ueba.config.sensitivity_milli * model.threshold_scale_ppm / 1_000_000;
    // Each task's baselines: the next `ids.len()` of them, tasks being in id order.
    let mut rest = ueba.baselines.as_mut_slice();
    let mut work = Vec::with_capacity(ueba.tasks.len());
    for (g, ids) in &ueba.tasks {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(ids.len());
        work.push((*g, ids.clone(), head));
        rest = tail;
    }
    let state: &[Security] = security;
    let flagged: Vec<u32> = work
        .into_par_iter()
        .flat_map_iter(|(g, ids, baselines)| {
            let base = base_egress_kbps(scenario.groups[g].kind);
            let mut out = Vec::new();
            for (node, b) in ids.zip(baselines) {
                let (t, s) = (&telemetry[node as usize], &state[node as usize]);
                if s.quarantined {
                    continue;
                }
                let signals: [u64; SIGNALS] = [
                    u64::from(t.connections),
                    u64::from(t.auth_failures),
                    u64::from(t.cpu_permille),
                    // Capped at 4 Gbit/s, so squares stay within the fixed point.
                    egress_of(node, benign_egress(&rng, base, node, tick), attack).min(1 << 22),
                ];
                let mut anomalous = false;
                for (i, &x) in signals.iter().enumerate() {
                    anomalous |= ueba_signal(&mut b[i], x, k_milli, alpha, i, warm);
                }
                if anomalous && !s.alerted {
                    out.push(node);
                }
            }
            out.into_iter()
        })
        .collect();
    raise(
        &flagged,
        security,
        ueba.counters,
        clock.tick,
        &mut alerts,
        &mut metrics,
        &mut log,
    );
}

/// Parameters are rebuilt; the learnt baselines and how long they have learnt are state.
impl Persist for Ueba {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        paraverse_sim::checkpoint::encode::<Self, _>(&(&self.baselines, self.seen), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let (baselines, seen): (Vec<[(i64, i64); SIGNALS]>, u32) =
            paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len(
            "UEBA baselines",
            baselines.len(),
            self.baselines.len(),
        )?;
        (self.baselines, self.seen) = (baselines, seen);
        Ok(())
    }
}

/// Adds scan detection (a threshold rule or UEBA) and its counters to the sense stage.
pub(crate) fn install(builder: &mut UniverseBuilder<'_>, det: Detection) {
    let zone_count = builder.scenario.zones.len();
    let mut m = builder.metrics();
    let counters = DetectionCounters {
        detections: m.register("detections", "alerts raised by scan detection"),
        true_detections: m.register("true_detections", "alerts on compromised nodes"),
        false_detections: m.register(
            "false_detections",
            "alerts on clean nodes (false positives)",
        ),
    };
    let monitored = zone_mask(zone_count, &det.zones);
    match det.method {
        DetectionMethod::Threshold => {
            let tasks = chunked(&monitored_runs(builder.scenario, &monitored));
            builder.world_mut().insert_resource(ScanDetection {
                config: det,
                tasks,
                counters,
            });
            builder.rebuilt::<ScanDetection>();
            builder.add_systems(SimStage::Sense, detect_scanning.in_set(DefenseStep::Detect));
        }
        DetectionMethod::Ueba => {
            let ueba = Ueba::new(det, builder.scenario, &monitored, counters);
            builder.world_mut().insert_resource(ueba);
            builder.persist::<Ueba>();
            builder.add_systems(SimStage::Sense, detect_ueba.in_set(DefenseStep::Detect));
        }
    }
}

/// Adds the certain alerts (decoys touched, failed attestations, refused updates) to the sense stage.
pub(crate) fn install_tripwires(builder: &mut UniverseBuilder<'_>) {
    let alerts = builder.metrics().register(
        "tripwire_alerts",
        "certain alerts: decoys touched in lateral movement, failed attestations",
    );
    let first = builder.scenario.defense.detection.is_none();
    builder
        .world_mut()
        .insert_resource(TripwireAlerts { first, alerts });
    builder.rebuilt::<TripwireAlerts>();
    builder.add_systems(
        SimStage::Sense,
        tripwire_alerts.in_set(DefenseStep::Deceive),
    );
}
