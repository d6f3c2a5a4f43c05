//! A scanning worm: infected nodes pick addresses, and an exploit attempt against an
//! exposed node running a vulnerable service succeeds with the CVSS-derived chance.
//!
//! # Model
//!
//! Each tick, every infected node that is not quarantined makes `scans` attempts (the
//! per-second `scan_rate` times the tick, drawn so the mean is exact). A scan picks:
//!
//! - **random**: a uniform address in `0..address_space`; addresses past the last node are
//!   empty (most of an Internet-sized space is);
//! - **local preference**: with chance `local_bias`, a node one or two hops away on the
//!   topology (a random neighbour, then with chance ½ one of *its* neighbours), otherwise
//!   a random address.
//!
//! A scan that reaches an exposed node (not compromised, not quarantined, not patched) of
//! a group running the exploited service succeeds with that service's exploit chance
//! (CVSS exploitability over its maximum). With random scanning and homogeneous mixing the
//! infected share `a` of `V` vulnerable nodes follows the logistic equation
//! `da/dt = K·a·(1−a)` with `K = scan_rate · p · V / address_space` (Staniford, Paxson and
//! Weaver, "How to 0wn the Internet in Your Spare Time", 2002); a test checks it.
//!
//! # Determinism
//!
//! Scanners are listed in node-id order; their scans are computed in parallel from
//! counter-based draws keyed by (scanner, tick, scan) and read the state as it was at the
//! start of the stage; infections are then committed in scanner order, so if two scanners
//! hit the same node in one tick the lower id wins.

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{CampaignKind, ScanStrategy, Worm};
use rayon::prelude::*;

const SCAN_COUNT: Stream = Stream::named("worm.scan_count");
const SCAN: Stream = Stream::named("worm.scan");
const ENTRY: Stream = Stream::named("worm.entry");

/// One worm campaign, resolved for the hot loop.
#[derive(Debug, Clone)]
pub struct WormCampaign {
    /// Index of the campaign in the scenario (stored in [`Security::campaign`]).
    pub campaign: u8,
    /// First tick on which it acts.
    pub start_tick: u32,
    /// Parameters.
    pub worm: Worm,
    /// Exploit chance per group (never for groups without the exploited service).
    pub exploit: Vec<Chance>,
    /// Stream of this campaign's draws.
    pub stream: Stream,
}

/// Every worm campaign of the scenario and the counters they feed.
#[derive(Resource, Debug, Clone)]
pub struct WormCampaigns {
    /// The campaigns.
    pub campaigns: Vec<WormCampaign>,
    /// Scan attempts.
    pub scans: CounterId,
    /// Successful infections (not counting initial footholds).
    pub infections: CounterId,
}

/// Resolves the worm campaigns of a scenario (empty if it has none).
pub fn worm_campaigns(scenario: &Scenario) -> Vec<WormCampaign> {
    scenario
        .campaigns
        .iter()
        .enumerate()
        .map(|(i, c)| match &c.kind {
            CampaignKind::Worm(w) => WormCampaign {
                campaign: i as u8,
                start_tick: c.start_tick,
                worm: w.clone(),
                exploit: scenario
                    .groups
                    .iter()
                    .map(|g| match w.service {
                        Some(s) if g.services.contains(&s) => {
                            scenario.services[s as usize].exploit_chance()
                        }
                        Some(_) => Chance::NEVER,
                        None => g.exploit_chance,
                    })
                    .collect(),
                stream: Stream::named(&c.name),
            },
        })
        .collect()
}

/// The nodes of the entry group that start infected: the `initial` ones with the
/// smallest keyed hash, i.e. a seeded sample without replacement.
fn entry_nodes(rng: &SimRng, w: &WormCampaign, scenario: &Scenario) -> Vec<u32> {
    let group = &scenario.groups[w.worm.entry as usize];
    let mut keyed: Vec<(u64, u32)> = group
        .nodes()
        .map(|n| (rng.draw(ENTRY.derive(u64::from(w.campaign)), n, 0, 0), n))
        .collect();
    let k = (w.worm.initial as usize).min(keyed.len());
    if k < keyed.len() {
        keyed.select_nth_unstable(k);
    }
    let mut nodes: Vec<u32> = keyed[..k].iter().map(|&(_, n)| n).collect();
    nodes.sort_unstable();
    nodes
}

/// What one rayon task proposes for its scanners.
struct ScanBatch {
    /// Scans made by each scanner of the task, in order.
    scans: Vec<u32>,
    /// Successful exploits as (target, scanner), in scanner order.
    hits: Vec<(u32, u32)>,
}

