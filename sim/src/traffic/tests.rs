//! Known answers, reference-vs-fast properties, and CPU/GPU parity of the traffic core.
//!
//! GPU tests need a Vulkan adapter (a real GPU or Mesa's lavapipe). Without one they are
//! skipped with a message, unless `PARAVERSE_REQUIRE_GPU=1` (set by `.ci/run`), which
//! turns "no adapter" into a failure.

use proptest::prelude::*;

use super::gpu::GpuAllocator;
use super::maxmin::{
    AllocationProblem, Filling, Rate, Rounds, deviation_from_fluid, fluid_allocation, kbps,
    rate_of, reference_allocation,
};
use super::*;
use crate::bundled;
use crate::universe::Universe;

/// Problem data owned, for building [`AllocationProblem`]s in tests.
#[derive(Debug, Clone)]
struct Owned {
    capacity: Vec<u32>,
    paths: Vec<Vec<u32>>,
    demand: Vec<u32>,
    priority: Vec<u8>,
}

impl Owned {
    fn new(capacity: &[u32], flows: &[(&[u32], u32, u8)]) -> Self {
        Self {
            capacity: capacity.to_vec(),
            paths: flows.iter().map(|f| f.0.to_vec()).collect(),
            demand: flows.iter().map(|f| f.1).collect(),
            priority: flows.iter().map(|f| f.2).collect(),
        }
    }

    fn flat(&self) -> (Vec<u32>, Vec<u32>) {
        let mut offsets = vec![0u32];
        let mut links = Vec::new();
        for p in &self.paths {
            links.extend_from_slice(p);
            offsets.push(links.len() as u32);
        }
        (offsets, links)
    }

