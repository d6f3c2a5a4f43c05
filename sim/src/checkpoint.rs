//! Checkpoints: a running universe's whole state in a file, and back, bit for bit.
//!
//! A universe is its scenario plus what happened since tick 0. The first half is text: a
//! checkpoint carries the scenario's source (and the strategy's, the seed and the other
//! overrides) as a [`Recipe`], and restoring *rebuilds* everything the scenario
//! determines (topology, routes of scenario flows, campaign and defense parameters,
//! counter registrations) exactly as the original build did. The second half is the
//! state no scenario determines: node security and telemetry, campaign progress, alert
//! queues, trust scores, baselines, the traffic core's flows and paths, counters, the time
//! series and the event log so far, the clock. Each resource that holds such state says
//! how to save and restore it ([`Persist`]), registered by the plugin that inserts it
//! ([`UniverseBuilder::persist`](crate::universe::UniverseBuilder::persist)); a resource
//! that is wholly rebuilt from the scenario says so instead
//! ([`UniverseBuilder::rebuilt`](crate::universe::UniverseBuilder::rebuilt)). A resource
//! that does neither fails the build, so a new piece of state cannot silently be left out
//! of checkpoints.
//!
//! Randomness needs no state: draws are keyed by (seed, stream, entity, tick), so a run
//! resumed at tick *k* draws exactly what the unsplit run drew after *k*.
//!
//! The file: 8 magic bytes, then a [postcard] encoding of [`Checkpoint`], then an FNV-1a
//! checksum of that encoding. postcard is compact (variable-length integers, no field
//! names) and stable; floats are stored as their bits. A checkpoint is read back only by
//! the paraverse version that wrote it: state layouts follow the code, and a mismatch is
//! refused with both versions named rather than decoded into nonsense.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bevy_ecs::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::rng::fnv1a;
use crate::scenario::{Scenario, ScenarioError};

/// Version of the file layout (the header and how parts are framed) and of the parts'
/// contents: raised whenever a resource's saved state changes shape, so an older file is
/// refused with both versions named instead of failing to decode. 2: worms save their
/// scan flows; the per-flow recording is a part. 3: UEBA baselines egress volume too, and
/// campaign ids are 16 bits. 4: metrics save their names (a strategy deployed mid-run
/// keeps the counters of the one before). 5: UEBA keeps baselines for its monitored
/// zones' nodes only.
pub const FORMAT: u32 = 5;
/// The paraverse version; a checkpoint restores only in the version that wrote it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAGIC: &[u8; 8] = b"PVCKPT\r\n";

/// Why a checkpoint could not be written, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a checkpoint.
    #[error("{0}: not a paraverse checkpoint (no checkpoint header)")]
    NotACheckpoint(PathBuf),
    /// The file is truncated or corrupted.
    #[error("{0}: damaged checkpoint (its checksum does not match: truncated or corrupted)")]
    Damaged(PathBuf),
    /// Written by another paraverse version.
    #[error(
        "{path}: written by paraverse {found} (checkpoint format {format}); this is paraverse {VERSION} (format {FORMAT}); resume it with the version that wrote it"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version that wrote it.
        found: String,
        /// Its format.
        format: u32,
    },
    /// The scenario text it carries no longer validates.
    #[error("the checkpoint's scenario: {0}")]
    Scenario(#[from] ScenarioError),
    /// The world could not be rebuilt.
    #[error("cannot rebuild the world: {0}")]
    Build(String),
    /// The checkpoint's parts do not fit the rebuilt universe (other plugins or defenses).
    #[error("the checkpoint does not fit this universe: {0}")]
    Mismatch(String),
    /// A part could not be encoded or decoded.
    #[error("checkpoint part {part}: {message}")]
    Codec {
        /// The part (a resource type).
        part: String,
        /// What went wrong.
        message: String,
    },
}

