//! Targeted campaigns: a foothold, lateral movement toward a target group, and an action
//! on the objective once there. One engine serves intrusion, cryptojacking,
//! exfiltration, asset theft, ransomware, false data injection and poisoning; only the
//! action differs.
//!
//! # Model
//!
//! Each tick from its start a campaign makes `attempt_rate × tick` initial-access
//! attempts on random nodes of the entry group; one succeeds with the chance its access
//! method has against that node (an exploit: the group's CVSS-derived chance if
//! unpatched; phishing: the users' susceptibility; default credentials: the dictionary's
//! 0.9 on default-credential devices; valid accounts: `credential_reuse` on passwords, a
//! twentieth of it on MFA, never on certificates or biometrics).
//!
//! Every held node that is not quarantined makes `lateral_rate × tick` movement attempts.
//! An attempt picks a topological neighbour: with chance ¾ one of those closest (in hops)
//! to the target group, else any. It takes the neighbour with the better of the exploit
//! chance (if unpatched) and the credential chance above. A node another campaign holds
//! can be taken too (attackers co-reside; the node's owner in [`Security`] stays the
//! first), and a campaign loses a node when it is rebuilt. Attempts count as outbound
//! connections in the node's [`Telemetry`], so detectors can see movement. Proposals read
//! the state at the start of the stage and are committed in node order.
//!
//! Held, unquarantined target nodes then suffer the kind's action:
//!
//! - **intrusion**: none beyond being held; the goal is `goal` target nodes held;
//! - **cryptojacking**: a miner takes `share` of the node's compute
//!   (`compute_stolen_node_ms`, `compute_available_ppm`);
//! - **exfiltration**: an exfiltration flow in the traffic core (or, without one, the
//!   nominal rate) carries the node's records to a drop node, most sensitive class first;
//!   records leave at the rate the network actually gave the flow in the previous tick;
//! - **asset theft**: transfers through the [`Ledger`], with double-spend replays it refuses;
//! - **ransomware**: the node is encrypted `dwell` after it was taken and stops serving
//!   (benign flows to it fail) until it is restored;
//! - **false data**: compromised sensors add `bias` to their readings; the digital twin
//!   averages all readings and decides "alarm" above a threshold; a decision that differs
//!   from the one on the real value is wrong (`wrong_decisions`, `twin_divergence_milli`);
//! - **poisoning**: samples poison the detection model, whose learned threshold grows to
//!   `× (1 + strength)` when `samples_needed` are in ([`DetectionModel`]).

use std::collections::{BTreeMap, VecDeque};

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{
    AccessMethod, Approach, AuthMethod, CampaignKind, DataClass, FalseData, FlowClass, Group,
    NodeKind,
};
use rayon::prelude::*;

use crate::chain::{self, Ctx, Out};
use crate::ledger::{Ledger, Refusal};

/// Chance the dictionary of a botnet or intruder opens a default-credential device.
pub const DICTIONARY: Chance = Chance::from_ratio(9, 10);

/// Exfiltration state of one target node, for one campaign (what is left to steal is
/// shared: [`TargetedCampaigns::data_left`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Exfil {
    flow: Option<u32>,
    carry_bits: u64,
}

/// One targeted campaign and its progress.
#[derive(Debug, Clone)]
pub struct TargetedCampaign {
    /// Index in the scenario.
    pub campaign: u8,
    /// First tick.
    pub start_tick: u32,
    /// Kind and parameters.
    pub kind: CampaignKind,
    /// Entry, access, target, rates.
    pub approach: Approach,
    /// Goal in the kind's unit.
    pub goal: u64,
    stream: Stream,
    /// Hops from each node to the nearest target node (`u16::MAX`: unreachable).
    distance: Vec<u16>,
    /// Initial-access chance per group (before node state).
    access: Vec<Chance>,
    /// Lateral-movement chance per group: (exploit if unpatched, credentials).
    lateral: Vec<(Chance, Chance)>,
    /// Nodes the campaign holds, with the tick it took each. A node another campaign
    /// already holds can be taken too (co-infection); its [`Security`] keeps the first
    /// owner, and the node leaves this set when it is rebuilt.
    held: BTreeMap<u32, (u32, u8)>,
    /// Progress in the kind's unit (records, assets, samples, wrong decisions).
    progress: u64,
    exfil: BTreeMap<u32, Exfil>,
}

