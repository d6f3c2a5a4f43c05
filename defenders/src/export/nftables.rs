//! The nftables export: one `inet` table with a set per group and per segment, a
//! quarantine set, per-source DDoS rate limits, and a forward chain (default drop) that
//! admits what the strategy's segmentation admits. Every rule carries a comment line
//! tracing it to the strategy.
//!
//! [`read_back`] parses the ruleset text again and evaluates it against the matrix probes,
//! the round trip of the export's tests; `nft -c -f` checks the syntax in CI.

use std::collections::HashMap;
use std::fmt::Write as _;

use paraverse_sim::scenario::Protocol;

use super::mapping::{Unmapped, Verdict};
use super::matrix::{FlowMatrix, Probe};
use super::{Ipv4Block, Plan, PlanAdmit, proto_name};

/// Seconds a rate limiter's state for an idle (source, target) pair is kept.
const METER_TIMEOUT: &str = "1m";
/// The most (source, target) pairs a rate limiter's set is sized for.
const METER_MAX: u64 = 1 << 24;

fn addresses(blocks: &[Ipv4Block]) -> u64 {
    blocks.iter().map(|b| b.size()).sum()
}

/// Writes the ruleset: the header, the table's sets, its forward chain.
pub fn write(plan: &Plan) -> String {
    let mut s = String::new();
    header(&mut s, plan);
    let attackers = sets(&mut s, plan);
    forward_chain(&mut s, plan, &attackers);
    s
}

/// The comments that say what the file is and how to check and load it, and the table's
/// replacement (`nft -f` replaces only this table).
fn header(w: &mut String, plan: &Plan) {
    let t = &plan.nft_table;
    let _ = writeln!(w, "#!/usr/sbin/nft -f");
    let _ = writeln!(
        w,
        "# paraverse export: strategy `{}` for scenario `{}` (source hash {}), paraverse {}.",
        plan.strategy,
        plan.scenario,
        plan.scenario_hash,
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        w,
        "# Filters traffic forwarded between segments: load it on the routers and gateways between them."
    );
    let _ = writeln!(
        w,
        "# Check: nft -c -f ruleset.nft   Load: nft -f ruleset.nft (replaces table inet {t} only)."
    );
    let _ = writeln!(
        w,
        "# Quarantine a node: nft add element inet {t} quarantine {{ 10.0.0.5 }}"
    );
    if plan.groups.iter().any(|g| !g.mapped_addresses) {
        let _ = writeln!(
            w,
            "# WARNING: some groups have placeholder addresses in 10.0.0.0/8; give their real ones in a mapping file."
        );
    }
    let _ = writeln!(w, "table inet {t}");
    let _ = writeln!(w, "delete table inet {t}");
    let _ = writeln!(w);
    let _ = writeln!(w, "table inet {t} {{");
}

/// The sets: each group's and segment's addresses, the attackers', the deployment's,
/// quarantine and the rate limiters' meters. Returns the attackers' blocks.
fn sets(w: &mut String, plan: &Plan) -> Vec<Ipv4Block> {
    for g in &plan.groups {
        let _ = writeln!(
            w,
            "\t# group {}: {} nodes ({}), {}{}",
            g.name,
            g.count,
            g.kind,
            if g.is_attacker() {
                format!(
                    "attacker infrastructure of {}: denied",
                    g.attacker_of.join(", ")
                )
            } else {
                format!("segment {}", plan.segments[g.segment].name)
            },
            if g.mapped_addresses {
                ""
            } else {
                ", placeholder addresses"
            }
        );
        write_set(w, &format!("grp_{}", g.name), &g.blocks);
    }
    let mut attackers: Vec<Ipv4Block> = plan
        .groups
        .iter()
        .filter(|g| g.is_attacker())
        .flat_map(|g| g.blocks.iter().copied())
        .collect();
    attackers.sort();
    if !attackers.is_empty() {
        let _ = writeln!(
            w,
            "\t# attacker infrastructure (campaigns' drop servers): never admitted, either way"
        );
        write_set(w, "attackers", &attackers);
    }
    let mut deployment: Vec<Ipv4Block> = plan
        .groups
        .iter()
        .filter(|g| !g.is_attacker())
        .flat_map(|g| g.blocks.iter().copied())
        .collect();
    deployment.sort();
    deployment.dedup();
    let _ = writeln!(
        w,
        "\t# the deployment: every group's addresses (traffic with an end outside is 'unmapped')"
    );
    write_set(w, "deployment", &deployment);
    for s in &plan.segments {
        let members: Vec<&str> = s
            .groups
            .iter()
            .map(|&g| plan.groups[g].name.as_str())
            .collect();
        let _ = writeln!(w, "\t# segment {}: {}", s.name, members.join(", "));
        let mut blocks: Vec<Ipv4Block> = s
            .groups
            .iter()
            .flat_map(|&g| plan.groups[g].blocks.iter().copied())
            .collect();
        blocks.sort();
        write_set(w, &format!("seg_{}", s.name), &blocks);
    }
    let _ = writeln!(
        w,
        "\t# quarantine: nodes cut off from the network; the strategy isolates with: {}",
        if plan.isolating.is_empty() {
            "none (the set stays for incident response)".to_owned()
        } else {
            plan.isolating.join(", ")
        }
    );
    write_set(w, "quarantine", &[]);
    meter_sets(w, plan, &deployment);
    attackers
}

