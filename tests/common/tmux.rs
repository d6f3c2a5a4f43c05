//! A real terminal for end-to-end tests of the screens: a detached tmux session on its
//! own server (one socket per test and process), read with `capture-pane` and driven with
//! `send-keys`, killed when dropped (also when the test fails).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `cmd` (a shell command line, run in `dir`, then `sleep 30` so the pane
    /// stays readable) in a detached `width`×`height` session, or `None` if tmux is
    /// missing (the test skips, unless `PARAVERSE_REQUIRE_TMUX=1`).
    pub fn start(name: &str, cmd: &str, dir: &Path, (width, height): (u16, u16)) -> Option<Self> {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            super::skip_unless_required("PARAVERSE_REQUIRE_TMUX", "tmux is not installed");
            return None;
        }
        let t = Tmux {
            socket: format!("paraverse-test-{name}-{}", std::process::id()),
        };
        let status = Command::new("tmux")
            .args(["-L", &t.socket, "new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(format!("cd {} && {cmd}; sleep 30", dir.display()))
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success());
        Some(t)
    }

    /// What the terminal shows now.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys` (tmux key names: `q`, `Space`, `Enter`, ...).
    pub fn keys(&self, keys: &[&str]) {
        Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
    }

    /// Waits until the screen satisfies `pred` (up to 20 s); returns the screen.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_within(Duration::from_secs(20), what, pred)
    }

    /// Waits until the screen satisfies `pred`, failing the test after `limit`.
    pub fn wait_within(&self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; screen:\n{s}"
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
