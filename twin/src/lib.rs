//! Parallel execution: the twin that runs beside the real network.
//!
//! A checkpoint ([`paraverse_sim::checkpoint`]) is the twin's "now". From it the twin
//! looks ahead: [`forecast()`] branches the checkpointed universe into members (independent
//! draws of the future) under each candidate strategy, runs them in parallel, and says
//! which strategy to deploy with the lab's statistics. Observations in and the ensemble
//! kept in step with them come next (see issue #17); they will branch from the same
//! checkpoints.

pub mod ensemble;
pub mod forecast;
pub mod live;
pub mod mqtt;
pub mod observation;
pub mod shadow;

pub use forecast::{Candidate, Forecast, ForecastError, ForecastSpec, forecast};
