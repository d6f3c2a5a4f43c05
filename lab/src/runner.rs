//! Running an experiment: points × replicas in parallel, each finished run appended and
//! flushed to `runs.csv` and `runs.jsonl`, resumable, shardable.
//!
//! Nothing read back is trusted blindly. Every line of `runs.jsonl` carries what proves
//! it: the experiment file's hash, point, replica, seed, the hash of its series file and a
//! checksum of the line itself (FNV-1a of the run's canonical JSON). Resume, merge and
//! report verify each line: a damaged line (checksum, a torn write, a missing or changed
//! series file) is dropped and its run made again, and the count and reasons are said;
//! a line from another experiment, point or shard is refused, never mixed in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paraverse_sim::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::folder::FolderLock;
pub use crate::folder::write_atomic;
use crate::tables::{self, SettingKinds};
use crate::{Experiment, LabError};

/// The most worker threads a pool of the CLI's (`--threads`, `--parallel`, `slurm --cpus`)
/// or the Python package's (`threads`) takes: tens of thousands exhaust the process's
/// memory maps and abort it in thread setup.
pub const MAX_THREADS: u16 = 4096;

/// The security loss's metric path in `summary.json` (and runs.csv's column).
pub const SECURITY_LOSS: &str = "objectives.security_loss";
/// Availability's metric path.
pub const AVAILABILITY: &str = "objectives.availability";
/// Cost's metric path.
pub const COST: &str = "objectives.cost";
/// The three objectives, in the order of [`Score`](crate::experiment::Score)'s weights,
/// the scores, the fronts and the reports.
pub const OBJECTIVES: [&str; 3] = [SECURITY_LOSS, AVAILABILITY, COST];

/// The metrics recorded per run (dotted paths into `summary.json`), in CSV column order.
/// Each resolves in a real run's summary (tested in `tests.rs`).
pub const METRICS: &[&str] = &[
    SECURITY_LOSS,
    AVAILABILITY,
    COST,
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
    /// FNV-1a of the experiment file that made the run (provenance: a run of another
    /// version of the file is never mixed in).
    pub experiment_hash: String,
    /// FNV-1a of the run's series file, `series/<point>-<replica>.csv`.
    pub series_hash: String,
}

/// The hexadecimal FNV-1a of some text, as results files record hashes.
pub fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", paraverse_sim::rng::fnv1a(bytes))
}

impl RunResult {
    /// The run's id: `point-replica`.
    pub fn id(&self) -> (usize, u32) {
        (self.point, self.replica)
    }

    /// The run's `runs.jsonl` line (without the newline); see [`checked_line`].
    pub fn json_line(&self) -> String {
        checked_line(self)
    }

