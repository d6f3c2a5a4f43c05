//! Running an experiment: points × replicas in parallel, each finished run appended and
//! flushed to `runs.csv` and `runs.jsonl`, resumable, shardable.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paraverse_attackers::AttackerPlugin;
use paraverse_defenders::DefenderPlugin;
use paraverse_sim::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Experiment, LabError};

/// The metrics recorded per run (dotted paths into `summary.json`), in CSV column order.
pub const METRICS: &[&str] = &[
    "objectives.security_loss",
    "objectives.availability",
    "objectives.cost",
    "cost.ops",
    "cost.friction",
    "cost.false_quarantines",
    "impact.assets_stolen",
    "impact.asset_value_stolen",
    "impact.compute_stolen_node_s",
    "impact.service_down_s",
    "impact.accounts_taken_over",
    "impact.wrong_decisions",
    "impact.compromised_node_hours",
    "impact.goals_reached",
    "impact.records_stolen.biometric",
    "impact.records_stolen.health",
    "compromised_peak",
    "compromised_ever",
    "xr_quality",
];

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Point index.
    pub point: usize,
    /// Replica index.
    pub replica: u32,
    /// Seed.
    pub seed: u64,
    /// The point's settings.
    pub settings: Vec<(String, String)>,
    /// Scenario hash of the run (provenance).
    pub scenario_hash: String,
    /// [`METRICS`] values (`null` where the run has none, e.g. no XR traffic).
    pub metrics: BTreeMap<String, Option<f64>>,
}

impl RunResult {
    /// The run's id: `point-replica`.
    pub fn id(&self) -> (usize, u32) {
        (self.point, self.replica)
    }

    fn csv_line(&self) -> String {
        let mut cells = vec![
            self.point.to_string(),
            self.replica.to_string(),
            self.seed.to_string(),
        ];
        cells.extend(self.settings.iter().map(|(_, v)| csv_cell(v)));
        cells.extend(METRICS.iter().map(|m| {
            self.metrics
                .get(*m)
                .copied()
                .flatten()
                .map_or(String::new(), |v| v.to_string())
        }));
        cells.join(",")
    }
}

fn csv_cell(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The CSV header of an experiment's runs.
pub fn csv_header(exp: &Experiment) -> String {
    let mut cols = vec!["point".to_owned(), "replica".into(), "seed".into()];
    if let Some(p) = exp.points.first() {
        cols.extend(p.settings.iter().map(|(n, _)| csv_cell(n)));
    }
    cols.extend(METRICS.iter().map(|m| (*m).to_owned()));
    cols.join(",")
}

/// Which share of the runs this process does: runs whose index % `of` == `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// Shards in all.
    pub of: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: expected I/N, e.g. 0/4"))?;
        let (index, of): (u32, u32) = (
            i.trim()
                .parse()
                .map_err(|_| format!("`{i}` is not a shard number"))?,
            n.trim()
                .parse()
                .map_err(|_| format!("`{n}` is not a shard count"))?,
        );
        if of == 0 || index >= of {
            return Err(format!("`{s}`: expected 0 ≤ I < N"));
        }
        Ok(Self { index, of })
    }
}

/// Runs a scenario at a seed and returns its [`METRICS`].
pub fn run_one_scenario(
    scenario: &Scenario,
    seed: u64,
    id: &str,
) -> Result<BTreeMap<String, Option<f64>>, LabError> {
    Ok(run_summary(scenario.clone().with_seed(seed), id)?.0)
}

/// A run's metrics, its summary as JSON, and its compromised-nodes series as CSV.
type RunOutput = (BTreeMap<String, Option<f64>>, serde_json::Value, String);

fn run_summary(scenario: Scenario, id: &str) -> Result<RunOutput, LabError> {
    let id = id.to_owned();
    let mut u = Universe::build(scenario, &[&AttackerPlugin, &DefenderPlugin]).map_err(|e| {
        LabError::Run {
            run: id.clone(),
            message: e.to_string(),
        }
    })?;
    u.run(|_| {});
    if let Some(f) = u.fault() {
        return Err(LabError::Run {
            run: id,
            message: f.to_owned(),
        });
    }
    let record = u.finish();
    let mut series = String::from("tick,compromised\n");
    for (t, s) in record.series.states.iter().enumerate() {
        series.push_str(&format!("{t},{}\n", s.compromised));
    }
    let summary = serde_json::to_value(&record.summary).expect("summary serialises");
    let metrics = METRICS
        .iter()
        .map(|m| {
            let v = m.split('.').try_fold(&summary, |v, k| v.get(k));
            ((*m).to_owned(), v.and_then(serde_json::Value::as_f64))
        })
        .collect();
    Ok((metrics, summary, series))
}

/// Runs one point's replica.
pub fn run_one(exp: &Experiment, point: usize, replica: u32) -> Result<RunResult, LabError> {
    Ok(run_one_with_series(exp, point, replica)?.0)
}

