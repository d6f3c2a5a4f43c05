//! What one screen shows: plain data, built by the CLI from a universe or a run's files.

use paraverse_sim::killchain::CampaignBook;
use paraverse_sim::scenario::Scenario;
use paraverse_sim::universe::Universe;
use serde_json::Value;

/// Points the charts keep over the whole run: each the maximum of its share of the ticks
/// (a peak never disappears when a long run is drawn in a few dozen columns).
pub const HISTORY: usize = 240;

/// The columns whose sum is blue's alerts per tick (every sensor's, not only the scan
/// detector's), with the sensor's name as the blue view shows it.
pub const ALERT_COLUMNS: [(&str, &str); 4] = [
    ("detections", "detector"),
    ("tripwire_alerts", "tripwire"),
    ("trust_revoked", "trust"),
    ("deepfakes_unmasked", "deepfake"),
];

/// The derived column of every sensor's alerts per tick ([`ALERT_COLUMNS`] summed).
pub const ALERTS: &str = "alerts:all";

/// One frame's worth of a run.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Traffic backend, e.g. `cpu (2 threads)`; empty without traffic.
    pub backend: String,
    /// Tick shown.
    pub tick: u32,
    /// Ticks in the run.
    pub ticks: u32,
    /// Seconds per tick.
    pub tick_s: f64,
    /// Measured speed, ticks per wall-clock second (0 when paused or replaying).
    pub ticks_per_s: f64,
    /// Zone names and their node counts.
    pub zones: Vec<(String, u64)>,
    /// Time-series column names (as in `timeseries.csv` after `tick,time_s`).
    pub columns: Vec<String>,
    /// The run up to the tick shown, downsampled ([`Snapshot::downsample`]): one row per
    /// bucket of the whole run's [`Snapshot::buckets`] filled so far.
    pub rows: Vec<Vec<u64>>,
    /// How many buckets the whole run has (the charts' full width in time).
    pub buckets: usize,
    /// The row of the tick shown (the figures in the charts' titles).
    pub latest: Vec<u64>,
    /// The network map, when the screen shows it (live runs only: a run's files do not
    /// keep every node's state at every tick).
    pub map: Option<crate::NodeMap>,
    /// Recent events (objects as in `events.jsonl`), oldest first.
    pub events: Vec<Value>,
    /// Each campaign's kill chain and how far it has got.
    pub campaigns: Vec<ChainView>,
}

/// A campaign's kill chain as far as the tick shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainView {
    /// Campaign name.
    pub name: String,
    /// Kind (`botnet`, `ransomware`, ...).
    pub kind: String,
    /// Steps in kill-chain order: (name, ATT&CK technique, reached yet).
    pub steps: Vec<(String, String, bool)>,
}

impl ChainView {
    /// Whether the goal (the last step) is reached.
    pub fn goal_reached(&self) -> bool {
        self.steps.last().is_some_and(|s| s.2)
    }

    /// The furthest step reached along the chain, if any.
    pub fn furthest(&self) -> Option<(usize, &(String, String, bool))> {
        self.steps.iter().enumerate().rev().find(|(_, s)| s.2)
    }

    /// The chains in a campaign book (a live universe).
    pub fn of_book(book: &CampaignBook) -> Vec<Self> {
        book.tracks
            .iter()
            .flatten()
            .map(|t| ChainView {
                name: t.name.clone(),
                kind: t.kind.to_owned(),
                steps: t
                    .steps
                    .iter()
                    .zip(&t.reached)
                    .map(|(s, r)| (s.name.to_owned(), s.technique.to_owned(), r.is_some()))
                    .collect(),
            })
            .collect()
    }

