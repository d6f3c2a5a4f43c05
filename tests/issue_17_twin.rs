//! The live twin through the binary (#17): a ground-truth run writes the blue team's feed,
//! the twin sees only that feed and estimates what the sensors cannot see better than
//! "alerted = compromised"; the same feed gives the same estimates at any thread count and
//! from standard input; cycles publish recommendations; bad feeds are clear errors.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::{paraverse, text};

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

/// Truth (seed 7) with its feed, and a calibration run (seed 8), of the campus for 2 h.
fn campus_runs(dir: &Path) {
    ok(paraverse(
        &[
            "run",
            "metaverse-campus",
            "--seed",
            "7",
            "--stop",
            "2 h",
            "--out",
            "truth",
            "-q",
            "--observations-out",
            "feed.jsonl",
        ],
        dir,
    ));
    ok(paraverse(
        &[
            "run",
            "metaverse-campus",
            "--seed",
            "8",
            "--stop",
            "2 h",
            "--out",
            "calib",
            "-q",
        ],
        dir,
    ));
}

fn twin(dir: &Path, feed: &str, out: &str, threads: &str) -> std::process::Output {
    paraverse(
        &[
            "twin",
            "metaverse-campus",
            "--seed",
            "7",
            "--observations",
            feed,
            "--members",
            "16",
            "--calibrate",
            "calib",
            "--truth",
            "truth",
            "--out",
            out,
            "--threads",
            threads,
        ],
        dir,
    )
}

#[test]
fn the_twin_estimates_compromise_better_than_alerted_equals_compromised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    campus_runs(dir);
    let feed = std::fs::read_to_string(dir.join("feed.jsonl")).unwrap();
    assert!(feed.lines().count() > 100, "{feed}");
    assert!(feed.contains("\"kind\":\"alert\"") && feed.contains("\"kind\":\"quarantine\""));
    assert!(
        !feed.contains("true_positive"),
        "the feed carries no ground truth"
    );
    let out = ok(twin(dir, "feed.jsonl", "tw", "2"));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("mean absolute error"), "{stdout}");
    let acc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tw/accuracy.json")).unwrap())
            .unwrap();
    let (twin_mae, naive_mae) = (
        acc["twin_mae"].as_f64().unwrap(),
        acc["naive_mae"].as_f64().unwrap(),
    );
    assert!(acc["ticks"].as_u64().unwrap() > 600, "{acc}");
    // Measured: 8.7 against 19.1 nodes (16 members, 717 ticks).
    assert!(twin_mae < 0.6 * naive_mae, "{acc}");
    assert!(acc["coverage_90"].as_f64().unwrap() > 0.5, "{acc}");
    // The same feed at one thread, and through standard input as a collector writes it.
    ok(twin(dir, "feed.jsonl", "tw1", "1"));
    let estimates = |d: &str| std::fs::read_to_string(dir.join(d).join("estimates.csv")).unwrap();
    assert_eq!(estimates("tw"), estimates("tw1"));
    let mut child = common::bin()
        .args([
            "twin",
            "metaverse-campus",
            "--seed",
            "7",
            "--observations",
            "-",
            "--members",
            "16",
            "--calibrate",
            "calib",
            "--out",
            "tw-stdin",
            "-q",
            "--threads",
            "2",
        ])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for line in feed.lines() {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert_eq!(estimates("tw"), estimates("tw-stdin"));
}

#[test]
fn cycles_publish_recommendations_and_bad_feeds_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let strategies = common::repo().join("strategies");
    let s = |f: &str| strategies.join(f).display().to_string();
    let (ueba, full, zero) = (s("ueba.toml"), s("full-stack.toml"), s("zero-trust.toml"));
    ok(paraverse(
        &[
            "run",
            "metaverse-under-siege",
            "--strategy",
            &ueba,
            "--stop",
            "40 min",
            "--out",
            "truth",
            "-q",
            "--observations-out",
            "feed.jsonl",
        ],
        dir,
    ));
    let out = ok(paraverse(
        &[
            "twin",
            "metaverse-under-siege",
            "--strategy",
            &ueba,
            "--observations",
            "feed.jsonl",
            "--members",
            "4",
            "--cycle",
            "20 min",
            "--until",
            "40 min",
            "--horizon",
            "10 min",
            "--candidate",
            &full,
            "--candidate",
            &zero,
            "--out",
            "tw",
        ],
        dir,
    ));
    let err = text(&out.stderr);
    assert!(err.contains("tick 120: Deploy "), "{err}");
    let latest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("tw/recommendations/latest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(latest["from_tick"], 240);
    assert_eq!(latest["strategies"].as_array().unwrap().len(), 3);
    assert!(
        dir.join("tw/recommendations/tick-0000000120.json")
            .is_file()
    );
    // Bad feeds: exit status 2, the file and line, what was expected.
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"time_s\": 10, \"kind\": \"alert\", \"node\": 3}\n{\"time_s\": 20, \"kind\": \"alert\", \"node\": \"nosuch-1\"}\n",
    )
    .unwrap();
    for (feed, expect) in [
        ("bad.jsonl", "bad.jsonl:2: node `nosuch-1`"),
        ("missing.jsonl", "missing.jsonl"),
    ] {
        let out = paraverse(
            &[
                "twin",
                "metaverse-under-siege",
                "--observations",
                feed,
                "--members",
                "2",
                "--out",
                "bad",
                "--force",
                "--alert-tpr",
                "0.1",
            ],
            dir,
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{err}");
    }
    let out = paraverse(
        &[
            "twin",
            "metaverse-under-siege",
            "--observations",
            "feed.jsonl",
            "--alert-tpr",
            "1.5",
            "--out",
            "bad2",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("strictly between 0 and 1"));
    let schema = ok(paraverse(&["schema", "--observations"], dir));
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema.to_string().contains("quarantine"));
}
