//! The traffic core: flow-level bandwidth sharing on the topology, each tick.
//!
//! Flows live in flat arrays ([`FlowSet`]), never as entities. Each tick the traffic
//! stage (1) takes quarantined nodes out (their flows stop; paths through them are
//! rerouted), (2) sets each flow's demand (peak rate × the daily profile), (3) allocates
//! bandwidth max-min fairly within strict priority classes on a [`Backend`] — CPU
//! (progressive filling) or GPU (wgpu rounds) — exactly, in integer arithmetic, so both
//! agree bit for bit (see [`maxmin`]), and (4) derives per-channel
//! utilisation, queueing delay and loss, per-flow latency, and XR quality: the share of XR
//! streams that get their full rate within their latency budget, overall and per zone.
//!
//! # Link model
//!
//! A link is full duplex: two channels with the tier's capacity. A channel's *offered*
//! load is the sum of the demands routed over it. Queueing delay is that of an M/M/1
//! queue of 1500-byte packets, `T·ρ/(1−ρ)` with `T = 12,000 bit / capacity` and
//! `ρ = offered / capacity`, capped by the buffer (`traffic.queue_limit`, default 50 ms)
//! once `ρ` nears 1; loss is the excess `(offered − capacity) / offered` of an overloaded
//! channel. A flow's latency is the sum of propagation and queueing delays on its path.
//! An XR stream is *good* in a tick when its allocated rate equals its demand and its
//! latency is within budget.
//!
//! # Attack traffic
//!
//! Campaigns add flows with [`TrafficCore::add_flows`] (DDoS, scanning, exfiltration
//! classes) and change their demand with [`TrafficCore::set_demand`]; attack flows then
//! compete for capacity like any other, which is how a DDoS degrades XR quality.

pub mod gpu;
pub mod maxmin;
pub mod routing;

use std::borrow::Cow;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, Persist, decode, encode, same_len};
use crate::metrics::{CounterId, Metrics, XR_OK, XR_TOTAL};
use crate::policy::AccessPolicy;
use crate::rng::{SimRng, Stream};
use crate::scenario::{Direction, FlowClass, Scenario, ServiceId};
use crate::topology::Topology;
use crate::universe::SimFault;
use crate::universe::{SimPlugin, SimStage, UniverseBuilder};
use crate::world::{Clock, ScenarioRes, Security, dense};
use maxmin::{AllocationProblem, Filling, Rate};

/// Errors of the traffic core.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// No GPU adapter (not even a software one) could be opened.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The GPU failed during an allocation.
    #[error("GPU backend failed: {0}")]
    Gpu(String),
}

/// Which backend allocates bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// rayon on the CPU.
    #[default]
    Cpu,
    /// wgpu compute; an error if no adapter exists.
    Gpu,
    /// The GPU if an adapter exists, else the CPU.
    Auto,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            "auto" => Ok(Self::Auto),
            _ => Err(format!("unknown backend `{s}`: expected cpu, gpu or auto")),
        }
    }
}

/// A bandwidth allocator.
pub enum Backend {
    /// Progressive filling with a queue of links, on the CPU.
    Cpu(Box<Filling>),
    /// The GPU round algorithm.
    Gpu(Box<gpu::GpuAllocator>),
}

impl Backend {
    /// Opens the chosen backend. With [`BackendChoice::Auto`] and no adapter, returns the
    /// CPU backend and the reason the GPU was not used.
    pub fn open(choice: BackendChoice) -> Result<(Self, Option<String>), TrafficError> {
        match choice {
            BackendChoice::Cpu => Ok((Backend::Cpu(Box::default()), None)),
            BackendChoice::Gpu => Ok((Backend::Gpu(Box::new(gpu::GpuAllocator::new()?)), None)),
            BackendChoice::Auto => match gpu::GpuAllocator::new() {
                Ok(g) => Ok((Backend::Gpu(Box::new(g)), None)),
                Err(e) => Ok((Backend::Cpu(Box::default()), Some(e.to_string()))),
            },
        }
    }

    /// `cpu` or `gpu (<adapter>)`.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu(_) => format!("cpu ({} threads)", rayon::current_num_threads()),
            Backend::Gpu(g) => format!("gpu ({})", g.adapter_name()),
        }
    }

    /// Allocates `p` into `rate`, in units of 2^-32 kbit/s ([`maxmin::Rate`]).
    pub fn allocate(
        &mut self,
        p: &AllocationProblem<'_>,
        paths_version: u64,
        rate: &mut [Rate],
    ) -> Result<(), TrafficError> {
        match self {
            Backend::Cpu(f) => {
                f.allocate(p, Some(paths_version), rate);
                Ok(())
            }
            Backend::Gpu(g) => g.allocate(p, paths_version, rate),
        }
    }

    /// Steps the last allocation took: progressive-filling steps on the CPU, rounds
    /// dispatched on the GPU.
    pub fn last_steps(&self) -> u32 {
        match self {
            Backend::Cpu(f) => f.last_steps,
            Backend::Gpu(g) => g.last_rounds,
        }
    }
}

/// A flow to add through [`TrafficCore::add_flows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewFlow {
    /// Sending node.
    pub src: u32,
    /// Receiving node.
    pub dst: u32,
    /// What it carries.
    pub class: FlowClass,
    /// Demand, kbit/s.
    pub demand_kbps: u32,
    /// Priority class.
    pub priority: u8,
    /// The destination's service it uses (`None`: a port in no declared service).
    pub service: Option<ServiceId>,
}

/// Origin of a flow: a `[[flow]]` spec, or added through the API.
const ADDED: u16 = u16::MAX;

/// The fewest flows a parallel task of a tick's per-flow passes takes (demand, latency):
/// below it the pass runs on the calling thread.
const MIN_FLOWS_PER_TASK: usize = 4096;

/// All flows, as flat arrays indexed by flow id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FlowSet {
    /// Sending node.
    pub src: Vec<u32>,
    /// Receiving node.
    pub dst: Vec<u32>,
    /// The XR/benign client end (zone of XR quality), = dst or src.
    pub client: Vec<u32>,
    /// Class.
    pub class: Vec<FlowClass>,
    /// Peak demand (kbit/s) before the daily profile; for added flows, the demand.
    pub base_demand: Vec<u32>,
    /// This tick's demand (0 when inactive).
    pub demand: Vec<u32>,
    /// Priority class.
    pub priority: Vec<u8>,
    /// Latency budget, µs (u64::MAX for none).
    pub budget_us: Vec<u64>,
    /// Spec index, or `ADDED`.
    pub origin: Vec<u16>,
    /// Whether the daily profile applies.
    pub diurnal: Vec<bool>,
    /// The server's service it uses (`None`: a port in no declared service): the access
    /// policy admits flows by service.
    pub service: Vec<Option<ServiceId>>,
    /// Flow `f`'s channels: `path_links[path_offsets[f]..path_offsets[f+1]]`.
    pub path_offsets: Vec<u32>,
    /// Channels of all paths.
    pub path_links: Vec<u32>,
    /// The same paths in dense ids (indices into [`TrafficCore::used_channels`]): the
    /// allocation and the per-channel results cover only channels some path uses.
    /// Not in checkpoints: derived from `path_links`.
    #[serde(skip)]
    pub dense_links: Vec<u32>,
    /// Whether a path exists.
    pub routed: Vec<bool>,
}

/// One flow's fields, for [`FlowSet::push`].
struct FlowEntry {
    src: u32,
    dst: u32,
    client: u32,
    class: FlowClass,
    base_demand: u32,
    priority: u8,
    budget_us: u64,
    origin: u16,
    diurnal: bool,
    service: Option<ServiceId>,
}

impl FlowSet {
    /// Appends a flow, unrouted and with no demand yet.
    fn push(&mut self, e: FlowEntry) {
        self.src.push(e.src);
        self.dst.push(e.dst);
        self.client.push(e.client);
        self.class.push(e.class);
        self.base_demand.push(e.base_demand);
        self.demand.push(0);
        self.priority.push(e.priority);
        self.budget_us.push(e.budget_us);
        self.origin.push(e.origin);
        self.diurnal.push(e.diurnal);
        self.service.push(e.service);
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.src.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }
}

