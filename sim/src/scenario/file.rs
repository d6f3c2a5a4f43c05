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
    /// What the zone is for: strategies name zones by kind (`"kind:users"`), so one
    /// strategy applies to every scenario that declares its zones' kinds.
    #[serde(default)]
    pub kind: Option<ZoneKind>,
}

/// What a zone is for: the roles a strategy written for any scenario segments, watches
/// and protects by (`zones = ["kind:iot"]`), where a zone's name belongs to one scenario.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// People's devices: XR headsets, AR glasses, phones, workstations.
    Users,
    /// Sensors and wearables.
    Iot,
    /// Gateways, access switches, 5G/MEC edge servers.
    Edge,
    /// Data centre and cloud: VMs, GPU nodes, application and file servers.
    Datacenter,
    /// Identity, data stores, ledgers, wallets, the SOC: what every attack ends at.
    Trust,
    /// The Internet beyond the network: the attackers' own servers.
    Internet,
}

impl ZoneKind {
    /// Every kind, in declaration order.
    pub const ALL: [ZoneKind; 6] = [
        ZoneKind::Users,
        ZoneKind::Iot,
        ZoneKind::Edge,
        ZoneKind::Datacenter,
        ZoneKind::Trust,
        ZoneKind::Internet,
    ];

    /// The name used in scenario and strategy files.
    pub fn name(self) -> &'static str {
        match self {
            ZoneKind::Users => "users",
            ZoneKind::Iot => "iot",
            ZoneKind::Edge => "edge",
            ZoneKind::Datacenter => "datacenter",
            ZoneKind::Trust => "trust",
            ZoneKind::Internet => "internet",
        }
    }
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
    /// An employee's desktop or laptop (an enterprise user terminal).
    Workstation,
    /// A general-purpose server (web, application, mail).
    Server,
    /// A directory service (Active Directory, LDAP, Kerberos): the keys to every account.
    DirectoryService,
    /// A file server (SMB/NFS shares).
    FileServer,
}

impl NodeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NodeKind; 18] = [
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
        NodeKind::Workstation,
        NodeKind::Server,
        NodeKind::DirectoryService,
        NodeKind::FileServer,
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
            NodeKind::Workstation => "workstation",
            NodeKind::Server => "server",
            NodeKind::DirectoryService => "directory_service",
            NodeKind::FileServer => "file_server",
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
                | NodeKind::Workstation
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
            NodeKind::Workstation => 0.5,
            NodeKind::Server => 3.0,
            NodeKind::DirectoryService => 8.0,
            NodeKind::FileServer => 4.0,
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
    /// Personally identifiable information (names, addresses, ID numbers).
    Pii,
    /// Financial records (accounts, cards, payroll).
    Financial,
}

impl DataClass {
    /// Every class, most sensitive first (the order exfiltration takes them in).
    pub const ALL: [DataClass; 8] = [
        DataClass::Biometric,
        DataClass::Health,
        DataClass::AssetKeys,
        DataClass::Financial,
        DataClass::Credentials,
        DataClass::Pii,
        DataClass::Behavioural,
        DataClass::TwinData,
    ];

