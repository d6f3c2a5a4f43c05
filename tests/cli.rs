//! End-to-end: drive the real `paraverse` binary as a user would.

mod common;

use common::{paraverse, repo, text};

#[test]
fn run_with_no_scenario_runs_the_embedded_default_and_writes_results() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["run"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("results/metaverse-campus-42");
    for f in [
        "summary.json",
        "timeseries.csv",
        "events.jsonl",
        "scenario.toml",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"], "metaverse-campus");
    assert_eq!(summary["ticks"], 1440);
    assert_eq!(summary["nodes"], 3002);
    for key in [
        "compromised_peak",
        "compromised_final",
        "time_to_half_vulnerable_s",
        "vulnerable_initial",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}");
    }
    for counter in ["detections", "quarantines", "patches", "infections"] {
        assert!(
            summary["counters"][counter].as_u64().unwrap() > 0,
            "{counter}: {summary}"
        );
    }
    let series = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    assert_eq!(series.lines().count(), 1 + 1441, "header + ticks 0..=1440");
    assert!(series.starts_with("tick,time_s,compromised,quarantined,patched,vulnerable"));
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(e["event"].is_string() && e["tick"].is_u64());
    }
    assert!(events.contains("\"event\":\"infection\""));
    // The terminal summary names where results went.
    assert!(
        text(&out.stdout).contains("results in"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn run_honours_seed_ticks_stop_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(
        &[
            "run",
            "metaverse-campus",
            "--seed",
            "3",
            "--ticks",
            "30",
            "--out",
            "r",
            "--quiet",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "--quiet prints nothing: {}",
        text(&out.stdout)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        (s["seed"].as_u64(), s["ticks"].as_u64()),
        (Some(3), Some(30))
    );

    let out = paraverse(
        &["run", "--stop", "5 min", "--out", "s", "--quiet"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = std::fs::read_to_string(tmp.path().join("s/summary.json")).unwrap();
    assert!(s.contains("\"ticks\": 30"), "5 min of 10 s ticks: {s}");
}

#[test]
fn thread_count_does_not_change_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    for t in ["1", "2"] {
        let out = paraverse(
            &[
                "run",
                "--threads",
                t,
                "--ticks",
                "200",
                "--out",
                t,
                "--quiet",
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    for f in ["summary.json", "timeseries.csv", "events.jsonl"] {
        let a = std::fs::read(tmp.path().join("1").join(f)).unwrap();
        let b = std::fs::read(tmp.path().join("2").join(f)).unwrap();
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
}

/// A folder holding bad.toml: the repository's `scenarios/NAME.toml` with the first
/// `from` replaced by `to`, and the line of bad.toml where `misspelt` first appears.
fn misspelt_copy(name: &str, from: &str, to: &str, misspelt: &str) -> (tempfile::TempDir, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo().join(format!("scenarios/{name}.toml"))).unwrap();
    let bad = good.replacen(from, to, 1);
    assert_ne!(bad, good, "{name}.toml holds `{from}`");
    let line = bad.lines().position(|l| l.contains(misspelt)).unwrap() + 1;
    std::fs::write(tmp.path().join("bad.toml"), &bad).unwrap();
    (tmp, line)
}

#[test]
fn a_malformed_scenario_gets_file_line_column_field_and_exit_2() {
    let (tmp, line) = misspelt_copy(
        "metaverse-campus",
        "zone = \"campus-xr\"\nservices",
        "zone = \"campus-vr\"\nservices",
        "campus-vr",
    );

    for cmd in ["validate", "run"] {
        let out = paraverse(&[cmd, "bad.toml"], tmp.path());
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "bad.toml:{line}:8: field `group[0].zone`: unknown zone `campus-vr` (did you mean `campus-xr`?); expected one of"
            )),
            "{cmd}: {err}"
        );
        assert!(
            err.contains("expected one of: campus-iot, campus-xr"),
            "{err}"
        );
    }
    assert!(
        !tmp.path().join("results").exists(),
        "an invalid run writes nothing"
    );
}

/// A misspelled campaign target is one error, not also a false one about the group the
/// validator once put in its place (`headsets`, group 0, "holds xr_headset nodes").
#[test]
fn a_misspelled_campaign_target_is_exactly_one_error() {
    let (tmp, line) = misspelt_copy(
        "campaign-cryptojacking",
        "target = \"gpu-render\"",
        "target = \"gpu-rendr\"",
        "gpu-rendr",
    );
    let out = paraverse(&["validate", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "bad.toml:{line}:10: field `campaign[0].target`: unknown group `gpu-rendr` (did you mean `gpu-render`?)"
        )),
        "{err}"
    );
    assert_eq!(err.matches("bad.toml:").count(), 1, "one problem: {err}");
}

#[test]
fn validate_accepts_every_bundled_scenario_file() {
    let mut args = vec!["validate".to_owned()];
    for entry in std::fs::read_dir(repo().join("scenarios")).unwrap() {
        args.push(entry.unwrap().path().display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = paraverse(&args, repo());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1011552 nodes (1000000 terminals)"),
        "{stdout}"
    );
}

/// The 10M-terminal city is built only by `paraverse bench` (#20 item 4: about 4 GiB), but
/// its file is checked here, so the README's bench command keeps working.
#[test]
fn the_10m_city_bench_scenario_validates_without_being_built() {
    let out = paraverse(&["validate", "benches/smart-city-10m.toml"], repo());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("10114452 nodes (10000000 terminals)"),
        "{stdout}"
    );
}

#[test]
fn validate_reports_every_bad_file_and_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.toml"), "[general]\nname = \"a\"\n").unwrap();
    let out = paraverse(&["validate", "a.toml", "nope.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("a.toml:1:1: field `general`: missing field `seed`"),
        "{err}"
    );
    assert!(err.contains("no scenario file `nope.toml`"), "{err}");
    assert!(err.contains("bundled: metaverse-campus"), "{err}");
}

#[test]
fn schema_list_and_help() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["schema"], tmp.path());
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    assert!(schema["properties"]["group"].is_object(), "{schema}");
    assert!(schema["$schema"].is_string());

    let out = paraverse(&["list"], tmp.path());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("metaverse-campus") && stdout.contains("(default)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("smart-city-1m") && stdout.contains("1011552"),
        "{stdout}"
    );

    let out = paraverse(&["run", "--help"], tmp.path());
    let help = text(&out.stdout);
    for flag in [
        "--seed",
        "--ticks",
        "--stop",
        "--threads",
        "--out",
        "--quiet",
    ] {
        assert!(help.contains(flag), "run --help lacks {flag}");
    }
    let out = paraverse(&["run", "--threads", "0"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "bad arguments exit 2");
    let out = paraverse(&["run", "--stop", "soon"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("e.g. \"1 s\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn backends_auto_falls_back_to_cpu_and_gpu_says_why_it_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    // WGPU_BACKEND=metal leaves no adapter on Linux: the "machine without a GPU" case.
    let no_gpu = |args: &[&str]| {
        common::bin()
            .args(args)
            .current_dir(tmp.path())
            .env("WGPU_BACKEND", "metal")
            .output()
            .unwrap()
    };
    let out = no_gpu(&["run", "--backend", "auto", "--ticks", "3", "--out", "a"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(
        err.matches("using the CPU backend").count(),
        1,
        "says so once: {err}"
    );
    assert!(err.contains("flows on cpu"), "{err}");
    let out = no_gpu(&["run", "--backend", "gpu", "--ticks", "3", "--out", "b"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no GPU adapter"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn runs_report_xr_quality_and_link_utilisation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["run", "--ticks", "30", "--out", "r"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("XR quality") && stdout.contains("busiest link"),
        "{stdout}"
    );
    let series = std::fs::read_to_string(tmp.path().join("r/timeseries.csv")).unwrap();
    let header: Vec<&str> = series.lines().next().unwrap().split(',').collect();
    for col in [
        "xr_quality_ppm",
        "max_link_util_permille",
        "overloaded_channels",
        "delivered_mbps",
    ] {
        assert!(header.contains(&col), "missing column {col}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/summary.json")).unwrap())
            .unwrap();
    assert!(summary["xr_quality"].as_f64().unwrap() > 0.0);
    assert!(
        summary["xr_quality_by_zone"]["campus-xr"].is_number(),
        "{summary}"
    );
}

#[test]
fn the_siege_reports_every_kill_chain_and_its_impact() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(
        &["run", "metaverse-under-siege", "--out", "siege"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for line in [
        "campaign venue-botnet (botnet): 6/6 steps, goal (1 target nodes overwhelmed) at",
        "T1498.001  flood",
        "T1486      encryption",
        "AML.T0020  model_poisoned",
        "records stolen biometric",
        "security loss",
    ] {
        assert!(report.contains(line), "report lacks `{line}`:\n{report}");
    }
    let dir = tmp.path().join("siege");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let campaigns = summary["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 11);
    for c in campaigns {
        assert!(c["goal_reached_s"].is_number(), "{c}");
        for step in c["steps"].as_array().unwrap() {
            assert!(
                step["technique"].is_string() && step["tactic"].is_string(),
                "{step}"
            );
        }
    }
    let impact = &summary["impact"];
    for key in [
        "assets_stolen",
        "asset_value_stolen",
        "compute_stolen_node_s",
        "service_down_s",
        "accounts_taken_over",
        "wrong_decisions",
        "security_loss",
    ] {
        assert!(impact[key].as_f64().unwrap() > 0.0, "{key}: {impact}");
    }
    assert!(impact["records_stolen"]["biometric"].as_u64().unwrap() > 0);
    // Every attack step in the event log names its technique.
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let steps: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "lateral_movement" || e["event"] == "encryption")
        .collect();
    assert!(!steps.is_empty());
    assert!(
        steps
            .iter()
            .all(|e| e["technique"].is_string() && e["campaign"].is_string())
    );
    // The time series carries the impact counters per tick.
    let series = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let header = series.lines().next().unwrap();
    for col in [
        "records_stolen:biometric",
        "service_down_node_ticks",
        "xr_quality_ppm",
    ] {
        assert!(header.contains(col), "{header}");
    }
}

#[test]
fn a_bad_campaign_gets_file_line_field_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo().join("scenarios/campaign-ransomware.toml")).unwrap();
    let bad = good.replacen("target = \"data-lake\"", "target = \"data-lak\"", 1);
    let line = bad.lines().position(|l| l.contains("data-lak\"")).unwrap() + 1;
    std::fs::write(tmp.path().join("bad.toml"), &bad).unwrap();
    let out = paraverse(&["validate", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "bad.toml:{line}:10: field `campaign[0].target`: unknown group `data-lak`"
        )),
        "{err}"
    );
    // An entry the topology does not connect to the target.
    let island = good
        .replacen("entry = \"phones\"", "entry = \"drop\"", 1)
        .replacen(
            "[[topology]]\ngenerator = \"access_tree\"\nchildren = \"drop\"",
            "[[topology]]\ngenerator = \"access_tree\"\nchildren = \"sensors\"",
            1,
        );
    std::fs::write(tmp.path().join("island.toml"), &island).unwrap();
    let out = paraverse(&["run", "island.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("field `campaign[0].entry`")
            && err.contains("no path from entry group `drop` to target group `data-lake`"),
        "{err}"
    );
}

#[test]
fn a_strategy_file_swaps_the_defenses_and_is_recorded_with_the_results() {
    let tmp = tempfile::tempdir().unwrap();
    let strategy = repo().join("strategies/segmented.toml");
    let out = paraverse(
        &[
            "run",
            "campaign-botnet-ddos",
            "--strategy",
            strategy.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("defenses                    segmentation (strategy segmented)"),
        "{report}"
    );
    assert!(report.contains("availability 1.0000"), "{report}");
    let dir = tmp.path().join("results/campaign-botnet-ddos-segmented-7");
    assert_eq!(
        std::fs::read_to_string(dir.join("strategy.toml")).unwrap(),
        std::fs::read_to_string(&strategy).unwrap()
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["strategy"], "segmented");
    assert!(
        summary["counters"]["blocked_attack_flow_ticks"]
            .as_u64()
            .unwrap()
            > 0
    );
    for key in ["security_loss", "availability", "cost"] {
        assert!(summary["objectives"][key].is_number(), "{summary}");
    }

    // A bad strategy: file, line, field and range; exit 2; nothing written.
    let bad = std::fs::read_to_string(repo().join("strategies/deception.toml"))
        .unwrap()
        .replace("decoys = 0.2", "decoys = 1.2");
    let line = bad
        .lines()
        .position(|l| l.contains("decoys = 1.2"))
        .unwrap()
        + 1;
    std::fs::write(tmp.path().join("bad-strategy.toml"), &bad).unwrap();
    let out = paraverse(
        &[
            "run",
            "campaign-intrusion",
            "--strategy",
            "bad-strategy.toml",
            "--out",
            "never",
        ],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "bad-strategy.toml:{line}:10: field `defense.deception.decoys`: expected 0 to 1"
        )),
        "{err}"
    );
    assert!(!tmp.path().join("never").exists());
    let out = paraverse(
        &["run", "campaign-intrusion", "--strategy", "nope.toml"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn every_shipped_strategy_applies_to_the_campaign_venue() {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("strategies")).unwrap() {
        let path = entry.unwrap().path();
        let out = paraverse(
            &[
                "run",
                "metaverse-under-siege",
                "--strategy",
                path.to_str().unwrap(),
                "--ticks",
                "30",
                "--quiet",
            ],
            tmp.path(),
        );
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
    }
}

#[test]
fn space_prints_the_defense_search_space() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(&["space"], tmp.path());
    assert!(out.status.success());
    let space: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let params = space.as_array().unwrap();
    let find = |name: &str| params.iter().find(|p| p["name"] == name).cloned();
    let zt = find("zero_trust.reverify_interval").expect("zero trust is tunable");
    assert_eq!(zt["range"]["type"], "duration");
    assert!(zt["step"].as_f64().unwrap() > 0.0);
    assert_eq!(find("deception.decoys").unwrap()["range"]["max"], 1.0);
}

/// The world bench's table compares each thread count with one thread: with no 1-thread
/// run among `--threads` the speed-up column says "-" (it printed "NaN"), and with one it
/// is a number, 1.00 for the 1-thread row.
#[test]
fn bench_speedup_column_says_dash_without_a_one_thread_run() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |threads: &str| {
        let out = paraverse(
            &[
                "bench",
                "metaverse-campus",
                "--ticks",
                "2",
                "--threads",
                threads,
            ],
            tmp.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(!stdout.contains("NaN"), "{stdout}");
        let header = stdout
            .lines()
            .position(|l| l.trim_start().starts_with("threads"))
            .unwrap_or_else(|| panic!("no table: {stdout}"));
        stdout
            .lines()
            .skip(header + 1)
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let two = rows("2");
    assert_eq!(two.len(), 1, "{two:?}");
    assert_eq!(
        (two[0][0].as_str(), two[0][4].as_str()),
        ("2", "-"),
        "{two:?}"
    );
    let both = rows("1,2");
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0][4], "1.00", "{both:?}");
    assert!(both[1][4].parse::<f64>().is_ok_and(|s| s > 0.0), "{both:?}");
}