/// Every targeted campaign of the scenario.
#[derive(Resource, Debug, Clone)]
pub struct TargetedCampaigns {
    /// The campaigns.
    pub list: Vec<TargetedCampaign>,
    /// GPU, edge and cloud nodes (the compute cryptojacking steals from).
    compute_nodes: u64,
    /// Records of each node's data, by class, that no campaign has stolen yet. Shared by
    /// every exfiltration campaign: a record two campaigns copy is one record exposed,
    /// so `records_stolen` counts records, not thefts, and never exceeds what a store
    /// holds.
    data_left: BTreeMap<u32, [u64; DataClass::ALL.len()]>,
}

/// Kinds, approaches, chances and distances are rebuilt from the scenario; what each
/// campaign holds, its progress and its exfiltration flows, and the data left, are state.
impl Persist for TargetedCampaigns {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let list: Vec<_> = self
            .list
            .iter()
            .map(|c| (&c.held, c.progress, &c.exfil))
            .collect();
        paraverse_sim::checkpoint::encode::<Self, _>(&(list, &self.data_left), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        type Campaign = (BTreeMap<u32, (u32, u8)>, u64, BTreeMap<u32, Exfil>);
        let (list, data_left): (Vec<Campaign>, BTreeMap<u32, [u64; DataClass::ALL.len()]>) =
            paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("targeted campaigns", list.len(), self.list.len())?;
        for (c, (held, progress, exfil)) in self.list.iter_mut().zip(list) {
            (c.held, c.progress, c.exfil) = (held, progress, exfil);
        }
        self.data_left = data_left;
        Ok(())
    }
}

/// Hop distance from every node to the nearest node of `sources` (breadth-first).
fn hop_distance(topology: &Topology, sources: std::ops::Range<u32>) -> Vec<u16> {
    let mut dist = vec![u16::MAX; topology.node_count()];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for n in sources {
        dist[n as usize] = 0;
        queue.push_back(n);
    }
    while let Some(n) = queue.pop_front() {
        let d = dist[n as usize].saturating_add(1);
        for &m in topology.neighbours(n) {
            if dist[m as usize] == u16::MAX {
                dist[m as usize] = d;
                queue.push_back(m);
            }
        }
    }
    dist
}

/// Chance stolen or guessed credentials open a node authenticating by `auth`.
pub fn credential_chance(auth: AuthMethod, reuse: Chance) -> Chance {
    match auth {
        AuthMethod::DefaultCredentials => DICTIONARY,
        AuthMethod::Password => reuse,
        AuthMethod::Mfa => reuse.scaled(1, 20),
        AuthMethod::Biometric | AuthMethod::Certificate => Chance::NEVER,
    }
}

fn access_chance(access: AccessMethod, g: &Group, reuse: Chance) -> Chance {
    match access {
        AccessMethod::Exploit => g.exploit_chance,
        AccessMethod::Phishing => g.susceptibility,
        AccessMethod::DefaultCredentials => {
            if g.auth == AuthMethod::DefaultCredentials {
                DICTIONARY
            } else {
                Chance::NEVER
            }
        }
        AccessMethod::ValidAccounts => credential_chance(g.auth, reuse),
    }
}

