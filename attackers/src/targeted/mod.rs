//! Targeted campaigns: a foothold, lateral movement toward a target group, and an action
//! on the objective once there. One engine ([`approach`]) serves intrusion,
//! cryptojacking, exfiltration, asset theft, ransomware, false data injection and
//! poisoning; only the action differs, and each kind's action lives in its own module
//! behind one small interface, [`Objective`]: its kill-chain steps after the approach,
//! what its goal counts, and what it does each tick to the target nodes it holds.
//!
//! # Adding a targeted kind
//!
//! Its data and validation go in the scenario schema (`paraverse_sim::scenario`); its
//! behaviour is one module here implementing [`Objective`], registered by one arm of
//! [`objective`]. That match is exhaustive over every campaign kind, so a new kind
//! cannot run as a targeted one by accident.
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
//! Held, unquarantined target nodes then suffer the kind's action, one module each:
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

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy_ecs::prelude::*;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::{Approach, CampaignKind, DataClass, Group, NodeKind};
use rayon::prelude::*;

use crate::chain::{Ctx, Out};
use crate::ledger::Ledger;

pub mod approach;
mod asset_theft;
mod cryptojacking;
mod exfiltration;
mod false_data;
mod intrusion;
mod poisoning;
mod ransomware;
mod supply_chain;

pub use approach::{DICTIONARY, credential_chance};
pub use asset_theft::drain;
pub use false_data::real_value;

/// What a targeted kind does once the shared [`approach`] holds nodes of its target group.
pub trait Objective: std::fmt::Debug + Send + Sync {
    /// Its kill-chain steps after the approach's four (initial access, discovery, lateral
    /// movement, privilege escalation); the last is the goal.
    fn steps(&self) -> Vec<KillStep>;
    /// What its goal counts, for reports ("records stolen").
    fn unit(&self) -> &'static str;
    /// Acts this tick on the target nodes the campaign holds.
    fn act(&self, c: &mut TargetedCampaign, st: &mut Stage<'_, '_>, targets: &Targets<'_>);
}

/// The registry of targeted kinds: a kind's [`Objective`], or `None` for the scanning
/// (worm, botnet) and identity (phishing, takeover) families, which have engines of
/// their own.
pub fn objective(kind: &CampaignKind) -> Option<Arc<dyn Objective>> {
    Some(match kind {
        CampaignKind::Intrusion => Arc::new(intrusion::Intrusion),
        CampaignKind::Cryptojacking { share_permille } => Arc::new(cryptojacking::Cryptojacking {
            share_permille: *share_permille,
        }),
        CampaignKind::Exfiltration {
            drop,
            kbps,
            record_bytes,
        } => Arc::new(exfiltration::Exfiltration {
            drop: *drop,
            kbps: *kbps,
            record_bytes: *record_bytes,
        }),
        CampaignKind::AssetTheft {
            transfers_per_tick,
            double_spend,
        } => Arc::new(asset_theft::AssetTheft {
            transfers_per_tick: *transfers_per_tick,
            double_spend: *double_spend,
        }),
        CampaignKind::Ransomware { dwell_ticks } => Arc::new(ransomware::Ransomware {
            dwell_ticks: *dwell_ticks,
        }),
        CampaignKind::FalseData(f) => Arc::new(false_data::FalseDataInjection(*f)),
        CampaignKind::Poisoning {
            samples_per_tick,
            samples_needed,
            strength_ppm,
        } => Arc::new(poisoning::Poisoning {
            samples_per_tick: *samples_per_tick,
            samples_needed: *samples_needed,
            strength_ppm: *strength_ppm,
        }),
        CampaignKind::SupplyChain(s) => Arc::new(supply_chain::Trojan(s.clone())),
        CampaignKind::Worm(_)
        | CampaignKind::Botnet(_)
        | CampaignKind::Phishing { .. }
        | CampaignKind::Takeover(_) => return None,
    })
}

/// One targeted campaign and its progress.
#[derive(Debug, Clone)]
pub struct TargetedCampaign {
    /// Index in the scenario.
    pub campaign: CampaignId,
    /// First tick.
    pub start_tick: u32,
    /// Kind and parameters.
    pub kind: CampaignKind,
    /// Entry, access, target, rates.
    pub approach: Approach,
    /// Goal in the kind's unit.
    pub goal: u64,
    /// What the kind does on its target.
    objective: Arc<dyn Objective>,
    stream: Stream,
    /// Hops from each node to the nearest target node (`u16::MAX`: unreachable).
    distance: Vec<u16>,
    /// Initial-access chance per group (before node state).
    access: Vec<Chance>,
    /// Lateral-movement chance per group: (exploit if unpatched, credentials).
    lateral: Vec<(Chance, Chance)>,
    /// Nodes the campaign holds, with the tick it took each and the node's rebuild count
    /// then. A node another campaign already holds can be taken too (co-infection); its
    /// [`Security`] keeps the first owner, and the node leaves this set when it is rebuilt.
    held: BTreeMap<u32, (u32, u8)>,
    /// Progress in the kind's unit (records, assets, samples, wrong decisions).
    progress: u64,
    /// Exfiltration state per target node (exfiltration only).
    exfil: BTreeMap<u32, exfiltration::Exfil>,
}

/// Records of one node by class, in [`DataClass::ALL`] order.
type Records = [u64; DataClass::ALL.len()];

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
    data_left: BTreeMap<u32, Records>,
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
        type Campaign = (
            BTreeMap<u32, (u32, u8)>,
            u64,
            BTreeMap<u32, exfiltration::Exfil>,
        );
        let (list, data_left): (Vec<Campaign>, BTreeMap<u32, Records>) =
            paraverse_sim::checkpoint::decode::<Self, _>(bytes)?;
        paraverse_sim::checkpoint::same_len("targeted campaigns", list.len(), self.list.len())?;
        for (c, (held, progress, exfil)) in self.list.iter_mut().zip(list) {
            (c.held, c.progress, c.exfil) = (held, progress, exfil);
        }
        self.data_left = data_left;
        Ok(())
    }
}