/// Per-tick results of the traffic core.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrafficState {
    /// Allocated rate per flow, kbit/s, rounded down (the allocation is exact to 2^-32
    /// kbit/s; see [`maxmin`]).
    pub rate: Vec<u32>,
    /// Latency per flow, µs.
    pub latency_us: Vec<u64>,
    /// Allocated load per used channel (dense id), kbit/s: the exact rates' sum, rounded
    /// to the nearest kbit/s (a saturated bottleneck reads its capacity).
    pub load: Vec<u64>,
    /// Offered load per used channel, kbit/s.
    pub offered: Vec<u64>,
    /// Queueing delay per used channel, µs.
    pub queue_us: Vec<u64>,
}

struct TrafficCounters {
    xr_total: CounterId,
    xr_ok: CounterId,
    xr_zone: Vec<Option<(CounterId, CounterId)>>,
    xr_quality: CounterId,
    max_util: CounterId,
    saturated: CounterId,
    delivered: CounterId,
    flows_active: CounterId,
    /// Benign and attack flow-ticks the access policy refused (only when one is set).
    blocked: Option<(CounterId, CounterId)>,
}

/// The traffic core: flows, routing state, backend and results.
#[derive(Resource)]
pub struct TrafficCore {
    /// The flows.
    pub flows: FlowSet,
    /// Capacity per channel, kbit/s.
    pub capacity: Vec<u32>,
    /// Channels that some path uses, by dense id.
    used: Vec<u32>,
    /// Capacity per used channel.
    used_capacity: Vec<u32>,
    /// Propagation delay per link, µs (at least 1, so shortest paths are well founded).
    pub latency_us: Vec<u64>,
    /// Results of the last tick.
    pub state: TrafficState,
    /// This tick's exact rates, 2^-32 kbit/s (scratch: `state.rate` is what persists).
    exact_rate: Vec<Rate>,
    backend: Backend,
    down: Vec<bool>,
    /// Benign flows wanted this tick but not served because an end is encrypted or
    /// overwhelmed (they count as failed XR flow-ticks).
    unserved: Vec<u32>,
    /// Per node, how many paths pass it after their first hop (carriers and servers):
    /// when such a node is quarantined, flows are rerouted.
    transit: Vec<u32>,
    paths_version: u64,
    /// Each flow spec's distance field and the down flags it is for, kept for reroutes.
    fields: Option<Fields>,
    /// Reroutes that updated the kept fields instead of routing afresh (for tests).
    incremental_reroutes: u64,
    /// Propagation delay along each flow's path, µs, and the paths' version it is for.
    propagation_us: (Option<u64>, Vec<u64>),
    /// The part of the allocation the solver gets: flows over oversubscribed channels.
    oversubscribed: Oversubscribed,
    /// `per_channel_sums`' partial sums of the threads but the first, kept between ticks
    /// so no channel-sized array is allocated each tick (never saved).
    partial_sums: Vec<Vec<u64>>,
    counters: TrafficCounters,
    /// Why `auto` fell back to the CPU, if it did.
    pub fallback: Option<String>,
    /// The background flows measured link loads added, by link (derived from `flows`).
    measured: MeasuredLinks,
}

/// The background flows [`TrafficCore::set_measured_load`] added, by (from, to), so a
/// measurement finds its flow without a scan of every flow. Derived from the flows: it
/// catches up with flows added since it last looked and starts over after a restore, so it
/// is never saved.
#[derive(Debug, Clone, Default)]
struct MeasuredLinks {
    /// Flows looked at so far.
    seen: usize,
    /// The first added background flow of each (from, to).
    by_link: std::collections::BTreeMap<(u32, u32), u32>,
}

impl MeasuredLinks {
    /// The added background flow from `from` to `to`, if there is one.
    fn find(&mut self, flows: &FlowSet, from: u32, to: u32) -> Option<u32> {
        if self.seen > flows.len() {
            *self = Self::default();
        }
        for f in self.seen..flows.len() {
            if flows.origin[f] == ADDED && flows.class[f] == FlowClass::Background {
                self.by_link
                    .entry((flows.src[f], flows.dst[f]))
                    .or_insert(f as u32);
            }
        }
        self.seen = flows.len();
        self.by_link.get(&(from, to)).copied()
    }
}

/// A routed walk: the far end reached, the nodes after the start, the links used.
type Walk = (u32, Vec<u32>, Vec<u32>);

/// Each link's two channels' capacity (kbit/s, one per direction) and its latency, from
/// its tier.
fn channels(scenario: &Scenario, topology: &Topology) -> (Vec<u32>, Vec<u64>) {
    let links = topology.link_count();
    let mut capacity = vec![0u32; 2 * links];
    let mut latency_us = vec![1u64; links];
    for l in 0..links as u32 {
        let tier = &scenario.links[topology.tier(l) as usize];
        let kbps = (tier.capacity.bits_per_second() / 1000).min(u64::from(u32::MAX)) as u32;
        capacity[2 * l as usize] = kbps;
        capacity[2 * l as usize + 1] = kbps;
        latency_us[l as usize] = tier.latency.as_micros().max(1);
    }
    (capacity, latency_us)
}

/// The scenario's benign flows: one per client node of each `[[flow]]` that its share
/// draws (keyed, so the set does not depend on the order of anything).
fn benign_flows(scenario: &Scenario, rng: &SimRng) -> FlowSet {
    let mut flows = FlowSet::default();
    for (spec_id, spec) in scenario.flows.iter().enumerate() {
        let clients = &scenario.groups[spec.clients as usize];
        for c in clients.nodes() {
            if !spec
                .share
                .hit(rng.draw(FLOW_SHARE.derive(spec_id as u64), c, 0, 0))
            {
                continue;
            }
            let (src, dst) = match spec.direction {
                Direction::Downstream => (u32::MAX, c),
                Direction::Upstream => (c, u32::MAX),
            };
            flows.push(FlowEntry {
                src,
                dst,
                client: c,
                class: spec.class,
                base_demand: spec.rate_kbps,
                priority: spec.priority,
                budget_us: spec.latency_budget_us.unwrap_or(u64::MAX),
                origin: spec_id as u16,
                diurnal: spec.diurnal,
                service: spec.service,
            });
        }
    }
    flows
}

impl TrafficCounters {
    /// Registers the traffic core's counters and gauges (per-zone XR counters first, for
    /// the zones with XR clients).
    fn register(scenario: &Scenario, metrics: &mut Metrics) -> Self {
        let mut xr_zones = vec![false; scenario.zones.len()];
        for spec in scenario
            .flows
            .iter()
            .filter(|f| f.class == FlowClass::XrStream)
        {
            xr_zones[scenario.groups[spec.clients as usize].zone as usize] = true;
        }
        let xr_zone = scenario
            .zones
            .iter()
            .zip(&xr_zones)
            .map(|(z, &has_xr)| {
                has_xr.then(|| {
                    (
                        metrics.register(
                            Cow::Owned(format!("{XR_TOTAL}:{z}")),
                            "active XR flow-ticks in the zone",
                        ),
                        metrics.register(
                            Cow::Owned(format!("{XR_OK}:{z}")),
                            "XR flow-ticks within budget in the zone",
                        ),
                    )
                })
            })
            .collect();
        TrafficCounters {
            xr_quality: metrics.register_gauge(
                "xr_quality_ppm",
                "share of XR flows within budget, per million",
            ),
            xr_total: metrics.register(XR_TOTAL, "active XR flow-ticks"),
            xr_ok: metrics.register(XR_OK, "XR flow-ticks within rate and latency budget"),
            xr_zone,
            max_util: metrics.register_gauge(
                "max_link_util_permille",
                "busiest channel's allocated load over capacity, per mille",
            ),
            saturated: metrics.register_gauge(
                "overloaded_channels",
                "channels offered more than their capacity",
            ),
            delivered: metrics.register_gauge("delivered_mbps", "total allocated rate, Mbit/s"),
            flows_active: metrics.register_gauge("active_flows", "flows with demand this tick"),
            blocked: (scenario.defense.segmentation.is_some()
                || scenario.defense.zero_trust.is_some())
            .then(|| blocked_counters(metrics)),
        }
    }
}

