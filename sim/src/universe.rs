//! A running universe: the ECS world, the tick schedule, and the plugins that fill it.
//!
//! One tick runs six stages in a fixed order, written once here:
//! demand → attack → traffic → sense → defend → account. `sim` itself adds only the
//! generic systems (benign demand, accounting); attack campaigns and defenses arrive
//! through [`SimPlugin`]s, so `sim` knows no particular attack or defense. The schedule
//! is built with ambiguity detection set to *error*: two systems in one stage that touch
//! the same data without an explicit order are a build error, because an unordered pair of
//! writers is a nondeterminism bug in a simulator.
//!
//! Systems run one at a time (single-threaded executor); each parallelises *inside*
//! itself with rayon over node chunks, proposes changes, and commits them in node-id order.
//!
//! ```
//! use paraverse_sim::prelude::*;
//! let scenario = Scenario::from_toml_str(r#"
//! [general]
//! name = "doc"
//! seed = 1
//! tick = "1 s"
//! stop = "5 s"
//! [[zone]]
//! name = "z"
//! [[group]]
//! name = "g"
//! kind = "phone"
//! count = 3
//! zone = "z"
//! "#, "doc.toml").unwrap();
//! let mut universe = Universe::build(scenario, &[]).unwrap();
//! universe.run(|_| {});
//! let record = universe.finish();
//! assert_eq!(record.summary.ticks, 5);
//! assert_eq!(record.series.states.len(), 6); // tick 0 (initial state) + 5 ticks
//! ```

use std::sync::Arc;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, SingleThreadedExecutor};
use bevy_ecs::system::ScheduleSystem;

use crate::checkpoint::{Checkpoint, CheckpointError, Entry, Part, Persist, Recipe, Registry};
use crate::killchain::CampaignBook;
use crate::metrics::{
    EventLog, Metrics, NodeNamer, RunRecord, Summary, TimeSeries, account, event_json,
};
use crate::operator::{Operator, OperatorAction};
use crate::policy::{AccessPolicy, Tripwires};
use crate::rng::SimRng;
use crate::scenario::Scenario;
use crate::topology::Topology;
use crate::traffic::{BackendChoice, TrafficCore, TrafficPlugin};
use crate::world::{
    AttackSurface, Clock, DetectionModel, ScenarioRes, Security, SecurityEdits, Telemetry,
    benign_demand, dense, spawn_nodes,
};

/// The stages of a tick, in the order they run.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimStage {
    /// Benign demand: what users and devices do on their own.
    Demand,
    /// Attack campaigns act.
    Attack,
    /// The traffic core allocates bandwidth (reserved for the traffic core).
    Traffic,
    /// Sensors and detectors observe.
    Sense,
    /// Defenses respond.
    Defend,
    /// Counts are taken and the tick's row is recorded.
    Account,
}

/// Why a universe could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A plugin rejected the scenario.
    #[error("{plugin}: {message}")]
    Plugin {
        /// The plugin.
        plugin: &'static str,
        /// What it said.
        message: String,
    },
    /// The schedule is invalid (e.g. two systems in one stage conflict without an order).
    #[error("invalid tick schedule: {0}")]
    Schedule(String),
    /// A plugin inserted resources it declared neither persisted nor rebuilt, so
    /// checkpoints would silently lose them (a bug in the plugin, not in the scenario).
    #[error(
        "resources neither persisted nor rebuilt (declare them with UniverseBuilder::persist or ::rebuilt): {}",
        .0.join(", ")
    )]
    Unclassified(Vec<String>),
}

/// A failure inside a system that ends the run (e.g. a GPU lost mid-run).
#[derive(Resource, Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct SimFault(pub Option<String>);

crate::persist_whole!(SimFault);

/// Something that adds systems and resources to a universe: attack campaigns, defenses,
/// later the traffic core and recorders.
pub trait SimPlugin: Send + Sync {
    /// A short name, for errors.
    fn name(&self) -> &'static str;
    /// Reads its part of the scenario and registers systems, resources and counters.
    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String>;
}

/// What a plugin sees while a universe is built.
pub struct UniverseBuilder<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    world: &'a mut World,
    schedule: &'a mut Schedule,
    registry: &'a mut Registry,
}

