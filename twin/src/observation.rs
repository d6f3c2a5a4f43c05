//! Observations: what the real network's sensors and operators report to the twin, one
//! JSON object per line.
//!
//! ```text
//! {"time_s": 610, "kind": "alert", "node": "iot-17", "source": "detection"}
//! {"time_s": 620, "kind": "quarantine", "address": "172.22.0.17"}
//! {"time_s": 900, "kind": "release", "node": "iot-17"}
//! {"time_s": 950, "kind": "compromised", "node": 1234}
//! {"time_s": 990, "kind": "clean", "node": "iot-3"}
//! {"time_s": 1000, "kind": "link_load", "node": "edge-0", "to": "core-0", "kbps": 850000}
//! ```
//!
//! `time_s` is simulated seconds since the twin's tick 0 (non-decreasing through a feed).
//! A node is named as `events.jsonl` names it (`GROUP-INDEX`), by its id, or by its IPv4
//! `address` through a mapping file (a group's nodes take its blocks' addresses in order,
//! as `paraverse import` writes them). `paraverse schema --observations` prints the JSON
//! Schema. Alerts are evidence (weighed by the detectors' rates); quarantines, releases,
//! confirmed compromises, clean verdicts, patches, removals from and additions to the
//! inventory are facts, imposed on every member; so is a link's measured load (`link_load`: kbit/s
//! from `node` to its neighbour `to`), which makes each member's traffic on that link
//! what the sensor measured (background traffic for what the scenario's flows do not
//! make), so forecasts see the congestion.

use std::io::BufRead;

use paraverse_defenders::export::Mapping;
use paraverse_sim::metrics::RunEvent;
use paraverse_sim::scenario::Scenario;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A sensor raised an alert on the node (evidence, not proof).
    Alert,
    /// The node was isolated from the network.
    Quarantine,
    /// The node was rebuilt (clean, patched) and returned to the network.
    Release,
    /// Forensics confirmed an attacker on the node.
    Compromised,
    /// Forensics found the node clean.
    Clean,
    /// The node was patched (a patch round reports each node it patched).
    Patched,
    /// The feed ends: the twin closes every tick up to `time_s` (nothing else was
    /// reported) and stops. Names no node.
    End,
    /// The traffic measured on a link, kbit/s from `node` to its neighbour `to` (e.g. a
    /// flow collector's or an SNMP counter's figure over the tick).
    LinkLoad,
    /// The node left the inventory (retired, unplugged): from now on it is off the
    /// network, holds no attacker and is never released (until an `added` names it).
    Removed,
    /// The node joined the inventory: a spare slot (`paraverse twin --spare`: each group
    /// holds so many nodes more than the scenario, kept off the network until named
    /// here, by name, id or address) or a node removed before. It joins clean, on the
    /// network, with the group's software and patch level as the scenario built it.
    Added,
}

/// What the blue team's sensors make of a simulator event (`events.jsonl`'s `event`):
/// detections and tripwires are alerts; quarantines and releases are reported as such;
/// everything else (ground truth, attack steps) a SOC does not see.
pub fn seen_by_blue(event: &str) -> Option<Kind> {
    match event {
        "detection" | "tripwire_alert" => Some(Kind::Alert),
        "quarantine" => Some(Kind::Quarantine),
        "release" => Some(Kind::Release),
        _ => None,
    }
}

/// What the blue team saw of a run: its events that are observations, as the twin takes
/// them (the shadow truth's feed).
pub fn blue_observations(events: &[RunEvent]) -> Vec<Resolved> {
    events
        .iter()
        .filter_map(|e| {
            Some(Resolved {
                tick: e.tick,
                kind: seen_by_blue(e.kind)?,
                node: e.node?,
                link: None,
            })
        })
        .collect()
}

/// A node, by name (`GROUP-INDEX`) or id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum NodeName {
    /// Its id (index in the twin).
    Id(u32),
    /// Its name, `GROUP-INDEX` as in `events.jsonl`.
    Name(String),
}

/// One line of a feed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// Simulated seconds since the twin's tick 0.
    pub time_s: f64,
    /// What was observed.
    pub kind: Kind,
    /// The node, by name or id (or give `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeName>,
    /// The node's IPv4 address, resolved through the mapping file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The sensor that raised an alert (informational), e.g. `detection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `link_load`: the link's other end, by name or id (or give `to_address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NodeName>,
    /// `link_load`: the other end's IPv4 address, resolved through the mapping file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<String>,
    /// `link_load`: the measured load, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbps: Option<f64>,
}

