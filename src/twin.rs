//! `paraverse twin` (the live twin: feed in, estimates and recommendations out) and the
//! blue team's feed a run writes with `--observations-out`.

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use paraverse_defenders::export::Mapping;
use paraverse_lab::experiment::Score;
use paraverse_sim::prelude::*;
use paraverse_twin::ensemble::{AlertModel, Estimate, RatePrior};
use paraverse_twin::forecast::{Candidate, Forecast, ForecastSpec};
use paraverse_twin::live::{Sink, TwinSpec};
use paraverse_twin::observation::{Kind, NodeName, Observation, Resolver, seen_by_blue};

use crate::args::{ShadowArgs, TwinArgs, TwinModelArgs};
use crate::invalid;
use crate::world::{check_universes, load_scenario, plugins, set_threads};

/// The events a SOC sees, as observation lines: alerts (detections and tripwires),
/// quarantines and releases. Ground truth (`true_positive`) is left out.
pub fn blue_feed(record: &RunRecord, link_loads: &[LinkLoad]) -> String {
    let mut out = String::new();
    let mut line = |o: &Observation| {
        out += &serde_json::to_string(o).unwrap_or_default();
        out.push('\n');
    };
    let mut loads = link_loads.iter().peekable();
    for e in &record.events {
        // A tick's link loads follow its events (both are known at the tick's end).
        while let Some(l) = loads.next_if(|l| l.tick < e.tick) {
            line(&l.observation(record));
        }
        let (Some(kind), Some(node)) = (seen_by_blue(e.kind), e.node) else {
            continue;
        };
        line(&Observation {
            time_s: f64::from(e.tick) * record.tick_s,
            kind,
            node: Some(NodeName::Name(record.node_names.name(node))),
            address: None,
            source: (kind == Kind::Alert).then(|| e.kind.to_owned()),
            to: None,
            to_address: None,
            kbps: None,
        });
    }
    loads.for_each(|l| line(&l.observation(record)));
    // The feed ends with the run: the twin closes every tick up to it.
    line(&Observation {
        time_s: f64::from(record.summary.ticks) * record.tick_s,
        kind: Kind::End,
        node: None,
        address: None,
        source: None,
        to: None,
        to_address: None,
        kbps: None,
    });
    out
}

/// One link direction's load at a tick's end, as `run --link-loads` polls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLoad {
    /// The tick it was read at the end of.
    pub tick: u32,
    /// The link's sending end.
    pub from: u32,
    /// Its receiving end.
    pub to: u32,
    /// The traffic offered, kbit/s.
    pub kbps: u64,
}

impl LinkLoad {
    fn observation(&self, record: &RunRecord) -> Observation {
        Observation {
            time_s: f64::from(self.tick) * record.tick_s,
            kind: Kind::LinkLoad,
            node: Some(NodeName::Name(record.node_names.name(self.from))),
            address: None,
            source: None,
            to: Some(NodeName::Name(record.node_names.name(self.to))),
            to_address: None,
            kbps: Some(self.kbps as f64),
        }
    }
}

/// `run --link-loads`: how often links are polled; polled are those with both ends
/// infrastructure, as SNMP polls switches and routers, not each headset.
pub struct LinkPoll {
    every: u32,
}

impl LinkPoll {
    /// Polls `universe`'s links every `every` of simulated time (whole ticks, at least one).
    pub fn new(universe: &Universe, every: SimDuration) -> Result<Self> {
        let s = universe.scenario();
        if s.flows.is_empty() {
            return Err(invalid(format!(
                "--link-loads: scenario `{}` has no traffic ([[flow]]s) to measure",
                s.name
            )));
        }
        Ok(LinkPoll {
            every: whole_ticks(every, s.tick, "--link-loads")?,
        })
    }

    /// Appends the polled links' loads if the tick just stepped is a polling tick.
    pub fn sample(&self, universe: &Universe, into: &mut Vec<LinkLoad>) {
        let tick = universe.clock().tick;
        if !tick.is_multiple_of(self.every) {
            return;
        }
        let s = universe.scenario();
        let polled = |n: u32| !s.groups[s.group_of(n) as usize].kind.is_terminal();
        into.extend(
            universe
                .link_loads()
                .into_iter()
                .filter(|&(from, to, _)| polled(from) && polled(to))
                .map(|(from, to, kbps)| LinkLoad {
                    tick,
                    from,
                    to,
                    kbps,
                }),
        );
    }
}

/// A duration as whole ticks (rounded up), at least one; `flag` names it in the error.
fn whole_ticks(d: SimDuration, tick: SimDuration, flag: &str) -> Result<u32> {
    u32::try_from(d.ticks_ceil(tick))
        .ok()
        .filter(|&t| t >= 1)
        .ok_or_else(|| invalid(format!("{flag} {d}: expected at least one tick of {tick}")))
}

impl TwinModelArgs {
    /// The detectors' rates: measured on the --calibrate run folder of `scenario` (per
    /// group too), or as given.
    pub(crate) fn alert_model(&self, scenario: &Scenario) -> Result<AlertModel> {
        let groups: Vec<(&str, u32)> = scenario
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.count))
            .collect();
        match &self.calibrate {
            Some(dir) => calibrate(dir, &groups)?,
            None => AlertModel::uniform(self.alert_tpr, self.alert_fpr),
        }
        .checked()
        .map_err(invalid)
    }

    /// How far the members' attacker may be from the scenario's pace (checked).
    pub(crate) fn prior(&self) -> Result<RatePrior> {
        RatePrior {
            spread: self.attack_rate_spread,
        }
        .checked()
        .map_err(invalid)
    }
}

