//! From the real network to the twin: `paraverse import` builds a scenario and a mapping
//! file from what a network's owner already has.
//!
//! Parallel security needs the artificial network to be a mapping of the real one. This
//! crate reads an nmap scan ([`nmap`]: hosts, open ports with versions and CPEs,
//! traceroute hops), matches the scanned versions against a local NVD CVE feed
//! ([`nvd`]), decides each host's kind by rules a user can edit ([`rules`]), and writes:
//!
//! - a **scenario**: hosts clustered into groups by /24 subnet and service fingerprint
//!   (the same open ports, products and versions), one `[[service]]` per distinct
//!   (port, protocol, product, version) with the CVEs that apply and their CVSS v3.1
//!   vectors, routers (traceroute hops) as a `gateway` group every other group hangs
//!   off, a zone per subnet; every item says in a comment where it came from;
//! - a **mapping** (`paraverse export --mapping`): each group's real addresses, so the
//!   rules exported from a strategy name the machines that were scanned.
//!
//! Nothing in the inputs is trusted as text: names are built from parsed addresses and
//! sanitised service names, and hostnames, products and OS guesses appear only in
//! comments, reduced to printable ASCII. The scenario is validated before it is
//! written. What the scan cannot tell (the data a host holds, how patched it is beyond
//! the versions seen, who talks to whom) is left at stated defaults for the user to edit.

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
    pub nmap: Input<'a>,
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
}

/// The files an import writes.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario (TOML), validated.
    pub scenario: String,
    /// The mapping file (TOML).
    pub mapping: String,
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

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn subnet(a: Ipv4Addr) -> [u8; 3] {
    let o = a.octets();
    [o[0], o[1], o[2]]
}