    /// The chains in a run's `summary.json`, as far as simulated time `time_s`.
    pub fn of_summary(summary: &Value, time_s: f64) -> Vec<Self> {
        let Some(campaigns) = summary["campaigns"].as_array() else {
            return Vec::new();
        };
        campaigns
            .iter()
            .map(|c| ChainView {
                name: c["name"].as_str().unwrap_or("?").to_owned(),
                kind: c["kind"].as_str().unwrap_or("?").to_owned(),
                steps: c["steps"]
                    .as_array()
                    .map(|steps| {
                        steps
                            .iter()
                            .map(|s| {
                                (
                                    s["name"].as_str().unwrap_or("?").to_owned(),
                                    s["technique"].as_str().unwrap_or("?").to_owned(),
                                    s["reached_s"].as_f64().is_some_and(|r| r <= time_s + 1e-9),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// A run's chart rows, downsampled as the run goes: [`ALERTS`] added to each tick's row,
/// then at most [`HISTORY`] buckets over the whole run, each the maximum per column of its
/// ticks (peaks stay visible). The buckets depend only on the run's length, so folding the
/// ticks in as they come gives the same rows as folding them all at once.
#[derive(Debug, Clone)]
pub struct History {
    /// The series' columns, then [`ALERTS`].
    columns: Vec<String>,
    /// Where the alert columns of [`ALERT_COLUMNS`] are.
    sensors: Vec<usize>,
    /// Ticks in the whole run, counting tick 0.
    whole: usize,
    /// Buckets over the whole run.
    buckets: usize,
    /// The buckets so far.
    rows: Vec<Vec<u64>>,
    /// The last tick's row.
    latest: Vec<u64>,
    /// Ticks folded in.
    seen: usize,
}

impl History {
    /// Empty, for a run of `ticks` ticks recording `columns`.
    pub fn new(columns: &[String], ticks: u32) -> Self {
        let mut names = columns.to_vec();
        names.push(ALERTS.to_owned());
        let whole = ticks as usize + 1;
        History {
            sensors: ALERT_COLUMNS
                .iter()
                .filter_map(|(a, _)| columns.iter().position(|c| c == a))
                .collect(),
            columns: names,
            whole,
            buckets: HISTORY.min(whole),
            rows: Vec::new(),
            latest: Vec::new(),
            seen: 0,
        }
    }

    /// Folds in ticks `seen..count` (`row(t)` reads tick t); the ticks before were
    /// folded in by earlier calls.
    pub fn advance(&mut self, count: usize, row: impl Fn(usize) -> Vec<u64>) {
        for t in self.seen..count {
            let mut r = row(t);
            let alerts = self
                .sensors
                .iter()
                .map(|&i| r.get(i).copied().unwrap_or(0))
                .sum();
            r.push(alerts);
            let b = t * self.buckets / self.whole;
            match self.rows.get_mut(b) {
                Some(into) => into.iter_mut().zip(&r).for_each(|(a, v)| *a = (*a).max(*v)),
                None => self.rows.push(r.clone()),
            }
            self.latest = r;
        }
        self.seen = self.seen.max(count);
    }
}

impl Snapshot {
    /// The current value of a column (0 if absent).
    pub fn value(&self, column: &str) -> u64 {
        self.column(column)
            .and_then(|i| self.latest.get(i).copied())
            .unwrap_or(0)
    }

    /// The rows of ticks `0..count` of a run of `ticks` ticks (`row(t)` reads tick t), as
    /// the charts draw them (see [`History`]). Returns (columns, rows, buckets of the
    /// whole run, the last tick's row).
    pub fn downsample(
        columns: &[String],
        ticks: u32,
        count: usize,
        row: impl Fn(usize) -> Vec<u64>,
    ) -> (Vec<String>, Vec<Vec<u64>>, usize, Vec<u64>) {
        let mut history = History::new(columns, ticks);
        history.advance(count, row);
        (
            history.columns,
            history.rows,
            history.buckets,
            history.latest,
        )
    }

    /// Whether the run records a column (e.g. `xr_quality_ppm` needs traffic).
    pub fn has(&self, column: &str) -> bool {
        self.column(column).is_some()
    }

    /// A column's history, oldest first.
    pub fn history(&self, column: &str) -> Vec<u64> {
        match self.column(column) {
            Some(i) => self.rows.iter().map(|r| r[i]).collect(),
            None => Vec::new(),
        }
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// A snapshot of a universe as it is now (reads it; never steps it), its charts
    /// downsampled from the whole series.
    pub fn of_universe(u: &Universe, ticks_per_s: f64, events: usize) -> Self {
        let mut history = History::new(&u.series_columns(), u.clock().ticks);
        Self::of_universe_with(u, ticks_per_s, events, &mut history)
    }

    /// A snapshot of a universe as it is now, its charts from `history`, which this call
    /// brings up to date: a live view keeps one across frames, so each tick's row is read
    /// once, not once per frame (the whole run's series on every frame, otherwise).
    pub fn of_universe_with(
        u: &Universe,
        ticks_per_s: f64,
        events: usize,
        history: &mut History,
    ) -> Self {
        let series = u.series();
        let clock = u.clock();
        history.advance(series.len(), |t| series.row(t));
        let (columns, rows, buckets, latest) = (
            history.columns.clone(),
            history.rows.clone(),
            history.buckets,
            history.latest.clone(),
        );
        Snapshot {
            scenario: u.scenario().name.clone(),
            seed: u.scenario().seed,
            backend: u.traffic().map(|t| t.backend()).unwrap_or_default(),
            tick: clock.tick,
            ticks: clock.ticks,
            tick_s: clock.seconds_at(1),
            ticks_per_s,
            zones: zone_sizes(u.scenario()),
            columns,
            rows,
            buckets,
            latest,
            map: None,
            events: u.recent_events(events),
            campaigns: u
                .world()
                .get_resource::<CampaignBook>()
                .map(ChainView::of_book)
                .unwrap_or_default(),
        }
    }

    /// Simulated time shown, seconds.
    pub fn time_s(&self) -> f64 {
        f64::from(self.tick) * self.tick_s
    }
}

/// Zone names and how many nodes each holds.
pub fn zone_sizes(scenario: &Scenario) -> Vec<(String, u64)> {
    let mut counts = vec![0u64; scenario.zones.len()];
    for g in &scenario.groups {
        counts[g.zone as usize] += u64::from(g.count);
    }
    scenario.zones.iter().cloned().zip(counts).collect()
}
