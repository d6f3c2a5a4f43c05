//! `paraverse sweep`, `merge`, `slurm` and `check`: the CLI side of the lab.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use paraverse_lab::check::{self, Baseline};
use paraverse_lab::experiment::Replicas;
use paraverse_lab::runner::{self, Shard};
use paraverse_lab::{Experiment, LabError};
use paraverse_lab::{decision, sensitivity, stats, tables};
use paraverse_table::Formats;

use crate::args::{CheckArgs, SlurmArgs, SweepArgs};

fn bar(total: usize, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs {msg} ETA {eta}",
        )
        .expect("valid template"),
    );
    bar
}

/// Writes `points.csv`, `points.json`, `decisions.csv`, `decisions.json` and `best.json`
/// (and `runs`, `points` and `decisions` as Parquet where `formats` asks); returns the
/// best decision's statement.
fn summarise(
    exp: &Experiment,
    dir: &Path,
    runs: &[runner::RunResult],
    auto: Option<&paraverse_lab::auto::AutoStop>,
    formats: Formats,
) -> Result<Option<String>> {
    let kinds = tables::SettingKinds::of(exp);
    let points = stats::summarise(runs, &exp.file.score);
    let points_table = tables::points(&kinds, &points);
    runner::write_atomic(&dir.join("points.csv"), points_table.csv())?;
    runner::write_atomic(
        &dir.join("points.json"),
        serde_json::to_string_pretty(&points)? + "\n",
    )?;
    let decisions = decision::decide(exp, &points, runs);
    let decisions_table = tables::decisions(&kinds, &decisions);
    runner::write_atomic(&dir.join("decisions.csv"), decisions_table.csv())?;
    let effects = sensitivity::main_effects(exp, &points);
    let effects_table = sensitivity::effects_table(&effects);
    runner::write_atomic(&dir.join("effects.csv"), effects_table.csv())?;
    runner::write_atomic(
        &dir.join("effects.json"),
        serde_json::to_string_pretty(&effects)? + "\n",
    )?;
    let sobol = sensitivity::sobol(exp, &points);
    let sobol_table = sobol.as_ref().map(sensitivity::Sobol::table);
    if let (Some(sobol), Some(table)) = (&sobol, &sobol_table) {
        runner::write_atomic(&dir.join("sensitivity.csv"), table.csv())?;
        runner::write_atomic(
            &dir.join("sensitivity.json"),
            serde_json::to_string_pretty(sobol)? + "\n",
        )?;
        for name in &sobol.no_effect {
            eprintln!(
                "warning: `{name}` has no measurable effect: its total Sobol index is below {} for the score and every objective (sensitivity.csv)",
                sensitivity::NO_EFFECT_TOTAL
            );
        }
    }
    if formats.parquet {
        let mut parquet = vec![
            ("runs.parquet", tables::runs(&kinds, runs)),
            ("points.parquet", points_table),
            ("decisions.parquet", decisions_table),
            ("effects.parquet", effects_table),
        ];
        parquet.extend(sobol_table.map(|t| ("sensitivity.parquet", t)));
        for (name, table) in parquet {
            let mut table = table;
            table
                .meta("paraverse:experiment", &exp.file.experiment.name)
                .meta("paraverse:experiment_hash", exp.hash_hex());
            runner::write_atomic(&dir.join(name), table.parquet()?)?;
        }
    }
    runner::write_atomic(
        &dir.join("decisions.json"),
        &(serde_json::to_string_pretty(&decisions)? + "\n"),
    )?;
    for name in &decisions.no_effect {
        eprintln!(
            "warning: `{name}` changed no objective: every pair of points that differ only in it had the same means; it is not being tested here (check its values against the model, e.g. `paraverse space`)"
        );
    }
    let statement = decisions.statement();
    let Some(best) = decisions
        .best
        .and_then(|b| decisions.decisions.iter().find(|d| d.decision == b))
    else {
        return Ok(statement);
    };
    // The decision's metrics pooled over its threats and replicas.
    let first = best.threats[0].point;
    let own: Vec<runner::RunResult> = runs
        .iter()
        .filter(|r| best.threats.iter().any(|t| t.point == r.point))
        .map(|r| runner::RunResult {
            point: best.decision,
            settings: best.settings.clone(),
            ..r.clone()
        })
        .collect();
    let pooled = stats::summarise(&own, &exp.file.score);
    let point = &exp.points[first];
    let json = serde_json::json!({
        "experiment": exp.file.experiment.name,
        "point": first,
        "decision": best.decision,
        "settings": best.settings,
        "score": best.score,
        "risk": decisions.risk,
        "score_weights": exp.file.score,
        "threats": best.threats,
        "comparison": decisions.comparison,
        "statement": statement,
        "replicas_auto": auto,
        "metrics": pooled.first().map(|p| &p.metrics),
        "strategy": point.scenario.strategy_source,
        "provenance": {
            "experiment_file": exp.absolute_origin(),
            "experiment_hash": exp.hash_hex(),
            "scenario": point.scenario.name,
            "scenario_hash": format!("{:016x}", point.scenario.source_hash),
            "seeds": pooled.first().map(|p| {
                let mut seeds = p.seeds.clone();
                seeds.sort_unstable();
                seeds.dedup();
                seeds
            }),
            "paraverse_version": env!("CARGO_PKG_VERSION"),
        },
    });
    runner::write_atomic(
        &dir.join("best.json"),
        &(serde_json::to_string_pretty(&json)? + "\n"),
    )?;
    Ok(statement)
}

