//! The particle filter learns what the scenario can only guess: a truth run whose worm
//! spreads three times faster (or slower) than the scenario says is followed by members
//! whose attack-rate factors move toward it and whose estimate follows the truth better
//! than members held at the scenario's rates (`RatePrior::EXACT`, whose factors stay 1).

use paraverse_sim::bundled;
use paraverse_sim::prelude::*;
use paraverse_twin::ensemble::{AlertModel, Ensemble, RatePrior};
use paraverse_twin::observation::blue_observations;

const PLUGINS: [&'static dyn SimPlugin; 2] = paraverse_lab::plugins::plugins();

/// Nothing to do with a tick's estimate.
fn nothing(_: &paraverse_twin::ensemble::Estimate, _: &mut Ensemble) {}

/// The plugins as a universe takes them.
fn plain() -> Vec<&'static dyn SimPlugin> {
    PLUGINS.iter().map(|&p| p as &dyn SimPlugin).collect()
}

/// `k` members of a bundled scenario, `ticks` long, with the default speed prior.
fn ensemble_of(name: &str, ticks: u32, k: u32) -> Ensemble {
    let scenario = bundled::load(Some(name))
        .unwrap()
        .with_seed(1)
        .with_ticks(ticks);
    ensemble(&scenario, k)
}

/// `k` members of `scenario` with the default speed prior.
fn ensemble(scenario: &Scenario, k: u32) -> Ensemble {
    Ensemble::new(
        scenario,
        k,
        (MODEL, RatePrior::DEFAULT),
        BackendChoice::Cpu,
        &PLUGINS,
    )
    .unwrap()
}

/// The campus's detector: it finds an infected sensor in the tick after infection.
const MODEL: AlertModel = AlertModel::uniform(0.9, 4e-5);

/// Follows the blue feed of a campus run whose campaigns run at `truth` times the
/// scenario's rates; returns the members' weighted mean factor at the end and the mean
/// absolute error of the estimate of compromised nodes.
fn follow(truth: f64, prior: RatePrior) -> (f64, f64) {
    let scenario = bundled::load(Some("metaverse-campus"))
        .unwrap()
        .with_seed(5)
        .with_ticks(100);
    let plain = plain();
    let mut real = Universe::build(scenario.clone().with_attack_rates(truth), &plain).unwrap();
    let mut compromised = vec![0.0];
    while real.step() {
        compromised.push(real.with_security(|s| s.iter().filter(|s| s.compromised).count()) as f64);
    }
    let feed = blue_observations(real.world().resource::<EventLog>().events());
    let mut ensemble =
        Ensemble::new(&scenario, 16, (MODEL, prior), BackendChoice::Cpu, &PLUGINS).unwrap();
    let mut error = Vec::new();
    let mut on_tick = |e: &paraverse_twin::ensemble::Estimate, _: &mut Ensemble| {
        error.push((e.mean - compromised[e.tick as usize]).abs());
    };
    for o in feed {
        ensemble.observe(o, &plain, &mut on_tick).unwrap();
    }
    ensemble.close_until(100, &plain, &mut on_tick);
    let rate = ensemble
        .rates()
        .iter()
        .zip(ensemble.weights())
        .map(|(r, w)| r * w)
        .sum();
    (rate, error.iter().sum::<f64>() / error.len() as f64)
}

#[test]
fn the_members_learn_the_attackers_speed() {
    let prior = RatePrior { spread: 4.0 };
    let (fast, fast_error) = follow(3.0, prior);
    let (slow, slow_error) = follow(1.0 / 3.0, prior);
    eprintln!("fast {fast} (error {fast_error}), slow {slow} (error {slow_error})");
    assert!(fast > 1.5, "a worm 3x faster: members at {fast}");
    // Drawn back toward the scenario's rates at every copy (`REVERSION`), the members
    // following the slower worm stop shorter of it within 100 ticks (0.54; 0.25 before).
    assert!(slow < 0.8, "a worm 3x slower: members at {slow}");
    // With the scenario's rates only, the members cannot follow a faster worm as well.
    let (exact, exact_error) = follow(3.0, RatePrior::EXACT);
    eprintln!("exact prior: {exact} (error {exact_error})");
    // Every member's factor is 1; the weighted mean is 1 up to the weights' float sum.
    assert!((exact - 1.0).abs() < 1e-12, "exact prior: {exact}");
    assert!(
        fast_error < exact_error,
        "learning the speed should follow the fast worm better: {fast_error} vs {exact_error}"
    );
}

