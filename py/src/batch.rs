//! Many universes stepped together inside Rust: the core of the vectorised environments.
//!
//! A Python vector environment that loops over N single environments pays Python's
//! overhead N times a step. A [`Batch`] takes the whole batch's actions as one array,
//! queues them, steps every universe in parallel on the rayon pool (each universe is
//! itself deterministic at any thread count, so the batch is too), and returns every
//! observation as one buffer the Python side copies into its preallocated numpy array,
//! with the rewards and end flags: one Python call per batch step.
//!
//! Rewards are minus the change of a weighted score of the three objectives, as the
//! single environments compute them (blue's default weights are the lab's; red's reward
//! is the security loss it inflicts, weights `{"security_loss": -1}`).

use paraverse_lab::experiment::Score;
use paraverse_sim::prelude::*;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use crate::levers::{LeverSet, Levers};
use crate::views::{self, Team};
use crate::{ParaverseError, Spec, install};

/// Reads score weights given as `{"security_loss": w, "availability": w, "cost": w}`
/// pairs; an objective not given weighs 0 (as in the environments' own score).
fn weights(pairs: &[(String, f64)]) -> Result<Score, String> {
    let mut w = Score {
        security_loss: 0.0,
        availability: 0.0,
        cost: 0.0,
        ..Score::default()
    };
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "security_loss" => &mut w.security_loss,
            "availability" => &mut w.availability,
            "cost" => &mut w.cost,
            other => {
                return Err(format!(
                    "weights: unknown objective `{other}` (expected security_loss, availability, cost)"
                ));
            }
        };
        if let Some(problem) = Score::weight_problem(*value) {
            return Err(format!("weights: `{name}`: {problem}"));
        }
        *slot = *value;
    }
    Ok(w)
}

/// One member of a batch: its universe and its score after its last step.
struct Member {
    universe: Universe,
    score: f64,
}

/// N universes of one scenario, stepped together: `Batch("metaverse-campus", [1, 2, 3])`.
///
/// `seeds` gives the batch size and each member's seed; the keywords are `Universe`'s
/// (`strategy`, `ticks`, `backend`) plus the team (`blue` or `red` with the `campaign`
/// index it steers), `per_node` rows, `ticks_per_step` and the score `weights` (a dict of
/// objective weights), and the policy-level `levers` (a `Levers` built on the same
/// scenario) whose components follow each member's rows in the action array. Every member
/// is built with operator actions enabled.
#[pyclass(module = "paraverse._core", name = "Batch")]
pub struct Batch {
    spec: Spec,
    members: Vec<Member>,
    pool: Option<rayon::ThreadPool>,
    team: Team,
    per_node: bool,
    ticks_per_step: u32,
    weights: Score,
    rows: usize,
    levers: LeverSet,
}

impl Batch {
    fn member(&self, seed: u64) -> Result<Member, String> {
        let universe = self.spec.build(seed)?;
        let score = self.weights.of(&universe.objectives());
        Ok(Member { universe, score })
    }

    fn observations(&mut self) -> Vec<u8> {
        let (team, per_node) = (self.team, self.per_node);
        let mut out = Vec::with_capacity(self.members.len() * self.rows * team.features() * 4);
        for m in &mut self.members {
            views::observe(&mut m.universe, team, per_node, &mut out);
        }
        out
    }
}