/// `paraverse sweep`.
pub fn sweep(args: &SweepArgs) -> Result<()> {
    crate::world::set_threads(args.threads)?;
    let mut exp = Experiment::load(&args.experiment)?;
    let auto = exp.file.experiment.replicas == Replicas::Auto;
    if auto && args.shard.is_some() {
        return Err(crate::invalid(format!(
            "{}: replicas = \"auto\" decides after each batch, so it cannot be split into shards; give a number of replicas to shard it",
            args.experiment.display()
        )));
    }
    let dir = runner::results_dir(&args.results, &exp, args.shard);
    let total = runner::runs_of(&exp, args.shard).len();
    if let Some(largest) = exp
        .points
        .iter()
        .map(|p| &p.scenario)
        .max_by_key(|s| s.node_count)
    {
        crate::world::check_memory(largest, rayon::current_num_threads().min(total), false)?;
    }
    if !args.quiet {
        let spec = exp.file.auto.clone().unwrap_or_default();
        eprintln!(
            "paraverse: experiment {}, {} points × {} replicas{} ({} runs{}) into {}",
            exp.file.experiment.name,
            exp.points.len(),
            if auto {
                format!("auto ({} a round, at most {})", spec.batch, spec.max)
            } else {
                exp.replicas.to_string()
            },
            args.shard
                .map(|s| format!(", shard {}/{}", s.index, s.of))
                .unwrap_or_default(),
            total,
            if auto { " a round" } else { "" },
            dir.display()
        );
    }
    let bar = bar(total, args.quiet);
    // A resumed sweep starts with the runs already done: the jump to them is not a rate,
    // so the estimate restarts after it (else the ETA counts them as made in an instant).
    let first = std::sync::atomic::AtomicBool::new(true);
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
            bar.reset_eta();
        }
    };
    let (outcome, stop) = if auto {
        let (outcome, stop) = paraverse_lab::auto::sweep_auto(
            &mut exp,
            &dir,
            &|replicas| bar.set_message(format!("{replicas} replicas")),
            &progress,
        )?;
        (outcome, Some(stop))
    } else {
        (runner::sweep(&exp, &dir, args.shard, &progress)?, None)
    };
    bar.finish_and_clear();
    if let Some(note) = runner::dropped_note(&outcome.dropped, "run") {
        eprintln!(
            "paraverse: {} of {}: their runs were made again",
            note,
            dir.join(runner::RUNS_JSONL).display()
        );
    }
    let statement = match args.shard {
        None => summarise(&exp, &dir, &outcome.runs, stop.as_ref(), args.format)?,
        Some(_) => None,
    };
    if let Some(stop) = &stop {
        // Said even with --quiet: which rule ended the sweep is part of its result.
        eprintln!(
            "paraverse: replicas auto: stopped at {} replicas per point after {} round{}: {}",
            stop.replicas,
            stop.rounds,
            if stop.rounds == 1 { "" } else { "s" },
            stop.reason
        );
    }
    if !args.quiet {
        println!(
            "{} runs ({} resumed from an earlier sweep, {} now) in {}",
            outcome.runs.len(),
            outcome.resumed,
            outcome.ran,
            dir.display()
        );
        if args.shard.is_none() {
            if let Some(statement) = statement {
                println!("{statement}");
            }
        } else {
            println!(
                "shard done; when every shard is: paraverse merge {}",
                args.experiment.display()
            );
        }
    }
    Ok(())
}