#[test]
fn a_spread_below_one_is_refused() {
    let scenario = bundled::load(Some("metaverse-campus")).unwrap();
    let err = Ensemble::new(
        &scenario,
        2,
        (MODEL, RatePrior { spread: 0.5 }),
        BackendChoice::Cpu,
        &PLUGINS,
    )
    .err()
    .unwrap();
    assert!(err.contains("at least 1"), "{err}");
}

#[test]
fn a_measured_link_load_reaches_every_member_and_a_non_link_is_refused() {
    let plain = plain();
    let mut ensemble = ensemble_of("metaverse-under-siege", 20, 3);
    ensemble.close_until(2, &plain, &mut nothing);
    // The busiest channel of member 0, and the link it belongs to.
    let (channel, from, to) = {
        let u = &ensemble.members()[0];
        let core = u.traffic().unwrap();
        let (d, _) = core
            .state
            .offered
            .iter()
            .enumerate()
            .max_by_key(|(_, o)| **o)
            .unwrap();
        let channel = core.used_channels()[d];
        let (a, b) = u.world().resource::<Topology>().endpoints(channel / 2);
        if channel.is_multiple_of(2) {
            (channel, a, b)
        } else {
            (channel, b, a)
        }
    };
    let capacity = ensemble.members()[0].traffic().unwrap().capacity[channel as usize];
    let measured = 3 * u64::from(capacity);
    let load = |kind, node, link| paraverse_twin::observation::Resolved {
        tick: 4,
        kind,
        node,
        link,
    };
    use paraverse_twin::observation::Kind;
    ensemble
        .observe(
            load(Kind::LinkLoad, from, Some((to, measured))),
            &plain,
            &mut nothing,
        )
        .unwrap();
    ensemble.close_until(5, &plain, &mut nothing);
    for u in ensemble.members() {
        let core = u.traffic().unwrap();
        let d = core.used_channels().binary_search(&channel).unwrap();
        assert!(
            core.state.offered[d] >= measured * 9 / 10,
            "offered {} of {measured}",
            core.state.offered[d]
        );
        assert_eq!(core.state.load[d], u64::from(capacity), "saturated");
    }
    let topology = ensemble.members()[0].world().resource::<Topology>().clone();
    let far = (0..topology.node_count() as u32)
        .find(|&n| n != from && !topology.neighbours(from).contains(&n))
        .unwrap();
    let err = ensemble
        .observe(
            paraverse_twin::observation::Resolved {
                tick: 6,
                ..load(Kind::LinkLoad, from, Some((far, 1)))
            },
            &plain,
            &mut nothing,
        )
        .unwrap_err();
    assert!(err.contains("share no link"), "{err}");
}

#[test]
fn a_node_removed_from_the_inventory_stays_off_the_network_in_every_member() {
    let plain = plain();
    let mut ensemble = ensemble_of("metaverse-campus", 80, 4);
    use paraverse_twin::observation::{Kind, Resolved};
    // Sensors the worm reaches in the first minutes, retired before it arrives; then a
    // quarantine and release of one of them, which the removal outlasts.
    let gone: Vec<u32> = (0..40).collect();
    // Meanwhile the real sensors report the worm elsewhere (a campus run's alerts on the
    // other nodes): the members follow it there.
    let mut real = Universe::build(ensemble.members()[0].scenario().clone(), &plain).unwrap();
    while real.step() {}
    let mut feed: Vec<Resolved> = blue_observations(real.world().resource::<EventLog>().events())
        .into_iter()
        .filter(|o| o.node >= 40 && o.tick > 2)
        .collect();
    for &node in &gone {
        let o = Resolved {
            tick: 2,
            kind: Kind::Removed,
            node,
            link: None,
        };
        ensemble.observe(o, &plain, &mut nothing).unwrap();
    }
    let release = Resolved {
        tick: 30,
        kind: Kind::Release,
        node: 0,
        link: None,
    };
    feed.push(release);
    feed.sort_by_key(|o| o.tick);
    for o in feed {
        ensemble.observe(o, &plain, &mut nothing).unwrap();
    }
    ensemble.close_until(80, &plain, &mut nothing);
    let mut outbreak = false;
    for u in ensemble.members() {
        // A copy to read (reading a world's nodes takes it mutably).
        let mut u = u.fork(&plain).unwrap();
        u.with_security(|s| {
            for &n in &gone {
                let s = &s[n as usize];
                assert!(
                    s.quarantined && !s.compromised && !s.alerted,
                    "node {n}: {s:?}"
                );
            }
            outbreak |= s.iter().filter(|s| s.ever_compromised).count() > 40;
        });
    }
    assert!(outbreak, "the worm spread elsewhere meanwhile");
}

