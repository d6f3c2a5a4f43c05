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
//! - **contact**: no addresses; every link of an infected node carries attempts at
//!   `scan_rate` per second to the neighbour at its other end. A link to an exposed node
//!   transmits in a tick with `τ = 1 − e^(−β·tick)`, `β = scan_rate × exploit chance`: the
//!   chance that a Poisson stream of attempts succeeds at least once, exact in the tick
//!   length. (The attempts counted in telemetry have mean `scan_rate × tick` per link;
//!   a link transmits only in a tick it carried one, with the conditional chance that
//!   makes the total `τ`.) A node of degree `k` thus spreads `k` times as fast as a leaf,
//!   which is what gives scale-free graphs their vanishing epidemic threshold
//!   (Pastor-Satorras and Vespignani, 2001).
//!
//! # Recovery
//!
//! With `recovery`, each scanner (infected and on the network at the start of the tick)
//! clears the infection after its scans with chance `γ = 1 − e^(−tick/mean)` per tick: an
//! exponential duration, memoryless, so no per-node clock is stored. It becomes
//! susceptible again (SIS) or immune (SIR: patched for a worm, new credentials for a
//! botnet). A node infected in tick `t` scans from `t + 1`, so it scans on `K ≥ 1` ticks
//! with `P(K = k) = γ(1 − γ)^(k−1)` and passes the infection along one link with the
//! transmissibility `T = τ / (1 − (1 − γ)(1 − τ))`; on a random graph with Poisson degrees
//! of mean `c` the final share infected solves `R = 1 − e^(−c·T·R)` (Newman, 2002), which
//! `tests/issue_18_fidelity.rs` checks. Assumptions: one infection per node at a time (a
//! node held by one campaign is not open to another), recovery independent of degree.
//!
//! # Scans as traffic
//!
//! With `probe_bytes`, each scanner's probes are one `scan` flow in the traffic core, from
//! the scanner to a fixed node drawn by keyed hash (it stands for the path of probes to
//! random addresses), asking `attempts per second × probe bits`. The rate the network
//! granted it in the previous tick scales its attempt rate in this one; the count is drawn
//! from the same draw as unthrottled, so a network with room to spare changes nothing. A
//! scanner's first tick, and a flow with no route, go unthrottled.
//!
//! # Determinism
//!
//! Scanners are listed in node-id order; their scans are computed in parallel from
//! counter-based draws keyed by (scanner, tick, scan) and read the state as it was at the
//! start of the stage; infections are then committed in scanner order, so if two scanners
//! hit the same node in one tick the lower id wins.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use paraverse_sim::operator::Launches;
use paraverse_sim::prefetch::prefetch;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{AuthMethod, CampaignKind, FlowClass, ScanStrategy, Worm};
use paraverse_sim::world::Surface;
use rayon::prelude::*;

use crate::chain;

const SCAN_COUNT: Stream = Stream::named("worm.scan_count");
const SCAN: Stream = Stream::named("worm.scan");
pub(crate) const ENTRY: Stream = Stream::named("worm.entry");

/// One worm campaign, resolved for the hot loop.
#[derive(Debug, Clone)]
pub struct WormCampaign {
    /// Index of the campaign in the scenario (stored in [`Security::campaign`]).
    pub campaign: CampaignId,
    /// First tick on which it acts.
    pub start_tick: u32,
    /// Parameters.
    pub worm: Worm,
    /// Exploit chance per group (never for groups without the exploited service).
    pub exploit: Vec<Chance>,
    /// Contact strategy: chance per tick that a link to a node of each group transmits,
    /// `1 − e^(−scan_rate·exploit·tick)`.
    pub contact: Vec<Chance>,
    /// Counter of nodes that recovered on their own (with a recovery section).
    pub recoveries: Option<CounterId>,
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
    /// Scans as traffic: each scanner's scan flow in the traffic core, and whether it
    /// was sending in the previous tick.
    pub scan_flows: BTreeMap<u32, (u32, bool)>,
    /// The nodes that may be its scanners next tick, in id order — its scanners of the
    /// last tick and the nodes it infected then — with the count of [`SecurityEdits`]
    /// when the list was made. Every node it holds is on the list while only the
    /// campaign itself hands it nodes; the next tick keeps those still held and on the
    /// network, instead of reading every node's state (#20). `None` until it first
    /// scans, and after a restore.
    pub held: Option<(u64, Vec<u32>)>,
}

