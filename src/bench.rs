//! `paraverse bench`: node-ticks per second and bytes per node, as ratios measured in one
//! process.
//!
//! Absolute speeds on shared machines are noise; ratios taken back to back are not. Next
//! to the raw figures the bench prints the speed-up over one thread and the ratio to a
//! baseline: a bare loop that draws each node's benign telemetry into a flat array (one
//! counter-based draw and one write per node-tick, the least any stage does).

use std::time::Instant;

use anyhow::{Context, Result};
use paraverse_sim::bundled;
use paraverse_sim::prelude::*;
use paraverse_sim::rng::Stream;
use paraverse_sim::traffic::TrafficCore;
use paraverse_sim::world::{benign_draws, benign_telemetry};
use serde::Serialize;

use crate::alloc::live_bytes;
use crate::args::BenchArgs;
use crate::world::plugins;

#[derive(Debug, Serialize)]
struct ThreadFigure {
    threads: usize,
    build_s: f64,
    step_s: f64,
    node_ticks_per_s: f64,
    speedup_vs_1_thread: f64,
    ratio_to_baseline: f64,
    /// This run's speed over the memory floor at its thread count.
    ratio_to_floor: f64,
}

/// The memory-bandwidth floor at one thread count: a streaming triad's bandwidth over the
/// bytes of per-node state a tick streams at least.
#[derive(Debug, Serialize)]
struct Floor {
    threads: usize,
    triad_gb_per_s: f64,
    node_ticks_per_s: f64,
}

#[derive(Debug, Serialize)]
struct Figures {
    scenario: String,
    nodes: u32,
    terminals: u32,
    ticks: u32,
    heap_bytes: usize,
    traffic_bytes: usize,
    flows: usize,
    bytes_per_node: f64,
    bytes_per_terminal: f64,
    world_bytes_per_terminal: f64,
    /// Heap bytes of each part of the built universe, largest first.
    heap_by_part: Vec<(String, usize)>,
    baseline_node_ticks_per_s: f64,
    /// Bytes of per-node state one tick reads or writes at least ([`streamed_per_node_tick`]).
    streamed_bytes_per_node_tick: usize,
    floors: Vec<Floor>,
    runs: Vec<ThreadFigure>,
    compromised_after_run: u64,
}

/// The heap bytes each part of a built universe holds, largest first: every resource
/// (removed one at a time, the bytes that freed), then what dropping the universe frees:
/// the node entities' tables, the systems' own buffers, the schedule, the scenario.
fn heap_by_part(mut universe: Universe) -> Vec<(String, usize)> {
    let world = universe.world_mut();
    let ids: Vec<_> = world
        .iter_resources()
        .map(|(id, info, _)| (id, info.name().to_string()))
        .collect();
    let mut parts = Vec::with_capacity(ids.len() + 1);
    for (id, name) in ids {
        let before = live_bytes();
        world.remove_resource_by_id(id);
        parts.push((name, before.saturating_sub(live_bytes())));
    }
    let before = live_bytes();
    drop(universe);
    parts.push((
        "nodes (ECS tables), systems and the rest".to_owned(),
        before.saturating_sub(live_bytes()),
    ));
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    parts
}

fn baseline(scenario: &Scenario, ticks: u32) -> f64 {
    let rng = SimRng::new(scenario.seed);
    let means: Vec<u64> = scenario
        .groups
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.connections.raw(), g.count as usize))
        .collect();
    let mut out = vec![Telemetry::default(); means.len()];
    let start = Instant::now();
    for tick in 1..=ticks {
        let draws = benign_draws(&rng, tick);
        for (node, (o, &m)) in out.iter_mut().zip(&means).enumerate() {
            let node = node as u32;
            *o = benign_telemetry(&rng, draws.draw(node), m, 300, node, tick);
        }
        std::hint::black_box(&out);
    }
    f64::from(scenario.node_count) * f64::from(ticks) / start.elapsed().as_secs_f64()
}