impl TargetedCampaigns {
    /// The targeted campaigns of a scenario (empty if none).
    pub fn new(scenario: &Scenario, topology: &Topology) -> Result<Self, String> {
        let mut list = Vec::new();
        for (i, c) in scenario.campaigns.iter().enumerate() {
            let targeted = !matches!(
                c.kind,
                CampaignKind::Worm(_)
                    | CampaignKind::Botnet(_)
                    | CampaignKind::Phishing { .. }
                    | CampaignKind::Takeover(_)
            );
            let Some(a) = c.approach.clone().filter(|_| targeted) else {
                continue;
            };
            let target = &scenario.groups[a.target as usize];
            let distance = hop_distance(topology, target.nodes());
            let entry = &scenario.groups[a.entry as usize];
            if entry.nodes().all(|n| distance[n as usize] == u16::MAX) {
                return Err(format!(
                    "campaign `{}`: no node of entry group `{}` has a path to target group `{}`",
                    c.name, entry.name, target.name
                ));
            }
            list.push(TargetedCampaign {
                campaign: i as u8,
                start_tick: c.start_tick,
                kind: c.kind.clone(),
                access: scenario
                    .groups
                    .iter()
                    .map(|g| access_chance(a.access, g, a.credential_reuse))
                    .collect(),
                lateral: scenario
                    .groups
                    .iter()
                    .map(|g| {
                        (
                            g.exploit_chance,
                            credential_chance(g.auth, a.credential_reuse),
                        )
                    })
                    .collect(),
                approach: a,
                goal: c.goal.unwrap_or(1),
                stream: Stream::named(&c.name).derive(0x7a),
                distance,
                held: BTreeMap::new(),
                progress: 0,
                exfil: BTreeMap::new(),
            });
        }
        let compute_nodes = scenario
            .groups
            .iter()
            .filter(|g| {
                matches!(
                    g.kind,
                    NodeKind::GpuNode | NodeKind::EdgeServer | NodeKind::CloudVm
                )
            })
            .map(|g| u64::from(g.count))
            .sum();
        Ok(Self {
            list,
            compute_nodes,
            data_left: BTreeMap::new(),
        })
    }
}

/// The nodes a campaign holds (compromised by it), in id order.
pub fn held_by(security: &[Security], campaign: u8) -> Vec<u32> {
    security
        .par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(|(c, chunk)| {
            chunk.iter().enumerate().filter_map(move |(k, s)| {
                (s.compromised && s.campaign == campaign).then_some((c * CHUNK + k) as u32)
            })
        })
        .collect()
}

const DECOY: Stream = Stream::named("defense.deception.decoy");

/// Campaign-level draws use this entity id (no node is `u32::MAX`).
pub(crate) const CAMPAIGN: u32 = u32::MAX;

