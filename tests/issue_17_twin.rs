//! The live twin through the binary (#17): a ground-truth run writes the blue team's feed,
//! the twin sees only that feed and estimates what the sensors cannot see better than
//! "alerted = compromised"; the same feed gives the same estimates at any thread count and
//! from standard input; cycles publish recommendations; bad feeds are clear errors.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use common::tmux::Tmux;
use common::{paraverse, text};

/// The path of a bundled strategy file, e.g. `ueba.toml`.
fn strategy(file: &str) -> String {
    common::repo()
        .join("strategies")
        .join(file)
        .display()
        .to_string()
}

/// A 40-minute truth run of the siege under `strategy`, writing `truth/` and its feed.
fn siege_truth(dir: &Path, strategy: &str) {
    ok(paraverse(
        &[
            "run",
            "metaverse-under-siege",
            "--strategy",
            strategy,
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
}

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
            "--cycle",
            "10 min",
            "--horizon",
            "5 min",
            "--candidate",
            &common::repo()
                .join("strategies/zero-trust.toml")
                .display()
                .to_string(),
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
    // Measured: 0.21 against 16.4 nodes (16 members, 720 ticks), the 90 % interval
    // holding the truth in 97.5 % of ticks. Before the alerts' doubt was carried and the
    // prior knew which nodes the worm can take: 0.41 and 72 %; before the members'
    // detectors were gated by the real ones, about 3 against 19 on the feed of the time.
    assert!(twin_mae < 0.3, "{acc}");
    assert!(twin_mae < 0.1 * naive_mae, "{acc}");
    assert!(acc["coverage_90"].as_f64().unwrap() > 0.9, "{acc}");
    // Each cycle's forecast of the current defenses checked against the truth at its
    // horizon (the calibration the README's table sums up): 11 of 11 cycles, the three
    // with compromised nodes included. Before the doubt, the members agreed on 496
    // compromised nodes once the outbreak was isolated, with an interval of zero width,
    // against a truth of 497: 8 of 11, none of the three.
    let f = &acc["forecasts"];
    let checked = f["checked"].as_u64().unwrap();
    assert!(checked >= 10, "{f}");
    assert!(f["inside_80"].as_u64().unwrap() + 1 >= checked, "{f}");
    for c in f["cycles"].as_array().unwrap() {
        assert!(
            c["q10"].as_f64() <= c["median"].as_f64() && c["median"].as_f64() <= c["q90"].as_f64()
        );
    }
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

/// The siege under full-stack is a standing threat (16 to 34 compromised nodes for hours):
/// the twin's 1-hour forecasts of it, every 10 minutes over 4 hours, hold the truth in
/// their 80 % interval about as often as they claim. Measured on truth seed 1
/// (calibration seed 100): 16 of 18 cycles (15 with the members' own 10–90 % in place of
/// the prediction interval), the median 1.5 nodes high on average; before the members kept the attackers their detectors revealed and their speed factor
/// was drawn back toward the scenario's rates, 6 of 18, 9 nodes high (README, "One hour
/// ahead").
#[test]
fn one_hour_forecasts_of_a_standing_threat_hold_the_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let full_stack = strategy("full-stack.toml");
    for (seed, out) in [("1", "truth"), ("100", "calib")] {
        let mut args = vec![
            "run",
            "metaverse-under-siege",
            "--strategy",
            &full_stack,
            "--seed",
            seed,
            "--out",
            out,
            "-q",
        ];
        if out == "truth" {
            args.extend(["--observations-out", "feed.jsonl"]);
        }
        ok(paraverse(&args, dir));
    }
    let zero_trust = strategy("zero-trust.toml");
    ok(paraverse(
        &[
            "twin",
            "metaverse-under-siege",
            "--strategy",
            &full_stack,
            "--seed",
            "1",
            "--observations",
            "feed.jsonl",
            "--members",
            "16",
            "--calibrate",
            "calib",
            "--truth",
            "truth",
            "--cycle",
            "10 min",
            "--horizon",
            "1 h",
            "--candidate",
            &zero_trust,
            "--out",
            "tw",
            "-q",
        ],
        dir,
    ));
    let acc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tw/accuracy.json")).unwrap())
            .unwrap();
    let cycles = acc["forecasts"]["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 18, "{acc}");
    let inside = cycles.iter().filter(|c| c["inside_80"] == true).count();
    let bias = cycles
        .iter()
        .map(|c| c["median"].as_f64().unwrap() - c["truth"].as_f64().unwrap())
        .sum::<f64>()
        / cycles.len() as f64;
    assert!(
        inside >= 13,
        "{inside} of 18 cycles inside, median − truth {bias}: {acc}"
    );
    assert!(bias.abs() < 4.0, "median − truth {bias}: {acc}");
    assert!(
        acc["twin_mae"].as_f64().unwrap() < acc["naive_mae"].as_f64().unwrap(),
        "{acc}"
    );
}

/// An ensemble that cannot fit in memory is refused before anything is built or written:
/// the twin, the shadow loop and their members count against the memory available
/// (`PARAVERSE_MEMORY_AVAILABLE` stands for a small machine), naming the option that
/// needs less.
#[test]
fn ensembles_too_big_for_the_memory_are_refused_before_they_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("feed.jsonl"), "").unwrap();
    let zero = strategy("zero-trust.toml");
    for (args, expect, force) in [
        (
            vec![
                "twin",
                "metaverse-under-siege",
                "--observations",
                "feed.jsonl",
                "--members",
                "5000",
                "--out",
                "tw",
            ],
            "for 5000 universes at once (the ensemble's members",
            true,
        ),
        (
            vec![
                "shadow",
                "metaverse-under-siege",
                "--candidate",
                zero.as_str(),
                "--members",
                "1000",
                "--threads",
                "1",
            ],
            "for 1002 universes at once (the truth, the twin's members",
            false,
        ),
    ] {
        let out = common::bin()
            .args(&args)
            .current_dir(dir)
            .env("PARAVERSE_MEMORY_AVAILABLE", (1u64 << 30).to_string())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(expect) && err.contains("fewer --members"),
            "{err}"
        );
        assert_eq!(err.contains("--force"), force, "{err}");
    }
    assert!(!dir.join("tw").exists(), "nothing written");
}