/// Runs one point's replica; also returns its series CSV.
pub fn run_one_with_series(
    exp: &Experiment,
    point: usize,
    replica: u32,
) -> Result<(RunResult, String), LabError> {
    let p = &exp.points[point];
    let seed = exp.seed(replica);
    let (metrics, summary, series) = run_summary(
        p.scenario.clone().with_seed(seed),
        &format!("{point}-{replica}"),
    )?;
    Ok((
        RunResult {
            point,
            replica,
            seed,
            settings: p.settings.clone(),
            scenario_hash: summary["scenario_hash"].as_str().unwrap_or("").to_owned(),
            metrics,
        },
        series,
    ))
}

/// Per-run time series (compromised nodes per tick), `series/<point>-<replica>.csv`.
pub const SERIES_DIR: &str = "series";

/// Results files of a sweep (or a shard of one).
pub const RUNS_CSV: &str = "runs.csv";
/// The same runs as JSON lines; the source of truth for resuming and merging.
pub const RUNS_JSONL: &str = "runs.jsonl";

/// Reads the complete runs of a results folder (a torn last line from a kill is dropped).
pub fn read_runs(dir: &Path) -> Result<Vec<RunResult>, LabError> {
    let path = dir.join(RUNS_JSONL);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LabError::io(format!("cannot read {}", path.display()))(e)),
    };
    let mut runs = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            break; // torn by a kill mid-write
        }
        let run: RunResult = serde_json::from_str(line).map_err(|e| {
            LabError::Mismatch(format!(
                "{} line {}: not a run ({e})",
                path.display(),
                i + 1
            ))
        })?;
        runs.push(run);
    }
    Ok(runs)
}

/// Writes runs in (point, replica) order to `runs.csv` and `runs.jsonl`, atomically.
pub fn write_runs(dir: &Path, header: &str, runs: &mut [RunResult]) -> Result<(), LabError> {
    runs.sort_by_key(RunResult::id);
    std::fs::create_dir_all(dir)
        .map_err(LabError::io(format!("cannot create {}", dir.display())))?;
    let mut csv = format!("{header}\n");
    let mut jsonl = String::new();
    for r in runs.iter() {
        csv.push_str(&r.csv_line());
        csv.push('\n');
        jsonl.push_str(&serde_json::to_string(r).expect("serialises"));
        jsonl.push('\n');
    }
    for (name, text) in [(RUNS_CSV, csv), (RUNS_JSONL, jsonl)] {
        write_atomic(&dir.join(name), &text)?;
    }
    Ok(())
}

/// Writes a file through a temporary name and a rename.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), LabError> {
    let tmp = path.with_extension("tmp");
    let what = || format!("cannot write {}", path.display());
    let mut f = std::fs::File::create(&tmp).map_err(LabError::io(what()))?;
    f.write_all(text.as_bytes()).map_err(LabError::io(what()))?;
    f.sync_all().map_err(LabError::io(what()))?;
    std::fs::rename(&tmp, path).map_err(LabError::io(what()))
}

/// The results folder of an experiment (and shard).
pub fn results_dir(root: &Path, exp: &Experiment, shard: Option<Shard>) -> PathBuf {
    let dir = root.join(&exp.file.experiment.name);
    match shard {
        Some(s) => dir.join(format!("shard-{}-of-{}", s.index, s.of)),
        None => dir,
    }
}

/// The (point, replica) runs of an experiment, or of one shard of it: runs whose index
/// in point-major order is `index` modulo `of`.
pub fn runs_of(exp: &Experiment, shard: Option<Shard>) -> Vec<(usize, u32)> {
    let replicas = exp.file.experiment.replicas;
    (0..exp.points.len())
        .flat_map(|p| (0..replicas).map(move |r| (p, r)))
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|s| *i as u32 % s.of == s.index))
        .map(|(_, id)| id)
        .collect()
}

/// What a sweep did.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// Runs found done from an earlier, interrupted sweep.
    pub resumed: usize,
    /// Runs made now.
    pub ran: usize,
    /// All runs of this sweep (or shard), in (point, replica) order.
    pub runs: Vec<RunResult>,
}

