//! Max-min fair bandwidth allocation with strict priority classes, exact to 2^-32 kbit/s.
//!
//! # The allocation
//!
//! Classes are served in priority order (0 first); each class shares what the classes
//! before it left, max-min fairly: no flow can get more without taking from a flow that has
//! no more. Rates are fixed-point numbers, [`Rate`] units of 2^-32 kbit/s (a capacity of
//! up to 2^32 kbit/s fits 64 bits). Fair shares are compared exactly, as fractions
//! `remaining / unfrozen flows` (cross-multiplied in 96 bits), and a flow frozen at a
//! share gets the share rounded down to a whole unit. So a bottleneck link leaves less
//! than one unit per flow idle (under 10^-3 kbit/s with 4 million flows on it), and what a
//! flow loses to rounding reaches the links' other flows only as such fractions: tested
//! against a float64 fluid oracle ([`fluid_allocation`]), every flow is within
//! 10^-6 kbit/s of exact max-min on random problems, 60,000-flow problems and the
//! benchmark's 10^6 flows (`paraverse bench --traffic` prints the deviation). The rest of
//! the simulator reads rates rounded down to whole kbit/s ([`kbps`]), so a reported rate is
//! within 1 kbit/s below exact.
//!
//! Whole-kbit/s arithmetic, used before, was not exact: the remainder a flow frozen at a
//! rounded-down share left on its bottleneck could be taken by flows frozen later elsewhere
//! (30 links of 10 kbit/s, each shared by 3 flows that also cross a 1,000 kbit/s link with
//! one more flow: that flow got 730 where max-min gives 700; see the `remainder` test).
//!
//! Every step is integer arithmetic, so the CPU and GPU backends agree bit for bit, whatever
//! the order their threads run in.
//!
//! # Three algorithms, one answer
//!
//! [`reference_allocation`] is textbook progressive filling: raise the level of every
//! unfrozen flow together to the next point where a demand is met (those flows freeze at
//! their demand) or, failing that, a link saturates (its flows freeze at its share), and
//! repeat — one level per step, every link with the same share in the same step.
//!
//! [`Filling`] takes exactly those steps, fast: the CPU backend. Links wait in a queue
//! ordered by share (lazily: a share only grows as flows freeze, so a link is re-placed
//! only when it reaches the front), all flows whose demand the level admits freeze in one
//! step, and each flow's path is read once, when it freezes: O(path links) plus a
//! logarithm per re-placement for a whole allocation.
//!
//! [`Rounds`] is the parallel form the GPU runs (`maxmin.wgsl`), kept on the CPU as its
//! tested twin: in each round every link computes its fair share, every unfrozen flow the
//! smallest share `m` on its path, and then, at once,
//!
//! 1. every flow that demands no more than its `m` freezes at its demand (safe: shares
//!    never fall as filling proceeds, so such a flow is never limited first);
//! 2. every link whose share is the smallest on each of its flows (a local minimum), and
//!    none of whose flows stops at its demand in this round, is a bottleneck: its flows
//!    freeze at that share (safe: none of them can be limited anywhere earlier, and the
//!    demand freezes elsewhere do not touch the link).
//!
//! Each round freezes at least the flows of the globally tightest link, and in practice
//! many more, so rounds track the depth of the bottleneck structure rather than the number
//! of distinct levels; but every round reads every unfrozen flow's path, which is why the
//! CPU fills instead (`paraverse bench --traffic` prints both). A property test checks
//! the three give identical allocations.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::prefetch::prefetch;

/// A rate in units of 2^-32 kbit/s.
pub type Rate = u64;

/// Fraction bits of a [`Rate`].
pub const FRACTION_BITS: u32 = 32;

/// `kbps` kbit/s as a [`Rate`].
#[inline]
pub fn rate_of(kbps: u32) -> Rate {
    Rate::from(kbps) << FRACTION_BITS
}

/// A [`Rate`] rounded down to whole kbit/s.
#[inline]
pub fn kbps(rate: Rate) -> u32 {
    (rate >> FRACTION_BITS) as u32
}

/// A sum of [`Rate`]s rounded to the nearest whole kbit/s (halves up). The sum must leave
/// room for half a kbit/s below 2^64, as any feasible load on one channel does (at most
/// its capacity, under 2^32 kbit/s).
#[inline]
pub fn kbps_nearest(rate: u64) -> u64 {
    (rate + (1 << (FRACTION_BITS - 1))) >> FRACTION_BITS
}

/// A [`Rate`] in kbit/s, as a float (for reports and comparisons with [`fluid_allocation`]).
pub fn kbps_f64(rate: Rate) -> f64 {
    rate as f64 / (1u64 << FRACTION_BITS) as f64
}

/// One allocation problem: links, flows and their paths, as flat arrays.
#[derive(Debug, Clone, Copy)]
pub struct AllocationProblem<'a> {
    /// Capacity of each link, kbit/s.
    pub capacity: &'a [u32],
    /// Flow `f`'s path is `path_links[path_offsets[f]..path_offsets[f + 1]]`.
    pub path_offsets: &'a [u32],
    /// Link ids of all paths, concatenated.
    pub path_links: &'a [u32],
    /// Demand of each flow, kbit/s (0 for an inactive flow).
    pub demand: &'a [u32],
    /// Priority class of each flow, 0 served first.
    pub priority: &'a [u8],
}

impl AllocationProblem<'_> {
    /// Number of flows.
    pub fn flows(&self) -> usize {
        self.demand.len()
    }

    /// The links of flow `f`.
    #[inline]
    pub fn path(&self, f: usize) -> &[u32] {
        &self.path_links[self.path_offsets[f] as usize..self.path_offsets[f + 1] as usize]
    }

    /// The priority classes present, in service order.
    pub fn classes(&self) -> Vec<u8> {
        let mut seen = [false; 256];
        for &p in self.priority {
            seen[p as usize] = true;
        }
        (0..=255u8).filter(|&p| seen[p as usize]).collect()
    }
}

/// A fair share `num / den` (`den = 0`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Remaining capacity, in [`Rate`] units.
    pub num: Rate,
    /// Unfrozen flows.
    pub den: u64,
}

impl Share {
    /// No limit.
    pub const UNLIMITED: Share = Share { num: 1, den: 0 };

