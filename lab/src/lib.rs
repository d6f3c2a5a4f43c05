//! The lab: computational experiments over scenarios.
//!
//! An experiment file (TOML, see [`experiment`]) names a base scenario and strategy, the
//! defense parameters to vary and the scenario axes to combine (a grid of *points*), and
//! how many replicas (seeds) each point gets. [`runner`] runs points × replicas in
//! parallel, appending each finished run to `runs.csv` and `runs.jsonl` as it completes
//! (flushed), so a killed sweep resumed with the same command skips what is done and loses
//! nothing; once every run is in, the files are rewritten in (point, replica) order, so a
//! resumed, a sharded-and-merged and an uninterrupted sweep give identical files.
//! Nothing read back is trusted blindly ([`runner`]): each line carries the experiment's
//! hash and a checksum, damaged lines are dropped and their runs made again, and foreign
//! ones refused; [`folder`] makes one process at a time the owner of a results folder.
//! [`stats`] summarises each point (mean, median, quartiles and a bootstrap 95 % interval of every metric)
//! and picks the best point by the experiment's score. [`check`] is the CI regression
//! gate against declared bands around baselines.
//!
//! [`optimise`] searches defense parameters for the Pareto front (NSGA-II); [`report`]
//! writes Markdown and HTML with SVG and PNG charts.

pub mod auto;
pub mod charts;
pub mod check;
pub mod decision;
pub mod experiment;
pub mod folder;
pub mod optimise;
pub mod plugins;
pub mod report;
pub mod runner;
pub mod sensitivity;
pub mod stats;
pub mod tables;

pub use experiment::{Experiment, Point};
pub use runner::{RunResult, Shard};

/// Errors of the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The experiment file (or a scenario or strategy it names) is invalid.
    #[error(transparent)]
    Invalid(#[from] paraverse_sim::scenario::ScenarioError),
    /// Results could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Existing results do not match the experiment (e.g. it was edited mid-sweep).
    #[error("{0}")]
    Mismatch(String),
    /// Another process holds the results folder (a sweep, merge or optimise on it).
    #[error(
        "{} is in use by {holder}: wait for it to finish, or use another --results folder",
        dir.display()
    )]
    Busy {
        /// The results folder.
        dir: std::path::PathBuf,
        /// Who holds it, as it wrote in the lock file.
        holder: String,
    },
    /// A report could not be drawn or written (charts, fonts): a failure, not bad input.
    #[error("cannot write the report: {0}")]
    Report(String),
    /// A run failed.
    #[error("run {run} failed: {message}")]
    Run {
        /// Which run.
        run: String,
        /// Why.
        message: String,
    },
}

impl LabError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}

#[cfg(test)]
mod tests;