    fn solve<T>(&self, how: &mut dyn FnMut(&AllocationProblem<'_>) -> Vec<T>) -> Vec<T> {
        let (offsets, links) = self.flat();
        let p = AllocationProblem {
            capacity: &self.capacity,
            path_offsets: &offsets,
            path_links: &links,
            demand: &self.demand,
            priority: &self.priority,
        };
        how(&p)
    }

    fn reference(&self) -> Vec<Rate> {
        self.solve(&mut |p| reference_allocation(p))
    }

    fn fluid(&self) -> Vec<f64> {
        self.solve(&mut |p| fluid_allocation(p))
    }

    fn cpu(&self) -> Vec<Rate> {
        self.solve(&mut |p| {
            let mut rate = vec![0; p.flows()];
            Rounds::default().allocate(p, &mut rate);
            rate
        })
    }

    fn filling(&self) -> Vec<Rate> {
        self.solve(&mut |p| {
            let mut rate = vec![0; p.flows()];
            Filling::default().allocate(p, None, &mut rate);
            rate
        })
    }

    fn gpu(&self, gpu: &mut GpuAllocator, version: u64) -> Vec<Rate> {
        self.solve(&mut |p| {
            let mut rate = vec![0; p.flows()];
            gpu.allocate(p, version, &mut rate).expect("GPU allocation");
            rate
        })
    }

    /// Every link carries at most its capacity and no flow exceeds its demand.
    fn assert_feasible(&self, rate: &[Rate]) {
        let load = self.load(rate);
        for (f, &r) in rate.iter().enumerate() {
            assert!(r <= rate_of(self.demand[f]), "flow {f} above demand");
        }
        for (l, &x) in load.iter().enumerate() {
            assert!(
                x <= u128::from(rate_of(self.capacity[l])),
                "link {l} over capacity: {x}"
            );
        }
    }

    fn load(&self, rate: &[Rate]) -> Vec<u128> {
        let mut load = vec![0u128; self.capacity.len()];
        for (f, p) in self.paths.iter().enumerate() {
            for &l in p {
                load[l as usize] += u128::from(rate[f]);
            }
        }
        load
    }

    /// The definition of max-min fairness, checked directly: every flow below its demand
    /// has a bottleneck, a link that is full and on which no flow of its class or a later
    /// one gets more than it does (both to less than one 2^-32 kbit/s unit per flow on the
    /// link: what rounding leaves). So no capacity is left idle that a limited flow could
    /// use.
    fn assert_max_min(&self, rate: &[Rate]) {
        let load = self.load(rate);
        let mut on_link: Vec<Vec<usize>> = vec![Vec::new(); self.capacity.len()];
        for (f, p) in self.paths.iter().enumerate() {
            for &l in p {
                on_link[l as usize].push(f);
            }
        }
        for (f, p) in self.paths.iter().enumerate() {
            if p.is_empty() || rate[f] == rate_of(self.demand[f]) {
                continue;
            }
            let bottleneck = p.iter().any(|&l| {
                let l = l as usize;
                let idle = u128::from(rate_of(self.capacity[l])) - load[l];
                idle < on_link[l].len() as u128
                    && on_link[l]
                        .iter()
                        .filter(|&&g| self.priority[g] >= self.priority[f])
                        .all(|&g| rate[g] < rate[f] + on_link[l].len() as Rate)
            });
            assert!(bottleneck, "flow {f} ({}) has no bottleneck", rate[f]);
        }
    }

    /// Within 10^-6 kbit/s of the float64 fluid oracle, flow by flow, or within the
    /// oracle's own rounding where capacities near 2^32 kbit/s make that coarser (a float64
    /// carries 4.8 × 10^-7 kbit/s steps at 4 × 10^9; allow 16 of them).
    fn assert_near_fluid(&self, rate: &[Rate]) {
        let largest = self.capacity.iter().copied().max().unwrap_or(0);
        let bound = 1e-6f64.max(16.0 * f64::EPSILON * f64::from(largest));
        let deviation = deviation_from_fluid(rate, &self.fluid());
        assert!(
            deviation < bound,
            "{deviation} kbit/s from exact max-min (bound {bound})"
        );
    }
}

/// Rates rounded down to whole kbit/s, as the simulator reads them.
fn whole(rate: &[Rate]) -> Vec<u32> {
    rate.iter().map(|&r| kbps(r)).collect()
}

/// All three answers, checked equal where a GPU exists, feasible, max-min fair and within
/// the bound of the fluid oracle; in whole kbit/s.
fn all_agree(o: &Owned) -> Vec<u32> {
    let reference = o.reference();
    assert_eq!(
        o.cpu(),
        reference,
        "CPU rounds differ from reference on {o:?}"
    );
    assert_eq!(
        o.filling(),
        reference,
        "CPU filling differs from reference on {o:?}"
    );
    if let Some(mut g) = gpu() {
        assert_eq!(
            o.gpu(&mut g, 1),
            reference,
            "GPU differs from reference on {o:?}"
        );
    }
    o.assert_feasible(&reference);
    o.assert_max_min(&reference);
    o.assert_near_fluid(&reference);
    whole(&reference)
}

/// A GPU allocator, or `None` (skip) when no adapter exists and none is required.
fn gpu() -> Option<GpuAllocator> {
    match GpuAllocator::new() {
        Ok(g) => Some(g),
        Err(e @ TrafficError::NoAdapter(_))
            if !std::env::var("PARAVERSE_REQUIRE_GPU").is_ok_and(|v| v == "1") =>
        {
            eprintln!("skipping GPU comparison: {e} (set PARAVERSE_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("GPU backend unavailable: {e}; install mesa-vulkan-drivers for lavapipe"),
    }
}

const INF: u32 = 1_000_000;

#[test]
fn parking_lot() {
    // Three links in a row; flow 0 crosses all of them, flows 1-3 one each.
    let o = Owned::new(
        &[10, 10, 10],
        &[
            (&[0, 1, 2], INF, 1),
            (&[0], INF, 1),
            (&[1], INF, 1),
            (&[2], INF, 1),
        ],
    );
    assert_eq!(all_agree(&o), [5, 5, 5, 5]);
    // A narrow middle link bottlenecks the long flow; the others take what is left.
    let o = Owned::new(
        &[10, 4, 10],
        &[
            (&[0, 1, 2], INF, 1),
            (&[0], INF, 1),
            (&[1], INF, 1),
            (&[2], INF, 1),
        ],
    );
    assert_eq!(all_agree(&o), [2, 8, 2, 8]);
}

#[test]
fn dumbbell_with_an_access_bottleneck() {
    // Links 0-2: access links; link 3: the shared bottleneck.
    let o = Owned::new(
        &[2, 100, 100, 10],
        &[(&[0, 3], INF, 1), (&[1, 3], INF, 1), (&[2, 3], INF, 1)],
    );
    assert_eq!(all_agree(&o), [2, 4, 4]);
}

#[test]
fn star_with_flows_bottlenecked_at_different_links() {
    // Spokes a, b, c, d = links 0..4 of 12; flows between spokes cross two.
    let o = Owned::new(
        &[12, 12, 12, 12],
        &[
            (&[0, 1], INF, 1),
            (&[0, 2], INF, 1),
            (&[0, 3], INF, 1),
            (&[1, 2], INF, 1),
        ],
    );
    // Spoke a is shared three ways (4 each); b-c then gets the 8 left on b and c.
    assert_eq!(all_agree(&o), [4, 4, 4, 8]);
}

#[test]
fn demand_limits_and_priority_classes() {
    // A small demand leaves its share to the others.
    let o = Owned::new(&[30], &[(&[0], 4, 1), (&[0], INF, 1), (&[0], INF, 1)]);
    assert_eq!(all_agree(&o), [4, 13, 13]);
    // Class 0 is served first; class 1 splits the rest: 1.5 each, read as 1.
    let o = Owned::new(&[10], &[(&[0], 100, 1), (&[0], 7, 0), (&[0], 100, 1)]);
    assert_eq!(all_agree(&o), [1, 7, 1]);
    assert_eq!(o.reference()[0], rate_of(3) / 2);
    // Empty paths get their demand; zero demand gets nothing; a dead link gives 0.
    let o = Owned::new(
        &[0, 5],
        &[(&[], 9, 1), (&[1], 0, 1), (&[0, 1], 3, 1), (&[1], 8, 1)],
    );
    assert_eq!(all_agree(&o), [9, 0, 0, 5]);
}

/// What a flow frozen at a rounded share leaves on its bottleneck is not taken by flows
/// frozen later on its other links. 30 links of 10 kbit/s, each shared by 3 flows that
/// also cross link L of 1,000 kbit/s, and one flow g on L alone: max-min gives the 90
/// flows 10/3 each and g 700. Whole-kbit/s allocation gave g 730 and left 30 idle.
#[test]
fn remainder_of_a_rounded_share_stays_with_its_bottleneck() {
    let l = 30u32;
    let mut capacity = vec![10u32; 30];
    capacity.push(1000);
    let paths: Vec<Vec<u32>> = (0..90u32).map(|f| vec![f / 3, l]).collect();
    let mut flows: Vec<(&[u32], u32, u8)> = paths.iter().map(|p| (&p[..], INF, 1)).collect();
    flows.push((&[30], INF, 1));
    let o = Owned::new(&capacity, &flows);
    let rate = all_agree(&o);
    assert_eq!(rate[90], 700, "g gets what max-min gives it");
    assert!(rate[..90].iter().all(|&r| r == 3), "10/3, read as 3");
    let exact = o.reference();
    let load = o.load(&exact);
    // Each small link is full to less than its 3 flows' units.
    assert!(load[..30].iter().all(|&x| u128::from(rate_of(10)) - x < 3));
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A generated flow: its links, demand and priority.
type GeneratedFlow = (std::collections::BTreeSet<u32>, u32, u8);

/// A problem from generated capacities and flows.
fn owned((capacity, flows): (Vec<u32>, Vec<GeneratedFlow>)) -> Owned {
    Owned {
        capacity,
        paths: flows
            .iter()
            .map(|f| f.0.iter().copied().collect())
            .collect(),
        demand: flows.iter().map(|f| f.1).collect(),
        priority: flows.iter().map(|f| f.2).collect(),
    }
}

fn problem() -> impl Strategy<Value = Owned> {
    (1usize..10).prop_flat_map(|links| {
        // Mostly small figures, so links contend; some near u32::MAX, so the high words
        // of the 64-bit rates, borrows and the GPU's long division are exercised.
        let capacity = prop::collection::vec(
            prop_oneof![4 => 0u32..2000, 1 => u32::MAX - 5000..=u32::MAX],
            links,
        );
        let flow = (
            prop::collection::btree_set(0..links as u32, 0..links.min(5) + 1),
            prop_oneof![4 => 0u32..3000, 1 => u32::MAX / 8..=u32::MAX],
            0u8..3,
        );
        (capacity, prop::collection::vec(flow, 0..40)).prop_map(owned)
    })
}

proptest! {
    // 500 cases by default; PROPTEST_CASES=20000 for a deeper search.
    #![proptest_config(ProptestConfig { cases: cases(500), ..ProptestConfig::default() })]

    /// The round algorithm equals textbook progressive filling on random problems, and
    /// both are max-min fair and within 10^-6 kbit/s of the float64 fluid oracle.
    #[test]
    fn rounds_equal_reference_progressive_filling(o in problem()) {
        let reference = o.reference();
        prop_assert_eq!(o.cpu(), reference.clone());
        prop_assert_eq!(o.filling(), reference.clone());
        o.assert_feasible(&reference);
        o.assert_max_min(&reference);
        o.assert_near_fluid(&reference);
    }
}

/// The GPU equals the CPU (and the reference) on random problems, reusing one device and
/// its buffers across problems of changing size, as a run does.
#[test]
fn gpu_equals_cpu_and_reference_on_random_problems() {
    let Some(g) = gpu() else { return };
    let g = std::cell::RefCell::new(g);
    let version = std::cell::Cell::new(0u64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(150),
        ..ProptestConfig::default()
    });
    runner
        .run(&problem(), |o| {
            version.set(version.get() + 1);
            let reference = o.reference();
            prop_assert_eq!(o.gpu(&mut g.borrow_mut(), version.get()), reference.clone());
            prop_assert_eq!(o.cpu(), reference);
            Ok(())
        })
        .unwrap();
}

/// One [`Filling`] reused across random problems of changing size, as a run reuses its
/// backend, with the paths' version bumped for each (and, between them, the same problem
/// again under the same version, which reuses the per-link lists and class counts, then
/// once more with some flows in another class or with their demand dropped to 0 or
/// raised from it, as between ticks): always the reference.
#[test]
fn filling_reused_across_problems_equals_reference() {
    let filling = std::cell::RefCell::new(Filling::default());
    let version = std::cell::Cell::new(0u64);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(300),
        ..ProptestConfig::default()
    });
    runner
        .run(&problem(), |o| {
            version.set(version.get() + 1);
            let reference = o.reference();
            for _ in 0..2 {
                let rate = o.solve(&mut |p| {
                    let mut rate = vec![Rate::MAX; p.flows()];
                    filling
                        .borrow_mut()
                        .allocate(p, Some(version.get()), &mut rate);
                    rate
                });
                prop_assert_eq!(&rate, &reference);
            }
            let mut changed = o.clone();
            // Every ninth flow: few enough that the kept counts move, on the larger
            // problems; on the smaller ones the counts are made afresh.
            for f in (0..changed.demand.len()).step_by(9) {
                match f % 4 {
                    0 => changed.priority[f] = changed.priority[f].wrapping_add(1) % 3,
                    1 => changed.demand[f] = 0,
                    _ => changed.demand[f] = changed.demand[f].max(1).saturating_mul(2),
                }
            }
            let rate = changed.solve(&mut |p| {
                let mut rate = vec![Rate::MAX; p.flows()];
                filling
                    .borrow_mut()
                    .allocate(p, Some(version.get()), &mut rate);
                rate
            });
            prop_assert_eq!(rate, changed.reference());
            Ok(())
        })
        .unwrap();
}

/// Only flows over oversubscribed links go to the solver, over those links alone, and the
/// answer is the reference's bit for bit: on random problems where some links have room
/// (capacities up to 10^6 kbit/s) and some do not, with one backend and one part reused
/// across problems as a run reuses them, and each problem allocated twice (the second
/// time from the kept part). Both ways are taken: the part alone, and the whole problem
/// where most flows are limited.
#[test]
fn flows_on_roomy_links_get_their_demand_and_the_rest_the_reference() {
    let state = std::cell::RefCell::new((Oversubscribed::default(), Backend::Cpu(Box::default())));
    let version = std::cell::Cell::new(0u64);
    let ways = std::cell::Cell::new([0u32; 3]);
    let roomy = (1usize..12).prop_flat_map(|links| {
        let capacity = prop::collection::vec(
            prop_oneof![2 => 0u32..3000, 3 => 100_000u32..1_000_000],
            links,
        );
        let flow = (
            prop::collection::btree_set(0..links as u32, 1..links.min(4) + 1),
            prop_oneof![4 => 0u32..3000, 1 => 20_000u32..200_000],
            0u8..3,
        );
        (capacity, prop::collection::vec(flow, 0..40)).prop_map(owned)
    });
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(400),
        ..ProptestConfig::default()
    });
    runner
        .run(&prop_oneof![roomy, problem()], |o| {
            version.set(version.get() + 1);
            let reference = o.reference();
            let mut offered = vec![0u64; o.capacity.len()];
            for (path, &d) in o.paths.iter().zip(&o.demand) {
                for &l in path {
                    offered[l as usize] += u64::from(d);
                }
            }
            let limited = o
                .paths
                .iter()
                .filter(|path| {
                    path.iter()
                        .any(|&l| offered[l as usize] > u64::from(o.capacity[l as usize]))
                })
                .count();
            let mut w = ways.get();
            w[if limited == 0 {
                0
            } else if limited > o.paths.len() / 4 * 3 {
                2
            } else {
                1
            }] += 1;
            ways.set(w);
            for _ in 0..2 {
                let mut all_met = false;
                let rate = o.solve(&mut |p| {
                    let mut rate = vec![Rate::MAX; 3];
                    let (sub, backend) = &mut *state.borrow_mut();
                    all_met =
                        allocate_with_room(p, &offered, version.get(), sub, backend, &mut rate)
                            .expect("CPU allocation");
                    rate
                });
                prop_assert_eq!(&rate, &reference);
                prop_assert_eq!(
                    all_met,
                    limited == 0,
                    "every demand met iff no link is over"
                );
            }
            Ok(())
        })
        .unwrap();
    let w = ways.get();
    assert!(
        w.iter().all(|&n| n > 0),
        "all three ways taken (no solver, the part, the whole): {w:?}"
    );
}

