//! Scenarios: parse a TOML file ([`ScenarioFile`]), then validate and resolve it into a
//! [`Scenario`] whose references are indices that cannot dangle.
//!
//! The two steps follow shadow's `configuration` → `sim_config` split: the file types
//! mirror what the user wrote; the resolved types are what the world builder and the
//! attacker/defender plugins consume. Every error names the file, line, column and field.
//!
//! ```
//! use paraverse_sim::scenario::Scenario;
//! let text = r#"
//! [general]
//! name = "tiny"
//! seed = 7
//! tick = "1 s"
//! stop = "1 min"
//!
//! [[zone]]
//! name = "lan"
//!
//! [[group]]
//! name = "sensors"
//! kind = "iot_sensor"
//! count = 10
//! zone = "lan"
//! "#;
//! let scenario = Scenario::from_toml_str(text, "tiny.toml").unwrap();
//! assert_eq!(scenario.node_count, 10);
//! assert_eq!(scenario.ticks, 60);
//! ```

mod campaign;
mod defense;
pub mod error;
pub mod file;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;

pub use campaign::{
    Approach, Botnet, Campaign, CampaignKind, FalseData, MAX_RECORD_BYTES, SupplyChain, Takeover,
};
use defense::Names;
pub use defense::{
    Adaptive, Admitted, BY_KIND, Backups, Biometric, CodeSigning, DdosProtection, Deception,
    Defense, Detection, Hardening, NO_ZONE, Param, ParamRange, Patching, PoisonFilter, Privacy,
    Quarantine, SPACE, Segmentation, StepUp, ZeroTrust, param,
};
pub use error::{
    Diagnostic, Locator, MAX_INPUT_BYTES, ScenarioError, Seg, closest, did_you_mean, parse_toml,
    read_input,
};
pub use file::*;

use crate::field_path;
use crate::rng::{Chance, PerTick, fnv1a};
use crate::units::{Bandwidth, SimDuration};

impl GeneratorKind {
    /// The generator's name, as written in files.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::AccessTree => "access_tree",
            GeneratorKind::EdgeAggregation => "edge_aggregation",
            GeneratorKind::Mesh => "mesh",
            GeneratorKind::BarabasiAlbert => "barabasi_albert",
            GeneratorKind::ErdosRenyi => "erdos_renyi",
            GeneratorKind::WattsStrogatz => "watts_strogatz",
            GeneratorKind::Configuration => "configuration",
            GeneratorKind::EdgeList => "edge_list",
        }
    }

    /// The `[[topology]]` fields the generator reads (besides `generator` and `link`).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            GeneratorKind::AccessTree => &["children", "parents"],
            GeneratorKind::EdgeAggregation => &["children", "parents", "uplinks"],
            GeneratorKind::Mesh => &["groups"],
            GeneratorKind::BarabasiAlbert => &["group", "m"],
            GeneratorKind::ErdosRenyi => &["group", "mean_degree"],
            GeneratorKind::WattsStrogatz => &["group", "k", "p"],
            GeneratorKind::Configuration => {
                &["group", "exponent", "min_degree", "max_degree", "degrees"]
            }
            GeneratorKind::EdgeList => &["group", "file"],
        }
    }
}

/// Index of a zone in [`Scenario::zones`].
pub type ZoneId = u16;
/// Index of a group in [`Scenario::groups`].
pub type GroupId = u16;
/// Index of a service in [`Scenario::services`].
pub type ServiceId = u16;
/// Index of a link tier in [`Scenario::links`].
pub type LinkTierId = u16;

/// Most nodes a scenario may declare (node ids are `u32`; this leaves headroom).
pub const MAX_NODES: u64 = 50_000_000;
/// Most ticks a run may have.
pub const MAX_TICKS: u64 = 100_000_000;
/// Most scans or benign connection attempts one node may make in one tick: a bound that
/// keeps a typo (`scan_rate = 1e9`) from turning a run into an endless loop.
pub const MAX_PER_TICK: f64 = 100_000.0;
/// Largest group a `mesh` generator accepts (a full mesh grows quadratically).
pub const MAX_MESH_NODES: u64 = 2_000;

/// A resolved vulnerability.
#[derive(Debug, Clone)]
pub struct Vulnerability {
    /// Identifier.
    pub id: String,
    /// The CVSS vector as written.
    pub vector: String,
    /// CVSS v3.1 base score, 0 to 10.
    pub base_score: f64,
    /// CVSS exploitability sub-score, 0.12 to 3.89.
    pub exploitability: f64,
    /// Chance that one exploit attempt against an unpatched host succeeds:
    /// the exploitability sub-score over its maximum (8.22 × 0.85 × 0.77 × 0.85 × 0.85).
    pub exploit_chance: Chance,
}

/// Largest CVSS v3.1 exploitability sub-score (AV:N, AC:L, PR:N, UI:N).
pub const MAX_EXPLOITABILITY: f64 = 8.22 * 0.85 * 0.77 * 0.85 * 0.85;

/// A resolved service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Name.
    pub name: String,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Known vulnerabilities.
    pub vulnerabilities: Vec<Vulnerability>,
}

impl Service {
    /// The best chance any of its vulnerabilities gives an attacker (never if none).
    pub fn exploit_chance(&self) -> Chance {
        self.vulnerabilities
            .iter()
            .map(|v| v.exploit_chance)
            .max()
            .unwrap_or(Chance::NEVER)
    }
}

/// A resolved node group; its nodes have ids `first_node .. first_node + count`.
#[derive(Debug, Clone)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Kind of node.
    pub kind: NodeKind,
    /// Number of nodes.
    pub count: u32,
    /// Id of its first node.
    pub first_node: u32,
    /// Zone.
    pub zone: ZoneId,
    /// Services run.
    pub services: Vec<ServiceId>,
    /// Authentication method.
    pub auth: AuthMethod,
    /// Chance a node starts fully patched.
    pub patch_level: Chance,
    /// Chance a user falls for a lure.
    pub susceptibility: Chance,
    /// Records held per node, by class.
    pub data: BTreeMap<DataClass, u64>,
    /// Digital assets per node.
    pub assets: AssetsSpec,
    /// Benign outbound connection attempts per tick.
    pub connections: PerTick,
    /// Best exploit chance over its services (never if it runs nothing vulnerable).
    pub exploit_chance: Chance,
}

impl Group {
    /// The node ids of this group.
    pub fn nodes(&self) -> std::ops::Range<u32> {
        self.first_node..self.first_node + self.count
    }
}

