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
        said.contains(&format!("accounts taken over         {}", distinct.len()))
            && said.contains(&format!("  takeover events           {}", takeovers.len())),
        "{said}"
    );
}

const DECISIONS: &str = r#"
[experiment]
name = "dt"
scenario = "campaign-exfiltration"
replicas = 2
ticks = 360

[[vary]]
param = "zero_trust.reverify_interval"
values = ["30 s", "10 min"]

[[vary]]
param = "zero_trust.threshold"
values = [0.5, 0.97]

[[axis]]
field = "campaign.0.start"
values = ["5 min", "30 min"]

[score]
risk = "RISK"
"#;

fn strategy(dir: &std::path::Path) {
    std::fs::write(
        dir.join("zt.toml"),
        "[strategy]\nname = \"zt\"\n[defense.zero_trust]\nreverify_interval = \"1 min\"\ndecay_per_hour = 0.3\n[defense.quarantine]\ndelay = \"30 s\"\n",
    )
    .unwrap();
}

fn json(path: std::path::PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Threat axes are not optimised: each decision is scored over them by the declared risk
/// measure, and the best decision is the one whose combined score is lowest.
#[test]
fn a_decision_is_chosen_over_the_threats_by_the_declared_risk_measure() {
    let tmp = tempfile::tempdir().unwrap();
    strategy(tmp.path());
    for risk in ["mean", "worst", "cvar:0.5"] {
        let file = format!("{risk}.toml").replace(':', "-");
        let exp = DECISIONS
            .replace("RISK", risk)
            .replace("replicas = 2", "replicas = 2\nstrategy = \"zt.toml\"")
            .replace(
                "name = \"dt\"",
                &format!("name = \"dt-{}\"", risk.replace([':', '.'], "-")),
            );
        std::fs::write(tmp.path().join(&file), exp).unwrap();
        let out = paraverse(&["sweep", &file], tmp.path());
        assert!(out.status.success(), "{risk}: {}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(said.contains("best decision "), "{said}");
        let dir = tmp
            .path()
            .join(format!("results/dt-{}", risk.replace([':', '.'], "-")));
        let points = json(dir.join("points.json"));
        let score_of = |p: u64| {
            points
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["point"] == p)
                .unwrap()["score"]
                .as_f64()
                .unwrap()
        };
        // Points are decision-major: decision d faces threat t at point 2d + t.
        let combine = |scores: [f64; 2]| match risk {
            "mean" => (scores[0] + scores[1]) / 2.0,
            _ => scores[0].max(scores[1]), // worst; cvar:0.5 of two threats is the worst
        };
        let by_decision: Vec<f64> = (0..4)
            .map(|d| combine([score_of(2 * d), score_of(2 * d + 1)]))
            .collect();
        let best_d = (0..4)
            .min_by(|&a, &b| by_decision[a].total_cmp(&by_decision[b]).then(a.cmp(&b)))
            .unwrap();
        let best = json(dir.join("best.json"));
        assert_eq!(best["risk"], risk);
        assert_eq!(best["decision"], best_d as u64, "{risk}: {by_decision:?}");
        assert_eq!(best["score"].as_f64().unwrap(), by_decision[best_d]);
        assert_eq!(best["threats"].as_array().unwrap().len(), 2);
        assert_eq!(
            best["settings"].as_array().unwrap().len(),
            2,
            "only the decision's own settings"
        );
        assert!(best["comparison"]["p_value"].as_f64().is_some(), "{best}");
        // The comparison is of the declared risk measure. Oracle: the runner-up's risk
        // minus the best's, from the runs' own scores (runs.jsonl and the weights).
        let w = &best["score_weights"];
        let weight = |k: &str| w[k].as_f64().unwrap();
        let runs = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
        let mut sums = [[0.0f64; 2]; 8];
        let mut counts = [[0u32; 2]; 8];
        for line in runs.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            let m = |k: &str| r["metrics"][k].as_f64().unwrap_or(0.0);
            let score = weight("security_loss") * m("objectives.security_loss")
                + weight("availability") * m("objectives.availability")
                + weight("cost") * m("objectives.cost");
            let p = r["point"].as_u64().unwrap() as usize;
            sums[p][0] += score;
            counts[p][0] += 1;
        }
        let threat_means =
            |d: usize| [0, 1].map(|t| sums[2 * d + t][0] / f64::from(counts[2 * d + t][0]));
        let runner = best["comparison"]["runner_up"].as_u64().unwrap() as usize;
        let want = combine(threat_means(runner)) - combine(threat_means(best_d));
        let got = best["comparison"]["mean_difference"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{risk}: comparison {got} vs {want}"
        );
        let test = best["comparison"]["test"].as_str().unwrap();
        if risk == "mean" {
            assert!(test.contains("sign-flip"), "{test}");
        } else {
            assert!(
                test.contains(&format!(
                    "the difference of the {risk} of the threat scores"
                )),
                "{test}"
            );
            assert!(
                best["statement"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("better in the {risk} over the threats"))
            );
        }
        let (lo, hi) = (
            best["comparison"]["ci_low"].as_f64().unwrap(),
            best["comparison"]["ci_high"].as_f64().unwrap(),
        );
        assert!(lo <= hi, "{risk}: [{lo}, {hi}]");
        assert!(
            best["statement"]
                .as_str()
                .unwrap()
                .contains(&format!("the {risk} over 2 threats"))
        );
        let csv = std::fs::read_to_string(dir.join("decisions.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
        assert!(csv.starts_with(&format!(
            "decision,zero_trust.reverify_interval [s],zero_trust.threshold,score ({risk}),threats,threat 0 score,threat 1 score"
        )));
    }
    // An axis the defender decides is a decision, not a threat.
    let exp = DECISIONS
        .replace("RISK", "mean")
        .replace("replicas = 2", "replicas = 1\nstrategy = \"zt.toml\"")
        .replace(
            "values = [\"5 min\", \"30 min\"]",
            "values = [\"5 min\", \"30 min\"]\ndecision = true",
        )
        .replace("name = \"dt\"", "name = \"dt-axis\"");
    std::fs::write(tmp.path().join("axis.toml"), exp).unwrap();
    let out = paraverse(&["sweep", "axis.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d = json(tmp.path().join("results/dt-axis/decisions.json"));
    assert_eq!(d["decisions"].as_array().unwrap().len(), 8);
    assert_eq!(d["decisions"][0]["threats"].as_array().unwrap().len(), 1);
    // A bad risk measure is bad input with its line.
    std::fs::write(
        tmp.path().join("bad.toml"),
        DECISIONS.replace("RISK", "median"),
    )
    .unwrap();
    let out = paraverse(&["sweep", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("expected a risk measure: mean, worst or cvar:ALPHA"),
        "{}",
        text(&out.stderr)
    );
}

/// A setting that changes nothing is said, at the end of the sweep and in the report.
#[test]
fn a_setting_with_no_effect_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    strategy(tmp.path());
    let exp = DECISIONS
        .replace("RISK", "mean")
        .replace("replicas = 2", "replicas = 1\nstrategy = \"zt.toml\"")
        .replace("[0.5, 0.97]", "[0.3, 0.6, 0.7]")
        .replace("ticks = 360", "ticks = 120");
    std::fs::write(tmp.path().join("exp.toml"), exp).unwrap();
    let out = paraverse(&["sweep", "exp.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: `zero_trust.threshold` changed no objective"),
        "{err}"
    );
    assert!(
        !err.contains("`zero_trust.reverify_interval` changed"),
        "{err}"
    );
    let out = paraverse(&["report", "results/dt"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(tmp.path().join("results/dt/report.md")).unwrap();
    assert!(
        md.contains("## Decision") && md.contains("**Warning:** `zero_trust.threshold`"),
        "{md}"
    );
    // Every point is charted (12 points: two time-series charts), and categorical axes
    // are labelled with their values.
    let chart = |name: &str| {
        std::fs::read_to_string(tmp.path().join("results/dt/charts").join(name)).unwrap()
    };
    let (first, second) = (chart("timeseries.svg"), chart("timeseries-2.svg"));
    for p in 0..12 {
        // plotters writes each SVG text on its own line.
        let label = format!("\npoint {p}\n");
        assert!(
            first.contains(&label) || second.contains(&label),
            "point {p} is in a time-series chart"
        );
    }
    assert!(md.contains("charts/timeseries-2.svg"), "{md}");
    let effect = chart("effect-0.svg");
    assert!(
        effect.contains("\n30 s\n") && effect.contains("\n10 min\n"),
        "categorical labels"
    );
    let objectives = chart("security_loss.svg");
    assert!(objectives.contains("\n11\n") && !objectives.contains("\n11.0\n"));
}

/// report.html is one self-contained page a browser renders: headless Chromium loads it
/// from a copy away from the results folder (so nothing can come from charts/), and the
/// page it built holds every chart inline, every point, and no raw Markdown.
#[test]
fn report_html_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        common::skip_unless_required("PARAVERSE_REQUIRE_CHROMIUM", "no chromium installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    strategy(tmp.path());
    let exp = DECISIONS
        .replace("RISK", "mean")
        .replace("replicas = 2", "replicas = 2\nstrategy = \"zt.toml\"")
        .replace("[0.5, 0.97]", "[0.5, 0.9, 0.97]")
        .replace("ticks = 360", "ticks = 90");
    std::fs::write(tmp.path().join("exp.toml"), exp).unwrap();
    assert!(
        paraverse(&["sweep", "exp.toml", "--quiet"], tmp.path())
            .status
            .success()
    );
    let out = paraverse(&["report", "results/dt"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let alone = tmp.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(
        tmp.path().join("results/dt/report.html"),
        alone.join("report.html"),
    )
    .unwrap();
    let profile = tmp.path().join("profile");
    let url = format!("file://{}", alone.join("report.html").display());
    let browse = |extra: &[&str]| {
        std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                &format!("--user-data-dir={}", profile.display()),
            ])
            .args(extra)
            .arg(&url)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = browse(&["--dump-dom"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dom = text(&out.stdout);
    assert!(
        dom.contains("<h1>Experiment report: dt</h1>"),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("<h2>Decision</h2>"));
    assert!(
        !dom.contains('`') && !dom.contains("**") && !dom.contains("!["),
        "raw Markdown in the page"
    );
    assert!(
        !dom.contains("<img src=\"charts/"),
        "no image from outside the page"
    );
    let inline_svgs = dom.matches("<svg").count();
    assert!(inline_svgs >= 7, "{inline_svgs} inline charts");
    for p in 0..12 {
        assert!(dom.contains(&format!("point {p}")), "point {p} in the page");
    }
    // And it paints: a screenshot that is not blank.
    let shot = tmp.path().join("page.png");
    let out = browse(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1000,3000",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 20_000,
        "a painted page"
    );
}

/// `replicas = "auto"` adds batches until its rule is met, says which, and resumes to the
/// same stop; a tie that can never separate runs to the cap and says so.
#[test]
fn auto_replicas_stop_by_their_rule_and_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    strategy(tmp.path());
    let auto = |name: &str, thresholds: &str, intervals: &str| {
        format!(
            "[experiment]\nname = \"{name}\"\nscenario = \"campaign-exfiltration\"\nstrategy = \"zt.toml\"\nreplicas = \"auto\"\nticks = 240\n\n[auto]\nbatch = 3\nmax = 9\n\n[[vary]]\nparam = \"zero_trust.reverify_interval\"\nvalues = {intervals}\n\n[[vary]]\nparam = \"zero_trust.threshold\"\nvalues = {thresholds}\n"
        )
    };
    // 30 s against 10 min: clearly apart, separated once enough pairs agree.
    std::fs::write(
        tmp.path().join("apart.toml"),
        auto("apart", "[0.5]", "[\"30 s\", \"10 min\"]"),
    )
    .unwrap();
    let out = paraverse(&["sweep", "apart.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("replicas auto: stopped at ")
            && err.contains(": the best decision is separated"),
        "{err}"
    );
    let best = json(tmp.path().join("results/apart/best.json"));
    assert_eq!(best["replicas_auto"]["rule"], "separated");
    assert!(best["comparison"]["p_value"].as_f64().unwrap() < 0.05);
    let replicas = best["replicas_auto"]["replicas"].as_u64().unwrap();
    let rounds = best["replicas_auto"]["rounds"].as_u64().unwrap();
    assert_eq!(replicas, 3 * rounds, "batches of 3");
    assert!(
        rounds >= 2,
        "3 pairs cannot reach p < 0.05 (the least p is 2/8)"
    );
    assert_eq!(
        best["provenance"]["seeds"].as_array().unwrap().len() as u64,
        replicas
    );
    // The report states the rule and why it stopped.
    let report = paraverse(&["report", "results/apart"], tmp.path());
    assert!(report.status.success(), "{}", text(&report.stderr));
    let md = std::fs::read_to_string(tmp.path().join("results/apart/report.md")).unwrap();
    assert!(
        md.contains(&format!(
            "{replicas} replicas per point after {rounds} round(s), by the separated rule: the best decision is separated"
        )),
        "{md}"
    );
    // Resumed: nothing runs again, the same stop.
    let again = paraverse(&["sweep", "apart.toml"], tmp.path());
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains(&format!(
            "({} resumed from an earlier sweep, 0 now)",
            2 * replicas
        )),
        "{}",
        text(&again.stdout)
    );
    assert!(text(&again.stderr).contains(&format!(
        "stopped at {replicas} replicas per point after {rounds} rounds"
    )));
    // Two thresholds that never bite at 30 s tie in every run: the cap, said.
    std::fs::write(
        tmp.path().join("tie.toml"),
        auto("tie", "[0.3, 0.6]", "[\"30 s\"]"),
    )
    .unwrap();
    let out = paraverse(&["sweep", "tie.toml", "--quiet"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("stopped at 9 replicas per point after 3 rounds: the cap of 9 replicas"),
        "{err}"
    );
    // Auto and shards do not mix; [auto] needs replicas = "auto".
    let out = paraverse(&["sweep", "tie.toml", "--shard", "0/2"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(
        tmp.path().join("bad.toml"),
        auto("bad", "[0.3]", "[\"30 s\"]").replace("replicas = \"auto\"", "replicas = 3"),
    )
    .unwrap();
    let out = paraverse(&["sweep", "bad.toml"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("[auto] is the stopping rule"));
}

/// A single run can be reported: `paraverse report` on a folder written by `paraverse run`.
#[test]
fn a_single_run_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = paraverse(
        &[
            "run",
            "campaign-exfiltration",
            "--ticks",
            "120",
            "--quiet",
            "--out",
            "one",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paraverse(&["report", "one"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(tmp.path().join("one/report.md")).unwrap();
    assert!(
        md.starts_with("# Run report: campaign-exfiltration (seed "),
        "{md}"
    );
    assert!(
        md.contains("## Objectives") && md.contains("## Campaigns"),
        "{md}"
    );
    assert!(
        md.contains("| T1"),
        "kill-chain steps with their techniques: {md}"
    );
    assert!(md.contains("![node states](charts/states.svg)"));
    let svg = std::fs::read_to_string(tmp.path().join("one/charts/states.svg")).unwrap();
    assert!(svg.contains("\ncompromised\n") && svg.contains("\nquarantined\n"));
    let html = std::fs::read_to_string(tmp.path().join("one/report.html")).unwrap();
    assert!(html.contains("<h1>Run report: campaign-exfiltration") && html.contains("<svg"));
}

/// The data dictionary covers every column and field a real run writes, and every metric
/// of the lab's runs.csv.
#[test]
fn the_data_dictionary_covers_every_column_a_run_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let strategy = repo().join("strategies/full-stack.toml");
    let strategy = strategy.to_str().unwrap();
    let args = ["metaverse-under-siege", "--strategy", strategy];
    let out = paraverse(
        &[
            &["run"][..],
            &args,
            &["--ticks", "120", "--quiet", "--out", "r"],
        ]
        .concat(),
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = paraverse(&[&["metrics"][..], &args, &["--json"]].concat(), tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let documented = |file: &str, column: &str| {
        entries.iter().any(|e| {
            e["file"] == file
                && e["column"] == column
                && !e["meaning"].as_str().unwrap_or("").is_empty()
        })
    };
    let csv = std::fs::read_to_string(tmp.path().join("r/timeseries.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for column in header.split(',') {
        assert!(
            documented("timeseries.csv", column),
            "timeseries.csv `{column}`"
        );
    }
    let zones = std::fs::read_to_string(tmp.path().join("r/zones.csv")).unwrap();
    for column in zones.lines().next().unwrap().split(',') {
        assert!(documented("zones.csv", column), "zones.csv `{column}`");
    }
    let events = std::fs::read_to_string(tmp.path().join("r/events.jsonl")).unwrap();
    assert!(events.lines().count() > 10);
    for line in events.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in event.as_object().unwrap().keys() {
            assert!(documented("events.jsonl", key), "events.jsonl `{key}`");
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/summary.json")).unwrap())
            .unwrap();
    for (key, value) in summary.as_object().unwrap() {
        match (key.as_str(), value) {
            ("impact" | "cost" | "objectives", serde_json::Value::Object(fields)) => {
                for sub in fields.keys() {
                    let path = format!("{key}.{sub}");
                    assert!(documented("summary.json", &path), "summary.json `{path}`");
                }
            }
            _ => assert!(documented("summary.json", key), "summary.json `{key}`"),
        }
    }
    // Every counter and gauge total in the summary is a documented time-series column.
    for group in ["counters", "gauges"] {
        for name in summary[group].as_object().unwrap().keys() {
            assert!(documented("timeseries.csv", name), "{group} `{name}`");
        }
    }
    for metric in paraverse_lab::runner::METRICS {
        assert!(documented("runs.csv", metric), "runs.csv `{metric}`");
    }
    let table = paraverse(&["metrics"], tmp.path());
    assert!(text(&table.stdout).contains("accounts_taken_over"));
}

/// Two exfiltration campaigns against the same data lake: a record both copy is one
/// record exposed, so the records stolen never exceed what the stores hold (8,000
/// biometric, 40,000 health, 400,000 behavioural, 200,000 twin records; each campaign
/// alone takes them all by the end of the undefended run).
#[test]
fn records_stolen_count_records_not_thefts() {
    let tmp = tempfile::tempdir().unwrap();
    let base =
        std::fs::read_to_string(repo().join("scenarios/campaign-exfiltration.toml")).unwrap();
    let twice = format!(
        "{base}\n[[campaign]]\nname = \"copycat\"\nstart = \"6 min\"\nentry = \"phones\"\naccess = \"phishing\"\nattempt_rate = 0.05\ntarget = \"data-lake\"\nlateral_rate = 0.05\n\n[campaign.exfiltration]\ndrop = \"drop\"\nrate = \"50 Mbit/s\"\nrecord_bytes = 4096\n"
    );
    std::fs::write(tmp.path().join("twice.toml"), twice).unwrap();
    let out = paraverse(
        &["run", "twice.toml", "--seed", "7", "--quiet", "--out", "r"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = json(tmp.path().join("r/summary.json"));
    let stolen = &summary["impact"]["records_stolen"];
    assert_eq!(stolen["biometric"], 8_000, "{stolen}");
    assert_eq!(stolen["health"], 40_000, "{stolen}");
    assert_eq!(stolen["behavioural"], 400_000, "{stolen}");
    assert_eq!(stolen["twin_data"], 200_000, "{stolen}");
    // Both campaigns reached their effect step: each did steal.
    let campaigns = summary["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
}

/// The regression gate runs a `replicas = "auto"` experiment to its stopping rule, as a
/// sweep does, not only its first batch: the tie below can never separate, so both the
/// baseline and the gate run all 9 replicas, and the gate passes against its baseline.
#[test]
fn check_runs_auto_replicas_to_their_rule() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("gate")).unwrap();
    strategy(tmp.path());
    std::fs::write(
        tmp.path().join("gate/tie.toml"),
        "[experiment]\nname = \"tie\"\nscenario = \"campaign-exfiltration\"\nstrategy = \"../zt.toml\"\nreplicas = \"auto\"\nticks = 120\n\n[auto]\nbatch = 3\nmax = 9\n\n[[vary]]\nparam = \"zero_trust.threshold\"\nvalues = [0.3, 0.6]\n\n[check]\nrelative = 0.05\nabsolute = 1.0\n",
    )
    .unwrap();
    let check = |extra: &[&str]| {
        paraverse(
            &[
                &[
                    "check",
                    "gate",
                    "--baselines",
                    "base",
                    "--junit",
                    "junit.xml",
                ][..],
                extra,
            ]
            .concat(),
            tmp.path(),
        )
    };
    let out = check(&["--update"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("tie: replicas auto stopped at 9 per point: the cap"),
        "{}",
        text(&out.stderr)
    );
    let runs = std::fs::read_to_string(tmp.path().join("results/check/tie/runs.jsonl")).unwrap();
    assert_eq!(
        runs.lines().count(),
        2 * 9,
        "every round ran, not only the first batch"
    );
    let out = check(&[]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let runs = std::fs::read_to_string(tmp.path().join("results/check/tie/runs.jsonl")).unwrap();
    assert_eq!(runs.lines().count(), 18);
}