impl UniverseBuilder<'_> {
    /// The world, to insert resources.
    pub fn world_mut(&mut self) -> &mut World {
        self.world
    }

    /// Adds systems to a stage.
    pub fn add_systems<M>(
        &mut self,
        stage: SimStage,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.schedule.add_systems(systems.in_set(stage));
        self
    }

    /// Orders a plugin's own system sets (e.g. steps within a stage).
    pub fn configure_sets<M>(
        &mut self,
        sets: impl IntoScheduleConfigs<bevy_ecs::intern::Interned<dyn SystemSet>, M>,
    ) -> &mut Self {
        self.schedule.configure_sets(sets);
        self
    }

    /// The counters, to register new ones.
    pub fn metrics(&mut self) -> Mut<'_, Metrics> {
        self.world.resource_mut::<Metrics>()
    }

    /// Declares that resource `R` holds state a checkpoint must carry (see
    /// [`crate::checkpoint`]). Parts are saved and restored in registration order.
    pub fn persist<R: Persist>(&mut self) -> &mut Self {
        self.registry.entries.push(Entry::of::<R>());
        self
    }

    /// Declares that resource `R` is wholly rebuilt from the scenario (parameters,
    /// counter handles, precomputed tables), so checkpoints leave it out.
    pub fn rebuilt<R: Resource>(&mut self) -> &mut Self {
        self.registry.rebuilt.push(std::any::TypeId::of::<R>());
        self
    }
}

/// A world and its schedule, stepped tick by tick.
pub struct Universe {
    world: World,
    schedule: Schedule,
    scenario: Arc<Scenario>,
    backend: BackendChoice,
    registry: Registry,
    /// The plugins it was built with, to rebuild it under another strategy.
    plugins: Vec<&'static dyn SimPlugin>,
}