const FLOW_SHARE: Stream = Stream::named("traffic.flow_share");

impl TrafficCore {
    /// Builds the flows of the scenario and routes them.
    pub fn new(
        scenario: &Scenario,
        topology: &Topology,
        rng: &SimRng,
        backend: Backend,
        metrics: &mut Metrics,
    ) -> Self {
        let (capacity, latency_us) = channels(scenario, topology);
        let flows = benign_flows(scenario, rng);
        let counters = TrafficCounters::register(scenario, metrics);
        let n = topology.node_count();
        let mut core = Self {
            flows,
            capacity,
            used: Vec::new(),
            used_capacity: Vec::new(),
            latency_us,
            state: TrafficState::default(),
            exact_rate: Vec::new(),
            oversubscribed: Oversubscribed::default(),
            partial_sums: Vec::new(),
            propagation_us: (None, Vec::new()),
            fields: None,
            incremental_reroutes: 0,
            backend,
            down: vec![false; n],
            unserved: Vec::new(),
            transit: vec![0; n],
            paths_version: 0,
            counters,
            fallback: None,
            measured: MeasuredLinks::default(),
        };
        core.route_all(scenario, topology);
        core
    }

    /// The channels some path uses; per-channel results are indexed like this list.
    pub fn used_channels(&self) -> &[u32] {
        &self.used
    }

    /// Capacity of each used channel, kbit/s.
    pub fn used_capacity(&self) -> &[u32] {
        &self.used_capacity
    }

    /// Offered load per used channel (indexed like [`TrafficCore::used_channels`]) as of
    /// the last tick, kbit/s: what a link's counters would read.
    pub fn offered_loads(&self) -> &[u64] {
        &self.state.offered
    }

    /// The backend in use, for display.
    pub fn backend(&self) -> String {
        self.backend.describe()
    }

    /// Steps of the last allocation ([`Backend::last_steps`]).
    pub fn last_steps(&self) -> u32 {
        self.backend.last_steps()
    }

    /// Adds flows (e.g. a botnet's DDoS) and routes them; returns their ids.
    pub fn add_flows(&mut self, topology: &Topology, new: &[NewFlow]) -> std::ops::Range<u32> {
        let first = self.flows.len() as u32;
        for f in new {
            self.flows.push(FlowEntry {
                src: f.src,
                dst: f.dst,
                client: f.src,
                class: f.class,
                base_demand: f.demand_kbps,
                priority: f.priority,
                budget_us: u64::MAX,
                origin: ADDED,
                diurnal: false,
                service: f.service,
            });
        }
        // Paths of existing flows are kept; the new ones are routed and appended.
        let mut paths: Vec<Vec<u32>> = (0..self.flows.len())
            .map(|f| self.path(f).to_vec())
            .collect();
        self.route_added(topology, first as usize, &mut paths);
        self.store_paths(paths);
        first..self.flows.len() as u32
    }

    /// Makes the traffic offered on the channel from `from` to its neighbour `to` read
    /// `measured` kbit/s, as a real network's sensor reports it: the part the scenario's
    /// own flows do not offer there (as of the last tick) becomes one background flow from
    /// `from` to `to` (added on first use, its demand set on each later report; 0 when the
    /// model already offers as much). Returns the background demand set. Errors if the two
    /// nodes share no link, or the path between them is not that link.
    pub fn set_measured_load(
        &mut self,
        topology: &Topology,
        from: u32,
        to: u32,
        measured: u64,
    ) -> Result<u32, String> {
        let nodes = topology.node_count() as u32;
        if from >= nodes || to >= nodes {
            return Err(format!("node {} is not in the network", from.max(to)));
        }
        let Some(i) = topology.neighbours(from).iter().position(|&n| n == to) else {
            return Err(format!("nodes {from} and {to} share no link"));
        };
        let channel = routing::channel(topology, topology.neighbour_links(from)[i], from);
        let existing = self.measured.find(&self.flows, from, to);
        let flow = match existing {
            Some(f) => f,
            None => {
                let added = self.add_flows(
                    topology,
                    &[NewFlow {
                        src: from,
                        dst: to,
                        class: FlowClass::Background,
                        demand_kbps: 0,
                        priority: FlowClass::Background.default_priority(),
                        service: None,
                    }],
                );
                added.start
            }
        };
        let f = flow as usize;
        if self.flows.routed[f] && self.path(f) != [channel] {
            return Err(format!(
                "traffic from node {from} to node {to} does not take their link"
            ));
        }
        let dense = self.used.binary_search(&channel).ok();
        let offered = dense.map_or(0, |d| self.state.offered.get(d).copied().unwrap_or(0));
        let own = u64::from(self.flows.demand.get(f).copied().unwrap_or(0));
        let modelled = offered.saturating_sub(own);
        let background = measured.saturating_sub(modelled).min(u64::from(u32::MAX)) as u32;
        self.set_demand(flow, background);
        Ok(background)
    }

