//! Nodes as ECS entities with small components, and the dense-table rule that makes a
//! million of them fast.
//!
//! Every node is one entity with the same set of components: [`NodeId`], [`Kind`],
//! [`InZone`], [`InGroup`], [`Security`] and [`Telemetry`]. They are spawned in id order
//! and components are never added to or removed from a node (state changes are field
//! writes), so all nodes share one archetype and one table, in id order. Systems exploit
//! this: `Query::contiguous_iter_mut` hands them each component as a slice indexed by node
//! id, which rayon can split into chunks and which random access (a worm hitting node
//! `k`) can index directly. [`dense`] checks the rule every time it is used.
//!
//! Why not one entity per packet or flow: flows live in flat arrays in the traffic core
//! (see ARCHITECTURE.md); entities are for things with identity and state.

use std::sync::Arc;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, Persist, decode, encode};
use crate::rng::{SimRng, Stream};
use crate::scenario::{GroupId, NodeKind, Scenario, ZoneId};

/// A node's id: its index in the topology and in every node slice.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// What the node is.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind(pub NodeKind);

/// The zone (segment) the node lives in.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InZone(pub ZoneId);

/// The group the node was declared in; group-wide data (services, records, assets) lives
/// in the scenario, not in every node.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InGroup(pub GroupId);

/// A node's security state: compromise, isolation and patching.
///
/// Flags rather than one enum because they combine: a quarantined node may still be
/// compromised (and is cleaned only when rebuilt), and a patched node may already host
/// an attacker (patching closes the door, it does not evict).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "PackedSecurity", from = "PackedSecurity")]
pub struct Security {
    /// An attacker controls the node.
    pub compromised: bool,
    /// Isolated from the network: it neither sends nor receives.
    pub quarantined: bool,
    /// Every known vulnerability is patched.
    pub patched: bool,
    /// Defenders have raised an alert on it that is not yet resolved.
    pub alerted: bool,
    /// It has been compromised at some point in the run.
    pub ever_compromised: bool,
    /// Ransomware has encrypted its data: it serves nothing until restored.
    pub encrypted: bool,
    /// A DDoS overwhelms it this tick: it serves nothing while the flood lasts.
    pub overwhelmed: bool,
    /// Its user's account has been taken over (phishing, stuffing, deepfake).
    pub account_taken_over: bool,
    /// Factory-default credentials have been replaced (hardening).
    pub hardened: bool,
    /// Index of the campaign holding it (meaningful while `compromised`).
    pub campaign: CampaignId,
    /// Times the node has been rebuilt or restored (wrapping): an attacker that took it
    /// before a rebuild holds it no more, even if another has taken it since.
    pub rebuilds: u8,
}

/// Index of a campaign in its scenario. Sixteen bits, so that scenarios generated over
/// combinations of threats can hold thousands of campaigns.
pub type CampaignId = u16;

/// [`Security`] as checkpoints store it: the nine flags in one integer (two bytes as a
/// varint instead of nine), then the campaign and the rebuild count.
#[derive(Serialize, Deserialize)]
struct PackedSecurity(u16, CampaignId, u8);

impl From<Security> for PackedSecurity {
    fn from(s: Security) -> Self {
        let flags = [
            s.compromised,
            s.quarantined,
            s.patched,
            s.alerted,
            s.ever_compromised,
            s.encrypted,
            s.overwhelmed,
            s.account_taken_over,
            s.hardened,
        ];
        let bits = flags
            .iter()
            .enumerate()
            .fold(0u16, |acc, (i, &f)| acc | (u16::from(f) << i));
        Self(bits, s.campaign, s.rebuilds)
    }
}

impl From<PackedSecurity> for Security {
    fn from(PackedSecurity(bits, campaign, rebuilds): PackedSecurity) -> Self {
        let flag = |i: u16| bits & (1 << i) != 0;
        Self {
            compromised: flag(0),
            quarantined: flag(1),
            patched: flag(2),
            alerted: flag(3),
            ever_compromised: flag(4),
            encrypted: flag(5),
            overwhelmed: flag(6),
            account_taken_over: flag(7),
            hardened: flag(8),
            campaign,
            rebuilds,
        }
    }
}

