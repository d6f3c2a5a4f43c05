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
use paraverse_sim::scenario::{AuthMethod, CampaignKind, ScanStrategy, Worm};
use rayon::prelude::*;

use crate::chain;

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
    /// Whether patching closes the door (a worm's exploit) or not (a botnet's default
    /// credentials are a configuration, not a vulnerability).
    pub needs_unpatched: bool,
    /// Stream of this campaign's draws.
    pub stream: Stream,
    /// Scan (or login) attempts.
    pub scans: CounterId,
    /// Successful infections (or recruits), not counting initial footholds.
    pub infections: CounterId,
    /// Infections that reach the goal.
    pub goal: u64,
    /// Infections so far (footholds included).
    pub infected: u64,
}

/// Every scanning campaign of the scenario: worms, and botnets while they recruit.
#[derive(Resource, Debug, Clone)]
pub struct WormCampaigns {
    /// The campaigns.
    pub campaigns: Vec<WormCampaign>,
}

/// Parameters and exploit tables are rebuilt from the scenario; infections so far are state.
impl Persist for WormCampaigns {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let infected: Vec<u64> = self.campaigns.iter().map(|w| w.infected).collect();
        paraverse_sim::checkpoint::encode::<Self, _>(&infected, out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let infected: Vec<u64> = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("worms", infected.len(), self.campaigns.len())?;
        for (w, n) in self.campaigns.iter_mut().zip(infected) {
            w.infected = n;
        }
        Ok(())
    }
}

/// Kill-chain steps of a worm; the last is its goal (default: half the nodes vulnerable
/// at the start infected).
pub const WORM_STEPS: [KillStep; 4] = [
    KillStep::new("initial_compromise", "initial-access", "T1190"),
    KillStep::new("network_scanning", "discovery", "T1046"),
    KillStep::new("exploitation", "lateral-movement", "T1210"),
    KillStep::new("outbreak", "lateral-movement", "T1210"),
];

/// The scanning part of every worm and botnet campaign (empty if there are none).
///
/// A botnet's scanning is a worm whose "exploit" is a dictionary of factory-default
/// credentials: it opens default-credential devices with the dictionary's chance, patched
/// or not, and nothing else.
pub fn worm_campaigns(scenario: &Scenario, metrics: &mut Metrics) -> Vec<WormCampaign> {
    scenario
        .campaigns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let (worm, exploit, needs_unpatched, scans, infections) = match &c.kind {
                CampaignKind::Worm(w) => (
                    w.clone(),
                    scenario
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
                    true,
                    metrics.register("scans", "worm scan attempts"),
                    metrics.register("infections", "nodes newly compromised by a worm"),
                ),
                CampaignKind::Botnet(b) => (
                    Worm {
                        entry: b.entry,
                        initial: b.initial,
                        scan_rate: b.scan_rate,
                        scans_per_tick: b.scans_per_tick,
                        strategy: ScanStrategy::Random,
                        local_bias: Chance::NEVER,
                        address_space: b.address_space,
                        service: None,
                    },
                    scenario
                        .groups
                        .iter()
                        .map(|g| {
                            if g.auth == AuthMethod::DefaultCredentials {
                                b.dictionary
                            } else {
                                Chance::NEVER
                            }
                        })
                        .collect(),
                    false,
                    metrics.register("login_attempts", "botnet dictionary login attempts"),
                    metrics.register("recruits", "devices newly recruited into a botnet"),
                ),
                _ => return None,
            };
            Some(WormCampaign {
                campaign: i as u8,
                start_tick: c.start_tick,
                worm,
                exploit,
                needs_unpatched,
                stream: Stream::named(&c.name),
                scans,
                infections,
                goal: c.goal.unwrap_or(0),
                infected: 0,
            })
        })
        .collect()
}

