//! Export of a defense strategy to what a real deployment loads: a stable JSON document,
//! Kubernetes NetworkPolicy manifests and an nftables ruleset.
//!
//! The lab finds a strategy in the simulator; this module writes the same policy for the
//! network the simulator mirrors. Everything goes through one [`Plan`]: the strategy's
//! segments, the allowed segment pairs, each group's exported name, Kubernetes label,
//! IPv4 blocks and service ports, the DDoS rate limits and the quarantine set. The
//! [`Mapping`] file says how scenario groups, segments and services map to the real
//! deployment (labels, addresses, ports); without one, every group gets a placeholder
//! block in 10.0.0.0/8 and the label `paraverse.io/group=NAME`.
//!
//! Scenario identifiers are untrusted input: a group named `dmz; flush ruleset` must not
//! become nftables syntax. Every name that reaches a ruleset or manifest passes
//! [`check_name`] (1-63 ASCII letters, digits, `-`, `_`, starting and ending with a letter
//! or digit) or the export stops with an error pointing at the name in its file; the
//! mapping file can give such a group an exported name instead.
//!
//! Each export is read back ([`matrix`]) into the allowed-flow matrix it implies, which
//! must equal the one the simulator enforces ([`matrix::simulated`]); [`export`] checks
//! that before it returns any text.
//!
//! Groups a campaign uses as its own infrastructure (an exfiltration's drop servers) are
//! the attacker's, not the deployment's: they belong to no segment, every export denies
//! traffic to and from them, and the matrix leaves them out (the simulator lets its
//! campaigns reach them as the scenario's threat model; no deployment admits known
//! attacker addresses).

pub mod diff;
pub mod istio;
mod json;
pub mod k8s;
pub mod mapping;
pub mod matrix;
pub mod nftables;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;

use paraverse_sim::field_path;
use paraverse_sim::scenario::{
    Diagnostic, Locator, Protocol, Scenario, ScenarioError, Seg, ServiceId, is_folder_name,
};

pub use mapping::Mapping;
pub use matrix::FlowMatrix;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// The strategy with provenance, as JSON.
    Json,
    /// Kubernetes NetworkPolicy manifests (YAML).
    K8s,
    /// An nftables ruleset.
    Nftables,
    /// Istio AuthorizationPolicies by workload identity (YAML).
    Istio,
}

impl Format {
    /// All formats, in output order.
    pub const ALL: [Format; 4] = [Format::Json, Format::K8s, Format::Nftables, Format::Istio];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::K8s => "k8s",
            Format::Nftables => "nftables",
            Format::Istio => "istio",
        }
    }

    /// The file an export of this format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "strategy.json",
            Format::K8s => "networkpolicy.yaml",
            Format::Nftables => "ruleset.nft",
            Format::Istio => "authorizationpolicy.yaml",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a strategy could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A name or mapping entry cannot be exported; each problem points into its file.
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
    /// The exported policy, read back, allows something else than the simulator did. A
    /// bug in the exporter, never the user's input: it refuses to write such a policy.
    #[error(
        "the {format} export does not enforce the simulated policy: {differ} of {probes} probes differ (first: {first}); nothing was written"
    )]
    RoundTrip {
        /// The format.
        format: Format,
        /// Probes that differ.
        differ: usize,
        /// Probes in all.
        probes: usize,
        /// The first difference, in words.
        first: String,
    },
    /// An export could not be read back (a bug in the exporter).
    #[error("cannot read the {format} export back: {message}")]
    Unreadable {
        /// The format.
        format: Format,
        /// What went wrong.
        message: String,
    },
}

/// Where the strategy came from, for the JSON export and the files' headers.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The strategy's file (a strategy file, or a lab `best.json`).
    pub source: String,
    /// The lab's record when the strategy came from `best.json` (experiment, hashes,
    /// seeds, score, settings, metrics), as written there.
    pub lab: Option<serde_json::Value>,
}