    /// The name used in files and metric names.
    pub fn name(self) -> &'static str {
        match self {
            DataClass::Biometric => "biometric",
            DataClass::Health => "health",
            DataClass::Behavioural => "behavioural",
            DataClass::Credentials => "credentials",
            DataClass::AssetKeys => "asset_keys",
            DataClass::TwinData => "twin_data",
            DataClass::Pii => "pii",
            DataClass::Financial => "financial",
        }
    }
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
    /// Besides the mean, about 1 node-tick in 5,000 has a benign burst (an update check,
    /// peer discovery) of up to 20 × the mean + 10 attempts, which rate detectors see as
    /// honest false positives; 0 makes the group silent, bursts included.
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
    /// An Erdős–Rényi random graph G(n, m) within `group`: `mean_degree × n / 2`
    /// distinct links between uniformly drawn pairs (homogeneous: degrees are Poisson).
    ErdosRenyi,
    /// A Watts–Strogatz small world within `group`: a ring where each node links to its
    /// `k` nearest neighbours, each link rewired to a uniform node with chance `p`.
    WattsStrogatz,
    /// The configuration model within `group`: each node gets a degree (a power law with
    /// `exponent` from `min_degree` to `max_degree`, or the `degrees` given), and link
    /// ends are paired uniformly at random; self-links and repeated pairs are dropped
    /// (the "erased" configuration model).
    Configuration,
    /// Links read from a file (`file`) within `group`. A text file has one link per line
    /// as two node indices counted from 0, separated by spaces, tabs or a comma, `#`
    /// starting a comment (networkx's `write_edgelist`, SNAP's datasets); a `.graphml`
    /// file's `<node>`s are the group's nodes in document order and its `<edge>`s the
    /// links (direction ignored).
    EdgeList,
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
    /// `barabasi_albert`, `erdos_renyi`, `watts_strogatz`: the group wired as a peer
    /// graph.
    #[serde(default)]
    pub group: Option<String>,
    /// `barabasi_albert`: links per new node (default 2).
    #[serde(default)]
    pub m: Option<u32>,
    /// `erdos_renyi`: mean degree (default 4).
    #[serde(default)]
    pub mean_degree: Option<f64>,
    /// `watts_strogatz`: ring neighbours per node, even (default 4).
    #[serde(default)]
    pub k: Option<u32>,
    /// `watts_strogatz`: chance each ring link is rewired (default 0.1).
    #[serde(default)]
    pub p: Option<f64>,
    /// `configuration`: exponent γ of the power-law degree distribution P(k) ∝ k^(−γ),
    /// above 2 (e.g. 2.5; internet-like graphs have 2 to 3).
    #[serde(default)]
    pub exponent: Option<f64>,
    /// `configuration` with `exponent`: smallest degree (default 2).
    #[serde(default)]
    pub min_degree: Option<u32>,
    /// `configuration` with `exponent`: largest degree (default: √n, the structural
    /// cut-off that keeps repeated pairs rare).
    #[serde(default)]
    pub max_degree: Option<u32>,
    /// `configuration`: the degrees themselves, node by node; a shorter list repeats
    /// over the group (`[1, 1, 1, 12]`: every fourth node a hub).
    #[serde(default)]
    pub degrees: Option<Vec<u32>>,
    /// `edge_list`: the file of links, relative to the scenario file.
    #[serde(default)]
    pub file: Option<String>,
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
    /// Traffic a real network measures on a link that no flow of the scenario makes (the
    /// twin imposes it from `link_load` observations).
    Background,
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

    /// Whether attackers send it (DDoS, scanning, exfiltration).
    pub fn is_attack(self) -> bool {
        matches!(
            self,
            FlowClass::Ddos | FlowClass::Scan | FlowClass::Exfiltration
        )
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
            FlowClass::Background => "background",
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
    /// The service of `servers` the clients connect to (default: the group's first
    /// service, or any port when it declares none). Segmentation admits exactly the
    /// services flows name between two segments unless an allow lists its own.
    #[serde(default)]
    pub service: Option<String>,
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
///
/// Targeted campaigns (intrusion, cryptojacking, exfiltration, asset theft, ransomware,
/// false data injection, poisoning) share the approach fields: where the attacker gets
/// in (`entry`, `access`, `attempt_rate`), what it is after (`target`), how it moves
/// (`lateral_rate`, `credential_reuse`) and when it is satisfied (`goal`). Identity
/// campaigns (phishing, takeover) use `target`, `attempt_rate` and `goal`. Worms and
/// botnets spread by scanning and keep their settings in their own table.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Unique name, used in events and metrics.
    pub name: String,
    /// Simulated time at which it starts (default "0 s").
    #[serde(default)]
    pub start: SimDuration,
    /// Targeted campaigns: the group where the attacker first gets in.
    #[serde(default)]
    pub entry: Option<String>,
    /// Targeted campaigns: how the attacker gets in (default `exploit`).
    #[serde(default)]
    pub access: Option<AccessMethod>,
    /// Initial-access attempts (or lures, or login attempts) per second (default 0.1).
    #[serde(default)]
    pub attempt_rate: Option<f64>,
    /// The group whose nodes are the objective (victims for identity campaigns).
    #[serde(default)]
    pub target: Option<String>,
    /// Targeted campaigns: lateral-movement attempts per second per held node
    /// (default 0.05).
    #[serde(default)]
    pub lateral_rate: Option<f64>,
    /// Targeted campaigns: chance that harvested credentials open a password-protected
    /// neighbour (default 0.3; a twentieth of it against MFA, never against certificates
    /// or biometrics).
    #[serde(default)]
    pub credential_reuse: Option<f64>,
    /// What counts as success; the unit depends on the kind (nodes, accounts, records,
    /// assets). Default per kind, see each kind.
    #[serde(default)]
    pub goal: Option<u64>,
    /// A self-propagating worm.
    #[serde(default)]
    pub worm: Option<WormSpec>,
    /// An IoT/XR botnet: Mirai-style recruitment by default credentials, then a DDoS.
    #[serde(default)]
    pub botnet: Option<BotnetSpec>,
    /// Exploitation and lateral movement to a high-value target. Goal: target nodes held
    /// (default 1).
    #[serde(default)]
    pub intrusion: Option<IntrusionSpec>,
    /// Cryptojacking of GPU, edge or cloud nodes. Goal: nodes hijacked (default 1).
    #[serde(default)]
    pub cryptojacking: Option<CryptojackingSpec>,
    /// Phishing lures or fake metaverse apps. Goal: accounts taken over (default 1).
    #[serde(default)]
    pub phishing: Option<PhishingSpec>,
    /// Account takeover by credential stuffing or deepfake impersonation. Goal: accounts
    /// taken over (default 1).
    #[serde(default)]
    pub takeover: Option<TakeoverSpec>,
    /// Data exfiltration from the target's records. Goal: records stolen (default: the
    /// records of one target node).
    #[serde(default)]
    pub exfiltration: Option<ExfiltrationSpec>,
    /// Digital-asset and NFT theft from wallets and marketplaces. Goal: assets stolen
    /// (default: the assets of one target node).
    #[serde(default)]
    pub asset_theft: Option<AssetTheftSpec>,
    /// Ransomware: encrypts target nodes, which stay down until restored. Goal: nodes
    /// encrypted (default 1).
    #[serde(default)]
    pub ransomware: Option<RansomwareSpec>,
    /// False data injection into sensors feeding a digital twin. Goal: wrong decisions
    /// (default 1).
    #[serde(default)]
    pub false_data: Option<FalseDataSpec>,
    /// Poisoning of the detection model's training data. Goal: the model fully poisoned.
    #[serde(default)]
    pub poisoning: Option<PoisoningSpec>,
    /// Supply chain: a trojanised app or firmware update pushed through the update
    /// service (the `target` group) to every fleet node that installs it. Goal: fleet
    /// nodes trojanised (default: every fleet node).
    #[serde(default)]
    pub supply_chain: Option<SupplyChainSpec>,
}

