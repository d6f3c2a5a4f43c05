//! Issue 15, "Decisions you can trust": the parts landed so far, through the real binary.
//! Metrics count the right things (accounts, not takeover events).

mod common;

use common::{paraverse, repo, text};

/// Under full-stack, zero trust revokes taken accounts and the identity campaigns take
/// many again. The impact counts each account once (the security loss weighs accounts);
/// the events are a separate counter. Oracle: the event log itself.
#[test]
fn takeovers_count_distinct_accounts_and_events_separately() {
    let tmp = tempfile::tempdir().unwrap();
    let strategy = repo().join("strategies/full-stack.toml");
    let out = paraverse(
        &[
            "run",
            "metaverse-under-siege",
            "--strategy",
            strategy.to_str().unwrap(),
            "--max-events",
            "10000000",
            "--out",
            "siege",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("siege");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let takeovers: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "account_takeover")
        .map(|e| e["node"].as_str().unwrap().to_owned())
        .collect();
    let distinct: std::collections::BTreeSet<&String> = takeovers.iter().collect();
    let impact = &summary["impact"];
    assert_eq!(
        impact["accounts_taken_over"],
        distinct.len() as u64,
        "{impact}"
    );
    assert_eq!(
        impact["account_takeovers"],
        takeovers.len() as u64,
        "{impact}"
    );
    assert!(
        takeovers.len() > distinct.len(),
        "accounts are taken again after revocations: {} events of {} accounts",
        takeovers.len(),
        distinct.len()
    );
    assert_eq!(
        summary["counters"]["accounts_taken_over"],
        distinct.len() as u64
    );
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("accounts taken over      {}", distinct.len()))
            && said.contains(&format!("  takeover events        {}", takeovers.len())),
        "{said}"
    );
}
