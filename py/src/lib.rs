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

use std::sync::Mutex;

use paraverse_attackers::AttackerPlugin;
use paraverse_defenders::DefenderPlugin;
use paraverse_lab::{Experiment, LabError, runner, stats, tables};
use paraverse_sim::bundled;
use paraverse_sim::metrics::RunRecord;
use paraverse_sim::operator::{OperatorAction, OperatorPlugin};
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::ScenarioError as SimScenarioError;
use paraverse_table::Table;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

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
    let mut p: Vec<&'static dyn SimPlugin> = vec![&AttackerPlugin, &DefenderPlugin];
    if operator {
        p.push(&OperatorPlugin);
    }
    p
}

/// Features per group in [`PyUniverse::blue_observation`].
const BLUE_FEATURES: usize = 4;

/// The group-level actions of [`PyUniverse::act_group`], in the order agents index them.
const GROUP_ACTIONS: [&str; 4] = ["none", "quarantine_alerted", "release", "patch"];

/// The node-level actions, in the order agents index them (`act` takes the names).
const NODE_ACTIONS: [&str; 4] = ["none", "quarantine", "release", "patch"];

/// The defenders' view of one node: alerted, quarantined, patched, out of service.
fn blue_view(s: &Security) -> [bool; BLUE_FEATURES] {
    [s.alerted, s.quarantined, s.patched, !s.serving()]
}

