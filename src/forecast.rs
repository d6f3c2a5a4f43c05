//! `paraverse forecast`: candidates from strategy files, members in parallel with a
//! progress bar, the forecast folder written whole.

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use paraverse_lab::experiment::Score;
use paraverse_sim::prelude::*;
use paraverse_twin::{Candidate, ForecastSpec};

use crate::args::ForecastArgs;
use crate::run::{check_run_folder, write_run_folder};
use crate::world::{check_memory, plugins, set_threads};
use crate::{checkpoints, invalid};

pub fn forecast(args: &ForecastArgs) -> Result<()> {
    set_threads(args.threads)?;
    let (file, checkpoint) = checkpoints::read(&args.checkpoint)?;
    let current = checkpoint
        .recipe
        .scenario()
        .with_context(|| format!("cannot forecast from {}", file.display()))?;
    let mut candidates = Vec::new();
    if !args.without_current {
        candidates.push(Candidate {
            name: "current".to_owned(),
            scenario: current.clone(),
        });
    }
    for path in &args.strategy {
        add_candidate(&mut candidates, &current, path, "--strategy")?;
    }
    let score = match args.weights.as_deref() {
        None => Score::default(),
        Some(&[security_loss, availability, cost]) => {
            let score = Score {
                security_loss,
                availability,
                cost,
                ..Score::default()
            };
            if let Some((name, problem)) = score.weight_problems().next() {
                return Err(invalid(format!("--weights: {name}: {problem}")));
            }
            score
        }
        Some(w) => {
            return Err(invalid(format!(
                "--weights: expected three numbers (security loss, availability, cost), got {}",
                w.len()
            )));
        }
    };
    let horizon = args.horizon.ticks_ceil(current.tick);
    let horizon = u32::try_from(horizon)
        .ok()
        .filter(|h| (1..=u32::MAX - checkpoint.tick).contains(h))
        .ok_or_else(|| {
            invalid(format!(
                "--horizon {}: {horizon} ticks of {} from tick {} is out of range",
                args.horizon, current.tick, checkpoint.tick
            ))
        })?;
    let parallel = args
        .parallel
        .map_or_else(rayon::current_num_threads, usize::from);
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("forecast-{}-{}", current.name, checkpoint.tick))
    });
    check_run_folder(&out, args.force)?;
    check_memory(&current, parallel, false)?;
    let spec = ForecastSpec {
        horizon,
        members: args.members,
        score,
        backend: args.backend,
        parallel,
    };
    let runs = candidates.len() as u64 * u64::from(args.members);
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        eprintln!(
            "paraverse forecast: {} from tick {} ({}), {horizon} ticks ahead, {} members × {} strategies ({}), {parallel} at once",
            current.name,
            checkpoint.tick,
            file.display(),
            args.members,
            candidates.len(),
            candidates
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        ProgressBar::new(runs)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} members  ETA {eta}",
        )
        .expect("valid template"),
    );
    let plugins = plugins();
    let forecast =
        paraverse_twin::forecast(&[checkpoint.into()], &candidates, &spec, &plugins, &|| {
            bar.inc(1)
        })?;
    bar.finish_and_clear();
    let mut files = Vec::new();
    write_run_folder(&out, args.force, |dir| {
        files = forecast.write(dir).map_err(std::io::Error::other)?;
        Ok(())
    })
    .with_context(|| format!("cannot write the forecast to {}", out.display()))?;
    if !args.quiet {
        println!("{}", forecast.markdown());
        println!("written to {}: {}", out.display(), files.join(", "));
    }
    Ok(())
}

/// Adds the candidate `base` with the strategy file at `path` (named by its `[strategy]`
/// name); a name already taken is bad input, named with `flag`.
pub(crate) fn add_candidate(
    candidates: &mut Vec<Candidate>,
    base: &Scenario,
    path: &std::path::Path,
    flag: &str,
) -> Result<()> {
    let scenario = paraverse_sim::bundled::with_strategy(base.clone(), path)?;
    let name = scenario
        .defense
        .strategy
        .clone()
        .unwrap_or_else(|| path.display().to_string());
    if candidates.iter().any(|c| c.name == name) {
        return Err(invalid(format!(
            "{flag} {}: a candidate is already named `{name}` (each strategy's [strategy] name must differ)",
            path.display()
        )));
    }
    candidates.push(Candidate { name, scenario });
    Ok(())
}
