//! Every campaign of the threat catalogue reaches its goal on its undefended example
//! scenario and shows its effect in the summary; the botnet grows at the rate its
//! parameters imply; poisoning raises the detector's miss rate.

use paraverse_defenders::DefenderPlugin;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::AttackerPlugin;

fn run(scenario: Scenario, plugins: &[&dyn SimPlugin]) -> RunRecord {
    let mut u = Universe::build(scenario, plugins).expect("builds");
    u.run(|_| {});
    assert_eq!(u.fault(), None);
    u.finish()
}

fn bundled_run(name: &str) -> Summary {
    run(bundled::load(Some(name)).unwrap(), &[&AttackerPlugin]).summary
}

/// Every campaign of the run reached its goal, and its chain is in order.
fn assert_goals(s: &Summary) {
    assert!(!s.campaigns.is_empty());
    for c in &s.campaigns {
        let reached = c
            .goal_reached_s
            .unwrap_or_else(|| panic!("{} ({}) missed its goal: {:#?}", c.name, c.kind, c.steps));
        let first = c.steps[0]
            .reached_s
            .expect("the first step precedes the goal");
        assert!(first <= reached, "{}: goal before the first step", c.name);
        for step in &c.steps {
            assert!(
                step.step.technique.starts_with('T') || step.step.technique.starts_with("AML.T")
            );
        }
    }
    assert_eq!(s.impact.goals_reached, s.campaigns.len() as u64);
}

#[test]
fn intrusion_moves_laterally_to_the_high_value_target() {
    let s = bundled_run("campaign-intrusion");
    assert_goals(&s);
    assert!(s.counters["lateral_moves"] > 0);
    let c = &s.campaigns[0];
    let named = |n: &str| c.steps.iter().find(|x| x.step.name == n).unwrap();
    assert!(named("privilege_escalation").reached_s.is_some(), "{c:#?}");
    assert_eq!(named("lateral_movement").step.technique, "T1021");
}

#[test]
fn botnet_ddos_takes_down_the_render_farm_and_xr_quality() {
    let s = bundled_run("campaign-botnet-ddos");
    assert_goals(&s);
    assert!(s.counters["recruits"] > 100, "{:?}", s.counters);
    assert!(s.impact.service_down_s > 0.0);
    // The same network without the botnet keeps every XR stream within budget.
    let calm = bundled_run("campaign-intrusion");
    assert_eq!(calm.xr_quality, Some(1.0));
    assert!(s.xr_quality.unwrap() < 0.5, "xr quality {:?}", s.xr_quality);
    assert!(s.gauges["xr_quality_ppm"].min < 100_000);
}

#[test]
fn cryptojacking_steals_gpu_compute() {
    let s = bundled_run("campaign-cryptojacking");
    assert_goals(&s);
    assert!(s.impact.compute_stolen_node_s > 0.0);
    assert!(s.impact.compute_available_min.unwrap() < 1.0);
}

#[test]
fn phishing_with_a_fake_app_takes_accounts_and_drains_wallets() {
    let s = bundled_run("campaign-phishing");
    assert_goals(&s);
    assert!(s.impact.accounts_taken_over >= 20);
    assert!(s.impact.records_stolen["credentials"] >= s.impact.accounts_taken_over);
    assert!(s.impact.assets_stolen > 0 && s.impact.asset_value_stolen > 0.0);
}

#[test]
fn stuffing_and_deepfakes_take_over_accounts() {
    let s = bundled_run("campaign-takeover");
    assert_goals(&s);
    assert_eq!(s.campaigns.len(), 2);
    assert!(s.impact.accounts_taken_over >= 15);
}

#[test]
fn exfiltration_steals_biometric_records_first() {
    let s = bundled_run("campaign-exfiltration");
    assert_goals(&s);
    let r = &s.impact.records_stolen;
    assert!(r["biometric"] > 0 && r["health"] > 0, "{r:?}");
    // Biometric records weigh 20 each in the security loss.
    assert!(s.impact.security_loss >= 20.0 * r["biometric"] as f64);
}

