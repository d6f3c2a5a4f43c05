//! Data fusion: an ensemble of universes kept in step with what the real network reports —
//! a particle filter.
//!
//! Each member is the twin's scenario stepped with its own seed, so members differ in what
//! no sensor sees: where the attacker got in and which nodes it holds now. Each tick:
//!
//! 1. every member steps one tick;
//! 2. *facts* are imposed on every member: quarantines, releases (the node rebuilt, clean,
//!    patched), confirmed compromises and clean verdicts. Members also run the real
//!    network's defenses themselves, gated by the real alerts (`FedAlerts`): a member's
//!    detector that alerts on a node the real network has not alerted on finds an
//!    attacker the real one is not known to have there (the feed cannot name it), so the
//!    member's responses do not act on it; the attacker stays, *revealed*, silent and so
//!    counted against the member each tick, until a real alert of its campaign names where
//!    it really is (the alerted node takes it, below) or, with none for
//!    [`Ensemble::reveal_window`] ticks, it is evicted. Measured on the campus,
//!    members without their own responses kept ~170 compromised nodes that no
//!    observation could clear (mean error 139 nodes against 7 with them); members that
//!    acted on their own alerts kept their surplus in quarantines of their own, counted
//!    as compromised (mean errors 1.7, 2.3, 0.9 nodes on three 4-hour feeds, against
//!    0.24, 0.57, 0.67 gated);
//! 3. *alerts* reweigh the members by how well they explain them, and reveal what they
//!    can. With a detector that alerts on a compromised node in a tick with probability
//!    `tpr` and on a clean one with `fpr`, a member whose compromised set is C has the
//!    likelihood `Π_{n ∈ A ∩ C} tpr × Π_{n ∈ A \ C} (tpr π_n + fpr (1 − π_n)) ×
//!    ((1 − tpr) / (1 − fpr))^|C \ A \ Q|` of the tick's alerts A (π_n: the prior that
//!    the member's attacker holds n unseen — per campaign, the share it holds of the
//!    nodes it could take like n that can still raise an alert, zero if it could not take
//!    n at all ([`AttackSurface`]; see `Hideouts`), combined over campaigns as
//!    `1 − Π (1 − π_c)`; Q: nodes that are not watched
//!    — taken in this very tick (a detector sees a node act from the next tick on), held
//!    in quarantine by the real network, or alerted on before (a detector alerts on a node
//!    once); the member's own quarantines are watched, see `assimilate`; the factor common
//!    to all members, `(1 − fpr)` per clean unalerted node, cancels in the
//!    normalisation). An alerted node the member holds clean then takes the attacker, with
//!    its posterior probability `tpr π_n / (tpr π_n + fpr (1 − π_n))`: from another node
//!    the campaign has held unseen (its identities follow the alerts), or, with none, in
//!    addition to those it holds (see `assimilate`). The ensemble keeps the weighted mean
//!    of the members' posteriors as its belief that n is compromised, and counts n by
//!    that belief rather than by one lineage's draw until the network settles it
//!    ([`crate::doubt`]);
//! 4. when the effective sample size `1 / Σ w²` falls below half the members, members are
//!    resampled (systematic resampling): heavy members are copied ([`Universe::fork`]) and
//!    each copy draws its own future ([`Universe::reseed`]), light ones are dropped.
//!
//! What the scenario can only guess is sampled too ([`RatePrior`]): each member's
//! campaigns progress at the scenario's rates times a factor of its own, drawn
//! log-uniformly from `[1/spread, spread]`. The alerts weigh a member that spreads too
//! fast (compromised nodes nobody alerts on) or too slowly (alerts on nodes it holds
//! clean) as they weigh a wrong guess of where the attacker is, so the factors that
//! explain the feed survive resampling; a copy's factor moves by a small step
//! (`spread^(±JITTER)`, within the prior) so the ensemble keeps some spread in it —
//! the regularised particle filter's kernel, applied to the one parameter — and is drawn
//! a little back toward the scenario's rates (`REVERSION`), so that weak evidence does
//! not let it wander to the prior's bounds. Forecasts run
//! each member at its own factor: their fan is as wide as the twin's doubt about the
//! attacker's speed, not only about its luck. (Measured on the campus, README "The live
//! twin": it widens the fan while a worm spreads and follows a worm three times faster
//! than the scenario's. The fan's width once an outbreak is isolated comes from the doubt
//! about its alerts, [`crate::doubt`].)
//!
//! The estimate of compromised nodes is the weighted mean (and 5–95 % quantiles) of the
//! mixture over the members of their counts, with the nodes in doubt counted by the
//! ensemble's beliefs; the naive estimate it is measured against counts the nodes alerted
//! and not released since. Weights use [`dln`] and [`dexp`], written with + − × ÷ only, so
//! every machine computes the same bits.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use paraverse_defenders::detection::FedAlerts;
use paraverse_sim::math::{dexp, dln};
use paraverse_sim::prelude::*;
use paraverse_sim::rng::Stream;
use paraverse_sim::scenario::GroupId;
use rayon::prelude::*;

use crate::doubt::{Doubt, Pmf, mixture_quantile};
use crate::forecast::Start;
use crate::observation::{Kind, Resolved};

const RESAMPLE: Stream = Stream::named("twin.resample");
const MEMBER: Stream = Stream::named("twin.member");
const ALERT_DRAW: Stream = Stream::named("twin.alert-draw");
const RATE: Stream = Stream::named("twin.attack-rate");

/// A copy's factor moves by up to `spread^JITTER` either way.
const JITTER: f64 = 0.1;

/// How many of the members' latest detection delays the reveal window is measured on.
const DELAYS: usize = 512;

/// A copy keeps this share of its parent's log factor before the jitter: the factor is a
/// slowly varying hidden state drawn back toward the prior's centre (the scenario's
/// rates), which the alerts must keep pulling away from it. The alerts say little about
/// the speed of an attacker that holds a few unseen nodes at a time, and without it the
/// factors wandered toward the prior's bounds on five siege feeds whose attacker ran at
/// the scenario's rates (mean factors 0.76 to 1.41) and the 1-hour forecasts held the
/// truth in 35 of 90 cycles; with 0.97, factors 0.94 to 1.10 and 64 of 90 (README, "The
/// live twin"), and a worm three times faster or slower is still followed
/// (`twin/tests/ensemble.rs`).
const REVERSION: f64 = 0.97;

/// The prior of the attacker's speed: members' campaign rates are the scenario's times a
/// factor drawn log-uniformly from `[1/spread, spread]` ([`Scenario::with_attack_rates`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatePrior {
    /// The largest factor (its inverse the smallest); 1: every member at the scenario's
    /// rates.
    pub spread: f64,
}