    /// Whether `self < other`, exactly (`num` < 2^64 and `den` < 2^32 keep the products
    /// within 96 bits, which is what the GPU form computes).
    #[inline]
    pub fn lt(self, other: Share) -> bool {
        match (self.den, other.den) {
            (_, 0) => self.den != 0,
            (0, _) => false,
            _ => {
                u128::from(self.num) * u128::from(other.den)
                    < u128::from(other.num) * u128::from(self.den)
            }
        }
    }

    /// Whether a demand of `demand` kbit/s fits within the share. `demand · 2^32 · den ≤
    /// num` holds exactly when `demand · den ≤ ⌊num / 2^32⌋`, as the left side is a whole
    /// multiple of 2^32.
    #[inline]
    pub fn admits(self, demand: u32) -> bool {
        self.den == 0 || u128::from(demand) * u128::from(self.den) <= u128::from(self.num >> 32)
    }

    /// The share rounded down to a whole [`Rate`] unit.
    #[inline]
    pub fn floor(self) -> Rate {
        self.num.checked_div(self.den).unwrap_or(Rate::MAX)
    }
}

/// Textbook progressive filling, one level per step. Slow (steps = distinct levels) and
/// sequential: the yardstick the fast backends are tested against.
#[expect(
    clippy::needless_range_loop,
    reason = "flow ids index several parallel arrays"
)]
pub fn reference_allocation(p: &AllocationProblem<'_>) -> Vec<Rate> {
    let mut rate = vec![0; p.flows()];
    let mut remaining: Vec<Rate> = p.capacity.iter().map(|&c| rate_of(c)).collect();
    for class in p.classes() {
        let mut unfrozen: Vec<usize> = Vec::new();
        for f in 0..p.flows() {
            if p.priority[f] != class {
                continue;
            }
            if p.path(f).is_empty() {
                rate[f] = rate_of(p.demand[f]);
            } else if p.demand[f] > 0 {
                unfrozen.push(f);
            }
        }
        while !unfrozen.is_empty() {
            let mut count = vec![0u64; remaining.len()];
            for &f in &unfrozen {
                for &l in p.path(f) {
                    count[l as usize] += 1;
                }
            }
            let share = |l: usize| Share {
                num: remaining[l],
                den: count[l],
            };
            let level = (0..remaining.len())
                .filter(|&l| count[l] > 0)
                .map(share)
                .fold(Share::UNLIMITED, |a, b| if b.lt(a) { b } else { a });
            let min_demand = unfrozen
                .iter()
                .map(|&f| p.demand[f])
                .min()
                .expect("non-empty");
            let frozen: Vec<(usize, Rate)> = if level.admits(min_demand) {
                // The level reaches the smallest demand first: those flows stop there.
                unfrozen
                    .iter()
                    .filter(|&&f| p.demand[f] == min_demand)
                    .map(|&f| (f, rate_of(min_demand)))
                    .collect()
            } else {
                // Otherwise the tightest links saturate; their flows stop at the level.
                unfrozen
                    .iter()
                    .filter(|&&f| {
                        p.path(f).iter().any(|&l| {
                            let s = share(l as usize);
                            !s.lt(level) && !level.lt(s)
                        })
                    })
                    .map(|&f| (f, level.floor()))
                    .collect()
            };
            for &(f, r) in &frozen {
                rate[f] = r;
                for &l in p.path(f) {
                    remaining[l as usize] -= r;
                }
            }
            unfrozen.retain(|f| !frozen.iter().any(|(g, _)| g == f));
        }
    }
    rate
}

/// A float64 bound on a link, ordered for the heap (bounds are finite and not NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Exact max-min in float64 (the fluid model, kbit/s), by progressive filling with a heap
/// of link bounds: the oracle the fixed-point allocation is measured against, fast enough
/// for 10^6 flows (O(path links · log links)). Not used by the simulation: its float
/// rounding depends on the order of operations, so it is not a determinism basis.
///
/// Within a class every unfrozen flow sits at one common level λ, and link `l` allows
/// λ ≤ (remaining_l) / (unfrozen flows on l). A freeze at λ never lowers another link's
/// bound, so the smallest bound, or the smallest demand if that comes first, is where the
/// next flows stop.
pub fn fluid_allocation(p: &AllocationProblem<'_>) -> Vec<f64> {
    let mut fluid = Fluid::new(p);
    for class in p.classes() {
        fluid.serve(p, class);
    }
    fluid.rate
}

/// The state of [`fluid_allocation`].
struct Fluid {
    rate: Vec<f64>,
    frozen: Vec<bool>,
    remaining: Vec<f64>,
    count: Vec<u32>,
    /// Bumped whenever a link's bound changes: heap entries with an older version are stale.
    version: Vec<u32>,
    heap: BinaryHeap<Reverse<(Bound, u32, u32)>>,
    /// Flow `f` crosses link `l` for each `f` in `on_link[start[l]..start[l + 1]]`.
    start: Vec<usize>,
    on_link: Vec<u32>,
}

impl Fluid {
    fn new(p: &AllocationProblem<'_>) -> Self {
        let links = p.capacity.len();
        let mut start = vec![0usize; links + 1];
        for &l in p.path_links {
            start[l as usize + 1] += 1;
        }
        for l in 0..links {
            start[l + 1] += start[l];
        }
        let mut on_link = vec![0u32; p.path_links.len()];
        let mut fill = start.clone();
        for f in 0..p.flows() {
            for &l in p.path(f) {
                on_link[fill[l as usize]] = f as u32;
                fill[l as usize] += 1;
            }
        }
        Self {
            rate: vec![0.0; p.flows()],
            frozen: vec![true; p.flows()],
            remaining: p.capacity.iter().map(|&c| f64::from(c)).collect(),
            count: vec![0; links],
            version: vec![0; links],
            heap: BinaryHeap::new(),
            start,
            on_link,
        }
    }

    fn push(&mut self, l: usize) {
        if self.count[l] > 0 {
            let bound = (self.remaining[l] / f64::from(self.count[l])).max(0.0);
            self.heap
                .push(Reverse((Bound(bound), l as u32, self.version[l])));
        }
    }

