//! Checkpoint, resume and fork (#17, part 1): a run split at any tick, written to bytes,
//! read back into a rebuilt universe and run on gives the same summary, time series and
//! event log, byte for byte, as the run that was never split — for every bundled scenario,
//! every bundled strategy, other thread counts and the GPU backend.

mod common;

use std::path::Path;

use paraverse_lab::plugins::plugins;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

const PLUGINS: [&'static dyn SimPlugin; 2] = plugins();

type Outputs = (String, String, String);

fn outputs(u: Universe) -> Outputs {
    assert_eq!(u.fault(), None);
    let r = u.finish();
    (r.summary_json(), r.series_csv(), r.events_jsonl())
}

fn unsplit(scenario: &Scenario) -> Outputs {
    let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    u.run(|_| {});
    outputs(u)
}

/// Runs to `split`, checkpoints through the file format, resumes in a fresh universe on
/// `backend`, and runs to the end.
fn split(scenario: &Scenario, at: u32, backend: BackendChoice) -> Result<Outputs, String> {
    let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    while u.clock().tick < at && u.step() {}
    let bytes = u.checkpoint().unwrap().to_bytes().unwrap();
    drop(u);
    let checkpoint = Checkpoint::from_bytes(&bytes, Path::new("split.ckpt")).unwrap();
    assert_eq!(checkpoint.tick, at);
    let mut resumed =
        Universe::resume(&checkpoint, backend, &PLUGINS).map_err(|e| e.to_string())?;
    assert_eq!(resumed.clock().tick, at);
    resumed.run(|_| {});
    Ok(outputs(resumed))
}

fn assert_same(what: &str, a: &Outputs, b: &Outputs) {
    assert!(a.0 == b.0, "{what}: summary differs");
    assert!(a.1 == b.1, "{what}: time series differs");
    assert!(a.2 == b.2, "{what}: event log differs");
}

/// Splits at the start, early, in the middle, late and at the end. One pass takes every
/// checkpoint on its way (`checkpoint` borrows the universe immutably, so the pass is the
/// never-split run and serves as the reference); each is then resumed in a fresh universe
/// and run on. About half the simulated ticks of running to each split from tick 0.
fn assert_splits_invisible(name: &str, scenario: &Scenario) {
    let t = scenario.ticks;
    let mut at = vec![0, 1, t / 3, 2 * t / 3 + 1, t];
    at.iter_mut().for_each(|a| *a = (*a).min(t));
    at.dedup();
    let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    let mut checkpoints = Vec::new();
    for &a in &at {
        while u.clock().tick < a && u.step() {}
        checkpoints.push((a, u.checkpoint().unwrap().to_bytes().unwrap()));
    }
    u.run(|_| {});
    let reference = outputs(u);
    for (a, bytes) in checkpoints {
        let checkpoint = Checkpoint::from_bytes(&bytes, Path::new("split.ckpt")).unwrap();
        assert_eq!(checkpoint.tick, a);
        let mut resumed = Universe::resume(&checkpoint, BackendChoice::Cpu, &PLUGINS).unwrap();
        resumed.run(|_| {});
        assert_same(
            &format!("{name} split at tick {a}"),
            &reference,
            &outputs(resumed),
        );
    }
}

/// Every bundled scenario but the 1M city (a benchmark, too large for tests; its 20×
/// smaller copy runs below), split at five ticks.
#[test]
fn every_bundled_scenario_resumes_bit_identically() {
    for b in bundled::ALL.iter().filter(|b| b.name != "smart-city-1m") {
        eprintln!("{}", b.name);
        let scenario = bundled::load(Some(b.name)).unwrap();
        assert_splits_invisible(b.name, &scenario);
    }
}

/// Every bundled strategy (all the defenses, each with its state: alert queues, trust
/// scores, baselines, backups under way) against the siege's every campaign.
#[test]
fn every_bundled_strategy_resumes_bit_identically() {
    let base = bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut strategies: Vec<_> = std::fs::read_dir(common::repo().join("strategies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    strategies.sort();
    assert!(strategies.len() >= 10);
    for path in strategies {
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = base
            .clone()
            .with_strategy(&text, &path.display().to_string())
            .unwrap();
        eprintln!("{}", path.display());
        assert_splits_invisible(&path.display().to_string(), &scenario);
    }
}

/// The checkpoint carries no thread count: written at 1 thread, resumed at 2 and 4.
#[test]
fn a_checkpoint_resumes_at_other_thread_counts() {
    let scenario = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(
            &std::fs::read_to_string(common::repo().join("strategies/full-stack.toml")).unwrap(),
            "full-stack.toml",
        )
        .unwrap();
    let reference = unsplit(&scenario);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let bytes = one.install(|| {
        let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
        while u.clock().tick < scenario.ticks / 2 && u.step() {}
        u.checkpoint().unwrap().to_bytes().unwrap()
    });
    for threads in [2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let resumed = pool.install(|| {
            let c = Checkpoint::from_bytes(&bytes, Path::new("c.ckpt")).unwrap();
            let mut u = Universe::resume(&c, BackendChoice::Cpu, &PLUGINS).unwrap();
            u.run(|_| {});
            outputs(u)
        });
        assert_same(
            &format!("resumed at {threads} threads"),
            &reference,
            &resumed,
        );
    }
}

/// A checkpoint written on the CPU backend resumes on the GPU backend (Mesa lavapipe in
/// CI) with the same results: the traffic core's flows and paths travel, not its backend.
#[test]
fn a_cpu_checkpoint_resumes_on_the_gpu_backend() {
    let scenario = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_ticks(400);
    let reference = unsplit(&scenario);
    match split(&scenario, 250, BackendChoice::Gpu) {
        Ok(resumed) => {
            assert!(
                reference.2.contains("\"flood\""),
                "the DDoS ran in the window"
            );
            assert_same("resumed on the GPU", &reference, &resumed);
        }
        Err(e) => common::skip_unless_required("PARAVERSE_REQUIRE_GPU", &e),
    }
}

/// A fork is independent: both it and the original run on to the unsplit results, and
/// stepping one does not move the other.
#[test]
fn a_fork_runs_on_independently_to_the_same_end() {
    let scenario = bundled::load(Some("campaign-ransomware")).unwrap();
    let reference = unsplit(&scenario);
    let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    while u.clock().tick < scenario.ticks / 2 && u.step() {}
    let mut fork = u.fork(&PLUGINS).unwrap();
    fork.step();
    assert_eq!(fork.clock().tick, u.clock().tick + 1);
    u.run(|_| {});
    fork.run(|_| {});
    assert_same("original", &reference, &outputs(u));
    assert_same("fork", &reference, &outputs(fork));
}

/// A checkpoint restored into a universe with other defenses is refused, naming what
/// differs, rather than half-restored.
#[test]
fn a_checkpoint_of_another_universe_is_refused() {
    let base = bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut u = Universe::build(base.clone(), &PLUGINS).unwrap();
    u.step();
    let checkpoint = u.checkpoint().unwrap();
    let zero_trust = base
        .with_strategy(
            &std::fs::read_to_string(common::repo().join("strategies/zero-trust.toml")).unwrap(),
            "zero-trust.toml",
        )
        .unwrap();
    let mut other = Universe::build(zero_trust, &PLUGINS).unwrap();
    let err = other.restore(&checkpoint).unwrap_err().to_string();
    assert!(
        err.contains("does not fit") && err.contains("ZeroTrustState"),
        "{err}"
    );
}

/// The files of a run folder, by name, as bytes.
fn folder(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn assert_same_folder(a: &Path, b: &Path) {
    let (fa, fb) = (folder(a), folder(b));
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    assert!(fa.len() >= 4, "{:?}", names(&fa));
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// `paraverse run --checkpoint-every` then `--from` a checkpoint in the middle: the
/// results folder is byte for byte the one of a run that never stopped (and writing
/// checkpoints changes nothing).
#[test]
fn the_binary_resumes_from_a_checkpoint_file_to_identical_results() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("work")).unwrap();
    std::fs::copy(
        common::repo().join("strategies/ueba.toml"),
        dir.join("ueba.toml"),
    )
    .unwrap();
    let args = [
        "run",
        "campaign-exfiltration",
        "--strategy",
        "../ueba.toml",
        "-q",
    ];
    let plain = common::paraverse(
        &[&args[..], &["--out", "plain"]].concat(),
        &dir.join("work"),
    );
    assert!(plain.status.success(), "{}", common::text(&plain.stderr));
    let ckpt = common::paraverse(
        &[
            &args[..],
            &[
                "--out",
                "ckpt",
                "--checkpoint-every",
                "10 min",
                "--checkpoint-keep",
                "0",
            ],
        ]
        .concat(),
        &dir.join("work"),
    );
    assert!(ckpt.status.success(), "{}", common::text(&ckpt.stderr));
    assert_same_folder(&dir.join("work/plain"), &dir.join("work/ckpt"));
    let mut saved: Vec<_> = std::fs::read_dir(dir.join("work/ckpt.checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    saved.sort();
    assert!(saved.len() >= 4, "{saved:?}");
    let middle = format!("ckpt.checkpoints/{}", saved[saved.len() / 2]);
    // The resumed run needs neither the scenario nor the strategy file.
    std::fs::remove_file(dir.join("ueba.toml")).unwrap();
    let resumed = common::paraverse(
        &["run", "--from", &middle, "--out", "resumed"],
        &dir.join("work"),
    );
    let err = common::text(&resumed.stderr);
    assert!(resumed.status.success(), "{err}");
    assert!(err.contains("resumed at tick"), "{err}");
    assert_same_folder(&dir.join("work/plain"), &dir.join("work/resumed"));
}

/// A run killed mid-way (SIGKILL, no chance to clean up) continues from its checkpoint
/// folder to the results it would have written.
#[test]
fn a_killed_run_continues_from_its_checkpoint_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let plain = common::paraverse(&["run", "metaverse-campus", "--out", "plain", "-q"], dir);
    assert!(plain.status.success(), "{}", common::text(&plain.stderr));
    let mut child = common::bin()
        .args([
            "run",
            "metaverse-campus",
            "--out",
            "killed",
            "-q",
            "--checkpoint-every",
            "1 min",
        ])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoints = dir.join("killed.checkpoints");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_dir(&checkpoints).map_or(0, |d| d.count()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint written"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join("killed").exists(),
        "the killed run wrote no results"
    );
    let resumed = common::paraverse(
        &[
            "run",
            "--from",
            "killed.checkpoints",
            "--out",
            "killed",
            "--checkpoint-every",
            "1 min",
        ],
        dir,
    );
    let err = common::text(&resumed.stderr);
    assert!(resumed.status.success(), "{err}");
    assert!(!err.contains("resumed at tick 0 "), "{err}");
    assert_same_folder(&dir.join("plain"), &dir.join("killed"));
}

/// Bad checkpoints and contradictory flags are bad input: exit status 2, a message that
/// names the file and the problem, no panic.
#[test]
fn bad_checkpoints_and_conflicting_flags_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("scenario.ckpt"), "[general]\nname = \"x\"\n").unwrap();
    std::fs::create_dir(dir.join("empty")).unwrap();
    let ok = common::paraverse(
        &[
            "run",
            "campaign-phishing",
            "--ticks",
            "20",
            "-q",
            "--out",
            "r",
            "--checkpoint-every",
            "1 min",
            "--checkpoint-dir",
            "ck",
        ],
        dir,
    );
    assert!(ok.status.success(), "{}", common::text(&ok.stderr));
    let good = std::fs::read_dir(dir.join("ck"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(dir.join("torn.ckpt"), &bytes).unwrap();
    for (args, expect) in [
        (
            vec!["run", "--from", "scenario.ckpt"],
            "not a paraverse checkpoint",
        ),
        (vec!["run", "--from", "torn.ckpt"], "damaged checkpoint"),
        (vec!["run", "--from", "empty"], "holds no checkpoint"),
        (vec!["run", "--from", "missing.ckpt"], "missing.ckpt"),
        (
            vec!["run", "--from", "ck", "--seed", "3"],
            "cannot be used with",
        ),
        (vec!["run", "--checkpoint-dir", "x"], "--checkpoint-every"),
    ] {
        let out = common::paraverse(&args, dir);
        let err = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

fn full_stack_siege() -> Scenario {
    bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(
            &std::fs::read_to_string(common::repo().join("strategies/full-stack.toml")).unwrap(),
            "full-stack.toml",
        )
        .unwrap()
}

/// A branch with the run's own seed and defenses is the run's own future: its state
/// rows, events and counter increments are the unsplit run's after the branching tick.
#[test]
fn a_branch_with_the_runs_seed_and_defenses_replays_the_runs_future() {
    let scenario = full_stack_siege();
    let mut whole = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    whole.run(|_| {});
    let whole = whole.finish();
    let k = scenario.ticks / 2;
    let mut u = Universe::build(scenario.clone(), &PLUGINS).unwrap();
    while u.clock().tick < k && u.step() {}
    let checkpoint = u.checkpoint().unwrap();
    let mut branch = Universe::branch(
        &checkpoint,
        scenario.clone(),
        scenario.seed,
        scenario.ticks - k,
        BackendChoice::Cpu,
        &PLUGINS,
    )
    .unwrap();
    branch.run(|_| {});
    let branch = branch.finish();
    let k = k as usize;
    assert_eq!(branch.summary.first_tick as usize, k);
    assert_eq!(branch.summary.ticks, scenario.ticks - k as u32);
    assert_eq!(branch.series.states, whole.series.states[k..]);
    assert_eq!(branch.series.zones, whole.series.zones[k..]);
    let later: Vec<_> = whole
        .events
        .iter()
        .filter(|e| e.tick as usize > k)
        .cloned()
        .collect();
    assert!(later.len() > 10);
    assert_eq!(branch.events, later);
    for (c, name) in whole.counter_names.iter().enumerate() {
        if whole.gauges[c] {
            continue;
        }
        let after: u64 = whole.series.counters[k + 1..].iter().map(|r| r[c]).sum();
        assert_eq!(branch.summary.counters[&name.to_string()], after, "{name}");
    }
    assert!(
        branch
            .series_csv()
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("{k},"))
    );
}

/// Other draws of the future differ from one another and are reproducible; a branch may
/// switch strategies either way (defenses it gains start fresh, those it drops go).
#[test]
fn branches_draw_other_futures_and_switch_strategies() {
    let siege = bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut u = Universe::build(siege.clone(), &PLUGINS).unwrap();
    while u.clock().tick < 300 && u.step() {}
    let bare = u.checkpoint().unwrap();
    let run = |c: &Checkpoint, s: &Scenario, seed: u64| {
        let mut b =
            Universe::branch(c, s.clone(), seed, 120, BackendChoice::Cpu, &PLUGINS).unwrap();
        b.run(|_| {});
        b.finish()
    };
    let (a, b, a2) = (
        run(&bare, &siege, 11),
        run(&bare, &siege, 12),
        run(&bare, &siege, 11),
    );
    assert_eq!(a.series.states, a2.series.states);
    assert_eq!(a.events, a2.events);
    assert_ne!(a.events, b.events, "other seeds draw other futures");
    // Gaining every defense mid-run, and dropping them all.
    let defended = run(&bare, &full_stack_siege(), 11);
    assert!(
        defended.summary.counters["verifications"] > 0,
        "{:?}",
        defended.summary.counters
    );
    assert_eq!(
        defended.series.states[0], a.series.states[0],
        "same state at the branch"
    );
    let mut d = Universe::build(full_stack_siege(), &PLUGINS).unwrap();
    while d.clock().tick < 300 && d.step() {}
    let dropped = run(&d.checkpoint().unwrap(), &siege, 11);
    assert!(!dropped.summary.counters.contains_key("verifications"));
    // A checkpoint of another scenario is refused.
    let other = bundled::load(Some("campaign-phishing")).unwrap();
    let err = Universe::branch(&bare, other, 1, 10, BackendChoice::Cpu, &PLUGINS)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not the checkpoint's"), "{err}");
}

/// `paraverse forecast` through the binary: from a run's checkpoint folder, two strategy
/// files and the current defenses; the folder it writes, and its refusals.
#[test]
fn the_binary_forecasts_from_a_checkpoint_and_recommends_a_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let strategies = common::repo().join("strategies");
    let run = common::paraverse(
        &[
            "run",
            "metaverse-under-siege",
            "--stop",
            "40 min",
            "--checkpoint-every",
            "20 min",
            "--out",
            "siege",
            "-q",
        ],
        dir,
    );
    assert!(run.status.success(), "{}", common::text(&run.stderr));
    let full = strategies.join("full-stack.toml");
    let zero = strategies.join("zero-trust.toml");
    let (full, zero) = (full.to_str().unwrap(), zero.to_str().unwrap());
    let out = common::paraverse(
        &[
            "forecast",
            "siege.checkpoints",
            "--horizon",
            "30 min",
            "--members",
            "6",
            "--strategy",
            full,
            "--strategy",
            zero,
            "--out",
            "f",
        ],
        dir,
    );
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("from tick 240") && stderr.contains("6 members × 3 strategies"),
        "{stderr}"
    );
    assert!(stdout.contains("Deploy "), "{stdout}");
    let forecast: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("f/forecast.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = forecast["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["current", "full-stack", "zero-trust"]);
    assert!(names.contains(&forecast["recommended"].as_str().unwrap()));
    assert_ne!(
        forecast["recommended"], "current",
        "no defense loses to the siege"
    );
    assert_eq!(forecast["horizon_ticks"], 180);
    for f in [
        "members.csv",
        "fan.csv",
        "fan-compromised.svg",
        "fan-compromised.png",
        "fan-xr_quality.png",
        "recommendation.md",
    ] {
        assert!(dir.join("f").join(f).is_file(), "{f}");
    }
    let again = common::paraverse(
        &[
            "forecast",
            "siege.checkpoints",
            "--members",
            "1",
            "--out",
            "f",
        ],
        dir,
    );
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing folder is refused"
    );
    for (args, expect) in [
        (
            vec![
                "forecast",
                "siege.checkpoints",
                "--strategy",
                full,
                "--strategy",
                full,
                "--out",
                "g",
            ],
            "already named",
        ),
        (
            vec![
                "forecast",
                "siege.checkpoints",
                "--weights",
                "1,2",
                "--out",
                "g",
            ],
            "three numbers",
        ),
        (
            vec![
                "forecast",
                "siege.checkpoints",
                "--weights=1,nan,1",
                "--out",
                "g",
            ],
            "--weights: availability: found NaN: expected a finite weight",
        ),
        (
            vec![
                "forecast",
                "siege.checkpoints",
                "--horizon",
                "0 s",
                "--out",
                "g",
            ],
            "out of range",
        ),
        (
            vec!["forecast", "nothing-here", "--out", "g"],
            "nothing-here",
        ),
    ] {
        let out = common::paraverse(&args, dir);
        let err = common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}
