//! The lab's result tables, typed: `runs`, `points` and `decisions` as CSV and Parquet.
//!
//! Settings are written in the experiment file as TOML values, often with units
//! (`"30 s"`, `"100 Mbit/s"`). A data scientist needs numbers: a setting whose values are
//! all durations becomes a column of seconds named `NAME [s]`, all rates `NAME [bit/s]`,
//! all numbers a number column; anything else (strategy names, kinds) stays text. The
//! kind of each column is decided once from every point of the experiment, so the lines
//! a sweep appends while it runs and the files it rewrites at the end agree.

use std::str::FromStr;

use paraverse_sim::units::{Bandwidth, SimDuration};
use paraverse_table::{Table, Values};

use crate::Experiment;
use crate::decision::Decisions;
use crate::runner::{METRICS, RunResult};
use crate::stats::PointSummary;

/// What a setting's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain numbers.
    Number,
    /// Durations, written as seconds.
    Seconds,
    /// Data rates, written as bits per second.
    BitsPerSecond,
    /// Anything else, written as given.
    Text,
}

impl Kind {
    fn of<'a>(mut values: impl Iterator<Item = &'a str> + Clone) -> Kind {
        if values.clone().all(|v| v.trim().parse::<f64>().is_ok()) {
            Kind::Number
        } else if values.clone().all(|v| SimDuration::from_str(v).is_ok()) {
            Kind::Seconds
        } else if values.all(|v| Bandwidth::from_str(v).is_ok()) {
            Kind::BitsPerSecond
        } else {
            Kind::Text
        }
    }

    /// The value as a number of this kind's unit (`None` for text or a value that does
    /// not parse).
    pub fn number(self, value: &str) -> Option<f64> {
        match self {
            Kind::Number => value.trim().parse().ok(),
            Kind::Seconds => SimDuration::from_str(value).ok().map(|d| d.as_secs_f64()),
            Kind::BitsPerSecond => Bandwidth::from_str(value)
                .ok()
                .map(|b| b.bits_per_second() as f64),
            Kind::Text => None,
        }
    }

    /// The unit written in the column's name.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            Kind::Seconds => Some("s"),
            Kind::BitsPerSecond => Some("bit/s"),
            Kind::Number | Kind::Text => None,
        }
    }
}

/// The kind of every setting of an experiment, by name.
#[derive(Debug, Clone, Default)]
pub struct SettingKinds(Vec<(String, Kind)>);

impl SettingKinds {
    /// From every point of the experiment.
    pub fn of(exp: &Experiment) -> Self {
        Self::from_rows(exp.points.iter().map(|p| p.settings.as_slice()))
    }

    /// From rows of settings (name, value), every row naming the same settings.
    pub fn from_rows<'a>(rows: impl Iterator<Item = &'a [(String, String)]> + Clone) -> Self {
        let Some(first) = rows.clone().next() else {
            return Self::default();
        };
        Self(
            first
                .iter()
                .enumerate()
                .map(|(k, (name, _))| {
                    let values = rows
                        .clone()
                        .filter_map(move |r| r.get(k).map(|(_, v)| v.as_str()));
                    (name.clone(), Kind::of(values))
                })
                .collect(),
        )
    }

    fn kind(&self, name: &str) -> Kind {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Kind::Text, |(_, k)| *k)
    }

    /// The column name of a setting: `NAME [UNIT]` where it has a unit.
    pub fn column(&self, name: &str) -> String {
        match self.kind(name).unit() {
            Some(u) => format!("{name} [{u}]"),
            None => name.to_owned(),
        }
    }

    /// Adds a column per setting (in the order of the first row) to `table`.
    fn push(&self, table: &mut Table, rows: &[&[(String, String)]]) {
        let Some(first) = rows.first() else {
            return;
        };
        for (k, (name, _)) in first.iter().enumerate() {
            let kind = self.kind(name);
            let cells = rows.iter().map(|r| r.get(k).map(|(_, v)| v.as_str()));
            let values = match kind {
                Kind::Text => Values::Text(cells.map(|v| v.map(str::to_owned)).collect()),
                _ => Values::Float(cells.map(|v| v.and_then(|v| kind.number(v))).collect()),
            };
            table.push(self.column(name), values);
        }
    }
}

fn ints(values: impl Iterator<Item = u64>) -> Values {
    paraverse_table::ints(values)
}