impl RatePrior {
    /// Every member at the scenario's rates.
    pub const EXACT: Self = Self { spread: 1.0 };

    /// The twin's default: from 2/3 to 3/2 of the scenario's rates. On four campus feeds
    /// the estimates hardly depend on the spread (1, 1.5, 2: 0.28, 0.27, 0.27 nodes); the
    /// forecasts do, both ways (README, "The live twin"), and the twin must be able to
    /// follow an attacker that is not the scenario's.
    pub const DEFAULT: Self = Self { spread: 1.5 };

    /// Checks the spread is a finite number of at least 1.
    pub fn checked(self) -> Result<Self, String> {
        if !(self.spread.is_finite() && self.spread >= 1.0) {
            return Err(format!(
                "attack-rate spread {}: expected a factor of at least 1 (1: the scenario's rates exactly)",
                self.spread
            ));
        }
        Ok(self)
    }

    /// The factor at position `u` in [0, 1) of the log-uniform prior.
    fn factor(self, u: f64) -> f64 {
        if self.spread == 1.0 {
            return 1.0;
        }
        dexp(dln(self.spread) * (2.0 * u - 1.0))
    }

    /// A copy's factor: the parent's drawn back toward 1 (`REVERSION`, in log) and moved
    /// by up to `spread^JITTER`, kept within the prior.
    fn jittered(self, parent: f64, u: f64) -> f64 {
        if self.spread == 1.0 {
            return 1.0;
        }
        let bound = dln(self.spread);
        let log = (REVERSION * dln(parent) + bound * JITTER * (2.0 * u - 1.0)).clamp(-bound, bound);
        dexp(log)
    }
}

/// The detectors' rates, per node and tick.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertModel {
    /// Probability that a compromised node raises an alert in a tick.
    pub tpr: f64,
    /// Probability that a clean node raises one.
    pub fpr: f64,
    /// The false-alarm rate of each group of the scenario (by group id), where measured;
    /// `None`: `fpr` everywhere. Detectors do not raise false alarms evenly: on the
    /// campus every false alarm of four 4-hour runs fell on an IoT device, at about four
    /// times the network-wide rate, and an alert there is that much likelier to be false.
    pub fpr_by_group: Option<std::sync::Arc<[f64]>>,
}

impl AlertModel {
    /// The same rates everywhere.
    pub const fn uniform(tpr: f64, fpr: f64) -> Self {
        Self {
            tpr,
            fpr,
            fpr_by_group: None,
        }
    }

    /// The false-alarm rate of a node of group `g`.
    pub fn fpr_in(&self, g: usize) -> f64 {
        self.fpr_by_group
            .as_ref()
            .and_then(|r| r.get(g).copied())
            .unwrap_or(self.fpr)
    }

    /// Checks every rate is a probability strictly between 0 and 1.
    pub fn checked(self) -> Result<Self, String> {
        let groups = self.fpr_by_group.iter().flat_map(|r| r.iter().copied());
        for (name, p) in [("tpr", self.tpr), ("fpr", self.fpr)]
            .into_iter()
            .chain(groups.map(|p| ("fpr of a group", p)))
        {
            if !(p > 0.0 && p < 1.0) {
                return Err(format!(
                    "alert {name} {p}: expected a probability strictly between 0 and 1"
                ));
            }
        }
        Ok(self)
    }
}

/// The estimate at one tick.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// Tick.
    pub tick: u32,
    /// Weighted mean of the members' compromised nodes.
    pub mean: f64,
    /// Weighted 5 % quantile.
    pub q05: f64,
    /// Weighted 95 % quantile.
    pub q95: f64,
    /// Nodes alerted and not released or found clean since (the naive estimate).
    pub naive: u64,
    /// Effective sample size before any resampling this tick.
    pub ess: f64,
    /// Whether the members were resampled this tick.
    pub resampled: bool,
    /// Weighted mean of the members' attack-rate factors (before any resampling).
    pub attack_rate: f64,
}

/// The ensemble.
pub struct Ensemble {
    members: Vec<Universe>,
    weights: Vec<f64>,
    /// Each member's attack-rate factor.
    rates: Vec<f64>,
    /// Per member: the nodes where its detector revealed the attacker it holds while the
    /// real sensors stayed silent, and the tick it did (a few at a time).
    revealed: Vec<BTreeMap<u32, u32>>,
    /// Per member, per node: the tick since which it holds the node (`u32::MAX`: clean).
    taken: Vec<Vec<u32>>,
    /// The members' latest detection delays (ticks from taking a node to revealing it),
    /// at most `DELAYS`, oldest first: what [`Ensemble::reveal_window`] is measured on.
    delays: std::collections::VecDeque<u32>,
    model: AlertModel,
    prior: RatePrior,
    /// The real network's scenario (the members' before their factors).
    scenario: Scenario,
    backend: BackendChoice,
    /// Twin seed: resampling draws and the seeds of copies.
    seed: u64,
    /// Copies made so far (numbers their seeds).
    copies: u32,
    /// Facts and alerts of the tick being gathered.
    pending: Vec<Resolved>,
    /// Nodes alerted and not released or cleared since.
    alerted: BTreeSet<u32>,
    /// Nodes the real network holds in quarantine (quarantined and not released since),
    /// and nodes removed from its inventory.
    isolated: BTreeSet<u32>,
    /// Nodes removed from the inventory.
    removed: BTreeSet<u32>,
    /// The first campaign's index, owner of confirmed compromises.
    owner: CampaignId,
    /// The ensemble's belief that each alerted node is compromised, where it is in doubt.
    doubt: Doubt,
}

