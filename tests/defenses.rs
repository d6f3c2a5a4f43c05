//! Every defense, against the campaign it targets, measurably reduces that campaign's
//! effect, averaged over several seeds, and its cost shows up in the summary. The
//! strategies are the shipped files in `strategies/`, applied as `--strategy` does.

use paraverse_lab::plugins::plugins;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

const SEEDS: [u64; 3] = [1, 2, 3];

fn strategy(name: &str) -> String {
    let path = format!("{}/strategies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(scenario: &str, strategy_name: Option<&str>, seed: u64) -> Summary {
    let mut s = bundled::load(Some(scenario)).unwrap().with_seed(seed);
    if let Some(name) = strategy_name {
        s = s.with_strategy(&strategy(name), name).unwrap();
    }
    let mut u = Universe::build(s, &plugins()).unwrap();
    u.run(|_| {});
    assert_eq!(u.fault(), None);
    u.finish().summary
}

/// Mean of `metric` over the seeds without and with the strategy; checks the costs.
fn compare(scenario: &str, name: &str, metric: impl Fn(&Summary) -> f64) -> (f64, f64) {
    let (mut without, mut with) = (0.0, 0.0);
    for seed in SEEDS {
        let base = run(scenario, None, seed);
        let defended = run(scenario, Some(name), seed);
        assert_eq!(base.cost.total, 0.0, "an undefended run costs nothing");
        assert!(
            defended.cost.total > 0.0,
            "{name}: its cost shows up: {:?}",
            defended.cost
        );
        assert_eq!(defended.strategy.as_deref(), Some(name));
        without += metric(&base);
        with += metric(&defended);
    }
    let n = SEEDS.len() as f64;
    eprintln!("{scenario} + {name}: {:.3} -> {:.3}", without / n, with / n);
    (without / n, with / n)
}

fn goal_time(s: &Summary) -> f64 {
    s.campaigns[0].goal_reached_s.unwrap_or(s.simulated_s * 2.0)
}

#[test]
fn zero_trust_stops_exfiltration_and_changes_the_allowed_flows() {
    let (without, with) = compare("campaign-exfiltration", "zero-trust", |s| {
        s.impact.security_loss
    });
    assert!(with < 0.2 * without, "{without} -> {with}");
    let s = run("campaign-exfiltration", Some("zero-trust"), 1);
    assert!(s.counters["verifications"] > 0 && s.counters["reauth_prompts"] > 0);
    assert!(s.counters["trust_revoked"] > 0);
    assert!(
        s.counters.contains_key("blocked_flow_ticks"),
        "the traffic core enforces it"
    );
}

#[test]
fn segmentation_refuses_the_flood_at_the_segment_boundary() {
    let (without, with) = compare("campaign-botnet-ddos", "segmented", |s| {
        s.impact.service_down_s
    });
    assert!(without > 0.0 && with == 0.0, "{without} -> {with}");
    let s = run("campaign-botnet-ddos", Some("segmented"), 1);
    assert!(
        s.counters["blocked_attack_flow_ticks"] > 0,
        "{:?}",
        s.counters
    );
    assert_eq!(
        s.counters["blocked_flow_ticks"], 0,
        "benign flows are all allowed"
    );
    assert_eq!(s.xr_quality, Some(1.0));
}

#[test]
fn segmentation_cuts_the_intruders_path() {
    let (without, with) = compare("campaign-intrusion", "segmented", goal_time);
    assert!(with > without, "{without} -> {with}");
}

/// An allow admits the services the flows need, not the whole segment: letting users
/// reach the edge segment changes nothing for the intruder while no flow goes there
/// (the same run); admitting every service of the edge servers (`"*"`) lets the
/// intruder spread further.
#[test]
fn an_allow_admits_the_services_flows_need_and_the_intruder_only_those() {
    let with_allow = |services: &str| {
        strategy("segmented").replace(
            "[[defense.segmentation.allow]]\nfrom = \"iot\"",
            &format!(
                "[[defense.segmentation.allow]]\nfrom = \"users\"\nto = \"edge\"\n{services}\n[[defense.segmentation.allow]]\nfrom = \"iot\""
            ),
        )
    };
    let run_text = |text: &str, seed: u64| {
        let s = bundled::load(Some("campaign-intrusion"))
            .unwrap()
            .with_seed(seed)
            .with_strategy(text, "strategy.toml")
            .unwrap();
        let mut u = Universe::build(s, &plugins()).unwrap();
        u.run(|_| {});
        assert_eq!(u.fault(), None);
        u.finish().summary
    };
    let needed = with_allow("");
    let every = with_allow("services = [\"*\"]\n");
    assert!(needed.contains("to = \"edge\"") && every.contains("\"*\""));
    let (mut closed, mut open) = (0.0, 0.0);
    for seed in SEEDS {
        let base = run("campaign-intrusion", Some("segmented"), seed);
        let same = run_text(&needed, seed);
        assert_eq!(
            goal_time(&base),
            goal_time(&same),
            "no flow goes users -> edge: the allow admits nothing"
        );
        assert_eq!(
            base.impact.compromised_node_hours,
            same.impact.compromised_node_hours
        );
        closed += same.impact.compromised_node_hours;
        open += run_text(&every, seed).impact.compromised_node_hours;
    }
    eprintln!(
        "users -> edge on what flows need: {closed:.1} compromised node-hours; on every service: {open:.1}"
    );
    assert!(open > closed, "{closed} -> {open}");
}

#[test]
fn ddos_protection_keeps_the_render_farm_up() {
    let (without, with) = compare("campaign-botnet-ddos", "ddos-shield", |s| {
        s.impact.service_down_s
    });
    assert!(with < 0.2 * without, "{without} -> {with}");
    assert!(run("campaign-botnet-ddos", Some("ddos-shield"), 1).counters["scrubbed_mbit"] > 0);
}

#[test]
fn hardening_starves_the_botnet() {
    let (without, with) = compare("campaign-botnet-ddos", "hardening", |s| {
        s.counters["recruits"] as f64
    });
    assert!(with < 0.5 * without, "{without} -> {with}");
}

#[test]
fn backups_shorten_ransomware_outages() {
    let (without, with) = compare("campaign-ransomware", "backups", |s| {
        s.impact.service_down_s
    });
    assert!(with < 0.95 * without, "{without} -> {with}");
    let s = run("campaign-ransomware", Some("backups"), 1);
    assert!(s.counters["restores"] > 0 && s.counters["data_loss_window_s"] > 0);
}

#[test]
fn liveness_detection_counters_deepfakes() {
    // The second campaign of the scenario is the deepfake one (5 headset accounts).
    let deepfake_goal = |s: &Summary| {
        assert_eq!(s.campaigns[1].name, "deepfake-avatars");
        s.campaigns[1].goal_reached_s.unwrap_or(s.simulated_s * 2.0)
    };
    let (without, with) = compare("campaign-takeover", "liveness", deepfake_goal);
    assert!(with > without + 600.0, "{without} -> {with}");
    let s = run("campaign-takeover", Some("liveness"), 1);
    assert!(s.counters["biometric_checks"] > 0);
}

#[test]
fn privacy_preserving_computation_makes_stolen_records_useless() {
    let (without, with) = compare("campaign-exfiltration", "privacy", |s| {
        s.impact.records_stolen["biometric"] as f64
    });
    assert!(with < 0.2 * without, "{without} -> {with}");
}

#[test]
fn the_poison_filter_slows_model_poisoning() {
    let (without, with) = compare("campaign-poisoning", "poison-filter", |s| {
        s.gauges["detector_threshold_scale_ppm"].mean
    });
    assert!(with < without, "{without} -> {with}");
    let (early, late) = compare("campaign-poisoning", "poison-filter", goal_time);
    assert!(late > early + 600.0, "{early} -> {late}");
}

#[test]
fn deception_catches_lateral_movement() {
    let (without, with) = compare("campaign-intrusion", "deception", |s| {
        s.counters["lateral_moves"] as f64
    });
    assert!(with < 0.7 * without, "{without} -> {with}");
    assert!(run("campaign-intrusion", Some("deception"), 1).counters["tripwire_alerts"] > 0);
}

/// The campus's own defenses, with or without the adaptive response deciding by risk.
fn campus(adaptive: bool) -> Summary {
    let mut strategy = String::from(
        "[strategy]\nname = \"campus\"\n\n[defense.patching]\ninterval = \"30 min\"\ncoverage = 0.25\n\n[defense.detection]\nthreshold = 0.15\nzones = [\"campus-iot\"]\n\n[defense.quarantine]\ndelay = \"1 min\"\nrelease_after = \"30 min\"\n",
    );
    if adaptive {
        strategy.push_str("\n[defense.adaptive]\nthrottle_at = 1\nrevoke_at = 2\nquarantine_at = 2\nthrottle_for = \"30 min\"\n");
    }
    let s = bundled::load(None)
        .unwrap()
        .with_strategy(&strategy, "campus.toml")
        .unwrap();
    let mut u = Universe::build(s, &plugins()).unwrap();
    u.run(|_| {});
    u.finish().summary
}

#[test]
fn the_adaptive_response_acts_by_risk() {
    // On the campus, the detector's alerts fall on IoT terminals (risk 1): the adaptive
    // response throttles them instead of quarantining, so no clean node is isolated and
    // the cost falls, at the price of a worm that lingers on throttled devices.
    let every = campus(false);
    let adaptive = campus(true);
    assert!(every.counters["false_quarantines"] > 50);
    assert_eq!(adaptive.counters["false_quarantines"], 0);
    assert!(adaptive.counters["throttles"] > 0);
    assert!(adaptive.counters["throttled_node_ticks"] > 0);
    assert!(
        adaptive.cost.total < every.cost.total,
        "{:?} vs {:?}",
        adaptive.cost,
        every.cost
    );
    assert!(adaptive.cost.friction > 0.0, "throttling is friction");
    // A decoy touched is a certain alert (severity 3): risk 3 quarantines even a terminal.
    let (without, with) = compare("campaign-intrusion", "adaptive", |s| {
        s.counters["lateral_moves"] as f64
    });
    assert!(with < 0.7 * without, "{without} -> {with}");
    let s = run("campaign-intrusion", Some("adaptive"), 1);
    assert!(s.counters["quarantines"] > 0 && s.counters["tripwire_alerts"] > 0);
}

#[test]
fn ueba_catches_miners_by_their_cpu_load() {
    let (without, with) = compare("campaign-cryptojacking", "ueba", |s| {
        s.impact.compute_stolen_node_s
    });
    assert!(with < 0.25 * without, "{without} -> {with}");
    let s = run("campaign-cryptojacking", Some("ueba"), 1);
    assert!(s.counters["true_detections"] > 0);
    assert!(
        s.counters["false_detections"] > 0,
        "benign bursts give real false positives"
    );
}

#[test]
fn code_signing_stops_a_trojanised_update() {
    // Footholds: the update-service nodes taken plus every headset that installs the trojan.
    let (without, with) = compare("campaign-supply-chain", "code-signing", |s| {
        s.counters["footholds"] as f64
    });
    assert!(
        without >= 400.0,
        "the whole fleet falls undefended: {without}"
    );
    assert!(with < 0.1 * without, "{without} -> {with}");
    let (early, late) = compare("campaign-supply-chain", "code-signing", goal_time);
    assert!(late > early + 600.0, "{early} -> {late}");
}

#[test]
fn step_up_stops_stuffing_and_session_theft_but_not_deepfakes_without_liveness() {
    // The takeover scenario's first campaign stuffs passwords; the second deepfakes
    // biometric accounts, with no liveness detection deployed.
    let (early, late) = compare("campaign-takeover", "step-up", goal_time);
    assert!(late > early + 600.0, "stuffing: {early} -> {late}");
    let deepfake_goal = |s: &Summary| {
        assert_eq!(s.campaigns[1].name, "deepfake-avatars");
        s.campaigns[1].goal_reached_s.unwrap_or(s.simulated_s * 2.0)
    };
    let (without, with) = compare("campaign-takeover", "step-up", deepfake_goal);
    assert!(
        with < without + 300.0,
        "deepfakes pass the re-check: {without} -> {with}"
    );
    // A fake app's hijacked sessions meet the second factor too.
    let (without, with) = compare("campaign-phishing", "step-up", |s| {
        s.impact.accounts_taken_over as f64
    });
    assert!(with < 0.3 * without, "{without} -> {with}");
    let s = run("campaign-takeover", Some("step-up"), 1);
    let c = &s.counters;
    assert!(c["step_up_blocked"] > 0 && c["step_up_blocked"] <= c["step_up_challenges"]);
    // Benign log-ins flagged by mistake prompt users too: the friction.
    assert!(c["step_up_prompts"] > c["step_up_challenges"], "{c:?}");
    assert!(s.cost.friction > 0.0);
}

/// A strategy deployed mid-run ([`Universe::switch_strategy`], what an exercise's
/// `strategy` command does): the run up to the switch is the run without it, the new
/// defenses act and count from the switch on, the old ones' counters stop where they
/// were, switching to the strategy in force changes nothing, and a checkpoint taken after
/// the switch resumes under the new strategy, bit for bit.
#[test]
fn a_strategy_deployed_mid_run_takes_over_and_keeps_the_runs_records() {
    let plugins = plugins();
    let open = bundled::load(Some("campaign-exfiltration"))
        .unwrap()
        .with_seed(1);
    let with = |name: &str| open.clone().with_strategy(&strategy(name), name).unwrap();
    let at = 60;
    let run = |start: &Scenario, switch: Option<&Scenario>| {
        let mut u = Universe::build(start.clone(), &plugins).unwrap();
        while u.clock().tick < at {
            u.step();
        }
        if let Some(s) = switch {
            u.switch_strategy(s.clone()).unwrap();
        }
        u.run(|_| {});
        assert_eq!(u.fault(), None);
        u.finish()
    };
    let json =
        |r: &RunRecord| serde_json::to_string(&(&r.summary, &r.series, &r.counter_names)).unwrap();
    let plain = run(&open, None);
    let same = run(&open, Some(&open));
    assert_eq!(
        json(&plain),
        json(&same),
        "switching to the strategy in force"
    );
    assert_eq!(plain.events, same.events);

    let zero_trust = with("zero-trust");
    let switched = run(&open, Some(&zero_trust));
    let rows = at as usize + 1;
    assert_eq!(switched.series.states[..rows], plain.series.states[..rows]);
    assert_ne!(switched.series.states[rows..], plain.series.states[rows..]);
    fn column(r: &RunRecord, name: &str) -> Vec<u64> {
        let i = r.counter_names.iter().position(|n| n == name).unwrap();
        r.series.counters.iter().map(|row| row[i]).collect()
    }
    let verified = column(&switched, "verifications");
    assert!(verified[..rows].iter().all(|&v| v == 0), "none before");
    assert!(
        verified[rows..].iter().sum::<u64>() > 0,
        "zero trust acts after"
    );
    assert_eq!(switched.summary.strategy.as_deref(), Some("zero-trust"));
    assert!(
        switched.summary.impact.security_loss < plain.summary.impact.security_loss,
        "{} vs {}",
        switched.summary.impact.security_loss,
        plain.summary.impact.security_loss
    );

    // From zero trust to hardening: verifications stop, their total is kept.
    let hardening = with("hardening");
    let before = run(&zero_trust, None);
    let after = run(&zero_trust, Some(&hardening));
    let until: u64 = column(&before, "verifications")[..rows].iter().sum();
    assert!(until > 0);
    assert_eq!(after.summary.counters["verifications"], until);
    assert_eq!(
        column(&after, "verifications")[rows..].iter().sum::<u64>(),
        0
    );
    assert!(after.summary.counters["hardened"] > 0);

    // A checkpoint after the switch resumes as the new strategy.
    let mut u = Universe::build(open.clone(), &plugins).unwrap();
    while u.clock().tick < at {
        u.step();
    }
    u.switch_strategy(zero_trust.clone()).unwrap();
    for _ in 0..7 {
        u.step();
    }
    let checkpoint = u.checkpoint().unwrap();
    let mut resumed = Universe::resume(&checkpoint, BackendChoice::Cpu, &plugins).unwrap();
    u.run(|_| {});
    resumed.run(|_| {});
    let (a, b) = (u.finish(), resumed.finish());
    assert_eq!(json(&a), json(&b));
    assert_eq!(json(&a), json(&switched));
}

/// A strategy's hourly upkeep (segments here) is charged for the time it was in force: a
/// run that drops segmentation at a quarter of its length pays a quarter of the upkeep of
/// a run segmented throughout, one that deploys it then pays the other three quarters.
#[test]
fn a_strategy_deployed_mid_run_pays_its_upkeep_from_then_on() {
    let plugins = plugins();
    let open = bundled::load(Some("campaign-exfiltration"))
        .unwrap()
        .with_seed(1);
    let segmented = open
        .clone()
        .with_strategy(&strategy("segmented"), "segmented")
        .unwrap();
    let quarter = open.ticks / 4;
    let ops = |start: &Scenario, switch: Option<&Scenario>| {
        let mut u = Universe::build(start.clone(), &plugins).unwrap();
        while u.clock().tick < quarter {
            u.step();
        }
        if let Some(s) = switch {
            u.switch_strategy(s.clone()).unwrap();
        }
        u.run(|_| {});
        u.finish().summary.cost.ops
    };
    let throughout = ops(&segmented, None);
    assert!(throughout > 0.0);
    assert_eq!(ops(&open, None), 0.0, "no strategy, no upkeep");
    let dropped = ops(&segmented, Some(&open));
    let deployed = ops(&open, Some(&segmented));
    assert!(
        (dropped - throughout / 4.0).abs() < 1e-6,
        "{dropped} vs {throughout}"
    );
    assert!(
        (deployed - throughout * 0.75).abs() < 1e-6,
        "{deployed} vs {throughout}"
    );
}
