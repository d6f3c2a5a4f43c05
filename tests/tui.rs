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
    // Paused for 3 s, then one frame of play: the replay owes nothing for the pause (at
    // 5 min/s that would have been 90 ticks at once).
    std::thread::sleep(Duration::from_secs(3));
    t.keys(&["Space", "Space"]);
    std::thread::sleep(Duration::from_millis(500));
    let moved = tick_of(&t.screen());
    assert!(moved < 30, "resuming jumped to tick {moved}");
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

/// `+`/`-` choose a speed in simulated time: at the slowest, one simulated second per
/// second (the campus's 10-s ticks come one per 10 s); at ×60, never more than 6 ticks a
/// second; the header names the speed.
#[test]
fn watch_speed_is_simulated_time_per_second() {
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let tmp = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(
        "speed",
        &format!("{bin} watch --seed 42; echo EXITED"),
        tmp.path(),
        (80, 24),
    ) else {
        return;
    };
    t.wait_for("the default speed", |s| s.contains(" 5 min/s "));
    t.keys(&["-", "-", "-", "-", "-", "-", "-"]);
    let slow = t.wait_for("slow motion", |s| s.contains(" 1 s/s "));
    let t0 = tick_of(&slow);
    std::thread::sleep(Duration::from_secs(2));
    let t1 = tick_of(&t.screen());
    assert!(
        t1 <= t0 + 1,
        "2 s at 1 simulated s per s moved {t0} -> {t1}"
    );
    t.keys(&["+", "+", "+", "+", "+"]);
    let start = std::time::Instant::now();
    let fast = t.wait_for("1 min/s", |s| s.contains(" 1 min/s "));
    let t2 = tick_of(&fast);
    std::thread::sleep(Duration::from_secs(2));
    let t3 = tick_of(&t.screen());
    let wall = start.elapsed().as_secs_f64();
    assert!(
        t3 > t2 && f64::from(t3 - t2) <= wall * 6.0 + 1.0,
        "{wall:.1} s at 60 simulated s per s (6 ticks/s) moved {t2} -> {t3}"
    );
    // `m`: the network map instead of the charts, and back.
    t.keys(&["m"]);
    t.wait_for("the map", |s| {
        s.contains("network map") && s.contains("●held")
    });
    t.keys(&["m"]);
    t.wait_for("the charts", |s| s.contains("over time"));
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXITED"));
}

/// `watch --twin`: a twin follows the watched run's blue-team view; `t` shows its screen
/// (estimate, alerted and, in the red view only, the run's ground truth), `t` again the
/// run, `q` quits.
#[test]
fn watch_twin_follows_the_run_and_shows_the_truth_only_in_the_red_view() {
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let tmp = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(
        "watch-twin",
        &format!("{bin} watch --seed 7 --twin --twin-members 2; echo EXITED"),
        tmp.path(),
        (120, 32),
    ) else {
        return;
    };
    t.wait_for("the run", |s| {
        s.contains("RED") && s.contains("zones (ground truth)")
    });
    t.keys(&["t"]);
    // Past the worm's start (5 min in), the twin has followed the outbreak.
    let twin = t.wait_within(Duration::from_secs(60), "the twin screen", |s| {
        s.contains("paraverse twin")
            && s.contains("estimated vs alerted")
            && s.contains(", truth ")
            && tick_of_twin(s) > 40
    });
    assert!(twin.contains("this run's blue view"), "{twin}");
    assert!(twin.contains("t the run"), "{twin}");
    assert!(twin.contains("no forecasts here"), "{twin}");
    t.keys(&["Tab"]);
    let blue = t.wait_for("the blue view of the twin", |s| {
        s.contains("paraverse twin") && !s.contains(", truth ")
    });
    assert!(blue.contains("alerted"), "{blue}");
    t.keys(&["t"]);
    t.wait_for("back to the run", |s| {
        s.contains("BLUE") && s.contains("zones (sensors)")
    });
    t.keys(&["q"]);
    t.wait_for("exit", |s| s.contains("EXITED"));
}

/// The tick in the twin screen's header (` tick N (`).
fn tick_of_twin(screen: &str) -> u32 {
    screen
        .split(" tick ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `watch --twin` checks the twin's model as `paraverse twin` does, before building the
/// run: a spread under 1 is invalid input (exit 2) that names the option's meaning.
#[test]
fn watch_twin_refuses_an_attack_rate_spread_under_one() {
    let bin = env!("CARGO_BIN_EXE_paraverse");
    let tmp = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start(
        "watch-twin-spread",
        &format!("{bin} watch --twin --attack-rate-spread 0.5; echo EXITED $?"),
        tmp.path(),
        (120, 20),
    ) else {
        return;
    };
    let screen = t.wait_for("the error", |s| s.contains("EXITED"));
    assert!(screen.contains("EXITED 2"), "{screen}");
    assert!(
        screen.contains("attack-rate spread 0.5: expected a factor of at least 1"),
        "{screen}"
    );
    assert!(
        !screen.contains("building"),
        "checked before the world is built: {screen}"
    );
}
