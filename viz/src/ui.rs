//! The screens: `render(&Snapshot, &App)` draws one frame; nothing here changes state.
//!
//! Layout (fits 80×24, grows with the terminal):
//!
//! ```text
//! header: scenario, tick / ticks, simulated time, speed, backend, seed, view, PAUSED
//! ┌ zones ───────────────┐┌ charts ─────────────────────────────┐
//! │ per zone: red: nodes, ││ red: compromised, infections/tick   │
//! │ compromised, quar.;   ││ blue: detections/tick, quarantined  │
//! │ blue: alerted, quar.  ││ both: XR quality, busiest link      │
//! ├ campaign / defenders ─┤│                                     │
//! └───────────────────────┘└─────────────────────────────────────┘
//! ┌ events (filter) ─────────────────────────────────────────────┐
//! help line
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Sparkline, Table};
use serde_json::Value;

use crate::snapshot::{ALERT_COLUMNS, ALERTS};
use crate::{App, KEYS, Mode, Snapshot, View};

/// Events the blue team's sensors produce; red sees every event.
const BLUE_EVENTS: [&str; 16] = [
    // Every sensor's alerts.
    "detection",
    "tripwire_alert",
    "trust_revoked",
    "deepfake_unmasked",
    "update_rejected",
    // The scripted defenses' actions.
    "quarantine",
    "release",
    "patch_round",
    "revoke",
    "throttle",
    "restore",
    // The blue players' own.
    "operator_quarantine",
    "operator_release",
    "operator_patch",
    "operator_harden",
    "operator_revoke",
];

/// An event as the events pane shows it in `view`, or `None` where that view does not
/// see it (blue sees its sensors' alerts and its own actions, never ground truth).
pub fn shown_line(e: &Value, view: View) -> Option<String> {
    match view {
        View::Red => Some(event_line(e)),
        View::Blue => {
            let kind = e.get("event").and_then(Value::as_str).unwrap_or("");
            BLUE_EVENTS
                .contains(&kind)
                .then(|| event_line(e).replace(" [true]", "").replace(" [false]", ""))
        }
    }
}

/// Whether an event's shown line matches the events filter (case-insensitive substring).
pub fn matches_filter(line: &str, filter: &str) -> bool {
    filter.is_empty() || line.to_lowercase().contains(&filter.to_lowercase())
}

/// Whether `view`'s event pane shows the event and its line matches `filter`: what a
/// filter searching a whole run keeps (live and in a replay).
pub fn event_matches(e: &Value, view: View, filter: &str) -> bool {
    shown_line(e, view).is_some_and(|l| matches_filter(&l, filter))
}

fn clock(seconds: f64) -> String {
    let s = seconds as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Draws one frame.
pub fn render(frame: &mut Frame<'_>, snap: &Snapshot, app: &App) {
    // Heights: every zone (plus the table's header and borders) and the side panel
    // (campaigns or defenders) as far as the screen allows, the charts beside them at
    // least 14 rows; the event log takes the rest, 6 rows at least.
    let side_wanted = match app.view {
        View::Red => (snap.campaigns.len() as u16 + 3).clamp(6, 14),
        View::Blue => 6,
    };
    let zones_wanted = snap.zones.len() as u16 + 3;
    let room = frame.area().height.saturating_sub(2 + 6);
    let middle_height = (zones_wanted + side_wanted).max(14).min(room);
    let [header, middle, events, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(middle_height),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    render_header(frame, header, snap, app);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(middle);
    // Where both do not fit, the side panel keeps 6 rows and the zones get the rest.
    let side_height = if zones_wanted + side_wanted <= left.height {
        left.height - zones_wanted
    } else {
        left.height
            .saturating_sub(zones_wanted)
            .max(6)
            .min(side_wanted)
    };
    let [zones, side] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(side_height)]).areas(left);
    render_zones(frame, zones, snap, app);
    render_side(frame, side, snap, app);
    match (&snap.map, app.map) {
        (Some(map), true) => crate::render_map(frame, right, map, app.view),
        _ => render_charts(frame, right, snap, app),
    }
    render_events(frame, events, snap, app);
    render_help(frame, help, app);
    if let Some(score) = &app.score {
        let lines = score.iter().map(|l| Line::from(l.as_str())).collect();
        render_popup(frame, frame.area(), " exercise over (q quits) ", lines);
    }
    if app.help {
        let lines = KEYS.lines().skip(1).map(Line::from).collect();
        render_popup(frame, frame.area(), " keys (? or Esc closes) ", lines);
    }
}