/// How many scanners one rayon task handles.
const SCANNERS_PER_TASK: usize = 512;

/// Picks the target of one scan, or `None` for an empty address.
#[inline]
fn pick_target(
    rng: &SimRng,
    w: &WormCampaign,
    topology: &Topology,
    node_count: u32,
    scanner: u32,
    tick: u32,
    scan: u32,
) -> Option<u32> {
    let n = scan * 4;
    if w.worm.strategy == ScanStrategy::LocalPreference
        && w.worm
            .local_bias
            .hit(rng.draw(w.stream.derive(1), scanner, tick, n))
    {
        let near = topology.neighbours(scanner);
        if !near.is_empty() {
            let first = near[rng.below(SCAN, scanner, tick, n + 1, near.len() as u64) as usize];
            let d = rng.draw(w.stream.derive(2), scanner, tick, n + 2);
            let further = topology.neighbours(first);
            if d >> 63 == 1 && !further.is_empty() {
                return Some(
                    further[rng.below(SCAN, scanner, tick, n + 3, further.len() as u64) as usize],
                );
            }
            return Some(first);
        }
    }
    let address = rng.below(w.stream, scanner, tick, n, w.worm.address_space);
    (address < u64::from(node_count)).then_some(address as u32)
}

/// Attack stage: every worm campaign seeds its footholds, scans, and infects.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn worm_spread(
    mut nodes: Query<(&InGroup, &mut Security, &mut Telemetry)>,
    worms: Res<WormCampaigns>,
    scenario: Res<ScenarioRes>,
    topology: Res<Topology>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let (groups, mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let telemetry = telemetry.bypass_change_detection();
    let tick = clock.tick;
    let rng = *rng;
    let node_count = scenario.node_count;

    for w in &worms.campaigns {
        if tick < w.start_tick {
            continue;
        }
        if tick == w.start_tick {
            for node in entry_nodes(&rng, w, &scenario) {
                if security[node as usize].compromise(w.campaign, tick) {
                    let mut e = RunEvent::new(tick, "initial_compromise", node);
                    e.campaign = Some(w.campaign);
                    log.push(e);
                }
            }
        }
        let scanners: Vec<u32> = security
            .par_chunks(CHUNK)
            .enumerate()
            .flat_map_iter(|(c, chunk)| {
                chunk.iter().enumerate().filter_map(move |(k, s)| {
                    (s.compromised && !s.quarantined && s.campaign == w.campaign)
                        .then_some((c * CHUNK + k) as u32)
                })
            })
            .collect();
        let state: &[Security] = security;
        let proposals: Vec<ScanBatch> = scanners
            .par_chunks(SCANNERS_PER_TASK)
            .map(|chunk| {
                let mut scans = Vec::with_capacity(chunk.len());
                let mut hits = Vec::new();
                for &scanner in chunk {
                    let count = w
                        .worm
                        .scans_per_tick
                        .sample(rng.draw(SCAN_COUNT, scanner, tick, 0));
                    scans.push(count);
                    for scan in 0..count {
                        let Some(target) =
                            pick_target(&rng, w, &topology, node_count, scanner, tick, scan)
                        else {
                            continue;
                        };
                        let t = &state[target as usize];
                        let chance = w.exploit[groups[target as usize].0 as usize];
                        if target != scanner
                            && t.exposed()
                            && chance.hit(rng.draw(w.stream.derive(3), scanner, tick, scan))
                        {
                            hits.push((target, scanner));
                        }
                    }
                }
                ScanBatch { scans, hits }
            })
            .collect();

        let mut total_scans = 0u64;
        let mut infections = 0u64;
        for (chunk, ScanBatch { scans, hits }) in scanners.chunks(SCANNERS_PER_TASK).zip(proposals)
        {
            for (&scanner, &count) in chunk.iter().zip(&scans) {
                let t = &mut telemetry[scanner as usize];
                t.connections = t.connections.saturating_add(count);
                total_scans += u64::from(count);
            }
            for (target, source) in hits {
                if security[target as usize].compromise(w.campaign, tick) {
                    infections += 1;
                    let mut e = RunEvent::new(tick, "infection", target);
                    e.source = Some(source);
                    e.campaign = Some(w.campaign);
                    log.push(e);
                }
            }
        }
        metrics.add(worms.scans, total_scans);
        metrics.add(worms.infections, infections);
    }
}