/// Enough flows in one class (over 2 × 65,536) that the filling splits its per-link
/// counts, its sort by demand and its first (large) freezes among the threads: the same
/// answer at 1 and 2 threads as the rounds give.
#[test]
fn filling_splits_its_counts_without_changing_the_answer() {
    let rng = SimRng::new(12);
    let s = Stream::named("test.filling");
    let (links, flows) = (8_000u32, 140_000u32);
    let capacity: Vec<u32> = (0..links)
        .map(|l| 10_000 + rng.below(s, l, 0, 0, 1_000_000) as u32)
        .collect();
    let (offsets, path_links) = super::maxmin::random_paths(&rng, s, flows, links, 4);
    let (mut demand, mut priority) = (Vec::new(), Vec::new());
    for f in 0..flows {
        // Half the flows ask for less than any link's first share, so the first step
        // freezes them all at their demand: a batch large enough to split.
        let most = if f % 2 == 0 { 100 } else { 40_000 };
        demand.push(rng.below(s, f, 3, 0, most) as u32);
        priority.push(u8::from(f % 50 != 0));
    }
    let p = AllocationProblem {
        capacity: &capacity,
        path_offsets: &offsets,
        path_links: &path_links,
        demand: &demand,
        priority: &priority,
    };
    let fill = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let mut rate = vec![0; p.flows()];
                let mut filling = Filling::default();
                filling.allocate(&p, Some(1), &mut rate);
                (rate, filling.last_split_freezes)
            })
    };
    let (one, unsplit) = fill(1);
    let (two, split) = fill(2);
    assert_eq!(two, one);
    assert_eq!(unsplit, 0, "one thread never splits a freeze");
    assert!(split > 0, "two threads split the large freezes");
    let mut rounds = vec![0; p.flows()];
    Rounds::default().allocate(&p, &mut rounds);
    assert_eq!(rounds, one);
    assert!(
        deviation_from_fluid(&one, &fluid_allocation(&p)) < 1e-6,
        "within the bound of exact max-min"
    );
}