/// The members run the real network's detectors and responses, gated by the real alerts:
/// once the campus outbreak is isolated, no member holds an attacker on a node the real
/// sensors never alerted on, and none quarantines a node the real network did not. (When
/// members acted on their own alerts, each kept its surplus attacker in quarantines of its
/// own — 26 to 28 nodes here — counted as compromised by every estimate and forecast.)
#[test]
fn members_act_only_on_the_real_alerts_and_keep_no_surplus_attacker() {
    let scenario = bundled::load(Some("metaverse-campus"))
        .unwrap()
        .with_seed(1)
        .with_ticks(150);
    let plain = plain();
    let mut real = Universe::build(scenario.clone(), &plain).unwrap();
    while real.step() {}
    let truth: Vec<Security> = real.with_security(|s| s.to_vec());
    let events = real.world().resource::<EventLog>().events().to_vec();
    let feed = blue_observations(&events);
    let seen: std::collections::BTreeSet<u32> = feed
        .iter()
        .filter(|o| o.kind == paraverse_twin::observation::Kind::Alert)
        .map(|o| o.node)
        .collect();
    let mut ensemble = ensemble(&scenario, 8);
    for o in feed {
        ensemble.observe(o, &plain, &mut nothing).unwrap();
    }
    ensemble.close_until(150, &plain, &mut nothing);
    let outbreak = truth.iter().filter(|s| s.compromised).count();
    assert!(outbreak > 300, "the worm took {outbreak} nodes");
    for (m, u) in ensemble.members().iter().enumerate() {
        let mut u = u.fork(&plain).unwrap();
        u.with_security(|s| {
            for (n, s) in s.iter().enumerate() {
                let n32 = n as u32;
                assert!(
                    !s.compromised || seen.contains(&n32),
                    "member {m} holds node {n}, on which the real sensors never alerted: {s:?}"
                );
                assert_eq!(
                    s.quarantined, truth[n].quarantined,
                    "member {m}, node {n}: {s:?} against the real {:?}",
                    truth[n]
                );
            }
            let held = s.iter().filter(|s| s.compromised).count();
            assert!(
                held.abs_diff(outbreak) <= 3,
                "member {m} holds {held}, the real attacker {outbreak}"
            );
        });
    }
}