impl Ensemble {
    /// `k` members of `scenario` at tick 0. The scenario's seed builds what it builds (the
    /// real network's topology, which nodes run what); every member draws its future from
    /// a seed of its own, none of them the scenario's (which may be the seed of the very run
    /// that wrote the feed), and its attack rates from `prior`.
    pub fn new(
        scenario: &Scenario,
        k: u32,
        (model, prior): (AlertModel, RatePrior),
        backend: BackendChoice,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<Self, String> {
        let prior = prior.checked()?;
        let plugins = plugins.to_vec();
        let rng = SimRng::new(scenario.seed);
        // The members are built side by side: a build's topology and node spawning are
        // mostly serial, and each member depends only on its index.
        let built: Result<Vec<(Universe, f64)>, String> = (0..k.max(1))
            .into_par_iter()
            .map(|m| {
                let rate = prior.factor(rng.uniform(RATE, m, 0, 0));
                let with_rate = scenario.clone().with_attack_rates(rate);
                let mut u = Universe::build_with(with_rate, backend, &plugins)
                    .map_err(|e| e.to_string())?;
                u.reseed(crate::forecast::member_seed(scenario.seed, m + 1));
                Ok((u, rate))
            })
            .collect();
        let (members, rates): (Vec<Universe>, Vec<f64>) = built?.into_iter().unzip();
        let n = members.len();
        Ok(Self {
            members,
            weights: vec![1.0 / n as f64; n],
            rates,
            revealed: vec![BTreeMap::new(); n],
            taken: vec![Vec::new(); n],
            delays: std::collections::VecDeque::new(),
            model: model.checked()?,
            prior,
            scenario: scenario.clone(),
            backend,
            seed: scenario.seed,
            copies: 0,
            pending: Vec::new(),
            alerted: BTreeSet::new(),
            isolated: BTreeSet::new(),
            removed: BTreeSet::new(),
            owner: 0,
            doubt: Doubt::default(),
        })
    }

    /// The members' tick (all step together).
    pub fn tick(&self) -> u32 {
        self.members[0].clock().tick
    }

    /// The members.
    pub fn members(&self) -> &[Universe] {
        &self.members
    }

    /// Their weights (sum 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Their attack-rate factors.
    pub fn rates(&self) -> &[f64] {
        &self.rates
    }

    /// Takes an observation of the current or a later tick; a later one first closes the
    /// ticks before it (see [`Ensemble::close_until`]).
    pub fn observe(
        &mut self,
        o: Resolved,
        plugins: &[&'static dyn SimPlugin],
        mut on_tick: impl FnMut(&Estimate, &mut Self),
    ) -> Result<(), String> {
        if o.tick <= self.tick() {
            return Err(format!(
                "tick {} is already closed (the twin is at tick {})",
                o.tick,
                self.tick()
            ));
        }
        if o.kind == Kind::Added {
            let leaving = self
                .pending
                .iter()
                .any(|p| p.node == o.node && p.kind == Kind::Removed);
            if !self.removed.contains(&o.node) && !leaving {
                return Err(format!(
                    "added: node {} is in the inventory already (`added` names a spare slot, see --spare, or a node removed before)",
                    o.node
                ));
            }
        }
        if let Some((to, kbps)) = o.link {
            // The members share the real network's topology: member 0 speaks for all.
            self.members[0]
                .set_measured_load(o.node, to, kbps)
                .map_err(|e| format!("link_load: {e}"))?;
        }
        let pending = self.pending.first().map(|p| p.tick);
        if pending.is_some_and(|t| t != o.tick) || (pending.is_none() && o.tick > self.tick() + 1) {
            self.close_until(o.tick - 1, plugins, &mut on_tick);
        }
        self.pending.push(o);
        Ok(())
    }

    /// Closes every tick up to `tick`: steps, imposes facts, weighs alerts, resamples;
    /// calls `on_tick` with each tick's estimate.
    pub fn close_until(
        &mut self,
        tick: u32,
        plugins: &[&'static dyn SimPlugin],
        on_tick: &mut impl FnMut(&Estimate, &mut Self),
    ) {
        while self.tick() < tick {
            let e = self.close(plugins);
            on_tick(&e, self);
        }
    }

    /// One tick of the filter: every member steps, the tick's observations are imposed
    /// as facts, the members are reweighed by how well they explain the alerts, and the
    /// ensemble is resampled when too few carry the weight.
    fn close(&mut self, plugins: &[&'static dyn SimPlugin]) -> Estimate {
        let tick = self.tick() + 1;
        let observed = self.take_observed(tick);
        let held = self.step_members(&observed, tick);
        let facts: Vec<Resolved> = observed
            .iter()
            .copied()
            .filter(|o| o.kind != Kind::Alert)
            .collect();
        self.watch(&observed);
        self.impose_facts(&facts, tick);
        let ess = self.reweigh(&held, &observed, tick);
        let doubtful = self.doubt.nodes();
        let counts: Vec<u64> = self
            .members
            .par_iter_mut()
            .map(|u| {
                u.with_security(|s| {
                    let all = s.iter().filter(|s| s.compromised).count();
                    let doubtful = doubtful.iter().filter(|(n, _)| s[*n as usize].compromised);
                    (all - doubtful.count()) as u64
                })
            })
            .collect();
        let (mean, q05, q95) = weighted(&counts, &self.weights, &self.doubt.distribution());
        let attack_rate = self
            .rates
            .iter()
            .zip(&self.weights)
            .map(|(r, w)| r * w)
            .sum();
        let resampled = ess < self.members.len() as f64 / 2.0;
        if resampled {
            self.resample(tick, plugins);
        }
        Estimate {
            tick,
            mean,
            q05,
            q95,
            naive: self.alerted.len() as u64,
            ess,
            resampled,
            attack_rate,
        }
    }

    /// Steps every member, its detectors gated by the real network's alerts ([`FedAlerts`]:
    /// a member's alert on a node the real sensors have not alerted on is dropped, so the
    /// member's responses act as the real ones did, and its attacker there is marked
    /// revealed). Returns, per member, which nodes it held before the step (a node taken
    /// in this tick is not watched yet: a detector sees it act from the next tick on).
    fn step_members(&mut self, observed: &[Resolved], tick: u32) -> Vec<Vec<bool>> {
        let alerted: Vec<u32> = observed
            .iter()
            .filter(|o| o.kind == Kind::Alert)
            .map(|o| o.node)
            .chain(self.alerted.iter().copied())
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect();
        let (held, delays): (Vec<Vec<bool>>, Vec<Vec<u32>>) = self
            .members
            .par_iter_mut()
            .zip(self.revealed.par_iter_mut())
            .zip(self.taken.par_iter_mut())
            .map(|((u, revealed), taken)| {
                let held = u.with_security(|s| s.iter().map(|s| s.compromised).collect());
                u.world_mut().insert_resource(FedAlerts {
                    tick,
                    alerted: alerted.clone(),
                    revealed: Vec::new(),
                });
                u.step();
                let found = u
                    .world_mut()
                    .remove_resource::<FedAlerts>()
                    .map(|f| f.revealed)
                    .unwrap_or_default();
                let delays = u.with_security(|s| {
                    taken.resize(s.len(), u32::MAX);
                    for (taken, s) in taken.iter_mut().zip(s) {
                        if !s.compromised {
                            *taken = u32::MAX;
                        } else if *taken == u32::MAX {
                            *taken = tick;
                        }
                    }
                    revealed.retain(|&n, _| s[n as usize].compromised);
                    let mut delays = Vec::new();
                    for n in found {
                        if let Entry::Vacant(since) = revealed.entry(n) {
                            since.insert(tick);
                            delays.push(tick.saturating_sub(taken[n as usize]));
                        }
                    }
                    delays
                });
                (held, delays)
            })
            .unzip();
        for d in delays.into_iter().flatten() {
            if self.delays.len() == DELAYS {
                self.delays.pop_front();
            }
            self.delays.push_back(d);
        }
        held
    }

    /// How long an attacker a member's detector revealed waits for a real alert to name
    /// where it is before the real sensors' silence evicts it: the mean absolute
    /// difference between two of the members' detection delays (the members run the real
    /// network's detectors, so theirs are its delays; a member's detector and the real one
    /// find the same attacker at independent times), rounded; 0 (at once) until
    /// `DELAYS / 16` delays are known. The campus's detectors find a worm's node in the
    /// tick after it is taken, every time: 0; the siege's take 0 to 11 ticks and more: 4 to 5.
    /// Evicting at once made members lose attackers about twice as fast as the real
    /// network does (README, "The live twin").
    pub fn reveal_window(&self) -> u32 {
        let n = self.delays.len();
        if n < DELAYS / 16 {
            return 0;
        }
        let mut sorted: Vec<u32> = self.delays.iter().copied().collect();
        sorted.sort_unstable();
        // Σ_{i<j} (x_j − x_i) = Σ_j x_j (2j − n + 1) over the sorted sample (j from 0).
        let sum: f64 = sorted
            .iter()
            .enumerate()
            .map(|(j, &x)| f64::from(x) * (2.0 * j as f64 - n as f64 + 1.0))
            .sum();
        let pairs = n as f64 * (n as f64 - 1.0) / 2.0;
        (sum / pairs).round() as u32
    }

    /// The observations stamped with this tick, taken from the pending ones.
    fn take_observed(&mut self, tick: u32) -> Vec<Resolved> {
        let mut observed: Vec<Resolved> = Vec::new();
        let mut rest = Vec::new();
        for o in std::mem::take(&mut self.pending) {
            if o.tick == tick {
                observed.push(o);
            } else {
                rest.push(o);
            }
        }
        self.pending = rest;
        observed
    }

    /// What the sensors now watch: alerted, isolated and removed nodes.
    fn watch(&mut self, observed: &[Resolved]) {
        for o in observed {
            match o.kind {
                Kind::Alert => {
                    self.alerted.insert(o.node);
                }
                Kind::Release => {
                    self.alerted.remove(&o.node);
                    self.isolated.remove(&o.node);
                    self.doubt.settle(o.node);
                }
                Kind::Clean => {
                    self.alerted.remove(&o.node);
                    self.doubt.settle(o.node);
                }
                // Confirmed: every member holds it now (see `impose`).
                Kind::Compromised => self.doubt.settle(o.node),
                Kind::Quarantine => {
                    self.isolated.insert(o.node);
                }
                Kind::Removed => {
                    self.alerted.remove(&o.node);
                    self.doubt.settle(o.node);
                    self.isolated.insert(o.node);
                    self.removed.insert(o.node);
                }
                Kind::Added => {
                    self.alerted.remove(&o.node);
                    self.doubt.settle(o.node);
                    self.isolated.remove(&o.node);
                    self.removed.remove(&o.node);
                }
                Kind::Patched | Kind::End | Kind::LinkLoad => {}
            }
        }
    }

    /// Imposes the observed facts on every member; a removed node stays away whatever
    /// a member's own defenses queued; measured link loads replace the modelled ones.
    fn impose_facts(&mut self, facts: &[Resolved], tick: u32) {
        let owner = self.owner;
        let removed = &self.removed;
        self.members.par_iter_mut().for_each(|u| {
            u.with_security_mut(|security| {
                impose(security, facts, owner);
                // Whatever a member's own defenses queued, a removed node stays away.
                keep_off(security, removed);
            });
            schedule_releases(u, facts, tick);
            for f in facts {
                if let Some((to, kbps)) = f.link {
                    // Checked on member 0 when observed: every member has the link.
                    let _ = u.set_measured_load(f.node, to, kbps);
                }
            }
        });
    }

    /// Reweighs the members by the likelihood of this tick's alerts given what each
    /// holds (normalised in log space); returns the effective sample size.
    fn reweigh(&mut self, held: &[Vec<bool>], observed: &[Resolved], tick: u32) -> f64 {
        let alerts: BTreeSet<u32> = observed
            .iter()
            .filter(|o| o.kind == Kind::Alert)
            .map(|o| o.node)
            .collect();
        let model = &self.model;
        let window = self.reveal_window();
        let watched = Watched {
            tick,
            alerts: &alerts,
            alerted: &self.alerted,
            isolated: &self.isolated,
        };
        let (log_factors, posteriors): (Vec<f64>, Vec<Vec<f64>>) = self
            .members
            .par_iter_mut()
            .zip(held)
            .zip(&self.revealed)
            .map(|((u, held), revealed)| {
                let rng = *u.world().resource::<SimRng>();
                let groups = u.scenario().group_spans();
                let surface = u.world().resource::<AttackSurface>().clone();
                u.with_security_mut(|s| {
                    let weighed = assimilate(
                        s,
                        (held, revealed),
                        watched,
                        model,
                        (&groups, &surface),
                        (rng, tick),
                    );
                    evict_unclaimed(s, revealed, watched, window);
                    weighed
                })
            })
            .unzip();
        let mut log_w: Vec<f64> = self
            .weights
            .iter()
            .zip(&log_factors)
            .map(|(w, f)| dln(*w) + f)
            .collect();
        let top = log_w.iter().copied().fold(f64::MIN, f64::max);
        log_w.iter_mut().for_each(|l| *l = dexp(*l - top));
        let total: f64 = log_w.iter().sum();
        self.weights = log_w.iter().map(|w| w / total).collect();
        // What the ensemble now believes of each alerted node, before any resampling can
        // leave one lineage's draw.
        for (j, &n) in alerts.iter().enumerate() {
            let belief: f64 = posteriors
                .iter()
                .zip(&self.weights)
                .map(|(p, w)| p[j] * w)
                .sum();
            self.doubt.set(n, belief);
        }
        1.0 / self.weights.iter().map(|w| w * w).sum::<f64>()
    }

    /// Systematic resampling: member j of the new ensemble copies the member whose
    /// cumulative weight first exceeds (j + u) / K, u one uniform draw.
    fn resample(&mut self, tick: u32, plugins: &[&'static dyn SimPlugin]) {
        let k = self.members.len();
        let rng = SimRng::new(self.seed);
        let parents = systematic(&self.weights, rng, tick, 0);
        // Copies first (from the originals), then the originals move into place.
        let mut used = vec![false; k];
        let mut next: Vec<Option<Universe>> = (0..k).map(|_| None).collect();
        let mut copies = Vec::new();
        for (slot, &p) in parents.iter().enumerate() {
            if used[p] {
                copies.push((slot, p));
            } else {
                used[p] = true;
            }
        }
        let mut rates: Vec<f64> = parents.iter().map(|&p| self.rates[p]).collect();
        // Each copy's seed and attack-rate factor, in slot order; then the copies are
        // built side by side (a build is mostly serial), each from its parent alone.
        let jitter = self.prior.spread != 1.0;
        let mut plan: Vec<(usize, usize, u64)> = Vec::with_capacity(copies.len());
        for &(slot, p) in &copies {
            self.copies += 1;
            if jitter {
                // The copy's own factor: the parent's state under a scenario of that speed.
                let u = rng.uniform(RATE, self.copies, tick, 1);
                rates[slot] = self.prior.jittered(self.rates[p], u);
            }
            plan.push((slot, p, rng.draw(MEMBER, self.copies, tick, 0)));
        }
        let (members, scenario, backend) = (&self.members, &self.scenario, self.backend);
        let forks: Vec<(usize, Universe)> = plan
            .into_par_iter()
            .map(|(slot, p, seed)| {
                let parent = &members[p];
                let fork = if jitter {
                    let checkpoint = parent.checkpoint().expect("a member checkpoints");
                    Universe::branch(
                        &checkpoint,
                        scenario.clone().with_attack_rates(rates[slot]),
                        seed,
                        parent.clock().ticks.saturating_sub(tick),
                        backend,
                        plugins,
                    )
                    .expect("a member branches as it was built")
                } else {
                    let mut fork = parent
                        .fork(plugins)
                        .expect("a member forks as it was built");
                    fork.reseed(seed);
                    fork
                };
                (slot, fork)
            })
            .collect();
        for (slot, fork) in forks {
            next[slot] = Some(fork);
        }
        self.rates = rates;
        self.revealed = parents.iter().map(|&p| self.revealed[p].clone()).collect();
        self.taken = parents.iter().map(|&p| self.taken[p].clone()).collect();
        let mut originals: Vec<Option<Universe>> = std::mem::take(&mut self.members)
            .into_iter()
            .map(Some)
            .collect();
        for (slot, &p) in parents.iter().enumerate() {
            if next[slot].is_none() {
                next[slot] = originals[p].take();
            }
        }
        self.members = next
            .into_iter()
            .map(|u| u.expect("every slot filled"))
            .collect();
        self.weights = vec![1.0 / k as f64; k];
    }

    /// Starts of as many members as the ensemble has, drawn by weight (systematic: a
    /// member of weight w appears about w × K times), each with its attack-rate factor, for
    /// forecasts from the ensemble.
    pub fn weighted_starts(&self, tick: u32) -> Result<Vec<Start>, CheckpointError> {
        let doubt: std::sync::Arc<[(u32, f64)]> = self.doubt.nodes().into();
        systematic(&self.weights, SimRng::new(self.seed), tick, 1)
            .into_iter()
            .map(|i| {
                Ok(Start {
                    checkpoint: self.members[i].checkpoint()?,
                    attack_rate: self.rates[i],
                    doubt: doubt.clone(),
                })
            })
            .collect()
    }

    /// The real network switched to `scenario`'s defenses: every member continues under
    /// them for `remaining` ticks ([`Universe::branch`]: state carried, the member's own
    /// future seed kept, weights kept).
    pub fn switch(
        &mut self,
        scenario: &Scenario,
        remaining: u32,
        plugins: &[&'static dyn SimPlugin],
    ) -> Result<(), String> {
        let next: Result<Vec<Universe>, String> = self
            .members
            .iter()
            .zip(&self.rates)
            .map(|(u, &rate)| {
                let seed = u.world().resource::<SimRng>().seed();
                let checkpoint = u.checkpoint().map_err(|e| e.to_string())?;
                Universe::branch(
                    &checkpoint,
                    scenario.clone().with_attack_rates(rate),
                    seed,
                    remaining,
                    BackendChoice::Cpu,
                    plugins,
                )
                .map_err(|e| e.to_string())
            })
            .collect();
        self.members = next?;
        self.scenario = scenario.clone();
        Ok(())
    }

    /// Takes nodes off the inventory before the first tick, as if removed: the spare
    /// slots of `paraverse twin --spare`, which an `added` observation brings on the
    /// network. Each member's copy is off the network and clean from now on.
    pub fn take_off_inventory(&mut self, nodes: &[u32]) {
        self.removed.extend(nodes.iter().copied());
        self.isolated.extend(nodes.iter().copied());
        let removed = &self.removed;
        self.members
            .par_iter_mut()
            .for_each(|u| u.with_security_mut(|security| keep_off(security, removed)));
    }

    /// Sets which campaign confirmed compromises are handed to (default: the first).
    pub fn set_owner(&mut self, campaign: CampaignId) {
        self.owner = campaign;
    }
}

/// Systematic resampling: slot j takes the member whose cumulative weight first reaches
/// (j + u) / K, u one uniform draw keyed by (tick, purpose).
fn systematic(weights: &[f64], rng: SimRng, tick: u32, purpose: u32) -> Vec<usize> {
    let k = weights.len();
    let u = rng.uniform(RESAMPLE, purpose, tick, 0);
    let mut parents = Vec::with_capacity(k);
    let mut cumulative = 0.0;
    let mut i = 0;
    for j in 0..k {
        let target = (j as f64 + u) / k as f64;
        while i + 1 < k && cumulative + weights[i] < target {
            cumulative += weights[i];
            i += 1;
        }
        parents.push(i);
    }
    parents
}

/// An observed quarantine is also queued for release in the member's own quarantine
/// policy, as the real defenses release what they isolate: a forecast from the member
/// (where no feed says so any more) then sees the node rebuilt and back when the policy
/// says. While the feed runs, the observed release comes too; a second rebuild changes
/// nothing.
fn schedule_releases(u: &mut Universe, facts: &[Resolved], tick: u32) {
    let Some(mut policy) = u
        .world_mut()
        .get_resource_mut::<paraverse_defenders::response::QuarantinePolicy>()
    else {
        return;
    };
    let Some(after) = policy.config.release_ticks else {
        return;
    };
    for f in facts.iter().filter(|f| f.kind == Kind::Quarantine) {
        policy
            .releases
            .push_back((tick.saturating_add(after), f.node));
    }
}

/// Nodes off the inventory (removed, or spare slots not added yet): off the network,
/// holding no attacker, raising nothing.
fn keep_off(security: &mut [Security], nodes: &BTreeSet<u32>) {
    for &n in nodes {
        let s = &mut security[n as usize];
        if s.compromised {
            s.rebuild();
        }
        s.quarantined = true;
        s.alerted = false;
    }
}

/// Imposes facts on one member's nodes.
fn impose(security: &mut [Security], facts: &[Resolved], owner: CampaignId) {
    for f in facts {
        let s = &mut security[f.node as usize];
        match f.kind {
            Kind::Quarantine => s.quarantined = true,
            // As the simulator's own release: rebuilt, patched, back on the network.
            Kind::Release => s.release(true),
            Kind::Compromised => {
                s.compromise(owner);
            }
            Kind::Clean => {
                if s.compromised {
                    s.rebuild();
                }
                s.alerted = false;
            }
            // Patching closes the door; it does not evict an attacker already in.
            Kind::Patched => s.patched = true,
            // A device joins: clean, on the network, its software as the scenario built it.
            Kind::Added => {
                if s.compromised {
                    s.rebuild();
                }
                s.quarantined = false;
                s.alerted = false;
            }
            // Retired by `close`, every tick from now on.
            Kind::Alert | Kind::End | Kind::LinkLoad | Kind::Removed => {}
        }
    }
}

/// Weighs a tick's alerts against a member and draws what they reveal: returns the
/// log-likelihood, up to a constant common to all members (see the module docs), and per
/// alert (in node order) the member's posterior that the attacker is on the node.
///
/// An alert on a node the member holds compromised counts `tpr` (posterior 1). On a node
/// it holds clean the alert counts its marginal likelihood `tpr π + fpr (1 − π)`, with the
/// prior π that some campaign holds it unseen ([`Hideouts`]), and the member draws
/// whether the attacker is in fact there, with the posterior
/// `tpr π / (tpr π + fpr (1 − π))`: if so, a campaign drawn by its prior moves there from
/// one of the nodes it has held since before the tick that no alert points at (the
/// member's count stays, its identities follow the alerts, so the real quarantines that
/// follow hit the member's attacker as they hit the real one), or, with none such, takes
/// it in addition (the real attacker is ahead of the member's).
///
/// A node the member has held since before the tick and nobody alerted on counts
/// `(1 − tpr) / (1 − fpr)` unless the *real* network holds it in quarantine or has alerted
/// on it before (a detector alerts on a node once until it is released; one taken in this
/// tick acts, and can be seen, only from the next): a node the member's own detectors
/// isolated is, if the member were right, a compromised node the real detectors watch and
/// stayed silent on. (Counting the member's own quarantines as unwatched let the members that
/// spread fastest, whose surplus their own detectors isolate, escape the penalty: with
/// the attacker's speed sampled, the filter then chose the fastest.)
fn assimilate(
    security: &mut [Security],
    (held_before, revealed): (&[bool], &BTreeMap<u32, u32>),
    watched: Watched<'_>,
    m: &AlertModel,
    (groups, surface): (&[(u32, u32)], &AttackSurface),
    (rng, tick): (SimRng, u32),
) -> (f64, Vec<f64>) {
    let l_tp = dln(m.tpr);
    let mut log = 0.0;
    let mut posteriors = Vec::with_capacity(watched.alerts.len());
    let mut hideouts: Option<Hideouts> = None;
    for &n in watched.alerts {
        if security[n as usize].compromised {
            log += l_tp;
            posteriors.push(1.0);
            continue;
        }
        let g = group_of(groups, n);
        let evidence = Evidence {
            held_before,
            watched,
            groups,
            surface,
        };
        let hideouts = hideouts.get_or_insert_with(|| Hideouts::survey(security, evidence));
        // The undeclared campaigns' strata in the alerted node's group, counted once.
        let mut local = hideouts.group_strata(g, security, evidence);
        // Per campaign, the prior that it holds the alerted node unseen.
        let priors: Vec<f64> = (0..surface.campaigns().len())
            .map(|c| hideouts.prior(c, n, g, &local, (security, evidence)))
            .collect();
        let miss = priors.iter().fold(1.0, |miss, p| miss * (1.0 - p));
        let prior = 1.0 - miss;
        let joint = m.tpr * prior;
        let marginal = joint + m.fpr_in(g) * (1.0 - prior);
        log += dln(marginal);
        let posterior = joint / marginal;
        posteriors.push(posterior);
        if rng.uniform(ALERT_DRAW, n, tick, 0) < posterior {
            // The attacker is here: which campaign, by its prior; rather than on one of
            // the others it holds unseen (as many held, the alerted one among them), or,
            // with none left to be the wrong guess, in addition to them.
            let total: f64 = priors.iter().sum();
            let mut u = rng.uniform(ALERT_DRAW, n, tick, 2) * total;
            let mut c = priors.iter().rposition(|&p| p > 0.0).unwrap_or(0);
            for (i, &p) in priors.iter().enumerate() {
                if p > 0.0 && u < p {
                    c = i;
                    break;
                }
                u -= p;
            }
            match hideouts.take_unseen(c, n, local[c].take(), revealed, (rng, tick)) {
                Some(wrong) => security[wrong as usize].rebuild(),
                None => hideouts.grew(c),
            }
            security[n as usize].compromise(c as CampaignId);
        }
    }
    let unseen: f64 = security
        .iter()
        .enumerate()
        .filter(|(n, s)| {
            s.compromised
                && held_before[*n]
                && !watched.isolated.contains(&(*n as u32))
                && !watched.alerted.contains(&(*n as u32))
        })
        .map(|(n, _)| unseen_factor(m, group_of(groups, n as u32)))
        .sum();
    (log + unseen, posteriors)
}

/// Evicts the attackers a member's detector revealed `window` ticks ago or more that no
/// real alert has claimed since: the real sensors' silence says they are not there. (A
/// real alert on the node itself, or its quarantine, keeps it.)
fn evict_unclaimed(
    security: &mut [Security],
    revealed: &BTreeMap<u32, u32>,
    watched: Watched<'_>,
    window: u32,
) {
    for (&n, &since) in revealed {
        let s = &mut security[n as usize];
        if watched.tick >= since.saturating_add(window)
            && s.compromised
            && !s.quarantined
            && !watched.alerted.contains(&n)
            && !watched.isolated.contains(&n)
        {
            s.rebuild();
        }
    }
}

/// The group of node `n`, from the groups' spans.
fn group_of(groups: &[(u32, u32)], n: u32) -> usize {
    groups
        .partition_point(|&(first, _)| first <= n)
        .saturating_sub(1)
}

/// The log-likelihood of a compromised node of group `g` the detectors watch and stay
/// silent on, against a clean one: `ln((1 − tpr) / (1 − fpr_g))`.
fn unseen_factor(m: &AlertModel, g: usize) -> f64 {
    dln((1.0 - m.tpr) / (1.0 - m.fpr_in(g)))
}

/// Where a member's attackers could be without an alert having said so, per campaign: the
/// nodes out of quarantine that no alert before this tick named (a detector alerts on a
/// node once; isolated nodes spread nothing) that the campaign holds or could take
/// ([`AttackSurface`]), and of those the ones it has held since before the tick and no
/// alert points at — its *unseen* nodes, the candidates to have been a wrong guess. A
/// declared campaign's stratum is its whole attack surface (a worm reaches across
/// groups); an undeclared one's is the alerted node's group, every node of which it may
/// take.
///
/// Why these strata: an alert on a node no campaign could take (a patched device while
/// only a worm is about) is a false alarm whatever the attacker holds, and counting such
/// nodes diluted the prior of the others (campus outbreaks: a third of the IoT devices
/// start patched, and late in an outbreak most clean devices are patched ones). Counting
/// isolated nodes made every false alarm after an outbreak look like a compromise; counting
/// alerted ones awaiting quarantine (with the campus's six-tick response delay, most of what
/// the attacker holds during an outbreak) did the same during it.
struct Hideouts {
    /// Per declared campaign: the nodes of its stratum, the ones it holds there, and its
    /// unseen nodes (in node order).
    declared: Vec<Option<Stratum>>,
}

/// One campaign's stratum: how many nodes could raise an alert, how many of them it
/// holds, which of those it has held unseen.
struct Stratum {
    open: u32,
    held: u32,
    unseen: Vec<u32>,
}

impl Stratum {
    fn prior(&self) -> f64 {
        f64::from(self.held) / f64::from(self.open.max(1))
    }
}

/// What a member's alerts are weighed against: which nodes it held before the tick, what
/// the real detectors reported, the groups' spans and what each campaign can take.
#[derive(Clone, Copy)]
struct Evidence<'a> {
    held_before: &'a [bool],
    watched: Watched<'a>,
    groups: &'a [(u32, u32)],
    surface: &'a AttackSurface,
}

/// Whether node `i` can still raise an alert: out of quarantine and not alerted on before
/// this tick.
fn can_alert(s: &Security, i: u32, watched: Watched<'_>) -> bool {
    let alerted_before = watched.alerted.contains(&i) && !watched.alerts.contains(&i);
    !s.quarantined && !alerted_before
}

/// Whether node `i`, held by campaign `c`, is unseen: held since before the tick, out of
/// quarantine, and named by no alert (this tick's included).
fn unseen(s: &Security, i: u32, c: usize, held_before: &[bool], watched: Watched<'_>) -> bool {
    s.compromised
        && usize::from(s.campaign) == c
        && held_before[i as usize]
        && !s.quarantined
        && !watched.alerted.contains(&i)
}

impl Hideouts {
    /// Counts the declared campaigns' strata over the whole network (one pass).
    fn survey(security: &[Security], evidence: Evidence<'_>) -> Self {
        let Evidence {
            held_before,
            watched,
            groups,
            surface,
        } = evidence;
        let mut declared: Vec<Option<Stratum>> = surface
            .campaigns()
            .iter()
            .map(|c| {
                c.as_ref().map(|_| Stratum {
                    open: 0,
                    held: 0,
                    unseen: Vec::new(),
                })
            })
            .collect();
        if declared.iter().all(Option::is_none) {
            return Self { declared };
        }
        for (g, &(first, count)) in groups.iter().enumerate() {
            let group = g as GroupId;
            for i in first..first + count {
                let s = &security[i as usize];
                if s.compromised {
                    let c = usize::from(s.campaign);
                    if let Some(Some(stratum)) = declared.get_mut(c)
                        && can_alert(s, i, watched)
                    {
                        stratum.open += 1;
                        stratum.held += 1;
                        if unseen(s, i, c, held_before, watched) {
                            stratum.unseen.push(i);
                        }
                    }
                    continue;
                }
                let mut checked = None;
                for (c, stratum) in declared.iter_mut().enumerate() {
                    let Some(stratum) = stratum else { continue };
                    let Some(need) = &surface.campaigns()[c] else {
                        continue;
                    };
                    if need.admits(s, group, watched.tick)
                        && *checked.get_or_insert_with(|| can_alert(s, i, watched))
                    {
                        stratum.open += 1;
                    }
                }
            }
        }
        Self { declared }
    }

    /// Per campaign, its stratum in group `g` if it declares none (`None` for the
    /// declared ones, whose strata the survey counted).
    fn group_strata(
        &self,
        g: usize,
        security: &[Security],
        evidence: Evidence<'_>,
    ) -> Vec<Option<Stratum>> {
        self.declared
            .iter()
            .enumerate()
            .map(|(c, d)| {
                d.is_none()
                    .then(|| Self::group_stratum(c, g, security, evidence))
            })
            .collect()
    }

    /// The prior that campaign `c` holds node `n` (of group `g`) unseen: the share of its
    /// stratum it holds (`local`: the undeclared campaigns' strata in `g`); zero where it
    /// could not take `n`.
    fn prior(
        &self,
        c: usize,
        n: u32,
        g: usize,
        local: &[Option<Stratum>],
        (security, evidence): (&[Security], Evidence<'_>),
    ) -> f64 {
        match (
            &evidence.surface.campaigns()[c],
            &self.declared[c],
            &local[c],
        ) {
            (Some(need), Some(stratum), _)
                if need.admits(&security[n as usize], g as GroupId, evidence.watched.tick) =>
            {
                stratum.prior()
            }
            // An undeclared campaign's stratum in the group.
            (None, _, Some(stratum)) => stratum.prior(),
            _ => 0.0,
        }
    }

    /// An undeclared campaign's stratum: `g`'s nodes that can raise an alert, of which it
    /// holds some; the others it could take.
    fn group_stratum(c: usize, g: usize, security: &[Security], evidence: Evidence<'_>) -> Stratum {
        let Evidence {
            held_before,
            watched,
            groups,
            ..
        } = evidence;
        let (first, count) = groups[g];
        let mut stratum = Stratum {
            open: 0,
            held: 0,
            unseen: Vec::new(),
        };
        for i in first..first + count {
            let s = &security[i as usize];
            if !can_alert(s, i, watched) || (s.compromised && usize::from(s.campaign) != c) {
                continue;
            }
            stratum.open += 1;
            if s.compromised {
                stratum.held += 1;
                if unseen(s, i, c, held_before, watched) {
                    stratum.unseen.push(i);
                }
            }
        }
        stratum
    }

    /// Takes one of campaign `c`'s unseen nodes to be the wrong guess that the alert on `n`
    /// corrects (`local`: its stratum in the alerted node's group if it declares none):
    /// the one the member's detector revealed first, where it revealed any (the member
    /// found its attacker there, the real sensors found it at `n`), else one drawn
    /// uniformly; `None` if it holds none.
    fn take_unseen(
        &mut self,
        c: usize,
        n: u32,
        local: Option<Stratum>,
        revealed: &BTreeMap<u32, u32>,
        (rng, tick): (SimRng, u32),
    ) -> Option<u32> {
        let mut owned;
        let unseen = match (&mut self.declared[c], local) {
            (Some(stratum), _) => &mut stratum.unseen,
            (None, Some(stratum)) => {
                owned = stratum.unseen;
                &mut owned
            }
            (None, None) => return None,
        };
        if unseen.is_empty() {
            return None;
        }
        let first = unseen
            .iter()
            .enumerate()
            .filter_map(|(k, i)| revealed.get(i).map(|&since| (since, k)))
            .min();
        if let Some((_, k)) = first {
            return Some(unseen.remove(k));
        }
        let k = rng.below(ALERT_DRAW, n, tick, 1, unseen.len() as u64) as usize;
        Some(unseen.remove(k))
    }

    /// Campaign `c` took an alerted node with no wrong guess to move from: its stratum
    /// holds one more. (A move leaves the count: one taken, one rebuilt and open.)
    fn grew(&mut self, c: usize) {
        if let Some(Some(stratum)) = self.declared.get_mut(c) {
            stratum.held = (stratum.held + 1).min(stratum.open);
        }
    }
}

/// What the real network's detectors reported in a tick, and where they could not look.
#[derive(Clone, Copy)]
struct Watched<'a> {
    /// The tick.
    tick: u32,
    /// The tick's alerts.
    alerts: &'a BTreeSet<u32>,
    /// Nodes alerted on (this tick's included) and not released or cleared since.
    alerted: &'a BTreeSet<u32>,
    /// Nodes the real network holds in quarantine.
    isolated: &'a BTreeSet<u32>,
}

/// Weighted mean and 5 % / 95 % quantiles of the members' counts, each plus a number of
/// doubtful nodes drawn from `extra` (the mixture over the members).
fn weighted(counts: &[u64], weights: &[f64], extra: &Pmf) -> (f64, f64, f64) {
    let parts: Vec<(u64, &Pmf, f64)> = counts
        .iter()
        .zip(weights)
        .map(|(&c, &w)| (c, extra, w))
        .collect();
    let mean = counts
        .iter()
        .zip(weights)
        .map(|(&c, w)| c as f64 * w)
        .sum::<f64>()
        + extra.mean();
    (
        mean,
        mixture_quantile(&parts, 0.05),
        mixture_quantile(&parts, 0.95),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_imposed_as_the_real_defenses_act() {
        let fact = |kind, node| Resolved {
            tick: 1,
            kind,
            node,
            link: None,
        };
        let mut s = vec![Security::default(); 4];
        s[1].compromise(0);
        impose(
            &mut s,
            &[
                fact(Kind::Quarantine, 0),
                fact(Kind::Release, 1),
                fact(Kind::Compromised, 2),
                fact(Kind::Patched, 3),
            ],
            0,
        );
        assert!(s[0].quarantined && !s[0].compromised);
        // Released: rebuilt clean and patched, back on the network, its past kept.
        assert!(!s[1].compromised && s[1].patched && !s[1].quarantined && s[1].ever_compromised);
        assert_eq!(s[1].rebuilds, 1);
        assert!(s[2].compromised && s[2].ever_compromised);
        assert!(s[3].patched && !s[3].compromised);
        impose(&mut s, &[fact(Kind::Clean, 2)], 0);
        assert!(!s[2].compromised && s[2].rebuilds == 1);
    }

    /// Ten nodes of one group; nodes 0–2 held unseen by campaign 0 since before the tick,
    /// node 5 patched, the others clean and open.
    fn group_of_ten() -> (Vec<Security>, Vec<bool>) {
        let mut s = vec![Security::default(); 10];
        for n in s.iter_mut().take(3) {
            n.compromise(0);
        }
        s[5].patched = true;
        let held = s.iter().map(|s| s.compromised).collect();
        (s, held)
    }

    fn worm(entry: Option<(GroupId, u32)>) -> AttackSurface {
        let mut surface = AttackSurface::undeclared(1);
        surface.declare(
            0,
            paraverse_sim::world::Surface {
                groups: vec![true],
                needs_unpatched: true,
                needs_default_credentials: false,
                entry,
            },
        );
        surface
    }

    /// Assimilates one alert on `node` at tick 10; returns the member's posterior that the
    /// attacker is there, and the member's nodes after.
    fn alert_on(node: u32, surface: &AttackSurface) -> (f64, Vec<Security>) {
        let (mut s, held) = group_of_ten();
        let alerts = BTreeSet::from([node]);
        let (none, model) = (BTreeSet::new(), AlertModel::uniform(0.99, 1e-4));
        let watched = Watched {
            tick: 10,
            alerts: &alerts,
            alerted: &alerts,
            isolated: &none,
        };
        let (_, posteriors) = assimilate(
            &mut s,
            (&held, &BTreeMap::new()),
            watched,
            &model,
            (&[(0, 10)], surface),
            (SimRng::new(1), 10),
        );
        (posteriors[0], s)
    }

    #[test]
    fn an_alert_on_a_node_no_campaign_could_take_is_a_false_alarm() {
        // The worm needs unpatched nodes: an alert on the patched node 5 is a false alarm
        // whatever the member holds in the group, and moves nothing.
        let (posterior, s) = alert_on(5, &worm(None));
        assert_eq!(posterior, 0.0);
        assert!(!s[5].compromised);
        assert_eq!(s.iter().filter(|s| s.compromised).count(), 3);
        // On the unpatched node 6: the prior is 3 held of 9 nodes the worm holds or could
        // take, and the member's attacker moves there from one of its unseen nodes.
        let (posterior, s) = alert_on(6, &worm(None));
        let prior = 3.0 / 9.0;
        assert!((posterior - 0.99 * prior / (0.99 * prior + 1e-4 * (1.0 - prior))).abs() < 1e-12);
        assert!(s[6].compromised && s[6].campaign == 0);
        assert_eq!(s.iter().filter(|s| s.compromised).count(), 3);
        // At the worm's launch its footholds land on any node of the entry group.
        let (posterior, s) = alert_on(5, &worm(Some((0, 10))));
        assert!(posterior > 0.99 && s[5].compromised, "{posterior}");
        // A campaign that declares nothing may take any node: the old exchangeable prior,
        // 3 held of the group's 10.
        let (posterior, _) = alert_on(5, &AttackSurface::undeclared(1));
        let prior = 3.0 / 10.0;
        assert!((posterior - 0.99 * prior / (0.99 * prior + 1e-4 * (1.0 - prior))).abs() < 1e-12);
    }

    #[test]
    fn weighted_quantiles_follow_the_weights() {
        let none = Pmf::certain();
        let (mean, q05, q95) = weighted(&[10, 20, 30], &[0.0, 1.0, 0.0], &none);
        assert_eq!((mean, q05, q95), (20.0, 20.0, 20.0));
        let (mean, q05, q95) = weighted(&[30, 10], &[0.5, 0.5], &none);
        assert_eq!((mean, q05, q95), (20.0, 10.0, 30.0));
    }
}