/// A large problem: 60,000 flows on 4-6 hop paths over 3,000 links. CPU at 1 and 2
/// threads and the GPU agree exactly.
#[test]
fn large_problems_agree_across_threads_and_backends() {
    let rng = SimRng::new(11);
    let s = Stream::named("test.large");
    let links = 3000u32;
    let capacity: Vec<u32> = (0..links)
        .map(|l| 1000 + rng.below(s, l, 0, 0, 100_000) as u32)
        .collect();
    let mut o = Owned {
        capacity,
        paths: Vec::new(),
        demand: Vec::new(),
        priority: Vec::new(),
    };
    for f in 0..60_000u32 {
        let hops = 4 + rng.below(s, f, 1, 0, 3) as u32;
        let mut p: Vec<u32> = (0..hops)
            .map(|h| rng.below(s, f, 2, h, u64::from(links)) as u32)
            .collect();
        p.sort_unstable();
        p.dedup();
        o.paths.push(p);
        o.demand.push(rng.below(s, f, 3, 0, 5000) as u32);
        o.priority.push((f % 7 == 0) as u8 ^ 1);
    }
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| o.cpu())
    };
    let one = run(1);
    assert_eq!(run(2), one);
    assert_eq!(o.filling(), one, "filling equals the rounds");
    o.assert_feasible(&one);
    o.assert_max_min(&one);
    o.assert_near_fluid(&one);
    if let Some(mut g) = gpu() {
        assert_eq!(o.gpu(&mut g, 1), one);
    }
}

