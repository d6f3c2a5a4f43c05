//! `paraverse view`: the CLI side of the GPU viewer. The CLI builds and steps the universe;
//! `paraverse_viz::view` lays it out and draws it, in a window or into a PNG.

use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use paraverse_sim::prelude::*;
use paraverse_sim::world::Security;
use paraverse_viz::View;
use paraverse_viz::view::{self, Camera, Gpu, Layout, LiveSource, NetworkFrame, NodeState};
use serde::Serialize;

use crate::args::{BenchArgs, ViewArgs};
use crate::world::plugins;

/// A universe as the window sees it.
struct LiveUniverse {
    universe: Universe,
}

impl LiveSource for LiveUniverse {
    fn scenario(&self) -> &Scenario {
        self.universe.scenario()
    }

    fn step(&mut self) -> bool {
        self.universe.step() && self.universe.fault().is_none()
    }

    fn frame(&self, team: View) -> NetworkFrame {
        NetworkFrame::of_universe_as(&self.universe, team)
    }

    fn describe(&self, node: u32) -> String {
        describe(&self.universe, node)
    }

    fn title(&self) -> String {
        let s = self.universe.scenario();
        match &s.defense.strategy {
            Some(st) => format!("{} + {st}, seed {}", s.name, s.seed),
            None => format!("{}, seed {}", s.name, s.seed),
        }
    }

    fn ticks(&self) -> u32 {
        self.universe.clock().ticks
    }
}

/// A node's group, kind, zone and state, for a click.
fn describe(u: &Universe, node: u32) -> String {
    let s = u.scenario();
    let Some(g) = s
        .groups
        .iter()
        .find(|g| node >= g.first_node && node < g.first_node + g.count)
    else {
        return format!("node {node}: not in the scenario");
    };
    let world = u.world();
    let sec = world
        .try_query::<&Security>()
        .and_then(|mut q| q.iter(world).nth(node as usize).copied());
    let mut flags = Vec::new();
    if let Some(sec) = sec {
        flags.push(NodeState::of(&sec).name().to_owned());
        for (on, what) in [
            (sec.compromised && !sec.encrypted, "attacker present"),
            (sec.encrypted, "encrypted"),
            (sec.overwhelmed, "flooded"),
            (sec.quarantined, "quarantined"),
            (sec.alerted, "alert open"),
            (sec.patched, "patched"),
            (sec.hardened, "hardened"),
            (sec.account_taken_over, "account taken over"),
            (sec.ever_compromised && !sec.compromised, "was compromised"),
        ] {
            if on && !flags.iter().any(|f| f == what) {
                flags.push(what.to_owned());
            }
        }
    }
    flags.dedup();
    format!(
        "node {node}: {} #{} ({}, zone {}): {}",
        g.name,
        node - g.first_node,
        g.kind.name(),
        s.zones[g.zone as usize],
        flags.join(", ")
    )
}

fn parse_size(s: &str) -> Result<[u32; 2]> {
    size_of(s).map_err(crate::invalid)
}

/// Parses `WIDTHxHEIGHT` (16 to 16384 pixels a side).
pub fn size_of(s: &str) -> Result<[u32; 2], String> {
    let expected =
        || format!("`{s}`: expected WIDTHxHEIGHT, 16 to 16384 pixels a side, e.g. 1600x1000");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(expected)?;
    let w: u32 = w.trim().parse().map_err(|_| expected())?;
    let h: u32 = h.trim().parse().map_err(|_| expected())?;
    if !((16..=16384).contains(&w) && (16..=16384).contains(&h)) {
        return Err(expected());
    }
    Ok([w, h])
}

/// `--size` for clap: checked when the arguments are parsed (exit status 2).
pub fn check_size(s: &str) -> Result<String, String> {
    size_of(s).map(|_| s.to_owned())
}

/// Where `--center` points: a node by number, or a group by name (its middle node, where
/// its label is drawn).
fn center_of(at: &str, scenario: &Scenario, layout: &Layout) -> Result<[f32; 2]> {
    let node = match scenario.groups.iter().find(|g| g.name == at) {
        Some(g) => g.first_node + g.count / 2,
        None => at.parse::<u32>().map_err(|_| {
            crate::invalid(format!(
                "--center {at}: neither a node number nor a group ({})",
                scenario.group_names()
            ))
        })?,
    };
    layout.positions.get(node as usize).copied().ok_or_else(|| {
        crate::invalid(format!(
            "--center {at}: the network has {} nodes (0 to {})",
            layout.positions.len(),
            layout.positions.len().saturating_sub(1)
        ))
    })
}