/// One service port of a group, as deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Transport protocol.
    pub protocol: Protocol,
    /// Port number (the mapping's, else the scenario's).
    pub port: u16,
    /// The scenario's service name (JSON only; never written into a ruleset).
    pub service: String,
}

/// An IPv4 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv4Block {
    /// First address.
    pub start: u32,
    /// Prefix length.
    pub prefix: u8,
}

impl Ipv4Block {
    /// Number of addresses.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Last address.
    pub fn end(self) -> u32 {
        (u64::from(self.start) + self.size() - 1) as u32
    }

    /// Whether `addr` is inside.
    pub fn contains(self, addr: u32) -> bool {
        addr >= self.start && addr <= self.end()
    }
}

impl std::str::FromStr for Ipv4Block {
    type Err = String;

    /// Parses `a.b.c.d/len` or `a.b.c.d` (a /32); host bits must be zero. The error
    /// completes a sentence about the text: "`x` is IPv6: ...".
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a,
                p.parse::<u8>()
                    .ok()
                    .filter(|&p| p <= 32)
                    .ok_or("has a prefix length that is not 0-32")?,
            ),
            None => (s, 32),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            if addr.contains(':') {
                "is IPv6: only IPv4 blocks are exported yet".to_owned()
            } else {
                "is not an IPv4 block: expected a.b.c.d/len".to_owned()
            }
        })?;
        let start = u32::from(addr);
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        if start & !mask != 0 {
            return Err(format!(
                "has host bits set: did you mean {}/{prefix}?",
                Ipv4Addr::from(start & mask)
            ));
        }
        Ok(Ipv4Block { start, prefix })
    }
}

impl fmt::Display for Ipv4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = Ipv4Addr::from(self.start);
        if self.prefix == 32 {
            write!(f, "{a}")
        } else {
            write!(f, "{a}/{}", self.prefix)
        }
    }
}

/// A scenario group as deployed.
#[derive(Debug, Clone)]
pub struct PlanGroup {
    /// Exported name (the mapping's, else the scenario's).
    pub name: String,
    /// The scenario's name.
    pub scenario_name: String,
    /// The scenario's zone.
    pub zone: String,
    /// Node kind.
    pub kind: &'static str,
    /// Nodes.
    pub count: u32,
    /// First node id in the simulator.
    pub first_node: u32,
    /// Segment index.
    pub segment: usize,
    /// Kubernetes label value selecting its pods.
    pub label: String,
    /// The service account its pods run as (mesh identity).
    pub service_account: String,
    /// IPv4 blocks holding its nodes, in node order.
    pub blocks: Vec<Ipv4Block>,
    /// Whether the blocks came from the mapping file (else placeholders).
    pub mapped_addresses: bool,
    /// Listening ports, sorted.
    pub ports: Vec<Port>,
    /// Each of its services with its deployed protocol and port (two services may share
    /// a port).
    pub service_ports: Vec<(ServiceId, Protocol, u16)>,
    /// The campaigns that use it as their infrastructure (exfiltration drop servers):
    /// such a group is in no segment, and every export denies traffic to and from it.
    pub attacker_of: Vec<String>,
}

impl PlanGroup {
    /// Whether the group is attacker infrastructure.
    pub fn is_attacker(&self) -> bool {
        !self.attacker_of.is_empty()
    }

    /// Address of the group's `k`-th node: blocks are filled in order.
    pub fn address(&self, k: u32) -> Option<u32> {
        let mut k = u64::from(k);
        for b in &self.blocks {
            if k < b.size() {
                return Some(b.start + k as u32);
            }
            k -= b.size();
        }
        None
    }
}

/// A segment as deployed.
#[derive(Debug, Clone)]
pub struct PlanSegment {
    /// Exported name.
    pub name: String,
    /// Member groups (indices into [`Plan::groups`]).
    pub groups: Vec<usize>,
}

