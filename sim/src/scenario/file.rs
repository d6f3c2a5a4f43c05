//! The scenario file as written: serde types that check *format* only.
//!
//! Every table denies unknown fields, so a typo (`cout = 5`) is an error with its line and
//! column rather than a silently ignored key. References between sections (a group's
//! zone, a campaign's entry group) are plain names here; [`super::Scenario::from_toml_str`]
//! resolves and checks them. Campaign and defense *data* is declared here so that one
//! file has one schema; their *behaviour* lives in the `attackers` and `defenders` crates.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::units::{Bandwidth, SimDuration};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Name, seed and clock of the run.
    pub general: General,
    /// Network zones (segments); groups are placed in zones.
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneSpec>,
    /// Link tiers: capacity and latency shared by all links built from a tier.
    #[serde(default, rename = "link")]
    pub links: Vec<LinkTierSpec>,
    /// Network services that nodes run, with their known vulnerabilities.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceSpec>,
    /// Node groups: `count` identical nodes of one kind in one zone.
    #[serde(rename = "group")]
    pub groups: Vec<GroupSpec>,
    /// Topology generators that wire the groups together.
    #[serde(default, rename = "topology")]
    pub topology: Vec<TopologySpec>,
    /// Attack campaigns.
    #[serde(default, rename = "campaign")]
    pub campaigns: Vec<CampaignSpec>,
    /// Benign traffic: flows between groups, carried by the traffic core.
    #[serde(default, rename = "flow")]
    pub flows: Vec<FlowSpec>,
    /// Traffic-core settings.
    #[serde(default)]
    pub traffic: TrafficSpec,
    /// The defense strategy.
    #[serde(default)]
    pub defense: DefenseSpec,
    /// What the run records.
    #[serde(default)]
    pub recording: RecordingSpec,
}

/// Name, seed and clock.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct General {
    /// Short name; results go to `results/<name>-<seed>/`. Letters, digits, `-` and `_`.
    pub name: String,
    /// What the scenario is about, for `paraverse list` and reports.
    #[serde(default)]
    pub description: String,
    /// Seed of all randomness in the run (override with `paraverse run --seed`).
    pub seed: u64,
    /// Simulated time per tick, e.g. "1 s".
    pub tick: SimDuration,
    /// Simulated time at which the run stops, e.g. "2 h".
    pub stop: SimDuration,
}

/// A network zone (segment), e.g. a campus XR floor or a cloud VPC.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Unique name.
    pub name: String,
    /// What lives there.
    #[serde(default)]
    pub description: String,
}

/// A link tier: every link built with this tier has its capacity and latency.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTierSpec {
    /// Unique name, referenced by topology generators.
    pub name: String,
    /// Capacity in each direction, e.g. "1 Gbit/s".
    pub capacity: Bandwidth,
    /// One-way propagation delay, e.g. "2 ms".
    pub latency: SimDuration,
}

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// A network service and its known vulnerabilities.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Unique name, referenced by groups and campaigns.
    pub name: String,
    /// Listening port.
    pub port: u16,
    /// Transport protocol.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Known vulnerabilities of this service.
    #[serde(default)]
    pub vulnerabilities: Vec<VulnerabilitySpec>,
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}

/// A vulnerability, scored by a CVSS v3.1 base vector.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilitySpec {
    /// Identifier, e.g. "CVE-2026-12345".
    pub id: String,
    /// CVSS v3.x base vector, e.g. "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".
    pub cvss: String,
}

/// The kinds of node in a metaverse network.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// VR/MR head-mounted display.
    XrHeadset,
    /// AR glasses.
    ArGlasses,
    /// Smartphone or tablet used as a metaverse client.
    Phone,
    /// Wearable IoT device (haptics, fitness band, body sensor).
    IotWearable,
    /// Fixed IoT sensor or actuator (smart city, digital twin input).
    IotSensor,
    /// 5G/MEC edge server.
    EdgeServer,
    /// Gateway, access point or router.
    Gateway,
    /// Cloud virtual machine.
    CloudVm,
    /// GPU render or AI node.
    GpuNode,
    /// Identity provider.
    IdentityProvider,
    /// Data store (databases, object stores, twin state).
    DataStore,
    /// Distributed-ledger node.
    LedgerNode,
    /// Wallet or marketplace service.
    WalletService,
    /// Security operations centre / SIEM.
    Soc,
}

