//! Open for extension (#19), through the binary: the supply-chain campaign and the code
//! signing defense, added as one module each, run from their bundled example and
//! strategy, validate with file, line and field, and join the search space.

mod common;

use common::{paraverse, repo, text};

/// Runs `paraverse run campaign-supply-chain` with `extra` arguments in `dir`; returns
/// its summary and events.
fn run(dir: &std::path::Path, out: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec!["run", "campaign-supply-chain", "--seed", "2", "--out", out];
    args.extend_from_slice(extra);
    let o = paraverse(&args, dir);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary = std::fs::read_to_string(dir.join(out).join("summary.json")).unwrap();
    let events = std::fs::read_to_string(dir.join(out).join("events.jsonl")).unwrap();
    (serde_json::from_str(&summary).unwrap(), events)
}

#[test]
fn a_trojanised_update_takes_the_fleet_unless_code_signing_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (open, events) = run(dir.path(), "open", &[]);
    let campaign = &open["campaigns"][0];
    assert_eq!(campaign["kind"], "supply_chain");
    assert!(campaign["goal_reached_s"].is_number(), "{campaign}");
    assert!(open["counters"]["footholds"].as_u64().unwrap() >= 400);
    let installs = events
        .lines()
        .filter(|l| l.contains("\"trojanised_install\""))
        .count();
    assert_eq!(installs, 400, "every headset installs it once");
    assert!(events.contains("\"T1195.002\""));

    let strategy = repo().join("strategies/code-signing.toml");
    let (signed, events) = run(
        dir.path(),
        "signed",
        &["--strategy", strategy.to_str().unwrap()],
    );
    assert!(signed["campaigns"][0]["goal_reached_s"].is_null());
    assert!(signed["counters"]["footholds"].as_u64().unwrap() < 40);
    assert!(signed["counters"]["tripwire_alerts"].as_u64().unwrap() > 0);
    assert!(events.contains("\"update_rejected\""));
    let loss = |s: &serde_json::Value| s["objectives"]["security_loss"].as_f64().unwrap();
    assert!(
        loss(&signed) < 0.1 * loss(&open),
        "{} vs {}",
        loss(&signed),
        loss(&open)
    );
}

#[test]
fn a_mistyped_fleet_group_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(repo().join("scenarios/campaign-supply-chain.toml")).unwrap();
    let bad = example.replace(
        "fleet = [\"headsets\"]",
        "fleet = [\"headsets\", \"wearabels\"]",
    );
    let line = bad.lines().position(|l| l.contains("wearabels")).unwrap() + 1;
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let o = paraverse(&["validate", "bad.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("bad.toml:{line}:")), "{err}");
    assert!(err.contains("campaign[0].supply_chain.fleet[1]"), "{err}");
    assert!(err.contains("unknown group `wearabels`"), "{err}");
}

#[test]
fn code_signing_coverage_is_in_the_search_space() {
    let dir = tempfile::tempdir().unwrap();
    let o = paraverse(&["space"], dir.path());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("code_signing.coverage"), "{out}");
}