/// (first node, count) of every group, or of every node alone.
fn spans(u: &Universe, per_node: bool) -> Vec<(u32, u32)> {
    if per_node {
        (0..u.scenario().node_count).map(|n| (n, 1)).collect()
    } else {
        u.scenario().group_spans()
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

fn threads(n: Option<usize>) -> PyResult<Option<rayon::ThreadPool>> {
    n.map(|n| {
        if n == 0 {
            return Err(PyValueError::new_err("threads: expected at least 1"));
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
        let mut s = bundled::load(scenario).map_err(scenario_error)?;
        if let Some(strategy) = strategy {
            let (text, origin) =
                bundled::strategy_text(std::path::Path::new(strategy)).map_err(scenario_error)?;
            s = s.with_strategy(&text, &origin).map_err(scenario_error)?;
        }
        if let Some(seed) = seed {
            s = s.with_seed(seed);
        }
        if let Some(ticks) = ticks {
            if ticks == 0 {
                return Err(PyValueError::new_err("ticks: expected at least 1"));
            }
            s = s.with_ticks(ticks);
        }
        let backend: BackendChoice = backend.parse().map_err(PyValueError::new_err)?;
        let pool = self::threads(threads)?;
        let build = move || Universe::build_with(s, backend, &plugins(operator));
        let universe = py
            .detach(|| match &pool {
                Some(p) => p.install(build),
                None => build(),
            })
            .map_err(|e| ParaverseError::new_err(format!("cannot build the world: {e}")))?;
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
                let mut go = || (0..n).take_while(|_| u.step()).count() as u32;
                match &self.pool {
                    Some(p) => p.install(go),
                    None => go(),
                }
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
        self.with(|u| {
            let c = u.clock();
            c.tick >= c.ticks || u.fault().is_some()
        })
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

    /// What the defenders' sensors show, per group (or with `per_node=True` per node):
    /// the shares of its nodes that are alerted, quarantined, patched and out of service
    /// (encrypted or overwhelmed), as little-endian float32 bytes, groups (or nodes) × 4
    /// (`numpy.frombuffer(b, "<f4")`). Never which nodes are compromised: that is ground
    /// truth, not a sensor.
    #[pyo3(signature = (per_node=false))]
    fn blue_observation<'py>(
        &self,
        py: Python<'py>,
        per_node: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.with(|u| {
            let spans = spans(u, per_node);
            u.with_security(|security| {
                let mut out = Vec::with_capacity(spans.len() * BLUE_FEATURES * 4);
                for (first, count) in spans {
                    let mut seen = [0u32; BLUE_FEATURES];
                    for s in &security[first as usize..(first + count) as usize] {
                        for (k, on) in blue_view(s).into_iter().enumerate() {
                            seen[k] += u32::from(on);
                        }
                    }
                    for n in seen {
                        let share = n as f32 / count.max(1) as f32;
                        out.extend_from_slice(&share.to_le_bytes());
                    }
                }
                out
            })
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Queues operator actions for the next tick: `kind` is `quarantine`, `release` or
    /// `patch`, `nodes` the node ids. Needs `operator=True`.
    fn act(&self, kind: &str, nodes: Vec<u32>) -> PyResult<()> {
        let make: fn(u32) -> OperatorAction = match kind {
            "quarantine" => OperatorAction::Quarantine,
            "release" => OperatorAction::Release,
            "patch" => OperatorAction::Patch,
            other => {
                return Err(PyValueError::new_err(format!(
                    "`{other}`: expected quarantine, release or patch"
                )));
            }
        };
        let actions: Vec<OperatorAction> = nodes.into_iter().map(make).collect();
        self.with(|u| u.act(&actions))?
            .map_err(PyValueError::new_err)
    }

    /// Queues one group-level action for the next tick, as the agent environments index
    /// them: 0 `none`, 1 `quarantine_alerted` (every alerted node not yet isolated), 2
    /// `release` (every isolated node), 3 `patch` (every unpatched node). Returns how many
    /// node actions it queued. Needs `operator=True`.
    fn act_group(&self, group: usize, action: usize) -> PyResult<usize> {
        if action >= GROUP_ACTIONS.len() {
            return Err(PyValueError::new_err(format!(
                "action {action}: expected 0 to {} ({})",
                GROUP_ACTIONS.len() - 1,
                GROUP_ACTIONS.join(", ")
            )));
        }
        self.with(|u| {
            let Some(g) = u.scenario().groups.get(group) else {
                return Err(PyValueError::new_err(format!(
                    "group {group}: the scenario has {}",
                    u.scenario().groups.len()
                )));
            };
            let (first, count) = (g.first_node, g.count);
            let actions: Vec<OperatorAction> = u.with_security(|security| {
                (first..first + count)
                    .filter_map(|n| {
                        let s = &security[n as usize];
                        match action {
                            1 if s.alerted && !s.quarantined => Some(OperatorAction::Quarantine(n)),
                            2 if s.quarantined => Some(OperatorAction::Release(n)),
                            3 if !s.patched => Some(OperatorAction::Patch(n)),
                            _ => None,
                        }
                    })
                    .collect()
            });
            u.act(&actions).map_err(PyValueError::new_err)?;
            Ok(actions.len())
        })?
    }

    /// Which actions would do something now, as bytes (1 or 0, 4 per group in
    /// [`GROUP_ACTIONS`] order, or with `per_node=True` 4 per node in [`NODE_ACTIONS`]
    /// order): `none` always; quarantine where a node is alerted (per node: any node) and
    /// not isolated; `release` where a node is isolated; `patch` where one is unpatched.
    /// The environments' action mask.
    #[pyo3(signature = (per_node=false))]
    fn action_mask<'py>(&self, py: Python<'py>, per_node: bool) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.with(|u| {
            let spans = spans(u, per_node);
            u.with_security(|security| {
                let mut out = Vec::with_capacity(spans.len() * GROUP_ACTIONS.len());
                for (first, count) in spans {
                    let nodes = &security[first as usize..(first + count) as usize];
                    let any = |f: &dyn Fn(&Security) -> bool| u8::from(nodes.iter().any(f));
                    out.push(1u8);
                    out.push(any(&|s| (per_node || s.alerted) && !s.quarantined));
                    out.push(any(&|s| s.quarantined));
                    out.push(any(&|s| !s.patched));
                }
                out
            })
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The three objectives so far: `security_loss`, `availability`, `cost`.
    fn objectives<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let o = self.with(|u| u.summary().objectives)?;
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
        .detach(|| match &pool {
            Some(p) => p.install(go),
            None => go(),
        })
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
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("ParaverseError", m.py().get_type::<ParaverseError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GROUP_ACTIONS", GROUP_ACTIONS.to_vec())?;
    m.add("NODE_ACTIONS", NODE_ACTIONS.to_vec())?;
    m.add("BLUE_FEATURES", BLUE_FEATURES)?;
    Ok(())
}
