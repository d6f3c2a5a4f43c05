//! End-to-end: the terminal UI in a real terminal (tmux), driven by keys as a person would.
//!
//! Needs tmux (`.ci/run` installs it). Without tmux these tests are skipped with a
//! message, unless `PARAVERSE_REQUIRE_TMUX=1`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::tmux::Tmux;

fn tick_of(screen: &str) -> u32 {
    let header = screen.lines().next().unwrap_or("");
    let after = header.split(" tick ").nth(1).unwrap_or("0/");
    after.split('/').next().unwrap().trim().parse().unwrap_or(0)
}

#[test]
fn watch_pauses_steps_switches_view_and_quits() {
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let tmp = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(
        "watch",
        &format!("{bin} watch --seed 42; echo EXITED"),
        tmp.path(),
        (80, 24),
    ) else {
        return;
    };
    t.wait_for("the red view", |s| {
        s.contains("RED") && s.contains("zones (ground truth)")
    });
    t.keys(&["Space"]);
    let paused = t.wait_for("pause", |s| {
        s.lines().next().unwrap_or("").contains("paused")
    });
    let tick = tick_of(&paused);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tick_of(&t.screen()), tick, "paused means no ticks");
    t.keys(&["n"]);
    t.wait_for("one step", |s| tick_of(s) == tick + 1);
    t.keys(&["Tab"]);
    let blue = t.wait_for("the blue view", |s| {
        s.contains("BLUE") && s.contains("zones (sensors)")
    });
    assert!(
        !blue.contains("[true]"),
        "blue sees no ground truth:\n{blue}"
    );
    assert!(blue.lines().last().unwrap().contains("q quit"));
    t.keys(&["q"]);
    let done = t.wait_for("exit", |s| s.contains("EXITED"));
    assert!(
        !done.contains("BLUE"),
        "the terminal is restored after quitting:\n{done}"
    );
}

#[test]
fn replay_shows_the_recorded_summary_numbers() {
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(["run", "--ticks", "150", "--out", "rec", "--quiet"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("rec/summary.json")).unwrap(),
    )
    .unwrap();
    let Some(t) = Tmux::start(
        "replay",
        &format!("{bin} replay rec; echo EXITED"),
        tmp.path(),
        (80, 24),
    ) else {
        return;
    };
    t.wait_for("the replay", |s| s.contains("RED") && s.contains("/150"));
    t.keys(&["End"]);
    let end = t.wait_for("the last tick", |s| tick_of(s) == 150);
    let expected = format!(
        "compromised {} (ever {})",
        summary["compromised_final"], summary["compromised_ever"]
    );
    assert!(end.contains(&expected), "expected `{expected}`:\n{end}");
    t.keys(&["Home"]);
    t.wait_for("the first tick", |s| tick_of(s) == 0);
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXITED"));
}

#[test]
fn watch_without_a_terminal_says_so() {
    let out = common::bin().arg("watch").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
    let out = common::bin()
        .args(["replay", "/nonexistent"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/summary.json"));
}
