//! From the real network to the twin: `paraverse import` builds a scenario and a mapping
//! file from what a network's owner already has.
//!
//! Parallel security needs the artificial network to be a mapping of the real one. This
//! crate reads an nmap scan ([`nmap`]: hosts, open ports with versions and CPEs,
//! traceroute hops) and Kubernetes manifests ([`k8s`]: workloads, replicas, labels,
//! container ports), each optional, matches the scanned versions against a local NVD CVE
//! feed ([`nvd`]), decides each group's kind by rules a user can edit ([`rules`]), and
//! writes:
//!
//! - a **scenario**: hosts clustered into groups by /24 subnet and service fingerprint
//!   (the same open ports, products and versions), one `[[service]]` per distinct
//!   (port, protocol, product, version) with the CVEs that apply and their CVSS v3.1
//!   vectors, routers (traceroute hops) as a `gateway` group every other group hangs
//!   off, a zone per subnet; a group per workload, a zone per namespace; every item says
//!   in a comment where it came from;
//! - a **mapping** (`paraverse export --mapping`): each group's real addresses (and for
//!   workloads their namespace and label), so the rules exported from a strategy name
//!   the machines and pods that exist.
//!
//! Nothing in the inputs is trusted as text: names are built from parsed addresses and
//! sanitised service names, and hostnames, products and OS guesses appear only in
//! comments, reduced to printable ASCII. The scenario is validated before it is
//! written. What the scan cannot tell (the data a host holds, how patched it is beyond
//! the versions seen, who talks to whom) is left at stated defaults for the user to edit.

pub mod k8s;
pub mod netflow;
pub mod nmap;
pub mod nvd;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use paraverse_sim::scenario::{NodeKind, Scenario, ScenarioError};

use crate::nmap::{Host, OpenPort, clean};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An input file is not what it should be.
    #[error("{origin}:{line}:{column}: {message}")]
    Input {
        /// The file.
        origin: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The rules file is invalid.
    #[error(transparent)]
    Rules(#[from] ScenarioError),
    /// Nothing to import.
    #[error("{0}")]
    Empty(String),
    /// The generated scenario does not validate: a bug in the importer.
    #[error(
        "the imported scenario does not validate (a bug in paraverse import, please report it with the inputs): {0}"
    )]
    Generated(ScenarioError),
}

/// An input file: its text and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The text.
    pub text: &'a str,
    /// A path, for messages and comments.
    pub origin: &'a str,
}

/// What to import.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// The scenario's name (a folder name).
    pub name: &'a str,
    /// nmap XML.
    pub nmap: Option<Input<'a>>,
    /// Kubernetes manifests (files of YAML documents, `List`s included).
    pub k8s: &'a [Input<'a>],
    /// Flow records (`nfdump -o json` or `-o csv`).
    pub flows: &'a [Input<'a>],
    /// An NVD CVE JSON 2.0 feed.
    pub vulns: Option<Input<'a>>,
    /// A rules file.
    pub rules: Option<Input<'a>>,
}

/// A group the import made.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: NodeKind,
    /// Its hosts.
    pub hosts: usize,
}

/// What an import did, for the terminal.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Hosts that were up.
    pub hosts: usize,
    /// Kubernetes workloads.
    pub workloads: usize,
    /// NetworkPolicies turned into the baseline strategy.
    pub policies: usize,
    /// Groups made.
    pub groups: Vec<GroupReport>,
    /// Services made.
    pub services: usize,
    /// (service, CVE) pairs matched.
    pub vulnerable: Vec<(String, String)>,
    /// Services no CVE matched (with the product and version scanned), or that had no
    /// CPE to match by; listed, not guessed.
    pub unmatched: Vec<String>,
    /// CVEs that matched but have no valid CVSS v3.1 vector (left out).
    pub without_cvss: Vec<String>,
    /// Whether the routers were assumed (no traceroute in the scan).
    pub router_assumed: bool,
    /// Flow records read.
    pub flow_records: usize,
    /// Benign flows made from them (`client -> server:service`, with the rate).
    pub flows: Vec<String>,
    /// Records that made no flow, and why (listed, not guessed).
    pub unmatched_flows: Vec<String>,
}

/// The files an import writes.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario (TOML), validated.
    pub scenario: String,
    /// The mapping file (TOML).
    pub mapping: String,
    /// The manifests' NetworkPolicies as a segmentation strategy (TOML), when they
    /// have any: a segment per group, an allow for every pair they admit.
    pub baseline: Option<String>,
    /// What was done.
    pub report: Report,
}

/// A distinct service: port, protocol, product and version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ServiceKey {
    port: u16,
    protocol: String,
    product: String,
    version: String,
}

impl ServiceKey {
    fn of(p: &OpenPort) -> Self {
        Self {
            port: p.port,
            protocol: p.protocol.clone(),
            product: p.product.clone(),
            version: p.version.clone(),
        }
    }
}

/// A name part from untrusted text: lowercase ASCII letters and digits, runs of anything
/// else as one `-`, at most `max` characters, trimmed of `-`.
fn slug(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_matches('-').to_owned()
}

/// `base`, or `base-2`, `base-3`, ... : the first not yet taken, which it then takes.
fn unique(base: &str, taken: &mut BTreeSet<String>) -> String {
    let mut name = base.to_owned();
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{base}-{k}");
        k += 1;
    }
    taken.insert(name.clone());
    name
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn subnet(a: Ipv4Addr) -> [u8; 3] {
    let o = a.octets();
    [o[0], o[1], o[2]]
}