/// What a supply-chain campaign trojanises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// An app update from the store or the vendor's update service (ATT&CK T1195.002,
    /// compromise software supply chain).
    #[default]
    App,
    /// A firmware image (ATT&CK T1195.003, compromise hardware supply chain).
    Firmware,
}

/// Supply-chain settings. The campaign's approach reaches the update service (its
/// `target` group); from the first tick it holds an unquarantined node there, it pushes
/// the trojanised update, which each fleet node installs at a random tick of the rollout
/// while the campaign still holds the service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplyChainSpec {
    /// What is trojanised: `app` (default) or `firmware`.
    #[serde(default)]
    pub component: Component,
    /// Groups whose nodes install updates from the service.
    pub fleet: Vec<String>,
    /// Time over which the fleet installs a pushed update (default 1 h).
    #[serde(default)]
    pub rollout: Option<SimDuration>,
    /// Chance the trojanised build carries the vendor's valid signature (the build system
    /// itself was compromised), which code signing cannot catch (default 0).
    #[serde(default)]
    pub signed: Option<f64>,
}

/// How a targeted campaign gets its first foothold in the entry group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccessMethod {
    /// Exploit a vulnerable service of an unpatched node (T1190).
    #[default]
    Exploit,
    /// A phishing lure; succeeds with the user's susceptibility (T1566).
    Phishing,
    /// Log in with factory-default credentials (T1078.001); only default-credential
    /// nodes.
    DefaultCredentials,
    /// Log in with stolen or reused credentials (T1078); password nodes, rarely MFA.
    ValidAccounts,
}

