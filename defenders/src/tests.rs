//! Each defense measurably reduces the worm, and its cost shows.

use paraverse_attackers::AttackerPlugin;
use paraverse_sim::prelude::*;

use crate::DefenderPlugin;

const BASE: &str = r#"
[general]
name = "defended"
seed = 1
tick = "1 s"
stop = "5 min"
[[zone]]
name = "iot"
[[zone]]
name = "office"
[[service]]
name = "telnet"
port = 23
vulnerabilities = [{ id = "CVE-X", cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }]
[[group]]
name = "cams"
kind = "iot_sensor"
count = 4000
zone = "iot"
services = ["telnet"]
connections_per_second = 0.5
[[group]]
name = "pcs"
kind = "phone"
count = 1000
zone = "office"
[[campaign]]
name = "w"
start = "10 s"
[campaign.worm]
entry = "cams"
initial = 5
scan_rate = 0.1
"#;

fn run(text: &str, seed: u64) -> RunRecord {
    let s = Scenario::from_toml_str(text, "defended.toml")
        .unwrap()
        .with_seed(seed);
    let mut u = Universe::build(s, &[&AttackerPlugin, &DefenderPlugin]).unwrap();
    u.run(|_| {});
    u.finish()
}

fn mean_ever(text: &str) -> f64 {
    let seeds = [1, 2, 3, 4];
    seeds
        .iter()
        .map(|&s| run(text, s).summary.compromised_ever as f64)
        .sum::<f64>()
        / 4.0
}

#[test]
fn patching_slows_the_worm_and_counts_its_work() {
    let patched = format!("{BASE}\n[defense.patching]\ninterval = \"20 s\"\ncoverage = 0.2\n");
    let none = mean_ever(BASE);
    let with = mean_ever(&patched);
    assert!(with < none * 0.5, "patching: {with} vs {none} compromised");
    let r = run(&patched, 1);
    assert!(
        r.summary.counters["patches"] > 3000,
        "{:?}",
        r.summary.counters
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.kind == "patch_round" && e.tick == 20)
    );
}

#[test]
fn patching_covers_only_its_zones() {
    let text = format!(
        "{BASE}\n[defense.patching]\ninterval = \"10 s\"\ncoverage = 1.0\nzones = [\"office\"]\n"
    );
    let r = run(&text, 1);
    // Only the 1000 office phones are patched; every camera stays unpatched.
    assert_eq!(r.summary.counters["patches"], 1000);
}

const DETECT: &str = "\n[defense.detection]\nthreshold = 2\nzones = [\"iot\"]\n";

#[test]
fn detection_sees_fast_scanners_and_benign_bursts_but_not_slow_scanners() {
    // Fast scanners: 5 scans/s against a threshold of 2/s.
    let fast = BASE.replace("scan_rate = 0.1", "scan_rate = 5") + DETECT;
    let r = run(&fast, 1);
    let c = &r.summary.counters;
    assert!(c["true_detections"] > 0, "{c:?}");
    // Benign bursts above the threshold are honest false positives.
    assert!(c["false_detections"] > 0, "{c:?}");
    // Every initial foothold is detected in its first scanning tick.
    let first = r
        .events
        .iter()
        .filter(|e| e.kind == "initial_compromise")
        .count();
    let at_start = r
        .events
        .iter()
        .filter(|e| e.kind == "detection" && e.truth == Some(true) && e.tick == 11)
        .count();
    assert_eq!(at_start, first);
    // Only the monitored zone's nodes (the cams, ids 0 to 3,999) are alerted on; watching
    // the office instead, where no scanner is, sees none of them.
    assert!(
        r.events
            .iter()
            .filter(|e| e.kind == "detection")
            .all(|e| e.node.is_some_and(|n| n < 4000))
    );
    let office = run(
        &fast.replace("zones = [\"iot\"]", "zones = [\"office\"]"),
        1,
    );
    assert_eq!(office.summary.counters["true_detections"], 0);

    // Slow scanners below the threshold are false negatives: never detected.
    let slow = BASE.replace("stop = \"5 min\"", "stop = \"60 s\"") + DETECT;
    let r = run(&slow, 1);
    // (A benign burst on an infected node may still trip it now and then.)
    let c = &r.summary.counters;
    assert!(r.summary.compromised_ever > 50, "{:?}", r.summary);
    assert!(
        c["true_detections"] * 20 < r.summary.compromised_ever,
        "{c:?}"
    );
}