/// What a universe was built from: enough to rebuild everything the scenario determines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    /// Where the scenario came from (a path or `<embedded:NAME>`), for messages.
    pub origin: String,
    /// The scenario's source text.
    pub source: String,
    /// The strategy file that replaced the scenario's defenses: (origin, text).
    pub strategy: Option<(String, String)>,
    /// Seed (possibly overridden).
    pub seed: u64,
    /// Ticks of the run (possibly overridden).
    pub ticks: u32,
    /// Event log bound (possibly overridden).
    pub max_events: u64,
}

impl Recipe {
    /// The recipe of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        Self {
            origin: scenario.origin.clone(),
            source: scenario.source.clone(),
            strategy: scenario.strategy_source.as_ref().map(|text| {
                (
                    scenario
                        .strategy_origin
                        .clone()
                        .unwrap_or_else(|| "strategy".to_owned()),
                    text.clone(),
                )
            }),
            seed: scenario.seed,
            ticks: scenario.ticks,
            max_events: scenario.max_events,
        }
    }

    /// Validates the texts again and applies the overrides: the same scenario.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::from_toml_str(&self.source, &self.origin)?;
        if let Some((origin, text)) = &self.strategy {
            scenario = scenario.with_strategy(text, origin)?;
        }
        scenario = scenario.with_seed(self.seed).with_ticks(self.ticks);
        scenario.max_events = self.max_events;
        Ok(scenario)
    }
}

/// One resource's saved state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The resource (its Rust type name).
    pub name: String,
    /// Its state, postcard-encoded by its [`Persist::save`].
    pub bytes: Vec<u8>,
}

/// A universe's whole state at the end of a tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// File layout version ([`FORMAT`]).
    pub format: u32,
    /// The paraverse version that wrote it ([`VERSION`]).
    pub paraverse: String,
    /// What the universe was built from.
    pub recipe: Recipe,
    /// The last simulated tick (0: nothing simulated yet).
    pub tick: u32,
    /// The state of every persisted resource, in registration order.
    pub parts: Vec<Part>,
}

impl Checkpoint {
    /// The file's bytes: magic, postcard body, checksum.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut out = MAGIC.to_vec();
        postcard::to_io(self, &mut out).map_err(|e| CheckpointError::Codec {
            part: "header".into(),
            message: e.to_string(),
        })?;
        let sum = fnv1a(&out[MAGIC.len()..]);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Reads a checkpoint's bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint(path.into()));
        }
        let (body, sum) = bytes[MAGIC.len()..].split_at(bytes.len() - MAGIC.len() - 8);
        if fnv1a(body).to_le_bytes() != sum {
            return Err(CheckpointError::Damaged(path.into()));
        }
        // The version fields come first, so an older or newer layout is still named.
        let (format, rest): (u32, &[u8]) =
            postcard::take_from_bytes(body).map_err(|_| CheckpointError::Damaged(path.into()))?;
        let (found, _): (String, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|_| CheckpointError::Damaged(path.into()))?;
        if format != FORMAT || found != VERSION {
            return Err(CheckpointError::Version {
                path: path.into(),
                found,
                format,
            });
        }
        decode_all(body, "header")
    }

    /// Writes the checkpoint to `path` atomically (a temporary file renamed into place),
    /// so a run killed while writing leaves the previous checkpoint intact. Returns the
    /// bytes written.
    pub fn write(&self, path: &Path) -> Result<u64, CheckpointError> {
        let bytes = self.to_bytes()?;
        let io = |source| CheckpointError::Io {
            path: path.into(),
            source,
        };
        let tmp = path.with_extension("ckpt.tmp");
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(bytes.len() as u64)
    }

    /// Reads a checkpoint file.
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }
}