/// What one group will hold, from whichever source.
struct Draft {
    /// Name before deduplication.
    name: String,
    zone: String,
    /// Where it came from, for its comment.
    note: String,
    /// Members for the comment (addresses with hostnames, or the workload).
    shown: Vec<String>,
    os: Option<String>,
    /// Open ports (the union over its members).
    ports: Vec<OpenPort>,
    count: u32,
    /// Real addresses (mapping).
    addresses: Vec<Ipv4Addr>,
    /// Kubernetes label value (mapping), for workloads.
    label: Option<String>,
    router: bool,
    /// The workload it is, by index.
    workload: Option<usize>,
}

fn union_ports<'a>(ports: impl Iterator<Item = &'a OpenPort>) -> Vec<OpenPort> {
    ports
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The router draft (traceroute hops, or one assumed) and one draft per cluster of
/// scanned hosts (by /24 subnet and service fingerprint).
fn scan_drafts(scan: &nmap::Scan, report: &mut Report) -> Vec<Draft> {
    let mut routers: BTreeSet<Ipv4Addr> = BTreeSet::new();
    for h in &scan.hosts {
        let n = h.hops.len();
        let before = if h.hops.last() == Some(&h.address) {
            n - 1
        } else {
            n
        };
        routers.extend(h.hops[..before].iter().copied());
    }
    let shown = |h: &Host| match h.hostnames.first() {
        Some(n) => format!("{} ({})", h.address, clean(n)),
        None => h.address.to_string(),
    };
    let router_hosts: Vec<&Host> = scan
        .hosts
        .iter()
        .filter(|h| routers.contains(&h.address))
        .collect();
    let mut drafts = vec![if routers.is_empty() {
        report.router_assumed = true;
        router_draft_assumed()
    } else {
        let scanned: BTreeSet<Ipv4Addr> = router_hosts.iter().map(|h| h.address).collect();
        let hop_only: Vec<Ipv4Addr> = routers.difference(&scanned).copied().collect();
        Draft {
            name: "routers".to_owned(),
            zone: "routers".to_owned(),
            note: "traceroute hops".to_owned(),
            shown: router_hosts
                .iter()
                .map(|h| shown(h))
                .chain(hop_only.iter().map(|a| format!("{a} (hop only)")))
                .collect(),
            os: router_hosts.iter().find_map(|h| h.os.clone()),
            ports: union_ports(router_hosts.iter().flat_map(|h| h.ports.iter())),
            count: routers.len() as u32,
            addresses: routers.iter().copied().collect(),
            label: None,
            router: true,
            workload: None,
        }
    }];
    let mut clusters: BTreeMap<([u8; 3], Vec<ServiceKey>), Vec<&Host>> = BTreeMap::new();
    for h in scan.hosts.iter().filter(|h| !routers.contains(&h.address)) {
        let fp: Vec<ServiceKey> = h.ports.iter().map(ServiceKey::of).collect();
        clusters.entry((subnet(h.address), fp)).or_default().push(h);
    }
    for ((net, fp), hosts) in clusters {
        let label: Vec<String> = fp
            .iter()
            .map(|k| {
                let p = hosts[0].ports.iter().find(|p| ServiceKey::of(p) == *k);
                match p.map(|p| slug(&p.service, 20)).filter(|s| !s.is_empty()) {
                    Some(s) => s.split('-').next().unwrap_or("svc").to_owned(),
                    None => "port".to_owned(),
                }
            })
            .take(2)
            .collect();
        let label = if label.is_empty() {
            "clients".to_owned()
        } else {
            label.join("-")
        };
        drafts.push(Draft {
            name: slug(&format!("{label}-{}-{}-{}", net[0], net[1], net[2]), 50),
            zone: format!("net-{}-{}-{}", net[0], net[1], net[2]),
            note: format!(
                "hosts of {}.{}.{}.0/24 with the same open services",
                net[0], net[1], net[2]
            ),
            shown: hosts.iter().map(|h| shown(h)).collect(),
            os: hosts.iter().find_map(|h| h.os.clone()),
            ports: union_ports(hosts.iter().flat_map(|h| h.ports.iter())),
            count: hosts.len() as u32,
            addresses: hosts.iter().map(|h| h.address).collect(),
            label: None,
            router: false,
            workload: None,
        });
    }
    drafts
}

fn router_draft_assumed() -> Draft {
    Draft {
        name: "router".to_owned(),
        zone: "routers".to_owned(),
        note: "assumed: no traceroute in the scan (scan with --traceroute to find the real routers); one router, no address".to_owned(),
        shown: Vec::new(),
        os: None,
        ports: Vec::new(),
        count: 1,
        addresses: Vec::new(),
        label: None,
        router: true,
        workload: None,
    }
}

/// The Kubernetes label key to select groups by: one every workload carries.
fn group_label(workloads: &[k8s::Workload]) -> Option<&'static str> {
    ["app.kubernetes.io/name", "app"]
        .into_iter()
        .find(|k| !workloads.is_empty() && workloads.iter().all(|w| w.labels.contains_key(*k)))
}

/// One draft per workload.
fn workload_drafts(workloads: &[k8s::Workload]) -> Vec<Draft> {
    let key = group_label(workloads);
    workloads
        .iter()
        .enumerate()
        .map(|(i, w)| Draft {
            name: slug(&format!("{}-{}", w.namespace, w.name), 50),
            zone: slug(&format!("k8s-{}", w.namespace), 40),
            note: format!(
                "Kubernetes {} {}/{}{}",
                clean(&w.kind),
                clean(&w.namespace),
                clean(&w.name),
                if w.replicas_assumed {
                    ": one pod per node, and the manifest does not say how many nodes (1 assumed)"
                } else {
                    ""
                }
            ),
            shown: Vec::new(),
            os: None,
            ports: w.ports.clone(),
            count: w.replicas.max(1),
            addresses: Vec::new(),
            label: key
                .and_then(|k| w.labels.get(k))
                .map(|v| slug(v, 63))
                .filter(|v| !v.is_empty()),
            router: false,
            workload: Some(i),
        })
        .collect()
}