#[test]
fn queue_delay_grows_with_load_and_is_capped() {
    let cap = 10_000; // 10 Mbit/s: a 1500-byte packet takes 1.2 ms
    assert_eq!(queue_delay_us(0, cap, 50_000), 0);
    assert_eq!(queue_delay_us(5_000, cap, 50_000), 1_200); // ρ = 0.5: T
    assert_eq!(queue_delay_us(9_000, cap, 50_000), 10_800); // ρ = 0.9: 9T
    assert_eq!(queue_delay_us(9_999, cap, 50_000), 50_000);
    assert_eq!(queue_delay_us(20_000, cap, 50_000), 50_000);
    assert_eq!(loss(20_000, cap), 0.5);
    assert_eq!(loss(5_000, cap), 0.0);
}

const XR: &str = r#"
[general]
name = "xr"
seed = 5
tick = "1 s"
stop = "10 s"
[[zone]]
name = "lab"
[[zone]]
name = "dc"
[[link]]
name = "wifi"
capacity = "100 Mbit/s"
latency = "2 ms"
[[link]]
name = "uplink"
capacity = "UPLINK"
latency = "3 ms"
[[group]]
name = "headsets"
kind = "xr_headset"
count = 20
zone = "lab"
[[group]]
name = "aps"
kind = "gateway"
count = 2
zone = "lab"
[[group]]
name = "render"
kind = "gpu_node"
count = 2
zone = "dc"
[[topology]]
generator = "access_tree"
children = "headsets"
parents = "aps"
link = "wifi"
[[topology]]
generator = "edge_aggregation"
children = "aps"
parents = "render"
uplinks = 2
link = "uplink"
[[flow]]
name = "streams"
class = "xr_stream"
clients = "headsets"
servers = "render"
rate = "20 Mbit/s"
diurnal = false
[traffic]
xr_latency_budget = "20 ms"
"#;

fn xr_universe(uplink: &str) -> Universe {
    let s = Scenario::from_toml_str(&XR.replace("UPLINK", uplink), "xr.toml").unwrap();
    Universe::build(s, &[]).unwrap()
}

use crate::metrics::RunRecord;
use crate::scenario::Scenario;

