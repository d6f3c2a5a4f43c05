//! From arguments to a world: the plugins every universe gets, loading a scenario under a
//! strategy, the worker threads, the memory check, and [`WorldArgs`] turned into a
//! scenario and a universe, the one way `run`, `watch` and `view` build theirs.

use anyhow::{Context, Result};
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;

use crate::args::WorldArgs;
use crate::invalid;

/// The plugins, declared once in the lab (their order fixes the CSV columns).
pub use paraverse_lab::plugins::{plugins, plugins_with_operator};

impl WorldArgs {
    /// The scenario these arguments name, under their strategy and with their seed.
    pub fn scenario(&self) -> Result<Scenario> {
        let scenario = load_scenario(self.scenario.as_deref(), self.strategy.as_deref())?;
        Ok(match self.seed {
            Some(seed) => scenario.with_seed(seed),
            None => scenario,
        })
    }

    /// Starts the worker threads these arguments ask for (once per process, before the
    /// first universe is built).
    pub fn start_threads(&self) -> Result<()> {
        set_threads(self.threads)
    }

    /// Builds `scenario`'s universe with `plugins` on the chosen traffic backend.
    pub fn build(
        &self,
        scenario: Scenario,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Universe> {
        Universe::build_with(scenario, self.backend, plugins).context("cannot build the world")
    }
}

/// Starts `threads` worker threads for rayon's global pool; `None` leaves rayon's default
/// (all cores).
pub(crate) fn set_threads(threads: Option<u16>) -> Result<()> {
    if let Some(n) = threads {
        if let Some(warning) = oversubscribed(n, std::thread::available_parallelism().ok()) {
            eprintln!("{warning}");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build_global()
            .context("cannot start the worker threads")?;
    }
    Ok(())
}

/// The warning for more than twice as many worker threads as this process may use
/// cores: the workers poll for each tick's parallel passes, so the extra ones take turns
/// on the cores and slow the run instead of speeding it up.
fn oversubscribed(threads: u16, cores: Option<std::num::NonZeroUsize>) -> Option<String> {
    let cores = cores?.get();
    (usize::from(threads) > 2 * cores).then(|| {
        format!(
            "warning: --threads {threads} on {cores} core{}: the extra workers take turns on the cores and slow the run; results do not depend on the count",
            if cores == 1 { "" } else { "s" }
        )
    })
}

/// Loads a scenario (path or bundled name) and applies a strategy file if given.
pub(crate) fn load_scenario(
    scenario: Option<&str>,
    strategy: Option<&std::path::Path>,
) -> Result<Scenario> {
    let scenario = bundled::load(scenario)?;
    Ok(match strategy {
        Some(path) => bundled::with_strategy(scenario, path)?,
        None => scenario,
    })
}

/// The memory available to this process now: `MemAvailable` in /proc/meminfo, capped by
/// the cgroup's `memory.max` (containers, Slurm jobs) and by `PARAVERSE_MEMORY_AVAILABLE`
/// (bytes) where set, e.g. to leave room for other work on a shared machine.
pub(crate) fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
                .map(|kib| kib * 1024)
        });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    let declared = std::env::var("PARAVERSE_MEMORY_AVAILABLE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    [meminfo, cgroup, declared].into_iter().flatten().min()
}

/// Refuses to build `copies` universes of `scenario` at once when their estimated peak
/// memory exceeds what the machine has available, unless `force`: saying the estimate,
/// the memory and the way out, before any time is spent.
pub(crate) fn check_memory(scenario: &Scenario, copies: usize, force: bool) -> Result<()> {
    check_universes(
        scenario,
        (copies, "runs at once"),
        "run fewer at once (--threads)",
        Some(force),
    )
}

/// [`check_memory`] for `copies.0` universes of `scenario` held at once, `copies.1`
/// saying what they are ("members and forecast runs"); `fewer` says how to need fewer,
/// and `force` is the command's --force where it has one to go ahead anyway.
pub(crate) fn check_universes(
    scenario: &Scenario,
    (copies, what): (usize, &str),
    fewer: &str,
    force: Option<bool>,
) -> Result<()> {
    let need = scenario
        .memory_estimate()
        .saturating_mul(copies.max(1) as u64);
    let Some(have) = available_memory() else {
        return Ok(());
    };
    if need <= have || force == Some(true) {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    Err(invalid(format!(
        "{} ({} nodes) needs about {:.1} GiB{} and this machine has {:.1} GiB available: shrink the scenario (group counts), {fewer}{}",
        scenario.name,
        scenario.node_count,
        gib(need),
        if copies > 1 {
            format!(" for {copies} {what}")
        } else {
            String::new()
        },
        gib(have),
        if force.is_some() {
            ", or pass --force to try anyway"
        } else {
            ""
        }
    )))
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::oversubscribed;

    #[test]
    fn more_than_twice_the_cores_is_warned_of() {
        let cores = |n| NonZeroUsize::new(n);
        assert_eq!(oversubscribed(4, cores(2)), None);
        assert_eq!(oversubscribed(2, cores(1)), None);
        assert_eq!(oversubscribed(64, None), None, "unknown cores: no guess");
        let w = oversubscribed(5, cores(2)).unwrap();
        assert!(w.starts_with("warning: --threads 5 on 2 cores:"), "{w}");
        assert!(oversubscribed(3, cores(1)).unwrap().contains("on 1 core:"));
    }
}
