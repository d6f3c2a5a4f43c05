//! The DDoS phase of IoT/XR botnets (recruitment is the scanning engine in [`crate::worm`]).
//!
//! # Model
//!
//! Bots are recruited Mirai-style: each makes `scan_rate` login attempts per second at
//! random addresses, and a device still on factory-default credentials falls to the
//! dictionary with chance `dictionary` (patching does not help; only changing the
//! credentials does). With `V` such devices in an address space of `A`, the botnet's
//! early growth is exponential, `I(t) ≈ I₀·e^{βt}` with `β = scan_rate · dictionary · V / A`
//! per second (the logistic model's early phase; a test checks it).
//!
//! That holds when `β × tick ≪ 1`. A recruit found in a tick scans only from the next one,
//! so per tick the botnet grows by `1 + β·tick`, i.e. at `ln(1 + β·tick)/tick` per second:
//! 5 % below β at `β·tick ≈ 0.105`, 21 % below at 0.56. `paraverse validate` (and `run`)
//! warn, with the figure and the tick that would do, when the departure passes 5 %
//! ([`paraverse_sim::scenario::COARSE_TICK_DEPARTURE`]).
//!
//! With `recovery`, bots drop out on their own (churn: a reboot clears the malware) at
//! rate `γ = 1/mean` and return to the susceptible pool (or, `into = "immune"`, get new
//! credentials). Recruitment then balances churn at the logistic model's steady state
//! `I* = V·(1 − γ/β)` (none if `β ≤ γ`); in ticks, where `(V − I)·(1 − e^(−s·d·I/A)) =
//! I·(1 − e^(−γ·tick))` with `s` scans per tick and `d` the dictionary's chance, which a
//! test checks through the binary.
//!
//! At `ddos_start` the command goes out and every bot that is not quarantined sends a
//! flood flow of `ddos_rate` to one node of the target group (spread by a keyed hash) as a
//! `ddos` flow in the traffic core, where it competes for links with benign traffic.
//! A target node whose arriving attack traffic (what the network delivered to it in the
//! previous tick; without a traffic core, the nominal rates) reaches what it can `absorb`
//! (default: half its link capacity) is overwhelmed: it stops serving, and benign flows to it fail,
//! which is how XR quality and service availability fall. Recruits join the flood as they
//! come; quarantined or rebuilt bots stop.

use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{CampaignKind, DdosProtection, FlowClass, Group};

use crate::chain::{self, Ctx, Out};
use crate::targeted::held_by;

/// One botnet's DDoS.
#[derive(Debug, Clone)]
pub struct Ddos {
    /// Index in the scenario.
    pub campaign: CampaignId,
    /// Target group.
    pub target: u16,
    /// Tick of the command.
    pub start_tick: u32,
    /// Flood rate per bot, kbit/s.
    pub kbps: u32,

    /// Target nodes overwhelmed at once that reach the goal.
    pub goal: u64,
    /// Attack traffic each target node absorbs, kbit/s (index: node − first node).
    absorb: Vec<u64>,
    /// Each bot's flood flow (if in a traffic core) and target node.
    flows: BTreeMap<u32, (Option<u32>, u32)>,
    stream: Stream,
}

/// Every botnet's DDoS.
#[derive(Resource, Debug, Clone)]
pub struct Botnets {
    /// The botnets.
    pub list: Vec<Ddos>,
}

/// Targets, rates and absorption are rebuilt from the scenario; each bot's flood flow is
/// state.
impl Persist for Botnets {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let flows: Vec<_> = self.list.iter().map(|b| &b.flows).collect();
        paraverse_sim::checkpoint::encode::<Self, _>(&flows, out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let flows: Vec<BTreeMap<u32, (Option<u32>, u32)>> =
            paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("botnets", flows.len(), self.list.len())?;
        for (b, f) in self.list.iter_mut().zip(flows) {
            b.flows = f;
        }
        Ok(())
    }
}

