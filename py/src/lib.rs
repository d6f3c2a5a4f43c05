//! `paraverse._core`: the native half of the `paraverse` Python package.
//!
//! Agent researchers drive simulators from Python; this module gives them the same
//! universes, runs and sweeps as the CLI, with nothing re-implemented: a [`Universe`] is
//! the simulator's own `Universe` with the CLI's plugins, built from a bundled name or a
//! file (and optionally a strategy), stepped tick by tick with the GIL released. Results
//! come back as the CLI writes them: the summary as a dict (the same JSON as
//! `summary.json`), the time series, per-zone series, events and flows as pyarrow Tables
//! (the same typed columns as the CLI's Parquet files, read from the bytes the table crate
//! writes). Bad input raises [`ScenarioError`] (a `ValueError`) with the CLI's message,
//! file, line, column and field included.
//!
//! The pure-Python half (`py/python/paraverse/`) re-exports these and adds the agent
//! environments.

mod batch;
mod levers;
mod views;

use std::sync::Mutex;

use paraverse_lab::{Experiment, LabError, runner, stats, tables};
use paraverse_sim::bundled;
use paraverse_sim::metrics::RunRecord;
use paraverse_sim::operator::OperatorAction;
use paraverse_sim::operator::script::Command;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::Scenario;
use paraverse_sim::scenario::ScenarioError as SimScenarioError;
use paraverse_table::Table;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use views::Team;

pyo3::create_exception!(
    _core,
    ScenarioError,
    PyValueError,
    "A scenario, strategy or experiment is invalid; the message names the file, line, column and field, as the CLI does."
);
pyo3::create_exception!(
    _core,
    ParaverseError,
    PyRuntimeError,
    "A run or sweep could not be made (not bad input): a build, I/O or GPU failure."
);

fn scenario_error(e: SimScenarioError) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

fn lab_error(e: LabError) -> PyErr {
    match e {
        LabError::Invalid(e) => scenario_error(e),
        other => ParaverseError::new_err(other.to_string()),
    }
}

/// The plugins every run uses, as the CLI's, and the operator's when the caller acts.
fn plugins(operator: bool) -> Vec<&'static dyn SimPlugin> {
    if operator {
        paraverse_lab::plugins::plugins_with_operator().to_vec()
    } else {
        paraverse_lab::plugins::plugins().to_vec()
    }
}

/// Whether a run is over: every tick simulated, or a fault stopped it.
fn finished(u: &Universe) -> bool {
    let c = u.clock();
    c.tick >= c.ticks || u.fault().is_some()
}

/// What a universe is built from: the scenario (with its strategy and length applied), the
/// traffic backend and whether it takes operator actions.
struct Spec {
    scenario: Scenario,
    backend: BackendChoice,
    operator: bool,
}

impl Spec {
    /// Loads a bundled name or scenario file, applies a bundled or file strategy and a run
    /// length, and parses the backend; bad input is a [`ScenarioError`] or `ValueError`.
    fn parse(
        scenario: Option<&str>,
        strategy: Option<&str>,
        ticks: Option<u32>,
        backend: &str,
        operator: bool,
    ) -> PyResult<Self> {
        let mut s = bundled::load(scenario).map_err(scenario_error)?;
        if let Some(strategy) = strategy {
            s = bundled::with_strategy(s, std::path::Path::new(strategy))
                .map_err(scenario_error)?;
        }
        if let Some(ticks) = ticks {
            if ticks == 0 {
                return Err(PyValueError::new_err("ticks: expected at least 1"));
            }
            s = s.with_ticks(ticks);
        }
        let backend: BackendChoice = backend.parse().map_err(PyValueError::new_err)?;
        Ok(Self {
            scenario: s,
            backend,
            operator,
        })
    }

    /// Builds the universe with this seed (on the current rayon pool).
    fn build(&self, seed: u64) -> Result<Universe, String> {
        let s = self.scenario.clone().with_seed(seed);
        Universe::build_with(s, self.backend, &plugins(self.operator))
            .map_err(|e| format!("cannot build the world: {e}"))
    }
}