/// Attack stage: every targeted campaign gets in, moves, and acts.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn targeted_step(
    mut nodes: Query<(&InGroup, &Kind, &mut Security, &mut Telemetry)>,
    mut campaigns: ResMut<TargetedCampaigns>,
    ctx: Ctx,
    mut out: Out,
    mut ledger: Option<ResMut<Ledger>>,
    mut traffic: Option<ResMut<TrafficCore>>,
    mut model: ResMut<DetectionModel>,
    policy: Res<AccessPolicy>,
    mut tripwires: ResMut<Tripwires>,
) {
    let (groups, kinds, mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let telemetry = telemetry.bypass_change_detection();
    let tick = ctx.clock.tick;
    let rng = *ctx.rng;
    let scenario = &ctx.scenario;
    let campaigns = &mut *campaigns;
    let compute_nodes = campaigns.compute_nodes;
    let data_left = &mut campaigns.data_left;
    let defense = &scenario.defense;
    let decoys = defense.deception.map(|d| d.decoys);
    let mut hijacked_ppm = 0u64;
    let mut divergence: Option<u64> = None;
    let mut scale_ppm: Option<u64> = None;

    for tc in &mut campaigns.list {
        if tick < tc.start_tick {
            continue;
        }
        let c = tc.campaign;
        let a = tc.approach.clone();
        // Nodes rebuilt since the campaign took them (clean, or compromised anew after
        // the campaign took them) are lost.
        tc.held.retain(|&n, &mut at| {
            let s = &security[n as usize];
            s.compromised && s.rebuilds == at.1
        });

        // 1. Initial access.
        let attempts = a
            .attempts_per_tick
            .sample(rng.draw(tc.stream, CAMPAIGN, tick, 0));
        let entry = &scenario.groups[a.entry as usize];
        for k in 0..attempts {
            let node = entry.first_node
                + rng.below(
                    tc.stream.derive(1),
                    CAMPAIGN,
                    tick,
                    k,
                    u64::from(entry.count),
                ) as u32;
            let s = &mut security[node as usize];
            let mut chance = tc.access[a.entry as usize];
            if (a.access == AccessMethod::Exploit && s.patched)
                || (a.access == AccessMethod::DefaultCredentials && s.hardened)
            {
                chance = Chance::NEVER;
            }
            if !tc.held.contains_key(&node)
                && !s.quarantined
                && chance.hit(rng.draw(tc.stream.derive(2), CAMPAIGN, tick, k))
            {
                s.compromise(c);
                tc.held
                    .insert(node, (tick, security[node as usize].rebuilds));
                out.metrics.add(out.impact.footholds, 1);
                if !out
                    .book
                    .reach(c, chain::INITIAL_ACCESS, tick, Some(node), &mut out.log)
                {
                    let mut e = RunEvent::new(tick, "foothold", node);
                    e.campaign = Some(c);
                    e.technique = Some(out.book.technique(c, chain::INITIAL_ACCESS));
                    out.log.push(e);
                }
            }
        }

        // 2. Lateral movement, proposed from the state at the start of the stage.
        let held: Vec<u32> = tc.held.keys().copied().collect();
        let mut proposals: Vec<(u32, u32, bool)> = Vec::new();
        for &h in &held {
            if security[h as usize].quarantined {
                continue;
            }
            let moves = policy.attempts(
                h,
                a.lateral_per_tick
                    .sample(rng.draw(tc.stream.derive(3), h, tick, 0)),
            );
            if moves == 0 {
                continue;
            }
            out.book
                .reach(c, chain::DISCOVERY, tick, Some(h), &mut out.log);
            let t = &mut telemetry[h as usize];
            t.connections = t.connections.saturating_add(moves);
            let near = ctx.topology.neighbours(h);
            if near.is_empty() {
                continue;
            }
            let best = near
                .iter()
                .map(|&n| tc.distance[n as usize])
                .min()
                .unwrap_or(u16::MAX);
            for m in 0..moves {
                let d = rng.draw(tc.stream.derive(4), h, tick, m);
                let pick = if d & 3 != 0 {
                    let closest: Vec<u32> = near
                        .iter()
                        .copied()
                        .filter(|&n| tc.distance[n as usize] == best)
                        .collect();
                    closest
                        [rng.below(tc.stream.derive(5), h, tick, m, closest.len() as u64) as usize]
                } else {
                    near[rng.below(tc.stream.derive(6), h, tick, m, near.len() as u64) as usize]
                };
                let s = &security[pick as usize];
                if tc.held.contains_key(&pick) || s.quarantined || !policy.allows(h, pick) {
                    continue;
                }
                // A decoy: the attempt is wasted and the source is caught.
                if decoys.is_some_and(|c| c.hit(rng.draw(DECOY, h, tick, m))) {
                    tripwires.sources.push(h);
                    continue;
                }
                let (mut exploit, mut creds) = tc.lateral[groups[pick as usize].0 as usize];
                if policy.segmentation.is_some() {
                    // Only the services the policy admits can be exploited.
                    exploit = policy.exploit_chance(scenario, h, pick);
                }
                let exploit = if s.patched { Chance::NEVER } else { exploit };
                if s.hardened && creds == DICTIONARY {
                    creds = a.credential_reuse;
                }
                let d = rng.draw(tc.stream.derive(7), h, tick, m);
                if exploit.max(creds).hit(d) {
                    proposals.push((pick, h, exploit >= creds));
                }
            }
        }
        for (node, source, by_exploit) in proposals {
            if tc.held.contains_key(&node) {
                continue;
            }
            security[node as usize].compromise(c);
            tc.held
                .insert(node, (tick, security[node as usize].rebuilds));
            out.metrics.add(out.impact.lateral_moves, 1);
            let mut e = RunEvent::new(tick, "lateral_movement", node);
            e.source = Some(source);
            e.campaign = Some(c);
            e.technique = Some(if by_exploit { "T1210" } else { "T1078" });
            out.log.push(e);
            out.book
                .reach(c, chain::LATERAL, tick, Some(node), &mut out.log);
            if !kinds[node as usize].0.is_terminal() {
                out.book
                    .reach(c, chain::PRIVILEGE, tick, Some(node), &mut out.log);
            }
        }

        // 3. Action on the objective.
        let target = &scenario.groups[a.target as usize];
        let held_targets: Vec<u32> = tc
            .held
            .keys()
            .copied()
            .filter(|n| target.nodes().contains(n))
            .collect();
        let active: Vec<u32> = held_targets
            .iter()
            .copied()
            .filter(|&n| !security[n as usize].quarantined)
            .collect();
        let tick_us = ctx.clock.tick_micros;
        match &tc.kind {
            CampaignKind::Intrusion => {
                if held_targets.len() as u64 >= tc.goal {
                    out.book
                        .reach_goal(c, tick, held_targets.first().copied(), &mut out.log);
                }
            }
            CampaignKind::Cryptojacking { share_permille } => {
                if let Some(&first) = active.first() {
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, Some(first), &mut out.log);
                }
                let n = active.len() as u64;
                hijacked_ppm += n * share_permille * 1000;
                for &node in &active {
                    // The miner's load is what a host sensor sees.
                    let t = &mut telemetry[node as usize];
                    t.cpu_permille = (u64::from(t.cpu_permille) + share_permille).min(1000) as u16;
                }
                if let Some(id) = out.impact.compute_stolen {
                    // share (‰) × tick (µs) → node-ms.
                    out.metrics
                        .add(id, n * share_permille * tick_us / 1_000_000);
                }
                if n >= tc.goal {
                    out.book
                        .reach_goal(c, tick, active.first().copied(), &mut out.log);
                }
            }
            CampaignKind::Exfiltration {
                drop,
                kbps,
                record_bytes,
            } => {
                let drop = &scenario.groups[*drop as usize];
                let mut new_flows: Vec<(u32, NewFlow)> = Vec::new();
                for &n in &active {
                    let g = &scenario.groups[groups[n as usize].0 as usize];
                    let x = tc.exfil.entry(n).or_insert_with(|| Exfil {
                        flow: None,
                        carry_bits: 0,
                    });
                    let remaining = data_left.entry(n).or_insert_with(|| {
                        DataClass::ALL.map(|cl| g.data.get(&cl).copied().unwrap_or(0))
                    });
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, Some(n), &mut out.log);
                    if remaining.iter().all(|&r| r == 0) {
                        continue;
                    }
                    let kbps_now = match (&traffic, x.flow) {
                        (Some(core), Some(f)) => {
                            core.state.rate.get(f as usize).copied().unwrap_or(0)
                        }
                        (Some(_), None) => {
                            let dst = drop.first_node
                                + rng.below(tc.stream.derive(8), n, 0, 0, u64::from(drop.count))
                                    as u32;
                            new_flows.push((
                                n,
                                NewFlow {
                                    src: n,
                                    dst,
                                    class: FlowClass::Exfiltration,
                                    demand_kbps: *kbps,
                                    priority: FlowClass::Exfiltration.default_priority(),
                                    service: drop.services.first().copied(),
                                },
                            ));
                            0
                        }
                        (None, _) => *kbps,
                    };
                    x.carry_bits += u64::from(kbps_now) * tick_us / 1000;
                    let mut records = x.carry_bits / (record_bytes * 8);
                    x.carry_bits -= records * record_bytes * 8;
                    let mut taken = 0;
                    for (k, r) in remaining.iter_mut().enumerate() {
                        let t = records.min(*r);
                        *r -= t;
                        records -= t;
                        taken += t;
                        // Records held in privacy-preserving form are useless stolen.
                        let usable = match &defense.privacy {
                            Some(p) => p.exposed(k, t),
                            None => t,
                        };
                        if usable > 0 {
                            out.metrics.add(out.impact.records[k], usable);
                        }
                    }
                    if remaining.iter().all(|&r| r == 0) {
                        x.carry_bits = 0;
                    }
                    if taken > 0 {
                        tc.progress += taken;
                        out.book
                            .reach(c, chain::EFFECT, tick, Some(n), &mut out.log);
                    }
                }
                if let Some(core) = traffic.as_deref_mut() {
                    if !new_flows.is_empty() {
                        let flows: Vec<NewFlow> = new_flows.iter().map(|&(_, f)| f).collect();
                        let ids = core.add_flows(&ctx.topology, &flows);
                        for ((n, _), id) in new_flows.into_iter().zip(ids) {
                            if let Some(x) = tc.exfil.get_mut(&n) {
                                x.flow = Some(id);
                            }
                        }
                    }
                    // Flows of nodes the campaign lost, or emptied, stop.
                    for (&n, x) in &tc.exfil {
                        if let Some(f) = x.flow {
                            let on = active.binary_search(&n).is_ok()
                                && data_left.get(&n).is_some_and(|r| r.iter().any(|&r| r > 0));
                            core.set_demand(f, if on { *kbps } else { 0 });
                        }
                    }
                }
                if tc.progress >= tc.goal {
                    out.book.reach_goal(c, tick, None, &mut out.log);
                }
            }
            CampaignKind::AssetTheft {
                transfers_per_tick,
                double_spend,
            } => {
                let ledger = ledger.as_deref_mut().expect("asset theft builds a ledger");
                for &n in &active {
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, Some(n), &mut out.log);
                    let g = &scenario.groups[groups[n as usize].0 as usize];
                    let stolen = drain(
                        ledger,
                        &rng,
                        tc.stream,
                        n,
                        tick,
                        g,
                        transfers_per_tick.sample(rng.draw(tc.stream.derive(9), n, tick, 0)),
                        *double_spend,
                        &mut out,
                    );
                    if stolen > 0 {
                        tc.progress += stolen;
                        out.book
                            .reach(c, chain::EFFECT, tick, Some(n), &mut out.log);
                    }
                }
                if tc.progress >= tc.goal {
                    out.book.reach_goal(c, tick, None, &mut out.log);
                }
            }
            CampaignKind::Ransomware { dwell_ticks } => {
                for &n in &active {
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, Some(n), &mut out.log);
                    let taken = tc.held[&n];
                    let s = &mut security[n as usize];
                    if !s.encrypted && tick >= taken.0.saturating_add(*dwell_ticks) {
                        s.encrypted = true;
                        let mut e = RunEvent::new(tick, "encryption", n);
                        e.campaign = Some(c);
                        e.technique = Some("T1486");
                        out.log.push(e);
                        out.book
                            .reach(c, chain::EFFECT, tick, Some(n), &mut out.log);
                    }
                }
                let encrypted = held_targets
                    .iter()
                    .filter(|&&n| security[n as usize].encrypted)
                    .count() as u64;
                if encrypted >= tc.goal {
                    out.book.reach_goal(c, tick, None, &mut out.log);
                }
            }
            CampaignKind::FalseData(f) => {
                let (estimate, real, falsified) =
                    twin_estimate(f, target, security, &tc.held, &rng, tick);
                let div = estimate.abs_diff(real);
                divergence = Some(divergence.map_or(div, |d| d.max(div)));
                if falsified > 0 {
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, None, &mut out.log);
                }
                let wrong = (estimate > f.threshold_milli) != (real > f.threshold_milli);
                if wrong {
                    if let Some(id) = out.impact.wrong_decisions {
                        out.metrics.add(id, 1);
                    }
                    let mut e = RunEvent::global(tick, "wrong_decision", 1);
                    e.campaign = (falsified > 0).then_some(c);
                    out.log.push(e);
                    if falsified > 0 {
                        tc.progress += 1;
                    }
                }
                if tc.progress >= tc.goal {
                    out.book.reach_goal(c, tick, None, &mut out.log);
                }
            }
            CampaignKind::Poisoning {
                samples_per_tick,
                samples_needed,
                strength_ppm,
            } => {
                let mut samples = 0u64;
                for &n in &active {
                    out.book
                        .reach(c, chain::OBJECTIVE, tick, Some(n), &mut out.log);
                    let sent = samples_per_tick.sample(rng.draw(tc.stream.derive(10), n, tick, 0));
                    // The poisoned-data filter rejects each sample with its chance.
                    samples += match defense.poison_filter {
                        Some(f) => (0..sent)
                            .filter(|&k| !f.catch.hit(rng.draw(tc.stream.derive(12), n, tick, k)))
                            .count() as u64,
                        None => u64::from(sent),
                    };
                }
                if samples > 0 {
                    out.book.reach(c, chain::EFFECT, tick, None, &mut out.log);
                }
                tc.progress = (tc.progress + samples).min(*samples_needed);
                let scale = 1_000_000 + strength_ppm * tc.progress / samples_needed;
                scale_ppm = Some(scale_ppm.map_or(scale, |s| s.max(scale)));
                if tc.progress >= *samples_needed {
                    out.book.reach_goal(c, tick, None, &mut out.log);
                }
            }
            CampaignKind::Worm(_)
            | CampaignKind::Botnet(_)
            | CampaignKind::Phishing { .. }
            | CampaignKind::Takeover(_) => {}
        }
    }

    if let (Some(id), true) = (out.impact.compute_available, compute_nodes > 0) {
        let total = compute_nodes * 1_000_000;
        out.metrics
            .set(id, total.saturating_sub(hijacked_ppm) / compute_nodes);
    }
    if let (Some(id), Some(d)) = (out.impact.twin_divergence, divergence) {
        out.metrics.set(id, d);
    }
    if let Some(scale) = scale_ppm {
        model.threshold_scale_ppm = scale;
        if let Some(id) = out.impact.detector_scale {
            out.metrics.set(id, scale);
        }
    }
}

