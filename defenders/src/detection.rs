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
use paraverse_sim::scenario::Detection;
use rayon::prelude::*;

use crate::response::Alerts;

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
    /// Whether each zone is monitored.
    pub monitored: Vec<bool>,
    /// Counters.
    pub counters: DetectionCounters,
}

/// Sense stage: alert on monitored nodes above the threshold, in node-id order.
pub fn detect_scanning(
    mut nodes: Query<(&InZone, &Telemetry, &mut Security)>,
    detector: Res<ScanDetection>,
    model: Res<DetectionModel>,
    clock: Res<Clock>,
    mut alerts: ResMut<Alerts>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let (zones, telemetry, mut security) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    // The learned threshold: inflated if an attacker has poisoned the training data.
    let threshold = model.scale(detector.config.threshold_per_tick);
    let monitored = &detector.monitored;
    let flagged: Vec<u32> = telemetry
        .par_chunks(CHUNK)
        .zip(zones.par_chunks(CHUNK))
        .zip(security.par_chunks(CHUNK))
        .enumerate()
        .flat_map_iter(|(c, ((tel, zone), sec))| {
            tel.iter()
                .zip(zone)
                .zip(sec)
                .enumerate()
                .filter_map(move |(k, ((t, z), s))| {
                    (t.connections > threshold
                        && monitored[z.0 as usize]
                        && !s.alerted
                        && !s.quarantined)
                        .then_some((c * CHUNK + k) as u32)
                })
        })
        .collect();
    let tick = clock.tick;
    let c = detector.counters;
    alerts.raised.clear();
    for node in flagged {
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
        alerts.raised.clear();
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
    }
}
