//! The lab through the real binary: a sweep killed mid-way and resumed equals an
//! uninterrupted one; shards merged equal one sweep; the regression gate passes on its
//! baseline and fails (exit 1, JUnit failure) on a worsened one.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{bin, paraverse, text};

const EXPERIMENT: &str = r#"
[experiment]
name = "lab-e2e"
scenario = "campaign-exfiltration"
strategy = "zt.toml"
replicas = 2
ticks = 360

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "2 min", "10 min"]

[[axis]]
field = "campaign.0.start"
values = ["5 min", "20 min"]
"#;

fn setup(dir: &Path) {
    std::fs::write(dir.join("exp.toml"), EXPERIMENT).unwrap();
    std::fs::write(
        dir.join("zt.toml"),
        "[strategy]\nname = \"zt\"\n[defense.zero_trust]\nreverify_interval = \"1 min\"\n[defense.quarantine]\ndelay = \"30 s\"\n",
    )
    .unwrap();
}

fn outputs(dir: &Path) -> Vec<String> {
    [
        "runs.csv",
        "runs.jsonl",
        "points.csv",
        "points.json",
        "best.json",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
    .collect()
}

/// Runs `paraverse ARGS` in `dir`, kills it once `file` holds `lines` lines (a lab
/// journal appended as work finishes), and returns the lines it held then.
fn kill_after_lines(dir: &Path, args: &[&str], file: &str, lines: usize) -> usize {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let path = dir.join(file);
    let count = || std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
    let started = Instant::now();
    while count() < lines {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "nothing appeared in {file}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    count()
}

#[test]
fn a_killed_sweep_resumes_and_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let out = paraverse(
        &["sweep", "exp.toml", "--results", "whole", "--quiet"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Start, wait for a few runs to land, kill.
    let done = kill_after_lines(
        tmp.path(),
        &[
            "sweep",
            "exp.toml",
            "--results",
            "killed",
            "--threads",
            "1",
            "--quiet",
        ],
        "killed/lab-e2e/runs.jsonl",
        2,
    );
    assert!(done < 12, "killed mid-sweep ({done} of 12 done)");

    let out = paraverse(&["sweep", "exp.toml", "--results", "killed"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("resumed from an earlier sweep"), "{report}");
    assert_eq!(
        outputs(&tmp.path().join("killed/lab-e2e")),
        outputs(&tmp.path().join("whole/lab-e2e")),
        "the resumed sweep's files equal the uninterrupted sweep's"
    );
    let best: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("whole/lab-e2e/best.json")).unwrap(),
    )
    .unwrap();
    assert!(
        best["strategy"]
            .as_str()
            .unwrap()
            .contains("[defense.zero_trust]")
    );
    assert_eq!(best["provenance"]["seeds"], serde_json::json!([1, 2]));
    assert!(best["metrics"]["objectives.security_loss"]["ci_high"].is_number());
    // Issue 15: every interval stays within what was observed (bootstrap), so within the
    // metric's feasible range: losses non-negative, shares within [0, 1].
    let points: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("whole/lab-e2e/points.json")).unwrap(),
    )
    .unwrap();
    for p in points.as_array().unwrap() {
        for (name, e) in p["metrics"].as_object().unwrap() {
            let f = |k: &str| e[k].as_f64().unwrap();
            assert!(
                f("min") <= f("ci_low") && f("ci_low") <= f("mean"),
                "{name}: {e}"
            );
            assert!(
                f("mean") <= f("ci_high") && f("ci_high") <= f("max"),
                "{name}: {e}"
            );
            if name == "objectives.availability" {
                assert!((0.0..=1.0).contains(&f("ci_high")), "{e}");
            }
        }
    }
}