/// One benign flow being gathered from records: client group, server group, port.
#[derive(Default)]
struct Gathered {
    clients: BTreeSet<Ipv4Addr>,
    /// Bytes client -> server and back.
    up: u64,
    down: u64,
    records: usize,
    /// Bytes by hour of the day (collector's clock).
    hours: [u64; 24],
}

/// The class of an imported flow, from its port (stated as assumed in its comment).
fn flow_class(port: u16) -> &'static str {
    match port {
        1883 | 8883 | 5683 | 5684 => "telemetry",
        22 | 23 | 53 | 88 | 161 | 389 | 636 | 830 => "control",
        _ => "transaction",
    }
}

/// `[[flow]]`s from the flow records: per (client group, server group, service), the
/// mean rate per client over the records' span (at the busiest hour, with the daily
/// profile, when they cover a day).
fn flows_toml(
    src: &Sources<'_>,
    drafts: &[Draft],
    names: &[String],
    service_names: &BTreeMap<ServiceKey, String>,
    report: &mut Report,
) -> Result<String, ImportError> {
    let mut records = Vec::new();
    for input in src.flows {
        records.extend(netflow::read(input)?);
    }
    report.flow_records = records.len();
    if records.is_empty() {
        return Ok(String::new());
    }
    let gathered = gather(&records, drafts, names, report);
    let first = records.iter().map(|r| r.first_ms).min().unwrap_or(0);
    let last = records.iter().map(|r| r.last_ms).max().unwrap_or(0);
    let span_ms = (last - first).max(1000);
    let whole_day = span_ms >= 86_400_000;
    let origins: Vec<String> = src.flows.iter().map(|f| clean(f.origin)).collect();
    let mut out = format!(
        "
# Benign flows from {} flow records ({}) over {:.1} s: a request to a port open on
# the server's group makes a flow from the client's group, its answer counts toward it.
# The rate is each client's mean over the records' span{}; the class is assumed from
# the port (edit it).
",
        records.len(),
        origins.join(", "),
        span_ms as f64 / 1000.0,
        if whole_day {
            " at the busiest hour, with the daily profile below"
        } else {
            " at every hour (they cover less than a day: no daily profile)"
        }
    );
    let mut taken = BTreeSet::new();
    let mut total_hours = [0u64; 24];
    for ((c, sv, key), g) in &gathered {
        for (t, h) in total_hours.iter_mut().zip(g.hours) {
            *t += h;
        }
        let (text, line) = flow_entry(
            (*c, *sv, key),
            g,
            drafts,
            names,
            service_names,
            span_ms,
            &mut taken,
        );
        out.push_str(&text);
        report.flows.push(line);
    }
    if whole_day && !gathered.is_empty() {
        let peak = total_hours.iter().copied().max().unwrap_or(0).max(1);
        let profile: Vec<String> = total_hours
            .iter()
            .map(|&h| format!("{:.3}", h as f64 / peak as f64))
            .collect();
        let _ = write!(
            out,
            "
# The daily profile: bytes per hour of the day (collector's clock) over the busiest.
[traffic]
daily_profile = [{}]
",
            profile.join(", ")
        );
    }
    Ok(out)
}

/// The records between scanned groups, gathered per (client group, server group,
/// service); the others are listed in the report with why.
fn gather(
    records: &[netflow::Record],
    drafts: &[Draft],
    names: &[String],
    report: &mut Report,
) -> BTreeMap<(usize, usize, ServiceKey), Gathered> {
    let mut by_addr: BTreeMap<Ipv4Addr, usize> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        for &a in &d.addresses {
            by_addr.entry(a).or_insert(i);
        }
    }
    let open = |d: usize, proto: &str, port: u16| {
        drafts[d]
            .ports
            .iter()
            .find(|p| p.protocol == proto && p.port == port)
    };
    let mut gathered: BTreeMap<(usize, usize, ServiceKey), Gathered> = BTreeMap::new();
    let mut unmatched: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    let mut miss = |why: String, bytes: u64| {
        let e = unmatched.entry(why).or_default();
        e.0 += 1;
        e.1 += bytes;
    };
    for r in records {
        let (Some(&a), Some(&b)) = (by_addr.get(&r.src), by_addr.get(&r.dst)) else {
            miss(
                format!(
                    "{} -> {}:{}/{}: an end in no scanned group",
                    r.src, r.dst, r.dst_port, r.protocol
                ),
                r.bytes,
            );
            continue;
        };
        // A request to an open port, or the answer from one.
        let (client, server, port, up) = if let Some(p) = open(b, r.protocol, r.dst_port) {
            (a, b, p, true)
        } else if let Some(p) = open(a, r.protocol, r.src_port) {
            (b, a, p, false)
        } else {
            miss(
                format!(
                    "{} -> {}:{}/{}: a port no scan found open on either end",
                    r.src, r.dst, r.dst_port, r.protocol
                ),
                r.bytes,
            );
            continue;
        };
        if client == server {
            miss(
                format!(
                    "{} <-> {}: within group {} (the twin's flows cross groups)",
                    r.src, r.dst, names[client]
                ),
                r.bytes,
            );
            continue;
        }
        let g = gathered
            .entry((client, server, ServiceKey::of(port)))
            .or_default();
        g.clients.insert(if up { r.src } else { r.dst });
        if up {
            g.up += r.bytes;
        } else {
            g.down += r.bytes;
        }
        g.records += 1;
        let hour = (r.first_ms.div_euclid(3_600_000)).rem_euclid(24) as usize;
        g.hours[hour] += r.bytes;
    }
    report.unmatched_flows = unmatched
        .into_iter()
        .map(|(why, (n, bytes))| format!("{why} ({n} records, {bytes} bytes)"))
        .collect();
    gathered
}

