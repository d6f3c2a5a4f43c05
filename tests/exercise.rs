//! End-to-end: an exercise (#22) as red and blue players run it in a shared terminal.
//! Blue and red act at `watch`'s `:` prompt, `--record` keeps their commands, the score
//! screen ends the exercise, `run --actions` replays it to the same objectives (and the
//! operator's events and costs are in the run's files), `replay` shows the actions.
//!
//! The tmux parts need tmux (`.ci/run` installs it); without it they skip, unless
//! `PARAVERSE_REQUIRE_TMUX=1`.

mod common;

use std::time::Duration;

use common::tmux::Tmux;
use common::{paraverse, text};

/// The number after `label` on a line of the score screen.
fn figure(screen: &str, label: &str) -> String {
    let line = screen
        .lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no {label} on the score screen:\n{screen}"));
    line.split(label)
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('│')
        .to_owned()
}

#[test]
fn blue_and_red_act_the_score_screen_ends_it_and_the_record_replays_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let Some(t) = Tmux::start(
        "exercise",
        &format!("{bin} watch metaverse-campus --seed 3 --record ex.txt; echo EXITED"),
        dir,
        (80, 24),
    ) else {
        return;
    };
    t.wait_for("the watch screen", |s| s.contains("metaverse-campus"));
    t.keys(&["Space"]);
    t.wait_for("pause", |s| {
        s.lines().next().unwrap_or("").contains("paused")
    });
    // A mistyped command is refused with the reason, and nothing is recorded.
    t.keys(&[":", "patch nowhere", "Enter"]);
    t.wait_for("the refusal", |s| s.contains("neither a group"));
    t.keys(&[":", "quarantine 5", "Enter"]);
    let said = t.wait_for("blue's command", |s| s.contains("blue at tick"));
    let tick: u32 = said
        .split("blue at tick ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        said.contains(&format!("applied at tick {}", tick + 1)),
        "{said}"
    );
    t.keys(&[":", "patch sensors", "Enter"]);
    t.wait_for("the group patch", |s| s.contains("patch sensors ("));
    t.keys(&["n"]);
    t.keys(&[":", "exploit 9", "Enter"]);
    t.wait_for("red's command", |s| s.contains("red at tick"));
    // Blue deploys a bundled strategy mid-run.
    t.keys(&[":", "strategy zero-trust", "Enter"]);
    t.wait_for("the deployment", |s| {
        s.contains(&format!("its defenses act from tick {}", tick + 2))
    });
    // As fast as it goes, to the end.
    t.keys(&["+", "+", "+", "+", "+", "+", "+", "+", "Space"]);
    let score = t.wait_within(Duration::from_secs(90), "the score screen", |s| {
        s.contains("exercise over") && s.contains("commands given: 4")
    });
    assert!(score.contains("recorded in ex.txt"), "{score}");
    assert!(
        score.contains("1 strategies deployed (in force: zero-trust)"),
        "{score}"
    );
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXITED"));
    drop(t);

    let recorded = std::fs::read_to_string(dir.join("ex.txt")).unwrap();
    let lines: Vec<&str> = recorded.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            format!("{tick} quarantine 5"),
            format!("{tick} patch sensors"),
            format!("{} exploit 9 campus-iot-worm", tick + 1),
            format!("{} strategy zero-trust", tick + 1),
        ],
        "{recorded}"
    );

    // The record replays to the objectives the score screen showed.
    let run = |out: &str, actions: bool| {
        let mut args = vec!["run", "metaverse-campus", "--seed", "3", "--out", out, "-q"];
        if actions {
            args.extend(["--actions", "ex.txt"]);
        }
        let o = paraverse(&args, dir);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(out).join("summary.json")).unwrap(),
        )
        .unwrap();
        s
    };
    let replayed = run("r", true);
    let o = &replayed["objectives"];
    assert_eq!(
        format!("{:.1}", o["security_loss"].as_f64().unwrap()),
        figure(&score, "security loss")
    );
    assert_eq!(
        format!("{:.1}", o["cost"].as_f64().unwrap()),
        figure(&score, "cost")
    );
    assert_eq!(replayed["counters"]["exploit_attempts"], 1);
    // The strategy deployed mid-run acts in the replay too.
    assert_eq!(replayed["counters"]["strategy_switches"], 1);
    assert_eq!(replayed["strategy"], "zero-trust");
    assert!(replayed["counters"]["verifications"].as_u64().unwrap() > 0);
    // The operator's actions cost as the defenses' do.
    let plain = run("r0", false);
    assert!(
        o["cost"].as_f64().unwrap() > plain["objectives"]["cost"].as_f64().unwrap(),
        "{o} vs {}",
        plain["objectives"]
    );
    let events = std::fs::read_to_string(dir.join("r/events.jsonl")).unwrap();
    let quarantine = events
        .lines()
        .find(|l| l.contains("operator_quarantine"))
        .expect("the quarantine is in the events");
    assert!(
        quarantine.contains(&format!("\"tick\":{}", tick + 1))
            && quarantine.contains("\"node\":\"xr-headsets-5\""),
        "{quarantine}"
    );
    assert!(events.contains("operator_patch"));
    assert!(
        events.contains(&format!(
            "{{\"event\":\"operator_strategy\",\"tick\":{}",
            tick + 2
        )),
        "the deployment is logged at the tick it acts"
    );
    // The same record, run again, gives the same files.
    run("r2", true);
    for f in ["events.jsonl", "timeseries.csv"] {
        assert_eq!(
            std::fs::read(dir.join("r").join(f)).unwrap(),
            std::fs::read(dir.join("r2").join(f)).unwrap(),
            "{f}"
        );
    }

    // The replay shows blue's quarantine.
    let Some(t) = Tmux::start(
        "exercise-replay",
        &format!("{bin} replay r; echo EXITED"),
        dir,
        (80, 24),
    ) else {
        return;
    };
    t.wait_for("the replay", |s| s.contains("metaverse-campus"));
    t.keys(&["End", "/", "operator_quar", "Enter"]);
    t.wait_for("the operator's quarantine", |s| {
        s.contains("operator_quarantine xr-headsets-5")
    });
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXITED"));
}