/// `paraverse merge`: every shard folder of the experiment into its results folder.
pub fn merge(experiment: &Path, results: &Path, formats: Formats) -> Result<()> {
    let exp = Experiment::load(experiment)?;
    let dir = runner::results_dir(results, &exp, None);
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("shard-"))
        })
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(LabError::Mismatch(format!(
            "no shard folders (shard-I-of-N) in {}: run `paraverse sweep {} --shard I/N` first",
            dir.display(),
            experiment.display()
        ))
        .into());
    }
    let outcome = runner::merge(&exp, &shards, &dir)?;
    for (d, dropped) in &outcome.dropped {
        if let Some(note) = runner::dropped_note(dropped, "run") {
            eprintln!(
                "paraverse: {} of {}: rerun that shard to make them again",
                note,
                d.join(runner::RUNS_JSONL).display()
            );
        }
    }
    let runs = &outcome.runs;
    let missing = exp.runs().saturating_sub(runs.len());
    summarise(&exp, &dir, runs, None, formats)?;
    println!(
        "merged {} of {} shards: {} of {} runs into {}{}",
        shards.len(),
        outcome.shards,
        runs.len(),
        exp.runs(),
        dir.display(),
        if missing > 0 {
            format!(
                " ({missing} runs missing{}: rerun their shards, then merge again)",
                if outcome.missing_shards.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; no folder for shard {}",
                        outcome
                            .missing_shards
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `paraverse slurm`.
pub fn slurm(args: &SlurmArgs) -> Result<()> {
    let exp = Experiment::load(&args.experiment)?;
    print!(
        "{}",
        runner::slurm_script(
            &args.experiment,
            &exp.file.experiment.name,
            args.shards,
            &args.time,
            args.cpus
        )
    );
    Ok(())
}

/// `paraverse check`: exit status 1 on any regression.
pub fn check(args: &CheckArgs) -> Result<bool> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .map_err(|e| {
            crate::invalid(format!(
                "cannot read the folder of experiments {}: {e}",
                args.dir.display()
            ))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(crate::invalid(format!(
            "no experiment files (*.toml) in {}",
            args.dir.display()
        )));
    }
    let mut cases = Vec::new();
    for f in &files {
        let mut exp = Experiment::load(f)?;
        let dir = runner::results_dir(&args.results, &exp, None);
        // A gate reruns from scratch: stale results must not mask a regression. The folder
        // is held first, so a second gate cannot clear it under a running one.
        let lock =
            paraverse_lab::folder::FolderLock::acquire(&dir, &format!("check of {}", exp.origin))?;
        runner::clear(&lock)?;
        let bar = bar(exp.runs(), args.quiet);
        let progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        // replicas = "auto" runs its rounds to its stopping rule, as a sweep would: a
        // gate on the first batch alone would compare a different, noisier experiment.
        let outcome = if exp.file.experiment.replicas == Replicas::Auto {
            let (outcome, stop) = paraverse_lab::auto::sweep_auto_held(
                &mut exp,
                &lock,
                &|replicas| bar.set_message(format!("{replicas} replicas")),
                &progress,
            )?;
            if !args.quiet {
                eprintln!(
                    "paraverse: {}: replicas auto stopped at {} per point: {}",
                    exp.file.experiment.name, stop.replicas, stop.reason
                );
            }
            outcome
        } else {
            runner::sweep_held(&exp, &lock, None, &progress)?
        };
        bar.finish_and_clear();
        let points = stats::summarise(&outcome.runs, &exp.file.score);
        let path = check::baseline_path(&args.baselines, &exp);
        if args.update {
            std::fs::create_dir_all(&args.baselines)?;
            let b = Baseline::of(&exp, &points);
            runner::write_atomic(&path, &(serde_json::to_string_pretty(&b)? + "\n"))?;
            println!("baseline written: {}", path.display());
            continue;
        }
        let baseline = check::read_baseline(&path)?.ok_or_else(|| {
            LabError::Mismatch(format!(
                "no baseline for experiment `{}` at {} (looked there because of --baselines {}): create it with `paraverse check {} --update --baselines {}`",
                exp.file.experiment.name,
                path.display(),
                args.baselines.display(),
                args.dir.display(),
                args.baselines.display()
            ))
        })?;
        check::verify_provenance(&exp, &baseline, &path)?;
        cases.extend(check::compare(&exp, &points, &baseline));
    }
    if args.update {
        return Ok(true);
    }
    if let Some(parent) = args.junit.parent() {
        std::fs::create_dir_all(parent)?;
    }
    runner::write_atomic(&args.junit, check::junit(&cases))?;
    let failed: Vec<&check::Case> = cases.iter().filter(|c| !c.passed).collect();
    for c in &failed {
        eprintln!("REGRESSION {} {}: {}", c.experiment, c.name, c.failure());
    }
    println!(
        "check: {} of {} comparisons within their bands; JUnit report {}",
        cases.len() - failed.len(),
        cases.len(),
        args.junit.display()
    );
    Ok(failed.is_empty())
}

/// Whether an error is the user's input (exit 2) rather than a failure.
pub fn is_invalid_input(e: &LabError) -> bool {
    matches!(e, LabError::Invalid(_) | LabError::Mismatch(_))
}

/// Parses `--shard I/N`.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    s.parse()
}

/// `paraverse optimise`: NSGA-II over the experiment's `[optimise]` parameters; writes
/// `pareto.csv`, `evaluations.csv` and `best.json` into results/NAME/optimise/.
pub fn optimise(
    experiment: &Path,
    results: &Path,
    threads: Option<u16>,
    quiet: bool,
) -> Result<()> {
    use paraverse_lab::optimise::experiment as opt;
    crate::world::set_threads(threads)?;
    let exp = Experiment::load(experiment)?;
    let spec = exp
        .file
        .optimise
        .clone()
        .ok_or_else(|| LabError::Mismatch(format!("{}: no [optimise] table", exp.origin)))?;
    let dir = runner::results_dir(results, &exp, None).join("optimise");
    let _lock =
        paraverse_lab::folder::FolderLock::acquire(&dir, &format!("optimise of {}", exp.origin))?;
    if !quiet {
        eprintln!(
            "paraverse: optimising {} parameters of {} with NSGA-II: {} candidates × {} replicas, population {}",
            spec.params.len(),
            exp.file.experiment.name,
            spec.budget,
            exp.replicas,
            spec.population
        );
    }
    let bar = bar(spec.budget, quiet);
    let ((dims, pop, history), reused, dropped) =
        opt::optimise(&exp, &dir, &|n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    if let Some(note) = runner::dropped_note(&dropped, "evaluation") {
        eprintln!(
            "paraverse: {note} of {}: those candidates were evaluated again",
            dir.join(opt::JOURNAL).display()
        );
    }
    if reused > 0 && !quiet {
        eprintln!(
            "paraverse: resumed: {reused} of {} evaluations taken from {}",
            history.len(),
            dir.join(opt::JOURNAL).display()
        );
    }
    let header: Vec<String> = dims
        .iter()
        .map(opt::Dimension::column)
        .chain(["security_loss", "availability", "cost", "score"].map(String::from))
        .collect();
    let w = exp.file.score;
    let score = |f: &[f64]| w.security_loss * f[0] - w.availability * f[1] + w.cost * f[2];
    let row = |ind: &paraverse_lab::optimise::Individual| {
        let vals: Vec<String> = dims.iter().zip(&ind.x).map(|(d, &v)| d.cell(v)).collect();
        format!(
            "{},{},{},{},{}",
            vals.join(","),
            ind.f[0],
            -ind.f[1],
            ind.f[2],
            score(&ind.f)
        )
    };
    let front: Vec<_> = pop.iter().filter(|p| p.rank == 0).collect();
    let csv = |rows: &mut dyn Iterator<Item = String>| {
        let mut s = header.join(",") + "\n";
        for r in rows {
            s.push_str(&r);
            s.push('\n');
        }
        s
    };
    runner::write_atomic(
        &dir.join("pareto.csv"),
        csv(&mut front.iter().map(|p| row(p))),
    )?;
    runner::write_atomic(
        &dir.join("evaluations.csv"),
        csv(&mut history.iter().map(row)),
    )?;
    let best = front
        .iter()
        .min_by(|a, b| score(&a.f).total_cmp(&score(&b.f)))
        .context("the optimiser returned no front")?;
    let values = opt::values(&dims, &best.x);
    let scenario = exp.candidate(&values)?;
    let json = serde_json::json!({
        "experiment": exp.file.experiment.name,
        "method": "NSGA-II",
        "settings": values.iter().map(|(k, v)| (k.clone(), match v { toml::Value::String(s) => s.clone(), o => o.to_string() })).collect::<Vec<_>>(),
        "objectives": {
            "security_loss": best.f[0],
            "availability": -best.f[1],
            "cost": best.f[2],
        },
        "score": score(&best.f),
        "score_weights": w,
        "pareto_front_size": front.len(),
        "strategy": scenario.strategy_source,
        "provenance": {
            "experiment_file": exp.absolute_origin(),
            "experiment_hash": exp.hash_hex(),
            "scenario": scenario.name,
            "scenario_hash": format!("{:016x}", scenario.source_hash),
            "seeds": (0..exp.replicas).map(|r| exp.seed(r)).collect::<Vec<_>>(),
            "optimiser_seed": spec.seed,
            "evaluations": history.len(),
            "paraverse_version": env!("CARGO_PKG_VERSION"),
        },
    });
    runner::write_atomic(
        &dir.join("best.json"),
        &(serde_json::to_string_pretty(&json)? + "\n"),
    )?;
    if !quiet {
        println!(
            "{} evaluations; Pareto front of {} in {}; best by score: {}",
            history.len(),
            front.len(),
            dir.join("pareto.csv").display(),
            values
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
