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
use paraverse_sim::world::benign_connections;
use serde::Serialize;

use crate::alloc::live_bytes;
use crate::args::BenchArgs;
use crate::plugins;

#[derive(Debug, Serialize)]
struct ThreadFigure {
    threads: usize,
    build_s: f64,
    step_s: f64,
    node_ticks_per_s: f64,
    speedup_vs_1_thread: f64,
    ratio_to_baseline: f64,
}

#[derive(Debug, Serialize)]
struct Figures {
    scenario: String,
    nodes: u32,
    terminals: u32,
    ticks: u32,
    heap_bytes: usize,
    bytes_per_node: f64,
    bytes_per_terminal: f64,
    baseline_node_ticks_per_s: f64,
    runs: Vec<ThreadFigure>,
    compromised_after_run: u64,
}

fn baseline(scenario: &Scenario, ticks: u32) -> f64 {
    let rng = SimRng::new(scenario.seed);
    let means: Vec<u64> = scenario
        .groups
        .iter()
        .flat_map(|g| std::iter::repeat_n(g.connections.raw(), g.count as usize))
        .collect();
    let mut out = vec![0u32; means.len()];
    let start = Instant::now();
    for tick in 1..=ticks {
        for (node, (o, &m)) in out.iter_mut().zip(&means).enumerate() {
            *o = benign_connections(&rng, m, node as u32, tick);
        }
        std::hint::black_box(&out);
    }
    f64::from(scenario.node_count) * f64::from(ticks) / start.elapsed().as_secs_f64()
}

pub fn bench(args: &BenchArgs) -> Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; bench figures mean little. Use `cargo run --release -- bench`."
        );
    }
    let scenario = bundled::load(Some(&args.scenario))?.with_ticks(args.ticks.max(1));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads: Vec<usize> = args
        .threads
        .iter()
        .map(|&t| usize::from(t.max(1)))
        .collect();
    if threads.is_empty() {
        threads = vec![1, cores];
        threads.dedup();
    }
    eprintln!(
        "bench: {} ({} nodes, {} terminals), {} ticks at {:?} threads",
        scenario.name, scenario.node_count, scenario.terminal_count, scenario.ticks, threads
    );

    let base = baseline(&scenario, scenario.ticks.min(10));
    let mut runs = Vec::new();
    let mut heap = 0usize;
    let mut compromised = 0;
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .context("cannot start worker threads")?;
        let (figure, bytes, record) = pool.install(|| -> Result<_> {
            let before = live_bytes();
            let start = Instant::now();
            let mut universe = Universe::build(scenario.clone(), &plugins())?;
            let build_s = start.elapsed().as_secs_f64();
            let bytes = live_bytes().saturating_sub(before);
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
                },
                bytes,
                universe.finish(),
            ))
        })?;
        heap = heap.max(bytes);
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
        heap_bytes: heap,
        bytes_per_node: heap as f64 / f64::from(scenario.node_count),
        bytes_per_terminal: heap as f64 / f64::from(scenario.terminal_count.max(1)),
        baseline_node_ticks_per_s: base,
        runs,
        compromised_after_run: compromised,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "world: {} nodes ({} terminals), heap {:.1} MiB = {:.0} bytes/node, {:.0} bytes/terminal",
        figures.nodes,
        figures.terminals,
        figures.heap_bytes as f64 / (1 << 20) as f64,
        figures.bytes_per_node,
        figures.bytes_per_terminal
    );
    println!(
        "baseline (bare telemetry loop, 1 thread): {:.1} M node-ticks/s",
        base / 1e6
    );
    println!(
        "{:>7} {:>9} {:>9} {:>18} {:>10} {:>12}",
        "threads", "build s", "step s", "M node-ticks/s", "speed-up", "x baseline"
    );
    for r in &figures.runs {
        println!(
            "{:>7} {:>9.2} {:>9.2} {:>18.1} {:>10.2} {:>12.2}",
            r.threads,
            r.build_s,
            r.step_s,
            r.node_ticks_per_s / 1e6,
            r.speedup_vs_1_thread,
            r.ratio_to_baseline
        );
    }
    Ok(())
}
