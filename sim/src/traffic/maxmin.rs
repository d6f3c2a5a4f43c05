//! Max-min fair bandwidth allocation with strict priority classes, in whole kbit/s.
//!
//! # The allocation
//!
//! Classes are served in priority order (0 first); each class shares what the classes
//! before it left, max-min fairly: no flow can get more without taking from a flow that has
//! no more. Fair shares are compared exactly, as fractions `remaining / unfrozen flows`
//! (cross-multiplied in 64 bits), and a flow's rate is rounded down to whole kbit/s when
//! it freezes. So the result is exact max-min up to less than 1 kbit/s per flow, and it
//! is a function of integers only: the CPU and GPU backends agree bit for bit, whatever
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

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

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
    /// Remaining capacity, kbit/s.
    pub num: u64,
    /// Unfrozen flows.
    pub den: u64,
}

impl Share {
    /// No limit.
    pub const UNLIMITED: Share = Share { num: 1, den: 0 };

    /// Whether `self < other`, exactly.
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

    /// Whether a demand fits within the share (`demand ≤ num / den`).
    #[inline]
    pub fn admits(self, demand: u32) -> bool {
        self.den == 0 || u128::from(demand) * u128::from(self.den) <= u128::from(self.num)
    }

    /// The share rounded down to whole kbit/s.
    #[inline]
    pub fn floor(self) -> u32 {
        self.num
            .checked_div(self.den)
            .map_or(u32::MAX, |r| r.min(u64::from(u32::MAX)) as u32)
    }
}

/// Textbook progressive filling, one level per step. Slow (steps = distinct levels) and
/// sequential: the yardstick the fast backends are tested against.
#[expect(
    clippy::needless_range_loop,
    reason = "flow ids index several parallel arrays"
)]
pub fn reference_allocation(p: &AllocationProblem<'_>) -> Vec<u32> {
    let mut rate = vec![0u32; p.flows()];
    let mut remaining: Vec<u64> = p.capacity.iter().map(|&c| u64::from(c)).collect();
    for class in p.classes() {
        let mut unfrozen: Vec<usize> = Vec::new();
        for f in 0..p.flows() {
            if p.priority[f] != class {
                continue;
            }
            if p.path(f).is_empty() {
                rate[f] = p.demand[f];
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
            let frozen: Vec<(usize, u32)> = if level.admits(min_demand) {
                // The level reaches the smallest demand first: those flows stop there.
                unfrozen
                    .iter()
                    .filter(|&&f| p.demand[f] == min_demand)
                    .map(|&f| (f, min_demand))
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
                    remaining[l as usize] -= u64::from(r);
                }
            }
            unfrozen.retain(|f| !frozen.iter().any(|(g, _)| g == f));
        }
    }
    rate
}

/// Flows one rayon task handles.
const FLOWS_PER_TASK: usize = 4096;

/// Fewest items a rayon task takes in the per-round loops: below this, splitting costs
/// more than it saves.
const MIN_PER_TASK: usize = 2048;

/// The round-based allocation on the CPU: rayon over flows, atomics for per-link
/// counters (integer sums, so the order of updates cannot change them).
#[derive(Debug, Default)]
pub struct Rounds {
    remaining: Vec<AtomicU32>,
    count: Vec<AtomicU32>,
    share: Vec<Share>,
    not_min: Vec<AtomicU32>,
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
    pub fn allocate(&mut self, p: &AllocationProblem<'_>, rate: &mut [u32]) {
        let links = p.capacity.len();
        self.remaining = p.capacity.iter().map(|&c| AtomicU32::new(c)).collect();
        self.count = (0..links).map(|_| AtomicU32::new(0)).collect();
        self.not_min = (0..links).map(|_| AtomicU32::new(0)).collect();
        self.share = vec![Share::UNLIMITED; links];
        self.last_rounds = 0;
        self.last_flow_rounds = 0;
        rate.iter_mut().for_each(|r| *r = 0);
        for class in p.classes() {
            let mut unfrozen: Vec<u32> = (0..p.flows() as u32)
                .into_par_iter()
                .filter(|&f| {
                    let f = f as usize;
                    p.priority[f] == class && p.demand[f] > 0 && !p.path(f).is_empty()
                })
                .collect();
            for f in 0..p.flows() {
                if p.priority[f] == class && p.path(f).is_empty() {
                    rate[f] = p.demand[f];
                }
            }
            unfrozen.par_chunks(FLOWS_PER_TASK).for_each(|chunk| {
                for &f in chunk {
                    for &l in p.path(f as usize) {
                        self.count[l as usize].fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            let mut min_share: Vec<Share> = Vec::new();
            while !unfrozen.is_empty() {
                self.last_rounds += 1;
                self.last_flow_rounds += unfrozen.len() as u64;
                let (remaining, count) = (&self.remaining, &self.count);
                self.share
                    .par_iter_mut()
                    .with_min_len(MIN_PER_TASK)
                    .enumerate()
                    .for_each(|(l, s)| {
                        *s = Share {
                            num: u64::from(remaining[l].load(Ordering::Relaxed)),
                            den: u64::from(count[l].load(Ordering::Relaxed)),
                        };
                    });
                let share = &self.share;
                let not_min = &self.not_min;
                not_min
                    .par_iter()
                    .with_min_len(MIN_PER_TASK)
                    .for_each(|x| x.store(0, Ordering::Relaxed));
                // Pass 1: each flow's tightest share `m`; mark every link that is not the
                // tightest for one of its flows, or that carries a flow about to stop at
                // its demand.
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
                            if by_demand || m.lt(share[l as usize]) {
                                not_min[l as usize].store(1, Ordering::Relaxed);
                            }
                        }
                        m
                    })
                    .collect_into_vec(&mut min_share);
                // Pass 2: freeze at the demand, or at a bottleneck's share, and take the
                // rate off every link of the path.
                let (remaining, count) = (&self.remaining, &self.count);
                let freeze: Vec<Option<u32>> = unfrozen
                    .par_iter()
                    .with_min_len(MIN_PER_TASK)
                    .zip(&min_share)
                    .map(|(&f, m)| {
                        let path = p.path(f as usize);
                        let demand = p.demand[f as usize];
                        let r = if m.admits(demand) {
                            demand
                        } else if path
                            .iter()
                            .any(|&l| not_min[l as usize].load(Ordering::Relaxed) == 0)
                        {
                            m.floor()
                        } else {
                            return None;
                        };
                        for &l in path {
                            remaining[l as usize].fetch_sub(r, Ordering::Relaxed);
                            count[l as usize].fetch_sub(1, Ordering::Relaxed);
                        }
                        Some(r)
                    })
                    .collect();
                let mut still = Vec::with_capacity(unfrozen.len());
                for (&f, fr) in unfrozen.iter().zip(&freeze) {
                    match fr {
                        Some(r) => rate[f as usize] = *r,
                        None => still.push(f),
                    }
                }
                unfrozen = still;
            }
        }
    }
}
