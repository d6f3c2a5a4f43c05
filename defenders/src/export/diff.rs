//! `paraverse export --diff LIVE.json`: what loading an nftables export would change in a
//! running router, against its live ruleset (`nft -j list ruleset`).
//!
//! An admin reviews a change before applying it. Both sides are brought to one canonical
//! form: the export's table is parsed from its text, the live one from nftables' JSON
//! (sets with their elements, the forward chain's rules rendered as
//! `ip saddr @seg_users ip daddr @grp_idp tcp dport {22,443} accept`). The diff lists the
//! table if it is missing, sets added, removed or with changed elements, and rules
//! added or removed (as multisets; a pure reordering is said as such). Expressions this
//! exporter never writes are rendered as `<kind>` so they show up as differences rather
//! than being skipped.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Ipv4Block;

/// A table in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Sets by name: their elements (`10.0.0.0/24`, `10.0.0.5`).
    pub sets: BTreeMap<String, BTreeSet<String>>,
    /// The forward chain's policy (`drop`, `accept`).
    pub policy: Option<String>,
    /// The forward chain's rules, in order.
    pub rules: Vec<String>,
}

/// Canonical rule text from tokens of the exporter's own syntax: braces and commas
/// without spaces (`{22,443}`), `update` statements as `update @set limit ...`.
fn canonical_tokens(tok: &[String]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tok.len() {
        let t = tok[i].as_str();
        if t == "update" {
            // `update @set { key limit rate over N unit }`
            let set = tok.get(i + 1).cloned().unwrap_or_default();
            let close = tok[i..]
                .iter()
                .position(|t| t == "}")
                .map_or(tok.len(), |c| i + c);
            let limit: Vec<&str> = tok[i..close]
                .iter()
                .skip_while(|t| *t != "limit")
                .map(String::as_str)
                .collect();
            out.push(format!("update {set} {}", limit.join(" ")));
            i = close + 1;
            continue;
        }
        if t == "{" {
            let close = tok[i..]
                .iter()
                .position(|t| t == "}")
                .map_or(tok.len(), |c| i + c);
            let items: Vec<&str> = tok[i + 1..close]
                .iter()
                .map(String::as_str)
                .filter(|t| *t != ",")
                .collect();
            // nft lists a one-element set as the element itself.
            out.push(if items.len() == 1 {
                items[0].to_owned()
            } else {
                format!("{{{}}}", items.join(","))
            });
            i = close + 1;
            continue;
        }
        if t == "state" && tok.get(i.wrapping_sub(1)).map(String::as_str) == Some("ct") {
            let mut states = Vec::new();
            i += 1;
            while let Some(s) = tok.get(i).filter(|s| *s != "accept" && *s != "drop") {
                if s != "," {
                    states.push(s.as_str());
                }
                i += 1;
            }
            out.push(format!("state {}", states.join(",")));
            continue;
        }
        out.push(t.to_owned());
        i += 1;
    }
    out.join(" ")
}