/// The forward chain: quarantine, attackers, IP version and unmapped traffic, rate
/// limits and scrubbing, established connections, then the segments' rules.
fn forward_chain(w: &mut String, plan: &Plan, attackers: &[Ipv4Block]) {
    let _ = writeln!(w);
    let _ = writeln!(w, "\tchain forward {{");
    let _ = writeln!(
        w,
        "\t\ttype filter hook forward priority filter; policy drop;"
    );
    let _ = writeln!(
        w,
        "\t\t# quarantine: isolated nodes neither open nor accept connections"
    );
    let _ = writeln!(w, "\t\tip saddr @quarantine drop");
    let _ = writeln!(w, "\t\tip daddr @quarantine drop");
    if !attackers.is_empty() {
        let _ = writeln!(
            w,
            "\t\t# attacker infrastructure: dropped before any accept, replies included"
        );
        let _ = writeln!(w, "\t\tip saddr @attackers drop");
        let _ = writeln!(w, "\t\tip daddr @attackers drop");
    }
    let verdict = |v: Verdict| match v {
        Verdict::Drop => "drop",
        Verdict::Accept => "accept",
    };
    let _ = writeln!(
        w,
        "\t\t# IPv6 is not modelled by the twin: [nftables] ipv6 = \"{}\" in the mapping",
        verdict(plan.nft_ipv6)
    );
    let _ = writeln!(w, "\t\tmeta nfproto ipv6 {}", verdict(plan.nft_ipv6));
    if plan.nft_unmapped == Unmapped::Drop {
        // Before the rate limiters, so that their sets only ever see the deployment's
        // addresses.
        let _ = writeln!(
            w,
            "\t\t# traffic with an end in no group (the Internet, unmapped hosts): [nftables] unmapped = \"drop\""
        );
        let _ = writeln!(w, "\t\tip saddr != @deployment drop");
        let _ = writeln!(w, "\t\tip daddr != @deployment drop");
    }
    rate_limit_rules(w, plan);
    if let Some(kbps) = plan.scrubbing_kbps {
        let _ = writeln!(
            w,
            "\t\t# [defense.ddos] scrubbing of {kbps} kbit/s is a provider service, not a rule here"
        );
    }
    let _ = writeln!(w, "\t\t# replies within admitted connections");
    let _ = writeln!(w, "\t\tct state established,related accept");
    let _ = writeln!(w, "\t\tct state invalid drop");
    match plan.nft_unmapped {
        // Written before the rate limiters (see above).
        Unmapped::Drop => {}
        Unmapped::Egress => {
            let _ = writeln!(
                w,
                "\t\t# [nftables] unmapped = \"egress\": groups may open connections to addresses in no group; none come in"
            );
            let _ = writeln!(w, "\t\tip saddr @deployment ip daddr != @deployment accept");
            let _ = writeln!(w, "\t\tip saddr != @deployment drop");
        }
        Unmapped::Accept => {
            let _ = writeln!(
                w,
                "\t\t# [nftables] unmapped = \"accept\": traffic with an end in no group passes, both ways"
            );
            let _ = writeln!(w, "\t\tip saddr != @deployment accept");
            let _ = writeln!(w, "\t\tip daddr != @deployment accept");
        }
    }
    segment_rules(w, plan);
    let _ = writeln!(w, "\t}}");
    let _ = writeln!(w, "}}");
}

