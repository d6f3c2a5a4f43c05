//! `paraverse watch` and `paraverse replay`: the CLI side of the terminal UI. The CLI steps
//! the universe (or reads the recorded files); `paraverse_viz` only draws snapshots.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use paraverse_sim::prelude::*;
use paraverse_viz::{Action, App, Mode, Snapshot};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use serde_json::Value;

use crate::args::WatchArgs;
use crate::plugins;

/// Events kept for the log pane.
const EVENTS_SHOWN: usize = 300;

fn need_terminal() -> Result<()> {
    anyhow::ensure!(
        std::io::stdout().is_terminal(),
        "the terminal UI needs a terminal; for files use `paraverse run`"
    );
    Ok(())
}

/// Runs the UI loop with the terminal restored afterwards, also on error or panic
/// (`ratatui::init` installs a panic hook that restores it).
fn with_terminal(body: impl FnOnce(&mut DefaultTerminal) -> Result<()>) -> Result<()> {
    need_terminal()?;
    let mut terminal = ratatui::init();
    let result = body(&mut terminal);
    ratatui::restore();
    result
}

/// `paraverse watch`.
pub fn watch(args: &WatchArgs) -> Result<()> {
    need_terminal()?;
    let mut scenario = crate::load_scenario(args.scenario.as_deref(), args.strategy.as_deref())?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    let backend: BackendChoice = args.backend.parse().map_err(anyhow::Error::msg)?;
    let build = |s: Scenario| {
        Universe::build_with(s, backend, &plugins()).context("cannot build the world")
    };
    eprintln!(
        "paraverse: building {} ({} nodes)...",
        scenario.name, scenario.node_count
    );
    let mut universe = build(scenario.clone())?;
    with_terminal(|terminal| {
        let mut app = App::new(Mode::Live);
        let mut window = (Instant::now(), universe.clock().tick, 0.0f64);
        loop {
            if !app.paused {
                for _ in 0..app.ticks_per_frame() {
                    if !universe.step() {
                        app.paused = true;
                        break;
                    }
                }
            }
            if let Some(fault) = universe.fault() {
                anyhow::bail!("the run stopped: {fault}");
            }
            // Ticks per second over the last half second or more.
            let elapsed = window.0.elapsed().as_secs_f64();
            if elapsed >= 0.5 {
                window = (
                    Instant::now(),
                    universe.clock().tick,
                    f64::from(universe.clock().tick - window.1) / elapsed,
                );
            }
            let rate = if app.paused { 0.0 } else { window.2 };
            let snap = Snapshot::of_universe(&universe, rate, EVENTS_SHOWN);
            terminal.draw(|f| paraverse_viz::render(f, &snap, &app))?;
            let wait = if app.paused { 200 } else { 15 };
            if event::poll(Duration::from_millis(wait))?
                && let Event::Key(key) = event::read()?
            {
                match app.handle_key(key) {
                    Action::Quit => return Ok(()),
                    Action::Step => {
                        universe.step();
                    }
                    Action::Restart => {
                        let seed = universe.scenario().seed.wrapping_add(1);
                        universe = build(scenario.clone().with_seed(seed))?;
                        window = (Instant::now(), 0, 0.0);
                    }
                    _ => {}
                }
            }
        }
    })
}

/// A recorded run, read back from its folder.
struct Recording {
    scenario: Scenario,
    summary: Value,
    columns: Vec<String>,
    rows: Vec<Vec<u64>>,
    events: Vec<Value>,
}

fn read(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    paraverse_sim::scenario::read_input(&path).map_err(|e| {
        crate::invalid(format!(
            "{e} (is {} a folder written by `paraverse run`?)",
            dir.display()
        ))
    })
}