/// Imports the sources into a scenario and a mapping.
pub fn import(src: &Sources<'_>) -> Result<Imported, ImportError> {
    let scan = nmap::parse(src.nmap.text, src.nmap.origin)?;
    if scan.hosts.is_empty() {
        return Err(ImportError::Empty(format!(
            "{}: no host in the scan was up (scan with `nmap -sV --traceroute -oX FILE TARGETS`)",
            src.nmap.origin
        )));
    }
    let vulns = src
        .vulns
        .map(|v| nvd::Vulns::parse(v.text, v.origin))
        .transpose()?;
    let rules = rules::Rules::with(src.rules.map(|r| (r.text, r.origin)))?;
    let mut report = Report {
        hosts: scan.hosts.len(),
        ..Report::default()
    };

    // Routers: every traceroute hop before the destination.
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

    // Services: one per distinct (port, protocol, product, version).
    let mut keys: BTreeMap<ServiceKey, &OpenPort> = BTreeMap::new();
    for h in &scan.hosts {
        for p in &h.ports {
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
        let mut name = base.clone();
        let mut k = 2;
        while used.contains(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        used.insert(name.clone());
        let what = clean(&format!("{} {}", p.product, p.version));
        let _ = writeln!(
            services_toml,
            "\n# nmap: {}/{} {}{}",
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
        if let Some(v) = &vulns {
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
                    "{name} ({}): nmap gave no CPE (scan with -sV)",
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

    // Groups: hosts by subnet and service fingerprint; routers apart.
    type Fingerprint = Vec<ServiceKey>;
    let mut clusters: BTreeMap<([u8; 3], Fingerprint), Vec<&Host>> = BTreeMap::new();
    let mut router_hosts: Vec<&Host> = Vec::new();
    for h in &scan.hosts {
        if routers.contains(&h.address) {
            router_hosts.push(h);
            continue;
        }
        let fp: Fingerprint = h.ports.iter().map(ServiceKey::of).collect();
        clusters.entry((subnet(h.address), fp)).or_default().push(h);
    }
    let mut zones: BTreeSet<String> = BTreeSet::new();
    let mut groups_toml = String::new();
    let mut mapping_toml = String::new();
    let mut group_names: BTreeSet<String> = BTreeSet::new();
    let mut group = |name_base: String,
                     zone: String,
                     hosts: &[&Host],
                     extra: &[Ipv4Addr],
                     router: bool,
                     note: &str,
                     report: &mut Report|
     -> String {
        let ports: Vec<OpenPort> = hosts
            .iter()
            .flat_map(|h| h.ports.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (kind, auth) = rules.classify(&ports, router);
        let mut name = name_base.clone();
        let mut k = 2;
        while group_names.contains(&name) {
            name = format!("{name_base}-{k}");
            k += 1;
        }
        group_names.insert(name.clone());
        let services: BTreeSet<&String> = hosts
            .iter()
            .flat_map(|h| h.ports.iter())
            .filter_map(|p| service_names.get(&ServiceKey::of(p)))
            .collect();
        // At least one: the assumed router has no scanned address.
        let count = (hosts.len() + extra.len()).max(1);
        let mut addresses: Vec<Ipv4Addr> = hosts
            .iter()
            .map(|h| h.address)
            .chain(extra.iter().copied())
            .collect();
        addresses.sort();
        let shown: Vec<String> = hosts
            .iter()
            .take(8)
            .map(|h| match h.hostnames.first() {
                Some(n) => format!("{} ({})", h.address, clean(n)),
                None => h.address.to_string(),
            })
            .chain(extra.iter().take(8).map(|a| format!("{a} (hop only)")))
            .collect();
        let _ = writeln!(
            groups_toml,
            "\n# {}: {}{}{}",
            note,
            shown.join(", "),
            if count > shown.len() { ", ..." } else { "" },
            hosts
                .iter()
                .find_map(|h| h.os.as_deref())
                .map(|os| format!("; OS guess: {}", clean(os)))
                .unwrap_or_default()
        );
        let kind_text = toml::Value::try_from(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let auth_text = toml::Value::try_from(auth)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let services: Vec<String> = services.iter().map(|s| quote(s)).collect();
        let _ = write!(
            groups_toml,
            "[[group]]\nname = {}\nkind = {}\ncount = {count}\nzone = {}\nservices = [{}]\nauth = {}\n# as scanned: the versions seen are the ones running, so nothing is patched beyond them\npatch_level = 0.0\n",
            quote(&name),
            quote(&kind_text),
            quote(&zone),
            services.join(", "),
            quote(&auth_text),
        );
        if !addresses.is_empty() {
            let list: Vec<String> = addresses.iter().map(|a| quote(&a.to_string())).collect();
            let _ = write!(
                mapping_toml,
                "\n[groups.{name}]\naddresses = [{}]\n",
                list.join(", ")
            );
        }
        report.groups.push(GroupReport {
            name: name.clone(),
            kind,
            hosts: count,
        });
        name
    };

    // Routers first: every other group hangs off them.
    let scanned_routers: BTreeSet<Ipv4Addr> = router_hosts.iter().map(|h| h.address).collect();
    let hop_only: Vec<Ipv4Addr> = routers.difference(&scanned_routers).copied().collect();
    zones.insert("routers".to_owned());
    let router_group = if routers.is_empty() {
        report.router_assumed = true;
        group(
            "router".to_owned(),
            "routers".to_owned(),
            &[],
            &[],
            true,
            "assumed: the scan has no traceroute (scan with --traceroute to find the real routers); one router, no address",
            &mut report,
        )
    } else {
        group(
            "routers".to_owned(),
            "routers".to_owned(),
            &router_hosts,
            &hop_only,
            true,
            "traceroute hops",
            &mut report,
        )
    };
    let mut children = Vec::new();
    for ((net, fp), hosts) in &clusters {
        let zone = format!("net-{}-{}-{}", net[0], net[1], net[2]);
        zones.insert(zone.clone());
        let label: Vec<String> = fp
            .iter()
            .filter_map(|k| service_names.get(k))
            .take(2)
            .map(|s| s.split('-').next().unwrap_or("svc").to_owned())
            .collect();
        let label = if label.is_empty() {
            "clients".to_owned()
        } else {
            label.join("-")
        };
        let name = slug(&format!("{label}-{}", zone.trim_start_matches("net-")), 50);
        let note = format!(
            "hosts of {}.{}.{}.0/24 with the same open services",
            net[0], net[1], net[2]
        );
        children.push(group(name, zone, hosts, &[], false, &note, &mut report));
    }

    // The scenario text.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}: imported by paraverse import from {} ({} hosts up; nmap {}).\n# Groups cluster hosts by /24 subnet and service fingerprint; kinds come from the rules\n# (built-in, or --rules). Edit what a scan cannot tell: the data each group holds, its\n# users' authentication, benign flows ([[flow]]), campaigns and defenses.\n#\n#   paraverse validate {}.toml && paraverse run {}.toml",
        src.name,
        clean(src.nmap.origin),
        scan.hosts.len(),
        clean(&scan.args),
        src.name,
        src.name
    );
    let _ = write!(
        out,
        "\n[general]\nname = {}\ndescription = {}\nseed = 1\ntick = \"10 s\"\nstop = \"1 h\"\n",
        quote(src.name),
        quote(&format!("Imported from {}", clean(src.nmap.origin)))
    );
    for z in &zones {
        let _ = write!(out, "\n[[zone]]\nname = {}\n", quote(z));
    }
    out.push_str("\n# Link tiers: assumed (a scan does not measure capacity); edit to your network's.\n[[link]]\nname = \"lan\"\ncapacity = \"1 Gbit/s\"\nlatency = \"1 ms\"\n\n[[link]]\nname = \"backbone\"\ncapacity = \"10 Gbit/s\"\nlatency = \"1 ms\"\n");
    out.push_str(&services_toml);
    out.push_str(&groups_toml);
    for c in &children {
        let _ = write!(
            out,
            "\n[[topology]]\ngenerator = \"access_tree\"\nchildren = {}\nparents = {}\nlink = \"lan\"\n",
            quote(c),
            quote(&router_group)
        );
    }
    let router_count = report
        .groups
        .iter()
        .find(|g| g.name == router_group)
        .map_or(0, |g| g.hosts);
    if router_count > 1 {
        let _ = write!(
            out,
            "\n[[topology]]\ngenerator = \"mesh\"\ngroups = [{}]\nlink = \"backbone\"\n",
            quote(&router_group)
        );
    }
    Scenario::from_toml_str(&out, &format!("{}.toml", src.name)).map_err(ImportError::Generated)?;

    let mapping = format!(
        "# Mapping of scenario {} to the scanned network: each group's real IPv4 addresses,\n# so `paraverse export STRATEGY --scenario {}.toml --mapping THIS` names them.\n# Imported by paraverse import from {}.\n\n[nftables]\ntable = \"paraverse\"\n{mapping_toml}",
        src.name,
        src.name,
        clean(src.nmap.origin)
    );
    Ok(Imported {
        scenario: out,
        mapping,
        report,
    })
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

    /// Sources of a scan (and optionally the fixture feed), no rules file.
    fn sources<'a>(name: &'a str, scan: &'a str, vulns: bool) -> Sources<'a> {
        Sources {
            name,
            nmap: Input {
                text: scan,
                origin: "scan.xml",
            },
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
    fn an_empty_scan_is_refused() {
        let e = import(&sources("x", "<nmaprun args=\"nmap\"></nmaprun>", false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no host in the scan was up"), "{e}");
    }
}