    fn freeze(&mut self, p: &AllocationProblem<'_>, f: usize, r: f64) {
        self.rate[f] = r;
        self.frozen[f] = true;
        for &l in p.path(f) {
            let l = l as usize;
            self.remaining[l] -= r;
            self.count[l] -= 1;
            self.version[l] += 1;
            self.push(l);
        }
    }

    fn serve(&mut self, p: &AllocationProblem<'_>, class: u8) {
        let mut by_demand: Vec<u32> = Vec::new();
        for f in 0..p.flows() {
            if p.priority[f] != class {
                continue;
            }
            if p.path(f).is_empty() {
                self.rate[f] = f64::from(p.demand[f]);
            } else if p.demand[f] > 0 {
                self.frozen[f] = false;
                by_demand.push(f as u32);
                for &l in p.path(f) {
                    self.count[l as usize] += 1;
                }
            }
        }
        by_demand.sort_by_key(|&f| p.demand[f as usize]);
        self.heap.clear();
        for l in 0..p.capacity.len() {
            self.push(l);
        }
        let mut next_demand = 0usize;
        loop {
            while next_demand < by_demand.len() && self.frozen[by_demand[next_demand] as usize] {
                next_demand += 1;
            }
            while let Some(&Reverse((_, l, v))) = self.heap.peek() {
                if self.count[l as usize] == 0 || self.version[l as usize] != v {
                    self.heap.pop();
                } else {
                    break;
                }
            }
            let demand = by_demand.get(next_demand).map(|&f| p.demand[f as usize]);
            let link = self
                .heap
                .peek()
                .map(|&Reverse((b, l, _))| (b.0, l as usize));
            match (demand, link) {
                (None, None) => break,
                (Some(d), link) if link.is_none_or(|(b, _)| f64::from(d) <= b) => {
                    let f = by_demand[next_demand] as usize;
                    self.freeze(p, f, f64::from(d));
                }
                (_, Some((level, l))) => {
                    self.heap.pop();
                    for i in self.start[l]..self.start[l + 1] {
                        let f = self.on_link[i] as usize;
                        if !self.frozen[f] {
                            self.freeze(p, f, level);
                        }
                    }
                }
                (Some(_), None) => unreachable!("a demand with no link bound is taken above"),
            }
        }
    }
}

/// The largest difference, in kbit/s, between `rate` and the fluid oracle's answer.
pub fn deviation_from_fluid(rate: &[Rate], fluid: &[f64]) -> f64 {
    rate.iter()
        .zip(fluid)
        .map(|(&r, &x)| (kbps_f64(r) - x).abs())
        .fold(0.0, f64::max)
}

/// Fewest items a rayon task takes in the per-round loops: below this, splitting costs
/// more than it saves.
const MIN_PER_TASK: usize = 2048;

/// The GPU's round algorithm on the CPU (its tested twin, and the bench's comparison for
/// [`Filling`]): rayon over flows for the two passes of a round,
/// which only read shared state (the `not_min` marks are idempotent stores); the per-link
/// sums are then updated in one sequential sweep over the flows that froze, so there are
/// no atomic read-modify-writes and the totals cannot depend on thread order. Each flow
/// freezes once, so the sweeps cost O(path links) over a whole allocation.
#[derive(Debug, Default)]
pub struct Rounds {
    remaining: Vec<Rate>,
    count: Vec<u32>,
    share: Vec<Share>,
    not_min: Vec<AtomicBool>,
    min_share: Vec<Share>,
    freeze: Vec<Option<Rate>>,
    /// Rounds run by the last allocation (for benchmarks and diagnostics).
    pub last_rounds: u32,
    /// Unfrozen flows summed over the rounds of the last allocation: the work done.
    pub last_flow_rounds: u64,
}

impl Rounds {
    /// Allocates `p` into `rate` (one entry per flow).
    #[expect(
        clippy::needless_range_loop,
        reason = "flow ids index several parallel arrays"
    )]
    pub fn allocate(&mut self, p: &AllocationProblem<'_>, rate: &mut [Rate]) {
        let links = p.capacity.len();
        self.remaining.clear();
        self.remaining
            .extend(p.capacity.iter().map(|&c| rate_of(c)));
        self.count.clear();
        self.count.resize(links, 0);
        if self.not_min.len() != links {
            self.not_min = (0..links).map(|_| AtomicBool::new(false)).collect();
        }
        self.share.clear();
        self.share.resize(links, Share::UNLIMITED);
        self.last_rounds = 0;
        self.last_flow_rounds = 0;
        rate.iter_mut().for_each(|r| *r = 0);
        for class in p.classes() {
            let mut unfrozen: Vec<u32> = Vec::new();
            for f in 0..p.flows() {
                if p.priority[f] != class {
                    continue;
                }
                let path = p.path(f);
                if path.is_empty() {
                    rate[f] = rate_of(p.demand[f]);
                } else if p.demand[f] > 0 {
                    unfrozen.push(f as u32);
                    for &l in path {
                        self.count[l as usize] += 1;
                    }
                }
            }
            while !unfrozen.is_empty() {
                self.last_rounds += 1;
                self.last_flow_rounds += unfrozen.len() as u64;
                self.round(p, &mut unfrozen, rate);
            }
        }
    }

    /// One round: every link's share, every unfrozen flow's tightest share, then the
    /// freezes. Removes the flows that froze from `unfrozen`.
    fn round(&mut self, p: &AllocationProblem<'_>, unfrozen: &mut Vec<u32>, rate: &mut [Rate]) {
        let (remaining, count) = (&self.remaining, &self.count);
        self.share
            .par_iter_mut()
            .with_min_len(MIN_PER_TASK)
            .zip(&self.not_min)
            .enumerate()
            .for_each(|(l, (s, not_min))| {
                *s = Share {
                    num: remaining[l],
                    den: u64::from(count[l]),
                };
                not_min.store(false, Ordering::Relaxed);
            });
        let (share, not_min) = (&self.share, &self.not_min);
        // Pass 1: each flow's tightest share `m`; mark every link that is not the tightest
        // for one of its flows, or that carries a flow about to stop at its demand.
        unfrozen
            .par_iter()
            .with_min_len(MIN_PER_TASK)
            .map(|&f| {
                let path = p.path(f as usize);
                let m = path
                    .iter()
                    .map(|&l| share[l as usize])
                    .fold(Share::UNLIMITED, |a, b| if b.lt(a) { b } else { a });
                let by_demand = m.admits(p.demand[f as usize]);
                for &l in path {
                    let mark = &not_min[l as usize];
                    if (by_demand || m.lt(share[l as usize])) && !mark.load(Ordering::Relaxed) {
                        mark.store(true, Ordering::Relaxed);
                    }
                }
                m
            })
            .collect_into_vec(&mut self.min_share);
        // Pass 2: which flows freeze, at their demand or at a bottleneck's share.
        unfrozen
            .par_iter()
            .with_min_len(MIN_PER_TASK)
            .zip(&self.min_share)
            .map(|(&f, m)| {
                let demand = p.demand[f as usize];
                if m.admits(demand) {
                    Some(rate_of(demand))
                } else if p
                    .path(f as usize)
                    .iter()
                    .any(|&l| !not_min[l as usize].load(Ordering::Relaxed))
                {
                    Some(m.floor())
                } else {
                    None
                }
            })
            .collect_into_vec(&mut self.freeze);
        // Take the frozen flows' rates off their links, in flow order.
        let mut still = 0;
        for i in 0..unfrozen.len() {
            let f = unfrozen[i];
            match self.freeze[i] {
                Some(r) => {
                    rate[f as usize] = r;
                    for &l in p.path(f as usize) {
                        self.remaining[l as usize] -= r;
                        self.count[l as usize] -= 1;
                    }
                }
                None => {
                    unfrozen[still] = f;
                    still += 1;
                }
            }
        }
        unfrozen.truncate(still);
    }
}