/// A per-source rate limit toward a protected group.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// The protected group.
    pub group: usize,
    /// Each source's limit toward each protected node, kbit/s.
    pub kbps: u32,
}

/// Kubernetes settings (from the mapping file).
#[derive(Debug, Clone)]
pub struct K8sSettings {
    /// Namespace of the policies and pods.
    pub namespace: String,
    /// Label key whose value names a pod's group.
    pub group_label: String,
    /// Label that, set to `"true"`, puts a pod in quarantine.
    pub quarantine_label: String,
    /// Whether egress to the cluster DNS (kube-dns, port 53) is allowed.
    pub allow_dns: bool,
    /// The mesh's trust domain.
    pub trust_domain: String,
}

/// The strategy as deployed: what every format writes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Strategy name.
    pub strategy: String,
    /// Strategy description.
    pub description: String,
    /// The strategy file's text.
    pub strategy_toml: String,
    /// Scenario name.
    pub scenario: String,
    /// Scenario source hash (hex), as the lab records it.
    pub scenario_hash: String,
    /// Whether the strategy segments the network (else one segment holds every group).
    pub segmented: bool,
    /// Segments.
    pub segments: Vec<PlanSegment>,
    /// Cross-segment allows, row-major `from × segments + to` (same segment: always).
    pub allowed: Vec<bool>,
    /// The ports each segment may reach on each group of another segment, row-major
    /// `segment × groups + group`: the services its allow rules admit (by default the
    /// ones the scenario's flows use), never a port no service or flow needs.
    pub admitted: Vec<PlanAdmit>,
    /// Groups, in scenario order.
    pub groups: Vec<PlanGroup>,
    /// DDoS rate limits.
    pub rate_limits: Vec<RateLimit>,
    /// DDoS scrubbing capacity, kbit/s (a provider service; JSON only).
    pub scrubbing_kbps: Option<u64>,
    /// Which defenses of the strategy put nodes in quarantine (quarantine, adaptive
    /// response, zero-trust denial); the quarantine set is exported either way.
    pub isolating: Vec<&'static str>,
    /// Kubernetes settings.
    pub k8s: K8sSettings,
    /// nftables table name.
    pub nft_table: String,
    /// nftables: what happens to IPv6.
    pub nft_ipv6: mapping::Verdict,
    /// nftables: what happens to traffic with an end in no group.
    pub nft_unmapped: mapping::Unmapped,
    /// The strategy's zero trust, for the identity-aware (Istio) export.
    pub zero_trust: Option<ZeroTrustPlan>,
    /// Provenance.
    pub provenance: Provenance,
}

/// Zero-trust parameters as a deployment states them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeroTrustPlan {
    /// Re-verification interval, seconds.
    pub reverify_s: f64,
    /// Trust lost per hour (share of full trust).
    pub decay_per_hour: f64,
    /// Access threshold (share of full trust).
    pub threshold: f64,
}

impl Plan {
    /// Where an exported resource came from: the strategy, the scenario and its source
    /// hash, paraverse's version (the `paraverse.io/source` annotation).
    pub fn source(&self) -> String {
        format!(
            "strategy {} for scenario {} (source hash {}), paraverse {}",
            self.strategy,
            self.scenario,
            self.scenario_hash,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Whether segment `from` may open connections to segment `to`.
    pub fn allows(&self, from: usize, to: usize) -> bool {
        from == to || self.allowed[from * self.segments.len() + to]
    }

    /// What segment `segment` may reach on group `group`: within the group's own segment
    /// its services (every port when it declares none), across what the allow rules
    /// admit; never a port no service or flow needs.
    pub fn reach(&self, segment: usize, group: usize) -> Cow<'_, PlanAdmit> {
        let g = &self.groups[group];
        if g.segment == segment {
            Cow::Owned(PlanAdmit {
                every_port: g.ports.is_empty(),
                ports: g.ports.clone(),
            })
        } else {
            Cow::Borrowed(&self.admitted[segment * self.groups.len() + group])
        }
    }
}

/// What one segment may reach on one group of another segment, as deployed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanAdmit {
    /// Every port (the group declares no service, and a flow or `"*"` admits it).
    pub every_port: bool,
    /// The admitted service ports, sorted.
    pub ports: Vec<Port>,
}