impl WormCampaign {
    /// Whether a node could fall to this campaign now: a worm needs it exposed
    /// (unpatched); a botnet's dictionary needs default credentials not yet replaced.
    #[inline]
    fn open(&self, t: &Security) -> bool {
        if self.needs_unpatched {
            t.exposed()
        } else {
            !t.compromised && !t.quarantined && !t.hardened
        }
    }

    /// What a node must be for this campaign to take it ([`AttackSurface`]): of a group
    /// it has an exploit (or a dictionary) for, unpatched for a worm, on default
    /// credentials for a botnet; or of the entry group at its launch.
    pub fn surface(&self) -> Surface {
        Surface {
            groups: self.exploit.iter().map(|c| *c != Chance::NEVER).collect(),
            needs_unpatched: self.needs_unpatched,
            needs_default_credentials: !self.needs_unpatched,
            // Footholds land on any node of the entry group (see `entry_nodes`).
            entry: Some((self.worm.entry, self.start_tick)),
        }
    }

    /// Whether the policy lets `scanner` reach `target` for this campaign: a worm its
    /// service; one without a named service (and a botnet's log-in) any service admitted.
    #[inline]
    fn reachable(&self, policy: &AccessPolicy, scanner: u32, target: u32) -> bool {
        match self.worm.service {
            Some(s) => policy.allows_service(scanner, target, Some(s)),
            None => policy.allows(scanner, target),
        }
    }
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
        let state: Vec<_> = self
            .campaigns
            .iter()
            .map(|w| (w.infected, &w.scan_flows))
            .collect();
        paraverse_sim::checkpoint::encode::<Self, _>(&state, out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        type State = Vec<(u64, BTreeMap<u32, (u32, bool)>)>;
        let state: State = paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("worms", state.len(), self.campaigns.len())?;
        for (w, (n, flows)) in self.campaigns.iter_mut().zip(state) {
            w.infected = n;
            w.scan_flows = flows;
            w.held = None;
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
            let (worm, exploit, needs_unpatched, scans, infections): (
                Worm,
                Vec<Chance>,
                bool,
                CounterId,
                CounterId,
            ) = match &c.kind {
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
                        recovery: b.recovery,
                        probe_bits: b.probe_bits,
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
            let tick_s = scenario.tick.as_secs_f64();
            let contact = exploit
                .iter()
                .map(|p| link_chance(worm.scan_rate, p.probability(), tick_s))
                .collect();
            let recoveries = worm.recovery.map(|_| {
                metrics.register(
                    "recoveries",
                    "infected nodes that cleared the infection on their own",
                )
            });
            Some(WormCampaign {
                campaign: i as CampaignId,
                start_tick: c.start_tick,
                worm,
                exploit,
                contact,
                recoveries,
                needs_unpatched,
                stream: Stream::named(&c.name),
                scans,
                infections,
                goal: c.goal.unwrap_or(0),
                infected: 0,
                scan_flows: BTreeMap::new(),
                held: None,
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
pub(crate) fn entry_nodes(rng: &SimRng, w: &WormCampaign, scenario: &Scenario) -> Vec<u32> {
    let group = &scenario.groups[w.worm.entry as usize];
    let stream = ENTRY.derive(u64::from(w.campaign));
    let k = w.worm.initial as usize;
    // The k smallest of distinct (key, node) pairs: each task keeps its own k smallest and
    // the merge keeps the k smallest of those, the same set for any split of the group.
    let smallest = |mut keyed: Vec<(u64, u32)>| {
        if k < keyed.len() {
            keyed.select_nth_unstable(k);
            keyed.truncate(k);
        }
        keyed
    };
    let keyed = group
        .nodes()
        .into_par_iter()
        .with_min_len(CHUNK)
        .fold(Vec::new, |mut keyed, n| {
            keyed.push((rng.draw(stream, n, 0, 0), n));
            if keyed.len() >= 2 * k.max(CHUNK) {
                keyed = smallest(keyed);
            }
            keyed
        })
        .map(smallest)
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            smallest(a)
        });
    let mut nodes: Vec<u32> = keyed.iter().map(|&(_, n)| n).collect();
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

/// The chance that a link transmits in a tick *given that it carried an attempt*: the
/// link should transmit with `τ = 1 − e^(−rate·exploit·tick)` (at least one success in a
/// Poisson stream of attempts, exact in the tick length), and it carries an attempt with
/// chance `min(1, rate·tick)` (the per-tick count draws the fraction), so the attempt
/// succeeds with `τ / min(1, rate·tick)`, which is at most `exploit`.
fn link_chance(rate: f64, exploit: f64, tick_s: f64) -> Chance {
    let tau = paraverse_sim::math::at_least_once(rate * exploit, tick_s);
    let carried = (rate * tick_s).min(1.0);
    if carried <= 0.0 {
        return Chance::NEVER;
    }
    Chance::new((tau / carried).min(1.0))
}

/// One contact-strategy scanner's tick: every link carries its attempts (counted, mean
/// `scan_rate × tick`, within the policy's budget for a throttled node) and transmits to
/// an exposed neighbour with the link's chance for the neighbour's group. Returns the
/// attempts; pushes hits in link order.
fn contact(
    (rng, w, topology, policy, scenario): (
        &SimRng,
        &WormCampaign,
        &Topology,
        &AccessPolicy,
        &Scenario,
    ),
    state: &[Security],
    groups: &[InGroup],
    (scanner, per_link): (u32, PerTick),
    tick: u32,
    hits: &mut Vec<(u32, u32)>,
) -> u32 {
    let budget = policy.attempts(scanner, u32::MAX);
    let mut count = 0u32;
    for (k, &target) in topology.neighbours(scanner).iter().enumerate() {
        let k = k as u32;
        let attempts = per_link
            .sample(rng.draw(SCAN_COUNT, scanner, tick, k + 1))
            .min(budget - count);
        if attempts == 0 {
            if count == budget {
                break;
            }
            continue;
        }
        count += attempts;
        if !w.open(&state[target as usize]) || !w.reachable(policy, scanner, target) {
            continue;
        }
        let mut chance = w.contact[groups[target as usize].0 as usize];
        if w.needs_unpatched && w.worm.service.is_none() && policy.segmentation.is_some() {
            let p = policy
                .exploit_chance(scenario, scanner, target)
                .probability();
            chance = link_chance(w.worm.scan_rate, p, scenario.tick.as_secs_f64());
        }
        if chance.hit(rng.draw(w.stream.derive(4), scanner, tick, k)) {
            hits.push((target, scanner));
        }
    }
    count
}

/// A scanner's attempts per second (per link for the contact strategy, whose demand is
/// over all its links).
fn attempts_per_second(w: &Worm, topology: &Topology, scanner: u32) -> f64 {
    match w.strategy {
        ScanStrategy::Contact => w.scan_rate * topology.neighbours(scanner).len() as f64,
        _ => w.scan_rate,
    }
}

/// The demand of a scanner's scan flow, kbit/s (at least 1).
fn scan_demand_kbps(w: &Worm, bits: u64, topology: &Topology, scanner: u32) -> u32 {
    let kbps = attempts_per_second(w, topology, scanner) * bits as f64 / 1000.0;
    (kbps.ceil() as u64).clamp(1, u64::from(u32::MAX)) as u32
}

/// Each scanner's attempts per tick (per link for the contact strategy) when scans are
/// traffic: the campaign's rate, or, where the network granted a scan flow less than it
/// asked for in the previous tick, the rate it granted. The count is then drawn from the
/// same draw as it would be unthrottled, so a network with room to spare changes nothing.
/// `None` when scans are not traffic: every scanner goes at the campaign's rate.
fn granted(
    w: &WormCampaign,
    scanners: &[u32],
    core: Option<&TrafficCore>,
    tick_micros: u64,
) -> Option<Vec<PerTick>> {
    let full = w.worm.scans_per_tick;
    let core = core.filter(|_| w.worm.probe_bits.is_some())?;
    let rates = scanners
        .iter()
        .map(|&s| {
            // A scan flow with no route (its sink unreachable) caps nothing: the probes
            // go to random addresses, the sink only stands for their path.
            let Some(&(flow, true)) = w.scan_flows.get(&s) else {
                return full;
            };
            if !core.routed(flow) {
                return full;
            }
            // What it asked for: `scan_flows` set it when the scanner became active.
            let demand = core.flows.base_demand[flow as usize];
            let got = core.state.rate.get(flow as usize).copied().unwrap_or(0);
            if got >= demand {
                return full;
            }
            let share = f64::from(got) / f64::from(demand);
            PerTick::from_rate(w.worm.scan_rate * share, tick_micros)
        })
        .collect();
    Some(rates)
}

/// Keeps one scan flow per scanner in the traffic core: this tick's scanners send at their
/// demand (new ones get a flow to a fixed node drawn by keyed hash, so the probes load the
/// path up through the access and core links), the others send nothing. Only changes are
/// written: a scanner's demand depends on nothing that moves (its rate and its degree).
fn scan_flows(
    w: &mut WormCampaign,
    bits: u64,
    scanners: &[u32],
    core: &mut TrafficCore,
    topology: &Topology,
    rng: &SimRng,
    node_count: u32,
) {
    for (&s, (flow, active)) in w.scan_flows.iter_mut() {
        let now = scanners.binary_search(&s).is_ok();
        if now && !*active {
            core.set_demand(*flow, scan_demand_kbps(&w.worm, bits, topology, s));
        } else if !now && *active {
            core.set_demand(*flow, 0);
        }
        *active = now;
    }
    let new: Vec<u32> = scanners
        .iter()
        .copied()
        .filter(|s| !w.scan_flows.contains_key(s))
        .collect();
    if new.is_empty() || node_count < 2 {
        return;
    }
    let flows: Vec<NewFlow> = new
        .iter()
        .map(|&s| {
            let pick = rng.below(w.stream.derive(6), s, 0, 0, u64::from(node_count - 1)) as u32;
            NewFlow {
                src: s,
                dst: if pick >= s { pick + 1 } else { pick },
                class: FlowClass::Scan,
                demand_kbps: scan_demand_kbps(&w.worm, bits, topology, s),
                priority: FlowClass::Scan.default_priority(),
                service: w.worm.service,
            }
        })
        .collect();
    let ids = core.add_flows(topology, &flows);
    for (s, id) in new.into_iter().zip(ids) {
        w.scan_flows.insert(s, (id, true));
    }
}

/// Infected nodes that clear the infection on their own this tick: each scanner (it was
/// infected and on the network at the start of the tick) with the recovery's chance per
/// tick, from a draw keyed by (node, tick). A recovered node is clean; an immune one is
/// also patched (a worm's exploit) or hardened (a botnet's default credentials).
fn recover(
    rng: &SimRng,
    w: &WormCampaign,
    scanners: &[u32],
    security: &mut [Security],
    tick: u32,
    log: &mut EventLog,
) -> u64 {
    let Some(r) = w.worm.recovery else {
        return 0;
    };
    let mut recovered = 0;
    for &node in scanners {
        let s = &mut security[node as usize];
        let held = s.compromised && s.campaign == w.campaign;
        if !held || !r.per_tick.hit(rng.draw(w.stream.derive(5), node, tick, 0)) {
            continue;
        }
        s.compromised = false;
        if r.immune {
            if w.needs_unpatched {
                s.patched = true;
            } else {
                s.hardened = true;
            }
        }
        recovered += 1;
        let mut e = RunEvent::new(tick, "recovery", node);
        e.campaign = Some(w.campaign);
        log.push(e);
    }
    recovered
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
    launches: Option<Res<Launches>>,
    mut traffic: Option<ResMut<TrafficCore>>,
    edits: Option<Res<SecurityEdits>>,
) {
    let (groups, mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let telemetry = telemetry.bypass_change_detection();
    let tick = clock.tick;
    let rng = *rng;
    let node_count = scenario.node_count;
    let policy: &AccessPolicy = &policy;
    let (topology, scenario): (&Topology, &Scenario) = (&topology, &scenario);
    // Nothing in this system records an edit, so one count serves every worm.
    let edits = edits.as_deref().map(|e| e.0);

    for wi in 0..worms.campaigns.len() {
        let w = &worms.campaigns[wi];
        let start = Launches::start_of(launches.as_deref(), w.campaign, w.start_tick);
        if tick < start {
            continue;
        }
        let footholds = if tick == start {
            seed_footholds(&rng, w, scenario, security, tick, &mut book, &mut log)
        } else {
            0
        };
        let scanners = match (&w.held, edits) {
            // Its list holds every node it may hold: keep those it still holds.
            (Some((at, list)), Some(now)) if *at == now && footholds == 0 => {
                still_scanning(security, list, w.campaign)
            }
            _ => active_scanners(security, w.campaign),
        };
        debug_assert_eq!(
            scanners,
            active_scanners(security, w.campaign),
            "the worm's list of the nodes it holds missed a change (tick {tick})"
        );
        let rates = granted(w, &scanners, traffic.as_deref(), clock.tick_micros);
        let ctx = (&rng, w, topology, policy, scenario);
        let proposals = propose_scans(ctx, security, groups, &scanners, rates.as_deref(), tick);
        let mut infected = Vec::new();
        let (total_scans, infections) = commit_scans(
            w,
            &scanners,
            proposals,
            (security, telemetry, &mut infected),
            tick,
            &book,
            &mut log,
        );
        let recovered = recover(&rng, w, &scanners, security, tick, &mut log);
        if let Some(c) = w.recoveries {
            metrics.add(c, recovered);
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
        w.held = edits.map(|now| (now, merge_sorted(&scanners, infected)));
        if let (Some(bits), Some(core)) = (w.worm.probe_bits, traffic.as_deref_mut()) {
            scan_flows(w, bits, &scanners, core, topology, &rng, node_count);
        }
        if w.needs_unpatched && w.infected >= w.goal {
            // A worm's goal is its outbreak; a botnet's is the DDoS (see `botnet`).
            book.reach_goal(w.campaign, tick, None, &mut log);
        }
    }
}

/// The campaign's first tick: it compromises its entry nodes (its footholds).
fn seed_footholds(
    rng: &SimRng,
    w: &WormCampaign,
    scenario: &Scenario,
    security: &mut [Security],
    tick: u32,
    book: &mut CampaignBook,
    log: &mut EventLog,
) -> u64 {
    let mut footholds = 0;
    for node in entry_nodes(rng, w, scenario) {
        if security[node as usize].compromise(w.campaign) {
            footholds += 1;
            if !book.reach(w.campaign, chain::FOOTHOLD, tick, Some(node), log) {
                let mut e = RunEvent::new(tick, "initial_compromise", node);
                e.campaign = Some(w.campaign);
                log.push(e);
            }
        }
    }
    footholds
}

/// The campaign's scanners this tick: its compromised nodes still on the network, in
/// node order.
fn active_scanners(security: &[Security], campaign: CampaignId) -> Vec<u32> {
    security
        .par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            chunk
                .iter()
                .enumerate()
                .filter_map(move |(k, s)| scans_for(s, campaign).then_some((c * CHUNK + k) as u32))
        })
        .collect()
}

/// Whether a node scans for `campaign`: it holds the node, and the node is on the network.
#[inline]
fn scans_for(s: &Security, campaign: CampaignId) -> bool {
    s.compromised && !s.quarantined && s.campaign == campaign
}

/// The nodes of `list` (in id order) the campaign still holds on the network, in order:
/// its scanners this tick when `list` holds every node it may hold.
fn still_scanning(security: &[Security], list: &[u32], campaign: CampaignId) -> Vec<u32> {
    list.iter()
        .copied()
        .filter(|&n| scans_for(&security[n as usize], campaign))
        .collect()
}

/// `a` (in id order) and `b` (any order, no node of `a`) as one list in id order.
fn merge_sorted(a: &[u32], mut b: Vec<u32>) -> Vec<u32> {
    b.sort_unstable();
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] < b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// What every scanner tries this tick, in parallel over tasks of scanners and against
/// the state as the tick found it: its scans, its hits, the failed log-ins it causes.
fn propose_scans(
    ctx: (&SimRng, &WormCampaign, &Topology, &AccessPolicy, &Scenario),
    state: &[Security],
    groups: &[InGroup],
    scanners: &[u32],
    rates: Option<&[PerTick]>,
    tick: u32,
) -> Vec<ScanBatch> {
    let (rng, w, topology, policy, scenario) = ctx;
    let node_count = scenario.node_count;
    scanners
        .par_chunks(SCANNERS_PER_TASK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut scans = Vec::with_capacity(chunk.len());
            let mut hits = Vec::new();
            let mut failed_logins = Vec::new();
            // Each scan's target first (they depend on no node's state), then the scans in
            // the same order with the targets' state prefetched a few scans ahead: the
            // targets are random nodes, and their reads miss the cache.
            let mut planned = Vec::new();
            for (k, &scanner) in chunk.iter().enumerate() {
                let rate = rates.map_or(w.worm.scans_per_tick, |r| r[c * SCANNERS_PER_TASK + k]);
                if w.worm.strategy == ScanStrategy::Contact {
                    let me = (scanner, rate);
                    scans.push(contact(ctx, state, groups, me, tick, &mut hits));
                    continue;
                }
                let count =
                    policy.attempts(scanner, rate.sample(rng.draw(SCAN_COUNT, scanner, tick, 0)));
                scans.push(count);
                planned.extend((0..count).filter_map(|scan| {
                    pick_target(rng, w, topology, node_count, scanner, tick, scan)
                        .map(|target| (scanner, scan, target))
                }));
            }
            const AHEAD: usize = 8;
            for (i, &(scanner, scan, target)) in planned.iter().enumerate() {
                if let Some(&(_, _, ahead)) = planned.get(i + AHEAD) {
                    prefetch(&state[ahead as usize..]);
                    prefetch(&groups[ahead as usize..]);
                }
                let t = &state[target as usize];
                let mut chance = w.exploit[groups[target as usize].0 as usize];
                let open = w.open(t);
                if target == scanner || !w.reachable(policy, scanner, target) {
                    continue;
                }
                if w.needs_unpatched && w.worm.service.is_none() && policy.segmentation.is_some() {
                    chance = policy.exploit_chance(scenario, scanner, target);
                }
                if open && chance.hit(rng.draw(w.stream.derive(3), scanner, tick, scan)) {
                    hits.push((target, scanner));
                } else if !w.needs_unpatched && !t.quarantined {
                    // A dictionary log-in that failed: the device sees it.
                    failed_logins.push(target);
                }
            }
            ScanBatch {
                scans,
                hits,
                failed_logins,
            }
        })
        .collect()
}

/// Applies the proposals in scanner order (so the result does not depend on the thread
/// count): telemetry of scans and failed log-ins, then infections, each logged and added
/// to `infected`. Returns the scans and the infections.
fn commit_scans(
    w: &WormCampaign,
    scanners: &[u32],
    proposals: Vec<ScanBatch>,
    (security, telemetry, infected): (&mut [Security], &mut [Telemetry], &mut Vec<u32>),
    tick: u32,
    book: &CampaignBook,
    log: &mut EventLog,
) -> (u64, u64) {
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
                infected.push(target);
                let mut e = RunEvent::new(tick, "infection", target);
                e.source = Some(source);
                e.campaign = Some(w.campaign);
                e.technique = Some(book.technique(w.campaign, chain::SPREAD));
                log.push(e);
            }
        }
    }
    (total_scans, infections)
}