/// `runs.csv`: a row per run, its settings typed and every metric of [`METRICS`].
pub fn runs(kinds: &SettingKinds, runs: &[RunResult]) -> Table {
    let mut t = Table::new();
    t.push("point", ints(runs.iter().map(|r| r.point as u64)));
    t.push("replica", ints(runs.iter().map(|r| u64::from(r.replica))));
    t.push("seed", ints(runs.iter().map(|r| r.seed)));
    let rows: Vec<&[(String, String)]> = runs.iter().map(|r| r.settings.as_slice()).collect();
    if rows.is_empty() {
        // Still name the columns: an empty table with the right header.
        for (name, _) in &kinds.0 {
            t.push(kinds.column(name), Values::Text(Vec::new()));
        }
    }
    kinds.push(&mut t, &rows);
    for m in METRICS {
        t.push(
            *m,
            Values::Float(
                runs.iter()
                    .map(|r| r.metrics.get(*m).copied().flatten())
                    .collect(),
            ),
        );
    }
    t
}

/// One run as a line of `runs.csv` (without its line break).
pub fn run_line(kinds: &SettingKinds, run: &RunResult) -> String {
    let csv = runs(kinds, std::slice::from_ref(run)).csv();
    csv.lines().nth(1).unwrap_or_default().to_owned()
}

/// `points.csv`: a row per point, its settings typed, the replicas, the score, and the
/// mean, bootstrap interval and median of every metric.
pub fn points(kinds: &SettingKinds, points: &[PointSummary]) -> Table {
    let mut t = Table::new();
    t.push("point", ints(points.iter().map(|p| p.point as u64)));
    let rows: Vec<&[(String, String)]> = points.iter().map(|p| p.settings.as_slice()).collect();
    kinds.push(&mut t, &rows);
    t.push(
        "replicas",
        ints(points.iter().map(|p| p.seeds.len() as u64)),
    );
    t.push(
        "score",
        Values::Float(points.iter().map(|p| Some(p.score)).collect()),
    );
    for m in METRICS {
        type Part = fn(&crate::stats::Estimate) -> f64;
        let parts: [(&str, Part); 4] = [
            ("mean", |e| e.mean),
            ("ci_low", |e| e.ci_low),
            ("ci_high", |e| e.ci_high),
            ("median", |e| e.median),
        ];
        for (suffix, part) in parts {
            t.push(
                format!("{m}.{suffix}"),
                Values::Float(points.iter().map(|p| p.metrics.get(*m).map(part)).collect()),
            );
        }
    }
    t
}

/// `decisions.csv`: a row per decision, its settings typed, its risk score, and each
/// threat's score.
pub fn decisions(kinds: &SettingKinds, d: &Decisions) -> Table {
    let mut t = Table::new();
    let list = &d.decisions;
    t.push("decision", ints(list.iter().map(|d| d.decision as u64)));
    let rows: Vec<&[(String, String)]> = list.iter().map(|d| d.settings.as_slice()).collect();
    kinds.push(&mut t, &rows);
    t.push(
        format!("score ({})", d.risk),
        Values::Float(list.iter().map(|d| Some(d.score)).collect()),
    );
    t.push("threats", ints(list.iter().map(|d| d.threats.len() as u64)));
    let threats = list.iter().map(|d| d.threats.len()).max().unwrap_or(0);
    for k in 0..threats {
        t.push(
            format!("threat {k} score"),
            Values::Float(
                list.iter()
                    .map(|d| d.threats.get(k).map(|t| t.score))
                    .collect(),
            ),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn an_empty_runs_table_still_names_every_column() {
        // A sweep writes runs.csv's header before its first run, then appends lines:
        // the header must already have the settings columns.
        let rows = [row(&[("i", "30 s"), ("t", "0.5")])];
        let kinds = SettingKinds::from_rows(rows.iter().map(Vec::as_slice));
        let csv = runs(&kinds, &[]).csv();
        assert!(
            csv.starts_with("point,replica,seed,i [s],t,objectives."),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 1);
    }

    #[test]
    fn settings_are_typed_with_units_in_the_header() {
        let rows = [
            row(&[
                ("i", "30 s"),
                ("t", "0.5"),
                ("s", "a,b"),
                ("b", "100 Mbit/s"),
                ("m", "30 s"),
            ]),
            row(&[
                ("i", "10 min"),
                ("t", "1"),
                ("s", "x"),
                ("b", "1 Gbit/s"),
                ("m", "fast"),
            ]),
        ];
        let kinds = SettingKinds::from_rows(rows.iter().map(Vec::as_slice));
        let mut t = Table::new();
        let refs: Vec<&[(String, String)]> = rows.iter().map(Vec::as_slice).collect();
        kinds.push(&mut t, &refs);
        assert_eq!(
            t.csv(),
            "i [s],t,s,b [bit/s],m\n30,0.5,\"a,b\",100000000,30 s\n600,1,x,1000000000,fast\n"
        );
    }
}