impl PlanAdmit {
    /// Whether anything is admitted.
    pub fn any(&self) -> bool {
        self.every_port || !self.ports.is_empty()
    }

    /// The admitted ports of one protocol.
    pub fn ports_of(&self, protocol: Protocol) -> Vec<u16> {
        self.ports
            .iter()
            .filter(|p| p.protocol == protocol)
            .map(|p| p.port)
            .collect()
    }
}

/// The protocol's name in rulesets (`tcp`, `udp`).
pub fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// Whether `name` may appear in a ruleset or manifest: 1-63 ASCII letters, digits, `-`
/// or `_`, starting and ending with a letter or digit. This is a Kubernetes label value,
/// an nftables identifier once prefixed, and inert inside comments and quoted strings.
pub fn check_name(name: &str) -> bool {
    // A folder name (the scenario's rule for names of results), bounded and trimmed.
    let b = name.as_bytes();
    is_folder_name(name)
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// What [`check_name`] expects, for error messages.
pub const NAME_RULE: &str =
    "1-63 ASCII letters, digits, `-` or `_`, starting and ending with a letter or digit";

/// Builds the plan, writes the requested formats and reads each back: the allowed-flow
/// matrix each implies must equal the simulator's. Returns `(format, text)` pairs.
pub fn export(
    scenario: &Scenario,
    mapping: &Mapping,
    provenance: Provenance,
    formats: &[Format],
) -> Result<(Plan, Vec<(Format, String)>), ExportError> {
    let plan = plan(scenario, mapping, provenance)?;
    // The probes and the simulator's answers, needed only when a policy is to be checked.
    let expected = formats.iter().any(|&f| f != Format::Json).then(|| {
        let probes = matrix::probes(&plan);
        let answers = matrix::simulated(scenario, &plan, &probes);
        (probes, answers)
    });
    let mut out = Vec::new();
    for &format in formats {
        let text = match format {
            Format::Json => json::write(&plan),
            Format::K8s => k8s::write(&plan),
            Format::Nftables => nftables::write(&plan),
            Format::Istio => istio::write(&plan),
        };
        if let Some((probes, answers)) = expected.as_ref().filter(|_| format != Format::Json) {
            let got = match format {
                Format::K8s => k8s::read_back(&text, &plan, probes),
                Format::Nftables => nftables::read_back(&text, &plan, probes),
                Format::Istio => istio::read_back(&text, &plan, probes),
                Format::Json => unreachable!("JSON is filtered out above"),
            }
            .map_err(|message| ExportError::Unreadable { format, message })?;
            // The mesh decides only some probes (TCP, source not in quarantine).
            let answers = if format == Format::Istio {
                &answers.only(|p| istio::decides(&plan, p))
            } else {
                answers
            };
            if let Some((differ, first)) = answers.difference(&got, &plan) {
                return Err(ExportError::RoundTrip {
                    format,
                    differ,
                    probes: probes.len(),
                    first,
                });
            }
        }
        out.push((format, text));
    }
    Ok((plan, out))
}

/// Diagnostics gathered against one source text.
struct Problems<'a> {
    origin: String,
    locator: Locator<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Problems<'a> {
    fn new(origin: &str, text: &'a str) -> Self {
        Self {
            origin: origin.to_owned(),
            locator: Locator::new(text),
            diagnostics: Vec::new(),
        }
    }

    fn err(&mut self, path: Vec<Seg>, message: String) {
        self.diagnostics.push(self.locator.at_path(&path, message));
    }

    fn finish(mut self) -> Result<(), ScenarioError> {
        if self.diagnostics.is_empty() {
            return Ok(());
        }
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        Err(ScenarioError::Invalid {
            origin: self.origin,
            diagnostics: self.diagnostics,
        })
    }
}