/// `--zoom` for clap: a finite factor from 1 (the whole network) to 1,000,000.
pub fn check_zoom(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(z) if z.is_finite() && (1.0..=1e6).contains(&z) => Ok(z),
        _ => Err(format!(
            "`{s}`: expected a zoom factor from 1 (the whole network) to 1000000"
        )),
    }
}

/// `paraverse view`.
pub fn view(args: &ViewArgs) -> Result<()> {
    let size = parse_size(&args.size)?;
    args.world.start_threads()?;
    match &args.png {
        Some(path) => {
            // The adapter before the world: no point simulating for a picture that
            // cannot be drawn.
            let scenario = args.world.scenario()?;
            if let Some(at) = args.at
                && at > scenario.ticks
            {
                return Err(crate::invalid(format!(
                    "--at {at}: the run of {} has {} ticks; expected 0 to {}",
                    scenario.name, scenario.ticks, scenario.ticks
                )));
            }
            if path
                .extension()
                .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
            {
                return Err(crate::invalid(format!(
                    "--png {}: the picture is written as PNG; name the file *.png",
                    path.display()
                )));
            }
            let gpu = Gpu::headless()?;
            let mut u = args.world.build(scenario, &plugins())?;
            let at = args.at.unwrap_or(u.clock().ticks).min(u.clock().ticks);
            let bar = if args.quiet || at < 50 {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(u64::from(at))
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} stepping to tick {len} {wide_bar} {pos}/{len}  ETA {eta}",
                )
                .expect("valid template"),
            );
            while u.clock().tick < at {
                if !u.step() {
                    break;
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            if let Some(fault) = u.fault() {
                anyhow::bail!("the run stopped at tick {}: {fault}", u.clock().tick);
            }
            let layout = Layout::of_universe(&u);
            let frame = NetworkFrame::of_universe_as(&u, args.team);
            let mut camera = Camera::fit(size);
            camera.zoom = args.zoom;
            if let Some(at) = &args.center {
                camera.center = center_of(at, u.scenario(), &layout)?;
            }
            let caption = view::Caption {
                scenario: u.scenario().name.clone(),
                tick_s: u.scenario().tick.as_micros() as f64 / 1e6,
                team: args.team,
            };
            let started = Instant::now();
            let (image, scene) = if args.no_text {
                view::render_image(&gpu, &layout, &frame, &camera)?
            } else {
                view::render_captioned(&gpu, u.scenario(), &layout, &frame, &camera, &caption)?
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            image.write_png(path)?;
            if !args.quiet {
                let c = frame.counts();
                println!(
                    "{}: {}x{} at tick {} of {} ({} nodes{}: {} compromised, {} quarantined, {} down; {} links drawn) on {} in {ms:.0} ms",
                    path.display(),
                    size[0],
                    size[1],
                    frame.tick,
                    u.scenario().name,
                    frame.states.len(),
                    if scene.aggregated { ", aggregated" } else { "" },
                    c[NodeState::Compromised as usize],
                    c[NodeState::Quarantined as usize],
                    c[NodeState::Down as usize],
                    scene.links.len(),
                    gpu.adapter_name
                );
            }
            Ok(())
        }
        None => {
            // The display before the world, for the same reason.
            let scenario = args.world.scenario()?;
            view::window::display_available()?;
            let u = args.world.build(scenario, &plugins())?;
            let layout = Layout::of_universe(&u);
            let mut live = LiveUniverse { universe: u };
            let report = view::run_window(
                &mut live,
                layout,
                view::WindowOptions {
                    size,
                    ticks_per_s: args.speed,
                    paused: args.paused,
                    max_frames: args.frames,
                    team: args.team,
                },
            )?;
            if !args.quiet {
                println!(
                    "window closed at tick {}: {} frames, {:.1} ms per frame (scene and draw)",
                    report.tick, report.frames, report.mean_frame_ms
                );
            }
            if let Some(fault) = live.universe.fault() {
                anyhow::bail!("the run stopped: {fault}");
            }
            Ok(())
        }
    }
}

/// Frames timed per view in `paraverse bench --view`.
const BENCH_FRAMES: u32 = 10;

/// One view's figures in `paraverse bench --view`.
#[derive(Debug, Serialize)]
struct ViewFigure {
    zoom: f32,
    visible_nodes: u64,
    aggregated: bool,
    node_instances: usize,
    link_instances: usize,
    read_frame_ms: f64,
    build_scene_ms: f64,
    draw_and_read_back_ms: f64,
    frame_ms: f64,
    ratio_to_whole_view: f64,
}

/// All figures of `paraverse bench --view`.
#[derive(Debug, Serialize)]
struct ViewFigures {
    scenario: String,
    nodes: u32,
    links: usize,
    tick: u32,
    adapter: String,
    size: [u32; 2],
    layout_ms: f64,
    views: Vec<ViewFigure>,
}

/// `paraverse bench --view`: frame time of the GPU viewer, per stage, on one scenario.
pub fn bench(args: &BenchArgs) -> Result<()> {
    let gpu = Gpu::headless()?;
    let scenario = crate::world::load_scenario(Some(&args.scenario), None)?;
    let mut u = Universe::build(scenario, &plugins()).context("cannot build the world")?;
    for _ in 0..args.ticks.min(u.clock().ticks) {
        if !u.step() {
            break;
        }
    }
    let started = Instant::now();
    let layout = Layout::of_universe(&u);
    let layout_ms = started.elapsed().as_secs_f64() * 1000.0;
    let size = [1920, 1080];
    let mut target = view::Offscreen::new(&gpu, size)?;
    let mut views: Vec<ViewFigure> = Vec::new();
    for zoom in [1.0f32, 8.0, 64.0] {
        let mut camera = Camera::fit(size);
        // Zoom towards the first terminal, where the nodes are densest.
        if zoom > 1.0 {
            camera.center = layout.positions.first().copied().unwrap_or([0.0, 0.0]);
        }
        camera.zoom = zoom;
        let (mut read, mut build, mut draw) = (0.0, 0.0, 0.0);
        let mut last = None;
        for _ in 0..BENCH_FRAMES {
            let t = Instant::now();
            let frame = NetworkFrame::of_universe(&u);
            read += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let scene = view::scene::build(&layout, &frame, &camera);
            build += t.elapsed().as_secs_f64();
            let t = Instant::now();
            target.render(&gpu, &camera, &scene)?;
            draw += t.elapsed().as_secs_f64();
            last = Some(scene);
        }
        let scene = last.expect("frames ran");
        let per = |s: f64| s * 1000.0 / f64::from(BENCH_FRAMES);
        let frame_ms = per(read + build + draw);
        views.push(ViewFigure {
            zoom,
            visible_nodes: scene.visible_nodes,
            aggregated: scene.aggregated,
            node_instances: scene.nodes.len(),
            link_instances: scene.links.len(),
            read_frame_ms: per(read),
            build_scene_ms: per(build),
            draw_and_read_back_ms: per(draw),
            frame_ms,
            // The whole view is measured first: the ratio's denominator.
            ratio_to_whole_view: frame_ms / views.first().map_or(frame_ms, |w| w.frame_ms),
        });
    }
    let figures = ViewFigures {
        scenario: u.scenario().name.clone(),
        nodes: u.scenario().node_count,
        links: layout.links.len(),
        tick: u.clock().tick,
        adapter: gpu.adapter_name.clone(),
        size,
        layout_ms,
        views,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "GPU viewer on {} ({} nodes, {} links, tick {}), {}x{} offscreen on {}; layout {:.0} ms once",
        figures.scenario,
        figures.nodes,
        figures.links,
        figures.tick,
        size[0],
        size[1],
        figures.adapter,
        figures.layout_ms
    );
    println!(
        "{:>6} {:>10} {:>11} {:>10} {:>9} {:>10} {:>13} {:>9} {:>8}",
        "zoom",
        "visible",
        "instances",
        "aggregate",
        "read ms",
        "scene ms",
        "draw+read ms",
        "frame ms",
        "ratio"
    );
    for v in &figures.views {
        println!(
            "{:>6} {:>10} {:>11} {:>10} {:>9.1} {:>10.1} {:>13.1} {:>9.1} {:>8.2}",
            v.zoom,
            v.visible_nodes,
            v.node_instances + v.link_instances,
            if v.aggregated { "yes" } else { "no" },
            v.read_frame_ms,
            v.build_scene_ms,
            v.draw_and_read_back_ms,
            v.frame_ms,
            v.ratio_to_whole_view,
        );
    }
    Ok(())
}
