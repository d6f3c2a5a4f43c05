//! Actions taken between ticks by someone outside the scenario: an agent stepping a
//! universe from Python, later a red or blue team at the keyboard.
//!
//! Scripted defenses act from inside the schedule; an operator acts on what it saw at the
//! end of a tick, so its actions are queued ([`Universe::act`](crate::universe::Universe::act))
//! and applied at the start of the next tick, before anything else runs. They go through
//! the same counters as the scripted defenses (`quarantines`, `false_quarantines`,
//! `releases`, `patches`, `hardened`, `revocations`), so they count in the cost objective
//! exactly as a scripted quarantine, patch or hardening round or an adaptive revocation
//! does, and each leaves an event (`operator_quarantine`, `operator_release`,
//! `operator_patch`, `operator_harden`, `operator_revoke`) in the log. A revocation
//! always counts (the user re-enrols) and its event's `truth` says whether the account
//! had been taken over. A release is the simulator's own:
//! the node is rebuilt clean and patched.
//!
//! The red team has one action, [`OperatorAction::Exploit`]: it steers one of the
//! scenario's campaigns by exploiting a node of its choosing. The exploit takes the node
//! exactly when the simulator's own exploits could ([`Security::exposed`]: not held, not
//! isolated, not patched), hands it to that campaign (so a worm spreads from it, detectors
//! can see it, and its compromised hours count in the security loss), and is logged as an
//! `operator_exploit` event naming the campaign (ATT&CK T1210). Attempts and successes are
//! counted (`exploit_attempts`, `exploits`); neither is a defense cost.
//!
//! Red can also [`OperatorAction::Launch`] a campaign of the scenario's catalogue ahead of
//! its schedule: it starts at the next tick, its later phases (a botnet's flood) keep their
//! offsets from its start ([`Launches`]), and the launch is counted (`launches`) and
//! logged (`operator_launch`, naming the campaign). A campaign already under way cannot
//! be launched again.
//!
//! Blue also has a policy-level order: [`deploy`] another strategy, which replaces the
//! defenses in force from the next tick on
//! ([`Universe::switch_strategy`](crate::universe::Universe::switch_strategy)); it is
//! counted (`strategy_switches`), logged (`operator_strategy`, at the tick it takes
//! effect), and its defenses' costs count from then on as the scripted ones' do.
//!
//! Only universes built with [`OperatorPlugin`] accept actions: the plugin registers the
//! counters at build time, so a run without an operator has exactly the columns it had
//! before. Actions are applied in the order given; the same actions at the same ticks give
//! the same run.

pub mod script;
pub mod teams;

use bevy_ecs::prelude::*;

use crate::metrics::{CounterId, EventLog, Metrics, RunEvent};
use crate::policy::AccessPolicy;
use crate::scenario::Scenario;
use crate::universe::{SimPlugin, UniverseBuilder};
use crate::world::{CampaignId, Clock, Security, SecurityEdits, dense};

/// What an operator does to one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorAction {
    /// Isolate the node (it neither sends nor receives).
    Quarantine(u32),
    /// Rebuild an isolated node (clean, patched) and put it back on the network.
    Release(u32),
    /// Patch the node's known vulnerabilities (an attacker already in stays).
    Patch(u32),
    /// Replace the node's factory-default credentials (hardening; an attacker already in
    /// stays).
    Harden(u32),
    /// Revoke the credentials of the node's user: an account taken over is lost to the
    /// attacker; the user re-enrols (friction), whether or not it was taken.
    Revoke(u32),
    /// Red: exploit the node for the campaign (an index into the scenario's campaigns).
    Exploit {
        /// The node attacked.
        node: u32,
        /// The campaign that holds it if the exploit works.
        campaign: CampaignId,
    },
    /// Red: start a campaign of the scenario's catalogue now, ahead of its schedule.
    Launch(CampaignId),
    /// Blue: cut every connection between two zones, both ways ([`AccessPolicy::cut`]),
    /// or (`cut: false`) restore them.
    Isolate {
        /// The two zones.
        zones: (u16, u16),
        /// Cut, or reconnect.
        cut: bool,
    },
}

impl OperatorAction {
    /// The node acted on (none for a zone cut).
    pub fn node(self) -> Option<u32> {
        match self {
            Self::Quarantine(n)
            | Self::Release(n)
            | Self::Patch(n)
            | Self::Harden(n)
            | Self::Revoke(n) => Some(n),
            Self::Exploit { node, .. } => Some(node),
            Self::Isolate { .. } | Self::Launch(_) => None,
        }
    }

