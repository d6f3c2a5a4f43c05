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
    let (columns, rows, buckets, latest) =
        Snapshot::downsample(&columns, 100, 13, |t| row(t as u64));
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
        rows,
        buckets,
        latest,
        map: None,
        events: vec![
            json!({"tick": 11, "event": "infection", "node": "cam-4", "source": "cam-1"}),
            json!({"tick": 12, "event": "detection", "node": "cam-4", "true_positive": true}),
            json!({"tick": 12, "event": "quarantine", "node": "pc-9", "true_positive": false}),
        ],
        campaigns: Vec::new(),
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
    assert!(first.contains("5 min/s 25 ticks/s"), "{s}");
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

#[test]
fn the_key_list_opens_over_the_screen_whole_at_80_by_24_and_160_by_50() {
    let mut app = App::new(Mode::Live);
    let closed = screen(&snapshot(), &app, 80, 24);
    assert!(!closed.contains("keys (? or Esc closes)"), "{closed}");
    assert!(
        closed.lines().last().unwrap().contains("? keys"),
        "{closed}"
    );
    app.help = true;
    for (w, h) in [(80, 24), (160, 50)] {
        let s = screen(&snapshot(), &app, w, h);
        assert!(s.contains("keys (? or Esc closes)"), "{s}");
        // Every key line of KEYS is on screen, whole.
        for line in crate::KEYS.lines().skip(1) {
            assert!(s.contains(line.trim()), "{line:?} at {w}x{h}:\n{s}");
        }
    }
}

/// Key frames of a seeded scenario: after known ticks, the screen shows exactly the
/// numbers the universe recorded.
#[test]
fn key_frames_of_the_seeded_campus_show_its_numbers() {
    use paraverse_sim::universe::Universe;
    let scenario = paraverse_sim::bundled::load(None).unwrap();
    let mut u = Universe::build(scenario, &[]).unwrap();
    let app = App::new(Mode::Live);
    for target in [1u32, 60] {
        while u.clock().tick < target {
            u.step();
        }
        let snap = Snapshot::of_universe(&u, 0.0, 50);
        let s = screen(&snap, &app, 80, 24);
        assert!(
            s.lines()
                .next()
                .unwrap()
                .contains(&format!("tick {target}/1440")),
            "{s}"
        );
        let row = u.series().row(target as usize);
        let col = |name: &str| {
            let i = u.series_columns().iter().position(|c| c == name).unwrap();
            row[i]
        };
        let xr = format!("XR quality {:.1} %", col("xr_quality_ppm") as f64 / 1e4);
        assert!(s.contains(&xr), "expected {xr}:\n{s}");
        let util = format!(
            "busiest link {:.1} %",
            col("max_link_util_permille") as f64 / 10.0
        );
        assert!(s.contains(&util), "expected {util}:\n{s}");
        assert!(s.contains("campus-xr 1500"), "{s}");
    }
}

#[test]
fn the_event_log_scrolls_back() {
    let mut app = App::new(Mode::Live);
    let mut snap = snapshot();
    snap.events = (0..40u64)
        .map(|t| json!({"tick": t, "event": "infection", "node": format!("cam-{t}")}))
        .collect();
    let s = screen(&snap, &app, 80, 24);
    assert!(
        s.contains("infection cam-39") && !s.contains("infection cam-30 "),
        "{s}"
    );
    app.scroll = 10;
    let s = screen(&snap, &app, 80, 24);
    assert!(
        s.contains("infection cam-29") && !s.contains("infection cam-39"),
        "{s}"
    );
    assert!(s.contains("10 newer below"), "{s}");
    app.scroll = 1000;
    let s = screen(&snap, &app, 80, 24);
    assert!(
        s.contains("infection cam-0 "),
        "clamped at the oldest page: {s}"
    );
}