/// Mirai-style botnet.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotnetSpec {
    /// Group holding the first bots.
    pub entry: String,
    /// Number of first bots (default 1).
    #[serde(default = "one")]
    pub initial: u32,
    /// Login attempts (random addresses) per second per bot.
    pub scan_rate: f64,
    /// Chance that the dictionary opens a device still on factory-default credentials
    /// (default 0.9). Devices with any other authentication resist it.
    #[serde(default)]
    pub dictionary: Option<f64>,
    /// Size of the scanned address space (default: the number of nodes).
    #[serde(default)]
    pub address_space: Option<u64>,
    /// The group running the service under attack.
    pub ddos_target: String,
    /// When the DDoS command is given (simulated time from the run start).
    pub ddos_start: SimDuration,
    /// Flood rate each bot sends, e.g. "5 Mbit/s".
    pub ddos_rate: Bandwidth,
    /// Attack traffic a target node absorbs before its service fails, e.g.
    /// "400 Mbit/s" (default: half the capacity of its links).
    #[serde(default)]
    pub absorb: Option<Bandwidth>,
    /// Churn: bots drop out on their own (a reboot clears the malware) and, by default,
    /// can be recruited again. Without it a botnet saturates at every open device.
    #[serde(default)]
    pub recovery: Option<RecoverySpec>,
    /// Size of one probe on the wire, bytes (e.g. 404 for Slammer's UDP packet, 60 for a
    /// TCP SYN). When set, each scanner's probes are one scan flow in the traffic core
    /// (demand: its log-ins per second × the probe size) and the rate the network grants
    /// caps the probes it sends, so a fast scanner fills its own access links and slows
    /// itself and everyone's traffic (needs `[[flow]]`s, i.e. a traffic core). Without it
    /// scans cost no bandwidth.
    #[serde(default)]
    pub probe_bytes: Option<u32>,
}

/// Intrusion: no settings beyond the shared approach fields.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrusionSpec {}

/// Cryptojacking settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CryptojackingSpec {
    /// Share of a hijacked node's compute the miner takes, 0 to 1 (default 0.8).
    #[serde(default)]
    pub share: Option<f64>,
}

/// What a phishing campaign sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lure {
    /// A link to a fake login page: steals credentials (T1566.002).
    #[default]
    Link,
    /// A fake metaverse app or wallet plug-in: steals credentials and the wallet
    /// connection, so the victim's assets are drained (T1204.002).
    FakeApp,
}

/// Phishing settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhishingSpec {
    /// The lure (default `link`).
    #[serde(default)]
    pub lure: Lure,
}

/// How a takeover campaign impersonates its victims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TakeoverMethod {
    /// Leaked username/password pairs tried against accounts (T1110.004).
    CredentialStuffing,
    /// A deepfake of the victim's face and voice against biometric authentication with
    /// liveness detection (T1656).
    Deepfake,
}

/// Account takeover settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeoverSpec {
    /// How the attacker impersonates.
    pub method: TakeoverMethod,
    /// `credential_stuffing`: chance a leaked pair works on a password account (default
    /// 0.05; a hundredth of it against MFA).
    #[serde(default)]
    pub reuse: Option<f64>,
    /// `deepfake`: chance a deepfake passes biometric liveness detection (default 0.3).
    #[serde(default)]
    pub deepfake_quality: Option<f64>,
}