/// Runs every run of the experiment (or shard) not yet in `dir`, in parallel, appending
/// each as it finishes; then rewrites the files in order. `progress` is called after
/// each run with (done, total).
pub fn sweep(
    exp: &Experiment,
    dir: &Path,
    shard: Option<Shard>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepOutcome, LabError> {
    let header = csv_header(exp);
    let all = runs_of(exp, shard);
    let wanted: BTreeSet<(usize, u32)> = all.iter().copied().collect();
    // Resume: keep what is done (and matches this experiment), drop torn lines.
    let mut done = read_runs(dir)?;
    for r in &done {
        let settings = exp.points.get(r.point).map(|p| &p.settings);
        if !wanted.contains(&r.id())
            || settings != Some(&r.settings)
            || r.seed != exp.seed(r.replica)
        {
            return Err(LabError::Mismatch(format!(
                "{} holds run {}-{} that this experiment (or shard) would not make: was the experiment edited? Move the folder away to start afresh",
                dir.display(),
                r.point,
                r.replica
            )));
        }
    }
    done.sort_by_key(RunResult::id);
    done.dedup_by_key(|r| r.id());
    write_runs(dir, &header, &mut done)?;
    std::fs::create_dir_all(dir.join(SERIES_DIR)).map_err(LabError::io(format!(
        "cannot create {}",
        dir.join(SERIES_DIR).display()
    )))?;
    let resumed = done.len();
    let finished: BTreeSet<(usize, u32)> = done.iter().map(RunResult::id).collect();
    let todo: Vec<(usize, u32)> = all
        .into_iter()
        .filter(|id| !finished.contains(id))
        .collect();
    let total = wanted.len();
    let open = |name: &str| {
        OpenOptions::new()
            .append(true)
            .open(dir.join(name))
            .map_err(LabError::io(format!(
                "cannot append to {}",
                dir.join(name).display()
            )))
    };
    let files = Mutex::new((open(RUNS_CSV)?, open(RUNS_JSONL)?, resumed));
    progress(resumed, total);
    let results: Vec<RunResult> = todo
        .par_iter()
        .map(|&(p, r)| {
            let (run, series) = run_one_with_series(exp, p, r)?;
            // The series first: a run counts as done only once its JSON line is in.
            write_atomic(&dir.join(SERIES_DIR).join(format!("{p}-{r}.csv")), &series)?;
            let mut f = files.lock().expect("no panics while appending");
            // CSV first, then the JSON line that makes the run count as done.
            let what = || format!("cannot append to {}", dir.display());
            writeln!(f.0, "{}", run.csv_line()).map_err(LabError::io(what()))?;
            f.0.flush().map_err(LabError::io(what()))?;
            writeln!(f.1, "{}", serde_json::to_string(&run).expect("serialises"))
                .map_err(LabError::io(what()))?;
            f.1.flush().map_err(LabError::io(what()))?;
            f.2 += 1;
            progress(f.2, total);
            Ok(run)
        })
        .collect::<Result<_, LabError>>()?;
    let ran = results.len();
    let mut runs = done;
    runs.extend(results);
    write_runs(dir, &header, &mut runs)?;
    Ok(SweepOutcome { resumed, ran, runs })
}

/// Merges the runs of several result folders (shards) into `out`: every run once.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Vec<RunResult>, LabError> {
    let mut by_id: BTreeMap<(usize, u32), RunResult> = BTreeMap::new();
    let mut header = None;
    for d in dirs {
        for r in read_runs(d)? {
            if let Some(prev) = by_id.get(&r.id())
                && *prev != r
            {
                return Err(LabError::Mismatch(format!(
                    "run {}-{} differs between shards (in {}): were they made from different experiments?",
                    r.point,
                    r.replica,
                    d.display()
                )));
            }
            by_id.insert(r.id(), r);
        }
        if header.is_none() {
            let csv = d.join(RUNS_CSV);
            if let Ok(text) = std::fs::read_to_string(&csv) {
                header = text.lines().next().map(str::to_owned);
            }
        }
    }
    // The per-run series travel with the runs.
    let series = out.join(SERIES_DIR);
    std::fs::create_dir_all(&series)
        .map_err(LabError::io(format!("cannot create {}", series.display())))?;
    for d in dirs {
        if let Ok(entries) = std::fs::read_dir(d.join(SERIES_DIR)) {
            for e in entries.flatten() {
                std::fs::copy(e.path(), series.join(e.file_name()))
                    .map_err(LabError::io(format!("cannot copy {}", e.path().display())))?;
            }
        }
    }
    let mut runs: Vec<RunResult> = by_id.into_values().collect();
    let header = header
        .ok_or_else(|| LabError::Mismatch("no runs.csv in the folders to merge".to_owned()))?;
    write_runs(out, &header, &mut runs)?;
    Ok(runs)
}

/// A Slurm batch script that runs the experiment as a job array of `shards` shards.
pub fn slurm_script(experiment: &Path, name: &str, shards: u32, time: &str, cpus: u32) -> String {
    let exp = experiment.display();
    format!(
        r#"#!/bin/bash
# Slurm job array for the paraverse experiment `{name}`: {shards} shards.
# Submit:  sbatch this-script.sh
# Then, when all tasks are done:
#   paraverse merge results/{name}/shard-*-of-{shards} --out results/{name}
# A task that is killed (time limit, preemption) resumes where it stopped if resubmitted:
#   sbatch --array=<task ids> this-script.sh
#SBATCH --job-name=paraverse-{name}
#SBATCH --array=0-{last}
#SBATCH --cpus-per-task={cpus}
#SBATCH --time={time}
#SBATCH --output=slurm-{name}-%A_%a.out

set -euo pipefail
mkdir -p results/{name}
paraverse sweep {exp} --shard "$SLURM_ARRAY_TASK_ID/{shards}" --threads "$SLURM_CPUS_PER_TASK" --quiet
"#,
        last = shards.saturating_sub(1)
    )
}