impl Security {
    /// Hands the node to `campaign`; false if it was already compromised.
    pub fn compromise(&mut self, campaign: CampaignId) -> bool {
        if self.compromised {
            return false;
        }
        self.compromised = true;
        self.ever_compromised = true;
        self.campaign = campaign;
        true
    }

    /// A clean rebuild or restore: the attacker is evicted and its access gone.
    pub fn rebuild(&mut self) {
        self.compromised = false;
        self.encrypted = false;
        self.rebuilds = self.rebuilds.wrapping_add(1);
    }

    /// Rebuilds an isolated node and puts it back on the network: clean, every flag
    /// cleared but `ever_compromised`, patched if `patch` (or if it already was). An
    /// attacker that held it holds it no more (`rebuilds` moves on).
    pub fn release(&mut self, patch: bool) {
        *self = Security {
            patched: patch || self.patched,
            ever_compromised: self.ever_compromised,
            rebuilds: self.rebuilds.wrapping_add(1),
            ..Security::default()
        };
    }

    /// Whether an exploit with a non-zero chance could take it over right now.
    pub fn exposed(&self) -> bool {
        !self.compromised && !self.quarantined && !self.patched
    }

    /// Whether it can serve requests: neither encrypted nor overwhelmed (quarantine is
    /// separate: it takes the node off the network altogether).
    pub fn serving(&self) -> bool {
        !self.encrypted && !self.overwhelmed
    }
}

/// What each campaign needs of a node to take it, as the attacker plugins declare it.
///
/// The simulator itself never reads it: it exists for observers that must tell where an
/// attacker *could* be from where it could not, without running the attack. The twin
/// weighs an alert with it: an alert on a node no campaign could take (a patched node
/// where only a worm is about) is a false alarm whatever the member's attacker holds
/// elsewhere in the group, while one on a node the worm can still take is compared with
/// the share of such nodes the attacker holds. A campaign no plugin declares may take
/// any node (the conservative answer).
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct AttackSurface {
    /// Per campaign of the scenario, what it needs; `None`: undeclared, any node.
    campaigns: Vec<Option<Surface>>,
}

/// What one campaign needs of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    /// Groups whose nodes it can take at all (by group id).
    pub groups: Vec<bool>,
    /// Patching closes the door (an exploit).
    pub needs_unpatched: bool,
    /// Replacing factory-default credentials closes it (a dictionary).
    pub needs_default_credentials: bool,
    /// Where its footholds land, and when: at its launch it takes nodes of this group
    /// whatever their state (initial access is not its exploit).
    pub entry: Option<(GroupId, u32)>,
}

impl Surface {
    /// Whether a node of `group` in state `s` is open to the campaign at `tick`, whatever
    /// it holds now: a node taken before it was patched counts as open to a worm; any
    /// node of the entry group at the launch tick and the next (a foothold acts, and a
    /// detector may see it, from the tick it lands).
    pub fn admits(&self, s: &Security, group: GroupId, tick: u32) -> bool {
        if let Some((entry, launch)) = self.entry
            && entry == group
            && (launch..=launch.saturating_add(1)).contains(&tick)
        {
            return true;
        }
        self.groups.get(group as usize).copied().unwrap_or(false)
            && !(self.needs_unpatched && s.patched)
            && !(self.needs_default_credentials && s.hardened)
    }
}

impl AttackSurface {
    /// `campaigns` campaigns, none declared yet: each may take any node.
    pub fn undeclared(campaigns: usize) -> Self {
        Self {
            campaigns: vec![None; campaigns],
        }
    }

    /// Declares what `campaign` needs (ignored past the scenario's campaigns).
    pub fn declare(&mut self, campaign: CampaignId, surface: Surface) {
        if let Some(slot) = self.campaigns.get_mut(usize::from(campaign)) {
            *slot = Some(surface);
        }
    }

