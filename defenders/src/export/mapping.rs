//! The mapping file: how the scenario's groups, segments and services map to the real
//! deployment (Kubernetes labels and namespace, IPv4 addresses, ports).
//!
//! The simulator knows groups by name; the real network knows pods by label and hosts by
//! address. The mapping says which is which, so an exported policy selects the real
//! machines. Everything in it is optional: without it, groups are labelled
//! `paraverse.io/group=NAME` and given placeholder blocks in 10.0.0.0/8.
//!
//! ```toml
//! [kubernetes]
//! namespace = "metaverse"                     # default "default"
//! group_label = "app.example.com/group"       # default "paraverse.io/group"
//! quarantine_label = "paraverse.io/quarantine"
//! allow_dns = true                            # egress to kube-dns on port 53
//! trust_domain = "cluster.local"              # the mesh's (Istio identities)
//!
//! [nftables]
//! table = "paraverse"                         # the table the ruleset replaces
//! ipv6 = "drop"                               # or "accept": IPv6 is not modelled
//! unmapped = "drop"                           # traffic with an end in no group: "drop",
//!                                             # "egress" (groups may open connections
//!                                             # out, e.g. to the Internet) or "accept"
//!
//! [groups.headsets]                           # a scenario group, by name
//! label = "xr-headset"                        # its pods' value of group_label
//! addresses = ["10.20.0.0/16"]                # IPv4 blocks holding its nodes
//! service_account = "xr-runtime"              # its pods' identity (default: the label)
//!
//! [groups."dmz; flush ruleset"]               # a name that cannot be exported as is
//! name = "dmz"                                # gets an exported name
//!
//! [segments.users]
//! name = "users"                              # exported name of a strategy segment
//!
//! [services.https]
//! port = 8443                                 # the real port of a scenario service
//! ```

use std::collections::BTreeMap;

use paraverse_sim::field_path;
use paraverse_sim::scenario::{Locator, ScenarioError, Seg, parse_toml};
use serde::Deserialize;

use super::{Ipv4Block, NAME_RULE, check_name};

/// A parsed, checked mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Where it came from (a path), for errors.
    pub origin: String,
    /// Its text (empty for the default mapping).
    pub text: String,
    /// Kubernetes settings.
    pub kubernetes: KubernetesMap,
    /// nftables settings.
    pub nftables: NftablesMap,
    /// Per scenario group.
    pub groups: BTreeMap<String, GroupMap>,
    /// Per strategy segment.
    pub segments: BTreeMap<String, SegmentMap>,
    /// Per scenario service.
    pub services: BTreeMap<String, ServiceMap>,
}

impl Default for Mapping {
    fn default() -> Self {
        Self {
            origin: "<default mapping>".to_owned(),
            text: String::new(),
            kubernetes: KubernetesMap::default(),
            nftables: NftablesMap::default(),
            groups: BTreeMap::new(),
            segments: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }
}

/// `[kubernetes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesMap {
    /// Namespace of the pods and policies.
    pub namespace: String,
    /// Label key whose value names a pod's group.
    pub group_label: String,
    /// Label that, set to "true", quarantines a pod.
    pub quarantine_label: String,
    /// Allow egress to the cluster DNS (kube-dns, port 53).
    pub allow_dns: bool,
    /// The mesh's trust domain (Istio identities `TRUST_DOMAIN/ns/NS/sa/ACCOUNT`).
    pub trust_domain: String,
}

impl Default for KubernetesMap {
    fn default() -> Self {
        Self {
            namespace: "default".to_owned(),
            group_label: "paraverse.io/group".to_owned(),
            quarantine_label: "paraverse.io/quarantine".to_owned(),
            allow_dns: true,
            trust_domain: "cluster.local".to_owned(),
        }
    }
}

/// `[nftables]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NftablesMap {
    /// Table name (family `inet`); loading the ruleset replaces this table only.
    pub table: String,
    /// What the router does with IPv6, which the twin does not model.
    pub ipv6: Verdict,
    /// What it does with traffic that has an end in no group (the Internet, unmapped
    /// hosts).
    pub unmapped: Unmapped,
}

impl Default for NftablesMap {
    fn default() -> Self {
        Self {
            table: "paraverse".to_owned(),
            ipv6: Verdict::Drop,
            unmapped: Unmapped::Drop,
        }
    }
}

/// An explicit verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Dropped.
    Drop,
    /// Accepted.
    Accept,
}

/// The policy for traffic with an end in no group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmapped {
    /// Dropped both ways.
    Drop,
    /// The groups may open connections to addresses in no group (replies by connection
    /// tracking); nothing from outside may open one in.
    Egress,
    /// Accepted both ways.
    Accept,
}

