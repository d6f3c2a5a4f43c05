//! Same scenario and seed ⇒ bit-identical outputs at 1, 2 and 4 threads.
//!
//! The worlds here are larger than one rayon chunk (8,192 nodes), so the parallel paths
//! really split work differently at each thread count; a result that depended on who
//! computed what would differ here.

mod common;

use paraverse_attackers::AttackerPlugin;
use paraverse_lab::plugins::plugins;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

/// The outputs a user compares: summary, time series, events.
fn outputs(scenario: &Scenario, threads: usize) -> (String, String, String) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut u = Universe::build(scenario.clone(), &plugins()).unwrap();
        u.run(|_| {});
        let r = u.finish();
        (r.summary_json(), r.series_csv(), r.events_jsonl())
    })
}

/// The 1M-terminal smart city scaled down 20× (about 50,000 nodes), same topology and
/// defenses; every generator and system runs over several chunks.
fn city_50k() -> Scenario {
    city_50k_of(bundled::get("smart-city-1m").unwrap().text)
}

/// `text` (the 1M city's file, maybe edited) with every group a twentieth of its size.
fn city_50k_of(text: &str) -> Scenario {
    let text: String = text
        .lines()
        .map(|line| match line.strip_prefix("count = ") {
            Some(n) => format!("count = {}\n", (n.parse::<u32>().unwrap() / 20).max(1)),
            None => format!("{line}\n"),
        })
        .collect();
    Scenario::from_toml_str(&text, "city-50k.toml")
        .unwrap()
        .with_ticks(120)
}

fn assert_identical_across_threads(scenario: &Scenario) {
    let reference = outputs(scenario, 1);
    assert!(
        reference.2.lines().count() > 10,
        "the run does something: {}",
        reference.0
    );
    for threads in [2, 4] {
        let other = outputs(scenario, threads);
        assert!(
            reference.0 == other.0,
            "summary differs at {threads} threads"
        );
        assert!(
            reference.1 == other.1,
            "time series differs at {threads} threads"
        );
        assert!(
            reference.2 == other.2,
            "event log differs at {threads} threads"
        );
    }
}

#[test]
fn city_is_bit_identical_at_1_2_and_4_threads() {
    let s = city_50k();
    assert!(s.node_count > 4 * CHUNK as u32);
    assert_identical_across_threads(&s);
}

#[test]
fn default_campus_is_bit_identical_at_1_2_and_4_threads() {
    assert_identical_across_threads(&bundled::load(None).unwrap());
}

#[test]
fn local_preference_worm_is_bit_identical_across_threads() {
    // The city worm scans randomly; switch it to local preference over the BA peer graph.
    let text = city_50k().source.replace(
        "strategy = \"random\"",
        "strategy = \"local_preference\"\nlocal_bias = 0.7",
    );
    let s = Scenario::from_toml_str(&text, "city-local.toml")
        .unwrap()
        .with_ticks(80);
    assert_identical_across_threads(&s);
}

#[test]
fn another_seed_gives_another_run() {
    let s = city_50k().with_ticks(60);
    let a = outputs(&s, 2);
    let b = outputs(&s.clone().with_seed(7), 2);
    assert_ne!(a.2, b.2);
}

/// A golden value: a hash of the default campus run's time series and events. If a change alters results on
/// purpose, update it and say why in the commit; if not, the change broke determinism
/// across versions or machines.
#[test]
fn default_campus_matches_its_golden_fingerprint() {
    let (summary, series, events) = outputs(&bundled::load(None).unwrap(), 2);
    let fingerprint = paraverse_sim::rng::fnv1a(format!("{series}{events}").as_bytes());
    let golden = include_str!("golden/metaverse-campus.fnv").trim();
    assert_eq!(format!("{fingerprint:016x}"), golden, "summary:\n{summary}");
}