/// The model's rates in words, for the twin's first line.
pub(crate) fn describe(model: &AlertModel) -> String {
    let mut text = format!(
        "alerts tpr {:.4} fpr {:.2e} per node-tick",
        model.tpr, model.fpr
    );
    if let Some(by_group) = &model.fpr_by_group {
        let (low, high) = by_group
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &p| (l.min(p), h.max(p)));
        text.push_str(&format!(" ({low:.2e} to {high:.2e} by group)"));
    }
    text
}

/// A run folder's time series column by name, per tick.
fn series_column(dir: &Path, column: &str) -> Result<Vec<f64>> {
    let path = dir.join("timeseries.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(format!(
            "{}: {e} (expected a `paraverse run` folder)",
            path.display()
        ))
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let c = header
        .iter()
        .position(|h| *h == column)
        .ok_or_else(|| invalid(format!("{}: no column `{column}`", path.display())))?;
    lines
        .enumerate()
        .map(|(i, l)| {
            l.split(',')
                .nth(c)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "{}:{}: no number in `{column}`",
                        path.display(),
                        i + 2
                    ))
                })
        })
        .collect()
}

/// Events that leave a node compromised (`true_positive` alerts name the rest).
const COMPROMISES: [&str; 5] = [
    "initial_compromise",
    "infection",
    "foothold",
    "lateral_movement",
    "exploitation",
];

/// Events after which a node is clean again.
const CLEANSED: [&str; 3] = ["release", "recovery", "restore"];

/// The detectors' per node-tick rates measured on a run with ground truth: alerts on
/// compromised nodes per *watched* compromised node-tick — from its compromise to its
/// first alert, its quarantine or its cleaning, whichever comes first, since a detector
/// alerts on a node once and not in quarantine (counting every compromised node-tick
/// made the rate several times too low on the campus, whose isolated nodes stay
/// compromised for 30 minutes) — and alerts on clean nodes per clean node-tick, over the
/// network and per group (`groups`: name and node count, in group order). A group's rate
/// is shrunk toward the network's by one pseudo false alarm at that rate:
/// `(false alarms + 1) / (clean node-ticks + 1 / fpr)`. A group without false alarms in
/// the run so gets a small rate rather than none, which would make its alerts certain
/// proof.
fn calibrate(dir: &Path, groups: &[(&str, u32)]) -> Result<AlertModel> {
    let nodes: u32 = groups.iter().map(|g| g.1).sum();
    let compromised = series_column(dir, "compromised")?;
    let events = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&events)
        .map_err(|e| invalid(format!("{}: {e}", events.display())))?;
    let ticks = compromised.len().saturating_sub(1) as u64;
    let (mut tp, mut fp) = (0u64, 0u64);
    // Watched compromised nodes: since which tick.
    let mut watched: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut exposure = 0u64;
    // Per group: false alarms and compromised node-ticks; compromised nodes since when.
    let group_of = |node: &str| {
        let name = node.rsplit_once('-').map_or(node, |(g, _)| g);
        groups.iter().position(|g| g.0 == name)
    };
    let mut false_alarms = vec![0u64; groups.len()];
    let mut held = vec![0u64; groups.len()];
    let mut since: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let (Some(event), Some(node)) = (v["event"].as_str(), v["node"].as_str()) else {
            continue;
        };
        let tick = v["tick"].as_u64().unwrap_or(0);
        let mut unwatch = |watched: &mut std::collections::HashMap<String, u64>| {
            if let Some(since) = watched.remove(node) {
                exposure += tick.saturating_sub(since).max(1);
            }
        };
        if seen_by_blue(event) == Some(Kind::Alert) {
            match v["true_positive"].as_bool() {
                Some(true) => {
                    tp += 1;
                    // A compromise the log names by another event costs one tick.
                    watched
                        .entry(node.to_owned())
                        .or_insert(tick.saturating_sub(1));
                    unwatch(&mut watched);
                }
                Some(false) => {
                    fp += 1;
                    if let Some(g) = group_of(node) {
                        false_alarms[g] += 1;
                    }
                }
                None => {}
            }
        } else if event == "quarantine" || CLEANSED.contains(&event) {
            unwatch(&mut watched);
        } else if COMPROMISES.contains(&event) && v["campaign"].is_string() {
            watched.entry(node.to_owned()).or_insert(tick);
            since.entry(node.to_owned()).or_insert(tick);
        }
        if CLEANSED.contains(&event)
            && let (Some(from), Some(g)) = (since.remove(node), group_of(node))
        {
            held[g] += tick.saturating_sub(from);
        }
    }
    for (node, from) in &since {
        if let Some(g) = group_of(node) {
            held[g] += ticks.saturating_sub(*from);
        }
    }
    exposure += watched
        .values()
        .map(|&since| ticks.saturating_sub(since))
        .sum::<u64>();
    let bad: f64 = compromised.iter().skip(1).sum();
    let clean = f64::from(nodes) * ticks as f64 - bad;
    // No detector is certain either way: a rate of 1 would make one surprise rule a member
    // out for good.
    let clamp = |p: f64| p.clamp(1e-9, 0.99);
    let fpr = clamp(fp as f64 / clean.max(1.0));
    let by_group = groups
        .iter()
        .zip(&false_alarms)
        .zip(&held)
        .map(|((&(_, count), &alarms), &held)| {
            let clean = (u64::from(count) * ticks).saturating_sub(held) as f64;
            clamp((alarms as f64 + 1.0) / (clean + 1.0 / fpr))
        })
        .collect();
    Ok(AlertModel {
        tpr: clamp(tp as f64 / (exposure as f64).max(1.0)),
        fpr,
        fpr_by_group: Some(by_group),
    })
}