/// Every input is read and checked before the output folder is touched: a missing feed,
/// ground truth or live ruleset, or a --publish that is no MQTT topic, is invalid input
/// (exit 2) and leaves an earlier twin's results as they were, even under --force.
#[test]
fn bad_inputs_leave_the_earlier_results_as_they_were() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("tw/recommendations")).unwrap();
    std::fs::write(dir.join("tw/estimates.csv"), "earlier\n").unwrap();
    std::fs::write(dir.join("feed.jsonl"), "").unwrap();
    let zero = strategy("zero-trust.toml");
    let cycle = ["--cycle", "10 min", "--candidate", zero.as_str()];
    for (extra, expect) in [
        (vec!["--observations", "missing.jsonl"], "missing.jsonl"),
        (
            vec!["--observations", "feed.jsonl", "--truth", "no-run"],
            "no-run",
        ),
        (
            [
                &[
                    "--observations",
                    "feed.jsonl",
                    "--publish",
                    "http://broker/t",
                ][..],
                &cycle,
            ]
            .concat(),
            "--publish http://broker/t: expected mqtt://",
        ),
        (
            [
                &["--observations", "feed.jsonl", "--live", "no-live.json"][..],
                &cycle,
            ]
            .concat(),
            "no-live.json",
        ),
    ] {
        let mut args = vec!["twin", "campaign-intrusion", "--out", "tw", "--force"];
        args.extend(&extra);
        let out = paraverse(&args, dir);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("tw/estimates.csv")).unwrap(),
            "earlier\n",
            "{extra:?} lost the earlier results"
        );
    }
    // Fine inputs, but an earlier folder without --force, or a file where the folder goes:
    // refused, as `paraverse run` refuses them.
    std::fs::write(dir.join("a-file"), "").unwrap();
    for (out, expect) in [("tw", "tw already exists"), ("a-file", "a file is there")] {
        let o = paraverse(
            &[
                "twin",
                "campaign-intrusion",
                "--observations",
                "feed.jsonl",
                "--out",
                out,
            ],
            dir,
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{out}: {err}");
        assert!(err.contains(expect), "{out}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("tw/estimates.csv")).unwrap(),
        "earlier\n"
    );
    // Inputs that are fine: the folder is replaced with --force, as asked.
    ok(paraverse(
        &[
            "twin",
            "campaign-intrusion",
            "--observations",
            "feed.jsonl",
            "--until",
            "1 min",
            "--members",
            "2",
            "--out",
            "tw",
            "--force",
            "-q",
        ],
        dir,
    ));
    let estimates = std::fs::read_to_string(dir.join("tw/estimates.csv")).unwrap();
    assert!(
        estimates.starts_with("tick,time_s,estimate,"),
        "{estimates}"
    );
}

#[test]
fn cycles_publish_recommendations_and_bad_feeds_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = strategy;
    let (ueba, full, zero) = (s("ueba.toml"), s("full-stack.toml"), s("zero-trust.toml"));
    siege_truth(dir, &ueba);
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
    // The change to deploy: the recommended strategy exported (each format read back and
    // checked by the export) and the nftables lines that change from the current defenses.
    let deploy = &latest["deploy"];
    assert!(deploy["error"].is_null(), "{deploy}");
    assert_eq!(deploy["strategy"], latest["recommended"]);
    let folder = dir.join("tw/recommendations/tick-0000000240");
    for f in [
        "ruleset.nft",
        "networkpolicy.yaml",
        "authorizationpolicy.yaml",
        "strategy.json",
        "nftables.diff",
    ] {
        assert!(folder.join(f).is_file(), "{f}");
    }
    let changes = deploy["nftables_changes"].as_array().unwrap();
    assert_eq!(
        changes.is_empty(),
        latest["recommended"] == "current",
        "{deploy}"
    );
    // Bad feeds: exit status 2, the file and line, what was expected.
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"time_s\": 10, \"kind\": \"alert\", \"node\": 3}\n{\"time_s\": 20, \"kind\": \"alert\", \"node\": \"nosuch-1\"}\n",
    )
    .unwrap();
    // A link load names a link (node 0 and node 1000 of the siege share none), gives its
    // load, and other kinds take no link fields.
    std::fs::write(
        dir.join("bad-link.jsonl"),
        "{\"time_s\": 10, \"kind\": \"link_load\", \"node\": 0, \"to\": 1000, \"kbps\": 5}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-kbps.jsonl"),
        "{\"time_s\": 10, \"kind\": \"link_load\", \"node\": 0, \"to\": 1}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-to.jsonl"),
        "{\"time_s\": 10, \"kind\": \"alert\", \"node\": 0, \"to\": 1}\n",
    )
    .unwrap();
    for (feed, expect) in [
        ("bad.jsonl", "bad.jsonl:2: node `nosuch-1`"),
        ("missing.jsonl", "missing.jsonl"),
        (
            "bad-link.jsonl",
            "bad-link.jsonl:1: link_load: nodes 0 and 1000 share no link",
        ),
        (
            "bad-kbps.jsonl",
            "bad-kbps.jsonl:1: link_load: expected `kbps`",
        ),
        (
            "bad-to.jsonl",
            "bad-to.jsonl:1: `to`, `to_address` and `kbps` belong to",
        ),
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
    // Replay paced at 2,400 simulated seconds per wall second: the 40-minute feed takes
    // at least a second (a lower bound; the machine may be slower, never faster).
    let started = std::time::Instant::now();
    ok(paraverse(
        &[
            "twin",
            "metaverse-under-siege",
            "--observations",
            "feed.jsonl",
            "--members",
            "1",
            "--speed",
            "2400",
            "--out",
            "paced",
            "-q",
        ],
        dir,
    ));
    assert!(started.elapsed() >= std::time::Duration::from_millis(990));
    let schema = ok(paraverse(&["schema", "--observations"], dir));
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema.to_string().contains("quarantine"));
}