/// An observation made concrete: its tick and node id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The tick it belongs to (`time_s` / tick, rounded up: what happened during a tick is
    /// known at its end).
    pub tick: u32,
    /// What was observed.
    pub kind: Kind,
    /// The node.
    pub node: u32,
    /// `link_load`: the link's other end and the load, kbit/s.
    pub link: Option<(u32, u64)>,
}

/// A bad line of a feed: where, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}: {message}")]
pub struct ObservationError {
    /// The feed (a path, `-` for standard input).
    pub origin: String,
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Names nodes of a scenario (and addresses through a mapping).
pub struct Resolver<'a> {
    scenario: &'a Scenario,
    mapping: Option<&'a Mapping>,
    tick_us: u64,
}

impl<'a> Resolver<'a> {
    /// For a scenario, and a mapping if addresses are used.
    pub fn new(scenario: &'a Scenario, mapping: Option<&'a Mapping>) -> Self {
        Self {
            scenario,
            mapping,
            tick_us: scenario.tick.as_micros().max(1),
        }
    }

    /// The node an observation names.
    pub fn node(&self, o: &Observation) -> Result<u32, String> {
        match (&o.node, &o.address) {
            (Some(_), Some(_)) => Err("give `node` or `address`, not both".into()),
            (None, None) => Err("expected `node` (GROUP-INDEX or an id) or `address`".into()),
            (Some(NodeName::Id(id)), None) => {
                if *id < self.scenario.node_count {
                    Ok(*id)
                } else {
                    Err(format!(
                        "node {id}: the twin has nodes 0 to {}",
                        self.scenario.node_count - 1
                    ))
                }
            }
            (Some(NodeName::Name(name)), None) => self.by_name(name),
            (None, Some(address)) => self.by_address(address),
        }
    }

    /// A `link_load`'s other end and load (`None` for other kinds, which must not give
    /// them).
    pub fn link(&self, o: &Observation) -> Result<Option<(u32, u64)>, String> {
        let given = o.to.is_some() || o.to_address.is_some() || o.kbps.is_some();
        if o.kind != Kind::LinkLoad {
            return if given {
                Err("`to`, `to_address` and `kbps` belong to `link_load` observations".into())
            } else {
                Ok(None)
            };
        }
        let end = Observation {
            node: o.to.clone(),
            address: o.to_address.clone(),
            ..o.clone()
        };
        let to = self.node(&end).map_err(|e| {
            format!(
                "link_load: {}",
                e.replace("`node`", "`to`")
                    .replace("`address`", "`to_address`")
            )
        })?;
        let kbps = match o.kbps {
            Some(k) if k.is_finite() && k >= 0.0 => k.round() as u64,
            Some(k) => return Err(format!("link_load: kbps {k}: expected kbit/s ≥ 0")),
            None => return Err("link_load: expected `kbps`, the measured load in kbit/s".into()),
        };
        Ok(Some((to, kbps)))
    }

    fn by_name(&self, name: &str) -> Result<u32, String> {
        let unknown = || {
            format!(
                "node `{name}`: expected GROUP-INDEX with a group of the scenario ({})",
                self.scenario.group_names()
            )
        };
        let (group, index) = name.rsplit_once('-').ok_or_else(unknown)?;
        let g = self
            .scenario
            .groups
            .iter()
            .find(|g| g.name == group)
            .ok_or_else(unknown)?;
        let index: u32 = index.parse().map_err(|_| unknown())?;
        if index >= g.count {
            return Err(format!(
                "node `{name}`: group {group} has {} nodes (0 to {}; a device added to the inventory takes a slot of `paraverse twin --spare`)",
                g.count,
                g.count - 1
            ));
        }
        Ok(g.first_node + index)
    }

    fn by_address(&self, address: &str) -> Result<u32, String> {
        let addr: std::net::Ipv4Addr = address
            .parse()
            .map_err(|_| format!("address `{address}`: expected an IPv4 address"))?;
        let Some(mapping) = self.mapping else {
            return Err(format!(
                "address {address}: addresses resolve through a mapping file (--mapping)"
            ));
        };
        let addr = u32::from(addr);
        for (group, map) in &mapping.groups {
            let Some(blocks) = &map.addresses else {
                continue;
            };
            let mut offset = 0u64;
            for b in blocks {
                if b.contains(addr) {
                    let index = offset + u64::from(addr - b.start);
                    let g = self
                        .scenario
                        .groups
                        .iter()
                        .find(|g| &g.name == group)
                        .ok_or_else(|| {
                            format!("address {address}: the mapping's group {group} is not in the scenario")
                        })?;
                    return if index < u64::from(g.count) {
                        Ok(g.first_node + index as u32)
                    } else {
                        Err(format!(
                            "address {address} is number {} in group {group}'s blocks, which has {} nodes (a device added to the inventory takes a slot of `paraverse twin --spare`)",
                            index + 1,
                            g.count
                        ))
                    };
                }
                offset += b.size();
            }
        }
        Err(format!(
            "address {address}: in no group's blocks of the mapping"
        ))
    }

