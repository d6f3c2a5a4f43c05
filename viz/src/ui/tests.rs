//! Screens as text, on ratatui's `TestBackend`.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use crate::{App, Mode, Snapshot, View, render};

fn snapshot() -> Snapshot {
    let columns: Vec<String> = [
        "compromised",
        "quarantined",
        "patched",
        "vulnerable",
        "ever_compromised",
        "compromised:lab",
        "quarantined:lab",
        "alerted:lab",
        "compromised:dc",
        "quarantined:dc",
        "alerted:dc",
        "xr_quality_ppm",
        "max_link_util_permille",
        "detections",
        "infections",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let row = |c: u64| vec![c, 3, 10, 50, c + 2, c, 3, 4, 0, 0, 0, 987_600, 420, 2, 1];
    Snapshot {
        scenario: "lab".into(),
        seed: 7,
        backend: "cpu (2 threads)".into(),
        tick: 12,
        ticks: 100,
        tick_s: 10.0,
        ticks_per_s: 25.0,
        zones: vec![("lab".into(), 90), ("dc".into(), 10)],
        columns,
        rows: (0..=12).map(row).collect(),
        events: vec![
            json!({"tick": 11, "event": "infection", "node": "cam-4", "source": "cam-1"}),
            json!({"tick": 12, "event": "detection", "node": "cam-4", "true_positive": true}),
            json!({"tick": 12, "event": "quarantine", "node": "pc-9", "true_positive": false}),
        ],
    }
}

fn screen(snap: &Snapshot, app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(f, snap, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn red_view_shows_ground_truth_in_80_by_24() {
    let app = App::new(Mode::Live);
    let s = screen(&snapshot(), &app, 80, 24);
    let first = s.lines().next().unwrap();
    assert!(
        first.contains("RED") && first.contains("lab tick 12/100 00:02:00"),
        "{s}"
    );
    assert!(first.contains("25.0 ticks/s"), "{s}");
    assert!(s.contains("zones (ground truth)"), "{s}");
    assert!(s.contains("compromised 12"), "{s}");
    assert!(s.contains("XR quality 98.8 %"), "{s}");
    assert!(s.contains("infection cam-4 from cam-1"), "{s}");
    assert!(s.contains("detection cam-4 [true]"), "{s}");
    assert!(s.lines().last().unwrap().contains("q quit"), "{s}");
}

#[test]
fn blue_view_sees_only_sensor_data() {
    let mut app = App::new(Mode::Live);
    app.view = View::Blue;
    let s = screen(&snapshot(), &app, 80, 24);
    assert!(s.contains("BLUE") && s.contains("zones (sensors)"), "{s}");
    assert!(!s.contains("infection"), "blue sees no infections: {s}");
    assert!(
        !s.contains("[true]") && !s.contains("[false]"),
        "no ground truth: {s}"
    );
    assert!(s.contains("quarantine pc-9"), "{s}");
    assert!(!s.contains("compromised 12"), "{s}");
}

#[test]
fn filter_and_pause_show_on_screen() {
    let mut app = App::new(Mode::Live);
    app.paused = true;
    app.filter = "quarantine".into();
    let s = screen(&snapshot(), &app, 100, 30);
    assert!(s.lines().next().unwrap().contains("paused"), "{s}");
    assert!(s.contains("events — filter: quarantine"), "{s}");
    assert!(!s.contains("infection cam-4"), "{s}");
    assert!(s.contains("quarantine pc-9"), "{s}");
}

#[test]
fn replay_help_fits_80_columns() {
    let app = App::new(Mode::Replay);
    let s = screen(&snapshot(), &app, 80, 24);
    assert!(s.lines().last().unwrap().contains("q quit"), "{s}");
}