impl Botnets {
    /// The botnets of a scenario (empty if none).
    pub fn new(scenario: &Scenario, topology: &Topology) -> Self {
        let list = scenario
            .campaigns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let CampaignKind::Botnet(b) = &c.kind else {
                    return None;
                };
                let g = &scenario.groups[b.ddos_target as usize];
                let absorb = g
                    .nodes()
                    .map(|n| {
                        b.absorb_kbps.unwrap_or_else(|| {
                            let links: u64 = topology
                                .neighbour_links(n)
                                .iter()
                                .map(|&l| {
                                    scenario.links[topology.tier(l) as usize]
                                        .capacity
                                        .bits_per_second()
                                        / 1000
                                })
                                .sum();
                            (links / 2).max(1)
                        })
                    })
                    .collect();
                Some(Ddos {
                    campaign: i as CampaignId,
                    target: b.ddos_target,
                    start_tick: b.ddos_start_tick,
                    kbps: b.ddos_kbps,
                    goal: c.goal.unwrap_or(1),
                    absorb,
                    flows: BTreeMap::new(),
                    stream: Stream::named(&c.name).derive(0xdd05),
                })
            })
            .collect();
        Self { list }
    }
}

/// Attack stage: botnets flood their targets; targets overwhelmed stop serving.
pub fn botnet_ddos(
    mut nodes: Query<&mut Security>,
    mut botnets: ResMut<Botnets>,
    ctx: Ctx,
    mut out: Out,
    mut traffic: Option<ResMut<TrafficCore>>,
) {
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = ctx.clock.tick;
    let rng = *ctx.rng;
    // Attack traffic arriving per target node, over all botnets.
    let mut arriving: BTreeMap<u32, u64> = BTreeMap::new();
    for b in &mut botnets.list {
        if tick < ctx.start(b.campaign, b.start_tick) {
            continue;
        }
        let c = b.campaign;
        out.book.reach(c, chain::COMMAND, tick, None, &mut out.log);
        arrived(b, security, traffic.as_deref(), &mut arriving);
        // Recruits join; lost bots stop.
        let bots: Vec<u32> = held_by(security, c)
            .into_iter()
            .filter(|&n| !security[n as usize].quarantined)
            .collect();
        // Gateway meters cap what one source may send to a protected node.
        let kbps = match ctx.scenario.defense.ddos.as_ref() {
            Some(p) if p.protect.contains(&b.target) => {
                p.rate_limit_kbps.map_or(b.kbps, |r| r.min(b.kbps))
            }
            _ => b.kbps,
        };
        let new = recruit(
            b,
            &bots,
            kbps,
            &ctx.scenario.groups[b.target as usize],
            &rng,
        );
        if !bots.is_empty() {
            out.book.reach(c, chain::FLOOD, tick, None, &mut out.log);
        }
        if let Some(core) = traffic.as_deref_mut() {
            flood(b, &bots, new, kbps, core, &ctx.topology);
        }
    }
    if let Some(p) = ctx.scenario.defense.ddos.as_ref()
        && let Some(cap) = p.scrubbing_kbps
    {
        let scrubbed = scrub(&mut arriving, p, cap, &ctx.scenario);
        if let Some(id) = out.impact.scrubbed_mbit {
            out.metrics
                .add(id, scrubbed * ctx.clock.tick_micros / 1_000_000_000);
        }
    }
    for b in &botnets.list {
        if tick >= ctx.start(b.campaign, b.start_tick) {
            overwhelm(b, &arriving, security, &ctx.scenario, tick, &mut out);
        }
    }
}

/// What reached the botnet's targets in the previous tick, added to `arriving`: each
/// bot's flow's allocated rate, or without a traffic core, its full rate while it is
/// an active bot.
fn arrived(
    b: &Ddos,
    security: &[Security],
    traffic: Option<&TrafficCore>,
    arriving: &mut BTreeMap<u32, u64>,
) {
    for (&bot, &(flow, dst)) in &b.flows {
        let kbps = match (traffic, flow) {
            (Some(core), Some(f)) => {
                u64::from(core.state.rate.get(f as usize).copied().unwrap_or(0))
            }
            (None, _)
                if security[bot as usize].compromised
                    && security[bot as usize].campaign == b.campaign
                    && !security[bot as usize].quarantined =>
            {
                u64::from(b.kbps)
            }
            _ => 0,
        };
        *arriving.entry(dst).or_default() += kbps;
    }
}

