//! The data dictionary: every column a run writes, with its unit, kind and meaning.
//!
//! A researcher loading `timeseries.csv` into pandas needs to know that `compromised` is
//! a state (nodes now), `detections` a per-tick count and `xr_quality_ppm` a level; a
//! reviewer needs to know that `accounts_taken_over` counts accounts, not events. The
//! time-series part is generated from the world itself (state columns, per-zone columns,
//! and every counter and gauge with the help text its plugin registered), so it cannot
//! fall behind; `summary.json`'s fields are listed here, and tests check that every
//! column and key a real run writes is in the dictionary (`paraverse metrics`).
//!
//! Kinds: `state` (a level at the end of the tick), `per-tick` (what happened during
//! the tick), `gauge` (a level measured during the tick), `total` (over the run),
//! `final`, `peak`, `info` (provenance and settings).

use serde::Serialize;

use crate::metrics::{Metrics, StateCounts, ZONE_COLUMNS};

/// One column or field of an output file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The file (`timeseries.csv`, `zones.csv`, `events.jsonl`, `summary.json`; the
    /// Parquet twins have the same columns).
    pub file: &'static str,
    /// The column, or the field's dotted path in the JSON.
    pub column: String,
    /// `state`, `per-tick`, `gauge`, `total`, `final`, `peak` or `info`.
    pub kind: &'static str,
    /// Unit (`nodes`, `s`, `ppm`, ...), empty where the meaning says it.
    pub unit: &'static str,
    /// The column's type in the Parquet twin (`int64`, `double`, `string`, `bool`; an
    /// empty CSV field is a null), or `json` for a field of `summary.json`.
    pub dtype: &'static str,
    /// What it is.
    pub meaning: String,
}

const STATE_HELP: [(&str, &str); 5] = [
    ("compromised", "nodes under an attacker's control now"),
    ("quarantined", "nodes quarantined now"),
    ("patched", "nodes patched now"),
    (
        "vulnerable",
        "unpatched nodes that run a vulnerable service and are not yet compromised",
    ),
    ("ever_compromised", "nodes compromised at some point so far"),
];

const ZONE_HELP: [(&str, &str); 3] = [
    (
        "compromised",
        "nodes of the zone under an attacker's control now",
    ),
    ("quarantined", "nodes of the zone quarantined now"),
    ("alerted", "nodes of the zone with an open alert now"),
];

/// An entry of a per-tick table (`timeseries.csv`, `zones.csv`): `time_s` is a double,
/// `zone` a string, everything else an integer count.
fn series_entry(
    file: &'static str,
    column: String,
    kind: &'static str,
    unit: &'static str,
    meaning: String,
) -> Entry {
    Entry {
        file,
        dtype: match column.as_str() {
            "time_s" => "double",
            "zone" => "string",
            _ => "int64",
        },
        column,
        kind,
        unit,
        meaning,
    }
}

/// The `tick` and `time_s` columns every per-tick table starts with.
fn clock_entries(file: &'static str) -> Vec<Entry> {
    vec![
        series_entry(
            file,
            "tick".into(),
            "info",
            "",
            "tick number (0: the initial state)".into(),
        ),
        series_entry(
            file,
            "time_s".into(),
            "info",
            "s",
            "simulated time at the tick's end".into(),
        ),
    ]
}

/// The columns of `timeseries.csv` for a world with these zones and metrics, in order.
pub fn timeseries(zones: &[String], metrics: &Metrics) -> Vec<Entry> {
    let entry =
        |column, kind, unit, meaning| series_entry("timeseries.csv", column, kind, unit, meaning);
    let mut out = clock_entries("timeseries.csv");
    debug_assert_eq!(StateCounts::COLUMNS.map(|c| c), STATE_HELP.map(|(c, _)| c));
    for (c, help) in STATE_HELP {
        out.push(entry(c.into(), "state", "nodes", help.into()));
    }
    for z in zones {
        for (c, help) in ZONE_HELP {
            debug_assert!(ZONE_COLUMNS.contains(&c));
            out.push(entry(
                format!("{c}:{z}"),
                "state",
                "nodes",
                format!("{help} (zone {z})"),
            ));
        }
    }
    for (name, help) in metrics.names().iter().zip(metrics.help()) {
        let name = name.to_string();
        let gauge = metrics.is_gauge(&name);
        out.push(entry(
            name,
            if gauge { "gauge" } else { "per-tick" },
            "",
            (*help).to_owned(),
        ));
    }
    out
}