/// Transfers up to `transfers` assets of `node` to the attacker through the ledger,
/// replaying each as a double spend with chance `double_spend`; returns assets stolen.
#[expect(
    clippy::too_many_arguments,
    reason = "one transfer's context; shared by asset theft and identity campaigns"
)]
pub fn drain(
    ledger: &mut Ledger,
    rng: &SimRng,
    stream: Stream,
    node: u32,
    tick: u32,
    g: &Group,
    transfers: u32,
    double_spend: Chance,
    out: &mut Out,
) -> u64 {
    let holdings = g.assets.count;
    let cents = (g.assets.value * 100.0).round() as u64;
    let mut stolen = 0;
    for k in 0..transfers {
        let Some(asset) = ledger.next_unspent(node, holdings) else {
            break;
        };
        if ledger.transfer(node, asset, holdings).is_err() {
            break;
        }
        stolen += 1;
        out.metrics.add(out.impact.assets, 1);
        out.metrics.add(out.impact.asset_value_cents, cents);
        if double_spend.hit(rng.draw(stream.derive(11), node, tick, k))
            && ledger.transfer(node, asset, holdings) == Err(Refusal::DoubleSpend)
        {
            out.metrics.add(out.impact.double_spends, 1);
        }
    }
    stolen
}

/// The real value of the twin's quantity at `tick`, milli-units: a triangle wave.
pub fn real_value(f: &FalseData, tick: u32) -> i64 {
    let period = i64::from(f.period_ticks);
    let phase = i64::from(tick) % period * 4000 / period; // 0..4000
    let tri = if phase < 2000 {
        phase - 1000
    } else {
        3000 - phase
    }; // -1000..=1000
    f.baseline_milli + f.amplitude_milli * tri / 1000
}

const NOISE: Stream = Stream::named("false_data.sensor_noise");

/// The twin's estimate (mean of the reporting sensors), the real value, and how many
/// reports were falsified (sent by `held` sensors). Each sensor reads the real value with uniform
/// noise of ±0.5; quarantined sensors do not report.
fn twin_estimate(
    f: &FalseData,
    sensors: &Group,
    security: &[Security],
    held: &BTreeMap<u32, (u32, u8)>,
    rng: &SimRng,
    tick: u32,
) -> (i64, i64, u64) {
    let real = real_value(f, tick);
    let (mut sum, mut count, mut falsified) = (0i128, 0i128, 0u64);
    for n in sensors.nodes() {
        let s = &security[n as usize];
        if s.quarantined {
            continue;
        }
        let noise = rng.below(NOISE, n, tick, 0, 1001) as i64 - 500;
        let mut reading = real + noise;
        if held.contains_key(&n) {
            reading += f.bias_milli;
            falsified += 1;
        }
        sum += i128::from(reading);
        count += 1;
    }
    let estimate = if count > 0 {
        (sum / count) as i64
    } else {
        real
    };
    (estimate, real, falsified)
}