/// A resolved topology generator run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologyStep {
    /// One uplink per child, in contiguous blocks.
    AccessTree {
        /// Children.
        children: GroupId,
        /// Parents.
        parents: GroupId,
        /// Link tier.
        link: LinkTierId,
    },
    /// `uplinks` distinct uplinks per child.
    EdgeAggregation {
        /// Children.
        children: GroupId,
        /// Parents.
        parents: GroupId,
        /// Uplinks per child.
        uplinks: u32,
        /// Link tier.
        link: LinkTierId,
    },
    /// Full mesh among the groups' nodes.
    Mesh {
        /// Groups.
        groups: Vec<GroupId>,
        /// Link tier.
        link: LinkTierId,
    },
    /// Barabási–Albert peer graph within a group.
    BarabasiAlbert {
        /// Group.
        group: GroupId,
        /// Links per new node.
        m: u32,
        /// Link tier.
        link: LinkTierId,
    },
    /// Erdős–Rényi G(n, m) within a group.
    ErdosRenyi {
        /// Group.
        group: GroupId,
        /// Links (distinct pairs).
        links: u64,
        /// Link tier.
        link: LinkTierId,
    },
    /// Configuration model within a group.
    Configuration {
        /// Group.
        group: GroupId,
        /// How nodes get their degrees.
        degrees: DegreeSequence,
        /// Link tier.
        link: LinkTierId,
    },
    /// Links read from a file, as pairs of indices within a group.
    EdgeList {
        /// Group.
        group: GroupId,
        /// The links, each once, lower index first (shared: scenarios are cloned often).
        links: std::sync::Arc<Vec<(u32, u32)>>,
        /// Link tier.
        link: LinkTierId,
    },
    /// Watts–Strogatz small world within a group.
    WattsStrogatz {
        /// Group.
        group: GroupId,
        /// Ring neighbours per node (even).
        k: u32,
        /// Rewiring chance.
        p: Chance,
        /// Link tier.
        link: LinkTierId,
    },
}

impl TopologyStep {
    /// The groups whose nodes the step links.
    pub fn groups(&self) -> Vec<GroupId> {
        match self {
            TopologyStep::AccessTree {
                children, parents, ..
            }
            | TopologyStep::EdgeAggregation {
                children, parents, ..
            } => vec![*children, *parents],
            TopologyStep::Mesh { groups, .. } => groups.clone(),
            TopologyStep::BarabasiAlbert { group, .. }
            | TopologyStep::ErdosRenyi { group, .. }
            | TopologyStep::Configuration { group, .. }
            | TopologyStep::EdgeList { group, .. }
            | TopologyStep::WattsStrogatz { group, .. } => vec![*group],
        }
    }
}

/// How the configuration model gives nodes their degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum DegreeSequence {
    /// A discrete power law `P(k) ∝ k^(−exponent)` on `min..=max`.
    PowerLaw {
        /// γ.
        exponent: f64,
        /// Smallest degree.
        min: u32,
        /// Largest degree.
        max: u32,
    },
    /// Node `i` gets `given[i % len]`.
    Given(Vec<u32>),
}

/// Validation keeps the exponent finite, so equality is reflexive.
impl Eq for DegreeSequence {}

/// A resolved worm campaign.
#[derive(Debug, Clone)]
pub struct Worm {
    /// Group of the initial infections.
    pub entry: GroupId,
    /// Initial infections.
    pub initial: u32,
    /// Scans per second per infected node.
    pub scan_rate: f64,
    /// Scans per tick per infected node.
    pub scans_per_tick: PerTick,
    /// Target selection.
    pub strategy: ScanStrategy,
    /// Chance a scan goes to a topological neighbour (local preference only).
    pub local_bias: Chance,
    /// Size of the address space scanned.
    pub address_space: u64,
    /// Service exploited (`None`: any).
    pub service: Option<ServiceId>,
    /// Recovery without a defender.
    pub recovery: Option<Recovery>,
    /// Bits of one probe, when scans are traffic.
    pub probe_bits: Option<u64>,
}

/// Resolved recovery: each infected node clears the infection in a tick with `per_tick`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recovery {
    /// Chance per tick, `1 − e^(−tick/mean)` (exact for exponential durations).
    pub per_tick: Chance,
    /// Whether a recovered node is immune (SIR) rather than susceptible (SIS).
    pub immune: bool,
}

/// A resolved benign flow spec.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Name.
    pub name: String,
    /// Class.
    pub class: FlowClass,
    /// Client group.
    pub clients: GroupId,
    /// Server group.
    pub servers: GroupId,
    /// The service of the server group it uses (`None`: the group declares none, any
    /// port).
    pub service: Option<ServiceId>,
    /// Direction.
    pub direction: Direction,
    /// Peak demand per flow, kbit/s.
    pub rate_kbps: u32,
    /// Chance a client has a flow.
    pub share: Chance,
    /// Priority class.
    pub priority: u8,
    /// Latency budget, µs, if any.
    pub latency_budget_us: Option<u64>,
    /// Follows the daily profile.
    pub diurnal: bool,
}

/// Resolved traffic settings.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Daily profile: demand per hour, per mille of the peak.
    pub daily_permille: [u32; 24],
    /// Time of day at tick 0, µs.
    pub start_of_day_us: u64,
    /// Buffer limit per link, µs.
    pub queue_limit_us: u64,
}

/// The default daily profile (residential metaverse use, evening peak), per mille.
pub const DEFAULT_DAILY_PERMILLE: [u32; 24] = [
    350, 250, 180, 150, 150, 200, 300, 450, 550, 600, 620, 650, 700, 680, 650, 650, 700, 800, 900,
    1000, 1000, 950, 750, 500,
];

/// Largest link capacity, kbit/s (rates are u32 kbit/s on both backends).
pub const MAX_CAPACITY_KBPS: u64 = u32::MAX as u64;

/// A resolved link tier.
#[derive(Debug, Clone)]
pub struct LinkTier {
    /// Name.
    pub name: String,
    /// Capacity.
    pub capacity: Bandwidth,
    /// Latency.
    pub latency: SimDuration,
}

/// A validated scenario, ready to build a world from.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it came from (a path or `<embedded:NAME>`).
    pub origin: String,
    /// FNV-1a hash of the source text, for provenance.
    pub source_hash: u64,
    /// The source text.
    pub source: String,
    /// The file as parsed.
    pub file: ScenarioFile,
    /// Name.
    pub name: String,
    /// Seed (possibly overridden).
    pub seed: u64,
    /// Tick length.
    pub tick: SimDuration,
    /// Number of ticks to run (stop / tick, rounded up).
    pub ticks: u32,
    /// Zone names.
    pub zones: Vec<String>,
    /// Link tiers.
    pub links: Vec<LinkTier>,
    /// Services.
    pub services: Vec<Service>,
    /// Groups, in file order; node ids are assigned group by group.
    pub groups: Vec<Group>,
    /// Topology steps, in file order.
    pub topology: Vec<TopologyStep>,
    /// Campaigns.
    pub campaigns: Vec<Campaign>,
    /// Benign flows.
    pub flows: Vec<Flow>,
    /// Traffic settings.
    pub traffic: Traffic,
    /// Defense strategy.
    pub defense: Defense,
    /// The text of the strategy file that replaced the scenario's defenses, if any.
    pub strategy_source: Option<String>,
    /// Where that strategy file came from (a path), for messages.
    pub strategy_origin: Option<String>,
    /// The strategy file's warnings (a `kind:` that selects nothing here), located in it.
    pub strategy_warnings: Vec<Diagnostic>,
    /// Total nodes.
    pub node_count: u32,
    /// Total terminals (XR, AR, phones, IoT).
    pub terminal_count: u32,
    /// Event log bound.
    pub max_events: u64,
    /// Whether each flow's rate is recorded per tick.
    pub record_flows: bool,
    /// Things that validate but may not mean what the author expects (e.g. a tick too
    /// coarse for a campaign's growth rate), located like errors.
    pub warnings: Vec<Diagnostic>,
}