    /// Whether a flow has a path (its ends are connected and up).
    pub fn routed(&self, flow: u32) -> bool {
        self.flows
            .routed
            .get(flow as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Sets the demand of an added flow (0 stops it).
    pub fn set_demand(&mut self, flow: u32, demand_kbps: u32) {
        self.flows.base_demand[flow as usize] = demand_kbps;
    }

    /// Routes every flow afresh: one multi-source Dijkstra per flow spec (the specs' in
    /// parallel), each client walked on its spec's field; added flows one Dijkstra per
    /// destination. Keeps the fields for [`TrafficCore::reroute`].
    fn route_all(&mut self, scenario: &Scenario, topology: &Topology) {
        let n = self.flows.len();
        let mut paths: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut routed = vec![false; n];
        let mut transit = vec![0u32; topology.node_count()];
        // Benign flows, one multi-source Dijkstra per spec.
        let fields: Vec<Vec<u64>> = scenario
            .flows
            .par_iter()
            .map(|spec| {
                let servers: Vec<u32> = scenario.groups[spec.servers as usize].nodes().collect();
                self.router(topology).distances(&servers)
            })
            .collect();
        for (spec_id, (spec, dist)) in scenario.flows.iter().zip(&fields).enumerate() {
            let ids: Vec<usize> = (0..n)
                .filter(|&f| self.flows.origin[f] == spec_id as u16)
                .collect();
            let next = self.router(topology).next_hops(dist);
            let results: Vec<(usize, Option<Walk>)> = ids
                .par_iter()
                .map(|&f| {
                    let client = self.flows.client[f];
                    (f, self.walk(topology, dist, Some(&next), client, f as u64))
                })
                .collect();
            for (f, r) in results {
                let Some((server, nodes, links)) = r else {
                    continue;
                };
                let client = self.flows.client[f];
                if spec.direction == Direction::Downstream {
                    self.flows.src[f] = server;
                } else {
                    self.flows.dst[f] = server;
                }
                paths[f] = self.channels(
                    topology,
                    client,
                    &nodes,
                    &links,
                    spec.direction == Direction::Upstream,
                );
                for &v in &nodes {
                    transit[v as usize] += 1;
                }
                routed[f] = true;
            }
        }
        self.flows.routed = routed;
        self.transit = transit;
        self.route_added(topology, 0, &mut paths);
        self.store_paths(paths);
        self.fields = Some(Fields {
            down: self.down.clone(),
            dist: fields,
        });
    }

    /// Routes the flows again after nodes went down or came back, with the same result as
    /// [`TrafficCore::route_all`] (paths, servers, transit counts: tested against it) but
    /// touching only what changed: each spec's distance field is updated where the
    /// changed nodes reach ([`routing::Router::update_distances`]), and only flows whose
    /// walk could differ are walked again — those whose client or path has a node whose
    /// distance or flag changed, or a neighbour that changed on a shortest path to it
    /// (a walk picks among the neighbours one hop nearer, so only those can change a step).
    /// Falls back to routing afresh without kept fields (a start, a restore), with added
    /// flows (routed per destination), or when many nodes changed at once.
    fn reroute(&mut self, scenario: &Scenario, topology: &Topology) {
        let nodes = topology.node_count();
        let Some(mut fields) = self.fields.take() else {
            return self.route_all(scenario, topology);
        };
        let toggled: Vec<u32> = (0..nodes as u32)
            .filter(|&v| fields.down[v as usize] != self.down[v as usize])
            .collect();
        if toggled.len() > nodes / 64 || self.flows.origin.contains(&ADDED) {
            return self.route_all(scenario, topology);
        }
        // Per spec, its distance field updated and the nodes whose walk step may differ:
        // changed ones, and neighbours for which a changed node was or is one hop nearer.
        // The specs' fields are independent, so they are updated in parallel.
        let touched_by_spec: Vec<std::collections::HashSet<u32>> = fields
            .dist
            .par_iter_mut()
            .zip(&scenario.flows)
            .map(|(dist, spec)| {
                let servers = scenario.groups[spec.servers as usize].nodes();
                let changed = self
                    .router(topology)
                    .update_distances(dist, &toggled, |v| servers.contains(&v));
                let old_dist: std::collections::HashMap<u32, u64> =
                    changed.iter().copied().collect();
                let before = |v: u32| old_dist.get(&v).copied().unwrap_or(dist[v as usize]);
                let mut touched = std::collections::HashSet::new();
                for x in changed.iter().map(|c| c.0).chain(toggled.iter().copied()) {
                    touched.insert(x);
                    let (dx_old, dx_new) = (before(x), dist[x as usize]);
                    let (up_old, up_new) = (!fields.down[x as usize], !self.down[x as usize]);
                    for (&v, &l) in topology
                        .neighbours(x)
                        .iter()
                        .zip(topology.neighbour_links(x))
                    {
                        let w = self.latency_us[l as usize];
                        let (dv_old, dv_new) = (before(v), dist[v as usize]);
                        let was = up_old
                            && dx_old != routing::UNREACHABLE
                            && dv_old != routing::UNREACHABLE
                            && dx_old + w == dv_old;
                        let is = up_new
                            && dx_new != routing::UNREACHABLE
                            && dv_new != routing::UNREACHABLE
                            && dx_new + w == dv_new;
                        if was || is {
                            touched.insert(v);
                        }
                    }
                }
                touched
            })
            .collect();
        // The flows to walk again (their spec's touched nodes hold their client or an end
        // of a channel on their path), in one pass over the flows, and their new walks, in
        // flow order.
        let fl = &self.flows;
        let redo: Vec<usize> = (0..fl.len())
            .into_par_iter()
            .with_min_len(MIN_FLOWS_PER_TASK)
            .filter(|&f| {
                touched_by_spec
                    .get(usize::from(fl.origin[f]))
                    .is_some_and(|touched| {
                        !touched.is_empty()
                            && (touched.contains(&fl.client[f])
                                || self.path(f).iter().any(|&c| {
                                    let (a, b) = routing::ends(topology, c);
                                    touched.contains(&a) || touched.contains(&b)
                                }))
                    })
            })
            .collect();
        let walked: Vec<(usize, Option<Walk>)> = redo
            .par_iter()
            .map(|&f| {
                let dist = &fields.dist[usize::from(fl.origin[f])];
                (f, self.walk(topology, dist, None, fl.client[f], f as u64))
            })
            .collect();
        fields.down.clone_from(&self.down);
        self.fields = Some(fields);
        self.incremental_reroutes += 1;
        if walked.is_empty() {
            return;
        }
        let mut new_paths: Vec<(usize, Vec<u32>)> = Vec::with_capacity(walked.len());
        for (f, r) in walked {
            let client = self.flows.client[f];
            // The old walk's nodes: every node of the path but the client, each once (the
            // channels' far ends where data goes the walk's way, else their near ends).
            let path = self.path(f);
            let forward = path
                .first()
                .is_some_and(|&c| routing::ends(topology, c).0 == client);
            let old: Vec<u32> = path
                .iter()
                .map(|&c| {
                    let (a, b) = routing::ends(topology, c);
                    if forward { b } else { a }
                })
                .collect();
            for v in old {
                self.transit[v as usize] -= 1;
            }
            let path = match r {
                Some((server, nodes, links)) => {
                    let spec = &scenario.flows[self.flows.origin[f] as usize];
                    if spec.direction == Direction::Downstream {
                        self.flows.src[f] = server;
                    } else {
                        self.flows.dst[f] = server;
                    }
                    self.flows.routed[f] = true;
                    for &v in &nodes {
                        self.transit[v as usize] += 1;
                    }
                    self.channels(
                        topology,
                        client,
                        &nodes,
                        &links,
                        spec.direction == Direction::Upstream,
                    )
                }
                None => {
                    self.flows.routed[f] = false;
                    Vec::new()
                }
            };
            new_paths.push((f, path));
        }
        self.replace_paths(new_paths);
    }

    /// Replaces the paths of some flows (ascending ids), keeping the others.
    fn replace_paths(&mut self, new: Vec<(usize, Vec<u32>)>) {
        let n = self.flows.len();
        let mut offsets = Vec::with_capacity(n + 1);
        let mut links = Vec::with_capacity(self.flows.path_links.len());
        offsets.push(0u32);
        let mut next = new.into_iter().peekable();
        for f in 0..n {
            match next.next_if(|(g, _)| *g == f) {
                Some((_, p)) => links.extend_from_slice(&p),
                None => links.extend_from_slice(self.path(f)),
            }
            offsets.push(links.len() as u32);
        }
        self.set_paths(offsets, links);
    }

    /// Routes added flows with id ≥ `from` (one Dijkstra per destination) into `paths`.
    fn route_added(&mut self, topology: &Topology, from: usize, paths: &mut [Vec<u32>]) {
        let n = self.flows.len();
        self.flows.routed.resize(n, false);
        let mut by_dst: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for f in from..n {
            if self.flows.origin[f] == ADDED {
                by_dst.entry(self.flows.dst[f]).or_default().push(f);
            }
        }
        for (dst, ids) in by_dst {
            let starts: Vec<u32> = ids.iter().map(|&f| self.flows.src[f]).collect();
            let dist = self.router(topology).distances_for(&[dst], &starts);
            for f in ids {
                let src = self.flows.src[f];
                match self.walk(topology, &dist, None, src, f as u64) {
                    Some((_, nodes, links)) => {
                        paths[f] = self.channels(topology, src, &nodes, &links, true);
                        for &v in &nodes {
                            self.transit[v as usize] += 1;
                        }
                        self.flows.routed[f] = true;
                    }
                    None => {
                        paths[f].clear();
                        self.flows.routed[f] = false;
                    }
                }
            }
        }
    }

    fn router<'a>(&'a self, topology: &'a Topology) -> routing::Router<'a> {
        routing::Router {
            topology,
            latency_us: &self.latency_us,
            down: &self.down,
        }
    }

    /// A flow's walk from `start` on the field `dist` (none from a down node), reading the
    /// hubs' next hops from `next` where the field's are tabulated.
    fn walk(
        &self,
        topology: &Topology,
        dist: &[u64],
        next: Option<&routing::NextHops>,
        start: u32,
        key: u64,
    ) -> Option<Walk> {
        if self.down[start as usize] {
            return None;
        }
        let router = self.router(topology);
        let (mut nodes, mut links) = (Vec::new(), Vec::new());
        let end = match next {
            Some(next) => router.walk_next_hops(next, dist, start, key, &mut nodes, &mut links),
            None => router.walk(dist, start, key, &mut nodes, &mut links),
        }?;
        Some((end, nodes, links))
    }

    /// Channels of a walk from `start` through `nodes` over `links`; `forward` when the
    /// data goes the way of the walk.
    fn channels(
        &self,
        topology: &Topology,
        start: u32,
        nodes: &[u32],
        links: &[u32],
        forward: bool,
    ) -> Vec<u32> {
        let mut prev = start;
        let mut ch: Vec<u32> = links
            .iter()
            .zip(nodes)
            .map(|(&l, &next)| {
                let from = if forward { prev } else { next };
                prev = next;
                routing::channel(topology, l, from)
            })
            .collect();
        if !forward {
            ch.reverse();
        }
        ch
    }

    fn path(&self, f: usize) -> &[u32] {
        let o = &self.flows.path_offsets;
        if f + 1 >= o.len() {
            return &[];
        }
        &self.flows.path_links[o[f] as usize..o[f + 1] as usize]
    }

    fn store_paths(&mut self, paths: Vec<Vec<u32>>) {
        let mut offsets = Vec::with_capacity(paths.len() + 1);
        let mut links = Vec::with_capacity(paths.iter().map(Vec::len).sum());
        offsets.push(0u32);
        for p in &paths {
            links.extend_from_slice(p);
            offsets.push(links.len() as u32);
        }
        self.set_paths(offsets, links);
    }

    /// Installs new flat paths: numbers their channels and bumps the paths' version.
    fn set_paths(&mut self, offsets: Vec<u32>, links: Vec<u32>) {
        self.flows.path_offsets = offsets;
        self.flows.path_links = links;
        self.index_channels();
        self.paths_version += 1;
    }

    /// Numbers the channels the paths use (dense ids, in channel order) and rewrites the
    /// paths in them.
    fn index_channels(&mut self) {
        let links = std::mem::take(&mut self.flows.path_links);
        // Dense ids for the channels in use, in channel order: mark used channels, then
        // number the marked ones.
        const UNUSED: u32 = u32::MAX;
        let mut dense = vec![UNUSED; self.capacity.len()];
        for &c in &links {
            dense[c as usize] = 0;
        }
        self.used.clear();
        for (c, d) in dense.iter_mut().enumerate() {
            if *d != UNUSED {
                *d = self.used.len() as u32;
                self.used.push(c as u32);
            }
        }
        self.used_capacity = self
            .used
            .iter()
            .map(|&c| self.capacity[c as usize])
            .collect();
        self.flows.dense_links = links.iter().map(|&c| dense[c as usize]).collect();
        self.flows.path_links = links;
    }

    /// One tick: update availability and demand, allocate, derive link and flow metrics.
    pub fn step(
        &mut self,
        scenario: &Scenario,
        topology: &Topology,
        security: &[Security],
        policy: &AccessPolicy,
        clock: &Clock,
        metrics: &mut Metrics,
    ) -> Result<(), TrafficError> {
        // 1. Availability: quarantined nodes leave the network. One pass (split among the
        // threads) also sees whether any node cannot serve.
        const NODES_PER_TASK: usize = 1 << 16;
        let transit = &self.transit;
        let (reroute, unserving) = self
            .down
            .par_chunks_mut(NODES_PER_TASK)
            .zip(security.par_chunks(NODES_PER_TASK))
            .enumerate()
            .map(|(c, (down, sec))| {
                let (mut reroute, mut unserving) = (false, false);
                for (k, (d, s)) in down.iter_mut().zip(sec).enumerate() {
                    unserving |= !s.serving();
                    if s.quarantined != *d {
                        *d = s.quarantined;
                        // A node that carried or served flows left, or any node came back.
                        reroute |= transit[c * NODES_PER_TASK + k] > 0 || !s.quarantined;
                    }
                }
                (reroute, unserving)
            })
            .reduce(|| (false, false), |a, b| (a.0 | b.0, a.1 | b.1));
        if reroute {
            self.reroute(scenario, topology);
        }
        self.demand(scenario, security, policy, clock, metrics, unserving);
        // 3. Allocation.
        let fl = &self.flows;
        per_channel_sums(
            fl,
            self.used.len(),
            |f| u64::from(fl.demand[f]),
            &mut self.partial_sums,
            &mut self.state.offered,
        );
        let all_met = self.allocate()?;
        self.state.rate.clear();
        self.state
            .rate
            .par_extend(self.exact_rate.par_iter().map(|&r| maxmin::kbps(r)));
        // 4. Loads, delays, latencies, XR quality.
        let channels = self.derive(scenario, all_met);
        self.record(scenario, channels, metrics);
        Ok(())
    }

    /// Counts the flow-ticks the access policy refuses (`blocked_flow_ticks`,
    /// `blocked_attack_flow_ticks`) even where the strategy neither segments nor runs zero
    /// trust: an operator who may cut zones apart needs them.
    pub fn count_blocked(&mut self, metrics: &mut Metrics) {
        if self.counters.blocked.is_none() {
            self.counters.blocked = Some(blocked_counters(metrics));
        }
    }

    /// Step 2 of a tick, demand: peak × daily profile, 0 for flows with a down end or no
    /// path, for flows the access policy refuses, and for benign flows a node cannot
    /// serve; throttled nodes' flows capped.
    fn demand(
        &mut self,
        scenario: &Scenario,
        security: &[Security],
        policy: &AccessPolicy,
        clock: &Clock,
        metrics: &mut Metrics,
        unserving: bool,
    ) {
        let t = &scenario.traffic;
        let time_of_day =
            (t.start_of_day_us + u64::from(clock.tick) * clock.tick_micros) % 86_400_000_000;
        let hour = (time_of_day / 3_600_000_000) as usize;
        let into_hour = time_of_day % 3_600_000_000;
        let (a, b) = (
            u64::from(t.daily_permille[hour]),
            u64::from(t.daily_permille[(hour + 1) % 24]),
        );
        // Linear between this hour's value and the next: level is per mille × 3.6e9.
        const HOUR: i128 = 3_600_000_000;
        let level = (a as i128 * HOUR + (b as i128 - a as i128) * into_hour as i128) as u128;
        // demand · level / (1000 · HOUR), rounded down: with the fraction reduced, the
        // product fits 64 bits whenever the numerator fits 32 (at whole-second ticks it
        // does); 128 bits otherwise. The same quotient either way.
        let whole = 1000 * HOUR as u128;
        let g = gcd(level, whole);
        let (num, den) = (level / g, whole / g);
        let narrow = (num <= u128::from(u32::MAX)).then_some((num as u64, den as u64));
        let fl = &mut self.flows;
        let down = &self.down;
        // Tasks of at least MIN_FLOWS_PER_TASK flows: a small network's tick stays on one
        // thread instead of waking the others for a few dozen flows.
        fl.demand
            .par_iter_mut()
            .with_min_len(MIN_FLOWS_PER_TASK)
            .enumerate()
            .for_each(|(f, d)| {
                let active = fl.routed[f] && !down[fl.src[f] as usize] && !down[fl.dst[f] as usize];
                *d = if !active {
                    0
                } else if fl.diurnal[f] {
                    match narrow {
                        Some((num, den)) => (u64::from(fl.base_demand[f]) * num / den) as u32,
                        None => (u128::from(fl.base_demand[f]) * num / den) as u32,
                    }
                } else {
                    fl.base_demand[f]
                };
            });
        // The access policy refuses flows whose initiator (the client) may not connect to
        // the other end: segmentation, or zero trust denying either end.
        let mut blocked = [0u64; 2];
        if policy.restricts() {
            for f in 0..fl.len() {
                if fl.demand[f] == 0 {
                    continue;
                }
                let client = fl.client[f];
                let other = if client == fl.src[f] {
                    fl.dst[f]
                } else {
                    fl.src[f]
                };
                if !policy.allows_service(client, other, fl.service[f]) {
                    fl.demand[f] = 0;
                    blocked[usize::from(fl.class[f].is_attack())] += 1;
                }
            }
        }
        // Throttled nodes' flows are capped.
        if !policy.throttled.is_empty() {
            for f in 0..fl.len() {
                if policy.is_throttled(fl.client[f]) {
                    fl.demand[f] = fl.demand[f].min(crate::policy::THROTTLE_KBPS);
                }
            }
        }
        if let Some((benign, attack)) = self.counters.blocked {
            metrics.add(benign, blocked[0]);
            metrics.add(attack, blocked[1]);
        }
        // A benign flow to or from a node that cannot serve (encrypted, overwhelmed) is
        // wanted but gets nothing; attack flows keep flowing at it.
        self.unserved.clear();
        if unserving {
            for f in 0..fl.len() {
                if !fl.class[f].is_attack()
                    && fl.demand[f] > 0
                    && (!security[fl.src[f] as usize].serving()
                        || !security[fl.dst[f] as usize].serving())
                {
                    fl.demand[f] = 0;
                    self.unserved.push(f as u32);
                }
            }
        }
    }

    /// Allocates this tick's demands into `exact_rate` ([`allocate_with_room`]); whether
    /// every flow got its demand.
    fn allocate(&mut self) -> Result<bool, TrafficError> {
        let fl = &self.flows;
        let problem = AllocationProblem {
            capacity: &self.used_capacity,
            path_offsets: &fl.path_offsets,
            path_links: &fl.dense_links,
            demand: &fl.demand,
            priority: &fl.priority,
        };
        allocate_with_room(
            &problem,
            &self.state.offered,
            self.paths_version,
            &mut self.oversubscribed,
            &mut self.backend,
            &mut self.exact_rate,
        )
    }

    /// Loads, queues and latencies; `all_met`: every flow got its demand (no channel is
    /// oversubscribed), so each channel's load is its offered load. Writes into the last
    /// tick's arrays, and one pass over the channels (split among the threads) gives
    /// their queues and what `record` reports of them.
    fn derive(&mut self, scenario: &Scenario, all_met: bool) -> ChannelSummary {
        let fl = &self.flows;
        let rate = &self.exact_rate;
        let st = &mut self.state;
        if all_met {
            // Each channel's load is its offered load: the channel pass below copies it.
            st.load.resize(st.offered.len(), 0);
        } else {
            // A channel's rates sum to at most its capacity · 2^32 < 2^64; the channel
            // pass below rounds each sum to kbit/s.
            per_channel_sums(
                fl,
                self.used.len(),
                |f| rate[f],
                &mut self.partial_sums,
                &mut st.load,
            );
        }
        let limit = scenario.traffic.queue_limit_us;
        st.queue_us.resize(st.offered.len(), 0);
        // (any queue, largest utilisation ‰, oversubscribed channels)
        let (queued, max_util, saturated) = st
            .queue_us
            .par_chunks_mut(CHANNELS_PER_TASK)
            .zip(st.offered.par_chunks(CHANNELS_PER_TASK))
            .zip(st.load.par_chunks_mut(CHANNELS_PER_TASK))
            .zip(self.used_capacity.par_chunks(CHANNELS_PER_TASK))
            .map(|(((queue, offered), load), capacity)| {
                let (mut queued, mut max_util, mut saturated) = (false, 0, 0);
                let channels = queue.iter_mut().zip(offered).zip(load).zip(capacity);
                for (((q, &o), l), &cap) in channels {
                    *l = if all_met { o } else { maxmin::kbps_nearest(*l) };
                    *q = queue_delay_us(o, cap, limit);
                    queued |= *q > 0;
                    if cap > 0 {
                        max_util = max_util.max(*l * 1000 / u64::from(cap));
                    }
                    saturated += u64::from(o > u64::from(cap));
                }
                (queued, max_util, saturated)
            })
            .reduce(
                || (false, 0, 0),
                |a, b| (a.0 | b.0, a.1.max(b.1), a.2 + b.2),
            );
        // Propagation along each path, kept while the paths are; queues are added only
        // where some channel has one (on roomy links they round to 0 µs).
        if self.propagation_us.0 != Some(self.paths_version) {
            let latency = &self.latency_us;
            self.propagation_us = (
                Some(self.paths_version),
                path_sums(fl, &fl.path_links, |c| latency[(c / 2) as usize]).collect(),
            );
        }
        let propagation = &self.propagation_us.1;
        st.latency_us.clear();
        if !queued {
            st.latency_us.par_extend(propagation.par_iter().copied());
        } else {
            let queue_us = &st.queue_us;
            st.latency_us.par_extend(
                path_sums(fl, &fl.dense_links, |d| queue_us[d as usize])
                    .zip(propagation.par_iter())
                    .map(|(queued, &propagated)| propagated + queued),
            );
        }
        ChannelSummary {
            max_util,
            saturated,
        }
    }

    fn record(&self, scenario: &Scenario, channels: ChannelSummary, metrics: &mut Metrics) {
        let fl = &self.flows;
        let st = &self.state;
        let zones = scenario.zones.len().max(1);
        // The XR client's zone: its spec's client group's (ADDED flows: looked up).
        let spec_zone: Vec<usize> = scenario
            .flows
            .iter()
            .map(|spec| scenario.groups[spec.clients as usize].zone as usize)
            .collect();
        let zone_of = |f: usize| match spec_zone.get(usize::from(fl.origin[f])) {
            Some(&z) => z,
            None => scenario.groups[scenario.group_of(fl.client[f]) as usize].zone as usize,
        };
        // Integer sums over flows in tasks of flows (any split, the same sums): the XR
        // flows come first in flow order, so one range per thread would leave a thread
        // with most of the work.
        let empty = || (vec![0u64; zones], vec![0u64; zones], 0u64, 0u128);
        let n = fl.len();
        let (mut total, ok, active, delivered) = (0..n.div_ceil(MIN_FLOWS_PER_TASK))
            .into_par_iter()
            .map(|task| {
                let mut sums = empty();
                let (total, ok, active, delivered) = &mut sums;
                let start = task * MIN_FLOWS_PER_TASK;
                for f in start..(start + MIN_FLOWS_PER_TASK).min(n) {
                    if fl.demand[f] == 0 {
                        continue;
                    }
                    *active += 1;
                    *delivered += u128::from(self.exact_rate[f]);
                    if fl.class[f] == FlowClass::XrStream {
                        let z = zone_of(f);
                        total[z] += 1;
                        if st.rate[f] >= fl.demand[f] && st.latency_us[f] <= fl.budget_us[f] {
                            ok[z] += 1;
                        }
                    }
                }
                sums
            })
            .reduce(empty, |mut a, b| {
                a.0.iter_mut().zip(b.0).for_each(|(x, y)| *x += y);
                a.1.iter_mut().zip(b.1).for_each(|(x, y)| *x += y);
                (a.0, a.1, a.2 + b.2, a.3 + b.3)
            });
        for &f in &self.unserved {
            if fl.class[f as usize] == FlowClass::XrStream {
                total[zone_of(f as usize)] += 1;
            }
        }
        let c = &self.counters;
        let (t_all, ok_all): (u64, u64) = (total.iter().sum(), ok.iter().sum());
        metrics.add(c.xr_total, t_all);
        metrics.add(c.xr_ok, ok_all);
        for (z, ids) in c.xr_zone.iter().enumerate() {
            if let Some((tz, oz)) = *ids {
                metrics.add(tz, total[z]);
                metrics.add(oz, ok[z]);
            }
        }
        metrics.set(
            c.xr_quality,
            (ok_all * 1_000_000).checked_div(t_all).unwrap_or(1_000_000),
        );
        metrics.set(c.max_util, channels.max_util);
        metrics.set(c.saturated, channels.saturated);
        metrics.set(
            c.delivered,
            (delivered >> maxmin::FRACTION_BITS) as u64 / 1000,
        );
        metrics.set(c.flows_active, active);
    }
}

/// Flows (with their paths and this tick's demand), availability, routes' transit counts
/// and the last tick's results are state (flows are added and rerouted as the run goes);
/// capacities, delays and counter handles are rebuilt from the scenario. The backend is
/// fresh: it uploads the paths on its first allocation.
impl Persist for TrafficCore {
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        encode::<Self, _>(
            &(
                &self.flows,
                &self.state,
                &self.down,
                &self.unserved,
                &self.transit,
                self.paths_version,
            ),
            out,
        )
    }
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        type Saved = (FlowSet, TrafficState, Vec<bool>, Vec<u32>, Vec<u32>, u64);
        let (flows, state, down, unserved, transit, version): Saved = decode::<Self, _>(bytes)?;
        same_len("traffic nodes", down.len(), self.down.len())?;
        same_len("traffic transit counts", transit.len(), self.transit.len())?;
        let n = flows.len();
        for (what, len) in [
            ("flow destinations", flows.dst.len()),
            ("flow clients", flows.client.len()),
            ("flow classes", flows.class.len()),
            ("flow demands", flows.base_demand.len()),
            ("flow demands this tick", flows.demand.len()),
            ("flow priorities", flows.priority.len()),
            ("flow budgets", flows.budget_us.len()),
            ("flow origins", flows.origin.len()),
            ("flow profiles", flows.diurnal.len()),
            ("flow services", flows.service.len()),
            ("flow routes", flows.routed.len()),
            ("path offsets", flows.path_offsets.len().saturating_sub(1)),
        ] {
            same_len(what, len, n)?;
        }
        let links = flows.path_links.len();
        let bad_offset = flows
            .path_offsets
            .windows(2)
            .any(|w| w[0] > w[1] || w[1] as usize > links);
        let channels = self.capacity.len();
        if bad_offset
            || flows.path_links.iter().any(|&c| c as usize >= channels)
            || unserved.iter().any(|&f| f as usize >= n)
            || flows
                .src
                .iter()
                .chain(&flows.dst)
                .any(|&v| v as usize >= down.len() && v != u32::MAX)
        {
            return Err(CheckpointError::Mismatch(
                "traffic paths name channels, flows or nodes this universe does not have".into(),
            ));
        }
        self.flows = flows;
        self.state = state;
        self.down = down;
        self.unserved = unserved;
        self.transit = transit;
        self.index_channels();
        self.paths_version = version;
        self.measured = MeasuredLinks::default();
        // Caches keyed by the paths' version, which the restore may repeat; the next reroute
        // routes afresh.
        self.propagation_us.0 = None;
        self.fields = None;
        self.oversubscribed.built_for = None;
        Ok(())
    }
}