/// `[groups.NAME]`.
#[derive(Debug, Clone, Default)]
pub struct GroupMap {
    /// Exported name.
    pub name: Option<String>,
    /// Kubernetes label value.
    pub label: Option<String>,
    /// IPv4 blocks.
    pub addresses: Option<Vec<Ipv4Block>>,
    /// The service account its pods run as (the mesh identity; default: the label
    /// value).
    pub service_account: Option<String>,
}

/// `[segments.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentMap {
    /// Exported name.
    pub name: Option<String>,
}

/// `[services.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMap {
    /// The real port.
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    kubernetes: KubernetesMap,
    #[serde(default)]
    nftables: NftablesMap,
    #[serde(default)]
    groups: BTreeMap<String, GroupSpec>,
    #[serde(default)]
    segments: BTreeMap<String, SegmentMap>,
    #[serde(default)]
    services: BTreeMap<String, ServiceMap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    name: Option<String>,
    label: Option<String>,
    addresses: Option<Vec<String>>,
    service_account: Option<String>,
}

impl Mapping {
    /// Parses and checks a mapping file's text; errors point at file, line and field.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let locator = Locator::new(text);
        let file: MappingFile = parse_toml(text, origin, &locator)?;
        let mut diagnostics = Vec::new();
        let mut err =
            |path: Vec<Seg>, message: String| diagnostics.push(locator.at_path(&path, message));
        check_kubernetes(&file.kubernetes, &mut err);
        check_table(&file.nftables.table, &mut err);
        for (name, svc) in &file.services {
            if svc.port == Some(0) {
                err(
                    field_path!["services", name.clone(), "port"],
                    "found 0: expected a port from 1 to 65535".to_owned(),
                );
            }
        }
        let groups = groups(file.groups, &mut err);
        if !diagnostics.is_empty() {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            return Err(ScenarioError::Invalid {
                origin: origin.to_owned(),
                diagnostics,
            });
        }
        Ok(Self {
            origin: origin.to_owned(),
            text: text.to_owned(),
            kubernetes: file.kubernetes,
            nftables: file.nftables,
            groups,
            segments: file.segments,
            services: file.services,
        })
    }
}

/// Words the nft scanner reads as keywords in any context (from nftables' `scanner.l`),
/// so a table of that name makes `nft -f` fail although the text looks right.
const NFT_KEYWORDS: &[&str] = &[
    "accept",
    "add",
    "ah",
    "all",
    "and",
    "arp",
    "at",
    "auto-merge",
    "bridge",
    "cgroup",
    "chain",
    "chains",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "counters",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "destroy",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flowtables",
    "flush",
    "frag",
    "fwd",
    "gc-interval",
    "geneve",
    "get",
    "goto",
    "gre",
    "gretap",
    "handle",
    "hbh",
    "hook",
    "hour",
    "ibrname",
    "ibriport",
    "icmp",
    "icmpv6",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "igmp",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "last",
    "limit",
    "list",
    "log",
    "map",
    "maps",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "meters",
    "mh",
    "missing",
    "monitor",
    "netdev",
    "nftrace",
    "not",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "or",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "rules",
    "ruleset",
    "sctp",
    "secmark",
    "set",
    "sets",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "synproxy",
    "table",
    "tables",
    "th",
    "time",
    "timeout",
    "tproxy",
    "trace",
    "tunnel",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "vni",
    "vxlan",
    "xor",
];

/// A DNS-1123 label (Kubernetes namespace).
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Where a problem is (a field path) and what it is.
type Report<'a> = dyn FnMut(Vec<Seg>, String) + 'a;

/// `[kubernetes]`: a namespace, label keys, a trust domain Kubernetes accepts.
fn check_kubernetes(k: &KubernetesMap, err: &mut Report<'_>) {
    if !is_dns_label(&k.namespace) {
        err(
            field_path!["kubernetes", "namespace"],
            format!(
                "`{}` is not a Kubernetes namespace: expected 1-63 lowercase letters, digits or `-`, starting and ending with a letter or digit",
                k.namespace.escape_debug()
            ),
        );
    }
    for (field, key) in [
        ("group_label", &k.group_label),
        ("quarantine_label", &k.quarantine_label),
    ] {
        if !is_label_key(key) {
            err(
                field_path!["kubernetes", field],
                format!(
                    "`{}` is not a Kubernetes label key: expected an optional DNS prefix and `/`, then {NAME_RULE} (dots allowed)",
                    key.escape_debug()
                ),
            );
        }
    }
    if !k.trust_domain.split('.').all(is_dns_label) {
        err(
            field_path!["kubernetes", "trust_domain"],
            format!(
                "`{}` is not a trust domain: expected a DNS name such as cluster.local",
                k.trust_domain.escape_debug()
            ),
        );
    }
    if k.group_label == k.quarantine_label {
        err(
            field_path!["kubernetes", "quarantine_label"],
            "the quarantine label must differ from the group label".to_owned(),
        );
    }
}