/// Fewest flows a task counts links for in [`Filling`]'s parallel count (below this, a
/// second per-link count array costs more than the split saves).
const MIN_FLOWS_PER_COUNT: usize = 1 << 16;

/// Fewest flows a task freezes in [`Filling`]'s split freeze of a large batch.
const MIN_FLOWS_PER_FREEZE: usize = 1 << 14;
/// Fewest keys a task sorts in [`Filling`]'s radix sort's split passes.
const MIN_KEYS_PER_SORT: usize = 1 << 16;
/// Fewest flows a task reads the paths' ranges of when [`Filling`] lists them in demand
/// order.
const MIN_FLOWS_PER_RANGES: usize = 1 << 16;

/// Most classes whose per-link flow counts [`Filling`] keeps between calls (each costs 4
/// bytes per link); with more classes in use it counts afresh each call.
const MAX_KEPT_CLASSES: usize = 8;

/// Each class's flow count on every link, kept between [`Filling`]'s calls while the paths
/// are unchanged: a call compares each flow's class with the last call's and moves the
/// counts of the flows that changed class (joined, left, or gained or lost their demand)
/// instead of reading every path again. Between a run's ticks few flows change class, so
/// the counts cost a pass over the flows' classes.
#[derive(Debug, Default)]
struct ClassCounts {
    /// What the counts were made for, as [`Filling`]'s `built_for`.
    built_for: Option<(u64, usize, usize, usize)>,
    /// Each flow's class plus one, 0 for a flow in no class (no path, or no demand).
    class_of: Vec<u16>,
    /// `count[c][l]`: flows of class `c` crossing link `l` (empty where none has).
    count: Vec<Vec<u32>>,
}

impl ClassCounts {
    /// Brings the counts to `class_of` (the flows' classes now) for `p`, whose classes'
    /// flows are `class_keys` in flow order; `built_for` is the paths' key (`None`: not
    /// kept). Whether the counts hold; they do not with more than [`MAX_KEPT_CLASSES`]
    /// classes in use, and the caller counts each class itself.
    fn update(
        &mut self,
        p: &AllocationProblem<'_>,
        built_for: Option<(u64, usize, usize, usize)>,
        class_of: &mut Vec<u16>,
        class_keys: &[Vec<u64>],
    ) -> bool {
        let links = p.capacity.len();
        if class_keys.iter().filter(|k| !k.is_empty()).count() > MAX_KEPT_CLASSES {
            *self = Self::default();
            return false;
        }
        if built_for.is_some() && built_for == self.built_for {
            let changed = class_of
                .iter()
                .zip(&self.class_of)
                .filter(|(now, was)| now != was)
                .count();
            // Moving a flow's counts reads its path at random; past an eighth of the
            // flows, counting afresh (in flow order, split among the threads) is faster.
            if changed <= p.flows() / 8 {
                for (f, (&now, &was)) in class_of.iter().zip(&self.class_of).enumerate() {
                    if now == was {
                        continue;
                    }
                    if was > 0 {
                        let count = &mut self.count[usize::from(was - 1)];
                        for &l in p.path(f) {
                            count[l as usize] -= 1;
                        }
                    }
                    if now > 0 {
                        let count = &mut self.count[usize::from(now - 1)];
                        if count.is_empty() {
                            count.resize(links, 0);
                        }
                        for &l in p.path(f) {
                            count[l as usize] += 1;
                        }
                    }
                }
                std::mem::swap(&mut self.class_of, class_of);
                return true;
            }
        }
        self.count.resize_with(class_keys.len(), Vec::new);
        for (count, keys) in self.count.iter_mut().zip(class_keys) {
            count.clear();
            if !keys.is_empty() {
                *count = count_on_links(p, keys);
            }
        }
        std::mem::swap(&mut self.class_of, class_of);
        self.built_for = built_for;
        true
    }
}

/// How many of `keys`' flows (`demand << 32 | flow`) cross each link of `p`: split among
/// the threads when there are many flows, each counting its part (the sums do not depend
/// on the split).
fn count_on_links(p: &AllocationProblem<'_>, keys: &[u64]) -> Vec<u32> {
    let links = p.capacity.len();
    let path = |key: u64| p.path(key_flow(key));
    let count = |keys: &[u64]| {
        let mut count = vec![0u32; links];
        for &key in keys {
            for &l in path(key) {
                count[l as usize] += 1;
            }
        }
        count
    };
    let tasks = rayon::current_num_threads().min(keys.len() / MIN_FLOWS_PER_COUNT);
    if tasks < 2 {
        return count(keys);
    }
    keys.par_chunks(keys.len().div_ceil(tasks))
        .map(count)
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            a
        })
        .unwrap_or_else(|| vec![0; links])
}