/// A network namespace with a Mosquitto broker on its loopback: the test's MQTT traffic
/// never leaves it. Removed on drop, even when the test fails.
struct Broker {
    ns: String,
    broker: std::process::Child,
}

impl Broker {
    /// `None` (a skip) where this machine cannot: not root, or no mosquitto.
    fn start() -> Option<Self> {
        let ns = format!("pv-mqtt-{}", std::process::id());
        let sh = |args: &[&str]| {
            std::process::Command::new(args[0])
                .args(&args[1..])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !sh(&["ip", "netns", "add", &ns]) {
            return None;
        }
        sh(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
        let broker = std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "mosquitto", "-p", "1883"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(broker) = broker else {
            let _ = sh(&["ip", "netns", "del", &ns]);
            return None;
        };
        let b = Self { ns, broker };
        // Bounded wait for the broker to accept connections.
        let up = (0..50).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            sh(&[
                "ip",
                "netns",
                "exec",
                &b.ns,
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-t",
                "probe",
                "-m",
                "x",
            ])
        });
        up.then_some(b)
    }

    fn command(&self, program: &str) -> std::process::Command {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.broker.kill();
        let _ = self.broker.wait();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
    }
}

/// The feed through a real Mosquitto broker, the recommendation read back from MQTT: the
/// same recommendation as from the file.
#[test]
fn the_twin_follows_an_mqtt_feed_and_publishes_its_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = strategy;
    let (ueba, full) = (s("ueba.toml"), s("full-stack.toml"));
    siege_truth(dir, &ueba);
    let Some(broker) = Broker::start() else {
        common::skip_unless_required(
            "PARAVERSE_REQUIRE_MQTT",
            "no network namespace with mosquitto here (root, iproute2 and mosquitto are needed)",
        );
        return;
    };
    let twin_args = |feed: &str, out: &str| -> Vec<String> {
        let mut a: Vec<String> = [
            "twin",
            "metaverse-under-siege",
            "--strategy",
            &ueba,
            "--observations",
            feed,
            "--members",
            "4",
            "--cycle",
            "20 min",
            "--horizon",
            "10 min",
            "--candidate",
            &full,
            "--out",
            out,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if feed.starts_with("mqtt://") {
            a.extend(["--publish", "mqtt://127.0.0.1:1883/soc/recommendation"].map(str::to_owned));
        }
        a
    };
    let mut twin = broker
        .command(env!("CARGO_BIN_EXE_paraverse"))
        .args(twin_args("mqtt://127.0.0.1:1883/soc/feed", "tw-mqtt"))
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(twin.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        seen += &line;
        assert!(n > 0, "the twin ended before subscribing: {seen}");
        if line.contains("subscribed to mqtt://127.0.0.1:1883/soc/feed") {
            break;
        }
    }
    let published = broker
        .command("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-q", "1", "-t", "soc/feed", "-f"])
        .arg(dir.join("feed.jsonl"))
        .status()
        .unwrap();
    assert!(published.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = twin.wait().unwrap();
    assert!(status.success(), "{seen}{rest}");
    assert!(rest.contains("tick 240: Deploy "), "{rest}");
    let got = broker
        .command("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-t",
            "soc/recommendation",
            "-C",
            "1",
            "-W",
            "10",
        ])
        .output()
        .unwrap();
    let from_mqtt: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(
        from_mqtt["from_tick"], 240,
        "the retained message is the last cycle's"
    );
    // The same feed from the file gives the same recommendation.
    let file_args = twin_args("feed.jsonl", "tw-file");
    ok(paraverse(
        &file_args.iter().map(String::as_str).collect::<Vec<_>>(),
        dir,
    ));
    let from_file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("tw-file/recommendations/latest.json")).unwrap(),
    )
    .unwrap();
    // The same but for where each wrote its export.
    let (mut from_mqtt, mut from_file) = (from_mqtt, from_file);
    for v in [&mut from_mqtt, &mut from_file] {
        v["deploy"].as_object_mut().unwrap().remove("folder");
    }
    assert!(from_mqtt == from_file, "the recommendations differ");
}