/// Most flow-ticks `[recording] flows = true` may record (benign flows × ticks).
pub const MAX_FLOW_TICKS: u64 = 10_000_000;

/// Links of an edge-list text: one per line as two node indices (spaces, tabs or a
/// comma), `#` comments; each pair once, lower index first. Returns the problems by line.
fn text_links(text: &str, count: u32) -> (Vec<(u32, u32)>, Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    let (mut links, mut problems) = (Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<Option<u32>> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|f| !f.is_empty())
            .take(2)
            .map(|f| f.parse().ok())
            .collect();
        match link_problem(
            fields[..].first().copied().flatten(),
            fields.get(1).copied().flatten(),
            count,
        ) {
            Ok(pair) => {
                if seen.insert(pair) {
                    links.push(pair);
                }
            }
            Err(Some(why)) => problems.push(format!("line {}: {why}", n + 1)),
            Err(None) => problems.push(format!(
                "line {}: expected two node indices (whole numbers from 0), found `{line}`",
                n + 1
            )),
        }
    }
    (links, problems)
}

/// A link between indices `a` and `b` of a group of `count`, lower first; `Err(None)` if
/// an end is missing, `Err(Some(why))` if the link cannot be.
fn link_problem(a: Option<u32>, b: Option<u32>, count: u32) -> Result<(u32, u32), Option<String>> {
    let (Some(a), Some(b)) = (a, b) else {
        return Err(None);
    };
    if a.max(b) >= count {
        return Err(Some(format!(
            "node index {} out of range: the group has {count} nodes (0 to {})",
            a.max(b),
            count.saturating_sub(1)
        )));
    }
    if a == b {
        return Err(Some(format!("a link from node {a} to itself")));
    }
    Ok((a.min(b), a.max(b)))
}

/// Links of a GraphML document: its `<node>`s, in document order, are the group's nodes
/// 0, 1, …; each `<edge source= target=>` links two of them (direction ignored, each pair
/// once). Problems name the line.
fn graphml_links(text: &str, count: u32) -> (Vec<(u32, u32)>, Vec<String>) {
    let doc = match roxmltree::Document::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let pos = e.pos();
            return (
                Vec::new(),
                vec![format!("line {}: not well-formed XML: {e}", pos.row)],
            );
        }
    };
    let line = |n: roxmltree::Node<'_, '_>| doc.text_pos_at(n.range().start).row;
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut problems = Vec::new();
    let elements = || doc.descendants().filter(|n| n.is_element());
    for node in elements().filter(|n| n.tag_name().name() == "node") {
        let index = ids.len() as u32;
        match node.attribute("id") {
            Some(id) if ids.insert(id, index).is_some() => {
                problems.push(format!("line {}: node id `{id}` appears twice", line(node)));
            }
            Some(_) => {}
            None => problems.push(format!("line {}: a <node> without an id", line(node))),
        }
    }
    if ids.len() > count as usize {
        problems.push(format!(
            "{} nodes for a group of {count}: expected at most {count}",
            ids.len()
        ));
        return (Vec::new(), problems);
    }
    let mut seen = std::collections::HashSet::new();
    let mut links = Vec::new();
    for edge in elements().filter(|n| n.tag_name().name() == "edge") {
        let end = |key: &str| edge.attribute(key).and_then(|id| ids.get(id).copied());
        match link_problem(end("source"), end("target"), count) {
            Ok(pair) => {
                if seen.insert(pair) {
                    links.push(pair);
                }
            }
            Err(why) => problems.push(format!(
                "line {}: {}",
                line(edge),
                why.unwrap_or_else(
                    || "an <edge> whose source or target is no declared <node> id".into()
                )
            )),
        }
    }
    (links, problems)
}

/// How far (as a share of the rate) a scanning campaign's discrete early growth may fall
/// below the continuous model before `validate` warns.
pub const COARSE_TICK_DEPARTURE: f64 = 0.05;

/// Peak bytes per node of a running universe, measured: `/usr/bin/time -v paraverse run
/// smart-city-1m --ticks 60` (1,011,552 nodes, flows on, release build) peaks at 391 MB of
/// resident memory, about 387 bytes per node for world, topology, paths, traffic core,
/// event log and scratch buffers together. The estimate rounds it up by a quarter, so a
/// refused scenario is one that would not have fitted.
pub const PEAK_BYTES_PER_NODE: u64 = 512;
/// Fixed peak bytes of any universe (the binary, thread stacks, the event log's bound).
pub const PEAK_BYTES_BASE: u64 = 64 << 20;