    /// Per campaign of the scenario, what it needs (`None`: undeclared, any node).
    pub fn campaigns(&self) -> &[Option<Surface>] {
        &self.campaigns
    }

    /// Whether some campaign could take a node of `group` in state `s` at `tick` (or
    /// could have, before its last patch or hardening). False with no campaigns at all.
    pub fn admits(&self, s: &Security, group: GroupId, tick: u32) -> bool {
        self.campaigns
            .iter()
            .any(|c| c.as_ref().is_none_or(|c| c.admits(s, group, tick)))
    }
}

/// The defenders' detection model as attackers can influence it: a poisoning campaign
/// that corrupts its training data inflates the thresholds it learns.
///
/// Detection systems scale their thresholds by [`DetectionModel::threshold_scale_ppm`];
/// one million (the default) is an intact model.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionModel {
    /// Threshold multiplier, parts per million.
    pub threshold_scale_ppm: u64,
}

impl Default for DetectionModel {
    fn default() -> Self {
        Self {
            threshold_scale_ppm: 1_000_000,
        }
    }
}

impl DetectionModel {
    /// A threshold as the (possibly poisoned) model applies it.
    pub fn scale(&self, threshold: u32) -> u32 {
        (u64::from(threshold) * self.threshold_scale_ppm / 1_000_000).min(u64::from(u32::MAX))
            as u32
    }
}

/// What sensors can observe of a node in the current tick. Demand sets the benign
/// baseline; attack systems add to it; detection reads it. Nothing here says *why* a
/// node is busy: that is ground truth, which defenders do not see.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Telemetry {
    /// Outbound connection attempts this tick.
    pub connections: u32,
    /// Failed log-ins against the node this tick (typos; stuffing, deepfake attempts).
    pub auth_failures: u16,
    /// CPU/GPU load this tick, per mille (miners push it up).
    pub cpu_permille: u16,
}

/// Attack traffic that left nodes this tick, `(node, kbit/s)` in the order sent: what a
/// host agent or a flow exporter at the node's port counts beyond the node's benign
/// egress ([`benign_egress`]). Benign egress is a pure function of the node and the tick,
/// so a volume detector computes it where it looks and no node carries an egress field
/// (the 1M city keeps its byte budget). Attack systems write it (the targeted stage
/// clears it first), detectors read it in the sense stage of the same tick.
#[derive(Resource, Debug, Clone, Default)]
pub struct Egress {
    /// Attack traffic sent this tick, by node.
    pub sent: Vec<(u32, u32)>,
}

/// Typical CPU load of a kind, per mille; benign load varies ±100 around it.
pub fn base_cpu_permille(kind: NodeKind) -> u16 {
    match kind {
        NodeKind::IotWearable | NodeKind::IotSensor => 100,
        NodeKind::XrHeadset | NodeKind::ArGlasses | NodeKind::Phone => 250,
        NodeKind::EdgeServer | NodeKind::GpuNode | NodeKind::CloudVm | NodeKind::Server => 500,
        _ => 300,
    }
}

/// Typical data a node of a kind sends, kbit/s; benign egress varies ±50 % around it.
pub fn base_egress_kbps(kind: NodeKind) -> u32 {
    match kind {
        NodeKind::IotWearable | NodeKind::IotSensor => 20,
        NodeKind::XrHeadset | NodeKind::ArGlasses | NodeKind::Phone => 400,
        NodeKind::EdgeServer | NodeKind::GpuNode | NodeKind::CloudVm | NodeKind::Server => 4000,
        _ => 1000,
    }
}

/// The scenario a world was built from, shared by systems.
#[derive(Resource, Debug, Clone)]
pub struct ScenarioRes(pub Arc<Scenario>);

impl std::ops::Deref for ScenarioRes {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

/// The simulated clock. Tick 0 is the initial state; ticks 1..=`ticks` are simulated.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The tick being simulated (or last simulated).
    pub tick: u32,
    /// Tick length in microseconds.
    pub tick_micros: u64,
    /// Ticks in the run.
    pub ticks: u32,
    /// The first tick the records (time series, counters, events) cover: 0 for a run,
    /// the branching tick for a forecast branch ([`crate::universe::Universe::branch`]).
    pub start: u32,
}