/// Distance fields kept between reroutes ([`TrafficCore::reroute`]).
#[derive(Debug, Clone)]
struct Fields {
    /// The down flags the fields are for.
    down: Vec<bool>,
    /// One distance field per scenario flow spec, µs from its nearest server.
    dist: Vec<Vec<u64>>,
}

/// Greatest common divisor (Euclid).
fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Sums `value(f)` over the flows with a demand, per channel of their paths (dense ids),
/// into `out`: each thread sums its range of flows (no fewer than 16k a thread) into its
/// own array — the first into `out`, the others into `partials`, kept between ticks so no
/// channel-sized array is allocated and zeroed by the system each tick — and the arrays
/// are then added up by channel ranges, split among the threads. The cost is linear in
/// flows plus threads × channels; integer sums, so any split gives the same.
fn per_channel_sums(
    fl: &FlowSet,
    channels: usize,
    value: impl Fn(usize) -> u64 + Sync,
    partials: &mut Vec<Vec<u64>>,
    out: &mut Vec<u64>,
) {
    let len = fl.len();
    let chunks = rayon::current_num_threads()
        .min(len.div_ceil(1 << 14))
        .max(1);
    let per_chunk = len.div_ceil(chunks).max(1);
    partials.resize_with(chunks - 1, Vec::new);
    let sum_range = |chunk: usize, sums: &mut Vec<u64>| {
        sums.clear();
        sums.resize(channels, 0);
        for f in (chunk * per_chunk).min(len)..((chunk + 1) * per_chunk).min(len) {
            if fl.demand[f] > 0 {
                let v = value(f);
                let (o0, o1) = (fl.path_offsets[f] as usize, fl.path_offsets[f + 1] as usize);
                for &c in &fl.dense_links[o0..o1] {
                    sums[c as usize] += v;
                }
            }
        }
    };
    if chunks == 1 {
        sum_range(0, out);
        return;
    }
    rayon::join(
        || sum_range(0, out),
        || {
            partials
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, sums)| sum_range(i + 1, sums));
        },
    );
    let partials = &*partials;
    out.par_chunks_mut(CHANNELS_PER_TASK)
        .enumerate()
        .for_each(|(i, o)| {
            let at = i * CHANNELS_PER_TASK;
            let n = o.len();
            for p in partials {
                o.iter_mut().zip(&p[at..at + n]).for_each(|(x, y)| *x += y);
            }
        });
}