/// State a resource carries beyond what its scenario determines, and how to write and read
/// it. `save` encodes only that state (e.g. queues and scores, not parameters); `restore`
/// is called on the resource as a fresh build made it, and overwrites that state.
pub trait Persist: Resource + Component<Mutability = bevy_ecs::component::Mutable> {
    /// Appends the state to `out` (with [`encode`]).
    fn save(&self, out: &mut Vec<u8>) -> Result<(), CheckpointError>;
    /// Overwrites the state from what [`Persist::save`] wrote (read with [`decode`]).
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CheckpointError>;
    /// Takes over state saved under other defenses, for a branch that continues a run
    /// under another strategy ([`Universe::branch`](crate::universe::Universe::branch)).
    /// By default the same as [`Persist::restore`]; a resource whose shape depends on the
    /// defenses in force keeps fresh what the other defenses did not have.
    fn carry(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        self.restore(bytes)
    }
}

/// Implements [`Persist`] for a resource that is state through and through (it derives
/// `Serialize` and `Deserialize`): the whole value is saved and restored.
#[macro_export]
macro_rules! persist_whole {
    ($($t:ty),+ $(,)?) => {$(
        impl $crate::checkpoint::Persist for $t {
            fn save(&self, out: &mut Vec<u8>) -> Result<(), $crate::checkpoint::CheckpointError> {
                $crate::checkpoint::encode::<$t, Self>(self, out)
            }
            fn restore(&mut self, bytes: &[u8]) -> Result<(), $crate::checkpoint::CheckpointError> {
                *self = $crate::checkpoint::decode::<$t, Self>(bytes)?;
                Ok(())
            }
        }
    )+};
}

/// Encodes `value` onto `out` as part of `R`'s state.
pub fn encode<R: ?Sized, T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CheckpointError> {
    postcard::to_io(value, out)
        .map(|_| ())
        .map_err(|e| CheckpointError::Codec {
            part: std::any::type_name::<R>().into(),
            message: e.to_string(),
        })
}

/// Decodes `R`'s state, which must use all of `bytes`.
pub fn decode<R: ?Sized, T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CheckpointError> {
    decode_all(bytes, std::any::type_name::<R>())
}

fn decode_all<T: DeserializeOwned>(bytes: &[u8], part: &str) -> Result<T, CheckpointError> {
    let codec = |message: String| CheckpointError::Codec {
        part: part.into(),
        message,
    };
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| codec(e.to_string()))?;
    if !rest.is_empty() {
        return Err(codec(format!("{} bytes left over", rest.len())));
    }
    Ok(value)
}

/// Checks that a restored sequence has the length the rebuilt world has (a node column, a
/// campaign list), naming `what` otherwise.
pub fn same_len(what: &str, saved: usize, built: usize) -> Result<(), CheckpointError> {
    if saved == built {
        Ok(())
    } else {
        Err(CheckpointError::Mismatch(format!(
            "{what}: the checkpoint has {saved}, the rebuilt universe {built}"
        )))
    }
}

/// How the universe saves and restores one resource.
pub(crate) struct Entry {
    pub name: &'static str,
    pub type_id: std::any::TypeId,
    pub save: fn(&World, &mut Vec<u8>) -> Result<(), CheckpointError>,
    pub restore: fn(&mut World, &[u8]) -> Result<(), CheckpointError>,
    pub carry: fn(&mut World, &[u8]) -> Result<(), CheckpointError>,
}

impl Entry {
    pub fn of<R: Persist>() -> Self {
        Self {
            name: std::any::type_name::<R>(),
            type_id: std::any::TypeId::of::<R>(),
            save: |world, out| world.get_resource::<R>().ok_or_else(absent::<R>)?.save(out),
            restore: |world, bytes| {
                world
                    .get_resource_mut::<R>()
                    .ok_or_else(absent::<R>)?
                    .restore(bytes)
            },
            carry: |world, bytes| {
                world
                    .get_resource_mut::<R>()
                    .ok_or_else(absent::<R>)?
                    .carry(bytes)
            },
        }
    }
}

/// A registered resource the world does not hold.
fn absent<R>() -> CheckpointError {
    CheckpointError::Mismatch(format!(
        "{} is registered but not in the world",
        std::any::type_name::<R>()
    ))
}