crate::persist_whole!(DetectionModel);

/// The tick and where the records start are state; the tick's length and the run's
/// length come from the scenario.
impl Persist for Clock {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        encode::<Self, _>(&(self.tick, self.start), out)
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        (self.tick, self.start) = decode::<Self, _>(bytes)?;
        Ok(())
    }
}

impl Clock {
    /// Simulated seconds at the end of tick `tick`.
    pub fn seconds_at(&self, tick: u32) -> f64 {
        (u64::from(tick) * self.tick_micros) as f64 / 1e6
    }
}

/// Edits to nodes' [`Security`] made from outside the attack systems' own steps: by the
/// operator's actions that can hand a campaign a node (an exploit that succeeds, a launch
/// that moves a campaign's start), by a twin imposing what the real network's operators did
/// ([`Universe::with_security_mut`](crate::universe::Universe::with_security_mut)), or by
/// anything holding the world mutably
/// ([`Universe::world_mut`](crate::universe::Universe::world_mut)). A count that only
/// grows.
///
/// It exists for systems that keep, from one tick to the next, what they derived from
/// every node's security: a worm keeps the list of the nodes it holds rather than read
/// every node's state each tick to find them (#20). Such a list stays true while only the
/// worm itself adds nodes to it; when this count has moved, something else may have, and
/// the list is made afresh from every node.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecurityEdits(pub u64);

impl SecurityEdits {
    /// Records one more edit.
    pub fn record(&mut self) {
        self.0 = self.0.wrapping_add(1);
    }
}

/// Node slices are split into chunks of this many nodes for rayon. The chunking never
/// changes results (each node's draws are keyed by its id), only who computes them.
pub const CHUNK: usize = 8192;

/// Takes the single table chunk of a node query, checking the dense-table rule.
///
/// # Panics
/// If nodes are spread over several tables (a component was inserted or removed on some
/// node) or are not all there. That is a bug in a system, never a user error.
pub fn dense<T>(mut chunks: impl Iterator<Item = T>) -> T {
    let chunk = chunks
        .next()
        .expect("paraverse invariant: node components live in one table");
    assert!(
        chunks.next().is_none(),
        "paraverse invariant broken: nodes span several tables; systems must not insert or remove node components"
    );
    chunk
}

const PATCHED_AT_START: Stream = Stream::named("build.patch_level");

/// Spawns one entity per node of the scenario, in id order.
pub fn spawn_nodes(world: &mut World, scenario: &Scenario, rng: &SimRng) {
    let mut batch = Vec::with_capacity(scenario.node_count as usize);
    for (g, group) in scenario.groups.iter().enumerate() {
        for node in group.nodes() {
            let patched = group
                .patch_level
                .hit(rng.draw(PATCHED_AT_START, node, 0, 0));
            batch.push((
                NodeId(node),
                Kind(group.kind),
                InZone(group.zone),
                InGroup(g as GroupId),
                Security {
                    patched,
                    ..Security::default()
                },
                Telemetry::default(),
            ));
        }
    }
    world.spawn_batch(batch);
}

const BENIGN: Stream = Stream::named("demand.benign");
const BENIGN_BURST: Stream = Stream::named("demand.benign_burst");

/// Chance per node and tick, out of 2^20, that a user mistypes a password (a benign
/// failed log-in): 1 in 2,000.
pub const TYPO_IN_2_20: u64 = 524;

/// Chance per node and tick, out of 2^20, of a benign burst (an update check, peer
/// discovery) that looks like a scan to a rate-threshold detector; the source of honest
/// false positives: 1 in 5,000.
pub const BURST_IN_2_20: u64 = 210;