impl Universe {
    /// Builds the world from a scenario and lets each plugin add its systems.
    ///
    /// Building is deterministic: the same scenario and seed give the same world.
    pub fn build(
        scenario: Scenario,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Self, BuildError> {
        Self::build_with(scenario, BackendChoice::Cpu, plugins)
    }

    /// Like [`Universe::build`], choosing the traffic core's backend.
    pub fn build_with(
        scenario: Scenario,
        backend: BackendChoice,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Self, BuildError> {
        let scenario = Arc::new(scenario);
        let (mut world, mut registry) = core_world(&scenario);
        let mut schedule = stages();
        let traffic = TrafficPlugin { backend };
        let all: Vec<&dyn SimPlugin> = std::iter::once(&traffic as &dyn SimPlugin)
            .chain(plugins.iter().copied())
            .collect();
        for plugin in all {
            let mut builder = UniverseBuilder {
                scenario: &scenario,
                world: &mut world,
                schedule: &mut schedule,
                registry: &mut registry,
            };
            plugin
                .build(&mut builder)
                .map_err(|message| BuildError::Plugin {
                    plugin: plugin.name(),
                    message,
                })?;
        }
        if let Err(e) = schedule.initialize(&mut world) {
            return Err(BuildError::Schedule(e.to_string(schedule.graph(), &world)));
        }

        let unclassified = registry.unclassified(&world);
        if !unclassified.is_empty() {
            return Err(BuildError::Unclassified(unclassified));
        }
        let mut universe = Self {
            world,
            schedule,
            scenario,
            backend,
            registry,
            plugins: plugins.to_vec(),
        };
        // Tick 0: record the initial state, before anything acts.
        universe
            .world
            .run_system_cached(account)
            .map_err(|e| BuildError::Schedule(format!("{e:?}")))?;
        Ok(universe)
    }

    /// Simulates one tick. Returns false (and does nothing) once the run is over or
    /// has failed (see [`Universe::fault`]).
    pub fn step(&mut self) -> bool {
        if self.fault().is_some() {
            return false;
        }
        let mut clock = self.world.resource_mut::<Clock>();
        if clock.tick >= clock.ticks {
            return false;
        }
        clock.tick += 1;
        self.apply_operator();
        // Run the whole tick on a rayon worker: systems call into rayon many times per
        // tick, and from a worker those calls cost a deque push, not a thread wake-up. A
        // small world's tick runs on the calling thread instead: none of its parallel
        // passes is long enough to split, so each runs inline, and handing the tick to a
        // worker and waiting for it would cost more than the tick (measured: a third of a
        // 24-node tick went to waking and parking threads). A large world's tick keeps the
        // pool's other workers polling for its passes instead of parking between them
        // ([`crate::awake`]).
        let inline = self.small_world();
        let (schedule, world) = (&mut self.schedule, &mut self.world);
        if inline {
            schedule.run(world);
        } else {
            crate::awake::with_workers_awake(|| schedule.run(world));
        }
        true
    }

    /// Whether every per-node, per-link and per-flow pass of a tick is shorter than the
    /// shortest a parallel pass splits ([`INLINE_LIMIT`]).
    fn small_world(&self) -> bool {
        self.scenario.node_count as usize <= INLINE_LIMIT
            && self.world.resource::<Topology>().link_count() <= INLINE_LIMIT
            && self.traffic().is_none_or(|t| t.flows.len() <= INLINE_LIMIT)
    }

    /// Why the run stopped early, if it did.
    pub fn fault(&self) -> Option<&str> {
        self.world.resource::<SimFault>().0.as_deref()
    }

    /// The traffic core, if the scenario has flows.
    pub fn traffic(&self) -> Option<&TrafficCore> {
        self.world.get_resource::<TrafficCore>()
    }

    /// The traffic core, mutably (campaigns and tests add flows through it).
    pub fn traffic_mut(&mut self) -> Option<Mut<'_, TrafficCore>> {
        self.world.get_resource_mut::<TrafficCore>()
    }

    /// Runs every remaining tick, calling `progress` with the tick after each one.
    pub fn run(&mut self, mut progress: impl FnMut(u32)) {
        while self.step() {
            progress(self.clock().tick);
        }
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        *self.world.resource::<Clock>()
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The ECS world, for inspection (tests, viewers read snapshots from it).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The ECS world, mutably (tests that set up a situation). Counted as an edit of the
    /// nodes' security ([`SecurityEdits`]), since the caller may make one.
    pub fn world_mut(&mut self) -> &mut World {
        if let Some(mut edits) = self.world.get_resource_mut::<SecurityEdits>() {
            edits.record();
        }
        &mut self.world
    }

    /// Calls `f` with every node's security state, indexed by node id.
    pub fn with_security<R>(&mut self, f: impl FnOnce(&[Security]) -> R) -> R {
        let mut query = self.world.query::<&Security>();
        let security = dense(
            query
                .contiguous_iter(&self.world)
                .expect("node query is dense"),
        );
        f(security)
    }

    /// Calls `f` with every node's security state, mutably (a twin imposing what the real
    /// network's operators did: quarantines, releases, forensic verdicts).
    pub fn with_security_mut<R>(&mut self, f: impl FnOnce(&mut [Security]) -> R) -> R {
        if let Some(mut edits) = self.world.get_resource_mut::<SecurityEdits>() {
            edits.record();
        }
        let mut query = self.world.query::<&mut Security>();
        let mut security = dense(
            query
                .contiguous_iter_mut(&mut self.world)
                .expect("node query is dense"),
        );
        f(security.bypass_change_detection())
    }

    /// Queues operator actions for the start of the next tick (see [`crate::operator`]).
    /// Fails, queueing nothing, if the universe was built without
    /// [`OperatorPlugin`](crate::operator::OperatorPlugin) or an action names no node (or,
    /// for an exploit, no campaign of the scenario).
    pub fn act(&mut self, actions: &[OperatorAction]) -> Result<(), String> {
        let nodes = self.scenario.node_count;
        if let Some(a) = actions
            .iter()
            .find(|a| a.node().is_some_and(|n| n >= nodes))
        {
            return Err(format!(
                "{a:?}: no such node (the network has {nodes}: 0 to {})",
                nodes.saturating_sub(1)
            ));
        }
        let zones = self.scenario.zones.len();
        if let Some(a) = actions.iter().find(|a| {
            matches!(a, OperatorAction::Isolate { zones: (x, y), .. } if usize::from(*x.max(y)) >= zones)
        }) {
            return Err(format!("{a:?}: no such zone (the scenario has {zones})"));
        }
        let campaigns = self.scenario.campaigns.len();
        if let Some(a) = actions.iter().find(|a| {
            matches!(a, OperatorAction::Exploit { campaign, .. } | OperatorAction::Launch(campaign) if usize::from(*campaign) >= campaigns)
        }) {
            return Err(format!(
                "{a:?}: no such campaign (the scenario has {campaigns})"
            ));
        }
        let mut operator = self
            .world
            .get_resource_mut::<Operator>()
            .ok_or(crate::operator::NO_OPERATOR)?;
        operator.queue.extend_from_slice(actions);
        Ok(())
    }

    /// Applies the operator's queue, if it has one, as the tick starts (run as a system,
    /// as the initial `account` is, so it borrows the world as the schedule's systems do).
    fn apply_operator(&mut self) {
        if self
            .world
            .get_resource::<Operator>()
            .is_none_or(|o| o.queue.is_empty())
        {
            return;
        }
        self.world
            .run_system_cached(crate::operator::apply)
            .expect("the operator's resources exist whenever its queue does");
    }

    /// Imposes a measured link load: the channel from `from` to its neighbour `to` is
    /// offered `kbps` from the next tick on, the scenario's own flows plus background
    /// traffic for the rest ([`TrafficCore::set_measured_load`]). Returns the background
    /// demand. Errors without a traffic core (a scenario without `[[flow]]`s) or a link.
    pub fn set_measured_load(&mut self, from: u32, to: u32, kbps: u64) -> Result<u32, String> {
        let world = &mut self.world;
        world.resource_scope(|world, topology: Mut<Topology>| {
            let mut core = world
                .get_resource_mut::<TrafficCore>()
                .ok_or("the scenario has no traffic (no [[flow]]s) to load")?;
            core.set_measured_load(&topology, from, to, kbps)
        })
    }

    /// The traffic offered on each link direction that carried any in the last tick, as
    /// (from node, to node, kbit/s), by channel: what a network's interface counters (SNMP,
    /// sFlow) would report. Empty without a traffic core.
    pub fn link_loads(&self) -> Vec<(u32, u32, u64)> {
        let Some(core) = self.traffic() else {
            return Vec::new();
        };
        let topology = self.world.resource::<Topology>();
        core.used_channels()
            .iter()
            .zip(core.offered_loads())
            .filter(|&(_, &kbps)| kbps > 0)
            .map(|(&channel, &kbps)| {
                let (from, to) = crate::traffic::routing::ends(topology, channel);
                (from, to, kbps)
            })
            .collect()
    }

    /// Draws after the current tick from `seed` instead (what the scenario built stays):
    /// members of an ensemble that share a past diverge from here.
    pub fn reseed(&mut self, seed: u64) {
        self.world.insert_resource(SimRng::new(seed));
    }

    /// The time series recorded so far (tick 0 onwards).
    pub fn series(&self) -> &TimeSeries {
        self.world.resource::<TimeSeries>()
    }

    /// Column names of [`TimeSeries::row`] for this universe.
    pub fn series_columns(&self) -> Vec<String> {
        TimeSeries::columns(
            &self.scenario.zones,
            self.world.resource::<Metrics>().names(),
        )
    }

    /// The last `n` events (fewer if fewer happened), as `events.jsonl` objects.
    pub fn recent_events(&self, n: usize) -> Vec<serde_json::Value> {
        self.recent_events_where(n, |_| true)
    }

    /// The last `n` events `keep` accepts, oldest first, as [`Universe::recent_events`]
    /// writes them: the whole log is searched, newest first, until `n` are found (a live
    /// view's filter finds an event of the first minute after hours of others).
    pub fn recent_events_where(
        &self,
        n: usize,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let log = self.world.resource::<EventLog>();
        let names = self.node_namer();
        let campaigns = self.campaign_names();
        let tick_s = self.clock().seconds_at(1);
        let mut found: Vec<serde_json::Value> = log
            .events()
            .iter()
            .rev()
            .map(|e| event_json(e, tick_s, &names, &campaigns))
            .filter(|e| keep(e))
            .take(n)
            .collect();
        found.reverse();
        found
    }

    fn campaign_names(&self) -> Vec<String> {
        self.scenario
            .campaigns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    fn node_namer(&self) -> NodeNamer {
        NodeNamer::new(
            self.scenario
                .groups
                .iter()
                .map(|g| (g.first_node, g.name.clone()))
                .collect(),
        )
    }

    /// The universe's whole state now, as a [`Checkpoint`] (see [`crate::checkpoint`]).
    pub fn checkpoint(&self) -> Result<Checkpoint, CheckpointError> {
        let parts = self
            .registry
            .entries
            .iter()
            .map(|e| {
                let mut bytes = Vec::new();
                (e.save)(&self.world, &mut bytes)?;
                Ok(Part {
                    name: e.name.to_owned(),
                    bytes,
                })
            })
            .collect::<Result<Vec<_>, CheckpointError>>()?;
        Ok(Checkpoint {
            format: crate::checkpoint::FORMAT,
            paraverse: crate::checkpoint::VERSION.to_owned(),
            recipe: Recipe::of(&self.scenario),
            tick: self.clock().tick,
            parts,
        })
    }

    /// Rebuilds the universe a checkpoint was taken of, with `plugins` (the ones it was
    /// built with) and the traffic `backend` (any: results do not depend on it), and
    /// restores its state: stepping it on gives, bit for bit, what the original gave.
    pub fn resume(
        checkpoint: &Checkpoint,
        backend: BackendChoice,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Self, CheckpointError> {
        Self::restored(checkpoint.recipe.scenario()?, backend, plugins, checkpoint)
    }

    /// Builds `scenario` and restores `checkpoint`'s state into it.
    fn restored(
        scenario: Scenario,
        backend: BackendChoice,
        plugins: &[&'static dyn SimPlugin],
        checkpoint: &Checkpoint,
    ) -> Result<Self, CheckpointError> {
        let mut universe = Self::build_with(scenario, backend, plugins)
            .map_err(|e| CheckpointError::Build(e.to_string()))?;
        universe.restore(checkpoint)?;
        Ok(universe)
    }

    /// Overwrites this universe's state with a checkpoint's. The universe must have been
    /// built from the checkpoint's recipe with the same plugins (its parts must match).
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let ours: Vec<&str> = self.registry.entries.iter().map(|e| e.name).collect();
        let theirs: Vec<&str> = checkpoint.parts.iter().map(|p| p.name.as_str()).collect();
        if ours != theirs {
            let missing: Vec<&str> = ours
                .iter()
                .filter(|n| !theirs.contains(n))
                .copied()
                .collect();
            let extra: Vec<&str> = theirs
                .iter()
                .filter(|n| !ours.contains(n))
                .copied()
                .collect();
            return Err(CheckpointError::Mismatch(format!(
                "state parts differ (other plugins or defenses?): missing {missing:?}, unexpected {extra:?}"
            )));
        }
        for (entry, part) in self.registry.entries.iter().zip(&checkpoint.parts) {
            (entry.restore)(&mut self.world, &part.bytes)?;
        }
        Ok(())
    }

    /// A branch of a checkpointed run, for forecasts: the world at the checkpoint's tick,
    /// continued for `horizon` ticks under `scenario`'s defenses (the checkpoint's own
    /// scenario, with its strategy or another) with the future drawn from `future_seed`.
    ///
    /// Everything the checkpoint holds that the branch also has carries over: nodes,
    /// campaigns, traffic, and the state of defenses both strategies run (alert queues,
    /// trust scores, baselines; [`Persist::carry`]). Defenses only the branch runs start
    /// fresh at the branching tick. The records (counters, time series, events) start at
    /// the branching tick, so the branch's summary and objectives are of the horizon alone.
    /// What the scenario builds (topology, flows, footholds) is built from the run's own
    /// seed; only draws after the branching tick use `future_seed`, so with the run's seed
    /// and the run's defenses a branch replays the run's own future exactly.
    pub fn branch(
        checkpoint: &Checkpoint,
        scenario: Scenario,
        future_seed: u64,
        horizon: u32,
        backend: BackendChoice,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Self, CheckpointError> {
        if scenario.source != checkpoint.recipe.source {
            return Err(CheckpointError::Mismatch(format!(
                "the branch's scenario ({}) is not the checkpoint's ({})",
                scenario.origin, checkpoint.recipe.origin
            )));
        }
        let at = checkpoint.tick;
        let end = at.checked_add(horizon).ok_or_else(|| {
            CheckpointError::Mismatch(format!(
                "a horizon of {horizon} ticks from tick {at} passes tick {}",
                u32::MAX
            ))
        })?;
        let mut scenario = scenario.with_seed(checkpoint.recipe.seed).with_ticks(end);
        scenario.max_events = checkpoint.recipe.max_events;
        let mut universe = Self::build_with(scenario, backend, plugins)
            .map_err(|e| CheckpointError::Build(e.to_string()))?;
        universe.carry_state(checkpoint)?;
        let world = &mut universe.world;
        {
            let mut clock = world.resource_mut::<Clock>();
            clock.start = at;
            clock.tick = at;
            clock.ticks = end;
        }
        world.insert_resource(SimRng::new(future_seed));
        world.insert_resource(TimeSeries::default());
        let max_events = universe.scenario.max_events;
        world.insert_resource(EventLog::new(max_events));
        // The branch's first row: the carried state at the branching tick.
        world
            .run_system_cached(account)
            .map_err(|e| CheckpointError::Build(format!("{e:?}")))?;
        Ok(universe)
    }

    /// Takes over the state a checkpoint holds that this universe also has
    /// ([`Persist::carry`]), all but the records (counters, time series, events, flow
    /// records): what a branch and a strategy switch share.
    fn carry_state(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let records = [
            std::any::TypeId::of::<Metrics>(),
            std::any::TypeId::of::<TimeSeries>(),
            std::any::TypeId::of::<EventLog>(),
            std::any::TypeId::of::<crate::traffic::FlowRecord>(),
        ];
        for entry in &self.registry.entries {
            if records.contains(&entry.type_id) {
                continue;
            }
            if let Some(part) = checkpoint.parts.iter().find(|p| p.name == entry.name) {
                (entry.carry)(&mut self.world, &part.bytes)?;
            }
        }
        Ok(())
    }

    /// An independent copy of this universe in memory (for ensembles and forecasts), built
    /// with `plugins` (the ones this universe was built with) on the same backend: the
    /// scenario's parts are rebuilt, the state is copied through a checkpoint.
    pub fn fork(&self, plugins: &[&'static dyn SimPlugin]) -> Result<Self, CheckpointError> {
        let checkpoint = self.checkpoint()?;
        Self::restored((*self.scenario).clone(), self.backend, plugins, &checkpoint)
    }

    /// Continues this run under another strategy from the next tick on: a blue team
    /// deploying new defenses mid-run. `scenario` is this universe's scenario with the
    /// other strategy ([`Scenario::with_strategy`]); the run's seed, length and event bound
    /// stay the run's. The universe is rebuilt with the plugins it was built with and takes
    /// over, as a [`Universe::branch`] does, everything both strategies have: nodes,
    /// campaigns, traffic, the state of defenses both deploy ([`Persist::carry`]);
    /// defenses only the new strategy deploys start fresh. Unlike a branch it keeps the
    /// run's records whole: the time series and events so far, and every counter, those of
    /// defenses no longer deployed stopping where they were and those of new ones starting
    /// at zero. Operator actions queued for the next tick stay queued. Switching to the
    /// strategy in force changes nothing.
    ///
    /// A checkpoint taken after the switch names the new strategy, so it resumes as it.
    pub fn switch_strategy(&mut self, scenario: Scenario) -> Result<(), CheckpointError> {
        if scenario.source != self.scenario.source {
            return Err(CheckpointError::Mismatch(format!(
                "the strategy is for another scenario ({}), not this run's ({})",
                scenario.origin, self.scenario.origin
            )));
        }
        let mut scenario = scenario
            .with_seed(self.scenario.seed)
            .with_ticks(self.scenario.ticks);
        scenario.max_events = self.scenario.max_events;
        let checkpoint = self.checkpoint()?;
        let mut next = Self::build_with(scenario, self.backend, &self.plugins)
            .map_err(|e| CheckpointError::Build(e.to_string()))?;
        next.carry_state(&checkpoint)?;
        let clock = self.clock();
        let old = &mut self.world;
        let mut metrics = old.remove_resource::<Metrics>().unwrap_or_default();
        metrics.retire_upkeep(
            crate::objectives::Cost::hourly(&self.scenario.defense),
            clock.seconds_at(clock.tick - clock.start),
        );
        let mut series = old.remove_resource::<TimeSeries>().unwrap_or_default();
        let world = &mut next.world;
        let (map, width) = {
            let mut m = world.resource_mut::<Metrics>();
            let map = m.adopt(&metrics);
            (map, m.names().len())
        };
        series.remap(&map, width);
        world.insert_resource(series);
        if let Some(log) = old.remove_resource::<EventLog>() {
            world.insert_resource(log);
        }
        if let Some(flows) = old.remove_resource::<crate::traffic::FlowRecord>()
            && world.contains_resource::<crate::traffic::FlowRecord>()
        {
            world.insert_resource(flows);
        }
        if let Some(queued) = old.remove_resource::<Operator>()
            && let Some(mut operator) = world.get_resource_mut::<Operator>()
        {
            operator.queue = queued.queue;
        }
        *self = next;
        Ok(())
    }

    /// Ends the run and hands over what it recorded.
    pub fn finish(mut self) -> RunRecord {
        let series = self
            .world
            .remove_resource::<TimeSeries>()
            .unwrap_or_default();
        let metrics = self.world.remove_resource::<Metrics>().unwrap_or_default();
        let log = self.world.remove_resource::<EventLog>().unwrap_or_default();
        let book = self
            .world
            .remove_resource::<CampaignBook>()
            .unwrap_or_default();
        let flows = self.world.remove_resource::<crate::traffic::FlowRecord>();
        self.record_of(series, metrics, log, book, flows)
    }

    /// What the run has recorded so far, as [`Universe::finish`] would hand it over, without
    /// ending the run (the records are copied): a summary or series mid-run.
    pub fn record(&self) -> RunRecord {
        fn copy<R: Resource + Clone + Default>(world: &World) -> R {
            world.get_resource::<R>().cloned().unwrap_or_default()
        }
        let flows = self
            .world
            .get_resource::<crate::traffic::FlowRecord>()
            .cloned();
        self.record_of(
            copy(&self.world),
            copy(&self.world),
            copy(&self.world),
            copy(&self.world),
            flows,
        )
    }

    /// The summary so far, derived in place from what the run recorded (no copy of the
    /// series or the event log, unlike [`Universe::record`]): what an agent's reward reads
    /// every step.
    pub fn summary(&self) -> Summary {
        let w = &self.world;
        self.summary_of(
            w.resource::<TimeSeries>(),
            w.resource::<Metrics>(),
            w.resource::<EventLog>(),
            w.resource::<CampaignBook>(),
        )
    }

    /// The three objectives so far, as [`Universe::summary`] has them, without deriving the
    /// rest of the summary (an agent's reward reads them every step).
    pub fn objectives(&self) -> crate::objectives::Objectives {
        let w = &self.world;
        crate::metrics::objectives(
            &self.scenario,
            &self.clock(),
            w.resource::<TimeSeries>(),
            w.resource::<Metrics>(),
            w.resource::<CampaignBook>(),
        )
    }

    /// The summary of these records, for this universe's scenario, network and clock.
    fn summary_of(
        &self,
        series: &TimeSeries,
        metrics: &Metrics,
        log: &EventLog,
        book: &CampaignBook,
    ) -> Summary {
        let links = self.world.resource::<Topology>().link_count() as u64;
        Summary::derive(
            &self.scenario,
            links,
            &self.clock(),
            series,
            metrics,
            log,
            book,
        )
    }

    fn record_of(
        &self,
        series: TimeSeries,
        metrics: Metrics,
        log: EventLog,
        book: CampaignBook,
        flows: Option<crate::traffic::FlowRecord>,
    ) -> RunRecord {
        let clock = self.clock();
        let tick_s = clock.seconds_at(1);
        let flows = flows
            .zip(self.world.get_resource::<TrafficCore>())
            .map(|(record, core)| record.table(core, &self.node_namer(), tick_s));
        let summary = self.summary_of(&series, &metrics, &log, &book);
        RunRecord {
            summary,
            series,
            counter_names: metrics.names().to_vec(),
            gauges: metrics
                .names()
                .iter()
                .map(|n| metrics.is_gauge(n))
                .collect(),
            zone_names: self.scenario.zones.clone(),
            events: log.events().to_vec(),
            tick_s,
            first_tick: clock.start,
            node_names: self.node_namer(),
            campaign_names: self.campaign_names(),
            flows,
        }
    }
}

/// The world every universe starts from: its nodes, topology, randomness, clock and the
/// core resources, each classified for checkpoints (saved, or rebuilt from the scenario).
fn core_world(scenario: &Arc<Scenario>) -> (World, Registry) {
    let rng = SimRng::new(scenario.seed);
    let mut world = World::new();
    let topology = Topology::build(scenario, &rng);
    spawn_nodes(&mut world, scenario, &rng);
    world.insert_resource(topology);
    world.insert_resource(rng);
    world.insert_resource(ScenarioRes(scenario.clone()));
    world.insert_resource(Clock {
        tick: 0,
        tick_micros: scenario.tick.as_micros(),
        ticks: scenario.ticks,
        start: 0,
    });
    world.insert_resource(Metrics::default());
    world.insert_resource(EventLog::new(scenario.max_events));
    world.insert_resource(TimeSeries::default());
    world.insert_resource(SimFault::default());
    world.insert_resource(CampaignBook::default());
    world.insert_resource(DetectionModel::default());
    world.insert_resource(AttackSurface::undeclared(scenario.campaigns.len()));
    world.insert_resource(AccessPolicy::new(scenario));
    world.insert_resource(Tripwires::default());
    world.insert_resource(SecurityEdits::default());
    let mut registry = Registry::default();
    registry.rebuilt.extend([
        std::any::TypeId::of::<Topology>(),
        std::any::TypeId::of::<SimRng>(),
        std::any::TypeId::of::<ScenarioRes>(),
        std::any::TypeId::of::<AttackSurface>(),
        // What systems derived from the nodes' security is rebuilt after a restore too.
        std::any::TypeId::of::<SecurityEdits>(),
    ]);
    registry.entries.extend([
        Entry::of::<Clock>(),
        nodes_entry(),
        Entry::of::<Metrics>(),
        Entry::of::<EventLog>(),
        Entry::of::<TimeSeries>(),
        Entry::of::<SimFault>(),
        Entry::of::<CampaignBook>(),
        Entry::of::<DetectionModel>(),
        Entry::of::<AccessPolicy>(),
        Entry::of::<Tripwires>(),
    ]);
    (world, registry)
}

/// Worlds with at most this many nodes, links and flows run their ticks on the calling
/// thread: parallel passes split only from 2,048 items a task (links' shares, flows) or
/// more ([`CHUNK`](crate::world::CHUNK) nodes), so none would.
const INLINE_LIMIT: usize = 1024;

/// The tick's schedule: its stages in order, with the demand and accounting systems
/// every universe has; plugins add the rest.
fn stages() -> Schedule {
    let mut schedule = Schedule::default();
    schedule.set_executor(SingleThreadedExecutor::default());
    schedule.set_build_settings(ScheduleBuildSettings {
        ambiguity_detection: LogLevel::Error,
        ..Default::default()
    });
    schedule.configure_sets(
        (
            SimStage::Demand,
            SimStage::Attack,
            SimStage::Traffic,
            SimStage::Sense,
            SimStage::Defend,
            SimStage::Account,
        )
            .chain(),
    );
    schedule.add_systems(benign_demand.in_set(SimStage::Demand));
    schedule.add_systems(account.in_set(SimStage::Account));
    schedule
}

/// Saves and restores the node components that change (security and telemetry); the
/// others (id, kind, zone, group) are rebuilt from the scenario.
fn nodes_entry() -> Entry {
    fn save(world: &World, out: &mut Vec<u8>) -> Result<(), CheckpointError> {
        let mut nodes = world
            .try_query::<(&Security, &Telemetry)>()
            .ok_or_else(|| CheckpointError::Mismatch("the world has no nodes".into()))?;
        let (security, telemetry) =
            dense(nodes.contiguous_iter(world).expect("node query is dense"));
        crate::checkpoint::encode::<Security, _>(&(security, telemetry), out)
    }
    fn restore(world: &mut World, bytes: &[u8]) -> Result<(), CheckpointError> {
        let (security, telemetry): (Vec<Security>, Vec<Telemetry>) =
            crate::checkpoint::decode::<Security, _>(bytes)?;
        let mut query = world.query::<(&mut Security, &mut Telemetry)>();
        let (mut s, mut t) = dense(
            query
                .contiguous_iter_mut(world)
                .expect("node query is dense"),
        );
        let (s, t) = (s.bypass_change_detection(), t.bypass_change_detection());
        crate::checkpoint::same_len("nodes", security.len(), s.len())?;
        crate::checkpoint::same_len("node telemetry", telemetry.len(), t.len())?;
        s.copy_from_slice(&security);
        t.copy_from_slice(&telemetry);
        Ok(())
    }
    Entry {
        name: "nodes",
        type_id: std::any::TypeId::of::<Security>(),
        save,
        restore,
        carry: restore,
    }
}