/// The closed loop through the binary: the truth starts under UEBA alone, the twin follows
/// its feed and recommends; following costs no more than the best strategy held fixed
/// from the start (same seed), and far less than staying put.
#[test]
fn following_the_twins_recommendations_is_no_worse_than_the_best_fixed_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let s = strategy;
    let (ueba, full, zero) = (s("ueba.toml"), s("full-stack.toml"), s("zero-trust.toml"));
    let out = ok(paraverse(
        &[
            "shadow",
            "metaverse-under-siege",
            "--strategy",
            &ueba,
            "--candidate",
            &full,
            "--candidate",
            &zero,
            "--seed",
            "7",
            "--stop",
            "40 min",
            "--members",
            "4",
            "--cycle",
            "10 min",
            "--horizon",
            "20 min",
            "--json",
        ],
        tmp.path(),
    ));
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let followed = o["followed"]["security_loss"].as_f64().unwrap();
    let fixed: Vec<(String, f64)> = o["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let loss = p[1]["security_loss"].as_f64().unwrap();
            (p[0].as_str().unwrap().to_owned(), loss)
        })
        .collect();
    let best = fixed.iter().map(|f| f.1).fold(f64::MAX, f64::min);
    let stay = fixed.iter().find(|f| f.0 == "ueba").unwrap().1;
    assert!(o["switches"].as_array().unwrap().len() >= 2, "{o}");
    // Measured: the twin recommends full-stack before the first tick and holds it:
    // 20,594 followed, the same as full-stack from the start, 1,058,925 staying.
    assert!(followed <= best * 1.02, "{o}");
    assert!(followed < stay / 10.0, "{o}");
}