/// Where a [`Filling`] allocation's time went, summed over the classes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FillingPhases {
    /// Counting each link's flows of each class (or moving the kept counts).
    pub counts: std::time::Duration,
    /// Sorting each class's flows by demand.
    pub sort: std::time::Duration,
    /// Reading each class's paths' ranges in demand order.
    pub paths: std::time::Duration,
    /// The filling's steps: the queue of links, and the freezes.
    pub steps: std::time::Duration,
}

/// A flow crossing a link, with its path's range in the problem's `path_links`, so that
/// freezing the flows of a full link reads each path without first reading its offsets.
#[derive(Debug, Clone, Copy)]
struct Crossing {
    flow: u32,
    path: (u32, u32),
}

/// A link in [`Filling`]'s queue with its fair share when it was last placed, kept beside
/// the id so that sifting reads one array.
#[derive(Debug, Clone, Copy)]
struct Queued {
    share: Share,
    link: u32,
}

/// Exact progressive filling on the CPU with a queue of links ordered by fair share: the
/// CPU backend. It takes the steps of [`reference_allocation`], so it gives its answer bit
/// for bit (and so the GPU's): at each step, the smallest share λ among the links with
/// unfrozen flows, or the smallest unfrozen demand if λ admits it. A demand step freezes
/// every flow whose demand λ admits at its demand (the reference takes one demand a step,
/// but λ only grows, so it admits each of them when its turn comes, and a freeze at a
/// demand is exact whatever the order); a link step takes *every* link whose share equals
/// λ exactly out of the queue and freezes their flows at ⌊λ⌋.
///
/// A freeze lowers its links' remaining capacity and count, which only raises their
/// shares (a flow freezes at no more than any share on its path). So the share a link was
/// queued with is a lower bound on its share now, and the queue is lazy: a freeze only
/// updates the link's sums, and a link is re-placed when it reaches the front with a share
/// that has grown (or dropped when it has no flows left). The front, once it is current,
/// is the smallest share: every other entry is at least its queued bound.
///
/// Cost: O(path links) for the freezes and O(log links) per re-placement; the rounds
/// cost O(rounds · path links). The steps are sequential. Around them: each link's flows
/// of each class are counted (split among the threads at ≥ 2 × 65,536 flows), and the
/// counts of up to 8 classes are kept between calls with the same paths, where only flows
/// that changed class move theirs; the flows are sorted by demand with a radix sort (its
/// passes split among the threads at ≥ 2 × 65,536 flows); a step that freezes many flows
/// at once (≥ 2 × 16,384, crossing four times as many links as there are, as a class's
/// first demand steps can) splits the freeze. A step first gathers the flows it freezes
/// with their paths' ranges (a demand step's run of flows has them in a list read in
/// demand order before the steps, split among the threads; a flow crossing a full link
/// carries its range in the per-link list), then reads the paths with the next ones
/// prefetched: at 10^6 flows those reads are cache misses, and they overlap. Every flow's
/// rate is first written as its demand, in flow order, so that only a link step writes
/// rates (at 10^6 flows, random writes that cost a tenth of the steps when every step
/// made them). The per-link lists are kept between calls while the paths' version is
/// unchanged. [`Filling::last_phases`] says where an allocation's time went.
#[derive(Debug, Default)]
pub struct Filling {
    /// Each link's remaining capacity over its unfrozen flows (one array, so a freeze
    /// touches one cache line per link).
    link: Vec<Share>,
    /// One bit per flow: frozen (or not in the class being served).
    frozen: Vec<u64>,
    /// A binary min-heap of the links with unfrozen flows, by queued share.
    queue: Vec<Queued>,
    /// Unfrozen flows of the class being served as `demand << 32 | flow`, sorted.
    by_demand: Vec<u64>,
    /// The flows of each class with a path and a demand, as `by_demand`, in flow order.
    class_keys: Vec<Vec<u64>>,
    /// Scratch for the radix sort of `by_demand`.
    sort_scratch: Vec<u64>,
    /// The paths' ranges in the problem's `path_links` of `by_demand`'s flows, in its
    /// order: a demand step, which freezes a run of `by_demand`, reads them in one sweep.
    sorted_paths: Vec<(u32, u32)>,
    /// Links that reached the level of the current step.
    tied: Vec<u32>,
    /// Flows a link step freezes and their rates (a demand step's flows have theirs
    /// already), and the paths' ranges in `path_links` of the flows a step freezes.
    batch: Vec<(u32, Rate)>,
    ranges: Vec<(u32, u32, Rate)>,
    /// The flows crossing link `l` are `on_link[start[l]..start[l + 1]]`.
    start: Vec<u32>,
    on_link: Vec<Crossing>,
    /// What `start` and `on_link` were built for: paths' version, flows, path links, links.
    built_for: Option<(u64, usize, usize, usize)>,
    /// Each class's flow count per link, kept while the paths are unchanged.
    counts: ClassCounts,
    /// Each flow's class plus one in this call (0: in none), for `counts`.
    class_of: Vec<u16>,
    /// Steps taken by the last allocation (for benchmarks and diagnostics).
    pub last_steps: u32,
    /// Steps of the last allocation whose freezes were split among the threads.
    pub last_split_freezes: u32,
    /// Where the last allocation's time went (for benchmarks and diagnostics).
    pub last_phases: FillingPhases,
}