/// A table as a `pyarrow.Table`, through its Parquet bytes (typed columns, as the CLI's
/// `.parquet` files).
fn arrow<'py>(py: Python<'py>, table: &Table) -> PyResult<Bound<'py, PyAny>> {
    let bytes = table
        .parquet()
        .map_err(|e| ParaverseError::new_err(e.to_string()))?;
    let pa = py.import("pyarrow")?;
    let reader = pa.call_method1("BufferReader", (PyBytes::new(py, &bytes),))?;
    py.import("pyarrow.parquet")?
        .call_method1("read_table", (reader,))
}

/// Runs `f` on `pool` if there is one, else on the global rayon pool.
fn install<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Parses a team name; red's campaign must be one of the scenario's.
fn team(scenario: &Scenario, name: &str, campaign: u16) -> PyResult<Team> {
    let team = Team::parse(name, campaign).map_err(PyValueError::new_err)?;
    let n = scenario.campaigns.len();
    if let Team::Red(c) = team
        && usize::from(c) >= n
    {
        return Err(PyValueError::new_err(format!(
            "campaign {c}: {} has {n} campaigns{}",
            scenario.name,
            if n == 0 {
                ", none for red to steer"
            } else {
                ""
            }
        )));
    }
    Ok(team)
}

/// The most worker threads a pool takes, as the CLI's `--threads`.
const MAX_THREADS: usize = runner::MAX_THREADS as usize;

fn threads(n: Option<usize>) -> PyResult<Option<rayon::ThreadPool>> {
    n.map(|n| {
        if !(1..=MAX_THREADS).contains(&n) {
            return Err(PyValueError::new_err(format!(
                "threads: {n}: expected 1 to {MAX_THREADS}"
            )));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| ParaverseError::new_err(format!("cannot start {n} threads: {e}")))
    })
    .transpose()
}

/// A simulated network, stepped tick by tick: `Universe("metaverse-campus", seed=7)`.
///
/// `scenario` is a bundled name (`paraverse.scenarios()`) or a path to a scenario file;
/// `strategy` a bundled strategy name or a strategy file, which replaces the scenario's
/// defenses; `seed` and `ticks` override the scenario's; `backend` is the traffic backend
/// (`cpu`, `gpu` or `auto`; results do not depend on it); `threads` the worker threads
/// (default: all cores); `operator=True` lets the caller act between ticks (`act`,
/// `act_group`: quarantine, release, patch, counted in the cost as the scripted defenses
/// are). The same scenario, seed, strategy (and actions) give bit-identical results at
/// any thread count, as the CLI's `paraverse run`.
#[pyclass(module = "paraverse._core", name = "Universe")]
struct PyUniverse {
    inner: Mutex<Universe>,
    pool: Option<rayon::ThreadPool>,
}

impl PyUniverse {
    fn with<R>(&self, f: impl FnOnce(&mut Universe) -> R) -> PyResult<R> {
        let mut u = self
            .inner
            .lock()
            .map_err(|_| ParaverseError::new_err("the universe was poisoned by a panic"))?;
        Ok(f(&mut u))
    }

    fn record(&self) -> PyResult<RunRecord> {
        self.with(|u| u.record())
    }

    /// Parses a team name against this universe's scenario ([`team`]).
    fn team(&self, name: &str, campaign: u16) -> PyResult<Team> {
        self.with(|u| team(u.scenario(), name, campaign))?
    }

    /// Runs `f` on this universe's thread pool (or the global one).
    fn on_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        install(self.pool.as_ref(), f)
    }
}