/// Where the best strategy changes over time: the campus starts under its own defenses
/// (patching, scan detection, quarantine), the cheap candidate is hardening alone. Before
/// the worm and after the outbreak is contained hardening scores better (the responses'
/// false quarantines and patch rounds cost more than they save); while the worm spreads the
/// responses do. The twin recommends hardening, then its own defenses when the feed shows
/// the worm, then hardening again, and the truth following it scores better (lower) than
/// either strategy held fixed.
#[test]
fn the_twin_switches_as_the_threat_changes_and_beats_both_fixed_strategies() {
    let tmp = tempfile::tempdir().unwrap();
    let hardening = strategy("hardening.toml");
    let out = ok(paraverse(
        &[
            "shadow",
            "metaverse-campus",
            "--candidate",
            &hardening,
            "--seed",
            "3",
            "--stop",
            "2 h",
            "--members",
            "4",
            "--cycle",
            "10 min",
            "--horizon",
            "60 min",
            "--json",
        ],
        tmp.path(),
    ));
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let switched: Vec<&str> = o["switches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_str().unwrap())
        .collect();
    // Measured: current at 0, hardening at 0, current from tick 60, hardening from 300.
    assert_eq!(
        switched,
        ["current", "hardening", "current", "hardening"],
        "{o}"
    );
    let score = |v: &serde_json::Value| v["score"].as_f64().unwrap();
    let followed = score(&o["followed"]);
    for f in o["fixed"].as_array().unwrap() {
        // Measured: -99,567 followed against -99,142 (current) and -98,935 (hardening).
        assert!(followed < score(&f[1]) - 100.0, "{o}");
    }
}

/// `paraverse twin --watch` in a real terminal (tmux, 100×30): the screen shows the
/// estimate against the alerts and the recommendation; `q` quits with status 0.
#[test]
fn the_twin_screen_shows_the_estimate_and_the_recommendation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = strategy;
    let (ueba, full) = (s("ueba.toml"), s("full-stack.toml"));
    siege_truth(dir, &ueba);
    let cmd = format!(
        "{} twin metaverse-under-siege --strategy {ueba} --observations feed.jsonl --members 2 --cycle '10 min' --horizon '10 min' --candidate {full} --out tw --watch; echo $? > exit-code",
        env!("CARGO_BIN_EXE_paraverse")
    );
    let Some(t) = Tmux::start("twin", &cmd, dir, (100, 30)) else {
        return;
    };
    let last = t.wait_within(Duration::from_secs(90), "the last tick", |s| {
        s.contains("recommended: ") && s.contains("(ended)") || s.contains("tick 240")
    });
    std::thread::sleep(Duration::from_millis(500));
    let last = t.screen() + &last;
    for expect in [
        "paraverse twin",
        "estimated vs alerted",
        "recommended: ",
        "forecast: median compromised",
        "compromised now: twin",
    ] {
        assert!(last.contains(expect), "{expect}:\n{last}");
    }
    // `q` quits at once, also while the last cycle's forecast still runs.
    t.keys(&["q"]);
    let code = exit_code_within(&t, dir, Duration::from_secs(10));
    assert_eq!(code, "0");
    assert!(dir.join("tw/estimates.csv").is_file());
}

