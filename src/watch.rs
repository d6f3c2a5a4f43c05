//! `paraverse watch` and `paraverse replay`: the CLI side of the terminal UI. The CLI steps
//! the universe (or reads the recorded files); `paraverse_viz` only draws snapshots.

use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use paraverse_sim::operator::script::{Command, Order, Script};
use paraverse_sim::operator::teams::Team;
use paraverse_sim::prelude::*;
use paraverse_twin::ensemble::{AlertModel, Ensemble, Estimate, RatePrior};
use paraverse_twin::observation::blue_observations;
use paraverse_viz::{Action, App, History, Mode, NodeMap, Pace, Snapshot, TwinSnapshot, View};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use serde_json::Value;

use crate::args::WatchArgs;
use crate::world::plugins;

/// Events kept for the log pane.
const EVENTS_SHOWN: usize = 300;

/// Wall time a live frame may spend stepping before it draws (keys stay responsive at
/// any speed).
const FRAME_BUDGET: Duration = Duration::from_millis(40);

/// Ticks a replay frame may move at most (at `max`).
const MAX_REPLAY_STEP: u32 = 500;

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

/// `paraverse watch`: the universe steps as the UI asks, and takes the players' commands
/// (`:`) and the --actions script's as an exercise ([`paraverse_sim::operator::script`]).
pub fn watch(args: &WatchArgs) -> Result<()> {
    if let Some(path) = &args.record {
        Recorder::check(path, args.force)?;
    }
    need_terminal()?;
    args.world.start_threads()?;
    let scenario = args.world.scenario()?;
    let mut exercise = Exercise {
        script: match &args.actions {
            Some(path) => Some(crate::run::read_script(path, &scenario)?),
            None => None,
        },
        record: match &args.record {
            Some(path) => Some(Recorder::create(path, args.force, &scenario)?),
            None => None,
        },
        given: 0,
    };
    let build = |s: Scenario| args.world.build(s, &crate::world::plugins_with_operator());
    // The twin's model before the world: a bad option costs no build.
    let model = if args.twin {
        Some((args.model.alert_model(&scenario)?, args.model.prior()?))
    } else {
        None
    };
    let members = if args.twin { args.twin_members } else { 0 };
    crate::world::check_universes(
        &scenario,
        (
            1 + members as usize,
            "universes at once (the run and its twin's members)",
        ),
        "watch with fewer --twin-members",
        None,
    )?;
    eprintln!(
        "paraverse: building {} ({} nodes)...",
        scenario.name, scenario.node_count
    );
    let mut universe = build(scenario.clone())?;
    let follower_of = |s: &Scenario| -> Result<Option<Follower>> {
        model
            .as_ref()
            .map(|(m, prior)| Follower::new(s, args.twin_members, m.clone(), *prior))
            .transpose()
    };
    if args.twin {
        eprintln!(
            "paraverse: building the twin ({} members)...",
            args.twin_members
        );
    }
    let mut follower = follower_of(&scenario)?;
    with_terminal(|terminal| {
        let mut app = App::new(Mode::Live);
        app.twin = follower.as_ref().map(|_| false);
        let mut window = (Instant::now(), universe.clock().tick, 0.0f64);
        let mut pace = Pace::new();
        // The map's layout, made the first time the map is shown (per universe).
        let mut layout = None;
        // The charts' rows, each tick folded in once (per universe).
        let new_history = |u: &Universe| History::new(&u.series_columns(), u.clock().ticks);
        let mut history = new_history(&universe);
        let tick_s = universe.scenario().tick.as_micros() as f64 / 1e6;
        loop {
            // The ticks due at the chosen speed in simulated time, within a frame's budget
            // (at `max`, as many as fit in it).
            let due = pace.due(app.speed(), tick_s, app.paused, 10_000);
            let frame = Instant::now();
            for _ in 0..due {
                let stepped = exercise.advance(&mut universe)?;
                if let Some(f) = &mut follower {
                    f.follow(&mut universe)?;
                }
                if !stepped {
                    app.paused = true;
                    break;
                }
                if frame.elapsed() > FRAME_BUDGET {
                    break;
                }
            }
            if let Some(fault) = universe.fault() {
                anyhow::bail!("the run stopped: {fault}");
            }
            let clock = universe.clock();
            if clock.tick >= clock.ticks && app.score.is_none() {
                app.score = Some(exercise.score_screen(&universe));
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
            // A filter searches the whole run's events, not only the last few hundred
            // (the snapshot then reads none of its own).
            let filter = app.events_filter();
            let unfiltered = if filter.is_empty() { EVENTS_SHOWN } else { 0 };
            let mut snap = Snapshot::of_universe_with(&universe, rate, unfiltered, &mut history);
            if !filter.is_empty() {
                snap.events = universe.recent_events_where(EVENTS_SHOWN, |e| {
                    paraverse_viz::event_matches(e, app.view, filter)
                });
            }
            if app.map {
                let (layout, positions) = layout.get_or_insert_with(|| {
                    let l = paraverse_viz::view::Layout::of_universe(&universe);
                    let p = std::sync::Arc::new(l.positions.clone());
                    (l, p)
                });
                snap.map = Some(NodeMap::of_universe(layout, positions, &universe, app.view));
            }
            match (&follower, app.twin) {
                (Some(twin), Some(true)) => {
                    let snap = twin.snapshot(app.view == View::Red);
                    terminal.draw(|f| paraverse_viz::render_twin(f, &snap))?;
                }
                _ => {
                    terminal.draw(|f| paraverse_viz::render(f, &snap, &app))?;
                }
            }
            let wait = if app.paused { 200 } else { 15 };
            if event::poll(Duration::from_millis(wait))?
                && let Event::Key(key) = event::read()?
            {
                match app.handle_key(key) {
                    Action::Quit => return Ok(()),
                    Action::Step => {
                        exercise.advance(&mut universe)?;
                        if let Some(f) = &mut follower {
                            f.follow(&mut universe)?;
                        }
                    }
                    Action::Restart if exercise.record.is_some() => {
                        app.status = Some(
                            "restart is off while recording (--record): the file is one run's"
                                .into(),
                        );
                    }
                    Action::Restart => {
                        let seed = universe.scenario().seed.wrapping_add(1);
                        universe = build(scenario.clone().with_seed(seed))?;
                        window = (Instant::now(), 0, 0.0);
                        (exercise.given, app.score, layout) = (0, None, None);
                        history = new_history(&universe);
                        follower = follower_of(universe.scenario())?;
                    }
                    Action::Command(text) => {
                        app.status = Some(match exercise.give(&mut universe, &text)? {
                            Ok(done) | Err(done) => done,
                        });
                    }
                    _ => {}
                }
            }
        }
    })
}

/// `watch --twin`: a live twin following the watched run as if it were the real network.
/// After each tick, the run's new events that the blue team sees (alerts, quarantines,
/// releases; [`blue_observations`]) are the twin's feed, and the twin closes the ticks
/// the run has stepped; the screen shows its estimate against the alerts and the run's
/// ground truth, which the twin never reads. A `strategy` command of the exercise
/// deploys its defenses in the members too, from the tick it does in the run.
struct Follower {
    ensemble: Ensemble,
    /// Events of the run already fed.
    seen: usize,
    snap: TwinSnapshot,
    /// The strategy the members run (the run's `strategy_source` when they last switched).
    strategy: Option<String>,
}

impl Follower {
    fn new(scenario: &Scenario, members: u32, model: AlertModel, prior: RatePrior) -> Result<Self> {
        let ensemble = Ensemble::new(
            scenario,
            members,
            (model, prior),
            BackendChoice::Cpu,
            // The real network's attackers and defenses; the exercise's operator is not
            // the twin's to run.
            &plugins(),
        )
        .map_err(|e| anyhow::anyhow!("cannot build the twin: {e}"))?;
        Ok(Self {
            ensemble,
            seen: 0,
            strategy: scenario.strategy_source.clone(),
            snap: TwinSnapshot {
                scenario: scenario.name.clone(),
                feed: "this run's blue view".into(),
                tick_s: scenario.tick.as_micros() as f64 / 1e6,
                members,
                keys: Some("t the run · Tab red/blue (truth in red) · q quit".into()),
                no_recommendation: Some(
                    "no forecasts here: `paraverse twin --cycle` forecasts candidate strategies and recommends one"
                        .into(),
                ),
                ..TwinSnapshot::default()
            },
        })
    }

    /// Feeds the run's new blue-team events and closes every tick the run has stepped
    /// (call it after each step: a strategy the run switched to before the step is
    /// deployed in the members before they take it).
    fn follow(&mut self, universe: &mut Universe) -> Result<()> {
        let tick = universe.clock().tick;
        if tick <= self.ensemble.tick() {
            return Ok(());
        }
        let deployed = &universe.scenario().strategy_source;
        if *deployed != self.strategy {
            let scenario = universe.scenario().clone();
            let remaining = scenario.ticks.saturating_sub(self.ensemble.tick());
            self.ensemble
                .switch(&scenario, remaining, &plugins())
                .map_err(|e| anyhow::anyhow!("the twin cannot deploy the run's strategy: {e}"))?;
            self.strategy.clone_from(deployed);
        }
        let events = universe.world().resource::<EventLog>().events();
        let feed = blue_observations(&events[self.seen.min(events.len())..]);
        self.seen = events.len();
        let snap = &mut self.snap;
        let mut on_tick = |e: &Estimate, _: &mut Ensemble| crate::twin::push_estimate(snap, e);
        for o in feed {
            self.ensemble
                .observe(o, &plugins(), &mut on_tick)
                .map_err(|e| anyhow::anyhow!("the twin refused the run's feed: {e}"))?;
        }
        self.ensemble.close_until(tick, &plugins(), &mut on_tick);
        let truth = universe.with_security(|s| s.iter().filter(|s| s.compromised).count());
        self.snap.truth.push((tick, truth as f64));
        Ok(())
    }

    /// The twin screen's data; the truth only where the view may show it (red).
    fn snapshot(&self, red: bool) -> TwinSnapshot {
        let mut snap = self.snap.clone();
        if !red {
            snap.truth.clear();
        }
        snap
    }
}

/// An exercise's commands: the --actions script's, played as their ticks come, and the
/// players', both queued, counted and recorded the same way.
struct Exercise {
    script: Option<Script>,
    record: Option<Recorder>,
    /// Commands given so far (the score screen's count).
    given: usize,
}

impl Exercise {
    /// Queues `command`, given at the end of `tick`, counts and records it; returns how
    /// many node actions it queued, or why the universe refused it. Only failing to write
    /// the record is an error.
    fn take(
        &mut self,
        universe: &mut Universe,
        tick: u32,
        command: &Command,
    ) -> Result<Result<usize, String>> {
        let n = match command.queue(universe) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        self.given += 1;
        if let Some(r) = &mut self.record {
            r.write(tick, command)?;
        }
        Ok(Ok(n))
    }

    /// Queues the script's commands for the current tick, then steps; false once the run
    /// is over.
    fn advance(&mut self, universe: &mut Universe) -> Result<bool> {
        let tick = universe.clock().tick;
        let due: Vec<Command> = self
            .script
            .iter()
            .flat_map(|s| s.at(tick))
            .cloned()
            .collect();
        for c in &due {
            self.take(universe, tick, c)?.map_err(crate::invalid)?;
        }
        Ok(universe.step())
    }

    /// A player's command: what it did, or why not (shown on the bottom line).
    fn give(&mut self, universe: &mut Universe, text: &str) -> Result<Result<String, String>> {
        let clock = universe.clock();
        if clock.tick >= clock.ticks {
            return Ok(Err("the exercise is over: nothing more happens".into()));
        }
        let command = match Command::parse(text, universe.scenario()) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let n = match self.take(universe, clock.tick, &command)? {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        let team = match command.team {
            Team::Blue => "blue",
            Team::Red(_) => "red",
        };
        let next = clock.tick + 1;
        let plural = if n == 1 { "" } else { "s" };
        let what = match command.order {
            Order::Launch(_) => format!("the campaign starts at tick {next}"),
            Order::Zones { cut, .. } => format!(
                "{n} zone pair{plural} {}, applied at tick {next}",
                if cut { "cut" } else { "reconnected" }
            ),
            Order::Strategy { .. } => format!("deployed: its defenses act from tick {next}"),
            Order::Nodes { .. } => format!("{n} node action{plural}, applied at tick {next}"),
        };
        Ok(Ok(format!(
            "{team} at tick {}: {} ({what})",
            clock.tick, command.text
        )))
    }

    /// The score screen: the objectives, the score with the lab's default weights, and
    /// what each team did.
    fn score_screen(&self, universe: &Universe) -> Vec<String> {
        let summary = universe.summary();
        let o = &summary.objectives;
        let weights = paraverse_lab::experiment::Score::default();
        let count = |name: &str| summary.counters.get(name).copied().unwrap_or(0);
        let mut lines = vec![
            format!(
                "{} · seed {} · {} ticks",
                summary.scenario, summary.seed, summary.ticks
            ),
            String::new(),
            format!("security loss  {:>14.1}", o.security_loss),
            format!("availability   {:>14.4}", o.availability),
            format!("cost           {:>14.1}", o.cost),
            format!(
                "score          {:>14.1}  (lower is better; the lab's default weights)",
                weights.of(o)
            ),
            String::new(),
            "blue, the defenses and the players together:".into(),
            format!(
                "  {} quarantined ({} clean), {} released, {} patched,",
                count("quarantines"),
                count("false_quarantines"),
                count("releases"),
                count("patches"),
            ),
            format!(
                "  {} hardened, {} revoked, {} strategies deployed{}",
                count("hardened"),
                count("revocations"),
                count("strategy_switches"),
                summary
                    .strategy
                    .as_deref()
                    .map(|s| format!(" (in force: {s})"))
                    .unwrap_or_default()
            ),
            format!(
                "red: {} of {} exploits took a node",
                count("exploits"),
                count("exploit_attempts")
            ),
            format!("commands given: {}", self.given),
        ];
        if let Some(r) = &self.record {
            lines.push(format!("recorded in {}", r.path.display()));
        }
        lines
    }
}

/// `--record`: the exercise's commands as a script, each line written as it is given, so
/// a killed session keeps every command it took.
struct Recorder {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl Recorder {
    /// Refuses to replace an exercise's record without `--force`.
    fn check(path: &Path, force: bool) -> Result<()> {
        if path.exists() && !force {
            return Err(crate::invalid(format!(
                "--record {}: the file exists; add --force to replace it",
                path.display()
            )));
        }
        Ok(())
    }

    fn create(path: &Path, force: bool, scenario: &Scenario) -> Result<Self> {
        Self::check(path, force)?;
        let mut file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        writeln!(
            file,
            "# paraverse exercise on {} (seed {}): TICK COMMAND, each applied at the next tick.\n\
             # Replay: paraverse run {} --seed {} --actions {}",
            scenario.name,
            scenario.seed,
            scenario.name,
            scenario.seed,
            path.display()
        )?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    fn write(&mut self, tick: u32, command: &Command) -> Result<()> {
        self.file
            .write_all(Script::line(tick, command).as_bytes())
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
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

    /// The screen at `tick`: with a filter, the last events up to the tick that match
    /// it, from the whole run (not only from the last few hundred).
    fn snapshot(&self, tick: u32, app: &App) -> Snapshot {
        let t = tick as usize;
        let shown = self.events.partition_point(|e| {
            e.get("tick").and_then(Value::as_u64).unwrap_or(0) <= u64::from(tick)
        });
        let (columns, rows, buckets, latest) =
            Snapshot::downsample(&self.columns, self.last_tick(), t + 1, |i| {
                self.rows[i].clone()
            });
        let filter = app.events_filter();
        let events = if filter.is_empty() {
            self.events[shown.saturating_sub(EVENTS_SHOWN)..shown].to_vec()
        } else {
            let mut found: Vec<Value> = self.events[..shown]
                .iter()
                .rev()
                .filter(|e| paraverse_viz::event_matches(e, app.view, filter))
                .take(EVENTS_SHOWN)
                .cloned()
                .collect();
            found.reverse();
            found
        };
        Snapshot {
            scenario: self.summary["scenario"].as_str().unwrap_or("?").to_owned(),
            seed: self.summary["seed"].as_u64().unwrap_or(0),
            backend: String::new(),
            tick,
            ticks: self.last_tick(),
            tick_s: self.summary["tick_s"].as_f64().unwrap_or(1.0),
            ticks_per_s: 0.0,
            zones: paraverse_viz::zone_sizes(&self.scenario),
            columns,
            rows,
            buckets,
            latest,
            map: None,
            events,
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
        let mut pace = Pace::new();
        let tick_s = rec.summary["tick_s"].as_f64().unwrap_or(1.0);
        loop {
            // Asked every frame, paused or not, so a resumed replay owes nothing for the
            // time it stood still.
            let due = pace.due(app.speed(), tick_s, app.paused, MAX_REPLAY_STEP);
            if !app.paused {
                tick = tick.saturating_add(due.min(MAX_REPLAY_STEP)).min(last);
                if tick == last {
                    app.paused = true;
                }
            }
            let snap = rec.snapshot(tick, &app);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The twin of `watch --twin` follows the run tick by tick and deploys the strategy
    /// the exercise switched the run to.
    #[test]
    fn the_follower_closes_the_run_s_ticks_and_deploys_its_strategy_switch() {
        let scenario = crate::world::load_scenario(Some("metaverse-campus"), None)
            .unwrap()
            .with_ticks(20);
        let model = AlertModel::uniform(0.9, 1e-4);
        let mut run =
            Universe::build(scenario.clone(), &crate::world::plugins_with_operator()).unwrap();
        let mut twin = Follower::new(&scenario, 2, model, RatePrior::DEFAULT).unwrap();
        for _ in 0..5 {
            run.step();
            twin.follow(&mut run).unwrap();
        }
        assert_eq!(twin.ensemble.tick(), 5);
        assert_eq!(twin.snap.estimates.len(), 5);
        assert_eq!(twin.snap.truth.last().map(|t| t.0), Some(5));
        let zero_trust = crate::world::load_scenario(
            Some("metaverse-campus"),
            Some(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/strategies/zero-trust.toml"
            ))),
        )
        .unwrap();
        run.switch_strategy(zero_trust).unwrap();
        run.step();
        twin.follow(&mut run).unwrap();
        assert_eq!(twin.ensemble.tick(), 6);
        for m in twin.ensemble.members() {
            assert!(m.scenario().defense.zero_trust.is_some());
            assert_eq!(m.scenario().strategy_source, run.scenario().strategy_source);
        }
        assert!(twin.snapshot(true).truth.len() == 6 && twin.snapshot(false).truth.is_empty());
    }
}
