//! Actions taken between ticks by someone outside the scenario: an agent stepping a
//! universe from Python, later a blue team at the keyboard.
//!
//! Scripted defenses act from inside the schedule; an operator acts on what it saw at the
//! end of a tick, so its actions are queued ([`Universe::act`](crate::universe::Universe::act))
//! and applied at the start of the next tick, before anything else runs. They go through
//! the same counters as the scripted defenses (`quarantines`, `false_quarantines`,
//! `releases`, `patches`), so they count in the cost objective exactly as a scripted
//! quarantine or patch round does, and each leaves an event (`operator_quarantine`,
//! `operator_release`, `operator_patch`) in the log. A release is the simulator's own:
//! the node is rebuilt clean and patched.
//!
//! Only universes built with [`OperatorPlugin`] accept actions: the plugin registers the
//! counters at build time, so a run without an operator has exactly the columns it had
//! before. Actions are applied in the order given; the same actions at the same ticks give
//! the same run.

use bevy_ecs::prelude::*;

use crate::metrics::{CounterId, EventLog, Metrics, RunEvent};
use crate::universe::{SimPlugin, UniverseBuilder};
use crate::world::{Clock, Security, dense};

/// What an operator does to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorAction {
    /// Isolate the node (it neither sends nor receives).
    Quarantine(u32),
    /// Rebuild an isolated node (clean, patched) and put it back on the network.
    Release(u32),
    /// Patch the node's known vulnerabilities (an attacker already in stays).
    Patch(u32),
}

impl OperatorAction {
    /// The node acted on.
    pub fn node(self) -> u32 {
        match self {
            Self::Quarantine(n) | Self::Release(n) | Self::Patch(n) => n,
        }
    }
}

/// The operator's queue and counters (present only with [`OperatorPlugin`]).
#[derive(Resource, Debug, Clone)]
pub struct Operator {
    /// Actions waiting for the next tick.
    pub queue: Vec<OperatorAction>,
    quarantines: CounterId,
    false_quarantines: CounterId,
    releases: CounterId,
    patches: CounterId,
}

/// Lets a universe take operator actions ([`Universe::act`](crate::universe::Universe::act)).
#[derive(Debug, Clone, Copy, Default)]
pub struct OperatorPlugin;

impl SimPlugin for OperatorPlugin {
    fn name(&self) -> &'static str {
        "operator"
    }

    fn build(&self, builder: &mut UniverseBuilder<'_>) -> Result<(), String> {
        let operator = {
            let mut metrics = builder.metrics();
            // The scripted defenses' names: a second registration returns the same counter.
            Operator {
                queue: Vec::new(),
                quarantines: metrics.register("quarantines", "nodes isolated"),
                false_quarantines: metrics.register("false_quarantines", "clean nodes isolated"),
                releases: metrics.register("releases", "nodes rebuilt and released"),
                patches: metrics.register("patches", "nodes patched"),
            }
        };
        builder.world_mut().insert_resource(operator);
        // Actions are applied as the tick starts, so none is ever pending at a checkpoint
        // taken between ticks: the queue holds nothing to save.
        builder.rebuilt::<Operator>();
        Ok(())
    }
}

/// Applies the queued actions to the nodes as the tick starts, counting and logging each
/// that changes something (quarantining an isolated node, releasing one that is not, or
/// patching a patched one does nothing).
pub fn apply(
    mut nodes: Query<&mut Security>,
    mut operator: ResMut<Operator>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
) {
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = clock.tick;
    for action in std::mem::take(&mut operator.queue) {
        let Some(s) = security.get_mut(action.node() as usize) else {
            continue;
        };
        let kind = match action {
            OperatorAction::Quarantine(_) if !s.quarantined => {
                s.quarantined = true;
                metrics.add(operator.quarantines, 1);
                if !s.compromised {
                    metrics.add(operator.false_quarantines, 1);
                }
                "operator_quarantine"
            }
            OperatorAction::Release(_) if s.quarantined => {
                s.release(true);
                metrics.add(operator.releases, 1);
                "operator_release"
            }
            OperatorAction::Patch(_) if !s.patched => {
                s.patched = true;
                metrics.add(operator.patches, 1);
                "operator_patch"
            }
            _ => continue,
        };
        let mut e = RunEvent::new(tick, kind, action.node());
        if kind == "operator_quarantine" {
            e.truth = Some(s.compromised);
        }
        log.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundled;
    use crate::universe::Universe;

    fn campus(operator: bool) -> Universe {
        let s = bundled::load(None).unwrap().with_ticks(10);
        let plugins: Vec<&dyn SimPlugin> = if operator {
            vec![&OperatorPlugin]
        } else {
            vec![]
        };
        Universe::build(s, &plugins).unwrap()
    }

    #[test]
    fn actions_apply_at_the_next_tick_through_the_defenses_counters() {
        let mut u = campus(true);
        u.step();
        let unpatched = u
            .with_security(|s| s.iter().position(|s| !s.patched))
            .unwrap() as u32;
        u.act(&[
            OperatorAction::Quarantine(4),
            OperatorAction::Quarantine(4),
            OperatorAction::Patch(unpatched),
            OperatorAction::Release(6),
        ])
        .unwrap();
        assert!(
            !u.with_security(|s| s[4].quarantined),
            "queued, not yet applied"
        );
        u.step();
        u.with_security(|s| {
            assert!(s[4].quarantined && s[unpatched as usize].patched && !s[6].quarantined);
        });
        let r = u.finish();
        let total = |n: &str| r.summary.counters.get(n).copied().unwrap_or(0);
        // The second quarantine of node 4 and the release of a free node change nothing.
        assert_eq!(
            (total("quarantines"), total("patches"), total("releases")),
            (1, 1, 0)
        );
        assert_eq!(total("false_quarantines"), 1, "node 4 was clean");
        let logged: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.kind.starts_with("operator_"))
            .map(|e| (e.tick, e.kind, e.node))
            .collect();
        assert_eq!(
            logged,
            [
                (2, "operator_quarantine", Some(4)),
                (2, "operator_patch", Some(unpatched))
            ]
        );
    }

    #[test]
    fn a_universe_without_the_plugin_refuses_actions_and_keeps_its_columns() {
        let mut plain = campus(false);
        assert!(plain.act(&[OperatorAction::Patch(1)]).is_err());
        let mut with = campus(true);
        assert!(with.act(&[OperatorAction::Patch(u32::MAX)]).is_err());
        // Without actions, the operator changes no value, only adds its counters.
        plain.run(|_| {});
        with.run(|_| {});
        let (a, b) = (plain.finish(), with.finish());
        assert_eq!(a.summary.compromised_ever, b.summary.compromised_ever);
        assert_eq!(a.events.len(), b.events.len());
    }
}
