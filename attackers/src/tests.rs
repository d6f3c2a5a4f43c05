//! Worm behaviour against analytic models and the topology.

use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::AttackerPlugin;

fn run(scenario: Scenario) -> RunRecord {
    let mut u = Universe::build(scenario, &[&AttackerPlugin]).expect("builds");
    u.run(|_| {});
    u.finish()
}

/// The random-scanning worm follows the homogeneous-mixing logistic model
/// `da/dt = K·a·(1−a)` (see `scenarios/worm-logistic.toml` for K and a(0)).
#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the analytic reference needs exp and ln"
)]
fn random_scanning_worm_follows_the_logistic_model() {
    let base = bundled::load(Some("worm-logistic")).unwrap();
    let v = f64::from(base.node_count);
    let k = 0.1; // scan_rate · V / address_space, with exploit chance 1
    let a0 = 400.0 / v;
    let dt = base.tick.as_secs_f64();
    let seeds = [1u64, 2, 3];
    let runs: Vec<RunRecord> = seeds
        .iter()
        .map(|&s| run(base.clone().with_seed(s)))
        .collect();
    let ticks = runs[0].series.states.len();

    let mut worst = (0.0f64, 0usize);
    for t in 1..ticks {
        let simulated = runs
            .iter()
            .map(|r| r.series.states[t].ever_compromised as f64 / v)
            .sum::<f64>()
            / seeds.len() as f64;
        // Footholds are placed at the start of tick 1 (time 0), so the row of tick t, taken
        // at the end of the tick, is at time t·dt.
        let time = t as f64 * dt;
        let model = 1.0 / (1.0 + (1.0 - a0) / a0 * (-k * time).exp());
        let err = (simulated - model).abs();
        if err > worst.0 {
            worst = (err, t);
        }
    }
    assert!(
        worst.0 < 0.03,
        "infected share deviates from the logistic model by {:.4} at tick {}",
        worst.0,
        worst.1
    );

    let t50_model = ((1.0 - a0) / a0).ln() / k;
    let t50_sim = runs
        .iter()
        .map(|r| {
            r.summary
                .time_to_half_vulnerable_s
                .expect("worm reaches half")
        })
        .sum::<f64>()
        / seeds.len() as f64;
    let rel = (t50_sim - t50_model).abs() / t50_model;
    assert!(
        rel < 0.03,
        "time to half: simulated {t50_sim:.2} s, model {t50_model:.2} s ({:.1}% off)",
        rel * 100.0
    );
    eprintln!(
        "logistic: worst deviation {:.4} at tick {}; t50 {t50_sim:.2} s vs {t50_model:.2} s",
        worst.0, worst.1
    );
    // Saturation: (almost) everyone ends infected; a(150 s) = 0.99997 in the model.
    assert!(runs[0].summary.compromised_final >= u64::from(base.node_count) * 999 / 1000);
}

/// An empty address space beyond the nodes slows the worm by exactly that factor: with
/// twice the addresses, K halves and the time to half doubles (within noise).
#[test]
fn a_larger_address_space_slows_the_worm_in_proportion() {
    let base = bundled::load(Some("worm-logistic")).unwrap();
    let doubled = base.source.replace(
        "strategy = \"random\"",
        "strategy = \"random\"\naddress_space = 80000",
    );
    let slow = Scenario::from_toml_str(&doubled, "doubled.toml")
        .unwrap()
        .with_ticks(2000);
    let fast = run(base).summary.time_to_half_vulnerable_s.unwrap();
    let slow = run(slow).summary.time_to_half_vulnerable_s.unwrap();
    let ratio = slow / fast;
    assert!((1.85..2.15).contains(&ratio), "ratio {ratio:.3}");
}

const LOCAL: &str = r#"
[general]
name = "local"
seed = 3
tick = "1 s"
stop = "60 s"
[[zone]]
name = "z"
[[link]]
name = "wifi"
capacity = "1 Gbit/s"
latency = "2 ms"
[[service]]
name = "telnet"
port = 23
vulnerabilities = [{ id = "CVE-X", cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }]
[[group]]
name = "cams"
kind = "iot_sensor"
count = 5000
zone = "z"
services = ["telnet"]
[[group]]
name = "aps"
kind = "gateway"
count = 50
zone = "z"
[[topology]]
generator = "access_tree"
children = "cams"
parents = "aps"
link = "wifi"
[[campaign]]
name = "w"
[campaign.worm]
entry = "cams"
initial = 1
scan_rate = 1
strategy = "local_preference"
local_bias = 1.0
"#;