#[test]
fn asset_theft_goes_through_a_ledger_that_refuses_double_spends() {
    let s = bundled_run("campaign-asset-theft");
    assert_goals(&s);
    assert!(s.impact.assets_stolen >= 1000);
    assert!(s.impact.double_spends_refused > 0);
    // Four wallets of 1,000 assets: nothing is stolen twice.
    assert!(s.impact.assets_stolen <= 4000);
    assert_eq!(
        s.impact.asset_value_stolen,
        s.impact.assets_stolen as f64 * 30.0
    );
}

#[test]
fn ransomware_encrypts_the_data_lake_and_it_stays_down() {
    let s = bundled_run("campaign-ransomware");
    assert_goals(&s);
    assert!(s.impact.service_down_s > 0.0);
}

#[test]
fn false_data_makes_the_twin_decide_wrongly() {
    let s = bundled_run("campaign-false-data");
    assert_goals(&s);
    assert!(s.impact.wrong_decisions > 0);
    assert!(s.impact.twin_divergence_max.unwrap() > 5.0);
}

#[test]
fn poisoning_inflates_the_detection_threshold() {
    let s = bundled_run("campaign-poisoning");
    assert_goals(&s);
    assert_eq!(s.impact.detector_threshold_scale_max, Some(5.0));
}

#[test]
fn the_siege_runs_every_campaign_to_its_goal() {
    let s = bundled_run("metaverse-under-siege");
    assert_goals(&s);
    assert_eq!(s.campaigns.len(), 11);
}

#[test]
fn a_campaign_run_is_deterministic() {
    let a = run(
        bundled::load(Some("metaverse-under-siege"))
            .unwrap()
            .with_ticks(300),
        &[&AttackerPlugin],
    );
    let b = run(
        bundled::load(Some("metaverse-under-siege"))
            .unwrap()
            .with_ticks(300),
        &[&AttackerPlugin],
    );
    assert_eq!(a.summary_json(), b.summary_json());
    assert_eq!(a.events_jsonl(), b.events_jsonl());
    let c = run(
        bundled::load(Some("metaverse-under-siege"))
            .unwrap()
            .with_ticks(300)
            .with_seed(8),
        &[&AttackerPlugin],
    );
    assert_ne!(
        a.events_jsonl(),
        c.events_jsonl(),
        "another seed, another run"
    );
}

