//! The lab end to end in-process: resume, shards, gate.

use std::path::Path;

use crate::check::{self, Baseline};
use crate::runner::{self, RUNS_CSV, RUNS_JSONL, Shard};
use crate::{Experiment, stats};

const EXP: &str = r#"
[experiment]
name = "t"
scenario = "campaign-exfiltration"
replicas = 2
ticks = 60

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "5 min"]

[[vary]]
param = "zero_trust.threshold"
values = [0.4, 0.6]

[[axis]]
field = "campaign.0.start"
values = ["1 min", "3 min"]
"#;

fn experiment() -> Experiment {
    let strategy =
        "[strategy]\nname = \"zt\"\n[defense.zero_trust]\nreverify_interval = \"1 min\"\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("zt.toml"), strategy).unwrap();
    let text = EXP.replace("replicas = 2", "replicas = 2\nstrategy = \"zt.toml\"");
    Experiment::from_str(&text, "t.toml", Some(dir.path())).unwrap()
}

fn files(dir: &Path) -> (String, String) {
    (
        std::fs::read_to_string(dir.join(RUNS_CSV)).unwrap(),
        std::fs::read_to_string(dir.join(RUNS_JSONL)).unwrap(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn the_grid_is_the_product_of_the_lists_last_fastest() {
    let exp = experiment();
    assert_eq!(exp.points.len(), 8);
    assert_eq!(exp.runs(), 16);
    let p5 = &exp.points[5];
    assert_eq!(
        p5.settings,
        [
            (
                "zero_trust.reverify_interval".to_owned(),
                "5 min".to_owned()
            ),
            ("zero_trust.threshold".to_owned(), "0.4".to_owned()),
            ("campaign.0.start".to_owned(), "3 min".to_owned()),
        ]
    );
    let zt = p5.scenario.defense.zero_trust.as_ref().unwrap();
    assert_eq!(zt.interval_ticks, 30);
    assert_eq!(zt.threshold_ppm, 400_000);
    assert_eq!(p5.scenario.campaigns[0].start_tick, 19);
    assert_eq!(p5.scenario.ticks, 60);
}

#[test]
fn a_resumed_sweep_equals_an_uninterrupted_one() {
    let exp = experiment();
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    let out = runner::sweep(&exp, &whole, None, &|_, _| {}).unwrap();
    assert_eq!((out.resumed, out.ran), (0, 16));

    // Interrupted: the first 5 runs done, then a kill that tore the 6th line in half.
    let part = root.path().join("part");
    let (csv, jsonl) = files(&whole);
    let keep: Vec<&str> = jsonl.lines().take(5).collect();
    std::fs::create_dir_all(&part).unwrap();
    copy_dir(
        &whole.join(runner::SERIES_DIR),
        &part.join(runner::SERIES_DIR),
    );
    let torn = &jsonl.lines().nth(5).unwrap()[..40];
    std::fs::write(
        part.join(RUNS_JSONL),
        format!("{}\n{torn}", keep.join("\n")),
    )
    .unwrap();
    std::fs::write(
        part.join(RUNS_CSV),
        csv.lines().take(6).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let out = runner::sweep(&exp, &part, None, &|_, _| {}).unwrap();
    assert_eq!((out.resumed, out.ran), (5, 11));
    assert_eq!(
        files(&part),
        files(&whole),
        "resumed files equal the uninterrupted ones"
    );
    // Resuming a finished sweep runs nothing.
    let out = runner::sweep(&exp, &part, None, &|_, _| {}).unwrap();
    assert_eq!((out.resumed, out.ran), (16, 0));
}

#[test]
fn shards_merged_equal_one_run() {
    let exp = experiment();
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    runner::sweep(&exp, &whole, None, &|_, _| {}).unwrap();
    let shards: Vec<_> = (0..3)
        .map(|i| {
            let s = Shard { index: i, of: 3 };
            let d = runner::results_dir(root.path(), &exp, Some(s));
            let out = runner::sweep(&exp, &d, Some(s), &|_, _| {}).unwrap();
            assert!(out.runs.len() >= 5 && out.runs.len() <= 6);
            d
        })
        .collect();
    let merged = root.path().join("merged");
    let runs = runner::merge(&exp, &shards, &merged).unwrap().runs;
    assert_eq!(runs.len(), 16);
    assert_eq!(files(&merged), files(&whole));
    // Points, too.
    let a = crate::tables::points(
        &Default::default(),
        &stats::summarise(&runs, &exp.file.score),
    )
    .csv();
    let b = crate::tables::points(
        &Default::default(),
        &stats::summarise(&runner::read_runs(&whole).unwrap(), &exp.file.score),
    )
    .csv();
    assert_eq!(a, b);
}

#[test]
fn results_of_another_experiment_are_refused() {
    let exp = experiment();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("r");
    runner::sweep(&exp, &dir, None, &|_, _| {}).unwrap();
    let other = Experiment::from_str(&EXP.replace("0.4, 0.6", "0.4, 0.7"), "t.toml", None).unwrap();
    let err = runner::sweep(&other, &dir, None, &|_, _| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("another version of the experiment file"),
        "{err}"
    );
}

#[test]
fn the_gate_passes_on_its_baseline_and_fails_on_a_worse_one() {
    let exp = experiment();
    let root = tempfile::tempdir().unwrap();
    let out = runner::sweep(&exp, root.path(), None, &|_, _| {}).unwrap();
    let points = stats::summarise(&out.runs, &exp.file.score);
    let baseline = Baseline::of(&exp, &points);
    let cases = check::compare(&exp, &points, &baseline);
    assert!(cases.len() >= 8 * 3 - 8, "one case per point and metric");
    assert!(cases.iter().all(|c| c.passed));
    assert!(check::junit(&cases).contains("failures=\"0\""));
    // A baseline that claims a 20 % lower cost: the run now regresses against it.
    let mut worse = baseline.clone();
    for m in worse.points.values_mut() {
        if let Some(c) = m.get_mut("objectives.cost") {
            *c *= 0.8;
        }
    }
    let cases = check::compare(&exp, &points, &worse);
    let failed: Vec<_> = cases.iter().filter(|c| !c.passed).collect();
    assert!(!failed.is_empty() && failed.iter().all(|c| c.name.ends_with("objectives.cost")));
    let xml = check::junit(&cases);
    assert!(xml.contains("<failure message=\"mean "), "{xml}");
}

#[test]
fn bad_experiments_name_the_field() {
    let err = Experiment::from_str(
        &EXP.replace("zero_trust.threshold", "zero_trust.treshold"),
        "e.toml",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("e.toml:")
            && err.contains("vary[1].param")
            && err.contains("unknown defense parameter `zero_trust.treshold`"),
        "{err}"
    );
    let err = Experiment::from_str(&EXP.replace("[0.4, 0.6]", "[0.4, 1.6]"), "e.toml", None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("defense.zero_trust.threshold") && err.contains("found 1.6"),
        "{err}"
    );
    let err = Experiment::from_str(
        &EXP.replace("campaign.0.start", "campaign.7.start"),
        "e.toml",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("axis[0].values[0]") && err.contains("index 7"),
        "{err}"
    );
    let err = Experiment::from_str(
        &EXP.replace("replicas = 2", "replicas = 2\ncolour = 1"),
        "e.toml",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("colour"), "{err}");
    assert!("3/2".parse::<Shard>().is_err() && "1/2".parse::<Shard>().is_ok());
}

/// Score weights that would make scores NaN or infinite (and the decision unrankable)
/// are refused where they are written, each with its line and field.
#[test]
fn score_weights_are_finite_and_bounded() {
    let text = format!("{EXP}\n[score]\nsecurity_loss = nan\navailability = -inf\ncost = 2e12\n");
    let err = Experiment::from_str(&text, "e.toml", None)
        .unwrap_err()
        .to_string();
    for (line, field, found) in [
        (21, "score.security_loss", "found NaN"),
        (22, "score.availability", "found -inf"),
        (23, "score.cost", "found 2000000000000"),
    ] {
        assert!(
            err.contains(&format!("e.toml:{line}:")) && err.contains(field) && err.contains(found),
            "{field}: {err}"
        );
    }
    assert!(
        err.contains("expected a finite weight from -1e12 to 1e12"),
        "{err}"
    );
    let fine = format!("{EXP}\n[score]\nsecurity_loss = 1e12\navailability = -1e12\ncost = 0\n");
    Experiment::from_str(&fine, "e.toml", None).unwrap();
}

/// A value that is not a number (a metric nobody validated) does not bring the
/// statistics down: the estimate is made, the NaN shows in it.
#[test]
fn statistics_of_a_nan_do_not_panic() {
    let e = stats::Estimate::of(&[1.0, f64::NAN, 3.0]).unwrap();
    assert!(e.mean.is_nan());
    let e = stats::Estimate::of(&[1.0, f64::INFINITY, 3.0]).unwrap();
    assert_eq!(e.max, f64::INFINITY);
}

#[test]
fn the_slurm_script_runs_every_shard() {
    let s = runner::slurm_script(Path::new("experiments/x.toml"), "x", 4, "01:00:00", 8);
    assert!(s.starts_with("#!/bin/bash"));
    assert!(s.contains("#SBATCH --array=0-3"));
    assert!(s.contains("paraverse sweep experiments/x.toml --shard \"$SLURM_ARRAY_TASK_ID/4\""));
    assert!(s.contains("paraverse merge"));
}

#[test]
fn random_points_are_joint_samples_within_their_bounds() {
    let text = r#"
[experiment]
name = "r"
scenario = "campaign-exfiltration"
replicas = 1
ticks = 30

[random]
points = 5
seed = 4

[[random.param]]
name = "zero_trust.threshold"
min = 0.2
max = 0.4

[[random.param]]
name = "zero_trust.reverify_interval"
min = 30.0
max = 60.0

[[axis]]
field = "campaign.0.start"
values = ["1 min", "2 min"]
"#;
    let exp = Experiment::from_str(text, "r.toml", None).unwrap();
    assert_eq!(exp.points.len(), 10, "5 samples x 2 axis values");
    for p in &exp.points {
        let zt = p.scenario.defense.zero_trust.as_ref().unwrap();
        assert!(
            (200_000..=400_000).contains(&zt.threshold_ppm),
            "{}",
            zt.threshold_ppm
        );
        assert!((3..=6).contains(&zt.interval_ticks));
    }
    // Each sample is joint: both axis values share the sample's parameters.
    assert_eq!(exp.points[0].settings[..2], exp.points[1].settings[..2]);
    assert_ne!(exp.points[0].settings[..2], exp.points[2].settings[..2]);
    let again = Experiment::from_str(text, "r.toml", None).unwrap();
    let s = |e: &Experiment| {
        e.points
            .iter()
            .map(|p| p.settings.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(s(&again), s(&exp), "same seed, same samples");
    let err = Experiment::from_str(
        &text.replace(
            "[random]",
            "[[vary]]\nparam = \"zero_trust.threshold\"\nvalues = [0.5]\n\n[random]",
        ),
        "r.toml",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("either [random] or [[vary]]"), "{err}");
    let root = tempfile::tempdir().unwrap();
    let out = runner::sweep(&exp, root.path(), None, &|_, _| {}).unwrap();
    assert_eq!(out.runs.len(), 10);
}

/// Issue 14 items 9: `report` panicked on null metrics ("no entry found for key") and
/// looped forever on a metric of about 1e154.
#[test]
fn reports_survive_null_and_huge_metrics() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("r");
    std::fs::create_dir_all(dir.join(runner::SERIES_DIR)).unwrap();
    let series = "tick,compromised\n0,0\n1,3\n";
    let mut runs = Vec::new();
    for point in 0..3usize {
        for replica in 0..2u32 {
            let metrics = runner::METRICS
                .iter()
                .map(|m| {
                    let v = match (point, *m) {
                        (0, _) => None,
                        (1, "objectives.security_loss") => Some(1e200),
                        (1, "objectives.cost") => Some(f64::MAX),
                        _ => Some(point as f64 + f64::from(replica)),
                    };
                    ((*m).to_owned(), v)
                })
                .collect();
            std::fs::write(
                dir.join(runner::SERIES_DIR)
                    .join(format!("{point}-{replica}.csv")),
                series,
            )
            .unwrap();
            runs.push(runner::RunResult {
                point,
                replica,
                seed: u64::from(replica),
                settings: vec![("x".to_owned(), point.to_string())],
                scenario_hash: String::new(),
                metrics,
                experiment_hash: "0".repeat(16),
                series_hash: runner::hash_hex(series.as_bytes()),
            });
        }
    }
    let kinds = crate::tables::SettingKinds::from_rows(runs.iter().map(|r| r.settings.as_slice()));
    runner::write_runs(&dir, &kinds, &mut runs).unwrap();
    let files = crate::report::report(&dir).unwrap();
    let md = std::fs::read_to_string(files.markdown).unwrap();
    assert!(md.contains("| 0 | 0 | – | – | – |"), "{md}");
    assert!(md.contains("No experiment.json"), "{md}");
}

#[test]
fn base64_matches_rfc_4648_vectors() {
    use crate::report::base64 as b64;
    for (input, want) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(b64(input.as_bytes()), want, "{input}");
    }
}
