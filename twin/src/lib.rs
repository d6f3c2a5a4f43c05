//! Parallel execution: the twin that runs beside the real network.
//!
//! A checkpoint ([`paraverse_sim::checkpoint`]) is the twin's "now". From it the twin
//! looks ahead: [`forecast()`] branches the checkpointed universe into members (independent
//! draws of the future) under each candidate strategy, runs them in parallel, and says
//! which strategy to deploy with the lab's statistics. [`observation`] reads what the real
//! network reports, [`ensemble`] keeps universes in step with it (a particle filter),
//! [`live`] runs the twin on a feed and [`mqtt`] connects it to a broker; [`shadow`]
//! measures the whole loop against a truth run.

pub mod doubt;
pub mod ensemble;
pub mod forecast;
pub mod live;
pub mod mqtt;
pub mod observation;
pub mod shadow;

pub use forecast::{Candidate, Forecast, ForecastError, ForecastSpec, Start, forecast};
