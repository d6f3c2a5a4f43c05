//! The paraverse world: scenarios, topology, the ECS world, the tick schedule,
//! deterministic randomness and recording.
//!
//! The crate is a few nouns and how they relate:
//!
//! - a [`Scenario`](scenario::Scenario) is a validated TOML file: groups of nodes in zones,
//!   services with CVSS-scored vulnerabilities, topology generators, campaigns, defenses;
//! - a [`Universe`](universe::Universe) is built from a scenario: an ECS world with one
//!   entity per node ([`world`]), a [`Topology`](topology::Topology) (one compressed
//!   adjacency), and a schedule of six [stages](universe::SimStage) per tick;
//! - [`SimPlugin`](universe::SimPlugin)s (from the `attackers` and `defenders` crates)
//!   add systems to the stages;
//! - a [`RunRecord`](metrics::RunRecord) is what a finished run hands back: summary,
//!   time series and events, written to disk by [`RunRecord::write`](metrics::RunRecord::write).
//!
//! `sim` knows no particular attack or defense. Randomness is counter-based ([`rng`]), so
//! results are bit-identical at any thread count.

pub mod awake;
pub mod bundled;
pub mod checkpoint;
pub mod dictionary;
pub mod killchain;
pub mod math;
pub mod metrics;
pub mod objectives;
pub mod operator;
pub mod policy;
pub mod prefetch;
pub mod rng;
pub mod scenario;
pub mod topology;
pub mod traffic;
pub mod units;
pub mod universe;
pub mod world;

/// A rayon pool of `threads` workers, for tests that compare thread counts.
#[cfg(test)]
pub(crate) fn test_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test's thread pool starts")
}

/// The names most users of the crate need.
pub mod prelude {
    pub use crate::checkpoint::{Checkpoint, CheckpointError, Persist};
    pub use crate::killchain::{CampaignBook, CampaignTrack, KillStep};
    pub use crate::metrics::{CounterId, EventLog, Metrics, RunEvent, RunRecord, Summary};
    pub use crate::policy::{AccessPolicy, StepUps, Tripwires};
    pub use crate::rng::{Chance, PerTick, SimRng, Stream};
    pub use crate::scenario::{Scenario, ScenarioError};
    pub use crate::topology::Topology;
    pub use crate::traffic::{BackendChoice, FlowSet, NewFlow, TrafficCore};
    pub use crate::units::{Bandwidth, SimDuration};
    pub use crate::universe::{BuildError, SimPlugin, SimStage, Universe, UniverseBuilder};
    pub use crate::world::{
        AttackSurface, CHUNK, CampaignId, Clock, DetectionModel, Egress, InGroup, InZone, Kind,
        NodeId, ScenarioRes, Security, SecurityEdits, Telemetry, dense,
    };
}
