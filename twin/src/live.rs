//! The live twin: a feed of observations in, an ensemble kept in step with it, an
//! estimate every tick and a recommendation every cycle out.
//!
//! [`run`] reads the feed as it arrives (a file, or standard input a collector keeps
//! writing), closes each tick once a later observation (or the end of the feed) shows it is
//! complete, and hands every tick's [`Estimate`] and every cycle's forecast to the caller,
//! which writes them out. Forecasts start from the ensemble's members drawn by their
//! weights, so the recommendation accounts for what the twin does not know.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};

use paraverse_sim::prelude::*;

use crate::ensemble::{AlertModel, Ensemble, Estimate, RatePrior};
use crate::forecast::{Candidate, Forecast, ForecastError, ForecastSpec, forecast_until};
use crate::observation::{Resolver, read};

/// How the twin runs.
pub struct TwinSpec<'a> {
    /// Members of the ensemble.
    pub members: u32,
    /// The detectors' rates.
    pub model: AlertModel,
    /// The prior of the attacker's speed.
    pub prior: RatePrior,
    /// Traffic backend of the members.
    pub backend: BackendChoice,
    /// Every so many ticks, forecast these candidates (with this spec).
    pub cycle: Option<(u32, &'a [Candidate], ForecastSpec)>,
    /// The tick the feed's end stands for (ticks after its last line had nothing to
    /// report); default: the last line's tick.
    pub until: Option<u32>,
    /// Nodes off the inventory from the start: the spare slots an `added` observation
    /// brings on the network ([`Scenario::with_spare_nodes`](paraverse_sim::scenario::Scenario::with_spare_nodes)).
    pub off_inventory: &'a [u32],
    /// Once set (from another thread: a key pressed while a forecast runs), the twin stops
    /// within a tick with [`TwinError::Stopped`]; `None`: it runs to the feed's end.
    pub stop: Option<&'a AtomicBool>,
}

/// Why the twin stopped.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    /// A bad line in the feed.
    #[error(transparent)]
    Observation(#[from] crate::observation::ObservationError),
    /// The ensemble could not be built.
    #[error("cannot build the ensemble: {0}")]
    Build(String),
    /// A cycle's forecast failed.
    #[error("forecast at tick {tick}: {source}")]
    Forecast {
        /// The tick.
        tick: u32,
        /// Why.
        source: crate::forecast::ForecastError,
    },
    /// The caller could not write an output.
    #[error("{0}")]
    Output(String),
    /// [`TwinSpec::stop`] was set.
    #[error("stopped on request")]
    Stopped,
}

/// What the caller does with the twin's outputs.
pub trait Sink {
    /// A tick closed.
    fn estimate(&mut self, e: &Estimate) -> Result<(), String>;
    /// A cycle's forecast and recommendation.
    fn recommendation(&mut self, f: &Forecast) -> Result<(), String>;
}

/// Runs the twin of `scenario` on the feed `input` to its end; returns the ticks closed.
pub fn run(
    scenario: &Scenario,
    input: impl BufRead,
    origin: &str,
    resolver: &Resolver<'_>,
    spec: &TwinSpec<'_>,
    plugins: &[&'static dyn SimPlugin],
    sink: &mut dyn Sink,
) -> Result<u32, TwinError> {
    let plain = plugins.to_vec();
    let mut ensemble = Ensemble::new(
        scenario,
        spec.members,
        (spec.model.clone(), spec.prior),
        spec.backend,
        plugins,
    )
    .map_err(TwinError::Build)?;
    ensemble.take_off_inventory(spec.off_inventory);
    let failure: std::cell::RefCell<Option<TwinError>> = std::cell::RefCell::new(None);
    let fail = |e: TwinError| {
        failure.borrow_mut().get_or_insert(e);
    };
    let never = AtomicBool::new(false);
    let stop = spec.stop.unwrap_or(&never);
    let mut on_tick = |e: &Estimate, ens: &mut Ensemble| {
        if failure.borrow().is_some() {
            return;
        }
        if stop.load(Ordering::Relaxed) {
            fail(TwinError::Stopped);
            return;
        }
        if let Err(m) = sink.estimate(e) {
            fail(TwinError::Output(m));
            return;
        }
        if let Some((every, candidates, fspec)) = &spec.cycle
            && e.tick.is_multiple_of(*every)
        {
            let starts = match ens.weighted_starts(e.tick) {
                Ok(s) => s,
                Err(m) => {
                    fail(TwinError::Output(m.to_string()));
                    return;
                }
            };
            match forecast_until(&starts, candidates, fspec, plugins, &|| {}, stop) {
                Ok(f) => {
                    if let Err(m) = sink.recommendation(&f) {
                        fail(TwinError::Output(m));
                    }
                }
                Err(ForecastError::Stopped) => fail(TwinError::Stopped),
                Err(source) => fail(TwinError::Forecast {
                    tick: e.tick,
                    source,
                }),
            }
        }
    };
    let mut last = 0;
    let read_all = read(input, origin, resolver, |o| {
        if failure.borrow().is_some() {
            return Err("stopped: an output failed".into());
        }
        last = o.tick;
        ensemble.observe(o, &plain, &mut on_tick)
    });
    if failure.borrow().is_none() {
        let end = read_all?.end.unwrap_or(0);
        ensemble.close_until(
            last.max(end).max(spec.until.unwrap_or(0)),
            &plain,
            &mut on_tick,
        );
    }
    if let Some(f) = failure.into_inner() {
        return Err(f);
    }
    Ok(ensemble.tick())
}