impl NodeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NodeKind; 14] = [
        NodeKind::XrHeadset,
        NodeKind::ArGlasses,
        NodeKind::Phone,
        NodeKind::IotWearable,
        NodeKind::IotSensor,
        NodeKind::EdgeServer,
        NodeKind::Gateway,
        NodeKind::CloudVm,
        NodeKind::GpuNode,
        NodeKind::IdentityProvider,
        NodeKind::DataStore,
        NodeKind::LedgerNode,
        NodeKind::WalletService,
        NodeKind::Soc,
    ];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::XrHeadset => "xr_headset",
            NodeKind::ArGlasses => "ar_glasses",
            NodeKind::Phone => "phone",
            NodeKind::IotWearable => "iot_wearable",
            NodeKind::IotSensor => "iot_sensor",
            NodeKind::EdgeServer => "edge_server",
            NodeKind::Gateway => "gateway",
            NodeKind::CloudVm => "cloud_vm",
            NodeKind::GpuNode => "gpu_node",
            NodeKind::IdentityProvider => "identity_provider",
            NodeKind::DataStore => "data_store",
            NodeKind::LedgerNode => "ledger_node",
            NodeKind::WalletService => "wallet_service",
            NodeKind::Soc => "soc",
        }
    }

    /// Whether this kind is a user terminal (what "a million terminals" counts).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            NodeKind::XrHeadset
                | NodeKind::ArGlasses
                | NodeKind::Phone
                | NodeKind::IotWearable
                | NodeKind::IotSensor
        )
    }

    /// Typical outbound connection attempts per second in benign use: the background
    /// against which scan-based detection must find attackers.
    pub fn default_connections_per_second(self) -> f64 {
        match self {
            NodeKind::XrHeadset => 0.5,
            NodeKind::ArGlasses => 0.4,
            NodeKind::Phone => 0.3,
            NodeKind::IotWearable => 0.05,
            NodeKind::IotSensor => 0.02,
            NodeKind::EdgeServer => 5.0,
            NodeKind::Gateway => 10.0,
            NodeKind::CloudVm => 3.0,
            NodeKind::GpuNode => 2.0,
            NodeKind::IdentityProvider => 8.0,
            NodeKind::DataStore => 4.0,
            NodeKind::LedgerNode => 6.0,
            NodeKind::WalletService => 5.0,
            NodeKind::Soc => 2.0,
        }
    }
}

/// How a node's users or services authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Factory-default credentials never changed (the Mirai case).
    DefaultCredentials,
    /// A user-chosen password.
    #[default]
    Password,
    /// Password plus a second factor.
    Mfa,
    /// Biometric (face, iris, gait) from the XR device.
    Biometric,
    /// Device certificate / hardware root of trust.
    Certificate,
}

/// Classes of data a node holds, by sensitivity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DataClass {
    /// Biometric templates (face, iris, voice, gait); a leak is irreversible.
    Biometric,
    /// Health data from wearables.
    Health,
    /// Behavioural data (gaze, motion, interactions).
    Behavioural,
    /// Credentials and session tokens.
    Credentials,
    /// Private keys that control digital assets.
    AssetKeys,
    /// Enterprise digital-twin data.
    TwinData,
}

/// Digital assets held per node.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AssetsSpec {
    /// Number of assets (NFTs, tokens) per node.
    #[serde(default)]
    pub count: u32,
    /// Value of each asset, in the scenario's currency unit.
    #[serde(default)]
    pub value: f64,
}

/// `count` identical nodes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Unique name; nodes are named `<group>-<index>`.
    pub name: String,
    /// What the nodes are.
    pub kind: NodeKind,
    /// How many nodes.
    pub count: u32,
    /// The zone they live in.
    pub zone: String,
    /// Services they run (names from `[[service]]`).
    #[serde(default)]
    pub services: Vec<String>,
    /// How they authenticate.
    #[serde(default)]
    pub auth: AuthMethod,
    /// Share of nodes that have every known vulnerability patched at the start, 0 to 1.
    #[serde(default)]
    pub patch_level: f64,
    /// Chance that a user falls for a phishing lure or fake app, 0 to 1.
    #[serde(default = "default_susceptibility")]
    pub susceptibility: f64,
    /// Records held per node, by class.
    #[serde(default)]
    pub data: BTreeMap<DataClass, u64>,
    /// Digital assets held per node.
    #[serde(default)]
    pub assets: AssetsSpec,
    /// Benign outbound connection attempts per second (default: typical for the kind).
    #[serde(default)]
    pub connections_per_second: Option<f64>,
}