    /// The tick an observation at `time_s` belongs to.
    pub fn tick(&self, time_s: f64) -> Result<u32, String> {
        if !(time_s.is_finite() && time_s >= 0.0) {
            return Err(format!("time_s {time_s}: expected seconds ≥ 0"));
        }
        let us = (time_s * 1e6).round() as u64;
        u32::try_from(us.div_ceil(self.tick_us)).map_err(|_| {
            format!(
                "time_s {time_s:e}: beyond the last tick a run can have ({} ticks of {} s)",
                u32::MAX,
                self.tick_us as f64 / 1e6
            )
        })
    }
}

/// How a feed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedEnd {
    /// Observations read.
    pub observations: usize,
    /// The tick of its `end` line, if it had one.
    pub end: Option<u32>,
}

/// Reads a feed line by line as it arrives (a file, standard input or an MQTT topic that a
/// process keeps writing to), handing each resolved observation to `each`, up to the end
/// of the input or an `end` line. Blank lines and lines starting with `#` are skipped;
/// times must not go back.
pub fn read(
    input: impl BufRead,
    origin: &str,
    resolver: &Resolver<'_>,
    mut each: impl FnMut(Resolved) -> Result<(), String>,
) -> Result<FeedEnd, ObservationError> {
    let mut last = 0u32;
    let mut count = 0;
    for (i, line) in input.lines().enumerate() {
        let err = |message: String| ObservationError {
            origin: origin.to_owned(),
            line: i + 1,
            message,
        };
        let line = line.map_err(|e| err(format!("cannot read: {e}")))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let o: Observation = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "{e}; expected an object like {{\"time_s\": 610, \"kind\": \"alert\", \"node\": \"GROUP-INDEX\"}}"
            ))
        })?;
        let tick = resolver.tick(o.time_s).map_err(&err)?;
        if tick < last {
            return Err(err(format!(
                "time_s {} goes back (to tick {tick}, after tick {last}): a feed is in time order",
                o.time_s
            )));
        }
        last = tick;
        if o.kind == Kind::End {
            return Ok(FeedEnd {
                observations: count,
                end: Some(tick),
            });
        }
        let node = resolver.node(&o).map_err(&err)?;
        let link = resolver.link(&o).map_err(&err)?;
        each(Resolved {
            tick,
            kind: o.kind,
            node,
            link,
        })
        .map_err(&err)?;
        count += 1;
    }
    Ok(FeedEnd {
        observations: count,
        end: None,
    })
}