/// Exfiltration settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExfiltrationSpec {
    /// Group of the attacker's drop servers the data is sent to.
    pub drop: String,
    /// Exfiltration rate per held target node, e.g. "10 Mbit/s".
    pub rate: Bandwidth,
    /// Size of one record in bytes, 1 to 1 GiB (default 4096).
    #[serde(default)]
    pub record_bytes: Option<u64>,
}

/// Asset theft settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetTheftSpec {
    /// Transfers the attacker submits per second per held wallet node (default 1).
    #[serde(default)]
    pub transfers_per_second: Option<f64>,
    /// Chance that each transfer is also replayed to a second address (a double spend,
    /// which the ledger refuses), default 0.2.
    #[serde(default)]
    pub double_spend: Option<f64>,
}

/// Ransomware settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RansomwareSpec {
    /// Time from taking a target node to encrypting it (staging, default "1 min").
    #[serde(default)]
    pub dwell: Option<SimDuration>,
}

/// False data injection settings. The sensors measure a quantity that swings between
/// `baseline − amplitude` and `baseline + amplitude` over `period`; the digital twin
/// averages the readings and raises an alarm above `alarm_threshold`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FalseDataSpec {
    /// Offset a compromised sensor adds to its readings (default -10).
    #[serde(default)]
    pub bias: Option<f64>,
    /// Mean of the real quantity (default 20).
    #[serde(default)]
    pub baseline: Option<f64>,
    /// Swing of the real quantity (default 5).
    #[serde(default)]
    pub amplitude: Option<f64>,
    /// Period of the swing (default "1 h").
    #[serde(default)]
    pub period: Option<SimDuration>,
    /// The twin raises an alarm when its estimate exceeds this (default 23).
    #[serde(default)]
    pub alarm_threshold: Option<f64>,
}

/// Detection-model poisoning settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoisoningSpec {
    /// Poisoned samples injected per second per held target node (default 1).
    #[serde(default)]
    pub samples_per_second: Option<f64>,
    /// Samples needed to poison the model fully (default 600).
    #[serde(default)]
    pub samples_needed: Option<u64>,
    /// How much a fully poisoned model inflates the detection threshold: it becomes
    /// `threshold × (1 + strength)` (default 4).
    #[serde(default)]
    pub strength: Option<f64>,
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
    /// Contagion along the topology: every link of an infected node carries attempts at
    /// `scan_rate` per second to the neighbour at its other end, so a hub spreads in
    /// proportion to its degree (an email or peer-to-peer worm, a malicious app shared
    /// between contacts). See `attackers/src/worm.rs` for the per-link chance.
    Contact,
}

/// What a node that clears an infection on its own becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecoveredState {
    /// Clean and open to infection again (SIS): a reboot clears Mirai, which does not
    /// persist, and leaves the default password in place.
    #[default]
    Susceptible,
    /// Clean and closed to this attack (SIR): the user reinstalled and patched (a worm's
    /// vulnerability) or changed the password (a botnet's default credentials).
    Immune,
}

