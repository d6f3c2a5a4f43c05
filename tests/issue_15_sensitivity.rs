//! Issue 15, "Sensitivity" and "Reports": Sobol indices from a Saltelli design, main
//! effects of a grid, the no-effect warning from both, and a report that ends in a
//! generated conclusion and a provenance block, through the real binary.

mod common;

use common::{paraverse, text};

const SALTELLI: &str = r#"
[experiment]
name = "sobol"
scenario = "campaign-exfiltration"
strategy = "zt.toml"
replicas = 1
ticks = 240

[random]
design = "saltelli"
points = 6
seed = 2

[[random.param]]
name = "zero_trust.reverify_interval"
min = 10.0
max = 1800.0

[[random.param]]
name = "zero_trust.threshold"
min = 0.1
max = 0.5

[[random.param]]
name = "quarantine.delay"
min = 10.0
max = 600.0
"#;

fn setup(dir: &std::path::Path, experiment: &str) {
    std::fs::write(
        dir.join("zt.toml"),
        "[strategy]\nname = \"zt\"\n[defense.zero_trust]\nreverify_interval = \"1 min\"\ndecay_per_hour = 0.3\n[defense.quarantine]\ndelay = \"30 s\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("e.toml"), experiment).unwrap();
}

fn json(path: std::path::PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A saltelli experiment runs N × (k + 2) settings rows and writes first-order and total
/// Sobol indices with bootstrap intervals; a parameter that cannot act (the threshold,
/// which trust decaying 0.3 an hour never reaches in 40 min) gets exactly 0 and a
/// warning; the others do not. The indices are recomputed here from runs.csv (the
/// oracle: the Jansen total-index formula applied by hand).
#[test]
fn a_saltelli_design_gives_sobol_indices_and_flags_a_parameter_without_effect() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), SALTELLI);
    let out = paraverse(&["sweep", "e.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`zero_trust.threshold` has no measurable effect"),
        "{stderr}"
    );
    assert!(!stderr.contains("`quarantine.delay` has no measurable effect"));
    let dir = tmp.path().join("results/sobol");
    let sobol = json(dir.join("sensitivity.json"));
    assert_eq!(sobol["base_samples"], 6);
    assert_eq!(sobol["rows"], 30, "6 × (3 + 2)");
    assert_eq!(
        sobol["no_effect"],
        serde_json::json!(["zero_trust.threshold"])
    );
    let cost = sobol["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["output"] == "objectives.cost")
        .unwrap();
    let idx = |name: &str| {
        cost["indices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["parameter"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(idx("zero_trust.threshold")["total"], 0.0);
    for name in ["zero_trust.reverify_interval", "quarantine.delay"] {
        let i = idx(name);
        let total = i["total"].as_f64().unwrap();
        assert!(total > 0.05, "{name}: {i}");
        let (lo, hi) = (
            i["total_ci"][0].as_f64().unwrap(),
            i["total_ci"][1].as_f64().unwrap(),
        );
        assert!(lo <= total && total <= hi, "{name}: {i}");
    }
    // Oracle: Jansen's total index of the cost for the first parameter, from runs.csv.
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let header: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let c = header.iter().position(|h| *h == "objectives.cost").unwrap();
    let f: Vec<f64> = runs
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(c).unwrap().parse().unwrap())
        .collect();
    assert_eq!(f.len(), 30);
    let ab: Vec<f64> = (0..6).flat_map(|j| [f[j * 5], f[j * 5 + 1]]).collect();
    let mean = ab.iter().sum::<f64>() / 12.0;
    let var = ab.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 12.0;
    let jansen = (0..6)
        .map(|j| (f[j * 5] - f[j * 5 + 2]) * (f[j * 5] - f[j * 5 + 2]))
        .sum::<f64>()
        / 6.0
        / (2.0 * var);
    let got = idx("zero_trust.reverify_interval")["total"]
        .as_f64()
        .unwrap();
    assert!((got - jansen).abs() < 1e-9, "{got} vs {jansen}");
    let csv = std::fs::read_to_string(dir.join("sensitivity.csv")).unwrap();
    assert!(csv.starts_with("output,parameter,first_order,first_order.ci_low,"));
    assert_eq!(csv.lines().count(), 1 + 4 * 3, "{csv}");

    let out = paraverse(&["report", "results/sobol"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("Sobol indices (Saltelli design: 6 base samples"),
        "{md}"
    );
    assert!(
        md.contains("| objectives.cost | quarantine.delay |"),
        "{md}"
    );
    assert!(
        md.contains("**Warning:** `zero_trust.threshold` has no measurable effect"),
        "{md}"
    );
    assert!(
        md.contains("**Conclusion.** Decide `zero_trust.reverify_interval = "),
        "{md}"
    );
}

const GRID: &str = r#"
[experiment]
name = "grid"
scenario = "campaign-exfiltration"
strategy = "zt.toml"
replicas = 2
ticks = 240

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "10 min"]

[[vary]]
param = "zero_trust.threshold"
values = [0.3, 0.6]

[[axis]]
field = "campaign.0.start"
values = ["5 min", "20 min"]
"#;

/// A grid's main effects: per setting and value, the mean over the points with that
/// value (checked against points.csv by hand), their spread in the report, and a
/// conclusion naming the setting that moves the score most and the one with no effect;
/// the report ends with where the results came from.
#[test]
fn a_grid_reports_main_effects_a_conclusion_and_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), GRID);
    let out = paraverse(&["sweep", "e.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("results/grid");
    assert!(
        !dir.join("sensitivity.json").exists(),
        "no Sobol without saltelli"
    );
    let effects = json(dir.join("effects.json"));
    let effects = effects.as_array().unwrap();
    assert_eq!(effects.len(), 3, "two decisions and the threat axis");
    // Oracle: the mean security loss of the points with reverify_interval = 10 min,
    // from points.csv.
    let points = std::fs::read_to_string(dir.join("points.csv")).unwrap();
    let header: Vec<&str> = points.lines().next().unwrap().split(',').collect();
    let loss = header
        .iter()
        .position(|h| *h == "objectives.security_loss.mean")
        .unwrap();
    let slow: Vec<f64> = points
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[1] == "600")
        .map(|f| f[loss].parse().unwrap())
        .collect();
    assert_eq!(slow.len(), 4);
    let want = slow.iter().sum::<f64>() / 4.0;
    let interval = &effects[0];
    assert_eq!(interval["setting"], "zero_trust.reverify_interval");
    assert_eq!(interval["decision"], true);
    let level = &interval["levels"][1];
    assert_eq!(level["value"], "10 min");
    assert_eq!(level["points"], 4);
    let got = level["means"]["objectives.security_loss"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{got} vs {want}"
    );
    assert_eq!(
        effects[1]["spread"]["score"], 0.0,
        "the threshold: no effect"
    );
    assert_eq!(
        effects[2]["decision"], false,
        "campaign.0.start is a threat"
    );
    let csv = std::fs::read_to_string(dir.join("effects.csv")).unwrap();
    assert!(csv.starts_with("setting,decision,value,points,output,mean\n"));
    assert_eq!(csv.lines().count(), 1 + 3 * 2 * 4);

    let out = paraverse(&["report", "results/grid"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| zero_trust.reverify_interval | defender | 2 |"),
        "{md}"
    );
    assert!(md.contains("| campaign.0.start | threat | 2 |"), "{md}");
    let conclusion = md
        .lines()
        .find(|l| l.starts_with("**Conclusion.**"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(conclusion.contains("moves the score most"), "{conclusion}");
    assert!(
        conclusion.contains("`zero_trust.threshold` had no effect on any objective"),
        "{conclusion}"
    );
    let manifest = json(dir.join("experiment.json"));
    let provenance = md
        .split("## Provenance")
        .nth(1)
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        provenance.contains(manifest["experiment_hash"].as_str().unwrap()),
        "{provenance}"
    );
    assert!(
        provenance.contains("| seeds (every point) | 1, 2 |"),
        "{provenance}"
    );
    assert!(provenance.contains("| scenario | `campaign-exfiltration` |"));
}

/// A saltelli design with one base sample, or with a decision axis, is refused at its
/// line before anything runs.
#[test]
fn a_saltelli_design_that_cannot_be_analysed_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path(), &SALTELLI.replace("points = 6", "points = 1"));
    let out = paraverse(&["sweep", "e.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("e.toml:11:10"), "{err}");
    assert!(err.contains("at least 2 base samples"), "{err}");
    setup(
        tmp.path(),
        &SALTELLI.replace("design = \"saltelli\"", "design = \"sobolish\""),
    );
    let out = paraverse(&["sweep", "e.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("sobolish"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("results").exists());
}
