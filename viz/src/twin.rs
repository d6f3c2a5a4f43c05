//! The twin's screen (`paraverse twin --watch`): what the twin estimates against what the
//! sensors say, the latest forecast per strategy, and the recommendation with its reason.
//!
//! Like the other screens, a pure function of plain data ([`TwinSnapshot`]): the CLI fills
//! it from the twin's estimates and forecasts, so it is tested as text.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};

/// One tick of the twin's estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimatePoint {
    /// Tick.
    pub tick: u32,
    /// Estimated compromised nodes (weighted mean over the members).
    pub mean: f64,
    /// 5 % quantile.
    pub q05: f64,
    /// 95 % quantile.
    pub q95: f64,
    /// Nodes alerted and not cleared (what the sensors alone say).
    pub alerted: f64,
}

/// One strategy of the latest forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyFan {
    /// Name.
    pub name: String,
    /// Mean score (lower is better).
    pub score: f64,
    /// Median compromised nodes per tick over the horizon: (tick, median, 10 %, 90 %).
    pub compromised: Vec<(u32, f64, f64, f64)>,
}

/// What the twin screen shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwinSnapshot {
    /// Scenario name.
    pub scenario: String,
    /// Where the feed comes from.
    pub feed: String,
    /// Tick length, seconds.
    pub tick_s: f64,
    /// Members.
    pub members: u32,
    /// Effective sample size at the last tick.
    pub ess: f64,
    /// Every tick's estimate so far.
    pub estimates: Vec<EstimatePoint>,
    /// The latest forecast, per strategy.
    pub fans: Vec<StrategyFan>,
    /// The latest recommendation: (tick, strategy, statement).
    pub recommendation: Option<(u32, String, String)>,
    /// The feed has ended.
    pub done: bool,
    /// Ground truth per tick, (tick, compromised nodes), where the screen may show it:
    /// `paraverse watch --twin`, whose run is the real network the twin follows, in its
    /// red view. Empty: not shown.
    pub truth: Vec<(u32, f64)>,
    /// The bottom line's keys (default: `q quit`).
    pub keys: Option<String>,
    /// What the recommendation pane says before any (default: that one comes every
    /// `--cycle`).
    pub no_recommendation: Option<String>,
}

const COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Green,
    Color::Magenta,
    Color::Blue,
    Color::Red,
];

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn axis_labels(lo: f64, hi: f64, fmt: impl Fn(f64) -> String) -> Vec<Line<'static>> {
    vec![
        Line::from(fmt(lo)),
        Line::from(fmt((lo + hi) / 2.0)),
        Line::from(fmt(hi)),
    ]
}

/// A line of `data`, labelled `name` (unlabelled when empty).
fn line<'a>(name: &str, colour: Color, data: &'a [(f64, f64)]) -> Dataset<'a> {
    Dataset::default()
        .name(name.to_owned())
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::default().fg(colour))
        .data(data)
}

/// Nodes over time: both charts of the screen share their axes.
fn nodes_over_time<'a>(
    datasets: Vec<Dataset<'a>>,
    block: Block<'a>,
    x: (f64, f64),
    y_hi: f64,
) -> Chart<'a> {
    Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .title("time")
                .bounds([x.0, x.1])
                .labels(axis_labels(x.0, x.1, clock)),
        )
        .y_axis(
            Axis::default()
                .title("nodes")
                .bounds([0.0, y_hi])
                .labels(axis_labels(0.0, y_hi, |v| format!("{v:.0}"))),
        )
}

/// Draws the twin screen.
pub fn render_twin(frame: &mut Frame<'_>, snap: &TwinSnapshot) {
    let [header, middle, fans, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Percentage(35),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let last = snap.estimates.last();
    let tick = last.map_or(0, |e| e.tick);
    let head = format!(
        " paraverse twin · {} · tick {tick} ({}) · {} members, ESS {:.1} · feed {}{}",
        snap.scenario,
        clock(f64::from(tick) * snap.tick_s),
        snap.members,
        snap.ess,
        snap.feed,
        if snap.done { " (ended)" } else { "" }
    );
    frame.render_widget(
        Paragraph::new(head).style(Style::default().add_modifier(Modifier::REVERSED)),
        header,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(middle);
    render_estimates(frame, left, snap);
    render_recommendation(frame, right, snap);
    render_fans(frame, fans, snap);
    frame.render_widget(
        Paragraph::new(format!(
            " {} · estimate = weighted mean of the members, band 5-95 %; alerted = nodes alerted and not cleared",
            snap.keys.as_deref().unwrap_or("q quit")
        )),
        help,
    );
}

fn render_estimates(frame: &mut Frame<'_>, area: Rect, snap: &TwinSnapshot) {
    let t = |e: &EstimatePoint| f64::from(e.tick) * snap.tick_s;
    let series = |f: fn(&EstimatePoint) -> f64| -> Vec<(f64, f64)> {
        snap.estimates.iter().map(|e| (t(e), f(e))).collect()
    };
    let (mean, q05, q95, alerted) = (
        series(|e| e.mean),
        series(|e| e.q05),
        series(|e| e.q95),
        series(|e| e.alerted),
    );
    let truth: Vec<(f64, f64)> = snap
        .truth
        .iter()
        .map(|&(tick, n)| (f64::from(tick) * snap.tick_s, n))
        .collect();
    let x_hi = snap.estimates.last().map_or(1.0, t).max(1.0);
    let y_hi = snap
        .estimates
        .iter()
        .map(|e| e.q95.max(e.alerted).max(e.mean))
        .chain(snap.truth.iter().map(|&(_, n)| n))
        .fold(1.0, f64::max)
        * 1.1;
    let mut datasets = vec![
        line("estimate", Color::Red, &mean),
        Dataset::default()
            .name("5-95 %")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(Color::DarkGray))
            .data(&q05),
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(Color::DarkGray))
            .data(&q95),
        line("alerted", Color::Yellow, &alerted),
    ];
    if !truth.is_empty() {
        datasets.push(line("truth", Color::Green, &truth));
    }
    let now = snap.estimates.last().map_or(String::new(), |e| {
        let truth = snap
            .truth
            .last()
            .map_or(String::new(), |&(_, n)| format!(", truth {n:.0}"));
        format!(
            " compromised now: twin {:.0} [{:.0}, {:.0}], alerted {:.0}{truth} ",
            e.mean, e.q05, e.q95, e.alerted
        )
    });
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" estimated vs alerted ")
        .title_bottom(now);
    frame.render_widget(nodes_over_time(datasets, block, (0.0, x_hi), y_hi), area);
}