/// Per flow, in flow order and split among the threads: `value` summed over its path's
/// entries in `links` (the flows' `path_links` or `dense_links`).
fn path_sums<'a>(
    fl: &'a FlowSet,
    links: &'a [u32],
    value: impl Fn(u32) -> u64 + Sync + Send + 'a,
) -> impl IndexedParallelIterator<Item = u64> + 'a {
    (0..fl.len())
        .into_par_iter()
        .with_min_len(MIN_FLOWS_PER_TASK)
        .map(move |f| {
            let (o0, o1) = (fl.path_offsets[f] as usize, fl.path_offsets[f + 1] as usize);
            links[o0..o1].iter().map(|&c| value(c)).sum()
        })
}

/// Channels per task of a parallel pass over the channels.
const CHANNELS_PER_TASK: usize = 1 << 15;

/// What `derive`'s pass over the channels found for `record`.
#[derive(Clone, Copy)]
struct ChannelSummary {
    /// Largest load over capacity, per mille.
    max_util: u64,
    /// Oversubscribed channels.
    saturated: u64,
}

/// Allocates `p` into `rate` (resized to its flows), `offered` being each link's summed
/// demand. Only the flows that cross an oversubscribed link (offered more than its
/// capacity) go to the backend, and only over such links: a link whose flows together ask
/// no more than its capacity never limits any of them (at every level of the filling its
/// fair share is at least the smallest demand still unmet on it, and a demand is met before
/// a share at the same level binds), so a flow whose links all have room gets its demand,
/// and dropping roomy links from the other flows' paths changes no step of the filling.
/// The answer is the same bits as the whole problem's (property-tested in `tests.rs`), and
/// a city whose links all have room allocates without a solver. `paths_version` changes
/// whenever `p`'s paths do. Returns whether every flow got its demand (no link is
/// oversubscribed).
pub(crate) fn allocate_with_room(
    p: &AllocationProblem<'_>,
    offered: &[u64],
    paths_version: u64,
    sub: &mut Oversubscribed,
    backend: &mut Backend,
    rate: &mut Vec<Rate>,
) -> Result<bool, TrafficError> {
    rate.clear();
    rate.par_extend(p.demand.par_iter().map(|&d| maxmin::rate_of(d)));
    let over: Vec<u32> = (0..p.capacity.len() as u32)
        .into_par_iter()
        .with_min_len(CHANNELS_PER_TASK)
        .filter(|&c| offered[c as usize] > u64::from(p.capacity[c as usize]))
        .collect();
    if over.is_empty() {
        return Ok(true);
    }
    sub.prepare(p, paths_version, over);
    // Most flows limited: the whole problem, whose per-link lists outlive changes in
    // which links are oversubscribed (even versions; the part's are odd).
    if sub.flows.len() > p.flows() / 4 * 3 {
        backend.allocate(p, 2 * paths_version, rate)?;
        return Ok(false);
    }
    sub.demand.clear();
    sub.demand
        .extend(sub.flows.iter().map(|&f| p.demand[f as usize]));
    sub.rate.clear();
    sub.rate.resize(sub.flows.len(), 0);
    let part = AllocationProblem {
        capacity: &sub.capacity,
        path_offsets: &sub.offsets,
        path_links: &sub.links,
        demand: &sub.demand,
        priority: &sub.priority,
    };
    backend.allocate(&part, 2 * sub.version + 1, &mut sub.rate)?;
    for (&f, &r) in sub.flows.iter().zip(&sub.rate) {
        rate[f as usize] = r;
    }
    Ok(false)
}

