//! Viewers of paraverse runs: the terminal UI of `paraverse watch` and `paraverse
//! replay` (ratatui), and the GPU viewer of `paraverse view` ([`view`], wgpu).
//!
//! The crate draws [`Snapshot`]s and never steps a world: each frame the CLI takes a
//! snapshot of a running universe ([`Snapshot::of_universe`], which only reads it) or
//! builds one from a run's files (replay), and hands it here with the [`App`] state
//! (view, pause, speed, filter). Screens are pure functions of
//! the two, so they are tested as text with ratatui's `TestBackend`.
//!
//! Red and blue views: red sees ground truth (compromised nodes, campaign progress, every
//! event); blue sees only what its sensors see (alerts, quarantines, patch rounds, XR
//! quality), never which nodes are really compromised.

mod app;
mod map;
mod snapshot;
mod twin;
mod ui;
pub mod view;

pub use app::{Action, App, KEYS, Mode, Pace, SPEEDS, View, speed_label};
pub use map::{NodeMap, render_map};
pub use snapshot::{ALERT_COLUMNS, ALERTS, ChainView, HISTORY, History, Snapshot, zone_sizes};
pub use twin::{EstimatePoint, StrategyFan, TwinSnapshot, render_twin};
pub use ui::{event_matches, matches_filter, render, shown_line};
