//! The plugins a universe is built with, declared once. Their order is the order in which
//! counters are registered, and so the order of the columns of timeseries.csv and of the
//! counters in summary.json: the CLI, the lab's runs, the Python package and the twin's
//! members all build from here, so `paraverse run` of a sweep's point writes the columns
//! the sweep's run wrote.

use paraverse_attackers::AttackerPlugin;
use paraverse_defenders::DefenderPlugin;
use paraverse_sim::operator::OperatorPlugin;
use paraverse_sim::prelude::SimPlugin;

/// The plugins every run uses: the scenario's campaigns, then its defenses.
pub const fn plugins() -> [&'static dyn SimPlugin; 2] {
    [&AttackerPlugin, &DefenderPlugin]
}

/// [`plugins`] and the operator's, last: a universe that takes exercise commands. Its
/// counters come after the others', so an exercise's columns extend a plain run's.
pub const fn plugins_with_operator() -> [&'static dyn SimPlugin; 3] {
    [&AttackerPlugin, &DefenderPlugin, &OperatorPlugin]
}

#[cfg(test)]
mod tests {
    use paraverse_sim::bundled;
    use paraverse_sim::metrics::Metrics;
    use paraverse_sim::prelude::*;

    use super::*;

    fn counters(plugins: &[&'static dyn SimPlugin]) -> Vec<String> {
        let scenario = bundled::load(Some("metaverse-under-siege")).unwrap();
        let u = Universe::build(scenario.with_ticks(1), plugins).unwrap();
        let metrics = u.world().resource::<Metrics>();
        metrics.names().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_exercises_counters_extend_a_plain_runs() {
        let plain = counters(&plugins());
        let exercise = counters(&plugins_with_operator());
        assert!(plain.len() > 20, "{plain:?}");
        assert!(
            exercise.len() > plain.len(),
            "the operator registers counters of its own"
        );
        assert_eq!(exercise[..plain.len()], plain[..]);
        let names: Vec<_> = plugins_with_operator().iter().map(|p| p.name()).collect();
        let plain_names: Vec<_> = plugins().iter().map(|p| p.name()).collect();
        assert_eq!(names[..2], plain_names[..]);
    }
}