impl Recording {
    fn load(dir: &Path) -> Result<Self> {
        let summary: Value = serde_json::from_str(&read(dir, "summary.json")?)
            .with_context(|| format!("{}: summary.json is not JSON", dir.display()))?;
        let scenario = Scenario::from_toml_str(
            &read(dir, "scenario.toml")?,
            &dir.join("scenario.toml").display().to_string(),
        )?;
        let csv = read(dir, "timeseries.csv")?;
        let mut lines = csv.lines();
        let header: Vec<String> = lines
            .next()
            .context("timeseries.csv is empty")?
            .split(',')
            .skip(2)
            .map(str::to_owned)
            .collect();
        let mut rows = Vec::new();
        for (i, line) in lines.enumerate() {
            // An empty cell is a gauge not yet measured (tick 0): shown as 0.
            let row: Result<Vec<u64>, _> = line
                .split(',')
                .skip(2)
                .map(|v| {
                    if v.is_empty() {
                        Ok(0)
                    } else {
                        v.parse::<u64>()
                    }
                })
                .collect();
            let row =
                row.with_context(|| format!("timeseries.csv line {}: not a row of counts", i + 2))?;
            anyhow::ensure!(
                row.len() == header.len(),
                "timeseries.csv line {}: {} values for {} columns",
                i + 2,
                row.len(),
                header.len()
            );
            rows.push(row);
        }
        anyhow::ensure!(!rows.is_empty(), "timeseries.csv has no rows");
        let mut events = Vec::new();
        for (i, line) in read(dir, "events.jsonl")?.lines().enumerate() {
            events.push(
                serde_json::from_str(line)
                    .with_context(|| format!("events.jsonl line {}: not JSON", i + 1))?,
            );
        }
        Ok(Self {
            scenario,
            summary,
            columns: header,
            rows,
            events,
        })
    }

    fn last_tick(&self) -> u32 {
        (self.rows.len() - 1) as u32
    }

    fn snapshot(&self, tick: u32) -> Snapshot {
        let t = tick as usize;
        let shown = self.events.partition_point(|e| {
            e.get("tick").and_then(Value::as_u64).unwrap_or(0) <= u64::from(tick)
        });
        Snapshot {
            scenario: self.summary["scenario"].as_str().unwrap_or("?").to_owned(),
            seed: self.summary["seed"].as_u64().unwrap_or(0),
            backend: String::new(),
            tick,
            ticks: self.last_tick(),
            tick_s: self.summary["tick_s"].as_f64().unwrap_or(1.0),
            ticks_per_s: 0.0,
            zones: paraverse_viz::zone_sizes(&self.scenario),
            columns: self.columns.clone(),
            rows: self.rows[t.saturating_sub(paraverse_viz::HISTORY - 1)..=t].to_vec(),
            events: self.events[shown.saturating_sub(EVENTS_SHOWN)..shown].to_vec(),
            campaigns: paraverse_viz::ChainView::of_summary(
                &self.summary,
                f64::from(tick) * self.summary["tick_s"].as_f64().unwrap_or(1.0),
            ),
        }
    }
}

/// `paraverse replay RUN_DIR`.
pub fn replay(dir: &Path) -> Result<()> {
    let rec = Recording::load(dir)?;
    with_terminal(|terminal| {
        let mut app = App::new(Mode::Replay);
        let mut tick: u32 = 0;
        let last = rec.last_tick();
        loop {
            if !app.paused {
                tick = (tick + app.ticks_per_frame()).min(last);
                if tick == last {
                    app.paused = true;
                }
            }
            let snap = rec.snapshot(tick);
            terminal.draw(|f| paraverse_viz::render(f, &snap, &app))?;
            let wait = if app.paused { 200 } else { 30 };
            if event::poll(Duration::from_millis(wait))?
                && let Event::Key(key) = event::read()?
            {
                let seek = |t: i64| t.clamp(0, i64::from(last)) as u32;
                match app.handle_key(key) {
                    Action::Quit => return Ok(()),
                    Action::Step => tick = seek(i64::from(tick) + 1),
                    Action::Seek(d) => tick = seek(i64::from(tick) + d),
                    Action::SeekShare(s) => {
                        tick = seek(i64::from(tick) + (s * f64::from(last)).round() as i64)
                    }
                    Action::SeekTo(s) => tick = seek((s * f64::from(last)).round() as i64),
                    _ => {}
                }
            }
        }
    })
}