/// `[nftables] table`: a name nft accepts.
fn check_table(t: &String, err: &mut Report<'_>) {
    if !check_name(t) || !t.as_bytes()[0].is_ascii_alphabetic() {
        err(
            field_path!["nftables", "table"],
            format!(
                "`{}` is not a valid table name: expected {NAME_RULE}, starting with a letter",
                t.escape_debug()
            ),
        );
    }
    if NFT_KEYWORDS.contains(&t.as_str()) {
        err(
            field_path!["nftables", "table"],
            format!(
                "`{t}` is an nftables keyword, which nft does not accept as a table name: choose another, e.g. paraverse"
            ),
        );
    }
}

/// `[groups.NAME]`: each group's address blocks parsed, its service account checked.
fn groups(specs: BTreeMap<String, GroupSpec>, err: &mut Report<'_>) -> BTreeMap<String, GroupMap> {
    let mut groups = BTreeMap::new();
    for (name, g) in specs {
        let mut blocks = Vec::new();
        for (j, a) in g.addresses.iter().flatten().enumerate() {
            match a.parse::<Ipv4Block>() {
                Ok(b) => blocks.push(b),
                Err(why) => err(
                    field_path!["groups", name.clone(), "addresses", j],
                    format!("`{}` {why}", a.escape_debug()),
                ),
            }
        }
        if let Some(sa) = &g.service_account
            && !(sa.len() <= 253 && sa.split('.').all(is_dns_label))
        {
            err(
                field_path!["groups", name.clone(), "service_account"],
                format!(
                    "`{}` is not a Kubernetes service account name: expected lowercase letters, digits, `-` and `.`",
                    sa.escape_debug()
                ),
            );
        }
        if g.addresses.as_ref().is_some_and(Vec::is_empty) {
            err(
                field_path!["groups", name.clone(), "addresses"],
                "expected at least one IPv4 block".to_owned(),
            );
        }
        groups.insert(
            name,
            GroupMap {
                name: g.name,
                label: g.label,
                addresses: g.addresses.map(|_| blocks),
                service_account: g.service_account,
            },
        );
    }
    groups
}

/// A Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain, name like a label
/// value (dots allowed).
fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let name_ok = {
        let b = name.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
    };
    let prefix_ok =
        prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label));
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn blocks_parse_and_reject_host_bits_and_ipv6() {
        assert_eq!(
            Ipv4Block::from_str("10.1.0.0/16").unwrap(),
            Ipv4Block {
                start: 0x0a01_0000,
                prefix: 16
            }
        );
        assert_eq!(Ipv4Block::from_str("10.1.2.3").unwrap().prefix, 32);
        assert!(
            Ipv4Block::from_str("10.1.2.3/16")
                .unwrap_err()
                .contains("10.1.0.0/16")
        );
        assert!(
            Ipv4Block::from_str("fd00::/8")
                .unwrap_err()
                .contains("IPv6")
        );
        assert!(Ipv4Block::from_str("10.0.0.0/33").is_err());
        assert!(Ipv4Block::from_str("10.0.0.0; flush ruleset").is_err());
    }

    #[test]
    fn label_keys_and_namespaces() {
        assert!(is_label_key("paraverse.io/group"));
        assert!(is_label_key("app"));
        assert!(!is_label_key("bad key"));
        assert!(!is_label_key("x/\"y\""));
        assert!(is_dns_label("metaverse"));
        assert!(!is_dns_label("Meta"));
    }

    #[test]
    fn errors_point_into_the_mapping_file() {
        let text = "[kubernetes]\nnamespace = \"Bad NS\"\n\n[groups.headsets]\naddresses = [\"10.0.0.1/8\"]\n";
        let e = Mapping::parse(text, "map.toml").unwrap_err().to_string();
        assert!(e.contains("map.toml:2"), "{e}");
        assert!(e.contains("map.toml:5"), "{e}");
        assert!(e.contains("host bits"), "{e}");
        let e = Mapping::parse("[group.x]\n", "map.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("map.toml:1") && e.contains("group"), "{e}");
        let e = Mapping::parse(
            "[kubernetes]\ntrust_domain = \"a b\"\n\n[groups.x]\nservice_account = \"X;y\"\n",
            "map.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("map.toml:2") && e.contains("trust domain"),
            "{e}"
        );
        assert!(
            e.contains("map.toml:5") && e.contains("service account"),
            "{e}"
        );
    }
}
