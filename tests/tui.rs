//! End-to-end: the terminal UI in a real terminal (tmux), driven by keys as a person would.
//!
//! Needs tmux (`.ci/run` installs it). Without tmux these tests are skipped with a
//! message, unless `PARAVERSE_REQUIRE_TMUX=1`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `cmd` in a detached 80×24 tmux session, or `None` if tmux is missing.
    fn start(name: &str, cmd: &str, dir: &Path) -> Option<Self> {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            common::skip_unless_required("PARAVERSE_REQUIRE_TMUX", "tmux is not installed");
            return None;
        }
        let t = Tmux {
            socket: format!("paraverse-test-{name}-{}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .arg(format!("cd {} && {cmd}; sleep 30", dir.display()))
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success());
        Some(t)
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
    }

    /// Waits until the screen satisfies `pred` (up to 20 s); returns the screen.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

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
