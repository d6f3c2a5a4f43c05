//! Every campaign of the threat catalogue reaches its goal on its undefended example
//! scenario and shows its effect in the summary; the botnet grows at the rate its
//! parameters imply; poisoning raises the detector's miss rate.

use paraverse_defenders::DefenderPlugin;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::AttackerPlugin;

fn run(scenario: Scenario, plugins: &[&'static dyn SimPlugin]) -> RunRecord {
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

/// A LAN with one vulnerable telnet service, shared by the small test networks below.
const LAN: &str = r#"
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
"#;

/// With a detector watching, a poisoned model misses more of the worm's scanners.
#[test]
fn poisoning_raises_the_detectors_false_negative_rate() {
    let text = |poison: bool| {
        let mut t = [
            r#"[general]
name = "poisoned-ids"
seed = 3
tick = "1 s"
stop = "10 min"
"#,
            LAN,
            r#"
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
        ]
        .concat();
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

/// The supply-chain example at `seed`, with `settings` appended to its
/// `[campaign.supply_chain]` table (the file's last) and then `defense` sections.
fn supply_chain(seed: u64, settings: &str, defense: &str) -> RunRecord {
    // The example names its component; a test may name another (the default is `app`).
    let text = bundled::get("campaign-supply-chain")
        .unwrap()
        .text
        .replace("component = \"app\"\n", "");
    let text = format!("{text}{settings}\n{defense}");
    let scenario = Scenario::from_toml_str(&text, "supply-chain.toml")
        .unwrap()
        .with_seed(seed);
    run(scenario, &[&AttackerPlugin, &DefenderPlugin])
}

/// Nodes of the example's fleet (its headsets) and update service.
fn fleet_and_service(r: &RunRecord) -> (std::ops::Range<u32>, std::ops::Range<u32>) {
    let s = bundled::load(Some("campaign-supply-chain")).unwrap();
    let group = |n: &str| s.groups.iter().find(|g| g.name == n).unwrap().nodes();
    assert_eq!(r.summary.campaigns[0].kind, "supply_chain");
    (group("headsets"), group("update-service"))
}

#[test]
fn supply_chain_trojanises_the_whole_fleet_through_the_update_service() {
    for seed in [1, 2, 7] {
        let r = supply_chain(seed, "", "");
        assert_goals(&r.summary);
        let (fleet, service) = fleet_and_service(&r);
        let installs: Vec<&RunEvent> = r
            .events
            .iter()
            .filter(|e| e.kind == "trojanised_install")
            .collect();
        // Every headset, once, each from a node of the update service, within the hour
        // of rollout after the push.
        assert_eq!(installs.len(), fleet.len(), "seed {seed}");
        let mut nodes: Vec<u32> = installs.iter().map(|e| e.node.unwrap()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        assert_eq!(nodes.len(), fleet.len());
        assert!(nodes.iter().all(|n| fleet.contains(n)));
        assert!(
            installs
                .iter()
                .all(|e| service.contains(&e.source.unwrap()))
        );
        let c = &r.summary.campaigns[0];
        let push = c.steps[4].reached_s.unwrap();
        assert_eq!(c.steps[4].step.technique, "T1195.002");
        let last = installs.iter().map(|e| e.tick).max().unwrap();
        assert!(f64::from(last) * 10.0 < push + 3600.0, "seed {seed}");
        assert!(r.summary.counters["footholds"] >= fleet.len() as u64);
    }
}

#[test]
fn code_signing_stops_an_unsigned_trojan_but_not_a_signed_one() {
    let signing = "[defense.code_signing]\ncoverage = 1.0\n";
    for seed in [1, 2] {
        let open = supply_chain(seed, "", "");
        let count = |r: &RunRecord, kind: &str| r.events.iter().filter(|e| e.kind == kind).count();
        // Every node verifies and the build is not signed: every install is refused, and
        // each refusal is a certain alert on the sending server.
        let signed_off = supply_chain(seed, "", signing);
        assert_eq!(count(&signed_off, "trojanised_install"), 0, "seed {seed}");
        assert_eq!(count(&signed_off, "update_rejected"), 400);
        assert!(signed_off.summary.counters["tripwire_alerts"] > 0);
        assert!(signed_off.summary.campaigns[0].goal_reached_s.is_none());
        // A build the vendor's compromised pipeline signed passes verification: the fleet
        // falls as if undefended.
        let signed = supply_chain(seed, "signed = 1.0", signing);
        assert_eq!(count(&signed, "update_rejected"), 0);
        assert_eq!(
            count(&signed, "trojanised_install"),
            count(&open, "trojanised_install")
        );
        // Firmware is T1195.003.
        let firmware = supply_chain(seed, "component = \"firmware\"", "");
        assert_eq!(
            firmware.summary.campaigns[0].steps[4].step.technique,
            "T1195.003"
        );
    }
}

#[test]
fn quarantining_the_update_service_pulls_the_update() {
    // Partial coverage: the first refusals alert on the server, which is isolated, and
    // the rest of the fleet never gets the trojan.
    let defense = "[defense.code_signing]\ncoverage = 0.5\n\n[defense.quarantine]\ndelay = \"10 s\"\nrelease_after = \"2 h\"\n";
    for seed in [1, 2, 7] {
        let r = supply_chain(seed, "", defense);
        let installs = r
            .events
            .iter()
            .filter(|e| e.kind == "trojanised_install")
            .count();
        assert!(r.summary.counters["quarantines"] > 0, "seed {seed}");
        assert!(installs < 40, "seed {seed}: {installs} installs");
    }
}

/// A data store exposed to the Internet, exfiltrated at `rate` from its first tick, on a
/// network that makes no connections (so UEBA can only see volume), under UEBA.
fn exposed_store(rate: &str, campaign: bool) -> RunRecord {
    let mut t = String::from(
        r#"[general]
name = "exposed-store"
seed = 5
tick = "10 s"
stop = "1 h"

[[zone]]
name = "dc"

[[link]]
name = "lan"
capacity = "10 Gbit/s"
latency = "1 ms"

[[service]]
name = "db-admin"
port = 5432
vulnerabilities = [{ id = "CVE-2", cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }]

[[group]]
name = "vault"
kind = "data_store"
count = 4
zone = "dc"
services = ["db-admin"]
connections_per_second = 0
data = { health = 10000000 }

[[group]]
name = "apps"
kind = "cloud_vm"
count = 400
zone = "dc"
connections_per_second = 0

[[group]]
name = "drop"
kind = "cloud_vm"
count = 1
zone = "dc"
connections_per_second = 0

[[topology]]
generator = "mesh"
groups = ["vault", "apps", "drop"]
link = "lan"

[defense.detection]
method = "ueba"
sensitivity = 4.0
learning_rate = 0.05
"#,
    );
    if campaign {
        t.push_str(&format!(
            r#"
[[campaign]]
name = "leak"
start = "30 min"
entry = "vault"
attempt_rate = 1
target = "vault"
lateral_rate = 0

[campaign.exfiltration]
drop = "drop"
rate = "{rate}"
"#
        ));
    }
    let s = Scenario::from_toml_str(&t, "exposed-store.toml").unwrap();
    run(s, &[&AttackerPlugin, &DefenderPlugin])
}

#[test]
fn ueba_sees_exfiltration_by_its_volume_with_false_positives_from_bulk_uploads() {
    let alerted_store = |r: &RunRecord| {
        r.events
            .iter()
            .filter(|e| e.kind == "detection" && e.truth == Some(true))
            .filter(|e| e.node.is_some_and(|n| n < 4))
            .count()
    };
    // Nothing but volume can give the store away: it makes no connections, has no
    // failed log-ins, and exfiltration does not load its CPU.
    let fast = exposed_store("20 Mbit/s", true);
    assert!(fast.summary.impact.records_stolen["health"] > 0);
    assert!(alerted_store(&fast) >= 1, "{:?}", fast.summary.counters);
    // Low and slow, under a server's usual traffic, goes unseen.
    let slow = exposed_store("500 kbit/s", true);
    assert!(slow.summary.impact.records_stolen["health"] > 0);
    assert_eq!(alerted_store(&slow), 0);
    // A clean network: every alert is a benign bulk upload, a false positive.
    let clean = exposed_store("", false);
    let fp = clean.summary.counters["false_detections"];
    assert!(
        fp > 0 && fp < 20,
        "{fp} false positives in 145,800 node-ticks"
    );
    assert_eq!(clean.summary.counters["true_detections"], 0);
}

#[test]
fn hundreds_of_campaigns_coexist_past_the_old_255_limit() {
    let mut t = [
        r#"[general]
name = "crowded"
seed = 4
tick = "10 s"
stop = "10 min"
"#,
        LAN,
        r#"
[[group]]
name = "cams"
kind = "iot_sensor"
count = 200
zone = "lan"
services = ["telnet"]

[[group]]
name = "nvr"
kind = "server"
count = 2
zone = "lan"
services = ["telnet"]

[[topology]]
generator = "access_tree"
children = "cams"
parents = "nvr"
link = "wifi"
"#,
    ]
    .concat();
    for k in 0..300 {
        t.push_str(&format!(
            "\n[[campaign]]\nname = \"apt-{k}\"\nentry = \"cams\"\nattempt_rate = 1\ntarget = \"nvr\"\nlateral_rate = 1\n[campaign.intrusion]\n"
        ));
    }
    let s = Scenario::from_toml_str(&t, "crowded.toml").unwrap();
    let r = run(s, &[&AttackerPlugin]);
    assert_eq!(r.summary.campaigns.len(), 300);
    // The last campaigns act and are told apart from the first (a u8 id would alias
    // campaign 299 with 43).
    assert!(r.summary.campaigns[299].goal_reached_s.is_some());
    assert!(r.events.iter().any(|e| e.campaign == Some(299)));
    assert!(r.events.iter().any(|e| e.campaign == Some(43)));
}

/// A red operator's launch starts a campaign of any kind ahead of its schedule: its first
/// kill-chain step comes earlier than on schedule, the launch is counted and logged at
/// the tick it acts, and launching it again once under way changes nothing.
#[test]
fn a_launched_campaign_starts_at_the_next_tick_whatever_its_kind() {
    use paraverse_sim::operator::{OperatorAction, OperatorPlugin};
    let plugins: [&'static dyn SimPlugin; 2] = [&AttackerPlugin, &OperatorPlugin];
    let first_step = |r: &RunRecord| {
        r.summary.campaigns[0]
            .steps
            .iter()
            .filter_map(|s| s.reached_s)
            .fold(f64::INFINITY, f64::min)
    };
    for name in [
        "metaverse-campus",
        "campaign-botnet-ddos",
        "campaign-takeover",
        "campaign-exfiltration",
    ] {
        let s = bundled::load(Some(name)).unwrap();
        assert!(s.campaigns[0].start_tick > 3, "{name}");
        let scheduled = run(s.clone(), &plugins);
        let mut u = Universe::build(s, &plugins).unwrap();
        u.step();
        u.act(&[OperatorAction::Launch(0)]).unwrap();
        u.step();
        u.act(&[OperatorAction::Launch(0)]).unwrap();
        u.run(|_| {});
        let launched = u.finish();
        assert!(
            first_step(&launched) < first_step(&scheduled),
            "{name}: {} vs {}",
            first_step(&launched),
            first_step(&scheduled)
        );
        assert_eq!(launched.summary.counters["launches"], 1, "{name}");
        let logged: Vec<_> = launched
            .events
            .iter()
            .filter(|e| e.kind == "operator_launch")
            .map(|e| (e.tick, e.campaign))
            .collect();
        assert_eq!(logged, [(2, Some(0))], "{name}");
    }
}