#[test]
fn shards_merged_by_the_binary_equal_one_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let out = paraverse(
        &["sweep", "exp.toml", "--results", "whole", "--quiet"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for i in 0..4 {
        let shard = format!("{i}/4");
        let out = paraverse(
            &[
                "sweep",
                "exp.toml",
                "--shard",
                &shard,
                "--results",
                "sharded",
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = paraverse(&["merge", "exp.toml", "--results", "sharded"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("merged 4 of 4 shards: 12 of 12 runs"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        outputs(&tmp.path().join("sharded/lab-e2e")),
        outputs(&tmp.path().join("whole/lab-e2e"))
    );
    let out = paraverse(&["slurm", "exp.toml", "--shards", "4"], tmp.path());
    let script = text(&out.stdout);
    assert!(
        script.contains("#SBATCH --array=0-3")
            && script.contains("--shard \"$SLURM_ARRAY_TASK_ID/4\""),
        "{script}"
    );
}

#[test]
fn the_gate_passes_on_its_baseline_and_fails_on_a_worse_one() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("ci")).unwrap();
    // Every *.toml in the gate's folder is an experiment; the strategy lives beside it.
    setup(tmp.path());
    std::fs::write(
        tmp.path().join("ci/exp.toml"),
        EXPERIMENT.replace("strategy = \"zt.toml\"", "strategy = \"../zt.toml\""),
    )
    .unwrap();
    let out = paraverse(&["check", "ci", "--update", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paraverse(&["check", "ci", "--quiet"], tmp.path());
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let junit = std::fs::read_to_string(tmp.path().join("results/check/junit.xml")).unwrap();
    assert!(
        junit.contains("failures=\"0\"") && junit.contains("<testcase"),
        "{junit}"
    );

    // Worsen the baseline's cost expectation: now the same results regress.
    let path = tmp.path().join("results/baselines/lab-e2e.json");
    let mut b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for point in b["points"].as_object_mut().unwrap().values_mut() {
        let c = point["objectives.cost"].as_f64().unwrap();
        point["objectives.cost"] = serde_json::json!(c * 0.5);
    }
    std::fs::write(&path, b.to_string()).unwrap();
    let out = paraverse(&["check", "ci", "--quiet"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("REGRESSION lab-e2e point 0 objectives.cost"),
        "{}",
        text(&out.stderr)
    );
    let junit = std::fs::read_to_string(tmp.path().join("results/check/junit.xml")).unwrap();
    assert!(junit.contains("<failure message="), "{junit}");
}

#[test]
fn a_bad_experiment_gets_file_line_field_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let bad = EXPERIMENT.replace("zero_trust.reverify_interval", "zero_trust.reverify");
    std::fs::write(tmp.path().join("bad.toml"), &bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.contains("zero_trust.reverify\""))
        .unwrap()
        + 1;
    let out = paraverse(&["sweep", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "bad.toml:{line}:9: field `vary[0].param`: unknown defense parameter"
        )),
        "{err}"
    );
}

#[test]
fn optimise_writes_a_pareto_front_and_an_exportable_best_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let exp = EXPERIMENT.replace("ticks = 360", "ticks = 90")
        + "\n[optimise]\nbudget = 8\npopulation = 4\n\n[[optimise.param]]\nname = \"zero_trust.reverify_interval\"\nmin = 10.0\nmax = 600.0\n";
    std::fs::write(tmp.path().join("opt.toml"), exp).unwrap();
    let out = paraverse(&["optimise", "opt.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("results/lab-e2e/optimise");
    let pareto = std::fs::read_to_string(dir.join("pareto.csv")).unwrap();
    assert!(
        pareto
            .starts_with("zero_trust.reverify_interval [s],security_loss,availability,cost,score")
    );
    // Values are numbers in the header's unit, on the declared 60 s grid from the bound.
    for line in pareto.lines().skip(1) {
        let v: f64 = line.split(',').next().unwrap().parse().unwrap();
        assert_eq!((v - 10.0) % 60.0, 0.0, "{line}");
    }
    assert!(pareto.lines().count() >= 2, "{pareto}");
    assert_eq!(
        std::fs::read_to_string(dir.join("evaluations.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 8
    );
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("best.json")).unwrap()).unwrap();
    assert_eq!(best["method"], "NSGA-II");
    assert!(
        best["strategy"]
            .as_str()
            .unwrap()
            .contains("reverify_interval")
    );
    assert_eq!(best["provenance"]["evaluations"], 8);
    // Same experiment, same front.
    let again = paraverse(
        &["optimise", "opt.toml", "--quiet", "--results", "again"],
        tmp.path(),
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("again/lab-e2e/optimise/pareto.csv")).unwrap(),
        pareto
    );
}

#[test]
fn report_writes_markdown_html_and_charts_from_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let exp = EXPERIMENT.replace("ticks = 360", "ticks = 90");
    std::fs::write(tmp.path().join("exp.toml"), exp).unwrap();
    let out = paraverse(&["sweep", "exp.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("results/lab-e2e");
    assert_eq!(
        std::fs::read_dir(dir.join("series")).unwrap().count(),
        12,
        "a series per run"
    );
    // A network picture from the GPU viewer (software Vulkan here) goes into pictures/;
    // a file whose name could break the HTML is left out.
    std::fs::create_dir_all(dir.join("pictures")).unwrap();
    let view = paraverse(
        &[
            "view",
            "campaign-exfiltration",
            "--png",
            "results/lab-e2e/pictures/network-at-60.png",
            "--at",
            "60",
            "--size",
            "320x240",
        ],
        tmp.path(),
    );
    if !view.status.success() {
        common::skip_unless_required("PARAVERSE_REQUIRE_GPU", &text(&view.stderr));
        std::fs::write(dir.join("pictures/network-at-60.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    }
    std::fs::write(dir.join("pictures/x\"onerror=alert(1).png"), b"").unwrap();
    let out = paraverse(&["report", "results/lab-e2e"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Network pictures")
            && md.contains("![network-at-60.png](pictures/network-at-60.png)"),
        "{md}"
    );
    assert!(!md.contains("onerror"));
    assert!(
        md.contains("| point | zero_trust.reverify_interval | campaign.0.start |"),
        "{md}"
    );
    assert!(md.contains("![pareto](charts/pareto.svg)") && md.contains("charts/timeseries.svg"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // One self-contained page: charts inline, pictures as data URIs (issue 15).
    assert!(html.contains("<table>") && html.contains("aria-label=\"cost\""));
    assert!(
        html.contains("data:image/png;base64,iVBORw0KGgo"),
        "the picture inline"
    );
    assert!(!html.contains("src=\"charts/") && !html.contains("src=\"pictures/"));
    for chart in [
        "security_loss",
        "availability",
        "cost",
        "effect-0",
        "effect-1",
        "timeseries",
        "pareto",
    ] {
        let svg = std::fs::read_to_string(dir.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<text"),
            "{chart}.svg"
        );
        let png = std::fs::read(dir.join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{chart}.png is a PNG");
    }
    // A folder without runs is a clear error.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = paraverse(&["report", "empty"], tmp.path());
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("run `paraverse sweep` first"),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 15: an interrupted `paraverse optimise` resumes from its journal and ends with
/// the same front, evaluations and best point as an uninterrupted one.
#[test]
fn a_killed_optimisation_resumes_and_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let exp = EXPERIMENT.replace("ticks = 360", "ticks = 120")
        + "\n[optimise]\nbudget = 12\npopulation = 4\n\n[[optimise.param]]\nname = \"zero_trust.reverify_interval\"\nmin = 10.0\nmax = 600.0\n";
    std::fs::write(tmp.path().join("opt.toml"), exp).unwrap();
    let out = paraverse(
        &["optimise", "opt.toml", "--quiet", "--results", "whole"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let done = kill_after_lines(
        tmp.path(),
        &[
            "optimise",
            "opt.toml",
            "--quiet",
            "--results",
            "killed",
            "--threads",
            "1",
        ],
        "killed/lab-e2e/optimise/evaluations.jsonl",
        3,
    );
    assert!(done < 12, "killed mid-way ({done} of 12 evaluated)");
    let out = paraverse(&["optimise", "opt.toml", "--results", "killed"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resumed: ") && text(&out.stderr).contains("of 12 evaluations"),
        "{}",
        text(&out.stderr)
    );
    for f in ["pareto.csv", "evaluations.csv", "best.json"] {
        let read = |root: &str| {
            std::fs::read_to_string(tmp.path().join(root).join("lab-e2e/optimise").join(f)).unwrap()
        };
        assert_eq!(read("killed"), read("whole"), "{f}");
    }
}
