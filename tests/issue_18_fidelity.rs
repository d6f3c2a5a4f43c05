//! Model fidelity (#18), through the binary: analytic oracles for contagion along the
//! network, recovery, churn and scans as traffic, each a scenario file in
//! `tests/oracles/`, over several seeds with stated tolerances; per-flow recording; the
//! coarse-tick warning; determinism of the new models across threads and backends.

mod common;

use std::path::{Path, PathBuf};

use common::{paraverse, repo, text};
use paraverse_sim::math::dexp;
use paraverse_sim::prelude::*;

fn oracle(name: &str) -> PathBuf {
    repo().join("tests/oracles").join(format!("{name}.toml"))
}

/// Runs `paraverse run SCENARIO --seed S --out DIR` plus `extra`, and returns the folder.
fn run(dir: &Path, scenario: &Path, seed: u64, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!(
        "{}-{seed}-{}",
        scenario.file_stem().unwrap().to_string_lossy(),
        extra.join("").replace(['-', ' ', '/'], "")
    ));
    let seed = seed.to_string();
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
        "--force",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = paraverse(&args, dir);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    out
}

/// A column of a run's time series, as numbers (empty cells as NaN).
fn column(run: &Path, name: &str) -> Vec<f64> {
    let csv = std::fs::read_to_string(run.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    lines
        .map(|l| l.split(',').nth(i).unwrap().parse().unwrap_or(f64::NAN))
        .collect()
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// Writes `text` as `name` in `dir` and returns its path.
fn variant(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Solves `x = f(x)` by iteration from 1 (the final-size and balance equations contract
/// to their positive root from above).
fn fixed_point(f: impl Fn(f64) -> f64, from: f64) -> f64 {
    let mut x = from;
    for _ in 0..10_000 {
        x = f(x);
    }
    x
}

/// SIR on G(n, m) with c = 4: the share ever infected solves R = 1 − e^(−c·T·R) with the
/// discrete model's transmissibility T = τ / (1 − (1 − γ)(1 − τ)) (a node transmits from
/// the tick after its infection, then recovers after each tick with γ). Tolerance 0.02
/// (finite size: about 4 standard deviations of the seed-to-seed spread, 0.003).
#[test]
fn sir_final_size_on_erdos_renyi_matches_the_final_size_equation() {
    let dir = tempfile::tempdir().unwrap();
    let (c, beta, gamma_rate, tick) = (4.0, 0.09, 0.1, 1.0);
    let tau = 1.0 - dexp(-beta * tick);
    let gamma = 1.0 - dexp(-gamma_rate * tick);
    let t = tau / (1.0 - (1.0 - gamma) * (1.0 - tau));
    let expected = fixed_point(|r| 1.0 - dexp(-c * t * r), 1.0);
    assert!((0.78..0.81).contains(&expected), "{expected}");
    for seed in 1..=3 {
        let r = run(dir.path(), &oracle("sir-erdos-renyi"), seed, &[]);
        let ever = column(&r, "ever_compromised");
        let share = ever.last().unwrap() / 20_000.0;
        assert!(
            (share - expected).abs() < 0.02,
            "seed {seed}: final size {share:.4} vs the equation's {expected:.4}"
        );
        assert_eq!(
            *column(&r, "compromised").last().unwrap(),
            0.0,
            "all recovered"
        );
        // SIR: recovered nodes are immune, so nobody is infected twice.
        let s = summary(&r);
        assert_eq!(
            s["counters"]["infections"].as_u64().unwrap() + 20,
            s["counters"]["recoveries"].as_u64().unwrap()
        );
    }
}

/// ⟨k⟩/⟨k²⟩ of a scenario's built topology.
fn hmf_threshold(path: &Path) -> f64 {
    let s = Scenario::load(path).unwrap();
    let t = Topology::build(&s, &SimRng::new(s.seed));
    let n = t.node_count() as f64;
    let (k1, k2) = (0..t.node_count() as u32)
        .map(|v| t.neighbours(v).len() as f64)
        .fold((0.0, 0.0), |(a, b), k| (a + k, b + k * k));
    (k1 / n) / (k2 / n)
}

/// The same SIS epidemic, λ = β/γ = 0.1 per link, dies out on the homogeneous graph
/// (threshold ⟨k⟩/⟨k²⟩ ≈ 0.14 > λ) and persists on the scale-free one (≈ 0.05 < λ).
#[test]
fn sis_dies_below_the_homogeneous_threshold_and_persists_on_a_scale_free_graph() {
    let dir = tempfile::tempdir().unwrap();
    let lambda = 0.01 / 0.1;
    let (er, ba) = (oracle("sis-erdos-renyi"), oracle("sis-barabasi-albert"));
    let (er_threshold, ba_threshold) = (hmf_threshold(&er), hmf_threshold(&ba));
    assert!(er_threshold > 1.3 * lambda, "ER ⟨k⟩/⟨k²⟩ = {er_threshold}");
    assert!(ba_threshold < 0.7 * lambda, "BA ⟨k⟩/⟨k²⟩ = {ba_threshold}");
    for seed in 1..=2 {
        let homogeneous = column(&run(dir.path(), &er, seed, &[]), "compromised");
        assert_eq!(
            *homogeneous.last().unwrap(),
            0.0,
            "seed {seed}: the epidemic dies out on the Erdős–Rényi graph"
        );
        let scale_free = column(&run(dir.path(), &ba, seed, &[]), "compromised");
        let late = &scale_free[scale_free.len() - 600..];
        let low = late.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            low > 0.02 * 20_000.0,
            "seed {seed}: the epidemic persists on the scale-free graph (lowest {low} in the last 10 min)"
        );
    }
}

/// Botnet churn: recruitment balances drop-outs at the root of
/// (V − I)·(1 − e^(−s·d·I/A)) = I·(1 − e^(−γ·tick)); the mean over the last 20 minutes is
/// within 2 % of it on every seed (the seed-to-seed spread is about 0.3 %).
#[test]
fn botnet_with_churn_settles_at_the_churn_balance() {
    let dir = tempfile::tempdir().unwrap();
    let (v, a, s, d, gamma) = (10_000.0, 10_010.0, 0.01, 0.9, 1.0 - dexp(-1.0 / 300.0));
    let steady = fixed_point(
        |i| v * (1.0 - dexp(-s * d * i / a)) / (1.0 - dexp(-s * d * i / a) + gamma),
        v,
    );
    // The continuous logistic model's I* = V·(1 − γ/β) is within a few bots of it.
    let beta = s * d * v / a;
    assert!(
        (steady - v * (1.0 - (1.0 / 300.0) / beta)).abs() < 30.0,
        "{steady}"
    );
    for seed in 1..=3 {
        let bots = column(
            &run(dir.path(), &oracle("botnet-churn"), seed, &[]),
            "compromised",
        );
        let late = &bots[bots.len() - 1200..];
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!(
            (mean - steady).abs() / steady < 0.02,
            "seed {seed}: {mean:.0} bots vs the balance {steady:.0}"
        );
    }
}

/// Seconds until half the vulnerable headsets are infected.
fn half_time(run: &Path) -> f64 {
    let time = column(run, "time_s");
    let ever = column(run, "ever_compromised");
    let k = ever.iter().position(|&e| e >= 200.0).expect("half reached");
    time[k]
}

/// Scans as traffic: with probes that fill the uplinks, the worm spreads slower and the XR
/// streams suffer; with ample bandwidth the same probes change nothing (the network
/// grants every scanner its demand, so its probe count is the unthrottled draw).
#[test]
fn scan_saturated_links_slow_the_worm_and_hurt_xr_quality() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(oracle("scan-saturation")).unwrap();
    assert!(base.contains("probe_bytes = 404\n"));
    let free = variant(
        dir.path(),
        "free.toml",
        &base.replace("probe_bytes = 404\n", ""),
    );
    let ample = variant(
        dir.path(),
        "ample.toml",
        &base
            .replace("capacity = \"100 Mbit/s\"", "capacity = \"100 Gbit/s\"")
            .replace("capacity = \"1 Gbit/s\"", "capacity = \"1000 Gbit/s\""),
    );
    for seed in 1..=3 {
        let saturated = run(dir.path(), &oracle("scan-saturation"), seed, &[]);
        let free = run(dir.path(), &free, seed, &[]);
        let ample = run(dir.path(), &ample, seed, &[]);
        for col in ["compromised", "scans", "infections"] {
            assert_eq!(
                column(&free, col),
                column(&ample, col),
                "seed {seed}: with room to spare, probes as traffic change no {col}"
            );
        }
        let (slow, fast) = (half_time(&saturated), half_time(&free));
        assert!(
            slow > 1.15 * fast,
            "seed {seed}: half infected at {slow} s with saturated links vs {fast} s without"
        );
        let xr = |r: &Path| summary(r)["xr_quality"].as_f64().unwrap();
        assert!(
            xr(&saturated) < 0.6 && xr(&free) > 0.99 && xr(&ample) > 0.99,
            "seed {seed}: XR quality {} saturated, {} free, {} ample",
            xr(&saturated),
            xr(&free),
            xr(&ample)
        );
        let scans = |r: &Path| column(r, "scans").iter().sum::<f64>();
        assert!(
            scans(&saturated) < 0.7 * scans(&free),
            "the network caps the probes"
        );
    }
}

/// `[recording] flows = true` writes each flow's demand and granted rate per tick: no flow
/// gets more than it asks, XR streams are all there every tick, the scan flows appear as
/// hosts fall, and the rates add up to the run's delivered total.
#[test]
fn per_flow_recording_writes_every_flow_rate_per_tick() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(oracle("scan-saturation")).unwrap();
    let short = base.replace("stop = \"40 s\"", "stop = \"5 s\"") + "\n[recording]\nflows = true\n";
    let scenario = variant(dir.path(), "flows.toml", &short);
    let r = run(dir.path(), &scenario, 1, &["--format", "parquet"]);
    assert!(r.join("flows.parquet").is_file());
    let csv = std::fs::read_to_string(r.join("flows.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "tick,time_s,flow,class,src,dst,demand_kbps,rate_kbps"
    );
    let mut per_tick: std::collections::BTreeMap<u64, (u64, u64, u64)> = Default::default();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (tick, demand, rate): (u64, u64, u64) = (
            f[0].parse().unwrap(),
            f[6].parse().unwrap(),
            f[7].parse().unwrap(),
        );
        assert!(rate <= demand, "{line}");
        let e = per_tick.entry(tick).or_default();
        e.0 += rate;
        match f[3] {
            "xr_stream" => e.1 += 1,
            "scan" => e.2 += 1,
            other => panic!("unexpected class {other}"),
        }
    }
    let delivered = column(&r, "delivered_mbps");
    assert_eq!(per_tick.len(), 50);
    for (&tick, &(rate, xr, _)) in &per_tick {
        assert_eq!(xr, 400, "tick {tick}: every XR stream recorded");
        assert!(
            (rate as f64 / 1000.0 - delivered[tick as usize]).abs() <= 1.0,
            "tick {tick}: flows sum to {rate} kbit/s, the series says {} Mbit/s",
            delivered[tick as usize]
        );
    }
    assert!(
        per_tick.values().last().unwrap().2 > 4,
        "scan flows as hosts fall"
    );

    // Recording flows in a scenario without flows is an error with its line.
    let no_flows = std::fs::read_to_string(oracle("sir-erdos-renyi")).unwrap()
        + "\n[recording]\nflows = true\n";
    let path = variant(dir.path(), "no-flows.toml", &no_flows);
    let o = paraverse(&["validate", path.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("field `recording.flows`") && err.contains("no [[flow]]"),
        "{err}"
    );
}

/// The bundled botnet's tick is fine for its rate; a tick ten times coarser gets a
/// warning from `validate` and `run` naming the line, the figure and a tick that would do.
#[test]
fn validate_warns_when_the_tick_is_too_coarse_for_a_growth_rate() {
    let dir = tempfile::tempdir().unwrap();
    let o = paraverse(&["validate", "campaign-botnet-ddos"], dir.path());
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    let bundled = paraverse_sim::bundled::get("campaign-botnet-ddos")
        .unwrap()
        .text;
    let coarse = variant(
        dir.path(),
        "coarse.toml",
        &bundled.replace("tick = \"10 s\"", "tick = \"100 s\""),
    );
    let o = paraverse(&["validate", coarse.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "a warning is not an error");
    let err = text(&o.stderr);
    let line = bundled
        .lines()
        .position(|l| l.starts_with("scan_rate = "))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("coarse.toml:{line}:"))
            && err.contains("field `campaign[0].botnet.scan_rate`")
            && err.contains("slower than the continuous")
            && err.contains("a tick of at most 10.7 s"),
        "{err}"
    );
}

/// The new models are deterministic: contact contagion with recovery and scan flows give
/// the same files at 1 and 2 threads, and on the GPU traffic backend.
#[test]
fn contact_recovery_and_scan_flows_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let files = |r: &Path| {
        ["summary.json", "timeseries.csv", "events.jsonl"]
            .map(|f| std::fs::read_to_string(r.join(f)).unwrap())
    };
    let sir = oracle("sir-erdos-renyi");
    let one = files(&run(dir.path(), &sir, 4, &["--threads", "1"]));
    assert_eq!(one, files(&run(dir.path(), &sir, 4, &["--threads", "2"])));
    let scan = oracle("scan-saturation");
    let cpu = run(dir.path(), &scan, 2, &["--threads", "1", "--ticks", "150"]);
    let two = run(dir.path(), &scan, 2, &["--threads", "2", "--ticks", "150"]);
    assert_eq!(files(&cpu), files(&two));
    let seed = "2".to_string();
    let out = dir.path().join("gpu");
    let o = paraverse(
        &[
            "run",
            scan.to_str().unwrap(),
            "--seed",
            &seed,
            "--ticks",
            "150",
            "--backend",
            "gpu",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        dir.path(),
    );
    if o.status.success() {
        let (a, b) = (files(&cpu), files(&out));
        // The summary names the backend; the series and events are the same bytes.
        assert_eq!(a[1], b[1], "time series differs between backends");
        assert_eq!(a[2], b[2], "events differ between backends");
    } else {
        common::skip_unless_required("PARAVERSE_REQUIRE_GPU", &text(&o.stderr));
    }
}

/// Every file of two results folders, by name.
fn folder(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The new state (scan flows, recovered nodes, the per-flow recording) is in checkpoints:
/// a run resumed from the middle writes the same files as one that never stopped.
#[test]
fn scan_flows_recovery_and_flow_records_survive_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(oracle("scan-saturation")).unwrap();
    let short =
        base.replace("stop = \"40 s\"", "stop = \"12 s\"") + "\n[recording]\nflows = true\n";
    let scan = variant(dir.path(), "scan.toml", &short);
    let sir = std::fs::read_to_string(oracle("sir-erdos-renyi"))
        .unwrap()
        .replace("stop = \"15 min\"", "stop = \"2 min\"");
    let sir = variant(dir.path(), "sir.toml", &sir);
    for (scenario, every) in [(&scan, "2 s"), (&sir, "20 s")] {
        let s = scenario.to_str().unwrap();
        let plain = paraverse(&["run", s, "-q", "--out", "plain"], dir.path());
        assert!(plain.status.success(), "{}", text(&plain.stderr));
        let ckpt = paraverse(
            &[
                "run",
                s,
                "-q",
                "--out",
                "ckpt",
                "--checkpoint-every",
                every,
                "--checkpoint-keep",
                "0",
            ],
            dir.path(),
        );
        assert!(ckpt.status.success(), "{}", text(&ckpt.stderr));
        let mut saved: Vec<_> = std::fs::read_dir(dir.path().join("ckpt.checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        saved.sort();
        assert!(saved.len() >= 4, "{saved:?}");
        let middle = saved[saved.len() / 2].to_str().unwrap().to_owned();
        let resumed = paraverse(
            &["run", "--from", &middle, "--out", "resumed", "-q"],
            dir.path(),
        );
        assert!(resumed.status.success(), "{}", text(&resumed.stderr));
        let expected = folder(&dir.path().join("plain"));
        assert!(expected.contains_key("flows.csv") == (scenario == &scan));
        assert!(
            expected == folder(&dir.path().join("resumed")),
            "{s}: resumed from {middle} differs"
        );
        for d in ["plain", "ckpt", "resumed", "ckpt.checkpoints"] {
            std::fs::remove_dir_all(dir.path().join(d)).unwrap();
        }
    }
}