#[test]
fn xr_quality_falls_when_the_uplinks_are_too_thin() {
    // 20 headsets × 20 Mbit/s = 400 Mbit/s, over 2 APs × 2 uplinks each.
    let mut u = xr_universe("1 Gbit/s");
    u.run(|_| {});
    let core = u.traffic().unwrap();
    assert_eq!(core.flows.len(), 20);
    // ECMP: each AP's flows are split over its two equal-latency uplinks.
    let used: std::collections::BTreeSet<u32> = core
        .flows
        .path_links
        .iter()
        .map(|c| c / 2)
        .filter(|&l| l >= 20)
        .collect();
    assert_eq!(used.len(), 4, "all four uplinks carry traffic");
    let ample = u.finish();
    assert_eq!(ample.xr_quality_check(), 1.0);
    let mut u = xr_universe("50 Mbit/s");
    u.run(|_| {});
    let thin = u.finish();
    assert!(
        thin.xr_quality_check() < 0.5,
        "{:?}",
        thin.summary.xr_quality
    );
    assert!(thin.summary.gauges["overloaded_channels"].max > 0);
    assert_eq!(
        thin.summary.xr_quality_by_zone.keys().collect::<Vec<_>>(),
        ["lab"]
    );
}

impl RunRecord {
    fn xr_quality_check(&self) -> f64 {
        self.summary.xr_quality.expect("XR traffic present")
    }
}

#[test]
fn quarantining_a_router_reroutes_its_flows() {
    let mut u = xr_universe("1 Gbit/s");
    u.step();
    // Quarantine render node 0 (node 22): its clients move to render node 1 (node 23).
    {
        let world = u.world_mut();
        let mut q = world.query::<(&crate::world::NodeId, &mut Security)>();
        for (id, mut sec) in q.iter_mut(world) {
            if id.0 == 22 {
                sec.quarantined = true;
            }
        }
    }
    u.step();
    let core = u.traffic().unwrap();
    assert!(
        core.flows.src.iter().all(|&s| s == 23),
        "{:?}",
        core.flows.src
    );
    assert!(core.state.rate.iter().all(|&r| r == 20_000));
}

#[test]
fn attack_flows_compete_and_degrade_xr() {
    let mut u = xr_universe("200 Mbit/s");
    u.step();
    assert_eq!(
        u.traffic()
            .unwrap()
            .state
            .rate
            .iter()
            .filter(|&&r| r == 20_000)
            .count(),
        20
    );
    // A flood from the headsets to the render nodes' side saturates the uplinks upstream;
    // aim it downstream instead: from render node 1 to every headset.
    let topology = u.world().resource::<Topology>().clone();
    let flood: Vec<NewFlow> = (0..20)
        .map(|h| NewFlow {
            src: 23,
            dst: h,
            class: FlowClass::Ddos,
            demand_kbps: 500_000,
            priority: 1,
            service: None,
        })
        .collect();
    let ids = u.traffic_mut().unwrap().add_flows(&topology, &flood);
    assert_eq!(ids.len(), 20);
    u.step();
    let core = u.traffic().unwrap();
    let xr_ok = (0..20).filter(|&f| core.state.rate[f] == 20_000).count();
    assert!(xr_ok < 20, "DDoS takes bandwidth from XR streams");
    assert!(core.state.rate[20..].iter().all(|&r| r > 0));
}

#[test]
fn cpu_and_gpu_runs_are_bit_identical() {
    let Some(_) = gpu() else { return };
    let scenario = bundled::load(None).unwrap().with_ticks(60);
    let run = |b| {
        let mut u = Universe::build_with(scenario.clone(), b, &[]).unwrap();
        u.run(|_| {});
        assert!(u.fault().is_none());
        let r = u.finish();
        (r.series_csv(), r.summary_json())
    };
    let cpu = run(BackendChoice::Cpu);
    assert!(cpu.0.contains("xr_quality_ppm"));
    assert_eq!(run(BackendChoice::Gpu), cpu);
}

#[test]
fn a_measured_link_load_becomes_background_traffic_on_that_channel() {
    let mut u = xr_universe("1 Gbit/s");
    u.step();
    // The busiest channel the XR flows use, and its load as the model makes it.
    let (channel, modelled) = {
        let core = u.traffic().unwrap();
        let (d, &offered) = core
            .state
            .offered
            .iter()
            .enumerate()
            .max_by_key(|(_, o)| **o)
            .unwrap();
        (core.used_channels()[d], offered)
    };
    assert!(modelled > 0);
    let topology = u.world().resource::<crate::topology::Topology>().clone();
    let (from, to) = routing::ends(&topology, channel);
    assert_eq!(routing::channel(&topology, channel / 2, from), channel);
    let offered_on = |u: &Universe| {
        let core = u.traffic().unwrap();
        let d = core.used_channels().binary_search(&channel).unwrap();
        (
            core.state.offered[d],
            core.state.load[d],
            core.capacity[channel as usize],
        )
    };
    // The sensor reads 5 Gbit/s on it: the model's own traffic plus background for the rest.
    let measured = 5_000_000;
    let background = u.set_measured_load(from, to, measured).unwrap();
    assert_eq!(u64::from(background), measured - modelled);
    u.step();
    let (offered, load, capacity) = offered_on(&u);
    assert!(offered >= measured * 9 / 10, "{offered}");
    assert_eq!(load, u64::from(capacity), "the channel is saturated");
    // A later reading that the model explains by itself: the background stops.
    assert_eq!(u.set_measured_load(from, to, 0).unwrap(), 0);
    u.step();
    assert!(offered_on(&u).0 < measured / 2);
    // The background flow is one flow, reused: the core has the 20 XR flows and it.
    assert_eq!(u.traffic().unwrap().flows.len(), 21);
    // So it is in a copy restored from a checkpoint (which holds the flows, not the index).
    let mut copy = u.fork(&[]).unwrap();
    copy.set_measured_load(from, to, measured).unwrap();
    assert_eq!(copy.traffic().unwrap().flows.len(), 21);
    // Nodes without a link between them are refused.
    let far = (0..topology.node_count() as u32)
        .find(|&n| n != from && !topology.neighbours(from).contains(&n))
        .unwrap();
    let err = u.set_measured_load(from, far, 1).unwrap_err();
    assert!(err.contains("share no link"), "{err}");
}