    /// Parses and verifies one `runs.jsonl` line.
    pub fn from_json_line(line: &str) -> Result<Self, DropReason> {
        parse_checked_line(line)
    }
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
    let mut u =
        Universe::build(scenario, &crate::plugins::plugins()).map_err(|e| LabError::Run {
            run: id.clone(),
            message: e.to_string(),
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

/// Runs one point's replica; also returns its series CSV (whose hash the run records).
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
            experiment_hash: exp.hash_hex(),
            series_hash: hash_hex(series.as_bytes()),
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

/// A results line (without the newline): the record's canonical JSON object with a
/// `check` field appended, the FNV-1a of that JSON.
pub fn checked_line<T: Serialize>(record: &T) -> String {
    let body = serde_json::to_string(record).expect("a results record serialises");
    let check = hash_hex(body.as_bytes());
    format!("{},\"check\":\"{check}\"}}", &body[..body.len() - 1])
}

/// Parses and verifies a line written by [`checked_line`]: the record re-serialised must
/// hash to its `check` (serde_json writes floats in their shortest round-trip form and
/// reads them back exactly, so the JSON is canonical).
pub fn parse_checked_line<T: Serialize + serde::de::DeserializeOwned>(
    line: &str,
) -> Result<T, DropReason> {
    let mut value: serde_json::Value =
        serde_json::from_str(line).map_err(|_| DropReason::NotARun)?;
    let check = value
        .as_object_mut()
        .and_then(|o| o.remove("check"))
        .and_then(|c| c.as_str().map(str::to_owned))
        .ok_or(DropReason::NoChecksum)?;
    let record: T = serde_json::from_value(value).map_err(|_| DropReason::NotARun)?;
    let body = serde_json::to_string(&record).expect("a results record serialises");
    if hash_hex(body.as_bytes()) != check {
        return Err(DropReason::Checksum);
    }
    Ok(record)
}

/// Why a line of `runs.jsonl` was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The last line has no newline: torn by a kill mid-write.
    Torn,
    /// Not JSON of a run.
    NotARun,
    /// No `check` field (written by another version, or by hand).
    NoChecksum,
    /// The checksum does not match the line: it was changed after it was written.
    Checksum,
    /// The series file is missing.
    SeriesMissing,
    /// The series file differs from the one the run wrote.
    SeriesChanged,
    /// The same run appears again with other contents.
    Duplicate,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Torn => "torn by a kill mid-write",
            Self::NotARun => "not a record of this file",
            Self::NoChecksum => "no checksum",
            Self::Checksum => "checksum does not match (changed after it was written)",
            Self::SeriesMissing => "its series file is missing",
            Self::SeriesChanged => "its series file was changed",
            Self::Duplicate => "the same run again with other values",
        })
    }
}

/// A line of `runs.jsonl` that was not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: DropReason,
}

/// The verified runs of a results folder and the lines dropped on the way.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Runs whose line and series file check out, in (point, replica) order, each once.
    pub runs: Vec<RunResult>,
    /// Lines not taken.
    pub dropped: Vec<Dropped>,
}

/// "3 damaged run lines dropped (line 4: checksum does not match ...; ...)" for the
/// lines of a journal that were not taken (`what`: run, evaluation), or `None`.
pub fn dropped_note(dropped: &[Dropped], what: &str) -> Option<String> {
    if dropped.is_empty() {
        return None;
    }
    let shown: Vec<String> = dropped
        .iter()
        .take(5)
        .map(|d| format!("line {}: {}", d.line, d.reason))
        .collect();
    let more = dropped.len() - shown.len();
    Some(format!(
        "{} damaged {what} line{} dropped ({}{})",
        dropped.len(),
        if dropped.len() == 1 { "" } else { "s" },
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    ))
}