/// The allocation problem of the flows that cross an oversubscribed channel, over those
/// channels alone ([`TrafficCore::allocate`]). Its structure (which flows, their paths
/// re-numbered over the oversubscribed channels) is kept while the paths and the set of
/// oversubscribed channels stay the same; demands are gathered every tick.
#[derive(Debug, Clone, Default)]
pub(crate) struct Oversubscribed {
    /// The paths' version and oversubscribed channels (dense ids) it was built for.
    built_for: Option<(u64, Vec<u32>)>,
    /// Bumped at every rebuild: the backend's key for its per-path state.
    version: u64,
    /// Flow ids, ascending.
    flows: Vec<u32>,
    /// Path offsets into `links`, one more than flows.
    offsets: Vec<u32>,
    /// Each flow's oversubscribed channels, numbered in `over`'s order.
    links: Vec<u32>,
    /// Capacity of each oversubscribed channel.
    capacity: Vec<u32>,
    /// Each flow's priority class.
    priority: Vec<u8>,
    /// This tick's demands.
    demand: Vec<u32>,
    /// This tick's rates.
    rate: Vec<Rate>,
}

impl Oversubscribed {
    /// Rebuilds the structure unless it was built for these paths and channels.
    fn prepare(&mut self, p: &AllocationProblem<'_>, paths_version: u64, over: Vec<u32>) {
        if self
            .built_for
            .as_ref()
            .is_some_and(|(v, o)| *v == paths_version && *o == over)
        {
            return;
        }
        let mut number = vec![u32::MAX; p.capacity.len()];
        for (i, &c) in over.iter().enumerate() {
            number[c as usize] = i as u32;
        }
        self.capacity = over.iter().map(|&c| p.capacity[c as usize]).collect();
        self.flows.clear();
        self.links.clear();
        self.offsets.clear();
        self.offsets.push(0);
        for f in 0..p.flows() {
            let before = self.links.len();
            self.links.extend(
                p.path(f)
                    .iter()
                    .map(|&c| number[c as usize])
                    .filter(|&n| n != u32::MAX),
            );
            if self.links.len() > before {
                self.flows.push(f as u32);
                self.offsets.push(self.links.len() as u32);
            }
        }
        self.priority = self.flows.iter().map(|&f| p.priority[f as usize]).collect();
        self.version += 1;
        self.built_for = Some((paths_version, over));
    }
}