/// Spare slots (`paraverse twin --spare`) stay off the network in every member until an
/// `added` observation brings one on; an `added` for a node in the inventory is refused.
#[test]
fn spare_slots_join_the_network_when_added() {
    use paraverse_twin::observation::{Kind, Resolved};
    let plain = plain();
    let base = bundled::load(Some("metaverse-campus"))
        .unwrap()
        .with_seed(1)
        .with_ticks(60);
    let wearables = base
        .groups
        .iter()
        .position(|g| g.name == "wearables")
        .unwrap();
    let mut spare = vec![0; base.groups.len()];
    spare[wearables] = 4;
    let (scenario, slots) = base.clone().with_spare_nodes(&spare).unwrap();
    assert_eq!(slots.len(), 4);
    assert_eq!(scenario.node_count, base.node_count + 4);
    let g = &scenario.groups[wearables];
    assert_eq!(slots[0], g.first_node + base.groups[wearables].count);
    assert_eq!(*slots.last().unwrap(), g.first_node + g.count - 1);
    let mut ensemble = ensemble(&scenario, 4);
    ensemble.take_off_inventory(&slots);
    let fact = |kind, node, tick| Resolved {
        tick,
        kind,
        node,
        link: None,
    };
    let err = ensemble
        .observe(fact(Kind::Added, 3, 5), &plain, &mut nothing)
        .unwrap_err();
    assert!(err.contains("in the inventory already"), "{err}");
    ensemble.close_until(10, &plain, &mut nothing);
    let off = |ensemble: &Ensemble, n: u32| {
        ensemble.members().iter().all(|u| {
            let mut u = u.fork(&plain).unwrap();
            u.with_security(|s| s[n as usize].quarantined && !s[n as usize].compromised)
        })
    };
    assert!(slots.iter().all(|&n| off(&ensemble, n)));
    for &n in &slots[..2] {
        ensemble
            .observe(fact(Kind::Added, n, 20), &plain, &mut nothing)
            .unwrap();
    }
    ensemble.close_until(60, &plain, &mut nothing);
    for u in ensemble.members() {
        let mut u = u.fork(&plain).unwrap();
        u.with_security(|s| {
            for &n in &slots[..2] {
                assert!(!s[n as usize].quarantined, "added {n}: {:?}", s[n as usize]);
            }
        });
    }
    assert!(off(&ensemble, slots[2]) && off(&ensemble, slots[3]));
    // Removed again, and re-added: the same node comes and goes.
    ensemble
        .observe(fact(Kind::Removed, slots[0], 61), &plain, &mut nothing)
        .unwrap();
    ensemble
        .observe(fact(Kind::Added, slots[0], 61), &plain, &mut nothing)
        .unwrap();
}

/// Follows the blue feed of the siege under full-stack (`ticks` long, truth seed
/// `truth_seed`), whose campaigns run at the scenario's own rates; returns the members'
/// weighted mean attack-rate factor over the second half of the run.
fn siege_factor(truth_seed: u64, ticks: u32) -> f64 {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../strategies/full-stack.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let scenario = bundled::load(Some("metaverse-under-siege"))
        .unwrap()
        .with_strategy(&text, "full-stack.toml")
        .unwrap()
        .with_ticks(ticks);
    let plain = plain();
    let mut real = Universe::build(scenario.clone().with_seed(truth_seed), &plain).unwrap();
    while real.step() {}
    let feed = blue_observations(real.world().resource::<EventLog>().events());
    // The siege's detectors about as `--calibrate` measures them on another seed.
    let model = AlertModel::uniform(0.1, 3.3e-5);
    let mut ensemble = Ensemble::new(
        &scenario,
        16,
        (model, RatePrior::DEFAULT),
        BackendChoice::Cpu,
        &PLUGINS,
    )
    .unwrap();
    let mut factors = Vec::new();
    let mut on_tick = |e: &paraverse_twin::ensemble::Estimate, _: &mut Ensemble| {
        if e.tick > ticks / 2 {
            factors.push(e.attack_rate);
        }
    };
    for o in feed {
        ensemble.observe(o, &plain, &mut on_tick).unwrap();
    }
    ensemble.close_until(ticks, &plain, &mut on_tick);
    factors.iter().sum::<f64>() / factors.len() as f64
}

/// Where the attacker runs at the scenario's rates, the members' factors stay near 1.
/// Before, members lost the attackers their own detectors found at once (while the real
/// alert that names the same attacker moved another onto its node), and the filter made
/// up for it with faster attackers, its factors free to wander: factors near the prior's
/// bound (1.42 here on seed 1; 1.24 to 1.41 on five siege feeds), and 1-hour forecasts
/// 5 to 11 nodes high (README, "The live twin").
#[test]
fn the_members_do_not_drift_off_a_truth_at_the_scenarios_rates() {
    for seed in [1, 2] {
        let factor = siege_factor(seed, 1440);
        eprintln!("siege truth seed {seed}: mean factor {factor}");
        assert!(
            (0.8..1.25).contains(&factor),
            "truth seed {seed}: the members' mean factor {factor}, the truth's 1"
        );
    }
}