#[pymethods]
impl PyUniverse {
    #[new]
    #[pyo3(signature = (scenario=None, *, seed=None, strategy=None, ticks=None, backend="cpu", threads=None, operator=false))]
    #[expect(
        clippy::too_many_arguments,
        reason = "Python keyword arguments, each optional"
    )]
    fn new(
        py: Python<'_>,
        scenario: Option<&str>,
        seed: Option<u64>,
        strategy: Option<&str>,
        ticks: Option<u32>,
        backend: &str,
        threads: Option<usize>,
        operator: bool,
    ) -> PyResult<Self> {
        let spec = Spec::parse(scenario, strategy, ticks, backend, operator)?;
        let seed = seed.unwrap_or(spec.scenario.seed);
        let pool = self::threads(threads)?;
        let build = || spec.build(seed);
        let universe = py
            .detach(|| install(pool.as_ref(), build))
            .map_err(ParaverseError::new_err)?;
        Ok(Self {
            inner: Mutex::new(universe),
            pool,
        })
    }

    /// Simulates up to `n` ticks (default 1), with the GIL released; returns how many ran
    /// (fewer at the end of the run).
    #[pyo3(signature = (n=1))]
    fn step(&self, py: Python<'_>, n: u32) -> PyResult<u32> {
        let ran = py.detach(|| {
            self.with(|u| {
                install(self.pool.as_ref(), || {
                    (0..n).take_while(|_| u.step()).count() as u32
                })
            })
        })?;
        if let Some(fault) = self.with(|u| u.fault().map(str::to_owned))? {
            return Err(ParaverseError::new_err(fault));
        }
        Ok(ran)
    }

    /// Simulates every remaining tick; returns how many ran.
    fn run(&self, py: Python<'_>) -> PyResult<u32> {
        let left = self.with(|u| {
            let c = u.clock();
            c.ticks - c.tick
        })?;
        self.step(py, left)
    }

    /// Ticks simulated so far.
    #[getter]
    fn tick(&self) -> PyResult<u32> {
        self.with(|u| u.clock().tick)
    }

    /// Ticks in the whole run.
    #[getter]
    fn ticks(&self) -> PyResult<u32> {
        self.with(|u| u.clock().ticks)
    }

    /// Simulated seconds so far.
    #[getter]
    fn time_s(&self) -> PyResult<f64> {
        self.with(|u| {
            let c = u.clock();
            c.seconds_at(c.tick)
        })
    }

    /// Whether the run is over (every tick simulated, or a fault stopped it).
    #[getter]
    fn done(&self) -> PyResult<bool> {
        self.with(|u| finished(u))
    }

    /// The scenario's name.
    #[getter]
    fn name(&self) -> PyResult<String> {
        self.with(|u| u.scenario().name.clone())
    }

    /// The seed.
    #[getter]
    fn seed(&self) -> PyResult<u64> {
        self.with(|u| u.scenario().seed)
    }

    /// Nodes in the network.
    #[getter]
    fn nodes(&self) -> PyResult<u32> {
        self.with(|u| u.scenario().node_count)
    }

    /// The summary so far, as a dict: the same JSON as the CLI's `summary.json`.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let summary = self.with(|u| u.summary())?;
        let json = serde_json::to_string(&summary)
            .map_err(|e| ParaverseError::new_err(format!("summary: {e}")))?;
        py.import("json")?.call_method1("loads", (json,))
    }

    /// The time series so far (one row per tick, tick 0 the initial state) as a
    /// pyarrow Table, with the columns of the CLI's `timeseries.parquet`.
    fn timeseries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        arrow(py, &self.record()?.series_table())
    }

    /// The per-zone series so far (one row per tick and zone), as `zones.parquet`.
    fn zones<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        arrow(py, &self.record()?.zones_table())
    }

    /// The event log so far, as `events.parquet`.
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        arrow(py, &self.record()?.events_table())
    }

    /// Every flow's demand and rate per tick (`[recording] flows = true`), or None.
    fn flows<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.record()?
            .flows
            .as_ref()
            .map(|t| arrow(py, t))
            .transpose()
    }

    /// The scenario's groups, in node order: dicts of `name`, `kind`, `zone`,
    /// `first_node` and `count` (node ids `first_node .. first_node + count`).
    fn groups<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let groups: Vec<_> = self.with(|u| {
            let s = u.scenario();
            s.groups
                .iter()
                .map(|g| {
                    (
                        g.name.clone(),
                        g.kind.name(),
                        s.zones[g.zone as usize].clone(),
                        g.first_node,
                        g.count,
                    )
                })
                .collect()
        })?;
        groups
            .into_iter()
            .map(|(name, kind, zone, first, count)| {
                let d = PyDict::new(py);
                d.set_item("name", name)?;
                d.set_item("kind", kind)?;
                d.set_item("zone", zone)?;
                d.set_item("first_node", first)?;
                d.set_item("count", count)?;
                Ok(d)
            })
            .collect()
    }

    /// What a team's sensors show, per group (or with `per_node=True` per node), as
    /// little-endian float32 bytes, rows × features (`numpy.frombuffer(b, "<f4")`): for
    /// `team="blue"` the shares of the row's nodes that are alerted, quarantined, patched
    /// and out of service (never which nodes are compromised: that is ground truth, not a
    /// sensor); for `team="red"` the shares its `campaign` holds, that are isolated
    /// (silent on the network) and out of service (never the defenders' alerts or
    /// patches).
    #[pyo3(signature = (team="blue", *, per_node=false, campaign=0))]
    fn observation<'py>(
        &self,
        py: Python<'py>,
        team: &str,
        per_node: bool,
        campaign: u16,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let team = self.team(team, campaign)?;
        let bytes = self.with(|u| {
            let mut out = Vec::new();
            views::observe(u, team, per_node, &mut out);
            out
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Blue's observation: `observation("blue", per_node=per_node)`.
    #[pyo3(signature = (per_node=false))]
    fn blue_observation<'py>(
        &self,
        py: Python<'py>,
        per_node: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.observation(py, "blue", per_node, 0)
    }

    /// Queues operator actions for the next tick: `kind` is `quarantine`, `release`,
    /// `patch`, `harden` or `revoke` (blue), or `exploit` (red, for the scenario's campaign of index
    /// `campaign`: the node is taken if it is exposed, i.e. neither held, isolated nor
    /// patched); `nodes` the node ids. Needs `operator=True`.
    #[pyo3(signature = (kind, nodes, *, campaign=0))]
    fn act(&self, kind: &str, nodes: Vec<u32>, campaign: u16) -> PyResult<()> {
        let (team, action) = views::named(kind, campaign).map_err(PyValueError::new_err)?;
        let actions: Vec<OperatorAction> = nodes
            .into_iter()
            .map(|node| views::node_action(team, node, action))
            .collect::<Result<Vec<_>, _>>()
            .map_err(PyValueError::new_err)?
            .into_iter()
            .flatten()
            .collect();
        self.with(|u| u.act(&actions))?
            .map_err(PyValueError::new_err)
    }

    /// Queues one group-level action for the next tick, as the agent environments index
    /// them. Blue: 0 `none`, 1 `quarantine_alerted` (every alerted node not yet
    /// isolated), 2 `release` (every isolated node), 3 `patch` (every unpatched node), 4
    /// `harden` (every node with default credentials), 5 `revoke` (every node's
    /// credentials).
    /// Red (`team="red"`, steering `campaign`): 0 `none`, 1 `exploit` (one node of the
    /// group it neither holds nor sees isolated, drawn from the seed, tick and group).
    /// Returns how many node actions it queued. Needs `operator=True`.
    #[pyo3(signature = (group, action, *, team="blue", campaign=0))]
    fn act_group(&self, group: usize, action: usize, team: &str, campaign: u16) -> PyResult<usize> {
        let team = self.team(team, campaign)?;
        self.with(|u| {
            let actions = views::group_actions(u, team, group, action)?;
            u.act(&actions)?;
            Ok::<_, String>(actions.len())
        })?
        .map_err(PyValueError::new_err)
    }

    /// Queues one action per row (group, or node with `per_node=True`) as the
    /// environments' `MultiDiscrete` action vectors index them; returns how many node
    /// actions it queued. Needs `operator=True`.
    #[pyo3(signature = (actions, *, team="blue", per_node=false, campaign=0))]
    fn act_rows(
        &self,
        actions: Vec<i64>,
        team: &str,
        per_node: bool,
        campaign: u16,
    ) -> PyResult<usize> {
        let team = self.team(team, campaign)?;
        self.with(|u| {
            let rows = views::spans(u, per_node).len();
            if actions.len() != rows {
                return Err(format!(
                    "actions: expected {rows}, one per row, got {}",
                    actions.len()
                ));
            }
            views::act_rows(u, team, per_node, &actions)
        })?
        .map_err(PyValueError::new_err)
    }

    /// Gives one exercise command, as a player types it at `paraverse watch`'s `:` prompt
    /// and a `--actions` script holds it: blue's `quarantine|release|patch|harden|revoke
    /// GROUP|NODE`, `isolate|reconnect ZONE [ZONE]` (cut two zones apart, or one from all
    /// others) and `strategy NAME|FILE` (deploy a bundled strategy or a strategy file from
    /// the next tick on); red's `exploit GROUP|NODE [CAMPAIGN]` and `launch CAMPAIGN`
    /// (start a campaign ahead of its schedule). Applied at the start of the next tick;
    /// returns how many node (or zone-pair) actions it queued; raises `ValueError` with
    /// the reason for a bad or refused command. Needs `operator=True`.
    fn command(&self, py: Python<'_>, text: &str) -> PyResult<usize> {
        let pool = self.pool.as_ref();
        let queued = py.detach(|| {
            self.with(|u| {
                install(pool, || {
                    let command = Command::parse(text, u.scenario())?;
                    command.queue(u)
                })
            })
        })?;
        queued.map_err(PyValueError::new_err)
    }

    /// Which of a team's actions would do something now, as bytes (1 or 0, per row its
    /// actions in order: `GROUP_ACTIONS`/`NODE_ACTIONS` for blue, `RED_ACTIONS` for
    /// red). `none` always can. Blue: quarantine where a node is alerted (per node: any
    /// node) and not isolated, `release` where one is isolated, `patch` where one is
    /// unpatched, `harden` where one is not hardened, `revoke` always. Red: `exploit`
    /// where a node is neither held nor isolated. The environments' action mask.
    #[pyo3(signature = (per_node=false, *, team="blue", campaign=0))]
    fn action_mask<'py>(
        &self,
        py: Python<'py>,
        per_node: bool,
        team: &str,
        campaign: u16,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let team = self.team(team, campaign)?;
        let bytes = self.with(|u| {
            let mut out = Vec::new();
            views::mask(u, team, per_node, &mut out);
            out
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The scenario's campaigns, in index order: dicts of `name` and `kind`.
    fn campaigns<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let campaigns: Vec<(String, &'static str)> = self.with(|u| {
            u.scenario()
                .campaigns
                .iter()
                .map(|c| (c.name.clone(), c.kind.name()))
                .collect()
        })?;
        campaigns
            .into_iter()
            .map(|(name, kind)| {
                let d = PyDict::new(py);
                d.set_item("name", name)?;
                d.set_item("kind", kind)?;
                Ok(d)
            })
            .collect()
    }

    /// The three objectives so far: `security_loss`, `availability`, `cost`.
    fn objectives<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let o = self.with(|u| u.objectives())?;
        let d = PyDict::new(py);
        d.set_item("security_loss", o.security_loss)?;
        d.set_item("availability", o.availability)?;
        d.set_item("cost", o.cost)?;
        Ok(d)
    }

    fn __repr__(&self) -> PyResult<String> {
        self.with(|u| {
            let c = u.clock();
            format!(
                "Universe({:?}, seed={}, nodes={}, tick={}/{})",
                u.scenario().name,
                u.scenario().seed,
                u.scenario().node_count,
                c.tick,
                c.ticks
            )
        })
    }
}