#[test]
fn zone_state_bars_are_proportional() {
    let app = App::new(Mode::Live);
    let s = screen(&snapshot(), &app, 120, 30);
    // lab: 12 of 90 compromised, 3 quarantined; dc: all healthy.
    let lab = s.lines().find(|l| l.contains("│lab ")).expect("lab row");
    let dc = s.lines().find(|l| l.contains("│dc ")).expect("dc row");
    let blocks = |l: &str| l.split("││").next().unwrap().matches('█').count();
    assert!(
        blocks(lab) > 10 && blocks(lab) == blocks(dc),
        "bars fill the column:\n{s}"
    );
    // The colours: 3 of 20 cells red (12/90, rounded up), 1 blue (3/90), the rest green.
    let mut terminal = ratatui::Terminal::new(TestBackend::new(120, 30)).unwrap();
    terminal.draw(|f| render(f, &snapshot(), &app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let y = s.lines().position(|l| l.contains("│lab ")).unwrap() as u16;
    let colours: Vec<ratatui::style::Color> = (0..60)
        .filter(|&x| buffer[(x, y)].symbol() == "█")
        .map(|x| buffer[(x, y)].fg)
        .collect();
    use ratatui::style::Color;
    assert_eq!(colours.iter().filter(|&&c| c == Color::Red).count(), 3);
    assert_eq!(colours.iter().filter(|&&c| c == Color::Blue).count(), 1);
}

/// Red sees each campaign's kill chain: goal mark, steps reached, the furthest step with
/// its ATT&CK id; on the seeded siege the numbers are the campaign book's.
#[test]
fn red_view_shows_kill_chains_with_attack_ids() {
    use paraverse_sim::universe::Universe;
    let scenario = paraverse_sim::bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut u = Universe::build(scenario, &[&paraverse_attackers::AttackerPlugin]).unwrap();
    while u.clock().tick < 100 {
        u.step();
    }
    let snap = Snapshot::of_universe(&u, 0.0, 50);
    let app = App::new(Mode::Live);
    let s = screen(&snap, &app, 100, 40);
    // At 1,000 s the botnet has recruited but not yet attacked; the intrusion has reached
    // the ledger; the phishing campaign has drained wallets but not yet taken 20 accounts.
    assert!(
        s.contains("▶ venue-botnet 3/6 T1584.005 recruitment"),
        "{s}"
    );
    assert!(
        s.contains("✔ apt-ledger 5/5 T1005 high_value_target"),
        "{s}"
    );
    assert!(
        s.contains("▶ fake-wallet-app 3/4 T1657 wallet_drain"),
        "{s}"
    );
    // Blue does not see the attacker's chains.
    let mut blue = App::new(Mode::Live);
    blue.view = View::Blue;
    let s = screen(&snap, &blue, 100, 40);
    assert!(!s.contains("venue-botnet"), "{s}");
}

#[test]
fn chains_replay_from_a_summary_up_to_the_tick_shown() {
    let summary = json!({"campaigns": [{
        "name": "x", "kind": "ransomware",
        "steps": [
            {"name": "initial_access", "technique": "T1566", "reached_s": 10.0},
            {"name": "encryption", "technique": "T1486", "reached_s": 50.0},
        ],
    }]});
    let at = |t: f64| crate::ChainView::of_summary(&summary, t);
    assert_eq!(at(5.0)[0].furthest(), None);
    assert_eq!(at(10.0)[0].furthest().unwrap().0, 0);
    assert!(!at(49.0)[0].goal_reached());
    assert!(at(50.0)[0].goal_reached());
}

/// The siege (7 zones, 11 campaigns) at 80×24 and 160×50: every zone has its row in both
/// views, the charts span the whole run with a time axis and a scale, and blue's alerts
/// name every sensor.
#[test]
fn every_zone_fits_and_charts_span_the_run_at_80_by_24_and_160_by_50() {
    use paraverse_sim::universe::Universe;
    let (text, origin) =
        paraverse_sim::bundled::strategy_text(std::path::Path::new("full-stack")).unwrap();
    let scenario = paraverse_sim::bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(&text, &origin)
        .unwrap();
    let plugins: [&dyn paraverse_sim::universe::SimPlugin; 2] = [
        &paraverse_attackers::AttackerPlugin,
        &paraverse_defenders::DefenderPlugin,
    ];
    let mut u = Universe::build(scenario.clone(), &plugins).unwrap();
    while u.clock().tick < 240 {
        u.step();
    }
    let snap = Snapshot::of_universe(&u, 0.0, 50);
    assert_eq!(snap.buckets, crate::HISTORY, "1,441 ticks in 240 buckets");
    assert_eq!(snap.rows.len(), 240 * 240 / 1441 + 1);
    for (w, h) in [(80, 24), (160, 50)] {
        for view in [View::Red, View::Blue] {
            let mut app = App::new(Mode::Live);
            app.view = view;
            let s = screen(&snap, &app, w, h);
            for zone in &scenario.zones {
                assert!(
                    s.lines().any(|l| l.starts_with(&format!("│{zone} "))),
                    "{w}x{h} {view:?}: zone {zone} missing:\n{s}"
                );
            }
            assert!(s.contains("00:00:00") && s.contains("04:00:00"), "{s}");
            assert!(s.contains("▲100 %"), "{s}");
            if view == View::Blue {
                assert!(s.contains("alerts/tick"), "{s}");
                assert!(s.contains("tripwire") && s.contains("trust"), "{s}");
            }
        }
    }
}

/// Blue's alerts are every sensor's: the detector's, the tripwires', zero trust's and
/// the deepfake checks' summed per tick, and a downsampled bucket keeps its peak.
#[test]
fn blue_alerts_sum_every_sensor_and_buckets_keep_peaks() {
    let columns: Vec<String> = ["detections", "tripwire_alerts", "trust_revoked", "x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let rows = [[1, 2, 3, 9], [0, 0, 0, 1], [0, 5, 0, 0], [4, 0, 0, 0]];
    // A run of 1,000 ticks: four ticks fall in the first bucket (240 of 1,001).
    let (names, out, buckets, latest) =
        Snapshot::downsample(&columns, 1000, 4, |t| rows[t].to_vec());
    assert_eq!(names.last().unwrap(), crate::ALERTS);
    assert_eq!(buckets, 240);
    assert_eq!(
        out,
        vec![vec![4, 5, 3, 9, 6]],
        "maximum per column, alerts 6 at tick 0"
    );
    assert_eq!(latest, vec![4, 0, 0, 0, 4]);
    // A short run keeps a bucket per tick.
    let (_, out, buckets, _) = Snapshot::downsample(&columns, 3, 4, |t| rows[t].to_vec());
    assert_eq!((out.len(), buckets), (4, 4));
}

/// A live view folds each tick into its chart history once, frame after frame; the rows
/// are those of downsampling the whole series at once, wherever the frames fall, and a
/// snapshot taken with a kept history equals one taken afresh.
#[test]
fn charts_folded_in_frame_by_frame_equal_the_whole_series_at_once() {
    let columns: Vec<String> = ["detections", "tripwire_alerts", "y"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let row = |t: usize| vec![(t * 7 % 13) as u64, (t * 5 % 11) as u64, (t % 17) as u64];
    let (ticks, count) = (1000u32, 700usize);
    let (_, whole, _, latest) = Snapshot::downsample(&columns, ticks, count, row);
    for frames in [[1usize, 2, 3], [239, 240, 241], [5, 400, 699]] {
        let mut h = crate::History::new(&columns, ticks);
        for f in frames {
            h.advance(f, row);
        }
        h.advance(count, row);
        h.advance(count, row);
        let mut again = crate::History::new(&columns, ticks);
        again.advance(count, row);
        assert_eq!(
            format!("{h:?}"),
            format!("{again:?}"),
            "frames at {frames:?}"
        );
    }
    assert_eq!(whole.len(), 700 * 240 / 1001 + 1);
    assert_eq!(latest[3], latest[0] + latest[1]);
    use paraverse_sim::universe::Universe;
    let scenario = paraverse_sim::bundled::load(Some("metaverse-campus")).unwrap();
    let mut u = Universe::build(scenario, &[&paraverse_attackers::AttackerPlugin]).unwrap();
    let mut history = crate::History::new(&u.series_columns(), u.clock().ticks);
    for _ in 0..5 {
        for _ in 0..37 {
            u.step();
        }
        let kept = Snapshot::of_universe_with(&u, 0.0, 10, &mut history);
        let fresh = Snapshot::of_universe(&u, 0.0, 10);
        assert_eq!((&kept.rows, &kept.latest), (&fresh.rows, &fresh.latest));
        assert_eq!(kept.buckets, fresh.buckets);
    }
}

/// `m` shows the network map: nodes where the GPU viewer puts them, coloured by state;
/// red sees the nodes attackers hold, blue never does (its legend has no `held`).
#[test]
fn the_map_shows_nodes_by_state_and_blue_never_sees_held_ones() {
    use paraverse_sim::universe::Universe;
    use ratatui::style::Color;
    let scenario = paraverse_sim::bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut u = Universe::build(scenario, &[&paraverse_attackers::AttackerPlugin]).unwrap();
    while u.clock().tick < 150 {
        u.step();
    }
    let layout = crate::view::Layout::of_universe(&u);
    let positions = std::sync::Arc::new(layout.positions.clone());
    let [r, g, b, _] = crate::view::NodeState::Compromised.color();
    let held = Color::Rgb(r, g, b);
    for view in [View::Red, View::Blue] {
        let mut snap = Snapshot::of_universe(&u, 0.0, 10);
        snap.map = Some(crate::NodeMap::of_universe(&layout, &positions, &u, view));
        let mut app = App::new(Mode::Live);
        app.view = view;
        app.handle_key(ratatui::crossterm::event::KeyEvent::new(
            ratatui::crossterm::event::KeyCode::Char('m'),
            ratatui::crossterm::event::KeyModifiers::NONE,
        ));
        assert!(app.map);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| render(f, &snap, &app)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("network map"), "{text}");
        let braille = buffer
            .content()
            .iter()
            .filter(|c| {
                c.symbol()
                    .chars()
                    .any(|ch| ('\u{2801}'..='\u{28ff}').contains(&ch))
            })
            .count();
        assert!(braille > 100, "{braille} braille cells");
        let red_cells = buffer.content().iter().filter(|c| c.fg == held).count();
        match view {
            View::Red => {
                assert!(text.contains("held"), "{text}");
                // Dots and the legend's mark.
                assert!(red_cells > 1, "held nodes drawn: {red_cells}");
            }
            View::Blue => {
                assert!(!text.contains("held"), "{text}");
                assert_eq!(red_cells, 0, "blue sees no held node");
            }
        }
    }
}

/// The exercise's screens at 80×24 and 160×50: the `:` prompt on the bottom line, what a
/// command did in its place after Enter, and the score screen over the rest.
#[test]
fn the_command_prompt_status_and_score_screen_fit() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let key = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    for (w, h) in [(80, 24), (160, 50)] {
        let mut app = App::new(Mode::Live);
        app.handle_key(key(KeyCode::Char(':')));
        for c in "quarantine lab".chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        let s = screen(&snapshot(), &app, w, h);
        let last = s.lines().last().unwrap();
        assert!(last.starts_with(": quarantine lab▏  Enter acts"), "{s}");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            crate::Action::Command("quarantine lab".into())
        );
        app.status =
            Some("blue at tick 12: quarantine lab (3 node actions, applied at tick 13)".into());
        let s = screen(&snapshot(), &app, w, h);
        assert!(
            s.lines().last().unwrap().contains("applied at tick 13"),
            "{s}"
        );
        app.score = Some(vec![
            "lab · seed 7 · 100 ticks".into(),
            "security loss           12.0".into(),
            "commands given: 1".into(),
        ]);
        let s = screen(&snapshot(), &app, w, h);
        assert!(s.contains("exercise over (q quits)"), "{s}");
        assert!(s.contains("security loss           12.0"), "{s}");
        assert!(s.contains("commands given: 1"), "{s}");
    }
}

/// The live view's filter searches the whole run: an event of the first minutes is found
/// after thousands of others, with the same predicate `watch` uses.
#[test]
fn a_live_filter_finds_events_older_than_the_last_few_hundred() {
    use paraverse_sim::universe::Universe;
    let scenario = paraverse_sim::bundled::load(Some("metaverse-under-siege")).unwrap();
    let mut u = Universe::build(scenario, &[&paraverse_attackers::AttackerPlugin]).unwrap();
    while u.clock().tick < 900 {
        u.step();
    }
    let all = u.recent_events(usize::MAX);
    assert!(all.len() > 1000, "{} events", all.len());
    use crate::{View, matches_filter, shown_line};
    let first = shown_line(&all[0], View::Red).unwrap();
    let recent = u.recent_events(300);
    assert!(!recent.contains(&all[0]));
    let found = u.recent_events_where(300, |e| {
        shown_line(e, View::Red).is_some_and(|l| matches_filter(&l, &first))
    });
    assert!(found.contains(&all[0]), "{first}");
    assert!(found.len() <= 300);
    let ticks: Vec<u64> = found.iter().map(|e| e["tick"].as_u64().unwrap()).collect();
    assert!(ticks.is_sorted(), "oldest first");
}