/// The columns of `zones.csv` (and `zones.parquet`): the per-zone series as a tidy long
/// table, a row per tick and zone; per-zone metrics (`name:zone` in `timeseries.csv`)
/// under their base name, missing for zones that do not measure them.
pub fn zones(metrics: &Metrics, zone_names: &[String]) -> Vec<Entry> {
    let entry =
        |column, kind, unit, meaning| series_entry("zones.csv", column, kind, unit, meaning);
    let mut out = clock_entries("zones.csv");
    out.push(entry(
        "zone".into(),
        "info",
        "",
        "the zone this row describes".into(),
    ));
    for (c, help) in ZONE_HELP {
        out.push(entry(c.into(), "state", "nodes", help.into()));
    }
    for (name, help) in metrics.names().iter().zip(metrics.help()) {
        let Some((base, zone)) = name.rsplit_once(':') else {
            continue;
        };
        if !zone_names.iter().any(|z| z == zone) || out.iter().any(|e| e.column == base) {
            continue;
        }
        let gauge = metrics.is_gauge(name);
        out.push(entry(
            base.to_owned(),
            if gauge { "gauge" } else { "per-tick" },
            "",
            (*help).to_owned(),
        ));
    }
    out
}

/// The fields of an event in `events.jsonl` (the columns of `events.parquet`); fields an
/// event does not have are absent (null).
pub fn events() -> Vec<Entry> {
    const FIELDS: &[(&str, &str, &str, &str)] = &[
        ("tick", "info", "", "tick the event happened in"),
        ("time_s", "info", "s", "simulated time of that tick's end"),
        (
            "event",
            "info",
            "",
            "what happened (infection, detection, quarantine, ...)",
        ),
        ("node", "info", "", "the node it happened to, GROUP-INDEX"),
        (
            "source",
            "info",
            "",
            "the node that caused it (e.g. the infecting node)",
        ),
        ("campaign", "info", "", "the campaign involved"),
        (
            "true_positive",
            "info",
            "",
            "ground truth of a detection or alert: whether the node was compromised",
        ),
        (
            "count",
            "per-tick",
            "",
            "a count, for events about many nodes (e.g. nodes patched in a round)",
        ),
        (
            "technique",
            "info",
            "",
            "MITRE ATT&CK technique of an attack step",
        ),
    ];
    FIELDS
        .iter()
        .map(|&(column, kind, unit, meaning)| Entry {
            file: "events.jsonl",
            dtype: match column {
                "tick" | "count" => "int64",
                "time_s" => "double",
                "true_positive" => "bool",
                _ => "string",
            },
            column: column.to_owned(),
            kind,
            unit,
            meaning: meaning.to_owned(),
        })
        .collect()
}