/// Reads and verifies the runs of a results folder: every line's checksum, its series
/// file's hash, each run once. What fails is dropped and listed, never trusted.
pub fn load_runs(dir: &Path) -> Result<Loaded, LabError> {
    let path = dir.join(RUNS_JSONL);
    let bytes = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(LabError::io(format!("cannot read {}", path.display()))(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut by_id: BTreeMap<(usize, u32), RunResult> = BTreeMap::new();
    let mut dropped = Vec::new();
    let mut series_ok: BTreeMap<(usize, u32), Result<(), DropReason>> = BTreeMap::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let n = i + 1;
        let Some(line) = line.strip_suffix('\n') else {
            dropped.push(Dropped {
                line: n,
                reason: DropReason::Torn,
            });
            break;
        };
        let run = match RunResult::from_json_line(line) {
            Ok(run) => run,
            Err(reason) => {
                dropped.push(Dropped { line: n, reason });
                continue;
            }
        };
        let series = series_ok
            .entry(run.id())
            .or_insert_with(|| verify_series(dir, &run));
        if let Err(reason) = *series {
            dropped.push(Dropped { line: n, reason });
            continue;
        }
        match by_id.get(&run.id()) {
            Some(prev) if *prev == run => {}
            Some(_) => dropped.push(Dropped {
                line: n,
                reason: DropReason::Duplicate,
            }),
            None => {
                by_id.insert(run.id(), run);
            }
        }
    }
    Ok(Loaded {
        runs: by_id.into_values().collect(),
        dropped,
    })
}

fn series_path(dir: &Path, point: usize, replica: u32) -> PathBuf {
    dir.join(SERIES_DIR).join(format!("{point}-{replica}.csv"))
}

fn verify_series(dir: &Path, run: &RunResult) -> Result<(), DropReason> {
    match std::fs::read(series_path(dir, run.point, run.replica)) {
        Ok(bytes) if hash_hex(&bytes) == run.series_hash => Ok(()),
        Ok(_) => Err(DropReason::SeriesChanged),
        Err(_) => Err(DropReason::SeriesMissing),
    }
}

/// Reads the verified runs of a results folder (see [`load_runs`]; dropped lines are
/// left out).
pub fn read_runs(dir: &Path) -> Result<Vec<RunResult>, LabError> {
    Ok(load_runs(dir)?.runs)
}

/// Whether `run` is one that `exp` (or its `shard`) makes, exactly: the same experiment
/// file, a point it has with the same settings, the seed of its replica, a replica within
/// the count, and a run of that shard. `Err` says what differs.
pub fn belongs(exp: &Experiment, shard: Option<Shard>, run: &RunResult) -> Result<(), String> {
    let hash = exp.hash_hex();
    if run.experiment_hash != hash {
        return Err(format!(
            "it was made from another version of the experiment file (hash {}, the file now {hash})",
            run.experiment_hash
        ));
    }
    let Some(point) = exp.points.get(run.point) else {
        return Err(format!(
            "the experiment has no point {} ({} points)",
            run.point,
            exp.points.len()
        ));
    };
    if point.settings != run.settings {
        return Err(format!("point {}'s settings differ", run.point));
    }
    if run.replica >= exp.replicas || run.seed != exp.seed(run.replica) {
        return Err(format!(
            "replica {} with seed {} is not one of this experiment's",
            run.replica, run.seed
        ));
    }
    if let Some(s) = shard {
        let index = run.point * exp.replicas as usize + run.replica as usize;
        if index as u32 % s.of != s.index {
            return Err(format!(
                "run {}-{} belongs to another shard than {}/{}",
                run.point, run.replica, s.index, s.of
            ));
        }
    }
    Ok(())
}

/// Writes runs in (point, replica) order to `runs.csv` and `runs.jsonl`, atomically.
pub fn write_runs(
    dir: &Path,
    kinds: &SettingKinds,
    runs: &mut [RunResult],
) -> Result<(), LabError> {
    runs.sort_by_key(RunResult::id);
    std::fs::create_dir_all(dir)
        .map_err(LabError::io(format!("cannot create {}", dir.display())))?;
    let csv = tables::runs(kinds, runs).csv();
    let mut jsonl = String::new();
    for r in runs.iter() {
        jsonl.push_str(&r.json_line());
        jsonl.push('\n');
    }
    for (name, text) in [(RUNS_CSV, csv), (RUNS_JSONL, jsonl)] {
        write_atomic(&dir.join(name), &text)?;
    }
    Ok(())
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
    let replicas = exp.replicas;
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
    /// Lines of an earlier sweep dropped as damaged (their runs were made again).
    pub dropped: Vec<Dropped>,
}

/// The manifest of a results folder, `experiment.json`: which experiment (file, hash),
/// how many points and replicas, so that a report knows how many runs complete results
/// hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Experiment name.
    pub experiment: String,
    /// The experiment file, absolute where it could be resolved.
    pub experiment_file: String,
    /// FNV-1a of the experiment file.
    pub experiment_hash: String,
    /// Points.
    pub points: usize,
    /// Replicas per point.
    pub replicas: u32,
    /// Runs this folder holds when complete (a shard's share, or all).
    pub runs: usize,
    /// `I/N` for a shard's folder.
    pub shard: Option<String>,
}

/// The manifest's file name.
pub const MANIFEST: &str = "experiment.json";