/// Recovery without a defender: infected nodes clear the infection on their own (reboot,
/// antivirus, a user wiping the device) after an exponentially distributed time.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverySpec {
    /// Mean time an infection lasts, e.g. "10 min" (durations are exponential, so each
    /// infected node recovers in a tick with chance 1 − e^(−tick/mean)).
    pub mean: SimDuration,
    /// What a recovered node becomes (default `susceptible`).
    #[serde(default)]
    pub into: RecoveredState,
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
    /// Infections that end on their own (default: none; only defenders end them).
    #[serde(default)]
    pub recovery: Option<RecoverySpec>,
    /// Size of one probe on the wire, bytes (e.g. 404 for Slammer's UDP packet, 60 for a
    /// TCP SYN). When set, each scanner's probes are one scan flow in the traffic core
    /// (demand: its attempts per second × the probe size) and the rate the network grants
    /// caps the probes it sends, so a fast scanner fills its own access links and slows
    /// itself and everyone's traffic (needs `[[flow]]`s, i.e. a traffic core). Without it
    /// scans cost no bandwidth.
    #[serde(default)]
    pub probe_bytes: Option<u32>,
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
    /// Zero trust: trust scores, continuous re-verification, no access without it.
    #[serde(default)]
    pub zero_trust: Option<ZeroTrustSpec>,
    /// Micro-segmentation: segments and the connections allowed between them.
    #[serde(default)]
    pub segmentation: Option<SegmentationSpec>,
    /// Continuous biometric authentication with liveness detection.
    #[serde(default)]
    pub biometric: Option<BiometricSpec>,
    /// Backups and restore (ransomware recovery).
    #[serde(default)]
    pub backups: Option<BackupSpec>,
    /// DDoS protection: per-source rate limits and scrubbing for protected groups.
    #[serde(default)]
    pub ddos: Option<DdosProtectionSpec>,
    /// Deception: decoys that catch lateral movement.
    #[serde(default)]
    pub deception: Option<DeceptionSpec>,
    /// Data classification with privacy-preserving computation.
    #[serde(default)]
    pub privacy: Option<PrivacySpec>,
    /// Poisoned-data detection for the detection model's training data.
    #[serde(default)]
    pub poison_filter: Option<PoisonFilterSpec>,
    /// Code signing: nodes that install only updates carrying the vendor's valid
    /// signature (against supply-chain campaigns).
    #[serde(default)]
    pub code_signing: Option<CodeSigningSpec>,
    /// Step-up authentication: a second factor demanded of risky log-ins and transfers,
    /// per identity (against credential stuffing, phishing and session theft).
    #[serde(default)]
    pub step_up: Option<StepUpSpec>,
    /// Hardening: default credentials replaced on a cadence.
    #[serde(default)]
    pub hardening: Option<HardeningSpec>,
    /// Adaptive response (CARTA): throttle, revoke or quarantine according to risk.
    #[serde(default)]
    pub adaptive: Option<AdaptiveSpec>,
}

/// Adaptive response (continuous adaptive risk and trust assessment). Each alert's risk is
/// its severity (1 for a detection, 3 for a certain tripwire: a decoy or a failed
/// attestation) times the node's criticality (1 terminals, 2 gateways, edge, cloud and
/// GPU nodes, 3 identity, data, ledger, wallet and SOC nodes). Each action whose level the
/// risk reaches follows after its delay.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSpec {
    /// Risk from which the node is throttled: at most one outbound attempt per tick and
    /// 256 kbit/s per flow (default 1).
    #[serde(default)]
    pub throttle_at: Option<f64>,
    /// Risk from which the node's credentials are revoked: sessions and taken-over
    /// accounts end, the user re-enrols, zero trust re-verifies (default 2).
    #[serde(default)]
    pub revoke_at: Option<f64>,
    /// Risk from which the node is quarantined, with `[defense.quarantine]`'s delay and
    /// release (default 3).
    #[serde(default)]
    pub quarantine_at: Option<f64>,
    /// Time from alert to throttling (default "10 s").
    #[serde(default)]
    pub throttle_delay: Option<SimDuration>,
    /// How long a throttle lasts (default "10 min").
    #[serde(default)]
    pub throttle_for: Option<SimDuration>,
    /// Time from alert to revocation (default "1 min").
    #[serde(default)]
    pub revoke_delay: Option<SimDuration>,
}