/// What a recommendation changes in the real network: the recommended strategy exported
/// (JSON, NetworkPolicy, nftables, Istio, each read back and checked) and the nftables
/// lines that change from the live ruleset (`--live`, `nft -j list ruleset`) or, without
/// one, from the current defenses' export.
struct Deploy {
    candidates: Vec<(String, Scenario)>,
    mapping: Mapping,
    live: Option<(String, String)>,
    /// The current defenses' nftables export, made once: it is the same every cycle.
    current: std::cell::OnceCell<Result<String, String>>,
}

impl Deploy {
    fn write(&self, f: &Forecast, dir: &Path) -> serde_json::Value {
        use paraverse_defenders::export::{self, Format, Provenance};
        let export_of = |name: &str, formats: &[Format]| -> Result<_, String> {
            let (_, scenario) = self
                .candidates
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| format!("no candidate {name}"))?;
            let provenance = Provenance {
                source: format!(
                    "paraverse twin: {name}, recommended at tick {}",
                    f.from_tick
                ),
                lab: None,
            };
            export::export(scenario, &self.mapping, provenance, formats).map_err(|e| e.to_string())
        };
        let result = (|| -> Result<serde_json::Value, String> {
            let (plan, outputs) = export_of(&f.recommended, &Format::ALL)?;
            let folder = dir.join(format!("tick-{:010}", f.from_tick));
            std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
            let mut files = Vec::new();
            let mut nft = String::new();
            for (format, text) in &outputs {
                paraverse_lab::runner::write_atomic(&folder.join(format.file_name()), text)
                    .map_err(|e| e.to_string())?;
                files.push(format.file_name());
                if *format == Format::Nftables {
                    nft.clone_from(text);
                }
            }
            let ours = export::diff::from_export(&nft);
            let (against, changes) = match &self.live {
                Some((origin, json)) => {
                    let live = export::diff::from_live(json, "inet", &plan.nft_table)
                        .map_err(|e| format!("{origin}: {e}"))?;
                    (
                        origin.clone(),
                        export::diff::diff(&plan.nft_table, live.as_ref(), &ours),
                    )
                }
                None => {
                    let text = self
                        .current
                        .get_or_init(|| {
                            let (_, mut out) = export_of("current", &[Format::Nftables])?;
                            Ok(out.pop().map(|(_, t)| t).unwrap_or_default())
                        })
                        .clone()?;
                    let current = export::diff::from_export(&text);
                    (
                        "the current defenses' export".to_owned(),
                        export::diff::diff(&plan.nft_table, Some(&current), &ours),
                    )
                }
            };
            paraverse_lab::runner::write_atomic(
                &folder.join("nftables.diff"),
                changes.iter().map(|c| format!("{c}\n")).collect::<String>(),
            )
            .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({
                "strategy": f.recommended,
                "folder": folder.display().to_string(),
                "files": files,
                "nftables_changes_against": against,
                "nftables_changes": changes,
            }))
        })();
        result.unwrap_or_else(|e| serde_json::json!({ "strategy": f.recommended, "error": e }))
    }
}

struct Files {
    /// With --speed: the wall clock's start and simulated seconds per wall second.
    pace: Option<(std::time::Instant, f64)>,
    deploy: Deploy,
    dir: PathBuf,
    estimates: std::io::BufWriter<std::fs::File>,
    tick_s: f64,
    kept: Vec<Estimate>,
    /// Per cycle, the current defenses' forecast of compromised nodes at the horizon:
    /// (tick forecast, 10 %, median, 90 %).
    forecasts: Vec<(u32, f64, f64, f64)>,
    cycles: usize,
    quiet: bool,
    publisher: Option<paraverse_twin::mqtt::Publisher>,
    /// With --watch: the twin screen.
    screen: Option<Screen>,
}

/// The twin screen of `--watch`: redrawn as estimates and recommendations come, at most
/// 20 times a second; `q` quits.
struct Screen {
    terminal: ratatui::DefaultTerminal,
    snap: paraverse_viz::TwinSnapshot,
    drawn: std::time::Instant,
    keys: Keys,
}

impl Screen {
    fn draw(&mut self, force: bool) -> Result<(), String> {
        if !force && self.drawn.elapsed() < std::time::Duration::from_millis(50) {
            return Ok(());
        }
        self.drawn = std::time::Instant::now();
        let snap = &self.snap;
        self.terminal
            .draw(|f| paraverse_viz::render_twin(f, snap))
            .map_err(|e| format!("cannot draw: {e}"))?;
        Ok(())
    }
}