#[test]
fn quarantine_follows_detection_after_the_delay_and_contains_the_worm() {
    // 5 scans/s into a sparse address space (8% occupied): detected in the first tick,
    // isolated one tick later, each scanner's expected victims 2 × 5 × 0.08 < 1.
    let fast = BASE.replace("scan_rate = 0.1", "scan_rate = 5\naddress_space = 50000");
    let defended = format!("{fast}{DETECT}\n[defense.quarantine]\ndelay = \"1 s\"\n");
    let r = run(&defended, 1);
    for q in r.events.iter().filter(|e| e.kind == "quarantine") {
        let detected = r
            .events
            .iter()
            .find(|e| e.kind == "detection" && e.node == q.node)
            .expect("every quarantine follows a detection");
        assert_eq!(q.tick, detected.tick + 1, "{q:?} after {detected:?}");
    }
    let c = &r.summary.counters;
    assert!(c["quarantines"] > 0 && c["false_quarantines"] > 0, "{c:?}");
    let undefended = mean_ever(&fast);
    let defended_mean = mean_ever(&defended);
    assert!(
        defended_mean < undefended * 0.2,
        "quarantine: {defended_mean} vs {undefended} compromised"
    );
}

#[test]
fn released_nodes_come_back_clean_and_patched() {
    let text = BASE.replace("scan_rate = 0.1", "scan_rate = 5")
        + DETECT
        + "\n[defense.quarantine]\ndelay = \"0 s\"\nrelease_after = \"30 s\"\n";
    let s = Scenario::from_toml_str(&text, "release.toml").unwrap();
    let mut u = Universe::build(s, &[&AttackerPlugin, &DefenderPlugin]).unwrap();
    u.run(|_| {});
    let world = u.world_mut();
    let mut q = world.query::<(&NodeId, &Security)>();
    let states: Vec<(u32, Security)> = q.iter(world).map(|(id, s)| (id.0, *s)).collect();
    let record = u.finish();
    assert!(record.summary.counters["releases"] > 0);
    let released: Vec<u32> = record
        .events
        .iter()
        .filter(|e| e.kind == "release")
        .filter_map(|e| e.node)
        .collect();
    for node in released {
        let s = states.iter().find(|(id, _)| *id == node).unwrap().1;
        assert!(s.patched && !s.compromised, "node {node}: {s:?}");
    }
}

/// An empty zone list covers every zone; a strategy's `kind:` list that selected nothing
/// in this scenario ([`NO_ZONE`](paraverse_sim::scenario::NO_ZONE)) covers none.
#[test]
fn a_zone_list_that_selected_nothing_covers_no_zone() {
    use paraverse_sim::scenario::NO_ZONE;
    assert_eq!(crate::zone_mask(3, &[]), vec![true; 3]);
    assert_eq!(crate::zone_mask(3, &[NO_ZONE]), vec![false; 3]);
    assert_eq!(crate::zone_mask(3, &[1]), vec![false, true, false]);
}

/// A universe that follows a real network (a twin's member) acts only on the alerts the
/// real network raised: its detectors' other alerts are dropped, their nodes left on the
/// network, and an attacker it held there reported as revealed (and left there); in any
/// other tick, or without the feed, every alert passes.
#[test]
fn a_fed_universe_acts_only_on_the_real_alerts() {
    use crate::detection::FedAlerts;
    use crate::response::Alerts;
    let fast = BASE.replace("scan_rate = 0.1", "scan_rate = 5");
    let text = format!("{fast}{DETECT}\n[defense.quarantine]\ndelay = \"1 s\"\n");
    let scenario = Scenario::from_toml_str(&text, "defended.toml").unwrap();
    let plugins: [&dyn SimPlugin; 2] = [&AttackerPlugin, &DefenderPlugin];
    let build = || Universe::build(scenario.clone(), &plugins).unwrap();
    // Unfed: the tick the footholds first scan, every one of them is alerted on.
    let mut free = build();
    while free.clock().tick < 11 {
        free.step();
    }
    let raised = free.world().resource::<Alerts>().raised.clone();
    let held: Vec<u32> = free.with_security(|s| {
        raised[1..]
            .iter()
            .copied()
            .filter(|&n| s[n as usize].compromised)
            .collect()
    });
    assert!(
        held.len() >= 3 && held.len() < raised.len() - 1,
        "{raised:?} {held:?}"
    );
    // Fed the same tick with only the first of those alerts.
    let mut fed = build();
    while fed.clock().tick < 10 {
        fed.step();
    }
    let real = vec![raised[0]];
    fed.world_mut().insert_resource(FedAlerts {
        tick: 11,
        alerted: real.clone(),
        revealed: Vec::new(),
    });
    fed.step();
    assert_eq!(fed.world().resource::<Alerts>().raised, real);
    let revealed = fed.world().resource::<FedAlerts>().revealed.clone();
    assert_eq!(revealed, held, "the attackers there, not the benign bursts");
    fed.with_security(|s| {
        assert!(s[raised[0] as usize].alerted);
        for &n in &raised[1..] {
            let s = &s[n as usize];
            assert!(
                !s.alerted && s.compromised == held.contains(&n) && s.rebuilds == 0,
                "{n}: {s:?}"
            );
        }
    });
    // A feed of another tick lets every alert pass: next tick the responses isolate only
    // what was kept.
    fed.step();
    fed.with_security(|s| {
        assert!(s[raised[0] as usize].quarantined);
        for &n in &raised[1..] {
            assert!(!s[n as usize].quarantined, "{n}");
        }
    });
    free.step();
    free.with_security(|s| {
        for &n in &raised {
            assert!(s[n as usize].quarantined, "{n}");
        }
    });
}