#[pymethods]
impl Batch {
    #[new]
    #[pyo3(signature = (scenario, seeds, *, strategy=None, ticks=None, backend="cpu", threads=None, team="blue", campaign=0, per_node=false, ticks_per_step=1, weights=None, levers=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "Python keyword arguments, each optional"
    )]
    fn new(
        py: Python<'_>,
        scenario: &str,
        seeds: Vec<u64>,
        strategy: Option<&str>,
        ticks: Option<u32>,
        backend: &str,
        threads: Option<usize>,
        team: &str,
        campaign: u16,
        per_node: bool,
        ticks_per_step: u32,
        weights: Option<Vec<(String, f64)>>,
        levers: Option<Levers>,
    ) -> PyResult<Self> {
        if seeds.is_empty() {
            return Err(PyValueError::new_err("seeds: expected at least one"));
        }
        if ticks_per_step == 0 {
            return Err(PyValueError::new_err("ticks_per_step: expected at least 1"));
        }
        let spec = Spec::parse(Some(scenario), strategy, ticks, backend, true)?;
        let team = crate::team(&spec.scenario, team, campaign)?;
        let weights = match weights {
            Some(w) => self::weights(&w).map_err(PyValueError::new_err)?,
            None => match team {
                Team::Blue => Score::default(),
                Team::Red(_) => {
                    self::weights(&[("security_loss".into(), -1.0)]).expect("a known objective")
                }
            },
        };
        let rows = if per_node {
            spec.scenario.node_count as usize
        } else {
            spec.scenario.groups.len()
        };
        let mut batch = Self {
            spec,
            members: Vec::new(),
            pool: crate::threads(threads)?,
            team,
            per_node,
            ticks_per_step,
            weights,
            rows,
            levers: levers.map(|l| l.set).unwrap_or_default(),
        };
        batch.reset(py, seeds)?;
        Ok(batch)
    }

    /// Members in the batch.
    #[getter]
    fn size(&self) -> usize {
        self.members.len()
    }

    /// Observation rows per member (groups, or nodes with `per_node`).
    #[getter]
    fn rows(&self) -> usize {
        self.rows
    }

    /// Features per row.
    #[getter]
    fn features(&self) -> usize {
        self.team.features()
    }

    /// Actions per row.
    #[getter]
    fn actions(&self) -> usize {
        self.team.actions()
    }

    /// Policy-level components after each member's rows (the `levers`' width).
    #[getter]
    fn levers(&self) -> usize {
        self.levers.width()
    }

    /// Every member's lever state (members × levers int64 values, as `Levers.state`).
    fn lever_state(&self) -> Vec<Vec<i64>> {
        self.members
            .iter()
            .map(|m| self.levers.state(&m.universe))
            .collect()
    }

    /// Rebuilds every member with the given seeds (in parallel); returns the observations
    /// (little-endian float32, members × rows × features).
    fn reset<'py>(&mut self, py: Python<'py>, seeds: Vec<u64>) -> PyResult<Bound<'py, PyBytes>> {
        if !self.members.is_empty() && seeds.len() != self.members.len() {
            return Err(PyValueError::new_err(format!(
                "seeds: expected {} (one per member), got {}",
                self.members.len(),
                seeds.len()
            )));
        }
        let this = &*self;
        let members = py
            .detach(|| {
                install(this.pool.as_ref(), || {
                    seeds
                        .par_iter()
                        .map(|&s| this.member(s))
                        .collect::<Result<Vec<_>, String>>()
                })
            })
            .map_err(|e: String| ParaverseError::new_err(e))?;
        self.members = members;
        Ok(PyBytes::new(py, &self.observations()))
    }

    /// Rebuilds member `i` with `seed` (an episode that ended, reset on its own).
    fn reset_member(&mut self, i: usize, seed: u64) -> PyResult<()> {
        let m = self.member(seed).map_err(ParaverseError::new_err)?;
        let slot = self
            .members
            .get_mut(i)
            .ok_or_else(|| PyValueError::new_err(format!("member {i}: the batch has fewer")))?;
        *slot = m;
        Ok(())
    }

    /// Queues `actions` (int64 bytes, members × (rows + levers): each row's action index,
    /// then the lever values; members in `skip` take none) and steps every member not in `skip` by `ticks_per_step` ticks,
    /// in parallel with the GIL released. Returns `(observations, rewards, done)`:
    /// float32 bytes (members × rows × features), one reward per member (0 for skipped
    /// ones) and whether each member's run is over.
    #[pyo3(signature = (actions, skip=Vec::new()))]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &[u8],
        skip: Vec<usize>,
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<f64>, Vec<bool>)> {
        let (n, rows) = (self.members.len(), self.rows);
        let width = rows + self.levers.width();
        if actions.len() != n * width * 8 {
            return Err(PyValueError::new_err(format!(
                "actions: expected {n} × {width} int64 values ({} bytes), got {} bytes",
                n * width * 8,
                actions.len()
            )));
        }
        let actions: Vec<i64> = actions
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("chunks of 8")))
            .collect();
        // Every member's actions are checked before any is queued: all or nothing.
        let (team, per_node) = (self.team, self.per_node);
        let mut queued = Vec::with_capacity(n);
        for (i, m) in self.members.iter_mut().enumerate() {
            let mine = if skip.contains(&i) {
                Vec::new()
            } else {
                let mine = &actions[i * width..][..width];
                self.levers
                    .check(&mine[rows..])
                    .and_then(|()| {
                        views::row_actions(&mut m.universe, team, per_node, &mine[..rows])
                    })
                    .map_err(|e| PyValueError::new_err(format!("member {i}: {e}")))?
            };
            queued.push(mine);
        }
        for (i, (m, queue)) in self.members.iter_mut().zip(queued).enumerate() {
            if !queue.is_empty() {
                m.universe.act(&queue).map_err(ParaverseError::new_err)?;
            }
            if !skip.contains(&i) && self.levers.width() > 0 {
                let levers = &actions[i * width + rows..][..width - rows];
                install(self.pool.as_ref(), || {
                    self.levers.apply(&mut m.universe, levers)
                })
                .map_err(ParaverseError::new_err)?;
            }
        }
        let (ticks, weights) = (self.ticks_per_step, self.weights);
        let pool = self.pool.as_ref();
        let members = &mut self.members;
        let rewards: Vec<f64> = py.detach(|| {
            install(pool, || {
                members
                    .par_iter_mut()
                    .enumerate()
                    .map(|(i, m)| {
                        if skip.contains(&i) {
                            return 0.0;
                        }
                        for _ in 0..ticks {
                            if !m.universe.step() {
                                break;
                            }
                        }
                        let score = weights.of(&m.universe.objectives());
                        let reward = -(score - m.score);
                        m.score = score;
                        reward
                    })
                    .collect()
            })
        });
        if let Some((i, fault)) = self
            .members
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.universe.fault().map(|f| (i, f.to_owned())))
        {
            return Err(ParaverseError::new_err(format!("member {i}: {fault}")));
        }
        let done = self
            .members
            .iter()
            .map(|m| crate::finished(&m.universe))
            .collect();
        Ok((PyBytes::new(py, &self.observations()), rewards, done))
    }

    /// The action masks (1 or 0 bytes, members × rows × actions), as the single
    /// environments' `info["action_mask"]`.
    fn action_mask<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let (team, per_node) = (self.team, self.per_node);
        let mut out = Vec::with_capacity(self.members.len() * self.rows * team.actions());
        for m in &mut self.members {
            views::mask(&mut m.universe, team, per_node, &mut out);
        }
        PyBytes::new(py, &out)
    }

    /// Every member's observation now (as `reset` and `step` return them).
    fn observe<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.observations())
    }

    /// Each member's tick.
    fn ticks(&self) -> Vec<u32> {
        self.members
            .iter()
            .map(|m| m.universe.clock().tick)
            .collect()
    }

    /// Each member's objectives so far: `(security_loss, availability, cost)`.
    fn objectives(&self) -> Vec<(f64, f64, f64)> {
        self.members
            .iter()
            .map(|m| {
                let o = m.universe.objectives();
                (o.security_loss, o.availability, o.cost)
            })
            .collect()
    }
}