/// One meter set per rate-limited group: the state of its (source, node) pairs.
fn meter_sets(w: &mut String, plan: &Plan, deployment: &[Ipv4Block]) {
    for r in &plan.rate_limits {
        let g = &plan.groups[r.group];
        // A full set stops tracking new pairs, and an untracked pair is not limited: the
        // set is sized for every (deployment address, protected address) pair, and only
        // deployment sources enter it (outside sources are dropped, or share one
        // stateless limit): it cannot fill.
        let pairs = addresses(deployment).saturating_mul(addresses(&g.blocks));
        let size = pairs.clamp(1, METER_MAX);
        let _ = writeln!(
            w,
            "\t# [defense.ddos] rate-limit state: (source, node of {}) pairs; sized for {} pairs{}",
            g.name,
            pairs,
            if pairs > METER_MAX {
                format!(", capped at {METER_MAX}: pairs beyond it are not limited")
            } else {
                " (only the deployment's addresses enter it: it cannot fill)".to_owned()
            }
        );
        let _ = writeln!(w, "\tset ddos_{} {{", g.name);
        let _ = writeln!(w, "\t\ttype ipv4_addr . ipv4_addr");
        let _ = writeln!(w, "\t\tflags dynamic, timeout");
        let _ = writeln!(w, "\t\ttimeout {METER_TIMEOUT}");
        let _ = writeln!(w, "\t\tsize {size}");
        let _ = writeln!(w, "\t}}");
    }
}

/// `[defense.ddos]` rate limits: each deployment source at most the limit toward each
/// protected node; outside sources, where they pass at all, share one limit.
fn rate_limit_rules(w: &mut String, plan: &Plan) {
    for r in &plan.rate_limits {
        let g = &plan.groups[r.group];
        let _ = writeln!(
            w,
            "\t\t# [defense.ddos] protect {}: each source at most {} kbit/s toward each of its nodes",
            g.name, r.kbps
        );
        let _ = writeln!(
            w,
            "\t\tip saddr @deployment ip daddr @grp_{0} update @ddos_{0} {{ ip saddr . ip daddr limit rate over {1} bytes/second }} drop",
            g.name,
            u64::from(r.kbps) * 125
        );
        if plan.nft_unmapped == Unmapped::Accept {
            // Sources outside the deployment are not tracked one by one (they could fill
            // any set): together they get one source's limit, a rule with no state.
            let _ = writeln!(
                w,
                "\t\t# [nftables] unmapped = \"accept\": sources outside the deployment share one source's limit toward {}",
                g.name
            );
            let _ = writeln!(
                w,
                "\t\tip saddr != @deployment ip daddr @grp_{} limit rate over {} bytes/second drop",
                g.name,
                u64::from(r.kbps) * 125
            );
        }
    }
}

/// Within a segment every service of its groups; across segments what each allow admits.
fn segment_rules(w: &mut String, plan: &Plan) {
    // Segment `k`'s nodes to group `g` on what `adm` admits.
    let admit = |w: &mut String, k: usize, g: usize, adm: &PlanAdmit| {
        let (seg, group) = (&plan.segments[k].name, &plan.groups[g].name);
        if adm.every_port {
            let _ = writeln!(w, "\t\tip saddr @seg_{seg} ip daddr @grp_{group} accept");
            return;
        }
        for proto in [Protocol::Tcp, Protocol::Udp] {
            let ports: Vec<String> = adm
                .ports_of(proto)
                .iter()
                .map(ToString::to_string)
                .collect();
            if !ports.is_empty() {
                let _ = writeln!(
                    w,
                    "\t\tip saddr @seg_{seg} ip daddr @grp_{group} {} dport {{ {} }} accept",
                    proto_name(proto),
                    ports.join(", ")
                );
            }
        }
    };
    for (k, s) in plan.segments.iter().enumerate() {
        let _ = writeln!(
            w,
            "\t\t# segment {}: its nodes reach each other's services",
            s.name
        );
        for &g in &s.groups {
            admit(w, k, g, &plan.reach(k, g));
        }
        for (j, to) in plan.segments.iter().enumerate() {
            if j == k || !plan.allows(k, j) {
                continue;
            }
            let _ = writeln!(
                w,
                "\t\t# [[defense.segmentation.allow]] {} -> {}: the services it admits (by default those its flows use)",
                s.name, to.name
            );
            for &g in &to.groups {
                match plan.reach(k, g) {
                    adm if adm.any() => admit(w, k, g, &adm),
                    _ => {
                        let _ = writeln!(w, "\t\t# nothing admitted on {}", plan.groups[g].name);
                    }
                }
            }
        }
    }
}

fn write_set(w: &mut String, name: &str, blocks: &[Ipv4Block]) {
    let _ = writeln!(w, "\tset {name} {{");
    let _ = writeln!(w, "\t\ttype ipv4_addr");
    let _ = writeln!(w, "\t\tflags interval");
    if !blocks.is_empty() {
        let list: Vec<String> = blocks.iter().map(ToString::to_string).collect();
        let _ = writeln!(w, "\t\telements = {{ {} }}", list.join(", "));
    }
    let _ = writeln!(w, "\t}}");
}