/// A detector reads only its zones' nodes, as runs of ids: neighbouring groups of
/// monitored zones make one run, other zones' groups none, and a mask shorter than the
/// zones (or all false) monitors nothing beyond it. Checked against each node's zone on
/// the smart city, where the IoT zone is two groups apart.
#[test]
fn monitored_runs_are_the_zones_nodes_in_id_order() {
    let s = paraverse_sim::bundled::load(Some("smart-city-1m")).unwrap();
    let zone: Vec<u16> = (0..s.node_count)
        .map(|n| {
            s.groups
                .iter()
                .find(|g| g.nodes().contains(&n))
                .map(|g| g.zone)
                .expect("every node is in a group")
        })
        .collect();
    let all = vec![true; s.zones.len()];
    assert_eq!(crate::monitored_runs(&s, &all), vec![0..s.node_count]);
    assert!(crate::monitored_runs(&s, &vec![false; s.zones.len()]).is_empty());
    assert!(crate::monitored_runs(&s, &[]).is_empty());
    for z in 0..s.zones.len() {
        let mut mask = vec![false; s.zones.len()];
        mask[z] = true;
        let runs = crate::monitored_runs(&s, &mask);
        assert!(runs.windows(2).all(|p| p[0].end < p[1].start), "{runs:?}");
        let listed: Vec<u32> = runs.iter().cloned().flatten().collect();
        let expected: Vec<u32> = (0..s.node_count)
            .filter(|&n| usize::from(zone[n as usize]) == z)
            .collect();
        assert_eq!(listed, expected, "zone {z}");
        let tasks = crate::chunked(&runs);
        assert!(tasks.iter().all(|t| !t.is_empty() && t.len() <= CHUNK));
        assert_eq!(tasks.into_iter().flatten().collect::<Vec<u32>>(), listed);
    }
}

#[test]
fn ueba_keeps_and_reads_baselines_for_its_zones_nodes_only() {
    // Without a response, an alert changes nothing a node does, and each node's baselines
    // are its own: watching one zone raises exactly the alerts that watching every zone
    // raises on that zone's nodes, from baselines kept for that zone's nodes only. A
    // baseline read for the wrong node (an offset off by a group) breaks the equality.
    let fast = BASE.replace("scan_rate = 0.1", "scan_rate = 5");
    let detections = |zones: &str| {
        let text = format!("{fast}\n[defense.detection]\nmethod = \"ueba\"\n{zones}\n");
        let s = Scenario::from_toml_str(&text, "defended.toml").unwrap();
        let nodes = s.node_count as usize;
        let mut u = Universe::build(s, &[&AttackerPlugin, &DefenderPlugin]).unwrap();
        let kept = u
            .world()
            .resource::<crate::detection::Ueba>()
            .baselines
            .len();
        u.run(|_| {});
        let alerts: Vec<(u32, u32)> = (u.finish().events.iter())
            .filter(|e| e.kind == "detection")
            .map(|e| (e.tick, e.node.expect("an alert names its node")))
            .collect();
        (alerts, kept, nodes)
    };
    let (all, kept, nodes) = detections("");
    assert_eq!(kept, nodes);
    let cams = |a: &(u32, u32)| a.1 < 4000;
    assert!(all.iter().any(cams) && !all.iter().all(cams), "{all:?}");
    let (iot, kept, _) = detections("zones = [\"iot\"]");
    assert_eq!(kept, 4000);
    assert_eq!(iot, all.iter().copied().filter(cams).collect::<Vec<_>>());
    let (office, kept, _) = detections("zones = [\"office\"]");
    assert_eq!(kept, 1000);
    let phones: Vec<(u32, u32)> = all.iter().copied().filter(|a| !cams(a)).collect();
    assert_eq!(office, phones);
}