/// The JSON Schema of a feed's lines.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Observation)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siege() -> Scenario {
        paraverse_sim::bundled::load(Some("metaverse-under-siege")).unwrap()
    }

    fn feed(
        text: &str,
        scenario: &Scenario,
        mapping: Option<&Mapping>,
    ) -> Result<Vec<Resolved>, String> {
        let resolver = Resolver::new(scenario, mapping);
        let mut got = Vec::new();
        read(text.as_bytes(), "feed.jsonl", &resolver, |r| {
            got.push(r);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok(got)
    }

    #[test]
    fn link_loads_name_both_ends_and_removals_name_one() {
        let s = siege();
        let g = &s.groups[1].name;
        let text = format!(
            "{{\"time_s\": 10, \"kind\": \"link_load\", \"node\": \"{g}-0\", \"to\": 7, \"kbps\": 1500.4}}\n\
             {{\"time_s\": 10, \"kind\": \"removed\", \"node\": 3}}\n"
        );
        let got = feed(&text, &s, None).unwrap();
        let first = s.groups[1].first_node;
        assert_eq!(got[0].kind, Kind::LinkLoad);
        assert_eq!((got[0].node, got[0].link), (first, Some((7, 1500))));
        assert_eq!(
            (got[1].kind, got[1].node, got[1].link),
            (Kind::Removed, 3, None)
        );
        for (line, expect) in [
            (
                r#"{"time_s": 1, "kind": "link_load", "node": 0, "kbps": 5}"#,
                "link_load: expected `to` (GROUP-INDEX or an id) or `to_address`",
            ),
            (
                r#"{"time_s": 1, "kind": "link_load", "node": 0, "to": 1, "kbps": -5}"#,
                "link_load: kbps -5: expected kbit/s ≥ 0",
            ),
            (
                r#"{"time_s": 1, "kind": "removed", "node": 0, "kbps": 5}"#,
                "belong to `link_load` observations",
            ),
            // A time past any run's end is said in a few characters, not 300 digits.
            (
                r#"{"time_s": 1e308, "kind": "alert", "node": 0}"#,
                "time_s 1e308: beyond the last tick a run can have (4294967295 ticks of",
            ),
        ] {
            let err = feed(line, &s, None).unwrap_err();
            assert!(err.contains(expect), "{err}");
        }
    }

    #[test]
    fn nodes_are_named_by_group_and_index_by_id_or_by_address() {
        let s = siege();
        let g = &s.groups[1];
        let mapping = Mapping::parse(
            &format!(
                "[groups.{}]\naddresses = [\"10.1.0.0/30\", \"10.2.0.0/24\"]\n",
                g.name
            ),
            "m.toml",
        )
        .unwrap();
        let text = format!(
            "# a comment\n\n{{\"time_s\": 10, \"kind\": \"alert\", \"node\": \"{0}-2\", \"source\": \"ueba\"}}\n\
             {{\"time_s\": 10, \"kind\": \"quarantine\", \"node\": 5}}\n\
             {{\"time_s\": 11, \"kind\": \"release\", \"address\": \"10.2.0.3\"}}\n",
            g.name
        );
        let got = feed(&text, &s, Some(&mapping)).unwrap();
        let tick = |t: f64| Resolver::new(&s, None).tick(t).unwrap();
        assert_eq!(
            got,
            vec![
                Resolved {
                    tick: tick(10.0),
                    kind: Kind::Alert,
                    node: g.first_node + 2,
                    link: None,
                },
                Resolved {
                    tick: tick(10.0),
                    kind: Kind::Quarantine,
                    node: 5,
                    link: None,
                },
                // The second block starts after the first's 4 addresses.
                Resolved {
                    tick: tick(11.0),
                    kind: Kind::Release,
                    node: g.first_node + 4 + 3,
                    link: None,
                },
            ]
        );
    }

    #[test]
    fn bad_lines_name_the_line_and_what_was_expected() {
        let s = siege();
        let g = &s.groups[0].name;
        for (text, expect) in [
            (
                "{\"time_s\": 1, \"kind\": \"alarm\", \"node\": 1}",
                "feed.jsonl:1: unknown variant `alarm`",
            ),
            (
                "{\"time_s\": 1, \"kind\": \"alert\"}",
                "feed.jsonl:1: expected `node`",
            ),
            (
                "{\"time_s\": 1, \"kind\": \"alert\", \"node\": \"nosuch-1\"}",
                "expected GROUP-INDEX with a group",
            ),
            (
                "{\"time_s\": 1, \"kind\": \"alert\", \"node\": 99999999}",
                "the twin has nodes 0 to",
            ),
            (
                "{\"time_s\": -1, \"kind\": \"alert\", \"node\": 1}",
                "expected seconds",
            ),
            (
                "{\"time_s\": 1, \"kind\": \"alert\", \"address\": \"10.0.0.1\"}",
                "through a mapping file",
            ),
            (
                "{\"time_s\": 1, \"kind\": \"alert\", \"node\": 1, \"colour\": 2}",
                "unknown field `colour`",
            ),
            ("not json", "feed.jsonl:1:"),
        ] {
            let err = feed(text, &s, None).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
        let back = format!(
            "{{\"time_s\": 100, \"kind\": \"alert\", \"node\": \"{g}-0\"}}\n{{\"time_s\": 50, \"kind\": \"alert\", \"node\": \"{g}-0\"}}\n"
        );
        let err = feed(&back, &s, None).unwrap_err();
        assert!(
            err.contains("feed.jsonl:2:") && err.contains("goes back"),
            "{err}"
        );
        let big = format!(
            "{{\"time_s\": 1, \"kind\": \"alert\", \"node\": \"{g}-{}\"}}",
            s.groups[0].count
        );
        assert!(feed(&big, &s, None).unwrap_err().contains("nodes (0 to"));
    }

    #[test]
    fn the_schema_names_every_kind() {
        let schema = json_schema().to_string();
        for kind in [
            "end",
            "alert",
            "quarantine",
            "release",
            "compromised",
            "patched",
            "clean",
            "time_s",
            "address",
        ] {
            assert!(schema.contains(kind), "{kind}");
        }
    }
}