/// A parsed rule: its match conditions and verdict.
#[derive(Debug)]
enum Cond {
    Saddr(String),
    Daddr(String),
    /// `ip saddr != @set`.
    NotSaddr(String),
    /// `ip daddr != @set`.
    NotDaddr(String),
    /// `meta nfproto ipv6`: never true for the (IPv4) probes.
    Ipv6,
    Dport(Protocol, Vec<u16>),
    /// `ct state ...`: never true for the first packet of a new connection.
    CtState,
    /// A rate limiter: the first packet of a connection is under any limit.
    UnderLimit,
}

#[derive(Debug)]
struct Rule {
    conds: Vec<Cond>,
    accept: bool,
}

/// A line's tokens: words, with braces, commas and semicolons as tokens of their own.
pub(crate) fn tokens(line: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if matches!(c, '{' | '}' | ',' | ';') {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    spaced.split_whitespace().map(str::to_owned).collect()
}

/// A parsed ruleset: its sets, the forward chain's rules and whether its policy accepts.
struct Ruleset {
    sets: HashMap<String, Vec<Ipv4Block>>,
    rules: Vec<Rule>,
    policy_accept: bool,
}

/// Parses a ruleset written by [`write`]: sets and the forward chain.
fn parse(text: &str) -> Result<Ruleset, String> {
    let mut sets: HashMap<String, Vec<Ipv4Block>> = HashMap::new();
    let mut rules = Vec::new();
    let mut policy_accept = None;
    let mut current_set: Option<String> = None;
    let mut in_chain = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tok = tokens(line);
        let at = |m: &str| format!("line {}: {m}: `{line}`", n + 1);
        if let Some(name) = &current_set {
            match tok[0].as_str() {
                "}" => current_set = None,
                "elements" => {
                    for t in &tok[2..] {
                        if !matches!(t.as_str(), "{" | "}" | ",") {
                            sets.get_mut(name)
                                .expect("opened")
                                .push(t.parse().map_err(|e| at(&format!("`{t}` {e}")))?);
                        }
                    }
                }
                "type" | "flags" | "timeout" | "size" => {}
                _ => return Err(at("unexpected in a set")),
            }
            continue;
        }
        match tok[0].as_str() {
            "table" | "delete" => {}
            "set" => {
                sets.insert(tok[1].clone(), Vec::new());
                current_set = Some(tok[1].clone());
            }
            "chain" if tok[1] == "forward" => in_chain = true,
            "}" => in_chain = false,
            "type" if in_chain => {
                let i = tok
                    .iter()
                    .position(|t| t == "policy")
                    .ok_or_else(|| at("chain without a policy"))?;
                policy_accept = Some(tok[i + 1] == "accept");
            }
            _ if in_chain => rules.push(parse_rule(&tok).map_err(|e| at(&e))?),
            _ => return Err(at("unexpected")),
        }
    }
    let policy_accept = policy_accept.ok_or("no forward chain")?;
    Ok(Ruleset {
        sets,
        rules,
        policy_accept,
    })
}