/// One gathered flow as a `[[flow]]` table (with a comment of what was seen) and its
/// line in the report. Without a whole day of records the rate is the mean over the span;
/// with one, the busiest hour's.
fn flow_entry(
    (c, sv, key): (usize, usize, &ServiceKey),
    g: &Gathered,
    drafts: &[Draft],
    names: &[String],
    service_names: &BTreeMap<ServiceKey, String>,
    span_ms: i64,
    taken: &mut BTreeSet<String>,
) -> (String, String) {
    let whole_day = span_ms >= 86_400_000;
    let service = &service_names[key];
    let bits = (g.up + g.down) * 8;
    let clients = g.clients.len().max(1) as f64;
    let bps = if whole_day {
        let peak = g.hours.iter().copied().max().unwrap_or(0);
        peak as f64 * 8.0 / 3600.0 / clients
    } else {
        bits as f64 / (span_ms as f64 / 1000.0) / clients
    };
    let kbps = (bps / 1000.0).ceil().max(1.0) as u64;
    let share = (clients / f64::from(drafts[c].count.max(1))).min(1.0);
    let share = (share * 1000.0).round().max(1.0) / 1000.0;
    let name = unique(
        &slug(&format!("{}-to-{}-{}", names[c], names[sv], service), 60),
        taken,
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "
# {} records, {} of {} client nodes seen, {} bytes up and {} down
[[flow]]
name = {}
class = {}
clients = {}
servers = {}
service = {}
direction = {}
rate = \"{kbps} kbit/s\"
share = {share:?}
diurnal = {}
",
        g.records,
        g.clients.len(),
        drafts[c].count,
        g.up,
        g.down,
        quote(&name),
        quote(flow_class(key.port)),
        quote(&names[c]),
        quote(&names[sv]),
        quote(service),
        quote(if g.up > g.down {
            "upstream"
        } else {
            "downstream"
        }),
        whole_day
    );
    let line = format!(
        "{} -> {}:{} ({kbps} kbit/s per client, share {share})",
        names[c], names[sv], service
    );
    (out, line)
}

/// One `[[service]]` per distinct (port, protocol, product, version), with the CVEs the
/// feed matches; returns the TOML and each service's name.
fn services(
    src: &Sources<'_>,
    drafts: &[Draft],
    vulns: Option<&nvd::Vulns>,
    report: &mut Report,
) -> (String, BTreeMap<ServiceKey, String>) {
    let mut keys: BTreeMap<ServiceKey, &OpenPort> = BTreeMap::new();
    for d in drafts {
        for p in &d.ports {
            keys.entry(ServiceKey::of(p)).or_insert(p);
        }
    }
    let mut service_names: BTreeMap<ServiceKey, String> = BTreeMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut services_toml = String::new();
    for (key, p) in &keys {
        let base = match slug(&p.service, 20) {
            s if s.is_empty() => format!("port-{}", key.port),
            s => format!("{s}-{}", key.port),
        };
        let base = if key.protocol == "udp" {
            format!("{base}-udp")
        } else {
            base
        };
        let name = unique(&base, &mut used);
        let what = clean(&format!("{} {}", p.product, p.version));
        let _ = writeln!(
            services_toml,
            "\n# {}/{} {}{}",
            key.port,
            key.protocol,
            clean(&p.service),
            if what.trim().is_empty() {
                String::new()
            } else {
                format!(" ({})", what.trim())
            }
        );
        let _ = write!(
            services_toml,
            "[[service]]\nname = {}\nport = {}\nprotocol = {}\n",
            quote(&name),
            key.port,
            quote(&key.protocol)
        );
        if let Some(v) = vulns {
            let mut found: Vec<nvd::Match> = p
                .cpes
                .iter()
                .flat_map(|c| v.matching(c, &p.version))
                .collect();
            found.sort();
            found.dedup();
            let with: Vec<&nvd::Match> = found.iter().filter(|m| m.cvss.is_some()).collect();
            for m in found.iter().filter(|m| m.cvss.is_none()) {
                report
                    .without_cvss
                    .push(format!("{name}: {}", clean(&m.id)));
            }
            if !with.is_empty() {
                let list: Vec<String> = with
                    .iter()
                    .map(|m| {
                        report.vulnerable.push((name.clone(), clean(&m.id)));
                        format!(
                            "{{ id = {}, cvss = {} }}",
                            quote(&clean(&m.id)),
                            quote(m.cvss.as_deref().unwrap_or_default())
                        )
                    })
                    .collect();
                let _ = writeln!(
                    services_toml,
                    "# CVEs matched in {} by CPE {}",
                    clean(src.vulns.map_or("", |v| v.origin)),
                    clean(&p.cpes.join(", "))
                );
                let _ = writeln!(services_toml, "vulnerabilities = [{}]", list.join(", "));
            } else if p.cpes.is_empty() {
                report.unmatched.push(format!(
                    "{name} ({}): no CPE to match by (nmap gives one with -sV; manifests give none)",
                    what.trim()
                ));
            } else {
                report
                    .unmatched
                    .push(format!("{name} ({}): no CVE in the feed", what.trim()));
            }
        }
        service_names.insert(key.clone(), name);
    }
    report.services = keys.len();
    (services_toml, service_names)
}