impl Scenario {
    /// An up-front estimate of the peak memory a universe of this scenario needs, in
    /// bytes ([`PEAK_BYTES_PER_NODE`] per node plus [`PEAK_BYTES_BASE`]), so a scenario
    /// too large for the machine is refused before it is built rather than aborted by an
    /// allocation failure minutes later.
    pub fn memory_estimate(&self) -> u64 {
        u64::from(self.node_count)
            .saturating_mul(PEAK_BYTES_PER_NODE)
            .saturating_add(PEAK_BYTES_BASE)
    }
    /// Loads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = read_input(path)?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let locator = Locator::new(text);
        let invalid = |diagnostics| ScenarioError::Invalid {
            origin: origin.to_owned(),
            diagnostics,
        };
        let file: ScenarioFile = parse_toml(text, origin, &locator)?;
        let mut v = Validator::new(&locator);
        let mut scenario = v.resolve(file, text, origin);
        scenario.warnings.sort_by_key(|d| (d.line, d.column));
        if v.diagnostics.is_empty() {
            Ok(scenario)
        } else {
            v.diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(invalid(v.diagnostics))
        }
    }

    /// The warnings of the scenario and of its strategy file, one per problem with
    /// file:line:column, field and excerpt, each line of the first prefixed by
    /// `warning: ` (empty if there are none).
    pub fn warnings_text(&self) -> String {
        let strategy = self.strategy_origin.as_deref().unwrap_or("strategy");
        self.warnings
            .iter()
            .map(|w| (self.origin.as_str(), w))
            .chain(self.strategy_warnings.iter().map(|w| (strategy, w)))
            .map(|(origin, w)| {
                format!(
                    "warning: {}",
                    error::render(origin, std::slice::from_ref(w))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Replaces the seed (e.g. from `--seed`).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Replaces the number of ticks (e.g. from `--ticks`).
    pub fn with_ticks(mut self, ticks: u32) -> Self {
        self.ticks = ticks;
        self
    }

    /// The scenario with every campaign's rate of progress times `factor`: worm and botnet
    /// scans, initial-access and lateral-movement attempts, ledger transfers and poisoning
    /// samples. The twin draws one factor per member of its ensemble, because the real
    /// attacker's speed is what a scenario can only guess. Goals, volumes and chances per
    /// attempt stay; a factor of 1 changes nothing.
    pub fn with_attack_rates(mut self, factor: f64) -> Self {
        if factor == 1.0 {
            return self;
        }
        let tick_micros = self.tick.as_micros();
        for c in &mut self.campaigns {
            match &mut c.kind {
                CampaignKind::Worm(w) => {
                    w.scan_rate *= factor;
                    w.scans_per_tick = PerTick::from_rate(w.scan_rate, tick_micros);
                }
                CampaignKind::Botnet(b) => {
                    b.scan_rate *= factor;
                    b.scans_per_tick = PerTick::from_rate(b.scan_rate, tick_micros);
                }
                CampaignKind::AssetTheft {
                    transfers_per_tick, ..
                } => *transfers_per_tick = transfers_per_tick.scaled(factor),
                CampaignKind::Poisoning {
                    samples_per_tick, ..
                } => *samples_per_tick = samples_per_tick.scaled(factor),
                _ => {}
            }
            if let Some(a) = &mut c.approach {
                a.attempts_per_tick = a.attempts_per_tick.scaled(factor);
                a.lateral_per_tick = a.lateral_per_tick.scaled(factor);
            }
        }
        self
    }

    /// The description from the file.
    pub fn description(&self) -> &str {
        &self.file.general.description
    }

    /// Each group's (first node, node count), in group order: what a loop over every
    /// group's slice of a node table needs, without holding the scenario.
    pub fn group_spans(&self) -> Vec<(u32, u32)> {
        self.groups
            .iter()
            .map(|g| (g.first_node, g.count))
            .collect()
    }

    /// The scenario with `spare[g]` more nodes in group `g` (missing entries: none), at
    /// the end of the group, and the nodes renumbered: slots for devices the real network
    /// may add to its inventory, which the twin keeps off the network until an `added`
    /// observation names one (`paraverse twin --spare`). A scan's address space that was
    /// the default (every node) grows with them. Returns the spare nodes' ids too.
    pub fn with_spare_nodes(mut self, spare: &[u32]) -> Result<(Self, Vec<u32>), String> {
        let before = u64::from(self.node_count);
        let mut next = 0u64;
        let mut terminals = 0u64;
        let mut slots = Vec::new();
        for (g, group) in self.groups.iter_mut().enumerate() {
            let extra = spare.get(g).copied().unwrap_or(0);
            group.first_node = u32::try_from(next).unwrap_or(u32::MAX);
            let first_spare = next + u64::from(group.count);
            group.count = group
                .count
                .checked_add(extra)
                .ok_or_else(|| format!("group {}: {extra} spare nodes are too many", group.name))?;
            next += u64::from(group.count);
            if group.kind.is_terminal() {
                terminals += u64::from(group.count);
            }
            if next <= MAX_NODES {
                slots.extend((first_spare..next).map(|n| n as u32));
            }
        }
        if next > MAX_NODES {
            return Err(format!(
                "{next} nodes with the spare ones: expected at most {MAX_NODES}"
            ));
        }
        self.node_count = next as u32;
        self.terminal_count = u32::try_from(terminals).unwrap_or(u32::MAX);
        for c in &mut self.campaigns {
            let space = match &mut c.kind {
                CampaignKind::Worm(w) => &mut w.address_space,
                CampaignKind::Botnet(b) => &mut b.address_space,
                _ => continue,
            };
            if *space == before {
                *space = next;
            }
        }
        Ok((self, slots))
    }

    /// The groups' names, comma-separated, for messages that list what a name could be.
    pub fn group_names(&self) -> String {
        self.groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The group a node belongs to.
    pub fn group_of(&self, node: u32) -> GroupId {
        let i = self
            .groups
            .partition_point(|g| g.first_node + g.count <= node);
        i as GroupId
    }
}

struct Validator<'a> {
    locator: &'a Locator<'a>,
    diagnostics: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Groups that name an unknown zone or service (reported): their description is
    /// incomplete, so checks that read a group's zone or services skip them.
    unresolved_groups: Vec<GroupId>,
}

impl<'a> Validator<'a> {
    /// A validator of the text `locator` points into, with nothing reported yet.
    fn new(locator: &'a Locator<'a>) -> Self {
        Validator {
            locator,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
            unresolved_groups: Vec::new(),
        }
    }

    /// Whether group `g`'s zone and services all resolved (see `unresolved_groups`).
    fn resolved(&self, g: GroupId) -> bool {
        !self.unresolved_groups.contains(&g)
    }

    fn err(&mut self, path: Vec<Seg>, message: impl Into<String>) {
        self.diagnostics.push(self.locator.at_path(&path, message));
    }

    fn warn(&mut self, path: Vec<Seg>, message: impl Into<String>) {
        self.warnings.push(self.locator.at_path(&path, message));
    }

    /// Warns when a scanning campaign's early growth per tick, `1 + x` with `x = β·tick`,
    /// departs from the continuous `e^(βt)` its model documents by more than
    /// [`COARSE_TICK_DEPARTURE`]: a recruit found in a tick scans only from the next one,
    /// so the discrete model grows at `ln(1 + x)/tick` instead of `β`.
    fn coarse_tick(&mut self, beta: f64, tick: SimDuration, path: Vec<Seg>) {
        let dt = tick.as_secs_f64();
        let x = beta * dt;
        if x <= 0.0 {
            return;
        }
        let ratio = crate::math::dln(1.0 + x) / x;
        if 1.0 - ratio <= COARSE_TICK_DEPARTURE {
            return;
        }
        // ln(1 + x)/x = 1 − COARSE_TICK_DEPARTURE at x ≈ 0.1054.
        let finest = 0.1054 / beta;
        self.warn(
            path,
            format!(
                "early growth β = {beta:.4}/s (scan rate × success chance × open nodes / address space) is {x:.2} per tick of {tick}: the model grows by 1 + {x:.2} per tick, i.e. at {:.4}/s, {:.0} % slower than the continuous I₀·e^(βt); a tick of at most {finest:.1} s keeps the departure under {:.0} %",
                ratio * beta,
                (1.0 - ratio) * 100.0,
                COARSE_TICK_DEPARTURE * 100.0
            ),
        );
    }

    fn unique<'n>(
        &mut self,
        section: &str,
        names: impl Iterator<Item = &'n str>,
    ) -> HashMap<String, u16> {
        let mut map = HashMap::new();
        for (i, name) in names.enumerate() {
            if name.is_empty() {
                self.err(field_path![section, i, "name"], "expected a non-empty name");
            } else if map.insert(name.to_owned(), i as u16).is_some() {
                self.err(
                    field_path![section, i, "name"],
                    format!("duplicate {section} name `{name}`: names must be unique"),
                );
            }
        }
        map
    }

    /// The id a declared name has, or `None` with an error listing the known names: code
    /// that needs the thing named does not run without it (a stand-in would report false
    /// problems about a thing the user did not name).
    fn lookup(
        &mut self,
        map: &HashMap<String, u16>,
        what: &str,
        name: &str,
        path: Vec<Seg>,
    ) -> Option<u16> {
        match map.get(name) {
            Some(&id) => Some(id),
            None => {
                let mut known: Vec<&str> = map.keys().map(String::as_str).collect();
                known.sort_unstable();
                let hint = did_you_mean(closest(name, known.iter().copied()));
                let known = if known.is_empty() {
                    format!("none is declared; add a [[{what}]] table")
                } else {
                    format!("expected one of: {}", known.join(", "))
                };
                self.err(path, format!("unknown {what} `{name}`{hint}; {known}"));
                None
            }
        }
    }

    fn fraction(&mut self, value: f64, path: Vec<Seg>) -> Chance {
        if !(0.0..=1.0).contains(&value) {
            self.err(
                path,
                format!("expected a number from 0 to 1, found {value}"),
            );
        }
        Chance::new(value)
    }

    fn non_negative(&mut self, value: f64, path: Vec<Seg>) -> f64 {
        if !value.is_finite() || value < 0.0 {
            self.err(path, format!("expected a finite number ≥ 0, found {value}"));
            return 0.0;
        }
        value
    }

    /// Checks that `per_second` events per second stay within [`MAX_PER_TICK`] per tick.
    fn per_tick_bound(&mut self, per_second: f64, tick: SimDuration, path: Vec<Seg>) -> f64 {
        let per_tick = per_second * tick.as_secs_f64();
        if per_tick > MAX_PER_TICK {
            self.err(
                path,
                format!(
                    "{per_second} per second is {per_tick} per tick of {tick}: expected at most {MAX_PER_TICK} per tick"
                ),
            );
            return 0.0;
        }
        per_second
    }

    /// Resolves a parsed scenario file, section by section in the file's own order:
    /// `[general]`, names, links, services, groups, topology, campaigns, flows, defenses,
    /// traffic, recording. Every problem is collected (with its field) before any is
    /// reported.
    fn resolve(&mut self, file: ScenarioFile, text: &str, origin: &str) -> Scenario {
        let tick = file.general.tick;
        let ticks = self.general(&file.general);
        let zone_ids = self.unique("zone", file.zones.iter().map(|z| z.name.as_str()));
        let link_ids = self.unique("link", file.links.iter().map(|l| l.name.as_str()));
        let service_ids = self.unique("service", file.services.iter().map(|s| s.name.as_str()));
        let group_ids = self.unique("group", file.groups.iter().map(|g| g.name.as_str()));
        self.unique("campaign", file.campaigns.iter().map(|c| c.name.as_str()));

        let links = self.links(&file.links);
        let services = self.services(&file.services);
        let (groups, node_count, terminals) =
            self.groups(&file.groups, tick, &zone_ids, &service_ids, &services);
        let topology = self.topology(&file.topology, &group_ids, &link_ids, &groups, origin);

        let tables = campaign::Tables {
            tick,
            group_ids: &group_ids,
            service_ids: &service_ids,
            groups: &groups,
            topology: &topology,
            topology_complete: topology.len() == file.topology.len(),
            node_count,
            traffic: !file.flows.is_empty(),
        };
        let campaigns = file
            .campaigns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.campaign(i, c, &tables))
            .collect();

        let flows: Vec<Flow> = file
            .flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| self.flow(i, f, &file.traffic, &group_ids, &service_ids, &groups))
            .collect();
        let defense = self.defense(
            &file.defense,
            tick,
            &Names {
                zones: &zone_ids,
                zone_kinds: &file.zones.iter().map(|z| z.kind).collect::<Vec<_>>(),
                groups: &group_ids,
                services: &service_ids,
            },
            &groups,
            &flows,
            None,
        );
        let traffic = self.traffic(&file.traffic);
        if file.recording.flows {
            self.recorded_flows(&flows, &groups, ticks);
        }

        Scenario {
            origin: origin.to_owned(),
            source_hash: fnv1a(text.as_bytes()),
            source: text.to_owned(),
            name: file.general.name.clone(),
            seed: file.general.seed,
            tick: file.general.tick,
            ticks: ticks.clamp(1, MAX_TICKS) as u32,
            zones: file.zones.iter().map(|z| z.name.clone()).collect(),
            links,
            services,
            groups,
            topology,
            campaigns,
            flows,
            traffic,
            defense,
            strategy_source: None,
            strategy_origin: None,
            strategy_warnings: Vec::new(),
            node_count,
            terminal_count: terminals.min(u64::from(u32::MAX)) as u32,
            max_events: file.recording.max_events,
            record_flows: file.recording.flows,
            warnings: std::mem::take(&mut self.warnings),
            file,
        }
    }

    /// `[general]`: the name, the tick and the stop time; returns the number of ticks.
    fn general(&mut self, g: &General) -> u64 {
        if !is_folder_name(&g.name) {
            self.err(
                field_path!["general", "name"],
                format!(
                    "`{}` is not a valid scenario name: expected letters, digits, `-` and `_` (it names the results folder)",
                    g.name
                ),
            );
        }
        if g.tick.as_micros() == 0 {
            self.err(
                field_path!["general", "tick"],
                "expected a tick longer than zero",
            );
        }
        let ticks = g.stop.ticks_ceil(g.tick);
        if g.tick.as_micros() == 0 {
            // Reported above; a tick count means nothing without a tick.
        } else if ticks == 0 {
            self.err(
                field_path!["general", "stop"],
                "expected a stop time after the first tick",
            );
        } else if ticks > MAX_TICKS {
            self.err(
                field_path!["general", "stop"],
                format!(
                    "{ticks} ticks is too many: expected at most {MAX_TICKS} (lengthen the tick)"
                ),
            );
        }
        ticks
    }

    /// `[[link]]`: the link tiers and their capacities.
    fn links(&mut self, specs: &[LinkTierSpec]) -> Vec<LinkTier> {
        for (i, l) in specs.iter().enumerate() {
            if l.capacity.bits_per_second() < 1000 {
                self.err(
                    field_path!["link", i, "capacity"],
                    "expected a capacity of at least 1 kbit/s",
                );
            } else if l.capacity.bits_per_second() / 1000 > MAX_CAPACITY_KBPS {
                self.err(
                    field_path!["link", i, "capacity"],
                    format!("expected at most {MAX_CAPACITY_KBPS} kbit/s (4.29 Tbit/s) per link"),
                );
            }
        }
        specs
            .iter()
            .map(|l| LinkTier {
                name: l.name.clone(),
                capacity: l.capacity,
                latency: l.latency,
            })
            .collect()
    }

    /// `[[service]]`: ports and vulnerabilities (CVSS v3 vectors scored here).
    fn services(&mut self, specs: &[ServiceSpec]) -> Vec<Service> {
        let mut services = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let mut vulnerabilities = Vec::new();
            for (j, v) in s.vulnerabilities.iter().enumerate() {
                match cvss::v3::Vector::from_str(&v.cvss) {
                    Ok(vector) => {
                        let exploitability = vector.exploitability().value();
                        vulnerabilities.push(Vulnerability {
                            id: v.id.clone(),
                            vector: v.cvss.clone(),
                            base_score: vector.score().value(),
                            exploitability,
                            exploit_chance: Chance::new(exploitability / MAX_EXPLOITABILITY),
                        });
                    }
                    Err(e) => self.err(
                        field_path!["service", i, "vulnerabilities", j, "cvss"],
                        format!(
                            "`{}` is not a CVSS v3 base vector ({e}): expected e.g. \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"",
                            v.cvss
                        ),
                    ),
                }
            }
            if s.port == 0 {
                self.err(
                    field_path!["service", i, "port"],
                    "found 0: expected a port from 1 to 65535",
                );
            }
            services.push(Service {
                name: s.name.clone(),
                port: s.port,
                protocol: s.protocol,
                vulnerabilities,
            });
        }
        services
    }

    /// `[[group]]`: the node groups, numbered in file order; returns the groups, the
    /// number of nodes and of terminals.
    fn groups(
        &mut self,
        specs: &[GroupSpec],
        tick: SimDuration,
        zone_ids: &HashMap<String, u16>,
        service_ids: &HashMap<String, u16>,
        services: &[Service],
    ) -> (Vec<Group>, u32, u64) {
        if specs.is_empty() {
            self.err(Vec::new(), "expected at least one [[group]] of nodes");
        }
        let mut groups = Vec::new();
        let mut next_node: u64 = 0;
        let mut terminals: u64 = 0;
        for (i, gs) in specs.iter().enumerate() {
            if gs.count == 0 {
                self.err(field_path!["group", i, "count"], "expected at least 1 node");
            }
            let zone = self.lookup(zone_ids, "zone", &gs.zone, field_path!["group", i, "zone"]);
            let mut svc = Vec::new();
            for (j, name) in gs.services.iter().enumerate() {
                let path = field_path!["group", i, "services", j];
                svc.extend(self.lookup(service_ids, "service", name, path));
            }
            if zone.is_none() || svc.len() < gs.services.len() {
                self.unresolved_groups.push(i as GroupId);
            }
            let patch_level = self.fraction(gs.patch_level, field_path!["group", i, "patch_level"]);
            let susceptibility =
                self.fraction(gs.susceptibility, field_path!["group", i, "susceptibility"]);
            let cps = match gs.connections_per_second {
                Some(c) => {
                    let path = field_path!["group", i, "connections_per_second"];
                    let c = self.non_negative(c, path.clone());
                    self.per_tick_bound(c, tick, path)
                }
                None => gs.kind.default_connections_per_second(),
            };
            if !gs.assets.value.is_finite() || gs.assets.value < 0.0 {
                self.err(
                    field_path!["group", i, "assets", "value"],
                    "expected a finite value ≥ 0",
                );
            }
            let exploit_chance = svc
                .iter()
                .filter_map(|&s| services.get(s as usize))
                .map(Service::exploit_chance)
                .max()
                .unwrap_or(Chance::NEVER);
            groups.push(Group {
                name: gs.name.clone(),
                kind: gs.kind,
                count: gs.count,
                first_node: next_node.min(u64::from(u32::MAX)) as u32,
                // An unknown zone is reported above, and the group is in
                // `unresolved_groups`: no check reads its zone.
                zone: zone.unwrap_or_default(),
                services: svc,
                auth: gs.auth,
                patch_level,
                susceptibility,
                data: gs.data.clone(),
                assets: gs.assets,
                connections: PerTick::from_rate(cps, tick.as_micros()),
                exploit_chance,
            });
            next_node += u64::from(gs.count);
            if gs.kind.is_terminal() {
                terminals += u64::from(gs.count);
            }
        }
        if next_node > MAX_NODES {
            self.err(
                field_path!["group"],
                format!("{next_node} nodes in all: expected at most {MAX_NODES}"),
            );
        }
        let node_count = next_node.min(MAX_NODES) as u32;
        (groups, node_count, terminals)
    }

    /// `[[topology]]`: the steps that link groups, and a warning for each group none
    /// links.
    fn topology(
        &mut self,
        specs: &[TopologySpec],
        group_ids: &HashMap<String, u16>,
        link_ids: &HashMap<String, u16>,
        groups: &[Group],
        origin: &str,
    ) -> Vec<TopologyStep> {
        let topology: Vec<TopologyStep> = specs
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.topology_step(i, t, group_ids, link_ids, groups, origin))
            .collect();
        if !specs.is_empty() && topology.len() == specs.len() {
            let mut linked = vec![false; groups.len()];
            for step in &topology {
                for g in step.groups() {
                    if let Some(l) = linked.get_mut(g as usize) {
                        *l = true;
                    }
                }
            }
            for (i, g) in groups.iter().enumerate().filter(|&(i, _)| !linked[i]) {
                self.warn(
                    field_path!["group", i, "name"],
                    format!(
                        "group `{}` has no links: no [[topology]] step names it, so no flow reaches it and attackers find it only by random scanning (link it with e.g. an access_tree step)",
                        g.name
                    ),
                );
            }
        }
        topology
    }

    /// `[recording] flows = true`: only where the flow records stay a reasonable size.
    fn recorded_flows(&mut self, flows: &[Flow], groups: &[Group], ticks: u64) {
        // Benign flows: one per client node of each spec (at most).
        let flows: u64 = flows
            .iter()
            .map(|f| {
                groups
                    .get(f.clients as usize)
                    .map_or(0, |g| u64::from(g.count))
            })
            .sum();
        let rows = flows.saturating_mul(ticks);
        if flows == 0 {
            self.err(
                field_path!["recording", "flows"],
                "the scenario declares no [[flow]]: there are no flows to record",
            );
        } else if rows > MAX_FLOW_TICKS {
            self.err(
                field_path!["recording", "flows"],
                format!(
                    "per-flow recording is for small scenarios: up to {flows} flows × {ticks} ticks is {rows} rows, expected at most {MAX_FLOW_TICKS} (shorten `stop`, or record fewer flows)"
                ),
            );
        }
    }

    /// One `[[topology]]` step: only its generator's fields, each checked; `None` when
    /// the step has a problem (reported).
    fn topology_step(
        &mut self,
        i: usize,
        t: &TopologySpec,
        group_ids: &HashMap<String, u16>,
        link_ids: &HashMap<String, u16>,
        groups: &[Group],
        origin: &str,
    ) -> Option<TopologyStep> {
        let n = self.diagnostics.len();
        let link = self.lookup(
            link_ids,
            "link",
            &t.link,
            field_path!["topology", i, "link"],
        );
        self.generator_fields(i, t);
        let generator = t.generator.name();
        let need = |v: &mut Self, value: &Option<String>, field: &str| -> Option<GroupId> {
            match value {
                Some(name) => v.lookup(group_ids, "group", name, field_path!["topology", i, field]),
                None => {
                    v.err(
                        field_path!["topology", i],
                        format!("missing field `{field}`: generator `{generator}` needs it"),
                    );
                    None
                }
            }
        };
        // A group's size, for the checks that need it: they do not run for a group that
        // is missing or unknown (reported), and the step is then dropped (`?` below, after
        // every check has run).
        let size = |g: Option<GroupId>| g.and_then(|g| groups.get(g as usize)).map(|g| g.count);
        // Long on purpose: one short arm per generator, side by side (the longer checks
        // are their own methods).
        let step = match t.generator {
            GeneratorKind::AccessTree => {
                let children = need(self, &t.children, "children");
                let parents = need(self, &t.parents, "parents");
                TopologyStep::AccessTree {
                    children: children?,
                    parents: parents?,
                    link: link?,
                }
            }
            GeneratorKind::EdgeAggregation => {
                let children = need(self, &t.children, "children");
                let parents = need(self, &t.parents, "parents");
                let uplinks = t.uplinks.unwrap_or(2);
                if let Some(parent_count) = size(parents)
                    && (uplinks == 0 || uplinks > parent_count)
                {
                    self.err(
                        field_path!["topology", i, "uplinks"],
                        format!(
                            "expected 1 to {parent_count} uplinks (the size of the parent group), found {uplinks}"
                        ),
                    );
                }
                TopologyStep::EdgeAggregation {
                    children: children?,
                    parents: parents?,
                    uplinks,
                    link: link?,
                }
            }
            GeneratorKind::Mesh => {
                let groups = self.mesh(i, t, group_ids, groups);
                TopologyStep::Mesh {
                    groups: groups?,
                    link: link?,
                }
            }
            GeneratorKind::BarabasiAlbert => {
                let group = need(self, &t.group, "group");
                let m = t.m.unwrap_or(2);
                if let Some(count) = size(group)
                    && (m == 0 || m >= count)
                {
                    self.err(
                        field_path!["topology", i, "m"],
                        format!("expected 1 ≤ m < {count} (the group size), found {m}"),
                    );
                }
                TopologyStep::BarabasiAlbert {
                    group: group?,
                    m,
                    link: link?,
                }
            }
            GeneratorKind::ErdosRenyi => {
                let group = need(self, &t.group, "group");
                let links = size(group).map(|count| self.erdos_renyi_links(i, t, count));
                TopologyStep::ErdosRenyi {
                    group: group?,
                    links: links?,
                    link: link?,
                }
            }
            GeneratorKind::WattsStrogatz => {
                let group = need(self, &t.group, "group");
                let k = t.k.unwrap_or(4);
                if let Some(count) = size(group)
                    && (k == 0 || k % 2 == 1 || k >= count / 2)
                {
                    self.err(
                        field_path!["topology", i, "k"],
                        format!(
                            "expected an even k from 2 to below half the group ({count} nodes), found {k}"
                        ),
                    );
                }
                let p = self.fraction(t.p.unwrap_or(0.1), field_path!["topology", i, "p"]);
                TopologyStep::WattsStrogatz {
                    group: group?,
                    k,
                    p,
                    link: link?,
                }
            }
            GeneratorKind::Configuration => {
                let group = need(self, &t.group, "group");
                let degrees = size(group).map(|count| self.degree_sequence(i, t, count));
                TopologyStep::Configuration {
                    group: group?,
                    degrees: degrees?,
                    link: link?,
                }
            }
            GeneratorKind::EdgeList => {
                let group = need(self, &t.group, "group");
                let links = match (&t.file, size(group)) {
                    (Some(file), Some(count)) => self.edge_list(i, file, count, origin),
                    (Some(_), None) => Vec::new(),
                    (None, _) => {
                        self.err(
                            field_path!["topology", i],
                            "missing field `file`: generator `edge_list` needs it",
                        );
                        Vec::new()
                    }
                };
                TopologyStep::EdgeList {
                    group: group?,
                    links: std::sync::Arc::new(links),
                    link: link?,
                }
            }
        };
        (self.diagnostics.len() == n).then_some(step)
    }

    /// A field set on a step whose generator does not read it is an error (it would be
    /// silently ignored).
    fn generator_fields(&mut self, i: usize, t: &TopologySpec) {
        let allowed = t.generator.fields();
        let present = [
            ("children", t.children.is_some()),
            ("parents", t.parents.is_some()),
            ("uplinks", t.uplinks.is_some()),
            ("groups", t.groups.is_some()),
            ("group", t.group.is_some()),
            ("m", t.m.is_some()),
            ("mean_degree", t.mean_degree.is_some()),
            ("k", t.k.is_some()),
            ("p", t.p.is_some()),
            ("exponent", t.exponent.is_some()),
            ("min_degree", t.min_degree.is_some()),
            ("max_degree", t.max_degree.is_some()),
            ("degrees", t.degrees.is_some()),
            ("file", t.file.is_some()),
        ];
        for (field, is_set) in present {
            if is_set && !allowed.contains(&field) {
                self.err(
                    field_path!["topology", i, field],
                    format!(
                        "`{field}` does not apply to generator `{}`: expected only {}",
                        t.generator.name(),
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A `mesh` step's groups: at least one, and not too many nodes for a full mesh;
    /// `None` when a name is unknown (reported).
    fn mesh(
        &mut self,
        i: usize,
        t: &TopologySpec,
        group_ids: &HashMap<String, u16>,
        groups: &[Group],
    ) -> Option<Vec<GroupId>> {
        let names = t.groups.clone().unwrap_or_default();
        if names.is_empty() {
            self.err(
                field_path!["topology", i],
                "missing field `groups`: generator `mesh` needs at least one group",
            );
        }
        let ids: Vec<Option<GroupId>> = names
            .iter()
            .enumerate()
            .map(|(j, g)| {
                self.lookup(
                    group_ids,
                    "group",
                    g,
                    field_path!["topology", i, "groups", j],
                )
            })
            .collect();
        // The known groups' nodes: at least the mesh's size.
        let size: u64 = ids
            .iter()
            .flatten()
            .filter_map(|&g| groups.get(g as usize))
            .map(|g| u64::from(g.count))
            .sum();
        if size > MAX_MESH_NODES {
            self.err(
                field_path!["topology", i, "groups"],
                format!(
                    "a full mesh of {size} nodes is too large: expected at most {MAX_MESH_NODES}; use `barabasi_albert` for big peer graphs"
                ),
            );
        }
        ids.into_iter().collect()
    }

    /// An `erdos_renyi` step's number of links, from its mean degree.
    fn erdos_renyi_links(&mut self, i: usize, t: &TopologySpec, count: u32) -> u64 {
        let degree = t.mean_degree.unwrap_or(4.0);
        // Room for links: at most half of all pairs, so drawing stays fast.
        let max = f64::from(count.saturating_sub(1)) / 2.0;
        if !(degree.is_finite() && degree > 0.0 && degree <= max) {
            self.err(
                field_path!["topology", i, "mean_degree"],
                format!(
                    "expected a mean degree above 0 and at most {max} (half the group of {count} less one), found {degree}"
                ),
            );
        }
        (degree.clamp(0.0, max.max(0.0)) * f64::from(count) / 2.0).round() as u64
    }

    /// The degrees of a `configuration` step: a power law or a given list, not both.
    fn degree_sequence(&mut self, i: usize, t: &TopologySpec, count: u32) -> DegreeSequence {
        let p = |f: &str| field_path!["topology", i, f];
        match (&t.degrees, t.exponent) {
            (Some(given), None) => {
                if t.min_degree.is_some() || t.max_degree.is_some() {
                    self.err(
                        p("degrees"),
                        "`min_degree` and `max_degree` apply to `exponent`, not to a given `degrees` list",
                    );
                }
                if given.is_empty() || given.len() > count as usize {
                    self.err(
                        p("degrees"),
                        format!(
                            "expected 1 to {count} degrees (the group's size), found {}",
                            given.len()
                        ),
                    );
                } else if let Some(&d) = given.iter().find(|&&d| d >= count) {
                    self.err(
                        p("degrees"),
                        format!("a degree of {d} in a group of {count}: expected below {count}"),
                    );
                }
                DegreeSequence::Given(given.clone())
            }
            (None, exponent) => {
                let exponent = exponent.unwrap_or(2.5);
                if !(exponent.is_finite() && exponent > 2.0 && exponent <= 10.0) {
                    self.err(
                        p("exponent"),
                        format!(
                            "expected an exponent above 2 and at most 10 (a finite mean degree), found {exponent}"
                        ),
                    );
                }
                let min = t.min_degree.unwrap_or(2);
                // Structural cut-off ⌈√n⌉, at least the minimum.
                let root = count.isqrt();
                let cutoff = if root * root < count { root + 1 } else { root };
                let max = t.max_degree.unwrap_or_else(|| cutoff.max(1).max(min));
                if min == 0 || min > max || max >= count {
                    self.err(
                        p(if t.max_degree.is_some() { "max_degree" } else { "min_degree" }),
                        format!(
                            "expected 1 ≤ min_degree ≤ max_degree < {count} (the group's size), found {min} and {max}"
                        ),
                    );
                }
                DegreeSequence::PowerLaw { exponent, min, max }
            }
            (Some(_), Some(_)) => {
                self.err(
                    p("degrees"),
                    "give either `exponent` (a power law) or `degrees` (the sequence), not both",
                );
                DegreeSequence::Given(vec![1])
            }
        }
    }

    /// Reads an edge-list file (relative to the scenario's folder), checking each line;
    /// problems name the file and line.
    fn edge_list(&mut self, i: usize, file: &str, count: u32, origin: &str) -> Vec<(u32, u32)> {
        let path_field = field_path!["topology", i, "file"];
        let base = if origin.starts_with('<') {
            Path::new("")
        } else {
            Path::new(origin).parent().unwrap_or(Path::new(""))
        };
        let path = base.join(file);
        let text = match read_input(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err(path_field, e.to_string());
                return Vec::new();
            }
        };
        let is_graphml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("graphml"));
        let (links, problems) = if is_graphml {
            graphml_links(&text, count)
        } else {
            text_links(&text, count)
        };
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(5).cloned().collect();
            let more = problems.len().saturating_sub(shown.len());
            self.err(
                path_field,
                format!(
                    "{}: {}{}",
                    path.display(),
                    shown.join("; "),
                    if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    }
                ),
            );
        } else if links.is_empty() {
            self.err(path_field, format!("{}: no links", path.display()));
        }
        links
    }

    /// A `[[flow]]`: its groups, service, rate and class; `None` when it names an
    /// unknown group or service (reported).
    fn flow(
        &mut self,
        i: usize,
        f: &FlowSpec,
        traffic: &TrafficSpec,
        group_ids: &HashMap<String, u16>,
        service_ids: &HashMap<String, u16>,
        groups: &[Group],
    ) -> Option<Flow> {
        let p = |field: &str| field_path!["flow", i, field];
        let clients = self.lookup(group_ids, "group", &f.clients, p("clients"));
        let servers = self.lookup(group_ids, "group", &f.servers, p("servers"));
        // The server group's services, where the group and all its services are known.
        let offered = servers
            .filter(|&g| self.resolved(g))
            .and_then(|g| groups.get(g as usize))
            .map(|g| &g.services[..]);
        // `None`: a service named and unknown (reported); `Some(None)`: none at all.
        let service = match &f.service {
            None => Some(offered.and_then(|o| o.first().copied())),
            Some(name) => {
                let id = self.lookup(service_ids, "service", name, p("service"));
                if let (Some(id), Some(offered)) = (id, offered)
                    && !offered.contains(&id)
                {
                    let names: Vec<&str> = offered
                        .iter()
                        .filter_map(|&s| service_ids.iter().find(|&(_, &v)| v == s))
                        .map(|(k, _)| k.as_str())
                        .collect();
                    self.err(
                        p("service"),
                        format!(
                            "group `{}` does not run `{name}`: expected one of its services ({})",
                            f.servers,
                            if names.is_empty() {
                                "it declares none".to_owned()
                            } else {
                                names.join(", ")
                            }
                        ),
                    );
                }
                id.map(Some)
            }
        };
        let kbps = f.rate.bits_per_second() / 1000;
        if kbps == 0 || kbps > u64::from(u32::MAX) {
            self.err(
                p("rate"),
                format!("expected a rate from 1 kbit/s to {} kbit/s", u32::MAX),
            );
        }
        let share = self.fraction(f.share, p("share"));
        if f.class.is_attack() {
            self.err(
                p("class"),
                format!(
                    "`{}` is an attack class: campaigns create those flows (a [[campaign]] with [campaign.botnet] floods, [campaign.exfiltration] sends data out); expected a benign class: xr_stream, telemetry, control or transaction",
                    f.class.name()
                ),
            );
        }
        if f.priority.is_some_and(|pr| pr > 7) {
            self.err(p("priority"), "expected a priority class from 0 to 7");
        }
        let budget = f
            .latency_budget
            .or((f.class == FlowClass::XrStream).then_some(traffic.xr_latency_budget));
        Some(Flow {
            name: f.name.clone(),
            class: f.class,
            clients: clients?,
            servers: servers?,
            service: service?,
            direction: f.direction,
            rate_kbps: kbps.clamp(1, u64::from(u32::MAX)) as u32,
            share,
            priority: f.priority.unwrap_or(f.class.default_priority()),
            latency_budget_us: budget.map(SimDuration::as_micros),
            diurnal: f.diurnal,
        })
    }

    fn traffic(&mut self, t: &TrafficSpec) -> Traffic {
        let mut daily_permille = DEFAULT_DAILY_PERMILLE;
        if let Some(profile) = &t.daily_profile {
            if profile.len() != 24 {
                self.err(
                    field_path!["traffic", "daily_profile"],
                    format!(
                        "expected 24 numbers (one per hour), found {}",
                        profile.len()
                    ),
                );
            } else {
                for (h, &v) in profile.iter().enumerate() {
                    self.fraction(v, field_path!["traffic", "daily_profile", h]);
                    daily_permille[h] = (v.clamp(0.0, 1.0) * 1000.0).round() as u32;
                }
            }
        }
        Traffic {
            daily_permille,
            start_of_day_us: t.start_of_day.as_micros() % 86_400_000_000,
            queue_limit_us: t.queue_limit.as_micros(),
        }
    }
}

/// Whether a name can name a results folder: non-empty, letters, digits, `-` and `_`
/// only (no separators, no `..`). Scenario, strategy and experiment names are.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The JSON Schema of scenario files, for editors (`paraverse schema`).
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(ScenarioFile)
}

#[cfg(test)]
mod tests;