/// Zero trust. Every node's trust score decays; re-verification restores it, or finds the
/// device compromised (attestation or behavioural checks) and drops it to zero. Below the
/// threshold a node gets no access: its connections are refused (software-defined
/// perimeter).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZeroTrustSpec {
    /// Time between re-verifications of each node, e.g. "5 min".
    pub reverify_interval: SimDuration,
    /// Trust lost per hour without verification, 0 to 1 (default 0.5).
    #[serde(default)]
    pub decay_per_hour: Option<f64>,
    /// Trust below which a node gets no access, 0 to 1 (default 0.5).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Chance that attestation (hardware root of trust: headsets, phones, servers with
    /// certificates) finds a compromised device at verification (default 0.9).
    #[serde(default)]
    pub attestation: Option<f64>,
    /// Chance that behavioural checks find a compromised device without a root of trust
    /// (IoT), or a taken-over account (default 0.3).
    #[serde(default)]
    pub behavioural: Option<f64>,
    /// Zones enforced, by name or `kind:KIND` (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// Micro-segmentation.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentationSpec {
    /// The segments; every group must fall in exactly one (by its zone or by name).
    #[serde(rename = "segment")]
    pub segments: Vec<SegmentSpec>,
    /// Connections allowed between segments; within a segment everything is allowed.
    #[serde(default)]
    pub allow: Vec<AllowSpec>,
}

/// One segment.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    /// Unique name.
    pub name: String,
    /// Zones whose groups it holds, by name or `kind:KIND` (every zone of that kind).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Groups it holds (besides those of its zones), by name or `kind:NODE_KIND`.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// An allowed connection: nodes of `from` may open connections to nodes of `to`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// Segment of the initiator (a flow's client, an attacker's source).
    pub from: String,
    /// Segment of the responder.
    pub to: String,
    /// Also allow `to` → `from` (default false).
    #[serde(default)]
    pub both_ways: bool,
    /// The services of `to`'s groups that `from` may reach, by name; `"*"` for every
    /// service (and every port of a group that declares none). Default: the services the
    /// scenario's `[[flow]]`s use from `from`'s groups to each of `to`'s groups, and
    /// nothing else: the rule admits what legitimate traffic needs.
    #[serde(default)]
    pub services: Option<Vec<String>>,
}

/// Continuous biometric authentication from XR headsets.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BiometricSpec {
    /// Chance liveness detection rejects a deepfake, 0 to 1.
    pub liveness: f64,
    /// Time between continuous re-authentications of biometric accounts (each one a
    /// prompt-free check that can unmask a deepfake session), default "10 min".
    #[serde(default)]
    pub reverify_interval: Option<SimDuration>,
}

/// Backups.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// Time between backups, e.g. "1 h"; data written since the last one is lost on
    /// restore.
    pub interval: SimDuration,
    /// Time to restore an encrypted node, e.g. "30 min".
    pub restore_time: SimDuration,
}

/// DDoS protection for the services of some groups.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DdosProtectionSpec {
    /// Groups protected, by name or `kind:NODE_KIND` (every group of that kind).
    pub protect: Vec<String>,
    /// Largest rate one source may send to a protected node (gateway meters), e.g.
    /// "2 Mbit/s".
    #[serde(default)]
    pub rate_limit: Option<Bandwidth>,
    /// Attack traffic the scrubbing centre removes before it reaches protected nodes,
    /// in all, e.g. "2 Gbit/s".
    #[serde(default)]
    pub scrubbing: Option<Bandwidth>,
}

/// Deception: decoys among real nodes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeceptionSpec {
    /// Chance that a lateral-movement attempt lands on a decoy, which raises an alert on
    /// the attacker's source, 0 to 1.
    pub decoys: f64,
}

/// Data classification and privacy-preserving computation.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacySpec {
    /// Classes processed in privacy-preserving form (encrypted, federated, tokenised).
    pub classes: Vec<DataClass>,
    /// Share of those records protected, 0 to 1; protected records are useless stolen.
    pub coverage: f64,
}

/// Poisoned-data detection.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoisonFilterSpec {
    /// Share of poisoned training samples the filter rejects, 0 to 1.
    pub catch: f64,
}

/// Code signing of app and firmware updates.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSigningSpec {
    /// Share of nodes that verify an update's signature before installing it, 0 to 1
    /// (the rest sideload or have verification switched off). A rejected update is a
    /// certain alert on the update server that sent it.
    pub coverage: f64,
}