/// A worm's default goal: half the nodes it could infect at the start, at least one.
pub fn default_worm_goal(w: &WormCampaign, scenario: &Scenario, security: &[Security]) -> u64 {
    let exposed = scenario
        .groups
        .iter()
        .zip(&w.exploit)
        .filter(|(_, c)| **c > Chance::NEVER)
        .flat_map(|(g, _)| g.nodes())
        .filter(|&n| security[n as usize].exposed())
        .count() as u64;
    exposed.div_ceil(2).max(1)
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
    /// Log-ins the dictionary failed on reachable devices (botnets), in scanner order.
    failed_logins: Vec<u32>,
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
    mut worms: ResMut<WormCampaigns>,
    scenario: Res<ScenarioRes>,
    topology: Res<Topology>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
    mut book: ResMut<CampaignBook>,
    policy: Res<AccessPolicy>,
) {
    let (groups, mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let telemetry = telemetry.bypass_change_detection();
    let tick = clock.tick;
    let rng = *rng;
    let node_count = scenario.node_count;
    let policy: &AccessPolicy = &policy;

    for wi in 0..worms.campaigns.len() {
        let w = &worms.campaigns[wi];
        let mut footholds = 0u64;
        if tick < w.start_tick {
            continue;
        }
        if tick == w.start_tick {
            for node in entry_nodes(&rng, w, &scenario) {
                if security[node as usize].compromise(w.campaign) {
                    footholds += 1;
                    if !book.reach(w.campaign, chain::FOOTHOLD, tick, Some(node), &mut log) {
                        let mut e = RunEvent::new(tick, "initial_compromise", node);
                        e.campaign = Some(w.campaign);
                        log.push(e);
                    }
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
                let mut failed_logins = Vec::new();
                for &scanner in chunk {
                    let count = policy.attempts(
                        scanner,
                        w.worm
                            .scans_per_tick
                            .sample(rng.draw(SCAN_COUNT, scanner, tick, 0)),
                    );
                    scans.push(count);
                    for scan in 0..count {
                        let Some(target) =
                            pick_target(&rng, w, &topology, node_count, scanner, tick, scan)
                        else {
                            continue;
                        };
                        let t = &state[target as usize];
                        let mut chance = w.exploit[groups[target as usize].0 as usize];
                        let open = if w.needs_unpatched {
                            t.exposed()
                        } else {
                            !t.compromised && !t.quarantined && !t.hardened
                        };
                        // A worm reaches its service; one without a named service (and
                        // a botnet's log-in) any service the policy admits.
                        let reachable = match w.worm.service {
                            Some(s) => policy.allows_service(scanner, target, Some(s)),
                            None => policy.allows(scanner, target),
                        };
                        if target == scanner || !reachable {
                            continue;
                        }
                        if w.needs_unpatched
                            && w.worm.service.is_none()
                            && policy.segmentation.is_some()
                        {
                            chance = policy.exploit_chance(&scenario, scanner, target);
                        }
                        if open && chance.hit(rng.draw(w.stream.derive(3), scanner, tick, scan)) {
                            hits.push((target, scanner));
                        } else if !w.needs_unpatched && !t.quarantined {
                            // A dictionary log-in that failed: the device sees it.
                            failed_logins.push(target);
                        }
                    }
                }
                ScanBatch {
                    scans,
                    hits,
                    failed_logins,
                }
            })
            .collect();

        let mut total_scans = 0u64;
        let mut infections = 0u64;
        for (
            chunk,
            ScanBatch {
                scans,
                hits,
                failed_logins,
            },
        ) in scanners.chunks(SCANNERS_PER_TASK).zip(proposals)
        {
            for target in failed_logins {
                let t = &mut telemetry[target as usize];
                t.auth_failures = t.auth_failures.saturating_add(1);
            }
            for (&scanner, &count) in chunk.iter().zip(&scans) {
                let t = &mut telemetry[scanner as usize];
                t.connections = t.connections.saturating_add(count);
                total_scans += u64::from(count);
            }
            for (target, source) in hits {
                if security[target as usize].compromise(w.campaign) {
                    infections += 1;
                    let mut e = RunEvent::new(tick, "infection", target);
                    e.source = Some(source);
                    e.campaign = Some(w.campaign);
                    e.technique = Some(book.technique(w.campaign, chain::SPREAD));
                    log.push(e);
                }
            }
        }
        if total_scans > 0 {
            book.reach(w.campaign, chain::SCANNING, tick, None, &mut log);
        }
        if infections > 0 {
            book.reach(w.campaign, chain::SPREAD, tick, None, &mut log);
        }
        metrics.add(w.scans, total_scans);
        metrics.add(w.infections, infections);
        let w = &mut worms.campaigns[wi];
        w.infected += footholds + infections;
        if w.needs_unpatched && w.infected >= w.goal {
            // A worm's goal is its outbreak; a botnet's is the DDoS (see `botnet`).
            book.reach_goal(w.campaign, tick, None, &mut log);
        }
    }
}