/// `q` on the twin screen quits within seconds wherever the twin is: in a forecast that
/// would take minutes (32 members of two strategies over 4 h), and waiting for a feed that
/// sends nothing. Both exit with status 0 and leave what was written.
#[test]
fn q_quits_the_twin_screen_mid_forecast_and_on_a_silent_feed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = strategy;
    let (ueba, full) = (s("ueba.toml"), s("full-stack.toml"));
    siege_truth(dir, &ueba);
    let bin = env!("CARGO_BIN_EXE_paraverse");
    // The first forecast starts at tick 0, before anything else is drawn.
    let cmd = format!(
        "{bin} twin metaverse-under-siege --strategy {ueba} --observations feed.jsonl --members 32 --cycle '10 min' --horizon '4 h' --candidate {full} --out tw --watch; echo $? > exit-code"
    );
    let Some(t) = Tmux::start("twin-forecast", &cmd, dir, (100, 30)) else {
        return;
    };
    t.wait_for("the twin screen", |s| s.contains("paraverse twin"));
    std::thread::sleep(Duration::from_secs(1));
    t.keys(&["q"]);
    assert_eq!(exit_code_within(&t, dir, Duration::from_secs(10)), "0");
    let made = std::fs::read_dir(dir.join("tw/recommendations"))
        .unwrap()
        .count();
    assert_eq!(made, 0, "quit before the first forecast ended");
    assert!(t.screen().contains("twin: quit at tick"), "{}", t.screen());
    drop(t);
    std::fs::remove_file(dir.join("exit-code")).unwrap();
    // A feed that stays open and silent (a collector with nothing to say yet).
    let cmd = format!(
        "bash -c \"{bin} twin metaverse-under-siege --strategy {ueba} --observations <(sleep 60) --out tw2 --watch; echo \\$? > exit-code\""
    );
    let Some(t) = Tmux::start("twin-silent", &cmd, dir, (100, 30)) else {
        return;
    };
    t.wait_for("the twin screen", |s| s.contains("paraverse twin"));
    t.keys(&["q"]);
    assert_eq!(exit_code_within(&t, dir, Duration::from_secs(10)), "0");
    assert!(
        t.screen().contains("quit before the twin was done"),
        "{}",
        t.screen()
    );
    assert!(dir.join("tw2/estimates.csv").is_file());
}

/// The twin's exit status, once the command line in `t` wrote it to `dir/exit-code`.
fn exit_code_within(t: &Tmux, dir: &Path, limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    while !dir.join("exit-code").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "q did not quit within {limit:?}:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shell may not have finished writing it.
    std::thread::sleep(Duration::from_millis(100));
    std::fs::read_to_string(dir.join("exit-code"))
        .unwrap()
        .trim()
        .to_owned()
}