/// Runs an experiment file's sweep (points × replicas, in parallel, the GIL released)
/// into `results/<experiment name>/`, resuming whatever an earlier, interrupted sweep
/// left there, as `paraverse sweep` does. Returns a dict: `runs` and `points` (pyarrow
/// Tables with the columns of `runs.csv` and `points.csv`), `dir`, `resumed`, `ran`.
#[pyfunction]
#[pyo3(signature = (experiment, *, results="results", threads=None))]
fn sweep<'py>(
    py: Python<'py>,
    experiment: &str,
    results: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let exp = Experiment::load(std::path::Path::new(experiment)).map_err(lab_error)?;
    let dir = runner::results_dir(std::path::Path::new(results), &exp, None);
    let pool = self::threads(threads)?;
    let go = || runner::sweep(&exp, &dir, None, &|_, _| {});
    let outcome = py
        .detach(|| install(pool.as_ref(), go))
        .map_err(lab_error)?;
    let kinds = tables::SettingKinds::of(&exp);
    let points = stats::summarise(&outcome.runs, &exp.file.score);
    let out = PyDict::new(py);
    out.set_item("runs", arrow(py, &tables::runs(&kinds, &outcome.runs))?)?;
    out.set_item("points", arrow(py, &tables::points(&kinds, &points))?)?;
    out.set_item("dir", dir.display().to_string())?;
    out.set_item("resumed", outcome.resumed)?;
    out.set_item("ran", outcome.ran)?;
    Ok(out)
}