/// A local-preference worm with bias 1 only ever infects nodes within two hops: the
/// cameras behind its own access point.
#[test]
fn local_preference_worm_stays_within_two_hops() {
    let s = Scenario::from_toml_str(LOCAL, "local.toml").unwrap();
    let record = run(s);
    let infections: Vec<&RunEvent> = record
        .events
        .iter()
        .filter(|e| e.kind == "infection")
        .collect();
    assert!(!infections.is_empty(), "the worm spreads locally");
    // 5000 cameras on 50 access points: 100 per AP, in contiguous blocks.
    for e in &infections {
        let (node, source) = (e.node.unwrap(), e.source.unwrap());
        assert_eq!(
            node / 100,
            source / 100,
            "infection crossed access points: {e:?}"
        );
    }
    assert!(record.summary.compromised_final <= 100);
}

/// The same scenario and seed give the same infections; another seed gives others.
#[test]
fn worm_runs_are_reproducible() {
    let s = Scenario::from_toml_str(LOCAL, "local.toml").unwrap();
    let a = run(s.clone());
    let b = run(s.clone());
    assert_eq!(a.events, b.events);
    assert_eq!(a.series_csv(), b.series_csv());
    let c = run(s.with_seed(99));
    assert_ne!(a.events, c.events);
}

/// Patched nodes and nodes without the exploited service are never infected.
#[test]
fn only_exposed_nodes_with_the_service_fall() {
    let text = LOCAL
        .replace("local_bias = 1.0", "local_bias = 0.0")
        .replace(
            "strategy = \"local_preference\"",
            "strategy = \"local_preference\"\nservice = \"telnet\"",
        )
        .replace(
            "count = 5000\nzone = \"z\"\nservices = [\"telnet\"]",
            "count = 5000\nzone = \"z\"\nservices = [\"telnet\"]\npatch_level = 0.5",
        );
    let s = Scenario::from_toml_str(&text, "patched.toml")
        .unwrap()
        .with_ticks(200);
    let record = run(s);
    let first = record.series.states[0];
    assert!(first.patched > 2000 && first.patched < 3000, "{first:?}");
    // Gateways run no telnet; patched cameras are immune: at most the unpatched ones fall
    // (plus the single foothold, which may be a patched camera).
    assert!(record.summary.compromised_ever <= first.vulnerable + 1);
    assert!(
        record.summary.compromised_ever > first.vulnerable * 9 / 10,
        "{:?}",
        record.summary
    );
}

#[test]
fn a_worm_declares_the_nodes_it_can_take() {
    let scenario = bundled::load(Some("metaverse-campus"))
        .unwrap()
        .with_ticks(1);
    let universe = Universe::build(scenario.clone(), &[&AttackerPlugin]).unwrap();
    let surface = universe.world().resource::<AttackSurface>();
    let [Some(worm)] = surface.campaigns() else {
        panic!("one declared campaign: {surface:?}");
    };
    // The telnet worm: the two IoT groups, unpatched; its footholds at launch.
    let group = |name: &str| scenario.groups.iter().position(|g| g.name == name).unwrap();
    let exposed: Vec<usize> = (0..scenario.groups.len())
        .filter(|&g| worm.groups[g])
        .collect();
    assert_eq!(exposed, vec![group("wearables"), group("sensors")]);
    let (sensors, launch) = worm.entry.unwrap();
    assert_eq!(usize::from(sensors), group("sensors"));
    let patched = Security {
        patched: true,
        ..Security::default()
    };
    let wearables = group("wearables") as u16;
    assert!(surface.admits(&Security::default(), wearables, launch + 10));
    assert!(!surface.admits(&patched, wearables, launch + 10));
    assert!(!surface.admits(&Security::default(), group("phones") as u16, launch + 10));
    // A foothold lands on any node of the entry group, patched or not.
    assert!(surface.admits(&patched, sensors, launch));
    assert!(!surface.admits(&patched, sensors, launch + 2));
}

