//! `paraverse run`: one scenario from start (or a checkpoint) to its stop, with a progress
//! bar, checkpoints, an exercise's script and the blue team's feed, into a results folder
//! written whole or not at all.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use paraverse_sim::operator::script::Script;
use paraverse_sim::prelude::*;

use crate::args::RunArgs;
use crate::world::{check_memory, plugins, plugins_with_operator};
use crate::{checkpoints, invalid, summary, twin};

/// An exercise's script (`--actions`), checked against the scenario it will act on.
pub fn read_script(path: &Path, scenario: &Scenario) -> Result<Script> {
    let text = paraverse_sim::scenario::read_input(path)?;
    Script::parse(&text, &path.display().to_string(), scenario).map_err(|e| invalid(e.to_string()))
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

/// `paraverse run`.
pub fn run(args: RunArgs) -> Result<()> {
    args.world.start_threads()?;
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
    let out = args.out.clone().unwrap_or_else(|| default_out(&scenario));
    check_run_folder(&out, args.force)?;
    check_memory(&scenario, 1, args.force)?;
    let cadence = cadence(&args, &out, &scenario)?;
    let source = scenario.source.clone();
    let strategy_source = scenario.strategy_source.clone();
    let (name, nodes, ticks) = (scenario.name.clone(), scenario.node_count, scenario.ticks);

    let script = match &args.actions {
        Some(path) => Some(read_script(path, &scenario)?),
        None => None,
    };
    let built = Instant::now();
    // The operator's counters exist only in an exercise's runs, so a plain run's columns
    // stay as they were.
    let mut universe = match &script {
        Some(_) => args.world.build(scenario, &plugins_with_operator()),
        None => args.world.build(scenario, &plugins()),
    }?;
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

    if !args.quiet {
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
    }
    let bar = progress_bar(ticks, start, args.quiet);
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
    if record.summary.events_dropped > 0 {
        eprintln!(
            "warning: the event log kept the first {} events and dropped {} later ones (bound: recording.max_events); raise it with --max-events",
            record.summary.events_logged, record.summary.events_dropped
        );
    }
    if !args.quiet {
        eprintln!("{}", summary::speed(&record, nodes, start, wall));
        print!("{}", summary::run_summary(&record, &out));
    }
    Ok(())
}

/// Where a run's results go without --out: results/SCENARIO-SEED/, or
/// results/SCENARIO-STRATEGY-SEED/ under a named strategy.
fn default_out(scenario: &Scenario) -> PathBuf {
    let name = match &scenario.defense.strategy {
        Some(s) => format!("{}-{s}-{}", scenario.name, scenario.seed),
        None => format!("{}-{}", scenario.name, scenario.seed),
    };
    PathBuf::from("results").join(name)
}

/// The checkpoints --checkpoint-every asks for, in --checkpoint-dir or beside `out`.
fn cadence(
    args: &RunArgs,
    out: &Path,
    scenario: &Scenario,
) -> Result<Option<checkpoints::Cadence>> {
    let Some(every) = args.checkpoint_every else {
        return Ok(None);
    };
    let dir = args.checkpoint_dir.clone().unwrap_or_else(|| {
        let mut name = out.file_name().unwrap_or_default().to_owned();
        name.push(".checkpoints");
        out.with_file_name(name)
    });
    Ok(Some(checkpoints::Cadence::new(
        every,
        scenario.tick,
        dir,
        args.checkpoint_keep,
    )?))
}

/// The run's progress bar in ticks (hidden with --quiet), starting at `start` for a
/// resumed run so its rate and ETA count only this process's ticks.
fn progress_bar(ticks: u32, start: u32, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
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
    bar
}

/// The scenario `paraverse run` names, with its overrides applied.
fn scenario_of(args: &RunArgs) -> Result<Scenario> {
    let mut scenario = args.world.scenario()?;
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