    /// Which team acts: `red` for an exploit or a launch, `blue` for the rest.
    pub fn team(self) -> &'static str {
        match self {
            Self::Exploit { .. } | Self::Launch(_) => "red",
            _ => "blue",
        }
    }
}

/// What the defenders' sensors show of a node: alerted, quarantined, patched, out of
/// service (encrypted or overwhelmed). Never whether it is compromised, by whom, or any
/// other ground truth.
pub fn blue_view(s: &Security) -> [bool; 4] {
    [s.alerted, s.quarantined, s.patched, !s.serving()]
}

/// What the attacker steering `campaign` knows of a node: whether it holds it (and can
/// reach it), whether the node is silent on the network (isolated), whether its services
/// are down. Never the defenders' alerts, patches or hardening.
pub fn red_view(s: &Security, campaign: CampaignId) -> [bool; 3] {
    [
        s.compromised && s.campaign == campaign && !s.quarantined,
        s.quarantined,
        !s.serving(),
    ]
}

/// The ATT&CK technique an operator's exploit is logged with (Exploitation of Remote
/// Services).
pub const EXPLOIT_TECHNIQUE: &str = "T1210";

/// The operator's queue and counters (present only with [`OperatorPlugin`]).
#[derive(Resource, Debug, Clone)]
pub struct Operator {
    /// Actions waiting for the next tick.
    pub queue: Vec<OperatorAction>,
    quarantines: CounterId,
    false_quarantines: CounterId,
    releases: CounterId,
    patches: CounterId,
    hardened: CounterId,
    revocations: CounterId,
    exploit_attempts: CounterId,
    exploits: CounterId,
    strategy_switches: CounterId,
    zone_cuts: CounterId,
    launches: CounterId,
}

/// When the red operator moved campaigns' starts: how many ticks each campaign was
/// brought forward (0: on the scenario's schedule). Attack systems ask it when a phase
/// scheduled at some tick starts ([`Launches::start`]); only universes with
/// [`OperatorPlugin`] hold it.
#[derive(Resource, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Launches {
    advance: Vec<u32>,
}

crate::persist_whole!(Launches);

impl Launches {
    /// The tick a phase of `campaign` scheduled at `scheduled` starts.
    #[inline]
    pub fn start(&self, campaign: CampaignId, scheduled: u32) -> u32 {
        scheduled.saturating_sub(
            self.advance
                .get(usize::from(campaign))
                .copied()
                .unwrap_or(0),
        )
    }

    /// [`Launches::start`] where a universe may have no operator (`None`: on schedule).
    #[inline]
    pub fn start_of(launches: Option<&Self>, campaign: CampaignId, scheduled: u32) -> u32 {
        launches.map_or(scheduled, |l| l.start(campaign, scheduled))
    }

    /// The tick `campaign` starts (on its schedule or launched) if that is the next tick
    /// of `universe` or earlier: a launch given now would be refused.
    pub fn under_way_next_tick(
        universe: &crate::universe::Universe,
        campaign: CampaignId,
    ) -> Option<u32> {
        let scheduled = universe.scenario().campaigns[usize::from(campaign)].start_tick;
        let start = Self::start_of(universe.world().get_resource(), campaign, scheduled);
        (start <= universe.clock().tick + 1).then_some(start)
    }

    /// Whether `campaign`, whose scenario start is `scheduled`, is under way at `tick`.
    pub fn under_way(&self, campaign: CampaignId, scheduled: u32, tick: u32) -> bool {
        self.start(campaign, scheduled) <= tick
    }
}

/// Why a universe built without [`OperatorPlugin`] refuses an action.
pub const NO_OPERATOR: &str =
    "this universe takes no operator actions: build it with OperatorPlugin";

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
                hardened: metrics.register("hardened", "nodes hardened"),
                revocations: metrics.register("revocations", "credentials revoked"),
                exploit_attempts: metrics.register(
                    "exploit_attempts",
                    "nodes the red operator tried to exploit",
                ),
                exploits: metrics.register("exploits", "nodes the red operator took over"),
                strategy_switches: metrics
                    .register("strategy_switches", "strategies the blue operator deployed"),
                zone_cuts: metrics.register("zone_cuts", "zone pairs the blue operator cut"),
                launches: metrics.register(
                    "launches",
                    "campaigns the red operator launched ahead of schedule",
                ),
            }
        };
        let launches = Launches {
            advance: vec![0; builder.scenario.campaigns.len()],
        };
        builder.world_mut().insert_resource(launches);
        builder.persist::<Launches>();
        // A cut refuses flows: count them as segmentation's and zero trust's are.
        let world = builder.world_mut();
        if world.contains_resource::<crate::traffic::TrafficCore>() {
            world.resource_scope(|world, mut core: Mut<crate::traffic::TrafficCore>| {
                core.count_blocked(&mut world.resource_mut::<Metrics>());
            });
        }
        builder.world_mut().insert_resource(operator);
        // Actions are applied as the tick starts, so none is ever pending at a checkpoint
        // taken between ticks: the queue holds nothing to save.
        builder.rebuilt::<Operator>();
        Ok(())
    }
}