impl Filling {
    /// Allocates `p` into `rate` (one entry per flow). `paths_version` must change whenever
    /// the paths do (as [`Backend::allocate`](super::Backend::allocate)'s does); with
    /// `None` the per-link flow lists are built afresh.
    #[expect(
        clippy::needless_range_loop,
        reason = "flow ids index several parallel arrays"
    )]
    pub fn allocate(
        &mut self,
        p: &AllocationProblem<'_>,
        paths_version: Option<u64>,
        rate: &mut [Rate],
    ) {
        let links = p.capacity.len();
        let key = paths_version.map(|v| (v, p.flows(), p.path_links.len(), links));
        if key.is_none() || key != self.built_for {
            self.index_links(p);
            self.built_for = key;
        }
        self.link.clear();
        self.link.extend(p.capacity.iter().map(|&c| Share {
            num: rate_of(c),
            den: 0,
        }));
        self.frozen.clear();
        self.frozen.resize(p.flows().div_ceil(64), u64::MAX);
        self.last_steps = 0;
        self.last_split_freezes = 0;
        self.last_phases = FillingPhases::default();
        // One pass sorts the flows into their classes, in flow order.
        self.class_keys.resize_with(256, Vec::new);
        for keys in &mut self.class_keys {
            keys.clear();
        }
        self.class_of.clear();
        self.class_of.resize(p.flows(), 0);
        for f in 0..p.flows() {
            // A flow with no path, or no demand, gets its demand. So do most others in the
            // end: written here in flow order, their rates need no write in the steps,
            // where a link step overwrites the rates of the flows it freezes.
            rate[f] = rate_of(p.demand[f]);
            if p.path_offsets[f] != p.path_offsets[f + 1] && p.demand[f] > 0 {
                self.class_keys[usize::from(p.priority[f])]
                    .push(u64::from(p.demand[f]) << 32 | f as u64);
                self.class_of[f] = u16::from(p.priority[f]) + 1;
            }
        }
        let counting = std::time::Instant::now();
        let kept = self
            .counts
            .update(p, key, &mut self.class_of, &self.class_keys);
        self.last_phases.counts += counting.elapsed();
        for class in 0..256 {
            if self.class_keys[class].is_empty() {
                continue;
            }
            std::mem::swap(&mut self.by_demand, &mut self.class_keys[class]);
            for &key in &self.by_demand {
                let f = key_flow(key);
                self.frozen[f / 64] &= !(1 << (f % 64));
            }
            let counted = std::time::Instant::now();
            if kept {
                for (link, &n) in self.link.iter_mut().zip(&self.counts.count[class]) {
                    link.den += u64::from(n);
                }
            } else {
                let count = count_on_links(p, &self.by_demand);
                for (link, n) in self.link.iter_mut().zip(count) {
                    link.den += u64::from(n);
                }
            }
            let sorted = std::time::Instant::now();
            radix_sort_by_high_word(&mut self.by_demand, &mut self.sort_scratch);
            let ranged = std::time::Instant::now();
            self.by_demand
                .par_iter()
                .with_min_len(MIN_FLOWS_PER_RANGES)
                .map(|&key| {
                    let f = key_flow(key);
                    (p.path_offsets[f], p.path_offsets[f + 1])
                })
                .collect_into_vec(&mut self.sorted_paths);
            let served = std::time::Instant::now();
            self.serve(p, rate);
            self.last_phases.counts += sorted - counted;
            self.last_phases.sort += ranged - sorted;
            self.last_phases.paths += served - ranged;
            self.last_phases.steps += served.elapsed();
            std::mem::swap(&mut self.by_demand, &mut self.class_keys[class]);
        }
    }

    /// Builds the per-link flow lists (a counting sort of the path links by link).
    fn index_links(&mut self, p: &AllocationProblem<'_>) {
        let links = p.capacity.len();
        self.start.clear();
        self.start.resize(links + 1, 0);
        for &l in p.path_links {
            self.start[l as usize + 1] += 1;
        }
        for l in 0..links {
            self.start[l + 1] += self.start[l];
        }
        self.on_link.clear();
        self.on_link.resize(
            p.path_links.len(),
            Crossing {
                flow: 0,
                path: (0, 0),
            },
        );
        let mut fill = self.start[..links].to_vec();
        for f in 0..p.flows() {
            let path = (p.path_offsets[f], p.path_offsets[f + 1]);
            for &l in p.path(f) {
                self.on_link[fill[l as usize] as usize] = Crossing {
                    flow: f as u32,
                    path,
                };
                fill[l as usize] += 1;
            }
        }
    }

    #[inline]
    fn is_frozen(&self, f: usize) -> bool {
        self.frozen[f / 64] & (1 << (f % 64)) != 0
    }

    /// Serves one class: the links with its flows enter the queue, then steps until every
    /// flow of the class is frozen.
    fn serve(&mut self, p: &AllocationProblem<'_>, rate: &mut [Rate]) {
        self.queue.clear();
        for l in 0..p.capacity.len() {
            if self.link[l].den > 0 {
                self.queue.push(Queued {
                    share: self.link[l],
                    link: l as u32,
                });
            }
        }
        for i in (0..self.queue.len() / 2).rev() {
            self.sift_down(i);
        }
        let mut next = 0;
        loop {
            while next < self.by_demand.len() && self.is_frozen(key_flow(self.by_demand[next])) {
                next += 1;
            }
            let Some(&first) = self.by_demand.get(next) else {
                return;
            };
            self.last_steps += 1;
            self.batch.clear();
            self.ranges.clear();
            // An unfrozen flow has a link, so the queue is not empty.
            let level = self.front().expect("an unfrozen flow's links are queued");
            let demand = (first >> 32) as u32;
            if level.admits(demand) {
                // Every flow whose demand the level admits stops at its demand: the
                // reference takes them one demand at a time, but shares only grow, so
                // the level admits each of them when its turn comes. Their rates are
                // written already; their paths' ranges are a run of `sorted_paths`.
                while let Some(&key) = self.by_demand.get(next)
                    && level.admits((key >> 32) as u32)
                {
                    if self.freeze_flag(key_flow(key)) {
                        let (from, to) = self.sorted_paths[next];
                        self.ranges.push((from, to, rate_of((key >> 32) as u32)));
                    }
                    next += 1;
                }
            } else {
                self.tied.clear();
                while let Some(share) = self.front()
                    && !level.lt(share)
                {
                    self.tied.push(self.queue[0].link);
                    self.pop_front();
                }
                let floor = level.floor();
                for i in 0..self.tied.len() {
                    let l = self.tied[i] as usize;
                    for j in self.start[l]..self.start[l + 1] {
                        self.take_crossing(self.on_link[j as usize], floor);
                    }
                }
            }
            self.freeze_batch(p, rate);
        }
    }

    /// The front of the queue made current: links with no flows left are dropped, and a
    /// front whose share has grown since it was queued is re-placed, until the front's
    /// queued share is its share. That is then the smallest share of any queued link.
    fn front(&mut self) -> Option<Share> {
        loop {
            let top = *self.queue.first()?;
            let l = top.link as usize;
            let now = self.link[l];
            if now.den == 0 {
                self.pop_front();
                continue;
            }
            if now == top.share {
                return Some(now);
            }
            self.queue[0].share = now;
            self.sift_down(0);
        }
    }

    fn pop_front(&mut self) {
        self.queue.swap_remove(0);
        if !self.queue.is_empty() {
            self.sift_down(0);
        }
    }

    /// Marks flow `f` frozen unless it is already; whether it was not.
    #[inline]
    fn freeze_flag(&mut self, f: usize) -> bool {
        let (word, bit) = (f / 64, 1 << (f % 64));
        let free = self.frozen[word] & bit == 0;
        self.frozen[word] |= bit;
        free
    }

    /// Adds a flow crossing a full link to the step's batch, to freeze at `r`, with its
    /// path's range, unless it is frozen already.
    #[inline]
    fn take_crossing(&mut self, c: Crossing, r: Rate) {
        if self.freeze_flag(c.flow as usize) {
            self.batch.push((c.flow, r));
            self.ranges.push((c.path.0, c.path.1, r));
        }
    }

    /// Freezes the batch: each flow's links lose its rate and a flow. A batch of many
    /// flows that cross, together, several times as many links as there are (as the first
    /// demand steps of a class can be) is split among the threads: the first part lowers
    /// the links itself, each other part sums what its flows take from each link into an
    /// array of its own, and the sums are then taken off. Integer sums do not depend on
    /// the split, so neither do the shares.
    fn freeze_batch(&mut self, p: &AllocationProblem<'_>, rate: &mut [Rate]) {
        let tasks = rayon::current_num_threads().min(self.ranges.len() / MIN_FLOWS_PER_FREEZE);
        let crossings = self
            .ranges
            .iter()
            .map(|&(from, to, _)| (to - from) as usize);
        if tasks < 2 || crossings.sum::<usize>() < 4 * self.link.len() {
            for &(f, r) in &self.batch {
                rate[f as usize] = r;
            }
            take_off(p, &self.ranges, &mut self.link);
            return;
        }
        self.last_split_freezes += 1;
        let chunk = self.ranges.len().div_ceil(tasks);
        let (first, rest) = self.ranges.split_at(chunk);
        let links = self.link.len();
        let (batch, link) = (&self.batch, &mut self.link);
        let ((), taken) = rayon::join(
            || {
                for &(f, r) in batch {
                    rate[f as usize] = r;
                }
                take_off(p, first, link);
            },
            || {
                rest.par_chunks(chunk)
                    .map(|ranges| {
                        let mut taken = vec![Share { num: 0, den: 0 }; links];
                        for &(from, to, r) in ranges {
                            for &l in &p.path_links[from as usize..to as usize] {
                                let t = &mut taken[l as usize];
                                t.num += r;
                                t.den += 1;
                            }
                        }
                        taken
                    })
                    .collect::<Vec<_>>()
            },
        );
        for taken in taken {
            for (link, t) in self.link.iter_mut().zip(taken) {
                link.num -= t.num;
                link.den -= t.den;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.queue.len();
        let item = self.queue[i];
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.queue[right].share.lt(self.queue[left].share) {
                right
            } else {
                left
            };
            if !self.queue[child].share.lt(item.share) {
                break;
            }
            self.queue[i] = self.queue[child];
            i = child;
        }
        self.queue[i] = item;
    }
}

