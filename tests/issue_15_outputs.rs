//! Issue 15, "Outputs a data scientist can load": Parquet twins of every table (read back
//! with pyarrow, as a user would), typed settings columns, meaningful tick-0 gauges, no
//! float noise, and a tidy per-zone table.

mod common;

use std::path::Path;
use std::process::Command;

use common::{paraverse, repo, skip_unless_required, text};

/// Runs a Python script with pyarrow; `None` (skipped) where pyarrow is missing unless
/// `PARAVERSE_REQUIRE_PYARROW=1` (CI installs it).
fn pyarrow(script: &str, dir: &Path) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip_unless_required("PARAVERSE_REQUIRE_PYARROW", "python3 cannot import pyarrow");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pyarrow check failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    Some(text(&out.stdout))
}

/// Runs the siege under the full defense stack into `dir/r` with extra arguments.
fn siege(dir: &Path, extra: &[&str]) {
    let strategy = repo().join("strategies/full-stack.toml");
    let args = [
        "run",
        "metaverse-under-siege",
        "--strategy",
        strategy.to_str().unwrap(),
        "--quiet",
        "--out",
        "r",
    ];
    let out = paraverse(&[&args[..], extra].concat(), dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A run with `--format csv,parquet` writes the time series, the per-zone table and the
/// events as Parquet with documented types; pyarrow loads them and they hold what the CSV
/// and JSON Lines hold. Gauges are null at tick 0 (nothing measured yet), consistent with
/// the summary's minimum.
#[test]
fn a_run_writes_parquet_that_pyarrow_loads_with_the_documented_types() {
    let tmp = tempfile::tempdir().unwrap();
    let strategy = repo().join("strategies/full-stack.toml");
    siege(tmp.path(), &["--ticks", "90", "--format", "csv,parquet"]);
    let dir = tmp.path().join("r");
    let summary = json(&dir.join("summary.json"));

    // The CSV: gauges empty at tick 0, their minimum over the simulated ticks is the
    // summary's.
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 91);
    let gauges = summary["gauges"].as_object().unwrap();
    assert!(gauges.contains_key("xr_quality_ppm"), "{gauges:?}");
    for (name, stats) in gauges {
        let c = header.iter().position(|h| h == name).unwrap();
        assert_eq!(rows[0][c], "", "gauge {name} at tick 0 is not measured");
        let min = rows[1..]
            .iter()
            .map(|r| r[c].parse::<u64>().unwrap())
            .min()
            .unwrap();
        assert_eq!(stats["min"], min, "{name}");
    }
    let counters = summary["counters"].as_object().unwrap();
    let c = header.iter().position(|h| *h == "detections").unwrap();
    assert!(counters.contains_key("detections"));
    assert_eq!(
        rows[0][c], "0",
        "counters are 0 at tick 0: nothing happened yet"
    );

    // The tidy zone table: a row per tick and zone.
    let zones = std::fs::read_to_string(dir.join("zones.csv")).unwrap();
    let zone_names = summary["xr_quality_by_zone"].as_object().unwrap().len();
    assert!(zones.starts_with("tick,time_s,zone,compromised,quarantined,alerted,"));
    let n_zones = 7;
    assert!(zone_names >= 1);
    assert_eq!(zones.lines().count(), 1 + 91 * n_zones, "{}", &zones[..300]);

    let events = std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .count();
    // The data dictionary, whose types the Parquet files must have.
    let dictionary = paraverse(
        &[
            "metrics",
            "metaverse-under-siege",
            "--strategy",
            strategy.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    );
    assert!(dictionary.status.success());
    std::fs::write(tmp.path().join("dictionary.json"), &dictionary.stdout).unwrap();
    let script = format!(
        r#"
import pyarrow.parquet as pq, csv
ts = pq.read_table("r/timeseries.parquet")
assert ts.num_rows == 91, ts.num_rows
assert str(ts.schema.field("tick").type) == "int64"
assert str(ts.schema.field("time_s").type) == "double"
assert str(ts.schema.field("xr_quality_ppm").type) == "int64"
q = ts.column("xr_quality_ppm").to_pylist()
assert q[0] is None and all(v is not None for v in q[1:]), q[:3]
assert ts.column("detections").to_pylist()[0] == 0
# The same numbers as the CSV, column by column.
rows = list(csv.reader(open("r/timeseries.csv")))
for name in ts.column_names:
    col = rows[0].index(name)
    want = [r[col] for r in rows[1:]]
    got = ["" if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in ts.column(name).to_pylist()]
    got = [g[:-2] if g.endswith(".0") else g for g in got]
    assert got == want, (name, got[:3], want[:3])
z = pq.read_table("r/zones.parquet")
assert z.num_rows == 91 * {n_zones}, z.num_rows
assert str(z.schema.field("zone").type) == "string"
assert str(z.schema.field("compromised").type) == "int64"
ev = pq.read_table("r/events.parquet")
assert ev.num_rows == {events}, ev.num_rows
assert str(ev.schema.field("true_positive").type) == "bool"
assert str(ev.schema.field("event").type) == "string"
assert ev.column("event").null_count == 0
meta = pq.read_schema("r/timeseries.parquet").metadata
assert meta[b"paraverse:scenario"] == b"metaverse-under-siege", meta
# Every column has the type the data dictionary documents.
import json
documented = {{(e["file"], e["column"]): e["dtype"] for e in json.load(open("dictionary.json"))}}
for table, file in [(ts, "timeseries.csv"), (z, "zones.csv"), (ev, "events.jsonl")]:
    for field in table.schema:
        want = documented[(file, field.name)]
        assert str(field.type) == want, (file, field.name, str(field.type), want)
print("ok", ts.num_columns)
"#
    );
    if let Some(said) = pyarrow(&script, tmp.path()) {
        assert!(said.starts_with("ok "), "{said}");
    }
}

const EXPERIMENT: &str = r#"
[experiment]
name = "typed"
scenario = "campaign-exfiltration"
replicas = 2
ticks = 120

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "10 min"]

[[axis]]
field = "campaign.0.start"
values = ["5 min", "30 min"]
"#;

/// A sweep with `--format parquet` writes runs, points and decisions as Parquet; settings
/// with units are numbers in seconds with the unit in the column name, in the CSV too.
#[test]
fn a_sweep_writes_typed_runs_points_and_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("typed.toml"), EXPERIMENT).unwrap();
    let out = paraverse(
        &["sweep", "typed.toml", "--quiet", "--format", "parquet"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("results/typed");
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert!(
        runs.starts_with(
            "point,replica,seed,zero_trust.reverify_interval [s],campaign.0.start [s],"
        ),
        "{runs}"
    );
    let second = runs.lines().nth(1).unwrap();
    assert!(second.starts_with("0,0,1,30,300,"), "{second}");
    let points = std::fs::read_to_string(dir.join("points.csv")).unwrap();
    assert!(
        points.lines().nth(4).unwrap().starts_with("3,600,1800,"),
        "{points}"
    );
    let decisions = std::fs::read_to_string(dir.join("decisions.csv")).unwrap();
    assert!(
        decisions.starts_with("decision,zero_trust.reverify_interval [s],score (mean),"),
        "{decisions}"
    );
    let script = r#"
import pyarrow.parquet as pq
r = pq.read_table("results/typed/runs.parquet")
assert r.num_rows == 8, r.num_rows
f = r.schema.field("zero_trust.reverify_interval [s]")
assert str(f.type) == "double", f
assert sorted(set(r.column("zero_trust.reverify_interval [s]").to_pylist())) == [30.0, 600.0]
assert sorted(set(r.column("campaign.0.start [s]").to_pylist())) == [300.0, 1800.0]
assert str(r.schema.field("seed").type) == "int64"
assert str(r.schema.field("objectives.security_loss").type) == "double"
p = pq.read_table("results/typed/points.parquet")
assert p.num_rows == 4 and p.column("replicas").to_pylist() == [2, 2, 2, 2]
d = pq.read_table("results/typed/decisions.parquet")
assert d.num_rows == 2 and d.column("threats").to_pylist() == [2, 2]
meta = pq.read_schema("results/typed/runs.parquet").metadata
assert meta[b"paraverse:experiment"] == b"typed"
print("ok")
"#;
    if let Some(said) = pyarrow(script, tmp.path()) {
        assert_eq!(said.trim(), "ok");
    }
    let bad = paraverse(&["sweep", "typed.toml", "--format", "xlsx"], tmp.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown output format `xlsx`"));
}

/// Costs print as the decimals they are: decoys at p = 0.2 used to cost
/// `272.51999994039534` (the probability read back from its 32-bit threshold) and sums
/// of decimal weights `1829.4099999999999`.
#[test]
fn costs_carry_no_float_noise() {
    let tmp = tempfile::tempdir().unwrap();
    siege(tmp.path(), &[]);
    let summary = json(&tmp.path().join("r/summary.json"));
    for key in ["ops", "friction", "total"] {
        let v = summary["cost"][key].as_f64().unwrap();
        let written = summary["cost"][key].to_string();
        let decimals = written.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 6, "cost.{key} = {written}");
        assert!(v > 0.0);
    }
    assert_eq!(summary["cost"]["ops"].to_string(), "272.47");
}
