//! The `paraverse` command line: wires scenarios, the simulator and its plugins, and the
//! output folder together. `anyhow` lives here and nowhere else.

// `println!` and `print!` in this crate write through `out::write_stdout` and return its
// error with `?`, so a closed pipe or a full disk is an exit status, not a panic.
macro_rules! println {
    () => {
        $crate::out::write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!($($arg)*))?
    };
}

mod alloc;
mod args;
mod bench;
mod checkpoints;
mod export;
mod forecast;
mod import;
mod lab;
mod out;
mod twin;
mod view;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use paraverse_attackers::AttackerPlugin;
use paraverse_defenders::DefenderPlugin;
use paraverse_sim::bundled;
use paraverse_sim::operator::OperatorPlugin;
use paraverse_sim::operator::script::Script;
use paraverse_sim::prelude::*;

use crate::args::{Cli, Command, RunArgs};

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

/// The plugins every run uses.
pub fn plugins() -> [&'static dyn SimPlugin; 2] {
    [&AttackerPlugin, &DefenderPlugin]
}

/// [`plugins`] and the operator's: a universe that takes exercise commands.
pub fn plugins_with_operator() -> [&'static dyn SimPlugin; 3] {
    [&AttackerPlugin, &DefenderPlugin, &OperatorPlugin]
}

/// An exercise's script (`--actions`), checked against the scenario it will act on.
pub fn read_script(path: &Path, scenario: &Scenario) -> Result<Script> {
    let text = paraverse_sim::scenario::read_input(path)?;
    Script::parse(&text, &path.display().to_string(), scenario).map_err(|e| invalid(e.to_string()))
}

/// Bad input found by the CLI itself (a path that names a file where a folder is
/// needed, a value out of range): exit status 2, like a bad scenario.
#[derive(Debug)]
pub struct InvalidInput(pub String);

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

/// An [`InvalidInput`] error.
pub fn invalid(message: impl Into<String>) -> anyhow::Error {
    InvalidInput(message.into()).into()
}