/// Bytes of per-node state a tick of a scenario like the city streams at least, one term
/// per pass over all nodes: demand reads each node's group and writes its telemetry; the
/// traffic core (availability) and the accounting (with the group) each read security;
/// the traffic core reads and writes its down flag. A lower bound: the passes over some
/// nodes (detection reads only its zones' nodes, a worm its kept list), random accesses
/// (worm targets, flows) and the passes over flows and channels come on top. (Until
/// 2026-12-04 it also counted a detection pass and a worm pass over every node, 71 bytes
/// where this is 37: those passes no longer read every node.)
fn streamed_per_node_tick() -> usize {
    use std::mem::size_of;
    let group = size_of::<InGroup>();
    let (telemetry, security) = (size_of::<Telemetry>(), size_of::<Security>());
    (group + telemetry) + (security + 1) + (security + group)
}

/// Streaming triad (`a = b + 3c`, McCalpin's STREAM kernel) over three arrays of 2^23
/// u64 (192 MiB, far beyond the caches) at `threads` threads: the best of five passes,
/// in GB/s counting 24 bytes per element.
fn triad_gb_per_s(threads: usize) -> Result<f64> {
    const N: usize = 1 << 23;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start worker threads")?;
    Ok(pool.install(|| {
        use rayon::prelude::*;
        let b: Vec<u64> = (0..N as u64).into_par_iter().collect();
        let c: Vec<u64> = (0..N as u64).into_par_iter().map(|x| x ^ 7).collect();
        let mut a = vec![0u64; N];
        let chunk = N.div_ceil(threads.max(1));
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            a.par_chunks_mut(chunk)
                .zip(b.par_chunks(chunk))
                .zip(c.par_chunks(chunk))
                .for_each(|((a, b), c)| {
                    for ((x, &y), &z) in a.iter_mut().zip(b).zip(c) {
                        *x = y.wrapping_add(z.wrapping_mul(3));
                    }
                });
            best = best.min(start.elapsed().as_secs_f64());
            std::hint::black_box(&a);
        }
        (3 * 8 * N) as f64 / best / 1e9
    }))
}

fn warn_if_debug(command: &str) {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; bench figures mean little. Use `cargo run --release -- {command}`."
        );
    }
}

/// The thread counts to compare: as asked, or 1 and all cores.
fn thread_counts(args: &BenchArgs) -> Vec<usize> {
    let mut threads: Vec<usize> = args
        .threads
        .iter()
        .map(|&t| usize::from(t.max(1)))
        .collect();
    if threads.is_empty() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        threads = vec![1, cores];
        threads.dedup();
    }
    threads
}