/// A distance field cut short for a few starts gives each of them the walk the full field
/// gives (the same nodes, links and tie-breaks), with nodes down or not; and it is cut
/// short: near starts leave most of the network unvisited.
#[test]
fn a_field_for_some_starts_walks_as_the_full_field() {
    use crate::rng::mix64;
    use routing::Router;
    for name in ["metaverse-campus", "metaverse-under-siege"] {
        let u = Universe::build(bundled::load(Some(name)).unwrap(), &[]).unwrap();
        let topology = u.world().resource::<crate::topology::Topology>();
        let core = u.traffic().unwrap();
        let n = topology.node_count() as u32;
        let mut down = vec![false; n as usize];
        let mut shorter = 0;
        for trial in 0..60u64 {
            let r = |k: u64| (mix64(trial * 7919 + k) % u64::from(n)) as u32;
            down.fill(false);
            if trial % 2 == 1 {
                for k in 0..u64::from(n / 50) {
                    down[r(100 + k) as usize] = true;
                }
            }
            let router = Router {
                topology,
                latency_us: &core.latency_us,
                down: &down,
            };
            let dst = r(1);
            // A neighbour of the destination, as a measured link's flow has, and on
            // every other trial starts anywhere.
            let mut starts = vec![topology.neighbours(dst)[0]];
            if trial % 4 >= 2 {
                starts.extend((2..3 + trial % 5).map(r));
            }
            let full = router.distances(&[dst]);
            let cut = router.distances_for(&[dst], &starts);
            let unreached = |d: &[u64]| d.iter().filter(|&&x| x == u64::MAX).count();
            shorter += usize::from(unreached(&cut) > unreached(&full));
            for &s in &starts {
                let walk = |d: &[u64]| {
                    let (mut nodes, mut links) = (Vec::new(), Vec::new());
                    let end = router.walk(d, s, trial ^ u64::from(s), &mut nodes, &mut links);
                    (end, nodes, links)
                };
                assert_eq!(walk(&full), walk(&cut), "{name}, trial {trial}, start {s}");
            }
        }
        assert!(shorter >= 20, "{name}: {shorter} of 60 fields cut short");
    }
}

/// The radix-heap Dijkstra gives the distance field a textbook binary-heap Dijkstra gives,
/// and walks on tabulated next hops take the steps the neighbour-scanning walk takes, ties
/// included: on the bundled topologies with random nodes down and random link latencies
/// (from 1 µs, as the traffic core makes them; equal ones that make ties; up to 2^40 µs so
/// that most buckets of the heap are used), from one source and from many.
#[test]
fn radix_heap_fields_and_tabulated_walks_equal_the_plain_ones() {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use crate::rng::mix64;
    use routing::Router;
    let reference = |router: &Router, sources: &[u32]| {
        let topology = router.topology;
        let mut dist = vec![u64::MAX; topology.node_count()];
        let mut heap = BinaryHeap::new();
        for &s in sources {
            if !router.down[s as usize] {
                dist[s as usize] = 0;
                heap.push(Reverse((0u64, s)));
            }
        }
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            for (&u, &l) in topology
                .neighbours(v)
                .iter()
                .zip(topology.neighbour_links(v))
            {
                let nd = d + router.latency_us[l as usize];
                if !router.down[u as usize] && nd < dist[u as usize] {
                    dist[u as usize] = nd;
                    heap.push(Reverse((nd, u)));
                }
            }
        }
        dist
    };
    let mut walked = 0;
    for name in [
        "metaverse-campus",
        "metaverse-under-siege",
        "enterprise-office",
    ] {
        let u = Universe::build(bundled::load(Some(name)).unwrap(), &[]).unwrap();
        let topology = u.world().resource::<crate::topology::Topology>();
        let n = topology.node_count() as u32;
        for trial in 0..24u64 {
            let r = |k: u64| mix64(trial * 104_729 + k);
            let latency_us: Vec<u64> = (0..topology.link_count() as u64)
                .map(|l| match trial % 4 {
                    0 => u.traffic().unwrap().latency_us[l as usize],
                    1 => 1 + r(l) % 3,
                    2 => (1 + r(l) % 4) * 1000,
                    _ => (r(l) >> (24 + r(l ^ 1) % 40)).max(1),
                })
                .collect();
            let down: Vec<bool> = (0..n)
                .map(|v| trial % 3 == 1 && r(u64::from(v) + 7) % 20 == 0)
                .collect();
            let router = Router {
                topology,
                latency_us: &latency_us,
                down: &down,
            };
            let sources: Vec<u32> = (0..1 + trial % 6)
                .map(|k| (r(k + 1_000_000) % u64::from(n)) as u32)
                .collect();
            let dist = router.distances(&sources);
            assert!(
                dist == reference(&router, &sources),
                "{name}, trial {trial}: distance field"
            );
            let next = router.next_hops(&dist);
            for start in 0..n {
                let key = r(u64::from(start) + 2_000_000);
                let (mut a, mut b) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
                let scanned = router.walk(&dist, start, key, &mut a.0, &mut a.1);
                let tabulated = router.walk_next_hops(&next, &dist, start, key, &mut b.0, &mut b.1);
                assert_eq!(
                    (scanned, a),
                    (tabulated, b),
                    "{name}, trial {trial}, start {start}"
                );
                walked += usize::from(scanned.is_some() && dist[start as usize] > 0);
            }
        }
    }
    assert!(walked > 10_000, "only {walked} walks reached a source");
}

