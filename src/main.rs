//! The `paraverse` command line: dispatches each subcommand to its module (`run`, `watch`,
//! `view`, the lab's, the twin's, ...) and keeps the small ones (`validate`, `list`, `new`,
//! `metrics`); maps errors to exit statuses. `anyhow` lives in this crate and nowhere else.

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
mod run;
mod summary;
mod twin;
mod view;
mod watch;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::args::{Cli, Command};
use crate::world::{check_memory, load_scenario, plugins};

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

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
        Command::Run(args) => run::run(args).map(|()| ExitCode::SUCCESS),
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
        Command::Watch(args) => watch::watch(&args).map(|()| ExitCode::SUCCESS),
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
        Command::Check(args) => lab::check(&args).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
    }
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