#[test]
fn a_bad_script_names_its_file_and_line_and_a_record_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("bad.txt"),
        "# a comment\n10 quarantine 5\n12 quarantine lobby\n",
    )
    .unwrap();
    let o = paraverse(
        &[
            "run",
            "metaverse-campus",
            "--ticks",
            "20",
            "--actions",
            "bad.txt",
            "-q",
            "--out",
            "r",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("bad.txt:3: `lobby`: neither a group (xr-headsets"),
        "{err}"
    );
    std::fs::write(dir.join("late.txt"), "25 patch 1\n").unwrap();
    let o = paraverse(
        &[
            "run",
            "metaverse-campus",
            "--ticks",
            "20",
            "--actions",
            "late.txt",
            "-q",
            "--out",
            "r",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("late.txt:1: tick 25: the run ends at tick 20"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.join("r").exists(), "nothing written for a bad script");
    // `watch --record` refuses to replace a file (it would lose an exercise), before it
    // needs a terminal.
    std::fs::write(dir.join("kept.txt"), "1 patch 1\n").unwrap();
    let o = paraverse(&["watch", "--record", "kept.txt"], dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--record kept.txt: the file exists; add --force"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("kept.txt")).unwrap(),
        "1 patch 1\n"
    );
    let help = text(&paraverse(&["watch", "--help"], dir).stdout);
    assert!(
        help.contains("--record") && help.contains("exploit GROUP|NODE [CAMPAIGN]"),
        "{help}"
    );
}

/// A replay with `--actions` checkpoints and resumes like any run: resumed from a
/// checkpoint before the actions, or after a strategy was deployed mid-run, with the same
/// file, it ends in the same bytes; without the file the error says what to add.
#[test]
fn an_exercise_replay_resumes_from_a_checkpoint_with_its_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("ex.txt"),
        "20 launch campus-iot-worm\n90 quarantine 5\n90 patch sensors\n95 isolate campus-xr cloud\n\
         100 strategy zero-trust\n130 exploit 9\n",
    )
    .unwrap();
    let ok = |args: &[&str]| {
        let o = paraverse(args, dir);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    let base = [
        "run",
        "metaverse-campus",
        "--seed",
        "3",
        "--ticks",
        "200",
        "-q",
    ];
    ok(&[
        &base[..],
        &[
            "--actions",
            "ex.txt",
            "--out",
            "full",
            "--checkpoint-every",
            "10 min",
            "--checkpoint-keep",
            "10",
        ],
    ]
    .concat());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("full/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["counters"]["zone_cuts"], 1);
    assert_eq!(summary["counters"]["launches"], 1);
    assert!(summary["counters"]["blocked_flow_ticks"].as_u64().unwrap() > 0);
    for at in [60, 120] {
        let checkpoint = dir.join(format!("full.checkpoints/tick-{at:010}.ckpt"));
        assert!(checkpoint.is_file());
        let resumed = format!("resumed-{at}");
        ok(&[
            "run",
            "--from",
            &checkpoint.display().to_string(),
            "--actions",
            "ex.txt",
            "--out",
            &resumed,
            "-q",
        ]);
        same_run(dir, "full", &resumed);
    }
    let from = dir
        .join("full.checkpoints/tick-0000000060.ckpt")
        .display()
        .to_string();
    let o = paraverse(&["run", "--from", &from, "--out", "bare", "-q"], dir);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("resume it with the same --actions"),
        "{}",
        text(&o.stderr)
    );
}

/// Two run folders hold the same run: events and series byte for byte, the objectives and
/// counters of the summaries (which also say how the run was started).
fn same_run(dir: &std::path::Path, a: &str, b: &str) {
    for f in ["events.jsonl", "timeseries.csv", "summary.json"] {
        let read = |d: &str| std::fs::read_to_string(dir.join(d).join(f)).unwrap();
        let (a, b) = (read(a), read(b));
        if f == "summary.json" {
            let strip = |s: &str| {
                let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
                v.as_object_mut()
                    .unwrap()
                    .retain(|k, _| k == "objectives" || k == "counters");
                v
            };
            assert_eq!(strip(&a), strip(&b), "{f}");
        } else {
            assert_eq!(a, b, "{f}");
        }
    }
}