/// The twin screen's keyboard, read on a thread of its own: the main thread spends seconds
/// at a time in a forecast (or waiting for the feed's next line), and `q` must quit within
/// a moment all the same. `q` sets `quit`, which stops the forecast within a tick
/// ([`TwinSpec::stop`]); should the main thread still not be done after [`GRACE`] (a feed
/// that sends nothing), the thread restores the terminal and ends the process itself:
/// every file the twin has written is complete by then (each is written whole, or a line
/// at a time and flushed).
struct Keys {
    quit: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long `q` waits for the main thread before it ends the process.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

impl Keys {
    fn listen(quit: Arc<AtomicBool>, out: PathBuf) -> Keys {
        let done = Arc::new(AtomicBool::new(false));
        let (q, d) = (quit.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let tick = std::time::Duration::from_millis(100);
            while !d.load(Ordering::Relaxed) {
                if quit_pressed(tick).unwrap_or(true) {
                    q.store(true, Ordering::Relaxed);
                    break;
                }
            }
            let asked = std::time::Instant::now();
            while !d.load(Ordering::Relaxed) {
                if asked.elapsed() > GRACE {
                    ratatui::restore();
                    let _ = writeln!(
                        std::io::stdout(),
                        "twin: quit before the twin was done (a silent feed); what was written is in {}",
                        out.display()
                    );
                    std::process::exit(0);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        Keys {
            quit,
            done,
            thread: Some(thread),
        }
    }

    /// Blocks until the user quits (the feed has ended and the last picture stays up).
    fn wait_for_quit(&self) {
        while !self.quit.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Tells the thread the main thread is done with the screen, and joins it.
    fn close(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether `q` (or Esc, or Ctrl-C) was pressed within `wait`.
fn quit_pressed(wait: std::time::Duration) -> Result<bool, String> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
    if event::poll(wait).map_err(|e| e.to_string())?
        && let Event::Key(k) = event::read().map_err(|e| e.to_string())?
    {
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        return Ok(matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c);
    }
    Ok(false)
}

impl Sink for Files {
    fn estimate(&mut self, e: &Estimate) -> Result<(), String> {
        if let Some((start, speed)) = self.pace {
            // The twin runs no faster than the real network would have reported.
            let due = std::time::Duration::from_secs_f64(f64::from(e.tick) * self.tick_s / speed);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        writeln!(
            self.estimates,
            "{},{},{},{},{},{},{},{},{}",
            e.tick,
            f64::from(e.tick) * self.tick_s,
            e.mean,
            e.q05,
            e.q95,
            e.naive,
            e.ess,
            e.resampled,
            e.attack_rate
        )
        .and_then(|()| self.estimates.flush())
        .map_err(|err| format!("cannot write estimates.csv: {err}"))?;
        self.kept.push(*e);
        if let Some(s) = &mut self.screen {
            push_estimate(&mut s.snap, e);
            s.draw(false)?;
        }
        Ok(())
    }

    fn recommendation(&mut self, f: &Forecast) -> Result<(), String> {
        if let Some(s) = &mut self.screen {
            s.snap.fans = f
                .strategies
                .iter()
                .map(|st| paraverse_viz::StrategyFan {
                    name: st.name.clone(),
                    score: st
                        .objectives
                        .get("score")
                        .map_or(f64::NAN, |d| d.estimate.mean),
                    compromised: st
                        .fans
                        .get("compromised")
                        .map(|fan| fan.iter().map(|p| (p.tick, p.q50, p.q10, p.q90)).collect())
                        .unwrap_or_default(),
                })
                .collect();
            s.snap.recommendation = Some((f.from_tick, f.recommended.clone(), f.statement.clone()));
            s.draw(true)?;
        }
        if let Some(p) = f
            .strategies
            .iter()
            .find(|s| s.name == "current")
            .and_then(|s| s.fans.get("compromised"))
            .and_then(|fan| fan.last())
        {
            self.forecasts.push((p.tick, p.q10, p.q50, p.q90));
        }
        let dir = self.dir.join("recommendations");
        let mut value = serde_json::to_value(f).map_err(|e| e.to_string())?;
        value["deploy"] = self.deploy.write(f, &dir);
        let json = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n";
        for name in [
            format!("tick-{:010}.json", f.from_tick),
            "latest.json".to_owned(),
        ] {
            paraverse_lab::runner::write_atomic(&dir.join(name), &json)
                .map_err(|e| e.to_string())?;
        }
        if let Some(p) = &self.publisher {
            p.publish(&serde_json::to_string(&value).map_err(|e| e.to_string())?)?;
        }
        self.cycles += 1;
        if !self.quiet {
            eprintln!("tick {}: {}", f.from_tick, f.statement);
        }
        Ok(())
    }
}

/// The feed `--observations` names, opened: a file, standard input, or an MQTT topic
/// subscribed to (with the slot where its connection reports an early end).
type Feed = (
    Box<dyn BufRead>,
    Option<Arc<std::sync::Mutex<Option<String>>>>,
);

fn open_feed(args: &TwinArgs, origin: &str) -> Result<Feed> {
    if origin == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    if let Some(endpoint) = paraverse_twin::mqtt::Endpoint::parse(origin) {
        let endpoint = endpoint.map_err(invalid)?;
        let feed = paraverse_twin::mqtt::subscribe(&endpoint).map_err(anyhow::Error::msg)?;
        eprintln!("paraverse twin: subscribed to {origin}");
        return Ok((
            Box::new(std::io::BufReader::new(feed.reader)),
            Some(feed.error),
        ));
    }
    let file = std::fs::File::open(&args.observations)
        .map_err(|e| invalid(format!("--observations {origin}: {e}")))?;
    Ok((Box::new(std::io::BufReader::new(file)), None))
}

/// The twin's output folder, made empty (an earlier one replaced only with --force), and
/// its estimates.csv started. Called once every input has been read and checked, so a
/// bad option never costs the earlier results.
fn start_out(out: &Path, force: bool) -> Result<std::io::BufWriter<std::fs::File>> {
    crate::run::check_run_folder(out, force)?;
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot remove {}", out.display()))?;
    }
    std::fs::create_dir_all(out.join("recommendations"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    let mut estimates = std::io::BufWriter::new(
        std::fs::File::create(out.join("estimates.csv")).context("cannot create estimates.csv")?,
    );
    writeln!(
        estimates,
        "tick,time_s,estimate,q05,q95,naive,ess,resampled,attack_rate"
    )?;
    Ok(estimates)
}

pub fn twin(args: &TwinArgs) -> Result<()> {
    set_threads(args.threads)?;
    // Inputs first: everything read and checked before the output folder is touched.
    let mut scenario = load_scenario(Some(&args.scenario), args.strategy.as_deref())?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    let mapping = match &args.mapping {
        Some(path) => {
            let text = paraverse_sim::scenario::read_input(path)?;
            Some(Mapping::parse(&text, &path.display().to_string())?)
        }
        None => None,
    };
    let model = args.model.alert_model(&scenario)?;
    let prior = args.model.prior()?;
    let (scenario, off_inventory) = with_spare(scenario, &args.spare)?;
    // The ensemble's members, and with --cycle a forecast's runs beside them.
    let forecasting = if args.cycle.is_some() {
        rayon::current_num_threads()
    } else {
        0
    };
    check_universes(
        &scenario,
        (
            args.members as usize + forecasting,
            "universes at once (the ensemble's members and a cycle's forecast runs)",
        ),
        "follow with fewer --members",
        Some(args.force),
    )?;
    let mut candidates = vec![Candidate {
        name: "current".to_owned(),
        scenario: scenario.clone(),
    }];
    for path in &args.candidate {
        crate::forecast::add_candidate(&mut candidates, &scenario, path, "--candidate")?;
    }
    let ticks_of = |d: SimDuration, flag: &str| whole_ticks(d, scenario.tick, flag);
    let cycle = match args.cycle {
        Some(c) => Some((
            ticks_of(c, "--cycle")?,
            candidates.as_slice(),
            ForecastSpec {
                horizon: ticks_of(args.horizon, "--horizon")?,
                members: args.members,
                score: Score::default(),
                backend: BackendChoice::Cpu,
                parallel: rayon::current_num_threads(),
            },
        )),
        None => None,
    };
    let until = match args.until {
        Some(d) => Some(ticks_of(d, "--until")?),
        None => None,
    };
    let live = match &args.live {
        Some(p) => Some((
            p.display().to_string(),
            paraverse_sim::scenario::read_input(p)?,
        )),
        None => None,
    };
    let publish_to = match &args.publish {
        Some(to) => Some(
            paraverse_twin::mqtt::Endpoint::parse(to)
                .unwrap_or_else(|| {
                    Err(format!("--publish {to}: expected mqtt://HOST[:PORT]/TOPIC"))
                })
                .map_err(invalid)?,
        ),
        None => None,
    };
    if args.watch {
        use std::io::IsTerminal as _;
        anyhow::ensure!(
            std::io::stdout().is_terminal(),
            "--watch needs a terminal; without it the twin writes its files only"
        );
    }
    // The ground truth to score against (`--truth`), read now: a wrong folder is said
    // before the feed is followed, not after.
    let truth = match &args.truth {
        Some(dir) => Some(series_column(dir, "compromised")?),
        None => None,
    };
    let origin = args.observations.display().to_string();
    let (input, subscription) = open_feed(args, &origin)?;

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("twin-{}", scenario.name)));
    let estimates = start_out(&out, args.force)?;
    let mut files = Files {
        pace: args.speed.map(|s| (std::time::Instant::now(), s)),
        deploy: Deploy {
            candidates: candidates
                .iter()
                .map(|c| (c.name.clone(), c.scenario.clone()))
                .collect(),
            mapping: mapping.clone().unwrap_or_default(),
            live,
            current: std::cell::OnceCell::new(),
        },
        dir: out.clone(),
        estimates,
        tick_s: scenario.tick.as_micros() as f64 / 1e6,
        kept: Vec::new(),
        forecasts: Vec::new(),
        cycles: 0,
        quiet: args.quiet || args.watch,
        publisher: publish_to
            .as_ref()
            .map(paraverse_twin::mqtt::Publisher::connect),
        screen: None,
    };
    let resolver = Resolver::new(&scenario, mapping.as_ref());
    // Set by the twin screen's `q`.
    let quit = Arc::new(AtomicBool::new(false));
    let spec = TwinSpec {
        members: args.members,
        model,
        prior,
        backend: BackendChoice::Cpu,
        cycle,
        until,
        off_inventory: &off_inventory,
        stop: Some(&quit),
    };
    let plugins = plugins();
    if !args.quiet {
        eprintln!(
            "paraverse twin: {} ({} nodes), {} members, {}, feed {origin}",
            scenario.name,
            scenario.node_count,
            args.members,
            describe(&spec.model)
        );
    }
    if args.watch {
        let mut screen = Screen {
            terminal: ratatui::init(),
            snap: paraverse_viz::TwinSnapshot {
                scenario: scenario.name.clone(),
                feed: origin.clone(),
                tick_s: files.tick_s,
                members: args.members,
                ..Default::default()
            },
            drawn: std::time::Instant::now(),
            keys: Keys::listen(quit.clone(), out.clone()),
        };
        // The frame before the feed's first line: the user sees what is being watched.
        let _ = screen.draw(true);
        files.screen = Some(screen);
    }
    let outcome = paraverse_twin::live::run(
        &scenario, input, &origin, &resolver, &spec, &plugins, &mut files,
    );
    if let Some(mut s) = files.screen.take() {
        // The feed ended (or failed): keep the last picture up until the user quits.
        use paraverse_twin::live::TwinError;
        // `q` stops the twin through `TwinSpec::stop`, checked every tick.
        let quit = matches!(&outcome, Err(TwinError::Stopped));
        if !quit && outcome.is_ok() {
            s.snap.done = true;
            let _ = s.draw(true);
            s.keys.wait_for_quit();
        }
        s.keys.close();
        drop(s);
        ratatui::restore();
        if quit {
            println!(
                "twin: quit at tick {}; estimates.csv in {}",
                files.kept.last().map_or(0, |e| e.tick),
                out.display()
            );
            return Ok(());
        }
    }
    let ticks = outcome.map_err(|e| match e {
        paraverse_twin::live::TwinError::Observation(o) => invalid(o.to_string()),
        other => anyhow::Error::new(other),
    })?;
    if let Some(error) = subscription
        && let Some(e) = error.lock().ok().and_then(|mut e| e.take())
    {
        anyhow::bail!("the feed ended early: {e}");
    }
    if let Some(p) = files.publisher.take() {
        p.close().map_err(anyhow::Error::msg)?;
    }
    if let Some(truth) = &truth {
        let mut accuracy = accuracy(&files.kept, truth);
        accuracy["forecasts"] = forecast_calibration(&files.forecasts, truth);
        paraverse_lab::runner::write_atomic(
            &out.join("accuracy.json"),
            serde_json::to_string_pretty(&accuracy)? + "\n",
        )?;
        if !args.quiet {
            println!(
                "against the truth over {} ticks: mean absolute error {:.1} nodes (naive \"alerted = compromised\": {:.1}); the 5-95 % interval held the truth in {:.0} % of ticks",
                accuracy["ticks"],
                accuracy["twin_mae"].as_f64().unwrap_or(f64::NAN),
                accuracy["naive_mae"].as_f64().unwrap_or(f64::NAN),
                100.0 * accuracy["coverage_90"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    if !args.quiet {
        println!(
            "twin: {ticks} ticks closed, {} cycles; estimates.csv{} in {}",
            files.cycles,
            if files.cycles > 0 {
                ", recommendations/"
            } else {
                ""
            },
            out.display()
        );
    }
    Ok(())
}

/// Each cycle's forecast of compromised nodes at its horizon (the current defenses, which
/// the truth run kept) against what the truth run had then: whether the 80 % prediction
/// interval (the fan's 10 and 90 % quantiles of one more member) held it.
fn forecast_calibration(forecasts: &[(u32, f64, f64, f64)], truth: &[f64]) -> serde_json::Value {
    let checked: Vec<serde_json::Value> = forecasts
        .iter()
        .filter_map(|&(tick, q10, q50, q90)| {
            let t = *truth.get(tick as usize)?;
            Some(serde_json::json!({
                "tick": tick, "q10": q10, "median": q50, "q90": q90, "truth": t,
                "inside_80": q10 <= t && t <= q90,
            }))
        })
        .collect();
    let inside = checked.iter().filter(|c| c["inside_80"] == true).count();
    serde_json::json!({
        "checked": checked.len(),
        "inside_80": inside,
        "coverage_80": if checked.is_empty() { None } else { Some(inside as f64 / checked.len() as f64) },
        "cycles": checked,
    })
}

/// Estimation error against a ground-truth series, and the interval's coverage.
fn accuracy(estimates: &[Estimate], truth: &[f64]) -> serde_json::Value {
    let pairs: Vec<(&Estimate, f64)> = estimates
        .iter()
        .filter_map(|e| truth.get(e.tick as usize).map(|&t| (e, t)))
        .collect();
    let n = pairs.len().max(1) as f64;
    let twin: f64 = pairs.iter().map(|(e, t)| (e.mean - t).abs()).sum::<f64>() / n;
    let naive: f64 = pairs
        .iter()
        .map(|(e, t)| (e.naive as f64 - t).abs())
        .sum::<f64>()
        / n;
    let covered = pairs
        .iter()
        .filter(|(e, t)| e.q05 <= *t && *t <= e.q95)
        .count() as f64
        / n;
    serde_json::json!({
        "ticks": pairs.len(),
        "twin_mae": twin,
        "naive_mae": naive,
        "coverage_90": covered,
    })
}

/// Adds a tick's estimate to the twin screen's data (`twin --watch`, `watch --twin`).
pub(crate) fn push_estimate(snap: &mut paraverse_viz::TwinSnapshot, e: &Estimate) {
    snap.ess = e.ess;
    snap.estimates.push(paraverse_viz::EstimatePoint {
        tick: e.tick,
        mean: e.mean,
        q05: e.q05,
        q95: e.q95,
        alerted: e.naive as f64,
    });
}

/// The twin's scenario with `--spare` slots (`N`: every group; `GROUP=N`: one group, the
/// later entry winning), and the slots' node ids.
fn with_spare(scenario: Scenario, specs: &[String]) -> Result<(Scenario, Vec<u32>)> {
    if specs.is_empty() {
        return Ok((scenario, Vec::new()));
    }
    let mut spare = vec![0u32; scenario.groups.len()];
    for spec in specs {
        let count = |n: &str| {
            n.trim().parse::<u32>().map_err(|_| {
                invalid(format!(
                    "--spare {spec}: expected a number of nodes, N or GROUP=N"
                ))
            })
        };
        match spec.split_once('=') {
            None => spare.fill(count(spec)?),
            Some((group, n)) => {
                let g = scenario
                    .groups
                    .iter()
                    .position(|g| g.name == group.trim())
                    .ok_or_else(|| {
                        invalid(format!(
                            "--spare {spec}: no group {group} in the scenario (groups: {})",
                            scenario.group_names()
                        ))
                    })?;
                spare[g] = count(n)?;
            }
        }
    }
    scenario
        .with_spare_nodes(&spare)
        .map_err(|e| invalid(format!("--spare: {e}")))
}

/// `paraverse shadow`: the closed loop of the shadow-truth proof.
pub fn shadow(args: &ShadowArgs) -> Result<()> {
    set_threads(args.threads)?;
    let mut base = load_scenario(Some(&args.scenario), args.strategy.as_deref())?;
    if let Some(seed) = args.seed {
        base = base.with_seed(seed);
    }
    if let Some(stop) = args.stop {
        let t = whole_ticks(stop, base.tick, "--stop")?;
        base = base.with_ticks(t);
    }
    let ticks_of = |d: SimDuration, flag: &str| whole_ticks(d, base.tick, flag);
    let (cycle, horizon) = (
        ticks_of(args.cycle, "--cycle")?,
        ticks_of(args.horizon, "--horizon")?,
    );
    let start_name = base
        .defense
        .strategy
        .clone()
        .unwrap_or_else(|| "current".to_owned());
    let mut candidates = vec![Candidate {
        name: start_name,
        scenario: base.clone(),
    }];
    // Candidates' defenses apply to the scenario as given, not on top of the start's.
    let plain = load_scenario(Some(&args.scenario), None)?
        .with_seed(base.seed)
        .with_ticks(base.ticks);
    for path in &args.candidate {
        crate::forecast::add_candidate(&mut candidates, &plain, path, "--candidate")?;
    }
    let model = args.model.alert_model(&base)?;
    check_universes(
        &base,
        (
            args.members as usize + rayon::current_num_threads() + 1,
            "universes at once (the truth, the twin's members and a cycle's forecast runs)",
        ),
        "use fewer --members",
        None,
    )?;
    let spec = paraverse_twin::shadow::LoopSpec {
        members: args.members,
        model,
        prior: args.model.prior()?,
        cycle,
        forecast: ForecastSpec {
            horizon,
            members: args.members,
            score: Score::default(),
            backend: BackendChoice::Cpu,
            parallel: rayon::current_num_threads(),
        },
    };
    eprintln!(
        "paraverse shadow: {} seed {}, {} ticks, starting under {}, {} candidates, {} members, a recommendation every {cycle} ticks ({horizon} ahead)",
        base.name,
        base.seed,
        base.ticks,
        candidates[0].name,
        candidates.len(),
        args.members
    );
    let plugins = plugins();
    let outcome =
        paraverse_twin::shadow::follow(&candidates, &spec, &plugins).map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
        return Ok(());
    }
    let line = |o: &paraverse_twin::shadow::RunOutcome| {
        format!(
            "security loss {:>12.1}  availability {:.6}  cost {:>10.1}  score {:>12.1}",
            o.security_loss, o.availability, o.cost, o.score
        )
    };
    println!(
        "following the twin's recommendations: {}",
        line(&outcome.followed)
    );
    for (tick, name) in &outcome.switches {
        println!("  from tick {tick:>6}: {name}");
    }
    for (name, o) in &outcome.fixed {
        println!("held fixed: {name:<20} {}", line(o));
    }
    for (what, key) in [
        (
            "security loss",
            (|o| o.security_loss) as fn(&paraverse_twin::shadow::RunOutcome) -> f64,
        ),
        ("score", |o| o.score),
    ] {
        let Some((name, best)) = outcome
            .fixed
            .iter()
            .map(|(n, o)| (n, key(o)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        let followed = key(&outcome.followed);
        println!(
            "{what}: following is {} the best fixed strategy ({name}, {best:.1}) by {:.1}",
            if followed <= best {
                "no worse than"
            } else {
                "worse than"
            },
            (followed - best).abs()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(tpr: f64, spread: f64) -> TwinModelArgs {
        TwinModelArgs {
            alert_tpr: tpr,
            alert_fpr: 1e-4,
            attack_rate_spread: spread,
            calibrate: None,
        }
    }

    #[test]
    fn the_twins_model_is_checked_before_any_member_is_built() {
        assert_eq!(model(0.05, 3.0).prior().unwrap().spread, 3.0);
        assert_eq!(model(0.05, 1.0).prior().unwrap(), RatePrior::EXACT);
        for spread in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
            let err = model(0.05, spread).prior().unwrap_err();
            assert!(
                err.downcast_ref::<crate::InvalidInput>().is_some(),
                "{spread}: {err}"
            );
            assert!(err.to_string().contains("at least 1"), "{spread}: {err}");
        }
        let scenario = crate::world::load_scenario(Some("campaign-intrusion"), None).unwrap();
        let m = model(0.2, 1.5).alert_model(&scenario).unwrap();
        assert_eq!((m.tpr, m.fpr), (0.2, 1e-4));
        let err = model(1.5, 1.5).alert_model(&scenario).unwrap_err();
        assert!(err.downcast_ref::<crate::InvalidInput>().is_some(), "{err}");
    }

    /// A run folder: four ticks, ten nodes.
    fn run_folder(events: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("timeseries.csv"),
            "tick,compromised\n0,0\n1,1\n2,2\n3,2\n4,1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("events.jsonl"), events.join("\n")).unwrap();
        dir
    }

    #[test]
    fn the_true_positive_rate_counts_only_watched_node_ticks() {
        // a: compromised at 1, alerted at 3 (watched 2 ticks), quarantined at 4;
        // b: compromised at 2, quarantined at 3 without an alert (watched 1 tick);
        // c: a false alarm at 2.
        let dir = run_folder(&[
            r#"{"event":"infection","node":"g-1","tick":1,"campaign":"w"}"#,
            r#"{"event":"infection","node":"g-2","tick":2,"campaign":"w"}"#,
            r#"{"event":"detection","node":"g-3","tick":2,"true_positive":false}"#,
            r#"{"event":"detection","node":"g-1","tick":3,"true_positive":true}"#,
            r#"{"event":"quarantine","node":"g-2","tick":3}"#,
            r#"{"event":"quarantine","node":"g-1","tick":4}"#,
        ]);
        let m = calibrate(dir.path(), &[("g", 10)]).unwrap();
        // One alert in three watched node-ticks (not in the 6 compromised node-ticks).
        assert_eq!(m.tpr, 1.0 / 3.0);
        // One false alarm in 40 − 6 clean node-ticks.
        assert_eq!(m.fpr, 1.0 / 34.0);
    }

    #[test]
    fn false_alarms_are_measured_per_group_too() {
        // Two groups of 10 nodes over 4 ticks: the sensors raise two false alarms, the
        // headsets none; one sensor is compromised from tick 1 to its release at 3.
        let dir = run_folder(&[
            r#"{"event":"infection","node":"sensors-1","tick":1,"campaign":"w"}"#,
            r#"{"event":"detection","node":"sensors-1","tick":2,"true_positive":true}"#,
            r#"{"event":"detection","node":"sensors-4","tick":2,"true_positive":false}"#,
            r#"{"event":"release","node":"sensors-1","tick":3}"#,
            r#"{"event":"detection","node":"sensors-5","tick":3,"true_positive":false}"#,
        ]);
        let m = calibrate(dir.path(), &[("xr-headsets", 10), ("sensors", 10)]).unwrap();
        let by_group = m.fpr_by_group.clone().unwrap();
        // The sensors: 2 false alarms in 40 − 2 clean node-ticks, one pseudo alarm at the
        // network's rate (2 in the 80 − 6 clean node-ticks of the run's series) added.
        let network = 2.0 / 74.0;
        assert_eq!(m.fpr, network);
        assert_eq!(by_group[1], 3.0 / (38.0 + 1.0 / network));
        // The headsets: none seen, only the pseudo alarm: far below the sensors' rate but
        // not zero, which would make one of their alerts certain proof.
        assert_eq!(by_group[0], 1.0 / (40.0 + 1.0 / network));
        assert!(by_group[0] < m.fpr && m.fpr < by_group[1]);
        assert_eq!(m.fpr_in(1), by_group[1]);
    }

    #[test]
    fn a_compromised_node_never_found_is_watched_to_the_end() {
        let dir = run_folder(&[
            r#"{"event":"lateral_movement","node":"g-1","tick":2,"campaign":"x"}"#,
            r#"{"event":"infection","node":"g-2","tick":1,"campaign":"w"}"#,
            r#"{"event":"detection","node":"g-2","tick":2,"true_positive":true}"#,
        ]);
        let m = calibrate(dir.path(), &[("g", 10)]).unwrap();
        // g-2: one tick; g-1: ticks 3 and 4.
        assert_eq!(m.tpr, 1.0 / 3.0);
    }
}