/// Blue deploys `scenario`'s strategy (this universe's scenario with another strategy):
/// the defenses in force are replaced from the next tick on
/// ([`Universe::switch_strategy`](crate::universe::Universe::switch_strategy)), and the
/// order is counted and logged as the node actions are.
pub fn deploy(universe: &mut crate::universe::Universe, scenario: Scenario) -> Result<(), String> {
    if universe.world().get_resource::<Operator>().is_none() {
        return Err(NO_OPERATOR.into());
    }
    universe
        .switch_strategy(scenario)
        .map_err(|e| e.to_string())?;
    let tick = universe.clock().tick + 1;
    let world = universe.world_mut();
    let id = world.resource::<Operator>().strategy_switches;
    world.resource_mut::<Metrics>().add(id, 1);
    world.resource_mut::<EventLog>().push(RunEvent {
        node: None,
        ..RunEvent::new(tick, "operator_strategy", 0)
    });
    Ok(())
}

/// Applies the queued actions to the nodes as the tick starts, counting and logging each
/// that changes something (quarantining an isolated node, releasing one that is not,
/// patching a patched one, or exploiting a node that is not exposed does nothing).
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters are its data access"
)]
pub fn apply(
    mut nodes: Query<&mut Security>,
    mut operator: ResMut<Operator>,
    mut policy: ResMut<AccessPolicy>,
    mut launches: ResMut<Launches>,
    scenario: Res<crate::world::ScenarioRes>,
    clock: Res<Clock>,
    mut metrics: ResMut<Metrics>,
    mut log: ResMut<EventLog>,
    mut edits: Option<ResMut<SecurityEdits>>,
) {
    let mut security = dense(nodes.contiguous_iter_mut().expect("node query is dense"));
    let security = security.bypass_change_detection();
    let tick = clock.tick;
    // An exploit hands a node to a campaign from outside it, and a launch can move a
    // campaign's first tick: a worm's list of the nodes it holds must hear of either
    // ([`SecurityEdits`]). The other actions only take nodes from a campaign (quarantine,
    // release) or touch no campaign's hold, which the list's own filter sees.
    let mut record = || {
        if let Some(edits) = edits.as_deref_mut() {
            edits.record();
        }
    };
    for action in std::mem::take(&mut operator.queue) {
        if let OperatorAction::Launch(c) = action {
            let Some(campaign) = scenario.campaigns.get(usize::from(c)) else {
                continue;
            };
            if !launches.under_way(c, campaign.start_tick, tick) {
                record();
                launches.advance[usize::from(c)] = campaign.start_tick - tick;
                metrics.add(operator.launches, 1);
                log.push(RunEvent {
                    node: None,
                    campaign: Some(c),
                    ..RunEvent::new(tick, "operator_launch", 0)
                });
            }
            continue;
        }
        if let OperatorAction::Isolate { zones: (a, b), cut } = action {
            if policy.cut(a, b, cut) {
                if cut {
                    metrics.add(operator.zone_cuts, 1);
                }
                let kind = if cut {
                    "operator_isolate"
                } else {
                    "operator_reconnect"
                };
                log.push(RunEvent::global(tick, kind, policy.cuts().len() as u64));
            }
            continue;
        }
        let Some(s) = action.node().and_then(|n| security.get_mut(n as usize)) else {
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
            OperatorAction::Harden(_) if !s.hardened => {
                s.hardened = true;
                metrics.add(operator.hardened, 1);
                "operator_harden"
            }
            OperatorAction::Revoke(_) => {
                metrics.add(operator.revocations, 1);
                "operator_revoke"
            }
            OperatorAction::Exploit { campaign, .. } => {
                metrics.add(operator.exploit_attempts, 1);
                if !s.exposed() {
                    continue;
                }
                s.compromise(campaign);
                record();
                metrics.add(operator.exploits, 1);
                "operator_exploit"
            }
            _ => continue,
        };
        let mut e = RunEvent::new(tick, kind, action.node().unwrap_or_default());
        match action {
            OperatorAction::Quarantine(_) => e.truth = Some(s.compromised),
            OperatorAction::Revoke(_) => {
                e.truth = Some(std::mem::take(&mut s.account_taken_over));
            }
            OperatorAction::Exploit { campaign, .. } => {
                e.campaign = Some(campaign);
                e.technique = Some(EXPLOIT_TECHNIQUE);
            }
            _ => {}
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
        let plugins: Vec<&'static dyn SimPlugin> = if operator {
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

    fn security(bits: u16, campaign: CampaignId) -> Security {
        let f = |i: u16| bits & (1 << i) != 0;
        Security {
            compromised: f(0),
            quarantined: f(1),
            patched: f(2),
            alerted: f(3),
            ever_compromised: f(4),
            encrypted: f(5),
            overwhelmed: f(6),
            account_taken_over: f(7),
            hardened: f(8),
            campaign,
            rebuilds: (bits >> 9) as u8,
        }
    }

    proptest::proptest! {
        /// Blue sees no ground truth: changing only what the attacker knows (compromised,
        /// by which campaign, ever, accounts taken, rebuilds) never changes blue's view; red
        /// sees no defenders' sensor: changing alerts, patches or hardening never changes
        /// red's.
        #[test]
        fn each_team_sees_only_its_own_sensors(
            a in 0u16..1 << 12,
            b in 0u16..1 << 12,
            ca in 0u16..4,
            cb in 0u16..4,
            red in 0u16..4,
        ) {
            const TRUTH: u16 = 1 | 1 << 4 | 1 << 7 | 0b111 << 9;
            let (x, y) = (security(a, ca), security((a & !TRUTH) | (b & TRUTH), cb));
            proptest::prop_assert_eq!(blue_view(&x), blue_view(&y));
            const BLUE: u16 = 1 << 2 | 1 << 3 | 1 << 8;
            let z = security((a & !BLUE) | (b & BLUE), ca);
            proptest::prop_assert_eq!(red_view(&x, red), red_view(&z, red));
        }
    }

    #[test]
    fn a_red_exploit_takes_an_exposed_node_for_its_campaign_and_nothing_else() {
        let mut u = campus(true);
        u.step();
        let (exposed, patched) = u.with_security(|s| {
            let exposed = s.iter().position(Security::exposed).unwrap() as u32;
            let patched = s.iter().position(|s| s.patched && !s.compromised).unwrap() as u32;
            (exposed, patched)
        });
        let exploit = |node| OperatorAction::Exploit { node, campaign: 0 };
        u.act(&[OperatorAction::Quarantine(patched), exploit(exposed)])
            .unwrap();
        u.act(&[exploit(patched)]).unwrap();
        let err = u
            .act(&[OperatorAction::Exploit {
                node: 1,
                campaign: 9,
            }])
            .unwrap_err();
        assert!(err.contains("no such campaign"), "{err}");
        u.step();
        u.with_security(|s| {
            let taken = s[exposed as usize];
            assert!(taken.compromised && taken.ever_compromised && taken.campaign == 0);
            assert!(
                !s[patched as usize].compromised,
                "patched and isolated: not exposed"
            );
        });
        assert_eq!(exploit(3).team(), "red");
        assert_eq!(OperatorAction::Patch(3).team(), "blue");
        let r = u.finish();
        let total = |n: &str| r.summary.counters.get(n).copied().unwrap_or(0);
        assert_eq!((total("exploit_attempts"), total("exploits")), (2, 1));
        let e = r
            .events
            .iter()
            .find(|e| e.kind == "operator_exploit")
            .expect("logged");
        assert_eq!(
            (e.tick, e.node, e.campaign, e.technique),
            (2, Some(exposed), Some(0), Some(EXPLOIT_TECHNIQUE))
        );
    }

    /// Only actions that can hand a campaign a node count as edits of the nodes' security
    /// (a worm then makes its list of the nodes it holds afresh, #20): a successful
    /// exploit and a launch do; quarantines, releases, patches, hardening, revocations,
    /// zone cuts and a failed exploit do not — an agent that quarantines every tick does
    /// not send the worm back to a pass over every node.
    #[test]
    fn only_actions_that_can_hand_over_a_node_count_as_security_edits() {
        use crate::world::SecurityEdits;
        let mut u = campus(true);
        u.step();
        let edits = |u: &Universe| u.world().resource::<SecurityEdits>().0;
        let (exposed, patched) = u.with_security(|s| {
            let exposed = s.iter().position(Security::exposed).unwrap() as u32;
            let patched = s.iter().position(|s| s.patched && !s.compromised).unwrap() as u32;
            (exposed, patched)
        });
        let exploit = |node| OperatorAction::Exploit { node, campaign: 0 };
        let quiet = edits(&u);
        u.act(&[
            OperatorAction::Quarantine(4),
            OperatorAction::Release(4),
            OperatorAction::Patch(5),
            OperatorAction::Harden(6),
            OperatorAction::Revoke(7),
            OperatorAction::Isolate {
                zones: (0, 1),
                cut: true,
            },
            exploit(patched),
        ])
        .unwrap();
        u.step();
        assert_eq!(edits(&u), quiet, "no action handed a campaign a node");
        u.act(&[exploit(exposed)]).unwrap();
        u.step();
        assert_eq!(edits(&u), quiet + 1, "an exploit took a node");
        u.act(&[OperatorAction::Launch(0)]).unwrap();
        u.step();
        assert_eq!(edits(&u), quiet + 2, "a launch moved a campaign's start");
    }

    #[test]
    fn harden_counts_once_and_revoke_always_and_evicts_a_taken_account() {
        let mut u = campus(true);
        u.step();
        u.with_security_mut(|s| s[7].account_taken_over = true);
        u.act(&[
            OperatorAction::Harden(5),
            OperatorAction::Harden(5),
            OperatorAction::Revoke(7),
            OperatorAction::Revoke(8),
        ])
        .unwrap();
        u.step();
        u.with_security(|s| assert!(s[5].hardened && !s[7].account_taken_over));
        let r = u.finish();
        let total = |n: &str| r.summary.counters.get(n).copied().unwrap_or(0);
        assert_eq!((total("hardened"), total("revocations")), (1, 2));
        let revoked: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.kind == "operator_revoke")
            .map(|e| (e.node, e.truth))
            .collect();
        assert_eq!(revoked, [(Some(7), Some(true)), (Some(8), Some(false))]);
    }

    #[test]
    fn objectives_alone_equal_the_summarys_at_every_step() {
        let mut u = campus(true);
        for tick in 0..10 {
            if tick == 4 {
                u.act(&[OperatorAction::Quarantine(3), OperatorAction::Patch(9)])
                    .unwrap();
            }
            let (alone, summary) = (u.objectives(), u.summary().objectives);
            assert_eq!(
                (alone.security_loss, alone.availability, alone.cost),
                (summary.security_loss, summary.availability, summary.cost),
                "tick {tick}"
            );
            u.step();
        }
    }

    /// Blue cuts the XR zone from the cloud: no connection crosses, either way, the XR
    /// streams to the render farm are refused and count as friction, the zones' own
    /// traffic goes on; reconnecting restores it.
    #[test]
    fn a_zone_cut_refuses_every_connection_across_until_reconnected() {
        let mut u = campus(true);
        u.step();
        let s = u.scenario().clone();
        let zone = |name: &str| s.zones.iter().position(|z| z == name).unwrap() as u16;
        let first = |name: &str| s.groups.iter().find(|g| g.name == name).unwrap().first_node;
        let (xr, cloud) = (zone("campus-xr"), zone("cloud"));
        let (headset, glasses, render) = (
            first("xr-headsets"),
            first("ar-glasses"),
            first("gpu-render"),
        );
        let isolate = |cut| OperatorAction::Isolate {
            zones: (cloud, xr),
            cut,
        };
        let err = u
            .act(&[OperatorAction::Isolate {
                zones: (xr, 99),
                cut: true,
            }])
            .unwrap_err();
        assert!(err.contains("no such zone"), "{err}");
        u.act(&[isolate(true), isolate(true)]).unwrap();
        u.step();
        {
            let policy = u.world().resource::<AccessPolicy>();
            assert_eq!(policy.cuts(), [(xr.min(cloud), xr.max(cloud))]);
            assert!(!policy.allows(headset, render) && !policy.allows(render, headset));
            assert!(policy.allows(headset, glasses), "within a zone");
        }
        for _ in 0..3 {
            u.step();
        }
        let blocked = u.world().resource::<Metrics>().total("blocked_flow_ticks");
        assert!(blocked.is_some_and(|b| b > 0), "{blocked:?}");
        u.act(&[isolate(false)]).unwrap();
        u.step();
        assert!(u.world().resource::<AccessPolicy>().allows(headset, render));
        let r = u.finish();
        assert_eq!(
            r.summary.counters["zone_cuts"], 1,
            "the second cut changed nothing"
        );
        let logged: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.kind.starts_with("operator_"))
            .map(|e| (e.tick, e.kind, e.value))
            .collect();
        assert_eq!(
            logged,
            [
                (2, "operator_isolate", Some(1)),
                (6, "operator_reconnect", Some(0))
            ]
        );
        assert!(r.summary.cost.friction > 0.0);
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
