//! Issue 14, "Nothing lost, nothing trusted blindly": each reproducer of the
//! hostile-and-careless-user campaign, through the real binary. Concurrent sweeps, stale
//! shards, damaged results, partial reports, vacuous gates, hostile Slurm arguments,
//! panics on input and write errors, unbounded experiments and reads, misleading error
//! locations, and one exit-code contract for every subcommand.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};

use common::{bin, paraverse, text};

/// A small experiment: 2 points × 2 replicas of 30 ticks.
const EXPERIMENT: &str = r#"
[experiment]
name = "nl"
scenario = "campaign-exfiltration"
replicas = 2
ticks = 30

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "5 min"]
"#;

fn setup(dir: &Path) {
    std::fs::write(dir.join("exp.toml"), EXPERIMENT).unwrap();
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sweep(dir: &Path, results: &str) -> std::process::Output {
    paraverse(&["sweep", "exp.toml", "--results", results, "--quiet"], dir)
}

fn spawn_sweep(dir: &Path, results: &str) -> Child {
    bin()
        .args(["sweep", "exp.toml", "--results", results, "--quiet"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_sweeps_of_one_experiment_give_a_correct_result_or_a_clear_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    // Runs long enough (about a second a sweep) that the two of a pair overlap.
    std::fs::write(
        tmp.path().join("exp.toml"),
        EXPERIMENT.replace("ticks = 30", "ticks = 240"),
    )
    .unwrap();
    let reference = sweep(tmp.path(), "reference");
    assert!(reference.status.success(), "{}", text(&reference.stderr));
    let want = read(tmp.path().join("reference/nl/runs.jsonl"));
    let mut refused = 0;
    for pair in 0..4 {
        let results = format!("pair-{pair}");
        let (a, b) = (
            spawn_sweep(tmp.path(), &results),
            spawn_sweep(tmp.path(), &results),
        );
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let mut succeeded = 0;
        for out in [&a, &b] {
            refused += usize::from(!out.status.success());
            let err = text(&out.stderr);
            assert!(!err.contains("panicked"), "{err}");
            if out.status.success() {
                succeeded += 1;
            } else {
                assert_eq!(out.status.code(), Some(1), "{err}");
                assert!(
                    err.contains("is in use by process") && err.contains("sweep of exp.toml"),
                    "a refusal names the holder: {err}"
                );
            }
        }
        assert!(succeeded >= 1, "pair {pair}: one of the two finishes");
        let dir = tmp.path().join(&results).join("nl");
        assert_eq!(
            read(dir.join("runs.jsonl")),
            want,
            "pair {pair}: the result equals a lone sweep's"
        );
        assert!(read(dir.join("runs.csv")).starts_with("point,replica,seed,"));
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    eprintln!("4 pairs of concurrent sweeps: {refused} refused, the others resumed or ran");
}

#[test]
fn a_sweep_holding_the_folder_makes_merge_and_a_second_sweep_fail_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    // Hold the lock the way a running sweep does: the same flock on the same file.
    let dir = tmp.path().join("results/nl");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(".paraverse.lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(
        dir.join(".paraverse.lock"),
        "process 4242 (sweep of elsewhere.toml), since 0 s after the Unix epoch\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = paraverse(&["sweep", "exp.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("is in use by process 4242 (sweep of elsewhere.toml)"),
        "{err}"
    );
    std::fs::create_dir_all(dir.join("shard-0-of-1")).unwrap();
    let out = paraverse(&["merge", "exp.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is in use by process 4242"));
    assert!(started.elapsed().as_secs() < 60, "refusals come at once");
    drop(lock);
}

/// Sweeps shard `i` of `n` of `old.toml` (another version of the experiment) and leaves
/// its folder among the current experiment's shard folders, as a stale one would be.
fn plant_old_shard(dir: &Path, i: u32, n: u32) {
    let shard = format!("{i}/{n}");
    let args = [
        "sweep",
        "old.toml",
        "--shard",
        &shard,
        "--results",
        "old",
        "--quiet",
    ];
    let out = paraverse(&args, dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let folder = format!("shard-{i}-of-{n}");
    std::fs::rename(
        dir.join("old/nl").join(&folder),
        dir.join("results/nl").join(&folder),
    )
    .unwrap();
}

#[test]
fn merge_refuses_stale_shards_and_counts_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    for i in 0..2 {
        let out = paraverse(
            &["sweep", "exp.toml", "--shard", &format!("{i}/2"), "--quiet"],
            tmp.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // A shard folder left from a sweep of 4 shards of an older version of the file.
    std::fs::write(
        tmp.path().join("old.toml"),
        EXPERIMENT.replace("\"5 min\"", "\"5 min\", \"10 min\""),
    )
    .unwrap();
    plant_old_shard(tmp.path(), 3, 4);
    let out = paraverse(&["merge", "exp.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("sweeps of 2 and 4 shards"), "{err}");
    assert!(!tmp.path().join("results/nl/points.csv").exists());

    // Same shard count, other experiment version: refused, naming the folder and why.
    std::fs::remove_dir_all(tmp.path().join("results/nl/shard-3-of-4")).unwrap();
    std::fs::remove_dir_all(tmp.path().join("results/nl/shard-1-of-2")).unwrap();
    plant_old_shard(tmp.path(), 1, 2);
    let out = paraverse(&["merge", "exp.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("shard-1-of-2") && err.contains("another version of the experiment file"),
        "{err}"
    );

    // Only shard 0 of 2: merged, with the missing runs and shard said.
    std::fs::remove_dir_all(tmp.path().join("results/nl/shard-1-of-2")).unwrap();
    let out = paraverse(&["merge", "exp.toml"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("merged 1 of 2 shards: 2 of 4 runs")
            && said.contains("2 runs missing; no folder for shard 1"),
        "{said}"
    );
}

#[test]
fn resume_drops_damaged_lines_and_series_and_makes_those_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    assert!(sweep(tmp.path(), "whole").status.success());
    let whole = tmp.path().join("whole/nl");
    let want = read(whole.join("runs.jsonl"));

    // One digit of one metric changed; a series file deleted; an altered duplicate.
    let dir = tmp.path().join("damaged/nl");
    std::fs::create_dir_all(dir.join("series")).unwrap();
    for e in std::fs::read_dir(whole.join("series")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join("series").join(e.file_name())).unwrap();
    }
    let lines: Vec<&str> = want.lines().collect();
    let changed = lines[1].replacen("\"objectives.cost\":", "\"objectives.cost\":1", 1);
    assert_ne!(changed, lines[1]);
    let altered_dup = lines[0].replacen(
        "\"objectives.availability\":",
        "\"objectives.availability\":0",
        1,
    );
    std::fs::write(
        dir.join("runs.jsonl"),
        format!(
            "{}\n{changed}\n{}\n{}\n{altered_dup}\n",
            lines[0], lines[2], lines[3]
        ),
    )
    .unwrap();
    std::fs::remove_file(dir.join("series/1-1.csv")).unwrap();

    let out = sweep(tmp.path(), "damaged");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("3 damaged run lines dropped")
            && err.contains("line 2: checksum does not match")
            && err.contains("line 4: its series file is missing")
            && err.contains("line 5: "),
        "{err}"
    );
    assert_eq!(
        read(dir.join("runs.jsonl")),
        want,
        "the runs were made again"
    );
    assert_eq!(read(dir.join("points.csv")), read(whole.join("points.csv")));

    // Lines of another experiment are refused, not mixed in.
    std::fs::write(
        tmp.path().join("exp.toml"),
        EXPERIMENT.replace("replicas = 2", "replicas = 3"),
    )
    .unwrap();
    let out = sweep(tmp.path(), "damaged");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("another version of the experiment file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_report_of_partial_results_says_so_first() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    assert!(sweep(tmp.path(), "results").status.success());
    let dir = tmp.path().join("results/nl");
    let jsonl = read(dir.join("runs.jsonl"));
    let first: String = jsonl.lines().next().unwrap().to_owned() + "\n";
    std::fs::write(dir.join("runs.jsonl"), first).unwrap();
    let out = paraverse(&["report", "results/nl"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: PARTIAL RESULTS: 1 of 4 runs"),
        "{}",
        text(&out.stderr)
    );
    let md = read(dir.join("report.md"));
    assert!(md.lines().next().unwrap().contains("partial"), "{md}");
    let opening = md.lines().find(|l| !l.is_empty() && !l.starts_with('#'));
    assert!(
        opening.is_some_and(
            |l| l.starts_with("**PARTIAL RESULTS: 1 of 4 runs; 1 of 2 points have no run yet.")
        ),
        "{md}"
    );
    // Complete results open with no such line.
    assert!(sweep(tmp.path(), "results").status.success());
    assert!(
        paraverse(&["report", "results/nl"], tmp.path())
            .status
            .success()
    );
    assert!(!read(dir.join("report.md")).contains("PARTIAL"));
}

#[test]
fn the_gate_refuses_vacuous_bands_and_baselines_of_something_else() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("ci")).unwrap();
    let exp = |check: &str| {
        std::fs::write(
            tmp.path().join("ci/exp.toml"),
            format!("{EXPERIMENT}\n[check]\n{check}\n"),
        )
        .unwrap();
    };
    let gate =
        |extra: &[&str]| paraverse(&[&["check", "ci", "--quiet"], extra].concat(), tmp.path());
    for (check, says) in [
        ("metrics = []", "passes vacuously"),
        ("relative = inf", "expected a relative band from 0 to 1"),
        ("relative = 2.0", "expected a relative band from 0 to 1"),
        ("absolute = nan", "expected a finite absolute band"),
    ] {
        exp(check);
        let out = gate(&[]);
        assert_eq!(out.status.code(), Some(2), "{check}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{check}: {}",
            text(&out.stderr)
        );
    }
    // No baseline: says where it looked and how to make one, exit 2.
    exp("");
    let out = gate(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("no baseline for experiment `nl` at results/baselines/nl.json")
            && err.contains("--update"),
        "{err}"
    );
    assert!(gate(&["--update"]).status.success());
    assert!(gate(&[]).status.success());
    // A huge absolute band cannot pass a 1000×-wrong baseline.
    exp("absolute = 1e308");
    let path = tmp.path().join("results/baselines/nl.json");
    assert!(gate(&["--update"]).status.success());
    let mut b: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    for point in b["points"].as_object_mut().unwrap().values_mut() {
        let c = point["objectives.cost"].as_f64().unwrap();
        point["objectives.cost"] = serde_json::json!(c * 1000.0 + 1.0);
    }
    std::fs::write(&path, b.to_string()).unwrap();
    let out = gate(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is wider than the baseline"),
        "{}",
        text(&out.stderr)
    );
    // A baseline of another version of the experiment file: refused, with the way out.
    exp("relative = 0.1");
    let out = gate(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("made from another version of") && err.contains("paraverse check --update"),
        "{err}"
    );
}

#[test]
fn slurm_scripts_quote_every_argument_and_refuse_bad_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "my exp $(touch PWNED) 'q'.toml";
    std::fs::write(tmp.path().join(name), EXPERIMENT).unwrap();
    let out = paraverse(&["slurm", name, "--shards", "2"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    // Run the script's commands with `paraverse` standing for a printer of its arguments.
    let shim = tmp.path().join("bin");
    std::fs::create_dir(&shim).unwrap();
    std::fs::write(
        shim.join("paraverse"),
        "#!/bin/sh\nprintf '[%s]\\n' \"$@\"\n",
    )
    .unwrap();
    let status = std::process::Command::new("chmod")
        .args(["+x", shim.join("paraverse").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .env(
            "PATH",
            format!("{}:{}", shim.display(), std::env::var("PATH").unwrap()),
        )
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_CPUS_PER_TASK", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !tmp.path().join("PWNED").exists(),
        "the script ran the name"
    );
    assert!(
        text(&out.stdout).contains(&format!("[{name}]")),
        "{}",
        text(&out.stdout)
    );
    for bad in [
        &["--cpus", "0"][..],
        &["--time", "$(reboot)"],
        &["--time", "1:2:3:4"],
    ] {
        let out = paraverse(&[&["slurm", name][..], bad].concat(), tmp.path());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    for good in ["30", "04:00:00", "1-12", "2-00:30:00"] {
        let out = paraverse(&["slurm", name, "--time", good], tmp.path());
        assert!(out.status.success(), "{good}: {}", text(&out.stderr));
    }
}

#[test]
fn an_error_past_column_65535_is_reported_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let good = read(common::repo().join("scenarios/metaverse-campus.toml"));
    let long = format!("# {}\n", "x".repeat(70_000));
    let bad = good.replacen(
        "[general]",
        &format!(
            "{long}[general]\ncolour = {{ a = [{}, oops] }}",
            "1, ".repeat(30_000)
        ),
        1,
    );
    std::fs::write(tmp.path().join("wide.toml"), &bad).unwrap();
    let out = paraverse(&["validate", "wide.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let line = bad.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    assert!(
        err.contains(&format!("wide.toml:{line}:90017: extra comma in array")),
        "{}",
        &err[..err.len().min(500)]
    );
    assert!(
        err.lines().all(|l| l.chars().count() < 400),
        "snippets are windowed"
    );
    assert!(err.contains('…') && err.contains('^'));
}

#[test]
fn write_errors_and_closed_pipes_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    // The reader goes away at once: quiet, status 0, like other Unix tools.
    for args in [&["list"][..], &["space"], &["schema"]] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
    // A full disk: an error and status 1.
    if Path::new("/dev/full").exists() {
        for args in [
            &["schema"][..],
            &["validate", "metaverse-campus"],
            &["space"],
            &[
                "export",
                "strategies/segmented.toml",
                "--scenario",
                "campaign-botnet-ddos",
                "--format",
                "json",
                "--out",
                "-",
            ],
        ] {
            let out = bin()
                .args(args)
                .current_dir(common::repo())
                .stdout(std::fs::File::create("/dev/full").unwrap())
                .output()
                .unwrap();
            let err = text(&out.stderr);
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains("cannot write to standard output: No space left on device"),
                "{args:?}: {err}"
            );
        }
        // An endless input is read up to a bound, then refused.
        let out = paraverse(&["validate", "/dev/zero"], tmp.path());
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("larger than the 64 MiB"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn experiments_are_bounded_and_name_their_bad_values_in_their_own_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let mut huge = EXPERIMENT.to_owned();
    for p in [
        "zero_trust.threshold",
        "quarantine.delay",
        "patching.interval",
        "hardening.interval",
        "detection.threshold",
        "segmentation.enforce",
    ]
    .iter()
    .cycle()
    .take(14)
    .enumerate()
    {
        huge.push_str(&format!(
            "\n[[axis]]\nfield = \"general.x{}{}\"\nvalues = [1, 2, 3]\n",
            p.0, p.1
        ));
    }
    std::fs::write(tmp.path().join("huge.toml"), &huge).unwrap();
    let out = paraverse(&["sweep", "huge.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("9565938 points") && err.contains("at most 10000 points"),
        "{err}"
    );
    std::fs::write(
        tmp.path().join("random.toml"),
        "[experiment]\nname = \"r\"\nscenario = \"campaign-exfiltration\"\n[random]\npoints = 1000000000\n[[random.param]]\nname = \"zero_trust.threshold\"\n",
    )
    .unwrap();
    let out = paraverse(&["sweep", "random.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("1000000000 points"));

    let twice = format!(
        "{EXPERIMENT}\n[[vary]]\nparam = \"zero_trust.reverify_interval\"\nvalues = [\"1 min\"]\n"
    );
    std::fs::write(tmp.path().join("twice.toml"), &twice).unwrap();
    let out = paraverse(&["sweep", "twice.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is varied twice"));

    // A bad value is located at its line in the experiment file.
    let bad = EXPERIMENT.replace("\"5 min\"", "\"5 parsecs\"");
    std::fs::write(tmp.path().join("badvary.toml"), &bad).unwrap();
    let line = bad.lines().position(|l| l.contains("parsecs")).unwrap() + 1;
    let out = paraverse(&["sweep", "badvary.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("badvary.toml:{line}:")) && err.contains("vary[0].values[1]"),
        "{err}"
    );
    assert!(!err.contains("point 1 strategy:"), "{err}");
}

#[test]
fn run_refuses_to_mix_folders_and_replaces_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        paraverse(
            &[&["run", "--ticks", "3", "--quiet", "--out", "r"][..], extra].concat(),
            tmp.path(),
        )
    };
    assert!(run(&[]).status.success());
    let out = run(&["--seed", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("pass --force"),
        "{}",
        text(&out.stderr)
    );
    // With --force the folder holds the new run whole; no leftovers beside it.
    let strategy = common::repo().join("strategies/zero-trust.toml");
    let out = run(&[
        "--seed",
        "2",
        "--force",
        "--strategy",
        strategy.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(read(tmp.path().join("r/summary.json")).contains("\"seed\": 2"));
    assert!(tmp.path().join("r/strategy.toml").exists());
    let out = run(&["--seed", "3", "--force"]);
    assert!(out.status.success());
    assert!(
        !tmp.path().join("r/strategy.toml").exists(),
        "no file of an earlier run stays"
    );
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["r"], "{names:?}");
    // --out naming a file is bad input.
    std::fs::write(tmp.path().join("f"), "").unwrap();
    let out = paraverse(&["run", "--ticks", "3", "--out", "f"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

/// Every subcommand that reads a file: a missing file, a directory and a non-UTF-8 file
/// are invalid input (exit 2) with a message naming the path, never a panic.
#[test]
fn every_subcommand_exits_2_on_missing_directory_and_non_utf8_input() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("adir")).unwrap();
    std::fs::write(tmp.path().join("latin1.toml"), b"name = \"caf\xe9\"\n").unwrap();
    let cases: &[&[&str]] = &[
        &["run", "@"],
        &["run", "--strategy", "@"],
        &["validate", "@"],
        &["view", "@", "--png", "x.png"],
        &["bench", "@", "--ticks", "1"],
        &["sweep", "@"],
        &["optimise", "@"],
        &["merge", "@"],
        &["slurm", "@"],
        &["export", "@"],
        &["export", "@", "--mapping", "@"],
    ];
    for input in ["missing.toml", "adir", "latin1.toml"] {
        for case in cases {
            let args: Vec<&str> = case
                .iter()
                .map(|a| if *a == "@" { input } else { a })
                .collect();
            let out = paraverse(&args, tmp.path());
            let err = text(&out.stderr);
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains(input), "{args:?} names the file: {err}");
        }
    }
    // An output that cannot be written (under a file): a runtime failure, exit 1, said.
    std::fs::write(tmp.path().join("exp.toml"), EXPERIMENT).unwrap();
    let repo = common::repo().display().to_string();
    let strategy = format!("{repo}/strategies/segmented.toml");
    let outputs: &[&[&str]] = &[
        &["run", "--ticks", "2", "--out", "latin1.toml/x"],
        &["schema", "--out", "latin1.toml/x"],
        &["sweep", "exp.toml", "--results", "latin1.toml/x"],
        &[
            "export",
            &strategy,
            "--scenario",
            "campaign-botnet-ddos",
            "--out",
            "latin1.toml/x",
        ],
        &["view", "--png", "latin1.toml/x.png", "--at", "1"],
    ];
    for args in outputs {
        let out = paraverse(args, tmp.path());
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] == "view" && err.contains("no GPU adapter") {
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("latin1.toml/x"), "{args:?}: {err}");
    }
    for dir_case in [&["check", "@"][..], &["replay", "@"], &["report", "@"]] {
        for input in ["missing", "latin1.toml"] {
            let args: Vec<&str> = dir_case
                .iter()
                .map(|a| if *a == "@" { input } else { a })
                .collect();
            let out = paraverse(&args, tmp.path());
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?}: {}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn a_scenario_that_cannot_fit_is_refused_up_front_with_the_estimate() {
    let tmp = tempfile::tempdir().unwrap();
    // The 1M city scaled 30×: 30 M nodes; validation says what it would need.
    let city = read(common::repo().join("scenarios/smart-city-1m.toml"));
    let big: String = city
        .lines()
        .map(|l| match l.strip_prefix("count = ") {
            // Terminals and edge groups only: the cloud mesh stays within its bound.
            Some(n) if n.trim().len() >= 5 => {
                format!("count = {}\n", n.trim().parse::<u64>().unwrap() * 30)
            }
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(tmp.path().join("big.toml"), big).unwrap();
    let out = paraverse(&["validate", "big.toml"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("GiB to run"),
        "{}",
        text(&out.stdout)
    );
    // 30 M nodes need about 15 GiB: refused where 8 GiB are available.
    let out = bin()
        .args(["run", "big.toml", "--ticks", "1"])
        .current_dir(tmp.path())
        .env("PARAVERSE_MEMORY_AVAILABLE", (8u64 << 30).to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("needs about") && err.contains("GiB available") && err.contains("--force"),
        "{err}"
    );
    assert!(!tmp.path().join("results").exists());
}

#[test]
fn export_provenance_holds_from_any_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    assert!(sweep(tmp.path(), "results").status.success());
    let best = tmp.path().join("results/nl/best.json");
    let recorded: serde_json::Value = serde_json::from_str(&read(&best)).unwrap();
    let file = recorded["provenance"]["experiment_file"].as_str().unwrap();
    assert!(Path::new(file).is_absolute(), "{file}");
    let out = paraverse(
        &["export", best.to_str().unwrap(), "--format", "json"],
        Path::new("/"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A result of an older version, recorded relative to the sweep's directory.
    let mut old = recorded.clone();
    old["provenance"]["experiment_file"] = serde_json::json!("exp.toml");
    std::fs::write(&best, old.to_string()).unwrap();
    let out = paraverse(
        &["export", best.to_str().unwrap(), "--format", "json"],
        Path::new("/"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn mappings_refuse_nft_keywords_and_port_zero_and_scenarios_port_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let strategy = repo.join("strategies/segmented.toml");
    for (mapping, says) in [
        ("[nftables]\ntable = \"table\"\n", "is an nftables keyword"),
        (
            "[services.https]\nport = 0\n",
            "expected a port from 1 to 65535",
        ),
    ] {
        std::fs::write(tmp.path().join("m.toml"), mapping).unwrap();
        let out = paraverse(
            &[
                "export",
                strategy.to_str().unwrap(),
                "--scenario",
                "campaign-botnet-ddos",
                "--mapping",
                "m.toml",
                "--out",
                "x",
            ],
            tmp.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{mapping}");
        let err = text(&out.stderr);
        assert!(err.contains("m.toml:") && err.contains(says), "{err}");
    }
    let campus = read(repo.join("scenarios/metaverse-campus.toml"));
    let re = campus.replacen("port = ", "port = 0 # ", 1);
    std::fs::write(tmp.path().join("p.toml"), &re).unwrap();
    let out = paraverse(&["validate", "p.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("port`: found 0: expected a port from 1 to 65535"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_say_what_is_wrong_once_and_bad_values_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["run", "--strategy", "nonexist.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains("cannot read scenario"), "{err}");
    // Not a file and not a bundled strategy name: said once, with the bundled names.
    assert_eq!(
        err.matches("no strategy file `nonexist.toml`").count(),
        1,
        "{err}"
    );
    assert!(err.contains("zero-trust"), "{err}");
    for (args, says) in [
        (&["run", "--stop", "0 s"][..], "--stop 0 s gives 0 ticks"),
        (&["run", "--stop", "1e308 s"], "exponent notation"),
        (&["run", "--stop", "99999999999999999999 s"], "too large"),
        (
            &["run", "--stop", "0.5 us"],
            "finer than the resolution of 1 us",
        ),
        (&["run", "--stop", "5 parsecs"], "unknown unit `parsecs`"),
        (
            &["view", "--png", "x.png", "--zoom", "nan"],
            "expected a zoom factor",
        ),
        (
            &["view", "--png", "x.png", "--size", "0x0"],
            "16 to 16384 pixels",
        ),
        (&["view", "--png", "x.jpg"], "name the file *.png"),
        (&["view", "--png", "x.png", "--at", "99999"], "--at 99999"),
        (&["bench", "--threads", "0"], "0 is not in 1..=4096"),
    ] {
        let out = paraverse(args, tmp.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Issue 15 item 5: an event-log overflow is said, and `--max-events` raises the bound.
#[test]
fn an_event_log_overflow_is_said_and_max_events_raises_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        paraverse(
            &[
                &["run", "campaign-exfiltration", "--quiet", "--out"][..],
                extra,
            ]
            .concat(),
            tmp.path(),
        )
    };
    let out = run(&["small", "--max-events", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("the event log kept the first 5 events and dropped")
            && err.contains("--max-events"),
        "{err}"
    );
    assert_eq!(
        read(tmp.path().join("small/events.jsonl")).lines().count(),
        5
    );
    let out = run(&["big", "--max-events", "1000000"]);
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("event log"),
        "{}",
        text(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&read(tmp.path().join("big/summary.json"))).unwrap();
    assert_eq!(summary["events_dropped"], 0);
    assert!(summary["events_logged"].as_u64().unwrap() > 5);
}