/// Runs `scenario` on the GPU and the CPU backend and checks the files are identical;
/// returns the CPU outputs, or `None` (skipped) without a Vulkan adapter unless
/// `PARAVERSE_REQUIRE_GPU=1` (CI sets it and installs Mesa lavapipe).
fn assert_gpu_matches_cpu(
    scenario: &Scenario,
    plugins: &[&'static dyn SimPlugin],
) -> Option<(String, String, String)> {
    let run = |backend| {
        let mut u = Universe::build_with(scenario.clone(), backend, plugins)?;
        u.run(|_| {});
        assert_eq!(u.fault(), None);
        let r = u.finish();
        Ok::<_, BuildError>((r.summary_json(), r.series_csv(), r.events_jsonl()))
    };
    let gpu = match run(BackendChoice::Gpu) {
        Ok(out) => out,
        Err(e) => {
            common::skip_unless_required("PARAVERSE_REQUIRE_GPU", &e.to_string());
            return None;
        }
    };
    let cpu = run(BackendChoice::Cpu).unwrap();
    assert!(gpu.0 == cpu.0, "summary differs between backends");
    assert!(gpu.1 == cpu.1, "time series differs between backends");
    assert!(gpu.2 == cpu.2, "events differ between backends");
    // Ticks whose channels all have room allocate without the solver: the comparison
    // means something only where some channel was oversubscribed.
    let summary: serde_json::Value = serde_json::from_str(&cpu.0).unwrap();
    let overloaded = &summary["gauges"]["overloaded_channels"]["max"];
    assert!(
        overloaded.as_u64().is_some_and(|n| n > 0),
        "no channel was oversubscribed ({overloaded}): the solver never ran"
    );
    Some(cpu)
}

/// The GPU traffic backend gives the same files as the CPU one. The city's metro links
/// are cut from 40 to 1 Gbit/s so that its XR streams oversubscribe 47 channels every
/// tick and the solver runs on each (at 40 Gbit/s every channel has room).
#[test]
fn gpu_backend_is_bit_identical_to_cpu() {
    let text = bundled::get("smart-city-1m").unwrap().text;
    let metro = "name = \"metro\"\ncapacity = \"40 Gbit/s\"";
    assert!(text.contains(metro));
    let cut = text.replace(metro, "name = \"metro\"\ncapacity = \"1 Gbit/s\"");
    let scenario = city_50k_of(&cut).with_ticks(40);
    if let Some(cpu) = assert_gpu_matches_cpu(&scenario, &plugins()) {
        assert!(cpu.1.contains("xr_quality_ppm"));
    }
}

/// Every shipped campaign scenario (all of the threat catalogue) is bit-identical at 1,
/// 2 and 4 threads; the siege runs them all at once.
#[test]
fn every_campaign_scenario_is_bit_identical_across_threads() {
    for b in bundled::ALL
        .iter()
        .filter(|b| b.name.starts_with("campaign-") || b.name == "metaverse-under-siege")
    {
        eprintln!("{}", b.name);
        assert_identical_across_threads(&bundled::load(Some(b.name)).unwrap());
    }
}

/// The botnet's DDoS flows and the exfiltration flows go through the traffic core; the
/// GPU backend allocates them exactly as the CPU does.
#[test]
fn attack_flows_are_bit_identical_on_the_gpu_backend() {
    let scenario = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_ticks(400);
    if let Some(cpu) = assert_gpu_matches_cpu(&scenario, &[&AttackerPlugin]) {
        assert!(cpu.2.contains("\"flood\""), "the DDoS ran in the window");
    }
}

/// Every defense at once against every campaign: bit-identical at 1, 2 and 4 threads.
#[test]
fn the_full_defense_stack_against_the_siege_is_bit_identical_across_threads() {
    let strategy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/strategies/full-stack.toml"
    ))
    .unwrap();
    let s = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(&strategy, "full-stack.toml")
        .unwrap();
    assert_identical_across_threads(&s);
}