impl Manifest {
    /// The manifest of an experiment (or shard of it).
    pub fn of(exp: &Experiment, shard: Option<Shard>) -> Self {
        Self {
            experiment: exp.file.experiment.name.clone(),
            experiment_file: exp.absolute_origin(),
            experiment_hash: exp.hash_hex(),
            points: exp.points.len(),
            replicas: exp.replicas,
            runs: runs_of(exp, shard).len(),
            shard: shard.map(|s| format!("{}/{}", s.index, s.of)),
        }
    }

    /// Reads a folder's manifest (`None` if it has none).
    pub fn read(dir: &Path) -> Result<Option<Self>, LabError> {
        let path = dir.join(MANIFEST);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                LabError::Mismatch(format!("{}: not a results manifest ({e})", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(format!("cannot read {}", path.display()))(e)),
        }
    }

    fn write(&self, dir: &Path) -> Result<(), LabError> {
        write_atomic(
            &dir.join(MANIFEST),
            &(serde_json::to_string_pretty(self).expect("a manifest serialises") + "\n"),
        )
    }
}

/// Loads a folder's verified runs and refuses any that `exp` (or `shard`) would not make.
fn load_own_runs(exp: &Experiment, dir: &Path, shard: Option<Shard>) -> Result<Loaded, LabError> {
    let loaded = load_runs(dir)?;
    for r in &loaded.runs {
        if let Err(why) = belongs(exp, shard, r) {
            return Err(LabError::Mismatch(format!(
                "{} holds run {}-{} that this experiment (or shard) would not make: {why}. Move the folder away to start afresh, or restore the experiment file",
                dir.display(),
                r.point,
                r.replica
            )));
        }
    }
    Ok(loaded)
}