/// Takes each flow's rate and one flow off the links of its path, for flows given as
/// their paths' ranges in `p.path_links` with their rates; the next paths are prefetched,
/// as at 10^6 flows their reads miss the cache.
fn take_off(p: &AllocationProblem<'_>, ranges: &[(u32, u32, Rate)], link: &mut [Share]) {
    const AHEAD: usize = 16;
    for (i, &(from, to, r)) in ranges.iter().enumerate() {
        if let Some(&(ahead, _, _)) = ranges.get(i + AHEAD) {
            prefetch(&p.path_links[ahead as usize..]);
        }
        for &l in &p.path_links[from as usize..to as usize] {
            let link = &mut link[l as usize];
            link.num -= r;
            link.den -= 1;
        }
    }
}

/// The flow of a `demand << 32 | flow` key.
#[inline]
fn key_flow(key: u64) -> usize {
    (key & 0xffff_ffff) as usize
}

/// Sorts `keys` by their high 32 bits, keeping the order of equal ones: an LSD radix
/// sort of the bits in which the keys differ, in as few passes of at most 8 bits as cover
/// them (two for demands spanning less than 65,536 kbit/s: 256 buckets stay in cache).
/// With many keys each pass is split among the threads: each counts its part's digits,
/// and writes its part into slices of its own, which are cut from `scratch` bucket by
/// bucket in part order, so the order is the same as on one thread.
fn radix_sort_by_high_word(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    let (Some(low), Some(high)) = (
        keys.iter().map(|k| k >> 32).min(),
        keys.iter().map(|k| k >> 32).max(),
    ) else {
        return;
    };
    let bits = 64 - (high - low).leading_zeros();
    let passes = bits.div_ceil(8);
    if passes == 0 {
        return;
    }
    let width = bits.div_ceil(passes);
    let buckets = 1usize << width;
    let tasks = rayon::current_num_threads()
        .min(keys.len() / MIN_KEYS_PER_SORT)
        .max(1);
    let chunk = keys.len().div_ceil(tasks);
    for pass in 0..passes {
        let shift = pass * width;
        let digit = |k: u64| (((k >> 32) - low) >> shift) as usize & (buckets - 1);
        let histogram = |part: &[u64]| {
            let mut count = vec![0usize; buckets];
            for &k in part {
                count[digit(k)] += 1;
            }
            count
        };
        // Every element is written below, so a scratch of the right length need not be
        // cleared.
        scratch.resize(keys.len(), 0);
        if tasks == 1 {
            let mut start = histogram(keys);
            let mut sum = 0;
            for s in &mut start {
                (*s, sum) = (sum, sum + *s);
            }
            for &k in keys.iter() {
                let d = digit(k);
                scratch[start[d]] = k;
                start[d] += 1;
            }
            std::mem::swap(keys, scratch);
            continue;
        }
        let counts: Vec<Vec<usize>> = keys.par_chunks(chunk).map(histogram).collect();
        let mut rest: &mut [u64] = scratch;
        let mut slices: Vec<Vec<&mut [u64]>> =
            counts.iter().map(|_| Vec::with_capacity(buckets)).collect();
        for b in 0..buckets {
            for (part, count) in slices.iter_mut().zip(&counts) {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(count[b]);
                part.push(head);
                rest = tail;
            }
        }
        let scatter = |(part, mut slices): (&[u64], Vec<&mut [u64]>)| {
            let mut at = vec![0usize; buckets];
            for &k in part {
                let d = digit(k);
                slices[d][at[d]] = k;
                at[d] += 1;
            }
        };
        keys.par_chunks(chunk).zip(slices).for_each(scatter);
        std::mem::swap(keys, scratch);
    }
}