/// Risk-triggered step-up authentication per identity.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpSpec {
    /// Chance the risk engine flags an impostor's log-in or wallet transfer (new device,
    /// odd place, velocity) and demands a second factor, 0 to 1.
    pub detect: f64,
    /// Chance a user approves an unexpected prompt anyway (MFA fatigue), letting the
    /// impostor in, 0 to 1 (default 0.05).
    #[serde(default)]
    pub fatigue: Option<f64>,
    /// Benign log-ins flagged by mistake, per user (terminal) per hour, 0 to 1 (default
    /// 0.02): prompts that cost friction.
    #[serde(default)]
    pub false_prompts: Option<f64>,
}

/// Hardening rounds: devices on factory-default credentials get unique ones.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HardeningSpec {
    /// Time between rounds.
    pub interval: SimDuration,
    /// Share of the remaining default-credential devices hardened per round, 0 to 1.
    pub coverage: f64,
    /// Zones covered, by name or `kind:KIND` (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// A defense strategy file: a named bundle of `[defense.*]` sections that replaces a
/// scenario's own (`paraverse run SCENARIO --strategy FILE`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyFile {
    /// Name and description.
    pub strategy: StrategyMeta,
    /// The defenses.
    #[serde(default)]
    pub defense: DefenseSpec,
}

/// A strategy's name and description.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyMeta {
    /// Short name, for results and reports.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
}

/// Patch rounds every `interval`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchingSpec {
    /// Time between patch rounds, e.g. "1 h".
    pub interval: SimDuration,
    /// Share of still-unpatched nodes patched in each round, 0 to 1.
    pub coverage: f64,
    /// Zones covered, by name or `kind:KIND` (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// Threshold detection of scanning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionSpec {
    /// How anomalies are found (default `threshold`).
    #[serde(default)]
    pub method: DetectionMethod,
    /// `threshold`: outbound connection attempts per second above which a node raises
    /// an alert.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `ueba`: how many standard deviations above its own baseline a signal must be
    /// (default 4).
    #[serde(default)]
    pub sensitivity: Option<f64>,
    /// `ueba`: weight of each new tick in the moving baselines, 0 to 1 (default 0.05).
    #[serde(default)]
    pub learning_rate: Option<f64>,
    /// Zones whose nodes are monitored, by name or `kind:KIND` (default: every zone).
    #[serde(default)]
    pub zones: Vec<String>,
}

/// How detection finds anomalies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum DetectionMethod {
    /// A fixed rule: outbound connections per second above `threshold`.
    #[default]
    Threshold,
    /// User and entity behaviour analytics: each node's own EWMA baselines (mean and
    /// variance) of outbound connections, failed log-ins, CPU load and egress volume; an
    /// alert when a
    /// signal exceeds its baseline by `sensitivity` standard deviations.
    Ueba,
}

/// Quarantine on detection.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineSpec {
    /// Time from alert to isolation (triage and response), e.g. "30 s".
    pub delay: SimDuration,
    /// If set, a quarantined node is rebuilt (clean, and patched unless `release_patched`
    /// is false) and released after this.
    #[serde(default)]
    pub release_after: Option<SimDuration>,
    /// Whether the rebuild also patches the node (default true). False models a reimage
    /// from the same vulnerable image: the node comes back clean but open to the worm.
    #[serde(default)]
    pub release_patched: Option<bool>,
}

/// What a run records.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingSpec {
    /// Most events written to `events.jsonl`; later ones are counted, not written.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Record every flow's demand and granted rate per tick in `flows.csv` (and
    /// `flows.parquet` with `--format parquet`), to compare allocations flow by flow with
    /// another flow-level simulator. For small scenarios: at most 10 million flow-ticks.
    #[serde(default)]
    pub flows: bool,
}

impl Default for RecordingSpec {
    fn default() -> Self {
        Self {
            max_events: default_max_events(),
            flows: false,
        }
    }
}

fn default_max_events() -> u64 {
    100_000
}
