//! Policy-level actions for agents: an action head beside the per-row one.
//!
//! The per-row actions act on nodes (quarantine a group's alerted nodes, exploit one of
//! its nodes). A defender also changes policy: it cuts two zones apart, or deploys another
//! strategy (a stricter zero trust, DDoS scrubbing, segmentation), and an attacker starts
//! a campaign ahead of its schedule. The exercise gives these as commands
//! (`isolate`, `strategy`, `launch`: `sim::operator::script`); a [`LeverSet`] gives them
//! to agents as a few more components of the action vector, each an integer with a
//! small range, so a `MultiDiscrete` space, a vector of environments and PettingZoo carry
//! them as they carry the rows.
//!
//! Every component states the *wanted* state, not a change: for a zone pair 1 = cut,
//! 0 = connected; for the strategy k = the k-th candidate in force (0 the one the
//! universe started with); for a launch 1 = under way. A component whose state already
//! holds does nothing, so an all-zero vector never changes anything that nothing changed
//! before, and the state after a step is the action's lever part (what
//! [`LeverSet::state`] reads back from the universe). A launch cannot be taken back: 0
//! leaves a campaign under way. Orders take effect as the per-row actions do: a cut at
//! the start of the next tick, a strategy from the next tick on
//! ([`paraverse_sim::operator::deploy`]).

use paraverse_sim::operator::script::zone_of;
use paraverse_sim::operator::{Launches, OperatorAction};
use paraverse_sim::policy::AccessPolicy;
use paraverse_sim::prelude::*;
use paraverse_sim::scenario::Scenario;
use paraverse_sim::world::CampaignId;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::PyUniverse;
use crate::views::Team;

/// The policy-level components an agent's action vector ends with.
#[derive(Clone, Default)]
pub struct LeverSet {
    /// Zone pairs blue may cut, one binary component each, in this order.
    pairs: Vec<(u16, u16)>,
    /// Strategies blue may deploy (one component with a value per entry; empty: no
    /// component). Entry 0 is the universe's starting scenario.
    strategies: Vec<Scenario>,
    /// The campaign red may launch (one binary component).
    launch: Option<CampaignId>,
    /// One name per component, for messages and `names`.
    names: Vec<String>,
}

impl LeverSet {
    /// Levers for `scenario` (the universe's starting one): `cuts` zone pairs by name
    /// (each pair once, two different zones), `strategies` bundled names or files (each
    /// must apply to the scenario), and red's `launch` of its campaign.
    pub fn new(
        scenario: &Scenario,
        cuts: &[(String, String)],
        strategies: &[String],
        launch: Option<CampaignId>,
    ) -> Result<Self, String> {
        let mut set = Self::default();
        for (a, b) in cuts {
            let (x, y) = (zone_of(a, scenario)?, zone_of(b, scenario)?);
            if x == y {
                return Err(format!(
                    "cuts: `{a}` and `{b}` are one zone; a cut needs two"
                ));
            }
            let pair = (x.min(y), x.max(y));
            if set.pairs.contains(&pair) {
                return Err(format!("cuts: the pair `{a}`, `{b}` is given twice"));
            }
            set.pairs.push(pair);
            set.names.push(format!("cut {a}|{b}"));
        }
        if !strategies.is_empty() {
            set.strategies.push(scenario.clone());
            for name in strategies {
                let path = std::path::Path::new(name);
                let candidate = paraverse_sim::bundled::with_strategy(scenario.clone(), path)
                    .map_err(|e| e.to_string())?;
                set.strategies.push(candidate);
            }
            set.names.push(format!(
                "strategy: 0 = as started{}",
                strategies
                    .iter()
                    .enumerate()
                    .fold(String::new(), |t, (k, s)| format!("{t}, {} = {s}", k + 1))
            ));
        }
        if let Some(c) = launch {
            let campaign = scenario
                .campaigns
                .get(usize::from(c))
                .ok_or_else(|| format!("launch: the scenario has no campaign {c}"))?;
            set.launch = Some(c);
            set.names.push(format!("launch {}", campaign.name));
        }
        Ok(set)
    }

    /// Every zone pair of `scenario`, by name, in order: what `cuts=True` stands for.
    pub fn all_pairs(scenario: &Scenario) -> Vec<(String, String)> {
        let z = &scenario.zones;
        (0..z.len())
            .flat_map(|a| (a + 1..z.len()).map(move |b| (z[a].clone(), z[b].clone())))
            .collect()
    }

    /// Components.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Each component's number of values (a `MultiDiscrete`'s `nvec`).
    pub fn nvec(&self) -> Vec<i64> {
        let mut n = vec![2; self.pairs.len()];
        if !self.strategies.is_empty() {
            n.push(self.strategies.len() as i64);
        }
        if self.launch.is_some() {
            n.push(2);
        }
        n
    }

    /// What each component is.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Fails, naming the component, unless `values` holds one value in range per
    /// component.
    pub fn check(&self, values: &[i64]) -> Result<(), String> {
        if values.len() != self.width() {
            return Err(format!(
                "levers: expected {} values ({}), got {}",
                self.width(),
                self.names.join("; "),
                values.len()
            ));
        }
        for ((&v, n), name) in values.iter().zip(self.nvec()).zip(&self.names) {
            if !(0..n).contains(&v) {
                return Err(format!("lever `{name}`: {v} is not 0 to {}", n - 1));
            }
        }
        Ok(())
    }