/// Random paths for tests: each of `flows` flows crosses `hops` to `hops + 2` distinct
/// links of `links` (draws that repeat a link are dropped), as `(offsets, links)`.
#[cfg(test)]
pub(super) fn random_paths(
    rng: &crate::rng::SimRng,
    s: crate::rng::Stream,
    flows: u32,
    links: u32,
    hops: u32,
) -> (Vec<u32>, Vec<u32>) {
    let (mut offsets, mut path) = (vec![0u32], Vec::new());
    for f in 0..flows {
        let start = path.len();
        for h in 0..hops + rng.below(s, f, 1, 0, 3) as u32 {
            let l = rng.below(s, f, 2, h, u64::from(links)) as u32;
            if !path[start..].contains(&l) {
                path.push(l);
            }
        }
        offsets.push(path.len() as u32);
    }
    (offsets, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{SimRng, Stream};

    use crate::test_pool as pool;

    /// The radix sort gives a stable sort's order by the high word at 1 and 2 threads,
    /// with enough keys that the passes are split, for demands spanning 1, 2 and 3 passes
    /// and for keys that all share one demand.
    #[test]
    fn radix_sort_split_among_threads_is_a_stable_sort() {
        let rng = SimRng::new(3);
        let s = Stream::named("test.radix");
        for span in [1u64, 200, 50_000, 5_000_000] {
            let keys: Vec<u64> = (0..3 * MIN_KEYS_PER_SORT as u32)
                .map(|f| (7 + rng.below(s, f, 0, 0, span)) << 32 | u64::from(f))
                .collect();
            let mut expected = keys.clone();
            expected.sort_by_key(|k| k >> 32);
            for threads in [1, 2] {
                let mut sorted = keys.clone();
                let mut scratch = Vec::new();
                pool(threads).install(|| radix_sort_by_high_word(&mut sorted, &mut scratch));
                assert_eq!(sorted, expected, "span {span}, {threads} thread(s)");
            }
        }
    }

    /// A problem of `flows` flows on 2-4 of `links` links, in `classes` classes.
    struct Problem {
        capacity: Vec<u32>,
        offsets: Vec<u32>,
        links: Vec<u32>,
        demand: Vec<u32>,
        priority: Vec<u8>,
    }

    impl Problem {
        fn new(flows: u32, links: u32, classes: u8) -> Self {
            let rng = SimRng::new(5);
            let s = Stream::named("test.counts");
            let (offsets, path) = random_paths(&rng, s, flows, links, 2);
            Self {
                capacity: (0..links)
                    .map(|l| 1_000 + rng.below(s, l, 0, 0, 100_000) as u32)
                    .collect(),
                offsets,
                links: path,
                demand: (0..flows)
                    .map(|f| rng.below(s, f, 3, 0, 5_000) as u32)
                    .collect(),
                priority: (0..flows).map(|f| (f % u32::from(classes)) as u8).collect(),
            }
        }

        fn get(&self) -> AllocationProblem<'_> {
            AllocationProblem {
                capacity: &self.capacity,
                path_offsets: &self.offsets,
                path_links: &self.links,
                demand: &self.demand,
                priority: &self.priority,
            }
        }
    }

    /// One [`Filling`] kept across calls with the same paths while flows change class
    /// (a new priority, a demand dropping to 0 or rising from it), few at a time and then
    /// most of them: its kept counts equal a fresh count, and its rates a fresh filling's.
    #[test]
    fn kept_class_counts_follow_flows_that_change_class() {
        let mut problem = Problem::new(4_000, 300, 3);
        let mut kept = Filling::default();
        let rng = SimRng::new(8);
        let s = Stream::named("test.counts.change");
        for round in 0..12u32 {
            // Rounds 0-8 change a few flows (the counts move), 9-11 most (they are recounted).
            let changes = if round < 9 { 1 + round * 40 } else { 3_000 };
            for i in 0..changes {
                let f = rng.below(s, round, i, 0, 4_000) as usize;
                match rng.below(s, round, i, 1, 3) {
                    0 => problem.priority[f] = rng.below(s, round, i, 2, 4) as u8,
                    1 => problem.demand[f] = 0,
                    _ => problem.demand[f] = 1 + rng.below(s, round, i, 3, 5_000) as u32,
                }
            }
            let p = problem.get();
            let mut rate = vec![Rate::MAX; p.flows()];
            kept.allocate(&p, Some(1), &mut rate);
            let mut fresh = Filling::default();
            let mut expected = vec![0; p.flows()];
            fresh.allocate(&p, None, &mut expected);
            assert_eq!(rate, expected, "round {round}");
            assert_eq!(rate, reference_allocation(&p), "round {round}");
            assert_eq!(
                kept.counts.built_for,
                Some((1, 4_000, p.path_links.len(), 300))
            );
            for (class, count) in kept.counts.count.iter().enumerate() {
                let keys: Vec<u64> = (0..p.flows())
                    .filter(|&f| usize::from(p.priority[f]) == class && p.demand[f] > 0)
                    .map(|f| f as u64)
                    .collect();
                let want = count_on_links(&p, &keys);
                if count.is_empty() {
                    assert!(want.iter().all(|&n| n == 0), "class {class}, round {round}");
                } else {
                    assert_eq!(count, &want, "class {class}, round {round}");
                }
            }
        }
        // Past the classes it keeps, it counts afresh each call (and keeps nothing).
        let problem = Problem::new(4_000, 300, MAX_KEPT_CLASSES as u8 + 1);
        let p = problem.get();
        let mut rate = vec![0; p.flows()];
        kept.allocate(&p, Some(2), &mut rate);
        assert_eq!(rate, reference_allocation(&p));
        assert_eq!(kept.counts.built_for, None);
    }
}