/// The fields of `summary.json` (objects by their dotted sub-fields; `counters` and
/// `gauges` hold one entry per time-series metric, by the same names).
pub fn summary() -> Vec<Entry> {
    // Long on purpose: a table with one row per field, read and extended as a table.
    const FIELDS: &[(&str, &str, &str, &str)] = &[
        ("scenario", "info", "", "scenario name"),
        (
            "origin",
            "info",
            "",
            "where the scenario came from (path or bundled name)",
        ),
        (
            "scenario_hash",
            "info",
            "",
            "FNV-1a of the scenario text, hex",
        ),
        ("seed", "info", "", "seed of all randomness"),
        (
            "paraverse_version",
            "info",
            "",
            "version that wrote the run",
        ),
        ("ticks", "info", "ticks", "ticks simulated"),
        ("tick_s", "info", "s", "tick length"),
        ("simulated_s", "info", "s", "simulated time"),
        ("nodes", "info", "nodes", "nodes in the world"),
        ("terminals", "info", "nodes", "terminals among them"),
        ("links", "info", "links", "links in the topology"),
        (
            "vulnerable_initial",
            "final",
            "nodes",
            "vulnerable (unpatched, running a vulnerable service) at the start",
        ),
        (
            "compromised_peak",
            "peak",
            "nodes",
            "most nodes compromised at once",
        ),
        (
            "compromised_peak_s",
            "peak",
            "s",
            "when that peak was first reached",
        ),
        (
            "compromised_final",
            "final",
            "nodes",
            "compromised at the end",
        ),
        (
            "compromised_ever",
            "total",
            "nodes",
            "nodes compromised at some point",
        ),
        (
            "time_to_half_vulnerable_s",
            "peak",
            "s",
            "first time half the initially vulnerable nodes had been compromised; null if never",
        ),
        (
            "quarantined_final",
            "final",
            "nodes",
            "quarantined at the end",
        ),
        ("patched_final", "final", "nodes", "patched at the end"),
        (
            "counters",
            "total",
            "",
            "total over the run of every per-tick counter of timeseries.csv, by name",
        ),
        (
            "gauges",
            "gauge",
            "",
            "mean, min and max of every gauge of timeseries.csv, by name",
        ),
        (
            "xr_quality",
            "total",
            "share",
            "share of XR stream flow-ticks within their rate and latency budget (null without XR traffic)",
        ),
        (
            "xr_quality_by_zone",
            "total",
            "share",
            "the same per zone of the XR client",
        ),
        (
            "impact.records_stolen",
            "total",
            "records",
            "records stolen, by data class (each record once per theft)",
        ),
        (
            "impact.assets_stolen",
            "total",
            "assets",
            "digital assets stolen",
        ),
        (
            "impact.asset_value_stolen",
            "total",
            "currency",
            "their value, in the scenario's currency unit",
        ),
        (
            "impact.double_spends_refused",
            "total",
            "transfers",
            "transfers the ledger refused as double spends",
        ),
        (
            "impact.compute_stolen_node_s",
            "total",
            "node-s",
            "compute taken by miners",
        ),
        (
            "impact.compute_available_min",
            "peak",
            "share",
            "lowest share of GPU/edge/cloud compute left to its owners (null without cryptojacking)",
        ),
        (
            "impact.service_down_s",
            "total",
            "node-s",
            "service node-seconds lost to encryption or DDoS",
        ),
        (
            "impact.accounts_taken_over",
            "total",
            "accounts",
            "distinct accounts taken over, each once however often retaken",
        ),
        (
            "impact.account_takeovers",
            "total",
            "events",
            "takeover events (an account retaken after a revocation counts again)",
        ),
        (
            "impact.twin_divergence_max",
            "peak",
            "units",
            "largest divergence of a digital twin from the real value (null without false data)",
        ),
        (
            "impact.twin_divergence_mean",
            "total",
            "units",
            "mean divergence",
        ),
        (
            "impact.wrong_decisions",
            "total",
            "decisions",
            "wrong decisions of digital twins",
        ),
        (
            "impact.detector_threshold_scale_max",
            "peak",
            "factor",
            "highest detection-threshold multiplier reached by poisoning (null without it)",
        ),
        (
            "impact.compromised_node_hours",
            "total",
            "node-h",
            "node-hours under an attacker's control",
        ),
        (
            "impact.goals_reached",
            "total",
            "campaigns",
            "campaign goals reached",
        ),
        (
            "impact.security_loss",
            "total",
            "loss units",
            "weighted loss: records x class weight + asset value + 10 per account + 10 per wrong twin decision + 1 per compromised node-hour",
        ),
        (
            "campaigns",
            "info",
            "",
            "each campaign's kill chain: steps with ATT&CK ids, when reached (s), its goal",
        ),
        (
            "strategy",
            "info",
            "",
            "the defense strategy's name, when a strategy file set it",
        ),
        ("defenses", "info", "", "the defenses in force"),
        (
            "cost.ops",
            "total",
            "ops units",
            "operations cost of the defenses",
        ),
        (
            "cost.friction",
            "total",
            "friction units",
            "user friction of the defenses",
        ),
        (
            "cost.false_quarantines",
            "total",
            "nodes",
            "clean nodes quarantined",
        ),
        (
            "cost.total",
            "total",
            "cost units",
            "ops + friction + 10 x false_quarantines",
        ),
        (
            "objectives.security_loss",
            "total",
            "loss units",
            "objective 1: impact.security_loss (lower is better)",
        ),
        (
            "objectives.availability",
            "total",
            "share",
            "objective 2: XR quality (1 without XR traffic) x the share of service node-time not lost to encryption or DDoS (higher is better)",
        ),
        (
            "objectives.cost",
            "total",
            "cost units",
            "objective 3: cost.total (lower is better)",
        ),
        (
            "events_logged",
            "total",
            "events",
            "events kept in events.jsonl",
        ),
        (
            "events_dropped",
            "total",
            "events",
            "events that did not fit in the bounded log (raise with --max-events)",
        ),
    ];
    FIELDS
        .iter()
        .map(|&(column, kind, unit, meaning)| Entry {
            file: "summary.json",
            dtype: "json",
            column: column.to_owned(),
            kind,
            unit,
            meaning: meaning.to_owned(),
        })
        .collect()
}

/// The entry of a summary field by its dotted path (`objectives.cost`), if documented; a
/// key inside a documented map (`impact.records_stolen.biometric`) gets its map's entry
/// under the full path.
pub fn summary_field(path: &str) -> Option<Entry> {
    let all = summary();
    if let Some(e) = all.iter().find(|e| e.column == path) {
        return Some(e.clone());
    }
    let (parent, key) = path.rsplit_once('.')?;
    let mut e = all.into_iter().find(|e| e.column == parent)?;
    e.column = path.to_owned();
    e.meaning = format!("{} ({key})", e.meaning);
    Some(e)
}