/// M/M/1 queueing delay of 1500-byte packets on a channel of `capacity` kbit/s offered
/// `offered` kbit/s, capped at `limit` µs. Integer arithmetic throughout.
pub fn queue_delay_us(offered: u64, capacity: u32, limit: u64) -> u64 {
    let cap = u64::from(capacity);
    if cap == 0 || offered >= cap {
        return limit;
    }
    // T = 12,000 bit / (cap kbit/s) = 12,000 / cap ms = 12e6 / cap µs;
    // delay = T·ρ/(1−ρ) = (12e6 / cap) · offered / (cap − offered). Both products fit 64
    // bits (offered < cap < 2^32); a delay under 1 µs needs no division.
    let (num, den) = (12_000_000 * offered, cap * (cap - offered));
    if num < den {
        return 0;
    }
    (num / den).min(limit)
}

/// Loss share of a channel, for reports: `(offered − capacity) / offered` when overloaded.
pub fn loss(offered: u64, capacity: u32) -> f64 {
    if offered > u64::from(capacity) {
        (offered - u64::from(capacity)) as f64 / offered as f64
    } else {
        0.0
    }
}

/// Per-flow recording (`[recording] flows = true`): every flow with a demand or a rate,
/// each tick, in tick then flow-id order. Flow ids are stable for a run: the scenario's
/// flows first, then those campaigns add (DDoS floods, scan flows), in the order added.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FlowRecord {
    /// Tick of each row.
    pub tick: Vec<u32>,
    /// Flow id.
    pub flow: Vec<u32>,
    /// What the flow asked for, kbit/s.
    pub demand_kbps: Vec<u32>,
    /// What the network granted, kbit/s.
    pub rate_kbps: Vec<u32>,
}

crate::persist_whole!(FlowRecord);

impl FlowRecord {
    /// Appends the tick's allocation.
    fn record(&mut self, tick: u32, core: &TrafficCore) {
        let fl = &core.flows;
        for f in 0..fl.len() {
            let (demand, rate) = (fl.demand[f], core.state.rate.get(f).copied().unwrap_or(0));
            if demand > 0 || rate > 0 {
                self.tick.push(tick);
                self.flow.push(f as u32);
                self.demand_kbps.push(demand);
                self.rate_kbps.push(rate);
            }
        }
    }

    /// The recording as a table: `tick`, `time_s`, `flow`, `class`, `src`, `dst`,
    /// `demand_kbps`, `rate_kbps`.
    pub fn table(
        &self,
        core: &TrafficCore,
        names: &crate::metrics::NodeNamer,
        tick_s: f64,
    ) -> paraverse_table::Table {
        use paraverse_table::{self as table, Values};
        let fl = &core.flows;
        let end = |ends: &[u32]| {
            Values::Text(
                self.flow
                    .iter()
                    .map(|&f| Some(names.name(ends[f as usize])))
                    .collect(),
            )
        };
        let mut t = table::Table::new();
        t.push("tick", table::ints(self.tick.iter().map(|&x| u64::from(x))));
        t.push(
            "time_s",
            table::floats(self.tick.iter().map(|&x| f64::from(x) * tick_s)),
        );
        t.push("flow", table::ints(self.flow.iter().map(|&x| u64::from(x))));
        t.push(
            "class",
            table::texts(self.flow.iter().map(|&f| fl.class[f as usize].name())),
        );
        t.push("src", end(&fl.src));
        t.push("dst", end(&fl.dst));
        t.push(
            "demand_kbps",
            table::ints(self.demand_kbps.iter().map(|&x| u64::from(x))),
        );
        t.push(
            "rate_kbps",
            table::ints(self.rate_kbps.iter().map(|&x| u64::from(x))),
        );
        t
    }
}

/// Adds the traffic core to a universe whose scenario declares flows.
pub struct TrafficPlugin {
    /// Backend to use.
    pub backend: BackendChoice,
}

impl SimPlugin for TrafficPlugin {
    fn name(&self) -> &'static str {
        "traffic"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        if builder.scenario.flows.is_empty() {
            return Ok(());
        }
        let (backend, fallback) = Backend::open(self.backend).map_err(|e| e.to_string())?;
        let world = builder.world_mut();
        let rng = *world.resource::<SimRng>();
        let scenario = world.resource::<ScenarioRes>().0.clone();
        // Borrow the topology in place: a million-node graph is not worth a copy.
        let mut core = world.resource_scope(|world, topology: Mut<'_, Topology>| {
            let mut metrics = world.resource_mut::<Metrics>();
            TrafficCore::new(&scenario, &topology, &rng, backend, &mut metrics)
        });
        core.fallback = fallback;
        let record_flows = scenario.record_flows;
        world.insert_resource(core);
        builder.persist::<TrafficCore>();
        if record_flows {
            builder.world_mut().insert_resource(FlowRecord::default());
            builder.persist::<FlowRecord>();
        }
        builder.add_systems(SimStage::Traffic, traffic_step);
        Ok(())
    }
}

/// Traffic stage. A backend failure (a GPU lost mid-run) is recorded as the run's
/// [`SimFault`]; the universe then stops rather than continue on another backend, which
/// could change results.
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn traffic_step(
    nodes: Query<&Security>,
    policy: Res<AccessPolicy>,
    mut core: ResMut<TrafficCore>,
    scenario: Res<ScenarioRes>,
    topology: Res<Topology>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut fault: ResMut<SimFault>,
    record: Option<ResMut<FlowRecord>>,
) {
    let security = dense(nodes.contiguous_iter().expect("node query is dense"));
    if let Err(e) = core.step(
        &scenario,
        &topology,
        security,
        &policy,
        &clock,
        &mut metrics,
    ) {
        fault.0 = Some(format!("traffic core failed at tick {}: {e}", clock.tick));
    } else if let Some(mut record) = record {
        record.record(clock.tick, &core);
    }
}

#[cfg(test)]
mod tests;

/// The counters of flow-ticks the access policy refuses: (benign, attack).
fn blocked_counters(metrics: &mut Metrics) -> (CounterId, CounterId) {
    (
        metrics.register(
            "blocked_flow_ticks",
            "benign flow-ticks refused by segmentation, zero trust or a zone cut (friction)",
        ),
        metrics.register(
            "blocked_attack_flow_ticks",
            "attack flow-ticks refused by segmentation, zero trust or a zone cut",
        ),
    )
}