fn default_susceptibility() -> f64 {
    0.1
}

/// Which topology generator a `[[topology]]` entry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// Each node of `children` gets one uplink to a node of `parents`, in contiguous
    /// blocks (neighbouring terminals share an access point).
    AccessTree,
    /// Each node of `children` gets `uplinks` links to distinct nodes of `parents`
    /// (multi-homed edge aggregation).
    EdgeAggregation,
    /// A full mesh among every node of `groups` (cloud cores; at most 2,000 nodes).
    Mesh,
    /// A Barabási–Albert scale-free peer graph within `group`: each new node attaches
    /// to `m` existing nodes with probability proportional to their degree.
    BarabasiAlbert,
}

/// One topology generator run. Which fields apply depends on `generator`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// The generator.
    pub generator: GeneratorKind,
    /// Link tier of the links it builds.
    pub link: String,
    /// `access_tree`, `edge_aggregation`: the group whose nodes get uplinks.
    #[serde(default)]
    pub children: Option<String>,
    /// `access_tree`, `edge_aggregation`: the group uplinks go to.
    #[serde(default)]
    pub parents: Option<String>,
    /// `edge_aggregation`: uplinks per child (default 2).
    #[serde(default)]
    pub uplinks: Option<u32>,
    /// `mesh`: the groups meshed together.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// `barabasi_albert`: the group wired as a peer graph.
    #[serde(default)]
    pub group: Option<String>,
    /// `barabasi_albert`: links per new node (default 2).
    #[serde(default)]
    pub m: Option<u32>,
}

/// What a flow carries. Benign classes come from `[[flow]]`; attack classes are added
/// by campaigns through the traffic core's API.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FlowClass {
    /// Rendered XR stream with a motion-to-photon latency budget.
    XrStream,
    /// Sensor and device telemetry.
    Telemetry,
    /// Control traffic (device management, signalling).
    Control,
    /// Ledger and wallet transactions.
    Transaction,
    /// Attack: volumetric DDoS.
    Ddos,
    /// Attack: scanning.
    Scan,
    /// Attack: data exfiltration.
    Exfiltration,
}

impl FlowClass {
    /// Default priority: control first (0), everything else shares class 1. Attack
    /// traffic looks like ordinary traffic to the network, so it gets no class of its own.
    pub fn default_priority(self) -> u8 {
        match self {
            FlowClass::Control => 0,
            _ => 1,
        }
    }

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            FlowClass::XrStream => "xr_stream",
            FlowClass::Telemetry => "telemetry",
            FlowClass::Control => "control",
            FlowClass::Transaction => "transaction",
            FlowClass::Ddos => "ddos",
            FlowClass::Scan => "scan",
            FlowClass::Exfiltration => "exfiltration",
        }
    }
}

/// Which way a benign flow's data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the server to the client (XR streams, downloads).
    #[default]
    Downstream,
    /// From the client to the server (telemetry, uploads).
    Upstream,
}

/// Benign flows: each client node (of a share of `clients`) gets one flow to or from the
/// nearest node of `servers` (anycast, as edge rendering and ingestion pick the closest).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// Name, for reports.
    pub name: String,
    /// What the flows carry.
    pub class: FlowClass,
    /// Group whose nodes each get a flow.
    pub clients: String,
    /// Group whose nearest node serves each client.
    pub servers: String,
    /// Direction of the data.
    #[serde(default)]
    pub direction: Direction,
    /// Demanded rate per flow at the daily peak, e.g. "25 Mbit/s".
    pub rate: Bandwidth,
    /// Share of the clients with a flow, 0 to 1 (default 1).
    #[serde(default = "share_all")]
    pub share: f64,
    /// Priority class, 0 served first (default: by class; control 0, others 1).
    #[serde(default)]
    pub priority: Option<u8>,
    /// End-to-end latency budget (default `traffic.xr_latency_budget` for XR streams,
    /// none for the rest).
    #[serde(default)]
    pub latency_budget: Option<SimDuration>,
    /// Whether demand follows the daily profile (default true).
    #[serde(default = "yes")]
    pub diurnal: bool,
}

fn share_all() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

