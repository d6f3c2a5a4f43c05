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
//! # Two algorithms, one answer
//!
//! [`reference_allocation`] is textbook progressive filling: raise the level of every
//! unfrozen flow together to the next point where a demand is met (those flows freeze at
//! their demand) or, failing that, a link saturates (its flows freeze at its share), and
//! repeat — one level per step. [`Rounds`] is the parallel form both backends run: in each
//! round every link computes its fair share, every unfrozen flow the smallest share `m`
//! on its path, and then, at once,
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
//! of distinct levels. A property test checks the two give identical allocations.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

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

/// The round-based allocation on the CPU: rayon over flows for the two passes of a round,
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