/// The persisted and the rebuilt resources of a universe, registered by its plugins.
#[derive(Default)]
pub(crate) struct Registry {
    pub entries: Vec<Entry>,
    pub rebuilt: Vec<std::any::TypeId>,
}

impl Registry {
    /// Resources in `world` that are neither persisted nor rebuilt (by type name).
    pub fn unclassified(&self, world: &World) -> Vec<String> {
        world
            .iter_resources()
            .filter_map(|(_, info, _)| {
                let known = info.type_id().is_some_and(|id| {
                    self.rebuilt.contains(&id) || self.entries.iter().any(|e| e.type_id == id)
                });
                let name = info.name().to_string();
                // bevy's own bookkeeping (the schedules) is not simulation state.
                (!known && !name.starts_with("bevy_ecs::")).then_some(name)
            })
            .collect()
    }
}

/// Interns a string read from a checkpoint where the code holds `&'static str` (event
/// kinds, technique ids). Each distinct string is leaked once: event kinds and ATT&CK ids
/// are a few dozen, whatever the number of events.
pub fn intern(s: &str) -> &'static str {
    static TABLE: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut table = TABLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&found) = table.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    table.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            format: FORMAT,
            paraverse: VERSION.into(),
            recipe: Recipe {
                origin: "x.toml".into(),
                source: "[general]\n".into(),
                strategy: None,
                seed: 7,
                ticks: 10,
                max_events: 5,
            },
            tick: 3,
            parts: vec![Part {
                name: "a".into(),
                bytes: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let c = sample();
        let bytes = c.to_bytes().unwrap();
        assert_eq!(Checkpoint::from_bytes(&bytes, Path::new("c")).unwrap(), c);
    }

    #[test]
    fn damage_truncation_and_other_files_are_named() {
        let bytes = sample().to_bytes().unwrap();
        let p = Path::new("c.ckpt");
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(matches!(
            Checkpoint::from_bytes(&flipped, p),
            Err(CheckpointError::Damaged(_))
        ));
        assert!(matches!(
            Checkpoint::from_bytes(&bytes[..bytes.len() - 3], p),
            Err(CheckpointError::Damaged(_))
        ));
        assert!(matches!(
            Checkpoint::from_bytes(b"[general]\nname = 1\n", p),
            Err(CheckpointError::NotACheckpoint(_))
        ));
    }

    #[test]
    fn another_version_is_refused_with_both_versions_named() {
        let mut c = sample();
        c.paraverse = "0.0.1".into();
        let err = Checkpoint::from_bytes(&c.to_bytes().unwrap(), Path::new("old.ckpt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.0.1") && err.contains(VERSION), "{err}");
    }

    /// Every plugin declares each resource it inserts as persisted or rebuilt; one that
    /// does neither fails the build, so no state can be silently left out of checkpoints.
    #[test]
    fn a_resource_neither_persisted_nor_rebuilt_fails_the_build() {
        use crate::universe::{SimPlugin, Universe, UniverseBuilder};
        #[derive(Resource)]
        struct Forgotten;
        struct Careless;
        impl SimPlugin for Careless {
            fn name(&self) -> &'static str {
                "careless"
            }
            fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
                builder.world_mut().insert_resource(Forgotten);
                Ok(())
            }
        }
        let scenario = crate::bundled::load(None).unwrap().with_ticks(1);
        let err = Universe::build(scenario.clone(), &[&Careless])
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("Forgotten"), "{err}");
        struct Careful;
        impl SimPlugin for Careful {
            fn name(&self) -> &'static str {
                "careful"
            }
            fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
                builder.world_mut().insert_resource(Forgotten);
                builder.rebuilt::<Forgotten>();
                Ok(())
            }
        }
        assert!(Universe::build(scenario, &[&Careful]).is_ok());
    }

    #[test]
    fn interned_strings_are_shared() {
        let a = intern("infection");
        let b = intern(&String::from("infection"));
        assert!(std::ptr::eq(a, b));
    }
}