pub fn bench(args: &BenchArgs) -> Result<()> {
    warn_if_debug("bench");
    let scenario = bundled::load(Some(&args.scenario))?.with_ticks(args.ticks.max(1));
    let threads = thread_counts(args);
    eprintln!(
        "bench: {} ({} nodes, {} terminals), {} ticks at {:?} threads",
        scenario.name, scenario.node_count, scenario.terminal_count, scenario.ticks, threads
    );

    let base = baseline(&scenario, scenario.ticks.min(10));
    let streamed = streamed_per_node_tick();
    let mut floors = Vec::new();
    for &t in &threads {
        let gb = triad_gb_per_s(t)?;
        floors.push(Floor {
            threads: t,
            triad_gb_per_s: gb,
            node_ticks_per_s: gb * 1e9 / streamed as f64,
        });
    }
    // Memory: the built universe, and how much of it each part is.
    let (heap_total, parts, flows) = {
        let before = live_bytes();
        let universe = Universe::build(scenario.clone(), &plugins())?;
        let total = live_bytes().saturating_sub(before);
        let flows = universe.traffic().map_or(0, |t| t.flows.len());
        (total, heap_by_part(universe), flows)
    };
    let traffic_bytes = parts
        .iter()
        .find(|(name, _)| name == std::any::type_name::<TrafficCore>())
        .map_or(0, |p| p.1);
    let mut runs = Vec::new();
    let mut compromised = 0;
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .context("cannot start worker threads")?;
        let (figure, record) = pool.install(|| -> Result<_> {
            let start = Instant::now();
            let mut universe = Universe::build(scenario.clone(), &plugins())?;
            let build_s = start.elapsed().as_secs_f64();
            let start = Instant::now();
            universe.run(|_| {});
            let step_s = start.elapsed().as_secs_f64();
            let rate = f64::from(scenario.node_count) * f64::from(scenario.ticks) / step_s;
            Ok((
                ThreadFigure {
                    threads: t,
                    build_s,
                    step_s,
                    node_ticks_per_s: rate,
                    speedup_vs_1_thread: 0.0,
                    ratio_to_baseline: rate / base,
                    ratio_to_floor: floors
                        .iter()
                        .find(|f| f.threads == t)
                        .map_or(f64::NAN, |f| rate / f.node_ticks_per_s),
                },
                universe.finish(),
            ))
        })?;
        compromised = record.summary.compromised_final;
        runs.push(figure);
    }
    let one = runs
        .iter()
        .find(|r| r.threads == 1)
        .map(|r| r.node_ticks_per_s);
    for r in &mut runs {
        r.speedup_vs_1_thread = one.map_or(f64::NAN, |o| r.node_ticks_per_s / o);
    }
    let figures = Figures {
        scenario: scenario.name.clone(),
        nodes: scenario.node_count,
        terminals: scenario.terminal_count,
        ticks: scenario.ticks,
        heap_bytes: heap_total,
        traffic_bytes,
        flows,
        bytes_per_node: heap_total as f64 / f64::from(scenario.node_count),
        bytes_per_terminal: heap_total as f64 / f64::from(scenario.terminal_count.max(1)),
        world_bytes_per_terminal: heap_total.saturating_sub(traffic_bytes) as f64
            / f64::from(scenario.terminal_count.max(1)),
        heap_by_part: parts,
        baseline_node_ticks_per_s: base,
        streamed_bytes_per_node_tick: streamed,
        floors,
        runs,
        compromised_after_run: compromised,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "universe: {} nodes ({} terminals), {} flows; heap {:.1} MiB = {:.0} bytes/terminal",
        figures.nodes,
        figures.terminals,
        figures.flows,
        figures.heap_bytes as f64 / (1 << 20) as f64,
        figures.bytes_per_terminal
    );
    println!(
        "  of which the world (ECS nodes + topology) {:.0} bytes/terminal, the traffic core {:.1} MiB",
        figures.world_bytes_per_terminal,
        figures.traffic_bytes as f64 / (1 << 20) as f64
    );
    let terminals = f64::from(figures.terminals.max(1));
    let shown: Vec<String> = figures
        .heap_by_part
        .iter()
        .take(6)
        .map(|(name, bytes)| {
            let short = name.rsplit("::").next().unwrap_or(name);
            format!("{short} {:.0}", *bytes as f64 / terminals)
        })
        .collect();
    println!("  bytes/terminal by part: {}", shown.join(", "));
    println!(
        "baseline (bare telemetry loop, 1 thread): {:.1} M node-ticks/s",
        base / 1e6
    );
    for f in &figures.floors {
        println!(
            "memory floor at {} thread(s): triad {:.1} GB/s / {} bytes streamed per node-tick = {:.0} M node-ticks/s",
            f.threads,
            f.triad_gb_per_s,
            figures.streamed_bytes_per_node_tick,
            f.node_ticks_per_s / 1e6
        );
    }
    println!(
        "{:>7} {:>9} {:>9} {:>18} {:>10} {:>12} {:>9}",
        "threads", "build s", "step s", "M node-ticks/s", "speed-up", "x baseline", "x floor"
    );
    for r in &figures.runs {
        // Without a 1-thread run there is nothing to compare with: "-", not NaN.
        let speedup = if r.speedup_vs_1_thread.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.2}", r.speedup_vs_1_thread)
        };
        println!(
            "{:>7} {:>9.2} {:>9.2} {:>18.1} {:>10} {:>12.2} {:>9.2}",
            r.threads,
            r.build_s,
            r.step_s,
            r.node_ticks_per_s / 1e6,
            speedup,
            r.ratio_to_baseline,
            r.ratio_to_floor
        );
    }
    Ok(())
}