/// The entry nodes are the `initial` nodes of the entry group with the smallest keys,
/// whatever the thread count and however the group is split among tasks: the parallel
/// selection against a plain sort of every key, from none to more than the group holds.
#[test]
fn entry_nodes_are_the_smallest_keys_at_any_thread_count() {
    use crate::worm::{WormCampaigns, entry_nodes};
    let scenario = bundled::load(Some("worm-logistic")).unwrap();
    let u = Universe::build(scenario.clone(), &[&AttackerPlugin]).expect("builds");
    let rng = *u.world().resource::<SimRng>();
    let mut w = u.world().resource::<WormCampaigns>().campaigns[0].clone();
    let group = &scenario.groups[w.worm.entry as usize];
    assert!(group.count > 30_000, "the group spans several tasks");
    let stream = crate::worm::ENTRY.derive(u64::from(w.campaign));
    let mut keyed: Vec<(u64, u32)> = group
        .nodes()
        .map(|n| (rng.draw(stream, n, 0, 0), n))
        .collect();
    keyed.sort_unstable();
    for initial in [0, 1, 400, 20_000, group.count, group.count + 5] {
        w.worm.initial = initial;
        let k = (initial as usize).min(keyed.len());
        let mut expected: Vec<u32> = keyed[..k].iter().map(|&(_, n)| n).collect();
        expected.sort_unstable();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| entry_nodes(&rng, &w, &scenario));
            assert_eq!(got, expected, "{initial} entries at {threads} threads");
        }
    }
}

/// A worm keeps the list of the nodes it may hold from one tick to the next (#20), and
/// that list hears of every node handed to it from outside: a node the twin or a test
/// compromises for it (`with_security_mut`) and one the red team exploits for it
/// (`OperatorAction::Exploit`) are among its scanners the next tick, so on its list
/// after that tick; without an outside edit the next tick reads the list alone. (Debug
/// builds also check every tick's scanners against a pass over every node.)
#[test]
fn a_worm_keeps_its_nodes_and_hears_of_nodes_handed_to_it() {
    use paraverse_sim::operator::{OperatorAction, OperatorPlugin};
    use paraverse_sim::world::SecurityEdits;

    use crate::worm::WormCampaigns;
    let plugins: [&'static dyn SimPlugin; 2] = [&AttackerPlugin, &OperatorPlugin];
    let scenario = bundled::load(Some("metaverse-campus")).unwrap();
    let start = scenario.campaigns[0].start_tick;
    let mut u = Universe::build(scenario, &plugins).unwrap();
    for _ in 0..=start + 2 {
        u.step();
    }
    let held = |u: &Universe| {
        let w = &u.world().resource::<WormCampaigns>().campaigns[0];
        (
            w.campaign,
            w.held.clone().expect("a list once the worm scans"),
        )
    };
    let (campaign, (at, list)) = held(&u);
    // A quiet tick: the list was made at the current count of edits, so the next tick
    // reads it alone; it is in id order and holds every node the worm holds.
    assert_eq!(at, u.world().resource::<SecurityEdits>().0);
    assert!(list.windows(2).all(|p| p[0] < p[1]), "in id order");
    let holding: Vec<u32> = u.with_security(|s| {
        (0..s.len() as u32)
            .filter(|&n| {
                let s = &s[n as usize];
                s.compromised && !s.quarantined && s.campaign == campaign
            })
            .collect()
    });
    assert!(!holding.is_empty());
    assert!(holding.iter().all(|n| list.binary_search(n).is_ok()));
    // Two clean exposed nodes not on the list: one handed over directly, one exploited.
    let (direct, exploited) = u.with_security(|s| {
        let mut clean = (0..s.len() as u32)
            .rev()
            .filter(|&n| s[n as usize].exposed() && list.binary_search(&n).is_err());
        (clean.next().unwrap(), clean.next().unwrap())
    });
    // Each handed over on its own tick, then a quiet tick that reads the list alone.
    let on_list_after = |u: &mut Universe, node: u32| {
        u.step();
        u.step();
        let (_, (_, list)) = held(u);
        let quarantined = u.with_security(|s| s[node as usize].quarantined);
        quarantined || list.binary_search(&node).is_ok()
    };
    u.with_security_mut(|s| assert!(s[direct as usize].compromise(campaign)));
    assert!(on_list_after(&mut u, direct), "a node compromised directly");
    // The exploit lands as the next tick starts.
    u.act(&[OperatorAction::Exploit {
        node: exploited,
        campaign,
    }])
    .unwrap();
    assert!(
        on_list_after(&mut u, exploited),
        "a node exploited by the red team"
    );
    let quarantined = u.with_security(|s| {
        (
            s[direct as usize].quarantined,
            s[exploited as usize].quarantined,
        )
    });
    assert!(
        quarantined != (true, true),
        "both quarantined already: the test shows nothing"
    );
}