fn render_recommendation(frame: &mut Frame<'_>, area: Rect, snap: &TwinSnapshot) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    match &snap.recommendation {
        Some((tick, name, statement)) => {
            lines.push(Line::from(vec![
                Span::raw("recommended: "),
                Span::styled(name.clone(), Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(format!(
                    " (tick {tick}, {})",
                    clock(f64::from(*tick) * snap.tick_s)
                )),
            ]));
            lines.push(Line::from(""));
            lines.push(Line::from(statement.clone()));
            lines.push(Line::from(""));
            for f in &snap.fans {
                lines.push(Line::from(format!(
                    "  {:<16} mean score {:.1}",
                    f.name, f.score
                )));
            }
        }
        None => lines.push(Line::from(snap.no_recommendation.clone().unwrap_or_else(
            || "no recommendation yet (one every --cycle, with --candidate strategies)".into(),
        ))),
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" recommendation "),
        ),
        area,
    );
}

fn render_fans(frame: &mut Frame<'_>, area: Rect, snap: &TwinSnapshot) {
    let data: Vec<Vec<(f64, f64)>> = snap
        .fans
        .iter()
        .map(|f| {
            f.compromised
                .iter()
                .map(|&(t, median, _, _)| (f64::from(t) * snap.tick_s, median))
                .collect()
        })
        .collect();
    let all = || snap.fans.iter().flat_map(|f| f.compromised.iter());
    let x = all().fold((f64::MAX, f64::MIN), |(lo, hi), &(t, ..)| {
        let s = f64::from(t) * snap.tick_s;
        (lo.min(s), hi.max(s))
    });
    let x = if x.0 > x.1 {
        (0.0, 1.0)
    } else {
        (x.0, x.1.max(x.0 + 1.0))
    };
    let y_hi = all().fold(1.0, |m: f64, &(_, _, _, q90)| m.max(q90)) * 1.1;
    let datasets: Vec<Dataset<'_>> = snap
        .fans
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(k, (f, d))| line(&f.name, COLOURS[k % COLOURS.len()], d))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" forecast: median compromised per strategy ");
    frame.render_widget(nodes_over_time(datasets, block, x, y_hi), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn text(snap: &TwinSnapshot, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render_twin(f, snap)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol().to_owned())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn the_screen_shows_estimate_alerts_forecast_and_recommendation() {
        let snap = TwinSnapshot {
            scenario: "campus".into(),
            feed: "feed.jsonl".into(),
            tick_s: 10.0,
            members: 16,
            ess: 12.5,
            estimates: (0..50)
                .map(|t| EstimatePoint {
                    tick: t,
                    mean: f64::from(t) * 4.0,
                    q05: f64::from(t) * 3.5,
                    q95: f64::from(t) * 4.5,
                    alerted: f64::from(t),
                })
                .collect(),
            fans: vec![
                StrategyFan {
                    name: "current".into(),
                    score: 100.0,
                    compromised: (49..80).map(|t| (t, 200.0, 190.0, 210.0)).collect(),
                },
                StrategyFan {
                    name: "zero-trust".into(),
                    score: 50.0,
                    compromised: (49..80)
                        .map(|t| (t, 200.0 - f64::from(t - 49), 150.0, 205.0))
                        .collect(),
                },
            ],
            recommendation: Some((
                49,
                "zero-trust".into(),
                "Deploy zero-trust: lowest mean score".into(),
            )),
            done: false,
            ..TwinSnapshot::default()
        };
        for (w, h) in [(120, 40), (80, 24)] {
            let screen = text(&snap, w, h);
            for expect in [
                "tick 49",
                "00:08:10",
                "ESS 12.5",
                "estimated vs alerted",
                "recommended: zero-trust",
                "forecast",
                "q quit",
            ] {
                assert!(screen.contains(expect), "{expect} at {w}x{h}:\n{screen}");
            }
            assert!(
                screen.contains("twin 196 [172, 220], alerted 49") || w < 100,
                "{screen}"
            );
        }
        let empty = text(&TwinSnapshot::default(), 80, 24);
        assert!(empty.contains("no recommendation yet"), "{empty}");
        // Where the twin follows a run the screen watches too, the truth is drawn and
        // counted beside the estimate, and the bottom line names that screen's keys.
        let watched = TwinSnapshot {
            truth: (0..50).map(|t| (t, f64::from(t) * 4.1)).collect(),
            keys: Some("t back to the run".into()),
            ..snap
        };
        let screen = text(&watched, 120, 40);
        for expect in ["truth", "alerted 49, truth 201", "t back to the run"] {
            assert!(screen.contains(expect), "{expect}:\n{screen}");
        }
        assert!(!screen.contains("q quit"), "{screen}");
    }
}