/// `run --observations-out FEED --link-loads 5min` adds what SNMP polling of the
/// infrastructure's interfaces would report: `link_load` observations between two
/// infrastructure nodes (never a terminal's access link), every 5 min of simulated time,
/// in time order with the events. The twin reads them; the run's own loads are what the
/// model offers, so they add no background traffic and leave the estimates as they are.
#[test]
fn a_runs_feed_reports_link_loads_the_twin_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(paraverse(
        &[
            "run",
            "metaverse-campus",
            "--seed",
            "3",
            "--stop",
            "1 h",
            "--out",
            "truth",
            "-q",
            "--observations-out",
            "feed.jsonl",
            "--link-loads",
            "5 min",
        ],
        dir,
    ));
    let feed = std::fs::read_to_string(dir.join("feed.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = feed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let times: Vec<f64> = lines
        .iter()
        .map(|o| o["time_s"].as_f64().unwrap())
        .collect();
    assert!(times.is_sorted(), "the feed is in time order");
    let loads: Vec<&serde_json::Value> =
        lines.iter().filter(|o| o["kind"] == "link_load").collect();
    assert!(loads.len() > 100, "{} link loads", loads.len());
    let terminal = [
        "xr-headsets",
        "ar-glasses",
        "phones",
        "wearables",
        "sensors",
    ];
    let mut polls = std::collections::BTreeSet::new();
    for o in &loads {
        let t = o["time_s"].as_f64().unwrap();
        assert_eq!(t % 300.0, 0.0, "{o}");
        polls.insert(t as u64);
        for end in [&o["node"], &o["to"]] {
            let name = end.as_str().unwrap();
            assert!(
                !terminal.iter().any(|g| name.starts_with(&format!("{g}-"))),
                "{o}"
            );
        }
        assert!(o["kbps"].as_f64().unwrap() > 0.0, "{o}");
    }
    assert_eq!(polls.len(), 12, "{polls:?}");
    // The twin on the feed with and without the loads: the same estimates.
    let plain: String = feed
        .lines()
        .filter(|l| !l.contains("link_load"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("plain.jsonl"), plain).unwrap();
    for (input, out) in [("feed.jsonl", "tw"), ("plain.jsonl", "tw-plain")] {
        ok(paraverse(
            &[
                "twin",
                "metaverse-campus",
                "--seed",
                "3",
                "--observations",
                input,
                "--members",
                "2",
                "--out",
                out,
                "-q",
            ],
            dir,
        ));
    }
    let estimates = |d: &str| std::fs::read_to_string(dir.join(d).join("estimates.csv")).unwrap();
    assert_eq!(estimates("tw"), estimates("tw-plain"));
    // Polling lives in this process: not with a resumable run; and it needs traffic.
    for (args, expected) in [
        (
            &["run", "metaverse-campus", "--link-loads", "5 min"][..],
            "--observations-out",
        ),
        (
            &[
                "run",
                "metaverse-campus",
                "--observations-out",
                "f.jsonl",
                "--link-loads",
                "5 min",
                "--checkpoint-every",
                "10 min",
            ][..],
            "cannot be used with",
        ),
        (
            &[
                "run",
                "worm-logistic",
                "--observations-out",
                "f.jsonl",
                "--link-loads",
                "5 min",
            ][..],
            "has no traffic",
        ),
    ] {
        let o = paraverse(args, dir);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o.stderr).contains(expected),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

/// Devices added to the real network's inventory take the twin's spare slots
/// (`--spare`): the feed names them past the scenario's count; without a slot, or for a
/// node already in the inventory, the feed's line is refused with its number and why.
#[test]
fn devices_added_to_the_inventory_take_spare_slots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let feed = |name: &str, lines: &str| std::fs::write(dir.join(name), lines).unwrap();
    feed(
        "added.jsonl",
        "{\"time_s\": 60, \"kind\": \"added\", \"node\": \"wearables-400\"}\n\
         {\"time_s\": 60, \"kind\": \"added\", \"node\": \"wearables-401\"}\n\
         {\"time_s\": 300, \"kind\": \"removed\", \"node\": \"wearables-400\"}\n\
         {\"time_s\": 600, \"kind\": \"end\"}\n",
    );
    // A 2-member twin of `scenario` on `feed` into `out`, with `extra` options and a
    // `--spare` for each of `spare`.
    let run = |scenario: &str, feed: &str, out: &str, extra: &[&str], spare: &[&str]| {
        let mut args = vec![
            "twin",
            scenario,
            "--observations",
            feed,
            "--members",
            "2",
            "--out",
            out,
            "-q",
        ];
        args.extend(extra);
        for s in spare {
            args.extend(["--spare", s]);
        }
        paraverse(&args, dir)
    };
    let twin =
        |feed: &str, out: &str, spare: &[&str]| run("metaverse-campus", feed, out, &[], spare);
    ok(twin("added.jsonl", "tw", &["wearables=2"]));
    let estimates = std::fs::read_to_string(dir.join("tw/estimates.csv")).unwrap();
    assert_eq!(estimates.lines().count(), 61, "{estimates}");
    // No slot for it: the scenario's wearables are 0 to 399.
    let out = twin("added.jsonl", "tw-none", &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("added.jsonl:1:") && err.contains("wearables-400") && err.contains("--spare"),
        "{err}"
    );
    // A device already on the network cannot join it again.
    feed(
        "twice.jsonl",
        "{\"time_s\": 60, \"kind\": \"added\", \"node\": \"wearables-3\"}\n",
    );
    let out = twin("twice.jsonl", "tw-twice", &["2"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("twice.jsonl:1:") && err.contains("in the inventory already"),
        "{err}"
    );
    // By address through a mapping: the siege's wearables fill 172.22.0.0/17 in order,
    // so the 201st address is the first slot past its 200.
    let mapping = common::repo().join("mappings/metaverse-under-siege.toml");
    feed(
        "by-address.jsonl",
        "{\"time_s\": 10, \"kind\": \"added\", \"address\": \"172.22.0.200\"}\n\
         {\"time_s\": 20, \"kind\": \"end\"}\n",
    );
    let mapping = ["--mapping", mapping.to_str().unwrap()];
    let siege = |out: &str, spare: &[&str]| {
        run(
            "metaverse-under-siege",
            "by-address.jsonl",
            out,
            &mapping,
            spare,
        )
    };
    ok(siege("tw-address", &["wearables=1"]));
    let out = siege("tw-address-none", &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("number 201") && err.contains("--spare"),
        "{err}"
    );
    let out = twin("added.jsonl", "tw-bad", &["wearable=2"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no group wearable"),
        "{}",
        text(&out.stderr)
    );
}