/// A synthetic allocation problem: `flows` flows on 4-6 hop paths over `flows / 20`
/// links (about 100 flows a link, so links contend), seeded.
struct SyntheticProblem {
    capacity: Vec<u32>,
    offsets: Vec<u32>,
    links: Vec<u32>,
    demand: Vec<u32>,
    priority: Vec<u8>,
}

impl SyntheticProblem {
    fn new(flows: u32) -> Self {
        let rng = SimRng::new(2026);
        let s = Stream::named("bench.traffic");
        let link_count = (flows / 20).max(8);
        let capacity = (0..link_count)
            .map(|l| 1_000_000 + rng.below(s, l, 0, 0, 9_000_000) as u32)
            .collect();
        let (mut offsets, mut links) = (vec![0u32], Vec::new());
        let (mut demand, mut priority) = (Vec::new(), Vec::new());
        for f in 0..flows {
            let hops = 4 + rng.below(s, f, 1, 0, 3) as u32;
            let start = links.len();
            for h in 0..hops {
                let l = rng.below(s, f, 2, h, u64::from(link_count)) as u32;
                if !links[start..].contains(&l) {
                    links.push(l);
                }
            }
            offsets.push(links.len() as u32);
            demand.push(1_000 + rng.below(s, f, 3, 0, 49_000) as u32);
            priority.push(u8::from(f % 10 != 0));
        }
        Self {
            capacity,
            offsets,
            links,
            demand,
            priority,
        }
    }

    fn problem(&self) -> paraverse_sim::traffic::maxmin::AllocationProblem<'_> {
        paraverse_sim::traffic::maxmin::AllocationProblem {
            capacity: &self.capacity,
            path_offsets: &self.offsets,
            path_links: &self.links,
            demand: &self.demand,
            priority: &self.priority,
        }
    }
}

#[derive(Debug, Serialize)]
struct AllocationFigure {
    flows: u32,
    backend: String,
    /// Best of the timed allocations, after a first one with the same paths.
    ms_per_allocation: f64,
    /// The first allocation: the CPU builds its per-link flow lists, the GPU uploads.
    ms_first_allocation: f64,
    /// Filling steps (CPU), rounds (CPU rounds) or rounds dispatched (GPU).
    steps: u32,
    identical_to_cpu_1_thread: bool,
    /// Largest difference from exact max-min (the float64 fluid oracle), kbit/s.
    max_deviation_kbps: f64,
    /// CPU filling: the last timed allocation's milliseconds counting flows per link,
    /// sorting them by demand, listing their paths' ranges in that order, and in the
    /// filling's (sequential) steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    phases_ms: Option<[f64; 4]>,
    /// CPU filling: the first allocation's milliseconds counting flows per link (every
    /// path read; later calls with the same paths move only changed flows' counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    first_counts_ms: Option<f64>,
}

