//! The JSON export: the whole strategy (its file's text and its `[defense]` tables), its
//! provenance, and the deployed plan (segments, allowed pairs, groups with labels,
//! addresses and ports, rate limits, quarantine), for other tools. The layout is
//! versioned by `format`; fields are only ever added within a version.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Plan, proto_name};

/// The `format` field of this layout.
pub const FORMAT: &str = "paraverse-strategy-export/1";

#[derive(Serialize)]
struct Group<'a> {
    name: &'a str,
    scenario_name: &'a str,
    zone: &'a str,
    kind: &'a str,
    count: u32,
    /// The segment, or `null` for attacker infrastructure (in none).
    segment: Option<&'a str>,
    /// The campaigns using the group as their infrastructure: denied by every export.
    attacker_infrastructure_of: &'a [String],
    kubernetes_label: Value,
    addresses: Vec<String>,
    placeholder_addresses: bool,
    services: Vec<Value>,
}

/// Writes the document (pretty, with a final newline).
pub fn write(plan: &Plan) -> String {
    let strategy: toml::Table = toml::from_str(&plan.strategy_toml).unwrap_or_default();
    let defense = strategy
        .get("defense")
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .unwrap_or_else(|| json!({}));
    let groups: Vec<Group<'_>> = plan
        .groups
        .iter()
        .map(|g| Group {
            name: &g.name,
            scenario_name: &g.scenario_name,
            zone: &g.zone,
            kind: g.kind,
            count: g.count,
            segment: (!g.is_attacker()).then(|| plan.segments[g.segment].name.as_str()),
            attacker_infrastructure_of: &g.attacker_of,
            kubernetes_label: json!({ plan.k8s.group_label.clone(): g.label }),
            addresses: g.blocks.iter().map(ToString::to_string).collect(),
            placeholder_addresses: !g.mapped_addresses,
            services: g
                .ports
                .iter()
                .map(|p| json!({"name": p.service, "protocol": proto_name(p.protocol), "port": p.port}))
                .collect(),
        })
        .collect();
    let n = plan.segments.len();
    let allow: Vec<Value> = (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && plan.allows(a, b))
        .map(|(a, b)| {
            // Per group of `to`: the services admitted (what the rule's ports open).
            let admitted: Vec<Value> = plan.segments[b]
                .groups
                .iter()
                .map(|&g| {
                    let adm = plan.reach(a, g);
                    json!({
                        "group": plan.groups[g].name,
                        "every_port": adm.every_port,
                        "services": adm.ports.iter().map(|p| json!({"name": p.service, "protocol": proto_name(p.protocol), "port": p.port})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"from": plan.segments[a].name, "to": plan.segments[b].name, "admitted": admitted})
        })
        .collect();
    let doc = json!({
        "format": FORMAT,
        "paraverse_version": env!("CARGO_PKG_VERSION"),
        "strategy": {
            "name": plan.strategy,
            "description": plan.description,
            "defense": defense,
            "toml": plan.strategy_toml,
        },
        "provenance": {
            "source": plan.provenance.source,
            "lab": plan.provenance.lab,
        },
        "scenario": {
            "name": plan.scenario,
            "source_hash": plan.scenario_hash,
        },
        "segmentation": {
            "enabled": plan.segmented,
            "segments": plan.segments.iter().map(|s| json!({
                "name": s.name,
                "groups": s.groups.iter().map(|&g| plan.groups[g].name.clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "allow": allow,
        },
        "groups": groups,
        "ddos": {
            "rate_limits": plan.rate_limits.iter().map(|r| json!({
                "group": plan.groups[r.group].name,
                "per_source_kbps": r.kbps,
            })).collect::<Vec<_>>(),
            "scrubbing_kbps": plan.scrubbing_kbps,
        },
        "quarantine": {
            "isolating_defenses": plan.isolating,
            "kubernetes_label": plan.k8s.quarantine_label,
            "nftables_set": "quarantine",
        },
        "kubernetes": {
            "namespace": plan.k8s.namespace,
            "group_label": plan.k8s.group_label,
            "quarantine_label": plan.k8s.quarantine_label,
            "allow_dns": plan.k8s.allow_dns,
        },
        "nftables": {
            "table": plan.nft_table,
            "ipv6": format!("{:?}", plan.nft_ipv6).to_lowercase(),
            "unmapped": format!("{:?}", plan.nft_unmapped).to_lowercase(),
        },
    });
    serde_json::to_string_pretty(&doc).expect("plain data serialises") + "\n"
}