/// The bundled scenario names.
#[pyfunction]
fn scenarios() -> Vec<&'static str> {
    bundled::ALL.iter().map(|b| b.name).collect()
}

/// The TOML text of a bundled scenario (`paraverse.scenarios()`), e.g. to write a variant
/// of it.
#[pyfunction]
fn scenario_text(name: &str) -> PyResult<&'static str> {
    bundled::get(name).map(|b| b.text).ok_or_else(|| {
        let names: Vec<&str> = bundled::ALL.iter().map(|b| b.name).collect();
        PyValueError::new_err(format!(
            "no bundled scenario `{name}`{}: expected one of {}",
            paraverse_sim::scenario::did_you_mean(paraverse_sim::scenario::closest(
                name,
                names.iter().copied()
            )),
            names.join(", ")
        ))
    })
}

/// The bundled strategy names.
#[pyfunction]
fn strategies() -> Vec<&'static str> {
    bundled::STRATEGIES.iter().map(|b| b.name).collect()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyUniverse>()?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(scenarios, m)?)?;
    m.add_function(wrap_pyfunction!(strategies, m)?)?;
    m.add_function(wrap_pyfunction!(scenario_text, m)?)?;
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("ParaverseError", m.py().get_type::<ParaverseError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<batch::Batch>()?;
    m.add_class::<levers::Levers>()?;
    m.add("GROUP_ACTIONS", views::BLUE_GROUP_ACTIONS.to_vec())?;
    m.add("NODE_ACTIONS", views::BLUE_NODE_ACTIONS.to_vec())?;
    m.add("RED_ACTIONS", views::RED_ACTIONS.to_vec())?;
    m.add("BLUE_FEATURE_NAMES", views::BLUE_FEATURES.to_vec())?;
    m.add("RED_FEATURE_NAMES", views::RED_FEATURES.to_vec())?;
    m.add("BLUE_FEATURES", views::BLUE_FEATURES.len())?;
    let score = paraverse_lab::experiment::Score::default();
    let weights = PyDict::new(m.py());
    for (name, w) in score.weights() {
        weights.set_item(name, w)?;
    }
    m.add("DEFAULT_WEIGHTS", weights)?;
    m.add("MAX_WEIGHT", paraverse_lab::experiment::Score::MAX_WEIGHT)?;
    Ok(())
}