/// Best of `reps` timings of `f`, in milliseconds.
fn best_ms(reps: u32, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Writes `p` as `problem-<flows>.txt` and `rate` (with the time it took, `ms`) as
/// `rates-<flows>.txt` under `dir`: the text `benches/simgrid_maxmin.py` reads.
fn dump_problem(
    dir: &std::path::Path,
    p: &paraverse_sim::traffic::maxmin::AllocationProblem<'_>,
    rate: &[paraverse_sim::traffic::maxmin::Rate],
    ms: f64,
) -> Result<()> {
    use paraverse_sim::traffic::maxmin::kbps_f64;
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let flows = p.flows();
    let mut text = String::new();
    writeln!(
        text,
        "# paraverse bench --traffic problem: capacities in kbit/s, then per flow: class \
         (0 served first), demand in kbit/s, links"
    )?;
    writeln!(text, "links {}", p.capacity.len())?;
    for c in p.capacity {
        writeln!(text, "{c}")?;
    }
    writeln!(text, "flows {flows}")?;
    for f in 0..flows {
        write!(text, "{} {}", p.priority[f], p.demand[f])?;
        for l in p.path(f) {
            write!(text, " {l}")?;
        }
        text.push('\n');
    }
    let path = dir.join(format!("problem-{flows}.txt"));
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    let mut text = format!(
        "# paraverse's rates in kbit/s, one per flow (exact to 2^-32 kbit/s)\n\
         # ms_per_allocation {ms}\n"
    );
    for &r in rate {
        writeln!(text, "{:.10}", kbps_f64(r))?;
    }
    let path = dir.join(format!("rates-{flows}.txt"));
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "bench: wrote {flows} flows' problem and rates to {}",
        dir.display()
    );
    Ok(())
}