/// The manifests' NetworkPolicies as a strategy: a segment per group, an allow for every
/// pair they admit, naming the destination's services whose ports they admit.
fn baseline_toml(
    src: &Sources<'_>,
    drafts: &[Draft],
    names: &[String],
    workloads: &[k8s::Workload],
    policies: &[k8s::Policy],
    service_names: &BTreeMap<ServiceKey, String>,
) -> String {
    let mut b = format!(
        "# The NetworkPolicies of {} as a segmentation strategy for scenario {}: a segment\n# per group, an allow for every pair the policies admit, naming the services whose\n# ports they admit (hosts outside the cluster count as ipBlock peers; namespaces are\n# matched by kubernetes.io/metadata.name). Imported by paraverse import.\n#\n#   paraverse run {}.toml --strategy baseline.toml\n\n[strategy]\nname = \"baseline\"\ndescription = \"The NetworkPolicies found in the manifests\"\n",
        src.k8s
            .iter()
            .map(|k| clean(k.origin))
            .collect::<Vec<_>>()
            .join(", "),
        src.name,
        src.name
    );
    for n in names {
        let _ = write!(
            b,
            "\n[[defense.segmentation.segment]]\nname = {}\ngroups = [{}]\n",
            quote(n),
            quote(n)
        );
    }
    let workload = |d: &Draft| d.workload.map(|i| &workloads[i]);
    for (i, a) in drafts.iter().enumerate() {
        for (j, bd) in drafts.iter().enumerate() {
            if i == j {
                continue;
            }
            let (wa, wb) = (workload(a), workload(bd));
            // The destination's services whose port the policies admit; every port
            // of a group that declares none, if any is admitted.
            let services: Vec<String> = if bd.ports.is_empty() {
                if k8s::admits(policies, wa, wb, None) {
                    vec![quote("*")]
                } else {
                    Vec::new()
                }
            } else {
                bd.ports
                    .iter()
                    .filter(|p| k8s::admits(policies, wa, wb, Some((p.protocol.as_str(), p.port))))
                    .filter_map(|p| service_names.get(&ServiceKey::of(p)))
                    .map(|n| quote(n))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            };
            if !services.is_empty() {
                let _ = write!(
                    b,
                    "\n[[defense.segmentation.allow]]\nfrom = {}\nto = {}\nservices = [{}]\n",
                    quote(&names[i]),
                    quote(&names[j]),
                    services.join(", ")
                );
            }
        }
    }
    b
}

/// Imports the sources into a scenario and a mapping.
pub fn import(src: &Sources<'_>) -> Result<Imported, ImportError> {
    let scan = src
        .nmap
        .map(|n| nmap::parse(n.text, n.origin))
        .transpose()?;
    let (workloads, policies) = k8s::read(src.k8s)?;
    let hosts = scan.as_ref().map_or(0, |s| s.hosts.len());
    if hosts == 0 && workloads.is_empty() {
        return Err(ImportError::Empty(format!(
            "nothing to import: {} (scan with `nmap -sV --traceroute -oX FILE TARGETS`, or give Kubernetes manifests with a workload)",
            match (&src.nmap, src.k8s.is_empty()) {
                (Some(n), _) => format!("no host in {} was up", clean(n.origin)),
                (None, false) =>
                    "the manifests have no Deployment, StatefulSet, DaemonSet or Pod".to_owned(),
                (None, true) => "no source given".to_owned(),
            }
        )));
    }
    let vulns = src
        .vulns
        .map(|v| nvd::Vulns::parse(v.text, v.origin))
        .transpose()?;
    let rules = rules::Rules::with(src.rules.map(|r| (r.text, r.origin)))?;
    let mut report = Report {
        hosts,
        workloads: workloads.len(),
        ..Report::default()
    };
    let mut drafts = match &scan {
        Some(scan) if !scan.hosts.is_empty() => scan_drafts(scan, &mut report),
        _ => {
            report.router_assumed = true;
            vec![router_draft_assumed()]
        }
    };
    drafts.extend(workload_drafts(&workloads));

    let (services_toml, service_names) = services(src, &drafts, vulns.as_ref(), &mut report);

    let GroupsText {
        toml: groups_toml,
        mapping: mapping_toml,
        names,
        zones,
    } = groups_text(&drafts, &rules, &service_names, &mut report);

    // The scenario text.
    let mut origins: Vec<String> = src.nmap.iter().map(|n| clean(n.origin)).collect();
    origins.extend(src.k8s.iter().map(|k| clean(k.origin)));
    let mut out = header(src, &origins, hosts, workloads.len(), scan.as_ref());
    for z in &zones {
        let _ = write!(out, "\n[[zone]]\nname = {}\n", quote(z));
    }
    out.push_str("\n# Link tiers: assumed (neither a scan nor a manifest measures capacity); edit to your network's.\n[[link]]\nname = \"lan\"\ncapacity = \"1 Gbit/s\"\nlatency = \"1 ms\"\n\n[[link]]\nname = \"backbone\"\ncapacity = \"10 Gbit/s\"\nlatency = \"1 ms\"\n");
    out.push_str(&services_toml);
    out.push_str(&groups_toml);
    out.push_str(&topology_text(&names, drafts[0].count));
    out.push_str(&flows_toml(
        src,
        &drafts,
        &names,
        &service_names,
        &mut report,
    )?);
    let scenario = Scenario::from_toml_str(&out, &format!("{}.toml", src.name))
        .map_err(ImportError::Generated)?;
    report.policies = policies.len();
    let baseline = (!policies.is_empty())
        .then(|| baseline_toml(src, &drafts, &names, &workloads, &policies, &service_names));
    if let Some(b) = &baseline {
        scenario
            .with_strategy(b, "baseline.toml")
            .map_err(ImportError::Generated)?;
    }

    let kubernetes = kubernetes_mapping(&workloads);
    let mapping = format!(
        "# Mapping of scenario {} to the real network: each group's addresses (and labels),\n# so `paraverse export STRATEGY --scenario {}.toml --mapping THIS` names them.\n# Imported by paraverse import from {}.\n{kubernetes}\n[nftables]\ntable = \"paraverse\"\n{mapping_toml}",
        src.name,
        src.name,
        origins.join(", ")
    );
    Ok(Imported {
        scenario: out,
        mapping,
        baseline,
        report,
    })
}