/// `lines` in a box over the middle of the screen: the key list ([`KEYS`], `?`), the
/// score screen.
fn render_popup(frame: &mut Frame<'_>, area: Rect, title: &str, lines: Vec<Line<'_>>) {
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let height = lines.len() as u16 + 2;
    let w = width.min(area.width);
    let h = height.min(area.height);
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        popup,
    );
}

fn render_header(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, app: &App) {
    let (view, colour) = match app.view {
        View::Red => (" RED ", Color::Red),
        View::Blue => (" BLUE ", Color::Blue),
    };
    let speed = match app.mode {
        Mode::Live if app.paused => "paused".to_string(),
        Mode::Live => format!(
            "{} {:.0} ticks/s",
            crate::app::speed_label(app.speed()),
            snap.ticks_per_s
        ),
        Mode::Replay if app.paused => "replay, paused".to_string(),
        Mode::Replay => format!("replay {}", crate::app::speed_label(app.speed())),
    };
    let mut spans = vec![
        Span::styled(
            view,
            Style::new()
                .fg(Color::White)
                .bg(colour)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " {} tick {}/{} {} {}",
            snap.scenario,
            snap.tick,
            snap.ticks,
            clock(snap.time_s()),
            speed
        )),
    ];
    spans.push(Span::raw(format!(" seed {}", snap.seed)));
    if !snap.backend.is_empty() {
        spans.push(Span::raw(format!(" {}", snap.backend)));
    }
    frame.render_widget(Line::from(spans), area);
}