fn parse_rule(tok: &[String]) -> Result<Rule, String> {
    let mut conds = Vec::new();
    let mut i = 0;
    let set_name = |t: &str| {
        t.strip_prefix('@')
            .map(str::to_owned)
            .ok_or_else(|| format!("expected @set, found `{t}`"))
    };
    loop {
        match tok.get(i).map(String::as_str) {
            Some("ip") => {
                let dir = tok.get(i + 1).ok_or("`ip` without a field")?;
                let negated = tok.get(i + 2).map(String::as_str) == Some("!=");
                let at = if negated { i + 3 } else { i + 2 };
                let set = set_name(tok.get(at).ok_or("`ip` without a set")?)?;
                conds.push(match (dir.as_str(), negated) {
                    ("saddr", false) => Cond::Saddr(set),
                    ("daddr", false) => Cond::Daddr(set),
                    ("saddr", true) => Cond::NotSaddr(set),
                    ("daddr", true) => Cond::NotDaddr(set),
                    (other, _) => return Err(format!("unknown ip field `{other}`")),
                });
                i = at + 1;
            }
            Some("meta") => {
                if tok.get(i + 1).map(String::as_str) != Some("nfproto")
                    || tok.get(i + 2).map(String::as_str) != Some("ipv6")
                {
                    return Err("expected meta nfproto ipv6".to_owned());
                }
                conds.push(Cond::Ipv6);
                i += 3;
            }
            Some(p @ ("tcp" | "udp")) => {
                if tok.get(i + 1).map(String::as_str) != Some("dport") {
                    return Err("expected dport".to_owned());
                }
                let proto = if p == "tcp" {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                };
                let mut ports = Vec::new();
                i += 2;
                if tok.get(i).map(String::as_str) == Some("{") {
                    i += 1;
                    while let Some(t) = tok.get(i) {
                        i += 1;
                        match t.as_str() {
                            "}" => break,
                            "," => {}
                            n => ports.push(n.parse().map_err(|_| format!("bad port `{n}`"))?),
                        }
                    }
                } else {
                    let n = tok.get(i).ok_or("dport without a port")?;
                    ports.push(n.parse().map_err(|_| format!("bad port `{n}`"))?);
                    i += 1;
                }
                conds.push(Cond::Dport(proto, ports));
            }
            Some("ct") => {
                // `ct state a,b,...`: the states run up to the verdict.
                conds.push(Cond::CtState);
                i += 2;
                while tok.get(i).is_some_and(|t| t != "accept" && t != "drop") {
                    i += 1;
                }
            }
            Some("limit") => {
                // `limit rate over N unit`: the first packet of a connection is under it.
                if tok.get(i + 1).map(String::as_str) != Some("rate") {
                    return Err("expected limit rate".to_owned());
                }
                conds.push(Cond::UnderLimit);
                i += 2;
                while tok.get(i).is_some_and(|t| t != "accept" && t != "drop") {
                    i += 1;
                }
            }
            Some("update") => {
                // `update @set { key limit rate over N unit } `: skip to the closing brace.
                let close = tok[i..]
                    .iter()
                    .position(|t| t == "}")
                    .ok_or("unclosed update")?;
                if !tok[i..i + close].iter().any(|t| t == "limit") {
                    return Err("update without a limit".to_owned());
                }
                conds.push(Cond::UnderLimit);
                i += close + 1;
            }
            Some("accept") | Some("drop") if i + 1 == tok.len() => {
                return Ok(Rule {
                    conds,
                    accept: tok[i] == "accept",
                });
            }
            Some(other) => return Err(format!("unknown token `{other}`")),
            None => return Err("rule without a verdict".to_owned()),
        }
    }
}

/// Reads the ruleset back and answers the probes as the kernel would for the first
/// packet of each connection, with the probes' quarantined nodes added to the
/// `quarantine` set (as `nft add element` would).
pub fn read_back(text: &str, plan: &Plan, probes: &[Probe]) -> Result<FlowMatrix, String> {
    let Ruleset {
        sets,
        rules,
        policy_accept,
    } = parse(text)?;
    let in_set = |name: &str, addr: u32| -> Result<bool, String> {
        sets.get(name)
            .map(|blocks| blocks.iter().any(|b| b.contains(addr)))
            .ok_or_else(|| format!("rule refers to an undefined set `{name}`"))
    };
    let mut allowed = Vec::with_capacity(probes.len());
    for p in probes {
        let addr = |(g, k): (usize, u32)| {
            plan.groups[g]
                .address(k)
                .ok_or_else(|| format!("group {} has no address for node {k}", plan.groups[g].name))
        };
        let (src, dst) = (addr(p.from)?, addr(p.to)?);
        if !sets.contains_key("quarantine") {
            return Err("no quarantine set".to_owned());
        }
        let mut verdict = None;
        for r in &rules {
            let mut hit = true;
            for c in &r.conds {
                let ok = match c {
                    Cond::Saddr(s) if s == "quarantine" => {
                        p.isolated(plan, p.from) || in_set(s, src)?
                    }
                    Cond::Daddr(s) if s == "quarantine" => {
                        p.isolated(plan, p.to) || in_set(s, dst)?
                    }
                    Cond::Saddr(s) => in_set(s, src)?,
                    Cond::Daddr(s) => in_set(s, dst)?,
                    Cond::NotSaddr(s) => !in_set(s, src)?,
                    Cond::NotDaddr(s) => !in_set(s, dst)?,
                    Cond::Ipv6 => false,
                    Cond::Dport(proto, ports) => *proto == p.protocol && ports.contains(&p.port),
                    Cond::CtState | Cond::UnderLimit => false,
                };
                if !ok {
                    hit = false;
                    break;
                }
            }
            if hit {
                verdict = Some(r.accept);
                break;
            }
        }
        allowed.push(verdict.unwrap_or(policy_accept));
    }
    Ok(FlowMatrix {
        probes: probes.to_vec(),
        allowed,
    })
}