/// New bots pick a target node of the group (keyed draw) and get a flood flow of
/// `kbps`; returns them with the flows to add.
fn recruit(b: &mut Ddos, bots: &[u32], kbps: u32, g: &Group, rng: &SimRng) -> Vec<(u32, NewFlow)> {
    let mut new: Vec<(u32, NewFlow)> = Vec::new();
    for &bot in bots {
        if b.flows.contains_key(&bot) {
            continue;
        }
        let dst = g.first_node + rng.below(b.stream, bot, 0, 0, u64::from(g.count)) as u32;
        b.flows.insert(bot, (None, dst));
        new.push((
            bot,
            NewFlow {
                src: bot,
                dst,
                class: FlowClass::Ddos,
                demand_kbps: kbps,
                priority: FlowClass::Ddos.default_priority(),
                // The flood hits the target's public (first) service.
                service: g.services.first().copied(),
            },
        ));
    }
    new
}

/// The flood as traffic: new bots' flows are added, active bots send `kbps`, lost bots
/// nothing.
fn flood(
    b: &mut Ddos,
    bots: &[u32],
    new: Vec<(u32, NewFlow)>,
    kbps: u32,
    core: &mut TrafficCore,
    topology: &Topology,
) {
    if !new.is_empty() {
        let flows: Vec<NewFlow> = new.iter().map(|&(_, f)| f).collect();
        let ids = core.add_flows(topology, &flows);
        for ((bot, _), id) in new.into_iter().zip(ids) {
            if let Some(e) = b.flows.get_mut(&bot) {
                e.0 = Some(id);
            }
        }
    }
    for (&bot, &(flow, _)) in &b.flows {
        if let Some(f) = flow {
            let on = bots.binary_search(&bot).is_ok();
            core.set_demand(f, if on { kbps } else { 0 });
        }
    }
}

/// The scrubbing centre removes attack traffic bound for protected nodes, up to its
/// capacity `cap`, in proportion to what each receives; returns what it removed.
fn scrub(
    arriving: &mut BTreeMap<u32, u64>,
    p: &DdosProtection,
    cap: u64,
    scenario: &Scenario,
) -> u64 {
    let protected = |n: u32| p.protect.contains(&scenario.group_of(n));
    let total: u64 = arriving
        .iter()
        .filter(|&(&n, _)| protected(n))
        .map(|(_, &l)| l)
        .sum();
    let scrubbed = total.min(cap);
    if total > 0 {
        for (&n, load) in arriving.iter_mut() {
            if protected(n) {
                *load -= (u128::from(*load) * u128::from(scrubbed) / u128::from(total)) as u64;
            }
        }
    }
    scrubbed
}

/// Overwhelmed targets stop serving, the others recover (each change logged); the goal
/// is reached with enough targets down.
fn overwhelm(
    b: &Ddos,
    arriving: &BTreeMap<u32, u64>,
    security: &mut [Security],
    scenario: &Scenario,
    tick: u32,
    out: &mut Out,
) {
    let g = &scenario.groups[b.target as usize];
    let mut down = 0u64;
    for (k, n) in g.nodes().enumerate() {
        let load = arriving.get(&n).copied().unwrap_or(0);
        let over = load >= b.absorb[k];
        let s = &mut security[n as usize];
        if over != s.overwhelmed {
            s.overwhelmed = over;
            let mut e = RunEvent::new(
                tick,
                if over {
                    "service_down"
                } else {
                    "service_restored"
                },
                n,
            );
            e.campaign = Some(b.campaign);
            if over {
                e.technique = Some("T1498.001");
            }
            out.log.push(e);
        }
        down += u64::from(over);
    }
    if down >= b.goal {
        out.book.reach_goal(b.campaign, tick, None, &mut out.log);
    }
}

/// Attack stage, last: counts service nodes that cannot serve (encrypted, overwhelmed).
pub fn count_service_down(
    nodes: Query<&Security>,
    mut metrics: ResMut<Metrics>,
    impact: Res<crate::chain::ImpactCounters>,
) {
    let Some(id) = impact.service_down else {
        return;
    };
    let security = dense(nodes.contiguous_iter().expect("node query is dense"));
    let down = security.iter().filter(|s| !s.serving()).count() as u64;
    metrics.add(id, down);
}