/// Runs every run of the experiment (or shard) not yet in `dir`, in parallel, appending
/// each as it finishes; then rewrites the files in order. `progress` is called after
/// each run with (done, total). Holds the folder's lock throughout.
pub fn sweep(
    exp: &Experiment,
    dir: &Path,
    shard: Option<Shard>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepOutcome, LabError> {
    let lock = FolderLock::acquire(dir, &format!("sweep of {}", exp.origin))?;
    sweep_held(exp, &lock, shard, progress)
}

/// Removes everything in a locked results folder but its lock: a fresh start that no
/// other process can race (the regression gate reruns from scratch).
pub fn clear(lock: &FolderLock) -> Result<(), LabError> {
    let dir = lock.dir();
    let entries =
        std::fs::read_dir(dir).map_err(LabError::io(format!("cannot read {}", dir.display())))?;
    for e in entries.flatten() {
        let path = e.path();
        if path == lock.path() {
            continue;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(LabError::io(format!("cannot clear {}", path.display())))?;
    }
    Ok(())
}

/// [`sweep`] in a results folder this process already holds.
pub fn sweep_held(
    exp: &Experiment,
    lock: &FolderLock,
    shard: Option<Shard>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepOutcome, LabError> {
    let dir = lock.dir();
    let kinds = SettingKinds::of(exp);
    let all = runs_of(exp, shard);
    // Resume: keep what is done, verified and of this experiment; damaged lines are
    // dropped (and their runs made again), foreign ones refused.
    let Loaded {
        runs: mut done,
        dropped,
    } = load_own_runs(exp, dir, shard)?;
    write_runs(dir, &kinds, &mut done)?;
    Manifest::of(exp, shard).write(dir)?;
    std::fs::create_dir_all(dir.join(SERIES_DIR)).map_err(LabError::io(format!(
        "cannot create {}",
        dir.join(SERIES_DIR).display()
    )))?;
    let resumed = done.len();
    let finished: BTreeSet<(usize, u32)> = done.iter().map(RunResult::id).collect();
    let todo: Vec<(usize, u32)> = all
        .iter()
        .copied()
        .filter(|id| !finished.contains(id))
        .collect();
    let total = all.len();
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
            write_atomic(&series_path(dir, p, r), &series)?;
            let mut f = files.lock().expect("no panics while appending");
            // CSV first, then the JSON line that makes the run count as done.
            let what = || format!("cannot append to {}", dir.display());
            writeln!(f.0, "{}", tables::run_line(&kinds, &run)).map_err(LabError::io(what()))?;
            f.0.flush().map_err(LabError::io(what()))?;
            writeln!(f.1, "{}", run.json_line()).map_err(LabError::io(what()))?;
            f.1.flush().map_err(LabError::io(what()))?;
            f.2 += 1;
            progress(f.2, total);
            Ok(run)
        })
        .collect::<Result<_, LabError>>()?;
    let ran = results.len();
    let mut runs = done;
    runs.extend(results);
    write_runs(dir, &kinds, &mut runs)?;
    Ok(SweepOutcome {
        resumed,
        ran,
        runs,
        dropped,
    })
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// Every verified run of the shards, once each, in (point, replica) order.
    pub runs: Vec<RunResult>,
    /// Shards the folders name (N of `shard-I-of-N`).
    pub shards: u32,
    /// Shard indices with no folder.
    pub missing_shards: Vec<u32>,
    /// Damaged lines dropped, per shard folder.
    pub dropped: Vec<(PathBuf, Vec<Dropped>)>,
}

/// Parses a shard folder's name, `shard-I-of-N`.
pub fn shard_of_folder(dir: &Path) -> Option<Shard> {
    let name = dir.file_name()?.to_str()?;
    let (i, n) = name.strip_prefix("shard-")?.split_once("-of-")?;
    format!("{i}/{n}").parse().ok()
}

/// Merges the shard folders of an experiment into `out`: every verified run once, each
/// checked against the experiment and its shard. A folder of another shard count or of
/// another version of the experiment is refused, naming it; damaged lines are dropped
/// and counted. Holds the lock of `out` and of every shard folder.
pub fn merge(exp: &Experiment, dirs: &[PathBuf], out: &Path) -> Result<MergeOutcome, LabError> {
    let _out_lock = FolderLock::acquire(out, &format!("merge of {}", exp.origin))?;
    let mut shards = Vec::new();
    for d in dirs {
        let shard = shard_of_folder(d).ok_or_else(|| {
            LabError::Mismatch(format!(
                "{}: not a shard folder (expected shard-I-of-N)",
                d.display()
            ))
        })?;
        shards.push((d, shard));
    }
    let counts: BTreeSet<u32> = shards.iter().map(|(_, s)| s.of).collect();
    if counts.len() > 1 {
        return Err(LabError::Mismatch(format!(
            "the shard folders in {} come from sweeps of {} shards: keep the folders of one sweep and move the others away",
            out.display(),
            counts
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    }
    let of = counts.first().copied().unwrap_or(1);
    let mut locks = Vec::new();
    let mut by_id: BTreeMap<(usize, u32), RunResult> = BTreeMap::new();
    let mut dropped = Vec::new();
    for (d, shard) in &shards {
        locks.push(FolderLock::acquire(d, &format!("merge of {}", exp.origin))?);
        let loaded = load_own_runs(exp, d, Some(*shard))?;
        for r in &loaded.runs {
            by_id.insert(r.id(), r.clone());
        }
        if !loaded.dropped.is_empty() {
            dropped.push(((*d).clone(), loaded.dropped));
        }
        // The per-run series travel with the runs (only those of verified runs).
        let series = out.join(SERIES_DIR);
        std::fs::create_dir_all(&series)
            .map_err(LabError::io(format!("cannot create {}", series.display())))?;
        for r in &loaded.runs {
            let from = series_path(d, r.point, r.replica);
            std::fs::copy(&from, series_path(out, r.point, r.replica))
                .map_err(LabError::io(format!("cannot copy {}", from.display())))?;
        }
    }
    let found: BTreeSet<u32> = shards.iter().map(|(_, s)| s.index).collect();
    let missing_shards = (0..of).filter(|i| !found.contains(i)).collect();
    let mut runs: Vec<RunResult> = by_id.into_values().collect();
    write_runs(out, &SettingKinds::of(exp), &mut runs)?;
    Manifest::of(exp, None).write(out)?;
    Ok(MergeOutcome {
        runs,
        shards: of,
        missing_shards,
        dropped,
    })
}

/// Quotes a word for a POSIX shell: single quotes, with each `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '='))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Checks a Slurm time limit: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M` or `D-H:M:S` (digits),
/// or `UNLIMITED`/`infinite`.
pub fn parse_slurm_time(s: &str) -> Result<String, String> {
    let expected = || {
        format!(
            "`{s}`: expected a Slurm time limit: minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S (e.g. 04:00:00 or 1-12)"
        )
    };
    if matches!(s, "UNLIMITED" | "infinite") {
        return Ok(s.to_owned());
    }
    let numbers = |part: &str, most: usize| {
        let fields: Vec<&str> = part.split(':').collect();
        fields.len() <= most
            && fields
                .iter()
                .all(|f| !f.is_empty() && f.len() <= 6 && f.chars().all(|c| c.is_ascii_digit()))
    };
    let ok = match s.split_once('-') {
        Some((days, rest)) => numbers(days, 1) && numbers(rest, 3),
        None => numbers(s, 3),
    };
    if ok {
        Ok(s.to_owned())
    } else {
        Err(expected())
    }
}

/// A Slurm batch script that runs the experiment as a job array of `shards` shards.
///
/// Every argument that reaches the shell is quoted ([`shell_quote`]); the time limit is
/// checked with [`parse_slurm_time`] and the name is a folder name, so neither can carry
/// shell syntax into the `#SBATCH` lines.
pub fn slurm_script(experiment: &Path, name: &str, shards: u32, time: &str, cpus: u32) -> String {
    let exp = shell_quote(&experiment.display().to_string());
    format!(
        r#"#!/bin/bash
# Slurm job array for the paraverse experiment `{name}`: {shards} shards.
# Submit:  sbatch this-script.sh
# Then, when all tasks are done:
#   paraverse merge {exp}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Score;

    /// Every metric the lab records is a real field of a run's summary: a renamed field
    /// would otherwise read as "no value" in every run, silently. The siege under the
    /// full defense stack moves every kind of metric; only XR quality may be null (a run
    /// without XR traffic has none), and it is a field all the same.
    #[test]
    fn every_metric_resolves_in_a_real_runs_summary() {
        let strategy = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategies/full-stack.toml"),
        )
        .unwrap();
        let scenario = paraverse_sim::bundled::load(Some("metaverse-under-siege"))
            .unwrap()
            .with_strategy(&strategy, "full-stack.toml")
            .unwrap()
            .with_ticks(240);
        let (metrics, summary, _) = run_summary(scenario, "t").unwrap();
        for m in METRICS {
            let field = m.split('.').try_fold(&summary, |v, k| v.get(k));
            let Some(field) = field else {
                panic!("`{m}` is not a field of summary.json");
            };
            assert!(
                field.is_number() || (*m == "xr_quality" && field.is_null()),
                "`{m}` is {field}, not a number"
            );
            assert_eq!(metrics[*m], field.as_f64(), "{m}");
        }
        assert!(metrics[SECURITY_LOSS].unwrap() > 0.0, "the siege does harm");
        assert!(metrics[COST].unwrap() > 0.0, "the defenses cost");
        // The lab's score over a run's metrics is the simulator's over its objectives.
        let o = &summary["objectives"];
        let objectives = paraverse_sim::objectives::Objectives {
            security_loss: o["security_loss"].as_f64().unwrap(),
            availability: o["availability"].as_f64().unwrap(),
            cost: o["cost"].as_f64().unwrap(),
        };
        let w = Score {
            security_loss: 1.5,
            availability: -7.0,
            cost: 0.25,
            ..Score::default()
        };
        let by_metrics = w.of_metrics(|m| metrics[m].unwrap());
        assert_eq!(by_metrics.to_bits(), w.of(&objectives).to_bits());
    }
}