pub fn bench_traffic(args: &BenchArgs) -> Result<()> {
    use paraverse_sim::traffic::gpu::GpuAllocator;
    use paraverse_sim::traffic::maxmin::{Filling, Rounds, deviation_from_fluid, fluid_allocation};
    warn_if_debug("bench --traffic");
    let threads = thread_counts(args);
    let mut gpu = match args.backend {
        BackendChoice::Cpu => None,
        BackendChoice::Gpu => Some(GpuAllocator::new().context("--backend gpu")?),
        BackendChoice::Auto => match GpuAllocator::new() {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("bench: no GPU figures: {e}");
                None
            }
        },
    };
    let mut figures = Vec::new();
    for &flows in &args.flows {
        let synthetic = SyntheticProblem::new(flows);
        let p = synthetic.problem();
        let reps = if flows >= 1_000_000 { 2 } else { 5 };
        let fluid = fluid_allocation(&p);
        let mut reference = vec![0; flows as usize];
        for &t in &threads {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
            let mut rate = vec![0; flows as usize];
            let mut filling = Filling::default();
            // The first call builds the per-link flow lists; later ticks with the same
            // paths reuse them, as a run does.
            let first = pool.install(|| best_ms(1, || filling.allocate(&p, Some(1), &mut rate)));
            let first_counts = filling.last_phases.counts.as_secs_f64() * 1e3;
            let ms = pool.install(|| best_ms(5, || filling.allocate(&p, Some(1), &mut rate)));
            if t == threads[0] {
                reference.clone_from(&rate);
            }
            figures.push(AllocationFigure {
                flows,
                backend: format!("cpu, {t} thread{}", if t == 1 { "" } else { "s" }),
                ms_per_allocation: ms,
                ms_first_allocation: first,
                steps: filling.last_steps,
                identical_to_cpu_1_thread: rate == reference,
                max_deviation_kbps: deviation_from_fluid(&rate, &fluid),
                phases_ms: Some(
                    [
                        filling.last_phases.counts,
                        filling.last_phases.sort,
                        filling.last_phases.paths,
                        filling.last_phases.steps,
                    ]
                    .map(|d| d.as_secs_f64() * 1e3),
                ),
                first_counts_ms: Some(first_counts),
            });
        }
        {
            // The GPU's round algorithm on the CPU, at the most threads: what the CPU
            // backend ran before it filled.
            let t = threads.iter().copied().max().unwrap_or(1);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
            let mut rate = vec![0; flows as usize];
            let mut rounds = Rounds::default();
            let ms = pool.install(|| best_ms(reps, || rounds.allocate(&p, &mut rate)));
            figures.push(AllocationFigure {
                flows,
                backend: format!("cpu rounds (the GPU's algorithm), {t} threads"),
                ms_per_allocation: ms,
                ms_first_allocation: ms,
                steps: rounds.last_rounds,
                identical_to_cpu_1_thread: rate == reference,
                max_deviation_kbps: deviation_from_fluid(&rate, &fluid),
                phases_ms: None,
                first_counts_ms: None,
            });
        }
        if let Some(dir) = &args.dump {
            let ms = figures
                .iter()
                .rfind(|f| f.flows == flows && f.backend.starts_with("cpu, "))
                .map_or(0.0, |f| f.ms_per_allocation);
            dump_problem(dir, &p, &reference, ms)?;
        }
        if let Some(g) = gpu.as_mut() {
            let mut rate = vec![0; flows as usize];
            // The first call uploads paths and capacities; later ticks upload demands only.
            let first = best_ms(1, || {
                g.allocate(&p, u64::from(flows), &mut rate)
                    .expect("GPU allocation");
            });
            let ms = best_ms(reps, || {
                g.allocate(&p, u64::from(flows), &mut rate)
                    .expect("GPU allocation");
            });
            figures.push(AllocationFigure {
                flows,
                backend: format!("gpu, {}", g.adapter_name()),
                ms_per_allocation: ms,
                ms_first_allocation: first,
                steps: g.last_rounds,
                identical_to_cpu_1_thread: rate == reference,
                max_deviation_kbps: deviation_from_fluid(&rate, &fluid),
                phases_ms: None,
                first_counts_ms: None,
            });
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "{:>9}  {:<44} {:>10} {:>9} {:>7} {:>10} {:>15}",
        "flows", "backend", "ms/alloc", "first ms", "steps", "identical", "max dev kbit/s"
    );
    for f in &figures {
        println!(
            "{:>9}  {:<44} {:>10.2} {:>9.2} {:>7} {:>10} {:>15.1e}",
            f.flows,
            f.backend,
            f.ms_per_allocation,
            f.ms_first_allocation,
            f.steps,
            if f.identical_to_cpu_1_thread {
                "yes"
            } else {
                "NO"
            },
            f.max_deviation_kbps
        );
    }
    println!(
        "max dev: the largest difference of any flow's rate from exact max-min (a float64 \
         fluid oracle); rates are exact to 2^-32 kbit/s and read as whole kbit/s"
    );
    println!(
        "ms/alloc: best of the timed allocations of one problem, paths unchanged as between \
         ticks; first ms: the first, which builds the CPU's per-link flow lists (uploads, on \
         the GPU)"
    );
    println!(
        "steps: cpu = progressive-filling steps (one per level), cpu rounds = rounds, \
         gpu = rounds dispatched (batches of 2 to 32 between read-backs, at least the rounds \
         needed); not comparable across algorithms"
    );
    for f in &figures {
        if let (Some([counts, sort, paths, steps]), Some(first)) = (f.phases_ms, f.first_counts_ms)
        {
            println!(
                "{} flows, {}: {counts:.2} ms counting flows per link (the first allocation, \
                 which reads every path: {first:.2}), {sort:.2} ms sorting them by demand, \
                 {paths:.2} ms listing their paths' ranges in that order, {steps:.2} ms in the \
                 filling's steps (the last timed allocation)",
                f.flows, f.backend
            );
        }
    }
    for &flows in &args.flows {
        let at = |prefix: &str| {
            figures
                .iter()
                .filter(|f| f.flows == flows && f.backend.starts_with(prefix))
                .map(|f| f.ms_per_allocation)
                .next_back()
        };
        if let (Some(filling), Some(rounds)) = (at("cpu, "), at("cpu rounds")) {
            println!(
                "{flows} flows: filling is {:.1}x faster than the rounds at the most threads",
                rounds / filling
            );
        }
    }
    if figures.iter().any(|f| !f.identical_to_cpu_1_thread) {
        anyhow::bail!("backends disagree: determinism is broken");
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct CheckpointFigures {
    scenario: String,
    nodes: u32,
    terminals: u32,
    tick: u32,
    threads: usize,
    bytes: u64,
    bytes_per_terminal: f64,
    bytes_per_node: f64,
    parts: Vec<(String, usize)>,
    build_s: f64,
    encode_s: f64,
    write_s: f64,
    read_s: f64,
    resume_s: f64,
    resume_to_build: f64,
    fork_s: f64,
    round_trip_identical: bool,
}

/// `paraverse bench --checkpoint`: save and resume times against a plain build (the
/// ratio is what a user feels: resuming costs about one build), bytes per terminal, and
/// a self-check that the resumed universe checkpoints to the same bytes.
pub fn bench_checkpoint(args: &BenchArgs) -> Result<()> {
    warn_if_debug("bench --checkpoint");
    let scenario = bundled::load(Some(&args.scenario))?.with_ticks(args.ticks.max(1));
    let threads = thread_counts(args).last().copied().unwrap_or(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start worker threads")?;
    eprintln!(
        "bench --checkpoint: {} ({} nodes), after {} ticks, {threads} threads",
        scenario.name, scenario.node_count, scenario.ticks
    );
    let figures = pool.install(|| -> Result<CheckpointFigures> {
        let started = Instant::now();
        let mut universe = Universe::build(scenario.clone(), &plugins())?;
        let build_s = started.elapsed().as_secs_f64();
        universe.run(|_| {});
        let started = Instant::now();
        let checkpoint = universe.checkpoint()?;
        let bytes = checkpoint.to_bytes()?;
        let encode_s = started.elapsed().as_secs_f64();
        let path =
            std::env::temp_dir().join(format!("paraverse-bench-{}.ckpt", std::process::id()));
        let started = Instant::now();
        std::fs::write(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let write_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let read = Checkpoint::read(&path);
        let read_s = started.elapsed().as_secs_f64();
        std::fs::remove_file(&path).ok();
        let started = Instant::now();
        let resumed = Universe::resume(&read?, BackendChoice::Cpu, &plugins())?;
        let resume_s = started.elapsed().as_secs_f64();
        let round_trip_identical = resumed.checkpoint()?.to_bytes()? == bytes;
        drop(resumed);
        let started = Instant::now();
        let fork = universe.fork(&plugins())?;
        let fork_s = started.elapsed().as_secs_f64();
        drop(fork);
        let mut parts: Vec<(String, usize)> = checkpoint
            .parts
            .iter()
            .map(|p| (p.name.clone(), p.bytes.len()))
            .collect();
        parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let n = bytes.len() as u64;
        Ok(CheckpointFigures {
            scenario: scenario.name.clone(),
            nodes: scenario.node_count,
            terminals: scenario.terminal_count,
            tick: universe.clock().tick,
            threads,
            bytes: n,
            bytes_per_terminal: n as f64 / f64::from(scenario.terminal_count.max(1)),
            bytes_per_node: n as f64 / f64::from(scenario.node_count),
            parts,
            build_s,
            encode_s,
            write_s,
            read_s,
            resume_s,
            resume_to_build: resume_s / build_s.max(1e-9),
            fork_s,
            round_trip_identical,
        })
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "checkpoint at tick {}: {:.1} MiB = {:.1} bytes/terminal, {:.1} bytes/node",
        figures.tick,
        figures.bytes as f64 / (1 << 20) as f64,
        figures.bytes_per_terminal,
        figures.bytes_per_node
    );
    for (name, size) in figures.parts.iter().take(6) {
        println!("  {size:>12} bytes  {name}");
    }
    println!(
        "save: encode {:.3} s, write {:.3} s; resume: read {:.3} s, rebuild + restore {:.3} s = {:.2} x a plain build ({:.3} s); fork {:.3} s",
        figures.encode_s,
        figures.write_s,
        figures.read_s,
        figures.resume_s,
        figures.resume_to_build,
        figures.build_s,
        figures.fork_s
    );
    println!(
        "round trip: the resumed universe checkpoints to {} bytes",
        if figures.round_trip_identical {
            "the same"
        } else {
            "DIFFERENT"
        }
    );
    if !figures.round_trip_identical {
        anyhow::bail!("the resumed universe does not checkpoint to the same bytes");
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct TwinFigure {
    threads: usize,
    build_s: f64,
    assimilate_s: f64,
    assimilate_real_time_factor: f64,
    forecast_s: f64,
    forecast_real_time_factor: f64,
}

/// `paraverse bench --twin`: what a twin cycle costs, as real-time factors (simulated
/// seconds per wall second; above 1 the twin keeps up with the real network).
pub fn bench_twin(args: &BenchArgs) -> Result<()> {
    use paraverse_twin::ensemble::{AlertModel, Ensemble, RatePrior};
    use paraverse_twin::forecast::{Candidate, ForecastSpec};
    warn_if_debug("bench --twin");
    let ticks = args.ticks.max(1);
    let scenario = bundled::load(Some(&args.scenario))?.with_ticks(ticks.saturating_mul(2));
    check_memory_for(&scenario, args.members as usize * 2)?;
    let tick_s = scenario.tick.as_micros() as f64 / 1e6;
    let simulated = f64::from(ticks) * tick_s;
    eprintln!(
        "bench --twin: {} ({} nodes), {} members, {ticks} ticks ({simulated:.0} s) assimilated, then a forecast {ticks} ticks ahead",
        scenario.name, scenario.node_count, args.members
    );
    let plugins = plugins();
    let model = AlertModel::uniform(0.05, 1e-4);
    let mut figures = Vec::new();
    for t in thread_counts(args) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .context("cannot start worker threads")?;
        let figure = pool.install(|| -> Result<TwinFigure> {
            let started = Instant::now();
            let mut ensemble = Ensemble::new(
                &scenario,
                args.members,
                (model.clone(), RatePrior::DEFAULT),
                BackendChoice::Cpu,
                &plugins,
            )
            .map_err(anyhow::Error::msg)?;
            let build_s = started.elapsed().as_secs_f64();
            let plain = plugins.to_vec();
            let started = Instant::now();
            ensemble.close_until(ticks, &plain, &mut |_, _| {});
            let assimilate_s = started.elapsed().as_secs_f64();
            let starts = ensemble.weighted_starts(ticks)?;
            drop(ensemble);
            let spec = ForecastSpec {
                horizon: ticks,
                members: args.members,
                score: paraverse_lab::experiment::Score::default(),
                backend: BackendChoice::Cpu,
                parallel: t,
            };
            let candidates = [Candidate {
                name: "current".into(),
                scenario: scenario.clone(),
            }];
            let started = Instant::now();
            paraverse_twin::forecast(&starts, &candidates, &spec, &plugins, &|| {})?;
            let forecast_s = started.elapsed().as_secs_f64();
            Ok(TwinFigure {
                threads: t,
                build_s,
                assimilate_s,
                assimilate_real_time_factor: simulated / assimilate_s.max(1e-9),
                forecast_s,
                forecast_real_time_factor: simulated / forecast_s.max(1e-9),
            })
        })?;
        figures.push(figure);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "{:>7} {:>9} {:>13} {:>15} {:>12} {:>15}",
        "threads", "build s", "assimilate s", "x real time", "forecast s", "x real time"
    );
    for f in &figures {
        println!(
            "{:>7} {:>9.2} {:>13.2} {:>15.1} {:>12.2} {:>15.1}",
            f.threads,
            f.build_s,
            f.assimilate_s,
            f.assimilate_real_time_factor,
            f.forecast_s,
            f.forecast_real_time_factor
        );
    }
    Ok(())
}

fn check_memory_for(scenario: &Scenario, copies: usize) -> Result<()> {
    crate::world::check_memory(scenario, copies, false)
}