/// smart city at 1/100 scale (10,115 nodes, 2,242 flows), 40 ticks in which random nodes
/// (half of them gateways, edge and cloud servers, GPU nodes: the routers and servers)
/// are quarantined and released, the servers, paths, routed flags and transit counts
/// after each tick equal a fresh `route_all`'s on a copy, and the updates did happen.
#[test]
fn incremental_reroutes_equal_routing_afresh() {
    let text: String = bundled::get("smart-city-1m")
        .unwrap()
        .text
        .split("[[campaign]]")
        .next()
        .unwrap()
        .lines()
        .map(|line| match line.strip_prefix("count = ") {
            Some(n) => format!("count = {}\n", (n.parse::<u32>().unwrap() / 100).max(4)),
            None => format!("{line}\n"),
        })
        .collect();
    let scenario = Scenario::from_toml_str(&text, "city-10k.toml").unwrap();
    let mut u = Universe::build(scenario.clone(), &[]).unwrap();
    let (nodes, terminals) = (scenario.node_count, scenario.terminal_count);
    let rng = SimRng::new(3);
    let s = Stream::named("test.reroute");
    let mut fresh_routes = 0;
    for tick in 0..40u32 {
        {
            let world = u.world_mut();
            let mut q = world.query::<(&crate::world::NodeId, &mut Security)>();
            let toggle: Vec<u32> = (0..24u32)
                .map(|k| {
                    if k % 2 == 0 {
                        rng.below(s, k, tick, 0, u64::from(terminals)) as u32
                    } else {
                        terminals + rng.below(s, k, tick, 1, u64::from(nodes - terminals)) as u32
                    }
                })
                .collect();
            for (id, mut sec) in q.iter_mut(world) {
                if toggle.contains(&id.0) {
                    sec.quarantined = !sec.quarantined;
                }
            }
        }
        let before = u.traffic().unwrap().incremental_reroutes;
        u.step();
        // Route afresh in place and compare: the fields too, so the next ticks' updates
        // start from what they would have kept.
        u.world_mut()
            .resource_scope(|world, mut core: bevy_ecs::world::Mut<TrafficCore>| {
                if core.incremental_reroutes == before {
                    fresh_routes += 1;
                }
                let topology = world.resource::<crate::topology::Topology>();
                let kept = (
                    core.flows.clone(),
                    core.transit.clone(),
                    core.fields.clone().expect("fields kept").dist,
                );
                core.route_all(&scenario, topology);
                let (a, b) = (&kept.0, &core.flows);
                assert_eq!(a.src, b.src, "servers (downstream) at tick {tick}");
                assert_eq!(a.dst, b.dst, "servers (upstream) at tick {tick}");
                assert_eq!(a.routed, b.routed, "routed flags at tick {tick}");
                assert_eq!(a.path_offsets, b.path_offsets, "paths at tick {tick}");
                assert_eq!(a.path_links, b.path_links, "paths at tick {tick}");
                assert_eq!(kept.1, core.transit, "transit counts at tick {tick}");
                let fresh = &core.fields.as_ref().expect("fields kept").dist;
                assert!(kept.2 == *fresh, "distance fields at tick {tick}");
            });
    }
    let core = u.traffic().unwrap();
    assert!(
        core.flows.routed.iter().any(|&r| !r),
        "some flows lost their route"
    );
    assert!(
        core.incremental_reroutes >= 30,
        "{} incremental reroutes, {fresh_routes} ticks without one",
        core.incremental_reroutes
    );
}