impl TargetedCampaigns {
    /// The targeted campaigns of a scenario (empty if none).
    pub fn new(scenario: &Scenario, topology: &Topology) -> Result<Self, String> {
        let mut list = Vec::new();
        for (i, c) in scenario.campaigns.iter().enumerate() {
            let Some(objective) = objective(&c.kind) else {
                continue;
            };
            let a = c.approach.clone().ok_or_else(|| {
                format!("campaign `{}`: a targeted kind needs an approach", c.name)
            })?;
            let target = &scenario.groups[a.target as usize];
            let distance = approach::hop_distance(topology, target.nodes());
            let entry = &scenario.groups[a.entry as usize];
            if entry.nodes().all(|n| distance[n as usize] == u16::MAX) {
                return Err(format!(
                    "campaign `{}`: no node of entry group `{}` has a path to target group `{}`",
                    c.name, entry.name, target.name
                ));
            }
            list.push(TargetedCampaign {
                campaign: i as CampaignId,
                start_tick: c.start_tick,
                kind: c.kind.clone(),
                objective,
                access: scenario
                    .groups
                    .iter()
                    .map(|g| approach::access_chance(a.access, g, a.credential_reuse))
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
pub fn held_by(security: &[Security], campaign: CampaignId) -> Vec<u32> {
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

/// Campaign-level draws use this entity id (no node is `u32::MAX`).
pub(crate) const CAMPAIGN: u32 = u32::MAX;

/// What every targeted campaign reads and writes in one attack stage.
pub struct Stage<'a, 'w> {
    /// This tick.
    pub tick: u32,
    /// Its length, µs.
    pub tick_us: u64,
    /// Randomness.
    pub rng: SimRng,
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The topology.
    pub topology: &'a Topology,
    /// Each node's group.
    pub groups: &'a [InGroup],
    /// Each node's kind.
    pub kinds: &'a [Kind],
    /// Each node's security state.
    pub security: &'a mut [Security],
    /// Each node's telemetry (what host sensors see).
    pub telemetry: &'a mut [Telemetry],
    /// Counters, events, kill chains.
    pub out: &'a mut Out<'w>,
    /// The ledger (when a kind moves assets).
    pub ledger: Option<&'a mut Ledger>,
    /// The traffic core (when the scenario has flows).
    pub traffic: Option<&'a mut TrafficCore>,
    /// What the zero-trust and segmentation policy admits.
    pub policy: &'a AccessPolicy,
    /// Certain alerts (decoys touched).
    pub tripwires: &'a mut Tripwires,
    /// Attack traffic leaving nodes this tick, `(node, kbit/s)`.
    pub egress: &'a mut Vec<(u32, u32)>,
    /// Records no campaign has stolen yet ([`TargetedCampaigns`]).
    data_left: &'a mut BTreeMap<u32, Records>,
    /// Effects several campaigns add up to, published at the end of the stage.
    effects: Effects,
}

/// The target nodes a campaign holds this tick.
pub struct Targets<'g> {
    /// The target group.
    pub group: &'g Group,
    /// Held target nodes, in id order.
    pub held: Vec<u32>,
    /// Those of them not quarantined, which the action reaches.
    pub active: Vec<u32>,
}

/// Gauges several campaigns feed together, set once at the end of the stage.
#[derive(Debug, Default)]
struct Effects {
    /// Compute the miners hold, ppm of a node, summed over nodes.
    hijacked_ppm: u64,
    /// The digital twin's worst divergence, milli-units (false data).
    divergence: Option<u64>,
    /// The detector's worst threshold scale, ppm (poisoning).
    scale_ppm: Option<u64>,
}

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
    mut egress: ResMut<Egress>,
) {
    egress.sent.clear();
    let (groups, kinds, mut security, mut telemetry) =
        dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let campaigns = &mut *campaigns;
    let mut st = Stage {
        tick: ctx.clock.tick,
        tick_us: ctx.clock.tick_micros,
        rng: *ctx.rng,
        scenario: &ctx.scenario,
        topology: &ctx.topology,
        groups,
        kinds,
        security: security.bypass_change_detection(),
        telemetry: telemetry.bypass_change_detection(),
        out: &mut out,
        ledger: ledger.as_deref_mut(),
        traffic: traffic.as_deref_mut(),
        policy: &policy,
        tripwires: &mut tripwires,
        egress: &mut egress.sent,
        data_left: &mut campaigns.data_left,
        effects: Effects::default(),
    };
    for tc in &mut campaigns.list {
        if st.tick < ctx.start(tc.campaign, tc.start_tick) {
            continue;
        }
        // Nodes rebuilt since the campaign took them (clean, or compromised anew after
        // the campaign took them) are lost.
        tc.held.retain(|&n, &mut at| {
            let s = &st.security[n as usize];
            s.compromised && s.rebuilds == at.1
        });
        approach::initial_access(tc, &mut st);
        approach::lateral_movement(tc, &mut st);
        let targets = tc.targets(&st);
        let objective = Arc::clone(&tc.objective);
        objective.act(tc, &mut st, &targets);
    }
    let effects = std::mem::take(&mut st.effects);
    effects.publish(&mut out, &mut model, campaigns.compute_nodes);
}

impl TargetedCampaign {
    /// The target nodes it holds, and which of them are active.
    fn targets<'g>(&self, st: &Stage<'g, '_>) -> Targets<'g> {
        let scenario: &'g Scenario = st.scenario;
        let group = &scenario.groups[self.approach.target as usize];
        let held: Vec<u32> = self
            .held
            .keys()
            .copied()
            .filter(|n| group.nodes().contains(n))
            .collect();
        let active = held
            .iter()
            .copied()
            .filter(|&n| !st.security[n as usize].quarantined)
            .collect();
        Targets {
            group,
            held,
            active,
        }
    }
}

impl Effects {
    /// Sets the gauges the campaigns fed this tick.
    fn publish(self, out: &mut Out<'_>, model: &mut DetectionModel, compute_nodes: u64) {
        if let (Some(id), true) = (out.impact.compute_available, compute_nodes > 0) {
            let total = compute_nodes * 1_000_000;
            out.metrics
                .set(id, total.saturating_sub(self.hijacked_ppm) / compute_nodes);
        }
        if let (Some(id), Some(d)) = (out.impact.twin_divergence, self.divergence) {
            out.metrics.set(id, d);
        }
        if let Some(scale) = self.scale_ppm {
            model.threshold_scale_ppm = scale;
            if let Some(id) = out.impact.detector_scale {
                out.metrics.set(id, scale);
            }
        }
    }
}