/// A node's benign telemetry in one tick, from one 64-bit draw of the tick's benign
/// stream ([`benign_draws`]), cut into fields:
///
/// - outbound connection attempts at the group's mean (`mean_fx`, 32.32): a triangular
///   draw on `[0, 2·mean]` (two 12-bit uniforms, bits 0–23, centred so the mean is exact),
///   rounded by a Bernoulli draw on the fraction (bits 32–43); with chance
///   [`BURST_IN_2_20`] (bits 44–63), a burst of up to `20·mean + 10` attempts (sized by a
///   second draw, taken only then). A group with a mean of 0 is silent: no attempts, no
///   bursts;
/// - a failed log-in (a typo) with chance [`TYPO_IN_2_20`] (bits 44–63, a range apart from
///   the burst's);
/// - CPU load: the kind's base (`base_cpu`, ‰) ±100 ‰, uniform (bits 24–31).
///
/// One draw where there were five keeps the million-node city's tick cheap (#20).
#[inline]
pub fn benign_telemetry(
    rng: &SimRng,
    d: u64,
    mean_fx: u64,
    base_cpu: u16,
    node: u32,
    tick: u32,
) -> Telemetry {
    // Two 12-bit uniforms summed, plus one, in units of 2^-12: (0, 2), mean 1 exactly.
    let tri = (((d & 0xFFF) + ((d >> 12) & 0xFFF) + 1) << 20) as u128;
    let fx = ((u128::from(mean_fx) * tri) >> 32) as u64;
    // A 12-bit uniform at the centre of its 2^20-wide step: unbiased rounding.
    let round = (((d >> 32) & 0xFFF) << 20) | (1 << 19);
    let mut connections = (fx >> 32) as u32 + u32::from(round < (fx & 0xFFFF_FFFF));
    let rare = d >> 44;
    if mean_fx > 0 && rare >= (1 << 20) - BURST_IN_2_20 {
        let span = (mean_fx >> 32) * 20 + 10;
        connections += rng.below(BENIGN_BURST, node, tick, 0, span + 1) as u32;
    }
    // 0..=200 from 8 bits, the half-step offset centring the mean on 100.
    let noise = ((((d >> 24) & 0xFF) * 201 + 100) >> 8) as u16;
    Telemetry {
        connections,
        auth_failures: u16::from(rare < TYPO_IN_2_20),
        cpu_permille: (base_cpu + noise).saturating_sub(100),
    }
}

/// The draws of [`benign_telemetry`] in one tick: node `n`'s is `benign_draws(..).draw(n)`.
#[inline]
pub fn benign_draws(rng: &SimRng, tick: u32) -> crate::rng::TickDraws {
    rng.tick_draws(BENIGN, tick)
}

/// Chance per node and tick (out of 65,536) of a benign bulk upload (a backup, a video, a
/// crash dump) at [`BULK_FACTOR`] times the node's usual egress: the honest false
/// positives of a volume detector. About 1 node-tick in 22,000.
pub const BULK_IN_65536: u64 = 3;

/// A bulk upload's rate, in multiples of the node's base egress.
pub const BULK_FACTOR: u32 = 20;

const BENIGN_EGRESS: Stream = Stream::named("demand.benign_egress");

/// Benign data one node sends in one tick, mean kbit/s: its kind's base ±50 %, uniform
/// (bits 0–15 of one draw), plus a bulk upload with chance [`BULK_IN_65536`] (bits
/// 16–31).
#[inline]
pub fn benign_egress(rng: &SimRng, base_egress: u32, node: u32, tick: u32) -> u32 {
    let d = rng.draw(BENIGN_EGRESS, node, tick, 0);
    let base = u64::from(base_egress);
    let mut egress = base / 2 + ((base * (d & 0xFFFF)) >> 16);
    if (d >> 16) & 0xFFFF < BULK_IN_65536 {
        egress += base * u64::from(BULK_FACTOR);
    }
    egress.min(u64::from(u32::MAX)) as u32
}