/// The export's own table, from its text.
pub fn from_export(text: &str) -> Table {
    let mut table = Table::default();
    let mut set: Option<String> = None;
    let mut in_chain = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tok = super::nftables::tokens(line);
        if let Some(name) = &set {
            match tok[0].as_str() {
                "}" => set = None,
                "elements" => {
                    let elems = table.sets.get_mut(name).expect("opened");
                    for t in &tok[2..] {
                        if !matches!(t.as_str(), "{" | "}" | ",") {
                            elems.insert(t.clone());
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        match tok[0].as_str() {
            "set" => {
                table.sets.insert(tok[1].clone(), BTreeSet::new());
                set = Some(tok[1].clone());
            }
            "chain" if tok.get(1).map(String::as_str) == Some("forward") => in_chain = true,
            "}" => in_chain = false,
            "type" if in_chain => {
                table.policy = tok
                    .iter()
                    .position(|t| t == "policy")
                    .and_then(|i| tok.get(i + 1))
                    .map(|p| p.trim_end_matches(';').to_owned());
            }
            _ if in_chain => table.rules.push(canonical_tokens(&tok)),
            _ => {}
        }
    }
    table
}

fn element(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("prefix") => {
            let p = &o["prefix"];
            let addr = p["addr"].as_str().unwrap_or("?");
            match p["len"].as_u64() {
                Some(32) => addr.to_owned(),
                Some(n) => format!("{addr}/{n}"),
                None => addr.to_owned(),
            }
        }
        Value::Object(o) if o.contains_key("range") => {
            let r = &o["range"];
            // An interval set may hold a range that is a prefix: say it as one.
            let (a, b) = (r[0].as_str().unwrap_or("?"), r[1].as_str().unwrap_or("?"));
            range_as_prefix(a, b).unwrap_or_else(|| format!("{a}-{b}"))
        }
        Value::Object(o) if o.contains_key("elem") => element(&o["elem"]["val"]),
        other => other.to_string(),
    }
}

fn range_as_prefix(a: &str, b: &str) -> Option<String> {
    let (a, b): (std::net::Ipv4Addr, std::net::Ipv4Addr) = (a.parse().ok()?, b.parse().ok()?);
    let (a, b) = (u32::from(a), u32::from(b));
    let size = u64::from(b.checked_sub(a)?) + 1;
    if !size.is_power_of_two() || u64::from(a) % size != 0 {
        return None;
    }
    let block = Ipv4Block {
        start: a,
        prefix: (32 - size.trailing_zeros()) as u8,
    };
    Some(block.to_string())
}

fn expr(e: &Value) -> String {
    let Some((kind, body)) = e.as_object().and_then(|o| o.iter().next()) else {
        return "<?>".to_owned();
    };
    match kind.as_str() {
        "accept" | "drop" => kind.clone(),
        "match" => {
            let left = &body["left"];
            let op = body["op"].as_str().unwrap_or("==");
            let right = &body["right"];
            let lhs = if let Some(p) = left.get("payload") {
                format!(
                    "{} {}",
                    p["protocol"].as_str().unwrap_or("?"),
                    p["field"].as_str().unwrap_or("?")
                )
            } else if let Some(m) = left.get("meta") {
                format!("meta {}", m["key"].as_str().unwrap_or("?"))
            } else if let Some(c) = left.get("ct") {
                format!("ct {}", c["key"].as_str().unwrap_or("?"))
            } else {
                "<left>".to_owned()
            };
            let rhs = match right {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Object(o) if o.contains_key("set") => {
                    let items: Vec<String> = o["set"]
                        .as_array()
                        .map(|a| a.iter().map(|v| v.to_string()).collect())
                        .unwrap_or_default();
                    if items.len() == 1 {
                        items[0].clone()
                    } else {
                        format!("{{{}}}", items.join(","))
                    }
                }
                other => other.to_string(),
            };
            match op {
                "==" | "in" => format!("{lhs} {rhs}"),
                other => format!("{lhs} {other} {rhs}"),
            }
        }
        "limit" => format!(
            "limit rate {}{} {}/{}",
            if body["inv"] == true { "over " } else { "" },
            body["rate"],
            body["rate_unit"].as_str().unwrap_or("packets"),
            body["per"].as_str().unwrap_or("second")
        ),
        "set" if body["op"] == "update" => {
            let set = body["set"].as_str().unwrap_or("?");
            let limit = body["stmt"]
                .as_array()
                .and_then(|s| s.iter().find_map(|s| s.get("limit")))
                .map(|l| {
                    format!(
                        "limit rate {}{} {}/{}",
                        if l["inv"] == true { "over " } else { "" },
                        l["rate"],
                        l["rate_unit"].as_str().unwrap_or("packets"),
                        l["per"].as_str().unwrap_or("second")
                    )
                })
                .unwrap_or_default();
            format!("update {set} {limit}")
        }
        other => format!("<{other}>"),
    }
}

/// The table `family name` of a live ruleset (`nft -j list ruleset`), or `None` when
/// the ruleset has no such table.
pub fn from_live(json: &str, family: &str, name: &str) -> Result<Option<Table>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| {
        format!(
            "line {}: not nftables JSON (`nft -j list ruleset` writes it): {e}",
            e.line()
        )
    })?;
    let items = v["nftables"]
        .as_array()
        .ok_or("not nftables JSON: expected {\"nftables\": [...]} (`nft -j list ruleset`)")?;
    let ours = |o: &Value| o["family"] == family && (o["table"] == name || o["name"] == name);
    if !items.iter().any(|i| i.get("table").is_some_and(ours)) {
        return Ok(None);
    }
    let mut table = Table::default();
    for i in items {
        if let Some(s) = i
            .get("set")
            .filter(|s| s["table"] == name && s["family"] == family)
        {
            let elems = s["elem"]
                .as_array()
                .map(|a| a.iter().map(element).collect())
                .unwrap_or_default();
            table
                .sets
                .insert(s["name"].as_str().unwrap_or("?").to_owned(), elems);
        }
        if let Some(c) = i
            .get("chain")
            .filter(|c| c["table"] == name && c["family"] == family && c["name"] == "forward")
        {
            table.policy = c["policy"].as_str().map(str::to_owned);
        }
        if let Some(r) = i
            .get("rule")
            .filter(|r| r["table"] == name && r["family"] == family && r["chain"] == "forward")
        {
            let parts: Vec<String> = r["expr"]
                .as_array()
                .map(|a| a.iter().map(expr).collect())
                .unwrap_or_default();
            table.rules.push(parts.join(" "));
        }
    }
    Ok(Some(table))
}

/// What loading `new` would change in `live` (`None`: the table is not there yet), one
/// line each: `+` added, `-` removed, `~` changed. Empty when nothing would change.
pub fn diff(table_name: &str, live: Option<&Table>, new: &Table) -> Vec<String> {
    let Some(live) = live else {
        return vec![format!(
            "+ table inet {table_name}: not in the live ruleset; loading creates it with {} sets and {} rules",
            new.sets.len(),
            new.rules.len()
        )];
    };
    let mut out = Vec::new();
    if live.policy != new.policy {
        out.push(format!(
            "~ chain forward policy: {} -> {}",
            live.policy.as_deref().unwrap_or("none"),
            new.policy.as_deref().unwrap_or("none")
        ));
    }
    for (name, elems) in &new.sets {
        match live.sets.get(name) {
            None => out.push(format!("+ set {name} ({} elements)", elems.len())),
            Some(old) if old != elems => {
                let added: Vec<&String> = elems.difference(old).collect();
                let removed: Vec<&String> = old.difference(elems).collect();
                let list =
                    |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                out.push(format!(
                    "~ set {name}:{}{}",
                    if added.is_empty() {
                        String::new()
                    } else {
                        format!(" + {}", list(&added))
                    },
                    if removed.is_empty() {
                        String::new()
                    } else {
                        format!(" - {}", list(&removed))
                    }
                ));
            }
            Some(_) => {}
        }
    }
    for name in live.sets.keys().filter(|n| !new.sets.contains_key(*n)) {
        out.push(format!("- set {name}"));
    }
    fn count(rules: &[String]) -> BTreeMap<&str, usize> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rules {
            *m.entry(r.as_str()).or_default() += 1;
        }
        m
    }
    let (old, new_count) = (count(&live.rules), count(&new.rules));
    for r in &new.rules {
        if old.get(r.as_str()).copied().unwrap_or(0) < new_count[r.as_str()]
            && !out.iter().any(|l| l == &format!("+ rule {r}"))
        {
            out.push(format!("+ rule {r}"));
        }
    }
    for r in &live.rules {
        if new_count.get(r.as_str()).copied().unwrap_or(0) < old[r.as_str()]
            && !out.iter().any(|l| l == &format!("- rule {r}"))
        {
            out.push(format!("- rule {r}"));
        }
    }
    if out.is_empty() && live.rules != new.rules {
        out.push("~ chain forward: the same rules in another order".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = r#"{"nftables": [
        {"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "inet", "name": "t", "handle": 1}},
        {"set": {"family": "inet", "name": "seg_a", "table": "t", "type": "ipv4_addr", "flags": ["interval"],
                 "elem": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, "10.0.1.5", {"range": ["10.0.2.0", "10.0.2.3"]}]}},
        {"set": {"family": "inet", "name": "old", "table": "t", "type": "ipv4_addr"}},
        {"chain": {"family": "inet", "table": "t", "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"rule": {"family": "inet", "table": "t", "chain": "forward", "expr": [
            {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
        {"rule": {"family": "inet", "table": "t", "chain": "forward", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@seg_a"}},
            {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@seg_a"}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 443]}}},
            {"accept": null}]}}
    ]}"#;

    #[test]
    fn live_json_and_export_text_meet_in_one_form() {
        let live = from_live(LIVE, "inet", "t").unwrap().unwrap();
        assert_eq!(
            live.sets["seg_a"],
            ["10.0.0.0/24", "10.0.1.5", "10.0.2.0/30"]
                .map(String::from)
                .into()
        );
        let text = "table inet t {\n\tset seg_a {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/24, 10.0.1.5, 10.0.2.0/30 }\n\t}\n\tset new {\n\t\ttype ipv4_addr\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tct state established,related accept\n\t\tip saddr @seg_a ip daddr != @seg_a tcp dport { 22, 443 } accept\n\t\tip saddr @seg_a udp dport 53 accept\n\t}\n}\n";
        let ours = from_export(text);
        assert_eq!(
            ours.rules[..2],
            live.rules[..],
            "the same rules, in one form"
        );
        let d = diff("t", Some(&live), &ours);
        assert_eq!(
            d,
            vec![
                "+ set new (0 elements)".to_owned(),
                "- set old".to_owned(),
                "+ rule ip saddr @seg_a udp dport 53 accept".to_owned(),
            ]
        );
        assert!(diff("t", Some(&ours), &ours).is_empty());
        assert!(from_live(LIVE, "inet", "other").unwrap().is_none());
        assert!(diff("t", None, &ours)[0].starts_with("+ table inet t"));
        assert!(
            from_live("{}", "inet", "t")
                .unwrap_err()
                .contains("nft -j list ruleset")
        );
    }
}