    /// The levers' state in `universe` now, one value per component as the action gives
    /// it; the strategy component is -1 if the strategy in force is none of the
    /// candidates (another was deployed by a command).
    pub fn state(&self, universe: &Universe) -> Vec<i64> {
        let world = universe.world();
        let cuts = world
            .get_resource::<AccessPolicy>()
            .map_or(&[][..], |p| p.cuts());
        let mut out: Vec<i64> = self
            .pairs
            .iter()
            .map(|p| i64::from(cuts.binary_search(p).is_ok()))
            .collect();
        if !self.strategies.is_empty() {
            let source = &universe.scenario().strategy_source;
            let k = self
                .strategies
                .iter()
                .position(|s| &s.strategy_source == source);
            out.push(k.map_or(-1, |k| k as i64));
        }
        if let Some(c) = self.launch {
            out.push(i64::from(
                Launches::under_way_next_tick(universe, c).is_some(),
            ));
        }
        out
    }

    /// Gives the orders that bring the levers to `values` ([`LeverSet::check`] first:
    /// nothing is given if a value is out of range); returns how many orders it gave.
    pub fn apply(&self, universe: &mut Universe, values: &[i64]) -> Result<usize, String> {
        self.check(values)?;
        let now = self.state(universe);
        let mut orders: Vec<OperatorAction> = (self.pairs.iter().zip(values).zip(&now))
            .filter(|((_, want), is)| want != is)
            .map(|((&zones, &want), _)| OperatorAction::Isolate {
                zones,
                cut: want == 1,
            })
            .collect();
        let mut given = orders.len();
        let mut rest = values[self.pairs.len()..]
            .iter()
            .zip(&now[self.pairs.len()..]);
        if !self.strategies.is_empty()
            && let Some((&want, &is)) = rest.next()
            && want != is
        {
            let candidate = self.strategies[want as usize].clone();
            paraverse_sim::operator::deploy(universe, candidate)?;
            given += 1;
        }
        if let Some(c) = self.launch
            && let Some((&want, &is)) = rest.next()
            && want == 1
            && is == 0
        {
            orders.push(OperatorAction::Launch(c));
            given += 1;
        }
        if !orders.is_empty() {
            universe.act(&orders)?;
        }
        Ok(given)
    }
}

/// The policy-level components of an agent's actions on one scenario:
/// `Levers(universe, cuts=True, strategies=["zero-trust"])` for blue,
/// `Levers(universe, team="red", launch=True)` for red.
///
/// `cuts` is `True` (every pair of the scenario's zones), `False`, or a list of zone-name
/// pairs; `strategies` bundled strategy names or files blue may deploy beside the one the
/// universe started with; `launch` lets red start its `campaign` ahead of schedule. Each
/// component states the wanted state: 1 = cut, 0 = connected; k = the k-th strategy in
/// force (0 the starting one); 1 = the campaign under way (a launch is never taken back).
/// A component whose state holds does nothing.
#[pyclass(module = "paraverse._core", name = "Levers", from_py_object)]
#[derive(Clone)]
pub struct Levers {
    pub set: LeverSet,
}

#[pymethods]
impl Levers {
    #[new]
    #[pyo3(signature = (universe, *, team="blue", campaign=0, cuts=None, strategies=Vec::new(), launch=false))]
    fn new(
        universe: &PyUniverse,
        team: &str,
        campaign: CampaignId,
        cuts: Option<&Bound<'_, PyAny>>,
        strategies: Vec<String>,
        launch: bool,
    ) -> PyResult<Self> {
        let team = universe.team(team, campaign)?;
        let red = matches!(team, Team::Red(_));
        let cuts: Vec<(String, String)> = match cuts {
            None => Vec::new(),
            Some(c) => match c.extract::<bool>() {
                Ok(true) => universe.with(|u| LeverSet::all_pairs(u.scenario()))?,
                Ok(false) => Vec::new(),
                Err(_) => c.extract().map_err(|_| {
                    PyValueError::new_err(
                        "cuts: expected True, False or a list of (zone, zone) pairs",
                    )
                })?,
            },
        };
        if red && (!cuts.is_empty() || !strategies.is_empty()) {
            return Err(PyValueError::new_err(
                "cuts and strategies are blue's levers; red's is launch",
            ));
        }
        if !red && launch {
            return Err(PyValueError::new_err(
                "launch is red's lever; blue's are cuts and strategies",
            ));
        }
        let launch = launch.then_some(campaign);
        let set = universe
            .with(|u| LeverSet::new(u.scenario(), &cuts, &strategies, launch))?
            .map_err(PyValueError::new_err)?;
        Ok(Self { set })
    }

    /// Each component's number of values.
    #[getter]
    fn nvec(&self) -> Vec<i64> {
        self.set.nvec()
    }

    /// What each component is.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.set.names().to_vec()
    }

    fn __len__(&self) -> usize {
        self.set.width()
    }

    /// Raises `ValueError`, naming the component, unless `values` holds one value in
    /// range per component.
    fn check(&self, values: Vec<i64>) -> PyResult<()> {
        self.set.check(&values).map_err(PyValueError::new_err)
    }

    /// The levers' state in `universe`, as an action gives it (the strategy: -1 if the
    /// one in force is none of the candidates).
    fn state(&self, universe: &PyUniverse) -> PyResult<Vec<i64>> {
        universe.with(|u| self.set.state(u))
    }

    /// Brings the levers to `values` (one per component, checked before anything is
    /// given); returns how many orders that took. Needs `operator=True`.
    fn apply(&self, py: Python<'_>, universe: &PyUniverse, values: Vec<i64>) -> PyResult<usize> {
        py.detach(|| universe.with(|u| universe.on_pool(|| self.set.apply(u, &values))))?
            .map_err(PyValueError::new_err)
    }

    fn __repr__(&self) -> String {
        format!("Levers([{}])", self.set.names().join("; "))
    }
}