/// Traffic-core settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    /// Motion-to-photon budget of XR streams (default "20 ms").
    #[serde(default = "default_xr_budget")]
    pub xr_latency_budget: SimDuration,
    /// Time of day at the start of the run (default "12 h"), for the daily profile.
    #[serde(default = "default_start_of_day")]
    pub start_of_day: SimDuration,
    /// Demand per hour of the day as a share of the peak, 24 numbers from 0 to 1
    /// (default: a residential profile peaking in the evening).
    #[serde(default)]
    pub daily_profile: Option<Vec<f64>>,
    /// Largest queueing delay a link adds (its buffer), default "50 ms".
    #[serde(default = "default_queue_limit")]
    pub queue_limit: SimDuration,
}

impl Default for TrafficSpec {
    fn default() -> Self {
        Self {
            xr_latency_budget: default_xr_budget(),
            start_of_day: default_start_of_day(),
            daily_profile: None,
            queue_limit: default_queue_limit(),
        }
    }
}

fn default_xr_budget() -> SimDuration {
    SimDuration::from_micros(20_000)
}

fn default_start_of_day() -> SimDuration {
    SimDuration::from_secs(12 * 3600)
}

fn default_queue_limit() -> SimDuration {
    SimDuration::from_micros(50_000)
}

/// An attack campaign. Exactly one kind table (e.g. `[campaign.worm]`) says what it is.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Unique name, used in events and metrics.
    pub name: String,
    /// Simulated time at which it starts (default "0 s").
    #[serde(default)]
    pub start: SimDuration,
    /// A self-propagating worm.
    #[serde(default)]
    pub worm: Option<WormSpec>,
}

/// How a worm picks addresses to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScanStrategy {
    /// Uniformly random addresses in the address space (Code Red v1, Slammer).
    #[default]
    Random,
    /// With probability `local_bias` a node within two hops on the topology, otherwise a
    /// random address (Code Red II, Nimda: local subnets first).
    LocalPreference,
}

/// A scanning worm.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WormSpec {
    /// Group where the initial infections are placed.
    pub entry: String,
    /// Number of initially infected nodes (default 1).
    #[serde(default = "one")]
    pub initial: u32,
    /// Scan attempts per second per infected node.
    pub scan_rate: f64,
    /// How targets are picked.
    #[serde(default)]
    pub strategy: ScanStrategy,
    /// `local_preference`: share of scans aimed at topological neighbours (default 0.5).
    #[serde(default)]
    pub local_bias: Option<f64>,
    /// Size of the scanned address space (default: the number of nodes); addresses beyond
    /// the nodes are empty, as most of IPv4 is for an Internet worm.
    #[serde(default)]
    pub address_space: Option<u64>,
    /// The service whose vulnerabilities it exploits (default: any vulnerable service).
    #[serde(default)]
    pub service: Option<String>,
}

fn one() -> u32 {
    1
}

/// The defense strategy: each section switches one defense on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefenseSpec {
    /// Patching on a cadence.
    #[serde(default)]
    pub patching: Option<PatchingSpec>,
    /// Scan detection: alert on nodes whose outbound connection rate exceeds a threshold.
    #[serde(default)]
    pub detection: Option<DetectionSpec>,
    /// Quarantine of alerted nodes after a response delay.
    #[serde(default)]
    pub quarantine: Option<QuarantineSpec>,
}

/// Patch rounds every `interval`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchingSpec {
    /// Time between patch rounds, e.g. "1 h".
    pub interval: SimDuration,
    /// Share of still-unpatched nodes patched in each round, 0 to 1.
    pub coverage: f64,
    /// Zones covered (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// Threshold detection of scanning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionSpec {
    /// Outbound connection attempts per second above which a node raises an alert.
    pub threshold: f64,
    /// Zones whose nodes are monitored (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// Quarantine on detection.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineSpec {
    /// Time from alert to isolation (triage and response), e.g. "30 s".
    pub delay: SimDuration,
    /// If set, a quarantined node is rebuilt (clean and patched) and released after this.
    #[serde(default)]
    pub release_after: Option<SimDuration>,
}

/// What a run records.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingSpec {
    /// Most events written to `events.jsonl`; later ones are counted, not written.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
}

impl Default for RecordingSpec {
    fn default() -> Self {
        Self {
            max_events: default_max_events(),
        }
    }
}

fn default_max_events() -> u64 {
    100_000
}