/// The imported groups as scenario text, and their addresses and labels as mapping text.
struct GroupsText {
    /// The `[[group]]` tables.
    toml: String,
    /// The mapping's `[groups.NAME]` tables.
    mapping: String,
    /// Group names, in draft order (unique).
    names: Vec<String>,
    /// The zones the groups are in.
    zones: BTreeSet<String>,
}

/// One group per draft: its kind and authentication from the rules, its services, a
/// comment with what was found; its addresses and label go to the mapping.
fn groups_text(
    drafts: &[Draft],
    rules: &rules::Rules,
    service_names: &BTreeMap<ServiceKey, String>,
    report: &mut Report,
) -> GroupsText {
    let mut zones: BTreeSet<String> = BTreeSet::new();
    let mut groups_toml = String::new();
    let mut mapping_toml = String::new();
    // Group names, in draft order; `taken` makes them unique.
    let mut names: Vec<String> = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for d in drafts {
        let (kind, auth) = rules.classify(&d.ports, d.router);
        let name = unique(&d.name, &mut taken);
        names.push(name.clone());
        zones.insert(d.zone.clone());
        let services: BTreeSet<&String> = d
            .ports
            .iter()
            .filter_map(|p| service_names.get(&ServiceKey::of(p)))
            .collect();
        let shown: Vec<&String> = d.shown.iter().take(8).collect();
        let _ = writeln!(
            groups_toml,
            "\n# {}{}{}{}",
            d.note,
            if shown.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    shown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if d.shown.len() > shown.len() {
                ", ..."
            } else {
                ""
            },
            d.os.as_deref()
                .map(|os| format!("; OS guess: {}", clean(os)))
                .unwrap_or_default()
        );
        let as_text = |v: Result<toml::Value, toml::ser::Error>| {
            v.ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let services: Vec<String> = services.iter().map(|s| quote(s)).collect();
        let _ = write!(
            groups_toml,
            "[[group]]\nname = {}\nkind = {}\ncount = {}\nzone = {}\nservices = [{}]\nauth = {}\n# as found: the versions seen are the ones running, so nothing is patched beyond them\npatch_level = 0.0\n",
            quote(&name),
            quote(&as_text(toml::Value::try_from(kind))),
            d.count,
            quote(&d.zone),
            services.join(", "),
            quote(&as_text(toml::Value::try_from(auth))),
        );
        let mut addresses = d.addresses.clone();
        addresses.sort();
        if !addresses.is_empty() || d.label.is_some() {
            let _ = write!(mapping_toml, "\n[groups.{name}]\n");
            if let Some(l) = &d.label {
                let _ = writeln!(mapping_toml, "label = {}", quote(l));
            }
            if !addresses.is_empty() {
                let list: Vec<String> = addresses.iter().map(|a| quote(&a.to_string())).collect();
                let _ = writeln!(mapping_toml, "addresses = [{}]", list.join(", "));
            }
        }
        report.groups.push(GroupReport {
            name,
            kind,
            hosts: d.count as usize,
        });
    }
    GroupsText {
        toml: groups_toml,
        mapping: mapping_toml,
        names,
        zones,
    }
}

/// Every group hangs off the router group (the first) on the LAN tier; several routers
/// are meshed on the backbone.
fn topology_text(names: &[String], routers: u32) -> String {
    let router_group = &names[0];
    let mut out = String::new();
    for c in &names[1..] {
        let _ = write!(
            out,
            "\n[[topology]]\ngenerator = \"access_tree\"\nchildren = {}\nparents = {}\nlink = \"lan\"\n",
            quote(c),
            quote(router_group)
        );
    }
    if routers > 1 {
        let _ = write!(
            out,
            "\n[[topology]]\ngenerator = \"mesh\"\ngroups = [{}]\nlink = \"backbone\"\n",
            quote(router_group)
        );
    }
    out
}

/// The scenario's opening comment (what it was imported from, what to edit) and its
/// `[general]` table.
fn header(
    src: &Sources<'_>,
    origins: &[String],
    hosts: usize,
    workloads: usize,
    scan: Option<&nmap::Scan>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}: imported by paraverse import from {} ({} hosts up, {} Kubernetes workloads{}).\n# Scanned hosts are grouped by /24 subnet and service fingerprint, workloads one group\n# each; kinds come from the rules (built-in, or --rules). Edit what the inputs cannot\n# tell: the data each group holds, its users' authentication, benign flows ([[flow]]),\n# campaigns and defenses.\n#\n#   paraverse validate {}.toml && paraverse run {}.toml",
        src.name,
        origins.join(", "),
        hosts,
        workloads,
        scan.map(|s| format!("; nmap {}", clean(&s.args)))
            .unwrap_or_default(),
        src.name,
        src.name
    );
    let _ = write!(
        out,
        "\n[general]\nname = {}\ndescription = {}\nseed = 1\ntick = \"10 s\"\nstop = \"1 h\"\n",
        quote(src.name),
        quote(&format!("Imported from {}", origins.join(", ")))
    );
    out
}