fn render_zones(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, app: &App) {
    let (title, a, b) = match app.view {
        View::Red => ("zones (ground truth)", "compromised", "quarantined"),
        View::Blue => ("zones (sensors)", "alerted", "quarantined"),
    };
    // Columns: zone, nodes, the two counts, and a state bar filling the rest (healthy
    // green, then the two states in their colours, in proportion to the zone's nodes).
    let inner_width = area.width.saturating_sub(2);
    let bar_width = inner_width.saturating_sub(9 + 7 + 7 + 5 + 4) as u64;
    let (colour_a, colour_b) = match app.view {
        View::Red => (Color::Red, Color::Blue),
        View::Blue => (Color::Yellow, Color::Blue),
    };
    let rows = snap.zones.iter().map(|(zone, nodes)| {
        let x = snap.value(&format!("{a}:{zone}"));
        let y = snap.value(&format!("{b}:{zone}"));
        let style = if x > 0 {
            Style::new().fg(colour_a)
        } else {
            Style::new()
        };
        let cells = |n: u64| ((n * bar_width).div_ceil((*nodes).max(1))).min(bar_width) as usize;
        let (bx, by) = (cells(x), cells(y));
        let bar = Line::from(vec![
            Span::styled("█".repeat(bx), Style::new().fg(colour_a)),
            Span::styled(
                "█".repeat(by.min(bar_width as usize - bx)),
                Style::new().fg(colour_b),
            ),
            Span::styled(
                "█".repeat((bar_width as usize).saturating_sub(bx + by)),
                Style::new().fg(Color::Green),
            ),
        ]);
        Row::new(vec![
            Cell::from(zone.clone()),
            Cell::from(nodes.to_string()),
            Cell::from(x.to_string()).style(style),
            Cell::from(y.to_string()),
            Cell::from(bar),
        ])
    });
    let header = Row::new(vec![
        "zone",
        "nodes",
        &a[..a.len().min(7)],
        "quar.",
        "state",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(5),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(table, area);
}

fn render_side(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, app: &App) {
    let lines: Vec<Line<'_>> = match app.view {
        View::Red if !snap.campaigns.is_empty() => {
            let mut lines: Vec<Line<'_>> = snap.campaigns.iter().map(chain_line).collect();
            lines.push(Line::from(format!(
                "compromised {} (ever {})  scans/tick {}",
                snap.value("compromised"),
                snap.value("ever_compromised"),
                snap.value("scans")
            )));
            lines
        }
        View::Red => {
            let ever = snap.value("ever_compromised");
            let now = snap.value("compromised");
            let stage = if ever == 0 {
                "waiting for a foothold"
            } else if now > 0 {
                "spreading"
            } else {
                "contained"
            };
            vec![
                Line::from(format!("stage: {stage}")),
                Line::from(format!("compromised {now} (ever {ever})")),
                Line::from(format!(
                    "vulnerable {}  scans/tick {}",
                    snap.value("vulnerable"),
                    snap.value("scans")
                )),
                Line::from(format!("infections/tick {}", snap.value("infections"))),
            ]
        }
        View::Blue => vec![
            Line::from(format!(
                "alerts/tick {} quarantined {}",
                snap.value(ALERTS),
                snap.value("quarantined")
            )),
            Line::from(
                ALERT_COLUMNS
                    .iter()
                    .filter(|(c, _)| snap.has(c))
                    .map(|(c, name)| format!("{name} {}", snap.value(c)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Line::from(format!(
                "quarantines/tick {} releases/tick {}",
                snap.value("quarantines"),
                snap.value("releases")
            )),
            Line::from(format!(
                "patched {}  patches/tick {}",
                snap.value("patched"),
                snap.value("patches")
            )),
        ],
    };
    let title = match app.view {
        View::Red => "campaign",
        View::Blue => "defenders",
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

/// One campaign: goal mark, name, steps reached, and the furthest step with its ATT&CK id.
fn chain_line(c: &crate::ChainView) -> Line<'static> {
    let reached = c.steps.iter().filter(|s| s.2).count();
    let (mark, style) = if c.goal_reached() {
        (
            "✔",
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else if reached > 0 {
        ("▶", Style::default().fg(Color::Yellow))
    } else {
        ("·", Style::default().fg(Color::DarkGray))
    };
    let step = match c.furthest() {
        Some((_, (name, technique, _))) => format!("{technique} {name}"),
        None => "not started".to_owned(),
    };
    Line::from(vec![
        Span::styled(format!("{mark} "), style),
        Span::styled(format!("{} ", c.name), style),
        Span::raw(format!("{reached}/{} {step}", c.steps.len())),
    ])
}

fn render_charts(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, app: &App) {
    // (title, data, colour, fixed top of scale: shares have one, counts scale to data)
    let mut charts: Vec<(String, Vec<u64>, Color, Option<u64>)> = Vec::new();
    match app.view {
        View::Red => {
            charts.push((
                format!("compromised {}", snap.value("compromised")),
                snap.history("compromised"),
                Color::Red,
                None,
            ));
            charts.push((
                format!("infections/tick {}", snap.value("infections")),
                snap.history("infections"),
                Color::Magenta,
                None,
            ));
        }
        View::Blue => {
            // Every sensor's alerts, naming the sources that alerted this tick.
            let sources: Vec<String> = ALERT_COLUMNS
                .iter()
                .filter(|(c, _)| snap.value(c) > 0)
                .map(|(c, name)| format!("{name} {}", snap.value(c)))
                .collect();
            let mut title = format!("alerts/tick {}", snap.value(ALERTS));
            if !sources.is_empty() {
                title = format!("{title}: {}", sources.join(" "));
            }
            charts.push((title, snap.history(ALERTS), Color::Yellow, None));
            charts.push((
                format!("quarantined {}", snap.value("quarantined")),
                snap.history("quarantined"),
                Color::Blue,
                None,
            ));
        }
    }
    if snap.has("xr_quality_ppm") {
        charts.push((
            format!(
                "XR quality {:.1} %",
                snap.value("xr_quality_ppm") as f64 / 1e4
            ),
            snap.history("xr_quality_ppm"),
            Color::Green,
            Some(1_000_000),
        ));
        charts.push((
            format!(
                "busiest link {:.1} %",
                snap.value("max_link_util_permille") as f64 / 10.0
            ),
            snap.history("max_link_util_permille"),
            Color::Cyan,
            Some(1000),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title("over time (whole run; ▲ the scale's top)");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [plots, axis] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let areas = Layout::vertical(vec![
        Constraint::Ratio(1, charts.len() as u32);
        charts.len()
    ])
    .split(plots);
    for ((title, data, colour, top), area) in charts.into_iter().zip(areas.iter()) {
        let [label, spark] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(*area);
        let data = across(&data, snap.buckets, spark.width as usize);
        let scale = top.unwrap_or_else(|| data.iter().copied().max().unwrap_or(0).max(1));
        let scale_text = match top {
            Some(_) => "▲100 %".to_owned(),
            None => format!("▲{scale}"),
        };
        let room = (label.width as usize).saturating_sub(scale_text.chars().count() + 1);
        let title: String = title.chars().take(room).collect();
        frame.render_widget(
            Line::from(vec![
                Span::raw(format!("{title:<room$} ")),
                Span::styled(scale_text, Style::new().fg(Color::DarkGray)),
            ]),
            label,
        );
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .max(scale)
                .style(Style::new().fg(colour)),
            spark,
        );
    }
    // The time axis: the run's start and end, and how far it has come.
    let end = clock(f64::from(snap.ticks) * snap.tick_s);
    let start = clock(0.0);
    let width = axis.width as usize;
    let gap = width.saturating_sub(start.len() + end.len());
    frame.render_widget(
        Line::from(format!("{start}{:gap$}{end}", "")).style(Style::new().fg(Color::DarkGray)),
        axis,
    );
}

/// `data` (one value per bucket of a run of `buckets`, filled so far) as `width` columns
/// spanning the whole run: each column the maximum of its buckets, a bucket repeated
/// where there are fewer buckets than columns; columns not reached yet are left out.
fn across(data: &[u64], buckets: usize, width: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(width);
    if buckets == 0 {
        return out;
    }
    for c in 0..width {
        let lo = c * buckets / width;
        let hi = ((c + 1) * buckets / width).max(lo + 1);
        if lo >= data.len() {
            break;
        }
        out.push(
            data[lo..hi.min(data.len())]
                .iter()
                .copied()
                .max()
                .unwrap_or(0),
        );
    }
    out
}

fn event_line(e: &Value) -> String {
    let get = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    let mut s = format!(
        "{:>6} {} {}",
        e.get("tick").and_then(Value::as_u64).unwrap_or(0),
        get("event"),
        get("node")
    );
    if !get("source").is_empty() {
        s.push_str(&format!(" from {}", get("source")));
    }
    if let Some(c) = e.get("count").and_then(Value::as_u64) {
        s.push_str(&format!(" ({c} nodes)"));
    }
    if let Some(t) = e.get("true_positive").and_then(Value::as_bool) {
        s.push_str(if t { " [true]" } else { " [false]" });
    }
    s
}

fn render_events(frame: &mut Frame<'_>, area: Rect, snap: &Snapshot, app: &App) {
    let filter = app.events_filter();
    let visible: Vec<String> = snap
        .events
        .iter()
        .filter_map(|e| shown_line(e, app.view))
        .filter(|l| matches_filter(l, filter))
        .collect();
    let rows = area.height.saturating_sub(2) as usize;
    // Scrolling back hides the newest lines; it stops at the oldest page.
    let scroll = app.scroll.min(visible.len().saturating_sub(rows));
    let end = visible.len() - scroll;
    let lines: Vec<Line<'_>> = visible[end.saturating_sub(rows)..end]
        .iter()
        .map(|l| Line::from(l.clone()))
        .collect();
    let mut title = match (&app.editing, app.filter.is_empty()) {
        (Some(text), _) => format!("events — filter: {text}▏"),
        (None, false) => format!("events — filter: {}", app.filter),
        (None, true) => "events".to_string(),
    };
    if scroll > 0 {
        title.push_str(&format!(" — {scroll} newer below (↓)"));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn render_help(frame: &mut Frame<'_>, area: Rect, app: &App) {
    if let Some(text) = &app.command {
        frame.render_widget(
            Line::from(format!(": {text}▏  Enter acts, Esc cancels")),
            area,
        );
        return;
    }
    if let Some(status) = &app.status {
        frame.render_widget(
            Line::from(status.as_str()).style(Style::new().fg(Color::Yellow)),
            area,
        );
        return;
    }
    let help = match app.mode {
        Mode::Live => "space pause n step +/- speed tab view m map / filter : act ? keys q quit",
        Mode::Replay => "space play ←/→ seek PgUp/PgDn ±10% Home/End +/- tab / ? keys q quit",
    };
    frame.render_widget(
        Line::from(help).style(Style::new().fg(Color::DarkGray)),
        area,
    );
}

#[cfg(test)]
mod tests;