/// Mesa's Vulkan drivers print `error: XDG_RUNTIME_DIR is invalid or not set in the
/// environment` to stderr, once per instance, when the variable is missing or not a
/// folder (a CI job, a cron run, `sudo`). The message means nothing for paraverse, which
/// draws off screen, but reads like a failure; give such a process a private runtime
/// folder (mode 0700) instead, as a login session would.
#[allow(
    unsafe_code,
    reason = "set_var is unsound only while other threads read the environment"
)]
fn quiet_graphics_environment() {
    use std::os::unix::fs::PermissionsExt as _;
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "paraverse-runtime-{}",
        std::env::var("USER").unwrap_or_else(|_| "user".into())
    ));
    let private = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)))
        .is_ok();
    if private {
        // SAFETY: called first thing in `main`, before any thread is started (rayon's
        // pool, wgpu's), so nothing reads the environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

fn main() -> ExitCode {
    quiet_graphics_environment();
    let cli = Cli::parse();
    match dispatch(cli).and_then(|code| out::flush_stdout().map(|()| code).map_err(Into::into)) {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|e| {
                e.downcast_ref::<out::StdoutError>()
                    .is_some_and(out::StdoutError::is_closed_pipe)
            }) {
                // The reader went away (`paraverse list | head -1`): nothing more to say.
                return ExitCode::SUCCESS;
            }
            let invalid_input = err.chain().any(|e| {
                e.downcast_ref::<ScenarioError>().is_some()
                    || e.downcast_ref::<InvalidInput>().is_some()
                    || e.downcast_ref::<paraverse_lab::LabError>()
                        .is_some_and(lab::is_invalid_input)
            });
            eprintln!("error: {err:#}");
            if invalid_input {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run(args).map(|()| ExitCode::SUCCESS),
        Command::Validate { files, scenario } => validate(&files, scenario.as_deref()),
        Command::Schema { out, observations } => {
            let schema = serde_json::to_string_pretty(&if observations {
                paraverse_twin::observation::json_schema()
            } else {
                serde_json::to_value(paraverse_sim::scenario::json_schema())?
            })?;
            match out {
                Some(path) => paraverse_lab::runner::write_atomic(&path, &(schema + "\n"))?,
                None => println!("{schema}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::List => list().map(|()| ExitCode::SUCCESS),
        Command::New { name, force } => new_scenario(&name, force).map(|()| ExitCode::SUCCESS),
        Command::Metrics {
            scenario,
            strategy,
            json,
        } => metrics(scenario.as_deref(), strategy.as_deref(), json).map(|()| ExitCode::SUCCESS),
        Command::Space => {
            println!(
                "{}",
                serde_json::to_string_pretty(paraverse_sim::scenario::SPACE)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) if args.view => view::bench(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) if args.twin => bench::bench_twin(&args).map(|()| ExitCode::SUCCESS),
        Command::Bench(args) if args.checkpoint => {
            bench::bench_checkpoint(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Bench(args) if args.traffic => {
            bench::bench_traffic(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench::bench(&args).map(|()| ExitCode::SUCCESS),
        Command::Watch(args) => {
            set_threads(args.threads)?;
            watch::watch(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Replay { run_dir } => watch::replay(&run_dir).map(|()| ExitCode::SUCCESS),
        Command::Sweep(args) => lab::sweep(&args).map(|()| ExitCode::SUCCESS),
        Command::Merge {
            experiment,
            results,
            format,
        } => lab::merge(&experiment, &results, format).map(|()| ExitCode::SUCCESS),
        Command::Slurm(args) => lab::slurm(&args).map(|()| ExitCode::SUCCESS),
        Command::Report { results_dir } => {
            let files = paraverse_lab::report::report(&results_dir)?;
            if let Some(caveat) = &files.caveat {
                eprintln!("warning: {caveat}");
            }
            println!(
                "report: {} and {} ({} charts, SVG and PNG, in {})",
                files.markdown.display(),
                files.html.display(),
                files.charts.len(),
                results_dir.join("charts").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Optimise {
            experiment,
            results,
            threads,
            quiet,
        } => lab::optimise(&experiment, &results, threads, quiet).map(|()| ExitCode::SUCCESS),
        Command::View(args) => view::view(&args).map(|()| ExitCode::SUCCESS),
        Command::Export(args) => export::export(&args).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import::import(&args).map(|()| ExitCode::SUCCESS),
        Command::Forecast(args) => forecast::forecast(&args).map(|()| ExitCode::SUCCESS),
        Command::Twin(args) => twin::twin(&args).map(|()| ExitCode::SUCCESS),
        Command::Shadow(args) => twin::shadow(&args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => {
            set_threads(None)?;
            lab::check(&args).map(|ok| {
                if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            })
        }
    }
}

pub(crate) fn set_threads(threads: Option<u16>) -> Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build_global()
            .context("cannot start the worker threads")?;
    }
    Ok(())
}

/// Loads a scenario (path or bundled name) and applies a strategy file if given.
pub(crate) fn load_scenario(
    scenario: Option<&str>,
    strategy: Option<&std::path::Path>,
) -> Result<Scenario> {
    let scenario = bundled::load(scenario)?;
    Ok(match strategy {
        Some(path) => bundled::with_strategy(scenario, path)?,
        None => scenario,
    })
}

/// A progress rate that reads well: whole ticks per second when there are many, three
/// significant digits otherwise.
fn ticks_per_second(rate: f64) -> String {
    if !rate.is_finite() || rate <= 0.0 {
        return "- ticks/s".into();
    }
    if rate >= 100.0 {
        format!("{rate:.0} ticks/s")
    } else if rate >= 10.0 {
        format!("{rate:.1} ticks/s")
    } else {
        format!("{rate:.2} ticks/s")
    }
}

fn run(args: RunArgs) -> Result<()> {
    set_threads(args.threads)?;
    let (scenario, resume) = match &args.from {
        Some(from) => {
            let (file, checkpoint) = checkpoints::read(from)?;
            let scenario = checkpoint
                .recipe
                .scenario()
                .with_context(|| format!("cannot resume from {}", file.display()))?;
            (scenario, Some((file, checkpoint)))
        }
        None => (scenario_of(&args)?, None),
    };
    let warnings = scenario.warnings_text();
    if !warnings.is_empty() {
        eprintln!("{warnings}");
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let name = match &scenario.defense.strategy {
            Some(s) => format!("{}-{s}-{}", scenario.name, scenario.seed),
            None => format!("{}-{}", scenario.name, scenario.seed),
        };
        PathBuf::from("results").join(name)
    });
    check_run_folder(&out, args.force)?;
    check_memory(&scenario, 1, args.force)?;
    let cadence = match args.checkpoint_every {
        Some(every) => {
            let dir = args.checkpoint_dir.clone().unwrap_or_else(|| {
                let mut name = out.file_name().unwrap_or_default().to_owned();
                name.push(".checkpoints");
                out.with_file_name(name)
            });
            Some(checkpoints::Cadence::new(
                every,
                scenario.tick,
                dir,
                args.checkpoint_keep,
            )?)
        }
        None => None,
    };
    let source = scenario.source.clone();
    let strategy_source = scenario.strategy_source.clone();
    let (name, nodes, ticks) = (scenario.name.clone(), scenario.node_count, scenario.ticks);

    let script = match &args.actions {
        Some(path) => Some(read_script(path, &scenario)?),
        None => None,
    };
    let backend: BackendChoice = args.backend.parse().map_err(anyhow::Error::msg)?;
    let built = Instant::now();
    // The operator's counters exist only in an exercise's runs, so a plain run's columns
    // stay as they were.
    let mut universe = match &script {
        Some(_) => Universe::build_with(scenario, backend, &plugins_with_operator()),
        None => Universe::build_with(scenario, backend, &plugins()),
    }
    .context("cannot build the world")?;
    if let Some((file, checkpoint)) = &resume {
        universe.restore(checkpoint).with_context(|| {
            let hint = if script.is_none() {
                " (if the run had --actions, resume it with the same --actions)"
            } else {
                ""
            };
            format!("cannot resume from {}{hint}", file.display())
        })?;
    }
    let build_s = built.elapsed().as_secs_f64();
    let start = universe.clock().tick;
    let traffic = universe.traffic().map(|t| {
        if let Some(why) = &t.fallback {
            eprintln!("paraverse: --backend auto: {why}; using the CPU backend");
        }
        format!(", {} flows on {}", t.flows.len(), t.backend())
    });

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        eprintln!(
            "paraverse: {name}, {nodes} nodes, {ticks} ticks of {}, seed {}, {} threads{} (world built in {build_s:.2} s)",
            universe.scenario().tick,
            universe.scenario().seed,
            rayon::current_num_threads(),
            traffic.clone().unwrap_or_default()
        );
        if let Some((file, _)) = &resume {
            eprintln!(
                "paraverse: resumed at tick {start} of {ticks} from {}",
                file.display()
            );
        }
        if let Some(c) = &cadence {
            eprintln!(
                "paraverse: a checkpoint every {} ticks in {} (continue a killed run with --from {})",
                c.every,
                c.dir.display(),
                c.dir.display()
            );
        }
        ProgressBar::new(u64::from(ticks))
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} ticks  {rate}  ETA {eta}",
        )
        .expect("valid template")
        .with_key(
            "rate",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", ticks_per_second(s.per_sec()));
            },
        ),
    );
    bar.set_position(u64::from(start));
    bar.reset_eta();
    let started = Instant::now();
    let poll = match args.link_loads {
        Some(every) => Some(twin::LinkPoll::new(&universe, every)?),
        None => None,
    };
    let mut link_loads = Vec::new();
    loop {
        if let Some(script) = &script {
            script.queue_due(&mut universe).map_err(invalid)?;
        }
        if !universe.step() {
            break;
        }
        bar.inc(1);
        let tick = universe.clock().tick;
        if let Some(c) = cadence.as_ref().filter(|c| c.due(tick)) {
            c.write(&universe)?;
        }
        if let Some(poll) = &poll {
            poll.sample(&universe, &mut link_loads);
        }
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    if let Some(fault) = universe.fault() {
        anyhow::bail!("the run stopped at tick {}: {fault}", universe.clock().tick);
    }
    let record = universe.finish();
    write_run_folder(&out, args.force, |dir| {
        record.write(dir, &source, args.format)?;
        if let Some(text) = &strategy_source {
            std::fs::write(dir.join("strategy.toml"), text)?;
        }
        Ok(())
    })
    .with_context(|| format!("cannot write results to {}", out.display()))?;
    if let Some(path) = &args.observations_out {
        let feed = twin::blue_feed(&record, &link_loads);
        paraverse_lab::runner::write_atomic(path, &feed)
            .with_context(|| format!("cannot write the observations to {}", path.display()))?;
    }
    print_run(&record, &out, nodes, start, wall, args.quiet)
}

/// The scenario `paraverse run` names, with its overrides applied.
fn scenario_of(args: &RunArgs) -> Result<Scenario> {
    let mut scenario = load_scenario(args.scenario.as_deref(), args.strategy.as_deref())?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    if let Some(ticks) = args.ticks {
        scenario = scenario.with_ticks(ticks);
    }
    if let Some(n) = args.max_events {
        scenario.max_events = n;
    }
    if let Some(stop) = args.stop {
        let ticks = stop.ticks_ceil(scenario.tick);
        if !(1..=u64::from(u32::MAX)).contains(&ticks) {
            return Err(invalid(format!(
                "--stop {stop} gives {ticks} ticks of {}: expected 1 to {} ticks",
                scenario.tick,
                u32::MAX
            )));
        }
        scenario = scenario.with_ticks(ticks as u32);
    }
    Ok(scenario)
}

/// What `paraverse run` prints after the run: warnings, speed, the summary.
fn print_run(
    record: &RunRecord,
    out: &std::path::Path,
    nodes: u32,
    start: u32,
    wall: f64,
    quiet: bool,
) -> Result<()> {
    if record.summary.events_dropped > 0 {
        eprintln!(
            "warning: the event log kept the first {} events and dropped {} later ones (bound: recording.max_events); raise it with --max-events",
            record.summary.events_logged, record.summary.events_dropped
        );
    }
    if !quiet {
        let s = &record.summary;
        let node_ticks = f64::from(nodes) * f64::from(s.ticks - start);
        eprintln!(
            "simulated {:.0} s in {wall:.2} s ({:.2} M node-ticks/s)",
            f64::from(s.ticks - start) * record.tick_s,
            node_ticks / wall.max(1e-9) / 1e6
        );
        println!("vulnerable at start         {}", s.vulnerable_initial);
        println!(
            "compromised peak            {} at {:.0} s",
            s.compromised_peak, s.compromised_peak_s
        );
        println!("compromised final           {}", s.compromised_final);
        match s.time_to_half_vulnerable_s {
            Some(t) => println!("half of vulnerable by       {t:.0} s"),
            None => println!("half of vulnerable by       never"),
        }
        if let Some(q) = s.xr_quality {
            println!("XR quality                  {:.2} %", q * 100.0);
            for (zone, q) in &s.xr_quality_by_zone {
                println!("  in {zone:<22} {:.2} %", q * 100.0);
            }
        }
        if let Some(u) = s.gauges.get("max_link_util_permille") {
            println!(
                "busiest link                {:.1} % mean, {:.1} % max",
                u.mean / 10.0,
                u.max as f64 / 10.0
            );
        }
        for c in &s.campaigns {
            let reached = c.steps.iter().filter(|x| x.reached_s.is_some()).count();
            let goal = match c.goal_reached_s {
                Some(t) => format!("goal ({} {}) at {t:.0} s", c.goal, c.goal_unit),
                None => format!("goal ({} {}) not reached", c.goal, c.goal_unit),
            };
            println!(
                "campaign {} ({}): {reached}/{} steps, {goal}",
                c.name,
                c.kind,
                c.steps.len()
            );
            for step in c.steps.iter().filter(|x| x.reached_s.is_some()) {
                println!(
                    "  {:>7.0} s  {:<10} {:<22} {}",
                    step.reached_s.unwrap_or_default(),
                    step.step.technique,
                    step.step.name,
                    step.step.tactic
                );
            }
        }
        if !s.campaigns.is_empty() {
            print_impact(&s.impact)?;
        }
        if !s.defenses.is_empty() {
            println!(
                "defenses                    {}{}",
                s.defenses.join(", "),
                s.strategy
                    .as_ref()
                    .map(|n| format!(" (strategy {n})"))
                    .unwrap_or_default()
            );
            println!(
                "cost                        {:.1} (ops {:.1}, friction {:.1}, {} false quarantines)",
                s.cost.total, s.cost.ops, s.cost.friction, s.cost.false_quarantines
            );
        }
        println!(
            "objectives                  security loss {:.0}, availability {:.4}, cost {:.1}",
            s.objectives.security_loss, s.objectives.availability, s.objectives.cost
        );
        for (name, total) in s
            .counters
            .iter()
            .filter(|(n, t)| !n.starts_with("xr_flow_ticks") && **t > 0)
        {
            println!("{name:<27} {total}");
        }
        println!("results in                  {}", out.display());
    }
    Ok(())
}

/// `paraverse metrics`: the data dictionary of a scenario's outputs.
fn metrics(scenario: Option<&str>, strategy: Option<&std::path::Path>, json: bool) -> Result<()> {
    use paraverse_sim::dictionary;
    let scenario = load_scenario(scenario, strategy)?;
    let zones = scenario.zones.clone();
    // The plugins register their counters and gauges when the world is built.
    let universe =
        Universe::build(scenario.with_ticks(1), &plugins()).context("cannot build the world")?;
    let registered = universe
        .world()
        .resource::<paraverse_sim::metrics::Metrics>();
    let mut entries = dictionary::timeseries(&zones, registered);
    entries.extend(dictionary::zones(registered, &zones));
    entries.extend(dictionary::events());
    entries.extend(dictionary::summary());
    for m in paraverse_lab::runner::METRICS {
        if let Some(mut e) = dictionary::summary_field(m) {
            e.file = "runs.csv";
            e.dtype = "double";
            entries.push(e);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    println!(
        "{:<16} {:<34} {:<9} {:<12} {:<7} meaning",
        "file", "column", "kind", "unit", "type"
    );
    for e in &entries {
        println!(
            "{:<16} {:<34} {:<9} {:<12} {:<7} {}",
            e.file, e.column, e.kind, e.unit, e.dtype, e.meaning
        );
    }
    println!(
        "\nruns.csv also has point, replica, seed and one column per varied setting; points.csv has METRIC.mean, .ci_low, .ci_high (95 % bootstrap interval of the mean) and .median of each runs.csv metric."
    );
    Ok(())
}

/// The memory available to this process now: `MemAvailable` in /proc/meminfo, capped by
/// the cgroup's `memory.max` (containers, Slurm jobs) and by `PARAVERSE_MEMORY_AVAILABLE`
/// (bytes) where set, e.g. to leave room for other work on a shared machine.
pub(crate) fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
                .map(|kib| kib * 1024)
        });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    let declared = std::env::var("PARAVERSE_MEMORY_AVAILABLE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    [meminfo, cgroup, declared].into_iter().flatten().min()
}

/// Refuses to build `copies` universes of `scenario` at once when their estimated peak
/// memory exceeds what the machine has available, unless `force`: saying the estimate,
/// the memory and the way out, before any time is spent.
pub(crate) fn check_memory(scenario: &Scenario, copies: usize, force: bool) -> Result<()> {
    let need = scenario
        .memory_estimate()
        .saturating_mul(copies.max(1) as u64);
    let Some(have) = available_memory() else {
        return Ok(());
    };
    if need <= have || force {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    Err(invalid(format!(
        "{} ({} nodes) needs about {:.1} GiB{} and this machine has {:.1} GiB available: shrink the scenario (group counts), run fewer at once (--threads), or pass --force to try anyway",
        scenario.name,
        scenario.node_count,
        gib(need),
        if copies > 1 {
            format!(" for {copies} runs at once")
        } else {
            String::new()
        },
        gib(have)
    )))
}

/// Refuses an output folder that would lose something: a path naming a file, or the
/// folder of an earlier run unless `force` (checked before the run, so no time is lost).
pub(crate) fn check_run_folder(out: &std::path::Path, force: bool) -> Result<()> {
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(invalid(format!(
            "--out {}: a file is there; expected a folder for the results",
            out.display()
        ))),
        Ok(_) if !force => Err(invalid(format!(
            "{} already exists (the results of an earlier run?): pass --force to replace it, or --out another folder",
            out.display()
        ))),
        _ => Ok(()),
    }
}

/// Writes a run's folder whole or not at all: `write` fills a fresh temporary folder
/// beside `out`, which is then renamed into place (replacing an earlier one only with
/// `force`). A failure (a full disk) removes the temporary folder and leaves `out` as
/// it was, so no folder ever mixes files of two runs.
pub(crate) fn write_run_folder(
    out: &std::path::Path,
    force: bool,
    write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) -> Result<()> {
    check_run_folder(out, force)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = out
        .file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let old = parent.join(format!(".{name}.{}.old", std::process::id()));
    let staged = (|| -> std::io::Result<()> {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        write(&tmp)?;
        if out.exists() {
            std::fs::rename(out, &old)?;
        }
        std::fs::rename(&tmp, out)
    })();
    if let Err(e) = staged {
        let _ = std::fs::remove_dir_all(&tmp);
        if old.exists() && !out.exists() {
            let _ = std::fs::rename(&old, out);
        }
        return Err(e.into());
    }
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// The impact lines of a run report (only what happened).
fn print_impact(i: &paraverse_sim::killchain::Impact) -> Result<()> {
    for (class, n) in i.records_stolen.iter().filter(|(_, n)| **n > 0) {
        println!("{:<27} {n}", format!("records stolen {class}"));
    }
    let lines = [
        ("assets stolen", i.assets_stolen as f64, i.assets_stolen > 0),
        (
            "asset value stolen",
            i.asset_value_stolen,
            i.asset_value_stolen > 0.0,
        ),
        (
            "double spends refused",
            i.double_spends_refused as f64,
            i.double_spends_refused > 0,
        ),
        (
            "compute stolen node-s",
            i.compute_stolen_node_s,
            i.compute_stolen_node_s > 0.0,
        ),
        (
            "service down node-s",
            i.service_down_s,
            i.service_down_s > 0.0,
        ),
        (
            "accounts taken over",
            i.accounts_taken_over as f64,
            i.accounts_taken_over > 0,
        ),
        (
            "wrong twin decisions",
            i.wrong_decisions as f64,
            i.wrong_decisions > 0,
        ),
    ];
    for (name, v, shown) in lines {
        if shown {
            println!("{name:<27} {v}");
        }
    }
    if i.account_takeovers > i.accounts_taken_over {
        println!(
            "  takeover events           {} (accounts taken again after a revocation)",
            i.account_takeovers
        );
    }
    if let Some(m) = i.twin_divergence_max {
        println!("twin divergence max         {m:.3}");
    }
    if let Some(m) = i.detector_threshold_scale_max {
        println!("detector threshold ×     {m:.2} (poisoning)");
    }
    println!("security loss               {:.0}", i.security_loss);
    Ok(())
}

/// What kind of input file `text` is, by its top-level sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Scenario,
    Strategy,
    Experiment,
    Mapping,
}

fn input_kind(text: &str) -> InputKind {
    let Ok(table) = text.parse::<toml::Table>() else {
        return InputKind::Scenario; // its parse error is reported as a scenario's
    };
    let mapping = ["kubernetes", "nftables", "groups", "segments", "services"];
    if table.contains_key("strategy") {
        InputKind::Strategy
    } else if table.contains_key("experiment") {
        InputKind::Experiment
    } else if !table.is_empty() && table.keys().all(|k| mapping.contains(&k.as_str())) {
        InputKind::Mapping
    } else {
        InputKind::Scenario
    }
}

/// Checks one non-scenario file; the line to print when it is valid.
fn validate_other(file: &str, kind: InputKind, text: &str, venue: Option<&str>) -> Result<String> {
    match kind {
        InputKind::Strategy => {
            let venue = venue.unwrap_or(bundled::STRATEGY_VENUE);
            let s = bundled::load(Some(venue))?.with_strategy(text, file)?;
            let warnings = s.warnings_text();
            if !warnings.is_empty() {
                eprintln!("{warnings}");
            }
            Ok(format!(
                "ok: {file}: strategy `{}` (checked against scenario `{}`)",
                s.defense.strategy.as_deref().unwrap_or("?"),
                s.name
            ))
        }
        InputKind::Experiment => {
            let e = paraverse_lab::experiment::Experiment::load(std::path::Path::new(file))?;
            Ok(format!(
                "ok: {file}: experiment `{}`, {} points, {} runs",
                e.file.experiment.name,
                e.points.len(),
                e.runs()
            ))
        }
        InputKind::Mapping => {
            paraverse_defenders::export::Mapping::parse(text, file)?;
            Ok(format!("ok: {file}: mapping"))
        }
        InputKind::Scenario => unreachable!("scenarios are validated by the caller"),
    }
}

fn validate(files: &[String], venue: Option<&str>) -> Result<ExitCode> {
    let mut failed = 0;
    for file in files {
        let path = std::path::Path::new(file);
        let kind = if path.is_file() {
            paraverse_sim::scenario::read_input(path)
                .map(|t| (input_kind(&t), t))
                .ok()
        } else if bundled::get(file).is_none()
            && let Ok((text, _)) = bundled::strategy_text(path)
        {
            Some((InputKind::Strategy, text))
        } else {
            None
        };
        // A scenario file already read is parsed from that text, not read again.
        let loaded = match kind {
            Some((kind, text)) if kind != InputKind::Scenario => {
                match validate_other(file, kind, &text, venue) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e:#}");
                    }
                }
                continue;
            }
            Some((_, text)) => Scenario::from_toml_str(&text, file),
            None => bundled::load(Some(file)),
        };
        match loaded {
            Ok(s) => {
                println!(
                    "ok: {file}: `{}`, {} nodes ({} terminals) in {} groups, {} ticks, {} campaigns, about {:.2} GiB to run",
                    s.name,
                    s.node_count,
                    s.terminal_count,
                    s.groups.len(),
                    s.ticks,
                    s.campaigns.len(),
                    s.memory_estimate() as f64 / f64::from(1u32 << 30)
                );
                if let Err(e) = check_memory(&s, 1, false) {
                    eprintln!("warning: {file}: {e}");
                }
                let warnings = s.warnings_text();
                if !warnings.is_empty() {
                    eprintln!("{warnings}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} files invalid", files.len());
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// The starter scenario `paraverse new` writes (`NAME` stands for the name).
const STARTER: &str = include_str!("templates/starter.toml");

fn new_scenario(name: &str, force: bool) -> Result<()> {
    if !paraverse_sim::scenario::is_folder_name(name) {
        return Err(invalid(format!(
            "`{name}` is not a valid scenario name: expected letters, digits, `-` and `_` (it names the file and the results folder)"
        )));
    }
    let path = PathBuf::from(format!("{name}.toml"));
    if path.exists() && !force {
        return Err(invalid(format!(
            "{} already exists: pass --force to replace it, or choose another name",
            path.display()
        )));
    }
    let text = STARTER.replace("NAME", name);
    // What we hand out must be valid: a failure here is a bug, not the user's input.
    Scenario::from_toml_str(&text, &path.display().to_string())
        .context("the starter template does not validate")?;
    paraverse_lab::runner::write_atomic(&path, &text)?;
    println!(
        "wrote {0}: edit it, then `paraverse validate {0}` and `paraverse run {0}`",
        path.display()
    );
    Ok(())
}

fn list() -> Result<()> {
    println!("{:<22} {:>10} {:>8}  description", "name", "nodes", "ticks");
    for b in bundled::ALL {
        match paraverse_sim::scenario::Scenario::from_toml_str(b.text, b.name) {
            Ok(s) => println!(
                "{:<22} {:>10} {:>8}  {}{}",
                b.name,
                s.node_count,
                s.ticks,
                s.description(),
                if b.name == bundled::DEFAULT {
                    " (default)"
                } else {
                    ""
                }
            ),
            Err(e) => println!("{:<22} invalid: {e}", b.name),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ticks_per_second;

    #[test]
    fn progress_rates_read_well() {
        assert_eq!(ticks_per_second(9.2326), "9.23 ticks/s");
        assert_eq!(ticks_per_second(42.19), "42.2 ticks/s");
        assert_eq!(ticks_per_second(1234.4), "1234 ticks/s");
        assert_eq!(ticks_per_second(f64::NAN), "- ticks/s");
    }
}