/// The botnet's early growth is exponential with rate `β = scan_rate · dictionary · V / A`
/// (see [`crate::botnet`]). In ticks of `dt` the model is the branching process
/// `E[I(k+1) − I(k)] = β·dt · I(k) · (1 − I(k)/V)`, so
///
/// - the pooled estimate `Σ ΔI / Σ I·(1 − I/V)` over the early phase is unbiased for
///   `β·dt` (checked within 4%: about 3.5 standard errors for ~7,500 recruits), and
/// - `ln I` grows linearly in time (exponential growth; R² > 0.99) with slope
///   `ln(1 + β·dt)/dt`, within 1.2% of β here (checked within 6%, as depletion of up to
///   2% and the log of a random count bias the slope down by a few percent).
#[test]
#[expect(clippy::disallowed_methods, reason = "the analytic reference needs ln")]
fn botnet_grows_exponentially_at_the_rate_its_parameters_imply() {
    let v = 100_000.0f64;
    let (scan_rate, dictionary, dt): (f64, f64, f64) = (0.5, 0.9, 0.05);
    let text = format!(
        r#"[general]
name = "mirai-growth"
seed = 1
tick = "50 ms"
stop = "12 s"

[[zone]]
name = "iot"

[[group]]
name = "cams"
kind = "iot_sensor"
count = {v}
zone = "iot"
auth = "default_credentials"

[[campaign]]
name = "mirai"
[campaign.botnet]
entry = "cams"
initial = 100
scan_rate = {scan_rate}
dictionary = {dictionary}
ddos_target = "cams"
ddos_start = "1 h"
ddos_rate = "1 Mbit/s"
"#
    );
    let base = Scenario::from_toml_str(&text, "mirai-growth.toml").unwrap();
    let beta = scan_rate * dictionary; // V = A: every address is a device
    let (mut num, mut den) = (0.0, 0.0);
    let mut slopes = Vec::new();
    for seed in 1..=4u64 {
        let r = run(base.clone().with_seed(seed), &[&AttackerPlugin]);
        // Early phase: until 2% of the devices are bots; from tick 1 (footholds placed).
        let bots: Vec<f64> = r
            .series
            .states
            .iter()
            .skip(1)
            .map(|s| s.compromised as f64)
            .take_while(|&b| b <= 0.02 * v)
            .collect();
        assert!(bots.len() > 40, "the window covers enough ticks");
        for w in bots.windows(2) {
            num += w[1] - w[0];
            den += w[0] * (1.0 - w[0] / v);
        }
        // Least-squares line through (time, ln bots).
        let pts: Vec<(f64, f64)> = bots
            .iter()
            .enumerate()
            .map(|(t, &b)| (t as f64 * dt, b.ln()))
            .collect();
        let n = pts.len() as f64;
        let (sx, sy) = pts
            .iter()
            .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
        let (mx, my) = (sx / n, sy / n);
        let sxy: f64 = pts.iter().map(|&(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = pts.iter().map(|&(x, _)| (x - mx) * (x - mx)).sum();
        let syy: f64 = pts.iter().map(|&(_, y)| (y - my) * (y - my)).sum();
        let r2 = sxy * sxy / (sxx * syy);
        assert!(r2 > 0.99, "ln(bots) is linear in time: R² = {r2}");
        slopes.push(sxy / sxx);
    }
    let per_tick = num / den;
    assert!(
        (per_tick - beta * dt).abs() / (beta * dt) < 0.04,
        "recruits per bot per tick {per_tick:.5} vs model β·dt = {:.5}",
        beta * dt
    );
    let slope = slopes.iter().sum::<f64>() / slopes.len() as f64;
    let expected = (1.0 + beta * dt).ln() / dt;
    assert!(
        (slope - expected).abs() / expected < 0.06,
        "exponential rate {slope:.4}/s (per seed {slopes:?}) vs model {expected:.4}/s"
    );
}

/// With a detector watching, a poisoned model misses more of the worm's scanners.
#[test]
fn poisoning_raises_the_detectors_false_negative_rate() {
    let text = |poison: bool| {
        let mut t = String::from(
            r#"[general]
name = "poisoned-ids"
seed = 3
tick = "1 s"
stop = "10 min"

[[zone]]
name = "lan"

[[link]]
name = "wifi"
capacity = "1 Gbit/s"
latency = "2 ms"

[[service]]
name = "telnet"
port = 23
vulnerabilities = [{ id = "CVE-1", cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }]

[[group]]
name = "cams"
kind = "iot_sensor"
count = 3000
zone = "lan"
services = ["telnet"]

[[group]]
name = "aps"
kind = "gateway"
count = 10
zone = "lan"

[[group]]
name = "lake"
kind = "data_store"
count = 1
zone = "lan"
services = ["telnet"]

[[topology]]
generator = "access_tree"
children = "cams"
parents = "aps"
link = "wifi"

[[topology]]
generator = "access_tree"
children = "lake"
parents = "aps"
link = "wifi"

[[campaign]]
name = "worm"
start = "3 min"
[campaign.worm]
entry = "cams"
initial = 2
scan_rate = 2
address_space = 30000

[defense.detection]
threshold = 1.0
"#,
        );
        if poison {
            t.push_str(
                r#"
[[campaign]]
name = "poison"
entry = "cams"
attempt_rate = 1
target = "lake"
lateral_rate = 1
[campaign.poisoning]
samples_per_second = 5
samples_needed = 50
strength = 4
"#,
            );
        }
        Scenario::from_toml_str(&t, "poisoned-ids.toml").unwrap()
    };
    // False-negative rate: compromised worm nodes never alerted on.
    let miss_rate = |s: &Summary| {
        let worm = s.counters["infections"] as f64 + 2.0;
        1.0 - (s.counters["true_detections"] as f64 / worm).min(1.0)
    };
    let clean = run(text(false), &[&AttackerPlugin, &DefenderPlugin]).summary;
    let poisoned = run(text(true), &[&AttackerPlugin, &DefenderPlugin]).summary;
    assert!(
        poisoned.campaigns[1].goal_reached_s.unwrap() < 180.0,
        "poisoned before the worm"
    );
    assert!(clean.counters["infections"] > 100 && poisoned.counters["infections"] > 100);
    let (before, after) = (miss_rate(&clean), miss_rate(&poisoned));
    eprintln!("miss rate {before:.3} clean vs {after:.3} poisoned");
    assert!(
        after > before + 0.5,
        "miss rate {before:.3} clean vs {after:.3} poisoned"
    );
}