/// Demand stage: every node's telemetry starts the tick at its benign baseline.
pub fn benign_demand(
    mut nodes: Query<(&InGroup, &mut Telemetry)>,
    scenario: Res<ScenarioRes>,
    rng: Res<SimRng>,
    clock: Res<Clock>,
) {
    let (groups, mut telemetry) = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let telemetry = telemetry.bypass_change_detection();
    let means: Vec<u64> = scenario
        .groups
        .iter()
        .map(|g| g.connections.raw())
        .collect();
    let cpu: Vec<u16> = scenario
        .groups
        .iter()
        .map(|g| base_cpu_permille(g.kind))
        .collect();
    let (rng, tick) = (*rng, clock.tick);
    let draws = benign_draws(&rng, tick);
    telemetry
        .par_chunks_mut(CHUNK)
        .zip(groups.par_chunks(CHUNK))
        .enumerate()
        .for_each(|(c, (tel, grp))| {
            let base = (c * CHUNK) as u32;
            for (k, (t, g)) in tel.iter_mut().zip(grp).enumerate() {
                let node = base + k as u32;
                let g = g.0 as usize;
                *t = benign_telemetry(&rng, draws.draw(node), means[g], cpu[g], node, tick);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag survives packing on its own (a swapped or dropped bit would not).
    #[test]
    fn security_packs_and_unpacks_every_flag() {
        let all = Security::from(PackedSecurity(0x1ff, 3, 250));
        let round = |s: Security| Security::from(PackedSecurity::from(s));
        assert_eq!(round(all), all);
        for i in 0..9u16 {
            let one = Security::from(PackedSecurity(1 << i, 0, 0));
            assert_eq!(PackedSecurity::from(one).0, 1 << i);
            assert_eq!(round(one), one);
        }
        assert!(all.compromised && all.hardened && all.campaign == 3 && all.rebuilds == 250);
    }

    fn telemetry(mean: u64, base_cpu: u16, nodes: u32) -> Vec<Telemetry> {
        let rng = SimRng::new(1);
        let draws = benign_draws(&rng, 7);
        (0..nodes)
            .map(|n| benign_telemetry(&rng, draws.draw(n), mean, base_cpu, n, 7))
            .collect()
    }

    /// A silent group (mean 0) makes no attempts, bursts included; a busy one bursts
    /// about once in 5,000 node-ticks.
    #[test]
    fn silent_groups_never_burst() {
        let silent: u32 = telemetry(0, 0, 200_000).iter().map(|t| t.connections).sum();
        assert_eq!(silent, 0);
        let mean = crate::rng::PerTick::from_rate(1.0, 1_000_000).raw();
        let bursts = telemetry(mean, 0, 200_000)
            .iter()
            .filter(|t| t.connections > 2)
            .count();
        assert!(
            (20..70).contains(&bursts),
            "{bursts} bursts in 200,000 node-ticks"
        );
    }

    /// The fields of the one draw have their stated laws: the mean of the connection
    /// count (bursts aside) within 1 % of the group's mean, spread over `[0, 2·mean]`;
    /// typos about one in 2,000; CPU load within ±100 ‰ of the base with mean the base.
    #[test]
    fn benign_telemetry_has_its_stated_laws() {
        let n = 400_000u32;
        let mean = crate::rng::PerTick::from_rate(3.7, 1_000_000).raw();
        let all = telemetry(mean, 300, n);
        let plain: Vec<u32> = all
            .iter()
            .map(|t| t.connections)
            .filter(|&c| c <= 8)
            .collect();
        let average = plain.iter().map(|&c| f64::from(c)).sum::<f64>() / plain.len() as f64;
        assert!((average - 3.7).abs() < 0.037, "mean {average}");
        assert!(plain.contains(&0) && plain.contains(&7));
        let typos = all.iter().filter(|t| t.auth_failures > 0).count();
        assert!((150..260).contains(&typos), "{typos} typos in {n}");
        let cpu: Vec<u16> = all.iter().map(|t| t.cpu_permille).collect();
        assert!(cpu.iter().all(|&c| (200..=400).contains(&c)));
        assert!(cpu.contains(&200) && cpu.contains(&400));
        let cpu_mean = cpu.iter().map(|&c| f64::from(c)).sum::<f64>() / f64::from(n);
        assert!((cpu_mean - 300.0).abs() < 0.5, "CPU mean {cpu_mean}");
    }
}