/// The mapping's `[kubernetes]` table: the workloads' namespace and the label that names
/// their group (empty without workloads).
fn kubernetes_mapping(workloads: &[k8s::Workload]) -> String {
    let namespaces: BTreeSet<&str> = workloads.iter().map(|w| w.namespace.as_str()).collect();
    let mut kubernetes = String::new();
    if let Some(ns) = namespaces.iter().next() {
        let _ = write!(
            kubernetes,
            "\n[kubernetes]\nnamespace = {}\n",
            quote(&slug(ns, 63))
        );
        if namespaces.len() > 1 {
            let _ = writeln!(
                kubernetes,
                "# the workloads span namespaces ({}); policies are written into this one",
                namespaces
                    .iter()
                    .map(|n| clean(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        match group_label(workloads) {
            Some(k) => {
                let _ = writeln!(kubernetes, "group_label = {}", quote(k));
            }
            None => {
                let _ = writeln!(
                    kubernetes,
                    "# no label every workload carries: label their pods paraverse.io/group=GROUP"
                );
            }
        }
    }
    kubernetes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scan as `nmap -sV --traceroute -oX` writes it (trimmed): a router, two web
    /// servers with the same versions, a database, a host that was down, and a hostile
    /// hostname.
    pub const SCAN: &str = include_str!("../tests/fixtures/scan.xml");
    /// An NVD JSON 2.0 feed with three CVEs.
    pub const NVD: &str = include_str!("../tests/fixtures/nvd.json");
    /// Kubernetes manifests: a Deployment and a StatefulSet behind Services, a
    /// DaemonSet, an owned ReplicaSet.
    pub const K8S: &str = include_str!("../tests/fixtures/k8s.yaml");

    /// Sources of a scan (and optionally the fixture feed), no rules file.
    fn sources<'a>(name: &'a str, scan: &'a str, vulns: bool) -> Sources<'a> {
        Sources {
            name,
            nmap: Some(Input {
                text: scan,
                origin: "scan.xml",
            }),
            k8s: &[],
            flows: &[],
            vulns: vulns.then_some(Input {
                text: NVD,
                origin: "nvd.json",
            }),
            rules: None,
        }
    }

    #[test]
    fn a_scan_becomes_a_scenario_that_validates_and_a_mapping() {
        let out = import(&sources("lab", SCAN, true)).unwrap();
        let s = Scenario::from_toml_str(&out.scenario, "lab.toml").unwrap();
        assert_eq!(out.report.hosts, 4);
        let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["routers", "ssh-http-10-77-1", "postgresql-10-77-2"],
            "{}",
            out.scenario
        );
        assert_eq!(s.groups[1].count, 2, "two web servers, one fingerprint");
        assert_eq!(s.groups[0].count, 1);
        assert_eq!(out.report.groups[2].kind, NodeKind::DataStore);
        assert_eq!(out.report.groups[0].kind, NodeKind::Gateway);
        assert_eq!(
            out.report.vulnerable,
            vec![("ssh-22".to_owned(), "CVE-2023-38408".to_owned())]
        );
        assert!(
            out.report
                .unmatched
                .iter()
                .any(|u| u.starts_with("postgresql-5432")),
            "{:?}",
            out.report.unmatched
        );
        assert!(out.scenario.contains("vulnerabilities = [{ id = \"CVE-2023-38408\", cvss = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\" }]"), "{}", out.scenario);
        // The hostile hostname stays in a comment, on its line.
        assert!(!out.scenario.contains("\n[group.x]"), "{}", out.scenario);
        assert!(
            out.mapping.contains(
                "[groups.ssh-http-10-77-1]\naddresses = [\"10.77.1.10\", \"10.77.1.11\"]"
            ),
            "{}",
            out.mapping
        );
        assert!(
            out.mapping
                .contains("[groups.routers]\naddresses = [\"10.77.0.1\"]")
        );
    }

    #[test]
    fn routers_seen_only_as_hops_join_the_router_group_in_a_mesh() {
        let text = SCAN.replace(
            "<hop ttl=\"2\" ipaddr=\"10.77.2.20\"",
            "<hop ttl=\"2\" ipaddr=\"10.77.2.1\" rtt=\"0.07\"/>\n<hop ttl=\"3\" ipaddr=\"10.77.2.20\"",
        );
        let out = import(&sources("two", &text, false)).unwrap();
        let s = Scenario::from_toml_str(&out.scenario, "two.toml").unwrap();
        assert_eq!(s.groups[0].count, 2, "{}", out.scenario);
        assert!(
            out.scenario
                .contains("generator = \"mesh\"\ngroups = [\"routers\"]")
        );
        assert!(
            out.mapping
                .contains("[groups.routers]\naddresses = [\"10.77.0.1\", \"10.77.2.1\"]"),
            "{}",
            out.mapping
        );
    }

    #[test]
    fn a_scan_without_traceroute_assumes_one_router() {
        let text: String = SCAN
            .lines()
            .filter(|l| {
                !l.starts_with("<hop ") && !l.starts_with("<trace") && !l.starts_with("</trace")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let out = import(&sources("flat", &text, false)).unwrap();
        assert!(out.report.router_assumed);
        let s = Scenario::from_toml_str(&out.scenario, "flat.toml").unwrap();
        assert_eq!(s.groups[0].name, "router");
        assert_eq!(s.groups[0].count, 1);
        assert_eq!(s.node_count, 5, "the assumed router and the four hosts");
        assert!(
            !out.mapping.contains("[groups.router]"),
            "no address to map"
        );
    }

    #[test]
    fn flow_records_become_benign_flows_between_groups() {
        // web1 asks the database on 5432 (three connections from one client, answers
        // included), a record to an address nobody scanned, one to a closed port.
        let csv = "ts,te,td,sa,da,sp,dp,pr,flg,ibyt
2026-11-30 16:00:00,2026-11-30 16:00:10,10.000,10.77.1.10,10.77.2.20,50001,5432,TCP,.AP.SF,20000
2026-11-30 16:00:00,2026-11-30 16:00:10,10.000,10.77.2.20,10.77.1.10,5432,50001,TCP,.AP.SF,80000
2026-11-30 16:00:05,2026-11-30 16:00:20,15.000,10.77.1.10,10.77.2.20,50002,5432,TCP,.AP.SF,25000
2026-11-30 16:00:05,2026-11-30 16:00:20,15.000,10.77.1.10,192.0.2.1,50003,443,TCP,.AP.SF,999
2026-11-30 16:00:05,2026-11-30 16:00:06,1.000,10.77.1.10,10.77.2.20,50004,6379,TCP,....S.,60
";
        let flows = [Input {
            text: csv,
            origin: "flows.csv",
        }];
        let mut src = sources("lab", SCAN, false);
        src.flows = &flows;
        let out = import(&src).unwrap();
        let s = Scenario::from_toml_str(&out.scenario, "lab.toml").unwrap();
        assert_eq!(s.flows.len(), 1, "{}", out.scenario);
        let f = &s.flows[0];
        let g = |i: u16| s.groups[i as usize].name.as_str();
        assert!(g(f.clients).ends_with("10-77-1"), "{}", g(f.clients));
        assert!(g(f.servers).ends_with("10-77-2"), "{}", g(f.servers));
        assert_eq!(
            s.services[f.service.unwrap() as usize].port,
            5432,
            "the service the requests went to"
        );
        // 125,000 bytes over the 20 s the records span, one client: 50 kbit/s.
        assert_eq!(f.rate_kbps, 50);
        assert!(!f.diurnal, "less than a day of records: no daily profile");
        assert_eq!(f.direction, paraverse_sim::scenario::Direction::Downstream);
        assert_eq!(out.report.flow_records, 5);
        assert_eq!(
            out.report.unmatched_flows.len(),
            2,
            "{:?}",
            out.report.unmatched_flows
        );
        let listed = out.report.unmatched_flows.join("\n");
        assert!(
            listed.contains("192.0.2.1:443/tcp: an end in no scanned group"),
            "{listed}"
        );
        assert!(
            listed.contains(":6379/tcp: a port no scan found open"),
            "{listed}"
        );
        // Hostile text never reaches the flow: names are built from groups and services.
        let bad = [Input {
            text: "ts,sa\n1,2\n",
            origin: "bad.csv",
        }];
        src.flows = &bad;
        let e = import(&src).unwrap_err().to_string();
        assert!(e.starts_with("bad.csv:1:1:"), "{e}");
    }

    #[test]
    fn manifests_alone_or_with_a_scan_import_workloads_with_labels() {
        let k8s = [Input {
            text: K8S,
            origin: "app.yaml",
        }];
        let alone = Sources {
            name: "shop",
            nmap: None,
            k8s: &k8s,
            flows: &[],
            vulns: None,
            rules: None,
        };
        let out = import(&alone).unwrap();
        let s = Scenario::from_toml_str(&out.scenario, "shop.toml").unwrap();
        let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["router", "shop-api", "shop-db", "shop-node-agent"]);
        assert_eq!(s.groups[2].count, 3);
        assert_eq!(
            out.report.groups[2].kind,
            NodeKind::DataStore,
            "postgres image"
        );
        assert!(
            out.scenario.contains("name = \"postgres-5432\""),
            "{}",
            out.scenario
        );
        assert!(
            out.scenario.contains("name = \"web-8080\""),
            "the Service's port name"
        );
        assert!(
            out.mapping
                .contains("namespace = \"shop\"\ngroup_label = \"app\""),
            "{}",
            out.mapping
        );
        assert!(
            out.mapping.contains("[groups.shop-db]\nlabel = \"db\""),
            "{}",
            out.mapping
        );
        let both = Sources {
            nmap: Some(Input {
                text: SCAN,
                origin: "scan.xml",
            }),
            ..alone
        };
        let out = import(&both).unwrap();
        let s = Scenario::from_toml_str(&out.scenario, "both.toml").unwrap();
        assert_eq!(s.groups.len(), 6, "3 from the scan, 3 workloads");
        assert_eq!(
            s.groups[0].name, "routers",
            "the scan's routers carry the workloads too"
        );
        assert_eq!(out.report.workloads, 3);
        assert_eq!(out.report.hosts, 4);
        // The NetworkPolicy (only the API reaches the database) as a strategy.
        let baseline = out.baseline.unwrap();
        assert!(
            baseline.contains("from = \"shop-api\"\nto = \"shop-db\""),
            "{baseline}"
        );
        assert!(!baseline.contains("from = \"shop-node-agent\"\nto = \"shop-db\""));
        // Only the port the policy names: PostgreSQL, not the exporter's metrics.
        assert!(
            baseline.contains("to = \"shop-db\"\nservices = [\"postgres-5432\"]\n"),
            "{baseline}"
        );
        assert!(!baseline.contains("from = \"routers\"\nto = \"shop-db\""));
        assert!(baseline.contains("from = \"shop-db\"\nto = \"shop-api\""));
        s.with_strategy(&baseline, "baseline.toml").unwrap();
    }

    #[test]
    fn an_empty_scan_is_refused() {
        let e = import(&sources("x", "<nmaprun args=\"nmap\"></nmaprun>", false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no host in scan.xml was up"), "{e}");
    }
}