/// Resolves names, labels, addresses and ports: the deployed form of the strategy.
pub fn plan(
    scenario: &Scenario,
    mapping: &Mapping,
    provenance: Provenance,
) -> Result<Plan, ExportError> {
    let strategy_toml = scenario.strategy_source.clone().unwrap_or_default();
    let meta: toml::Table = toml::from_str(&strategy_toml).unwrap_or_default();
    let strategy_meta = meta.get("strategy").and_then(|s| s.as_table());
    let text_of = |k: &str| {
        strategy_meta
            .and_then(|t| t.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let strategy = scenario
        .defense
        .strategy
        .clone()
        .unwrap_or_else(|| text_of("name"));
    let description = text_of("description");

    // Names from the scenario file: groups.
    let mut scen = Problems::new(&scenario.origin, &scenario.source);
    let mut map = Problems::new(&mapping.origin, &mapping.text);
    let mut strat = Problems::new(&provenance.source, &strategy_toml);
    if !check_name(&strategy) {
        strat.err(
            field_path!["strategy", "name"],
            format!("strategy name `{strategy}` cannot be exported: expected {NAME_RULE}"),
        );
    }

    let mut groups = plan_groups(scenario, mapping, &mut scen, &mut map);
    unknown_names(scenario, mapping, &mut map);

    let (segmented, mut segments, allowed) =
        plan_segments(scenario, mapping, &mut groups, &mut map, &mut strat);
    // Attacker infrastructure belongs to no segment: nothing a segment admits reaches it.
    for s in &mut segments {
        s.groups.retain(|&g| !groups[g].is_attacker());
    }
    assign_addresses(scenario, mapping, &mut groups, &mut map);
    let admitted = plan_admitted(scenario, mapping, segments.len(), &groups);

    let k8s = K8sSettings {
        namespace: mapping.kubernetes.namespace.clone(),
        group_label: mapping.kubernetes.group_label.clone(),
        quarantine_label: mapping.kubernetes.quarantine_label.clone(),
        allow_dns: mapping.kubernetes.allow_dns,
        trust_domain: mapping.kubernetes.trust_domain.clone(),
    };

    let errors: Vec<ScenarioError> = [scen.finish(), strat.finish(), map.finish()]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if let Some(first) = errors.into_iter().next() {
        return Err(first.into());
    }

    let d = &scenario.defense;
    let rate_limits = rate_limits(d);
    let isolating = [
        ("quarantine", d.quarantine.is_some()),
        ("adaptive", d.adaptive.is_some()),
        ("zero_trust", d.zero_trust.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    Ok(Plan {
        strategy,
        description,
        strategy_toml,
        scenario: scenario.name.clone(),
        scenario_hash: format!("{:016x}", scenario.source_hash),
        segmented,
        segments,
        allowed,
        admitted,
        groups,
        rate_limits,
        scrubbing_kbps: d.ddos.as_ref().and_then(|p| p.scrubbing_kbps),
        isolating,
        k8s,
        nft_table: mapping.nftables.table.clone(),
        nft_ipv6: mapping.nftables.ipv6,
        nft_unmapped: mapping.nftables.unmapped,
        zero_trust: zero_trust_plan(scenario),
        provenance,
    })
}

/// The exported groups: each scenario group's exported name (checked, unique), label,
/// service account and deployed ports; addresses and segments come later.
fn plan_groups(
    scenario: &Scenario,
    mapping: &Mapping,
    scen: &mut Problems<'_>,
    map: &mut Problems<'_>,
) -> Vec<PlanGroup> {
    let mut exported: HashSet<String> = HashSet::new();
    let mut groups = Vec::with_capacity(scenario.groups.len());
    for (i, g) in scenario.groups.iter().enumerate() {
        let m = mapping.groups.get(&g.name);
        let name = match m.and_then(|m| m.name.clone()) {
            Some(n) => {
                if !check_name(&n) {
                    map.err(
                        field_path!["groups", g.name.clone(), "name"],
                        format!("exported name `{n}` is not valid: expected {NAME_RULE}"),
                    );
                }
                n
            }
            None => {
                if !check_name(&g.name) {
                    scen.err(
                        field_path!["group", i, "name"],
                        format!(
                            "group `{}` cannot be exported: expected {NAME_RULE}; rename it, or give it an exported name in the mapping file ([groups.{}] name = \"...\")",
                            g.name.escape_debug(),
                            toml_key(&g.name)
                        ),
                    );
                }
                g.name.clone()
            }
        };
        if check_name(&name) && !exported.insert(name.to_ascii_lowercase()) {
            map.err(
                field_path!["groups", g.name.clone(), "name"],
                format!(
                    "two groups would both be exported as `{name}` (names compare without case)"
                ),
            );
        }
        let label = m
            .and_then(|m| m.label.clone())
            .unwrap_or_else(|| name.clone());
        if m.and_then(|m| m.label.as_ref()).is_some() && !check_name(&label) {
            map.err(
                field_path!["groups", g.name.clone(), "label"],
                format!("label value `{label}` is not valid: expected {NAME_RULE}"),
            );
        }
        let mut ports: Vec<Port> = g
            .services
            .iter()
            .map(|&s| deployed_port(scenario, mapping, s))
            .collect();
        let service_ports = g
            .services
            .iter()
            .zip(&ports)
            .map(|(&s, p)| (s, p.protocol, p.port))
            .collect();
        ports.sort_by_key(|p| (proto_name(p.protocol), p.port, p.service.clone()));
        ports.dedup_by_key(|p| (p.protocol, p.port));
        groups.push(PlanGroup {
            name,
            scenario_name: g.name.clone(),
            zone: scenario.zones[g.zone as usize].clone(),
            kind: g.kind.name(),
            count: g.count,
            first_node: g.first_node,
            segment: 0,
            service_account: m
                .and_then(|m| m.service_account.clone())
                .unwrap_or_else(|| label.clone()),
            label,
            blocks: Vec::new(),
            mapped_addresses: false,
            ports,
            service_ports,
            attacker_of: scenario
                .campaigns
                .iter()
                .filter(|c| matches!(c.kind, paraverse_sim::scenario::CampaignKind::Exfiltration { drop, .. } if drop as usize == i))
                .map(|c| c.name.clone())
                .collect(),
        });
    }
    groups
}

/// Every group and service the mapping file names must exist in the scenario.
fn unknown_names(scenario: &Scenario, mapping: &Mapping, map: &mut Problems<'_>) {
    for name in mapping.groups.keys() {
        if !scenario.groups.iter().any(|g| &g.name == name) {
            map.err(
                field_path!["groups", name.clone()],
                format!(
                    "the scenario `{}` has no group `{}`",
                    scenario.name,
                    name.escape_debug()
                ),
            );
        }
    }
    for name in mapping.services.keys() {
        if !scenario.services.iter().any(|s| &s.name == name) {
            map.err(
                field_path!["services", name.clone()],
                format!(
                    "the scenario `{}` has no service `{}`",
                    scenario.name,
                    name.escape_debug()
                ),
            );
        }
    }
}

/// Zero trust's settings as a deployment reads them (seconds, per hour, a share).
fn zero_trust_plan(scenario: &Scenario) -> Option<ZeroTrustPlan> {
    scenario.defense.zero_trust.as_ref().map(|z| {
        let tick_s = scenario.tick.as_secs_f64();
        let round = |x: f64| (x * 1e6).round() / 1e6;
        ZeroTrustPlan {
            reverify_s: round(f64::from(z.interval_ticks) * tick_s),
            decay_per_hour: (z.decay_ppm_per_tick as f64 * 3.6 / tick_s).round() / 1000.0,
            threshold: round(z.threshold_ppm as f64 / 1e6),
        }
    })
}

/// One rate limit per protected group, from `[defense.ddos] rate_limit`.
fn rate_limits(d: &paraverse_sim::scenario::Defense) -> Vec<RateLimit> {
    d.ddos
        .iter()
        .flat_map(|p| {
            p.rate_limit_kbps.into_iter().flat_map(|kbps| {
                p.protect.iter().map(move |&g| RateLimit {
                    group: g as usize,
                    kbps,
                })
            })
        })
        .collect()
}

/// A service's port as deployed (the mapping's port, else the scenario's).
fn deployed_port(scenario: &Scenario, mapping: &Mapping, s: ServiceId) -> Port {
    let svc = &scenario.services[s as usize];
    Port {
        protocol: svc.protocol,
        port: mapping
            .services
            .get(&svc.name)
            .and_then(|m| m.port)
            .unwrap_or(svc.port),
        service: svc.name.clone(),
    }
}

/// The simulator's admitted services per (segment, group) as deployed ports.
fn plan_admitted(
    scenario: &Scenario,
    mapping: &Mapping,
    segments: usize,
    groups: &[PlanGroup],
) -> Vec<PlanAdmit> {
    let Some(seg) = &scenario.defense.segmentation else {
        return vec![PlanAdmit::default(); segments * groups.len()];
    };
    let mut out = Vec::with_capacity(segments * groups.len());
    for s in 0..segments {
        for g in 0..groups.len() {
            let a = &seg.admitted[s * groups.len() + g];
            let mut ports: Vec<Port> = a
                .services
                .iter()
                .map(|&x| deployed_port(scenario, mapping, x))
                .collect();
            ports.sort_by_key(|p| (proto_name(p.protocol), p.port, p.service.clone()));
            ports.dedup_by_key(|p| (p.protocol, p.port));
            out.push(PlanAdmit {
                every_port: a.every_port,
                ports,
            });
        }
    }
    out
}

/// The strategy's segments with their exported names (or one segment `all` holding every
/// group when the strategy does not segment), and each group's segment.
fn plan_segments(
    scenario: &Scenario,
    mapping: &Mapping,
    groups: &mut [PlanGroup],
    map: &mut Problems<'_>,
    strat: &mut Problems<'_>,
) -> (bool, Vec<PlanSegment>, Vec<bool>) {
    let (segmented, segments, allowed) = match &scenario.defense.segmentation {
        Some(s) => {
            let mut names = HashSet::new();
            let segments: Vec<PlanSegment> = s
                .names
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let name = match mapping.segments.get(n).and_then(|m| m.name.clone()) {
                        Some(m) => {
                            if !check_name(&m) {
                                map.err(
                                    field_path!["segments", n.clone(), "name"],
                                    format!("exported name `{m}` is not valid: expected {NAME_RULE}"),
                                );
                            }
                            m
                        }
                        None => {
                            if !check_name(n) {
                                strat.err(
                                    field_path!["defense", "segmentation", "segment", k, "name"],
                                    format!(
                                        "segment `{}` cannot be exported: expected {NAME_RULE}; rename it, or give it an exported name in the mapping file ([segments.{}] name = \"...\")",
                                        n.escape_debug(),
                                        toml_key(n)
                                    ),
                                );
                            }
                            n.clone()
                        }
                    };
                    if check_name(&name) && !names.insert(k8s_name(&name)) {
                        map.err(
                            field_path!["segments", n.clone(), "name"],
                            format!("two segments would both be exported as `{name}` (names compare without case, `_` as `-`)"),
                        );
                    }
                    PlanSegment {
                        name,
                        groups: (0..groups.len())
                            .filter(|&g| s.segment_of_group[g] as usize == k)
                            .collect(),
                    }
                })
                .collect();
            (true, segments, s.allowed.clone())
        }
        None => (
            false,
            vec![PlanSegment {
                name: "all".to_owned(),
                groups: (0..groups.len()).collect(),
            }],
            vec![false],
        ),
    };
    for name in mapping.segments.keys() {
        let known = scenario
            .defense
            .segmentation
            .as_ref()
            .is_some_and(|s| s.names.contains(name));
        if !known {
            map.err(
                field_path!["segments", name.clone()],
                format!("the strategy has no segment `{}`", name.escape_debug()),
            );
        }
    }
    for (k, s) in segments.iter().enumerate() {
        for &g in &s.groups {
            groups[g].segment = k;
        }
    }
    (segmented, segments, allowed)
}

/// Each group's IPv4 blocks: the mapping's (checked: big enough, no overlaps), else
/// placeholders packed into 10.0.0.0/8 around them.
fn assign_addresses(
    scenario: &Scenario,
    mapping: &Mapping,
    groups: &mut [PlanGroup],
    map: &mut Problems<'_>,
) {
    let mut taken: Vec<(Ipv4Block, usize)> = Vec::new();
    for (i, g) in scenario.groups.iter().enumerate() {
        if let Some(blocks) = mapping
            .groups
            .get(&g.name)
            .and_then(|m| m.addresses.as_ref())
        {
            let capacity: u64 = blocks.iter().map(|b| b.size()).sum();
            if capacity < u64::from(g.count) {
                map.err(
                    field_path!["groups", g.name.clone(), "addresses"],
                    format!(
                        "{capacity} addresses for {} nodes: the blocks must hold every node of the group",
                        g.count
                    ),
                );
            }
            groups[i].blocks = blocks.clone();
            groups[i].mapped_addresses = true;
            taken.extend(blocks.iter().map(|&b| (b, i)));
        }
    }
    let mut sorted = taken.clone();
    sorted.sort();
    for w in sorted.windows(2) {
        let ((a, ga), (b, gb)) = (w[0], w[1]);
        if b.start <= a.end() {
            map.err(
                field_path!["groups", scenario.groups[gb].name.clone(), "addresses"],
                format!(
                    "{b} overlaps {a} of group `{}`: each address must belong to one group, or the policy cannot tell them apart",
                    scenario.groups[ga].name.escape_debug()
                ),
            );
        }
    }
    let base = Ipv4Block {
        start: u32::from(Ipv4Addr::new(10, 0, 0, 0)),
        prefix: 8,
    };
    let mut cursor = u64::from(base.start);
    for g in groups.iter_mut().filter(|g| !g.mapped_addresses) {
        let size = u64::from(g.count.max(1)).next_power_of_two();
        loop {
            cursor = cursor.div_ceil(size) * size;
            let end = cursor + size - 1;
            match taken
                .iter()
                .find(|(b, _)| u64::from(b.start) <= end && u64::from(b.end()) >= cursor)
            {
                Some((b, _)) => cursor = u64::from(b.end()) + 1,
                None => break,
            }
        }
        if cursor + size - 1 > u64::from(base.end()) {
            map.err(
                Vec::new(),
                format!(
                    "the groups do not fit in 10.0.0.0/8 (group `{}` needs {size} addresses): give groups their real addresses in a mapping file ([groups.NAME] addresses = [\"CIDR\", ...])",
                    g.name
                ),
            );
            break;
        }
        g.blocks = vec![Ipv4Block {
            start: cursor as u32,
            prefix: (32 - size.trailing_zeros()) as u8,
        }];
        cursor += size;
    }
}

/// A Kubernetes object name (DNS-1123) from an exported name.
pub fn k8s_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// `name` as a TOML key, quoted when it must be (for error messages' suggestions).
fn toml_key(name: &str) -> String {
    if check_name(name) {
        return name.to_owned();
    }
    let mut q = String::from('"');
    for c in name.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c.is_control() || !c.is_ascii()) && (c as u32) < 0x1_0000 => {
                q.push_str(&format!("\\u{:04X}", c as u32))
            }
            c if !c.is_ascii() => q.push_str(&format!("\\U{:08X}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests;
